//! The built-in static file origin (`origins: ["static:./public"]`).
//!
//! It is a real HTTP/1.1 server on a loopback port, started in-process, so a
//! static site goes through exactly the same proxy pipeline (rules, cache, HTML
//! rewriting) as a remote origin. It serves files with `Content-Type`, a strong
//! `ETag` (size + mtime), `Last-Modified`, conditional requests (`If-None-Match`,
//! `If-Modified-Since`), single byte ranges and `Cache-Control: public, max-age=60`
//! (so the edge caches it for a minute). Directory requests serve
//! `index.html`. Paths are confined to the root: `..`, encoded separators and
//! symlinks leaving the root are refused.

use crate::error::{ProxyError, Result};
use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

type Body = BoxBody<Bytes, std::io::Error>;

/// Static origins by canonical root. A root keeps its server for the life of the
/// process so that a reload naming the same root reuses it.
#[derive(Default)]
struct Registry {
    addrs: HashMap<PathBuf, SocketAddr>,
    /// Bound, not yet served: a config is loaded on the control runtime, but the
    /// files are served on the request runtime (a busy static site must not slow
    /// reloads, health probes or the admin API), which only exists once pingora runs.
    waiting: Vec<(std::net::TcpListener, Arc<PathBuf>)>,
}

fn registry() -> &'static Mutex<Registry> {
    static REG: OnceLock<Mutex<Registry>> = OnceLock::new();
    REG.get_or_init(Default::default)
}

/// Whether `registry().waiting` may hold listeners (read on every static request).
static WAITING: AtomicBool = AtomicBool::new(false);

