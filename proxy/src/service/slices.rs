//! Range requests answered from slices of the object (`sites[].cache_slice`): each
//! slice is fetched from the origin with a `Range` request of its own and its 206
//! stored as a variant of the URL (RFC 9111 §3.3), and a client's range is cut from
//! the slices it covers, combined only while their validators agree (§3.4).
//!
//! So the first range far into a large file costs one slice from the origin, not
//! the whole file, and a purge of the URL takes every slice with it.

use super::answers::{respond, respond_with};
use super::ctx::RequestCtx;
use crate::site::Site;
use http::header;
use outpost_scripting::{FetchRequest, FetchResponse};
use pingora::cache::RespCacheable;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::{Session, SubrequestSpawner};
use std::sync::Arc;

/// A range request this site answers from slices.
pub(super) struct Plan {
    size: u64,
    /// First byte asked for.
    first: u64,
    /// Last byte asked for (`None`: to the end).
    last: Option<u64>,
    url: url::Url,
    headers: http::HeaderMap,
    cache: crate::caching::EdgeCache,
}

/// Whether `session`'s request is one to answer from slices: a site that slices and
/// caches, a plain GET with one `bytes=A-B` or `bytes=A-` range, no validators or
/// credentials of the client's (pingora's path answers those from whole objects),
/// no rule that bypasses the cache or rewrites HTML.
pub(super) fn plan(
    cache: Option<crate::caching::EdgeCache>,
    site: &Site,
    session: &Session,
    ctx: &RequestCtx,
) -> Option<Plan> {
    let size = site.cache_slice?;
    let req = session.req_header();
    let cache = cache?;
    if !site.cache || req.method != http::Method::GET || ctx.html_profile.is_some() {
        return None;
    }
    if let Some(m) = &ctx.rule
        && (m.rule.actions.cache_level == Some(outpost_config::CacheLevel::Bypass)
            || m.bypass_on_cookie(&req.headers))
    {
        return None;
    }
    let passes_on = [
        header::IF_RANGE,
        header::IF_MATCH,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_UNMODIFIED_SINCE,
        header::AUTHORIZATION,
        header::CACHE_CONTROL,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
    ];
    if passes_on.iter().any(|h| req.headers.contains_key(h)) {
        return None;
    }
    let mut ranges = req.headers.get_all(header::RANGE).iter();
    let (first, last) = parse_range(ranges.next()?.to_str().ok()?)?;
    if ranges.next().is_some() {
        return None;
    }
    let host = req
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&ctx.host);
    let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = url::Url::parse(&crate::site::request_url(
        ctx.tls,
        Some(host),
        &ctx.host,
        pq,
    ))
    .ok()?;
    let mut headers = req.headers.clone();
    headers.remove(header::RANGE);
    Some(Plan {
        size,
        first,
        last,
        url,
        headers,
        cache,
    })
}

/// `bytes=A-B` or `bytes=A-` (one range, not a suffix): its first and last byte.
fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let first = a.trim().parse::<u64>().ok()?;
    let last = match b.trim() {
        "" => None,
        b => Some(b.parse::<u64>().ok()?),
    };
    if last.is_some_and(|l| l < first) {
        return None;
    }
    Some((first, last))
}

/// The variance that keys slice `n` apart from its URL's whole object and the other
/// slices.
pub(super) fn variance(n: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..6].copy_from_slice(b"slice:");
    v[8..].copy_from_slice(&n.to_be_bytes());
    v
}

/// Whether a slice's response may be stored: only a 206 (what a slice is), on the
/// terms `whole` gives a 200 with its fields.
pub(super) fn cacheability(
    resp: &ResponseHeader,
    whole: impl FnOnce(&ResponseHeader) -> RespCacheable,
) -> RespCacheable {
    if resp.status != http::StatusCode::PARTIAL_CONTENT {
        return RespCacheable::Uncacheable(pingora::cache::NoCacheReason::Custom(
            "slice-not-partial",
        ));
    }
    let mut as_whole = resp.clone();
    if as_whole.set_status(200).is_err() {
        return RespCacheable::Uncacheable(pingora::cache::NoCacheReason::InternalError);
    }
    match whole(&as_whole) {
        // What is stored is the slice as it came: its 206 status.
        RespCacheable::Cacheable(mut meta) => {
            if meta.response_header_mut().set_status(206).is_err() {
                return RespCacheable::Uncacheable(pingora::cache::NoCacheReason::InternalError);
            }
            RespCacheable::Cacheable(meta)
        }
        other => other,
    }
}

