//! The admin API: a small JSON-over-HTTP listener for operators.
//!
//! `POST /purge` takes Cloudflare's purge body so existing tooling ports over:
//! `{"files": [urls]}`, `{"prefixes": ["host/path"]}`, `{"hosts": [...]}`,
//! `{"tags": [...]}` (from the origin's `Cache-Tag`) or `{"purge_everything": true}`.
//! `GET /cache/stats`, `GET /status`, `GET /origins`, `GET /metrics` (Prometheus) and
//! `POST /reload`, `GET /scripts` and `PUT /scripts/NAME` (deploy a checked hook,
//! [`scripts`]) complete it. Every failure
//! has a JSON body; with a token configured every call needs `Authorization: Bearer`.

mod scripts;

use crate::error::{ProxyError, Result};
use crate::snapshot::Live;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Starts the admin listener on `runtime`. With `wait_for_port` (a binary upgrade,
/// whose old process still holds the port), a busy port is retried in the background
/// for that long instead of failing.
pub fn start_admin(
    addr: SocketAddr,
    token: Option<String>,
    live: Arc<Live>,
    runtime: &tokio::runtime::Runtime,
    wait_for_port: Option<std::time::Duration>,
) -> Result<()> {
    let first = std::net::TcpListener::bind(addr);
    let first = match (first, wait_for_port) {
        (Ok(l), _) => Some(l),
        (Err(e), Some(_)) if e.kind() == std::io::ErrorKind::AddrInUse => None,
        (Err(source), _) => return Err(ProxyError::Bind { addr, source }),
    };
    let started = Instant::now();
    let token: Arc<Option<String>> = Arc::new(token);
    runtime.spawn(async move {
        let listener = match first {
            Some(l) => l,
            None => {
                let limit = wait_for_port.unwrap_or_default();
                tracing::info!(%addr, "admin port busy (the old process has it); retrying");
                loop {
                    match std::net::TcpListener::bind(addr) {
                        Ok(l) => break l,
                        Err(e) if started.elapsed() < limit => {
                            tracing::debug!(error = %e, "admin port still busy");
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        }
                        Err(e) => {
                            tracing::error!(%addr, error = %e, "admin API not started: port still busy");
                            return;
                        }
                    }
                }
            }
        };
        let listener = match listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener))
        {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(%addr, error = %e, "admin API not started");
                return;
            }
        };
        tracing::info!(%addr, auth = token.is_some(), "admin API listening");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (live, token) = (live.clone(), token.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let (live, token) = (live.clone(), token.clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            handle(req, &live, token.as_deref(), started).await,
                        )
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    Ok(())
}

/// Every origin of every site (main pool, named pools, parent) as `(site, pool,
/// origin, taking traffic)`.
fn origin_health(snap: &crate::snapshot::Snapshot) -> Vec<(String, String, String, bool)> {
    let mut seen: Vec<*const crate::site::Site> = Vec::new();
    let mut out = Vec::new();
    for site in snap.sites.sites() {
        // A site is indexed once per host name.
        if seen.contains(&Arc::as_ptr(site)) {
            continue;
        }
        seen.push(Arc::as_ptr(site));
        let pools = std::iter::once(("origins", &site.pool))
            .chain(site.pools.iter().map(|(n, p)| (n.as_str(), p)))
            .chain(site.parent.iter().map(|p| ("parent", p)));
        for (pool_name, pool) in pools {
            for (i, o) in pool.origins().iter().enumerate() {
                out.push((
                    site.name.clone(),
                    pool_name.to_string(),
                    o.label(),
                    pool.is_available(i),
                ));
            }
        }
    }
    out
}

/// `GET /origins`: each origin and whether it is taking traffic.
fn origins(live: &Live) -> Response<Full<Bytes>> {
    let list: Vec<serde_json::Value> = origin_health(&live.snapshot())
        .into_iter()
        .map(|(site, pool, origin, up)| {
            json!({ "site": site, "pool": pool, "origin": origin, "healthy": up })
        })
        .collect();
    reply(StatusCode::OK, json!({ "success": true, "origins": list }))
}

/// `GET /certs`: every ACME certificate, what is served and when it renews.
fn certs(live: &Live) -> Response<Full<Bytes>> {
    let rfc3339 = |t: std::time::SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    let list: Vec<serde_json::Value> = live
        .acme
        .status()
        .into_iter()
        .map(|r| {
            json!({
                "names": r.names,
                "issued": r.current.is_some(),
                "issuer": r.current.as_ref().map(|c| c.issuer.clone()),
                "not_after": r.current.as_ref().map(|c| rfc3339(c.not_after)),
                "next_attempt": r.next_attempt.map(rfc3339),
                "failures": r.failures,
                "last_error": r.last_error,
            })
        })
        .collect();
    reply(
        StatusCode::OK,
        json!({ "success": true, "certificates": list }),
    )
}

/// `GET /metrics`: the Prometheus text format.
fn metrics(live: &Live) -> Response<Full<Bytes>> {
    let health = origin_health(&live.snapshot());
    let origins = health
        .iter()
        .filter(|(_, pool, _, _)| pool != "parent")
        .map(|(site, _, origin, up)| (site.as_str(), origin.clone(), *up))
        .collect();
    let js_threads_replaced = live.started_script_engine().map_or((0, 0), |e| {
        (
            e.threads_replaced_stuck() as u64,
            e.threads_recycled() as u64,
        )
    });
    let state = crate::metrics::State {
        js_threads_replaced,
        in_flight: live.in_flight.load(std::sync::atomic::Ordering::Relaxed),
        connections_open: live.admission.open(),
        cluster: live.cluster().map(|c| c.status()),
        resolver: live.resolver.status(),
        cache: live.cache.as_ref().map(|c| c.storage.stats()),
        origins,
        acme: live.acme.status(),
        acme_counts: (
            live.acme
                .counters
                .issued
                .load(std::sync::atomic::Ordering::Relaxed),
            live.acme
                .counters
                .failed
                .load(std::sync::atomic::Ordering::Relaxed),
            live.acme
                .counters
                .loaded
                .load(std::sync::atomic::Ordering::Relaxed),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(live.metrics.render(&state))));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn failure(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    reply(
        status,
        json!({ "success": false, "errors": [ { "message": message.into() } ] }),
    )
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn token_matches(given: &[u8], want: &[u8]) -> bool {
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn handle(
    req: Request<Incoming>,
    live: &Live,
    token: Option<&str>,
    started: Instant,
) -> Response<Full<Bytes>> {
    if let Some(want) = token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| token_matches(g.as_bytes(), want.as_bytes())) {
            return failure(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        }
    }
    match (req.method().clone(), req.uri().path()) {
        (Method::GET, "/metrics") => metrics(live),
        (Method::GET, "/origins") => origins(live),
        (Method::GET, "/resolver") => reply(StatusCode::OK, json!(live.resolver.status())),
        (Method::POST, "/purge") => purge(req, live).await,
        (Method::GET, "/cache/stats") => match live.cache {
            Some(cache) => {
                let s = cache.storage.stats();
                let lookups = s.memory_hits + s.disk_hits + s.misses;
                let ratio = if lookups == 0 {
                    0.0
                } else {
                    (s.memory_hits + s.disk_hits) as f64 / lookups as f64
                };
                reply(
                    StatusCode::OK,
                    json!({
                        "success": true,
                        "memory": { "entries": s.memory_entries, "bytes": s.memory_bytes, "hits": s.memory_hits, "evictions": s.memory_evictions },
                        "disk": { "entries": s.disk_entries, "bytes": s.disk_bytes, "hits": s.disk_hits, "evictions": s.disk_evictions },
                        "misses": s.misses,
                        "stores": s.stores,
                        "hit_ratio": ratio,
                    }),
                )
            }
            None => failure(StatusCode::NOT_FOUND, "caching is disabled"),
        },
        (Method::GET, "/status") => {
            let snap = live.snapshot();
            reply(
                StatusCode::OK,
                json!({
                    "success": true,
                    "version": env!("CARGO_PKG_VERSION"),
                    "uptime_seconds": started.elapsed().as_secs(),
                    "config": snap.config.source.display().to_string(),
                    "config_generation": snap.generation,
                    "config_hash": snap.hash,
                    "in_flight": live.in_flight.load(std::sync::atomic::Ordering::Relaxed),
                    "sites": snap.config.sites.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
                    "cluster": live.cluster().map(|c| c.status()),
                }),
            )
        }
        (Method::POST, "/reload") => match tokio::task::block_in_place(|| live.reload()) {
            Ok(generation) => reply(
                StatusCode::OK,
                json!({ "success": true, "config_generation": generation }),
            ),
            Err(e) => failure(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        },
        (Method::GET, "/certs") => certs(live),
        (Method::POST, "/certs/renew") => {
            live.acme.renew_all();
            reply(
                StatusCode::ACCEPTED,
                json!({ "success": true, "renewing": live.acme.status().len() }),
            )
        }
        (Method::GET, "/scripts") => scripts::list(live),
        (Method::PUT, path) if path.starts_with("/scripts/") => {
            let name = percent_decode(&path["/scripts/".len()..]).unwrap_or_default();
            scripts::deploy(&name, req, live).await
        }
        (method, path) if path.starts_with("/kv/") => {
            let path = path.to_string();
            kv(method, &path, req, live).await
        }
        _ => failure(
            StatusCode::NOT_FOUND,
            "no such endpoint (try POST /purge, GET /cache/stats, GET /status, POST /reload, GET /scripts, PUT /scripts/NAME, GET|PUT|DELETE /kv/NAMESPACE/KEY, GET /kv/NAMESPACE?prefix=)",
        ),
    }
}

/// KV namespaces: `GET|PUT|DELETE /kv/NS/KEY` (the value is the raw body; `?ttl=SECONDS`
/// on PUT), `GET /kv/NS?prefix=P&cursor=C&limit=N` lists keys.
async fn kv(
    method: Method,
    path: &str,
    req: Request<Incoming>,
    live: &Live,
) -> Response<Full<Bytes>> {
    let Some(store) = live.kv() else {
        return failure(
            StatusCode::NOT_FOUND,
            "no KV store: no site binds a KV namespace (site `kv:`)",
        );
    };
    let rest = &path["/kv/".len()..];
    let (namespace, key) = match rest.split_once('/') {
        Some((ns, key)) => (ns, Some(key)),
        None => (rest, None),
    };
    let query: std::collections::HashMap<String, String> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let (Some(namespace), Some(key)) = (
        percent_decode(namespace),
        key.map(percent_decode).map_or(Some(None), |k| k.map(Some)),
    ) else {
        return failure(StatusCode::BAD_REQUEST, "bad percent-encoding");
    };
    let result = match (method, key) {
        (Method::GET, None) => {
            let limit = query
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(1000);
            let prefix = query.get("prefix").map_or("", String::as_str);
            let cursor = query.get("cursor").map_or("", String::as_str);
            store.list(&namespace, prefix, cursor, limit).await.map(|page| {
                let keys: Vec<_> = page
                    .keys
                    .iter()
                    .map(|k| json!({ "name": k.name, "expiration": k.expiration }))
                    .collect();
                reply(
                    StatusCode::OK,
                    json!({ "success": true, "keys": keys, "list_complete": page.cursor.is_none(), "cursor": page.cursor }),
                )
            })
        }
        (Method::GET, Some(key)) => store.get(&namespace, &key).await.map(|v| match v {
            Some(v) => Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Full::new(Bytes::from(v)))
                .unwrap_or_else(|_| failure(StatusCode::INTERNAL_SERVER_ERROR, "response")),
            None => failure(
                StatusCode::NOT_FOUND,
                format!("no key {key:?} in {namespace:?}"),
            ),
        }),
        (Method::PUT, Some(key)) => {
            let body = match Limited::new(req.into_body(), outpost_scripting::KV_MAX_VALUE)
                .collect()
                .await
            {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    return failure(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("cannot read value: {e}"),
                    );
                }
            };
            let expires = match query.get("ttl").map(|t| t.parse::<f64>()) {
                Some(Ok(ttl)) if ttl >= 60.0 => Some(now_secs() + ttl),
                Some(_) => {
                    return failure(
                        StatusCode::BAD_REQUEST,
                        "ttl must be a number of seconds, at least 60",
                    );
                }
                None => None,
            };
            if let Err(e) = outpost_scripting::kv_check_key(&key) {
                return failure(StatusCode::BAD_REQUEST, e.to_string());
            }
            // The local store commits (fsyncs) as the call is made.
            let pending =
                tokio::task::block_in_place(|| store.put(&namespace, &key, body.to_vec(), expires));
            pending
                .await
                .map(|()| reply(StatusCode::OK, json!({ "success": true })))
        }
        (Method::DELETE, Some(key)) => {
            let pending = tokio::task::block_in_place(|| store.delete(&namespace, &key));
            pending
                .await
                .map(|()| reply(StatusCode::OK, json!({ "success": true })))
        }
        _ => {
            return failure(
                StatusCode::METHOD_NOT_ALLOWED,
                "use GET|PUT|DELETE /kv/NAMESPACE/KEY or GET /kv/NAMESPACE",
            );
        }
    };
    result.unwrap_or_else(|e| failure(StatusCode::BAD_REQUEST, e.to_string()))
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

async fn purge(req: Request<Incoming>, live: &Live) -> Response<Full<Bytes>> {
    let Some(cache) = live.cache else {
        return failure(StatusCode::NOT_FOUND, "caching is disabled");
    };
    let body = match Limited::new(req.into_body(), 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return failure(StatusCode::BAD_REQUEST, format!("cannot read body: {e}")),
    };
    let request = match crate::purge::PurgeRequest::parse(&body) {
        Ok(p) => p,
        Err(e) => return failure(StatusCode::BAD_REQUEST, e),
    };
    let purged = match crate::purge::apply(cache, &request).await {
        Ok(n) => n,
        Err(e @ crate::purge::PurgeFailure::Invalid(_)) => {
            return failure(StatusCode::BAD_REQUEST, e.to_string());
        }
        Err(e @ crate::purge::PurgeFailure::Busy(_)) => {
            return failure(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        }
    };
    // Local first; then every other node (cluster mode), reported as it went.
    match live.cluster() {
        Some(cluster) => {
            let report = cluster.publish_purge(body.to_vec()).await;
            reply(
                StatusCode::OK,
                json!({ "success": true, "purged": purged, "cluster": report }),
            )
        }
        None => reply(StatusCode::OK, json!({ "success": true, "purged": purged })),
    }
}
