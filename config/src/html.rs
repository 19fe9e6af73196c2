//! HTML rewrite profiles: the declarative edits a page rule's `html_rewrite` action
//! applies to pages on their way out (model and validation; `proxy` runs them).

use crate::locate::Seg;
use crate::raw;
use crate::template::Template;
use crate::validator::Validator;
use std::collections::BTreeMap;

/// Profiles every site has without declaring them.
pub const BUILTIN_PROFILES: [&str; 2] = ["https_links", "strip_comments"];

/// A named set of edits to HTML responses.
#[derive(Debug, Clone, Default)]
pub struct HtmlProfile {
    /// The name rules bind it by.
    pub name: String,
    /// Response media types rewritten (lowercase, no parameters); others pass untouched.
    pub content_types: Vec<String>,
    /// Rewrite `http://` links to this site's hosts (and `https_hosts`) to `https://`.
    pub https_links: bool,
    /// Extra hosts known to serve HTTPS, for `https_links` (`*.` wildcards allowed).
    pub https_hosts: Vec<String>,
    /// Drop HTML comments (conditional comments `<!--[if …]>` are kept).
    pub strip_comments: bool,
    /// Edits of the elements a CSS selector matches, in order.
    pub elements: Vec<ElementRewrite>,
    /// HTML appended at the end of `<head>`.
    pub append_to_head: Option<Template>,
    /// HTML appended at the end of `<body>`.
    pub append_to_body: Option<Template>,
    /// Replacements in every text node of the document.
    pub replace_text: Vec<TextReplace>,
}

/// Edits for the elements one selector matches.
#[derive(Debug, Clone)]
pub struct ElementRewrite {
    /// The CSS selector, checked where it is compiled (the proxy), which reports a bad
    /// one at `selector_at`.
    pub selector: String,
    /// Where the selector is written (its message is empty; the compiler fills it in).
    pub selector_at: crate::Diagnostic,
    /// What to do, in this order.
    pub actions: Vec<ElementAction>,
}

/// One edit of a matched element.
#[derive(Debug, Clone)]
pub enum ElementAction {
    /// Sets (or adds) an attribute.
    SetAttribute {
        /// Attribute name.
        name: String,
        /// New value (HTML-escaped placeholders).
        value: Template,
    },
    /// Removes an attribute.
    RemoveAttribute(String),
    /// Replaces matches in an attribute's value (every match).
    RewriteAttribute {
        /// Attribute name.
        name: String,
        /// What to look for.
        find: Find,
        /// Replacement (`$1` refers to a regex group).
        to: Template,
    },
    /// Replaces the element's content.
    SetInnerContent(Content),
    /// Inserts at the end of the element's content.
    Append(Content),
    /// Inserts at the start of the element's content.
    Prepend(Content),
    /// Inserts before the element.
    Before(Content),
    /// Inserts after the element.
    After(Content),
    /// Replaces the whole element.
    Replace(Content),
    /// Removes the element and its content.
    Remove,
    /// Removes the tags, keeping the content.
    RemoveAndKeepContent,
    /// Replaces text inside the element.
    ReplaceText(TextReplace),
}

/// Inserted content: HTML or text (escaped when written).
#[derive(Debug, Clone)]
pub struct Content {
    /// The content, with placeholders.
    pub template: Template,
    /// Markup (`html:` or a plain string) rather than text (`text:`).
    pub html: bool,
}

/// A search in text or an attribute value.
#[derive(Debug, Clone)]
pub enum Find {
    /// A plain substring.
    Substring(String),
    /// A regular expression.
    Regex(regex::Regex),
}

/// A replacement in text nodes.
#[derive(Debug, Clone)]
pub struct TextReplace {
    /// What to look for.
    pub find: Find,
    /// Replacement text (`$1` refers to a regex group; inserted as text).
    pub to: Template,
}

/// The built-in profile `name`, if there is one.
pub fn builtin_profile(name: &str) -> Option<HtmlProfile> {
    let mut p = HtmlProfile {
        name: name.to_string(),
        content_types: vec!["text/html".into()],
        ..HtmlProfile::default()
    };
    match name {
        "https_links" => p.https_links = true,
        "strip_comments" => p.strip_comments = true,
        _ => return None,
    }
    Some(p)
}

