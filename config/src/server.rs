//! `listen:` and `server:`: where Outpost listens and its process-level settings.

use crate::locate::Seg::Key;
use crate::raw;
use crate::validator::Validator;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where Outpost listens.
#[derive(Debug, Clone, Default)]
pub struct Listen {
    /// Plain HTTP listener.
    pub http: Option<SocketAddr>,
    /// HTTPS listener (requires at least one certificate).
    pub https: Option<SocketAddr>,
    /// Accept HTTP/2 without TLS (prior knowledge) on the plain listener.
    pub h2c: bool,
    /// QUIC + HTTP/3 listener (UDP), with the HTTPS listener's certificates.
    pub http3: Option<SocketAddr>,
    /// The `Alt-Svc` field TCP responses carry while the HTTP/3 listener is on
    /// (default `h3=":PORT"; ma=86400`; `None` when off or set to `off`).
    pub alt_svc: Option<http::HeaderValue>,
    /// When QUIC clients must prove their address with a Retry round trip first.
    pub quic_retry: QuicRetry,
    /// Accept 0-RTT (early data) from resuming QUIC clients: safe methods only, the
    /// others answered `425 Too Early` (RFC 8470). Off by default (replay).
    pub quic_0rtt: bool,
}

/// `listen.quic_retry`: when a new QUIC client is asked to prove its address (a
/// Retry: one more round trip, and no amplification of a spoofed source).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QuicRetry {
    /// Once many handshakes are in progress (a flood): the default.
    #[default]
    UnderLoad,
    /// Every new client.
    Always,
}

/// Process-level settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Worker threads for the proxy.
    pub threads: usize,
    /// After SIGTERM, listeners close at once and in-flight requests get up to this
    /// long to finish; the process exits as soon as none are left.
    pub shutdown_timeout: Duration,
    /// Idle upstream connections kept for reuse, across all origins.
    pub upstream_keepalive_pool: usize,
    /// Add debugging response headers such as `Outpost-Rule` (which page rule
    /// applied). Meant for development; `outpost dev` turns it on.
    pub debug_headers: bool,
    /// CPU time a JS hook may use per request (Workers' `cpu_ms`); over it, the
    /// request fails with `Outpost-Error: cpu-limit`.
    pub script_cpu_limit: Duration,
    /// Memory one run of a hook's JavaScript may allocate (Workers: 128 MB per
    /// isolate); over it, the request fails with `Outpost-Error: memory-limit`.
    pub script_memory_limit: u64,
    /// Hooked requests that may wait for one JS thread; beyond, `503` at once.
    pub script_queue_per_thread: usize,
    /// Requests of one script that may wait for the JS threads (all together); `None`:
    /// half of all the threads' room.
    pub script_queue_per_script: Option<usize>,
    /// The longest a hooked request waits behind others for a JS thread before it gets
    /// `503` (a thread's own runtime set-up does not count).
    pub script_queue_timeout: Duration,
    /// Response header that carries the request's id (as in the access log), so users
    /// can quote it; `None` when turned off (`request_id_header: ""`).
    pub request_id_header: Option<http::HeaderName>,
    /// Unix socket over which a new Outpost binary (`outpost run --upgrade`) receives
    /// the listening sockets from the running one on SIGQUIT (pingora's graceful
    /// upgrade). Two instances on one host need different paths.
    pub upgrade_socket: PathBuf,
    /// Client connections open at once, all listeners together; one more is answered
    /// `503` and closed. `0`: no limit.
    pub max_connections: usize,
    /// Client connections open at once from one IPv4 address or one IPv6 /64; one more
    /// is answered `503` and closed. `0`: no limit.
    pub max_connections_per_ip: usize,
    /// An HTTP/1 request head (request line and headers) must arrive completely within
    /// this long of its first byte (of the connection's start, for the first request);
    /// otherwise the connection is closed (slowloris).
    pub header_timeout: Duration,
    /// An idle keep-alive connection (HTTP/1 and HTTP/2) is closed after this long.
    pub idle_timeout: Duration,
    /// Longest wait for the next piece of a request body.
    pub body_timeout: Duration,
    /// Longest wait for one write to the client to complete.
    pub send_timeout: Duration,
    /// Slowest a client may read a response, in bytes per second, before it is cut off
    /// (slow read); each write gets `max(4 KiB, rate) / rate` seconds, at least 1 s.
    /// `0`: only `send_timeout` applies. HTTP/1 only.
    pub min_send_rate: u64,
}