/// Returns the loopback address serving `root`, binding it if needed; the server
/// starts on the request runtime ([`start_waiting`]).
pub fn ensure_static_origin(root: &Path) -> Result<SocketAddr> {
    let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(addr) = reg.addrs.get(root) {
        return Ok(*addr);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(ProxyError::StaticOrigin)?;
    listener
        .set_nonblocking(true)
        .map_err(ProxyError::StaticOrigin)?;
    let addr = listener.local_addr().map_err(ProxyError::StaticOrigin)?;
    tracing::info!(root = %root.display(), %addr, "static origin started");
    reg.addrs.insert(root.to_path_buf(), addr);
    reg.waiting.push((listener, Arc::new(root.to_path_buf())));
    WAITING.store(true, Ordering::Release);
    Ok(addr)
}

/// Starts serving bound static origins on the current runtime. Only the request
/// path calls it (when a connection arrives, and before a request goes to a static
/// origin), so that runtime is pingora's; a single-threaded runtime (a JS thread's)
/// is refused as a guard. Costs one atomic load once everything is started.
pub fn start_waiting() {
    if !WAITING.load(Ordering::Acquire) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return;
    }
    let waiting = {
        let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
        WAITING.store(false, Ordering::Release);
        std::mem::take(&mut reg.waiting)
    };
    for (listener, root) in waiting {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => {
                runtime.spawn(accept_loop(listener, root));
            }
            Err(e) => {
                tracing::error!(root = %root.display(), error = %e, "static origin cannot be served")
            }
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, root: Arc<PathBuf>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "static origin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let root = root.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let root = root.clone();
                async move { Ok::<_, std::convert::Infallible>(serve(&root, req).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

fn text(status: StatusCode, msg: &'static str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(msg.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Maps a request path to a file under `root`, refusing anything that could escape it.
fn resolve(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for seg in uri_path.split('/') {
        let seg = percent_decode(seg)?;
        if seg.is_empty() || seg == "." {
            continue;
        }
        if seg == ".." || seg.contains('/') || seg.contains('\\') || seg.contains('\0') {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn serve(root: &Path, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let Some(mut path) = resolve(root, req.uri().path()) else {
        return text(StatusCode::BAD_REQUEST, "bad path\n");
    };
    let mut meta = match tokio::fs::metadata(&path).await {
        Ok(m) => m,
        Err(_) => return text(StatusCode::NOT_FOUND, "not found\n"),
    };
    if meta.is_dir() {
        if !req.uri().path().ends_with('/') {
            let mut r = text(StatusCode::MOVED_PERMANENTLY, "moved\n");
            let loc = format!("{}/", req.uri().path());
            if let Ok(v) = HeaderValue::from_str(&loc) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
        path.push("index.html");
        meta = match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => m,
            _ => return text(StatusCode::NOT_FOUND, "not found\n"),
        };
    }
    // Symlinks may point outside the root; only serve what canonicalizes inside it.
    match tokio::fs::canonicalize(&path).await {
        Ok(real) if real.starts_with(root) => {}
        _ => return text(StatusCode::NOT_FOUND, "not found\n"),
    }
    let len = meta.len();
    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let secs = mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let nanos = mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let etag = format!("\"{len:x}-{secs:x}{nanos:x}\"");
    let last_modified = httpdate::fmt_http_date(mtime);

    let mut headers = HeaderMap::new();
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let ctype = if mime.type_() == "text" || mime.essence_str() == "application/javascript" {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_string()
    };
    for (k, v) in [
        (header::CONTENT_TYPE, ctype.as_str()),
        (header::ETAG, etag.as_str()),
        (header::LAST_MODIFIED, last_modified.as_str()),
        (header::ACCEPT_RANGES, "bytes"),
        // Files change only when someone edits them; a minute at the edge is a safe
        // default that still shows edits quickly. Revalidation (ETag) keeps it cheap.
        (header::CACHE_CONTROL, "public, max-age=60"),
    ] {
        if let Ok(v) = HeaderValue::from_str(v) {
            headers.insert(k, v);
        }
    }

    if not_modified(req.headers(), &etag, mtime) {
        let mut r = Response::new(empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        headers.remove(header::CONTENT_TYPE);
        *r.headers_mut() = headers;
        return r;
    }

    let range = match req.headers().get(header::RANGE) {
        // If-Range with a validator that no longer matches means "send it all".
        Some(r) if if_range_matches(req.headers(), &etag, &last_modified) => {
            parse_range(r.as_bytes(), len)
        }
        _ => RangeSpec::Full,
    };
    let (status, start, count) = match range {
        RangeSpec::Full => (StatusCode::OK, 0, len),
        RangeSpec::Partial(s, e) => {
            let v = format!("bytes {s}-{e}/{len}");
            if let Ok(v) = HeaderValue::from_str(&v) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, s, e - s + 1)
        }
        RangeSpec::Unsatisfiable => {
            let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));

    let body = if req.method() == Method::HEAD {
        empty()
    } else {
        match open_range(&path, start, count).await {
            Ok(b) => b,
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "read error\n"),
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

fn empty() -> Body {
    Full::new(Bytes::new()).map_err(|e| match e {}).boxed()
}

async fn open_range(path: &Path, start: u64, count: u64) -> std::io::Result<Body> {
    let mut f = tokio::fs::File::open(path).await?;
    if start > 0 {
        f.seek(std::io::SeekFrom::Start(start)).await?;
    }
    let stream = tokio_util::io::ReaderStream::with_capacity(f.take(count), 64 * 1024);
    Ok(StreamBody::new(stream.map_ok(Frame::data)).boxed())
}

fn not_modified(h: &HeaderMap, etag: &str, mtime: SystemTime) -> bool {
    // RFC 9110 13.2.2: If-None-Match takes precedence over If-Modified-Since.
    if let Some(inm) = h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    if let Some(ims) = h
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        let mtime_secs =
            httpdate::parse_http_date(&httpdate::fmt_http_date(mtime)).unwrap_or(mtime);
        return mtime_secs <= ims;
    }
    false
}

fn if_range_matches(h: &HeaderMap, etag: &str, last_modified: &str) -> bool {
    match h.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v == etag || v == last_modified,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    Full,
    /// Inclusive first and last byte.
    Partial(u64, u64),
    Unsatisfiable,
}

/// Parses a single `bytes=` range. Multiple ranges are answered with the whole file,
/// which RFC 9110 permits.
fn parse_range(v: &[u8], len: u64) -> RangeSpec {
    let Some(spec) = std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().strip_prefix("bytes="))
    else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix range: the last N bytes.
        let Ok(n) = b.parse::<u64>() else {
            return RangeSpec::Full;
        };
        if n == 0 || len == 0 {
            return RangeSpec::Unsatisfiable;
        }
        return RangeSpec::Partial(len - n.min(len), len - 1);
    }
    let Ok(first) = a.parse::<u64>() else {
        return RangeSpec::Full;
    };
    let last = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(l) => l,
            Err(_) => return RangeSpec::Full,
        }
    };
    if last < first {
        return RangeSpec::Full;
    }
    if first >= len {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Partial(first, last.min(len - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(b"bytes=0-9", 100), RangeSpec::Partial(0, 9));
        assert_eq!(parse_range(b"bytes=90-", 100), RangeSpec::Partial(90, 99));
        assert_eq!(parse_range(b"bytes=-10", 100), RangeSpec::Partial(90, 99));
        assert_eq!(
            parse_range(b"bytes=95-200", 100),
            RangeSpec::Partial(95, 99)
        );
        assert_eq!(parse_range(b"bytes=100-", 100), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=5-1", 100), RangeSpec::Full);
        assert_eq!(parse_range(b"bytes=0-1,5-6", 100), RangeSpec::Full);
        assert_eq!(parse_range(b"items=0-1", 100), RangeSpec::Full);
    }

    #[test]
    fn paths_stay_inside_root() {
        let root = Path::new("/srv/www");
        assert_eq!(
            resolve(root, "/a/b.html"),
            Some(PathBuf::from("/srv/www/a/b.html"))
        );
        assert_eq!(resolve(root, "/a/../../etc/passwd"), None);
        assert_eq!(resolve(root, "/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(root, "/a%2fb"), None);
        assert_eq!(resolve(root, "/%zz"), None);
    }
}
