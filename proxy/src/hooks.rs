//! Running a JS hook for a request and writing its answer.
//!
//! A hook runs after the page rules (which may have rewritten the request) and before
//! the cache, as in Workers. Its `fetch()` calls are subrequests through this proxy
//! (see `subrequest`), which is how `return fetch(request)` is served from the cache.

use crate::reply::write_head_and;
use crate::site::Site;
use crate::subrequest::PipelineFetcher;
use bytes::Bytes;
use http::header;
use outpost_config::ScriptFile;
use outpost_rules::Match;
use outpost_scripting::{
    Answer, BodyStream, Cf, FetchRequest, Fetcher, HookRequest, HookResponse, ScriptEngine,
    ScriptError,
};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorType, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Request bodies with a `Content-Length` up to this are read before the script starts
/// (no channel, and `passThroughOnException` can send them again); larger or chunked
/// ones stream to the script as it reads them.
const READ_AHEAD: u64 = 64 << 10;

/// A request body's chunks in flight between the client and the script.
const PUMP_CHUNKS: usize = 4;

/// The hook for this request: the rule's, else the site's, unless the rule disables
/// scripts.
pub(crate) fn hook_for(site: &Site, rule: Option<&Match>) -> Option<ScriptFile> {
    match rule.map(|m| &m.rule.actions) {
        Some(a) if a.disable_scripts => None,
        Some(a) if a.script.is_some() => a.script.clone(),
        _ => site.script.clone(),
    }
}

