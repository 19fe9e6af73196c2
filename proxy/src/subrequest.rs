//! Scripts' `fetch()`: subrequests through this same proxy, so they get the page
//! rules, the cache and the origin pools like any request.
//!
//! pingora runs a subrequest as an in-process session fed through channels (the way
//! its own background cache revalidation works): no socket, no loopback port. The
//! script's request travels as a [`Spec`] in the subrequest's context and replaces the
//! placeholder request at the top of `request_filter`. The response comes back as
//! pingora `HttpTask`s; its body stays a stream, so a hook that returns it unchanged
//! sends the bytes to the client without copying them through JavaScript. A fetch that
//! a fresh memory-tier object answers as it is skips all this (`hit_path::in_process`).

use crate::snapshot::Live;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use outpost_scripting::{Body, BodyStream, FetchRequest, FetchResponse, Fetcher, ScriptError};
use pingora::http::RequestHeader;
use pingora::protocols::http::HttpTask;
use pingora::protocols::http::ServerSession;
use pingora::proxy::subrequest::{BodyMode, Ctx as SubrequestCtx};
use pingora::proxy::{Session, SubrequestSpawner};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How deep scripts may nest subrequests (a script's fetch running another script
/// that fetches…). The script that made a subrequest never runs for it again.
pub(crate) const MAX_DEPTH: u8 = 4;

/// A script's request, carried into its subrequest session.
pub(crate) struct Spec {
    /// The request to serve in place of the placeholder.
    pub(crate) header: RequestHeader,
    /// Whether the script asked for `https:` (the request is treated as arriving
    /// over TLS: rules and cache keys see the scheme the script used).
    pub(crate) https: bool,
    /// The original client's address (rules' `client_ip` conditions, X-Forwarded-For).
    pub(crate) client_ip: Option<IpAddr>,
    /// Scripts already on this request's path; none of them runs again for it.
    pub(crate) scripts: Vec<PathBuf>,
    /// Its id in logs: the parent's, a dot, and its number among the parent's
    /// subrequests (an HTTP/3 request's own id).
    pub(crate) request_id: std::sync::Arc<str>,
    /// Who sent it.
    pub(crate) downstream: Downstream,
}

/// Where a request fed in through this mechanism comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Downstream {
    /// A script's `fetch()`.
    Script,
    /// A client over HTTP/3 (`http3`): treated as any client request.
    Http3,
    /// One slice of a range request (`service::slices`): its `Range` goes to the
    /// origin and its 206 is stored under the URL's key with the slice's number.
    Slice(u64),
}

/// The spec of the subrequest `session` serves, if it is one of ours.
pub(crate) fn spec_of(session: &Session) -> Option<&Spec> {
    session
        .subrequest_ctx
        .as_ref()?
        .user_ctx()?
        .downcast_ref::<Spec>()
}

/// Runs a script's subrequests for one client request.
pub(crate) struct PipelineFetcher {
    live: Arc<Live>,
    spawner: Arc<SubrequestSpawner>,
    runtime: tokio::runtime::Handle,
    client_ip: Option<IpAddr>,
    scripts: Vec<PathBuf>,
    parent_id: Arc<str>,
    made: std::sync::atomic::AtomicU32,
    /// The hook's site's egress policy (other hosts) and subrequest limit.
    policy: Arc<outpost_config::Egress>,
    /// Host and port the client's request was addressed to: a fetch to the same goes
    /// through this node even when only the default site serves it.
    own: (String, u16),
    /// The hook's site's origins: a fetch straight to one of them goes out as
    /// configured by the operator (private addresses included, no allow list).
    origins: Arc<crate::pool::OriginPool>,
    /// The hook's site's name and image settings, when it resizes images
    /// (`cf.image`).
    images: Option<(String, outpost_config::Images)>,
}

impl PipelineFetcher {
    /// A fetcher for requests made by `script`, on behalf of a request that already
    /// passed through `scripts` (empty for a client's own request).
    pub(crate) fn new(
        live: Arc<Live>,
        spawner: SubrequestSpawner,
        (client_ip, own): (Option<IpAddr>, (String, u16)),
        mut scripts: Vec<PathBuf>,
        script: PathBuf,
        (parent_id, policy, origins): (
            Arc<str>,
            Arc<outpost_config::Egress>,
            Arc<crate::pool::OriginPool>,
        ),
    ) -> Self {
        scripts.push(script);
        PipelineFetcher {
            live,
            spawner: Arc::new(spawner),
            runtime: tokio::runtime::Handle::current(),
            client_ip,
            scripts,
            parent_id,
            made: std::sync::atomic::AtomicU32::new(0),
            policy,
            own,
            origins,
            images: None,
        }
    }

