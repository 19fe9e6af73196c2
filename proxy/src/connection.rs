//! Client connections before and around HTTP: how many may be open (globally and per
//! address) and how long an HTTP/1 request head may take to arrive.
//!
//! pingora reads request heads itself and times each `read` separately, so a client
//! that sends one byte every few seconds (slowloris) keeps a connection forever, and
//! it has no connection cap. Both are added here by wrapping pingora's proxy app
//! ([`Guarded`]) and each accepted stream ([`GuardedStream`]); the proxy itself is
//! unchanged. Per-request limits (body, send rate, idle keep-alive) are pingora
//! session settings, applied in `service.rs`.

use crate::admission::Permit;
use crate::snapshot::Live;
use async_trait::async_trait;
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::l4::socket::SocketAddr;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::TlsRef;
use pingora::protocols::{
    ALPN, GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    Stream, TimingDigest, UniqueID, UniqueIDType,
};
use pingora::server::ShutdownWatch;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

/// pingora's proxy app with connection caps and a request-head deadline in front.
pub struct Guarded<A> {
    inner: Arc<A>,
    live: Arc<Live>,
}

impl<A> Guarded<A> {
    /// Wraps `inner`, reading the limits from `live`'s current config on every accept
    /// (so they follow reloads).
    pub fn new(inner: A, live: Arc<Live>) -> Self {
        Guarded {
            inner: Arc::new(inner),
            live,
        }
    }
}

/// Sent to a connection over a cap: HTTP/1 clients see why, and when to retry.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 33\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections, try again.\n";

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // A kept-alive connection comes back here for its next request: it already
        // holds its permit and deadline.
        if stream.as_any().is::<GuardedStream>() {
            return self.inner.process_new(stream, shutdown).await;
        }
        // Static origins are served on this (the request) runtime; the first
        // connection starts them, so health probes find them answering early.
        crate::static_origin::start_waiting();
        let server = &self.live.snapshot().config.server;
        let ip = stream
            .get_socket_digest()
            .and_then(|d| d.peer_addr().and_then(SocketAddr::as_inet).map(|a| a.ip()));
        let permit = match self.live.admission.admit(
            ip,
            server.max_connections,
            server.max_connections_per_ip,
        ) {
            Ok(permit) => permit,
            Err(refusal) => {
                self.live
                    .metrics
                    .connections_refused
                    .with_label_values(&[refusal.as_str()])
                    .inc();
                tracing::warn!(client = ?ip, cap = refusal.as_str(), "connection refused: over the connection limit");
                if stream.selected_alpn_proto() != Some(ALPN::H2) {
                    // Best effort: a client that does not read gets the close alone.
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        let _ = stream.write_all(OVER_CAPACITY).await;
                        let _ = stream.flush().await;
                    })
                    .await;
                }
                Shutdown::shutdown(&mut *stream).await;
                return None;
            }
        };
        let header_timeout = server.header_timeout;
        let h2c = self.inner.server_options().is_some_and(|o| o.h2c);
        let http1 = match stream.selected_alpn_proto() {
            Some(ALPN::H1) => true,
            None => stream.get_ssl_digest().is_some() || !h2c,
            _ => false,
        };
        let guarded = GuardedStream::new(stream, permit, header_timeout, self.live.clone());
        if http1 {
            // HTTP/1: memory hits are answered before pingora's session; the rest
            // goes to pingora request by request.
            crate::front::serve(&self.inner, &self.live, Box::new(guarded), shutdown).await;
            return None;
        }
        self.inner.process_new(Box::new(guarded), shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}

/// Where a connection is in its HTTP/1 exchange, as far as the head deadline cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests; the keep-alive timeout (pingora's) governs.
    Idle,
    /// A request head is arriving and must be complete by the deadline.
    Head,
    /// The head is in; the body and response follow (their own timeouts apply).
    Message,
    /// HTTP/2 or an upgraded (`101`) connection: not HTTP/1 heads any more.
    Passthrough,
}

/// A client stream that enforces the request-head deadline and holds the
/// connection's [`Permit`].
///
/// It watches the bytes pingora reads and writes: the head ends at an empty line,
/// and the first write after it (the response, unless `1xx`) ends the exchange. HTTP/2
/// (by ALPN or the h2c preface) and `101 Switching Protocols` turn it into a plain
/// pass-through.
pub struct GuardedStream {
    inner: Stream,
    _permit: Permit,
    phase: Phase,
    /// Line-end scanner: 0 nothing, 1 after `\n`, 2 after `\n\r` (a head ends at
    /// `\n\n` or `\n\r\n`, so bare-LF heads, which pingora rejects, end too).
    eol: u8,
    /// Whether the first read has been looked at for the h2c preface.
    first_read: bool,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
    live: Arc<Live>,
}

impl std::fmt::Debug for GuardedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedStream")
            .field("inner", &self.inner)
            .field("phase", &self.phase)
            .finish()
    }
}

