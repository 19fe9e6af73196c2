//! The catalog: what each stored object is (its key text and `Cache-Tag` tags), so
//! that purges by prefix, host or tag can find objects whose keys are only hashes.
//!
//! It covers both tiers and is rebuilt from the disk objects' heads at start.

use crate::disk::Key;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What the catalog knows about one object: its primary key as text and the tags of
/// its `Cache-Tag` header. Held as one shared string, the disk tier's encoding (the
/// key, then each tag on a line of its own), so that a record is one allocation: the
/// catalog has a record for every cached object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    text: Arc<str>,
}

impl ObjectInfo {
    /// The record of an object with primary key `key_text` (its format is the
    /// caller's; see `proxy::caching`) and these tags (as [`Self::tags_from_header`]
    /// gives them). Line breaks in either become spaces.
    pub fn new<'a>(key_text: &str, tags: impl IntoIterator<Item = &'a str>) -> Self {
        let mut text = key_text.replace('\n', " ");
        for t in tags {
            text.push('\n');
            text.push_str(&t.replace('\n', " "));
        }
        ObjectInfo { text: text.into() }
    }

    /// The primary cache key as text.
    pub fn key_text(&self) -> &str {
        self.text.split('\n').next().unwrap_or_default()
    }

    /// Tags from the response's `Cache-Tag` header, in order.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n').skip(1)
    }

    /// Tags from a `Cache-Tag` header value (comma separated, as Cloudflare's).
    pub fn tags_from_header(value: &str) -> Vec<String> {
        value
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    pub(crate) fn encode(&self) -> &[u8] {
        self.text.as_bytes()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Self {
        ObjectInfo {
            text: String::from_utf8_lossy(bytes).into(),
        }
    }
}

/// Shared map from object key to its info.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    inner: Arc<RwLock<HashMap<Key, ObjectInfo>>>,
}

impl Catalog {
    pub(crate) fn insert(&self, key: Key, info: ObjectInfo) {
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
    pub(crate) fn entries(&self) -> Vec<(Key, ObjectInfo)> {
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
        let tags = ObjectInfo::tags_from_header("Product, blog ,,news");
        assert_eq!(tags, vec!["product", "blog", "news"]);
        let info = ObjectInfo::new("4:http6:a.test2:/x", tags.iter().map(String::as_str));
        assert_eq!(info.key_text(), "4:http6:a.test2:/x");
        assert_eq!(info.tags().collect::<Vec<_>>(), tags);
        assert_eq!(ObjectInfo::decode(info.encode()), info);
        let bare = ObjectInfo::new("k\nwith a break", []);
        assert_eq!(bare.key_text(), "k with a break");
        assert_eq!(bare.tags().count(), 0);
    }
}
