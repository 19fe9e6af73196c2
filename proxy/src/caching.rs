//! HTTP caching policy: keys, cacheability (RFC 9111 via pingora-cache), `Vary`, and
//! the `Cache-Status` header (RFC 9211). Storage itself is `outpost-cache`.

use crate::freshness::{self, Arrival};
use outpost_cache::{KeyHash, TieredStorage, TieredStorageConfig};
use outpost_config::{CacheConfig, CacheKeyPolicy, CacheLevel, QueryKey};
use pingora::cache::cache_control::CacheControl;
use pingora::cache::cache_control::InterpretCacheControl;
use pingora::cache::filters::calculate_serve_stale_durations;
use pingora::cache::lock::{CacheKeyLockImpl, CacheLock};
use pingora::cache::{
    CacheKey, CacheMeta, CacheMetaDefaults, CachePhase, NoCacheReason, RespCacheable,
    VarianceBuilder,
};
use pingora::http::{RequestHeader, ResponseHeader};
use std::time::{Duration, SystemTime};

/// The process-wide cache: storage and the per-key fill lock (request collapsing).
///
/// Both live for the whole process (`'static`, as pingora-cache requires); the cache
/// settings are read once at start.
#[derive(Clone, Copy)]
pub struct EdgeCache {
    /// The tiered storage.
    pub storage: &'static TieredStorage,
    /// Collapses concurrent misses for one key into one origin fetch.
    pub lock: &'static CacheKeyLockImpl,
    /// Keys the origin said not to store, sent straight to it for a while.
    pub passes: &'static crate::pass_marks::PassMarks,
}

impl std::fmt::Debug for EdgeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeCache")
            .field("storage", self.storage)
            .finish_non_exhaustive()
    }
}

impl EdgeCache {
    /// Removes the stored response for `key` (both tiers) before returning.
    pub async fn invalidate(&self, key: &CacheKey) -> bool {
        use pingora::cache::Storage;
        use pingora::cache::storage::{PurgeOutcome, PurgeTarget, PurgeType};
        let span = pingora::cache::trace::Span::inactive();
        let compact = key.to_compact();
        let outcome = self
            .storage
            .purge(
                PurgeTarget::Active(&compact),
                PurgeType::Invalidation,
                &span.handle(),
            )
            .await;
        matches!(outcome, Ok(PurgeOutcome::Purged(_)))
    }

    /// Builds the cache from config, or `None` when it has no capacity at all.
    pub fn from_config(c: &CacheConfig) -> Result<Option<Self>, outpost_cache::CacheError> {
        if c.memory == 0 && c.disk.is_none() {
            return Ok(None);
        }
        let storage = TieredStorage::new(&TieredStorageConfig {
            memory_bytes: c.memory,
            max_memory_object: c.max_memory_object.min(c.memory),
            disk: c.disk.as_ref().map(|d| (d.path.clone(), d.size)),
        })?;
        let lock: Box<CacheKeyLockImpl> = CacheLock::new_boxed(c.lock_timeout);
        Ok(Some(EdgeCache {
            storage: Box::leak(Box::new(storage)),
            lock: Box::leak(lock),
            passes: Box::leak(Box::default()),
        }))
    }
}

/// No stale windows unless the origin gives them.
static DEFAULTS: CacheMetaDefaults = CacheMetaDefaults::new(|_| None, 0, 0);

/// The cache key: scheme, host, path+query (as the site's policy says) and any
/// configured header and cookie values, each length-prefixed so that no two different
/// requests can frame to the same bytes; named by `names` (the storage's).
pub fn cache_key(
    names: &KeyHash,
    tls: bool,
    host: &str,
    req: &RequestHeader,
    policy: &CacheKeyPolicy,
) -> CacheKey {
    let pq = keyed_path_and_query(
        req.uri.path(),
        req.uri.query(),
        req.uri.path_and_query().map(|p| p.as_str()),
        &policy.query,
    );
    let mut extra = String::new();
    for name in &policy.headers {
        let value = req
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let part = format!("h:{name}={value}");
        extra.push_str(&format!("{}:{part}", part.len()));
    }
    for name in &policy.cookies {
        let value = cookie_value(req, name).unwrap_or("");
        let part = format!("c:{name}={value}");
        extra.push_str(&format!("{}:{part}", part.len()));
    }
    let scheme = if tls { "https" } else { "http" };
    if extra.is_empty() {
        key_from_parts(names, scheme, host, &pq)
    } else {
        named(
            names,
            format!("{}{}:{extra}", framed(scheme, host, &pq), extra.len()),
        )
    }
}

