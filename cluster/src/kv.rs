//! Shared KV namespaces in the cluster's Redis (`kv: { backend: redis }`).
//!
//! A value is the string `outpost:kv:NS:v:KEY` (8 bytes of expiry, then the value;
//! Redis expires it too); `outpost:kv:NS:index` is a sorted set of the keys for
//! ordered, prefixed listing. Reads go through a local cache whose entries live
//! `kv.cache_ttl`: a value written on one node is seen by the others within that
//! long (Workers KV's model: eventually consistent, fast reads), and at once on the
//! node that wrote it.

use crate::error::Result;
use crate::{ClusterError, Inner};
use std::sync::Arc;
use std::time::Duration;

/// One key in a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct KvEntry {
    /// The key.
    pub name: String,
    /// Its expiry (seconds since the epoch), if it has one.
    pub expiration: Option<f64>,
}

/// Shared KV over the cluster's Redis, with a local read cache.
#[derive(Clone)]
pub struct SharedKv {
    inner: Arc<Inner>,
    cache: moka::sync::Cache<(String, String), Option<Arc<Vec<u8>>>>,
}

impl std::fmt::Debug for SharedKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedKv")
    }
}

fn value_key(ns: &str, key: &str) -> String {
    format!("outpost:kv:{ns}:v:{key}")
}

