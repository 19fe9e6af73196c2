//! The validated page-rule model: what a rules file says, ready for `outpost-rules`
//! to compile into a matcher.
//!
//! A rule is a URL pattern, optional extra conditions and a set of actions. Rules are
//! kept in file order (files in the order the site lists them): the first rule that
//! matches a request is the only one that applies.

use crate::cache::CacheKeyPolicy;
use crate::script_file::ScriptFile;
use std::time::Duration;

/// One page rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Where it was written (for `Outpost-Rule`, `outpost rules test` and logs).
    pub source: RuleSource,
    /// Optional label from the file.
    pub name: Option<String>,
    /// The URL pattern.
    pub pattern: UrlPattern,
    /// Extra conditions; all must hold.
    pub when: Conditions,
    /// What to do.
    pub actions: Actions,
}

/// Where a rule was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSource {
    /// The rules file as the configuration names it (relative to the config file).
    pub file: String,
    /// 1-based line of the rule's first key.
    pub line: usize,
    /// Position of the rule in its file (0-based).
    pub index: usize,
    /// `file:line`, as `cf.rule`, metrics and logs name the rule (made once: a
    /// request the rule takes names it several times).
    pub label: std::sync::Arc<str>,
}

impl std::fmt::Display for RuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

/// The scheme part of a URL pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
}

/// A URL pattern with Cloudflare page-rule semantics.
///
/// `[scheme://]host[:port][/path[?query]]`, where `*` matches any run of characters
/// (also none) in the host and in the path. Without a scheme both match; without a
/// port every port matches; without a path only `/` matches. A pattern that starts
/// with `/` matches any host of the site. A pattern without `?` is matched against
/// the request's path alone (any query string is fine, and wildcards never capture
/// it); a pattern with `?` is matched against path, `?` and query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPattern {
    /// The pattern as written.
    pub text: String,
    /// Required scheme, if any.
    pub scheme: Option<Scheme>,
    /// Host glob, lowercased; `None` for "any host of this site" (no capture).
    pub host: Option<String>,
    /// Required port, if any.
    pub port: Option<u16>,
    /// Path-and-query glob, case-sensitive, always starting with `/`.
    pub path: String,
}

impl UrlPattern {
    /// How many `*` wildcards the pattern has (the highest usable `$n`).
    pub fn wildcards(&self) -> usize {
        let host = self.host.as_deref().map_or(0, |h| h.matches('*').count());
        host + self.path.matches('*').count()
    }

    /// The first path segment when the pattern fixes it (`/static/*` -> `static`,
    /// `/about` -> `about`), `None` when a wildcard can change it (`/a*`, `/*`).
    ///
    /// A request's first segment is what follows the leading `/` up to the next `/`,
    /// `?` or the end; the matcher indexes rules by it.
    pub fn first_segment(&self) -> Option<&str> {
        let rest = self.path.strip_prefix('/')?;
        let literal = rest.split('*').next().unwrap_or("");
        let has_star = rest.contains('*');
        match literal.find(['/', '?']) {
            Some(end) => Some(&literal[..end]),
            None if !has_star => Some(literal),
            None => None,
        }
    }
}

/// The first path segment of a request's path-and-query (see
/// [`UrlPattern::first_segment`]).
pub fn request_first_segment(path_and_query: &str) -> &str {
    let rest = path_and_query.strip_prefix('/').unwrap_or(path_and_query);
    rest.find(['/', '?']).map_or(rest, |end| &rest[..end])
}

/// Extra conditions on a rule (`when:`). Empty lists mean "no condition".
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// Allowed methods (uppercase).
    pub methods: Vec<String>,
    /// Request header conditions (lowercase names).
    pub headers: Vec<(String, ValueTest)>,
    /// Cookie conditions (exact names).
    pub cookies: Vec<(String, ValueTest)>,
    /// Query parameter conditions (names and values percent-decoded).
    pub query: Vec<(String, ValueTest)>,
    /// The client address must be in one of these networks.
    pub client_ip: Vec<ipnet::IpNet>,
}

impl Conditions {
    /// Whether there are no conditions at all.
    pub fn is_empty(&self) -> bool {
        self.methods.is_empty()
            && self.headers.is_empty()
            && self.cookies.is_empty()
            && self.query.is_empty()
            && self.client_ip.is_empty()
    }
}

