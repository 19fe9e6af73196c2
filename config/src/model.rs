//! The validated configuration model that the rest of Outpost consumes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A fully validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The main file this was loaded from.
    pub source: PathBuf,
    /// Listening addresses.
    pub listen: Listen,
    /// Server certificates.
    pub tls: TlsConfig,
    /// Process-level settings (threads, shutdown).
    pub server: ServerSettings,
    /// The tiered cache.
    pub cache: CacheConfig,
    /// The admin API, if enabled.
    pub admin: Option<AdminConfig>,
    /// Logging.
    pub log: LogConfig,
    /// The file holding every KV namespace (`kv.path`; default `kv.redb` beside the
    /// main config file).
    pub kv_path: PathBuf,
    /// `kv.backend: redis`: namespaces live in the cluster's Redis, shared by every
    /// node, read through a local cache of this lifetime (`kv.cache_ttl`); `None`:
    /// the local file.
    pub kv_shared: Option<Duration>,
    /// Cluster mode (Redis coordination, tiers); `None`: a single node.
    pub cluster: Option<crate::ClusterConfig>,
    /// How origin host names are resolved.
    pub resolver: crate::ResolverConfig,
    /// Sites, in file order.
    pub sites: Vec<SiteConfig>,
    /// Problems that do not stop the config from loading (such as a rule that can
    /// never match); `outpost check` prints them and `run` logs them.
    pub warnings: Vec<crate::Diagnostic>,
    /// Every file this configuration was read from, main file first (for `--watch`).
    pub files: Vec<PathBuf>,
    /// Of `files`, those that hold secrets (`env` bindings read from files).
    pub secret_files: Vec<PathBuf>,
}

impl Config {
    /// The site that serves `host` (lowercase, no port): an exact name first, then the
    /// most specific `*.` wildcard, then the default site. The proxy's own index
    /// follows the same order.
    pub fn site_for_host(&self, host: &str) -> Option<&SiteConfig> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let exact = HostPattern::Exact(host.clone());
        if let Some(s) = self.sites.iter().find(|s| s.hosts.contains(&exact)) {
            return Some(s);
        }
        let mut rest = host.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            let wild = HostPattern::Wildcard(parent.to_string());
            if let Some(s) = self.sites.iter().find(|s| s.hosts.contains(&wild)) {
                return Some(s);
            }
            rest = parent;
        }
        self.sites.iter().find(|s| s.default)
    }
}

/// Where Outpost listens.
#[derive(Debug, Clone, Default)]
pub struct Listen {
    /// Plain HTTP listener.
    pub http: Option<SocketAddr>,
    /// HTTPS listener (requires at least one certificate).
    pub https: Option<SocketAddr>,
    /// Accept HTTP/2 without TLS (prior knowledge) on the plain listener.
    pub h2c: bool,
}

/// Server certificates for the HTTPS listener.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// Certificates; SNI picks one by the names in its SAN extension.
    pub certificates: Vec<CertificateConfig>,
    /// ACME settings (`tls.acme`, defaults filled in); used by sites with `tls.acme`.
    pub acme: crate::AcmeSettings,
    /// Refuse the handshake (alert) when the client's SNI names no certificate,
    /// instead of serving the default one. Clients sending no SNI still get the default.
    pub refuse_unknown_sni: bool,
}

impl Default for crate::AcmeSettings {
    fn default() -> Self {
        crate::AcmeSettings {
            directory_url: crate::LETS_ENCRYPT.into(),
            email: None,
            storage: PathBuf::from("acme"),
            ca_root: None,
            challenge: crate::AcmeChallenge::Http01,
            key_type: crate::AcmeKeyType::EcdsaP256,
            placeholder: crate::AcmePlaceholder::SelfSigned,
        }
    }
}

/// One certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateConfig {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: PathBuf,
    /// Served to clients that send no SNI or an unknown name.
    pub default: bool,
    /// DER OCSP response to staple (kept fresh by the operator's OCSP fetcher; a
    /// changed file is reloaded like the certificate).
    pub ocsp: Option<PathBuf>,
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
    /// The longest a hooked request waits for a JS thread before it gets `503`.
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