/// `request.cf.httpProtocol` for a request that came over `version`, as Workers give
/// it (`HTTP/1.1`, `HTTP/2`, `HTTP/3`).
pub(crate) fn protocol_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
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
    /// The site's `max_request_body`.
    pub(crate) max_body: u64,
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
    let name = run.script.name.to_string();
    let (request, stream, mut pump) = match request_for(session, &run.url, run.max_body).await? {
        Some(r) => r,
        None => return too_large(session).await,
    };
    // The request again for passThroughOnException, built only if the script asks
    // (a streamed body cannot be sent again).
    let body = request.body().clone();
    let streamed = stream.is_some();
    let hook_request = HookRequest {
        request,
        stream,
        id: run.id,
        cf: run.cf,
        fetcher: run
            .fetcher
            .clone()
            .map(|f| f as Arc<dyn outpost_scripting::Fetcher>),
    };
    let outcome = pumping(
        session,
        pump.as_mut(),
        engine.run(run.script, run.env, hook_request),
    )
    .await;
    let failure = match outcome {
        Ok(Answer::Respond(resp)) => {
            write_hook_response(session, resp, pump.as_mut()).await?;
            end_pump(session, pump);
            return Ok("ok");
        }
        Ok(Answer::PassThrough(e)) if streamed => {
            tracing::warn!(script = %name, kind = e.kind(), error = %e, "script failed; its request body was streamed to it, so the request cannot be passed through");
            e
        }
        Ok(Answer::PassThrough(e)) => {
            let original = (
                session.req_header().method.clone(),
                session.req_header().headers.clone(),
                body,
            );
            match pass_through(&name, run.fetcher.as_ref(), &run.url, original, e).await {
                Ok(resp) => {
                    write_hook_response(session, resp, None).await?;
                    return Ok("pass-through");
                }
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    let e = failure;
    let over_limit = pump.as_ref().is_some_and(|p| p.too_large);
    end_pump(session, pump);
    if over_limit {
        tracing::warn!(script = %name, kind = e.kind(), error = %e, "script failed on a request body over max_request_body");
        return too_large(session).await;
    }
    let (resp, body) = failure_answer(&name, &e, run.debug)?;
    write_head_and(session, resp, body).await?;
    Ok(e.kind())
}

/// After a failed script that called `passThroughOnException()`: the request as it
/// came (`method`, `headers`, a body read whole) through the site's pipeline, as if
/// there were no script. The failure back when that is not possible.
pub(crate) async fn pass_through(
    name: &str,
    fetcher: Option<&Arc<PipelineFetcher>>,
    url: &str,
    (method, headers, body): (http::Method, http::HeaderMap, Bytes),
    e: ScriptError,
) -> std::result::Result<HookResponse, ScriptError> {
    tracing::warn!(script = %name, kind = e.kind(), error = %e, "script failed; passing the request through (passThroughOnException)");
    let Some(fetcher) = fetcher else {
        return Err(e);
    };
    let url = match url::Url::parse(url) {
        Ok(u) => u,
        Err(_) => return Err(e),
    };
    let original = FetchRequest {
        method,
        url,
        headers,
        body: Some(outpost_scripting::Body::Bytes(body)),
        cache: None,
        cf: None,
    };
    let r = fetcher.fetch(original).await?;
    Ok(HookResponse {
        head: r.head,
        body: outpost_scripting::Body::Stream(r.body),
    })
}

/// The answer to a request whose script failed with `e` (logged here): 503 with
/// `Retry-After` when the JS threads are overloaded, else a 500 that says a script
/// failed (with the failure itself when `debug`). Both name the failure's kind in
/// `Outpost-Error`.
pub(crate) fn failure_answer(
    name: &str,
    e: &ScriptError,
    debug: bool,
) -> Result<(ResponseHeader, Bytes)> {
    if let ScriptError::Overloaded { .. } = e {
        overloaded_log(e);
        let mut resp = ResponseHeader::build(503, Some(3))?;
        resp.append_header("outpost-error", e.kind())?;
        resp.append_header("retry-after", "1")?;
        let body =
            "503 Service Unavailable\nThe site's edge script is overloaded; retry in a moment.\n";
        return Ok((resp, Bytes::from_static(body.as_bytes())));
    }
    tracing::warn!(script = %name, kind = e.kind(), error = %e, "script failed");
    let mut body = String::from(
        "500 Internal Server Error\nThe site's edge script could not handle this request.\n",
    );
    if debug {
        body.push_str(&format!("\n{e}\n"));
    }
    let mut resp = ResponseHeader::build(500, Some(2))?;
    resp.append_header("outpost-error", e.kind())?;
    Ok((resp, Bytes::from(body)))
}

/// Answers a request whose body is over the site's `max_request_body`.
async fn too_large(session: &mut Session) -> Result<&'static str> {
    let body = Bytes::from_static(b"413 Payload Too Large\n");
    write_head_and(session, ResponseHeader::build(413, Some(1))?, body).await?;
    Ok("body-too-large")
}

/// Writes a hook's response: bytes with their length, or a body streamed chunk by
/// chunk as it arrives. While it streams, `pump` keeps feeding the request body to the
/// script (a script may answer with the request body it is still reading: an echo).
pub(crate) async fn write_hook_response(
    session: &mut Session,
    resp: HookResponse,
    mut pump: Option<&mut Pump>,
) -> Result<()> {
    let HookResponse { head, body } = resp;
    let mut resp = client_head(&head)?;
    let mut stream = match body {
        outpost_scripting::Body::Bytes(b) => return write_head_and(session, resp, b).await,
        outpost_scripting::Body::Stream(s) => s,
    };
    streamed_framing(&mut resp, &head, session.req_header().version)?;
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if head_only {
        return Ok(());
    }
    while let Some(chunk) = pumping(session, pump.as_deref_mut(), stream.next()).await {
        let chunk = chunk.map_err(|e| {
            Error::because(ErrorType::ReadError, "subrequest body for the client", e)
        })?;
        session.write_response_body(Some(chunk), false).await?;
    }
    session.write_response_body(None, true).await?;
    Ok(())
}

/// A script's response head as the client gets it, before framing: its status and
/// fields, without the framing and connection fields (the writer sets those).
pub(crate) fn client_head(head: &http::response::Parts) -> Result<ResponseHeader> {
    let mut resp = ResponseHeader::build(head.status.as_u16(), Some(head.headers.len() + 1))?;
    for (k, v) in head.headers.iter() {
        if !matches!(
            *k,
            header::CONTENT_LENGTH | header::TRANSFER_ENCODING | header::CONNECTION
        ) {
            resp.append_header(k.clone(), v.clone())?;
        }
    }
    Ok(resp)
}

/// The framing of a streamed body: a fetched response's length still holds (its
/// bytes pass through unchanged); otherwise chunks, where the client speaks HTTP/1.1.
pub(crate) fn streamed_framing(
    resp: &mut ResponseHeader,
    head: &http::response::Parts,
    version: http::Version,
) -> Result<()> {
    match head.headers.get(header::CONTENT_LENGTH) {
        Some(len) => resp.insert_header(header::CONTENT_LENGTH, len.clone())?,
        None if version == http::Version::HTTP_11 => {
            resp.insert_header(header::TRANSFER_ENCODING, "chunked")?
        }
        None => {}
    }
    Ok(())
}

/// Feeds a request body that is still arriving to the script's `request.body`, one
/// chunk per step. Steps are cancel-safe (a step dropped while waiting loses nothing):
/// it waits for room in the channel first, then for the client's next chunk, and hands
/// it over at once.
pub(crate) struct Pump {
    tx: Option<tokio::sync::mpsc::Sender<outpost_scripting::Result<Bytes>>>,
    received: u64,
    max: u64,
    /// The whole body was read (the connection can be reused).
    complete: bool,
    /// The body went over `max_request_body`.
    too_large: bool,
}

impl Pump {
    fn finished(&self) -> bool {
        self.tx.is_none()
    }

    async fn step(&mut self, session: &mut Session) {
        let Some(tx) = &self.tx else {
            return std::future::pending().await;
        };
        // An owned permit, so that the sender can be let go while the permit is held.
        let Ok(permit) = tx.clone().reserve_owned().await else {
            // The script let go of the body.
            self.tx = None;
            return;
        };
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                self.received += chunk.len() as u64;
                if self.received > self.max {
                    self.too_large = true;
                    permit.send(Err(ScriptError::Stream {
                        message: format!(
                            "the request body is over this site's max_request_body ({} bytes)",
                            self.max
                        ),
                    }));
                    self.tx = None;
                } else {
                    permit.send(Ok(chunk));
                }
            }
            Ok(None) => {
                self.complete = true;
                self.tx = None;
            }
            Err(e) => {
                permit.send(Err(ScriptError::Stream {
                    message: format!("reading the request body from the client failed: {e}"),
                }));
                self.tx = None;
            }
        }
    }
}

