//! KV namespaces (`env.NAME.get/put/delete/list`): the [`KvBackend`] scripts and the
//! admin API go through, and [`KvStore`], the backend on this node's disk. (A shared
//! backend, Redis in cluster mode, is provided by the proxy.)
//!
//! One redb file holds every namespace (a table each). redb because it is pure Rust
//! (no C toolchain), ACID with crash-safe commits, keeps one file that is easy to back
//! up, and has had a stable file format since 1.0; sled has been in beta for years and
//! an LSM store (fjall) is more machinery than small edge KV needs. The file is locked
//! by the process that opens it: while Outpost runs, writes from outside go through
//! the admin API.
//!
//! Values carry an optional expiry (seconds since the epoch, as Workers KV's
//! `expiration`); expired values read as missing and are removed when next touched.

use crate::error::{Result, ScriptError};
use redb::{Database, ReadableDatabase, TableDefinition};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A KV operation's outcome, when it is ready.
pub type KvFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

/// Where KV namespaces are kept. Operations may wait on the network (a shared
/// store), so they return futures; the JS threads await them without blocking other
/// requests. Keys are checked by the caller ([`check_key`], [`MAX_VALUE`]).
pub trait KvBackend: Send + Sync + std::fmt::Debug + 'static {
    /// The value of `key`, unless missing or expired.
    fn get(&self, namespace: &str, key: &str) -> KvFuture<Option<Vec<u8>>>;
    /// Stores `value`, expiring at `expires` (seconds since the epoch) if given.
    fn put(&self, namespace: &str, key: &str, value: Vec<u8>, expires: Option<f64>)
    -> KvFuture<()>;
    /// Removes `key` (no error when it is missing).
    fn delete(&self, namespace: &str, key: &str) -> KvFuture<()>;
    /// Up to `limit` live keys starting with `prefix`, after `cursor`.
    fn list(&self, namespace: &str, prefix: &str, cursor: &str, limit: usize) -> KvFuture<KvList>;
}

/// Longest key, as in Workers KV.
pub const MAX_KEY: usize = 512;
/// Largest value (Workers KV allows 25 MiB).
pub const MAX_VALUE: usize = 25 << 20;

/// A KV operation a script asked for.
#[derive(Debug, Clone)]
pub(crate) enum KvOp {
    Get {
        namespace: String,
        key: String,
    },
    Put {
        namespace: String,
        key: String,
        value: Vec<u8>,
        expires: Option<f64>,
    },
    Delete {
        namespace: String,
        key: String,
    },
    List {
        namespace: String,
        prefix: String,
        cursor: String,
        limit: usize,
    },
}

/// One key in a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct KvKey {
    /// The key.
    pub name: String,
    /// Its expiry (seconds since the epoch), if it has one.
    pub expiration: Option<f64>,
}

/// A page of keys.
#[derive(Debug, Clone, PartialEq)]
pub struct KvList {
    /// Keys in order.
    pub keys: Vec<KvKey>,
    /// Where the next page starts, when there is one.
    pub cursor: Option<String>,
}

/// What a KV operation returned.
#[derive(Debug)]
pub(crate) enum KvResult {
    Value(Option<Vec<u8>>),
    Done,
    List(KvList),
}

/// The durable store behind every KV namespace of this node.
pub struct KvStore {
    db: Database,
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KvStore")
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn kv_error(what: &str, e: impl std::fmt::Display) -> ScriptError {
    ScriptError::Kv {
        message: format!("{what}: {e}"),
    }
}

/// Stored value: 8 bytes of expiry (f64, 0 = none) then the value.
fn encode(value: &[u8], expires: Option<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires.unwrap_or(0.0).to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(raw: &[u8]) -> (Option<f64>, &[u8]) {
    let (head, value) = raw.split_at(raw.len().min(8));
    let mut b = [0u8; 8];
    b[..head.len()].copy_from_slice(head);
    let e = f64::from_le_bytes(b);
    (if e > 0.0 { Some(e) } else { None }, value)
}

/// Refuses keys Workers KV refuses (empty or over [`MAX_KEY`] bytes).
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(ScriptError::Kv {
            message: format!("keys must be 1 to {MAX_KEY} bytes long"),
        });
    }
    Ok(())
}

