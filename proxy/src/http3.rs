//! HTTP/3 to clients: a QUIC listener (quinn, with h3 for the HTTP layer) whose
//! requests go through the same pipeline as HTTP/1 and HTTP/2 ones — site selection,
//! rules, hooks, cache, HTML rewriting, compression, origins, access log, metrics —
//! fed in process by pingora's subrequest mechanism (`subrequest::serve`), not
//! through a socket. It owns the QUIC endpoint, the per-connection and per-stream
//! tasks, and the translation between h3's request streams and the pipeline.
//!
//! Certificates come from the same store and SNI selection as the HTTPS listener (a
//! reload's new certificates serve the next handshake). 0-RTT is off unless
//! `listen.quic_0rtt` (then only safe methods are served from early data; others wait
//! for the handshake to complete, which a replay cannot do); unvalidated clients are sent a Retry once many handshakes are in
//! progress, so the listener cannot amplify a spoofed flood; a drain stops new
//! connections and lets open ones finish their requests.

use crate::error::{ProxyError, Result};
use crate::snapshot::Live;
use crate::subrequest::Downstream;
use bytes::{Buf, Bytes};
use outpost_scripting::{Body, BodyStream, FetchRequest, ScriptError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Handshakes in progress above which clients must prove their address first (a
/// Retry round trip): below it, the usual one-round-trip handshake.
const RETRY_ABOVE: usize = 64;
/// Streams a client may have open on one connection (as the HTTP/2 listener's
/// `SETTINGS_MAX_CONCURRENT_STREAMS`).
const MAX_STREAMS: u32 = 100;
/// The largest request or response header section accepted.
const MAX_FIELD_SECTION: u64 = 64 << 10;
/// Bytes a client may have in flight to us on one stream, and on one connection: what
/// a connection can make this process buffer (pingora's HTTP/2 windows are of this
/// order). Uploads beyond it wait for the pipeline to take what was sent.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 8 << 20;
/// Bytes of response data queued for one connection before sending waits.
const SEND_WINDOW: u64 = 8 << 20;

/// The running listener: its runtime (dropped with the process).
pub struct Http3 {
    _runtime: tokio::runtime::Runtime,
}

/// Binds `addr` (UDP) and serves HTTP/3 on it from a runtime of its own.
pub(crate) fn start(live: Arc<Live>, addr: SocketAddr) -> Result<Http3> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(live.snapshot().config.server.threads.max(1))
        .thread_name("outpost-h3")
        .enable_all()
        .build()
        .map_err(|e| ProxyError::Server(format!("HTTP/3 runtime: {e}")))?;
    let socket = bind(addr).map_err(|source| ProxyError::Bind { addr, source })?;
    let tag = crate::quic_steering::Tag::random();
    if let Err(e) = crate::quic_steering::attach(&socket, tag) {
        // Serving goes on; only a binary upgrade may then cut connections short.
        tracing::warn!(error = %e, "QUIC packets cannot be steered across a binary upgrade");
    }
    let mut endpoint_config = quinn::EndpointConfig::default();
    endpoint_config.cid_generator(move || tag.generator());
    let idle = live.snapshot().config.server.idle_timeout;
    let endpoint = {
        let _entered = runtime.enter();
        quinn::Endpoint::new(
            endpoint_config,
            Some(server_config(&live, idle)?),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|source| ProxyError::Bind { addr, source })?
    };
    runtime.spawn(accept(endpoint, live));
    tracing::info!(%addr, "listening for HTTP/3 (QUIC)");
    Ok(Http3 { _runtime: runtime })
}

/// The UDP socket, with SO_REUSEPORT: during a binary upgrade the new process binds
/// it while the old one still serves its connections (`quic_steering` keeps each
/// connection's packets on its own process).
fn bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn server_config(live: &Live, idle: Duration) -> Result<quinn::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ProxyError::Server(format!("HTTP/3 TLS: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(live.certs.clone());
    tls.alpn_protocols = vec![b"h3".to_vec()];
    // 0-RTT only when asked for (early data can be replayed; see `serve_request`).
    // QUIC takes all or nothing: u32::MAX is "any amount".
    tls.max_early_data_size = if live.snapshot().config.listen.quic_0rtt {
        u32::MAX
    } else {
        0
    };
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| ProxyError::Server(format!("HTTP/3 TLS: {e}")))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_concurrent_bidi_streams(MAX_STREAMS.into());
    transport.stream_receive_window(STREAM_WINDOW.into());
    transport.receive_window(CONNECTION_WINDOW.into());
    transport.send_window(SEND_WINDOW);
    if let Ok(idle) = quinn::IdleTimeout::try_from(idle) {
        transport.max_idle_timeout(Some(idle));
    }
    config.transport_config(Arc::new(transport));
    Ok(config)
}

async fn accept(endpoint: quinn::Endpoint, live: Arc<Live>) {
    let handshaking = Arc::new(AtomicUsize::new(0));
    let (drain_tx, drain_rx) = tokio::sync::watch::channel(false);
    let watcher = {
        let (live, endpoint) = (live.clone(), endpoint.clone());
        tokio::spawn(async move {
            while !live.draining.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // No new connections; open ones are told to finish (GOAWAY).
            endpoint.set_server_config(None);
            let _ = drain_tx.send(true);
        })
    };
    while let Some(incoming) = endpoint.accept().await {
        let always = live.snapshot().config.listen.quic_retry == outpost_config::QuicRetry::Always;
        let loaded = handshaking.load(Ordering::Relaxed) >= RETRY_ABOVE;
        if (always || loaded) && !incoming.remote_address_validated() {
            live.metrics
                .http3_connections
                .with_label_values(&["retry"])
                .inc();
            let _ = incoming.retry();
            continue;
        }
        handshaking.fetch_add(1, Ordering::Relaxed);
        let (live, handshaking, drain) = (live.clone(), handshaking.clone(), drain_rx.clone());
        tokio::spawn(async move {
            // Whether the handshake is complete: a request after it cannot be a replay.
            // With 0-RTT on, requests may come before it (early data, see
            // `serve_request`); without, the connection is used only once it completes.
            let (confirm, confirmed) = tokio::sync::watch::channel(false);
            let zero_rtt = live.snapshot().config.listen.quic_0rtt;
            let connection = match incoming.accept() {
                Ok(connecting) if zero_rtt => match connecting.into_0rtt() {
                    Ok((connection, accepted)) => {
                        let handshaking = handshaking.clone();
                        let watched = connection.clone();
                        tokio::spawn(async move {
                            // Resolves once the handshake is over (its value says
                            // whether the client's 0-RTT was taken, not how it ended).
                            accepted.await;
                            if watched.close_reason().is_none() {
                                let _ = confirm.send(true);
                            }
                            handshaking.fetch_sub(1, Ordering::Relaxed);
                        });
                        Ok(connection)
                    }
                    Err(connecting) => {
                        let result = connecting.await;
                        let _ = confirm.send(result.is_ok());
                        handshaking.fetch_sub(1, Ordering::Relaxed);
                        result
                    }
                },
                Ok(connecting) => {
                    let result = connecting.await;
                    let _ = confirm.send(result.is_ok());
                    handshaking.fetch_sub(1, Ordering::Relaxed);
                    result
                }
                Err(e) => {
                    handshaking.fetch_sub(1, Ordering::Relaxed);
                    Err(e)
                }
            };
            match connection {
                Ok(connection) => {
                    live.metrics
                        .http3_connections
                        .with_label_values(&["accepted"])
                        .inc();
                    serve_connection(connection, live, drain, confirmed).await;
                }
                Err(e) => {
                    live.metrics
                        .http3_connections
                        .with_label_values(&["failed"])
                        .inc();
                    tracing::debug!(error = %e, "an HTTP/3 handshake failed");
                }
            }
        });
    }
    watcher.abort();
}

async fn serve_connection(
    connection: quinn::Connection,
    live: Arc<Live>,
    mut drain: tokio::sync::watch::Receiver<bool>,
    confirmed: tokio::sync::watch::Receiver<bool>,
) {
    let client = connection.remote_address();
    let h3 = h3::server::builder()
        .max_field_section_size(MAX_FIELD_SECTION)
        .build::<_, Bytes>(h3_quinn::Connection::new(connection))
        .await;
    let mut h3 = match h3 {
        Ok(h3) => h3,
        Err(e) => {
            tracing::debug!(%client, error = %e, "HTTP/3 connection setup failed");
            return;
        }
    };
    let mut shutting = *drain.borrow();
    if shutting {
        let _ = h3.shutdown(0).await;
    }
    loop {
        let next = if shutting {
            h3.accept().await
        } else {
            tokio::select! {
                next = h3.accept() => next,
                changed = drain.changed() => {
                    let now = changed.is_err() || *drain.borrow();
                    if now {
                        // GOAWAY: the requests already started finish; no new ones.
                        shutting = true;
                        let _ = h3.shutdown(0).await;
                    }
                    continue;
                }
            }
        };
        match next {
            Ok(Some(resolver)) => {
                let live = live.clone();
                let confirmed = confirmed.clone();
                tokio::spawn(async move {
                    match resolver.resolve_request().await {
                        Ok((request, stream)) => {
                            serve_request(request, stream, client, live, confirmed).await
                        }
                        Err(e) => {
                            tracing::debug!(%client, error = %e, "an HTTP/3 request was malformed")
                        }
                    }
                });
            }
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(%client, error = %e, "HTTP/3 connection ended");
                return;
            }
        }
    }
}

