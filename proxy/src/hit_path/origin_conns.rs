//! The process's idle origin connections, shared by the pass and pingora's proxy
//! (installed into pingora's connectors: see vendor/README.md). One list per peer
//! (pingora's `reuse_hash`), newest last, behind one short lock; a connection is
//! checked when taken, not watched while idle — pingora's own pool spawns a task,
//! takes a lock and makes channels per idle connection and calls `getpeername` per
//! reuse, which was a measurable part of every MISS.

use pingora::protocols::Stream;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Idle connections kept per peer; beyond it the oldest is closed.
const MAX_IDLE: usize = 128;

/// One idle connection: since when, and for how long it may stay.
struct Idle {
    stream: Stream,
    since: Instant,
    limit: Option<Duration>,
}

impl Idle {
    fn expired(&self, now: Instant) -> bool {
        self.limit
            .is_some_and(|l| now.duration_since(self.since) >= l)
    }
}

/// The pool (installed once per process).
#[derive(Default)]
pub struct OriginConns {
    idle: Mutex<HashMap<u64, Vec<Idle>>>,
}

static POOL: OnceLock<&'static OriginConns> = OnceLock::new();

/// Installs the pool into pingora's connectors (before the proxy first connects).
pub fn install() {
    let pool: &'static OriginConns = POOL.get_or_init(|| Box::leak(Box::default()));
    // (A second install, e.g. a second server in one test process, keeps the first.)
    let _ = pingora::connectors::install_idle_pool(Box::new(Shared(pool)));
}

/// An idle connection to the peer whose `reuse_hash` is `key`, still open.
pub(super) fn take(key: u64) -> Option<Stream> {
    let pool = POOL.get()?;
    while let Some(mut stream) = pool.pop(key) {
        if pingora::connectors::idle_stream_usable(&mut stream) {
            return Some(stream);
        }
    }
    None
}

/// Keeps `stream` (its last response read exactly to its end) for the next request
/// to the same peer.
pub(super) fn put(key: u64, stream: Stream, idle: Duration) {
    if let Some(pool) = POOL.get() {
        pool.push(key, stream, Some(idle));
    }
}

impl OriginConns {
    fn pop(&self, key: u64) -> Option<Stream> {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(&key)?;
        while let Some(conn) = list.pop() {
            if !conn.expired(now) {
                return Some(conn.stream);
            }
        }
        None
    }

    fn push(&self, key: u64, stream: Stream, limit: Option<Duration>) {
        let now = Instant::now();
        // Closed outside the lock (a close is a syscall).
        let dropped: Vec<Idle>;
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let list = idle.entry(key).or_default();
            let expired = list.iter().take_while(|c| c.expired(now)).count();
            let over = (list.len() - expired + 1).saturating_sub(MAX_IDLE);
            dropped = list.drain(..expired + over).collect();
            list.push(Idle {
                stream,
                since: now,
                limit,
            });
        }
        drop(dropped);
    }
}

/// The pool as pingora's connectors see it.
struct Shared(&'static OriginConns);

impl pingora::connectors::IdlePool for Shared {
    fn take(&self, key: u64) -> Option<Stream> {
        self.0.pop(key)
    }

    fn put(&self, key: u64, stream: Stream, idle_timeout: Option<Duration>) {
        self.0.push(key, stream, idle_timeout);
    }
}

/// A new connection to `addr` within `timeout`, as a pingora stream (so either side
/// can reuse it).
pub(super) async fn connect(
    addr: std::net::SocketAddr,
    timeout: Duration,
) -> std::io::Result<Stream> {
    let conn = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    conn.set_nodelay(true)?;
    Ok(Box::new(pingora::protocols::l4::stream::Stream::from(conn)))
}
