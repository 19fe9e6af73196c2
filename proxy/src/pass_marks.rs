//! Hit-for-pass: cache keys whose origin last answered with a response the cache must
//! not store (`no-store`, `private`), remembered for a while so that the next
//! requests for them go straight to the origin ([`crate::hit_path`]'s pass) instead of
//! through the cache's lookup, fill lock and pingora's per-request machinery.
//!
//! A mark only ever sends a request to the origin, which is always a correct answer,
//! so a stale mark costs speed, never correctness. It goes when it expires, when the
//! origin's answer may be storable again (the next request then takes the full path,
//! which stores it or marks it again), and on a purge of everything.

use std::time::Duration;

/// How long a mark lasts: Varnish's built-in hit-for-miss lasts as long.
const TTL: Duration = Duration::from_secs(120);
/// Marks kept at most (16-byte keys: about 10 MiB with moka's bookkeeping).
const MAX_MARKS: u64 = 100_000;

/// The marked keys (pingora's primary-key hash).
pub struct PassMarks {
    // (Keys are cache-key hashes: a seeded fast hasher is enough.)
    marks: moka::sync::Cache<[u8; 16], (), foldhash::fast::RandomState>,
}

impl std::fmt::Debug for PassMarks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassMarks")
            .field("marks", &self.marks.entry_count())
            .finish()
    }
}

impl Default for PassMarks {
    fn default() -> Self {
        PassMarks {
            marks: moka::sync::Cache::builder()
                .max_capacity(MAX_MARKS)
                .time_to_live(TTL)
                .build_with_hasher(foldhash::fast::RandomState::default()),
        }
    }
}

impl PassMarks {
    /// The origin said `key`'s response must not be stored.
    pub fn mark(&self, key: [u8; 16]) {
        self.marks.insert(key, ());
    }

    /// Whether requests for `key` go straight to the origin.
    pub fn marked(&self, key: &[u8; 16]) -> bool {
        self.marks.contains_key(key)
    }

    /// `key`'s response may be storable again.
    pub fn unmark(&self, key: &[u8; 16]) {
        if self.marks.contains_key(key) {
            self.marks.invalidate(key);
        }
    }

    /// Forgets every mark.
    pub fn clear(&self) {
        self.marks.invalidate_all();
    }
}
