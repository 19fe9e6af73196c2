//! The two heads a pass writes: the request for the origin, as pingora's
//! `upstream_request_filter` makes it, and the origin's response rewritten for the
//! client, as its `response_filter` does (and whether the pass may relay it at all).

use super::super::answer::Request;
use super::super::framing::{Chunks, Framing};
use crate::header_policy::{HOP_BY_HOP, UNTRUSTED_OVERRIDES, VIA};
use crate::request_id::RequestId;
use crate::site::Site;
use crate::wire::{put, put_ip};
use outpost_config::OriginHost;
use std::io::Write;
use std::net::IpAddr;

/// Origin response fields read at most (more: pingora's path).
const MAX_FIELDS: usize = 128;

/// What [`Head::read`] found in the bytes read so far.
pub(super) enum Parsed {
    /// The final head, rewritten for the client.
    Head(Head),
    /// Not all of it yet.
    Partial,
    /// An answer this path does not relay (or one that does not parse).
    Refused,
}

/// The origin's final response head, rewritten for the client into `out`.
pub(super) struct Head {
    pub(super) status: u16,
    /// Bytes of `rbuf` up to the end of the final head (interim heads included).
    pub(super) head_len: usize,
    pub(super) framing: Framing,
    /// The origin keeps the connection open after this response.
    pub(super) origin_keepalive: bool,
    /// Still not storable: says `no-store` or `private`, or gives no lifetime at all
    /// (no `max-age`, `s-maxage` or `Expires`, and no `Last-Modified` to guess one
    /// from where the site allows heuristics).
    pub(super) keep_mark: bool,
}

impl Head {
    /// Parses the origin's head in `rbuf` (once: it is read until it parses) and
    /// writes the client's head (all but its `Connection` field and the blank line)
    /// into `out`.
    pub(super) fn read(
        rbuf: &[u8],
        req: &Request<'_>,
        site: &Site,
        request_id: Option<&http::HeaderName>,
        (node, seq): (&str, u64),
        out: &mut Vec<u8>,
    ) -> Parsed {
        let mut at = 0;
        loop {
            // (Uninitialised: zeroing 128 fields for a head of ten was a measurable
            // part of a pass.)
            let mut fields = [const { std::mem::MaybeUninit::uninit() }; MAX_FIELDS];
            let mut resp = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
                &mut resp,
                rbuf.get(at..).unwrap_or_default(),
                &mut fields,
            );
            let n = match parsed {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => return Parsed::Partial,
                Err(_) => return Parsed::Refused,
            };
            match Self::rewrite(&resp, at + n, req, site, request_id, (node, seq), out) {
                Some(Some(head)) => return Parsed::Head(head),
                // An interim head: the final one follows.
                Some(None) => at += n,
                None => return Parsed::Refused,
            }
        }
    }

    /// The client's head for the origin's head `resp`, which ends `head_len` bytes
    /// into what was read (`Some(None)` for an interim `1xx`, `None` for an answer
    /// this path does not relay).
    fn rewrite(
        resp: &httparse::Response<'_, '_>,
        head_len: usize,
        req: &Request<'_>,
        site: &Site,
        request_id: Option<&http::HeaderName>,
        (node, seq): (&str, u64),
        out: &mut Vec<u8>,
    ) -> Option<Option<Head>> {
        let status = resp.code?;
        if (100..200).contains(&status) {
            if status == 101 {
                return None;
            }
            return Some(None);
        }
        let facts = crate::compress::Facts::of_fields(
            status,
            resp.headers.iter().map(|h| (h.name.as_bytes(), h.value)),
        );
        if facts.compressible(&site.compression) {
            return None;
        }
        let length = content_length(resp).ok()?;
        let framing = framing(resp, length, req.head_only)?;
        // pingora's path says a whole 200 of known length may be asked for in
        // ranges (as nginx does), replacing the origin's word on it.
        let ranges = status == 200 && length.is_some();
        let mut origin_keepalive = resp.version == Some(1);
        let mut refused = false;
        let mut lifetime = false;
        let mut via: Option<Vec<u8>> = None;
        out.clear();
        let code = http::StatusCode::from_u16(status).ok()?;
        let reason = code.canonical_reason().or(resp.reason).unwrap_or("");
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(code.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        let named = connection_named(resp.headers);
        for h in resp.headers.iter() {
            let name = h.name;
            let kind = Kind::of(name);
            if kind == Kind::Connection {
                origin_keepalive &= !h
                    .value
                    .split(|b| *b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
                continue;
            }
            if matches!(kind, Kind::HopByHop | Kind::CacheStatus)
                || (ranges && kind == Kind::AcceptRanges)
                || named
                    .iter()
                    .any(|n| name.as_bytes().eq_ignore_ascii_case(n))
                || request_id.is_some_and(|r| name.eq_ignore_ascii_case(r.as_str()))
            {
                continue;
            }
            match kind {
                Kind::Via => {
                    via.get_or_insert_with(|| h.value.to_vec());
                    continue;
                }
                Kind::CacheControl => {
                    for d in h.value.split(|b| *b == b',') {
                        let d = d.trim_ascii();
                        let d = d.split(|b| *b == b'=').next().unwrap_or(d).trim_ascii();
                        refused |= d.eq_ignore_ascii_case(b"no-store")
                            || d.eq_ignore_ascii_case(b"private");
                        lifetime |= d.eq_ignore_ascii_case(b"max-age")
                            || d.eq_ignore_ascii_case(b"s-maxage");
                    }
                }
                Kind::Expires => lifetime = true,
                Kind::LastModified => lifetime |= site.heuristic_max.is_some(),
                _ => {}
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value);
            out.extend_from_slice(b"\r\n");
        }
        // `Via` as pingora's path sends it: the first value, then this hop.
        out.extend_from_slice(b"via: ");
        if let Some(prev) = via.filter(|v| !v.is_empty()) {
            out.extend_from_slice(&prev);
            out.extend_from_slice(b", ");
        }
        put(
            out,
            &[
                b"1.1 ",
                VIA.as_bytes(),
                b"\r\ncache-status: outpost; fwd=miss\r\n",
            ],
        );
        if ranges {
            out.extend_from_slice(b"accept-ranges: bytes\r\n");
        }
        if let Some(name) = request_id {
            RequestId { node, seq }.put_field(out, name);
        }
        Some(Some(Head {
            status,
            head_len,
            framing,
            origin_keepalive,
            keep_mark: refused || !lifetime,
        }))
    }
}

/// What the rewrite of an origin's head does with a field, by its name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `Connection`.
    Connection,
    /// The other hop-by-hop fields ([`HOP_BY_HOP`]).
    HopByHop,
    CacheStatus,
    AcceptRanges,
    Via,
    /// `Cache-Control`, `CDN-Cache-Control` or `Outpost-Cache-Control`.
    CacheControl,
    Expires,
    LastModified,
    Other,
}