/// Validates `sites[i].html_profiles`.
pub(crate) fn site_profiles(
    v: &mut Validator<'_>,
    raw: &BTreeMap<String, raw::HtmlProfile>,
    i: usize,
) -> Vec<HtmlProfile> {
    let mut out = Vec::new();
    for (name, p) in raw {
        let at = |rest: &[Seg]| {
            let mut path = vec![
                Seg::Key("sites"),
                Seg::Index(i),
                Seg::Key("html_profiles"),
                Seg::Name(name.clone()),
            ];
            path.extend_from_slice(rest);
            path
        };
        if BUILTIN_PROFILES.contains(&name.as_str()) {
            v.report(
                &at(&[]),
                format!("{name:?} is a built-in profile; choose another name and `include` it"),
            );
            continue;
        }
        let mut profile = HtmlProfile {
            name: name.clone(),
            content_types: vec!["text/html".into()],
            https_hosts: p
                .https_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            ..HtmlProfile::default()
        };
        for (j, inc) in p.include.iter().enumerate() {
            match inc.as_str() {
                "https_links" => profile.https_links = true,
                "strip_comments" => profile.strip_comments = true,
                other => v.report(
                    &at(&[Seg::Key("include"), Seg::Index(j)]),
                    format!(
                        "unknown built-in profile {other:?} (expected {})",
                        BUILTIN_PROFILES.join(" or ")
                    ),
                ),
            }
        }
        if !p.content_types.is_empty() {
            profile.content_types.clear();
            for (j, t) in p.content_types.iter().enumerate() {
                let t = t.trim().to_ascii_lowercase();
                if t.contains('/') && !t.contains(';') && !t.contains(' ') {
                    profile.content_types.push(t);
                } else {
                    v.report(
                        &at(&[Seg::Key("content_types"), Seg::Index(j)]),
                        format!("{t:?} is not a media type such as text/html"),
                    );
                }
            }
        }
        profile.append_to_head = p
            .append_to_head
            .as_deref()
            .and_then(|t| template(v, t, &at(&[Seg::Key("append_to_head")])));
        profile.append_to_body = p
            .append_to_body
            .as_deref()
            .and_then(|t| template(v, t, &at(&[Seg::Key("append_to_body")])));
        for (j, r) in p.replace_text.iter().enumerate() {
            if let Some(r) = text_replace(v, r, &at(&[Seg::Key("replace_text"), Seg::Index(j)])) {
                profile.replace_text.push(r);
            }
        }
        for (j, e) in p.elements.iter().enumerate() {
            let here = at(&[Seg::Key("elements"), Seg::Index(j)]);
            if let Some(e) = element(v, e, &here) {
                profile.elements.push(e);
            }
        }
        out.push(profile);
    }
    out
}

fn template(v: &mut Validator<'_>, text: &str, path: &[Seg]) -> Option<Template> {
    match Template::parse(text) {
        Ok(t) => Some(t),
        Err(why) => {
            v.report(path, why);
            None
        }
    }
}

fn find(
    v: &mut Validator<'_>,
    from: Option<&str>,
    regex: Option<&str>,
    path: &[Seg],
) -> Option<Find> {
    match (from, regex) {
        (Some(""), None) => {
            v.report(path, "`from` must not be empty");
            None
        }
        (Some(s), None) => Some(Find::Substring(s.to_string())),
        (None, Some(r)) => match regex::Regex::new(r) {
            Ok(re) => Some(Find::Regex(re)),
            Err(e) => {
                v.report(path, format!("bad regex {r:?}: {e}"));
                None
            }
        },
        _ => {
            v.report(path, "give exactly one of `from` (a substring) or `regex`");
            None
        }
    }
}

fn text_replace(v: &mut Validator<'_>, r: &raw::TextReplace, path: &[Seg]) -> Option<TextReplace> {
    let f = find(v, r.from.as_deref(), r.regex.as_deref(), path);
    let to = template(v, &r.to, path);
    Some(TextReplace { find: f?, to: to? })
}

