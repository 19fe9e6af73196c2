//! A rewrite profile turned into lol_html handlers.
//!
//! Selectors are parsed once per config load; each response gets fresh handlers that
//! share the profile (`Arc`) and the request's values for placeholders.

use outpost_config::{ElementAction, Find, HostPattern, HtmlProfile, TemplateContext, ValueSource};
use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use lol_html::html_content::{ContentType, TextChunk};
use lol_html::send::Element;
use lol_html::send::{DocumentContentHandlers, ElementContentHandlers, Settings};

/// Text nodes are buffered up to this size so a replacement can match across the
/// chunks lol_html splits a node into; longer nodes are processed in pieces of this size
/// (a match straddling two pieces is missed), which keeps memory bounded.
const TEXT_BUFFER: usize = 64 << 10;

/// Elements and attributes that hold URLs, for `https_links`.
const URL_ATTRIBUTES: &[(&str, &str)] = &[
    ("a[href]", "href"),
    ("area[href]", "href"),
    ("link[href]", "href"),
    ("img[src]", "src"),
    ("img[srcset]", "srcset"),
    ("source[src]", "src"),
    ("source[srcset]", "srcset"),
    ("script[src]", "src"),
    ("iframe[src]", "src"),
    ("audio[src]", "src"),
    ("video[src]", "src"),
    ("video[poster]", "poster"),
    ("track[src]", "src"),
    ("embed[src]", "src"),
    ("input[src]", "src"),
    ("form[action]", "action"),
];

/// A profile ready to build handlers from.
#[derive(Debug)]
pub struct CompiledProfile {
    profile: HtmlProfile,
    selectors: Vec<lol_html::Selector>,
    url_selectors: Vec<lol_html::Selector>,
    head: lol_html::Selector,
    body: lol_html::Selector,
    /// Hosts whose `http://` links become `https://` (the site's, then `https_hosts`).
    https_hosts: Vec<HostPattern>,
    /// What the placeholders read, collected once.
    sources: Vec<ValueSource>,
    /// Unique to this compile of the profile (a reload makes new ones), so a rewrite
    /// kept for it is never used for a changed profile.
    id: u64,
}

/// Numbers compiled profiles.
static PROFILE_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The values a response's placeholders read, taken from its request.
#[derive(Debug, Default)]
pub struct RequestValues {
    values: HashMap<ValueSource, String>,
    /// The request's host (lowercase, no port): always `https_links`-eligible.
    pub host: String,
}

impl RequestValues {
    /// Looks up `sources` in the request.
    pub fn new(
        sources: &[ValueSource],
        req: &http::request::Parts,
        host: &str,
        client_ip: Option<std::net::IpAddr>,
    ) -> Self {
        let mut values = HashMap::new();
        for s in sources {
            let v = match s {
                ValueSource::Header(h) => req
                    .headers
                    .get_all(h.as_str())
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect::<Vec<_>>()
                    .join(", ")
                    .into(),
                ValueSource::Cookie(name) => outpost_rules::cookies(&req.headers)
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.to_string()),
                ValueSource::Query(name) => req.uri.query().and_then(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == name.as_str())
                        .map(|(_, v)| v.into_owned())
                }),
                ValueSource::ClientIp => client_ip.map(|ip| ip.to_string()),
                ValueSource::Host => Some(host.to_string()),
                ValueSource::Path => Some(req.uri.path().to_string()),
                ValueSource::Method => Some(req.method.to_string()),
            };
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                values.insert(s.clone(), v);
            }
        }
        RequestValues {
            values,
            host: host.to_ascii_lowercase(),
        }
    }

    fn lookup(&self) -> impl Fn(&ValueSource) -> Option<String> + '_ {
        |s| self.values.get(s).cloned()
    }
}

