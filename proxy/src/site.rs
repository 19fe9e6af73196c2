//! Host-based site selection: exact names, `*.parent` wildcards, then the default site.

use crate::html::CompiledProfile;
use crate::pool::OriginPool;
use outpost_config::{HashOn, HostPattern, OriginHost, SiteConfig};
use std::collections::HashMap;
use std::sync::Arc;

/// A site as the proxy uses it: its settings plus its live origin pool.
#[derive(Debug)]
pub struct Site {
    /// Name for logs.
    pub name: String,
    /// Origins.
    pub pool: Arc<OriginPool>,
    /// Consistent-hash input.
    pub hash_on: HashOn,
    /// `Host` header policy upstream.
    pub origin_host: OriginHost,
    /// Further origins to try after a failure.
    pub retries: u32,
    /// Responses may be cached.
    pub cache: bool,
    /// Cron triggers that run the script's `scheduled` handler.
    pub crons: Vec<outpost_config::CronTrigger>,
    /// The cap of heuristic lifetimes here; `None`: the site or the cache turned them off.
    pub heuristic_max: Option<std::time::Duration>,
    /// What goes into the cache key.
    pub cache_key: outpost_config::CacheKeyPolicy,
    /// Upper-tier Outpost for misses (a one-origin pool), if configured.
    pub parent: Option<Arc<OriginPool>>,
    /// Fall back to the origins when the parent cannot be reached.
    pub parent_fallback: bool,
    /// Named pools that page rules can pick with `origin:`.
    pub pools: HashMap<String, Arc<OriginPool>>,
    /// The site's page rules, compiled.
    pub rules: outpost_rules::RuleSet,
    /// JS hook for every request of the site (rules may replace or disable it).
    pub script: Option<outpost_config::ScriptFile>,
    /// The `env` the site's hooks see.
    pub env: Arc<outpost_scripting::Env>,
    /// HTML rewrite profiles by name: the site's and the built-ins.
    pub html_profiles: HashMap<String, Arc<CompiledProfile>>,
    /// A rate estimator per page rule with `rate_limit`, by the rule's `file:line`.
    /// (Counts start afresh when the config reloads.)
    pub rate_limits: HashMap<String, Arc<RateCounter>>,
    /// Client networks served (empty: all).
    pub ip_allow: Vec<ipnet::IpNet>,
    /// Client networks refused.
    pub ip_deny: Vec<ipnet::IpNet>,
    /// On-the-fly compression settings.
    pub compression: Arc<outpost_config::Compression>,
    /// Where the site's hooks may `fetch()` beyond this node's sites.
    pub egress: Arc<outpost_config::Egress>,
    /// Largest request body accepted (413 beyond).
    pub max_request_body: u64,
    /// Slice size for range requests (`service::slices`), if the site slices.
    pub cache_slice: Option<u64>,
    /// Image transforms (`images`), when enabled.
    pub images: Option<outpost_config::Images>,
    /// This site's metric series, resolved on its first request.
    pub meters: std::sync::OnceLock<crate::metrics::SiteMeters>,
}

/// Requests per key in fixed windows (pingora's count-min-sketch estimator: constant
/// memory whatever the number of clients; counts can only err upward, rarely).
pub struct RateCounter(pingora_limits::rate::Rate);

impl RateCounter {
    /// Counts one request for `key`; the count in the current window, this one included.
    pub fn hit(&self, key: &str) -> isize {
        self.0.observe(&key, 1)
    }
}

impl std::fmt::Debug for RateCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateCounter")
    }
}

/// Compiles the site's HTML profiles and the built-in ones.
fn html_profiles(cfg: &SiteConfig) -> HashMap<String, Arc<CompiledProfile>> {
    let builtins = outpost_config::BUILTIN_PROFILES
        .iter()
        .filter_map(|n| outpost_config::builtin_profile(n));
    let mut out = HashMap::new();
    for p in cfg.html_profiles.iter().cloned().chain(builtins) {
        let name = p.name.clone();
        match CompiledProfile::new(p, &cfg.hosts) {
            Ok(c) => {
                out.insert(name, Arc::new(c));
            }
            // Selectors were checked when the config loaded.
            Err(e) => {
                tracing::error!(site = %cfg.name, profile = %name, error = %e, "HTML profile dropped")
            }
        }
    }
    out
}

impl Site {
    /// This site's metric series in `m` (resolved on first use).
    pub fn meters(&self, m: &crate::metrics::Metrics) -> &crate::metrics::SiteMeters {
        self.meters
            .get_or_init(|| crate::metrics::SiteMeters::new(m, &self.name))
    }