impl KvStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<KvStore> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| kv_error(&format!("creating {}", dir.display()), e))?;
        }
        let db = Database::create(path)
            .map_err(|e| kv_error(&format!("opening {}", path.display()), e))?;
        Ok(KvStore { db })
    }

    /// The value of `key` in `namespace`, unless missing or expired.
    pub fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let tx = self.db.begin_read().map_err(|e| kv_error("read", e))?;
        let table = match tx.open_table(TableDefinition::<&str, &[u8]>::new(namespace)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(kv_error("read", e)),
        };
        let Some(raw) = table.get(key).map_err(|e| kv_error("read", e))? else {
            return Ok(None);
        };
        let (expires, value) = decode(raw.value());
        if expires.is_some_and(|e| e <= now()) {
            return Ok(None);
        }
        Ok(Some(value.to_vec()))
    }

    /// Stores `value` (durably: the commit is on disk when this returns).
    pub fn put(
        &self,
        namespace: &str,
        key: &str,
        value: &[u8],
        expires: Option<f64>,
    ) -> Result<()> {
        check_key(key)?;
        if value.len() > MAX_VALUE {
            return Err(ScriptError::Kv {
                message: format!("values are limited to {MAX_VALUE} bytes"),
            });
        }
        let tx = self.db.begin_write().map_err(|e| kv_error("write", e))?;
        {
            let mut table = tx
                .open_table(TableDefinition::<&str, &[u8]>::new(namespace))
                .map_err(|e| kv_error("write", e))?;
            table
                .insert(key, encode(value, expires).as_slice())
                .map_err(|e| kv_error("write", e))?;
        }
        tx.commit().map_err(|e| kv_error("commit", e))
    }

    /// Removes `key` (no error when it is missing).
    pub fn delete(&self, namespace: &str, key: &str) -> Result<()> {
        let tx = self.db.begin_write().map_err(|e| kv_error("write", e))?;
        {
            let mut table = tx
                .open_table(TableDefinition::<&str, &[u8]>::new(namespace))
                .map_err(|e| kv_error("write", e))?;
            table.remove(key).map_err(|e| kv_error("write", e))?;
        }
        tx.commit().map_err(|e| kv_error("commit", e))
    }

    /// Up to `limit` live keys starting with `prefix`, after `cursor` (a key from the
    /// previous page; empty for the first page).
    pub fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: &str,
        limit: usize,
    ) -> Result<KvList> {
        let limit = limit.clamp(1, 1000);
        let tx = self.db.begin_read().map_err(|e| kv_error("read", e))?;
        let table = match tx.open_table(TableDefinition::<&str, &[u8]>::new(namespace)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Ok(KvList {
                    keys: Vec::new(),
                    cursor: None,
                });
            }
            Err(e) => return Err(kv_error("read", e)),
        };
        let start = if cursor.is_empty() { prefix } else { cursor };
        let now = now();
        let mut keys = Vec::new();
        let mut more = false;
        for item in table.range(start..).map_err(|e| kv_error("read", e))? {
            let (k, v) = item.map_err(|e| kv_error("read", e))?;
            let name = k.value();
            if !name.starts_with(prefix) {
                break;
            }
            if !cursor.is_empty() && name == cursor {
                continue;
            }
            let (expires, _) = decode(v.value());
            if expires.is_some_and(|e| e <= now) {
                continue;
            }
            if keys.len() == limit {
                more = true;
                break;
            }
            keys.push(KvKey {
                name: name.to_string(),
                expiration: expires,
            });
        }
        let cursor = if more {
            keys.last().map(|k| k.name.clone())
        } else {
            None
        };
        Ok(KvList { keys, cursor })
    }
}

