//! Image transforms at `/cdn-cgi/image/OPTIONS/SOURCE` (Cloudflare's URL form) for
//! sites with `images`. The source is fetched as a hook's `fetch()` would be — this
//! node's pipeline and cache for its own paths, the site's egress policy for other
//! hosts — transformed on the pool (`pool`), and the result stored as a variant of
//! the source's URL under the options and the negotiated format: made once, answered
//! from the cache after, and purged with its source (a purge or invalidation of a URL
//! takes every variant stored under it; the source's `Cache-Tag` travels with it).

mod flights;
mod pool;

use crate::snapshot::Live;
use bytes::{Bytes, BytesMut};
use outpost_images::{Format, ImageError, Limits, Options, Output};
use outpost_scripting::{FetchRequest, Fetcher};
use pingora::cache::key::{CacheHashKey, CacheKey};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The path prefix of transform URLs.
pub(crate) const PREFIX: &str = "/cdn-cgi/image/";

/// How long a request waits for a transform beyond its `max_transform_time`: the
/// queue's share. (A request that gives up leaves the thread to finish, or stop at
/// its own deadline; the pool's bound keeps such work from piling up.)
const QUEUE_WAIT: Duration = Duration::from_secs(20);

/// How long a request waits for a transform (or for another request's turn at the
/// same variant): the work's budget plus the queue's share.
fn longest_wait(images: &outpost_config::Images) -> Duration {
    images.max_transform_time + QUEUE_WAIT
}

/// Source fields the stored variant keeps: its lifetime, validators of the source's
/// version, and the tags a purge names.
const KEPT: [&str; 5] = [
    "cache-control",
    "cdn-cache-control",
    "expires",
    "last-modified",
    "cache-tag",
];

/// The request as the transform sees it.
pub(crate) struct Asked<'a> {
    /// Scheme of the client's request.
    pub(crate) tls: bool,
    /// Its `Host` (or authority), and the normalised host.
    pub(crate) raw_host: Option<&'a str>,
    pub(crate) host: &'a str,
    /// Fetches the source as a hook's `fetch()` would (`None`: not serving yet).
    pub(crate) fetcher: Option<Arc<dyn Fetcher>>,
}

/// What came of it, for the access log and metrics: `hit` or `miss`.
pub(crate) type Outcome = &'static str;

/// Answers a transform request in the URL form for `site`, whose `images` settings
/// are `images`.
pub(crate) async fn serve(
    live: &Arc<Live>,
    session: &mut Session,
    site: &Arc<crate::site::Site>,
    images: &outpost_config::Images,
    asked: Asked<'_>,
) -> pingora::Result<Outcome> {
    let answer = match url_form(session, images, &asked) {
        Ok((options, url)) => answer(live, session, site, images, (options, url), &asked).await,
        Err(r) => Err(r),
    };
    write(live, session, answer).await
}

/// Answers a request a page rule's `image` action (`options`, the URL form's text)
/// applies to: its own URL's response, transformed.
pub(crate) async fn serve_rule(
    live: &Arc<Live>,
    session: &mut Session,
    site: &Arc<crate::site::Site>,
    options: &str,
    asked: Asked<'_>,
) -> pingora::Result<Outcome> {
    let default_limits = outpost_config::Images::default();
    let images = site.images.as_ref().unwrap_or(&default_limits);
    let pq = session
        .req_header()
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let url = crate::site::request_url(asked.tls, asked.raw_host, asked.host, &pq);
    let answer = match (Options::parse(options), url::Url::parse(&url)) {
        (Ok(options), Ok(url)) => answer(live, session, site, images, (options, url), &asked).await,
        (Err(e), _) => Err(e.into()),
        (_, Err(_)) => Err(refuse(
            400,
            "bad-option",
            "400 the request's URL is not valid",
        )),
    };
    write(live, session, answer).await
}