    /// Lets fetches resize images (`cf.image`) with the site's settings.
    pub(crate) fn with_images(mut self, images: Option<(String, outpost_config::Images)>) -> Self {
        self.images = images;
        self
    }

    /// Whether `url` names one of the site's own origins (host and port).
    fn to_own_origin(&self, url: &url::Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.origins
            .origins()
            .iter()
            .any(|o| o.port == port && o.host.eq_ignore_ascii_case(host))
    }

    /// Runs `work` on the proxy's runtime: the JS thread only waits for its answer.
    fn on_runtime(
        &self,
        work: impl std::future::Future<Output = Result<FetchResponse, ScriptError>> + Send + 'static,
        dropped: &'static str,
    ) -> BoxFuture<'static, Result<FetchResponse, ScriptError>> {
        let task = self.runtime.spawn(work);
        Box::pin(async move {
            task.await
                .unwrap_or_else(|_| Err(ScriptError::subrequest(dropped)))
        })
    }

    /// Whether `url` is for this node: a host one of its sites names, or the host and
    /// port the client's request was addressed to.
    fn served_here(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str().and_then(crate::site::normalize_host) else {
            return false;
        };
        let port = url.port_or_known_default().unwrap_or(80);
        (host == self.own.0 && port == self.own.1)
            || self.live.snapshot().sites.lookup_named(&host).is_some()
    }
}

/// The request header a script's fetch stands for.
/// How a subrequest's body is framed.
enum Framing {
    /// This many bytes (`Content-Length`).
    Length(u64),
    /// A stream of unknown length (`Transfer-Encoding: chunked`).
    Chunked,
}

