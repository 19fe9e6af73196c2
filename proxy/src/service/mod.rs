//! The `ProxyHttp` implementation: a thin layer that asks the snapshot what to do.
//!
//! Phases we override, in the order pingora calls them (see `docs/phases.md`):
//! - `request_filter` (`request.rs`): picks the config snapshot and the site by
//!   host; answers 400 for a missing/invalid host, 404 for a host no site serves and
//!   403 for a client the site's `ip_allow`/`ip_deny` refuse. Then finds the site's
//!   page rule: redirects answer here; request header edits and URL rewrites change
//!   the request before the cache and the origin see it. Runs for every request
//!   (cache hits included).
//! - `upstream_peer`: picks an origin from the site's pool, skipping those this
//!   request already tried. Runs once per attempt.
//! - `upstream_request_filter`: forwarding headers, hop-by-hop removal, `Host`.
//! - `fail_to_connect` / `error_while_proxy`: passive health marking and retries.
//! - `response_filter` (`response.rs`, with the body's HTML rewrite): hop-by-hop
//!   removal, `Via`, `Cache-Status`, the rule's response header edits and browser
//!   TTL. Runs after any cache, on hits too.
//! - `fail_to_proxy`: the 4xx/5xx page when nothing else answered.
//! - `logging`: the access-log line.

mod accounting;
mod answers;
mod ctx;
mod not_modified;
mod page_rules;
mod request;
mod request_directives;
mod response;
mod slices;

use crate::header_policy::{
    self as headers, UNTRUSTED_OVERRIDES, VIA, append_via, strip_hop_by_hop,
};
use crate::upstream::{hash_key, peer_for, upper_peer, upper_tier_key};
use answers::{respond, status_text};
pub use ctx::RequestCtx;
use ctx::locked;

use crate::caching::{cache_key, cacheability, variance};
use crate::pool::OriginPool;
use crate::snapshot::Live;
use async_trait::async_trait;
use bytes::Bytes;
use http::header;
use outpost_config::{CacheLevel, OriginHost};
use pingora::cache::key::{CacheHashKey, HashBinary};
use pingora::cache::{CacheKey, CacheMeta, CachePhase, RespCacheable};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error, ErrorSource, ErrorType, Result};
use std::sync::Arc;
use std::time::Instant;

/// Outpost's proxy application.
#[derive(Debug)]
pub struct EdgeProxy {
    live: Arc<Live>,
}

impl EdgeProxy {
    /// The fetcher for what a script or an image transform (`made_by`) fetches on
    /// behalf of this request: this node's pipeline for its own sites, the site's
    /// egress policy for other hosts.
    fn fetcher_for(
        &self,
        spawner: pingora::proxy::SubrequestSpawner,
        ctx: &RequestCtx,
        site: &Arc<crate::site::Site>,
        raw_host: Option<&str>,
        made_by: std::path::PathBuf,
    ) -> crate::subrequest::PipelineFetcher {
        crate::subrequest::PipelineFetcher::new(
            self.live.clone(),
            spawner,
            (
                ctx.client_ip,
                (ctx.host.clone(), headers::request_port(raw_host, ctx.tls)),
            ),
            ctx.scripts_seen.clone(),
            made_by,
            (
                ctx.request_id.clone(),
                site.egress.clone(),
                site.pool.clone(),
            ),
        )
    }

    /// The request as an image transform sees it, with a fetcher for its source
    /// (marked so a rule's `image` action does not apply to it).
    fn image_request<'a>(
        &self,
        session: &mut Session,
        ctx: &'a RequestCtx,
        site: &Arc<crate::site::Site>,
        raw_host: Option<&'a str>,
    ) -> crate::images::Asked<'a> {
        let spawner = session
            .subrequest_spawner
            .take()
            .or_else(|| self.live.subrequest_spawner());
        let fetcher = spawner.map(|spawner| {
            let made_by = std::path::PathBuf::from(crate::images::PREFIX);
            Arc::new(self.fetcher_for(spawner, ctx, site, raw_host, made_by))
                as Arc<dyn outpost_scripting::Fetcher>
        });
        crate::images::Asked {
            tls: ctx.tls,
            raw_host,
            host: &ctx.host,
            fetcher,
        }
    }

    /// A proxy serving whatever `live` currently holds.
    pub fn new(live: Arc<Live>) -> Self {
        EdgeProxy { live }
    }
}