/// Whether a rule's `image` action applies to this request: not to the fetch of the
/// source a transform makes (which carries the transform's marker).
pub(crate) fn rule_applies(scripts_seen: &[std::path::PathBuf]) -> bool {
    !scripts_seen.iter().any(|p| p.as_os_str() == PREFIX)
}

/// Sends the answer (or the refusal), counting it.
async fn write(
    live: &Live,
    session: &mut Session,
    answer: Result<Done, Refusal>,
) -> pingora::Result<Outcome> {
    match answer {
        Ok(done) => {
            count(live, done.counted_as());
            let mut head = ResponseHeader::build(200, Some(done.headers.len() + 1))?;
            for (name, value) in &done.headers {
                head.append_header(name.clone(), value.clone())?;
            }
            crate::reply::write_head_and(session, head, done.body).await?;
            Ok(done.outcome)
        }
        Err(Refusal {
            status,
            outcome,
            message,
        }) => {
            count(live, outcome);
            let retry = [("retry-after", "1".to_string())];
            let extra: &[(&'static str, String)] = if status == 503 { &retry } else { &[] };
            crate::reply::respond_with(session, status, format!("{message}\n"), extra).await?;
            Ok("miss")
        }
    }
}

/// Counts one transform request by its outcome.
fn count(live: &Live, outcome: &str) {
    live.metrics.images.with_label_values(&[outcome]).inc();
}

struct Refusal {
    status: u16,
    outcome: &'static str,
    message: String,
}

fn refuse(status: u16, outcome: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        outcome,
        message: message.into(),
    }
}

impl From<ImageError> for Refusal {
    fn from(e: ImageError) -> Self {
        let outcome = match e {
            ImageError::BadOption(_) | ImageError::Unsupported(_) => "bad-option",
            ImageError::TooLarge(_) => "too-large",
            ImageError::TooSlow(_) => "too-slow",
            ImageError::NotAnImage | ImageError::Broken(_) => "not-an-image",
        };
        refuse(e.status(), outcome, format!("{} {e}", e.status()))
    }
}

/// The options and the source of a URL-form request (`/cdn-cgi/image/OPTIONS/SOURCE`),
/// the source checked against the site's `sources`.
fn url_form(
    session: &Session,
    images: &outpost_config::Images,
    asked: &Asked<'_>,
) -> Result<(Options, url::Url), Refusal> {
    let req = session.req_header();
    let rest = req.uri.path().strip_prefix(PREFIX).unwrap_or("");
    let Some((options_text, source)) = rest.split_once('/') else {
        return Err(refuse(
            400,
            "bad-option",
            "400 expected /cdn-cgi/image/OPTIONS/SOURCE",
        ));
    };
    // (`#` in a colour arrives escaped.)
    let options_text = percent_encoding::percent_decode_str(options_text).decode_utf8_lossy();
    let options = Options::parse(&options_text)?;
    let query = req.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    // The source: another host's URL (its `//` may arrive merged into `/`), or a
    // path of this site.
    let (allowed_as, url) = match source.split_once(":/") {
        Some((scheme, rest)) if scheme == "https" || scheme == "http" => {
            let text = format!("{scheme}://{}{query}", rest.trim_start_matches('/'));
            (text.clone(), url::Url::parse(&text).ok())
        }
        _ => {
            let path = format!("/{source}{query}");
            let text = crate::site::request_url(asked.tls, asked.raw_host, asked.host, &path);
            (path, url::Url::parse(&text).ok())
        }
    };
    let Some(url) = url else {
        return Err(refuse(
            400,
            "bad-option",
            "400 the image source is not a URL",
        ));
    };
    if !images.allows(&allowed_as) {
        return Err(refuse(
            403,
            "forbidden",
            format!("403 {allowed_as} is not among this site's image sources"),
        ));
    }
    Ok((options, url))
}

/// The transform of `url`'s image as `options` say: a stored variant, or one made
/// now from the source (fetched as a hook's `fetch()`) and stored.
async fn answer(
    live: &Arc<Live>,
    session: &mut Session,
    site: &Arc<crate::site::Site>,
    images: &outpost_config::Images,
    (options, url): (Options, url::Url),
    asked: &Asked<'_>,
) -> Result<Done, Refusal> {
    let req = session.req_header();
    if !matches!(req.method, http::Method::GET | http::Method::HEAD) {
        return Err(refuse(405, "bad-option", "405 Method Not Allowed"));
    }
    let accept = req
        .headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    // The source, through this node (and its cache) or the egress policy.
    let fetcher = asked.fetcher.clone();
    let source = {
        let url = url.clone();
        async move {
            let fetcher = fetcher
                .ok_or_else(|| refuse(503, "overloaded", "503 the proxy is not serving yet"))?;
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::ACCEPT,
                http::HeaderValue::from_static("image/*"),
            );
            fetcher
                .fetch(FetchRequest {
                    method: http::Method::GET,
                    url,
                    headers,
                    body: None,
                    cache: None,
                    cf: None,
                })
                .await
                .map_err(|e| refuse(502, "source-failed", format!("502 the image source: {e}")))
        }
    };
    transformed(live, (&site.name, images), (options, &url, &accept), source).await?
}

