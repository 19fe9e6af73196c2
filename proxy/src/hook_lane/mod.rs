//! The hook lane: a body-less GET or HEAD (an HTTP/1.1 request or an HTTP/2 stream)
//! whose site runs a hook, or whose page rule does nothing but bind one, and that no
//! other rule or built-in answer claims, goes to its script from here, without
//! pingora's proxy session, context or downstream modules; the answer is written as
//! pingora's path writes it (the same fields, compression, request id, `Date`,
//! `Connection`), counted and logged the same way.
//!
//! pingora's per-request machinery cost more than half of a hook's CPU on the proxy
//! thread (a hook answering by itself: ~70 % of the process was the proxy thread).
//! Anything this lane does not take — another method, a body, a rule that does more
//! than bind a script, a draining node, fields pingora judges (the fast path's [`hit_path::Request`]
//! filter), HTTP/3 — goes to pingora's path, which runs the same hook
//! (`hooks::answer`).

mod write;

use crate::access_log::AccessLine;
use crate::hit_path::{self, Request, Served};
use crate::hooks::{client_head, failure_answer, pass_through, streamed_framing};
use crate::site::{Site, normalize_host};
use crate::snapshot::{Live, Snapshot};
use crate::subrequest::PipelineFetcher;
use bytes::Bytes;
use outpost_config::ScriptFile;
use outpost_scripting::{Answer, Body, Cf, HookRequest};
use pingora::http::ResponseHeader;
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use write::{Sent, plain_h1_head, send_h1, write_h1, write_h2};

/// A request the lane takes: its site, host and hook, and the page rule that bound
/// the hook, if one did (as logs, metrics and `cf.rule` name it: `rules.yaml:3`).
struct Lane {
    snapshot: Arc<Snapshot>,
    site: Arc<Site>,
    host: String,
    script: ScriptFile,
    rule: Option<Arc<str>>,
}

/// Whether `req` is for the lane: a hook runs for it (the site's, or one a page rule
/// binds and that rule does nothing else) and nothing else that pingora's
/// `request_filter` does before a hook (ACME challenges, `outpost dev`'s cron
/// trigger, IP lists, image transforms, another page rule) applies.
fn admit(live: &Live, req: &Request<'_>, (tls, client_ip): (bool, Option<IpAddr>)) -> Option<Lane> {
    if live.draining.load(Ordering::Relaxed) {
        return None;
    }
    let snapshot = live.snapshot();
    let host = normalize_host(req.raw_host)?;
    let site = snapshot.sites.lookup(&host)?.clone();
    let path = req.target.path();
    if path.starts_with(outpost_tls::acme::HTTP01_PREFIX)
        || (live.dev() && path == crate::scheduled::DEV_TRIGGER_PATH)
        || !outpost_config::ip_admitted(&site.ip_allow, &site.ip_deny, client_ip)
        || (site.images.is_some() && path.starts_with(crate::images::PREFIX))
    {
        return None;
    }
    let rule = if site.rules.has_candidates(&host, req.target.as_str()) {
        hit_path::find_rule(&site, req, &host, (tls, client_ip)).ok()?
    } else {
        None
    };
    let script = match &rule {
        None => site.script.clone()?,
        Some(m) if hit_path::only_binds_script(&m.rule.actions) => m.rule.actions.script.clone()?,
        Some(_) => return None,
    };
    Some(Lane {
        snapshot,
        site,
        host,
        script,
        rule: rule.map(|m| m.rule.source.label.clone()),
    })
}

/// Runs the hook for an HTTP/1.1 `req` and writes its answer; [`Served::No`] when the
/// request is not for the lane (nothing has been written then).
pub(crate) async fn try_serve(
    live: &Arc<Live>,
    stream: &mut Stream,
    req: &Request<'_>,
    out: &mut Vec<u8>,
    (tls, client_ip, start): (bool, Option<IpAddr>, Instant),
) -> Served {
    let Some(lane) = admit(live, req, (tls, client_ip)) else {
        return Served::No;
    };
    let tls_version = stream.get_ssl_digest().map(|d| d.version.to_string());
    let Some(mut ran) = run(live, &lane, req, (tls, client_ip, tls_version)).await else {
        return Served::No;
    };
    let Some((head, body, kind)) = ran.answer.take() else {
        return Served::Failed;
    };
    let accept = req
        .field("accept-encoding")
        .and_then(|v| std::str::from_utf8(v).ok());
    let chunked = match &head {
        Head::Script(parts) => plain_h1_head(out, parts, &body, (req, accept), (&lane, &ran.id)),
        Head::Built(_) => None,
    };
    let (sent, kind) = match chunked {
        Some(chunked) => {
            let body_out = write::BodyOut {
                chunked,
                encoder: None,
                bytes: 0,
            };
            let status = head.status();
            let sent = send_h1(stream, out, (body, body_out), (req, &lane), status).await;
            (sent, kind)
        }
        None => {
            let debug = lane.snapshot.config.server.debug_headers;
            let Some((head, body, kind)) = built((head, body, kind), req.version, &ran.name, debug)
            else {
                return Served::Failed;
            };
            let sent = write_h1(stream, out, (head, body), (req, accept), (&lane, &ran.id)).await;
            (sent, kind)
        }
    };
    let served = match &sent.error {
        None => Served::Yes {
            keepalive: !req.close,
        },
        Some(_) => Served::Failed,
    };
    record(
        live,
        &lane,
        &req.logged(),
        client_ip,
        (&ran, kind, start),
        sent,
    );
    served
}

