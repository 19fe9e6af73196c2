//! `cache:` and cache keys: the tiered cache's sizes and what a key is made of.

use crate::locate::Seg::{self, Key};
use crate::raw;
use crate::validator::Validator;
use std::path::PathBuf;
use std::time::Duration;

/// The tiered cache (shared by all sites).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Memory tier capacity in bytes (0 disables caching entirely unless a disk tier is set).
    pub memory: u64,
    /// Objects larger than this skip the memory tier.
    pub max_memory_object: u64,
    /// Memory for kept HTML rewrites of stored pages (0: every hit is rewritten).
    pub rewritten_pages: u64,
    /// Disk tier, if configured.
    pub disk: Option<CacheDiskConfig>,
    /// How long concurrent misses for one key wait for the first one's fetch.
    pub lock_timeout: Duration,
    /// The longest lifetime guessed for a response without one (RFC 9111 §4.2.2:
    /// 10 % of the time since its `Last-Modified`); zero turns guessing off.
    pub heuristic_max: Duration,
    /// Whether clients' `Cache-Control` request directives count.
    pub request_directives: RequestDirectives,
}

/// What the cache does with a client's `Cache-Control` request directives (RFC 9111
/// §5.2.1). `only-if-cached` is obeyed either way: it can only spare the origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestDirectives {
    /// As Cloudflare, Fastly and Akamai do: a browser's reload (`max-age=0`,
    /// `no-cache`) must not turn into an origin fetch for every visitor who presses it.
    #[default]
    Ignore,
    /// `no-cache`, `max-age`, `min-fresh`, `max-stale` and `no-store` as the RFC says.
    Honour,
}

/// The disk tier of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDiskConfig {
    /// Directory (created if missing).
    pub path: PathBuf,
    /// Capacity in bytes.
    pub size: u64,
}

/// What goes into a site's cache key besides scheme, host and path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheKeyPolicy {
    /// Query string handling.
    pub query: QueryKey,
    /// Request headers whose values are part of the key (lowercase names).
    pub headers: Vec<String>,
    /// Cookies whose values are part of the key.
    pub cookies: Vec<String>,
}

/// How the query string enters the cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum QueryKey {
    /// As sent.
    #[default]
    Full,
    /// Parameters sorted, so `?b=1&a=2` and `?a=2&b=1` share an object.
    Sorted,
    /// Left out: every query string shares the object of the bare path.
    Ignore,
    /// Only these parameters, in the order sent.
    Include(Vec<String>),
    /// Every parameter but these, in the order sent.
    Exclude(Vec<String>),
}

pub(crate) fn validate(v: &mut Validator<'_>, c: &raw::Cache) -> CacheConfig {
    let memory = v.size(
        c.memory.as_deref(),
        256 << 20,
        &[Key("cache"), Key("memory")],
    );
    let cache = CacheConfig {
        memory,
        max_memory_object: v.size(
            c.max_memory_object.as_deref(),
            8 << 20,
            &[Key("cache"), Key("max_memory_object")],
        ),
        // Default: an eighth of the memory tier, at most 64 MiB.
        rewritten_pages: v.size(
            c.rewritten_pages.as_deref(),
            (memory / 8).min(64 << 20),
            &[Key("cache"), Key("rewritten_pages")],
        ),
        disk: c.disk.as_ref().map(|d| CacheDiskConfig {
            path: v.resolve(&d.path),
            size: v.size(Some(&d.size), 0, &[Key("cache"), Key("disk"), Key("size")]),
        }),
        lock_timeout: v.duration(
            c.lock_timeout.as_deref(),
            Duration::from_secs(5),
            &[Key("cache"), Key("lock_timeout")],
        ),
        heuristic_max: v.duration(
            c.heuristic_max.as_deref(),
            Duration::from_secs(86_400),
            &[Key("cache"), Key("heuristic_max")],
        ),
        request_directives: v.choice(
            c.request_directives.as_deref(),
            &[Key("cache"), Key("request_directives")],
            &[
                ("ignore", RequestDirectives::Ignore),
                ("honour", RequestDirectives::Honour),
                ("honor", RequestDirectives::Honour),
            ],
            "ignore or honour",
        ),
    };
    if cache.disk.as_ref().is_some_and(|d| d.size == 0) {
        v.report(
            &[Key("cache"), Key("disk"), Key("size")],
            "must be greater than zero",
        );
    }

    cache
}

/// A cache key policy (site `cache_key:` or a rule's `cache_key` action).
pub(crate) fn cache_key_policy(
    v: &mut Validator<'_>,
    k: &raw::CacheKey,
    at: &[Seg],
) -> CacheKeyPolicy {
    let mut path = at.to_vec();
    path.push(Seg::Key("query"));
    let expected = "(expected \"full\", \"sorted\", \"ignore\", { include: [NAME, ...] } or { exclude: [NAME, ...] })";
    let query = match &k.query {
        None => QueryKey::Full,
        Some(serde_yaml::Value::String(s)) => match s.as_str() {
            "full" => QueryKey::Full,
            "sorted" => QueryKey::Sorted,
            "ignore" => QueryKey::Ignore,
            other => {
                v.report(
                    &path,
                    format!("{other:?} is not a query key mode {expected}"),
                );
                QueryKey::Full
            }
        },
        Some(serde_yaml::Value::Mapping(m)) if m.len() == 1 => {
            let (key, list) = m
                .iter()
                .next()
                .map_or((None, None), |(k, l)| (k.as_str(), Some(l)));
            let names: Option<Vec<String>> = list
                .and_then(|l| l.as_sequence())
                .and_then(|seq| seq.iter().map(|n| n.as_str().map(str::to_string)).collect());
            match (key, names) {
                (Some("include"), Some(n)) => QueryKey::Include(n),
                (Some("exclude"), Some(n)) => QueryKey::Exclude(n),
                _ => {
                    v.report(&path, format!("not a query key mode {expected}"));
                    QueryKey::Full
                }
            }
        }
        Some(_) => {
            v.report(&path, format!("not a query key mode {expected}"));
            QueryKey::Full
        }
    };
    CacheKeyPolicy {
        query,
        headers: k.headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
        cookies: k.cookies.clone(),
    }
}
