//! The one error type of this crate.

use std::path::PathBuf;

/// Result alias for cache storage.
pub type Result<T> = std::result::Result<T, CacheError>;

/// Errors from cache storage set-up. (Errors while serving become pingora errors and
/// are treated as misses; they never fail a request.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Disk I/O failed.
    #[error("cache I/O on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