/// A key whose text is `primary`, its primary hash made by `names` rather than by
/// pingora-cache (whose Blake2b was ~15 % of a memory hit): every key this proxy
/// makes is made here, so pingora's path and the fast paths name an object alike.
fn named(names: &KeyHash, primary: String) -> CacheKey {
    let bin = names.of(primary.as_bytes());
    let mut key = CacheKey::new(primary, "");
    key.set_primary_bin_override(bin);
    key
}

/// The path and query as a cache key holds them under the site's query policy.
/// `path_and_query` is the request's own (used as it is with the full-query policy).
pub fn keyed_path_and_query<'a>(
    path: &'a str,
    query: Option<&'a str>,
    path_and_query: Option<&'a str>,
    policy: &QueryKey,
) -> std::borrow::Cow<'a, str> {
    let params = |q: &'_ str| -> Vec<String> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    // Include/exclude compare decoded names, so `a%5Bb%5D` and `a[b]` are one parameter.
    let name_of = |p: &str| {
        let raw = p.split_once('=').map_or(p, |(k, _)| k);
        form_urlencoded::parse(raw.as_bytes())
            .next()
            .map_or_else(|| raw.to_string(), |(k, _)| k.into_owned())
    };
    let with_query = |kept: Vec<String>| -> std::borrow::Cow<'a, str> {
        if kept.is_empty() {
            path.into()
        } else {
            format!("{path}?{}", kept.join("&")).into()
        }
    };
    match (policy, query) {
        (QueryKey::Full, Some(_)) => path_and_query.unwrap_or(path).into(),
        (QueryKey::Sorted, Some(q)) => {
            let mut kept = params(q);
            kept.sort_unstable();
            with_query(kept)
        }
        (QueryKey::Include(names), Some(q)) => {
            let mut kept = params(q);
            kept.retain(|p| names.contains(&name_of(p)));
            with_query(kept)
        }
        (QueryKey::Exclude(names), Some(q)) => {
            let mut kept = params(q);
            kept.retain(|p| !names.contains(&name_of(p)));
            with_query(kept)
        }
        _ => path.into(),
    }
}

fn cookie_value<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a str> {
    outpost_rules::cookies(&req.headers).find_map(|(k, v)| (k == name).then_some(v))
}

fn framed(scheme: &str, host: &str, pq: &str) -> String {
    format!(
        "{}:{scheme}{}:{host}{}:{pq}",
        scheme.len(),
        host.len(),
        pq.len()
    )
}

/// The cache key for a scheme, host and path+query with no extra parts (what
/// [`cache_key`] makes for a site with the default policy).
pub fn key_from_parts(names: &KeyHash, scheme: &str, host: &str, pq: &str) -> CacheKey {
    named(names, framed(scheme, host, pq))
}

/// The primary hash (`CacheKey::primary_bin`) of [`key_from_parts`]'s key, made
/// without the key's text: the memory-hit fast path needs only the hash, and
/// formatting the text was ~4 % of a pass's CPU.
pub fn primary_bin_from_parts(names: &KeyHash, scheme: &str, host: &str, pq: &str) -> [u8; 16] {
    // The bytes `framed` would have made, gathered on the stack when they fit: the
    // hasher's cost per piece fed (buffering a tail) was near that of the hash itself.
    let mut text = [0u8; 256];
    let mut at = 0;
    let mut digits = itoa::Buffer::new();
    let mut naming = names.start();
    for part in [scheme, host, pq] {
        for piece in [digits.format(part.len()).as_bytes(), b":", part.as_bytes()] {
            match text.get_mut(at..at + piece.len()) {
                Some(room) => {
                    room.copy_from_slice(piece);
                    at += piece.len();
                }
                None => {
                    naming.write(&text[..at]);
                    naming.write(piece);
                    at = 0;
                }
            }
        }
    }
    naming.write(&text[..at]);
    naming.finish()
}

/// Splits a primary key made by [`key_from_parts`] back into (scheme, host, path+query).
pub fn parse_key_text(text: &str) -> Option<(&str, &str, &str)> {
    fn part(s: &str) -> Option<(&str, &str)> {
        let (len, rest) = s.split_once(':')?;
        let len: usize = len.parse().ok()?;
        Some((rest.get(..len)?, rest.get(len..)?))
    }
    let (scheme, rest) = part(text)?;
    let (host, rest) = part(rest)?;
    let (pq, rest) = part(rest)?;
    // An optional fourth part holds configured header/cookie values.
    let complete = rest.is_empty() || part(rest).is_some_and(|(_, tail)| tail.is_empty());
    complete.then_some((scheme, host, pq))
}