/// Runs `fut` to its end while `pump` (if any) keeps feeding the request body to the
/// script: what the script waits on may be its own reading of that body.
async fn pumping<F: std::future::Future>(
    session: &mut Session,
    pump: Option<&mut Pump>,
    fut: F,
) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    if let Some(p) = pump {
        while !p.finished() {
            tokio::select! {
                out = &mut fut => return out,
                () = p.step(session) => {}
            }
        }
    }
    fut.await
}

/// Stops feeding the request body: a body not read to its end is left on the
/// connection, which then cannot carry another request.
fn end_pump(session: &mut Session, pump: Option<Pump>) {
    if pump.is_some_and(|p| !p.complete) {
        session.set_keepalive(None);
    }
}

/// The request as the hook sees it: absolute URL, method, headers and the body — read
/// already when it is small and of known length, else a stream fed by the returned
/// [`Pump`]. `None` when the body is over `max_body`.
#[allow(clippy::type_complexity)]
async fn request_for(
    session: &mut Session,
    url: &str,
    max_body: u64,
) -> Result<Option<(http::Request<Bytes>, Option<BodyStream>, Option<Pump>)>> {
    let header = session.req_header();
    let mut req = http::Request::new(Bytes::new());
    *req.method_mut() = header.method.clone();
    *req.uri_mut() = http::Uri::try_from(url)
        .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "request for the script", e))?;
    *req.headers_mut() = header.headers.clone();
    let length = header
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if session.is_body_empty() {
        return Ok(Some((req, None, None)));
    }
    if length.is_some_and(|n| n <= READ_AHEAD) {
        let mut body = Vec::new();
        while let Some(chunk) = session.read_request_body().await? {
            if (body.len() + chunk.len()) as u64 > max_body {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        *req.body_mut() = Bytes::from(body);
        return Ok(Some((req, None, None)));
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(PUMP_CHUNKS);
    let mut stream = BodyStream::new(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    if let Some(n) = length {
        stream = stream.with_length(n);
    }
    let pump = Pump {
        tx: Some(tx),
        received: 0,
        max: max_body,
        complete: false,
        too_large: false,
    };
    Ok(Some((req, Some(stream), Some(pump))))
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
