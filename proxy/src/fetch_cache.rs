//! Workers' `cf` cache options on a script's `fetch()` (`cacheTtl`, `cacheEverything`,
//! `cacheKey`, `cacheTtlByStatus`, `cacheTags`): a fresh stored answer is used as it
//! is, and what comes back is stored as they say, in the node's cache — purgeable like
//! any entry, by URL, prefix, host or tag.

use crate::cache_api::{key_of, matched, put};
use crate::caching::RuleCaching;
use crate::snapshot::Live;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use outpost_config::CacheLevel;
use outpost_scripting::{
    BodyStream, CACHE_MISS_HEADER, FetchCf, FetchRequest, FetchResponse, ScriptError,
};
use pingora::cache::key::CacheKey;
use std::sync::Arc;
use std::time::Duration;

/// Sends `request` with `send`, unless the node's cache has a fresh answer for it;
/// stores the answer as `cf` says. Only `GET` and `HEAD` are cached (as in Workers).
pub(crate) async fn through_cache(
    live: Arc<Live>,
    cf: FetchCf,
    request: FetchRequest,
    send: impl FnOnce(FetchRequest) -> BoxFuture<'static, Result<FetchResponse, ScriptError>>,
) -> Result<FetchResponse, ScriptError> {
    let cache = match live.cache {
        Some(c) if matches!(request.method, http::Method::GET | http::Method::HEAD) => c,
        _ => return send(request).await,
    };
    let key = entry_key(&live, cache.storage.key_hash(), &cf, &request.url)?;
    let stored = matched(cache, &key).await?;
    if !stored.head.headers.contains_key(CACHE_MISS_HEADER) {
        return Ok(stored);
    }
    let head_only = request.method == http::Method::HEAD;
    let mut response = send(request).await?;
    let status = response.head.status.as_u16();
    let ttl = cf.ttl_for(status);
    response
        .head
        .headers
        .insert("cf-cache-status", http::HeaderValue::from_static("MISS"));
    if ttl.is_some_and(|t| t <= 0) || head_only {
        return Ok(response);
    }
    let rule = RuleCaching {
        level: cf.cache_everything.then_some(CacheLevel::CacheEverything),
        edge_ttl: ttl.map(|t| Duration::from_secs(t.unsigned_abs())),
        // A TTL from the script wins over the response's own no-store/private/no-cache,
        // as Cloudflare's edge TTL does (Set-Cookie responses are still never stored).
        origin_cache_control: ttl.is_none(),
        ..RuleCaching::default()
    };
    // The body is stored whole: read it up to the memory tier's object limit (what
    // does not fit is handed on as it comes, not stored; a failed body is not stored).
    let limit = live.snapshot().config.cache.max_memory_object as usize;
    let body = match read_up_to(&mut response.body, limit).await {
        Read::Whole(b) => Bytes::from(b),
        Read::Partial(b) => {
            response.body = std::mem::replace(&mut response.body, empty()).after(Bytes::from(b));
            return Ok(response);
        }
        Read::Failed(b, e) => {
            response.body =
                BodyStream::new(futures_util::stream::iter([Ok(Bytes::from(b)), Err(e)]));
            return Ok(response);
        }
    };
    let mut headers = response.head.headers.clone();
    headers.remove("cf-cache-status");
    if !cf.cache_tags.is_empty() {
        let mut tags: Vec<String> = headers
            .get_all("cache-tag")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        tags.extend(cf.cache_tags.iter().cloned());
        if let Ok(v) = http::HeaderValue::from_str(&tags.join(",")) {
            headers.insert("cache-tag", v);
        }
    }
    if let Err(e) = put(cache, &key, status, headers, body.clone(), &rule).await {
        tracing::debug!(error = %e, "a fetch() answer could not be stored");
    }
    response.body = BodyStream::new(futures_util::stream::iter(
        (!body.is_empty()).then_some(Ok(body)),
    ));
    Ok(response)
}

/// The entry's key: `cacheKey` when given (a URL's own key when it is one; otherwise
/// a key of its own under the request's host, so a purge by host still reaches it),
/// else the URL's key as a request for it has.
fn entry_key(
    live: &Live,
    names: &outpost_cache::KeyHash,
    cf: &FetchCf,
    url: &url::Url,
) -> Result<CacheKey, ScriptError> {
    match &cf.cache_key {
        None => key_of(live, names, "default", url),
        Some(k) => match url::Url::parse(k) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => key_of(live, names, "default", &u),
            _ => Ok(crate::caching::key_from_parts(
                names,
                "cachekey",
                url.host_str().unwrap_or(""),
                k,
            )),
        },
    }
}

/// How much of a body [`read_up_to`] read.
enum Read {
    /// All of it.
    Whole(Vec<u8>),
    /// The start: it is longer than the limit.
    Partial(Vec<u8>),
    /// What came before it failed.
    Failed(Vec<u8>, ScriptError),
}

/// Reads `body` until it ends, fails or passes `limit` bytes.
async fn read_up_to(body: &mut BodyStream, limit: usize) -> Read {
    let mut out = Vec::new();
    while out.len() <= limit {
        match body.next().await {
            Some(Ok(chunk)) => out.extend_from_slice(&chunk),
            Some(Err(e)) => return Read::Failed(out, e),
            None => return Read::Whole(out),
        }
    }
    Read::Partial(out)
}

fn empty() -> BodyStream {
    BodyStream::new(futures_util::stream::empty())
}
