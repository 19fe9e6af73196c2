//! The pass: an HTTP/1.1 GET or HEAD whose cache key is marked hit-for-pass
//! ([`crate::pass_marks`]: the origin said not to store it) goes to the origin over a
//! connection of this thread's own ([`super::origin_conns`]) and the origin's answer
//! is relayed as it arrives, with the same header policy as pingora's path (`Via`,
//! `X-Forwarded-*`, `CDN-Loop`, hop-by-hop fields, `Cache-Status`, request id) but
//! without its proxy session, cache state machine or header maps.
//!
//! Whatever this path would not relay as pingora's path does is left to that path
//! before a byte reaches the client: parent tiers and clusters, TLS and static
//! origins, a failure before the origin's head (pingora's path retries, fails over
//! and answers with its error pages), and an answer the site would compress. GET and
//! HEAD are safe to ask again, so the request then simply goes through the full path.

use super::answer::{self, Fields, Request};
use super::framing::{Chunks, Framing};
use super::origin_conns;
use super::{Served, send};
use crate::pool::OriginPool;
use crate::service::headers::{UNTRUSTED_OVERRIDES, VIA};
use crate::site::Site;
use crate::snapshot::{Live, Snapshot};
use bytes::{Buf, BytesMut};
use outpost_config::{HashOn, Origin, OriginHost};
use pingora::cache::key::CacheHashKey;
use pingora::protocols::Stream;
use pingora::upstreams::peer::Peer;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest origin response head read here; a longer one goes to pingora's path.
const MAX_HEAD: usize = 64 * 1024;
/// Origin response fields read at most (more: pingora's path).
const MAX_FIELDS: usize = 128;
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
        let key = admitted.key.primary_bin();
        // A stored copy (stale, or one another variant needs) is pingora's to judge.
        if !cache.passes.marked(&key)
            || live.draining.load(Ordering::Relaxed)
            || cache.storage.memory_entry(&key).is_some()
        {
            return None;
        }
        let site = admitted.site;
        if site.parent.is_some() || live.cluster().is_some_and(|c| c.is_lower()) {
            return None;
        }
        let pool: &OriginPool = &site.pool;
        let hash = if pool.is_hashed() {
            hash_key(&site, req, client_ip)
        } else {
            Vec::new()
        };
        let origin = pool.select(&hash, &[])?;
        let o = &pool.origins()[origin];
        if o.tls || matches!(o.origin, Origin::Static { .. }) {
            return None;
        }
        let peer = crate::service::peer_for(pool, origin);
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

/// What consistent hashing places `req` by (as `service::upstream::hash_key`).
fn hash_key(site: &Site, req: &Request<'_>, client_ip: Option<IpAddr>) -> Vec<u8> {
    match &site.hash_on {
        HashOn::Uri => req.target.as_str().as_bytes().to_vec(),
        HashOn::ClientIp => client_ip.map_or_else(Vec::new, |ip| ip.to_string().into_bytes()),
        HashOn::Header(name) => req
            .field(&name.to_ascii_lowercase())
            .map_or_else(Vec::new, <[u8]>::to_vec),
    }
}

