//! The memory-hit fast path: HTTP/1.1 and HTTP/2 requests that a fresh memory-tier
//! object answers as it is are served here, before pingora builds its proxy session,
//! runs the cache state machine or rebuilds header maps; every other request (and
//! every other state of the cache) goes on to pingora's full path.
//!
//! A connection's HTTP/1 requests are read one head at a time by `front`, which
//! offers each to [`try_serve`] first. A head the fast path takes
//! ([`answer::Request::read`], [`answer::find`]) is answered with the object's
//! prepared head ([`prepared::Prepared`], built once per stored object) plus the
//! per-request fields, and the body, in one write when small. Anything else (rules,
//! hooks, conditionals, ranges, stale objects, `Vary` mismatches, a draining node…)
//! goes on to the hook lane or pingora's full path for that request. HTTP/2 streams
//! arrive already parsed by pingora and get the same check ([`try_serve_h2`], from
//! `front::FastPath`); their
//! answer goes through pingora's HTTP/2 writer.
//!
//! An HTTP/1 request the fast path admits but has no object for may still be its
//! own: when the origin last said not to store that key (hit-for-pass,
//! [`crate::pass_marks`]), [`pass`] relays the origin's answer itself.

mod answer;
mod framing;
mod head;
pub(crate) mod in_process;
pub mod origin_conns;
mod pass;
mod prepared;

pub(crate) use answer::{Logged, Request, find_rule, only_binds_script};

use crate::request_id::RequestId;
use crate::snapshot::Live;
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::AsyncWriteExt;

/// Largest request head the fast path reads; a longer one goes to pingora's path.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Bodies up to this size go out in the same write as the head.
const COALESCE: usize = 16 * 1024;
/// Request fields read at most (pingora's path takes heads with more).
const MAX_FIELDS: usize = 64;

/// Whether a path answered an HTTP/1 request.
pub(crate) enum Served {
    /// Answered; whether the connection stays open.
    Yes { keepalive: bool },
    /// Not for the fast path: pingora's path answers it.
    No,
    /// The client went away while being answered.
    Failed,
}

/// Everything a fast hit needs once it is found: the answer and its accounting.
struct Hit {
    found: answer::Answer,
    prepared: Arc<prepared::Prepared>,
    snapshot: Arc<crate::snapshot::Snapshot>,
    seq: u64,
    now: SystemTime,
    start: Instant,
    _in_flight: crate::snapshot::InFlight,
}

impl Hit {
    /// Finds the fast answer to `req`, if there is one (and counts it in flight);
    /// otherwise the request back if the fast path may still pass it to the origin
    /// (by value: boxing it would allocate on every miss).
    #[allow(clippy::result_large_err)]
    fn find(
        live: &Live,
        req: &answer::Request<'_>,
        tls: bool,
        client_ip: Option<IpAddr>,
        start: Instant,
    ) -> Result<Hit, Option<answer::Admitted>> {
        if live.draining.load(Ordering::Relaxed) {
            return Err(None);
        }
        let snapshot = live.snapshot();
        let now = SystemTime::now();
        let who = (tls, client_ip, answer::Asker::Client);
        let admitted = answer::admit(live, &snapshot, req, who).ok_or(None)?;
        let (found, prepared) =
            answer::lookup(live, &snapshot, req, admitted, who.2, now).map_err(Some)?;
        Ok(Hit {
            found,
            prepared,
            snapshot,
            seq: live.next_request_seq(),
            now,
            start,
            _in_flight: live.enter_request(),
        })
    }

    fn request_id<'l>(&self, live: &'l Live) -> Option<(http::HeaderName, &'l str, u64)> {
        self.snapshot
            .config
            .server
            .request_id_header
            .clone()
            .map(|name| (name, live.node_id.as_str(), self.seq))
    }

    /// Counts and logs the answered request.
    fn done(
        self,
        live: &Live,
        req: &answer::Logged<'_>,
        client_ip: Option<IpAddr>,
        body_bytes: usize,
        error: Option<String>,
    ) {
        record_answer(
            live,
            &self.snapshot,
            (&self.found, self.prepared.status, self.start),
            Asked {
                client: client_ip,
                request_id: &RequestId {
                    node: &live.node_id,
                    seq: self.seq,
                },
                logged: req,
                subrequest: false,
            },
            body_bytes,
            error,
        );
    }
}

/// Who a fast answer went to, as its access-log line names them.
pub(super) struct Asked<'a> {
    pub(super) client: Option<IpAddr>,
    pub(super) request_id: &'a dyn std::fmt::Display,
    pub(super) logged: &'a answer::Logged<'a>,
    /// A script's `fetch()`, not a client.
    pub(super) subrequest: bool,
}