impl Kind {
    /// The kind of field `name` (any case). By length first: a name is then compared
    /// with the one or two of that length, not with every name here (per field of
    /// every pass, the comparisons were ~1 000 instructions).
    fn of(name: &str) -> Kind {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        let hop = |n: &str| is(n).then_some(Kind::HopByHop);
        let found = match name.len() {
            2 => hop("te"),
            3 => is("via").then_some(Kind::Via),
            7 => hop("trailer")
                .or_else(|| hop("upgrade"))
                .or_else(|| is("expires").then_some(Kind::Expires)),
            10 => is("connection")
                .then_some(Kind::Connection)
                .or_else(|| hop("keep-alive")),
            12 => is("cache-status").then_some(Kind::CacheStatus),
            13 => is("accept-ranges")
                .then_some(Kind::AcceptRanges)
                .or_else(|| is("cache-control").then_some(Kind::CacheControl))
                .or_else(|| is("last-modified").then_some(Kind::LastModified)),
            16 => hop("proxy-connection"),
            17 => is("cdn-cache-control").then_some(Kind::CacheControl),
            21 => is("outpost-cache-control").then_some(Kind::CacheControl),
            _ => None,
        };
        found.unwrap_or(Kind::Other)
    }
}

/// The field names a `Connection` field lists (also hop-by-hop).
fn connection_named<'a>(fields: &'a [httparse::Header<'a>]) -> Vec<&'a [u8]> {
    fields
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| h.value.split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .collect()
}

/// The body's length from `Content-Length` (`Err` for conflicting or broken values).
fn content_length(resp: &httparse::Response<'_, '_>) -> Result<Option<u64>, ()> {
    let mut length = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = std::str::from_utf8(h.value)
                .map_err(|_| ())?
                .trim()
                .parse()
                .map_err(|_| ())?;
            if length.is_some_and(|l| l != n) {
                return Err(());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// How the body of `resp` is framed, or `None` for framing this path does not relay
/// (both `Transfer-Encoding` and `Content-Length`, a coding other than chunked last:
/// pingora's path judges those).
fn framing(
    resp: &httparse::Response<'_, '_>,
    length: Option<u64>,
    head_only: bool,
) -> Option<Framing> {
    let status = resp.code?;
    let mut chunked = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|b| *b == b',').next()?.trim_ascii();
            chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
        }
    }
    if head_only || matches!(status, 204 | 304) {
        return Some(Framing::Empty);
    }
    match (chunked, length) {
        (Some(_), Some(_)) | (Some(false), None) => None,
        (Some(true), None) => Some(Framing::Chunked(Chunks::default())),
        (None, Some(n)) => Some(Framing::Length(n)),
        (None, None) => Some(Framing::UntilClose),
    }
}