impl EdgeProxy {
    /// RFC 9111 4.4: a successful unsafe request invalidates the target URI and the
    /// same-host URIs in `Location` and `Content-Location`. Only the primary (non-Vary)
    /// entry of each is removed.
    async fn invalidate_after_unsafe(
        &self,
        session: &Session,
        resp: &ResponseHeader,
        ctx: &RequestCtx,
        cache: crate::caching::EdgeCache,
    ) {
        let Some(policy) = ctx.site.as_ref().map(|s| &s.cache_key) else {
            return;
        };
        let names = cache.storage.key_hash();
        let mut targets = vec![cache_key(
            names,
            ctx.tls,
            &ctx.host,
            session.req_header(),
            policy,
        )];
        // RFC 9111 §4.4: also `Location` and `Content-Location`, resolved against the
        // request's URI, when they name this same origin.
        let scheme = if ctx.tls { "https" } else { "http" };
        let target = session
            .req_header()
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str());
        // (The key has no port: the host as the key holds it is what must match.)
        let base = url::Url::parse(&format!("{scheme}://{}{target}", ctx.host)).ok();
        for h in [header::LOCATION, header::CONTENT_LOCATION] {
            let Some(v) = resp.headers.get(&h).and_then(|v| v.to_str().ok()) else {
                continue;
            };
            let Some(url) = base.as_ref().and_then(|b| b.join(v.trim()).ok()) else {
                continue;
            };
            let same_origin = url.scheme() == scheme
                && url.host_str().is_some_and(|h| {
                    h.trim_matches(['[', ']'])
                        .eq_ignore_ascii_case(ctx.host.trim_matches(['[', ']']))
                });
            if !same_origin {
                continue;
            }
            let pq = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            if let Ok(req) = RequestHeader::build("GET", pq.as_bytes(), None) {
                targets.push(cache_key(names, ctx.tls, &ctx.host, &req, policy));
            }
        }
        for key in &targets {
            cache.invalidate(key).await;
        }
    }

    fn pool<'a>(&self, ctx: &'a RequestCtx) -> Option<&'a OriginPool> {
        ctx.pool.as_deref()
    }
}

