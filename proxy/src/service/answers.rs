//! The small plain-text answers Outpost gives itself: redirects and refusals from
//! rules, 4xx for bad requests, error pages.

use bytes::Bytes;
use http::header;
use pingora::Result;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

pub(crate) async fn respond(session: &mut Session, status: u16, body: String) -> Result<()> {
    respond_with(session, status, body, &[]).await
}

/// [`respond`] with extra headers (`Location`, `Outpost-Rule`).
pub(crate) async fn respond_with(
    session: &mut Session,
    status: u16,
    body: String,
    extra: &[(&'static str, String)],
) -> Result<()> {
    let mut resp = ResponseHeader::build(status, Some(4 + extra.len()))?;
    for (name, value) in extra {
        resp.insert_header(*name, value.as_str())?;
    }
    resp.insert_header(header::CONTENT_TYPE, "text/plain; charset=utf-8")?;
    resp.insert_header(header::CONTENT_LENGTH, body.len().to_string())?;
    resp.insert_header(header::CACHE_CONTROL, "no-store")?;
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session
            .write_response_body(Some(Bytes::from(body)), true)
            .await?;
    }
    Ok(())
}

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