/// Counts a fast answer (a memory-tier hit, in its site's series) and writes its
/// access-log line: the same line pingora's path writes for a hit.
pub(super) fn record_answer(
    live: &Live,
    snapshot: &crate::snapshot::Snapshot,
    (found, status, start): (&answer::Answer, u16, Instant),
    asked: Asked<'_>,
    bytes: usize,
    error: Option<String>,
) {
    if let Some(cache) = live.cache {
        cache.storage.record_memory_hit();
    }
    record_fast_hit(
        live,
        &found.site,
        // (A script's fetch was made by no client: no protocol to count.)
        (status, (!asked.subrequest).then_some(asked.logged.version)),
        bytes,
        start,
    );
    if !snapshot.config.log.access_log {
        return;
    }
    crate::access_log::AccessLine {
        client: asked.client,
        request_id: asked.request_id,
        method: if asked.logged.head_only {
            "HEAD"
        } else {
            "GET"
        },
        host: &found.host,
        path: asked.logged.path,
        version: asked.logged.version,
        status,
        bytes,
        start,
        site: &found.site.name,
        origin: "-",
        attempts: 0,
        cache: "hit",
        subrequest: asked.subrequest,
        rule: None,
        script: None,
        html: None,
        compression: None,
        error,
    }
    .write();
}

/// The fast path's whole answer to one HTTP/1 request head, without the socket: the
/// response bytes (head, and the body when small) in `out`, or `false` when pingora's
/// full path must answer. The request is counted as a hit as if it had been sent.
/// For benchmarks; the server goes through [`serve`].
pub fn answer_bytes(live: &Live, head: &[u8], out: &mut Vec<u8>) -> bool {
    let mut fields = field_room();
    let Some(req) = parse_head(head, &mut fields) else {
        return false;
    };
    let Ok((hit, _, body_bytes)) = answer_h1(live, &req, out, false, None, Instant::now()) else {
        return false;
    };
    hit.done(live, &req.logged(), None, body_bytes, None);
    true
}

/// `head` (a whole request head) as the fast path reads it, or `None` when it is not
/// for the fast path (or does not parse: pingora's path answers that).
pub(crate) fn parse_head<'a>(
    head: &'a [u8],
    fields: &'a mut [MaybeUninit<httparse::Header<'a>>],
) -> Option<answer::Request<'a>> {
    // (Uninitialised fields: httparse fills those it uses, and zeroing all of them
    // was a measurable part of a small hit.)
    let mut parsed = httparse::Request::new(&mut []);
    let complete = parsed.parse_with_uninit_headers(head, fields);
    if !matches!(complete, Ok(httparse::Status::Complete(n)) if n == head.len()) {
        return None;
    }
    answer::Request::read(parsed)
}

/// Room for a request head's fields, for [`parse_head`].
pub(crate) fn field_room<'a>() -> [MaybeUninit<httparse::Header<'a>>; MAX_FIELDS] {
    [const { MaybeUninit::uninit() }; MAX_FIELDS]
}

/// Finds the answer to `req` and writes its head (and a small body) into `out`;
/// returns the hit, whether the body is still to be sent, and the body bytes (or what
/// [`Hit::find`] gave back).
#[allow(clippy::result_large_err)]
fn answer_h1(
    live: &Live,
    req: &answer::Request<'_>,
    out: &mut Vec<u8>,
    tls: bool,
    client_ip: Option<IpAddr>,
    start: Instant,
) -> Result<(Hit, bool, usize), Option<answer::Admitted>> {
    let hit = Hit::find(live, req, tls, client_ip, start)?;
    out.clear();
    let request_id = hit.request_id(live);
    head::write_head(
        out,
        &hit.prepared,
        hit.now,
        request_id.as_ref().map(|(n, node, seq)| (n, *node, *seq)),
        hit.snapshot.config.listen.alt_svc.as_ref(),
        !req.close,
    );
    let body = hit.found.entry.body();
    let send_body = !req.head_only;
    if send_body && hit.prepared.chunked && !body.is_empty() {
        crate::wire::put_hex(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    let body_after = send_body && body.len() > COALESCE;
    if send_body && !body_after {
        out.extend_from_slice(body);
        out.extend_from_slice(chunk_tail(&hit.prepared, body.len()));
    }
    let body_bytes = if send_body { body.len() } else { 0 };
    Ok((hit, body_after, body_bytes))
}

/// What follows the body of a chunked answer: the end of its one chunk (if it had
/// one) and the last chunk.
fn chunk_tail(prepared: &prepared::Prepared, body_len: usize) -> &'static [u8] {
    match (prepared.chunked, body_len) {
        (false, _) => b"",
        (true, 0) => b"0\r\n\r\n",
        (true, _) => b"\r\n0\r\n\r\n",
    }
}

/// Answers `req` from the memory tier (or relays it, for a key marked hit-for-pass);
/// [`Served::No`] when pingora's path or the hook lane must answer it.
pub(crate) async fn try_serve(
    live: &Live,
    stream: &mut Stream,
    req: &Request<'_>,
    out: &mut Vec<u8>,
    (tls, client_ip, start): (bool, Option<IpAddr>, Instant),
) -> Served {
    let (hit, body_after, body_bytes) = match answer_h1(live, req, out, tls, client_ip, start) {
        Ok(hit) => hit,
        Err(Some(admitted)) => {
            return pass::serve(live, stream, req, out, admitted, (tls, client_ip, start)).await;
        }
        Err(None) => return Served::No,
    };
    let keepalive = !req.close;
    let body = hit.found.entry.body().clone();
    let server = &hit.snapshot.config.server;
    let tail = chunk_tail(&hit.prepared, body.len());
    let sent = send(stream, out, body_after.then_some((&body, tail)), server).await;
    let error = sent.as_ref().err().map(ToString::to_string);
    hit.done(live, &req.logged(), client_ip, body_bytes, error);
    match sent {
        Ok(()) => Served::Yes { keepalive },
        Err(_) => Served::Failed,
    }
}

/// Whether an HTTP/2 stream came over TLS, and from which address.
pub(crate) fn client_of(session: &ServerSession) -> (bool, Option<IpAddr>) {
    let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
    let client_ip = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip());
    (tls, client_ip)
}