/// What a slice's 206 says of itself.
#[derive(PartialEq, Eq)]
struct Piece {
    /// First byte and total length (`Content-Range: bytes FIRST-LAST/TOTAL`).
    first: u64,
    last: u64,
    total: u64,
}

impl Piece {
    fn of(head: &http::response::Parts) -> Option<Piece> {
        let value = head.headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
        let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
        let (a, b) = range.split_once('-')?;
        Some(Piece {
            first: a.trim().parse().ok()?,
            last: b.trim().parse().ok()?,
            total: total.trim().parse().ok()?,
        })
    }
}

/// The validator slices must share to be combined: the strong `ETag`, or without
/// one, `Last-Modified` (RFC 9111 §3.4).
fn validator(head: &http::response::Parts) -> Option<http::HeaderValue> {
    match head.headers.get(header::ETAG) {
        Some(etag) if !etag.as_bytes().starts_with(b"W/") => Some(etag.clone()),
        Some(_) => None,
        None => head.headers.get(header::LAST_MODIFIED).cloned(),
    }
}

/// Fields of a slice's response that describe the slice, not the answer.
const SLICE_FIELDS: [header::HeaderName; 4] = [
    header::CONTENT_RANGE,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
];

/// Answers the planned range: the slices it covers, fetched through this node's
/// pipeline (cache, then origin) one after the other, cut to the range and sent as
/// one 206.
pub(super) async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    plan: Plan,
    live: &crate::snapshot::Live,
) -> Result<()> {
    // (A session fed in process may have no spawner of its own.)
    let spawner = session
        .subrequest_spawner
        .take()
        .or_else(|| live.subrequest_spawner());
    let Some(spawner) = spawner else {
        respond(session, 500, "500 Internal Server Error\n".into()).await?;
        return Ok(());
    };
    let fetcher = Fetcher {
        spawner: Arc::new(spawner),
        plan: &plan,
        client_ip: ctx.client_ip,
        scripts: ctx.scripts_seen.clone(),
        request_id: ctx.request_id.clone(),
    };
    let mut n = plan.first / plan.size;
    let mut resp = match fetcher.slice(n).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(url = %plan.url, error = %e, "a slice could not be fetched");
            respond(
                session,
                502,
                "502 Bad Gateway: the origin could not be reached\n".into(),
            )
            .await?;
            return Ok(());
        }
    };
    let piece = Piece::of(&resp.head);
    let expected_first = n * plan.size;
    let Some(piece) = piece.filter(|p| {
        resp.head.status == http::StatusCode::PARTIAL_CONTENT && p.first == expected_first
    }) else {
        // Not a slice: an origin that ignores ranges (a 200, which answers the
        // request as well: ignoring `Range` is allowed), or an error, a redirect, a
        // 416. Passed on as it came.
        ctx.cache_outcome = Some("miss");
        let as_came = outpost_scripting::HookResponse {
            head: resp.head,
            body: outpost_scripting::Body::Stream(resp.body),
        };
        return crate::hooks::write_hook_response(session, as_came, None).await;
    };
    let total = piece.total;
    if plan.first >= total {
        ctx.cache_outcome = Some(if was_hit(&resp) { "hit" } else { "miss" });
        return respond_with(
            session,
            416,
            "416 Range Not Satisfiable\n".into(),
            &[("content-range", format!("bytes */{total}"))],
        )
        .await;
    }
    let last = plan.last.map_or(total - 1, |l| l.min(total - 1));
    let agreed = validator(&resp.head);
    let mut head = ResponseHeader::build(206, Some(resp.head.headers.len() + 2))?;
    for (name, value) in &resp.head.headers {
        if !SLICE_FIELDS.contains(name) {
            head.append_header(name.clone(), value.clone())?;
        }
    }
    head.insert_header(
        header::CONTENT_RANGE,
        format!("bytes {}-{last}/{total}", plan.first),
    )?;
    head.insert_header(header::CONTENT_LENGTH, (last - plan.first + 1).to_string())?;
    let mut all_hits = was_hit(&resp);
    session.write_response_header(Box::new(head), false).await?;
    loop {
        let start = n * plan.size;
        let end = (start + plan.size - 1).min(total - 1);
        // The part of this slice the client asked for, as offsets into it.
        let from = plan.first.max(start) - start;
        let to = last.min(end) - start;
        send_part(session, &mut resp, (from, to), end - start + 1).await?;
        if end >= last {
            break;
        }
        n += 1;
        resp = match fetcher.slice(n).await {
            Ok(r) => r,
            Err(e) => {
                return Err(Error::explain(
                    ErrorType::ReadError,
                    format!("slice {n}: {e}"),
                ));
            }
        };
        let fits = Piece::of(&resp.head).is_some_and(|p| {
            p.first == n * plan.size
                && p.total == total
                && p.last == (p.first + plan.size - 1).min(total - 1)
        });
        if resp.head.status != http::StatusCode::PARTIAL_CONTENT
            || !fits
            || validator(&resp.head) != agreed
        {
            // The object changed at the origin between slices (or its answer is not
            // the slice asked for): the parts cannot be combined (§3.4). The stored
            // slices go, so the client's retry starts afresh; this response, whose
            // head is sent, is cut short.
            plan.cache
                .invalidate(&ctx.url_key(plan.cache.storage.key_hash(), session.req_header()))
                .await;
            tracing::warn!(
                url = %plan.url,
                slice = n,
                status = resp.head.status.as_u16(),
                content_range = ?resp.head.headers.get(header::CONTENT_RANGE),
                validator = ?validator(&resp.head),
                first_validator = ?agreed,
                "the object's slices disagree (it changed at the origin); stored slices dropped"
            );
            return Err(Error::explain(
                ErrorType::InvalidHTTPHeader,
                "slices of different versions of the object",
            ));
        }
        all_hits &= was_hit(&resp);
    }
    session.write_response_body(None, true).await?;
    ctx.cache_outcome = Some(if all_hits { "hit" } else { "miss" });
    Ok(())
}

