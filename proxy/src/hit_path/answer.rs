//! One parsed request head: whether the fast path may answer it, and the memory-tier
//! object that does.

use super::prepared::Prepared;
use crate::caching::{keyed_path_and_query, primary_bin_from_parts, variance_of};
use crate::site::{Site, normalize_host};
use crate::snapshot::{Live, Snapshot};
use outpost_cache::MemEntry;
use pingora::cache::key::{CacheHashKey, CacheKey};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

/// A parsed request head the fast path may answer: nothing in it asks for more than
/// a stored response as it is.
pub(crate) struct Request<'a> {
    pub(crate) head_only: bool,
    pub(crate) version: http::Version,
    pub(crate) target: http::uri::PathAndQuery,
    pub(crate) raw_host: &'a str,
    pub(crate) fields: Fields<'a>,
    /// The client asked to close after this response (`Connection: close`).
    pub(crate) close: bool,
    /// What judging the request once left for the next look at it.
    pub(crate) memo: Memo,
}

/// The fast path and then the hook lane both look at a request for a hooked site: the
/// page rule found (for the site it was found on) and the field map built to find it
/// are kept for the second look instead of being made again.
#[derive(Default)]
pub(crate) struct Memo {
    rule: OnceLock<(usize, Result<Option<outpost_rules::Match>, Unjudged>)>,
    fields: Mutex<Option<http::HeaderMap>>,
}

/// The request's fields: as HTTP/1 bytes (read here) or pingora's map (HTTP/2).
pub(crate) enum Fields<'a> {
    Wire(&'a [httparse::Header<'a>]),
    Map(&'a http::HeaderMap),
}

impl<'a> Request<'a> {
    /// Reads what the fast path needs from a complete HTTP/1 head, or `None` when
    /// any part of it is for pingora's full path: other methods and versions,
    /// bodies, credentials, ranges, conditionals, upgrades, loops, unusual
    /// `Connection`.
    pub(crate) fn read(req: httparse::Request<'a, 'a>) -> Option<Self> {
        let head_only = head_only(req.method?)?;
        if req.version? != 1 {
            return None;
        }
        let path = req.path?;
        if !target_taken(path) {
            return None;
        }
        let target = http::uri::PathAndQuery::try_from(path).ok()?;
        let mut raw_host = None;
        let mut close = false;
        for h in req.headers.iter() {
            let name = h.name.as_bytes();
            match name.len() {
                4 if name.eq_ignore_ascii_case(b"host") => {
                    if raw_host.is_some() {
                        return None;
                    }
                    raw_host = Some(std::str::from_utf8(h.value).ok()?);
                }
                10 if name.eq_ignore_ascii_case(b"connection") => {
                    let v = h.value.trim_ascii();
                    if v.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if !v.eq_ignore_ascii_case(b"keep-alive") {
                        return None;
                    }
                }
                _ if PASS_ON.iter().any(|p| name.eq_ignore_ascii_case(p)) => return None,
                _ => {}
            }
        }
        Some(Request {
            head_only,
            version: http::Version::HTTP_11,
            target,
            raw_host: raw_host?,
            fields: Fields::Wire(req.headers),
            close,
            memo: Memo::default(),
        })
    }

    /// The same for a request pingora read (an HTTP/2 stream).
    pub(crate) fn from_header(req: &'a pingora::http::RequestHeader) -> Option<Self> {
        let head_only = head_only(req.method.as_str())?;
        let target = req.uri.path_and_query()?.clone();
        if !target_taken(target.as_str()) {
            return None;
        }
        if passes_on(&req.headers) {
            return None;
        }
        let raw_host = match req.uri.authority() {
            Some(a) => a.as_str(),
            None => req.headers.get(http::header::HOST)?.to_str().ok()?,
        };
        Some(Request {
            head_only,
            version: req.version,
            target,
            raw_host,
            fields: Fields::Map(&req.headers),
            close: false,
            memo: Memo::default(),
        })
    }

    /// The same for a script's `fetch()` (method, URL and fields as the script made
    /// them; a `Host` field is ignored, as the subrequest's is: the URL names the host).
    pub(crate) fn from_fetch(
        method: &http::Method,
        url: &'a url::Url,
        headers: &'a http::HeaderMap,
    ) -> Option<Self> {
        let head_only = head_only(method.as_str())?;
        let target = http::uri::PathAndQuery::try_from(
            &url[url::Position::BeforePath..url::Position::AfterQuery],
        )
        .ok()?;
        if !target_taken(target.as_str()) || passes_on(headers) {
            return None;
        }
        Some(Request {
            head_only,
            version: http::Version::HTTP_11,
            target,
            raw_host: &url[url::Position::BeforeHost..url::Position::AfterPort],
            fields: Fields::Map(headers),
            close: false,
            memo: Memo::default(),
        })
    }

