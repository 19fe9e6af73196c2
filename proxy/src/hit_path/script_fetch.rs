//! A script's `fetch()` that a fresh memory-tier object answers as it is (the
//! commonest hook, `fetch(request)` then a header or two, in front of a cached
//! site): answered on the JS thread that asked, with the same head and accounting
//! as pingora's path gives it, instead of a subrequest session on the proxy runtime.

use super::answer::{self, Asker};
use crate::snapshot::Live;
use outpost_scripting::{Body, BodyStream, FetchRequest, FetchResponse};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

/// The answer to `req` from the memory tier, or `None` when the subrequest must take
/// pingora's path (anything but a plain GET or HEAD of a fresh stored object that no
/// rule or other script touches). `ran` are the scripts already on the request's
/// path, `id` the subrequest's id in logs and in the request-id field.
pub(crate) fn answer(
    live: &Live,
    req: &FetchRequest,
    ran: &[PathBuf],
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
    let wanted = answer::Request::from_fetch(&req.method, &req.url, &req.headers)?;
    let tls = req.url.scheme() == "https";
    let snapshot = live.snapshot();
    let now = SystemTime::now();
    let (found, prepared) = answer::find(
        live,
        &snapshot,
        &wanted,
        (tls, client_ip, Asker::Script { ran }),
        now,
    )?;
    // pingora's path hands a script a stored body without a length as it is; the
    // prepared head has chunked framing for clients instead.
    if prepared.chunked {
        return None;
    }
    let id_field = snapshot.config.server.request_id_header.as_ref();
    let mut head = answer::response_header(&prepared, now, id_field.map(|n| (n, id)))?;
    if let Some(date) = &prepared.date {
        head.insert_header(http::header::DATE, date.clone()).ok()?;
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
            subrequest: true,
        },
        body_bytes,
        None,
    );
    let body = if wanted.head_only || body.is_empty() {
        BodyStream::new(futures_util::stream::empty())
    } else {
        BodyStream::new(futures_util::stream::once(std::future::ready(Ok(body))))
    };
    Some(FetchResponse {
        head: head.as_owned_parts(),
        body,
    })
}
