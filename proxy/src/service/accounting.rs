//! What a finished request leaves behind: its metrics and its access-log line.

use super::ctx::{RequestCtx, compression_outcome};
use crate::site::Site;
use crate::snapshot::Live;
use pingora::proxy::Session;
use std::time::Instant;

/// Counts a finished request in the metrics.
pub(crate) fn record(live: &Live, session: &Session, ctx: &RequestCtx) {
    let m = &live.metrics;
    let site = ctx.site.as_ref().map_or("-", |s| s.name.as_str());
    let status = session.response_written().map_or(0, |r| r.status.as_u16());
    let cache = if ctx.hook.is_some() {
        "script"
    } else {
        session.cache.phase().as_str()
    };
    m.requests
        .with_label_values(&[site, crate::metrics::status_class(status), cache])
        .inc();
    let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let elapsed = ctx.start.elapsed().as_secs_f64();
    let (sent, read) = (
        as_u64(session.body_bytes_sent()),
        as_u64(session.body_bytes_read()),
    );
    match ctx.site.as_ref() {
        Some(s) => {
            let meters = s
                .meters
                .get_or_init(|| crate::metrics::SiteMeters::new(m, site));
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
    if ctx.html.is_some()
        && let Some(p) = &ctx.html_profile
    {
        m.html_rewrites.with_label_values(&[p.name()]).inc();
    }
    if let Some(c) = compression_outcome(session, ctx)
        && let Some(coding) = c.coding
    {
        let token = coding.token();
        m.compressed.with_label_values(&[token]).inc();
        m.compression_bytes
            .with_label_values(&[token, "in"])
            .inc_by(c.bytes_in);
        m.compression_bytes
            .with_label_values(&[token, "out"])
            .inc_by(c.bytes_out);
    }
}

/// Counts a request the memory-hit fast path answered, in the same series as
/// [`record`] would.
pub(crate) fn record_fast_hit(
    live: &Live,
    site: &Site,
    status: u16,
    body_bytes: usize,
    start: Instant,
) {
    let m = &live.metrics;
    m.fast_hits.inc();
    let meters = site
        .meters
        .get_or_init(|| crate::metrics::SiteMeters::new(m, &site.name));
    if (200..300).contains(&status) {
        meters.hits_2xx.inc();
    } else {
        m.requests
            .with_label_values(&[&site.name, crate::metrics::status_class(status), "hit"])
            .inc();
    }
    meters.duration.observe(start.elapsed().as_secs_f64());
    meters
        .bytes_out
        .inc_by(u64::try_from(body_bytes).unwrap_or(u64::MAX));
}