fn index_key(ns: &str) -> String {
    format!("outpost:kv:{ns}:index")
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn encode(value: &[u8], expires: Option<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires.unwrap_or(0.0).to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(raw: &[u8]) -> Option<(Option<f64>, &[u8])> {
    if raw.len() < 8 {
        return None;
    }
    let (head, value) = raw.split_at(8);
    let mut b = [0u8; 8];
    b.copy_from_slice(head);
    let e = f64::from_le_bytes(b);
    Some((if e > 0.0 { Some(e) } else { None }, value))
}

/// Bounds every Redis call, so a script waits at most this long on KV.
const CALL_LIMIT: Duration = Duration::from_secs(2);

impl SharedKv {
    pub(crate) fn new(inner: Arc<Inner>, cache_ttl: Duration) -> SharedKv {
        SharedKv {
            inner,
            cache: moka::sync::Cache::builder()
                .max_capacity(64 << 20)
                .weigher(|k: &(String, String), v: &Option<Arc<Vec<u8>>>| {
                    let size = k.0.len() + k.1.len() + v.as_ref().map_or(0, |v| v.len()) + 64;
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .time_to_live(cache_ttl)
                .build(),
        }
    }

    async fn conn(&self) -> Result<redis::aio::ConnectionManager> {
        tokio::time::timeout(CALL_LIMIT, self.inner.conn())
            .await
            .map_err(|_| ClusterError::Timeout(CALL_LIMIT))?
    }

    /// Runs a MULTI/EXEC pipeline.
    async fn run(&self, pipe: &redis::Pipeline) -> Result<()> {
        let mut conn = self.conn().await?;
        tokio::time::timeout(CALL_LIMIT, pipe.query_async::<()>(&mut conn))
            .await
            .map_err(|_| ClusterError::Timeout(CALL_LIMIT))?
            .map_err(ClusterError::from)
    }

    async fn call<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        let mut conn = self.conn().await?;
        tokio::time::timeout(CALL_LIMIT, cmd.query_async(&mut conn))
            .await
            .map_err(|_| ClusterError::Timeout(CALL_LIMIT))?
            .map_err(ClusterError::from)
    }

    /// The value of `key`, unless missing or expired (from the local cache when it
    /// has one younger than `kv.cache_ttl`).
    pub async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let ck = (ns.to_string(), key.to_string());
        if let Some(hit) = self.cache.get(&ck) {
            return Ok(hit.map(|v| v.as_ref().clone()));
        }
        let raw: Option<Vec<u8>> = self.call(redis::cmd("GET").arg(value_key(ns, key))).await?;
        let value = raw
            .as_deref()
            .and_then(decode)
            .and_then(|(exp, v)| (exp.is_none_or(|e| e > now())).then(|| v.to_vec()));
        self.cache
            .insert(ck, value.as_ref().map(|v| Arc::new(v.clone())));
        Ok(value)
    }

    /// Stores `value` for every node (this one sees it at once).
    pub async fn put(
        &self,
        ns: &str,
        key: &str,
        value: Vec<u8>,
        expires: Option<f64>,
    ) -> Result<()> {
        let mut set = redis::cmd("SET");
        set.arg(value_key(ns, key)).arg(encode(&value, expires));
        if let Some(e) = expires {
            set.arg("PXAT").arg((e * 1000.0) as u64);
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .add_command(set)
            .ignore()
            .cmd("ZADD")
            .arg(index_key(ns))
            .arg(0)
            .arg(key)
            .ignore();
        self.run(&pipe).await?;
        self.cache
            .insert((ns.to_string(), key.to_string()), Some(Arc::new(value)));
        Ok(())
    }

    /// Removes `key` for every node.
    pub async fn delete(&self, ns: &str, key: &str) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(value_key(ns, key))
            .ignore()
            .cmd("ZREM")
            .arg(index_key(ns))
            .arg(key)
            .ignore();
        self.run(&pipe).await?;
        self.cache.insert((ns.to_string(), key.to_string()), None);
        Ok(())
    }

    /// Up to `limit` live keys starting with `prefix`, after `cursor`, in order;
    /// and where the next page starts, if there is one. Always read from Redis.
    pub async fn list(
        &self,
        ns: &str,
        prefix: &str,
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<KvEntry>, Option<String>)> {
        let limit = limit.clamp(1, 1000);
        let mut start: Vec<u8> = if cursor.is_empty() {
            [b"[", prefix.as_bytes()].concat()
        } else {
            [b"(", cursor.as_bytes()].concat()
        };
        // UTF-8 never has 0xff: every key with the prefix sorts before prefix + 0xff.
        let end: Vec<u8> = if prefix.is_empty() {
            b"+".to_vec()
        } else {
            [b"[", prefix.as_bytes(), &[0xff]].concat()
        };
        let mut keys = Vec::new();
        loop {
            let batch: Vec<String> = self
                .call(
                    redis::cmd("ZRANGEBYLEX")
                        .arg(index_key(ns))
                        .arg(&start)
                        .arg(&end)
                        .arg("LIMIT")
                        .arg(0)
                        .arg(limit + 1),
                )
                .await?;
            if batch.is_empty() {
                return Ok((keys, None));
            }
            let values: Vec<Option<Vec<u8>>> = self
                .call(
                    redis::cmd("MGET")
                        .arg(batch.iter().map(|k| value_key(ns, k)).collect::<Vec<_>>()),
                )
                .await?;
            let full = batch.len() == limit + 1;
            let mut gone = Vec::new();
            for (name, raw) in batch.iter().zip(values) {
                match raw.as_deref().and_then(decode) {
                    Some((exp, _)) if exp.is_none_or(|e| e > now()) => {
                        if keys.len() == limit {
                            let next = keys.last().map(|k: &KvEntry| k.name.clone());
                            return Ok((keys, next));
                        }
                        keys.push(KvEntry {
                            name: name.clone(),
                            expiration: exp,
                        });
                    }
                    _ => gone.push(name.clone()),
                }
            }
            if !gone.is_empty() {
                // Expired values leave their index entries behind; tidy them.
                let _: Result<i64> = self
                    .call(redis::cmd("ZREM").arg(index_key(ns)).arg(&gone))
                    .await;
            }
            if !full {
                return Ok((keys, None));
            }
            let Some(last) = batch.last() else {
                return Ok((keys, None));
            };
            start = [b"(", last.as_bytes()].concat();
        }
    }
}