impl GuardedStream {
    fn new(inner: Stream, permit: Permit, limit: Duration, live: Arc<Live>) -> Self {
        // The first head's clock starts at accept: a connection that sends nothing is
        // a slowloris too.
        let phase = if inner.selected_alpn_proto() == Some(ALPN::H2) {
            Phase::Passthrough
        } else {
            Phase::Head
        };
        GuardedStream {
            inner,
            _permit: permit,
            phase,
            eol: 0,
            first_read: true,
            deadline: Box::pin(tokio::time::sleep(limit)),
            limit,
            live,
        }
    }

    /// Follows the head through newly read bytes.
    fn saw_read(&mut self, bytes: &[u8]) {
        if std::mem::take(&mut self.first_read) && bytes.starts_with(b"PRI * HTTP/2.0") {
            self.phase = Phase::Passthrough;
            return;
        }
        if self.phase == Phase::Idle && !bytes.is_empty() {
            self.phase = Phase::Head;
            self.eol = 0;
            self.deadline.as_mut().reset(Instant::now() + self.limit);
        }
        if self.phase != Phase::Head {
            return;
        }
        if head_ends(&mut self.eol, bytes) {
            self.phase = Phase::Message;
        }
    }

    /// Follows the exchange through bytes about to be written.
    fn saw_write(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Passthrough | Phase::Idle) || bytes.is_empty() {
            return;
        }
        let status = bytes
            .strip_prefix(b"HTTP/1.1 ")
            .or_else(|| bytes.strip_prefix(b"HTTP/1.0 "));
        match status {
            Some(s) if s.starts_with(b"101") => self.phase = Phase::Passthrough,
            // 100 Continue / 103 Early Hints: the real response is still to come.
            Some(s) if s.starts_with(b"1") => {}
            _ => self.phase = Phase::Idle,
        }
    }
}

/// Whether a request head ends in `bytes`, read after those `eol` summarises (0:
/// nothing, 1: after `\n`, 2: after `\n\r`; a head ends at `\n\n` or `\n\r\n`, so
/// bare-LF heads, which pingora rejects, end too); `eol` is updated for the next read.
fn head_ends(eol: &mut u8, bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while !rest.is_empty() {
        if *eol == 0 {
            // Only a `\n` starts a line end: skip to the next one.
            let Some(at) = memchr::memchr(b'\n', rest) else {
                return false;
            };
            *eol = 1;
            rest = &rest[at + 1..];
            continue;
        }
        let (&b, tail) = rest.split_first().unwrap_or((&0, &[]));
        rest = tail;
        *eol = match (*eol, b) {
            (_, b'\n') => return true,
            (1, b'\r') => 2,
            _ => 0,
        };
    }
    false
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let filled = &buf.filled()[before..];
                this.saw_read(filled);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if this.phase == Phase::Head && this.deadline.as_mut().poll(cx).is_ready() {
                    this.live
                        .metrics
                        .connections_refused
                        .with_label_values(&["header_timeout"])
                        .inc();
                    tracing::info!(
                        limit = ?this.limit,
                        "closing a connection whose request head did not arrive in time (server.header_timeout)"
                    );
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request head not complete within server.header_timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &result {
            this.saw_write(&buf[..*n]);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &result
            && *n > 0
            && let Some(first) = bufs.iter().find(|b| !b.is_empty())
        {
            this.saw_write(&first[..first.len().min(*n)]);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for GuardedStream {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(&mut *self.inner).await
    }
}

impl UniqueID for GuardedStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for GuardedStream {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for GuardedStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for GuardedStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for GuardedStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for GuardedStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::head_ends;

    /// The scanner as first written: one byte at a time.
    fn by_byte(eol: &mut u8, bytes: &[u8]) -> bool {
        for &b in bytes {
            *eol = match (*eol, b) {
                (1 | 2, b'\n') => return true,
                (_, b'\n') => 1,
                (1, b'\r') => 2,
                _ => 0,
            };
        }
        false
    }

    #[test]
    fn a_head_ends_where_the_byte_scanner_says_in_any_split() {
        let heads: [&[u8]; 6] = [
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET",
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nX: \r\r\n\r\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n",
            b"\n\r\r\n\n",
            b"x\r\n\r\r\n",
        ];
        for head in heads {
            for cut in 0..=head.len() {
                let (a, b) = head.split_at(cut);
                let (mut e1, mut e2) = (0, 0);
                let want = by_byte(&mut e1, a) || by_byte(&mut e1, b);
                let got = head_ends(&mut e2, a) || head_ends(&mut e2, b);
                assert_eq!(
                    got,
                    want,
                    "{:?} cut at {cut}",
                    String::from_utf8_lossy(head)
                );
                if !want {
                    assert_eq!(e1, e2, "state after {:?}", String::from_utf8_lossy(head));
                }
            }
        }
    }
}
