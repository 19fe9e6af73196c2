//! Config snapshots: everything a request needs, built from one validated config and
//! swapped atomically on reload.
//!
//! A request loads the current snapshot once, at its start, and keeps that `Arc` to
//! the end: a reload never changes the rules under a request in flight.

use crate::caching::EdgeCache;
use crate::error::{ProxyError, Result};
use crate::pool::{Address, OriginPool, ResolvedOrigin};
use crate::resolve::Resolver;
use crate::site::{Site, SiteTable};
use crate::static_origin::ensure_static_origin;
use arc_swap::ArcSwap;
use outpost_config::{Config, Origin};
use outpost_tls::{CertIndex, CertSource, CertStore};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One immutable generation of the running configuration.
#[derive(Debug)]
pub struct Snapshot {
    /// The validated configuration it was built from.
    pub config: Arc<Config>,
    /// Host index.
    pub sites: SiteTable,
    /// 1 for the first load, +1 per successful reload.
    pub generation: u64,
    /// [`config_hash`] of the files it was loaded from (for `/status` and metrics).
    pub hash: String,
}

impl Snapshot {
    /// Resolves origins (DNS, static origin ports) and builds the host index.
    pub fn build(config: Config, generation: u64, resolver: &Arc<Resolver>) -> Result<Self> {
        check_compiled_parts(&config)?;
        let mut sites = SiteTable::default();
        for site_cfg in &config.sites {
            let mut resolved = Vec::with_capacity(site_cfg.origins.len());
            for origin in &site_cfg.origins {
                resolved.push(resolve_origin(&site_cfg.name, origin, resolver)?);
            }
            let pool = Arc::new(OriginPool::new(
                resolved,
                site_cfg.balance,
                site_cfg.passive_health,
                site_cfg.health_check.clone(),
                site_cfg.timeouts,
            ));
            let parent = match &site_cfg.parent {
                Some(p) => {
                    let resolved = vec![resolve_origin(&site_cfg.name, p, resolver)?];
                    // The parent is one address; passive marking keeps a dead parent from
                    // costing every request a connect timeout.
                    Some(Arc::new(OriginPool::new(
                        resolved,
                        outpost_config::Balance::RoundRobin,
                        site_cfg.passive_health,
                        None,
                        site_cfg.timeouts,
                    )))
                }
                None => None,
            };
            let mut pools = std::collections::HashMap::new();
            for (name, origins) in &site_cfg.pools {
                let mut resolved = Vec::with_capacity(origins.len());
                for origin in origins {
                    resolved.push(resolve_origin(&site_cfg.name, origin, resolver)?);
                }
                let pool = OriginPool::new(
                    resolved,
                    site_cfg.balance,
                    site_cfg.passive_health,
                    site_cfg.health_check.clone(),
                    site_cfg.timeouts,
                );
                pools.insert(name.clone(), Arc::new(pool));
            }
            sites.insert(
                site_cfg,
                Arc::new(Site::new(
                    site_cfg,
                    config.cache.heuristic_max,
                    pool,
                    parent,
                    pools,
                )),
            );
        }
        Ok(Snapshot {
            hash: config_hash(&config),
            config: Arc::new(config),
            sites,
            generation,
        })
    }
}

fn resolve_origin(site: &str, origin: &Origin, resolver: &Arc<Resolver>) -> Result<ResolvedOrigin> {
    match origin {
        Origin::Static { root } => {
            let addr = ensure_static_origin(root)?;
            Ok((
                origin.clone(),
                Address::Fixed(addr),
                false,
                "localhost".to_string(),
                addr.port(),
            ))
        }
        Origin::Http { tls, host, port } => {
            // An IP literal (bracketed for IPv6 in URLs) needs no lookup.
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            let address = match literal.parse::<std::net::IpAddr>() {
                Ok(ip) => Address::Fixed(SocketAddr::new(ip, *port)),
                Err(_) => Address::Named(resolver.name(host, *port).map_err(|reason| {
                    ProxyError::Resolve {
                        site: site.to_string(),
                        origin: origin.to_string(),
                        reason,
                    }
                })?),
            };
            Ok((origin.clone(), address, *tls, host.clone(), *port))
        }
    }
}

