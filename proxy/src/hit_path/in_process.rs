//! Requests fed to the pipeline in process — a script's `fetch()`, a request that
//! came over HTTP/3 — that a fresh memory-tier object answers as it is: answered on
//! the thread that asked, with the head and accounting pingora's path gives them,
//! instead of a subrequest session on the proxy runtime. (The commonest hook,
//! `fetch(request)` then a header or two in front of a cached site, and most HTTP/3
//! requests to a cached site.)

use super::answer::{self, Asker};
use crate::snapshot::Live;
use outpost_scripting::{Body, BodyStream, FetchRequest, FetchResponse};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

/// Who fed the request in.
#[derive(Clone, Copy)]
pub(crate) enum Fed<'a> {
    /// A script's `fetch()`; `ran` are the scripts already on the request's path.
    Script { ran: &'a [PathBuf] },
    /// A client over HTTP/3.
    Http3,
}

/// The answer to `req` from the memory tier, or `None` when it must take pingora's
/// path (anything but a plain GET or HEAD of a fresh stored object that no rule or
/// script, other than those that already ran, touches). `id` is the request's id in
/// logs and in the request-id field.
pub(crate) fn answer(
    live: &Live,
    req: &FetchRequest,
    fed: Fed<'_>,
    client_ip: Option<IpAddr>,
    id: &str,
) -> Option<FetchResponse> {
    match &req.body {
        None => {}
        Some(Body::Bytes(b)) if b.is_empty() => {}
        Some(_) => return None,
    }
    if live.draining.load(Ordering::Relaxed) {
        return None;
    }
    let start = Instant::now();
    let mut wanted = answer::Request::from_fetch(&req.method, &req.url, &req.headers)?;
    let asker = match fed {
        Fed::Script { ran } => Asker::Script { ran },
        Fed::Http3 => {
            wanted.version = http::Version::HTTP_3;
            Asker::Client
        }
    };
    let tls = req.url.scheme() == "https";
    let snapshot = live.snapshot();
    let now = SystemTime::now();
    let (found, prepared) = answer::find(live, &snapshot, &wanted, (tls, client_ip, asker), now)?;
    // pingora's path hands a stored body without a length on as it is; the prepared
    // head has HTTP/1's chunked framing instead.
    if prepared.chunked {
        return None;
    }
    let id_field = snapshot.config.server.request_id_header.as_ref();
    let mut head = super::head::response_parts(&prepared, now, id_field.map(|n| (n, id)))?;
    match prepared.date() {
        Some(date) => {
            head.headers.insert(http::header::DATE, date);
        }
        // A client gets a Date as from pingora's path (a script's fetch does not).
        None if matches!(fed, Fed::Http3) => {
            let date = http::HeaderValue::from_str(&httpdate::fmt_http_date(now)).ok()?;
            head.headers.insert(http::header::DATE, date);
        }
        None => {}
    }
    if matches!(fed, Fed::Http3) {
        for_http3(&mut head.headers)?;
    }
    let body = found.entry.body().clone();
    let body_bytes = if wanted.head_only { 0 } else { body.len() };
    super::record_answer(
        live,
        &snapshot,
        (&found, prepared.status, start),
        super::Asked {
            client: client_ip,
            request_id: &id,
            logged: &wanted.logged(),
            subrequest: matches!(fed, Fed::Script { .. }),
        },
        body_bytes,
        None,
    );
    let body = if wanted.head_only || body.is_empty() {
        BodyStream::new(futures_util::stream::empty())
    } else {
        BodyStream::new(futures_util::stream::once(std::future::ready(Ok(body))))
    };
    Some(FetchResponse { head, body })
}

/// The prepared head (made for HTTP/1.1 clients) as pingora's path gives it to an
/// HTTP/3 client: our `Via` hop with protocol 3, `Cache-Status` naming it.
fn for_http3(fields: &mut http::HeaderMap) -> Option<()> {
    let ours = format!("1.1 {}", crate::header_policy::VIA);
    let via = fields.get(http::header::VIA)?.to_str().ok()?;
    let earlier = via.strip_suffix(ours.as_str())?;
    let via = format!("{earlier}3 {}", crate::header_policy::VIA);
    fields.insert(http::header::VIA, http::HeaderValue::from_str(&via).ok()?);
    let status = fields.get("cache-status")?.to_str().ok()?;
    let status = format!("{status}{}", crate::caching::HTTP3_PARAM);
    fields.insert(
        http::HeaderName::from_static("cache-status"),
        http::HeaderValue::from_str(&status).ok()?,
    );
    Some(())
}