/// The same for an HTTP/2 stream pingora has read; the answer goes through pingora's
/// HTTP/2 writer.
pub(crate) async fn try_serve_h2(live: &Arc<Live>, session: &mut ServerSession) -> Served {
    let start = Instant::now();
    let (tls, client_ip) = hit_path::client_of(session);
    let tls_version = session
        .digest()
        .and_then(|d| d.ssl_digest.as_ref())
        .map(|t| t.version.to_string());
    if !session.is_body_empty() {
        return Served::No;
    }
    // What the writes need of the request, owned: they borrow the session.
    let (lane, mut ran, head_only, version, target, accept) = {
        let Some(req) = Request::from_header(session.req_header()) else {
            return Served::No;
        };
        let Some(lane) = admit(live, &req, (tls, client_ip)) else {
            return Served::No;
        };
        let Some(ran) = run(live, &lane, &req, (tls, client_ip, tls_version)).await else {
            return Served::No;
        };
        let accept = req
            .field("accept-encoding")
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::to_owned);
        (
            lane,
            ran,
            req.head_only,
            req.version,
            req.target.clone(),
            accept,
        )
    };
    let debug = lane.snapshot.config.server.debug_headers;
    let Some((head, body, kind)) = ran
        .answer
        .take()
        .and_then(|answer| built(answer, version, &ran.name, debug))
    else {
        return Served::Failed;
    };
    let sent = write_h2(
        session,
        (head, body),
        (head_only, accept.as_deref()),
        (&lane, &ran.id),
    )
    .await;
    let served = match &sent.error {
        None => Served::Yes { keepalive: true },
        Some(_) => Served::Failed,
    };
    let logged = hit_path::Logged {
        head_only,
        version,
        path: target.as_str(),
    };
    record(live, &lane, &logged, client_ip, (&ran, kind, start), sent);
    served
}

