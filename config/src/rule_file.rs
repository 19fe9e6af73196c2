//! Rules files: reading the files a site names and validating every rule in them.
//!
//! Each problem is reported with the rules file's own line and column. Besides hard
//! errors (unknown actions, bad patterns, conflicting actions, bad targets, `$n`
//! beyond the pattern's wildcards) it warns about rules that can never apply: one
//! fully shadowed by an earlier unconditional rule, or one whose host matches none of
//! the site's hosts.

use crate::cache::{CacheKeyPolicy, QueryKey, cache_key_policy};
use crate::locate::Seg::{self, Index, Key, Name};
use crate::pattern::{covers, globs_intersect, parse_pattern};
use crate::raw;
use crate::rule::*;
use crate::validator::Validator;
use std::collections::BTreeMap;
use std::time::Duration;

/// Headers whose value Outpost (or the HTTP framing) owns; rules may not edit them.
const MANAGED_HEADERS: [&str; 7] = [
    "connection",
    "content-length",
    "transfer-encoding",
    "host",
    "upgrade",
    "te",
    "keep-alive",
];

/// What the site around a rules file offers to its rules.
pub(crate) struct SiteView<'s> {
    /// Named origin pools.
    pub pools: &'s [&'s str],
    /// HTML rewrite profiles rules may bind (the site's and the built-ins).
    pub html_profiles: &'s [&'s str],
    /// Exact host names and `*.suffix` wildcards (as globs), empty for a default site.
    pub host_globs: Vec<String>,
}

/// Loads and validates the rules files named by `sites[i].rules`.
pub(crate) fn load_site_rules(
    v: &mut Validator<'_>,
    names: Option<&serde_yaml::Value>,
    i: usize,
    site: &SiteView<'_>,
) -> Vec<Rule> {
    let at = vec![Key("sites"), Index(i), Key("rules")];
    let files: Vec<(String, Vec<Seg>)> = match names {
        None => return Vec::new(),
        Some(serde_yaml::Value::String(s)) => vec![(s.clone(), at.clone())],
        Some(serde_yaml::Value::Sequence(seq)) => {
            let mut out = Vec::new();
            for (j, item) in seq.iter().enumerate() {
                let mut path = at.clone();
                path.push(Index(j));
                match item.as_str() {
                    Some(s) => out.push((s.to_string(), path)),
                    None => v.report(&path, "expected a rules file name"),
                }
            }
            out
        }
        Some(_) => {
            v.report(&at, "expected a rules file name or a list of them");
            return Vec::new();
        }
    };
    let mut rules: Vec<Rule> = Vec::new();
    let mut shadows = ShadowIndex::default();
    for (name, path) in files {
        let resolved = v.resolve(&name);
        v.files.push(resolved.clone());
        let text = match std::fs::read_to_string(&resolved) {
            Ok(t) => t,
            Err(e) => {
                v.report(
                    &path,
                    format!(
                        "rules file {name:?} (resolved to {}): cannot read: {e}",
                        resolved.display()
                    ),
                );
                continue;
            }
        };
        let parsed: Option<Vec<raw::Rule>> = match serde_yaml::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                v.problems
                    .push(crate::Diagnostic::from_yaml_error(&resolved, &e));
                continue;
            }
        };
        let mut rv = Validator::new(&text, &resolved);
        let parsed = parsed.unwrap_or_default();
        let lines = item_lines(&text, parsed.len());
        for (idx, raw_rule) in parsed.iter().enumerate() {
            let line = match &lines {
                Some(l) => l[idx],
                None => rv.line_of(&[Index(idx)]),
            };
            if let Some(rule) = validate_rule(&mut rv, raw_rule, idx, &name, line, site) {
                shadows.check(&mut rv, &rules, &rule, idx);
                shadows.add(&rule, rules.len());
                rules.push(rule);
            }
        }
        v.problems.append(&mut rv.problems);
        v.warnings.append(&mut rv.warnings);
    }
    rules
}

/// The 1-based line of each top-level list item of a rules file, found by a text scan
/// (an item of a block list at the root starts with `- ` in column 1). `None` when the
/// scan does not find exactly `count` items (a flow-style list, say); callers then ask
/// the YAML parser per item, which is exact but re-parses the file each time.
fn item_lines(text: &str, count: usize) -> Option<Vec<usize>> {
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("- ") || *l == "-")
        .map(|(i, _)| i + 1)
        .collect();
    (lines.len() == count).then_some(lines)
}