/// The request head for the origin, as pingora's path makes it
/// (`upstream_request_filter`): hop-by-hop fields and the client's URL, scheme and
/// method overrides dropped; `X-Forwarded-For` extended; `X-Forwarded-Proto`,
/// `X-Forwarded-Host`, `Via` and `CDN-Loop` set; `Host` per `origin_host`.
pub(super) fn upstream_head(
    up: &mut Vec<u8>,
    req: &Request<'_>,
    fields: &[httparse::Header<'_>],
    (site, origin, host): (&Site, usize, &str),
    node: &str,
    (tls, client_ip): (bool, Option<IpAddr>),
) {
    let method = if req.head_only { "HEAD" } else { "GET" };
    put(
        up,
        &[
            method.as_bytes(),
            b" ",
            req.target.as_str().as_bytes(),
            b" HTTP/1.1\r\n",
        ],
    );
    let mut xff: Option<&[u8]> = None;
    let mut via: Option<&[u8]> = None;
    for h in fields {
        let name = h.name;
        let dropped = ["host", "x-forwarded-proto", "x-forwarded-host"]
            .iter()
            .chain(&HOP_BY_HOP)
            .chain(UNTRUSTED_OVERRIDES)
            .any(|n| name.eq_ignore_ascii_case(n));
        if dropped {
            continue;
        }
        if name.eq_ignore_ascii_case("x-forwarded-for") && client_ip.is_some() {
            xff.get_or_insert(h.value);
            continue;
        }
        if name.eq_ignore_ascii_case("via") {
            via.get_or_insert(h.value);
            continue;
        }
        up.extend_from_slice(name.as_bytes());
        up.extend_from_slice(b": ");
        up.extend_from_slice(h.value);
        up.extend_from_slice(b"\r\n");
    }
    let o = &site.pool.origins()[origin];
    up.extend_from_slice(b"Host: ");
    match site.origin_host {
        OriginHost::Preserve => up.extend_from_slice(req.raw_host.as_bytes()),
        OriginHost::Origin => {
            let _ = write!(up, "{}", o.authority());
        }
    }
    up.extend_from_slice(b"\r\n");
    if let Some(ip) = client_ip {
        up.extend_from_slice(b"x-forwarded-for: ");
        if let Some(prev) = xff.filter(|v| !v.trim_ascii().is_empty()) {
            up.extend_from_slice(prev);
            up.extend_from_slice(b", ");
        }
        put_ip(up, ip);
        up.extend_from_slice(b"\r\n");
    }
    let proto = if tls { "https" } else { "http" };
    put(
        up,
        &[
            b"x-forwarded-proto: ",
            proto.as_bytes(),
            b"\r\nx-forwarded-host: ",
            host.as_bytes(),
            b"\r\nvia: ",
        ],
    );
    if let Some(prev) = via {
        up.extend_from_slice(prev);
        up.extend_from_slice(b", ");
    }
    put(
        up,
        &[
            b"1.1 ",
            VIA.as_bytes(),
            b"\r\ncdn-loop: ",
            VIA.as_bytes(),
            b"; id=",
            node.as_bytes(),
            b"\r\n\r\n",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_kinds_cover_every_name_the_rewrite_treats_apart() {
        // Every hop-by-hop name, in any case (a name added to the list must be added
        // here too, or this fails).
        for n in HOP_BY_HOP {
            for name in [n.to_string(), n.to_ascii_uppercase()] {
                let want = if n == "connection" {
                    Kind::Connection
                } else {
                    Kind::HopByHop
                };
                assert_eq!(Kind::of(&name), want, "{name}");
            }
        }
        for (name, want) in [
            ("Via", Kind::Via),
            ("Cache-Status", Kind::CacheStatus),
            ("ACCEPT-RANGES", Kind::AcceptRanges),
            ("Cache-Control", Kind::CacheControl),
            ("cdn-cache-control", Kind::CacheControl),
            ("Outpost-Cache-Control", Kind::CacheControl),
            ("Expires", Kind::Expires),
            ("Last-Modified", Kind::LastModified),
            ("content-type", Kind::Other),
            ("x-via", Kind::Other),
            ("vib", Kind::Other),
            ("cache-controls", Kind::Other),
            ("", Kind::Other),
        ] {
            assert_eq!(Kind::of(name), want, "{name}");
        }
    }
}