/// A hook run for a request the lane took (counted in flight while this lives).
struct Ran {
    id: Arc<str>,
    /// The script's name, as metrics and logs give it.
    name: Arc<str>,
    /// The answer to write: a head without framing, the body and how the run went
    /// (`ok`, `pass-through`, or the failure's kind); `None` when not even a failure
    /// page could be made.
    answer: Option<(Head, Body, &'static str)>,
    /// Counted in flight until the answer is written (or the future is dropped).
    _in_flight: crate::snapshot::InFlight,
}

/// Runs the hook for `req`; `None` when it cannot start here (pingora's path then
/// answers: a runtime that does not start, fields the script's map does not take).
async fn run(
    live: &Arc<Live>,
    lane: &Lane,
    req: &Request<'_>,
    (tls, client_ip, tls_version): (bool, Option<IpAddr>, Option<String>),
) -> Option<Ran> {
    // pingora's path answers (and logs) a runtime that cannot start.
    let engine = live.script_engine().ok()?;
    let headers = req.field_map()?;
    let url = crate::site::request_url(tls, Some(req.raw_host), &lane.host, req.target.as_str());
    let uri = http::Uri::try_from(url.as_str()).ok()?;
    let in_flight = live.enter_request();
    let id: Arc<str> = live.new_request_id();
    let method = if req.head_only {
        http::Method::HEAD
    } else {
        http::Method::GET
    };
    let mut request = http::Request::new(Bytes::new());
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    let fetcher = live.subrequest_spawner().map(|spawner| {
        let site = &lane.site;
        let images = site.images.clone().map(|i| (site.name.clone(), i));
        Arc::new(
            PipelineFetcher::new(
                live.clone(),
                spawner,
                (
                    client_ip,
                    (
                        lane.host.clone(),
                        crate::header_policy::request_port(Some(req.raw_host), tls),
                    ),
                ),
                Vec::new(),
                lane.script.path.clone(),
                (id.clone(), site.egress.clone(), site.pool.clone()),
            )
            .with_images(images),
        )
    });
    let cf = Cf {
        client_ip,
        tls_version,
        http_protocol: crate::hooks::protocol_name(req.version).to_string(),
        rule: lane.rule.as_deref().map(str::to_owned),
        scheduled: None,
    };
    let hook_request = HookRequest {
        request,
        stream: None,
        id: id.clone(),
        cf,
        fetcher: fetcher
            .clone()
            .map(|f| f as Arc<dyn outpost_scripting::Fetcher>),
    };
    let name = lane.script.name.clone();
    let outcome = engine
        .run(lane.script.clone(), lane.site.env.clone(), hook_request)
        .await;
    let debug = lane.snapshot.config.server.debug_headers;
    let answered = match outcome {
        Ok(Answer::Respond(resp)) => Ok((resp, "ok")),
        Ok(Answer::PassThrough(e)) => {
            // The request as it came, again from its head (it parsed once already).
            let original = (method, req.field_map().unwrap_or_default(), Bytes::new());
            pass_through(&name, fetcher.as_ref(), &url, original, e)
                .await
                .map(|r| (r, "pass-through"))
        }
        Err(e) => Err(e),
    };
    let answer = match answered {
        Ok((resp, kind)) => Some((Head::Script(resp.head), resp.body, kind)),
        Err(e) => match failure_answer(&name, &e, debug) {
            Ok((head, body)) => Some((Head::Built(head), Body::Bytes(body), e.kind())),
            Err(e) => error_answer(&name, e, debug),
        },
    };
    Some(Ran {
        id,
        name,
        answer,
        _in_flight: in_flight,
    })
}

/// A hook's answer head: the script's own, or pingora's (a failure page).
enum Head {
    Script(http::response::Parts),
    Built(ResponseHeader),
}

impl Head {
    fn status(&self) -> u16 {
        match self {
            Head::Script(parts) => parts.status.as_u16(),
            Head::Built(head) => head.status.as_u16(),
        }
    }
}

/// `answer` with pingora's head, framed for a client speaking `version` (what
/// HTTP/2's writer and the compressor take); the script's name and `debug` make the
/// failure page for a head pingora refuses. `None` when not even that can be made.
fn built(
    (head, body, kind): (Head, Body, &'static str),
    version: http::Version,
    name: &str,
    debug: bool,
) -> Option<(ResponseHeader, Body, &'static str)> {
    let parts = match head {
        Head::Built(head) => return Some((head, body, kind)),
        Head::Script(parts) => parts,
    };
    let framed = client_head(&parts).and_then(|mut head| {
        if let Body::Stream(_) = body {
            streamed_framing(&mut head, &parts, version)?;
        }
        Ok(head)
    });
    match framed {
        Ok(head) => Some((head, body, kind)),
        Err(e) => {
            let (head, body, kind) = error_answer(name, e, debug)?;
            built((head, body, kind), version, name, debug)
        }
    }
}

/// The failure page for a script's answer that could not be put in a head (a field
/// pingora's head refuses), or `None` when even that fails.
fn error_answer(
    name: &str,
    e: Box<pingora::Error>,
    debug: bool,
) -> Option<(Head, Body, &'static str)> {
    let e = outpost_scripting::ScriptError::Exception {
        script: name.to_string(),
        message: format!("its response could not be sent: {e}"),
    };
    let (head, body) = failure_answer(name, &e, debug).ok()?;
    Some((Head::Built(head), Body::Bytes(body), e.kind()))
}

/// Counts the request and writes its access-log line, as pingora's `logging` phase
/// does for a hooked request.
fn record(
    live: &Live,
    lane: &Lane,
    req: &hit_path::Logged<'_>,
    client_ip: Option<IpAddr>,
    (ran, kind, start): (&Ran, &'static str, Instant),
    sent: Sent,
) {
    let m = &live.metrics;
    m.scripts.with_label_values(&[&ran.name, kind]).inc();
    m.lane_hooks.inc();
    let site = &lane.site;
    m.requests
        .with_label_values(&[
            site.name.as_str(),
            crate::metrics::status_class(sent.status),
            "script",
        ])
        .inc();
    m.by_protocol.count(req.version);
    if let Some(r) = &lane.rule {
        m.rule_hits.with_label_values(&[r]).inc();
    }
    let meters = site.meters(m);
    meters.duration.observe(start.elapsed().as_secs_f64());
    meters
        .bytes_out
        .inc_by(u64::try_from(sent.bytes).unwrap_or(u64::MAX));
    if let Some(c) = &sent.compression {
        c.count(m);
    }
    if !lane.snapshot.config.log.access_log {
        return;
    }
    AccessLine {
        client: client_ip,
        request_id: &ran.id,
        method: if req.head_only { "HEAD" } else { "GET" },
        host: &lane.host,
        path: req.path,
        version: req.version,
        status: sent.status,
        bytes: sent.bytes,
        start,
        site: &site.name,
        origin: "-",
        attempts: 0,
        // What pingora's path logs for a hooked request: its cache never started.
        cache: "disabled",
        subrequest: false,
        rule: lane.rule.as_deref().map(str::to_owned),
        script: Some(lane.script.name.to_string()),
        html: None,
        compression: sent.compression.and_then(|c| c.coding).map(|k| k.token()),
        error: sent.error,
    }
    .write();
}