/// Earlier unconditional rules, by the first path segment their pattern fixes, so the
/// shadowing check compares a rule only with rules that could cover it.
#[derive(Default)]
struct ShadowIndex {
    by_segment: std::collections::HashMap<String, Vec<usize>>,
    any_segment: Vec<usize>,
}

impl ShadowIndex {
    fn add(&mut self, rule: &Rule, n: usize) {
        if !rule.when.is_empty() {
            return;
        }
        match rule.pattern.first_segment() {
            Some(s) => self.by_segment.entry(s.to_string()).or_default().push(n),
            None => self.any_segment.push(n),
        }
    }

    /// Warns when an earlier unconditional rule matches every URL `rule` matches. A
    /// rule with a fixed first segment can only cover rules with the same one.
    fn check(&self, rv: &mut Validator<'_>, earlier: &[Rule], rule: &Rule, idx: usize) {
        let same = rule
            .pattern
            .first_segment()
            .and_then(|s| self.by_segment.get(s))
            .map_or(&[][..], Vec::as_slice);
        let mut candidates: Vec<usize> = same.iter().chain(&self.any_segment).copied().collect();
        candidates.sort_unstable();
        let shadow = candidates
            .into_iter()
            .map(|n| &earlier[n])
            .find(|e| covers(&e.pattern, &rule.pattern));
        if let Some(e) = shadow {
            rv.warn(
                &[Index(idx), Key("match")],
                format!(
                    "this rule never applies: the rule at {} ({:?}) matches every URL it matches and comes first",
                    e.source, e.pattern.text
                ),
            );
        }
    }
}

fn validate_rule(
    rv: &mut Validator<'_>,
    r: &raw::Rule,
    idx: usize,
    file_name: &str,
    line: usize,
    site: &SiteView<'_>,
) -> Option<Rule> {
    let at = |k: &'static str| vec![Index(idx), Key(k)];
    let pattern = match parse_pattern(&r.pattern) {
        Ok(p) => p,
        Err(why) => {
            rv.report(&at("match"), why);
            return None;
        }
    };
    if let Some(host) = &pattern.host
        && !site.host_globs.is_empty()
        && !site
            .host_globs
            .iter()
            .any(|h| globs_intersect(host.as_bytes(), h.as_bytes()))
    {
        rv.warn(
            &at("match"),
            format!(
                "this rule never applies: host {host:?} matches none of the site's hosts ({})",
                site.host_globs.join(", ")
            ),
        );
    }
    let when = conditions(rv, &r.when, idx);
    let actions = actions(rv, &r.actions, idx, &pattern, site);
    let source = RuleSource {
        file: file_name.to_string(),
        line,
        index: idx,
        label: format!("{file_name}:{line}").into(),
    };
    Some(Rule {
        source,
        name: r.name.clone(),
        pattern,
        when,
        actions,
    })
}

fn conditions(rv: &mut Validator<'_>, w: &raw::When, idx: usize) -> Conditions {
    let at = |k: &'static str| vec![Index(idx), Key("when"), Key(k)];
    let mut c = Conditions::default();
    for (s, path) in strings(rv, w.method.as_ref(), &at("method"), "a method") {
        let m = s.to_ascii_uppercase();
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            rv.report(&path, format!("{s:?} is not an HTTP method"));
        } else {
            c.methods.push(m);
        }
    }
    for (name, value) in &w.header {
        let path = [at("header"), vec![Name(name.clone())]].concat();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            rv.report(&path, format!("{name:?} is not a header name"));
            continue;
        }
        if let Some(t) = value_test(rv, value, &path) {
            c.headers.push((name.to_ascii_lowercase(), t));
        }
    }
    for (map, out, what) in [
        (&w.cookie, &mut c.cookies, "cookie"),
        (&w.query, &mut c.query, "query"),
    ] {
        for (name, value) in map {
            let path = [at(what), vec![Name(name.clone())]].concat();
            if let Some(t) = value_test(rv, value, &path) {
                out.push((name.clone(), t));
            }
        }
    }
    for (s, path) in strings(rv, w.client_ip.as_ref(), &at("client_ip"), "a network") {
        if let Some(n) = rv.network(&s, &path) {
            c.client_ip.push(n);
        }
    }
    c
}