impl CompiledProfile {
    /// Parses the profile's selectors; `site_hosts` are the site's host names.
    pub fn new(
        profile: HtmlProfile,
        site_hosts: &[HostPattern],
    ) -> Result<Self, lol_html::errors::SelectorError> {
        let parse = lol_html::Selector::from_str;
        let selectors = profile
            .elements
            .iter()
            .map(|e| parse(&e.selector))
            .collect::<Result<Vec<_>, _>>()?;
        let url_selectors = URL_ATTRIBUTES
            .iter()
            .map(|(s, _)| parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut https_hosts = site_hosts.to_vec();
        for h in &profile.https_hosts {
            https_hosts.push(match h.strip_prefix("*.") {
                Some(parent) => HostPattern::Wildcard(parent.to_string()),
                None => HostPattern::Exact(h.clone()),
            });
        }
        let mut sources: Vec<ValueSource> = Vec::new();
        let mut note = |t: &outpost_config::Template| {
            for s in t.sources() {
                if !sources.contains(s) {
                    sources.push(s.clone());
                }
            }
        };
        for t in [&profile.append_to_head, &profile.append_to_body]
            .into_iter()
            .flatten()
        {
            note(t);
        }
        for r in &profile.replace_text {
            note(&r.to);
        }
        for e in &profile.elements {
            for a in &e.actions {
                match a {
                    ElementAction::SetAttribute { value: t, .. }
                    | ElementAction::RewriteAttribute { to: t, .. } => note(t),
                    ElementAction::SetInnerContent(c)
                    | ElementAction::Append(c)
                    | ElementAction::Prepend(c)
                    | ElementAction::Before(c)
                    | ElementAction::After(c)
                    | ElementAction::Replace(c) => note(&c.template),
                    ElementAction::ReplaceText(r) => note(&r.to),
                    ElementAction::RemoveAttribute(_)
                    | ElementAction::Remove
                    | ElementAction::RemoveAndKeepContent => {}
                }
            }
        }
        Ok(CompiledProfile {
            profile,
            selectors,
            url_selectors,
            head: parse("head")?,
            body: parse("body")?,
            https_hosts,
            sources,
            id: PROFILE_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// This compile's identity (see the field).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether a page's rewrite depends only on the page and its URL (host, path,
    /// method; no header, cookie, query value or client address): then one rewrite
    /// of a stored page serves every request for it (`super::kept`).
    pub fn same_for_every_visitor(&self) -> bool {
        self.sources.iter().all(|s| {
            matches!(
                s,
                ValueSource::Host | ValueSource::Path | ValueSource::Method
            )
        })
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.profile.name
    }

    /// Whether responses of this media type (lowercase, without parameters) are rewritten.
    pub fn rewrites(&self, media_type: &str) -> bool {
        self.profile.content_types.iter().any(|t| t == media_type)
    }

    /// The request values the placeholders need.
    pub fn sources(&self) -> &[ValueSource] {
        &self.sources
    }

    /// lol_html settings carrying this profile's handlers for one response.
    pub fn settings(self: &Arc<Self>, values: Arc<RequestValues>) -> Settings<'static, '_> {
        let mut settings = Settings::new_send();
        let p = &self.profile;
        let scope: Arc<std::sync::Mutex<Vec<usize>>> = Arc::default();
        for (i, e) in p.elements.iter().enumerate() {
            let (me, vals) = (self.clone(), values.clone());
            let mut handlers =
                ElementContentHandlers::default().element(move |el: &mut Element| {
                    me.apply(i, el, &vals);
                    Ok(())
                });
            if e.actions
                .iter()
                .any(|a| matches!(a, ElementAction::ReplaceText(_)))
            {
                // Only marks the text node as in scope: one emitter (below) applies
                // every replacement, since lol_html keeps only a chunk's last `replace`.
                let scope = scope.clone();
                handlers = handlers.text(move |_: &mut TextChunk<'_>| {
                    if let Ok(mut s) = scope.lock()
                        && !s.contains(&i)
                    {
                        s.push(i);
                    }
                    Ok(())
                });
            }
            settings = settings
                .append_element_content_handler((Cow::Borrowed(&self.selectors[i]), handlers));
        }
        if p.https_links {
            for (sel, (_, attr)) in self.url_selectors.iter().zip(URL_ATTRIBUTES) {
                let (me, vals) = (self.clone(), values.clone());
                let handlers =
                    ElementContentHandlers::default().element(move |el: &mut Element| {
                        me.upgrade_links(el, attr, &vals);
                        Ok(())
                    });
                settings = settings.append_element_content_handler((Cow::Borrowed(sel), handlers));
            }
        }
        for (sel, t) in [
            (&self.head, &p.append_to_head),
            (&self.body, &p.append_to_body),
        ] {
            if let Some(t) = t {
                let (t, vals) = (t.clone(), values.clone());
                let handlers =
                    ElementContentHandlers::default().element(move |el: &mut Element| {
                        el.append(
                            &t.render(TemplateContext::Html, &vals.lookup()),
                            ContentType::Html,
                        );
                        Ok(())
                    });
                settings = settings.append_element_content_handler((Cow::Borrowed(sel), handlers));
            }
        }
        let scoped_texts = p.elements.iter().any(|e| {
            e.actions
                .iter()
                .any(|a| matches!(a, ElementAction::ReplaceText(_)))
        });
        if !p.replace_text.is_empty() || scoped_texts {
            // Document handlers run after element handlers, so this sees each chunk
            // last, with the scope the element handlers just marked.
            settings = settings.append_document_content_handler(
                DocumentContentHandlers::default().text(text_replacer(
                    self.clone(),
                    scope,
                    values.clone(),
                )),
            );
        }
        if p.strip_comments {
            settings = settings.append_document_content_handler(
                DocumentContentHandlers::default().comments(
                    |c: &mut lol_html::html_content::Comment<'_>| {
                        // Conditional comments carry markup for old browsers: keep them.
                        let text = c.text();
                        if !text.starts_with("[if") && !text.starts_with("<![endif]") {
                            c.remove();
                        }
                        Ok(())
                    },
                ),
            );
        }
        settings
    }

    fn apply(&self, i: usize, el: &mut Element<'_, '_>, values: &RequestValues) {
        let lookup = values.lookup();
        let html = |c: &outpost_config::Content| -> (String, ContentType) {
            let (ctx, kind) = if c.html {
                (TemplateContext::Html, ContentType::Html)
            } else {
                (TemplateContext::Text, ContentType::Text)
            };
            (c.template.render(ctx, &lookup).into_owned(), kind)
        };
        for a in &self.profile.elements[i].actions {
            match a {
                ElementAction::SetAttribute { name, value } => {
                    // Names were checked at load.
                    let _ = el.set_attribute(name, &value.render(TemplateContext::Html, &lookup));
                }
                ElementAction::RemoveAttribute(name) => el.remove_attribute(name),
                ElementAction::RewriteAttribute { name, find, to } => {
                    if let Some(old) = el.get_attribute(name) {
                        let to = to.render(TemplateContext::Html, &lookup);
                        if let Cow::Owned(new) = replace(find, &old, &to) {
                            let _ = el.set_attribute(name, &new);
                        }
                    }
                }
                ElementAction::SetInnerContent(c) => {
                    let (s, k) = html(c);
                    el.set_inner_content(&s, k);
                }
                ElementAction::Append(c) => {
                    let (s, k) = html(c);
                    el.append(&s, k);
                }
                ElementAction::Prepend(c) => {
                    let (s, k) = html(c);
                    el.prepend(&s, k);
                }
                ElementAction::Before(c) => {
                    let (s, k) = html(c);
                    el.before(&s, k);
                }
                ElementAction::After(c) => {
                    let (s, k) = html(c);
                    el.after(&s, k);
                }
                ElementAction::Replace(c) => {
                    let (s, k) = html(c);
                    el.replace(&s, k);
                }
                ElementAction::Remove => el.remove(),
                ElementAction::RemoveAndKeepContent => el.remove_and_keep_content(),
                ElementAction::ReplaceText(_) => {}
            }
        }
    }

    fn upgrade_links(&self, el: &mut Element<'_, '_>, attr: &str, values: &RequestValues) {
        let Some(old) = el.get_attribute(attr) else {
            return;
        };
        let new = if attr == "srcset" {
            let mut changed = false;
            let parts: Vec<String> = old
                .split(',')
                .map(|candidate| {
                    let lead = candidate.len() - candidate.trim_start().len();
                    match self.https_url(&candidate[lead..], values) {
                        Some(u) => {
                            changed = true;
                            format!("{}{u}", &candidate[..lead])
                        }
                        None => candidate.to_string(),
                    }
                })
                .collect();
            changed.then(|| parts.join(","))
        } else {
            self.https_url(&old, values)
        };
        if let Some(new) = new {
            let _ = el.set_attribute(attr, &new);
        }
    }

    /// `url` with `https://` if it is an `http://` URL to a host known to serve HTTPS.
    fn https_url(&self, url: &str, values: &RequestValues) -> Option<String> {
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("http://"))
            .map(|_| &url[7..])?;
        let end = rest.find(['/', '?', '#', ' ']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.contains('@') {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || p.is_empty() => (h, Some(p)),
            _ => (authority, None),
        };
        // An explicit port other than 80 is a different service: leave it.
        if port.is_some_and(|p| p != "80" && !p.is_empty()) {
            return None;
        }
        let host = host.to_ascii_lowercase();
        let known = host == values.host
            || self.https_hosts.iter().any(|h| match h {
                HostPattern::Exact(e) => *e == host,
                HostPattern::Wildcard(parent) => host
                    .strip_suffix(parent.as_str())
                    .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            });
        known.then(|| format!("https://{host}{}", &rest[end..]))
    }
}

/// `text` with every match of `find` replaced by `to` (borrowed when nothing matched).
fn replace<'t>(find: &Find, text: &'t str, to: &str) -> Cow<'t, str> {
    match find {
        Find::Substring(s) if text.contains(s.as_str()) => Cow::Owned(text.replace(s.as_str(), to)),
        Find::Substring(_) => Cow::Borrowed(text),
        Find::Regex(re) => re.replace_all(text, to),
    }
}

