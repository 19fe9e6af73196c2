//! What a client's own cache directives do (RFC 9111 §5.2.1): `only-if-cached`
//! always, the rest only where `cache.request_directives: honour`; and a request with
//! credentials never answered from the cache (§3.5, the safe side).

use super::RequestCtx;
use crate::freshness::{ClientWants, client_wants, governing, stale_forbidden};
use pingora::cache::CacheMeta;
use pingora::cache::ForcedFreshness;
use pingora::cache::cache_control::CacheControl;
use pingora::http::RequestHeader;

/// Whether this request's config honours clients' `Cache-Control` request directives.
fn honoured(ctx: &RequestCtx) -> bool {
    ctx.snapshot.as_ref().is_some_and(|s| {
        s.config.cache.request_directives == outpost_config::RequestDirectives::Honour
    })
}

/// How a stored response found for `req` is to be taken: a miss for a request with
/// credentials; revalidated, or served stale, as the client's directives ask.
pub(super) fn forced_freshness(
    req: &RequestHeader,
    meta: &CacheMeta,
    ctx: &RequestCtx,
) -> Option<ForcedFreshness> {
    if ctx.authorized {
        return Some(ForcedFreshness::ForceMiss);
    }
    if !honoured(ctx) {
        return None;
    }
    let directives = CacheControl::from_req_headers(req)?;
    let stale_allowed = !stale_forbidden(governing(meta.response_header()).as_ref());
    let now = std::time::SystemTime::now();
    match client_wants(
        &directives,
        meta.age(),
        meta.fresh_until(),
        now,
        stale_allowed,
    ) {
        ClientWants::AsStored => None,
        ClientWants::Revalidated => Some(ForcedFreshness::ForceExpired),
        ClientWants::StaleAccepted => Some(ForcedFreshness::ForceFresh),
    }
}

/// `only-if-cached` (§5.2.1.7): what the cache cannot answer is a 504.
pub(super) fn only_if_cached(req: &RequestHeader) -> bool {
    CacheControl::from_req_headers(req).is_some_and(|cc| cc.only_if_cached())
}

/// A request's `no-store` (§5.2.1.5), where honoured: its answer is not stored.
pub(super) fn no_store(req: &RequestHeader, ctx: &RequestCtx) -> bool {
    honoured(ctx) && CacheControl::from_req_headers(req).is_some_and(|cc| cc.no_store())
}
