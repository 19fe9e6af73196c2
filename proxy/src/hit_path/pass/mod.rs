//! The pass: an HTTP/1.1 GET or HEAD whose cache key is marked hit-for-pass
//! ([`crate::pass_marks`]: the origin said not to store it) goes to the origin over a
//! pooled connection ([`super::origin_conns`], shared with pingora's proxy) and the
//! origin's answer
//! is relayed as it arrives, with the same header policy as pingora's path (`Via`,
//! `X-Forwarded-*`, `CDN-Loop`, hop-by-hop fields, `Cache-Status`, request id) but
//! without its proxy session, cache state machine or header maps.
//!
//! Whatever this path would not relay as pingora's path does is left to that path
//! before a byte reaches the client: parent tiers and clusters, TLS and static
//! origins, a failure before the origin's head (pingora's path retries, fails over
//! and answers with its error pages), and an answer the site would compress. GET and
//! HEAD are safe to ask again, so the request then simply goes through the full path.

mod heads;

use super::answer::{self, Fields, Request};
use super::framing::Framing;
use super::origin_conns;
use super::{Served, send};
use crate::pool::OriginPool;
use crate::site::Site;
use crate::snapshot::{Live, Snapshot};
use bytes::{Buf, BytesMut};
use heads::{Head, Parsed, upstream_head};
use outpost_config::Origin;
use pingora::protocols::Stream;
use pingora::upstreams::peer::Peer;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest origin response head read here; a longer one goes to pingora's path.
const MAX_HEAD: usize = 64 * 1024;
/// What the access log and metrics call a response the cache did not store, as
/// pingora's path does (its cache phase after an uncacheable answer).
const CACHE_LABEL: &str = "disabled";

/// Where a marked request goes: everything decided before a byte is sent.
struct Plan {
    snapshot: Arc<Snapshot>,
    site: Arc<Site>,
    host: String,
    key: [u8; 16],
    origin: usize,
    addr: SocketAddr,
    /// The origin connection's `reuse_hash`, as pingora's path keys it (the two
    /// share idle connections).
    reuse: u64,
}

impl Plan {
    /// The pass for an admitted request with nothing in the memory tier, if its key is
    /// marked and nothing about the site needs pingora's path.
    fn find(
        live: &Live,
        snapshot: Arc<Snapshot>,
        req: &Request<'_>,
        admitted: answer::Admitted,
        client_ip: Option<IpAddr>,
    ) -> Option<Plan> {
        let cache = live.cache?;
        let key = admitted.key_bin;
        // A stored copy (stale, or one another variant needs) is pingora's to judge.
        if !cache.passes.marked(&key)
            || live.draining.load(Ordering::Relaxed)
            || (!admitted.none_stored && cache.storage.memory_entry(&key).is_some())
        {
            return None;
        }
        let site = admitted.site;
        if site.parent.is_some() || live.cluster().is_some_and(|c| c.is_lower()) {
            return None;
        }
        let pool: &OriginPool = &site.pool;
        let hash = if pool.is_hashed() {
            let target = req.target.as_str();
            crate::upstream::hash_key(&site, target, client_ip, |n| {
                req.field(&n.to_ascii_lowercase())
            })
        } else {
            Vec::new()
        };
        let origin = pool.select(&hash, &[])?;
        let o = &pool.origins()[origin];
        if o.tls || matches!(o.origin, Origin::Static { .. }) {
            return None;
        }
        let peer = crate::upstream::peer_for(pool, origin);
        Some(Plan {
            addr: peer._address.as_inet().copied()?,
            reuse: peer.reuse_hash(),
            snapshot,
            site: site.clone(),
            host: admitted.host,
            key,
            origin,
        })
    }
}

