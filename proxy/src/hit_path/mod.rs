//! The memory-hit fast path: HTTP/1.1 requests that a fresh memory-tier object
//! answers as it is are served here, before pingora builds a session, runs the cache
//! state machine or rebuilds header maps; every other request (and every other
//! state of the cache) goes on to pingora's full path with the bytes already read.
//!
//! A connection's HTTP/1 requests are read here one head at a time. A head the fast
//! path takes ([`answer::Request::read`], [`answer::find`]) is answered with the
//! object's prepared head ([`prepared::Prepared`], built once per stored object)
//! plus the per-request fields, and the body, in one write when small. Anything
//! else (rules, hooks, conditionals, ranges, stale objects, `Vary` mismatches, a
//! draining node…) hands the connection to pingora for that request, and the next
//! request comes back here. HTTP/2 never comes here.

mod answer;
mod prepared;

use crate::snapshot::Live;
use bytes::BytesMut;
use pingora::apps::HttpServerApp;
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest request target the fast path reads (longer ones go to pingora's path,
/// which answers 414 beyond its own limit).
const MAX_TARGET: usize = 8 * 1024;
/// Largest request head the fast path reads; a longer one goes to pingora's path.
const MAX_HEAD: usize = 16 * 1024;
/// Bodies up to this size go out in the same write as the head.
const COALESCE: usize = 16 * 1024;
/// Request fields read at most (pingora's path takes heads with more).
const MAX_FIELDS: usize = 64;

/// Serves one HTTP/1 connection: fast hits here, everything else through `app`
/// (pingora's proxy) one request at a time.
pub(crate) async fn serve<A>(
    app: &Arc<A>,
    live: &Arc<Live>,
    mut stream: Stream,
    shutdown: &ShutdownWatch,
) where
    A: HttpServerApp + Send + Sync + 'static,
{
    let tls = stream.get_ssl_digest().is_some();
    let client_ip: Option<IpAddr> = stream
        .get_socket_digest()
        .and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = Vec::with_capacity(4096);
    let mut shutdown = shutdown.clone();
    loop {
        if *shutdown.borrow() && buf.is_empty() {
            return;
        }
        // Wait for a whole head, as long as keep-alive allows (the first head's own
        // deadline is `server.header_timeout`, kept by the guarded stream).
        let idle = live.snapshot().config.server.idle_timeout;
        let len = loop {
            if let Some(len) = head_len(&buf) {
                break Some(len);
            }
            if buf.len() > MAX_HEAD {
                break None;
            }
            let read = tokio::select! {
                biased;
                r = tokio::time::timeout(idle, stream.read_buf(&mut buf)) => r,
                _ = shutdown.changed(), if buf.is_empty() => return,
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    // Closed (or broken) before a whole head: nothing to answer.
                    return;
                }
                Ok(Ok(_)) => {}
                Err(_) if buf.is_empty() => return, // idle keep-alive ended
                Err(_) => break None,               // let pingora's path answer it
            }
        };
        let served = match len {
            Some(len) => {
                match try_serve(live, &mut stream, &buf[..len], &mut out, tls, client_ip).await {
                    Served::Yes { keepalive } => {
                        let _ = buf.split_to(len);
                        if !keepalive {
                            pingora::protocols::Shutdown::shutdown(&mut *stream).await;
                            return;
                        }
                        true
                    }
                    Served::Failed => return,
                    Served::No => false,
                }
            }
            None => false,
        };
        if served {
            continue;
        }
        // pingora's path, for this request, from the bytes read so far.
        let mut session = ServerSession::new_http1(stream);
        session.set_pipelined_prefix(buf.split());
        session.set_keepalive(if *shutdown.borrow() { None } else { Some(60) });
        session.set_keepalive_reuses_remaining(
            app.server_options().and_then(|o| o.keepalive_request_limit),
        );
        match app.process_new_http(session, &shutdown).await {
            Some(reused) => stream = reused.consume().0,
            None => return,
        }
    }
}

/// The length of the complete request head at the start of `buf`, if there is one
/// (a head ends at the first empty line).
fn head_len(buf: &[u8]) -> Option<usize> {
    // `\n\n` and `\n\r\n` both end a head (pingora's parser judges bare LFs).
    let mut i = 0;
    while let Some(at) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let end = i + at;
        match (buf.get(end + 1), buf.get(end + 2)) {
            (Some(b'\n'), _) => return Some(end + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(end + 3),
            _ => i = end + 1,
        }
    }
    None
}

