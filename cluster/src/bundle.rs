//! Config distribution: `outpost push` publishes a bundle — the rules files and
//! scripts a config names, paths relative to its directory — versioned by its
//! SHA-256; nodes (all, or a named subset for a staged rollout) verify the checksum,
//! apply it, and keep their previous files when it does not load.
//!
//! In Redis: the bundle itself at `outpost:bundle:VERSION` (kept 7 days), an entry on
//! the stream `outpost:bundles` naming the version and the target nodes, and each
//! node's outcome in the hash `outpost:bundle:VERSION:results`.

use crate::error::{ClusterError, Result};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The stream announcing bundles.
pub(crate) const STREAM: &str = "outpost:bundles";

/// How long a published bundle is kept.
const BUNDLE_TTL_SECS: u64 = 7 * 86_400;

fn bundle_key(version: &str) -> String {
    format!("outpost:bundle:{version}")
}

fn results_key(version: &str) -> String {
    format!("outpost:bundle:{version}:results")
}

/// Where a node's position on the bundle stream is kept.
pub(crate) fn cursor_key(node: &str) -> String {
    format!("outpost:bundle-cursor:{node}")
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// Relative to the config's directory, `/`-separated, no `..`.
    pub path: String,
    /// The file's text.
    pub content: String,
}

/// A set of files pushed to the cluster as one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// SHA-256 (hex) over the files, in path order.
    pub version: String,
    /// The files.
    pub files: Vec<BundleFile>,
    /// Who or why (`outpost push --message`).
    pub message: String,
    /// Unix seconds when pushed.
    pub created: u64,
}

impl Bundle {
    /// A bundle of `files`, versioned by their content.
    pub fn new(mut files: Vec<BundleFile>, message: String) -> Bundle {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Bundle {
            version: checksum(&files),
            files,
            message,
            created: crate::registry::unix_now(),
        }
    }

    /// Whether the version is the checksum of the files (nothing was altered or cut).
    pub fn verify(&self) -> bool {
        checksum(&self.files) == self.version
    }
}

fn checksum(files: &[BundleFile]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for f in files {
        // Lengths first, so no two different file sets hash alike.
        ctx.update(&(f.path.len() as u64).to_le_bytes());
        ctx.update(f.path.as_bytes());
        ctx.update(&(f.content.len() as u64).to_le_bytes());
        ctx.update(f.content.as_bytes());
    }
    hex::encode(ctx.finish().as_ref())
}

/// Why a node did not apply a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BundleRejected(pub String);

/// Applies bundles on a node (implemented by the proxy).
#[async_trait::async_trait]
pub trait BundleSink: Send + Sync + 'static {
    /// Installs `bundle` and reloads; on any failure leaves the node as it was.
    async fn apply(&self, bundle: &Bundle) -> std::result::Result<(), BundleRejected>;
}

/// One node's answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushResult {
    /// The node.
    pub node: String,
    /// `applied`, or `rejected: WHY`; `no answer` if it did not answer in time.
    pub outcome: String,
}

/// Publishes `bundle` to `targets` (`None`: every node) through the Redis at `url`,
/// then waits up to `wait` for each expected node's outcome.
pub async fn push(
    url: &str,
    bundle: &Bundle,
    targets: Option<&[String]>,
    wait: Duration,
) -> Result<Vec<PushResult>> {
    let client = redis::Client::open(url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let json = serde_json::to_string(bundle).map_err(|e| ClusterError::Malformed {
        key: bundle_key(&bundle.version),
        reason: e.to_string(),
    })?;
    let expected: Vec<String> = match targets {
        Some(t) => t.to_vec(),
        None => crate::registry::list(&mut conn)
            .await?
            .into_iter()
            .map(|n| n.id)
            .collect(),
    };
    redis::pipe()
        .cmd("SET")
        .arg(bundle_key(&bundle.version))
        .arg(json)
        .arg("EX")
        .arg(BUNDLE_TTL_SECS)
        .ignore()
        .cmd("DEL")
        .arg(results_key(&bundle.version))
        .ignore()
        .cmd("XADD")
        .arg(STREAM)
        .arg("MAXLEN")
        .arg("~")
        .arg(1000)
        .arg("*")
        .arg("version")
        .arg(&bundle.version)
        .arg("targets")
        .arg(targets.map_or_else(|| "*".to_string(), |t| t.join(",")))
        .ignore()
        .query_async::<()>(&mut conn)
        .await?;
    let deadline = Instant::now() + wait;
    loop {
        let results: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(results_key(&bundle.version))
            .query_async(&mut conn)
            .await?;
        if expected.iter().all(|n| results.contains_key(n)) || Instant::now() >= deadline {
            return Ok(expected
                .iter()
                .map(|n| PushResult {
                    node: n.clone(),
                    outcome: results
                        .get(n)
                        .cloned()
                        .unwrap_or_else(|| "no answer".into()),
                })
                .collect());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fetches and applies the bundle a stream entry announces, if it is for `me`;
/// records the outcome. Returns the version and outcome when it was for `me`.
pub(crate) async fn receive<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    me: &str,
    version: &str,
    targets: &str,
    sink: &dyn BundleSink,
) -> Result<Option<(String, std::result::Result<(), BundleRejected>)>> {
    if targets != "*" && !targets.split(',').any(|t| t == me) {
        return Ok(None);
    }
    let json: Option<String> = redis::cmd("GET")
        .arg(bundle_key(version))
        .query_async(conn)
        .await?;
    let outcome = match json.map(|j| serde_json::from_str::<Bundle>(&j)) {
        None => Err(BundleRejected("the bundle is gone from Redis".into())),
        Some(Err(e)) => Err(BundleRejected(format!("unreadable bundle: {e}"))),
        Some(Ok(b)) if b.version != version || !b.verify() => Err(BundleRejected(
            "checksum mismatch: the bundle is not the one announced".into(),
        )),
        Some(Ok(b)) => sink.apply(&b).await,
    };
    let text = match &outcome {
        Ok(()) => "applied".to_string(),
        Err(e) => format!("rejected: {e}"),
    };
    redis::cmd("HSET")
        .arg(results_key(version))
        .arg(me)
        .arg(text)
        .query_async::<()>(conn)
        .await?;
    Ok(Some((version.to_string(), outcome)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_content_and_catch_tampering() {
        let f = |p: &str, c: &str| BundleFile {
            path: p.into(),
            content: c.into(),
        };
        let a = Bundle::new(vec![f("rules.yaml", "x"), f("a.js", "y")], String::new());
        let b = Bundle::new(vec![f("a.js", "y"), f("rules.yaml", "x")], "again".into());
        assert_eq!(a.version, b.version, "order and message do not matter");
        assert!(a.verify());
        let c = Bundle::new(vec![f("rules.yaml", "xa.js"), f("", "y")], String::new());
        assert_ne!(a.version, c.version);
        let mut tampered = a.clone();
        tampered.files[0].content.push(' ');
        assert!(!tampered.verify());
    }
}
