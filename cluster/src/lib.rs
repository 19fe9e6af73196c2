//! Outpost's cluster mode: many nodes coordinated through Redis (or Valkey).
//!
//! This crate owns the node registry (TTL heartbeats), purge fan-out over a Redis
//! stream with acknowledgements and catch-up after a disconnection, and choosing
//! the upper-tier node for an object (consistent hashing over the healthy upper
//! nodes, with active TCP checks). It talks to Redis and, for health checks, opens
//! TCP connections to upper nodes; nothing else.
//!
//! It also keeps KV namespaces in Redis for `kv: { backend: redis }` ([`SharedKv`]).
//!
//! It must not know about HTTP, pingora or the cache's internals: the proxy applies
//! purges through [`PurgeSink`] and asks [`Cluster::uppers_for`] where to send a miss.
//! Redis is never on the request path, and every node keeps serving (from its
//! cache, its last known upper tiers and the origins) when Redis is gone; purges
//! made meanwhile are queued and sent when it is back.

mod bundle;
mod error;
mod kv;
mod purge;
mod reader;
mod registry;
mod tiers;

pub use bundle::{Bundle, BundleFile, BundleRejected, BundleSink, PushResult, push};
pub use error::{ClusterError, Result};
pub use kv::{KvEntry, SharedKv};
pub use purge::{PurgeAck, PurgeReport};
pub use registry::NodeInfo;

use arc_swap::ArcSwap;
use outpost_config::ClusterConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Applies purges that other nodes published (implemented by the proxy).
#[async_trait::async_trait]
pub trait PurgeSink: Send + Sync + 'static {
    /// Applies one purge; `body` is what the publishing node's admin API took.
    /// Returns how many objects went.
    async fn apply(&self, body: &[u8]) -> usize;
    /// Empties the cache: purges were missed and cannot be known.
    async fn purge_everything(&self) -> usize;
}

/// Purges held while Redis is unreachable; beyond this, they become one
/// purge-everything.
const MAX_QUEUED: usize = 10_000;

/// A node's view of the cluster, for `/status` and metrics.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// This node.
    pub node_id: String,
    /// `cluster.region`.
    pub region: String,
    /// `lower` or `upper`.
    pub tier: &'static str,
    /// Whether the last exchange with Redis worked.
    pub connected: bool,
    /// The last Redis error, if the last exchange failed.
    pub last_error: Option<String>,
    /// Live nodes from the registry (as last read).
    pub nodes: Vec<NodeInfo>,
    /// Upper-tier nodes answering health checks.
    pub uppers_healthy: Vec<SocketAddr>,
    /// Purges waiting for Redis.
    pub purges_queued: usize,
    /// Purges this node published.
    pub purges_published: u64,
    /// Purges from other nodes applied here.
    pub purges_applied: u64,
    /// Times this node emptied its cache because purges it missed were trimmed.
    pub purges_missed: u64,
    /// The last pushed bundle this node applied.
    pub bundle: Option<String>,
    /// The last pushed bundle it refused, and why (its files stayed as they were).
    pub bundle_rejected: Option<(String, String)>,
}

/// Queued purges: bodies in order, or "everything" after an overflow.
#[derive(Default)]
struct Queue {
    bodies: VecDeque<Vec<u8>>,
    everything: bool,
}

struct Inner {
    cfg: ClusterConfig,
    client: redis::Client,
    sink: Arc<dyn PurgeSink>,
    bundles: Arc<dyn BundleSink>,
    bundle: Mutex<Option<String>>,
    bundle_rejected: Mutex<Option<(String, String)>>,
    manager: tokio::sync::Mutex<Option<ConnectionManager>>,
    version: ArcSwap<String>,
    started: u64,
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
    nodes: ArcSwap<Vec<NodeInfo>>,
    uppers: tiers::Uppers,
    queue: Mutex<Queue>,
    published: AtomicU64,
    applied: AtomicU64,
    missed: AtomicU64,
}

