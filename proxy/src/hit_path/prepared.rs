//! The ready-to-send head of a memory-tier object, built once on its first fast hit.

use bytes::BufMut;
use http::header;
use outpost_cache::MemEntry;
use std::time::SystemTime;

/// What a fast hit needs of a stored object, derived once from its stored meta: the
/// HTTP/1.1 status line and fields as every hit sends them (hop-by-hop fields gone,
/// `Via` added, framing as pingora's hit path gives it), and the few facts a hit must
/// check.
/// Only the per-request fields (`Age`, `Cache-Status`, `Date`, `Connection`, the
/// request id) are written per hit.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Status line and fields, each line ending in CRLF; no blank line. (`Bytes`, so
    /// the HTTP/2 path's field values can be slices of it instead of copies.)
    pub(crate) head: bytes::Bytes,
    pub(crate) status: u16,
    pub(crate) fresh_until: SystemTime,
    /// What `Age` counts from (pingora's `CacheMeta::epoch`).
    pub(crate) epoch: SystemTime,
    /// This object's secondary key, when the origin sent `Vary`.
    pub(crate) variance: Option<[u8; 16]>,
    /// The `Vary` field names (lowercased), when there are any.
    pub(crate) vary: Option<Box<[String]>>,
    /// Facts the on-the-fly compressor's decision depends on.
    pub(crate) compress: CompressFacts,
    /// [`Self::has_field`]'s last answer: the name asked about and whether the stored
    /// fields have it (the name is config, the same for nearly every hit).
    field_memo: std::sync::OnceLock<(http::HeaderName, bool)>,
    /// The body goes out chunked: the stored head has no length (a body streamed
    /// into the cache), and hits keep the framing pingora's path gives them.
    pub(crate) chunked: bool,
    /// The stored `Date` (a client's hit gets the current one; a script's `fetch()`
    /// sees the stored one, as on pingora's path): a slice of the buffer `head` is in,
    /// so that it costs no allocation of its own.
    date: Option<bytes::Bytes>,
    /// Its lifetime was a heuristic one (`Cache-Status` says so).
    pub(crate) heuristic: bool,
    /// The stored fields as pingora's map, for answers that need one (HTTP/2, a
    /// script's `fetch()`): parsed from `head` on the first such hit, cloned after.
    /// (Boxed: most objects are only ever hit over HTTP/1, and the map is 232 bytes
    /// before it holds anything.)
    pub(crate) fields: std::sync::OnceLock<Option<Box<pingora::http::ResponseHeader>>>,
}

/// The parts of a stored head that decide whether the downstream compressor would
/// touch it on a hit (see `compress::plan`): a hit the compressor would encode is
/// not a fast hit.
#[derive(Debug)]
pub(crate) struct CompressFacts {
    /// Never compressed whatever the settings: already encoded, `no-transform`, a
    /// status without a body, or a variant already chosen by `Accept-Encoding`.
    pub(crate) exempt: bool,
    /// The media type, lowercased.
    pub(crate) media: Option<Box<str>>,
    /// The body length.
    pub(crate) length: u64,
}

impl CompressFacts {
    /// Whether a site with `settings` leaves this object's hits as they are.
    pub(crate) fn untouched(&self, settings: &outpost_config::Compression) -> bool {
        !settings.enabled
            || self.exempt
            || self.length < settings.min_size
            || self
                .media
                .as_deref()
                .is_none_or(|m| !settings.compresses(m))
    }
}

impl Prepared {
    /// The stored `Date` field's value, if the object had one.
    pub(crate) fn date(&self) -> Option<http::HeaderValue> {
        self.date
            .clone()
            .and_then(|d| http::HeaderValue::from_maybe_shared(d).ok())
    }

    /// Whether the stored fields include `name` (lowercase). A stored field that a
    /// hit sets itself (the request id, named by config) makes the hit pingora's.
    pub(crate) fn has_field(&self, name: &http::HeaderName) -> bool {
        let scan = || {
            let name = name.as_str().as_bytes();
            self.head.split(|&b| b == b'\n').skip(1).any(|line| {
                line.len() > name.len()
                    && line[name.len()] == b':'
                    && line[..name.len()].eq_ignore_ascii_case(name)
            })
        };
        let (memo_name, found) = self.field_memo.get_or_init(|| (name.clone(), scan()));
        if memo_name == name { *found } else { scan() }
    }

    /// Builds the prepared head of `entry`, or `None` when its hits are better left
    /// to pingora's path (a head that does not parse, or a length that disagrees
    /// with the body).
    pub(crate) fn build(
        entry: &MemEntry,
        heuristic_max: Option<std::time::Duration>,
    ) -> Option<Self> {
        let meta = entry.meta().ok()?;
        let mut resp = meta.response_header_copy();
        let heuristic = crate::caching::heuristic(&meta, heuristic_max);
        let body_len = entry.body().len() as u64;
        if resp.status.is_informational() {
            return None;
        }
        let declared = resp
            .headers
            .get(header::CONTENT_LENGTH)
            .map(|v| v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()));
        let chunked = match declared {
            Some(Some(n)) if n == body_len => false,
            Some(_) => return None,
            None => {
                let no_body = matches!(resp.status.as_u16(), 204 | 304);
                if !no_body {
                    resp.insert_header(header::TRANSFER_ENCODING, "chunked")
                        .ok()?;
                }
                !no_body
            }
        };
        for h in crate::service::headers::strip_hop_by_hop(&resp.headers, false) {
            resp.remove_header(h.as_str());
        }
        let stored_date = resp.headers.get(header::DATE).cloned();
        for h in [header::AGE, header::DATE, header::CONNECTION] {
            resp.remove_header(&h);
        }
        resp.remove_header("cache-status");
        let via = crate::service::headers::append_via(&resp.headers, http::Version::HTTP_11);
        resp.insert_header(header::VIA, via).ok()?;

        let vary = Some(crate::caching::vary_names(&resp.headers)).filter(|n| !n.is_empty());
        let facts = crate::compress::Facts::of_header(&resp);
        let compress = CompressFacts {
            exempt: facts.never_compressed()
                || vary
                    .as_ref()
                    .is_some_and(|v| v.iter().any(|n| n == "accept-encoding")),
            media: facts.media().map(String::into_boxed_str),
            length: body_len,
        };

        let mut head = Vec::with_capacity(512);
        head.put_slice(b"HTTP/1.1 ");
        head.put_slice(resp.status.as_str().as_bytes());
        head.put_u8(b' ');
        head.put_slice(
            resp.get_reason_phrase()
                .or_else(|| resp.status.canonical_reason())
                .unwrap_or("")
                .as_bytes(),
        );
        head.put_slice(b"\r\n");
        resp.header_to_h1_wire(&mut head);
        // One exact allocation for the object's life: the head, then the stored Date.
        let head_len = head.len();
        if let Some(d) = &stored_date {
            head.put_slice(d.as_bytes());
        }
        let buffer = bytes::Bytes::from(head.into_boxed_slice());
        let date = stored_date.map(|_| buffer.slice(head_len..));
        Some(Prepared {
            head: buffer.slice(..head_len),
            status: resp.status.as_u16(),
            fresh_until: meta.fresh_until(),
            epoch: meta.epoch(),
            variance: meta.variance(),
            vary: vary.map(Vec::into_boxed_slice),
            compress,
            field_memo: std::sync::OnceLock::new(),
            chunked,
            date,
            heuristic,
            fields: std::sync::OnceLock::new(),
        })
    }
}