type Stream = h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

async fn serve_request(
    mut request: http::Request<()>,
    stream: Stream,
    client: SocketAddr,
    live: Arc<Live>,
    mut confirmed: tokio::sync::watch::Receiver<bool>,
) {
    let (mut send, recv) = stream.split();
    if !*confirmed.borrow() {
        // Early data (0-RTT) can be replayed by anyone who saw it. A safe method is
        // served at once, marked for the origin (RFC 8470 §5.1); any other waits
        // for the handshake to complete, which a replay cannot do (§3).
        if request.method().is_safe() {
            request
                .headers_mut()
                .insert("early-data", http::HeaderValue::from_static("1"));
        } else if confirmed.wait_for(|done| *done).await.is_err() {
            return;
        }
    }
    let answer = match to_fetch(request, recv) {
        Ok(fetch) => match live.subrequest_spawner() {
            Some(spawner) => {
                let id: Arc<str> = live.new_request_id();
                // A fresh memory hit is answered here, as TCP clients' are, with no
                // pipeline session.
                if let Some(hit) = crate::hit_path::in_process::answer(
                    &live,
                    &fetch,
                    crate::hit_path::in_process::Fed::Http3,
                    Some(client.ip()),
                    &id,
                ) {
                    if let Err(e) = respond(&mut send, hit).await {
                        tracing::debug!(%client, error = %e, "an HTTP/3 response was cut short");
                    }
                    return;
                }
                crate::subrequest::serve(
                    Arc::new(spawner),
                    fetch,
                    Some(client.ip()),
                    Vec::new(),
                    id,
                    Downstream::Http3,
                )
                .await
            }
            None => Err(ScriptError::subrequest("the proxy is not serving yet")),
        },
        Err(e) => Err(e),
    };
    let result = match answer {
        Ok(response) => respond(&mut send, response).await,
        Err(e) => {
            tracing::debug!(%client, error = %e, "an HTTP/3 request could not be served");
            let mut head = http::Response::new(());
            *head.status_mut() = http::StatusCode::BAD_GATEWAY;
            match send.send_response(head).await {
                Ok(()) => send.finish().await,
                Err(e) => Err(e),
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%client, error = %e, "an HTTP/3 response was cut short");
    }
}

/// The request as the pipeline takes it: an absolute `https:` URL, the headers, and
/// the body streamed as the client sends it (framed by `Content-Length` when given).
fn to_fetch(
    request: http::Request<()>,
    recv: h3::server::RequestStream<h3_quinn::RecvStream, Bytes>,
) -> std::result::Result<FetchRequest, ScriptError> {
    let (parts, ()) = request.into_parts();
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .ok_or_else(|| ScriptError::subrequest("an HTTP/3 request without :authority"))?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = url::Url::parse(&format!("https://{authority}{path}"))
        .map_err(|e| ScriptError::subrequest(format!("bad request target: {e}")))?;
    let length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bodiless =
        matches!(parts.method, http::Method::GET | http::Method::HEAD) && length.unwrap_or(0) == 0;
    let body = if bodiless {
        None
    } else {
        let chunks = futures_util::stream::unfold(Some(recv), |recv| async move {
            let mut recv = recv?;
            match recv.recv_data().await {
                Ok(Some(mut data)) => {
                    let bytes = data.copy_to_bytes(data.remaining());
                    Some((Ok(bytes), Some(recv)))
                }
                Ok(None) => None,
                Err(e) => Some((
                    Err(ScriptError::subrequest(format!("request body: {e}"))),
                    None,
                )),
            }
        });
        let stream = BodyStream::new(chunks);
        Some(Body::Stream(match length {
            Some(n) => stream.with_length(n),
            None => stream,
        }))
    };
    let mut headers = parts.headers;
    headers.remove(http::header::HOST);
    Ok(FetchRequest {
        method: parts.method,
        url,
        headers,
        body,
        cache: None,
        cf: None,
    })
}

/// Sends the pipeline's response on the stream: the head without HTTP/1's
/// connection-specific fields (malformed in HTTP/3), then the body as it comes.
async fn respond(
    send: &mut h3::server::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>,
    response: outpost_scripting::FetchResponse,
) -> std::result::Result<(), h3::error::StreamError> {
    let mut head = http::Response::new(());
    *head.status_mut() = response.head.status;
    *head.headers_mut() = response.head.headers;
    for name in [
        http::header::CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
        http::HeaderName::from_static("keep-alive"),
        http::HeaderName::from_static("proxy-connection"),
    ] {
        head.headers_mut().remove(name);
    }
    send.send_response(head).await?;
    let mut body = response.body;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) if bytes.is_empty() => {}
            Ok(bytes) => send.send_data(bytes).await?,
            Err(e) => {
                // A body that failed midway must not look complete: reset the stream.
                tracing::debug!(error = %e, "an HTTP/3 response body failed");
                send.stop_stream(h3::error::Code::H3_INTERNAL_ERROR);
                return Ok(());
            }
        }
    }
    send.finish().await
}