    /// What the access log says of the request.
    pub(crate) fn logged(&self) -> Logged<'_> {
        Logged {
            head_only: self.head_only,
            version: self.version,
            path: self.target.as_str(),
        }
    }

    /// Hands each line of field `name` (lowercase) to `sink`, in order.
    pub(crate) fn each_field(&self, name: &str, sink: &mut dyn FnMut(&[u8])) {
        match self.fields {
            Fields::Wire(h) => h
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .for_each(|h| sink(h.value)),
            Fields::Map(m) => m.get_all(name).iter().for_each(|v| sink(v.as_bytes())),
        }
    }

    /// Whether the request carries cache directives pingora's path obeys:
    /// `only-if-cached` always, any `Cache-Control` when the config `honour`s them.
    fn directs_the_cache(&self, honour: bool) -> bool {
        let mut found = false;
        self.each_field("cache-control", &mut |v| {
            found |= honour
                || v.windows(14)
                    .any(|w| w.eq_ignore_ascii_case(b"only-if-cached"));
        });
        found
    }

    /// The request's fields as a map (a copy of pingora's); `None` for a field the map
    /// does not take (pingora's path judges it). The map [`find_rule`] built, if it
    /// built one, is handed over rather than made again.
    pub(crate) fn field_map(&self) -> Option<http::HeaderMap> {
        if let Some(map) = self.memo.fields.lock().ok().and_then(|mut m| m.take()) {
            return Some(map);
        }
        self.build_field_map()
    }

    fn build_field_map(&self) -> Option<http::HeaderMap> {
        let fields = match self.fields {
            Fields::Wire(fields) => fields,
            Fields::Map(map) => return Some(map.clone()),
        };
        let mut map = http::HeaderMap::with_capacity(fields.len());
        for f in fields {
            map.append(
                http::HeaderName::from_bytes(f.name.as_bytes()).ok()?,
                http::HeaderValue::from_bytes(f.value).ok()?,
            );
        }
        Some(map)
    }

    /// The first value of field `name` (lowercase).
    pub(crate) fn field(&self, name: &str) -> Option<&'a [u8]> {
        match self.fields {
            Fields::Wire(h) => h
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value),
            Fields::Map(m) => m.get(name).map(|v| v.as_bytes()),
        }
    }
}

/// The parts of a request its access-log line names.
pub(crate) struct Logged<'a> {
    pub(crate) head_only: bool,
    pub(crate) version: http::Version,
    pub(crate) path: &'a str,
}

fn head_only(method: &str) -> Option<bool> {
    match method {
        "GET" => Some(false),
        "HEAD" => Some(true),
        _ => None,
    }
}

/// Whether the fast path reads a request target: origin-form, and no longer than
/// the full path accepts (which answers 414 beyond it).
fn target_taken(path: &str) -> bool {
    path.starts_with('/') && path.len() <= crate::client_limits::MAX_URI
}

/// Request fields that send a request down pingora's path: a body
/// (`content-length`, `transfer-encoding`), credentials, byte ranges, conditionals
/// (answered there with 304/412), upgrades, `Expect`, and `CDN-Loop` (loop
/// detection), plus the URL and method overrides that path strips.
const PASS_ON: &[&[u8]] = &[
    b"content-length",
    b"transfer-encoding",
    b"authorization",
    b"range",
    b"if-range",
    b"if-none-match",
    b"if-modified-since",
    b"if-match",
    b"if-unmodified-since",
    b"upgrade",
    b"expect",
    b"cdn-loop",
    b"te",
];

/// Whether a parsed request's fields send it down pingora's path ([`PASS_ON`], or any
/// `Connection` field: HTTP/2 has none, a script's fetch sets none).
fn passes_on(headers: &http::HeaderMap) -> bool {
    headers
        .keys()
        .any(|n| PASS_ON.contains(&n.as_str().as_bytes()) || n == http::header::CONNECTION)
}

/// A response the fast path can send, with what the access log and metrics need.
pub(crate) struct Answer {
    pub(crate) site: Arc<Site>,
    pub(crate) entry: Arc<MemEntry>,
    pub(crate) host: String,
}

/// Who asks: a client, or a script's `fetch()` (for which the scripts already on the
/// request's path do not run again, and the client-facing compressor does not apply).
#[derive(Clone, Copy)]
pub(crate) enum Asker<'a> {
    Client,
    Script { ran: &'a [std::path::PathBuf] },
}