/// What a page rule says about storing responses (the default is plain RFC 9111).
#[derive(Debug, Clone, Copy)]
pub struct RuleCaching {
    /// The rule's cache level, if it set one.
    pub level: Option<CacheLevel>,
    /// Edge lifetime replacing the origin's.
    pub edge_ttl: Option<Duration>,
    /// Whether the origin's no-store/private/no-cache still prevent storing.
    pub origin_cache_control: bool,
    /// Store static-looking paths only when the content type agrees.
    pub deception_armor: bool,
    /// Store 5xx responses when they allow it.
    pub cache_errors: bool,
    /// The cap of heuristic lifetimes (RFC 9111 §4.2.2); `None`: no heuristics.
    pub heuristic_max: Option<Duration>,
}

/// The default cap of heuristic lifetimes (`cache.heuristic_max`).
pub const HEURISTIC_MAX: Duration = Duration::from_secs(86_400);

impl Default for RuleCaching {
    fn default() -> Self {
        RuleCaching {
            level: None,
            edge_ttl: None,
            origin_cache_control: true,
            deception_armor: false,
            cache_errors: false,
            heuristic_max: Some(HEURISTIC_MAX),
        }
    }
}

impl RuleCaching {
    /// The caching part of a rule's actions, for a site whose heuristic cap is
    /// `heuristic_max` (`None` when the site or the whole cache turned them off).
    pub fn from_actions(a: &outpost_config::Actions, heuristic_max: Option<Duration>) -> Self {
        RuleCaching {
            level: a.cache_level,
            edge_ttl: a.edge_ttl,
            origin_cache_control: a.origin_cache_control.unwrap_or(true),
            deception_armor: a.cache_deception_armor,
            cache_errors: a.cache_errors,
            heuristic_max: heuristic_max.filter(|_| a.heuristic_freshness.unwrap_or(true)),
        }
    }
}

/// Web cache deception armor: for a path whose last segment has a static-file
/// extension, whether the response's `Content-Type` is that kind of file. A
/// `/account.php/x.css` answered with the account page (`text/html`) is not a
/// stylesheet and must not be stored for everyone. Paths without such an extension
/// always agree.
pub fn content_type_agrees(path: &str, resp: &ResponseHeader) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    let Some((_, ext)) = last.rsplit_once('.') else {
        return true;
    };
    let ext = ext.to_ascii_lowercase();
    let expected: &[&str] = match ext.as_str() {
        "css" => &["text/css"],
        "js" | "mjs" => &[
            "application/javascript",
            "text/javascript",
            "application/x-javascript",
        ],
        "jpg" | "jpeg" => &["image/jpeg"],
        "png" => &["image/png"],
        "gif" => &["image/gif"],
        "webp" => &["image/webp"],
        "avif" => &["image/avif"],
        "svg" => &["image/svg+xml"],
        "ico" => &["image/x-icon", "image/vnd.microsoft.icon"],
        "woff" => &["font/woff", "application/font-woff"],
        "woff2" => &["font/woff2"],
        "ttf" => &["font/ttf", "application/x-font-ttf"],
        "mp4" => &["video/mp4"],
        "webm" => &["video/webm"],
        "pdf" => &["application/pdf"],
        "txt" => &["text/plain"],
        "json" => &["application/json"],
        "xml" => &["application/xml", "text/xml"],
        "zip" => &["application/zip"],
        _ => return true,
    };
    let ct = resp
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    expected.contains(&media.as_str())
}

/// Statuses that `edge_ttl` and `cache_everything` may store (RFC 9110 15.1's
/// "heuristically cacheable" set, minus 206 whose ranges pingora-cache handles itself).
const OVERRIDABLE: [u16; 9] = [200, 203, 204, 300, 301, 308, 404, 410, 501];

/// `cache_everything` with no edge TTL and no origin lifetime: Cloudflare's defaults.
fn default_ttl(status: u16) -> Option<Duration> {
    match status {
        200 | 203 | 204 | 300 | 301 | 308 => Some(Duration::from_secs(2 * 3600)),
        404 | 410 => Some(Duration::from_secs(180)),
        _ => None,
    }
}

