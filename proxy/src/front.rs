//! What answers a client's request before pingora's proxy does: each request of an
//! HTTP/1 connection, read here one head at a time ([`serve`]), and each HTTP/2
//! stream ([`FastPath`]) goes to the first path that takes it — the memory-hit fast
//! path (`hit_path`), the hook lane (`hook_lane`: a hooked GET or HEAD) — or else to
//! pingora's full path for that one request (over HTTP/1 with the bytes already read;
//! the next request starts here again).

use crate::hit_path::{self, MAX_HEAD, Served};
use crate::snapshot::Live;
use bytes::BytesMut;
use pingora::apps::HttpServerApp;
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

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
    // One keep-alive timer for the connection's life, moved forward per request: a
    // timer created and dropped per request takes the runtime's timer-wheel lock
    // twice, while moving a registered deadline later is an atomic store.
    let mut idle_timer = Box::pin(tokio::time::sleep(Duration::from_secs(3600)));
    loop {
        if *shutdown.borrow() && buf.is_empty() {
            return;
        }
        // Wait for a whole head, as long as keep-alive allows (the first head's own
        // deadline is `server.header_timeout`, kept by the guarded stream).
        let idle = live.snapshot().config.server.idle_timeout;
        idle_timer
            .as_mut()
            .reset(tokio::time::Instant::now() + idle);
        let len = loop {
            if let Some(len) = head_len(&buf) {
                break Some(len);
            }
            if buf.len() > MAX_HEAD {
                break None;
            }
            let read = tokio::select! {
                biased;
                r = stream.read_buf(&mut buf) => Some(r),
                _ = &mut idle_timer => None,
                _ = shutdown.changed(), if buf.is_empty() => return,
            };
            match read {
                Some(Ok(0)) | Some(Err(_)) => {
                    // Closed (or broken) before a whole head: nothing to answer.
                    return;
                }
                Some(Ok(_)) => {}
                None if buf.is_empty() => return, // idle keep-alive ended
                None => break None,               // let pingora's path answer it
            }
        };
        let served = match len {
            Some(len) => {
                match answer(live, &mut stream, &buf[..len], &mut out, (tls, client_ip)).await {
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
    while let Some(at) = memchr::memchr(b'\n', buf.get(i..)?) {
        let end = i + at;
        match (buf.get(end + 1), buf.get(end + 2)) {
            (Some(b'\n'), _) => return Some(end + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(end + 3),
            _ => i = end + 1,
        }
    }
    None
}

/// The first of the fast path and the hook lane that answers the request in `head`
/// (a whole head); [`Served::No`] when neither does.
async fn answer(
    live: &Arc<Live>,
    stream: &mut Stream,
    head: &[u8],
    out: &mut Vec<u8>,
    (tls, client_ip): (bool, Option<IpAddr>),
) -> Served {
    let start = Instant::now();
    let mut fields = hit_path::field_room();
    let Some(req) = hit_path::parse_head(head, &mut fields) else {
        return Served::No;
    };
    match hit_path::try_serve(live, stream, &req, out, (tls, client_ip, start)).await {
        Served::No => {
            crate::hook_lane::try_serve(live, stream, &req, out, (tls, client_ip, start)).await
        }
        served => served,
    }
}

/// pingora's HTTP app with the fast path and the hook lane in front of each HTTP/2
/// stream (HTTP/1 connections come through [`serve`], which calls this for what
/// neither answers).
pub struct FastPath<A> {
    inner: Arc<A>,
    live: Arc<Live>,
}

impl<A> FastPath<A> {
    /// Wraps pingora's proxy app (and gives the process one pool of idle origin
    /// connections, which the pass and pingora's proxy share).
    pub fn new(inner: Arc<A>, live: Arc<Live>) -> Self {
        hit_path::origin_conns::install();
        FastPath { inner, live }
    }
}

#[async_trait::async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> HttpServerApp for FastPath<A> {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<pingora::apps::ReusedHttpStream> {
        if session.is_http2() {
            let served = match hit_path::try_serve_h2(&self.live, &mut session).await {
                Served::No => crate::hook_lane::try_serve_h2(&self.live, &mut session).await,
                served => served,
            };
            match served {
                Served::Yes { .. } => {
                    let _ = session.finish().await;
                    return None;
                }
                Served::Failed => return None,
                Served::No => {}
            }
        }
        self.inner.process_new_http(session, shutdown).await
    }

    fn h2_options(&self) -> Option<pingora::protocols::http::v2::server::H2Options> {
        self.inner.h2_options()
    }

    fn server_options(&self) -> Option<&pingora::apps::HttpServerOptions> {
        self.inner.server_options()
    }

    async fn http_cleanup(&self) {
        self.inner.http_cleanup().await
    }

    async fn process_custom_session(
        self: Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        self.inner
            .clone()
            .process_custom_session(stream, shutdown)
            .await
    }
}
