//! URL pattern parsing and the "does rule A shadow rule B" check.

use crate::rule::{Scheme, UrlPattern};

/// Parses a page-rule URL pattern (see [`UrlPattern`] for the syntax).
pub(crate) fn parse_pattern(text: &str) -> Result<UrlPattern, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the pattern is empty (expected e.g. \"example.com/static/*\")".into());
    }
    if t.contains("**") {
        return Err(format!(
            "{text:?}: `**` is the same as `*` but shifts the $n numbering; write one `*`"
        ));
    }
    if let Some(bad) = t
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '#')
    {
        return Err(format!(
            "{text:?}: {bad:?} cannot appear in a URL pattern (fragments are never sent to the server)"
        ));
    }
    if t.starts_with('/') {
        return Ok(UrlPattern {
            text: text.to_string(),
            scheme: None,
            host: None,
            port: None,
            path: t.to_string(),
        });
    }
    let (scheme, rest) = match t.split_once("://") {
        Some(("http", rest)) => (Some(Scheme::Http), rest),
        Some(("https", rest)) => (Some(Scheme::Https), rest),
        Some((other, _)) => {
            return Err(format!(
                "{text:?}: scheme {other:?} is not http or https (leave it out to match both)"
            ));
        }
        None => (None, t),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let (host, port) = split_port(authority).map_err(|why| format!("{text:?}: {why}"))?;
    if host.is_empty() {
        return Err(format!(
            "{text:?} has no host (write `*` for any host, or start the pattern with `/` for any host of the site)"
        ));
    }
    if let Some(bad) = host.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '*' | ':' | '[' | ']'))
    }) {
        return Err(format!("{text:?}: {bad:?} is not allowed in a host name"));
    }
    Ok(UrlPattern {
        text: text.to_string(),
        scheme,
        host: Some(host.to_ascii_lowercase()),
        port,
        path,
    })
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    // An IPv6 literal keeps its brackets: "[::1]:8080".
    let colon = if authority.starts_with('[') {
        authority
            .find(']')
            .ok_or("unclosed '[' in the host")?
            .checked_add(1)
            .filter(|&i| authority[i..].starts_with(':'))
    } else {
        authority.rfind(':')
    };
    let Some(colon) = colon else {
        return Ok((authority, None));
    };
    let port = &authority[colon + 1..];
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((&authority[..colon], Some(p))),
        _ => Err(format!(
            "port {port:?} is not a number from 1 to 65535 (wildcards are not allowed in ports; leave the port out to match all)"
        )),
    }
}

/// Whether every URL that `b` matches is also matched by `a`.
///
/// Sound but not complete: when it says yes, `a` really covers `b`.
pub(crate) fn covers(a: &UrlPattern, b: &UrlPattern) -> bool {
    let scheme = a.scheme.is_none() || a.scheme == b.scheme;
    let port = a.port.is_none() || a.port == b.port;
    let host = match (&a.host, &b.host) {
        (None, _) => true,
        (Some(h), None) => h == "*",
        (Some(ha), Some(hb)) => glob_covers(ha.as_bytes(), hb.as_bytes()),
    };
    // A pattern without `?` sees only the path; one with `?` needs a query.
    let path = match (a.path.contains('?'), b.path.split_once('?')) {
        (false, Some((b_path, _))) => glob_covers(a.path.as_bytes(), b_path.as_bytes()),
        (true, None) => false,
        _ => glob_covers(a.path.as_bytes(), b.path.as_bytes()),
    };
    scheme && port && host && path
}

/// Whether glob `a` matches every string glob `b` matches, both using `*` only.
///
/// `b`'s stars stand for arbitrary text, so only a star of `a` can absorb them.
fn glob_covers(a: &[u8], b: &[u8]) -> bool {
    // can[j] = a[..i] can match b[..j]; rolled over i.
    let mut can = vec![false; b.len() + 1];
    can[0] = true;
    for &ca in a {
        let mut next = vec![false; b.len() + 1];
        if ca == b'*' {
            // A star absorbs any run of b (stars included).
            let mut any = false;
            for j in 0..=b.len() {
                any |= can[j];
                next[j] = any;
            }
        } else {
            for j in 1..=b.len() {
                next[j] = can[j - 1] && b[j - 1] == ca;
            }
        }
        can = next;
    }
    can[b.len()]
}