/// Decides whether a response may be stored in this shared cache, and for how long.
///
/// Without rule overrides this is RFC 9111 ([`by_origin`]). With `edge_ttl` the
/// lifetime is the rule's, whatever the origin said; `cache_everything` also stores
/// responses that carry no lifetime (Cloudflare's default TTLs). Unless the rule
/// turns `origin_cache_control` off, the origin's `no-store`, `private` and
/// `no-cache` still win. `Set-Cookie` and `Vary: *` responses are never shared.
pub fn cacheability(
    resp: &ResponseHeader,
    authorization: bool,
    rule: &RuleCaching,
    arrival: &Arrival,
) -> RespCacheable {
    // A server error is a moment, not content: storing one (even one that says
    // max-age) would serve the outage after the origin recovered.
    if resp.status.is_server_error() && !rule.cache_errors {
        return RespCacheable::Uncacheable(NoCacheReason::Custom("server-error"));
    }
    let cc = freshness::governing(resp);
    // A Set-Cookie response is someone's session: never shared, unless the origin
    // names the field in `private="…"` or `no-cache="…"` (RFC 9111 §5.2.2.4, §5.2.2.7):
    // then the rest is stored and the cookie is not.
    if resp.headers.contains_key(http::header::SET_COOKIE) && !cookie_withheld(cc.as_ref()) {
        return RespCacheable::Uncacheable(NoCacheReason::Custom("set-cookie"));
    }
    // `Vary: *` never matches a later request (RFC 9111 §4.1): storing it is waste.
    if resp
        .headers
        .get_all(http::header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim() == "*"))
    {
        return RespCacheable::Uncacheable(NoCacheReason::Custom("vary-star"));
    }
    let everything = rule.level == Some(CacheLevel::CacheEverything);
    let overridden = rule.edge_ttl.is_some() || everything;
    let origin_forbids = cc
        .as_ref()
        .is_some_and(|c| c.no_store() || c.private() || c.no_cache());
    let origin = || {
        by_origin(
            cc.as_ref(),
            resp,
            authorization,
            arrival,
            rule.heuristic_max,
        )
    };
    if !overridden || authorization || (rule.origin_cache_control && origin_forbids) {
        return origin();
    }
    let status = resp.status.as_u16();
    if !OVERRIDABLE.contains(&status) {
        return origin();
    }
    let ttl = match rule.edge_ttl {
        Some(t) => t,
        None => {
            // cache_everything: the origin's lifetime when it gives one.
            if rule.origin_cache_control {
                let by_origin = origin();
                if by_origin.is_cacheable() {
                    return by_origin;
                }
            }
            match default_ttl(status) {
                Some(t) => t,
                None => return origin(),
            }
        }
    };
    let (swr, sie) = match (&cc, rule.origin_cache_control) {
        (Some(c), true) => (
            c.stale_while_revalidate().ok().flatten().unwrap_or(0),
            c.stale_if_error().ok().flatten().unwrap_or(0),
        ),
        _ => (0, 0),
    };
    let now = arrival.response_time;
    RespCacheable::Cacheable(CacheMeta::new(
        now + ttl,
        now,
        swr,
        sie,
        stored_head(resp, cc.as_ref(), arrival),
    ))
}

/// Whether `cc` names `Set-Cookie` in `private="…"` or `no-cache="…"`, so a shared
/// cache stores the response without it.
fn cookie_withheld(cc: Option<&CacheControl>) -> bool {
    let Some(cc) = cc else { return false };
    [cc.private_field_names(), cc.no_cache_field_names()]
        .into_iter()
        .flatten()
        .flatten()
        .any(|name| name.eq_ignore_ascii_case(b"set-cookie"))
}

