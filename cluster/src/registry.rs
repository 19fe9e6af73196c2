//! The node registry: each node keeps `outpost:node:<id>` alive with a TTL; everyone
//! reads the set of live entries.

use crate::error::{ClusterError, Result};
use outpost_config::Tier;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Registry key prefix.
pub(crate) const NODE_PREFIX: &str = "outpost:node:";

/// One node as it registers itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `cluster.node_id`.
    pub id: String,
    /// `cluster.region`.
    pub region: String,
    /// `lower` or `upper`.
    pub tier: String,
    /// Where its HTTP listener is reached (upper tiers).
    pub advertise: Option<SocketAddr>,
    /// The content hash of its running config.
    pub version: String,
    /// The last pushed bundle it applied.
    #[serde(default)]
    pub bundle: Option<String>,
    /// Unix seconds when the process started.
    pub started: u64,
    /// Unix seconds of its last heartbeat.
    pub seen: u64,
}

impl NodeInfo {
    /// Whether it serves as an upper tier.
    pub fn is_upper(&self) -> bool {
        self.tier == Tier::Upper.name()
    }
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes this node's entry with a TTL.
pub(crate) async fn register<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    node: &NodeInfo,
    ttl_secs: u64,
) -> Result<()> {
    let json = serde_json::to_string(node).map_err(|e| ClusterError::Malformed {
        key: format!("{NODE_PREFIX}{}", node.id),
        reason: e.to_string(),
    })?;
    redis::cmd("SET")
        .arg(format!("{NODE_PREFIX}{}", node.id))
        .arg(json)
        .arg("EX")
        .arg(ttl_secs.max(1))
        .query_async::<()>(conn)
        .await?;
    Ok(())
}

/// Every live node, sorted by id. Entries this version cannot read are skipped
/// with a warning (a newer node may write more fields; unknown fields are fine).
pub async fn list<C: redis::aio::ConnectionLike + Send>(conn: &mut C) -> Result<Vec<NodeInfo>> {
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{NODE_PREFIX}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(conn).await?;
    let mut nodes: Vec<NodeInfo> = keys
        .iter()
        .zip(values)
        .filter_map(|(key, value)| {
            let text = value?;
            match serde_json::from_str(&text) {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::warn!(%key, error = %e, "unreadable cluster registry entry");
                    None
                }
            }
        })
        .collect();
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(nodes)
}