/// A transform's answer: its fields (`Cache-Status` included) and bytes.
struct Done {
    headers: http::HeaderMap,
    body: Bytes,
    outcome: Outcome,
}

impl Done {
    /// Its outcome in `outpost_image_requests_total`.
    fn counted_as(&self) -> &'static str {
        if self.outcome == "hit" {
            "hit"
        } else {
            "transformed"
        }
    }
}

/// The transform of `url`'s image as `options` say, for a client that accepts
/// `accept`: the stored variant, or one made now from what `source` fetches, and
/// stored. A failed `source` comes back as the outer error, as its caller made it.
async fn transformed<E>(
    live: &Live,
    (site_name, images): (&str, &outpost_config::Images),
    (options, url, accept): (Options, &url::Url, &str),
    source: impl std::future::Future<Output = Result<outpost_scripting::FetchResponse, E>>,
) -> Result<Result<Done, Refusal>, E> {
    let wanted = negotiate(options.format, |media| accept.contains(media));
    let negotiated = options.format == Some(Format::Auto);
    let key = match variant_key(live, url, &options, wanted) {
        Ok(key) => key,
        Err(r) => return Ok(Err(r)),
    };
    if let Some(done) = stored_hit(live, key.as_ref()).await {
        return Ok(Ok(done));
    }
    // Concurrent first requests for this variant wait for the one making it, then
    // find it stored (bounded: a turn that never comes does not hold a request).
    let _turn = match &key {
        Some(key) => {
            let turn = flights::turn(key.combined_bin());
            let turn = tokio::time::timeout(longest_wait(images), turn).await.ok();
            if let Some(done) = stored_hit(live, Some(key)).await {
                return Ok(Ok(done));
            }
            turn
        }
        None => None,
    };
    let response = source.await?;
    Ok(from_source(
        live,
        (site_name, images),
        response,
        (options, wanted, negotiated),
        key.as_ref(),
    )
    .await)
}

/// The stored variant under `key` as a hit, if a fresh one is there.
async fn stored_hit(live: &Live, key: Option<&CacheKey>) -> Option<Done> {
    let (mut headers, body) = stored_variant(live, key).await?;
    headers.insert(
        "cache-status",
        http::HeaderValue::from_static("outpost; hit"),
    );
    Some(Done {
        headers,
        body,
        outcome: "hit",
    })
}

/// The key a transform of `url` is stored under (`None` without a cache).
fn variant_key(
    live: &Live,
    url: &url::Url,
    options: &Options,
    wanted: Option<Output>,
) -> Result<Option<CacheKey>, Refusal> {
    let Some(cache) = live.cache else {
        return Ok(None);
    };
    let mut key = crate::cache_api::key_of(live, cache.storage.key_hash(), "default", url)
        .map_err(|e| refuse(400, "bad-option", format!("400 {e}")))?;
    key.set_variance_key(variant(options, wanted));
    Ok(Some(key))
}

