//! The tiered cache: a pingora-cache `Storage` with a moka memory tier in front of a
//! crash-safe, size-bounded disk tier, plus purge.
//!
//! This crate will own cache storage only: where bytes live, eviction, promotion
//! between tiers and purge. It must know nothing of rules, scripts or sites; cache
//! policy (what is cacheable, for how long, under which key) is decided in `proxy`.
//!
//! Status: the foundation issue only establishes the crate and its error type; the
//! storage lands with the cache issue.

/// Result alias for cache storage.
pub type Result<T> = std::result::Result<T, CacheError>;

/// Errors from cache storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Disk I/O failed.
    #[error("cache I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