enum Served {
    /// Answered; whether the connection stays open.
    Yes { keepalive: bool },
    /// Not for the fast path: pingora's path answers it.
    No,
    /// The client went away while being answered.
    Failed,
}

async fn try_serve(
    live: &Live,
    stream: &mut Stream,
    head: &[u8],
    out: &mut Vec<u8>,
    tls: bool,
    client_ip: Option<IpAddr>,
) -> Served {
    let start = Instant::now();
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut parsed = httparse::Request::new(&mut fields);
    if !matches!(parsed.parse(head), Ok(httparse::Status::Complete(n)) if n == head.len()) {
        return Served::No;
    }
    let Some(req) = answer::Request::read(&parsed) else {
        return Served::No;
    };
    if live.draining.load(Ordering::Relaxed) {
        return Served::No;
    }
    let snapshot = live.snapshot();
    let now = SystemTime::now();
    let Some((found, prepared)) = answer::find(live, &snapshot, &req, tls, client_ip, now) else {
        return Served::No;
    };
    live.in_flight.fetch_add(1, Ordering::SeqCst);
    let server = &snapshot.config.server;
    let seq = live.next_request_seq();
    let request_id = server
        .request_id_header
        .as_ref()
        .map(|name| (name, live.node_id.as_str(), seq));
    let keepalive = !req.close;
    out.clear();
    answer::write_head(out, &prepared, now, request_id, keepalive);
    let body = found.entry.body();
    let send_body = !req.head_only;
    if send_body && body.len() <= COALESCE {
        out.extend_from_slice(body);
    }
    let sent = send(
        stream,
        out,
        send_body && body.len() > COALESCE,
        body,
        server,
    )
    .await;
    live.in_flight.fetch_sub(1, Ordering::SeqCst);
    let body_bytes = if send_body { body.len() } else { 0 };
    if let Some(cache) = live.cache {
        cache.storage.record_memory_hit();
    }
    crate::service::record_fast_hit(live, &found.site, found.status, body_bytes, start);
    if snapshot.config.log.access_log {
        log_access(
            &found,
            &req,
            client_ip,
            seq,
            live,
            body_bytes,
            start,
            sent.as_ref().err(),
        );
    }
    match sent {
        Ok(()) => Served::Yes { keepalive },
        Err(_) => Served::Failed,
    }
}

/// Writes `head` (and then `body`, when `body_after`) and flushes, within the
/// client send limits of `server:` (`send_timeout`, `min_send_rate`), as pingora's
/// writer does.
async fn send(
    stream: &mut Stream,
    head: &[u8],
    body_after: bool,
    body: &bytes::Bytes,
    server: &outpost_config::ServerSettings,
) -> std::io::Result<()> {
    let total = head.len() + if body_after { body.len() } else { 0 };
    let limit = match usize::try_from(server.min_send_rate)
        .ok()
        .filter(|r| *r > 0)
    {
        Some(rate) => Duration::from_millis((total.max(rate) as u64 * 1000) / rate as u64),
        None => server.send_timeout,
    };
    let write = async {
        stream.write_all(head).await?;
        if body_after {
            stream.write_all(body).await?;
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

/// The access-log line of a fast hit: the same fields as pingora's path logs.
#[allow(clippy::too_many_arguments)]
fn log_access(
    found: &answer::Answer,
    req: &answer::Request<'_, '_>,
    client_ip: Option<IpAddr>,
    seq: u64,
    live: &Live,
    bytes: usize,
    start: Instant,
    error: Option<&std::io::Error>,
) {
    let client = client_ip.map_or_else(|| "-".to_string(), |ip| ip.to_string());
    tracing::info!(
        target: "outpost::access",
        client = %client,
        request_id = %format_args!("{}-{:x}", live.node_id, seq),
        method = if req.head_only { "HEAD" } else { "GET" },
        host = %found.host,
        path = %req.target.as_str(),
        version = ?http::Version::HTTP_11,
        status = found.status,
        bytes,
        duration_ms = start.elapsed().as_secs_f64() * 1000.0,
        site = found.site.name.as_str(),
        origin = "-",
        attempts = 0usize,
        cache = "hit",
        subrequest = false,
        error = error.map(|e| e.to_string()),
        "access"
    );
}
