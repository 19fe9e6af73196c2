//! `request_filter`, the first phase every request goes through (cache hits
//! included): the config snapshot and the site by host, client admission, the page
//! rule (redirects answered here, request edits and URL rewrites applied before the
//! cache and the origin see the request), and the requests answered without an origin.

use super::answers::respond;
use super::{EdgeProxy, RequestCtx, page_rules, slices};
use crate::client_limits::{apply_client_timeouts, oversized_head};
use crate::header_policy::seen_by;
use crate::site::normalize_host;
use http::header;
use pingora::Result;
use pingora::proxy::Session;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// `request_filter`: see the module's first line. `Ok(true)`: answered here.
pub(super) async fn request_filter(
    proxy: &EdgeProxy,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<bool> {
    let snapshot = proxy.live.snapshot();
    if proxy.live.draining.load(Ordering::Relaxed) {
        // `Connection: close` on this response: the client's next request opens a
        // new connection, which the new process (or no one) accepts.
        session.set_keepalive(None);
    }
    ctx.tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
    ctx.client_ip = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip());
    // A script's fetch(): serve the request it made in place of the placeholder.
    if let Some(spec) = crate::subrequest::spec_of(session) {
        let header = spec.header.clone();
        ctx.tls = spec.https;
        ctx.client_ip = spec.client_ip;
        ctx.scripts_seen = spec.scripts.clone();
        ctx.request_id = spec.request_id.clone();
        ctx.http3 = spec.downstream == crate::subrequest::Downstream::Http3;
        if let crate::subrequest::Downstream::Slice(n) = spec.downstream {
            ctx.slice = Some(n);
        }
        *session.req_header_mut() = header;
        if !ctx.http3 {
            // A script reads what its fetch() returns: ask for it uncompressed (the
            // response it builds is compressed on the way out of the outer request).
            session
                .req_header_mut()
                .remove_header(&header::ACCEPT_ENCODING);
        }
    } else {
        apply_client_timeouts(session, &snapshot.config.server);
    }
    if let Some(name) = &snapshot.config.server.request_id_header
        && let Some(m) = session
            .downstream_modules_ctx
            .get_mut::<crate::request_id::RequestIdModule>()
    {
        m.set(name.clone(), ctx.request_id.clone());
    }
    if let Some((status, msg)) = oversized_head(session.req_header()) {
        // Refused before the body is read: close, so it is never read as a request.
        session.set_keepalive(None);
        respond(session, status, msg.into()).await?;
        return Ok(true);
    }
    let raw_host = session
        .get_header(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| session.req_header().uri.authority().map(|a| a.to_string()));
    let Some(host) = raw_host.as_deref().and_then(normalize_host) else {
        respond(
            session,
            400,
            "400 Bad Request: missing or invalid Host header\n".into(),
        )
        .await?;
        return Ok(true);
    };
    // Caught on the second visit, before the cache lock (which the first visit holds).
    if seen_by(session.req_header(), &proxy.live.node_id) {
        respond(session, 508, "508 Loop Detected: this request has passed through Outpost too many times (check parent tiers)\n".into()).await?;
        return Ok(true);
    }
    ctx.host = host;
    // An ACME CA checking an HTTP-01 challenge: answered before rules (which may
    // redirect or deny) and before the site's own handling.
    if session
        .req_header()
        .uri
        .path()
        .starts_with(outpost_tls::acme::HTTP01_PREFIX)
        && let Some(answer) = proxy
            .live
            .acme
            .challenges()
            .http_response(session.req_header().uri.path())
    {
        tracing::info!(host = %ctx.host, "answered an ACME http-01 challenge");
        respond(session, 200, answer).await?;
        return Ok(true);
    }
    let site = match snapshot.sites.lookup(&ctx.host) {
        Some(site) => site.clone(),
        None => {
            let msg = format!(
                "404 Not Found: no site is configured for host {:?}\n",
                ctx.host
            );
            respond(session, 404, msg).await?;
            return Ok(true);
        }
    };
    ctx.site = Some(site.clone());
    ctx.pool = Some(site.pool.clone());
    // A script's fetch() reads the body itself; the response it builds from it is
    // compressed on the way out of the outer request.
    if ctx.scripts_seen.is_empty()
        && let Some(m) = session
            .downstream_modules_ctx
            .get_mut::<crate::compress::CompressModule>()
    {
        m.configure(site.compression.clone());
    }
    if session
        .req_header()
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > site.max_request_body)
    {
        // Refused before a byte of it is read; close, since it is not drained.
        session.set_keepalive(None);
        let msg = format!(
            "413 Content Too Large: this site accepts request bodies up to {} bytes\n",
            site.max_request_body
        );
        respond(session, 413, msg).await?;
        return Ok(true);
    }
    // `outpost dev` runs a cron trigger by hand, as `wrangler dev` does.
    if proxy.live.dev()
        && session.req_header().uri.path() == crate::scheduled::DEV_TRIGGER_PATH
        && ctx.scripts_seen.is_empty()
    {
        let query = session.req_header().uri.query().unwrap_or("").to_string();
        let (status, body) =
            crate::scheduled::run_by_hand(proxy.live.clone(), site.clone(), &ctx.host, &query)
                .await;
        respond(session, status, body).await?;
        return Ok(true);
    }
    if !outpost_config::ip_admitted(&site.ip_allow, &site.ip_deny, ctx.client_ip) {
        respond(
            session,
            403,
            "403 Forbidden: this site does not serve your network\n".into(),
        )
        .await?;
        return Ok(true);
    }
    if let Some(images) = &site.images
        && session
            .req_header()
            .uri
            .path()
            .starts_with(crate::images::PREFIX)
    {
        // Image transforms come before page rules: their URL names a source, not
        // a page (rules apply to the source when it is fetched).
        let asked = proxy.image_request(session, ctx, &site, raw_host.as_deref());
        let outcome = crate::images::serve(&proxy.live, session, &site, images, asked).await?;
        ctx.cache_outcome = Some(outcome);
        ctx.snapshot = Some(snapshot);
        return Ok(true);
    }
    let answered = !site.rules.is_empty()
        && page_rules::apply_rule(session, ctx, &site, raw_host.as_deref(), &snapshot).await?;
    // A rule's `image` action: this URL's response, transformed (not for the
    // transform's own fetch of it).
    if !answered
        && let Some(image) = ctx.rule.as_ref().and_then(|m| m.rule.actions.image.clone())
        && crate::images::rule_applies(&ctx.scripts_seen)
    {
        let asked = proxy.image_request(session, ctx, &site, raw_host.as_deref());
        let outcome =
            crate::images::serve_rule(&proxy.live, session, &site, &image.options, asked).await?;
        ctx.cache_outcome = Some(outcome);
        ctx.snapshot = Some(snapshot);
        return Ok(true);
    }
    if !answered
        && let Some(script) = crate::hooks::hook_for(&site, ctx.rule.as_ref())
        && !ctx.scripts_seen.contains(&script.path)
        && ctx.scripts_seen.len() <= usize::from(crate::subrequest::MAX_DEPTH)
    {
        let debug = snapshot.config.server.debug_headers;
        ctx.snapshot = Some(snapshot);
        let engine = match proxy.live.script_engine() {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the JavaScript runtime");
                respond(session, 500, "500 Internal Server Error\n".into()).await?;
                return Ok(true);
            }
        };
        let pq = session
            .req_header()
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str());
        let url = crate::site::request_url(ctx.tls, raw_host.as_deref(), &ctx.host, pq);
        let fetcher = session.subrequest_spawner.take().map(|spawner| {
            let images = site.images.clone().map(|i| (site.name.clone(), i));
            Arc::new(
                proxy
                    .fetcher_for(
                        spawner,
                        ctx,
                        &site,
                        raw_host.as_deref(),
                        script.path.clone(),
                    )
                    .with_images(images),
            )
        });
        let cf = outpost_scripting::Cf {
            client_ip: ctx.client_ip,
            tls_version: session
                .digest()
                .and_then(|d| d.ssl_digest.as_ref())
                .map(|t| t.version.to_string()),
            http_protocol: crate::hooks::protocol_name(session.req_header().version).to_string(),
            rule: ctx.rule.as_ref().map(|m| m.rule.source.to_string()),
            scheduled: None,
        };
        ctx.hook = Some(script.path.clone());
        let script_name = script.name.to_string();
        let run = crate::hooks::HookRun {
            id: ctx.request_id.clone(),
            script,
            env: site.env.clone(),
            url,
            debug,
            cf,
            fetcher,
            max_body: site.max_request_body,
        };
        let outcome = crate::hooks::answer(session, engine, run).await?;
        proxy
            .live
            .metrics
            .scripts
            .with_label_values(&[&script_name, outcome])
            .inc();
        return Ok(true);
    }
    ctx.snapshot = Some(snapshot);
    if !answered
        && ctx.slice.is_none()
        && let Some(plan) = slices::plan(proxy.live.cache, &site, session, ctx)
    {
        slices::serve(session, ctx, plan, &proxy.live).await?;
        return Ok(true);
    }
    Ok(answered)
}
