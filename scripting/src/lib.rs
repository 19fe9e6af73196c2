//! The JavaScript hook runtime: a Workers-compatible API on boa_engine.
//!
//! This crate will own running developers' `fetch` hooks in sandboxes (CPU-time and
//! memory limits per request, no file system, no sockets except `fetch`), the Web
//! APIs they use, and compiled-script caching. `boa_engine::Context` is `!Send`, so
//! JS runs on dedicated threads and must never cross into a pingora task. It talks
//! to the network only through a `Fetcher` trait that `proxy` provides.
//!
//! Status: the foundation issue only establishes the crate and its error type; the
//! runtime lands with the scripting issue.

/// Result alias for script operations.
pub type Result<T> = std::result::Result<T, ScriptError>;

/// Errors from loading or running scripts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The script failed to compile.
    #[error("{script}: syntax error: {message}")]
    Compile {
        /// Script name or path.
        script: String,
        /// The engine's message.
        message: String,
    },
}
