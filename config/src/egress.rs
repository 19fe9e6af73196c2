//! `sites[].egress`: where a site's hooks may `fetch()` beyond the sites this node
//! serves, and how many subrequests one request may make.

use crate::locate::Seg::{Index, Key};
use crate::validator::Validator;
use serde::Deserialize;

/// Subrequests one request may make by default (as Cloudflare Workers' free plan).
pub const DEFAULT_MAX_SUBREQUESTS: u32 = 50;

/// The egress policy of one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    /// Hosts a hook may reach: exact names (`api.example.com`) or every subdomain of
    /// one (`*.example.net`). Empty: any public host.
    pub allow: Vec<String>,
    /// Whether loopback, private, link-local, shared and metadata addresses may be
    /// reached (after DNS resolution, on every redirect). Off by default: a hook
    /// must not be a way into the node's own network (SSRF).
    pub private: bool,
    /// Subrequests (any `fetch()`, to this node or elsewhere) per request.
    pub max_subrequests: u32,
}

impl Default for Egress {
    fn default() -> Self {
        Egress {
            allow: Vec::new(),
            private: false,
            max_subrequests: DEFAULT_MAX_SUBREQUESTS,
        }
    }
}

impl Egress {
    /// Whether `host` (lowercase, without port or brackets) is on the allow list.
    pub fn allows_host(&self, host: &str) -> bool {
        self.allow.is_empty()
            || self.allow.iter().any(|p| match p.strip_prefix("*.") {
                Some(suffix) => host
                    .strip_suffix(suffix)
                    .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
                None => p == host,
            })
    }
}

/// `sites[].egress` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEgress {
    pub allow: Option<Vec<String>>,
    pub private: Option<String>,
    pub max_subrequests: Option<u32>,
}

/// Validates `sites[i].egress`.
pub(crate) fn site_egress(v: &mut Validator<'_>, raw: Option<&RawEgress>, i: usize) -> Egress {
    let mut out = Egress::default();
    let Some(raw) = raw else { return out };
    let at = |k: &'static str| vec![Key("sites"), Index(i), Key("egress"), Key(k)];
    if let Some(list) = &raw.allow {
        for (j, pattern) in list.iter().enumerate() {
            let mut path = at("allow");
            path.push(Index(j));
            let p = pattern.trim().to_ascii_lowercase();
            let name = p.strip_prefix("*.").unwrap_or(&p);
            let valid = !name.is_empty()
                && !name.contains('*')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']'));
            if valid {
                out.allow.push(p);
            } else {
                v.report(
                    &path,
                    format!("{pattern:?} is not a host name or pattern (expected e.g. \"api.example.com\" or \"*.example.net\")"),
                );
            }
        }
        if list.is_empty() {
            v.report(
                &at("allow"),
                "empty list (leave `allow` out to allow any public host)",
            );
        }
    }
    match raw.private.as_deref() {
        None | Some("deny") => {}
        Some("allow") => out.private = true,
        Some(other) => v.report(
            &at("private"),
            format!("{other:?} is not \"deny\" or \"allow\""),
        ),
    }
    if let Some(n) = raw.max_subrequests {
        if n == 0 {
            v.report(&at("max_subrequests"), "must be at least 1");
        } else {
            out.max_subrequests = n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_patterns_match_names_and_subdomains() {
        let e = Egress {
            allow: vec!["api.example.com".into(), "*.example.net".into()],
            ..Egress::default()
        };
        assert!(e.allows_host("api.example.com"));
        assert!(!e.allows_host("x.api.example.com"));
        assert!(e.allows_host("a.example.net"));
        assert!(e.allows_host("a.b.example.net"));
        assert!(!e.allows_host("example.net"));
        assert!(!e.allows_host("badexample.net"));
        assert!(Egress::default().allows_host("anything.example"));
    }
}