fn header_for(req: &FetchRequest, framing: Framing) -> Result<RequestHeader, ScriptError> {
    let url = &req.url;
    let mut pq = url.path().to_string();
    if let Some(q) = url.query() {
        pq.push('?');
        pq.push_str(q);
    }
    let mut header = RequestHeader::build(req.method.clone(), pq.as_bytes(), None)
        .map_err(|e| ScriptError::subrequest(format!("bad request: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| ScriptError::subrequest("URL without a host"))?;
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    for (name, value) in &req.headers {
        if name == http::header::HOST
            || name == http::header::CONTENT_LENGTH
            || name == http::header::TRANSFER_ENCODING
        {
            continue;
        }
        header
            .append_header(name.clone(), value.clone())
            .map_err(|e| ScriptError::subrequest(format!("bad header {name}: {e}")))?;
    }
    header
        .insert_header(http::header::HOST, authority)
        .map_err(|e| ScriptError::subrequest(format!("bad host: {e}")))?;
    match framing {
        Framing::Length(n)
            if n > 0 || !matches!(req.method, http::Method::GET | http::Method::HEAD) =>
        {
            header
                .insert_header(http::header::CONTENT_LENGTH, n.to_string())
                .map_err(|e| ScriptError::subrequest(format!("bad length: {e}")))?;
        }
        Framing::Length(_) => {}
        Framing::Chunked => {
            header
                .insert_header(http::header::TRANSFER_ENCODING, "chunked")
                .map_err(|e| ScriptError::subrequest(format!("bad framing: {e}")))?;
        }
    }
    Ok(header)
}

impl Fetcher for PipelineFetcher {
    fn max_subrequests(&self) -> u32 {
        self.policy.max_subrequests
    }

    fn fetch(
        &self,
        mut request: FetchRequest,
    ) -> BoxFuture<'static, Result<FetchResponse, ScriptError>> {
        if let Some(op) = request.cache.take() {
            let live = self.live.clone();
            return self.on_runtime(
                async move { crate::cache_api::run(&live, op, request).await },
                "the cache operation was dropped",
            );
        }
        // Workers' image resizing: the image fetched as asked, then transformed.
        if let Some(image) = request.cf.as_mut().and_then(|cf| cf.image.take()) {
            if request.cf.as_ref().is_some_and(|cf| !cf.caches()) {
                request.cf = None;
            }
            let Some(images) = self.images.clone() else {
                return Box::pin(std::future::ready(Err(ScriptError::subrequest(
                    "cf.image: image resizing is not on for this site (sites[].images)",
                ))));
            };
            let accept = request
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let url = request.url.clone();
            let source = self.fetch(request);
            let live = self.live.clone();
            return self.on_runtime(
                async move {
                    crate::images::for_fetch(live, images, url, (image, accept), source).await
                },
                "the image fetch was dropped",
            );
        }
        let spawner = self.spawner.clone();
        let client_ip = self.client_ip;
        let scripts = self.scripts.clone();
        let n = self.made.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let request_id: Arc<str> = Arc::from(format!("{}.{n}", self.parent_id));
        // Workers' `cf` cache options: the node's cache first, then where the request
        // would go anyway.
        if let Some(cf) = request.cf.take() {
            let live = self.live.clone();
            let route = Route {
                resolver: self.live.resolver.clone(),
                policy: self.policy.clone(),
                trusted: self.to_own_origin(&request.url),
                here: self.served_here(&request.url),
                spawner,
                client_ip,
                scripts,
                request_id,
            };
            return self.on_runtime(
                async move {
                    crate::fetch_cache::through_cache(live, cf, request, move |r| route.send(r))
                        .await
                },
                "the subrequest was dropped",
            );
        }
        if !self.served_here(&request.url) {
            let resolver = self.live.resolver.clone();
            let policy = self.policy.clone();
            let trusted = self.to_own_origin(&request.url);
            return self.on_runtime(
                async move {
                    crate::egress::fetch(resolver, (&policy, trusted), request, &request_id).await
                },
                "the subrequest was dropped",
            );
        }
        // A fresh memory hit is answered here, on the JS thread, with no session.
        if self.scripts.len() <= usize::from(MAX_DEPTH)
            && let Some(hit) = crate::hit_path::in_process::answer(
                &self.live,
                &request,
                crate::hit_path::in_process::Fed::Script { ran: &self.scripts },
                client_ip,
                &request_id,
            )
        {
            return Box::pin(std::future::ready(Ok(hit)));
        }
        self.on_runtime(
            run(spawner, request, client_ip, scripts, request_id),
            "the subrequest was dropped",
        )
    }
}

/// Where one subrequest goes, decided on the JS thread and sent later on the proxy's
/// runtime (after a cache lookup, for `cf` cache options).
struct Route {
    resolver: Arc<crate::resolve::Resolver>,
    policy: Arc<outpost_config::Egress>,
    /// The URL names one of the site's own origins.
    trusted: bool,
    /// The URL is for this node: through its own pipeline.
    here: bool,
    spawner: Arc<SubrequestSpawner>,
    client_ip: Option<IpAddr>,
    scripts: Vec<PathBuf>,
    request_id: Arc<str>,
}

impl Route {
    fn send(self, request: FetchRequest) -> BoxFuture<'static, Result<FetchResponse, ScriptError>> {
        if self.here {
            Box::pin(run(
                self.spawner,
                request,
                self.client_ip,
                self.scripts,
                self.request_id,
            ))
        } else {
            Box::pin(async move {
                crate::egress::fetch(
                    self.resolver,
                    (&self.policy, self.trusted),
                    request,
                    &self.request_id,
                )
                .await
            })
        }
    }
}

/// A placeholder parent session: pingora builds a subrequest from a parsed request,
/// which [`Spec`] then replaces.
async fn placeholder() -> Result<ServerSession, ScriptError> {
    let raw = b"GET / HTTP/1.1\r\nHost: subrequest.outpost.invalid\r\n\r\n".to_vec();
    let mut session = ServerSession::new_http1(Box::new(std::io::Cursor::new(raw)));
    session
        .read_request()
        .await
        .map_err(|e| ScriptError::subrequest(format!("placeholder request: {e}")))?;
    Ok(session)
}

/// Feeds a streamed body into a subrequest, chunk by chunk (the channel's capacity is
/// the backpressure). A body that fails ends without its final chunk, which the
/// subrequest reports as a premature end instead of sending a truncated body as whole.
async fn send_body(mut stream: BodyStream, tx: tokio::sync::mpsc::Sender<HttpTask>) {
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) if b.is_empty() => {}
            Ok(b) => {
                if tx.send(HttpTask::Body(Some(b), false)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "a subrequest's streamed body failed");
                let _ = tx
                    .send(HttpTask::Failed(pingora::Error::explain(
                        pingora::ErrorType::ReadError,
                        format!("request body: {e}"),
                    )))
                    .await;
                return;
            }
        }
    }
    let _ = tx.send(HttpTask::Body(None, true)).await;
}

