//! The stream reader: one `XREAD BLOCK` over the purge and bundle streams from this
//! node's stored positions, applying purges from other nodes (and acknowledging them)
//! and the bundles addressed to this node.

use crate::error::Result;
use crate::{Inner, bundle, lock, purge};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A node's positions on the purge and bundle streams.
#[derive(Debug, Clone, Default)]
struct Cursors {
    purges: String,
    bundles: String,
}

impl Inner {
    /// Reads the purge and bundle streams for as long as the process lives,
    /// reconnecting with back-off.
    pub(crate) async fn read_purges(self: Arc<Self>) {
        let mut cursors: Option<Cursors> = None;
        let mut backoff = Duration::from_millis(250);
        loop {
            if let Err(e) = self.read_session(&mut cursors, &mut backoff).await {
                tracing::debug!(error = %e, "stream reader: Redis unavailable; retrying");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Where this node is on a stream: its stored position, or (new to the cluster)
    /// the newest entry.
    async fn start_position(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        key: String,
        stream: &str,
    ) -> Result<String> {
        let stored: Option<String> = redis::cmd("GET").arg(&key).query_async(conn).await?;
        let position = match stored {
            Some(c) => c,
            None => purge::last_id(conn, stream).await?,
        };
        // Stored at once: a node that stops before anything arrives must still find
        // its place on restart (the test for this caught a node that did not).
        redis::cmd("SET")
            .arg(&key)
            .arg(&position)
            .query_async::<()>(conn)
            .await?;
        Ok(position)
    }

    async fn read_session(
        &self,
        cursors: &mut Option<Cursors>,
        backoff: &mut Duration,
    ) -> Result<()> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let me = self.cfg.node_id.clone();
        let position = match cursors.clone() {
            Some(c) => c,
            None => Cursors {
                purges: self
                    .start_position(&mut conn, purge::cursor_key(&me), purge::STREAM)
                    .await?,
                bundles: self
                    .start_position(&mut conn, bundle::cursor_key(&me), bundle::STREAM)
                    .await?,
            },
        };
        // Back after a gap longer than the stream keeps: what was purged is unknown.
        if purge::missed_trimmed(&mut conn, &position.purges).await? {
            let n = self.sink.purge_everything().await;
            self.missed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                purged = n,
                "purges were missed while this node was away (more than cluster.purge_retention): emptied the cache"
            );
        }
        *cursors = Some(position);
        *backoff = Duration::from_millis(250);
        loop {
            let at = cursors.clone().unwrap_or_default();
            let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(100)
                .arg("BLOCK")
                .arg(1000)
                .arg("STREAMS")
                .arg(purge::STREAM)
                .arg(bundle::STREAM)
                .arg(&at.purges)
                .arg(&at.bundles)
                .query_async(&mut conn)
                .await?;
            let Some(reply) = reply else { continue };
            let mut next = at;
            for stream in reply.keys {
                for entry in stream.ids {
                    if stream.key == bundle::STREAM {
                        self.bundle_entry(&mut conn, &me, &entry).await?;
                        next.bundles = entry.id;
                    } else {
                        self.purge_entry(&mut conn, &me, &entry).await?;
                        next.purges = entry.id;
                    }
                }
            }
            redis::pipe()
                .cmd("SET")
                .arg(purge::cursor_key(&me))
                .arg(&next.purges)
                .ignore()
                .cmd("SET")
                .arg(bundle::cursor_key(&me))
                .arg(&next.bundles)
                .ignore()
                .query_async::<()>(&mut conn)
                .await?;
            *cursors = Some(next);
        }
    }

    async fn purge_entry(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        me: &str,
        entry: &redis::streams::StreamId,
    ) -> Result<()> {
        let from: String = entry.get("from").unwrap_or_default();
        if from == me {
            return Ok(());
        }
        let everything: Option<u8> = entry.get("everything");
        let n = if everything.is_some() {
            self.sink.purge_everything().await
        } else {
            let body: Vec<u8> = entry.get("body").unwrap_or_default();
            self.sink.apply(&body).await
        };
        self.applied.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(from = %from, id = %entry.id, purged = n, "applied a purge from the cluster");
        let queue = purge::ack_queue(&entry.id);
        redis::pipe()
            .cmd("RPUSH")
            .arg(&queue)
            .arg(me)
            .ignore()
            .cmd("EXPIRE")
            .arg(&queue)
            .arg(purge::ACK_TTL_SECS)
            .ignore()
            .query_async::<()>(conn)
            .await?;
        Ok(())
    }

    async fn bundle_entry(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        me: &str,
        entry: &redis::streams::StreamId,
    ) -> Result<()> {
        let version: String = entry.get("version").unwrap_or_default();
        let targets: String = entry.get("targets").unwrap_or_default();
        match bundle::receive(
            conn,
            me,
            &version,
            &targets,
            self.cfg.secret_key.as_ref(),
            self.bundles.as_ref(),
        )
        .await?
        {
            Some((version, Ok(()))) => {
                tracing::info!(%version, "applied a pushed config bundle");
                *lock(&self.bundle) = Some(version);
            }
            Some((version, Err(e))) => {
                tracing::warn!(%version, error = %e, "refused a pushed config bundle; the previous files keep serving");
                *lock(&self.bundle_rejected) = Some((version, e.0));
            }
            None => {}
        }
        Ok(())
    }
}