fn random_node_id() -> String {
    use std::hash::BuildHasher;
    let seed = (std::process::id(), std::time::SystemTime::now());
    format!(
        "{:016x}",
        std::collections::hash_map::RandomState::new().hash_one(seed)
    )
}

/// A request counted in [`Live::in_flight`] until this is dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The live state shared by every request: the current snapshot and certificates.
#[derive(Debug)]
pub struct Live {
    snapshot: ArcSwap<Snapshot>,
    /// The certificate store the HTTPS listener resolves from.
    pub certs: Arc<CertStore>,
    generation: AtomicU64,
    /// Origin host names, kept resolved (servers from the config at start).
    pub resolver: Arc<Resolver>,
    /// Requests being processed now (for draining on shutdown).
    pub in_flight: Arc<AtomicUsize>,
    /// Client connections open now, for `server.max_connections*`.
    pub admission: Arc<crate::admission::Admission>,
    /// Set on SIGTERM or SIGQUIT: responses close their connection, so keep-alive
    /// clients reconnect (to the new process after an upgrade) instead of meeting a
    /// connection closed under them.
    pub draining: std::sync::atomic::AtomicBool,
    /// The cache, built once at start (cache settings need a restart to change).
    pub cache: Option<EdgeCache>,
    /// HTML rewrites of stored pages, kept (`cache.rewritten_pages`; none without a
    /// cache).
    pub kept_pages: Option<Arc<crate::html::KeptPages>>,
    /// This process's identity in `CDN-Loop` (random per start), for loop detection.
    pub node_id: String,
    /// Numbers requests for their ids (`NODE-N`, N in hex), whichever path serves them.
    request_seq: AtomicU64,
    /// The JS runtime, started the first time a config uses a hook.
    scripts: std::sync::OnceLock<outpost_scripting::ScriptEngine>,
    /// The KV store, opened when a config first binds a namespace.
    kv: Arc<outpost_scripting::KvSlot>,
    /// Threads for the JS runtime.
    script_threads: usize,
    /// Development mode (`outpost dev`): every config gets debug headers.
    dev: bool,
    /// Sandbox limits for hooks (from the config at start).
    script_limits: outpost_scripting::Limits,
    /// Prometheus series (admin `GET /metrics`).
    pub metrics: crate::metrics::Metrics,
    /// Automatic certificates (storage settings are read once at start).
    pub acme: Arc<outpost_tls::acme::AcmeManager>,
    /// Cluster membership (`cluster:`, read once at start).
    cluster: Option<outpost_cluster::Cluster>,
    /// Installs config bundles pushed through the cluster.
    pub(crate) bundle_applier: Arc<crate::bundle::BundleApplier>,
    /// The ACME orders of the current config, watched by the manager's task.
    acme_orders: tokio::sync::watch::Sender<Vec<outpost_tls::acme::AcmeOrder>>,
    /// pingora's proxy app, to spawn subrequests for work without a client session
    /// (a cron trigger's `fetch()` to this node's own sites); set once serving starts.
    subrequest_app: std::sync::OnceLock<SubrequestApp>,
}

/// pingora's proxy app as a subrequest target.
struct SubrequestApp(Arc<dyn pingora::proxy::Subrequest + Send + Sync>);

impl std::fmt::Debug for SubrequestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubrequestApp")
    }
}

