//! Client connections before and around HTTP: how many may be open (globally and per
//! address) and how long an HTTP/1 request head may take to arrive.
//!
//! pingora reads request heads itself and times each `read` separately, so a client
//! that sends one byte every few seconds (slowloris) keeps a connection forever, and
//! it has no connection cap. Both are added here by wrapping pingora's proxy app
//! ([`Guarded`]) and each accepted stream ([`GuardedStream`]); the proxy itself is
//! unchanged. Per-request limits (body, send rate, idle keep-alive) are pingora
//! session settings, applied in `service.rs`.

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
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Open client connections, counted for the caps in `server.max_connections*`.
#[derive(Debug, Default)]
pub struct Admission {
    open: AtomicUsize,
    /// Open connections per IPv4 address or IPv6 /64 (an IPv6 client usually holds a
    /// whole /64, so counting single addresses would not limit anyone).
    per_source: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `server.max_connections` reached.
    Global,
    /// `server.max_connections_per_ip` reached for this source.
    PerIp,
}

impl Refusal {
    /// Label for the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Global => "global",
            Refusal::PerIp => "per_ip",
        }
    }
}

/// Holds one connection's place in [`Admission`]; gives it back when dropped.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    source: Option<IpAddr>,
}

/// The key a client address is counted under.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
    }
}

impl Admission {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Takes a place for a connection from `ip`, or says which cap it would break
    /// (`0` turns a cap off).
    pub fn admit(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<Permit, Refusal> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        // From here on the permit gives the place back, whichever way this returns.
        let mut permit = Permit {
            admission: self.clone(),
            source: None,
        };
        if max_total > 0 && before >= max_total {
            return Err(Refusal::Global);
        }
        if let Some(ip) = ip {
            let key = source_key(ip);
            let mut per = self
                .per_source
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = per.entry(key).or_insert(0);
            if max_per_ip > 0 && *count >= max_per_ip {
                if *count == 0 {
                    per.remove(&key);
                }
                return Err(Refusal::PerIp);
            }
            *count += 1;
            permit.source = Some(key);
        }
        Ok(permit)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(key) = self.source {
            let mut per = self
                .admission
                .per_source
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(count) = per.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    per.remove(&key);
                }
            }
        }
    }
}

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
            crate::hit_path::serve(&self.inner, &self.live, Box::new(guarded), shutdown).await;
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
        for &b in bytes {
            self.eol = match (self.eol, b) {
                (1 | 2, b'\n') => {
                    self.phase = Phase::Message;
                    return;
                }
                (_, b'\n') => 1,
                (1, b'\r') => 2,
                _ => 0,
            };
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
    use super::*;

    #[test]
    fn caps_count_and_give_back() {
        let a = Arc::new(Admission::default());
        let ip: IpAddr = "192.0.2.1".parse().expect("address");
        let other: IpAddr = "192.0.2.2".parse().expect("address");
        let p1 = a.admit(Some(ip), 3, 2).expect("admitted");
        let p2 = a.admit(Some(ip), 3, 2).expect("admitted");
        assert_eq!(
            a.admit(Some(ip), 3, 2).expect_err("refused"),
            Refusal::PerIp
        );
        let p3 = a.admit(Some(other), 3, 2).expect("admitted");
        assert_eq!(
            a.admit(Some(other), 3, 2).expect_err("refused"),
            Refusal::Global
        );
        assert_eq!(a.open(), 3, "refused connections give their place back");
        drop((p1, p2, p3));
        assert_eq!(a.open(), 0);
        assert!(a.per_source.lock().expect("lock").is_empty());
        // 0 turns both caps off.
        let many: Vec<_> = (0..50)
            .map(|_| a.admit(Some(ip), 0, 0).expect("admitted"))
            .collect();
        assert_eq!(a.open(), 50);
        drop(many);
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a = Arc::new(Admission::default());
        let x: IpAddr = "2001:db8:1:2::1".parse().expect("address");
        let y: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("address");
        let z: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        let _p = a.admit(Some(x), 0, 1).expect("admitted");
        assert_eq!(a.admit(Some(y), 0, 1).expect_err("refused"), Refusal::PerIp);
        assert!(a.admit(Some(z), 0, 1).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        let v4: IpAddr = "192.0.2.7".parse().expect("address");
        let _q = a.admit(Some(mapped), 0, 1).expect("admitted");
        assert_eq!(
            a.admit(Some(v4), 0, 1).expect_err("refused"),
            Refusal::PerIp
        );
    }
}
