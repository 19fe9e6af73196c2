//! `kv:`: where hooks' KV namespaces live.

use crate::locate::Seg::Key;
use crate::raw;
use crate::validator::Validator;
use std::time::Duration;

/// The shared backend's local cache lifetime, or `None` for the local file.
pub(crate) fn validate(v: &mut Validator<'_>, raw: &raw::Kv, cluster: bool) -> Option<Duration> {
    let shared = v.choice(
        raw.backend.as_deref(),
        &[Key("kv"), Key("backend")],
        &[("local", false), ("redis", true)],
        "a KV backend",
    );
    if shared && !cluster {
        v.report(
            &[Key("kv"), Key("backend")],
            "the redis backend uses the cluster's Redis: add a `cluster:` section (cluster.redis)",
        );
    }
    let kv_cache_ttl = v.duration(
        raw.cache_ttl.as_deref(),
        Duration::from_secs(5),
        &[Key("kv"), Key("cache_ttl")],
    );
    shared.then_some(kv_cache_ttl)
}
