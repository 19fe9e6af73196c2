//! A memory-tier answer's head, with this hit's `Age`, `Cache-Status` and request id:
//! as HTTP/1 bytes, as pingora's map (its HTTP/2 writer) or as `http`'s parts (an
//! in-process answer).

use super::prepared::Prepared;
use crate::request_id::RequestId;
use crate::wire::{put, put_dec};
use std::time::SystemTime;

/// Writes the response head for `prepared` into `out`: the stored part, then this
/// hit's `Age`, `Cache-Status`, request id, `Alt-Svc` (when HTTP/3 is on), `Date` and
/// `Connection`, then the blank line.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    prepared: &Prepared,
    now: SystemTime,
    request_id: Option<(&http::HeaderName, &str, u64)>,
    alt_svc: Option<&http::HeaderValue>,
    keepalive: bool,
) {
    let (age, ttl) = age_and_ttl(prepared, now);
    out.extend_from_slice(prepared.head());
    out.extend_from_slice(b"Age: ");
    put_dec(out, age);
    out.extend_from_slice(b"\r\ncache-status: outpost; hit; ttl=");
    put_dec(out, ttl);
    put(out, &[detail(prepared).as_bytes(), b"\r\n"]);
    if let Some((name, node, n)) = request_id {
        RequestId { node, seq: n }.put_field(out, name);
    }
    if let Some(alt) = alt_svc {
        out.extend_from_slice(b"Alt-Svc: ");
        out.extend_from_slice(alt.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(pingora::protocols::http::date::get_cached_date().as_bytes());
    out.extend_from_slice(if keepalive {
        b"\r\nConnection: keep-alive\r\n\r\n"
    } else {
        b"\r\nConnection: close\r\n\r\n"
    });
}

/// The `Cache-Status` detail a hit of `prepared` adds (RFC 9211 §2.8).
fn detail(prepared: &Prepared) -> &'static str {
    if prepared.heuristic {
        crate::caching::HEURISTIC_DETAIL
    } else {
        ""
    }
}

/// `Age` (seconds since the object's epoch) and the `Cache-Status` ttl (seconds of
/// freshness left).
fn age_and_ttl(prepared: &Prepared, now: SystemTime) -> (u64, i64) {
    let age = now
        .duration_since(prepared.epoch())
        .map_or(0, |d| d.as_secs());
    let ttl = match prepared.fresh_until().duration_since(now) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    (age, ttl)
}

/// The response head for `prepared` as pingora's map, for its HTTP/2 writer (which
/// adds what HTTP/2 frames need): the stored part, then this hit's `Age`,
/// `Cache-Status` and request id.
pub(crate) fn response_header(
    prepared: &Prepared,
    now: SystemTime,
    request_id: Option<(&http::HeaderName, &str)>,
) -> Option<pingora::http::ResponseHeader> {
    response_parts(prepared, now, request_id).map(pingora::http::ResponseHeader::from)
}

/// The same head as `http`'s parts (an in-process answer's). The fields are set on
/// the map itself, as pingora's map without a case map sets them, without its
/// per-field name conversion (~800 instructions a field).
pub(crate) fn response_parts(
    prepared: &Prepared,
    now: SystemTime,
    request_id: Option<(&http::HeaderName, &str)>,
) -> Option<http::response::Parts> {
    let (age, ttl) = age_and_ttl(prepared, now);
    // Parsing the stored head and hashing its names was ~14 % of an HTTP/2 hit; a
    // clone of the parsed map is a few allocations and reference counts.
    let mut parts = prepared
        .fields
        .get_or_init(|| stored_fields(prepared).map(Box::new))
        .as_deref()?
        .as_owned_parts();
    let fields = &mut parts.headers;
    fields.insert(http::header::AGE, http::HeaderValue::from(age));
    // (Unlike the id, this value repeats for a second: HPACK may index it.)
    let mut status = Vec::with_capacity(48);
    put(&mut status, &[b"outpost; hit; ttl="]);
    put_dec(&mut status, ttl);
    put(&mut status, &[detail(prepared).as_bytes()]);
    fields.insert(
        http::HeaderName::from_static("cache-status"),
        http::HeaderValue::from_maybe_shared(bytes::Bytes::from(status)).ok()?,
    );
    if let Some((name, id)) = request_id {
        fields.insert(
            name.clone(),
            crate::request_id::per_response_value(id).ok()?,
        );
    }
    Some(parts)
}

/// `prepared`'s stored fields as pingora's map (without a case map: HTTP/2 and
/// in-process answers send names lowercase).
fn stored_fields(prepared: &Prepared) -> Option<pingora::http::ResponseHeader> {
    let head = prepared.head_bytes();
    let mut at = head.windows(2).position(|w| w == b"\r\n")? + 2;
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = http::StatusCode::from_u16(prepared.status).ok()?;
    let mut resp = pingora::http::ResponseHeader::from(parts);
    // Values are slices of the prepared head: pingora's HTTP/2 writer clones the map,
    // and a clone of a shared `Bytes` is a reference count, not an allocation.
    while at < head.len() {
        let end = at + head.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let line = head.get(at..end)?;
        let colon = line.iter().position(|&b| b == b':')?;
        let name = http::HeaderName::from_bytes(&line[..colon]).ok()?;
        let raw = &line[colon + 1..];
        let skip = raw.len() - raw.trim_ascii_start().len();
        let value_len = raw.trim_ascii().len();
        let start = at + colon + 1 + skip;
        let value =
            http::HeaderValue::from_maybe_shared(head.slice(start..start + value_len)).ok()?;
        resp.append_header(name, value).ok()?;
        at = end + 2;
    }
    Some(resp)
}
