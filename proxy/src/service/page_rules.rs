//! The site's page rule for a request: finding it, rate limits, redirects, and the
//! request-side actions (header edits, URL rewrite, origin pool, HTML profile).

use super::answers::{respond_with, rule_failed, status_text};
use super::ctx::RequestCtx;
use crate::header_policy::{EditHeaders, request_port};
use crate::site::Site;
use crate::snapshot::Snapshot;
use outpost_rules::{Match, RequestView};
use pingora::Result;
use pingora::proxy::Session;

/// Finds the site's page rule and applies its request-side actions. Returns
/// `true` when the rule answered (a redirect, or an error).
pub(crate) async fn apply_rule(
    session: &mut Session,
    ctx: &mut RequestCtx,
    site: &Site,
    raw_host: Option<&str>,
    snapshot: &Snapshot,
) -> Result<bool> {
    let client_ip = ctx.client_ip;
    let req = session.req_header();
    let pq = req
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let view = RequestView {
        tls: ctx.tls,
        host: &ctx.host,
        port: request_port(raw_host, ctx.tls),
        path_and_query: &pq,
        method: req.method.as_str(),
        headers: &req.headers,
        client_ip,
    };
    let Some(m) = site.rules.find(&view) else {
        return Ok(false);
    };
    let debug = snapshot.config.server.debug_headers;
    let rule_header = || {
        if debug {
            vec![("outpost-rule", m.rule.source.to_string())]
        } else {
            Vec::new()
        }
    };
    let https_port = snapshot.config.listen.https.map(|a| a.port());
    match m.redirect(&view, https_port) {
        Some(Ok(r)) => {
            let mut extra = rule_header();
            extra.push(("location", r.location.clone()));
            let body = format!("{} {}: {}\n", r.status, status_text(r.status), r.location);
            respond_with(session, r.status, body, &extra).await?;
            ctx.rule = Some(m);
            return Ok(true);
        }
        Some(Err(e)) => return rule_failed(session, &e, &rule_header()).await,
        None => {}
    }
    let limited = match &m.rule.actions.rate_limit {
        Some(limit) => over_limit(site, &m, limit, &view),
        None => false,
    };
    if limited
        && m.rule.actions.rate_limit.as_ref().map(|l| l.action)
            == Some(outpost_config::RateAction::Block)
    {
        let per = m.rule.actions.rate_limit.as_ref().map_or(60, |l| {
            l.per.as_secs() + u64::from(l.per.subsec_nanos() > 0)
        });
        let mut extra = rule_header();
        extra.push(("retry-after", per.to_string()));
        respond_with(
            session,
            429,
            "429 Too Many Requests: slow down and retry later\n".into(),
            &extra,
        )
        .await?;
        ctx.rule = Some(m);
        return Ok(true);
    }
    let rewritten = m.rewritten(&pq);
    let actions = &m.rule.actions;
    let req = session.req_header_mut();
    req.apply(&actions.request_headers)?;
    if limited {
        req.insert_header("outpost-rate-limited", "1")?;
    }
    match rewritten {
        Some(Ok(uri)) => req.set_uri(uri),
        Some(Err(e)) => return rule_failed(session, &e, &rule_header()).await,
        None => {}
    }
    if let Some(name) = &actions.origin
        && let Some(pool) = site.pools.get(name)
    {
        ctx.pool = Some(pool.clone());
    }
    if let Some(name) = &actions.html_rewrite {
        ctx.html_profile = site.html_profiles.get(name).cloned();
    }
    ctx.rule = Some(m);
    Ok(false)
}

/// Counts this request against the rule's rate limit; whether it is over it.
fn over_limit(
    site: &Site,
    m: &Match,
    limit: &outpost_config::RateLimit,
    view: &RequestView<'_>,
) -> bool {
    let Some(rate) = site.rate_limits.get(&m.rule.source.to_string()) else {
        return false;
    };
    let key = match &limit.key {
        outpost_config::RateKey::ClientIp => view.client_ip.map(|ip| ip.to_string()),
        outpost_config::RateKey::Header(h) => view
            .headers
            .get(h.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        outpost_config::RateKey::Cookie(c) => outpost_rules::cookies(view.headers)
            .find(|(k, _)| k == c)
            .map(|(_, v)| v.to_string()),
    }
    .unwrap_or_default();
    rate.hit(&key) > isize::try_from(limit.requests).unwrap_or(isize::MAX)
}