/// A request the fast path may answer for its site (no rule, hook or per-request
/// policy of the site asks for more), with its cache key's hash.
pub(crate) struct Admitted {
    pub(crate) site: Arc<Site>,
    pub(crate) host: String,
    /// The primary key's hash (no variance: the memory tier's key, and a pass
    /// mark's), computed once.
    pub(crate) key_bin: [u8; 16],
    /// Whether [`lookup`] found the memory tier holding nothing under `key_bin` (a
    /// pass then need not look again).
    pub(crate) none_stored: bool,
}

/// Finds the stored object that answers `req` on its own, or `None`: the request
/// then goes through pingora's full path, which gives the same answer (or the one
/// rules, hooks and the cache's other states call for).
pub(crate) fn find(
    live: &Live,
    snapshot: &Snapshot,
    req: &Request<'_>,
    who: (bool, Option<IpAddr>, Asker<'_>),
    now: SystemTime,
) -> Option<(Answer, Arc<Prepared>)> {
    let admitted = admit(live, snapshot, req, who)?;
    lookup(live, snapshot, req, admitted, who.2, now).ok()
}

/// Whether the fast path may answer `req` at all: its site caches, and no hook,
/// rule, header- or cookie-keyed cache key, ACME challenge or IP list is involved.
pub(crate) fn admit(
    live: &Live,
    snapshot: &Snapshot,
    req: &Request<'_>,
    (tls, client_ip, asker): (bool, Option<IpAddr>, Asker<'_>),
) -> Option<Admitted> {
    let cache = live.cache?;
    let host = normalize_host(req.raw_host)?;
    let site = snapshot.sites.lookup(&host)?;
    let path = req.target.path();
    let hooked = match (&site.script, asker) {
        (None, _) => false,
        (Some(_), Asker::Client) => true,
        (Some(s), Asker::Script { ran }) => !ran.contains(&s.path),
    };
    if !site.cache
        || hooked
        || !site.cache_key.headers.is_empty()
        || !site.cache_key.cookies.is_empty()
        || path.starts_with(outpost_tls::acme::HTTP01_PREFIX)
        || !outpost_config::ip_admitted(&site.ip_allow, &site.ip_deny, client_ip)
        || req.directs_the_cache(
            snapshot.config.cache.request_directives == outpost_config::RequestDirectives::Honour,
        )
    {
        return None;
    }
    // With debug headers on, even a rule that changes nothing for a script's fetch
    // names itself in the response (`outpost-rule`): pingora's path adds that.
    let rules_asker = match asker {
        Asker::Script { .. } if snapshot.config.server.debug_headers => Asker::Client,
        other => other,
    };
    if site.rules.has_candidates(&host, req.target.as_str())
        && rule_applies(site, req, &host, (tls, client_ip, rules_asker))
    {
        return None;
    }
    let pq = keyed_path_and_query(
        path,
        req.target.query(),
        Some(req.target.as_str()),
        &site.cache_key.query,
    );
    let scheme = if tls { "https" } else { "http" };
    let key_bin = primary_bin_from_parts(cache.storage.key_hash(), scheme, &host, &pq);
    Some(Admitted {
        site: site.clone(),
        host,
        key_bin,
        none_stored: false,
    })
}

/// The fresh memory-tier object that answers an admitted request as it is, or the
/// request back when there is none.
// (The request comes back by value: boxing it would allocate on every miss.)
#[allow(clippy::result_large_err)]
pub(crate) fn lookup(
    live: &Live,
    snapshot: &Snapshot,
    req: &Request<'_>,
    admitted: Admitted,
    asker: Asker<'_>,
    now: SystemTime,
) -> Result<(Answer, Arc<Prepared>), Admitted> {
    let Some(cache) = live.cache else {
        return Err(admitted);
    };
    let Some(mut entry) = cache.storage.memory_entry(&admitted.key_bin) else {
        return Err(Admitted {
            none_stored: true,
            ..admitted
        });
    };
    let heuristic_max = admitted.site.heuristic_max;
    let Some(mut prepared) = prepare(&entry, heuristic_max) else {
        return Err(admitted);
    };
    if let Some(names) = &prepared.vary {
        let wanted = variance_of(names, |n, sink| req.each_field(n, sink));
        if wanted != prepared.variance {
            // Another variant: it lives under the key with its variance (as pingora
            // stores them).
            let Some(wanted) = wanted else {
                return Err(admitted);
            };
            // (The primary key stays as it was: a pass goes by that.)
            let mut key = CacheKey::new(Vec::new(), "");
            key.set_primary_bin_override(admitted.key_bin);
            key.set_variance_key(wanted);
            let found = cache
                .storage
                .memory_entry(&key.combined_bin())
                .and_then(|e| Some((prepare(&e, heuristic_max)?, e)));
            match found {
                Some((p, e)) if p.variance == key.variance_bin() => (prepared, entry) = (p, e),
                _ => return Err(admitted),
            }
        }
    }
    let site = &admitted.site;
    if prepared.fresh_until() < now
        || snapshot
            .config
            .server
            .request_id_header
            .as_ref()
            .is_some_and(|n| prepared.has_field(n))
        || (matches!(asker, Asker::Client)
            && !prepared
                .compress
                .untouched(&site.compression, entry.body().len() as u64))
    {
        return Err(admitted);
    }
    let Admitted { site, host, .. } = admitted;
    Ok((Answer { site, entry, host }, prepared))
}

/// The prepared head of `entry`, made on its first fast hit (`heuristic_max`: the
/// site's cap of heuristic lifetimes, to tell one apart).
fn prepare(entry: &MemEntry, heuristic_max: Option<std::time::Duration>) -> Option<Arc<Prepared>> {
    entry
        .prepared(|e| Prepared::build(e, heuristic_max).map(Arc::new))
        .cloned()
}

/// A request whose fields this module cannot judge a rule's conditions on (pingora's
/// path then finds the rule).
#[derive(Clone, Copy)]
pub(crate) struct Unjudged;

/// The site's page rule for `req`, if one matches (found once per request and site:
/// see [`Memo`]).
pub(crate) fn find_rule<'r>(
    site: &Arc<Site>,
    req: &'r Request<'_>,
    host: &str,
    who: (bool, Option<IpAddr>),
) -> Result<Option<Cow<'r, outpost_rules::Match>>, Unjudged> {
    let key = Arc::as_ptr(site) as usize;
    let (k, found) = req
        .memo
        .rule
        .get_or_init(|| (key, match_rule(site, req, host, who)));
    if *k == key {
        return found
            .as_ref()
            .map(|m| m.as_ref().map(Cow::Borrowed))
            .map_err(|u| *u);
    }
    // (Another site: the configuration was reloaded between the two looks.)
    match_rule(site, req, host, who).map(|m| m.map(Cow::Owned))
}

