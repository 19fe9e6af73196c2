//! `kv: { backend: redis }`: the cluster's shared KV as the scripts' KV backend.

use outpost_scripting::{KvBackend, KvFuture, KvKey, KvList, ScriptError};

/// Adapts [`outpost_cluster::SharedKv`] to the scripting crate's backend trait.
#[derive(Debug, Clone)]
pub struct RedisKv(pub outpost_cluster::SharedKv);

fn kv_error(e: outpost_cluster::ClusterError) -> ScriptError {
    ScriptError::Kv {
        message: format!("shared KV unavailable: {e}"),
    }
}

impl KvBackend for RedisKv {
    fn get(&self, namespace: &str, key: &str) -> KvFuture<Option<Vec<u8>>> {
        let (kv, ns, key) = (self.0.clone(), namespace.to_string(), key.to_string());
        Box::pin(async move { kv.get(&ns, &key).await.map_err(kv_error) })
    }

    fn put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expires: Option<f64>,
    ) -> KvFuture<()> {
        let (kv, ns, key) = (self.0.clone(), namespace.to_string(), key.to_string());
        Box::pin(async move { kv.put(&ns, &key, value, expires).await.map_err(kv_error) })
    }

    fn delete(&self, namespace: &str, key: &str) -> KvFuture<()> {
        let (kv, ns, key) = (self.0.clone(), namespace.to_string(), key.to_string());
        Box::pin(async move { kv.delete(&ns, &key).await.map_err(kv_error) })
    }

    fn list(&self, namespace: &str, prefix: &str, cursor: &str, limit: usize) -> KvFuture<KvList> {
        let kv = self.0.clone();
        let (ns, prefix, cursor) = (
            namespace.to_string(),
            prefix.to_string(),
            cursor.to_string(),
        );
        Box::pin(async move {
            let (keys, cursor) = kv
                .list(&ns, &prefix, &cursor, limit)
                .await
                .map_err(kv_error)?;
            Ok(KvList {
                keys: keys
                    .into_iter()
                    .map(|k| KvKey {
                        name: k.name,
                        expiration: k.expiration,
                    })
                    .collect(),
                cursor,
            })
        })
    }
}
