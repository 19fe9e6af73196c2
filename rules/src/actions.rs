//! The pure parts of applying a matched rule: redirect targets, URL rewrites, the
//! cache-bypass cookie test and the `Cache-Control` a client receives.

use crate::matcher::Match;
use crate::request::RequestView;
use crate::{Result, RulesError};
use std::time::Duration;

/// A redirect the edge answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, 303, 307 or 308.
    pub status: u16,
    /// The `Location` value.
    pub location: String,
}

impl Match {
    fn captures(&self) -> Vec<&str> {
        self.captures.iter().map(String::as_str).collect()
    }

    fn bad(&self, what: &'static str, value: String) -> RulesError {
        RulesError::BadTarget {
            rule: self.rule.source.to_string(),
            what,
            value,
        }
    }

    /// The redirect this rule answers with, if any: `always_use_https` on a plain
    /// request, or `forward`. `https_port` is the port of Outpost's HTTPS listener
    /// (left out of the URL when it is 443).
    pub fn redirect(
        &self,
        req: &RequestView<'_>,
        https_port: Option<u16>,
    ) -> Option<Result<Redirect>> {
        let a = &self.rule.actions;
        if a.always_use_https && !req.tls {
            let port = match https_port {
                Some(443) | None => String::new(),
                Some(p) => format!(":{p}"),
            };
            let location = format!("https://{}{port}{}", req.host, req.path_and_query);
            return Some(Ok(Redirect {
                status: 301,
                location,
            }));
        }
        let f = a.forward.as_ref()?;
        let mut location = f.to.render(&self.captures());
        // With a `?` in the pattern the rule handles the query itself.
        let pattern_has_query = self.rule.pattern.path.contains('?');
        if f.keep_query
            && !pattern_has_query
            && let Some((_, q)) = req.path_and_query.split_once('?')
            && !q.is_empty()
        {
            location.push(if location.contains('?') { '&' } else { '?' });
            location.push_str(q);
        }
        if http::HeaderValue::from_str(&location).is_err() {
            return Some(Err(self.bad("forward.to", location)));
        }
        Some(Ok(Redirect {
            status: f.status,
            location,
        }))
    }

    /// The request target (path and query) to send upstream after this rule's
    /// `rewrite`, if it has one.
    pub fn rewritten(&self, path_and_query: &str) -> Option<Result<http::Uri>> {
        let r = self.rule.actions.rewrite.as_ref()?;
        let caps = self.captures();
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut out = match &r.path {
            Some(t) => t.render(&caps),
            None => path.to_string(),
        };
        let query = match &r.query {
            Some(t) => Some(t.render(&caps)).filter(|q| !q.is_empty()),
            None => query.map(str::to_string),
        };
        if let Some(q) = query {
            out.push('?');
            out.push_str(&q);
        }
        match out.parse::<http::Uri>() {
            Ok(uri) if out.starts_with('/') => Some(Ok(uri)),
            _ => Some(Err(self.bad("rewrite", out))),
        }
    }

    /// Whether `bypass_cache_on_cookie` applies: a cookie name matches its regex.
    pub fn bypass_on_cookie(&self, headers: &http::HeaderMap) -> bool {
        let Some(re) = &self.rule.actions.bypass_cache_on_cookie else {
            return false;
        };
        crate::conditions::cookies(headers).any(|(name, _)| re.is_match(name))
    }
}

/// The `Cache-Control` a client gets under `browser_ttl`, given the origin's value.
///
/// The lifetime becomes `ttl`; `private` is kept (the response is still someone's),
/// everything else is replaced. `None` means "leave the header alone": a `no-store`
/// response is never made cacheable by a browser TTL.
pub fn browser_cache_control(origin: Option<&str>, ttl: Duration) -> Option<String> {
    let directives: Vec<String> = origin
        .unwrap_or("")
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    let has = |name: &str| {
        directives
            .iter()
            .any(|d| d == name || d.starts_with(&format!("{name}=")))
    };
    if has("no-store") {
        return None;
    }
    let visibility = if has("private") { "private" } else { "public" };
    Some(format!("{visibility}, max-age={}", ttl.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_ttl_rewrites_lifetime_only() {
        let h = Duration::from_secs(3600);
        assert_eq!(
            browser_cache_control(Some("public, max-age=60, s-maxage=600"), h).as_deref(),
            Some("public, max-age=3600")
        );
        assert_eq!(
            browser_cache_control(Some("private, max-age=60"), h).as_deref(),
            Some("private, max-age=3600")
        );
        assert_eq!(
            browser_cache_control(None, h).as_deref(),
            Some("public, max-age=3600")
        );
        assert_eq!(browser_cache_control(Some("no-store"), h), None);
    }
}