/// A string or a list of strings, each with its path.
fn strings(
    rv: &mut Validator<'_>,
    v: Option<&serde_yaml::Value>,
    at: &[Seg],
    what: &str,
) -> Vec<(String, Vec<Seg>)> {
    match v {
        None => Vec::new(),
        Some(serde_yaml::Value::String(s)) => vec![(s.clone(), at.to_vec())],
        Some(serde_yaml::Value::Sequence(seq)) => seq
            .iter()
            .enumerate()
            .filter_map(|(j, item)| {
                let path = [at, &[Index(j)]].concat();
                match item.as_str() {
                    Some(s) => Some((s.to_string(), path)),
                    None => {
                        rv.report(&path, format!("expected {what} as a string"));
                        None
                    }
                }
            })
            .collect(),
        Some(_) => {
            rv.report(at, format!("expected {what} or a list of them"));
            Vec::new()
        }
    }
}

fn value_test(rv: &mut Validator<'_>, v: &serde_yaml::Value, path: &[Seg]) -> Option<ValueTest> {
    use serde_yaml::Value;
    let expected =
        "(expected a value to equal, true for present, false for absent, or { regex: \"...\" })";
    match v {
        Value::Bool(true) => Some(ValueTest::Present),
        Value::Bool(false) => Some(ValueTest::Absent),
        Value::String(s) => Some(ValueTest::Equals(s.clone())),
        Value::Number(n) => Some(ValueTest::Equals(n.to_string())),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, val) = m.iter().next()?;
            match (k.as_str(), val.as_str()) {
                (Some("regex"), Some(re)) => match regex::Regex::new(re) {
                    Ok(re) => Some(ValueTest::Regex(re)),
                    Err(e) => {
                        rv.report(
                            path,
                            format!("{re:?} is not a valid regex: {}", one_line(&e)),
                        );
                        None
                    }
                },
                (Some("equals"), Some(s)) => Some(ValueTest::Equals(s.to_string())),
                _ => {
                    rv.report(path, format!("not a condition {expected}"));
                    None
                }
            }
        }
        _ => {
            rv.report(path, format!("not a condition {expected}"));
            None
        }
    }
}

/// The regex crate's error ends with the reason on its own line ("error: unclosed
/// group") after an ASCII-art pointer; the reason is what fits in a one-line message.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().map(str::trim).rfind(|l| !l.is_empty());
    last.map_or(text.clone(), |l| {
        l.trim_start_matches("error: ").to_string()
    })
}

fn header_edits(
    rv: &mut Validator<'_>,
    set: &BTreeMap<String, serde_yaml::Value>,
    add: &BTreeMap<String, serde_yaml::Value>,
    remove: &[String],
    idx: usize,
    side: &'static str,
) -> HeaderEdits {
    let (set_key, add_key, remove_key) = match side {
        "request" => (
            "set_request_headers",
            "add_request_headers",
            "remove_request_headers",
        ),
        _ => (
            "set_response_headers",
            "add_response_headers",
            "remove_response_headers",
        ),
    };
    let mut edits = HeaderEdits::default();
    let name_ok = |rv: &mut Validator<'_>, name: &str, path: &[Seg]| -> Option<String> {
        let lower = name.to_ascii_lowercase();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            rv.report(path, format!("{name:?} is not a header name"));
            return None;
        }
        if MANAGED_HEADERS.contains(&lower.as_str()) {
            let hint = if lower == "host" {
                " (use the host_header action for the Host sent to the origin)"
            } else {
                ""
            };
            rv.report(
                path,
                format!("{name:?} is managed by Outpost and cannot be changed by a rule{hint}"),
            );
            return None;
        }
        Some(lower)
    };
    for (map, key, out) in [
        (set, set_key, &mut edits.set),
        (add, add_key, &mut edits.add),
    ] {
        for (name, value) in map {
            let path = [Index(idx), Key("actions"), Key(key), Name(name.clone())];
            let Some(lower) = name_ok(rv, name, &path) else {
                continue;
            };
            let value = match value {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                _ => {
                    rv.report(&path, "expected a header value (a string)");
                    continue;
                }
            };
            if http::HeaderValue::from_str(&value).is_err() {
                rv.report(&path, format!("{value:?} is not a valid header value"));
                continue;
            }
            out.push((lower, value));
        }
    }
    for (j, name) in remove.iter().enumerate() {
        let path = [Index(idx), Key("actions"), Key(remove_key), Index(j)];
        if let Some(lower) = name_ok(rv, name, &path) {
            if edits.set.iter().chain(&edits.add).any(|(n, _)| *n == lower) {
                rv.report(
                    &path,
                    format!("{name:?} is both removed and set/added by this rule; keep one"),
                );
            }
            edits.remove.push(lower);
        }
    }
    edits
}