/// RFC 9111 alone: whether the origin's answer may be stored here and its meta.
///
/// A response to a request with `Authorization` only with `public`, `s-maxage` or
/// `must-revalidate` (§3.5); never with `no-store` or a bare `private`. The meta's
/// `created` is when the response was generated as far as this cache can tell
/// (arrival minus its initial age, §4.2.3), so `Age` on hits is its current age and
/// an upstream `Age` counts against the lifetime.
fn by_origin(
    cc: Option<&CacheControl>,
    resp: &ResponseHeader,
    authorization: bool,
    arrival: &Arrival,
    heuristic_max: Option<Duration>,
) -> RespCacheable {
    let uncacheable = RespCacheable::Uncacheable(NoCacheReason::OriginNotCache);
    if authorization
        && !cc.is_some_and(|c| {
            c.public() || c.must_revalidate() || c.s_maxage().is_ok_and(|s| s.is_some())
        })
    {
        return uncacheable;
    }
    if cc.is_some_and(|c| c.no_store() || c.private()) {
        return uncacheable;
    }
    let Some(lifetime) = freshness::lifetime(cc, resp, arrival, heuristic_max) else {
        return uncacheable;
    };
    let age = freshness::initial_age(resp, arrival);
    let created = arrival
        .response_time
        .checked_sub(age)
        .unwrap_or(arrival.response_time);
    // A zero lifetime is stale from the start (a `fresh_until` equal to `created`
    // would still count as fresh within the same instant).
    let fresh_until = if lifetime.duration.is_zero() {
        created
            .checked_sub(Duration::from_secs(1))
            .unwrap_or(created)
    } else {
        created + lifetime.duration
    };
    let (swr, sie) = calculate_serve_stale_durations(cc, &DEFAULTS);
    RespCacheable::Cacheable(CacheMeta::new(
        fresh_until,
        created,
        swr,
        sie,
        stored_head(resp, cc, arrival),
    ))
}

/// The head as stored: fields named by `private="…"` / `no-cache="…"` removed (a
/// shared cache may store the rest, §5.2.2.4 and §5.2.2.7); the upstream `Age`
/// removed (it is in the meta's `created`, and a later 304 must not inherit it); a
/// `Date` added when the origin sent none (the arrival time, RFC 9110 §6.6.1).
fn stored_head(
    resp: &ResponseHeader,
    cc: Option<&CacheControl>,
    arrival: &Arrival,
) -> ResponseHeader {
    let mut head = resp.clone();
    if let Some(cc) = cc {
        cc.strip_private_headers(&mut head);
    }
    head.remove_header(&http::header::AGE);
    if !head.headers.contains_key(http::header::DATE) {
        let _ = head.insert_header(
            http::header::DATE,
            httpdate::fmt_http_date(arrival.response_time),
        );
    }
    head
}

/// The secondary key for a stored response with `Vary`.
pub fn variance(meta: &CacheMeta, req: &RequestHeader) -> Option<pingora::cache::key::HashBinary> {
    let names = vary_names(meta.headers());
    variance_of(&names, |name, sink| {
        for v in req.headers.get_all(name) {
            sink(v.as_bytes());
        }
    })
}