    /// Builds a site from its config and its (already resolved) pool; `heuristic_max`
    /// is the cache's cap (`cache.heuristic_max`).
    pub fn new(
        cfg: &SiteConfig,
        heuristic_max: std::time::Duration,
        pool: Arc<OriginPool>,
        parent: Option<Arc<OriginPool>>,
        pools: HashMap<String, Arc<OriginPool>>,
    ) -> Self {
        Site {
            name: cfg.name.clone(),
            pool,
            hash_on: cfg.hash_on.clone(),
            origin_host: cfg.origin_host,
            retries: cfg.retries,
            cache: cfg.cache,
            crons: cfg.crons.clone(),
            heuristic_max: Some(heuristic_max).filter(|m| cfg.heuristic_freshness && !m.is_zero()),
            cache_key: cfg.cache_key.clone(),
            parent,
            parent_fallback: cfg.parent_fallback,
            pools,
            rules: outpost_rules::RuleSet::new(&cfg.rules),
            script: cfg.script.clone(),
            env: Arc::new(outpost_scripting::Env {
                vars: cfg.env.clone(),
                kv: cfg.kv.clone(),
            }),
            html_profiles: html_profiles(cfg),
            ip_allow: cfg.ip_allow.clone(),
            ip_deny: cfg.ip_deny.clone(),
            compression: Arc::new(cfg.compression.clone()),
            egress: Arc::new(cfg.egress.clone()),
            max_request_body: cfg.max_request_body,
            cache_slice: cfg.cache_slice,
            images: cfg.images.clone(),
            meters: std::sync::OnceLock::new(),
            rate_limits: cfg
                .rules
                .iter()
                .filter_map(|r| {
                    let limit = r.actions.rate_limit.as_ref()?;
                    let rate = pingora_limits::rate::Rate::new(limit.per);
                    Some((r.source.to_string(), Arc::new(RateCounter(rate))))
                })
                .collect(),
        }
    }
}

/// The host index of one config snapshot.
#[derive(Debug, Default)]
pub struct SiteTable {
    exact: HashMap<String, Arc<Site>>,
    /// Wildcard parents (`example.com` for `*.example.com`).
    wildcard: HashMap<String, Arc<Site>>,
    default: Option<Arc<Site>>,
    /// Every site, in config order.
    all: Vec<Arc<Site>>,
}

impl SiteTable {
    /// Adds a site under all its host patterns.
    pub fn insert(&mut self, cfg: &SiteConfig, site: Arc<Site>) {
        for h in &cfg.hosts {
            match h {
                HostPattern::Exact(n) => self.exact.insert(n.clone(), site.clone()),
                HostPattern::Wildcard(p) => self.wildcard.insert(p.clone(), site.clone()),
            };
        }
        if cfg.default {
            self.default = Some(site.clone());
        }
        self.all.push(site);
    }

    /// Every site, in config order.
    pub fn all(&self) -> &[Arc<Site>] {
        &self.all
    }

    /// Finds the site for a request host (already lowercased, without port).
    ///
    /// An exact name wins; then the most specific wildcard (`*.a.example.com`
    /// before `*.example.com`); then the default site.
    pub fn lookup(&self, host: &str) -> Option<&Arc<Site>> {
        self.lookup_named(host).or(self.default.as_ref())
    }

    /// The site a host names explicitly (an exact or wildcard host of a site, not
    /// the default site's catch-all).
    pub fn lookup_named(&self, host: &str) -> Option<&Arc<Site>> {
        if let Some(s) = self.exact.get(host) {
            return Some(s);
        }
        let mut rest = host;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(s) = self.wildcard.get(parent) {
                return Some(s);
            }
            rest = parent;
        }
        None
    }

    /// Every origin pool of every site (main and named pools; a pool may repeat).
    pub fn pools(&self) -> impl Iterator<Item = &Arc<OriginPool>> {
        self.sites()
            .flat_map(|s| std::iter::once(&s.pool).chain(s.pools.values()))
    }

    /// All sites, for health checking (a site appears once per host; callers dedupe by pointer).
    pub fn sites(&self) -> impl Iterator<Item = &Arc<Site>> {
        self.exact
            .values()
            .chain(self.wildcard.values())
            .chain(self.default.iter())
    }
}

/// Normalises a `Host` header or `:authority`: strips the port and a trailing dot,
/// lowercases. Returns `None` for values that cannot be a host.
pub fn normalize_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let host = if let Some(v6) = raw.strip_prefix('[') {
        // [::1]:8080
        let end = v6.find(']')?;
        &raw[..end + 2]
    } else {
        match raw.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => raw,
        }
    };
    let host = host.trim_end_matches('.');
    if host.is_empty()
        || host
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'/' || b == b'@')
    {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// The absolute URL of a request to a site (what a hook sees as `request.url`).
pub(crate) fn request_url(tls: bool, host_header: Option<&str>, host: &str, pq: &str) -> String {
    let scheme = if tls { "https://" } else { "http://" };
    // (Concatenated, not `format!`: every hooked request makes one.)
    [scheme, host_header.unwrap_or(host), pq].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_normalisation() {
        assert_eq!(
            normalize_host("Example.COM:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalize_host("example.com.").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalize_host("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(normalize_host(""), None);
        assert_eq!(normalize_host("a b"), None);
        assert_eq!(normalize_host("evil.com/x"), None);
    }
}