/// Serves `req` as a pass if its key is marked; `Served::No` leaves it (untouched
/// on the client side) to pingora's path.
pub(super) async fn serve(
    live: &Live,
    stream: &mut Stream,
    req: &Request<'_>,
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
    let mut up = Vec::with_capacity(512);
    upstream_head(&mut up, req, fields, &plan, &live.node_id, (tls, client_ip));
    let Some((mut conn, mut rbuf)) = ask(&plan, &up, timeouts).await else {
        return Served::No;
    };
    let seq = live.next_request_seq();
    let server = &plan.snapshot.config.server;
    let request_id = server.request_id_header.as_ref();
    let mut out = Vec::with_capacity(1024);
    let Some(answer) = Head::read(
        &rbuf,
        req,
        &plan,
        request_id,
        (&live.node_id, seq),
        &mut out,
    ) else {
        // Asked again by the full path, which marks the key again only if its
        // answers are ones this path relays.
        if let Some(cache) = live.cache {
            cache.passes.unmark(&plan.key);
        }
        return Served::No;
    };
    // From here the client gets this answer.
    live.in_flight.fetch_add(1, Ordering::SeqCst);
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
    live.in_flight.fetch_sub(1, Ordering::SeqCst);
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

/// Sends the request head and reads the origin's response head: the connection and
/// what was read, or `None` on any failure (nothing has reached the client).
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
        loop {
            match tokio::time::timeout(timeouts.read, conn.read_buf(&mut rbuf)).await {
                Ok(Ok(n)) if n > 0 => {}
                // Closed or reset before a byte of the answer: a stale kept connection.
                Ok(Ok(_)) | Ok(Err(_)) if reused && rbuf.is_empty() => break,
                _ => return None,
            }
            match head_end(&rbuf) {
                Some(_) => return Some((conn, rbuf)),
                None if rbuf.len() > MAX_HEAD => return None,
                None => {}
            }
        }
    }
    None
}

/// Whether `buf` starts with a whole final response head (1xx interim heads before
/// it are skipped when the head is read).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut resp = httparse::Response::new(&mut fields);
        match resp.parse(buf.get(at..)?) {
            Ok(httparse::Status::Complete(n)) => {
                let code = resp.code?;
                if (100..200).contains(&code) && code != 101 {
                    at += n;
                    continue;
                }
                return Some(at + n);
            }
            // Partial, or broken (`Head::read` then sends it to pingora's path).
            Ok(httparse::Status::Partial) => return None,
            Err(_) => return Some(at),
        }
    }
}

/// The origin's final response head, rewritten for the client into `out`.
struct Head {
    status: u16,
    /// Bytes of `rbuf` up to the end of the final head (interim heads included).
    head_len: usize,
    framing: Framing,
    /// The origin keeps the connection open after this response.
    origin_keepalive: bool,
    /// Still not storable: says `no-store` or `private`, or gives no lifetime at all
    /// (no `max-age`, `s-maxage` or `Expires`: Outpost does not guess one).
    keep_mark: bool,
}