/// The admin API listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where it listens (plain HTTP; keep it on a private or loopback address).
    pub listen: SocketAddr,
    /// Bearer token required on every call (read from `token_file`); required unless
    /// `listen` is a loopback address.
    pub token: Option<String>,
}

/// The tiered cache (shared by all sites).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Memory tier capacity in bytes (0 disables caching entirely unless a disk tier is set).
    pub memory: u64,
    /// Objects larger than this skip the memory tier.
    pub max_memory_object: u64,
    /// Disk tier, if configured.
    pub disk: Option<CacheDiskConfig>,
    /// How long concurrent misses for one key wait for the first one's fetch.
    pub lock_timeout: Duration,
}

/// The disk tier of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDiskConfig {
    /// Directory (created if missing).
    pub path: PathBuf,
    /// Capacity in bytes.
    pub size: u64,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// Default level filter (`RUST_LOG` overrides it).
    pub level: String,
    /// Emit one access-log line per request.
    pub access_log: bool,
    /// Write the log (access lines included) to this file instead of stderr; reopened
    /// on SIGUSR1, the logrotate convention. Read at start.
    pub file: Option<std::path::PathBuf>,
}

/// A host name a site answers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// An exact host name, lowercased.
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com` (one or more labels), stored as `example.com`.
    Wildcard(String),
}

/// How a site picks among its origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// Each request goes to the next healthy origin.
    RoundRobin,
    /// The same key goes to the same origin while it is healthy (ketama ring).
    ConsistentHash,
}

/// What the consistent hash is computed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    /// Path and query of the request.
    Uri,
    /// The client's IP address.
    ClientIp,
    /// The value of a request header.
    Header(String),
}

/// Which `Host` header goes to the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginHost {
    /// The client's `Host` (usual for CDNs: the origin sees its public name).
    Preserve,
    /// The host from the origin URL.
    Origin,
}

/// One origin server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An HTTP(S) server.
    Http {
        /// TLS to the origin.
        tls: bool,
        /// Host name or IP literal (brackets stripped); also the SNI for TLS.
        host: String,
        /// Port.
        port: u16,
    },
    /// Outpost's built-in static file origin serving this directory.
    Static {
        /// Absolute directory path.
        root: PathBuf,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Http { tls, host, port } => {
                let scheme = if *tls { "https" } else { "http" };
                if host.contains(':') {
                    write!(f, "{scheme}://[{host}]:{port}")
                } else {
                    write!(f, "{scheme}://{host}:{port}")
                }
            }
            Origin::Static { root } => write!(f, "static:{}", root.display()),
        }
    }
}

/// Timeouts towards origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connect.
    pub connect: Duration,
    /// Waiting for each read from the origin (so also time to first byte).
    pub read: Duration,
    /// Each write to the origin.
    pub write: Duration,
    /// How long an idle upstream connection is kept for reuse.
    pub idle: Duration,
    /// The whole response body, from its head to its last byte; `None` (the default):
    /// no limit, only `read` between bytes. Ends origins that trickle forever.
    pub body: Option<Duration>,
}

/// What goes into a site's cache key besides scheme, host and path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheKeyPolicy {
    /// Query string handling.
    pub query: QueryKey,
    /// Request headers whose values are part of the key (lowercase names).
    pub headers: Vec<String>,
    /// Cookies whose values are part of the key.
    pub cookies: Vec<String>,
}

/// How the query string enters the cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum QueryKey {
    /// As sent.
    #[default]
    Full,
    /// Parameters sorted, so `?b=1&a=2` and `?a=2&b=1` share an object.
    Sorted,
    /// Left out: every query string shares the object of the bare path.
    Ignore,
    /// Only these parameters, in the order sent.
    Include(Vec<String>),
    /// Every parameter but these, in the order sent.
    Exclude(Vec<String>),
}

/// Active health checking of origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Path requested with GET.
    pub path: String,
    /// Time between probes.
    pub interval: Duration,
    /// Connect and read timeout of a probe.
    pub timeout: Duration,
    /// Consecutive successes to mark a down origin up.
    pub healthy_threshold: u32,
    /// Consecutive failures to mark an up origin down.
    pub unhealthy_threshold: u32,
    /// Expected status code.
    pub expect_status: u16,
}

/// Passive failure marking from real traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassiveHealth {
    /// Consecutive failed attempts (connect errors, timeouts) that take an origin out.
    pub max_failures: u32,
    /// How long it stays out before traffic tries it again.
    pub cooldown: Duration,
}

/// One site: the hosts it answers and how it reaches its origins.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// A name for logs and metrics (defaults to the first host).
    pub name: String,
    /// Hosts this site answers.
    pub hosts: Vec<HostPattern>,
    /// Answers requests whose host matches no site.
    pub default: bool,
    /// Origins, at least one.
    pub origins: Vec<Origin>,
    /// Selection among origins.
    pub balance: Balance,
    /// Hash input for [`Balance::ConsistentHash`].
    pub hash_on: HashOn,
    /// `Host` header sent upstream.
    pub origin_host: OriginHost,
    /// Timeouts towards origins.
    pub timeouts: Timeouts,
    /// How many other origins to try after a failure (connect errors always; other
    /// errors only for idempotent requests without a body).
    pub retries: u32,
    /// Whether responses for this site may be cached (per RFC 9111 and origin headers).
    pub cache: bool,
    /// Active probes, if configured.
    pub health_check: Option<HealthCheck>,
    /// How the cache key is built for this site.
    pub cache_key: CacheKeyPolicy,
    /// Upper-tier Outpost that misses go to instead of the origins (tiered caching).
    pub parent: Option<Origin>,
    /// Go to the origins directly when the parent cannot be reached.
    pub parent_fallback: bool,
    /// Passive failure marking.
    pub passive_health: PassiveHealth,
    /// Named extra origin pools that page rules can pick (`origin: NAME`); they share
    /// the site's balancing, timeouts and health settings.
    pub pools: Vec<(String, Vec<Origin>)>,
    /// Page rules from the site's rules files, in order: the first match applies.
    pub rules: Vec<crate::rule::Rule>,
    /// JS hook run for every request of the site (a rule can replace or disable it).
    pub script: Option<crate::rule::ScriptFile>,
    /// Bindings the site's hooks see as `env` (values resolved at load; secrets may
    /// come from files or the process environment so they stay out of the YAML).
    pub env: Vec<(String, String)>,
    /// KV bindings: the name hooks see in `env` and the namespace behind it.
    pub kv: Vec<(String, String)>,
    /// HTML rewrite profiles declared by the site (built-ins are not listed).
    pub html_profiles: Vec<crate::html::HtmlProfile>,
    /// When not empty, only clients in these networks are served (others get `403`).
    pub ip_allow: Vec<ipnet::IpNet>,
    /// Clients in these networks get `403` (checked after `ip_allow`).
    pub ip_deny: Vec<ipnet::IpNet>,
    /// On-the-fly compression of uncompressed responses.
    pub compression: crate::compression::Compression,
    /// An automatic certificate for the site's names, if it asked for one.
    pub acme: Option<crate::SiteAcme>,
    /// Largest request body accepted, in bytes (413 beyond; default 100 MiB).
    pub max_request_body: u64,
}

/// Whether a site with these lists serves a client at `ip`: in `allow` (when it is
/// not empty) and not in `deny`. A client without an IP address is served only when
/// there is no allow list.
pub fn ip_admitted(
    allow: &[ipnet::IpNet],
    deny: &[ipnet::IpNet],
    ip: Option<std::net::IpAddr>,
) -> bool {
    let Some(ip) = ip else {
        return allow.is_empty();
    };
    (allow.is_empty() || allow.iter().any(|n| n.contains(&ip)))
        && !deny.iter().any(|n| n.contains(&ip))
}

impl SiteConfig {
    /// The profile a rule's `html_rewrite: NAME` names: the site's own, else a built-in.
    pub fn html_profile(&self, name: &str) -> Option<crate::html::HtmlProfile> {
        self.html_profiles
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .or_else(|| crate::html::builtin_profile(name))
    }
}
