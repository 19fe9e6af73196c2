//! Per-request state (`RequestCtx`): what the phases learn about a request and hand
//! to the later ones.

use crate::caching::RuleCaching;
use crate::pool::OriginPool;
use crate::site::Site;
use crate::snapshot::Snapshot;
use outpost_rules::Match;
use pingora::proxy::Session;
use pingora::{Error, ErrorType, Result};
use std::sync::Arc;
use std::time::Instant;

/// Per-request state.
#[derive(Debug)]
pub struct RequestCtx {
    pub(crate) start: Instant,
    /// Request body bytes seen so far (for `max_request_body` on chunked uploads).
    pub(crate) body_received: u64,
    pub(crate) snapshot: Option<Arc<Snapshot>>,
    pub(crate) site: Option<Arc<Site>>,
    pub(crate) host: String,
    /// Origins (pool indexes) tried so far, in order.
    pub(crate) tried: Vec<usize>,
    /// Connect or proxy failures so far.
    pub(crate) failures: u32,
    /// Whether the downstream connection is TLS.
    pub(crate) tls: bool,
    /// Whether the request came over HTTP/3 (fed in by `http3`, not a TCP session).
    pub(crate) http3: bool,
    /// This request fetches slice N of a range request (`slices`).
    pub(crate) slice: Option<u64>,
    /// The cache outcome of a request answered outside pingora's cache phases (from
    /// slices, or an image transform): `hit` or `miss`, for metrics and the log.
    pub(crate) cache_outcome: Option<&'static str>,
    /// The response was admitted to the cache.
    pub(crate) stored: bool,
    /// The cache was consulted for this request (not bypassed up front).
    pub(crate) cache_enabled: bool,
    /// The request carries `Authorization`: never answered from the cache, and its
    /// response stored only where RFC 9111 §3.5 allows.
    pub(crate) authorized: bool,
    /// The current attempt goes to the parent tier.
    pub(crate) via_parent: bool,
    /// The parent tier failed for this request; later attempts go to the origins.
    pub(crate) parent_failed: bool,
    /// Cluster mode: the upper-tier node the current attempt goes to.
    pub(crate) upper: Option<std::net::SocketAddr>,
    /// Upper-tier nodes this request could not reach.
    pub(crate) uppers_failed: Vec<std::net::SocketAddr>,
    /// The page rule that applies, if any.
    pub(crate) rule: Option<Match>,
    /// The origin pool for this request: the site's, or the one a rule picked.
    pub(crate) pool: Option<Arc<OriginPool>>,
    /// The client's address (for a script's subrequest: the original client's).
    pub(crate) client_ip: Option<std::net::IpAddr>,
    /// Scripts that already ran on this request's path (set for scripts' subrequests;
    /// none of them runs again for it).
    pub(crate) scripts_seen: Vec<std::path::PathBuf>,
    /// The JS hook that answered this request, if one did.
    pub(crate) hook: Option<std::path::PathBuf>,
    /// This request's id in logs (scripts' console lines carry it too).
    pub(crate) request_id: Arc<str>,
    /// When the current attempt to reach an origin (or the parent) started.
    pub(crate) origin_started: Option<Instant>,
    /// The origin's body must be complete by then (`timeouts.body`).
    pub(crate) origin_body_deadline: Option<Instant>,
    /// The HTML rewrite profile the page rule binds, if any.
    pub(crate) html_profile: Option<Arc<crate::html::CompiledProfile>>,
    /// The rewritten body of this response (rewritten now, or kept), once its head
    /// showed it is a page to rewrite. (A mutex only because pingora wants the
    /// context `Sync`.)
    pub(crate) html: Option<std::sync::Mutex<crate::html::PageBody>>,
    /// Compression of the origin's body before the cache stores it (see `compress`).
    pub(crate) upstream_encoder: Option<std::sync::Mutex<crate::compress::Encoder>>,
    /// The origin's 304 to a revalidation, until its fields update the stored head.
    pub(crate) not_modified: Option<Box<pingora::http::ResponseHeader>>,
    /// Counted in flight from `new_ctx` until the context is dropped.
    pub(crate) _in_flight: crate::snapshot::InFlight,
}

impl RequestCtx {
    /// The cache key of the request's URL (no variance), under the site's or the
    /// matching rule's key policy, named as the storage names keys.
    pub(crate) fn url_key(
        &self,
        names: &outpost_cache::KeyHash,
        req: &pingora::http::RequestHeader,
    ) -> pingora::cache::CacheKey {
        let ctx = self;
        let default = outpost_config::CacheKeyPolicy::default();
        let actions = ctx.rule.as_ref().map(|m| &m.rule.actions);
        let mut policy = actions
            .and_then(|a| a.cache_key.as_ref())
            .or(ctx.site.as_ref().map(|s| &s.cache_key))
            .unwrap_or(&default);
        let ignore_query;
        if actions
            .is_some_and(|a| a.cache_level == Some(outpost_config::CacheLevel::IgnoreQueryString))
        {
            ignore_query = outpost_config::CacheKeyPolicy {
                query: outpost_config::QueryKey::Ignore,
                ..policy.clone()
            };
            policy = &ignore_query;
        }
        crate::caching::cache_key(names, ctx.tls, &ctx.host, req, policy)
    }

    pub(crate) fn caching(&self) -> RuleCaching {
        let heuristic_max = self.site.as_ref().and_then(|s| s.heuristic_max);
        match &self.rule {
            Some(m) => RuleCaching::from_actions(&m.rule.actions, heuristic_max),
            None => RuleCaching {
                heuristic_max,
                ..RuleCaching::default()
            },
        }
    }
}

/// The per-response state behind a context mutex (there only because pingora wants the
/// context `Sync`; one task uses it, so it is poisoned only after a panic).
pub(crate) fn locked<'a, T>(
    m: &'a std::sync::Mutex<T>,
    what: &str,
) -> Result<std::sync::MutexGuard<'a, T>> {
    m.lock()
        .map_err(|_| Error::explain(ErrorType::InternalError, format!("{what} poisoned")))
}

/// What on-the-fly compression did to this response: before the cache (a miss) or
/// on the way out. (A hit of a stored compressed copy compressed nothing.)
pub(crate) fn compression_outcome(
    session: &Session,
    ctx: &RequestCtx,
) -> Option<crate::compress::Outcome> {
    let upstream = ctx
        .upstream_encoder
        .as_ref()
        .and_then(|e| e.lock().ok().map(|e| e.outcome()));
    upstream.or_else(|| {
        session
            .downstream_modules_ctx
            .get::<crate::compress::CompressModule>()
            .map(|m| m.outcome())
            .filter(|o| o.coding.is_some())
    })
}
