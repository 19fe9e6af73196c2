//! A real HTTP/1.1 origin for tests, on 127.0.0.1:0, built on hyper.
//!
//! Routes: `/echo` (request line and headers back), `/slow?ms=N`, `/big?bytes=N`
//! (streamed), `/drip?chunks=N&ms=M` (a byte every M ms after the head), `/upload`
//! (counts a streamed body), `/health` (status settable), anything else:
//! `hello from NAME`. Every response carries `x-origin: NAME`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::AbortHandle;

type Body = BoxBody<Bytes, Infallible>;

pub struct TestOrigin {
    pub addr: SocketAddr,
    pub name: String,
    pub health_status: Arc<AtomicU16>,
    pub hits: Arc<AtomicUsize>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl TestOrigin {
    pub async fn start(name: &str) -> TestOrigin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind origin");
        let addr = listener.local_addr().expect("addr");
        let health_status = Arc::new(AtomicU16::new(200));
        let hits = Arc::new(AtomicUsize::new(0));
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (n, h, c, t) = (
            name.to_string(),
            health_status.clone(),
            hits.clone(),
            tasks.clone(),
        );
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (n, h, c) = (n.clone(), h.clone(), c.clone());
                let conn = tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (n, h, c) = (n.clone(), h.clone(), c.clone());
                        async move { Ok::<_, Infallible>(route(&n, &h, &c, req).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .with_upgrades()
                        .await;
                });
                t.lock().expect("lock").push(conn.abort_handle());
            }
        });
        tasks.lock().expect("lock").push(accept.abort_handle());
        TestOrigin {
            addr,
            name: name.to_string(),
            health_status,
            hits,
            tasks,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and drops every open connection: the origin is gone.
    pub fn stop(&self) {
        for t in self.tasks.lock().expect("lock").drain(..) {
            t.abort();
        }
    }
}

fn full(s: impl Into<Bytes>) -> Body {
    Full::new(s.into()).boxed()
}

/// A query parameter, with `+` as space and `%2C`/`%3D`/`%22` decoded (enough for header values).
fn query_str(req: &Request<Incoming>, key: &str) -> Option<String> {
    req.uri().query().unwrap_or("").split('&').find_map(|kv| {
        kv.strip_prefix(&format!("{key}=")).map(|v| {
            v.replace('+', " ")
                .replace("%2C", ",")
                .replace("%3D", "=")
                .replace("%22", "\"")
        })
    })
}

