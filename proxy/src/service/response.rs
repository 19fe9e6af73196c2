//! The response phases: the head on its way out (health and timing of the origin,
//! hop-by-hop fields, `Via`, `Alt-Svc`, invalidation after unsafe methods,
//! `Cache-Status`, the page rule's response edits, the start of an HTML rewrite), the
//! `Range` decision, and the body's rewrite chunk by chunk.

use super::{EdgeProxy, RequestCtx, locked};
use crate::caching::cache_status;
use crate::header_policy::{EditHeaders, append_via, strip_hop_by_hop};
use bytes::Bytes;
use http::header;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorType, Result};

/// `response_filter`: see the module's first line.
pub(super) async fn response_filter(
    proxy: &EdgeProxy,
    session: &mut Session,
    upstream_response: &mut ResponseHeader,
    ctx: &mut RequestCtx,
) -> Result<()> {
    if let (Some(pool), Some(&i)) = (proxy.pool(ctx), ctx.tried.last()) {
        pool.record_success(i);
    }
    if let (Some(started), Some(site)) = (ctx.origin_started.take(), &ctx.site) {
        proxy
            .live
            .metrics
            .origin_duration
            .with_label_values(&[site.name.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    let upgrade = upstream_response.status == http::StatusCode::SWITCHING_PROTOCOLS;
    for h in strip_hop_by_hop(&upstream_response.headers, upgrade) {
        upstream_response.remove_header(h.as_str());
    }
    let via = append_via(&upstream_response.headers, session.req_header().version);
    upstream_response.insert_header(header::VIA, via)?;
    if !ctx.http3 && ctx.scripts_seen.is_empty() {
        // The snapshot the request was served under (request_filter keeps it);
        // loaded again only where none was kept.
        let alt = match &ctx.snapshot {
            Some(snapshot) => snapshot.config.listen.alt_svc.clone(),
            None => proxy.live.snapshot().config.listen.alt_svc.clone(),
        };
        if let Some(alt) = alt {
            upstream_response.insert_header(header::ALT_SVC, alt)?;
        }
    }
    let site_cache = proxy
        .live
        .cache
        .filter(|_| ctx.site.as_ref().is_some_and(|s| s.cache));
    if let Some(cache) = site_cache
        && !session.req_header().method.is_safe()
        && (200..400).contains(&upstream_response.status.as_u16())
    {
        proxy
            .invalidate_after_unsafe(session, upstream_response, ctx, cache)
            .await;
    }
    if site_cache.is_some() {
        // (A request with credentials was not answered from the cache, whatever
        // pingora's phase says; its response may have been stored.)
        let mut status = if ctx.authorized {
            let stored = if ctx.stored { "; stored" } else { "" };
            format!("outpost; fwd=bypass{stored}")
        } else {
            cache_status(
                session.cache.phase(),
                session.cache.maybe_cache_meta(),
                ctx.cache_enabled,
                ctx.stored,
                ctx.site.as_ref().and_then(|s| s.heuristic_max),
            )
        };
        if ctx.http3 {
            // An extension parameter (RFC 9211 §2): which protocol the client
            // used, for HTTP/3 alone (TCP answers stay as they were).
            status.push_str(crate::caching::HTTP3_PARAM);
        }
        upstream_response.insert_header("cache-status", status)?;
    }
    if let Some(m) = &ctx.rule {
        let a = &m.rule.actions;
        let resp = &mut *upstream_response;
        if let Some(ttl) = a.browser_ttl {
            let origin = resp
                .headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok());
            if let Some(cc) = outpost_rules::browser_cache_control(origin, ttl) {
                resp.insert_header(header::CACHE_CONTROL, cc)?;
                resp.remove_header(&header::EXPIRES);
            }
        }
        resp.apply(&a.response_headers)?;
        if ctx
            .snapshot
            .as_ref()
            .is_some_and(|s| s.config.server.debug_headers)
        {
            upstream_response.insert_header("outpost-rule", m.rule.source.to_string())?;
        }
    }
    if let Some(profile) = &ctx.html_profile {
        let stored = match (&proxy.live.kept_pages, stored_source(session, ctx)) {
            (Some(pages), Some(source)) => Some((pages, source)),
            _ => None,
        };
        ctx.html = crate::html::begin(
            profile,
            session.req_header(),
            upstream_response,
            (&ctx.host, ctx.client_ip),
            stored,
        )
        .map(std::sync::Mutex::new);
        if ctx.html.is_some()
            && ctx
                .snapshot
                .as_ref()
                .is_some_and(|s| s.config.server.debug_headers)
        {
            upstream_response.insert_header("outpost-html-rewrite", profile.name())?;
        }
    }
    Ok(())
}

/// `range_header_filter`: a page that will be rewritten, or a slice, is sent whole.
pub(super) fn range_header_filter(
    session: &mut Session,
    resp: &mut ResponseHeader,
    ctx: &mut RequestCtx,
) -> pingora::proxy::RangeType {
    // A page that will be rewritten is served whole: byte ranges of the origin's
    // body mean nothing in the rewritten one (ignoring Range is always allowed).
    let rewritten = ctx.html_profile.as_ref().is_some_and(|p| {
        resp.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| p.rewrites(&crate::media::media_type(ct).0))
    });
    // A slice is passed on as the origin's 206 (the outer request cuts it).
    if rewritten || ctx.slice.is_some() {
        return pingora::proxy::RangeType::None;
    }
    pingora::proxy::range_header_filter(session.req_header(), resp, Some(200))
}

/// `response_body_filter`: the HTML rewrite (or kept rewrite) of the body.
pub(super) fn response_body_filter(
    body: &mut Option<Bytes>,
    end_of_stream: bool,
    ctx: &mut RequestCtx,
) -> Result<Option<std::time::Duration>> {
    let Some(rewriter) = &ctx.html else {
        return Ok(None);
    };
    let mut rewriter = locked(rewriter, "HTML rewriter")?;
    let mut out = match body.take() {
        Some(chunk) => rewriter.push(&chunk),
        None => Ok(Bytes::new()),
    };
    if end_of_stream && let Ok(head) = &out {
        out = rewriter.finish().map(|tail| {
            if head.is_empty() {
                tail
            } else {
                let mut all = head.to_vec();
                all.extend_from_slice(&tail);
                Bytes::from(all)
            }
        });
    }
    match out {
        // Nothing to send yet: an empty chunk would end a chunked body early.
        Ok(bytes) if bytes.is_empty() => *body = None,
        Ok(bytes) => *body = Some(bytes),
        Err(e) => {
            // The head is gone; cut the body off so the client sees it is incomplete.
            tracing::warn!(request_id = %ctx.request_id, error = %e, "HTML rewrite failed; response truncated");
            return Err(Error::explain(
                ErrorType::InternalError,
                format!("HTML rewrite failed: {e}"),
            ));
        }
    }
    Ok(None)
}

/// The stored object this response's body is read from, when it is one: a hit, fresh
/// or served stale (not a request that bypassed the cache for its credentials).
fn stored_source(session: &Session, ctx: &RequestCtx) -> Option<crate::html::StoredSource> {
    use pingora::cache::CachePhase;
    use pingora::cache::key::CacheHashKey;
    if ctx.authorized
        || !matches!(
            session.cache.phase(),
            CachePhase::Hit | CachePhase::Stale | CachePhase::StaleUpdating
        )
    {
        return None;
    }
    let meta = session.cache.maybe_cache_meta()?;
    Some(crate::html::StoredSource {
        key: session.cache.cache_key().combined_bin(),
        created: meta.created(),
        updated: meta.updated(),
    })
}