pub(crate) fn listen(v: &mut Validator<'_>, raw: &raw::Listen) -> Listen {
    let listen = Listen {
        http: v.addr(raw.http.as_deref(), &[Key("listen"), Key("http")]),
        https: v.addr(raw.https.as_deref(), &[Key("listen"), Key("https")]),
        h2c: raw.h2c,
        http3: v.addr(raw.http3.as_deref(), &[Key("listen"), Key("http3")]),
        alt_svc: None,
        quic_0rtt: raw.quic_0rtt,
        quic_retry: match raw.quic_retry.as_deref() {
            None | Some("under_load") => QuicRetry::UnderLoad,
            Some("always") => QuicRetry::Always,
            Some(other) => {
                v.report(
                    &[Key("listen"), Key("quic_retry")],
                    format!("{other:?}: expected under_load or always"),
                );
                QuicRetry::UnderLoad
            }
        },
    };
    let mut listen = listen;
    if let Some(h3) = listen.http3 {
        listen.alt_svc = match raw.alt_svc.as_deref() {
            Some("off") => None,
            Some(custom) => match http::HeaderValue::from_str(custom) {
                Ok(v) => Some(v),
                Err(_) => {
                    v.report(
                        &[Key("listen"), Key("alt_svc")],
                        "not a valid header value (or `off`)",
                    );
                    None
                }
            },
            None => http::HeaderValue::from_str(&format!("h3=\":{}\"; ma=86400", h3.port())).ok(),
        };
    } else if raw.alt_svc.is_some() {
        v.report(
            &[Key("listen"), Key("alt_svc")],
            "Alt-Svc advertises the HTTP/3 listener: set listen.http3 too",
        );
    }
    if raw.http.is_none() && raw.https.is_none() {
        v.report(
            &[Key("listen")],
            "no listener configured (expected listen.http and/or listen.https)",
        );
    }

    listen
}

pub(crate) fn validate(v: &mut Validator<'_>, raw: &raw::Server) -> ServerSettings {
    let threads = match raw.threads {
        Some(0) => {
            v.report(&[Key("server"), Key("threads")], "must be at least 1");
            1
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let request_id_header = match raw.request_id_header.as_deref() {
        None => Some(http::HeaderName::from_static("outpost-request-id")),
        Some("") => None,
        Some(name) => match http::HeaderName::from_bytes(name.as_bytes()) {
            Ok(h) => Some(h),
            Err(_) => {
                v.report(
                    &[Key("server"), Key("request_id_header")],
                    format!("{name:?} is not a header name (\"\" turns the header off)"),
                );
                None
            }
        },
    };
    let server = ServerSettings {
        request_id_header,
        upgrade_socket: raw.upgrade_socket.as_deref().map_or_else(
            || std::env::temp_dir().join("outpost-upgrade.sock"),
            |p| v.resolve(p),
        ),
        threads,
        shutdown_timeout: v.duration(
            raw.shutdown_timeout.as_deref(),
            Duration::from_secs(10),
            &[Key("server"), Key("shutdown_timeout")],
        ),
        upstream_keepalive_pool: raw.upstream_keepalive_pool.unwrap_or(256),
        debug_headers: raw.debug_headers.unwrap_or(false),
        script_cpu_limit: v.duration(
            raw.script_cpu_limit.as_deref(),
            Duration::from_millis(50),
            &[Key("server"), Key("script_cpu_limit")],
        ),
        script_memory_limit: v.size(
            raw.script_memory_limit.as_deref(),
            128 << 20,
            &[Key("server"), Key("script_memory_limit")],
        ),
        script_queue_per_thread: match raw.script_queue_per_thread {
            Some(0) => {
                v.report(
                    &[Key("server"), Key("script_queue_per_thread")],
                    "must be at least 1",
                );
                1
            }
            n => n.unwrap_or(128),
        },
        script_queue_per_script: match raw.script_queue_per_script {
            Some(0) => {
                v.report(
                    &[Key("server"), Key("script_queue_per_script")],
                    "must be at least 1",
                );
                None
            }
            n => n,
        },
        // Debug builds interpret JavaScript 10-30x slower (a JS thread setting up a
        // runtime takes a second or more on a loaded machine): their default waits
        // longer, so a development or test build does not turn requests away for the
        // build's own slowness. Release builds: 1 s.
        script_queue_timeout: v.duration(
            raw.script_queue_timeout.as_deref(),
            if cfg!(debug_assertions) {
                Duration::from_secs(10)
            } else {
                Duration::from_secs(1)
            },
            &[Key("server"), Key("script_queue_timeout")],
        ),
        max_connections: raw.max_connections.unwrap_or(10_000),
        max_connections_per_ip: raw.max_connections_per_ip.unwrap_or(256),
        header_timeout: v.duration(
            raw.header_timeout.as_deref(),
            Duration::from_secs(15),
            &[Key("server"), Key("header_timeout")],
        ),
        idle_timeout: v.duration(
            raw.idle_timeout.as_deref(),
            Duration::from_secs(60),
            &[Key("server"), Key("idle_timeout")],
        ),
        body_timeout: v.duration(
            raw.body_timeout.as_deref(),
            Duration::from_secs(60),
            &[Key("server"), Key("body_timeout")],
        ),
        send_timeout: v.duration(
            raw.send_timeout.as_deref(),
            Duration::from_secs(60),
            &[Key("server"), Key("send_timeout")],
        ),
        min_send_rate: v.size(
            raw.min_send_rate.as_deref(),
            1024,
            &[Key("server"), Key("min_send_rate")],
        ),
    };
    for (name, d) in [
        ("header_timeout", server.header_timeout),
        ("idle_timeout", server.idle_timeout),
        ("body_timeout", server.body_timeout),
        ("send_timeout", server.send_timeout),
    ] {
        // pingora counts keep-alive in whole seconds; below one, a timer would never
        // be set and the limit would silently be off.
        if d < Duration::from_secs(1) {
            v.report(&[Key("server"), Key(name)], "must be at least 1s");
        }
    }

    server
}
