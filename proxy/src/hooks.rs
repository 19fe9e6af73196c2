//! Running a JS hook for a request and writing its answer.
//!
//! A hook runs after the page rules (which may have rewritten the request) and before
//! the cache, as in Workers. In this version a hook answers the request itself;
//! `fetch()` subrequests through the pipeline come with the rest of the scripting work.

use crate::site::Site;
use bytes::Bytes;
use http::header;
use outpost_config::ScriptFile;
use outpost_rules::Match;
use outpost_scripting::ScriptEngine;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorType, Result};

/// Largest request body handed to a hook.
const MAX_BODY: usize = 1 << 20;

/// The hook for this request: the rule's, else the site's, unless the rule disables
/// scripts.
pub(crate) fn hook_for(site: &Site, rule: Option<&Match>) -> Option<ScriptFile> {
    match rule.map(|m| &m.rule.actions) {
        Some(a) if a.disable_scripts => None,
        Some(a) if a.script.is_some() => a.script.clone(),
        _ => site.script.clone(),
    }
}

/// Runs `script` for the request in `session` and writes its response (or a 500 that
/// says why the hook failed; the detail only with `debug`).
pub(crate) async fn answer(
    session: &mut Session,
    engine: &ScriptEngine,
    script: ScriptFile,
    env: std::sync::Arc<outpost_scripting::Env>,
    url: String,
    debug: bool,
) -> Result<()> {
    let name = script.path.display().to_string();
    let request = match request_for(session, url).await? {
        Some(r) => r,
        None => {
            return write(
                session,
                413,
                &[],
                Bytes::from_static(b"413 Payload Too Large\n"),
            )
            .await;
        }
    };
    match engine.run(script, env, request).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            let headers: Vec<(String, Vec<u8>)> = parts
                .headers
                .iter()
                .filter(|(k, _)| {
                    !matches!(
                        *k,
                        &header::CONTENT_LENGTH | &header::TRANSFER_ENCODING | &header::CONNECTION
                    )
                })
                .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
                .collect();
            write(session, parts.status.as_u16(), &headers, Bytes::from(body)).await
        }
        Err(e) => {
            tracing::warn!(script = %name, kind = e.kind(), error = %e, "script failed");
            let mut body = String::from(
                "500 Internal Server Error\nThe site's edge script could not handle this request.\n",
            );
            if debug {
                body.push_str(&format!("\n{e}\n"));
            }
            let kind = vec![("outpost-error".to_string(), e.kind().as_bytes().to_vec())];
            write(session, 500, &kind, Bytes::from(body)).await
        }
    }
}

/// The request as the hook sees it: absolute URL, method, headers and (bounded) body.
/// `None` when the body is over [`MAX_BODY`].
async fn request_for(session: &mut Session, url: String) -> Result<Option<http::Request<Vec<u8>>>> {
    let mut body = Vec::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    let req = session.req_header();
    let mut builder = http::Request::builder()
        .method(req.method.clone())
        .uri(url.as_str());
    for (k, v) in req.headers.iter() {
        builder = builder.header(k, v);
    }
    builder
        .body(body)
        .map(Some)
        .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "request for the script", e))
}

async fn write(
    session: &mut Session,
    status: u16,
    headers: &[(String, Vec<u8>)],
    body: Bytes,
) -> Result<()> {
    let mut resp = ResponseHeader::build(status, Some(headers.len() + 1))?;
    for (k, v) in headers {
        resp.append_header(k.clone(), v.as_slice())?;
    }
    resp.insert_header(header::CONTENT_LENGTH, body.len().to_string())?;
    let head_only = session.req_header().method == http::Method::HEAD || body.is_empty();
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

/// The absolute URL a hook sees as `request.url`.
pub(crate) fn request_url(tls: bool, host_header: Option<&str>, host: &str, pq: &str) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}{pq}", host_header.unwrap_or(host))
}