/// `"<b>markup</b>"`, `{ html: "…" }` or `{ text: "…" }`.
fn content(v: &mut Validator<'_>, value: &serde_yaml::Value, path: &[Seg]) -> Option<Content> {
    use serde_yaml::Value;
    let (text, html) = match value {
        Value::String(s) => (s.as_str(), true),
        Value::Mapping(m) if m.len() == 1 => match m.iter().next() {
            Some((Value::String(k), Value::String(s))) if k == "html" => (s.as_str(), true),
            Some((Value::String(k), Value::String(s))) if k == "text" => (s.as_str(), false),
            _ => {
                v.report(path, "expected markup, { html: \"…\" } or { text: \"…\" }");
                return None;
            }
        },
        _ => {
            v.report(path, "expected markup, { html: \"…\" } or { text: \"…\" }");
            return None;
        }
    };
    let template = template(v, text, path)?;
    Some(Content { template, html })
}

/// A content action's YAML key, its value, and the action it makes.
type ContentField<'a> = (
    &'static str,
    &'a Option<serde_yaml::Value>,
    fn(Content) -> ElementAction,
);

fn element(v: &mut Validator<'_>, e: &raw::ElementRewrite, at: &[Seg]) -> Option<ElementRewrite> {
    let path = |k: &'static str| {
        let mut p = at.to_vec();
        p.push(Seg::Key(k));
        p
    };
    let selector_at = v.diagnostic(&path("select"), String::new());
    let before = v.problems.len();
    let mut actions = Vec::new();
    for (name, value) in &e.set_attribute {
        if let Some(t) = template(v, value, &path("set_attribute")) {
            actions.push(ElementAction::SetAttribute {
                name: name.clone(),
                value: t,
            });
        }
    }
    let removes: Vec<String> = match &e.remove_attribute {
        None => Vec::new(),
        Some(serde_yaml::Value::String(s)) => vec![s.clone()],
        Some(serde_yaml::Value::Sequence(list)) => list
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(_) => {
            v.report(
                &path("remove_attribute"),
                "expected an attribute name or a list of them",
            );
            Vec::new()
        }
    };
    actions.extend(removes.into_iter().map(ElementAction::RemoveAttribute));
    if let Some(r) = &e.rewrite_attribute {
        let f = find(
            v,
            r.from.as_deref(),
            r.regex.as_deref(),
            &path("rewrite_attribute"),
        );
        let to = template(v, &r.to, &path("rewrite_attribute"));
        if let (Some(find), Some(to)) = (f, to) {
            actions.push(ElementAction::RewriteAttribute {
                name: r.name.clone(),
                find,
                to,
            });
        }
    }
    let contents: [ContentField<'_>; 6] = [
        (
            "set_inner_content",
            &e.set_inner_content,
            ElementAction::SetInnerContent,
        ),
        ("prepend", &e.prepend, ElementAction::Prepend),
        ("append", &e.append, ElementAction::Append),
        ("before", &e.before, ElementAction::Before),
        ("after", &e.after, ElementAction::After),
        ("replace", &e.replace, ElementAction::Replace),
    ];
    for (key, value, make) in contents {
        if let Some(value) = value
            && let Some(c) = content(v, value, &path(key))
        {
            actions.push(make(c));
        }
    }
    for (j, r) in e.replace_text.iter().enumerate() {
        let mut p = path("replace_text");
        p.push(Seg::Index(j));
        if let Some(r) = text_replace(v, r, &p) {
            actions.push(ElementAction::ReplaceText(r));
        }
    }
    if e.remove_and_keep_content {
        actions.push(ElementAction::RemoveAndKeepContent);
    }
    if e.remove {
        if e.remove_and_keep_content {
            v.report(
                &path("remove"),
                "`remove` and `remove_and_keep_content` exclude each other",
            );
        }
        actions.push(ElementAction::Remove);
    }
    if actions.is_empty() && v.problems.len() == before {
        v.report(at, "no action for the selected elements");
    }
    Some(ElementRewrite {
        selector: e.select.clone(),
        selector_at,
        actions,
    })
}
