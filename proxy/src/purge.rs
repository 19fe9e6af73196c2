//! Purges: Cloudflare's purge body (`files`, `prefixes`, `hosts`, `tags` or
//! `purge_everything`), applied to this node's cache — by the admin API, and in
//! cluster mode for purges other nodes published ([`CachePurger`]).

use crate::caching::{EdgeCache, key_from_parts, parse_key_text};
use serde::Deserialize;

/// Cloudflare's purge request body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    purge_everything: bool,
}

impl PurgeRequest {
    /// Reads a purge body; the message says what is wrong with it.
    pub fn parse(body: &[u8]) -> Result<PurgeRequest, String> {
        let p: PurgeRequest =
            serde_json::from_slice(body).map_err(|e| format!("invalid purge request: {e}"))?;
        let kinds = [
            !p.files.is_empty(),
            !p.prefixes.is_empty(),
            !p.hosts.is_empty(),
            !p.tags.is_empty(),
            p.purge_everything,
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(
                "give exactly one of files, prefixes, hosts, tags or purge_everything: true".into(),
            );
        }
        Ok(p)
    }
}

fn strip_scheme(s: &str) -> &str {
    s.strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s)
}

/// Why a purge did not happen.
#[derive(Debug)]
pub enum PurgeFailure {
    /// The request names something that is not a URL (a `400`).
    Invalid(String),
    /// Too many purges are waiting (a `503`: try again).
    Busy(String),
}

impl std::fmt::Display for PurgeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PurgeFailure::Invalid(m) | PurgeFailure::Busy(m) => f.write_str(m),
        }
    }
}

/// Removes what `p` names from the cache; returns how many objects went.
pub async fn apply(cache: EdgeCache, p: &PurgeRequest) -> Result<usize, PurgeFailure> {
    let storage = cache.storage;
    let purged = if p.purge_everything {
        storage.purge_all()
    } else if !p.files.is_empty() {
        let mut n = 0;
        for f in &p.files {
            let Ok(uri) = f.parse::<http::Uri>() else {
                return Err(PurgeFailure::Invalid(format!("{f:?} is not a URL")));
            };
            let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
                return Err(PurgeFailure::Invalid(format!(
                    "{f:?} needs a scheme and host"
                )));
            };
            let pq = uri.path_and_query().map_or("/", |p| p.as_str());
            if cache
                .invalidate(&key_from_parts(
                    storage.key_hash(),
                    scheme,
                    &host.to_ascii_lowercase(),
                    pq,
                ))
                .await
            {
                n += 1;
            }
        }
        n
    } else if !p.prefixes.is_empty() {
        let prefixes: Vec<String> = p
            .prefixes
            .iter()
            .map(|x| strip_scheme(x).to_ascii_lowercase())
            .collect();
        purge_paced(storage, move |info| {
            parse_key_text(info.key_text()).is_some_and(|(_, host, pq)| {
                let url = format!("{host}{pq}");
                prefixes.iter().any(|pre| url.starts_with(pre.as_str()))
            })
        })
        .await?
    } else if !p.hosts.is_empty() {
        let hosts: Vec<String> = p.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        purge_paced(storage, move |info| {
            parse_key_text(info.key_text())
                .is_some_and(|(_, host, _)| hosts.iter().any(|h| h == host))
        })
        .await?
    } else {
        let tags: Vec<String> = p
            .tags
            .iter()
            .map(|t| t.trim().to_ascii_lowercase())
            .collect();
        purge_paced(storage, move |info| {
            info.tags().any(|t| tags.iter().any(|want| want == t))
        })
        .await?
    };
    Ok(purged)
}

/// Work a purge does before it pauses, and the pause: a purge of 100k objects on a
/// core that also serves requests came in bursts long enough (a scheduler slice is
/// ~3 ms) to show in the requests' p99 (benches/load/purge-during-hits.sh). In short
/// bursts with sleeps between, requests are delayed by at most one burst.
const PURGE_BURST: std::time::Duration = std::time::Duration::from_micros(300);
const PURGE_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// Purges waiting for the purge thread beyond the one it runs; more are refused.
const PURGE_QUEUE: usize = 64;

type PurgeJob = Box<dyn FnOnce() + Send>;

/// The thread that runs purges that walk the catalog, one at a time, at the lowest
/// CPU priority of normal threads (nice 19): a purge runs when request threads leave
/// the core to it and yields to them when they wake (started on first use).
fn purge_thread() -> Option<&'static std::sync::mpsc::SyncSender<PurgeJob>> {
    static THREAD: std::sync::OnceLock<Option<std::sync::mpsc::SyncSender<PurgeJob>>> =
        std::sync::OnceLock::new();
    THREAD
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<PurgeJob>(PURGE_QUEUE);
            std::thread::Builder::new()
                .name("outpost-purge".into())
                .spawn(move || {
                    // (Not SCHED_IDLE, as the janitor: under sustained full load a
                    // purge must still finish.) Where the priority cannot be set, the
                    // thread still runs, at the control runtime's.
                    use thread_priority::{
                        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
                    };
                    if let Err(e) = thread_priority::set_thread_priority_and_policy(
                        thread_priority::thread_native_id(),
                        ThreadPriority::Min,
                        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
                    ) {
                        tracing::debug!(error = ?e, "purge thread keeps normal priority");
                    }
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Purges every object whose record satisfies `pred`, a piece at a time, on the purge
/// thread; everything matching is gone from both tiers when it returns.
async fn purge_paced(
    storage: &'static outpost_cache::TieredStorage,
    pred: impl Fn(&outpost_cache::ObjectInfo) -> bool + Send + 'static,
) -> Result<usize, PurgeFailure> {
    let (done, purged) = tokio::sync::oneshot::channel();
    let job: PurgeJob = Box::new(move || {
        let _ = done.send(purge_now(storage, &pred));
    });
    let busy = |m: &str| PurgeFailure::Busy(m.to_string());
    let thread = purge_thread().ok_or_else(|| busy("the purge thread could not start"))?;
    thread.try_send(job).map_err(|_| {
        busy(&format!(
            "more than {PURGE_QUEUE} purges are waiting; try again later"
        ))
    })?;
    purged.await.map_err(|_| busy("the purge thread stopped"))
}

fn purge_now(
    storage: &outpost_cache::TieredStorage,
    pred: &dyn Fn(&outpost_cache::ObjectInfo) -> bool,
) -> usize {
    let entries = storage.catalog_entries();
    let mut purged = 0;
    let mut burst = std::time::Instant::now();
    for piece in entries.chunks(64) {
        let keys: Vec<[u8; 16]> = piece
            .iter()
            .filter(|(_, info)| pred(info))
            .map(|(k, _)| *k)
            .collect();
        purged += storage.purge_keys(&keys);
        if burst.elapsed() >= PURGE_BURST {
            std::thread::sleep(PURGE_PAUSE);
            burst = std::time::Instant::now();
        }
    }
    purged
}

/// Applies purges that other cluster nodes published to this node's cache.
pub struct CachePurger(pub Option<EdgeCache>);

#[async_trait::async_trait]
impl outpost_cluster::PurgeSink for CachePurger {
    async fn apply(&self, body: &[u8]) -> usize {
        let Some(cache) = self.0 else { return 0 };
        match PurgeRequest::parse(body) {
            Ok(p) => apply(cache, &p).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "a purge from the cluster could not be applied");
                0
            }),
            Err(e) => {
                tracing::warn!(error = %e, "a purge from the cluster is not one this version reads");
                0
            }
        }
    }

    async fn purge_everything(&self) -> usize {
        self.0.map_or(0, |c| c.storage.purge_all())
    }
}
