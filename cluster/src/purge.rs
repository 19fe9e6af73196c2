//! Purge fan-out over a Redis stream.
//!
//! A purge is appended to `outpost:purges` (capped at `cluster.purge_retention`
//! entries); every node reads the stream from its own cursor, applies what other
//! nodes published, appends its id to the entry's acknowledgement list (which the
//! publisher waits on with `BLPOP`), and stores its
//! cursor in Redis. A node that was disconnected (or stopped) reads on from its
//! cursor when it is back; if entries it never read were trimmed away meanwhile, it
//! cannot know what they purged and empties its cache instead.

use crate::error::{ClusterError, Result};
use crate::{Inner, lock};
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The stream every purge goes through.
pub(crate) const STREAM: &str = "outpost:purges";

/// Acknowledgements of a stream entry in arrival order, for the publisher to wait on.
pub(crate) fn ack_queue(entry: &str) -> String {
    format!("outpost:purge-ackq:{entry}")
}

/// Where a node's stream cursor is kept across restarts.
pub(crate) fn cursor_key(node: &str) -> String {
    format!("outpost:purge-cursor:{node}")
}

/// How long acknowledgement lists live.
pub(crate) const ACK_TTL_SECS: u64 = 300;

/// One node's acknowledgement of a purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeAck {
    /// The node.
    pub node: String,
    /// Milliseconds from publishing until the publisher had the acknowledgement.
    pub ms: u64,
}

/// What became of publishing a purge to the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// The stream entry, once published.
    pub id: Option<String>,
    /// Held locally because Redis could not take it; sent when Redis is back.
    pub queued: bool,
    /// The other live nodes expected to acknowledge.
    pub expected: usize,
    /// Those that did within `cluster.purge_ack_timeout`, in order.
    pub acknowledged: Vec<PurgeAck>,
    /// Why it was queued, if it was.
    pub error: Option<String>,
}

/// A stream entry id (`MS-SEQ`) as a comparable pair.
pub(crate) fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Appends one purge; returns the entry id.
pub(crate) async fn append<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    from: &str,
    body: &[u8],
    everything: bool,
    retention: usize,
) -> Result<String> {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(STREAM)
        .arg("MAXLEN")
        .arg("~")
        .arg(retention)
        .arg("*")
        .arg("from")
        .arg(from)
        .arg("body")
        .arg(body);
    if everything {
        cmd.arg("everything").arg(1);
    }
    Ok(cmd.query_async(conn).await?)
}

/// The id of the newest entry of `stream` (`0-0` when it is empty or missing).
pub(crate) async fn last_id<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    stream: &str,
) -> Result<String> {
    let newest: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(newest
        .ids
        .into_iter()
        .next()
        .map_or_else(|| "0-0".to_string(), |e| e.id))
}

/// Whether entries after `cursor` were trimmed before this node read them.
///
/// Trimming removes the oldest entries first, so if the entry at the cursor (the
/// last one this node read) is still there, nothing after it went; if the stream now
/// starts after it, something may have. (Redis' `max-deleted-entry-id` does not
/// count trimming.) A node that joined an empty stream (cursor `0-0`) missed
/// something if more entries were ever added than the stream holds.
pub(crate) async fn missed_trimmed<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    cursor: &str,
) -> Result<bool> {
    let exists: bool = redis::cmd("EXISTS").arg(STREAM).query_async(conn).await?;
    if !exists {
        // No stream (yet, or Redis lost it): nothing is known to be missed.
        return Ok(false);
    }
    let info: redis::Value = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(STREAM)
        .query_async(conn)
        .await?;
    let pairs: Vec<(redis::Value, redis::Value)> = match info {
        redis::Value::Map(m) => m,
        redis::Value::Array(items) => {
            let mut it = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            pairs
        }
        _ => Vec::new(),
    };
    let field = |name: &str| {
        pairs.iter().find_map(|(k, v)| {
            let k: String = redis::from_redis_value_ref(k).ok()?;
            if k == name {
                redis::from_redis_value_ref::<String>(v).ok()
            } else {
                None
            }
        })
    };
    let first = field("recorded-first-entry-id").and_then(|f| parse_id(&f));
    let added: Option<u64> = field("entries-added").and_then(|n| n.parse().ok());
    let length: Option<u64> = field("length").and_then(|n| n.parse().ok());
    Ok(match parse_id(cursor) {
        Some((0, 0)) => matches!((added, length), (Some(a), Some(l)) if a > l),
        Some(c) => first.is_some_and(|f| f > c),
        None => false,
    })
}

impl Inner {
    pub(crate) async fn publish(&self, body: Vec<u8>) -> PurgeReport {
        let started = Instant::now();
        let queued = |error: String| PurgeReport {
            id: None,
            queued: true,
            expected: 0,
            acknowledged: Vec::new(),
            error: Some(error),
        };
        // Queued purges go first, so order is kept.
        let has_queue = {
            let q = lock(&self.queue);
            q.everything || !q.bodies.is_empty()
        };
        if !self.connected.load(Ordering::Relaxed) || has_queue {
            self.enqueue(body);
            let why = lock(&self.last_error)
                .clone()
                .unwrap_or_else(|| "earlier purges are still queued".into());
            return queued(why);
        }
        let sent = async {
            let mut conn = self.conn().await?;
            let id = append(
                &mut conn,
                &self.cfg.node_id,
                &body,
                false,
                self.cfg.purge_retention,
            )
            .await?;
            Ok::<_, ClusterError>((conn, id))
        };
        let wait = Duration::from_secs(2);
        let (_conn, id) = match tokio::time::timeout(wait, sent).await {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                self.enqueue(body);
                return queued(e.to_string());
            }
            Err(_) => {
                self.enqueue(body);
                return queued(ClusterError::Timeout(wait).to_string());
            }
        };
        self.published.fetch_add(1, Ordering::Relaxed);
        let expected: Vec<String> = self
            .nodes
            .load()
            .iter()
            .filter(|n| n.id != self.cfg.node_id)
            .map(|n| n.id.clone())
            .collect();
        let mut acknowledged: Vec<PurgeAck> = Vec::new();
        let deadline = started + self.cfg.purge_ack_timeout;
        // A connection of its own: BLPOP blocks it (the shared one serves heartbeats).
        let blocking = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(self.cfg.purge_ack_timeout + Duration::from_secs(1)));
        if let Ok(mut waiter) = self
            .client
            .get_multiplexed_async_connection_with_config(&blocking)
            .await
        {
            let queue = ack_queue(&id);
            while acknowledged.len() < expected.len() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let popped: Option<(String, String)> = match redis::cmd("BLPOP")
                    .arg(&queue)
                    .arg(left.as_secs_f64().max(0.01))
                    .query_async(&mut waiter)
                    .await
                {
                    Ok(p) => p,
                    Err(_) => break,
                };
                let Some((_, node)) = popped else { break };
                if !acknowledged.iter().any(|a| a.node == node) {
                    acknowledged.push(PurgeAck {
                        node,
                        ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    });
                }
            }
        }
        PurgeReport {
            id: Some(id),
            queued: false,
            expected: expected.len(),
            acknowledged,
            error: None,
        }
    }
}