fn match_rule(
    site: &Site,
    req: &Request<'_>,
    host: &str,
    (tls, client_ip): (bool, Option<IpAddr>),
) -> Result<Option<outpost_rules::Match>, Unjudged> {
    let port = crate::header_policy::request_port(Some(req.raw_host), tls);
    let find = |headers: &http::HeaderMap| {
        site.rules.find(&outpost_rules::RequestView {
            tls,
            host,
            port,
            path_and_query: req.target.as_str(),
            method: if req.head_only { "HEAD" } else { "GET" },
            headers,
            client_ip,
        })
    };
    match req.fields {
        Fields::Map(m) => Ok(find(m)),
        Fields::Wire(_) => {
            let map = req.build_field_map().ok_or(Unjudged)?;
            let found = find(&map);
            // Kept for the hook lane, which hands the script these fields.
            if let Ok(mut kept) = req.memo.fields.lock() {
                *kept = Some(map);
            }
            Ok(found)
        }
    }
}

/// Whether `actions` do nothing but bind a script: the hook then runs as the site's
/// would, and on the hook's own subrequests the rule changes nothing.
pub(crate) fn only_binds_script(actions: &outpost_config::Actions) -> bool {
    actions.script.is_some() && actions.names() == ["script"]
}

/// Whether one of the site's page rules applies to `req` (then pingora's path runs
/// it: rules may redirect, rewrite, bypass, run a hook or rewrite the page). A rule
/// that only binds a script already on a subrequest's path changes nothing for it.
pub(crate) fn rule_applies(
    site: &Arc<Site>,
    req: &Request<'_>,
    host: &str,
    (tls, client_ip, asker): (bool, Option<IpAddr>, Asker<'_>),
) -> bool {
    let Ok(found) = find_rule(site, req, host, (tls, client_ip)) else {
        return true;
    };
    let Some(found) = found else {
        return false;
    };
    let actions = &found.rule.actions;
    match (asker, &actions.script) {
        (Asker::Script { ran }, Some(script)) => {
            !(ran.contains(&script.path) && only_binds_script(actions))
        }
        _ => true,
    }
}