/// This node's membership in the cluster; background tasks run while it lives.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_id", &self.inner.cfg.node_id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cluster {
    /// Joins the cluster: starts the heartbeat (registry, upper-tier checks, queued
    /// purges) and the purge reader on `runtime`. Does not wait for Redis.
    pub fn start(
        cfg: ClusterConfig,
        sink: Arc<dyn PurgeSink>,
        bundles: Arc<dyn BundleSink>,
        version: String,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Cluster> {
        let client = redis::Client::open(cfg.redis.as_str())?;
        let inner = Arc::new(Inner {
            cfg,
            client,
            sink,
            bundles,
            bundle: Mutex::new(None),
            bundle_rejected: Mutex::new(None),
            manager: tokio::sync::Mutex::new(None),
            version: ArcSwap::from_pointee(version),
            started: registry::unix_now(),
            connected: AtomicBool::new(false),
            last_error: Mutex::new(None),
            nodes: ArcSwap::from_pointee(Vec::new()),
            uppers: tiers::Uppers::default(),
            queue: Mutex::new(Queue::default()),
            published: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            missed: AtomicU64::new(0),
        });
        runtime.spawn(inner.clone().heartbeat());
        runtime.spawn(inner.clone().read_purges());
        Ok(Cluster { inner })
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.inner.cfg.node_id
    }

    /// Whether this node sends its misses to upper tiers.
    pub fn is_lower(&self) -> bool {
        self.inner.cfg.tier == outpost_config::Tier::Lower
    }

    /// Records the running config's version (shown in the registry).
    pub fn set_version(&self, version: String) {
        self.inner.version.store(Arc::new(version));
    }

    /// Publishes a purge already applied here and waits (up to
    /// `cluster.purge_ack_timeout`) for the other live nodes to acknowledge it. When
    /// Redis cannot take it, it is queued and sent once Redis is back.
    pub async fn publish_purge(&self, body: Vec<u8>) -> PurgeReport {
        self.inner.publish(body).await
    }

    /// The upper-tier nodes to try for an object with this cache key, home first.
    /// Empty on upper nodes and when no upper node is healthy.
    pub fn uppers_for(&self, key: &[u8]) -> Vec<SocketAddr> {
        if !self.is_lower() {
            return Vec::new();
        }
        self.inner.uppers.order(key)
    }

    /// KV namespaces shared through this cluster's Redis, read through a local cache
    /// whose entries live `cache_ttl`.
    pub fn shared_kv(&self, cache_ttl: Duration) -> SharedKv {
        SharedKv::new(self.inner.clone(), cache_ttl)
    }

    /// A request could not reach upper node `addr`: try it last until a check
    /// says it is back.
    pub fn mark_down(&self, addr: SocketAddr) {
        self.inner.uppers.mark_down(addr);
    }

    /// What this node knows of the cluster now.
    pub fn status(&self) -> ClusterStatus {
        let i = &self.inner;
        ClusterStatus {
            node_id: i.cfg.node_id.clone(),
            region: i.cfg.region.clone(),
            tier: i.cfg.tier.name(),
            connected: i.connected.load(Ordering::Relaxed),
            last_error: lock(&i.last_error).clone(),
            nodes: i.nodes.load().as_ref().clone(),
            uppers_healthy: i.uppers.healthy(),
            purges_queued: {
                let q = lock(&i.queue);
                q.bodies.len() + usize::from(q.everything)
            },
            purges_published: i.published.load(Ordering::Relaxed),
            purges_applied: i.applied.load(Ordering::Relaxed),
            purges_missed: i.missed.load(Ordering::Relaxed),
            bundle: lock(&i.bundle).clone(),
            bundle_rejected: lock(&i.bundle_rejected).clone(),
        }
    }
}