/// The local store answers at once (a redb commit is a local fsync).
impl KvBackend for KvStore {
    fn get(&self, namespace: &str, key: &str) -> KvFuture<Option<Vec<u8>>> {
        Box::pin(std::future::ready(KvStore::get(self, namespace, key)))
    }

    fn put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expires: Option<f64>,
    ) -> KvFuture<()> {
        Box::pin(std::future::ready(KvStore::put(
            self, namespace, key, &value, expires,
        )))
    }

    fn delete(&self, namespace: &str, key: &str) -> KvFuture<()> {
        Box::pin(std::future::ready(KvStore::delete(self, namespace, key)))
    }

    fn list(&self, namespace: &str, prefix: &str, cursor: &str, limit: usize) -> KvFuture<KvList> {
        Box::pin(std::future::ready(KvStore::list(
            self, namespace, prefix, cursor, limit,
        )))
    }
}

/// Runs a script's KV operation on `backend`.
pub(crate) fn run(backend: &Arc<dyn KvBackend>, op: KvOp) -> KvFuture<KvResult> {
    match op {
        KvOp::Get { namespace, key } => {
            let f = backend.get(&namespace, &key);
            Box::pin(async move { f.await.map(KvResult::Value) })
        }
        KvOp::Put {
            namespace,
            key,
            value,
            expires,
        } => {
            if let Err(e) = check_key(&key) {
                return Box::pin(std::future::ready(Err(e)));
            }
            if value.len() > MAX_VALUE {
                return Box::pin(std::future::ready(Err(ScriptError::Kv {
                    message: format!("values are limited to {MAX_VALUE} bytes"),
                })));
            }
            let f = backend.put(&namespace, &key, value, expires);
            Box::pin(async move { f.await.map(|()| KvResult::Done) })
        }
        KvOp::Delete { namespace, key } => {
            let f = backend.delete(&namespace, &key);
            Box::pin(async move { f.await.map(|()| KvResult::Done) })
        }
        KvOp::List {
            namespace,
            prefix,
            cursor,
            limit,
        } => {
            let f = backend.list(&namespace, &prefix, &cursor, limit);
            Box::pin(async move { f.await.map(KvResult::List) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_delete_and_expiry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = KvStore::open(&dir.path().join("kv.redb")).expect("open");
        assert_eq!(kv.get("NS", "a").expect("get"), None);
        kv.put("NS", "user:1", b"ada", None).expect("put");
        kv.put("NS", "user:2", b"grace", None).expect("put");
        kv.put("NS", "old", b"x", Some(now() - 1.0)).expect("put");
        kv.put("OTHER", "user:1", b"other", None).expect("put");
        assert_eq!(
            kv.get("NS", "user:1").expect("get").as_deref(),
            Some(&b"ada"[..])
        );
        assert_eq!(kv.get("NS", "old").expect("get"), None, "expired");
        let page = kv.list("NS", "user:", "", 1).expect("list");
        assert_eq!(page.keys.len(), 1);
        assert_eq!(page.keys[0].name, "user:1");
        let cursor = page.cursor.expect("more");
        let page = kv.list("NS", "user:", &cursor, 10).expect("list");
        assert_eq!(
            page.keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>(),
            ["user:2"]
        );
        assert_eq!(page.cursor, None);
        kv.delete("NS", "user:1").expect("delete");
        assert_eq!(kv.get("NS", "user:1").expect("get"), None);
        assert!(kv.put("NS", "", b"x", None).is_err());
        drop(kv);
        let kv = KvStore::open(&dir.path().join("kv.redb")).expect("reopen");
        assert_eq!(
            kv.get("NS", "user:2").expect("get").as_deref(),
            Some(&b"grace"[..])
        );
    }
}