/// The stored transform under `key`, if a fresh one is there: its fields and bytes.
async fn stored_variant(live: &Live, key: Option<&CacheKey>) -> Option<(http::HeaderMap, Bytes)> {
    let (cache, key) = (live.cache?, key?);
    let stored = crate::cache_api::matched(cache, key).await.ok()?;
    if stored.head.status != http::StatusCode::OK {
        return None;
    }
    let mut body = BytesMut::new();
    let mut stream = stored.body;
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.ok()?);
    }
    let mut headers = stored.head.headers;
    headers.remove("cf-cache-status");
    Some((headers, body.freeze()))
}

/// Transforms the fetched `response` (the source) on the pool and stores the result
/// under `key`; the answer carries its length and `Cache-Status`.
async fn from_source(
    live: &Live,
    (site_name, images): (&str, &outpost_config::Images),
    response: outpost_scripting::FetchResponse,
    (options, wanted, negotiated): (Options, Option<Output>, bool),
    key: Option<&CacheKey>,
) -> Result<Done, Refusal> {
    match response.head.status.as_u16() {
        200 => {}
        404 | 410 => {
            return Err(refuse(
                404,
                "source-failed",
                "404 the image source was not found",
            ));
        }
        other => {
            return Err(refuse(
                502,
                "source-failed",
                format!("502 the image source answered {other}"),
            ));
        }
    }
    let too_large = || {
        refuse(
            413,
            "too-large",
            format!(
                "413 the image source is larger than {} bytes",
                images.max_source_bytes
            ),
        )
    };
    let declared = response
        .head
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > images.max_source_bytes) {
        return Err(too_large());
    }
    let mut source = BytesMut::new();
    let mut stream = response.body;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| refuse(502, "source-failed", format!("502 the image source: {e}")))?;
        if (source.len() + chunk.len()) as u64 > images.max_source_bytes {
            return Err(too_large());
        }
        source.extend_from_slice(&chunk);
    }
    let source = source.freeze();

    let limits = Limits {
        max_source_bytes: images.max_source_bytes,
        max_pixels: images.max_pixels,
        max_time: images.max_transform_time,
    };
    let started = Instant::now();
    let work = {
        let (source, options) = (source.clone(), options.clone());
        move || {
            let output = wanted
                .or_else(|| outpost_images::source_output(&source))
                .ok_or(ImageError::NotAnImage)?;
            outpost_images::transform(&source, &options, output, &limits)
        }
    };
    let done = tokio::time::timeout(longest_wait(images), pool::run(work))
        .await
        .map_err(|_| refuse(503, "overloaded", "503 the image transform took too long"))?
        .map_err(|_| refuse(503, "overloaded", "503 too many image transforms at once"))??;
    let m = &live.metrics;
    m.image_seconds
        .with_label_values(&[site_name])
        .observe(started.elapsed().as_secs_f64());
    m.image_bytes
        .with_label_values(&["in"])
        .inc_by(source.len() as u64);
    m.image_bytes
        .with_label_values(&["out"])
        .inc_by(done.bytes.len() as u64);

    let mut stored = http::HeaderMap::new();
    for name in KEPT {
        for value in response.head.headers.get_all(name) {
            stored.append(name, value.clone());
        }
    }
    if !stored.contains_key(http::header::CACHE_CONTROL)
        && !stored.contains_key("cdn-cache-control")
        && !stored.contains_key(http::header::EXPIRES)
    {
        // A transform is work: kept for a day unless the source says otherwise.
        stored.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("public, max-age=86400"),
        );
    }
    stored.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(done.output.media_type()),
    );
    if negotiated {
        stored.insert(http::header::VARY, http::HeaderValue::from_static("Accept"));
    }
    let body = Bytes::from(done.bytes);
    let mut status = "outpost; fwd=miss";
    if let (Some(cache), Some(key)) = (live.cache, key) {
        match crate::cache_api::put(
            cache,
            key,
            200,
            stored.clone(),
            body.clone(),
            &crate::caching::RuleCaching::default(),
        )
        .await
        {
            Ok(()) => status = "outpost; fwd=miss; stored",
            Err(e) => tracing::warn!(error = %e, "an image variant could not be stored"),
        }
    }
    stored.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(body.len()),
    );
    stored.insert("cache-status", http::HeaderValue::from_static(status));
    Ok(Done {
        headers: stored,
        body,
        outcome: "miss",
    })
}