impl Head {
    /// Parses the origin's head in `rbuf` and writes the client's head (all but its
    /// `Connection` field and the blank line) into `out`; `None` for an answer this
    /// path does not relay.
    fn read(
        rbuf: &[u8],
        req: &Request<'_>,
        plan: &Plan,
        request_id: Option<&http::HeaderName>,
        (node, seq): (&str, u64),
        out: &mut Vec<u8>,
    ) -> Option<Head> {
        let mut at = 0;
        loop {
            let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
            let mut resp = httparse::Response::new(&mut fields);
            let httparse::Status::Complete(n) = resp.parse(rbuf.get(at..)?).ok()? else {
                return None;
            };
            let status = resp.code?;
            if (100..200).contains(&status) {
                if status == 101 {
                    return None;
                }
                at += n;
                continue;
            }
            let facts = crate::compress::Facts::of_fields(
                status,
                resp.headers.iter().map(|h| (h.name.as_bytes(), h.value)),
            );
            if facts.compressible(&plan.site.compression) {
                return None;
            }
            let length = content_length(&resp).ok()?;
            let framing = framing(&resp, length, req.head_only)?;
            // pingora's path says a whole 200 of known length may be asked for in
            // ranges (as nginx does), replacing the origin's word on it.
            let ranges = status == 200 && length.is_some();
            let mut origin_keepalive = resp.version == Some(1);
            let mut refused = false;
            let mut lifetime = false;
            let mut via: Option<Vec<u8>> = None;
            out.clear();
            let reason = http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .or(resp.reason)
                .unwrap_or("");
            let _ = write!(out, "HTTP/1.1 {status} {reason}\r\n");
            let named = connection_named(resp.headers);
            for h in resp.headers.iter() {
                let name = h.name;
                if name.eq_ignore_ascii_case("connection") {
                    origin_keepalive &= !h
                        .value
                        .split(|b| *b == b',')
                        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
                    continue;
                }
                if HOP_BY_HOP.iter().any(|n| name.eq_ignore_ascii_case(n))
                    || named
                        .iter()
                        .any(|n| name.as_bytes().eq_ignore_ascii_case(n))
                    || name.eq_ignore_ascii_case("cache-status")
                    || (ranges && name.eq_ignore_ascii_case("accept-ranges"))
                    || request_id.is_some_and(|r| name.eq_ignore_ascii_case(r.as_str()))
                {
                    continue;
                }
                if name.eq_ignore_ascii_case("via") {
                    via.get_or_insert_with(|| h.value.to_vec());
                    continue;
                }
                if [
                    "cache-control",
                    "cdn-cache-control",
                    "outpost-cache-control",
                ]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
                {
                    for d in h.value.split(|b| *b == b',') {
                        let d = d.trim_ascii();
                        let d = d.split(|b| *b == b'=').next().unwrap_or(d).trim_ascii();
                        refused |= d.eq_ignore_ascii_case(b"no-store")
                            || d.eq_ignore_ascii_case(b"private");
                        lifetime |= d.eq_ignore_ascii_case(b"max-age")
                            || d.eq_ignore_ascii_case(b"s-maxage");
                    }
                }
                lifetime |= name.eq_ignore_ascii_case("expires");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(h.value);
                out.extend_from_slice(b"\r\n");
            }
            // `Via` as pingora's path sends it: the first value, then this hop.
            out.extend_from_slice(b"via: ");
            if let Some(prev) = via.filter(|v| !v.is_empty()) {
                out.extend_from_slice(&prev);
                out.extend_from_slice(b", ");
            }
            let _ = write!(out, "1.1 {VIA}\r\ncache-status: outpost; fwd=miss\r\n");
            if ranges {
                out.extend_from_slice(b"accept-ranges: bytes\r\n");
            }
            if let Some(name) = request_id {
                let _ = write!(out, "{name}: {node}-{seq:x}\r\n");
            }
            return Some(Head {
                status,
                head_len: at + n,
                framing,
                origin_keepalive,
                keep_mark: refused || !lifetime,
            });
        }
    }
}

/// Response fields never passed on (RFC 9110 §7.6.1); `Transfer-Encoding` and
/// `Content-Length` are: the body is relayed with the origin's framing.
const HOP_BY_HOP: [&str; 5] = ["keep-alive", "proxy-connection", "te", "trailer", "upgrade"];

/// The field names a `Connection` field lists (also hop-by-hop).
fn connection_named<'a>(fields: &'a [httparse::Header<'a>]) -> Vec<&'a [u8]> {
    fields
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| h.value.split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .collect()
}

/// The body's length from `Content-Length` (`Err` for conflicting or broken values).
fn content_length(resp: &httparse::Response<'_, '_>) -> Result<Option<u64>, ()> {
    let mut length = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = std::str::from_utf8(h.value)
                .map_err(|_| ())?
                .trim()
                .parse()
                .map_err(|_| ())?;
            if length.is_some_and(|l| l != n) {
                return Err(());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// How the body of `resp` is framed, or `None` for framing this path does not relay
/// (both `Transfer-Encoding` and `Content-Length`, a coding other than chunked last:
/// pingora's path judges those).
fn framing(
    resp: &httparse::Response<'_, '_>,
    length: Option<u64>,
    head_only: bool,
) -> Option<Framing> {
    let status = resp.code?;
    let mut chunked = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|b| *b == b',').next()?.trim_ascii();
            chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
        }
    }
    if head_only || matches!(status, 204 | 304) {
        return Some(Framing::Empty);
    }
    match (chunked, length) {
        (Some(_), Some(_)) | (Some(false), None) => None,
        (Some(true), None) => Some(Framing::Chunked(Chunks::default())),
        (None, Some(n)) => Some(Framing::Length(n)),
        (None, None) => Some(Framing::UntilClose),
    }
}

