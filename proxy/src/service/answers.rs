//! The small plain-text answers Outpost gives itself: redirects and refusals from
//! rules, 4xx for bad requests, error pages.

use pingora::Result;
use pingora::proxy::Session;

pub(crate) use crate::reply::{respond, respond_with};

/// A page rule produced a target that is not a valid URL for this request (its
/// wildcards captured something odd): a 500 naming the rule, and a log line.
pub(crate) async fn rule_failed(
    session: &mut Session,
    e: &outpost_rules::RulesError,
    extra: &[(&'static str, String)],
) -> Result<bool> {
    tracing::warn!(error = %e, "page rule could not be applied");
    let body = format!("500 Internal Server Error\n{e}\n");
    respond_with(session, 500, body, extra).await?;
    Ok(true)
}

pub(crate) fn status_text(code: u16) -> &'static str {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}
