//! The ready-to-send head of a memory-tier object, built once on its first fast hit.

use bytes::BufMut;
use http::header;
use outpost_cache::MemEntry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// What a fast hit needs of a stored object, derived once from its stored meta: the
/// HTTP/1.1 status line and fields as every hit sends them (hop-by-hop fields gone,
/// `Via` added, framing as pingora's hit path gives it), and the few facts a hit must
/// check.
/// Only the per-request fields (`Age`, `Cache-Status`, `Date`, `Connection`, the
/// request id) are written per hit.
///
/// Every object that has been hit holds one, so it is kept small: times as integers,
/// the stored `Date` in the head's buffer, no field that repeats the entry.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Status line and fields, each line ending in CRLF, no blank line (the first
    /// `head_len` bytes); then the stored `Date` value, if there was one (a client's
    /// hit gets the current one; a script's `fetch()` sees the stored one, as on
    /// pingora's path). `Bytes`, so that the HTTP/2 path's field values can be slices
    /// of it instead of copies.
    buf: bytes::Bytes,
    head_len: u32,
    pub(crate) status: u16,
    /// The body goes out chunked: the stored head has no length (a body streamed
    /// into the cache), and hits keep the framing pingora's path gives them.
    pub(crate) chunked: bool,
    /// Its lifetime was a heuristic one (`Cache-Status` says so).
    pub(crate) heuristic: bool,
    /// Until when it is fresh, and what `Age` counts from (pingora's
    /// `CacheMeta::epoch`): nanoseconds since the Unix epoch.
    fresh_until: u64,
    epoch: u64,
    /// This object's secondary key, when the origin sent `Vary`.
    pub(crate) variance: Option<[u8; 16]>,
    /// The `Vary` field names (lowercased), when there are any.
    pub(crate) vary: Option<Box<[String]>>,
    /// Facts the on-the-fly compressor's decision depends on.
    pub(crate) compress: CompressFacts,
    /// [`Self::has_field`]'s last answer: a hash of the name asked about (the name is
    /// config, the same for nearly every hit), shifted left, with whether the stored
    /// fields have it in the low bit; 0 before the first question.
    field_memo: AtomicU64,
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
}

impl CompressFacts {
    /// Whether a site with `settings` leaves this object's hits (of a `length`-byte
    /// body) as they are.
    pub(crate) fn untouched(&self, settings: &outpost_config::Compression, length: u64) -> bool {
        !settings.enabled
            || self.exempt
            || length < settings.min_size
            || self
                .media
                .as_deref()
                .is_none_or(|m| !settings.compresses(m))
    }
}

impl Prepared {
    /// The status line and fields as every hit sends them.
    pub(crate) fn head(&self) -> &[u8] {
        self.buf.get(..self.head_len as usize).unwrap_or_default()
    }

    /// [`Self::head`] as a shared buffer (its slices cost no copy).
    pub(crate) fn head_bytes(&self) -> bytes::Bytes {
        self.buf.slice(..self.head_len as usize)
    }

    /// The stored `Date` field's value, if the object had one.
    pub(crate) fn date(&self) -> Option<http::HeaderValue> {
        let at = self.head_len as usize;
        (self.buf.len() > at)
            .then(|| http::HeaderValue::from_maybe_shared(self.buf.slice(at..)).ok())
            .flatten()
    }

    /// Until when the object is fresh.
    pub(crate) fn fresh_until(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(self.fresh_until)
    }

    /// What `Age` counts from.
    pub(crate) fn epoch(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(self.epoch)
    }

