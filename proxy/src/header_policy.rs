//! Header policy on the way through: hop-by-hop fields, `Via`, `CDN-Loop` loop
//! detection, client overrides never forwarded, and the rules' header edits.

use http::header;
use outpost_config::HeaderEdits;
use pingora::Result;
use pingora::http::{RequestHeader, ResponseHeader};

pub(crate) const VIA: &str = "outpost";

/// Hop-by-hop headers (RFC 9110 7.6.1) that a proxy must not forward. `Transfer-Encoding`
/// and `Content-Length` are left to pingora, which owns message framing on both sides.
pub(crate) const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Removes hop-by-hop headers, including those named in `Connection`. For an upgrade
/// (WebSocket) exchange `Connection: upgrade` and `Upgrade` are kept, since the
/// upgrade must reach the other side for the tunnel to exist.
pub(crate) fn strip_hop_by_hop(headers: &http::HeaderMap, upgrade: bool) -> Vec<String> {
    // Most messages carry none of these but `Connection`: allocate only for what is
    // there (this runs twice per proxied request).
    let mut remove: Vec<String> = Vec::new();
    for v in headers.get_all(header::CONNECTION) {
        if let Ok(s) = v.to_str() {
            for token in s.split(',') {
                let t = token.trim();
                let keep = upgrade && t.eq_ignore_ascii_case("upgrade");
                if !t.is_empty() && !keep && headers.contains_key(t) {
                    remove.push(t.to_ascii_lowercase());
                }
            }
        }
    }
    for h in HOP_BY_HOP {
        if upgrade && (h == "connection" || h == "upgrade") {
            continue;
        }
        if headers.contains_key(h) {
            remove.push(h.to_string());
        }
    }
    if remove.len() > 1 {
        remove.sort();
        remove.dedup();
    }
    remove
}

/// The `Via` value to send on: any existing hops, then ours with the client's
/// protocol version (RFC 9110 7.6.3).
pub(crate) fn append_via(headers: &http::HeaderMap, version: http::Version) -> String {
    let version = match version {
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        http::Version::HTTP_10 => "1.0",
        _ => "1.1",
    };
    match headers.get(header::VIA).and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {version} {VIA}"),
        None => format!("{version} {VIA}"),
    }
}

/// RFC 8586 loop detection: whether this node already handled this request, i.e.
/// a `CDN-Loop` entry `outpost; id=<our node id>` is present.
pub(crate) fn seen_by(req: &RequestHeader, node_id: &str) -> bool {
    req.headers
        .get_all("cdn-loop")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            parts.next().is_some_and(|id| id.eq_ignore_ascii_case(VIA))
                && parts.any(|p| p.strip_prefix("id=") == Some(node_id))
        })
}

/// Client headers removed before the origin (see `upstream_request_filter`).
pub(crate) const UNTRUSTED_OVERRIDES: &[&str] = &[
    "x-original-url",
    "x-rewrite-url",
    "x-forwarded-scheme",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-prefix",
    "x-host",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "forwarded",
];

/// Request and response heads alike, for rule header edits.
pub(crate) trait EditHeaders {
    fn remove(&mut self, name: &str);
    fn set(&mut self, name: &str, value: &str) -> Result<()>;
    fn add(&mut self, name: &str, value: &str) -> Result<()>;

    /// Applies `edits` in the documented order: remove, set, add.
    fn apply(&mut self, edits: &HeaderEdits) -> Result<()> {
        for name in &edits.remove {
            self.remove(name);
        }
        for (name, value) in &edits.set {
            self.set(name, value)?;
        }
        for (name, value) in &edits.add {
            self.add(name, value)?;
        }
        Ok(())
    }
}

macro_rules! edit_headers_for {
    ($t:ty) => {
        impl EditHeaders for $t {
            fn remove(&mut self, name: &str) {
                self.remove_header(name);
            }
            fn set(&mut self, name: &str, value: &str) -> Result<()> {
                self.insert_header(name.to_string(), value).map(|_| ())
            }
            fn add(&mut self, name: &str, value: &str) -> Result<()> {
                self.append_header(name.to_string(), value).map(|_| ())
            }
        }
    };
}
edit_headers_for!(RequestHeader);
edit_headers_for!(ResponseHeader);

/// The port a client addressed: from `Host`, else the scheme's default.
pub(crate) fn request_port(raw_host: Option<&str>, tls: bool) -> u16 {
    raw_host
        .and_then(|h| h.rsplit_once(':'))
        .filter(|(h, _)| !h.ends_with(':') && (!h.contains(':') || h.ends_with(']')))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(if tls { 443 } else { 80 })
}