/// A template whose `$n` references exist in `pattern`.
fn template(rv: &mut Validator<'_>, text: &str, path: &[Seg], pattern: &UrlPattern) -> Template {
    let t = Template::parse(text);
    let max = t.max_reference();
    let have = pattern.wildcards();
    if t.parts.contains(&TemplatePart::Capture(0)) {
        rv.report(
            path,
            "$0 is not a reference: wildcards are numbered from $1",
        );
    } else if max > have {
        rv.report(
            path,
            format!(
                "${max} refers to wildcard {max}, but the pattern {:?} has {}",
                pattern.text,
                match have {
                    0 => "none".to_string(),
                    1 => "only one ($1)".to_string(),
                    n => format!("only {n} ($1 to ${n})"),
                }
            ),
        );
    }
    t
}

fn actions(
    rv: &mut Validator<'_>,
    a: &raw::RuleActions,
    idx: usize,
    pattern: &UrlPattern,
    site: &SiteView<'_>,
) -> Actions {
    let at = |k: &'static str| vec![Index(idx), Key("actions"), Key(k)];
    let problems_before = rv.problems.len();
    let mut out = Actions {
        always_use_https: a.always_use_https.unwrap_or(false),
        ..Actions::default()
    };
    if let Some(f) = &a.forward {
        let fp = |k: &'static str| vec![Index(idx), Key("actions"), Key("forward"), Key(k)];
        let to = template(rv, &f.to, &fp("to"), pattern);
        let sample = to.render(&vec!["x"; pattern.wildcards()]);
        let valid = if sample.starts_with('/') {
            !sample.starts_with("//")
        } else {
            url::Url::parse(&sample)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        };
        if !valid {
            rv.report(
                &fp("to"),
                format!("{:?} is not a forwarding target (expected an http(s):// URL or a path starting with '/')", f.to),
            );
        }
        let status = f.status.unwrap_or(301);
        if ![301, 302, 303, 307, 308].contains(&status) {
            rv.report(
                &fp("status"),
                format!("{status} is not a redirect status (expected 301, 302, 303, 307 or 308)"),
            );
        }
        out.forward = Some(Forward {
            to,
            status,
            keep_query: f.keep_query.unwrap_or(true),
        });
    }
    out.cache_level = a.cache_level.as_deref().map(|l| {
        rv.choice(
            Some(l),
            &at("cache_level"),
            &[
                ("basic", CacheLevel::Basic),
                ("bypass", CacheLevel::Bypass),
                ("ignore_query_string", CacheLevel::IgnoreQueryString),
                ("cache_everything", CacheLevel::CacheEverything),
            ],
            "a cache level",
        )
    });
    out.edge_ttl = a
        .edge_ttl
        .as_deref()
        .map(|t| rv.duration(Some(t), Duration::ZERO, &at("edge_ttl")));
    if out.edge_ttl == Some(Duration::ZERO) {
        rv.report(
            &at("edge_ttl"),
            "must be greater than zero (to not cache, use cache_level: bypass)",
        );
    }
    out.browser_ttl = a
        .browser_ttl
        .as_deref()
        .map(|t| rv.duration(Some(t), Duration::ZERO, &at("browser_ttl")));
    out.bypass_cache_on_cookie =
        a.bypass_cache_on_cookie
            .as_ref()
            .and_then(|re| match regex::Regex::new(re) {
                Ok(r) => Some(r),
                Err(e) => {
                    rv.report(
                        &at("bypass_cache_on_cookie"),
                        format!("{re:?} is not a valid regex: {}", one_line(&e)),
                    );
                    None
                }
            });
    out.cache_key = a
        .cache_key
        .as_ref()
        .map(|k| cache_key_policy(rv, k, &at("cache_key")));
    out.origin_cache_control = a.origin_cache_control;
    out.cache_deception_armor = a.cache_deception_armor.unwrap_or(false);
    out.cache_errors = a.cache_errors.unwrap_or(false);
    out.heuristic_freshness = a.heuristic_freshness;
    out.image = a.image.as_ref().map(|options| {
        let mut parts = Vec::new();
        for (name, value) in options {
            let text = match value {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                _ => {
                    rv.report(
                        &at("image"),
                        format!("image option {name}: expected a number, a word or true/false"),
                    );
                    continue;
                }
            };
            parts.push(format!("{name}={text}"));
        }
        crate::rule::ImageAction {
            options: parts.join(","),
            at: rv.diagnostic(&at("image"), String::new()),
        }
    });
    out.request_headers = header_edits(
        rv,
        &a.set_request_headers,
        &a.add_request_headers,
        &a.remove_request_headers,
        idx,
        "request",
    );
    out.response_headers = header_edits(
        rv,
        &a.set_response_headers,
        &a.add_response_headers,
        &a.remove_response_headers,
        idx,
        "response",
    );
    if let Some(r) = &a.rewrite {
        let rp = |k: &'static str| vec![Index(idx), Key("actions"), Key("rewrite"), Key(k)];
        let path = r.path.as_deref().map(|p| {
            if !p.starts_with('/') || p.contains(['?', '#']) {
                rv.report(
                    &rp("path"),
                    format!("{p:?} is not a path (expected it to start with '/'; put the query in rewrite.query)"),
                );
            }
            template(rv, p, &rp("path"), pattern)
        });
        let query = r.query.as_deref().map(|q| {
            if q.starts_with('?') || q.contains('#') {
                rv.report(
                    &rp("query"),
                    format!("{q:?}: write the query without a leading '?'"),
                );
            }
            template(rv, q, &rp("query"), pattern)
        });
        if path.is_none() && query.is_none() {
            rv.report(&at("rewrite"), "rewrite needs a path, a query, or both");
        }
        out.rewrite = Some(Rewrite { path, query });
    }
    out.host_header = a.host_header.clone();
    if let Some(h) = &out.host_header
        && (h.is_empty() || http::HeaderValue::from_str(h).is_err() || h.contains(['/', ' ']))
    {
        rv.report(&at("host_header"), format!("{h:?} is not a host name"));
    }
    out.origin = a.origin.clone();
    if let Some(o) = &a.origin
        && !site.pools.contains(&o.as_str())
    {
        let known = if site.pools.is_empty() {
            "the site defines no pools (add them under the site's `pools:`)".to_string()
        } else {
            format!("the site's pools are: {}", site.pools.join(", "))
        };
        rv.report(
            &at("origin"),
            format!("no origin pool named {o:?}: {known}"),
        );
    }
    out.script = a
        .script
        .as_ref()
        .and_then(|s| rv.script_file(s, &at("script")));
    out.html_rewrite = a.html_rewrite.clone();
    match out.html_rewrite.as_deref() {
        Some("") => rv.report(
            &at("html_rewrite"),
            "expected the name of a rewrite profile",
        ),
        Some(name) if !site.html_profiles.contains(&name) => rv.report(
            &at("html_rewrite"),
            format!(
                "no HTML rewrite profile named {name:?}: the site's html_profiles and the built-ins are: {}",
                site.html_profiles.join(", ")
            ),
        ),
        _ => {}
    }
    if let Some(r) = &a.rate_limit {
        let here = |k: &'static str| vec![Index(idx), Key("actions"), Key("rate_limit"), Key(k)];
        let per = rv.duration(Some(&r.per), Duration::from_secs(60), &here("per"));
        if per.is_zero() || per > Duration::from_secs(86_400) {
            rv.report(&here("per"), "the window must be between 1ms and 24h");
        }
        if r.requests == 0 {
            rv.report(&here("requests"), "allow at least one request per window");
        }
        let key = match r.key.as_deref().unwrap_or("client_ip") {
            "client_ip" => Some(RateKey::ClientIp),
            k => match k.split_once(':') {
                Some(("header", h)) if http::HeaderName::from_bytes(h.as_bytes()).is_ok() => {
                    Some(RateKey::Header(h.to_ascii_lowercase()))
                }
                Some(("cookie", c)) if !c.is_empty() => Some(RateKey::Cookie(c.to_string())),
                _ => {
                    rv.report(
                        &here("key"),
                        format!("{k:?} is not a rate-limit key (expected client_ip, header:NAME or cookie:NAME)"),
                    );
                    None
                }
            },
        };
        let action = match r.action.as_deref().unwrap_or("block") {
            "block" => Some(RateAction::Block),
            "challenge_header" => Some(RateAction::ChallengeHeader),
            other => {
                rv.report(
                    &here("action"),
                    format!(
                        "{other:?} is not a rate-limit action (expected block or challenge_header)"
                    ),
                );
                None
            }
        };
        if let (Some(key), Some(action)) = (key, action) {
            out.rate_limit = Some(RateLimit {
                requests: r.requests,
                per,
                key,
                action,
            });
        }
    }
    for (j, d) in a.disable.iter().enumerate() {
        match d.as_str() {
            "scripts" => out.disable_scripts = true,
            "html_rewrite" => out.disable_html_rewrite = true,
            other => rv.report(
                &[Index(idx), Key("actions"), Key("disable"), Index(j)],
                format!("{other:?} cannot be disabled (expected \"scripts\" or \"html_rewrite\")"),
            ),
        }
    }
    conflicts(rv, &out, idx);
    // An action dropped for being invalid was already reported.
    if out.names().is_empty() && rv.problems.len() == problems_before {
        rv.report(&[Index(idx), Key("actions")], "the rule has no actions");
    }
    out
}