/// The output format for `format` and what the client accepts (`accepts(media)`):
/// `None`, the source's own. One variant per output format, not per `Accept` value.
fn negotiate(format: Option<Format>, accepts: impl Fn(&str) -> bool) -> Option<Output> {
    match format {
        None => None,
        Some(Format::Auto) if accepts("image/avif") => Some(Output::Avif),
        Some(Format::Auto) => accepts("image/webp").then_some(Output::Webp),
        Some(Format::Avif) => Some(Output::Avif),
        Some(Format::Webp) => Some(Output::Webp),
        Some(Format::Jpeg) => Some(Output::Jpeg),
        Some(Format::Png) => Some(Output::Png),
    }
}

/// The variance that keys one transform of a source apart from the source itself
/// and from its other transforms: the options (canonical) and the output format
/// (`None`: the source's own).
fn variant(options: &Options, output: Option<Output>) -> [u8; 16] {
    let text = format!(
        "image:{}:{}",
        options.canonical(),
        output.map_or("source", Output::name)
    );
    CacheKey::new(text, "").primary_bin()
}

/// A hook's `fetch(url, { cf: { image: { … } } })` (Workers' image resizing): the
/// same transform as the URL form, its options given as an object (`gravity` may be
/// `{ x, y }`); `source` fetches the image. Errors answer as responses with their
/// status and a text body, as Cloudflare's do; they do not reject the fetch.
pub(crate) async fn for_fetch(
    live: Arc<Live>,
    (site_name, images): (String, outpost_config::Images),
    url: url::Url,
    (image, accept): (
        std::collections::BTreeMap<String, serde_json::Value>,
        Option<String>,
    ),
    source: futures_util::future::BoxFuture<
        'static,
        Result<outpost_scripting::FetchResponse, outpost_scripting::ScriptError>,
    >,
) -> Result<outpost_scripting::FetchResponse, outpost_scripting::ScriptError> {
    let refused = |r: Refusal| {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        crate::cache_api::answer(r.status, h, Bytes::from(format!("{}\n", r.message)))
    };
    let mut parts = Vec::new();
    for (name, value) in &image {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Object(o) if name == "gravity" => {
                match (
                    o.get("x").and_then(|v| v.as_f64()),
                    o.get("y").and_then(|v| v.as_f64()),
                ) {
                    (Some(x), Some(y)) => format!("{x}x{y}"),
                    _ => String::from("?"),
                }
            }
            other => other.to_string(),
        };
        parts.push(format!("{name}={text}"));
    }
    let options = match Options::parse(&parts.join(",")) {
        Ok(o) => o,
        Err(e) => {
            let r = Refusal::from(e);
            count(&live, r.outcome);
            return Ok(refused(r));
        }
    };
    let accept = accept.unwrap_or_default();
    // (A source that cannot be fetched rejects the fetch, as without `cf.image`.)
    let answer = transformed(
        &live,
        (&site_name, &images),
        (options, &url, &accept),
        source,
    )
    .await?;
    Ok(match answer {
        Ok(done) => {
            count(&live, done.counted_as());
            crate::cache_api::answer(200, done.headers, done.body)
        }
        Err(r) => {
            count(&live, r.outcome);
            refused(r)
        }
    })
}