/// Whether some string matches both globs (each using `*` only).
pub(crate) fn globs_intersect(a: &[u8], b: &[u8]) -> bool {
    let (n, m) = (a.len(), b.len());
    let mut reach = vec![vec![false; m + 1]; n + 1];
    reach[0][0] = true;
    for i in 0..=n {
        for j in 0..=m {
            if !reach[i][j] {
                continue;
            }
            let sa = i < n && a[i] == b'*';
            let sb = j < m && b[j] == b'*';
            if sa {
                reach[i + 1][j] = true; // the star matches nothing more
                if j < m {
                    reach[i][j + 1] = true; // the star absorbs b[j]
                }
            }
            if sb {
                reach[i][j + 1] = true;
                if i < n {
                    reach[i + 1][j] = true;
                }
            }
            if i < n && j < m && !sa && !sb && a[i] == b[j] {
                reach[i + 1][j + 1] = true;
            }
        }
    }
    reach[n][m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> UrlPattern {
        parse_pattern(s).expect("pattern")
    }

    #[test]
    fn parses_parts() {
        let x = p("https://*.Example.com:8443/a/*?q=*");
        assert_eq!(x.scheme, Some(Scheme::Https));
        assert_eq!(x.host.as_deref(), Some("*.example.com"));
        assert_eq!(x.port, Some(8443));
        assert_eq!(x.path, "/a/*?q=*");
        assert_eq!(x.wildcards(), 3);
        assert_eq!(p("example.com").path, "/");
        assert_eq!(p("example.com?a=1").path, "/?a=1");
        assert_eq!(p("/static/*").host, None);
        assert_eq!(p("[::1]:8080/x").port, Some(8080));
        for bad in [
            "",
            "ftp://x/",
            "example.com:*/x",
            ":80/",
            "a b/",
            "x/#frag",
            "x/**",
        ] {
            assert!(parse_pattern(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn first_segments() {
        assert_eq!(p("x/static/*").first_segment(), Some("static"));
        assert_eq!(p("x/about").first_segment(), Some("about"));
        assert_eq!(p("x/a?b=*").first_segment(), Some("a"));
        assert_eq!(p("x/a*").first_segment(), None);
        assert_eq!(p("x/*").first_segment(), None);
        assert_eq!(p("x").first_segment(), Some(""));
        assert_eq!(
            crate::rule::request_first_segment("/static/a.css"),
            "static"
        );
        assert_eq!(crate::rule::request_first_segment("/a?x=1"), "a");
        assert_eq!(crate::rule::request_first_segment("/"), "");
    }

    #[test]
    fn coverage() {
        assert!(covers(&p("example.com/*"), &p("example.com/static/*")));
        assert!(covers(
            &p("*example.com/*"),
            &p("https://www.example.com/a")
        ));
        assert!(covers(&p("/*"), &p("example.com/x")));
        assert!(!covers(&p("example.com/static/*"), &p("example.com/*")));
        assert!(!covers(&p("https://example.com/*"), &p("example.com/x")));
        assert!(!covers(&p("example.com:8080/*"), &p("example.com/x")));
        assert!(!covers(&p("example.com/a*"), &p("example.com/*a")));
        assert!(covers(&p("example.com/*a*"), &p("example.com/x*a*y")));
        assert!(!covers(&p("example.com/x/*"), &p("/x/*")));
        assert!(covers(&p("x/a/*"), &p("x/a/b?y=*")));
        assert!(!covers(&p("x/a*b"), &p("x/a?b")));
        assert!(!covers(&p("x/a?*"), &p("x/a")));
    }

    #[test]
    fn intersection() {
        assert!(globs_intersect(b"*example.com", b"example.com"));
        assert!(globs_intersect(b"api.*", b"*.example.com"));
        assert!(!globs_intersect(b"example.org", b"*.example.com"));
        assert!(!globs_intersect(b"www.example.com", b"example.com"));
    }
}
