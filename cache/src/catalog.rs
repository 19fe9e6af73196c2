//! The catalog: what each stored object is (its key text and `Cache-Tag` tags), so
//! that purges by prefix, host or tag can find objects whose keys are only hashes.
//!
//! It covers both tiers and is rebuilt from the disk objects' heads at start.

use crate::disk::Key;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What the catalog knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The primary cache key as text (its format is the caller's; see `proxy::caching`).
    pub key_text: String,
    /// Tags from the response's `Cache-Tag` header.
    pub tags: Vec<String>,
}

impl ObjectInfo {
    /// Tags from a `Cache-Tag` header value (comma separated, as Cloudflare's).
    pub fn tags_from_header(value: &str) -> Vec<String> {
        value
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = self.key_text.replace('\n', " ").into_bytes();
        for t in &self.tags {
            out.push(b'\n');
            out.extend_from_slice(t.replace('\n', " ").as_bytes());
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let mut lines = text.split('\n');
        let key_text = lines.next().unwrap_or_default().to_string();
        ObjectInfo {
            key_text,
            tags: lines.map(str::to_string).collect(),
        }
    }
}

/// Shared map from object key to its info.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    inner: Arc<RwLock<HashMap<Key, Arc<ObjectInfo>>>>,
}

impl Catalog {
    pub(crate) fn insert(&self, key: Key, info: Arc<ObjectInfo>) {
        if let Ok(mut m) = self.inner.write() {
            m.insert(key, info);
        }
    }

    pub(crate) fn remove(&self, key: &Key) {
        if let Ok(mut m) = self.inner.write() {
            m.remove(key);
        }
    }

    /// Every record, for a caller that walks them in pieces.
    pub(crate) fn entries(&self) -> Vec<(Key, Arc<ObjectInfo>)> {
        self.inner
            .read()
            .map(|m| m.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default()
    }

    pub(crate) fn keys(&self) -> Vec<Key> {
        self.inner
            .read()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trips() {
        let info = ObjectInfo {
            key_text: "4:http6:a.test2:/x".into(),
            tags: ObjectInfo::tags_from_header("Product, blog ,,news"),
        };
        assert_eq!(info.tags, vec!["product", "blog", "news"]);
        assert_eq!(ObjectInfo::decode(&info.encode()), info);
    }
}