/// Actions that cannot be combined (one would silently cancel the other).
fn conflicts(rv: &mut Validator<'_>, a: &Actions, idx: usize) {
    let at = |k: &'static str| vec![Index(idx), Key("actions"), Key(k)];
    let names = a.names();
    for (set, name) in [
        (a.always_use_https, "always_use_https"),
        (a.forward.is_some(), "forward"),
    ] {
        if set && names.len() > 1 {
            let others: Vec<&str> = names.iter().copied().filter(|n| *n != name).collect();
            rv.report(
                &at(name),
                format!(
                    "{name} answers with a redirect at once, so it cannot be combined with {} (put them in a separate rule)",
                    others.join(", ")
                ),
            );
            return;
        }
    }
    if a.cache_level == Some(CacheLevel::Bypass) {
        for (set, name) in [
            (a.edge_ttl.is_some(), "edge_ttl"),
            (a.cache_key.is_some(), "cache_key"),
            (a.bypass_cache_on_cookie.is_some(), "bypass_cache_on_cookie"),
            (a.origin_cache_control.is_some(), "origin_cache_control"),
            (a.cache_deception_armor, "cache_deception_armor"),
            (a.cache_errors, "cache_errors"),
            (a.heuristic_freshness.is_some(), "heuristic_freshness"),
        ] {
            if set {
                rv.report(
                    &at(name),
                    format!("{name} has no effect with cache_level: bypass (nothing is cached)"),
                );
            }
        }
    }
    if a.cache_level == Some(CacheLevel::IgnoreQueryString)
        && a.cache_key
            .as_ref()
            .is_some_and(|k: &CacheKeyPolicy| k.query != QueryKey::Full)
    {
        rv.report(
            &at("cache_key"),
            "cache_level: ignore_query_string already leaves the query out of the key; drop cache_key.query",
        );
    }
    if a.origin_cache_control == Some(false)
        && a.edge_ttl.is_none()
        && a.cache_level != Some(CacheLevel::CacheEverything)
    {
        rv.report(
            &at("origin_cache_control"),
            "origin_cache_control: false needs edge_ttl or cache_level: cache_everything (otherwise nothing says how long to cache)",
        );
    }
    if a.script.is_some() && a.disable_scripts {
        rv.report(
            &at("disable"),
            "the rule binds a script and also disables scripts",
        );
    }
    if a.html_rewrite.is_some() && a.disable_html_rewrite {
        rv.report(
            &at("disable"),
            "the rule binds an html_rewrite profile and also disables HTML rewriting",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_lines_scan_block_lists_and_defer_otherwise() {
        let block =
            "# rules\n- match: a\n  actions: {}\n\n- match: b\n  when:\n    - x\n-\n  match: c\n";
        assert_eq!(item_lines(block, 3), Some(vec![2, 5, 8]));
        assert_eq!(item_lines("[ {match: a}, {match: b} ]\n", 2), None);
        assert_eq!(item_lines("---\n- match: a\n", 1), Some(vec![2]));
    }
}
