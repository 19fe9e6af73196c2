//! Page rules: compiles the ops team's YAML rules into a fast matcher.
//!
//! This crate will own URL pattern compilation (host index, then ordered wildcard
//! patterns, first match wins) and return the actions that apply to a request. It
//! takes a plain request view and returns a decision: it must not depend on pingora
//! or perform I/O. Rule files are parsed and validated by `outpost-config`.
//!
//! Status: the foundation issue only establishes the crate and its error type; the
//! matcher lands with the page-rules issue.

/// Result alias for rule compilation.
pub type Result<T> = std::result::Result<T, RulesError>;

/// Errors from compiling rules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// A URL pattern could not be compiled.
    #[error("invalid URL pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}
