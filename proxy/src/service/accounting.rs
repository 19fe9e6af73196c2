//! What a finished request leaves behind: its metrics and its access-log line.

use super::ctx::{RequestCtx, compression_outcome};
use crate::access_log::AccessLine;
use crate::snapshot::Live;
use pingora::proxy::Session;

/// Counts a finished request in the metrics.
pub(crate) fn record(live: &Live, session: &Session, ctx: &RequestCtx) {
    let m = &live.metrics;
    let site = ctx.site.as_ref().map_or("-", |s| s.name.as_str());
    let status = session.response_written().map_or(0, |r| r.status.as_u16());
    let cache = if ctx.hook.is_some() {
        "script"
    } else {
        ctx.cache_outcome
            .unwrap_or_else(|| session.cache.phase().as_str())
    };
    m.requests
        .with_label_values(&[site, crate::metrics::status_class(status), cache])
        .inc();
    if ctx.scripts_seen.is_empty() && ctx.slice.is_none() {
        // (A script's subrequest or a slice was made by no client: no protocol.)
        m.by_protocol.count(session.req_header().version);
    }
    let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let elapsed = ctx.start.elapsed().as_secs_f64();
    let (sent, read) = (
        as_u64(session.body_bytes_sent()),
        as_u64(session.body_bytes_read()),
    );
    match ctx.site.as_ref() {
        Some(s) => {
            let meters = s.meters(m);
            meters.duration.observe(elapsed);
            meters.bytes_out.inc_by(sent);
            meters.bytes_in.inc_by(read);
        }
        None => {
            m.duration.with_label_values(&[site]).observe(elapsed);
            m.bytes_out.with_label_values(&[site]).inc_by(sent);
            m.bytes_in.with_label_values(&[site]).inc_by(read);
        }
    }
    if let Some(r) = &ctx.rule {
        m.rule_hits
            .with_label_values(&[&r.rule.source.to_string()])
            .inc();
    }
    if let Some(body) = &ctx.html
        && let Some(p) = &ctx.html_profile
    {
        m.html_rewrites.with_label_values(&[p.name()]).inc();
        if body.lock().is_ok_and(|b| b.is_kept()) {
            m.html_kept.with_label_values(&[p.name()]).inc();
        }
    }
    if let Some(c) = compression_outcome(session, ctx) {
        c.count(m);
    }
}

/// Writes the request's access-log line (when access logs are on).
pub(crate) fn log_access(session: &Session, e: Option<&pingora::Error>, ctx: &RequestCtx) {
    let log_enabled = ctx
        .snapshot
        .as_ref()
        .is_none_or(|s| s.config.log.access_log);
    if !log_enabled {
        return;
    }
    let req = session.req_header();
    let status = session.response_written().map_or(0, |r| r.status.as_u16());
    let origin = match (ctx.site.as_ref(), ctx.tried.last()) {
        (_, _) if ctx.upper.is_some() => {
            format!(
                "upper {}",
                ctx.upper.map_or_else(String::new, |a| a.to_string())
            )
        }
        (Some(site), _) if ctx.via_parent => site.parent.as_ref().map_or_else(
            || "-".to_string(),
            |p| format!("parent {}", p.origins()[0].label()),
        ),
        (Some(_), Some(&i)) => ctx
            .pool
            .as_ref()
            .map_or_else(|| "-".to_string(), |p| p.origins()[i].label()),
        _ => "-".to_string(),
    };
    let client = ctx.client_ip.or_else(|| {
        session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip())
    });
    AccessLine {
        client,
        request_id: &ctx.request_id,
        method: req.method.as_str(),
        host: &ctx.host,
        path: req.uri.path_and_query().map_or("/", |p| p.as_str()),
        version: req.version,
        status,
        bytes: session.body_bytes_sent(),
        start: ctx.start,
        site: ctx.site.as_ref().map_or("-", |s| s.name.as_str()),
        origin: &origin,
        attempts: ctx.tried.len(),
        cache: ctx
            .cache_outcome
            .unwrap_or_else(|| session.cache.phase().as_str()),
        subrequest: !ctx.scripts_seen.is_empty() || ctx.slice.is_some(),
        rule: ctx.rule.as_ref().map(|m| m.rule.source.to_string()),
        script: ctx.hook.as_ref().map(|p| p.display().to_string()),
        html: ctx
            .html
            .as_ref()
            .and(ctx.html_profile.as_ref())
            .map(|p| p.name()),
        compression: compression_outcome(session, ctx)
            .and_then(|c| c.coding)
            .map(|c| c.token()),
        error: e.map(|e| e.to_string()),
    }
    .write();
}