#[async_trait]
impl ProxyHttp for EdgeProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx {
            slice: None,
            cache_outcome: None,
            start: Instant::now(),
            body_received: 0,
            snapshot: None,
            site: None,
            host: String::new(),
            tried: Vec::new(),
            failures: 0,
            tls: false,
            http3: false,
            stored: false,
            cache_enabled: false,
            via_parent: false,
            parent_failed: false,
            upper: None,
            uppers_failed: Vec::new(),
            rule: None,
            pool: None,
            client_ip: None,
            scripts_seen: Vec::new(),
            hook: None,
            html_profile: None,
            html: None,
            upstream_encoder: None,
            not_modified: None,
            authorized: false,
            origin_started: None,
            origin_body_deadline: None,
            request_id: self.live.new_request_id(),
            _in_flight: self.live.enter_request(),
        }
    }

    fn init_downstream_modules(&self, modules: &mut pingora::modules::http::HttpModules) {
        // Our compression module takes the place of pingora's default one (which has
        // fixed types and size limit and ignores `q`), plus the request id.
        modules.add_module(Box::new(crate::compress::CompressBuilder));
        modules.add_module(Box::new(crate::request_id::RequestIdBuilder));
    }

    fn allow_spawning_subrequest(&self, _session: &Session, _ctx: &Self::CTX) -> bool {
        // Scripts' fetch() calls are subrequests through this proxy.
        true
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        request::request_filter(self, session, ctx).await
    }

    fn request_cache_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<()> {
        let (Some(cache), Some(site)) = (self.live.cache, ctx.site.as_ref()) else {
            return Ok(());
        };
        let req = session.req_header();
        // A GET or HEAD with a body ("fat GET"): the body is not in the cache key,
        // so an origin that reads it could have its answer stored for everyone.
        let has_body = req.headers.contains_key(header::TRANSFER_ENCODING)
            || req
                .headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
        if !site.cache || !pingora::cache::filters::request_cacheable(req) || has_body {
            return Ok(());
        }
        if let Some(m) = &ctx.rule
            && (m.rule.actions.cache_level == Some(CacheLevel::Bypass)
                || m.bypass_on_cookie(&req.headers))
        {
            return Ok(());
        }
        // Requests with credentials are never answered from a stored response (another
        // user's, as far as this cache knows: `cache_hit_filter` turns hits into
        // misses), but their responses may be stored where RFC 9111 §3.5 allows
        // (`public`, `s-maxage`, `must-revalidate`).
        ctx.authorized = req.headers.contains_key(header::AUTHORIZATION);
        session
            .cache
            .enable(cache.storage, None, None, Some(cache.lock), None);
        ctx.cache_enabled = true;
        Ok(())
    }

    fn cache_key_callback(&self, session: &Session, ctx: &mut Self::CTX) -> Result<CacheKey> {
        // (Only asked of a request whose cache is enabled.)
        let cache = self.live.cache.ok_or_else(|| {
            pingora::Error::explain(pingora::ErrorType::InternalError, "no cache to key for")
        })?;
        let mut key = ctx.url_key(cache.storage.key_hash(), session.req_header());
        if let Some(n) = ctx.slice {
            // A slice is a variant of its URL: its own slot, and a purge or
            // invalidation of the URL takes it too.
            key.set_variance_key(slices::variance(n));
        }
        Ok(key)
    }

    fn response_cache_filter(
        &self,
        session: &Session,
        resp: &ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<RespCacheable> {
        let authorization = session
            .req_header()
            .headers
            .contains_key(header::AUTHORIZATION);
        let rule = ctx.caching();
        // RFC 9111 §5.2.1.5, where the config honours request directives.
        if request_directives::no_store(session.req_header(), ctx) {
            ctx.stored = false;
            return Ok(RespCacheable::Uncacheable(
                pingora::cache::NoCacheReason::Custom("request-no-store"),
            ));
        }
        if rule.deception_armor
            && !crate::caching::content_type_agrees(session.req_header().uri.path(), resp)
        {
            tracing::debug!(path = %session.req_header().uri.path(), "cache deception armor: content type does not match the extension; not stored");
            ctx.stored = false;
            return Ok(RespCacheable::Uncacheable(
                pingora::cache::NoCacheReason::Custom("deception-armor"),
            ));
        }
        let updated;
        let resp = match ctx.not_modified.take() {
            Some(not_modified) => {
                updated = not_modified::updated_head(resp, &not_modified);
                &updated
            }
            None => resp,
        };
        let arrival = crate::freshness::Arrival::now(ctx.origin_started);
        let decision = match ctx.slice {
            // A slice is stored when it is one (a 206), on the terms a whole
            // response would be.
            Some(_) => slices::cacheability(resp, |whole| {
                cacheability(whole, authorization, &rule, &arrival)
            }),
            None => cacheability(resp, authorization, &rule, &arrival),
        };
        ctx.stored = decision.is_cacheable();
        // Hit-for-pass: a key with nothing stored whose origin says "do not store"
        // sends its next requests straight to the origin (`hit_path`'s pass).
        if let Some(cache) = self.live.cache
            && let Some(key) = session.cache.maybe_cache_key()
        {
            let key = key.primary_bin();
            if ctx.stored {
                cache.passes.unmark(&key);
            } else if session.cache.phase() == CachePhase::Miss
                && ctx.slice.is_none()
                && !authorization
                && ctx.upstream_encoder.is_none()
                && ctx.site.as_ref().is_some_and(|s| {
                    !crate::compress::Facts::of_header(resp).compressible(&s.compression)
                })
            {
                // (A pass relays answers as they are: one the site compresses stays
                // on this path.)
                cache.passes.mark(key);
            }
        }
        Ok(decision)
    }

    fn cache_vary_filter(
        &self,
        meta: &CacheMeta,
        ctx: &mut Self::CTX,
        req: &RequestHeader,
    ) -> Option<HashBinary> {
        match ctx.slice {
            Some(n) => Some(slices::variance(n)),
            None => variance(meta, req),
        }
    }

    /// A client's request directives, where the config honours them (RFC 9111
    /// §5.2.1): revalidate what the client will not take as stored, serve stale what
    /// it accepts stale.
    async fn cache_hit_filter(
        &self,
        session: &mut Session,
        meta: &CacheMeta,
        _hit_handler: &mut pingora::cache::HitHandler,
        _is_fresh: bool,
        ctx: &mut Self::CTX,
    ) -> Result<Option<pingora::cache::ForcedFreshness>> {
        Ok(request_directives::forced_freshness(
            session.req_header(),
            meta,
            ctx,
        ))
    }

    /// `only-if-cached` (RFC 9111 §5.2.1.7): what the cache cannot answer is a 504,
    /// not a trip to the origin.
    async fn proxy_upstream_filter(
        &self,
        session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> Result<bool> {
        if request_directives::only_if_cached(session.req_header()) {
            let body = "504 Gateway Timeout\nnot in the cache (the request said only-if-cached)\n";
            respond(session, 504, body.to_string()).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Called with `None` for stale-while-revalidate and with the error for
    /// stale-if-error; pingora has already checked the stored response's stale windows.
    /// We allow both when the origin said so (pingora's default refuses the former).
    fn should_serve_stale(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
        error: Option<&Error>,
    ) -> bool {
        error.is_none_or(|e| e.esource() == &ErrorSource::Upstream)
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let Some(site) = ctx.site.clone() else {
            return Error::e_explain(ErrorType::InternalError, "no site selected");
        };
        ctx.origin_started = Some(Instant::now());
        if let Some(parent) = site.parent.as_ref()
            && !ctx.parent_failed
            && (parent.is_available(0) || !site.parent_fallback)
        {
            ctx.via_parent = true;
            return Ok(Box::new(peer_for(parent, 0)));
        }
        // Cluster mode, lower tier: the object's home upper node, then the next ones.
        if site.parent.is_none()
            && let Some(cluster) = self.live.cluster()
            && cluster.is_lower()
            && let Some(addr) = cluster
                .uppers_for(&upper_tier_key(session))
                .into_iter()
                .find(|a| !ctx.uppers_failed.contains(a))
        {
            ctx.via_parent = true;
            ctx.upper = Some(addr);
            return Ok(Box::new(upper_peer(addr, &site.pool.timeouts)));
        }
        ctx.via_parent = false;
        ctx.upper = None;
        let pool = ctx.pool.clone().unwrap_or_else(|| site.pool.clone());
        // Only consistent hashing reads the key; don't build it for round robin.
        let key = if pool.is_hashed() {
            let req = session.req_header();
            let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
            hash_key(&site, pq, ctx.client_ip, |n| {
                req.headers.get(n).map(|v| v.as_bytes())
            })
        } else {
            Vec::new()
        };
        let Some(i) = pool.select(&key, &ctx.tried) else {
            // An upstream error, so that stale-if-error can answer from cache.
            let mut e = Error::explain(ErrorType::ConnectNoRoute, "no origin left to try");
            e.esource = ErrorSource::Upstream;
            return Err(e);
        };
        ctx.tried.push(i);
        Ok(Box::new(peer_for(&pool, i)))
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        ctx.origin_body_deadline = ctx
            .pool
            .as_ref()
            .and_then(|p| p.timeouts.body)
            .map(|limit| Instant::now() + limit);
        // pingora merges only a few of a 304's fields into the stored head before
        // `response_cache_filter`; the rest are applied there from this copy.
        if upstream_response.status == http::StatusCode::NOT_MODIFIED
            && session.cache.maybe_cache_meta().is_some()
        {
            ctx.not_modified = Some(Box::new(upstream_response.clone()));
        }
        // Compress before the cache stores the response, so hits need no work. Only
        // for GETs from clients: a script's fetch() reads the body itself.
        let Some(site) = ctx.site.as_ref() else {
            return Ok(());
        };
        if session.req_header().method != http::Method::GET || !ctx.scripts_seen.is_empty() {
            return Ok(());
        }
        let req = session.req_header();
        // A range is cut from the identity bytes (compressing would turn the 206 into
        // a whole body); the variant still says it depends on Accept-Encoding.
        let accept = req
            .headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .filter(|_| !req.headers.contains_key(header::RANGE));
        let Some(coding) = crate::compress::plan(upstream_response, &site.compression, accept)
        else {
            return Ok(());
        };
        match crate::compress::Encoder::new(coding, &site.compression) {
            Ok(encoder) => {
                crate::compress::encoded_head(upstream_response, coding)?;
                ctx.upstream_encoder = Some(std::sync::Mutex::new(encoder));
            }
            Err(e) => {
                tracing::warn!(request_id = %ctx.request_id, error = %e, "compressor set-up failed; origin response left uncompressed");
            }
        }
        Ok(())
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<Option<std::time::Duration>> {
        // A body that keeps trickling never trips the per-read timeout; this ends it
        // (and, as an error, keeps the partial body out of the cache).
        if !end_of_stream && ctx.origin_body_deadline.is_some_and(|d| Instant::now() > d) {
            return Error::e_explain(
                ErrorType::ReadTimedout,
                "origin response body not complete within timeouts.body",
            );
        }
        if let Some(encoder) = &ctx.upstream_encoder {
            let mut encoder = locked(encoder, "compressor")?;
            encoder.filter(body, end_of_stream)?;
        }
        Ok(None)
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let upgrade = session.is_upgrade_req();
        for h in strip_hop_by_hop(&upstream_request.headers, upgrade) {
            upstream_request.remove_header(h.as_str());
        }
        if let Some(ip) = ctx.client_ip {
            let xff = match upstream_request
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
            {
                Some(prev) if !prev.trim().is_empty() => format!("{prev}, {ip}"),
                _ => ip.to_string(),
            };
            upstream_request.insert_header("x-forwarded-for", xff)?;
        }
        // Headers some frameworks trust to override the URL, scheme, host or method:
        // not in the cache key, so a client could change an answer stored for all
        // (cache poisoning). Outpost sets the X-Forwarded-* it vouches for below.
        for h in UNTRUSTED_OVERRIDES {
            upstream_request.remove_header(*h);
        }
        // Set, never trusted from the client: the origin decides redirects on these.
        upstream_request
            .insert_header("x-forwarded-proto", if ctx.tls { "https" } else { "http" })?;
        upstream_request.insert_header("x-forwarded-host", ctx.host.as_str())?;
        let via = append_via(&upstream_request.headers, session.req_header().version);
        upstream_request.insert_header(header::VIA, via)?;
        // pingora took `Range` off to fetch a whole object to store; a slice asks for
        // its own bytes.
        if ctx.slice.is_some()
            && let Some(range) = session.req_header().headers.get(header::RANGE)
        {
            upstream_request.insert_header(header::RANGE, range.clone())?;
        }
        // RFC 8586: mark the hop so a parent-tier loop is detected and stopped.
        let me = format!("{VIA}; id={}", self.live.node_id);
        let loop_value = match upstream_request
            .headers
            .get("cdn-loop")
            .and_then(|v| v.to_str().ok())
        {
            Some(prev) => format!("{prev}, {me}"),
            None => me,
        };
        upstream_request.insert_header("cdn-loop", loop_value)?;
        if ctx.via_parent {
            // The upper tier picks the site by the client's Host: always pass it on
            // (an HTTP/2 client may have sent only :authority).
            if !upstream_request.headers.contains_key(header::HOST)
                && let Some(a) = session.req_header().uri.authority().map(|a| a.to_string())
            {
                upstream_request.insert_header(header::HOST, a)?;
            }
            return Ok(());
        }

        let (Some(site), Some(pool), Some(&i)) =
            (ctx.site.as_ref(), ctx.pool.as_ref(), ctx.tried.last())
        else {
            return Ok(());
        };
        if let Some(host) = ctx
            .rule
            .as_ref()
            .and_then(|m| m.rule.actions.host_header.as_ref())
        {
            upstream_request.insert_header(header::HOST, host.as_str())?;
            return Ok(());
        }
        let o = &pool.origins()[i];
        let client_host = upstream_request
            .headers
            .get(header::HOST)
            .cloned()
            .or_else(|| {
                session
                    .req_header()
                    .uri
                    .authority()
                    .and_then(|a| a.as_str().parse().ok())
            });
        match (site.origin_host, client_host) {
            (OriginHost::Preserve, Some(h)) => upstream_request.insert_header(header::HOST, h)?,
            _ => {
                upstream_request.insert_header(header::HOST, o.authority().to_string())?;
            }
        }
        Ok(())
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut Self::CTX,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let Some(addr) = ctx.upper.take() {
            // An upper-tier node is unreachable: the next one, then the origins.
            ctx.uppers_failed.push(addr);
            if let Some(cluster) = self.live.cluster() {
                cluster.mark_down(addr);
            }
            tracing::warn!(error = %e, upper = %addr, "upper tier unreachable; trying the next");
            e.set_retry(true);
            return e;
        }
        if ctx.via_parent {
            // The parent tier is unreachable: mark it, then go to the origins if allowed.
            ctx.parent_failed = true;
            let fallback = ctx.site.as_ref().is_some_and(|s| s.parent_fallback);
            if let Some(parent) = ctx.site.as_ref().and_then(|s| s.parent.as_ref()) {
                parent.record_failure(0);
            }
            tracing::warn!(error = %e, fallback, "parent tier unreachable");
            e.set_retry(fallback);
            return e;
        }
        ctx.failures += 1;
        if let (Some(pool), Some(&i)) = (self.pool(ctx), ctx.tried.last()) {
            pool.record_failure(i);
        }
        // Nothing was sent yet, so trying the next origin is always safe.
        let retries = ctx.site.as_ref().map_or(0, |s| s.retries);
        e.set_retry(ctx.failures <= retries);
        e
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut Self::CTX,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        if e.esource() == &ErrorSource::Upstream && !ctx.via_parent {
            ctx.failures += 1;
            if matches!(
                e.etype(),
                ErrorType::ReadTimedout | ErrorType::WriteTimedout | ErrorType::ConnectionClosed
            ) && let (Some(pool), Some(&i)) = (self.pool(ctx), ctx.tried.last())
            {
                pool.record_failure(i);
            }
        }
        let retries = ctx.site.as_ref().map_or(0, |s| s.retries);
        // The request may have reached the origin: only idempotent requests whose body
        // we can still replay are retried, and only on a reused connection (the origin
        // closing a stale keep-alive connection), as pingora's default policy does.
        if !session.req_header().method.is_idempotent()
            || session.as_ref().retry_buffer_truncated()
            || ctx.failures > retries
        {
            e.set_retry(false);
        } else {
            e.retry.decide_reuse(client_reused);
        }
        e
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        response::response_filter(self, session, upstream_response, ctx).await
    }

    fn range_header_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> pingora::proxy::RangeType {
        response::range_header_filter(session, resp, ctx)
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<Option<std::time::Duration>> {
        response::response_body_filter(body, end_of_stream, ctx)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy {
        use ErrorType::*;
        let code = match e.etype() {
            HTTPStatus(code) => *code,
            ConnectTimedout | ReadTimedout | WriteTimedout | TLSHandshakeTimedout
                if e.esource() == &ErrorSource::Upstream =>
            {
                504
            }
            ConnectNoRoute | ConnectRefused | ConnectError | ConnectionClosed
            | TLSHandshakeFailure | InvalidCert | HandshakeError => 502,
            _ => match e.esource() {
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match e.etype() {
                    WriteError | ReadError | ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        // Once a response head has gone out (a hook's streamed body that failed
        // midway), an error page would be spliced into that body: the connection is
        // closed instead, so the client sees the body cut short.
        let started = session.as_downstream().response_written().is_some();
        if code > 0 && !started {
            let why = match code {
                502 => "Outpost could not get a valid response from the origin server.",
                504 => "The origin server did not answer in time.",
                400 => "The request could not be understood.",
                _ => "Outpost could not complete the request.",
            };
            let site = ctx.site.as_ref().map_or("-", |s| s.name.as_str());
            let body = format!("{code} {}\n{why}\nsite: {site}\n", status_text(code));
            if let Err(err) = respond(session, code, body).await {
                tracing::debug!(error = %err, "could not send error response");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    /// Bodies without a `Content-Length` (chunked) are counted as they stream; one
    /// that goes over `max_request_body` ends the request with 413 (or, if the
    /// response has started, a closed connection).
    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let (Some(b), Some(site)) = (body.as_ref(), ctx.site.as_ref()) {
            ctx.body_received += b.len() as u64;
            if ctx.body_received > site.max_request_body {
                return Error::e_explain(
                    pingora::ErrorType::HTTPStatus(413),
                    format!(
                        "request body over max_request_body ({} bytes)",
                        site.max_request_body
                    ),
                );
            }
        }
        Ok(())
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
        accounting::record(&self.live, session, ctx);
        accounting::log_access(session, e, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers() {
        let mut h = http::HeaderMap::new();
        h.insert("connection", "keep-alive, X-Secret".parse().expect("value"));
        h.insert("x-secret", "1".parse().expect("value"));
        h.insert("keep-alive", "timeout=5".parse().expect("value"));
        h.insert("accept", "*/*".parse().expect("value"));
        let mut removed = strip_hop_by_hop(&h, false);
        removed.sort();
        assert_eq!(removed, vec!["connection", "keep-alive", "x-secret"]);

        let mut up = http::HeaderMap::new();
        up.insert("connection", "Upgrade".parse().expect("value"));
        up.insert("upgrade", "websocket".parse().expect("value"));
        assert!(strip_hop_by_hop(&up, true).is_empty());
        assert_eq!(strip_hop_by_hop(&up, false).len(), 2);
    }
}