fn query_num(req: &Request<Incoming>, key: &str) -> u64 {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn route(
    name: &str,
    health: &AtomicU16,
    hits: &AtomicUsize,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path != "/health" {
        hits.fetch_add(1, Ordering::SeqCst);
    }
    let (status, body): (u16, Body) = match path.as_str() {
        p if p == "/echo" || p.ends_with("/echo") => {
            let mut out = format!("{} {} {}\n", name, req.method(), req.uri());
            for (k, v) in req.headers() {
                out.push_str(&format!("{}: {}\n", k, v.to_str().unwrap_or("?")));
            }
            (200, full(out))
        }
        "/slow" => {
            tokio::time::sleep(std::time::Duration::from_millis(query_num(&req, "ms"))).await;
            (200, full(format!("slow from {name}")))
        }
        "/big" => {
            let total = query_num(&req, "bytes");
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let chunks = total / chunk.len() as u64;
            let rest = (total % chunk.len() as u64) as usize;
            let stream = futures_util::stream::iter(
                (0..chunks)
                    .map(move |_| chunk.clone())
                    .chain(std::iter::once(Bytes::from(vec![b'x'; rest])))
                    .map(|b| Ok::<_, Infallible>(Frame::data(b))),
            );
            (200, BodyExt::boxed(StreamBody::new(stream)))
        }
        "/drip" => {
            // The head at once, then `chunks` bytes, one every `ms`.
            let chunks = query_num(&req, "chunks");
            let ms = query_num(&req, "ms");
            let stream = futures_util::stream::unfold(0u64, move |sent| async move {
                if sent == chunks {
                    return None;
                }
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                Some((
                    Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"x"))),
                    sent + 1,
                ))
            });
            (200, BodyExt::boxed(StreamBody::new(stream)))
        }
        "/upload" => {
            let mut body = req.into_body();
            let mut n: u64 = 0;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => n += f.data_ref().map_or(0, |d| d.len() as u64),
                    Err(_) => {
                        return Response::builder()
                            .status(400)
                            .body(full("bad body"))
                            .expect("resp");
                    }
                }
            }
            (200, full(format!("received {n}")))
        }
        "/health" => (health.load(Ordering::SeqCst), full("health")),
        p if p == "/c" || p.ends_with("/c") => {
            // Cacheable resource whose headers the test sets through the query string:
            // cc=Cache-Control, cdn=CDN-Cache-Control, etag=ETag (answers If-None-Match
            // with 304), vary=Vary, cookie=1 (Set-Cookie), ms=delay, size=N (pad the body
            // to N bytes), ct=Content-Type (default text/plain), ce=Content-Encoding.
            // Body: "NAME #N" (N = origin hits so far), then padding.
            let ms = query_num(&req, "ms");
            if ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            let n = hits.load(Ordering::SeqCst);
            let mut b = Response::builder().header("x-origin", name).header(
                "content-type",
                query_str(&req, "ct").unwrap_or_else(|| "text/plain".into()),
            );
            for (q, h) in [
                ("ce", "content-encoding"),
                ("cc", "cache-control"),
                ("cdn", "cdn-cache-control"),
                ("etag", "etag"),
                ("vary", "vary"),
                ("tag", "cache-tag"),
            ] {
                if let Some(v) = query_str(&req, q) {
                    b = b.header(h, v);
                }
            }
            if query_str(&req, "cookie").is_some() {
                b = b.header("set-cookie", "session=abc");
            }
            let etag = query_str(&req, "etag");
            let inm = req
                .headers()
                .get("if-none-match")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if etag.is_some() && inm == etag {
                return b
                    .status(304)
                    .header("x-revalidated", "1")
                    .body(full(""))
                    .expect("resp");
            }
            let mut body = format!("{name} #{n}");
            let pad = query_num(&req, "size") as usize;
            if pad > body.len() {
                // Deterministic, position-dependent filler so ranges can be checked.
                body.extend((body.len()..pad).map(|i| (b'a' + (i % 26) as u8) as char));
            }
            if let Some(lang) = req
                .headers()
                .get("accept-language")
                .and_then(|v| v.to_str().ok())
            {
                body.push_str(&format!(" lang={lang}"));
            }
            return b.status(200).body(full(body)).expect("resp");
        }
        "/ws" => {
            // Minimal upgrade: answer 101 and echo bytes on the upgraded connection.
            let upgrade = hyper::upgrade::on(req);
            tokio::spawn(async move {
                if let Ok(up) = upgrade.await {
                    let mut io = hyper_util::rt::TokioIo::new(up);
                    let (mut r, mut w) = tokio::io::split(&mut io);
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                }
            });
            return Response::builder()
                .status(101)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("x-origin", name)
                .body(full(""))
                .expect("resp");
        }
        _ => (200, full(format!("hello from {name}"))),
    };
    Response::builder()
        .status(status)
        .header("x-origin", name)
        .header("content-type", "text/plain")
        .body(body)
        .expect("response")
}

/// A TCP listener that accepts connections and never answers (a hung origin).
pub async fn blackhole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    (addr, task)
}

/// A port with nothing listening (bound then released).
pub fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", super::free_port())
}

/// A bare HTTP/1.1 origin on 127.0.0.1:0 answering every request with `handler` (for
/// tests that record or reflect exactly what the origin parsed).
pub async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_counting(handler).await.0
}

/// [`serve`], also counting the TCP connections that carried a request (to check
/// connection reuse).
pub async fn serve_counting<F, Fut>(handler: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_at(([127, 0, 0, 1], 0).into(), handler).await
}

/// [`serve`] without hyper's automatic `Date` field: the handler's fields are all
/// the origin sends (an origin without a clock, RFC 9110 §6.6.1).
pub async fn serve_dateless<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_with(([127, 0, 0, 1], 0).into(), false, handler)
        .await
        .0
}

/// [`serve_counting`] on a given address (another loopback address, a fixed port).
pub async fn serve_at<F, Fut>(bind: SocketAddr, handler: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_with(bind, true, handler).await
}

async fn serve_with<F, Fut>(
    bind: SocketAddr,
    date: bool,
    handler: F,
) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connects = Arc::new(AtomicUsize::new(0));
    let counted = connects.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                // Counted when it carries its first request: a connection that never
                // does (another test's stray connect to a port this listener now
                // holds) is not one the proxy under test opened for its requests.
                let first = std::sync::atomic::AtomicBool::new(true);
                let svc = hyper::service::service_fn(move |req| {
                    if first.swap(false, Ordering::SeqCst) {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    let response = handler(req);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .auto_date_header(date)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, connects)
}
