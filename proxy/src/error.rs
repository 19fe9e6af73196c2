//! The one error type of this crate.

/// Result alias for building and running the proxy.
pub type Result<T> = std::result::Result<T, ProxyError>;

/// What can go wrong building a running snapshot from a configuration, starting the
/// server, or rewriting a page.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The configuration itself is invalid.
    #[error(transparent)]
    Config(#[from] outpost_config::ConfigError),
    /// Certificates could not be loaded.
    #[error(transparent)]
    Tls(#[from] outpost_tls::TlsError),
    /// The cache could not be set up (e.g. its disk directory).
    #[error(transparent)]
    Cache(#[from] outpost_cache::CacheError),
    /// Cluster mode could not start (e.g. an unusable Redis URL).
    #[error(transparent)]
    Cluster(#[from] outpost_cluster::ClusterError),
    /// An origin host name did not resolve.
    #[error("site {site:?}: origin {origin} does not resolve: {reason}")]
    Resolve {
        /// Site name.
        site: String,
        /// Origin as configured.
        origin: String,
        /// Resolver message.
        reason: String,
    },
    /// The DNS resolver could not be set up (unreadable resolv.conf, bad servers).
    #[error("resolver: {0}")]
    Resolver(String),
    /// The built-in static origin could not start.
    #[error("static origin: {0}")]
    StaticOrigin(std::io::Error),
    /// The control-plane runtime (health checks, reload, static origins) could not start.
    #[error("control runtime: {0}")]
    Runtime(std::io::Error),
    /// A listen address cannot be bound (in use, not local, or no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A JS hook does not compile (a reload keeps the previous scripts serving).
    #[error(transparent)]
    Script(#[from] outpost_scripting::ScriptError),
    /// A compressed page did not decode, or its rewrite did not encode (the response
    /// is cut short: its head is sent already).
    #[error("{coding} body: {source}")]
    HtmlCodec {
        /// The content coding.
        coding: &'static str,
        /// What went wrong.
        source: std::io::Error,
    },
    /// lol_html stopped rewriting a page (a tag larger than its buffer limit).
    #[error("HTML rewriter: {0}")]
    HtmlRewriter(lol_html::errors::RewritingError),
    /// pingora refused to start.
    #[error("server: {0}")]
    Server(String),
}
