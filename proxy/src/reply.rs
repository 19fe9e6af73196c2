//! Answers the proxy writes itself, whole: a plain-text status answer (refusals,
//! errors, rule redirects) and a head with a body of known length.

use bytes::Bytes;
use http::header;
use pingora::Result;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

/// A plain-text answer with `status` and `body`.
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

/// Writes `resp` with `body` (and its length).
pub(crate) async fn write_head_and(
    session: &mut Session,
    mut resp: ResponseHeader,
    body: Bytes,
) -> Result<()> {
    resp.insert_header(header::CONTENT_LENGTH, body.len())?;
    let head_only = session.req_header().method == http::Method::HEAD || body.is_empty();
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}