/// The request head for the origin, as pingora's path makes it
/// (`upstream_request_filter`): hop-by-hop fields and the client's URL, scheme and
/// method overrides dropped; `X-Forwarded-For` extended; `X-Forwarded-Proto`,
/// `X-Forwarded-Host`, `Via` and `CDN-Loop` set; `Host` per `origin_host`.
fn upstream_head(
    up: &mut Vec<u8>,
    req: &Request<'_>,
    fields: &[httparse::Header<'_>],
    plan: &Plan,
    node: &str,
    (tls, client_ip): (bool, Option<IpAddr>),
) {
    let method = if req.head_only { "HEAD" } else { "GET" };
    let _ = write!(up, "{method} {} HTTP/1.1\r\n", req.target.as_str());
    let mut xff: Option<&[u8]> = None;
    let mut via: Option<&[u8]> = None;
    for h in fields {
        let name = h.name;
        let dropped = [
            "host",
            "connection",
            "keep-alive",
            "proxy-connection",
            "x-forwarded-proto",
            "x-forwarded-host",
        ]
        .iter()
        .chain(UNTRUSTED_OVERRIDES)
        .any(|n| name.eq_ignore_ascii_case(n));
        if dropped {
            continue;
        }
        if name.eq_ignore_ascii_case("x-forwarded-for") && client_ip.is_some() {
            xff.get_or_insert(h.value);
            continue;
        }
        if name.eq_ignore_ascii_case("via") {
            via.get_or_insert(h.value);
            continue;
        }
        up.extend_from_slice(name.as_bytes());
        up.extend_from_slice(b": ");
        up.extend_from_slice(h.value);
        up.extend_from_slice(b"\r\n");
    }
    let o = &plan.site.pool.origins()[plan.origin];
    up.extend_from_slice(b"Host: ");
    match plan.site.origin_host {
        OriginHost::Preserve => up.extend_from_slice(req.raw_host.as_bytes()),
        OriginHost::Origin => {
            if o.host.contains(':') {
                let _ = write!(up, "[{}]", o.host);
            } else {
                up.extend_from_slice(o.host.as_bytes());
            }
            if o.port != 80 {
                let _ = write!(up, ":{}", o.port);
            }
        }
    }
    up.extend_from_slice(b"\r\n");
    if let Some(ip) = client_ip {
        up.extend_from_slice(b"x-forwarded-for: ");
        if let Some(prev) = xff.filter(|v| !v.trim_ascii().is_empty()) {
            up.extend_from_slice(prev);
            up.extend_from_slice(b", ");
        }
        let _ = write!(up, "{ip}\r\n");
    }
    let proto = if tls { "https" } else { "http" };
    let _ = write!(
        up,
        "x-forwarded-proto: {proto}\r\nx-forwarded-host: {}\r\nvia: ",
        plan.host
    );
    if let Some(prev) = via {
        up.extend_from_slice(prev);
        up.extend_from_slice(b", ");
    }
    let _ = write!(up, "1.1 {VIA}\r\ncdn-loop: {VIA}; id={node}\r\n\r\n");
}

/// Sends the head in `out` with the body bytes already read, then relays the rest of
/// the body. Returns the body bytes sent and whether the origin connection can be
/// used again (its response read exactly to the end), or the bytes sent and the
/// error that cut the body short.
async fn relay(
    client: &mut Stream,
    origin: &mut Stream,
    mut rbuf: BytesMut,
    mut out: Vec<u8>,
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
    send(client, &out, None, server)
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
    crate::service::AccessLine {
        client: client_ip,
        request_id: &format_args!("{}-{:x}", live.node_id, seq),
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