/// A test on a header, cookie or query value.
#[derive(Debug, Clone)]
pub enum ValueTest {
    /// Present with any value (`true`).
    Present,
    /// Not present (`false`).
    Absent,
    /// Present and exactly equal (a plain string).
    Equals(String),
    /// Present and matching (`{ regex: "..." }`, unanchored).
    Regex(regex::Regex),
}

/// How a rule changes caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLevel {
    /// Never look up or store.
    Bypass,
    /// RFC 9111: store what the origin's headers allow (the default).
    Basic,
    /// As `Basic`, with the query string left out of the cache key.
    IgnoreQueryString,
    /// Store every cacheable status, HTML included, even without freshness headers.
    CacheEverything,
}

/// A string with `$n` back-references to a pattern's wildcards (`$$` is a `$`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The template as written.
    pub text: String,
    /// Literal runs and wildcard references (1-based), in order.
    pub parts: Vec<TemplatePart>,
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Copied as is.
    Literal(String),
    /// The text the n-th wildcard (1-based) matched.
    Capture(usize),
}

impl Template {
    /// Parses `$n` references; `$` not followed by a digit is literal, `$$` is one `$`.
    pub fn parse(text: &str) -> Template {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                lit.push(c);
                continue;
            }
            match chars.peek() {
                Some('$') => {
                    chars.next();
                    lit.push('$');
                }
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        n.push(*d);
                        chars.next();
                    }
                    if !lit.is_empty() {
                        parts.push(TemplatePart::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(TemplatePart::Capture(n.parse().unwrap_or(usize::MAX)));
                }
                _ => lit.push('$'),
            }
        }
        if !lit.is_empty() {
            parts.push(TemplatePart::Literal(lit));
        }
        Template {
            text: text.to_string(),
            parts,
        }
    }

    /// The highest `$n` used (0 for none).
    pub fn max_reference(&self) -> usize {
        self.parts
            .iter()
            .filter_map(|p| match p {
                TemplatePart::Capture(n) => Some(*n),
                TemplatePart::Literal(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Fills in the references from `captures` (`captures[0]` is `$1`); a reference
    /// beyond them (impossible after validation) becomes empty.
    pub fn render(&self, captures: &[&str]) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::Capture(n) => out.push_str(
                    n.checked_sub(1)
                        .and_then(|i| captures.get(i))
                        .unwrap_or(&""),
                ),
            }
        }
        out
    }
}

/// A redirect answered at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Target URL or absolute path, with `$n` back-references.
    pub to: Template,
    /// 301, 302, 307 or 308.
    pub status: u16,
    /// Append the request's query string to the target.
    pub keep_query: bool,
}

/// Path/query rewrite before the origin (the client's URL is unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// New path, with `$n`; `None` keeps the path.
    pub path: Option<Template>,
    /// New query (without `?`), with `$n`; `None` keeps it, `""` removes it.
    pub query: Option<Template>,
}

/// Header changes, applied in the order remove, set, add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderEdits {
    /// Replace (or create) these headers (lowercase names).
    pub set: Vec<(String, String)>,
    /// Append these values.
    pub add: Vec<(String, String)>,
    /// Remove these headers.
    pub remove: Vec<String>,
}

impl HeaderEdits {
    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// A rate limit: at most `requests` per `per` for each value of `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window.
    pub per: Duration,
    /// What counts as one client.
    pub key: RateKey,
    /// What happens to requests over the limit.
    pub action: RateAction,
}

/// What a rate limit counts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// The client's IP address.
    ClientIp,
    /// A request header's value (lowercase name; absent counts as empty).
    Header(String),
    /// A cookie's value.
    Cookie(String),
}

/// What a rate limit does to requests over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateAction {
    /// Answer `429 Too Many Requests` with `Retry-After`.
    Block,
    /// Let the request through with `Outpost-Rate-Limited: 1` for the origin to act
    /// on (a challenge page, a captcha).
    ChallengeHeader,
}