/// Sends bytes `from..=to` of a slice of `expected` bytes; fails if the slice's
/// body is not that long.
async fn send_part(
    session: &mut Session,
    resp: &mut FetchResponse,
    (from, to): (u64, u64),
    expected: u64,
) -> Result<()> {
    let mut at = 0u64;
    while let Some(chunk) = resp.body.next().await {
        let chunk =
            chunk.map_err(|e| Error::explain(ErrorType::ReadError, format!("slice body: {e}")))?;
        let len = chunk.len() as u64;
        if len == 0 {
            continue;
        }
        let (a, b) = (from.max(at), to.min(at + len - 1));
        if a <= b {
            let part = chunk.slice((a - at) as usize..=(b - at) as usize);
            session.write_response_body(Some(part), false).await?;
        }
        at += len;
    }
    if at != expected {
        return Err(Error::explain(
            ErrorType::ReadError,
            format!("a slice was {at} bytes, not {expected}"),
        ));
    }
    Ok(())
}

/// Whether the slice came from the cache (its `Cache-Status`).
fn was_hit(resp: &FetchResponse) -> bool {
    resp.head
        .headers
        .get("cache-status")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("outpost; hit"))
}

/// Fetches slices of one planned range through the pipeline.
struct Fetcher<'a> {
    spawner: Arc<SubrequestSpawner>,
    plan: &'a Plan,
    client_ip: Option<std::net::IpAddr>,
    scripts: Vec<std::path::PathBuf>,
    request_id: Arc<str>,
}

impl Fetcher<'_> {
    async fn slice(&self, n: u64) -> Result<FetchResponse, outpost_scripting::ScriptError> {
        let start = n * self.plan.size;
        let mut headers = self.plan.headers.clone();
        let range = format!("bytes={start}-{}", start + self.plan.size - 1);
        if let Ok(v) = http::HeaderValue::from_str(&range) {
            headers.insert(header::RANGE, v);
        }
        let request = FetchRequest {
            method: http::Method::GET,
            url: self.plan.url.clone(),
            headers,
            body: None,
            cache: None,
            cf: None,
        };
        let id: Arc<str> = Arc::from(format!("{}.s{n}", self.request_id));
        crate::subrequest::serve(
            self.spawner.clone(),
            request,
            self.client_ip,
            self.scripts.clone(),
            id,
            crate::subrequest::Downstream::Slice(n),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_that_slices_answer() {
        assert_eq!(parse_range("bytes=10-19"), Some((10, Some(19))));
        assert_eq!(parse_range("bytes=500-"), Some((500, None)));
        assert_eq!(parse_range(" bytes=0-0 "), Some((0, Some(0))));
        for other in [
            "bytes=-5",
            "bytes=0-1,5-6",
            "bytes=9-3",
            "items=0-1",
            "bytes=a-b",
        ] {
            assert_eq!(parse_range(other), None, "{other}");
        }
    }

    #[test]
    fn each_slice_has_its_own_variance() {
        assert_ne!(variance(0), variance(1));
        assert_ne!(variance(1), variance(1 << 40));
    }
}
