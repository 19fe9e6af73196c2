//! Page rules: compiles the ops team's YAML rules into a fast matcher and answers
//! "which rule applies to this request, and what does it do".
//!
//! This crate owns URL pattern matching (a host index, then a first-path-segment
//! index, then ordered wildcard patterns: the first matching rule wins), the `when`
//! conditions, and the pure parts of the actions (redirect targets, URL rewrites, the
//! client's `Cache-Control`). It takes a plain [`RequestView`] and returns a
//! [`Match`]; it must not depend on pingora, do I/O, or compile anything per request.
//! Rule files are read and validated by `outpost-config`; `outpost-proxy` applies the
//! decisions.

mod actions;
mod conditions;
mod glob;
mod matcher;
mod request;

pub use actions::{Redirect, browser_cache_control};
pub use conditions::cookies;
pub use matcher::{Match, RuleSet};
pub use request::RequestView;

/// Result alias for applying rules.
pub type Result<T> = std::result::Result<T, RulesError>;

/// Errors from applying a matched rule to a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// Substituting the request's text into a target produced something unusable
    /// (for example a rewritten path that is not a valid URI path).
    #[error("rule {rule}: {what} {value:?} is not valid after substitution")]
    BadTarget {
        /// The rule (`file:line`).
        rule: String,
        /// Which target (`forward.to`, `rewrite`).
        what: &'static str,
        /// The text produced.
        value: String,
    },
}
