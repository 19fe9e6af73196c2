//! The validated configuration model that the rest of Outpost consumes.

use std::path::PathBuf;
use std::time::Duration;

// Each section's types live with its validation; the model names them all.
pub use crate::admin::AdminConfig;
pub use crate::cache::{CacheConfig, CacheDiskConfig, CacheKeyPolicy, QueryKey, RequestDirectives};
pub use crate::log::{LogConfig, LogFormat};
pub use crate::server::{Listen, QuicRetry, ServerSettings};
pub use crate::site::{
    Balance, HashOn, HealthCheck, HostPattern, Origin, OriginHost, PassiveHealth, SiteConfig,
    Timeouts, ip_admitted,
};
pub use crate::tls::{CertificateConfig, TlsConfig};

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