/// Serves `req` as a pass if its key is marked; `Served::No` leaves it (untouched
/// on the client side) to pingora's path. `out` is the connection's buffer for what
/// is written (the origin's request, then the client's head).
pub(super) async fn serve(
    live: &Live,
    stream: &mut Stream,
    req: &Request<'_>,
    out: &mut Vec<u8>,
    admitted: answer::Admitted,
    (tls, client_ip, start): (bool, Option<IpAddr>, Instant),
) -> Served {
    let snapshot = live.snapshot();
    let Some(plan) = Plan::find(live, snapshot, req, admitted, client_ip) else {
        return Served::No;
    };
    let Fields::Wire(fields) = req.fields else {
        return Served::No;
    };
    let timeouts = &plan.site.pool.timeouts;
    out.clear();
    upstream_head(
        out,
        req,
        fields,
        (&plan.site, plan.origin, &plan.host),
        &live.node_id,
        (tls, client_ip),
    );
    let Some((mut conn, mut rbuf)) = ask(&plan, out, timeouts).await else {
        return Served::No;
    };
    let seq = live.next_request_seq();
    let server = &plan.snapshot.config.server;
    let request_id = server.request_id_header.as_ref();
    let answer = loop {
        match Head::read(
            &rbuf,
            req,
            &plan.site,
            request_id,
            (&live.node_id, seq),
            out,
        ) {
            Parsed::Head(head) => break head,
            Parsed::Partial if rbuf.len() <= MAX_HEAD => {}
            Parsed::Partial => return Served::No,
            Parsed::Refused => {
                // Asked again by the full path, which marks the key again only if its
                // answers are ones this path relays.
                if let Some(cache) = live.cache {
                    cache.passes.unmark(&plan.key);
                }
                return Served::No;
            }
        }
        match tokio::time::timeout(timeouts.read, conn.read_buf(&mut rbuf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Served::No,
        }
    };
    // From here the client gets this answer.
    let in_flight = live.enter_request();
    if let Some(cache) = live.cache
        && !answer.keep_mark
    {
        // Maybe storable now: the next request takes the full path, which decides.
        cache.passes.unmark(&plan.key);
    }
    let pool = &plan.site.pool;
    pool.record_success(plan.origin);
    let meters = plan.site.meters(&live.metrics);
    meters
        .origin_duration
        .observe(start.elapsed().as_secs_f64());
    rbuf.advance(answer.head_len);
    let keepalive = !req.close && !matches!(answer.framing, Framing::UntilClose);
    out.extend_from_slice(if keepalive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    let relayed = relay(
        stream,
        &mut conn,
        rbuf,
        out,
        answer.framing,
        timeouts,
        server,
    )
    .await;
    let (body_bytes, error) = match relayed {
        Ok((bytes, reusable)) => {
            if reusable && answer.origin_keepalive {
                origin_conns::put(plan.reuse, conn, timeouts.idle);
            }
            (bytes, None)
        }
        Err((bytes, e)) => (bytes, Some(e)),
    };
    drop(in_flight);
    record(
        live,
        &plan,
        req,
        (answer.status, body_bytes, start),
        client_ip,
        seq,
        error.clone(),
    );
    match error {
        None if keepalive => Served::Yes { keepalive: true },
        None => Served::Yes { keepalive: false },
        Some(_) => Served::Failed,
    }
}

/// Sends the request head and reads the first bytes of the origin's answer: the
/// connection and what was read, or `None` on any failure (nothing has reached the
/// client).
async fn ask(
    plan: &Plan,
    up: &[u8],
    timeouts: &outpost_config::Timeouts,
) -> Option<(Stream, BytesMut)> {
    // A kept connection the origin closed meanwhile fails at once: one new try.
    let kept = origin_conns::take(plan.reuse);
    let tries = [kept.is_some(), false];
    let mut kept = kept;
    for reused in tries {
        let mut conn = match kept.take() {
            Some(c) => c,
            None => origin_conns::connect(plan.addr, timeouts.connect)
                .await
                .ok()?,
        };
        let sent = tokio::time::timeout(timeouts.write, async {
            conn.write_all(up).await?;
            conn.flush().await
        })
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            if reused {
                continue;
            }
            return None;
        }
        let mut rbuf = BytesMut::with_capacity(8 * 1024);
        match tokio::time::timeout(timeouts.read, conn.read_buf(&mut rbuf)).await {
            Ok(Ok(n)) if n > 0 => return Some((conn, rbuf)),
            // Closed or reset before a byte of the answer: a stale kept connection.
            Ok(Ok(_)) | Ok(Err(_)) if reused => {}
            _ => return None,
        }
    }
    None
}

/// Sends the head in `out` with the body bytes already read, then relays the rest of
/// the body. Returns the body bytes sent and whether the origin connection can be
/// used again (its response read exactly to the end), or the bytes sent and the
/// error that cut the body short.
async fn relay(
    client: &mut Stream,
    origin: &mut Stream,
    mut rbuf: BytesMut,
    out: &mut Vec<u8>,
    mut framing: Framing,
    timeouts: &outpost_config::Timeouts,
    server: &outpost_config::ServerSettings,
) -> Result<(usize, bool), (usize, String)> {
    let deadline = timeouts.body.map(|b| Instant::now() + b);
    let (n, mut done) = framing
        .advance(&rbuf)
        .map_err(|_| (0, "origin sent broken chunked framing".to_string()))?;
    let mut extra = rbuf.len() > n;
    out.extend_from_slice(&rbuf[..n]);
    let mut sent = n;
    send(client, out, None, server)
        .await
        .map_err(|e| (0, e.to_string()))?;
    while !done {
        rbuf.clear();
        let wait = match deadline {
            Some(d) => timeouts
                .read
                .min(d.saturating_duration_since(Instant::now())),
            None => timeouts.read,
        };
        let read = match tokio::time::timeout(wait, origin.read_buf(&mut rbuf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err((sent, format!("origin read failed: {e}"))),
            Err(_) => return Err((sent, "origin read timed out".to_string())),
        };
        if read == 0 {
            if matches!(framing, Framing::UntilClose) {
                client.flush().await.map_err(|e| (sent, e.to_string()))?;
                return Ok((sent, false));
            }
            return Err((sent, "origin closed the connection mid-body".to_string()));
        }
        let (n, end) = framing
            .advance(&rbuf)
            .map_err(|_| (sent, "origin sent broken chunked framing".to_string()))?;
        done = end;
        extra |= rbuf.len() > n;
        send(client, &rbuf[..n], None, server)
            .await
            .map_err(|e| (sent, e.to_string()))?;
        sent += n;
    }
    Ok((sent, !extra))
}

/// Counts the pass and writes its access-log line, as pingora's path would for the
/// same answer.
fn record(
    live: &Live,
    plan: &Plan,
    req: &Request<'_>,
    (status, bytes, start): (u16, usize, Instant),
    client_ip: Option<IpAddr>,
    seq: u64,
    error: Option<String>,
) {
    let m = &live.metrics;
    m.fast_passes.inc();
    m.by_protocol.count(req.version);
    let meters = plan.site.meters(m);
    if (200..300).contains(&status) {
        meters.passes_2xx.inc();
    } else {
        m.requests
            .with_label_values(&[
                &plan.site.name,
                crate::metrics::status_class(status),
                CACHE_LABEL,
            ])
            .inc();
    }
    meters.duration.observe(start.elapsed().as_secs_f64());
    meters
        .bytes_out
        .inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
    if !plan.snapshot.config.log.access_log {
        return;
    }
    let origin = plan.site.pool.origins()[plan.origin].label();
    crate::access_log::AccessLine {
        client: client_ip,
        request_id: &crate::request_id::RequestId {
            node: &live.node_id,
            seq,
        },
        method: if req.head_only { "HEAD" } else { "GET" },
        host: &plan.host,
        path: req.target.as_str(),
        version: http::Version::HTTP_11,
        status,
        bytes,
        start,
        site: &plan.site.name,
        origin: &origin,
        attempts: 1,
        cache: CACHE_LABEL,
        subrequest: false,
        rule: None,
        script: None,
        html: None,
        compression: None,
        error,
    }
    .write();
}