async fn run(
    spawner: Arc<SubrequestSpawner>,
    request: FetchRequest,
    client_ip: Option<IpAddr>,
    scripts: Vec<PathBuf>,
    request_id: Arc<str>,
) -> Result<FetchResponse, ScriptError> {
    serve(
        spawner,
        request,
        client_ip,
        scripts,
        request_id,
        Downstream::Script,
    )
    .await
}

/// Serves `request` through this node's whole pipeline, in process: a script's
/// `fetch()`, or a request that came over HTTP/3.
pub(crate) async fn serve(
    spawner: Arc<SubrequestSpawner>,
    request: FetchRequest,
    client_ip: Option<IpAddr>,
    scripts: Vec<PathBuf>,
    request_id: Arc<str>,
    downstream: Downstream,
) -> Result<FetchResponse, ScriptError> {
    if scripts.len() > usize::from(MAX_DEPTH) {
        return Err(ScriptError::subrequest(format!(
            "subrequests nested more than {MAX_DEPTH} scripts deep"
        )));
    }
    let mut request = request;
    // A streamed body (the client's request body handed on, or one the script writes)
    // is sent as it arrives, not read into memory first.
    let (body, stream) = match request.body.take() {
        None => (Bytes::new(), None),
        Some(Body::Bytes(b)) => (b, None),
        Some(Body::Stream(s)) => (Bytes::new(), Some(s)),
    };
    let framing = match &stream {
        None => Framing::Length(body.len() as u64),
        Some(s) => s.length().map_or(Framing::Chunked, Framing::Length),
    };
    let mut header = header_for(&request, framing)?;
    if downstream == Downstream::Http3 {
        header.set_version(http::Version::HTTP_3);
    }
    let spec = Spec {
        header,
        https: request.url.scheme() == "https",
        client_ip,
        scripts,
        request_id,
        downstream,
    };
    let parent = placeholder().await?;
    let mode = if body.is_empty() && stream.is_none() {
        BodyMode::NoBody
    } else {
        BodyMode::ExpectBody
    };
    let ctx = SubrequestCtx::builder()
        .user_ctx(Box::new(spec))
        .body_mode(mode)
        .build();
    let (prepared, mut handle) = spawner.create_subrequest(&parent, ctx);
    tokio::spawn(prepared.run());
    if !body.is_empty() {
        handle
            .tx
            .send(HttpTask::Body(Some(body), true))
            .await
            .map_err(|_| ScriptError::subrequest("the subrequest ended before reading its body"))?;
    }
    if let Some(stream) = stream {
        // Beside waiting for the response: an origin may answer before it has read
        // the whole body.
        tokio::spawn(send_body(stream, handle.tx.clone()));
    }
    let (head, end) = loop {
        match handle.rx.recv().await {
            Some(HttpTask::Header(h, end)) => break (h, end),
            Some(HttpTask::Failed(e)) => return Err(ScriptError::subrequest(e.to_string())),
            Some(_) => continue,
            None => return Err(ScriptError::subrequest("no response")),
        }
    };
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = head.status;
    parts.headers = head.headers.clone();
    let body = if end {
        BodyStream::new(futures_util::stream::empty())
    } else {
        // The input side stays open while the body streams (closing it early would
        // look like a client going away).
        let state = Some((handle.rx, handle.tx));
        BodyStream::new(futures_util::stream::unfold(state, |state| async move {
            let (mut rx, input) = state?;
            loop {
                match rx.recv().await {
                    Some(HttpTask::Body(Some(b), end)) => {
                        if b.is_empty() {
                            if end {
                                return None;
                            }
                            continue;
                        }
                        let next = if end { None } else { Some((rx, input)) };
                        return Some((Ok(b), next));
                    }
                    Some(HttpTask::Body(None, _)) | Some(HttpTask::Done) | None => return None,
                    Some(HttpTask::Failed(e)) => {
                        return Some((Err(ScriptError::subrequest(e.to_string())), None));
                    }
                    Some(_) => continue,
                }
            }
        }))
    };
    Ok(FetchResponse { head: parts, body })
}