/// What a matching rule does. Unset fields leave the site's behaviour alone.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    /// Redirect plain-HTTP requests to HTTPS (301).
    pub always_use_https: bool,
    /// Redirect to another URL.
    pub forward: Option<Forward>,
    /// Caching level.
    pub cache_level: Option<CacheLevel>,
    /// Freshness at the edge, replacing the origin's.
    pub edge_ttl: Option<Duration>,
    /// `max-age` sent to clients, replacing the origin's `Cache-Control` lifetime.
    pub browser_ttl: Option<Duration>,
    /// Skip the cache when a cookie name matches.
    pub bypass_cache_on_cookie: Option<regex::Regex>,
    /// Cache key policy replacing the site's.
    pub cache_key: Option<CacheKeyPolicy>,
    /// Whether origin `Cache-Control` (no-store, private, no-cache) still counts when
    /// `edge_ttl` or `cache_everything` apply. Default on.
    pub origin_cache_control: Option<bool>,
    /// Store a response for a path with a static-file extension (`.css`, `.jpg`, …)
    /// only when its `Content-Type` is that kind of file (web cache deception).
    pub cache_deception_armor: bool,
    /// Store 5xx responses that say they may be stored (off: a 5xx always goes back
    /// to the origin next time, whatever its `Cache-Control`).
    pub cache_errors: bool,
    /// `Some(false)`: no heuristic lifetime for responses under this rule (RFC 9111
    /// §4.2.2); `None` leaves the site's choice.
    pub heuristic_freshness: Option<bool>,
    /// Changes to the request before the cache and the origin.
    pub request_headers: HeaderEdits,
    /// Changes to the response sent to the client.
    pub response_headers: HeaderEdits,
    /// Path/query rewrite before the cache and the origin.
    pub rewrite: Option<Rewrite>,
    /// `Host` header sent to the origin.
    pub host_header: Option<String>,
    /// Another origin pool of the site (by name).
    pub origin: Option<String>,
    /// A JS hook to run instead of the site's (if any).
    pub script: Option<ScriptFile>,
    /// An HTML rewrite profile to apply (consumed by the HTML rewriter).
    pub html_rewrite: Option<String>,
    /// Limit the request rate per client (or per header/cookie value).
    pub rate_limit: Option<RateLimit>,
    /// Turn off scripts bound elsewhere (e.g. quick mode's `--script`).
    pub disable_scripts: bool,
    /// Turn off HTML rewriting bound elsewhere.
    pub disable_html_rewrite: bool,
    /// Answer with the response's image transformed (`image: { width: 400 }`).
    pub image: Option<ImageAction>,
}

/// A rule's `image` action: transform options in the `/cdn-cgi/image/` URL form's
/// text (`width=400,format=auto`), checked where images are transformed (the config
/// holds no image code), at the position kept here.
#[derive(Debug, Clone)]
pub struct ImageAction {
    /// The options, `name=value` joined by commas.
    pub options: String,
    /// Where they were written, for errors.
    pub at: crate::Diagnostic,
}

impl Actions {
    /// The names of the actions that are set, in documentation order (for listings).
    pub fn names(&self) -> Vec<&'static str> {
        let mut n = Vec::new();
        let mut add = |set: bool, name: &'static str| {
            if set {
                n.push(name);
            }
        };
        add(self.always_use_https, "always_use_https");
        add(self.forward.is_some(), "forward");
        add(self.cache_level.is_some(), "cache_level");
        add(self.edge_ttl.is_some(), "edge_ttl");
        add(self.browser_ttl.is_some(), "browser_ttl");
        add(
            self.bypass_cache_on_cookie.is_some(),
            "bypass_cache_on_cookie",
        );
        add(self.cache_key.is_some(), "cache_key");
        add(self.origin_cache_control.is_some(), "origin_cache_control");
        add(self.cache_deception_armor, "cache_deception_armor");
        add(self.cache_errors, "cache_errors");
        add(self.heuristic_freshness.is_some(), "heuristic_freshness");
        add(!self.request_headers.is_empty(), "request headers");
        add(!self.response_headers.is_empty(), "response headers");
        add(self.rewrite.is_some(), "rewrite");
        add(self.host_header.is_some(), "host_header");
        add(self.origin.is_some(), "origin");
        add(self.script.is_some(), "script");
        add(self.html_rewrite.is_some(), "html_rewrite");
        add(self.image.is_some(), "image");
        add(self.rate_limit.is_some(), "rate_limit");
        add(self.disable_scripts || self.disable_html_rewrite, "disable");
        n
    }
}
