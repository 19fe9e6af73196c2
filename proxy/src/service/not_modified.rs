//! Updating a stored response from the origin's `304 Not Modified` (RFC 9111 §3.2,
//! §4.3.4): every field the 304 carries replaces the stored one, with the exceptions
//! the RFC makes.

use crate::header_policy::strip_hop_by_hop;
use http::header;
use pingora::http::ResponseHeader;

/// Fields a 304 never replaces: framing (`Content-Length` and the like describe the
/// stored body, not the 304's empty one) and fields the stored body depends on
/// (`Content-Encoding`, and `Vary`, whose change would need the variant re-keyed).
const KEPT: [header::HeaderName; 5] = [
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONTENT_RANGE,
    header::CONTENT_ENCODING,
    header::VARY,
];

/// `stored` (the stored head, as pingora merged it) with every field of
/// `not_modified` applied: `Date`, `Expires`, `Cache-Control`, `ETag`,
/// `Last-Modified`, `Content-*` and custom fields alike. Hop-by-hop fields are not
/// stored at all. An `ETag` this cache weakened when it compressed the body stays weak.
pub(crate) fn updated_head(
    stored: &ResponseHeader,
    not_modified: &ResponseHeader,
) -> ResponseHeader {
    let mut head = stored.clone();
    let hop_by_hop = strip_hop_by_hop(&not_modified.headers, false);
    for name in not_modified.headers.keys() {
        if KEPT.contains(name) || hop_by_hop.iter().any(|h| h == name.as_str()) {
            continue;
        }
        if name == header::ETAG && weakened_here(stored, not_modified) {
            continue;
        }
        head.remove_header(name);
        for value in not_modified.headers.get_all(name) {
            // (Names and values come from a parsed head: appending cannot fail.)
            let _ = head.append_header(name.clone(), value.clone());
        }
    }
    head
}

/// Whether the stored `ETag` is the 304's strong one made weak (`compress::encoded_head`
/// does that to a body it encodes).
fn weakened_here(stored: &ResponseHeader, not_modified: &ResponseHeader) -> bool {
    let (Some(old), Some(new)) = (
        stored.headers.get(header::ETAG),
        not_modified.headers.get(header::ETAG),
    ) else {
        return false;
    };
    old.as_bytes().strip_prefix(b"W/") == Some(new.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, h: &[(&str, &str)]) -> ResponseHeader {
        let mut r = ResponseHeader::build(status, None).expect("head");
        for (k, v) in h {
            r.append_header(k.to_string(), *v).expect("field");
        }
        r
    }

    fn values(r: &ResponseHeader, name: &str) -> Vec<String> {
        r.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn a_304_replaces_every_field_but_framing() {
        let stored = head(
            200,
            &[
                ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
                ("cache-control", "max-age=1"),
                ("content-length", "5"),
                ("content-type", "text/plain"),
                ("x-version", "1"),
                ("x-list", "a"),
                ("etag", "\"a\""),
            ],
        );
        let fresh = head(
            304,
            &[
                ("date", "Tue, 02 Jan 2024 00:00:00 GMT"),
                ("cache-control", "max-age=60"),
                ("content-length", "0"),
                ("content-type", "text/html"),
                ("x-version", "2"),
                ("x-list", "b"),
                ("x-list", "c"),
                ("etag", "\"b\""),
                ("connection", "x-hop"),
                ("x-hop", "1"),
                ("keep-alive", "timeout=5"),
            ],
        );
        let h = updated_head(&stored, &fresh);
        assert_eq!(h.status, 200);
        assert_eq!(values(&h, "date"), ["Tue, 02 Jan 2024 00:00:00 GMT"]);
        assert_eq!(values(&h, "cache-control"), ["max-age=60"]);
        assert_eq!(values(&h, "content-length"), ["5"]);
        assert_eq!(values(&h, "content-type"), ["text/html"]);
        assert_eq!(values(&h, "x-version"), ["2"]);
        assert_eq!(values(&h, "x-list"), ["b", "c"]);
        assert_eq!(values(&h, "etag"), ["\"b\""]);
        assert!(values(&h, "x-hop").is_empty());
        assert!(values(&h, "keep-alive").is_empty());
        assert!(values(&h, "connection").is_empty());
    }

    #[test]
    fn an_etag_weakened_for_compression_stays_weak() {
        let stored = head(200, &[("etag", "W/\"a\""), ("content-encoding", "gzip")]);
        let fresh = head(304, &[("etag", "\"a\"")]);
        assert_eq!(values(&updated_head(&stored, &fresh), "etag"), ["W/\"a\""]);
        assert_eq!(
            values(&updated_head(&stored, &fresh), "content-encoding"),
            ["gzip"]
        );
    }
}