/// The live nodes registered in the Redis at `url` (for `outpost cluster status`).
pub async fn list_nodes(url: &str) -> Result<Vec<NodeInfo>> {
    let client = redis::Client::open(url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(3)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    registry::list(&mut conn).await
}

impl Inner {
    fn me(&self) -> NodeInfo {
        NodeInfo {
            id: self.cfg.node_id.clone(),
            region: self.cfg.region.clone(),
            tier: self.cfg.tier.name().to_string(),
            advertise: self.cfg.advertise,
            version: self.version.load().as_ref().clone(),
            bundle: lock(&self.bundle).clone(),
            started: self.started,
            seen: registry::unix_now(),
        }
    }

    /// The shared connection (reconnects by itself once made).
    async fn conn(&self) -> Result<ConnectionManager> {
        let mut slot = self.manager.lock().await;
        if let Some(m) = slot.as_ref() {
            return Ok(m.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let wait = Duration::from_secs(3);
        let m = tokio::time::timeout(
            wait,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(|_| ClusterError::Timeout(wait))??;
        *slot = Some(m.clone());
        Ok(m)
    }

    fn record(&self, result: &Result<()>) {
        let was = self.connected.swap(result.is_ok(), Ordering::Relaxed);
        match result {
            Ok(()) => {
                if !was {
                    tracing::info!(node = %self.cfg.node_id, "connected to the cluster's Redis");
                }
                *lock(&self.last_error) = None;
            }
            Err(e) => {
                if was {
                    tracing::warn!(error = %e, "lost the cluster's Redis; serving on, purges are queued");
                }
                *lock(&self.last_error) = Some(e.to_string());
            }
        }
    }

    /// Registry, node list, queued purges and upper-tier checks, every heartbeat.
    async fn heartbeat(self: Arc<Self>) {
        let ttl = (self.cfg.heartbeat.as_secs_f64() * 3.0).ceil() as u64;
        loop {
            let result = self.beat(ttl).await;
            self.record(&result);
            // With Redis gone, the last known upper nodes are still checked and used.
            let nodes = self.nodes.load_full();
            self.uppers
                .probe(&nodes, &self.cfg.node_id, Duration::from_secs(1))
                .await;
            tokio::time::sleep(self.cfg.heartbeat).await;
        }
    }

    async fn beat(&self, ttl: u64) -> Result<()> {
        let mut conn = self.conn().await?;
        registry::register(&mut conn, &self.me(), ttl).await?;
        let nodes = registry::list(&mut conn).await?;
        self.nodes.store(Arc::new(nodes));
        self.flush_queue(&mut conn).await
    }

    /// Sends queued purges, oldest first; stops at the first failure.
    async fn flush_queue(&self, conn: &mut ConnectionManager) -> Result<()> {
        loop {
            let (body, everything) = {
                let q = lock(&self.queue);
                if q.everything {
                    (Vec::new(), true)
                } else if let Some(b) = q.bodies.front() {
                    (b.clone(), false)
                } else {
                    return Ok(());
                }
            };
            purge::append(
                conn,
                &self.cfg.node_id,
                &body,
                everything,
                self.cfg.purge_retention,
            )
            .await?;
            self.published.fetch_add(1, Ordering::Relaxed);
            let mut q = lock(&self.queue);
            if everything {
                q.everything = false;
            } else {
                q.bodies.pop_front();
            }
            tracing::info!(
                left = q.bodies.len(),
                "sent a purge queued while Redis was away"
            );
        }
    }

    fn enqueue(&self, body: Vec<u8>) {
        let mut q = lock(&self.queue);
        if q.everything {
            return;
        }
        if q.bodies.len() >= MAX_QUEUED {
            // Too many to keep: whatever they named, purging everything covers it.
            q.bodies.clear();
            q.everything = true;
            tracing::warn!(
                "more than {MAX_QUEUED} purges queued while Redis is away: other nodes will purge everything when it is back"
            );
            return;
        }
        q.bodies.push_back(body);
    }
}
