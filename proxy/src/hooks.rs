//! Running a JS hook for a request and writing its answer.
//!
//! A hook runs after the page rules (which may have rewritten the request) and before
//! the cache, as in Workers. Its `fetch()` calls are subrequests through this proxy
//! (see `subrequest`), which is how `return fetch(request)` is served from the cache.

use crate::site::Site;
use crate::subrequest::PipelineFetcher;
use bytes::Bytes;
use http::header;
use outpost_config::ScriptFile;
use outpost_rules::Match;
use outpost_scripting::{
    Answer, Cf, FetchRequest, Fetcher, HookRequest, HookResponse, ScriptEngine, ScriptError,
};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorType, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Everything a hook run needs besides the session.
pub(crate) struct HookRun {
    /// The request's id in logs.
    pub(crate) id: Arc<str>,
    pub(crate) script: ScriptFile,
    pub(crate) env: std::sync::Arc<outpost_scripting::Env>,
    /// The absolute URL the script sees.
    pub(crate) url: String,
    /// Put the failure detail in error pages.
    pub(crate) debug: bool,
    pub(crate) cf: Cf,
    /// Where its `fetch()` goes (none when the session cannot spawn subrequests).
    pub(crate) fetcher: Option<Arc<PipelineFetcher>>,
}

/// Runs the hook for the request in `session` and writes its response (or a 500 that
/// says why the hook failed; the detail only with `debug`). Returns how the run went,
/// for metrics: `ok`, `pass-through`, `body-too-large` or the failure's kind
/// (`cpu-limit`, `script-exception`…).
pub(crate) async fn answer(
    session: &mut Session,
    engine: &ScriptEngine,
    run: HookRun,
) -> Result<&'static str> {
    let name = run.script.path.display().to_string();
    let request = match request_for(session, &run.url).await? {
        Some(r) => r,
        None => {
            write(
                session,
                413,
                &[],
                Bytes::from_static(b"413 Payload Too Large\n"),
            )
            .await?;
            return Ok("body-too-large");
        }
    };
    // The request again for passThroughOnException, built only if the script asks.
    let body = request.body().clone();
    let hook_request = HookRequest {
        request,
        id: run.id,
        cf: run.cf,
        fetcher: run
            .fetcher
            .clone()
            .map(|f| f as Arc<dyn outpost_scripting::Fetcher>),
    };
    let failure = match engine.run(run.script, run.env, hook_request).await {
        Ok(Answer::Respond(resp)) => {
            write_hook_response(session, resp).await?;
            return Ok("ok");
        }
        Ok(Answer::PassThrough(e)) => {
            tracing::warn!(script = %name, kind = e.kind(), error = %e, "script failed; passing the request through (passThroughOnException)");
            let original = FetchRequest {
                method: session.req_header().method.clone(),
                url: url::Url::parse(&run.url).map_err(|e| {
                    Error::because(
                        ErrorType::InvalidHTTPHeader,
                        "request URL for the script",
                        e,
                    )
                })?,
                headers: session.req_header().headers.clone(),
                body: Some(outpost_scripting::Body::Bytes(body)),
            };
            match &run.fetcher {
                Some(f) => match f.fetch(original).await {
                    Ok(r) => {
                        let resp = HookResponse {
                            head: r.head,
                            body: outpost_scripting::Body::Stream(r.body),
                        };
                        write_hook_response(session, resp).await?;
                        return Ok("pass-through");
                    }
                    Err(e) => e,
                },
                None => e,
            }
        }
        Err(e) => e,
    };
    let e = failure;
    if let ScriptError::Overloaded { .. } = &e {
        overloaded_log(&e);
        let headers = vec![
            ("outpost-error".to_string(), e.kind().as_bytes().to_vec()),
            ("retry-after".to_string(), b"1".to_vec()),
        ];
        let body =
            "503 Service Unavailable\nThe site's edge script is overloaded; retry in a moment.\n";
        write(session, 503, &headers, Bytes::from_static(body.as_bytes())).await?;
        return Ok(e.kind());
    }
    tracing::warn!(script = %name, kind = e.kind(), error = %e, "script failed");
    let mut body = String::from(
        "500 Internal Server Error\nThe site's edge script could not handle this request.\n",
    );
    if run.debug {
        body.push_str(&format!("\n{e}\n"));
    }
    let kind = vec![("outpost-error".to_string(), e.kind().as_bytes().to_vec())];
    write(session, 500, &kind, Bytes::from(body)).await?;
    Ok(e.kind())
}

/// Writes a hook's response: bytes with their length, or a subrequest's body streamed
/// chunk by chunk as it arrives.
async fn write_hook_response(session: &mut Session, resp: HookResponse) -> Result<()> {
    let HookResponse { head, body } = resp;
    let mut resp = ResponseHeader::build(head.status.as_u16(), Some(head.headers.len() + 1))?;
    for (k, v) in head.headers.iter() {
        if !matches!(
            *k,
            header::CONTENT_LENGTH | header::TRANSFER_ENCODING | header::CONNECTION
        ) {
            resp.append_header(k.clone(), v.clone())?;
        }
    }
    let mut stream = match body {
        outpost_scripting::Body::Bytes(b) => return write_head_and(session, resp, b).await,
        outpost_scripting::Body::Stream(s) => s,
    };
    // The fetched response's length still holds: its bytes pass through unchanged.
    match head.headers.get(header::CONTENT_LENGTH) {
        Some(len) => resp.insert_header(header::CONTENT_LENGTH, len.clone())?,
        None if session.req_header().version == http::Version::HTTP_11 => {
            resp.insert_header(header::TRANSFER_ENCODING, "chunked")?
        }
        None => {}
    }
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if head_only {
        return Ok(());
    }
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Error::because(ErrorType::ReadError, "subrequest body for the client", e)
        })?;
        session.write_response_body(Some(chunk), false).await?;
    }
    session.write_response_body(None, true).await?;
    Ok(())
}

/// The request as the hook sees it: absolute URL, method, headers and (bounded) body.
/// `None` when the body is over [`MAX_BODY`].
async fn request_for(session: &mut Session, url: &str) -> Result<Option<http::Request<Bytes>>> {
    let mut body = Vec::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    let header = session.req_header();
    let mut req = http::Request::new(Bytes::from(body));
    *req.method_mut() = header.method.clone();
    *req.uri_mut() = http::Uri::try_from(url)
        .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "request for the script", e))?;
    *req.headers_mut() = header.headers.clone();
    Ok(Some(req))
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
    write_head_and(session, resp, body).await
}

/// Writes `resp` with `body` (and its length).
async fn write_head_and(
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

/// The absolute URL a hook sees as `request.url`.
pub(crate) fn request_url(tls: bool, host_header: Option<&str>, host: &str, pq: &str) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}{pq}", host_header.unwrap_or(host))
}

/// Logs refusals of an overloaded JS runtime at most once a second, with how many
/// there were: a flood must not turn into a flood of log lines.
fn overloaded_log(e: &ScriptError) {
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    static SINCE: AtomicU64 = AtomicU64::new(0);
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let refused = SINCE.fetch_add(1, Ordering::Relaxed) + 1;
    let now = EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1_000;
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 1_000
        && LAST_MS
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        SINCE.fetch_sub(refused, Ordering::Relaxed);
        tracing::warn!(refused, error = %e, "hooked requests refused with 503: the JS threads' queues are full or too slow (server.script_queue_*)");
    }
}
