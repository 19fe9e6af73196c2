//! Workers' Cache API for hooks (`caches.default`, `caches.open(name)`) over the
//! node's own cache. As in Workers, `caches.default` is the cache requests are served
//! from: an entry put there under a URL is what a request for that URL gets (a hit),
//! a purge removes it like any entry, and `match` sees what requests stored. A named
//! cache keys its entries apart. What may be stored, and for how long, follows the
//! response's own headers by the same rules as an origin's response (RFC 9111,
//! `CDN-Cache-Control`; `no-store`, `private` or no lifetime: not stored).

use crate::caching::{EdgeCache, RuleCaching, cacheability, key_from_parts, keyed_path_and_query};
use crate::snapshot::Live;
use bytes::{Bytes, BytesMut};
use outpost_scripting::{
    Body, BodyStream, CACHE_MISS_HEADER, CacheOp, FetchRequest, FetchResponse, ScriptError,
};
use pingora::cache::key::{CacheHashKey, CacheKey};
use pingora::cache::{RespCacheable, Storage};
use std::time::SystemTime;

/// The entry's key: for `default`, the key a request for the URL has (the site's
/// query policy applied); for a named cache, a key no request can have.
pub(crate) fn key_of(
    live: &Live,
    names: &outpost_cache::KeyHash,
    cache: &str,
    url: &url::Url,
) -> Result<CacheKey, ScriptError> {
    let host = url
        .host_str()
        .and_then(crate::site::normalize_host)
        .ok_or_else(|| ScriptError::subrequest(format!("cache: {url} has no host")))?;
    let scheme = url.scheme();
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let snapshot = live.snapshot();
    let default_policy = outpost_config::QueryKey::default();
    let policy = snapshot
        .sites
        .lookup(&host)
        .map_or(&default_policy, |s| &s.cache_key.query);
    let pq = keyed_path_and_query(url.path(), url.query(), Some(target), policy);
    Ok(if cache == "default" {
        key_from_parts(names, scheme, &host, &pq)
    } else {
        // (A scheme no request has: named caches never meet requests' entries.)
        key_from_parts(
            names,
            &format!("cache:{}:{scheme}", cache.len()),
            &format!("{cache}/{host}"),
            &pq,
        )
    })
}

/// Runs one Cache API operation; see [`CacheOp`] for the answers.
pub(crate) async fn run(
    live: &Live,
    op: CacheOp,
    request: FetchRequest,
) -> Result<FetchResponse, ScriptError> {
    let cache = live.cache.ok_or_else(|| {
        ScriptError::subrequest("the Cache API needs the node's cache (cache.memory or cache.disk)")
    })?;
    match op {
        CacheOp::Match { cache: name } => {
            let key = key_of(live, cache.storage.key_hash(), &name, &request.url)?;
            matched(cache, &key).await
        }
        CacheOp::Put {
            cache: name,
            status,
        } => {
            let key = key_of(live, cache.storage.key_hash(), &name, &request.url)?;
            let body = match request.body {
                None => Bytes::new(),
                Some(Body::Bytes(b)) => b,
                Some(Body::Stream(s)) => s
                    .collect(usize::MAX)
                    .await
                    .map_err(|e| ScriptError::subrequest(format!("cache.put: {e}")))?,
            };
            put(
                cache,
                &key,
                status,
                request.headers,
                body,
                &RuleCaching::default(),
            )
            .await?;
            Ok(answer(204, http::HeaderMap::new(), Bytes::new()))
        }
        CacheOp::Delete { cache: name } => {
            let key = key_of(live, cache.storage.key_hash(), &name, &request.url)?;
            let removed = cache.invalidate(&key).await;
            Ok(answer(
                if removed { 200 } else { 404 },
                http::HeaderMap::new(),
                Bytes::new(),
            ))
        }
    }
}

pub(crate) fn answer(status: u16, headers: http::HeaderMap, body: Bytes) -> FetchResponse {
    let mut head = http::Response::new(()).into_parts().0;
    head.status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    head.headers = headers;
    FetchResponse {
        head,
        body: BodyStream::new(futures_util::stream::iter(
            (!body.is_empty()).then_some(Ok(body)),
        )),
    }
}

/// The fresh stored response for `key`, or the marked 404.
pub(crate) async fn matched(
    cache: EdgeCache,
    key: &CacheKey,
) -> Result<FetchResponse, ScriptError> {
    let span = pingora::cache::trace::Span::inactive();
    let miss = || {
        let mut h = http::HeaderMap::new();
        h.insert(CACHE_MISS_HEADER, http::HeaderValue::from_static("1"));
        Ok(answer(404, h, Bytes::new()))
    };
    let found = cache
        .storage
        .lookup(key, &span.handle())
        .await
        .map_err(|e| ScriptError::subrequest(format!("cache.match: {e}")))?;
    let Some((meta, mut hit)) = found else {
        return miss();
    };
    if !meta.is_fresh(SystemTime::now()) {
        return miss();
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = hit
        .read_body()
        .await
        .map_err(|e| ScriptError::subrequest(format!("cache.match: {e}")))?
    {
        body.extend_from_slice(&chunk);
    }
    let stored = meta.response_header();
    let mut headers = stored.headers.clone();
    headers.remove(CACHE_MISS_HEADER);
    headers.insert("cf-cache-status", http::HeaderValue::from_static("HIT"));
    let age = SystemTime::now()
        .duration_since(meta.created())
        .map_or(0, |d| d.as_secs());
    headers.insert(http::header::AGE, http::HeaderValue::from(age));
    Ok(answer(stored.status.as_u16(), headers, body.freeze()))
}

/// Stores the response if its headers (under `rule`'s overrides) let a shared cache
/// store it.
pub(crate) async fn put(
    cache: EdgeCache,
    key: &CacheKey,
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
    rule: &RuleCaching,
) -> Result<(), ScriptError> {
    let mut resp = pingora::http::ResponseHeader::build(status, Some(headers.len()))
        .map_err(|e| ScriptError::subrequest(format!("cache.put: {e}")))?;
    for (name, value) in &headers {
        if name == http::header::CONTENT_LENGTH
            || name == http::header::TRANSFER_ENCODING
            || name.as_str() == CACHE_MISS_HEADER
        {
            continue;
        }
        resp.append_header(name.clone(), value.clone())
            .map_err(|e| ScriptError::subrequest(format!("cache.put: {e}")))?;
    }
    resp.insert_header(http::header::CONTENT_LENGTH, body.len())
        .map_err(|e| ScriptError::subrequest(format!("cache.put: {e}")))?;
    let meta = match cacheability(&resp, false, rule, &crate::freshness::Arrival::now(None)) {
        RespCacheable::Cacheable(meta) => meta,
        // As in Workers: a response that says not to store it is not stored.
        RespCacheable::Uncacheable(_) => return Ok(()),
    };
    let span = pingora::cache::trace::Span::inactive();
    let mut miss = cache
        .storage
        .get_miss_handler(key, &meta, &span.handle())
        .await
        .map_err(|e| ScriptError::subrequest(format!("cache.put: {e}")))?;
    miss.write_body(body, true)
        .await
        .map_err(|e| ScriptError::subrequest(format!("cache.put: {e}")))?;
    miss.finish()
        .await
        .map_err(|e| ScriptError::subrequest(format!("cache.put: {e}")))?;
    // Stored now: requests for it are hits, not passes.
    cache.passes.unmark(&key.primary_bin());
    Ok(())
}