/// The fast path for one HTTP/2 stream: the head goes through pingora's HTTP/2
/// writer (HPACK), built from the prepared head.
pub(crate) async fn try_serve_h2(live: &Live, session: &mut ServerSession) -> Served {
    let start = Instant::now();
    let (tls, client_ip) = client_of(session);
    // What the log needs of the request, owned: the writes below borrow the session.
    let (hit, head_only, version, target, resp) = {
        let Some(req) = answer::Request::from_header(session.req_header()) else {
            return Served::No;
        };
        let Ok(hit) = Hit::find(live, &req, tls, client_ip, start) else {
            return Served::No;
        };
        let request_id = hit
            .request_id(live)
            .map(|(name, node, seq)| (name, RequestId { node, seq }.shared()));
        let resp = head::response_header(
            &hit.prepared,
            hit.now,
            request_id.as_ref().map(|(n, id)| (n, &**id)),
        );
        (hit, req.head_only, req.version, req.target.clone(), resp)
    };
    let Some(resp) = resp else {
        // An answer found but not sent: pingora's path takes the request (and counts
        // it in flight itself).
        drop(hit);
        return Served::No;
    };
    let body = hit.found.entry.body().clone();
    let body_bytes = if head_only { 0 } else { body.len() };
    let server = &hit.snapshot.config.server;
    let write = async {
        session.write_response_header(Box::new(resp)).await?;
        if !head_only {
            session.write_response_body(body, true).await?;
        }
        Ok::<_, Box<pingora::Error>>(())
    };
    let sent = match tokio::time::timeout(server.send_timeout, write).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("client did not read the response in time".to_string()),
    };
    let error = sent.as_ref().err().cloned();
    let logged = answer::Logged {
        head_only,
        version,
        path: target.as_str(),
    };
    hit.done(live, &logged, client_ip, body_bytes, error);
    match sent {
        Ok(()) => Served::Yes { keepalive: true },
        Err(_) => Served::Failed,
    }
}

/// Writes `head` (and then a large body and what follows it) and flushes, within the
/// client send limits of `server:` (`send_timeout`, `min_send_rate`), as pingora's
/// writer does.
pub(crate) async fn send(
    stream: &mut Stream,
    head: &[u8],
    body_after: Option<(&bytes::Bytes, &[u8])>,
    server: &outpost_config::ServerSettings,
) -> std::io::Result<()> {
    let total = head.len() + body_after.map_or(0, |(b, t)| b.len() + t.len());
    let limit = match usize::try_from(server.min_send_rate)
        .ok()
        .filter(|r| *r > 0)
    {
        Some(rate) => Duration::from_millis((total.max(rate) as u64 * 1000) / rate as u64),
        None => server.send_timeout,
    };
    let write = async {
        stream.write_all(head).await?;
        if let Some((body, tail)) = body_after {
            stream.write_all(body).await?;
            stream.write_all(tail).await?;
        }
        stream.flush().await
    };
    // The timer is only armed if the write has to wait.
    match tokio::time::timeout(limit, write).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "client did not read the response in time",
        )),
    }
}

/// Counts a request the memory-hit fast path answered, in the same series as
/// `service`'s accounting would.
pub(crate) fn record_fast_hit(
    live: &Live,
    site: &crate::site::Site,
    (status, version): (u16, Option<http::Version>),
    body_bytes: usize,
    start: Instant,
) {
    let m = &live.metrics;
    m.fast_hits.inc();
    if let Some(version) = version {
        m.by_protocol.count(version);
    }
    let meters = site.meters(m);
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