/// The field names the `Vary` lines of `headers` list (all lines combined),
/// lowercased, each once.
pub fn vary_names(headers: &http::HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in headers.get_all(http::header::VARY) {
        let Ok(line) = line.to_str() else { continue };
        for name in line.split(',').map(|t| t.trim().to_ascii_lowercase()) {
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The secondary key for the request fields `names` (from [`vary_names`]);
/// `values(name, sink)` hands each of the request's lines of a field to `sink`.
///
/// RFC 9111 §4.1: the lines of a field are combined, and list members compared
/// without the whitespace around them, so `en, fr` and `en,fr` are one variant. A
/// request without the field is a variant of its own, apart from one that sent it
/// empty.
pub fn variance_of(
    names: &[String],
    values: impl Fn(&str, &mut dyn FnMut(&[u8])),
) -> Option<pingora::cache::key::HashBinary> {
    let mut builder = VarianceBuilder::new();
    for name in names {
        let mut present = false;
        let mut combined: Vec<u8> = Vec::new();
        values(name, &mut |line| {
            for member in line.split(|&b| b == b',') {
                if present {
                    combined.push(b',');
                }
                present = true;
                combined.extend_from_slice(member.trim_ascii());
            }
        });
        // Browsers spell the same preferences in hundreds of ways; the origin's answer
        // depends on which codings are accepted, so that is what keys the variant.
        let value = if name == "accept-encoding" {
            // (Read as `HeaderValue::to_str` would: visible ASCII only.)
            let text = Some(combined.as_slice())
                .filter(|_| present)
                .filter(|v| v.iter().all(|&b| b == b'\t' || (32..127).contains(&b)))
                .and_then(|v| std::str::from_utf8(v).ok());
            outpost_scripting::codec::accept_encoding_key(text).into_bytes()
        } else if present {
            combined
        } else {
            // (No field value holds a NUL byte.)
            vec![0]
        };
        builder.add_owned_name_value(name.clone(), value);
    }
    builder.finalize()
}

/// The `Cache-Status` detail of a response whose lifetime was a heuristic one.
pub const HEURISTIC_DETAIL: &str = "; detail=heuristic";
/// Appended to `Cache-Status` for a request that came over HTTP/3.
pub const HTTP3_PARAM: &str = "; proto=h3";

/// Whether the stored response of `meta` got a heuristic lifetime (under a cap of
/// `heuristic_max`).
pub fn heuristic(meta: &CacheMeta, heuristic_max: Option<Duration>) -> bool {
    let lifetime = meta
        .fresh_until()
        .duration_since(meta.created())
        .unwrap_or_default();
    freshness::was_heuristic(meta.response_header(), lifetime, heuristic_max)
}

/// The `Cache-Status` value (RFC 9211) for what the cache did with this request.
///
/// `consulted` says whether the cache was enabled for the request: a request that
/// bypassed it is `fwd=bypass`; one whose response turned out not storable is
/// `fwd=miss` without `stored`.
pub fn cache_status(
    phase: CachePhase,
    meta: Option<&CacheMeta>,
    consulted: bool,
    stored: bool,
    heuristic_max: Option<Duration>,
) -> String {
    let mut status = plain_cache_status(phase, meta, consulted, stored);
    let lifetime_known = matches!(
        phase,
        CachePhase::Hit | CachePhase::Stale | CachePhase::StaleUpdating
    ) || stored;
    if lifetime_known && meta.is_some_and(|m| heuristic(m, heuristic_max)) {
        status.push_str(HEURISTIC_DETAIL);
    }
    status
}

fn plain_cache_status(
    phase: CachePhase,
    meta: Option<&CacheMeta>,
    consulted: bool,
    stored: bool,
) -> String {
    let ttl = |m: &CacheMeta| {
        let now = SystemTime::now();
        match m.fresh_until().duration_since(now) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        }
    };
    match phase {
        CachePhase::Hit => match meta {
            Some(m) => format!("outpost; hit; ttl={}", ttl(m)),
            None => "outpost; hit".to_string(),
        },
        CachePhase::Stale | CachePhase::StaleUpdating => match meta {
            Some(m) => format!("outpost; hit; ttl={}; fwd=stale", ttl(m)),
            None => "outpost; hit; fwd=stale".to_string(),
        },
        CachePhase::Revalidated | CachePhase::RevalidatedNoCache(_) => {
            "outpost; fwd=stale; fwd-status=304".to_string()
        }
        CachePhase::Miss | CachePhase::Expired => {
            let fwd = if phase == CachePhase::Expired {
                "stale"
            } else {
                "miss"
            };
            if stored {
                format!("outpost; fwd={fwd}; stored")
            } else {
                format!("outpost; fwd={fwd}")
            }
        }
        _ if consulted => "outpost; fwd=miss".to_string(),
        _ => "outpost; fwd=bypass".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(r: &ResponseHeader, authorization: bool, rule: &RuleCaching) -> RespCacheable {
        cacheability(r, authorization, rule, &Arrival::now(None))
    }

    #[test]
    fn edge_specific_cache_control_wins() {
        let resp = |h: &[(&str, &str)]| {
            let mut r = ResponseHeader::build(200, None).expect("resp");
            for (k, v) in h {
                r.insert_header(k.to_string(), *v).expect("header");
            }
            r
        };
        let ok =
            |h: &[(&str, &str)]| decide(&resp(h), false, &RuleCaching::default()).is_cacheable();
        assert!(ok(&[
            ("cache-control", "no-store"),
            ("surrogate-control", "max-age=60")
        ]));
        assert!(!ok(&[
            ("cache-control", "max-age=60"),
            ("cdn-cache-control", "no-store")
        ]));
    }

    #[test]
    fn key_text_round_trips() {
        let k = key_from_parts(&KeyHash::random(), "https", "a:b.test", "/x:1?y=2");
        let text = k.primary_key_str().expect("utf8");
        assert_eq!(
            parse_key_text(text),
            Some(("https", "a:b.test", "/x:1?y=2"))
        );
        assert_eq!(parse_key_text("garbage"), None);
        assert_eq!(
            parse_key_text("4:http1:a9:/x"),
            None,
            "length runs past the end"
        );
    }

    #[test]
    fn the_hash_from_parts_is_the_keys_own() {
        use pingora::cache::key::CacheHashKey;
        let names = KeyHash::random();
        let req = RequestHeader::build("GET", b"/x:1?y=2", None).expect("request");
        let by_request = cache_key(&names, true, "a:b.test", &req, &CacheKeyPolicy::default());
        assert_eq!(
            by_request.primary_bin(),
            primary_bin_from_parts(&names, "https", "a:b.test", "/x:1?y=2")
        );
        for (scheme, host, pq) in [
            ("http", "a.test", "/"),
            ("https", "a:b.test", "/x:1?y=2"),
            ("http", "", ""),
            ("https", "h.test", &"/long".repeat(100)),
            ("http", &"h".repeat(300), "/after-a-long-host"),
        ] {
            let key = key_from_parts(&names, scheme, host, pq);
            assert_eq!(
                primary_bin_from_parts(&names, scheme, host, pq),
                key.primary_bin(),
                "{scheme} {host} {pq}"
            );
            // The name is the storage's keyed hash of the key's text, not pingora's.
            assert_eq!(key.primary_bin(), names.of(key.primary_key()));
            assert_ne!(
                key.primary_bin(),
                key_from_parts(&KeyHash::random(), scheme, host, pq).primary_bin()
            );
        }
    }

    #[test]
    fn keys_are_framed_unambiguously() {
        let req = |p: &str| RequestHeader::build("GET", p.as_bytes(), None).expect("request");
        let d = CacheKeyPolicy::default();
        let names = KeyHash::random();
        let a = cache_key(&names, false, "ab", &req("/c"), &d);
        let b = cache_key(&names, false, "a", &req("/bc"), &d);
        assert_ne!(a.primary_key(), b.primary_key());
        let plain = cache_key(&names, false, "x.test", &req("/p?q=1"), &d);
        let tls = cache_key(&names, true, "x.test", &req("/p?q=1"), &d);
        assert_ne!(plain.primary_key(), tls.primary_key());
    }

    #[test]
    fn key_policy_query_headers_and_cookies() {
        let req = |p: &str, h: &[(&str, &str)]| {
            let mut r = RequestHeader::build("GET", p.as_bytes(), None).expect("request");
            for (k, v) in h {
                r.insert_header(k.to_string(), *v).expect("header");
            }
            r
        };
        let names = KeyHash::random();
        let key = |p: &CacheKeyPolicy, r: &RequestHeader| {
            cache_key(&names, false, "x.test", r, p)
                .primary_key()
                .to_vec()
        };
        let sorted = CacheKeyPolicy {
            query: QueryKey::Sorted,
            ..Default::default()
        };
        assert_eq!(
            key(&sorted, &req("/a?b=1&a=2", &[])),
            key(&sorted, &req("/a?a=2&b=1", &[]))
        );
        let ignore = CacheKeyPolicy {
            query: QueryKey::Ignore,
            ..Default::default()
        };
        assert_eq!(
            key(&ignore, &req("/a?utm=1", &[])),
            key(&ignore, &req("/a", &[]))
        );
        let full = CacheKeyPolicy::default();
        assert_ne!(
            key(&full, &req("/a?b=1&a=2", &[])),
            key(&full, &req("/a?a=2&b=1", &[]))
        );
        let by = CacheKeyPolicy {
            headers: vec!["x-device".into()],
            cookies: vec!["cur".into()],
            ..Default::default()
        };
        let mobile_eur = req("/a", &[("x-device", "mobile"), ("cookie", "a=1; cur=EUR")]);
        let mobile_usd = req("/a", &[("x-device", "mobile"), ("cookie", "cur=USD")]);
        assert_ne!(key(&by, &mobile_eur), key(&by, &mobile_usd));
        let k = cache_key(&names, false, "x.test", &mobile_eur, &by);
        assert_eq!(
            parse_key_text(k.primary_key_str().expect("utf8")),
            Some(("http", "x.test", "/a"))
        );
    }

    #[test]
    fn set_cookie_private_and_no_store_are_not_shared() {
        let resp = |h: &[(&str, &str)]| {
            let mut r = ResponseHeader::build(200, None).expect("resp");
            for (k, v) in h {
                r.insert_header(k.to_string(), *v).expect("header");
            }
            r
        };
        let ok = |r: RespCacheable| r.is_cacheable();
        assert!(ok(decide(
            &resp(&[("cache-control", "max-age=60")]),
            false,
            &RuleCaching::default()
        )));
        assert!(!ok(decide(
            &resp(&[("cache-control", "max-age=60"), ("set-cookie", "a=b")]),
            false,
            &RuleCaching::default()
        )));
        assert!(!ok(decide(
            &resp(&[("cache-control", "private, max-age=60")]),
            false,
            &RuleCaching::default()
        )));
        assert!(!ok(decide(
            &resp(&[("cache-control", "no-store")]),
            false,
            &RuleCaching::default()
        )));
        assert!(
            !ok(decide(&resp(&[]), false, &RuleCaching::default())),
            "no heuristic freshness"
        );
        assert!(
            !ok(decide(
                &resp(&[("cache-control", "max-age=60")]),
                true,
                &RuleCaching::default()
            )),
            "RFC 9111 3.5"
        );
        assert!(ok(decide(
            &resp(&[("cache-control", "public, max-age=60")]),
            true,
            &RuleCaching::default()
        )));
        assert!(!ok(decide(
            &resp(&[("cache-control", "max-age=60"), ("vary", "*")]),
            false,
            &RuleCaching::default()
        )));
        assert!(ok(decide(
            &resp(&[
                ("cache-control", "no-store"),
                ("cdn-cache-control", "max-age=60")
            ]),
            false,
            &RuleCaching::default()
        )));
    }

    #[test]
    fn server_errors_are_stored_only_when_a_rule_says_so() {
        let mut r = ResponseHeader::build(503, None).expect("resp");
        r.insert_header("cache-control", "public, max-age=60")
            .expect("header");
        let ok = |r: RespCacheable| r.is_cacheable();
        assert!(!ok(decide(&r, false, &RuleCaching::default())));
        let allowed = RuleCaching {
            cache_errors: true,
            ..RuleCaching::default()
        };
        assert!(ok(decide(&r, false, &allowed)));
    }

    #[test]
    fn deception_armor_matches_extension_and_type() {
        let typed = |ct: &str| {
            let mut r = ResponseHeader::build(200, None).expect("resp");
            r.insert_header("content-type", ct).expect("header");
            r
        };
        assert!(content_type_agrees(
            "/a/site.css",
            &typed("text/css; charset=utf-8")
        ));
        assert!(!content_type_agrees(
            "/account.php/x.css",
            &typed("text/html")
        ));
        assert!(content_type_agrees("/img/LOGO.PNG", &typed("image/png")));
        assert!(!content_type_agrees("/img/logo.png", &typed("text/html")));
        assert!(
            content_type_agrees("/account", &typed("text/html")),
            "no extension"
        );
        assert!(content_type_agrees("/a.unknownext", &typed("text/html")));
    }

    #[test]
    fn rule_overrides() {
        let resp = |status: u16, h: &[(&str, &str)]| {
            let mut r = ResponseHeader::build(status, None).expect("resp");
            for (k, v) in h {
                r.insert_header(k.to_string(), *v).expect("header");
            }
            r
        };
        let ttl = |r: RespCacheable| match r {
            RespCacheable::Cacheable(m) => m
                .fresh_until()
                .duration_since(SystemTime::now())
                .map(|d| d.as_secs() + 1)
                .ok(),
            RespCacheable::Uncacheable(_) => None,
        };
        let everything = RuleCaching {
            level: Some(CacheLevel::CacheEverything),
            ..RuleCaching::default()
        };
        let day = RuleCaching {
            edge_ttl: Some(Duration::from_secs(86400)),
            ..RuleCaching::default()
        };
        let day_no_occ = RuleCaching {
            origin_cache_control: false,
            ..day
        };
        // cache_everything stores what carries no lifetime, for Cloudflare's default TTLs.
        assert_eq!(ttl(decide(&resp(200, &[]), false, &everything)), Some(7200));
        assert_eq!(ttl(decide(&resp(404, &[]), false, &everything)), Some(180));
        assert_eq!(ttl(decide(&resp(500, &[]), false, &everything)), None);
        // ...and keeps the origin's lifetime when there is one.
        let sixty = resp(200, &[("cache-control", "max-age=60")]);
        assert_eq!(ttl(decide(&sixty, false, &everything)), Some(60));
        // edge_ttl replaces it.
        assert_eq!(ttl(decide(&sixty, false, &day)), Some(86400));
        // no-store wins unless origin_cache_control is off.
        let no_store = resp(200, &[("cache-control", "no-store")]);
        assert_eq!(ttl(decide(&no_store, false, &day)), None);
        assert_eq!(ttl(decide(&no_store, false, &day_no_occ)), Some(86400));
        // Never a response that sets a cookie.
        let cookie = resp(200, &[("set-cookie", "a=b")]);
        assert_eq!(ttl(decide(&cookie, false, &day_no_occ)), None);
    }
}