/// The text handler that applies the document's replacements, and those of the
/// elements whose text handlers marked the current node (`scope`), to whole text nodes
/// (see [`TEXT_BUFFER`]).
fn text_replacer(
    profile: Arc<CompiledProfile>,
    scope: Arc<std::sync::Mutex<Vec<usize>>>,
    values: Arc<RequestValues>,
) -> impl FnMut(&mut TextChunk<'_>) -> lol_html::HandlerResult + Send + 'static {
    let mut buffer = String::new();
    // Whether earlier chunks of this node were taken out (their text is in `buffer`).
    let mut held = false;
    move |chunk: &mut TextChunk<'_>| {
        let elements: Vec<usize> = scope.lock().map(|s| s.clone()).unwrap_or_default();
        let p = &profile.profile;
        if p.replace_text.is_empty() && elements.is_empty() && !held {
            return Ok(());
        }
        buffer.push_str(chunk.as_str());
        let last = chunk.last_in_text_node();
        if !last && buffer.len() < TEXT_BUFFER {
            chunk.remove();
            held = true;
            return Ok(());
        }
        let scoped = elements.iter().flat_map(|&i| {
            p.elements[i].actions.iter().filter_map(|a| match a {
                ElementAction::ReplaceText(r) => Some(r),
                _ => None,
            })
        });
        let mut text = Cow::Borrowed(buffer.as_str());
        let lookup = values.lookup();
        for r in p.replace_text.iter().chain(scoped) {
            // Text chunks are HTML source (character references undecoded), so the
            // replacement goes in as HTML with its placeholders escaped.
            let to = r.to.render(TemplateContext::Html, &lookup);
            if let Cow::Owned(s) = replace(&r.find, &text, &to) {
                text = Cow::Owned(s);
            }
        }
        if let Cow::Owned(out) = text {
            chunk.replace(&out, ContentType::Html);
        } else if held {
            chunk.replace(&buffer, ContentType::Html);
        }
        buffer.clear();
        held = false;
        if last && let Ok(mut s) = scope.lock() {
            s.clear();
        }
        Ok(())
    }
}

/// Compiles every CSS selector of every site's HTML profiles: each bad one is reported
/// at its `file:line:col`, as the config's own problems are (the config crate holds no
/// HTML parser; selectors are checked where they are compiled). Runs at every load, at
/// reloads (a bad selector keeps the old config) and in `outpost check`.
pub fn check_selectors(config: &outpost_config::Config) -> Result<(), outpost_config::ConfigError> {
    let problems: Vec<outpost_config::Diagnostic> = config
        .sites
        .iter()
        .flat_map(|s| &s.html_profiles)
        .flat_map(|p| &p.elements)
        .filter_map(|e| {
            let err = lol_html::Selector::from_str(&e.selector).err()?;
            Some(outpost_config::Diagnostic {
                message: format!("bad CSS selector {:?}: {err}", e.selector),
                ..e.selector_at.clone()
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(outpost_config::ConfigError::Invalid(problems))
    }
}