    /// Whether the stored fields include `name` (lowercase). A stored field that a
    /// hit sets itself (the request id, named by config) makes the hit pingora's.
    pub(crate) fn has_field(&self, name: &http::HeaderName) -> bool {
        let name = name.as_str().as_bytes();
        // A 62-bit FNV-1a tag of the name, with a set bit above it so that a memo is
        // never 0. The names compared are the config's (a reload may change it), not
        // a client's: a collision is not something anyone can aim for, and 62 bits
        // make one between two names negligible.
        let tag = name.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }) >> 2
            | 1 << 62;
        let memo = self.field_memo.load(Ordering::Relaxed);
        if memo >> 1 == tag {
            return memo & 1 == 1;
        }
        let found = self.head().split(|&b| b == b'\n').skip(1).any(|line| {
            line.len() > name.len()
                && line[name.len()] == b':'
                && line[..name.len()].eq_ignore_ascii_case(name)
        });
        self.field_memo
            .store(tag << 1 | u64::from(found), Ordering::Relaxed);
        found
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
        for h in crate::header_policy::strip_hop_by_hop(&resp.headers, false) {
            resp.remove_header(h.as_str());
        }
        let stored_date = resp.headers.get(header::DATE).cloned();
        for h in [header::AGE, header::DATE, header::CONNECTION] {
            resp.remove_header(&h);
        }
        resp.remove_header("cache-status");
        let via = crate::header_policy::append_via(&resp.headers, http::Version::HTTP_11);
        resp.insert_header(header::VIA, via).ok()?;

        let vary = Some(crate::caching::vary_names(&resp.headers)).filter(|n| !n.is_empty());
        let facts = crate::compress::Facts::of_header(&resp);
        let compress = CompressFacts {
            exempt: facts.never_compressed()
                || vary
                    .as_ref()
                    .is_some_and(|v| v.iter().any(|n| n == "accept-encoding")),
            media: facts.media().map(String::into_boxed_str),
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
        let head_len = u32::try_from(head.len()).ok()?;
        if let Some(d) = &stored_date {
            head.put_slice(d.as_bytes());
        }
        let nanos = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        };
        Some(Prepared {
            buf: bytes::Bytes::from(head.into_boxed_slice()),
            head_len,
            status: resp.status.as_u16(),
            chunked,
            heuristic,
            fresh_until: nanos(meta.fresh_until()),
            epoch: nanos(meta.epoch()),
            variance: meta.variance(),
            vary: vary.map(Vec::into_boxed_slice),
            compress,
            field_memo: AtomicU64::new(0),
            fields: std::sync::OnceLock::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_cache::{TieredStorage, TieredStorageConfig};
    use pingora::cache::key::CacheHashKey;
    use pingora::cache::{CacheKey, CacheMeta, Storage};

    /// The prepared form keeps what a hit needs exactly: the head without `Date`,
    /// the stored `Date` apart, times to the nanosecond, and `has_field`'s memo
    /// answering for whichever name it is asked about.
    #[tokio::test]
    async fn prepared_head_keeps_times_date_and_fields_apart() {
        let storage: &'static TieredStorage = Box::leak(Box::new(
            TieredStorage::new(&TieredStorageConfig {
                memory_bytes: 1 << 20,
                max_memory_object: 1 << 20,
                disk: None,
            })
            .expect("storage"),
        ));
        let mut head = pingora::http::ResponseHeader::build(200, None).expect("head");
        for (k, v) in [
            ("date", "Sat, 05 Dec 2026 20:00:00 GMT"),
            ("content-length", "4"),
            ("x-request-id", "from-origin"),
        ] {
            head.insert_header(k, v).expect("field");
        }
        let created = SystemTime::UNIX_EPOCH + Duration::new(1_790_000_000, 123_456_789);
        let fresh = created + Duration::new(60, 987);
        let meta = CacheMeta::new(fresh, created, 0, 0, head);
        let key = CacheKey::new("", "/p");
        let span = pingora::cache::trace::Span::inactive().handle();
        let mut miss = storage
            .get_miss_handler(&key, &meta, &span)
            .await
            .expect("miss");
        miss.write_body(bytes::Bytes::from_static(b"body"), true)
            .await
            .expect("write");
        miss.finish().await.expect("finish");
        let entry = storage
            .memory_entry(&key.combined_bin())
            .expect("in memory");
        let p = Prepared::build(&entry, None).expect("prepared");

        let text = String::from_utf8_lossy(p.head()).to_ascii_lowercase();
        assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text}");
        assert!(!text.contains("date:"), "{text}");
        assert!(text.ends_with("\r\n"), "{text}");
        assert_eq!(p.head_bytes(), p.head());
        assert_eq!(
            p.date().expect("stored date"),
            "Sat, 05 Dec 2026 20:00:00 GMT"
        );
        assert_eq!(p.fresh_until(), fresh);
        assert_eq!(p.epoch(), meta.epoch());

        let id = http::HeaderName::from_static("x-request-id");
        let other = http::HeaderName::from_static("x-trace");
        for _ in 0..2 {
            assert!(p.has_field(&id));
            assert!(!p.has_field(&other));
            assert!(p.has_field(&http::header::CONTENT_LENGTH));
        }
    }
}