/// The ACME orders a config asks for: one per site with `tls.acme`.
fn acme_orders(config: &Config) -> Vec<outpost_tls::acme::AcmeOrder> {
    use outpost_tls::acme::{AcmeOrder, Challenge, KeyType};
    config
        .sites
        .iter()
        .filter_map(|s| s.acme.as_ref())
        .filter(|a| !a.names.is_empty())
        .map(|a| AcmeOrder {
            names: a.names.clone(),
            directory_url: a.directory_url.clone(),
            email: a.email.clone(),
            challenge: match a.challenge {
                outpost_config::AcmeChallenge::Http01 => Challenge::Http01,
                outpost_config::AcmeChallenge::TlsAlpn01 => Challenge::TlsAlpn01,
            },
            key_type: match a.key_type {
                outpost_config::AcmeKeyType::EcdsaP256 => KeyType::EcdsaP256,
                outpost_config::AcmeKeyType::EcdsaP384 => KeyType::EcdsaP384,
                outpost_config::AcmeKeyType::Rsa2048 => KeyType::Rsa2048,
            },
        })
        .collect()
}

/// Compiles what the config crate cannot check (CSS selectors, image options, hooks), so
/// a bad one fails the load (a reload keeps the old generation) before anything is bound.
pub fn check_compiled_parts(config: &Config) -> Result<()> {
    crate::html::check_selectors(config)?;
    check_image_rules(config)?;
    for script in scripts(config) {
        outpost_scripting::ScriptEngine::compile_check(
            script,
            &outpost_scripting::Limits::default(),
        )?;
    }
    Ok(())
}

/// Checks every page rule's `image` options at load (the config crate holds no
/// image code): each bad one is reported at its `file:line:col`.
pub fn check_image_rules(
    config: &outpost_config::Config,
) -> std::result::Result<(), outpost_config::ConfigError> {
    let problems: Vec<outpost_config::Diagnostic> = config
        .sites
        .iter()
        .flat_map(|s| &s.rules)
        .filter_map(|r| r.actions.image.as_ref())
        .filter_map(|image| {
            let err = outpost_images::Options::parse(&image.options).err()?;
            Some(outpost_config::Diagnostic {
                message: err.to_string(),
                ..image.at.clone()
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(outpost_config::ConfigError::Invalid(problems))
    }
}

/// A short hash of the configuration's files as they are on disk now (main file,
/// rules files, scripts), to tell which config a node runs.
pub fn config_hash(config: &Config) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
    let mut h =
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
    for f in &config.files {
        h.write(f.as_os_str().as_encoded_bytes());
        h.write(&std::fs::read(f).unwrap_or_default());
    }
    format!("{:016x}", h.finish())
}

/// Every distinct JS hook a config names (site hooks and rule hooks).
pub fn scripts(config: &Config) -> Vec<&outpost_config::ScriptFile> {
    let mut out: Vec<&outpost_config::ScriptFile> = Vec::new();
    for site in &config.sites {
        let rule_scripts = site.rules.iter().filter_map(|r| r.actions.script.as_ref());
        for s in site.script.iter().chain(rule_scripts) {
            if !out
                .iter()
                .any(|o| o.path == s.path && o.version == s.version)
            {
                out.push(s);
            }
        }
    }
    out
}

/// Converts config certificate entries to the TLS crate's sources.
pub fn cert_sources(config: &Config) -> Vec<CertSource> {
    config
        .tls
        .certificates
        .iter()
        .map(|c| CertSource {
            cert: c.cert.clone(),
            key: c.key.clone(),
            default: c.default,
            ocsp: c.ocsp.clone(),
        })
        .collect()
}

/// Opens the KV store the first time a config binds a namespace (it stays open; a
/// changed `kv.path` needs a restart).
fn open_kv(
    slot: &outpost_scripting::KvSlot,
    config: &Config,
    cluster: Option<&outpost_cluster::Cluster>,
) -> Result<()> {
    if slot.get().is_some() || config.sites.iter().all(|s| s.kv.is_empty()) {
        return Ok(());
    }
    let backend: Arc<dyn outpost_scripting::KvBackend> = match (config.kv_shared, cluster) {
        (Some(cache_ttl), Some(cluster)) => {
            Arc::new(crate::shared_kv::RedisKv(cluster.shared_kv(cache_ttl)))
        }
        _ => Arc::new(outpost_scripting::KvStore::open(&config.kv_path)?),
    };
    let _ = slot.set(backend);
    Ok(())
}

impl Live {
    /// The KV store, if a config has bound a namespace.
    pub fn kv(&self) -> Option<&Arc<dyn outpost_scripting::KvBackend>> {
        self.kv.get()
    }

    /// Builds the first snapshot and certificate set.
    pub fn new(mut config: Config, control: tokio::runtime::Handle, dev: bool) -> Result<Self> {
        if dev {
            config.server.debug_headers = true;
        }
        let certs = CertIndex::load(&cert_sources(&config))?
            .refusing_unknown(config.tls.refuse_unknown_sni);
        let cache = EdgeCache::from_config(&config.cache)?;
        let script_threads = config.server.threads;
        let script_limits = outpost_scripting::Limits {
            cpu_time: config.server.script_cpu_limit,
            memory: usize::try_from(config.server.script_memory_limit).unwrap_or(usize::MAX),
            ..outpost_scripting::Limits::default()
        };
        let bundle_applier = Arc::new(crate::bundle::BundleApplier::default());
        let cluster = match &config.cluster {
            Some(c) => Some(outpost_cluster::Cluster::start(
                c.clone(),
                Arc::new(crate::purge::CachePurger(cache)),
                bundle_applier.clone(),
                config_hash(&config),
                &control,
            )?),
            None => None,
        };
        let kv = Arc::new(outpost_scripting::KvSlot::new());
        open_kv(&kv, &config, cluster.as_ref())?;
        let certs = Arc::new(CertStore::new(certs));
        let acme = Arc::new(outpost_tls::acme::AcmeManager::new(
            outpost_tls::acme::AcmeOptions {
                storage: config.tls.acme.storage.clone(),
                ca_root: config.tls.acme.ca_root.clone(),
                placeholder: config.tls.acme.placeholder
                    == outpost_config::AcmePlaceholder::SelfSigned,
                retry_min: std::time::Duration::from_secs(10),
                retry_max: std::time::Duration::from_secs(6 * 3600),
            },
            certs.clone(),
            Arc::default(),
        ));
        let (acme_orders, orders_rx) = tokio::sync::watch::channel(acme_orders(&config));
        control.spawn(acme.clone().run(orders_rx));
        let resolver = Arc::new(Resolver::new(&config.resolver.servers, control.clone())?);
        let kept_pages = cache.and_then(|_| {
            crate::html::KeptPages::new(
                config.cache.rewritten_pages,
                config.cache.max_memory_object,
            )
            .map(Arc::new)
        });
        let snapshot = Snapshot::build(config, 1, &resolver)?;
        let metrics = crate::metrics::Metrics::new();
        metrics.config_loaded(&snapshot.hash, 1);
        Ok(Live {
            metrics,
            kv,
            snapshot: ArcSwap::from_pointee(snapshot),
            certs,
            acme,
            acme_orders,
            subrequest_app: std::sync::OnceLock::new(),
            cluster,
            bundle_applier,
            generation: AtomicU64::new(1),
            resolver,
            in_flight: Arc::default(),
            admission: Arc::default(),
            draining: std::sync::atomic::AtomicBool::new(false),
            kept_pages,
            cache,
            node_id: random_node_id(),
            request_seq: AtomicU64::new(0),
            scripts: std::sync::OnceLock::new(),
            script_threads,
            script_limits,
            dev,
        })
    }

    /// This node's cluster membership, in cluster mode.
    pub fn cluster(&self) -> Option<&outpost_cluster::Cluster> {
        self.cluster.as_ref()
    }

    /// Records pingora's proxy app once it exists (see `subrequest_app`).
    pub fn set_subrequest_app(&self, app: Arc<dyn pingora::proxy::Subrequest + Send + Sync>) {
        let _ = self.subrequest_app.set(SubrequestApp(app));
    }

    /// A spawner of subrequests into this node's pipeline, once serving started.
    pub(crate) fn subrequest_spawner(&self) -> Option<pingora::proxy::SubrequestSpawner> {
        self.subrequest_app
            .get()
            .map(|app| pingora::proxy::SubrequestSpawner::new(app.0.clone()))
    }

    /// Whether this is `outpost dev`.
    pub fn dev(&self) -> bool {
        self.dev
    }

    /// The JS runtime if it has started (without starting it).
    pub fn started_script_engine(&self) -> Option<&outpost_scripting::ScriptEngine> {
        self.scripts.get()
    }

    /// The JS runtime (its threads start on first use).
    pub fn script_engine(&self) -> std::io::Result<&outpost_scripting::ScriptEngine> {
        if let Some(e) = self.scripts.get() {
            return Ok(e);
        }
        let server = &self.snapshot().config.server;
        let queue = outpost_scripting::QueueLimits::new(
            self.script_threads,
            server.script_queue_per_thread,
            server.script_queue_per_script,
            server.script_queue_timeout,
        );
        let engine = outpost_scripting::ScriptEngine::with_kv(
            self.script_threads,
            self.script_limits,
            self.kv.clone(),
        )?
        .with_queue_limits(queue);
        Ok(self.scripts.get_or_init(|| engine))
    }

    /// Counts a request as in flight (what a drain waits for) until the guard is
    /// dropped: whichever path answers, and however its future ends.
    pub(crate) fn enter_request(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.in_flight.clone())
    }

    /// The next request's number (its id is `NODE-N`, N in hex).
    pub fn next_request_seq(&self) -> u64 {
        self.request_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// The next request's id, as the request keeps it.
    pub(crate) fn new_request_id(&self) -> Arc<str> {
        crate::request_id::RequestId {
            node: &self.node_id,
            seq: self.next_request_seq(),
        }
        .shared()
    }

    /// The snapshot for a new request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The file the running config came from.
    pub fn config_path(&self) -> PathBuf {
        self.snapshot.load().config.source.clone()
    }

    /// Re-reads the config file and, if everything in it is valid, swaps it in with
    /// freshly loaded certificates. On any error nothing changes.
    pub fn reload(&self) -> Result<u64> {
        let path = self.config_path();
        let result = outpost_config::load(&path)
            .map_err(ProxyError::from)
            .and_then(|config| self.apply(config));
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        self.metrics.reloads.with_label_values(&[outcome]).inc();
        result
    }

    /// Swaps in an already validated config (all-or-nothing).
    pub fn apply(&self, mut config: Config) -> Result<u64> {
        if self.dev {
            config.server.debug_headers = true;
        }
        let old = self.snapshot();
        let certs = CertIndex::load(&cert_sources(&config))?
            .refusing_unknown(config.tls.refuse_unknown_sni);
        let generation = self.generation.load(Ordering::SeqCst) + 1;
        let listen_changed = old.config.listen.http != config.listen.http
            || old.config.listen.https != config.listen.https
            || old.config.listen.h2c != config.listen.h2c;
        let cache_changed = old.config.cache != config.cache;
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        open_kv(&self.kv, &config, self.cluster.as_ref())?;
        let snapshot = Snapshot::build(config, generation, &self.resolver)?;
        self.metrics.config_loaded(&snapshot.hash, generation);
        if let Some(cluster) = &self.cluster {
            cluster.set_version(snapshot.hash.clone());
        }
        self.certs.replace(certs);
        let orders = acme_orders(&snapshot.config);
        self.acme_orders.send_if_modified(|o| {
            let changed = *o != orders;
            *o = orders;
            changed
        });
        self.snapshot.store(Arc::new(snapshot));
        self.generation.store(generation, Ordering::SeqCst);
        if cache_changed {
            tracing::warn!(
                "cache settings changed; restart Outpost to apply them (the rest of the reload was applied)"
            );
        }
        if listen_changed {
            // Listening sockets are created once at start; everything else was applied.
            tracing::warn!(
                "listen addresses changed; restart Outpost to apply them (the rest of the reload was applied)"
            );
        }
        Ok(generation)
    }
}

impl crate::bundle::Node for Live {
    fn config_path(&self) -> PathBuf {
        Live::config_path(self)
    }

    fn reload(&self) -> std::result::Result<u64, String> {
        Live::reload(self).map_err(|e| e.to_string())
    }
}
