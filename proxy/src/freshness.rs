//! RFC 9111 freshness for this shared cache: which field's directives govern it
//! (RFC 9213 targeted fields before `Cache-Control`), how long a response stays fresh
//! (explicit, `Expires` − `Date`, or heuristic), and how old it is when it arrives.

use pingora::cache::cache_control::CacheControl;
use pingora::http::ResponseHeader;
use std::time::{Duration, Instant, SystemTime};

/// Targeted fields this cache obeys, most specific first (RFC 9213 §2.2): our own
/// (a site that wants to address Outpost alone), then the one every CDN obeys.
const TARGETED: [&str; 2] = ["outpost-cache-control", "cdn-cache-control"];

/// Statuses that may be given a heuristic lifetime (RFC 9110 §15.1).
const HEURISTIC_STATUSES: [u16; 12] = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501];

/// When a response's exchange with the origin happened (RFC 9111 §4.2.3's
/// `request_time` and `response_time`).
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// When the request that produced the response was sent.
    pub request_time: SystemTime,
    /// When the response was received.
    pub response_time: SystemTime,
}

impl Arrival {
    /// A response received now, for a request sent at `sent` (now when unknown).
    pub fn now(sent: Option<Instant>) -> Self {
        let response_time = SystemTime::now();
        let delay = sent.map_or(Duration::ZERO, |s| s.elapsed());
        Arrival {
            request_time: response_time.checked_sub(delay).unwrap_or(response_time),
            response_time,
        }
    }
}

/// The directives that govern this cache for `resp`: the most specific valid
/// targeted field, else `Surrogate-Control` (the older, unstructured cousin), else
/// `Cache-Control`.
pub fn governing(resp: &ResponseHeader) -> Option<CacheControl> {
    TARGETED
        .iter()
        .find_map(|name| targeted(resp, name))
        .or_else(|| CacheControl::from_resp_headers_named("surrogate-control", resp))
        .or_else(|| CacheControl::from_resp_headers(resp))
}

/// A targeted field (RFC 9213 §2.1) as cache directives, or `None` when it is absent,
/// empty or not a valid structured-field Dictionary: then it is ignored as a whole and
/// the next field governs. Inside a valid field, unknown directives and directives
/// whose value has the wrong type (`max-age="60"`, `max-age=-1`, `no-store=3`) are
/// ignored one by one.
fn targeted(resp: &ResponseHeader, name: &str) -> Option<CacheControl> {
    let mut lines = resp.headers.get_all(name).iter().peekable();
    lines.peek()?;
    let mut joined = Vec::new();
    for (i, line) in lines.enumerate() {
        if i > 0 {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(line.as_bytes());
    }
    let dict = sfv::Parser::parse_dictionary(&joined).ok()?;
    if dict.is_empty() {
        return None;
    }
    let mut directives: Vec<String> = Vec::with_capacity(dict.len());
    for (key, entry) in &dict {
        let sfv::ListEntry::Item(item) = entry else {
            continue;
        };
        let directive = match (key.as_str(), &item.bare_item) {
            ("max-age" | "s-maxage" | "stale-while-revalidate" | "stale-if-error", value) => {
                match value {
                    sfv::BareItem::Integer(n) if *n >= 0 => format!("{key}={n}"),
                    _ => continue,
                }
            }
            ("private" | "no-cache", sfv::BareItem::String(fields)) => {
                format!("{key}=\"{}\"", fields.replace(['"', '\\'], ""))
            }
            (
                "no-store" | "no-cache" | "private" | "public" | "must-revalidate"
                | "proxy-revalidate" | "no-transform" | "immutable",
                sfv::BareItem::Boolean(true),
            ) => key.clone(),
            _ => continue,
        };
        directives.push(directive);
    }
    let value = http::HeaderValue::from_str(&directives.join(", ")).ok()?;
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::CACHE_CONTROL, value);
    CacheControl::from_headers_named("cache-control", &headers)
}

/// A response's freshness lifetime (RFC 9111 §4.2.1) and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// How long the response is fresh, counted from its generation at the origin.
    pub duration: Duration,
    /// No explicit lifetime: guessed from `Last-Modified` (§4.2.2).
    pub heuristic: bool,
}

/// The freshness lifetime of `resp` under `cc`: `s-maxage`, then `max-age`, then
/// `Expires` − `Date` (the origin's own clock on both sides, so a wrong clock still
/// gets the lifetime it meant), then — for the statuses that allow it, with
/// `Last-Modified` and a `heuristic_max` — 10 % of the time since the last change,
/// capped. `None`: nothing says how long, so the response is not stored.
///
/// Freshness information that is present but invalid (a `max-age` that is not a
/// number, several or unparseable `Expires` such as `0`) makes the response stale
/// at once (§4.2.1, §5.3).
pub fn lifetime(
    cc: Option<&CacheControl>,
    resp: &ResponseHeader,
    arrival: &Arrival,
    heuristic_max: Option<Duration>,
) -> Option<Lifetime> {
    let explicit = |duration| {
        Some(Lifetime {
            duration,
            heuristic: false,
        })
    };
    if let Some(cc) = cc {
        if cc.no_cache() {
            // Stored, but every use is revalidated.
            return explicit(Duration::ZERO);
        }
        for seconds in [cc.s_maxage(), cc.max_age()] {
            match seconds {
                Ok(Some(s)) => return explicit(Duration::from_secs(u64::from(s))),
                Ok(None) => {}
                Err(_) => return explicit(Duration::ZERO),
            }
        }
    }
    let mut expires = resp.headers.get_all(http::header::EXPIRES).iter();
    if let Some(first) = expires.next() {
        let at = (expires.next().is_none())
            .then(|| http_date(first))
            .flatten();
        let Some(at) = at else {
            return explicit(Duration::ZERO);
        };
        let date = date_value(resp).unwrap_or(arrival.response_time);
        return explicit(at.duration_since(date).unwrap_or_default());
    }
    let max = heuristic_max.filter(|m| !m.is_zero())?;
    if !HEURISTIC_STATUSES.contains(&resp.status.as_u16()) {
        return None;
    }
    let modified = resp
        .headers
        .get(http::header::LAST_MODIFIED)
        .and_then(http_date)?;
    let date = date_value(resp).unwrap_or(arrival.response_time);
    let since = date.duration_since(modified).unwrap_or_default();
    Some(Lifetime {
        duration: (since / 10).min(max),
        heuristic: true,
    })
}

/// The response's age when it arrived (RFC 9111 §4.2.3's `corrected_initial_age`):
/// the larger of its apparent age (`Date` to arrival, in whole seconds as the header
/// counts them) and the upstream `Age` plus the time the exchange took.
pub fn initial_age(resp: &ResponseHeader, arrival: &Arrival) -> Duration {
    let response_secs = whole_seconds(arrival.response_time);
    let apparent = date_value(resp)
        .and_then(|d| response_secs.duration_since(d).ok())
        .unwrap_or_default();
    let delay = arrival
        .response_time
        .duration_since(arrival.request_time)
        .unwrap_or_default();
    apparent.max(age_value(resp) + delay)
}

/// The upstream `Age` (delta-seconds); an invalid one is ignored.
fn age_value(resp: &ResponseHeader) -> Duration {
    resp.headers
        .get(http::header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, |s| Duration::from_secs(s.min(1 << 31)))
}

/// The `Date` the origin sent, when there is one valid one.
fn date_value(resp: &ResponseHeader) -> Option<SystemTime> {
    resp.headers.get(http::header::DATE).and_then(http_date)
}

fn http_date(v: &http::HeaderValue) -> Option<SystemTime> {
    httpdate::parse_http_date(v.to_str().ok()?.trim()).ok()
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs())
}

/// Whether a stored response's lifetime was a heuristic one: it carries no explicit
/// lifetime, and its stored lifetime is what the heuristic gives it (a rule's
/// `edge_ttl` or `cache_everything` default is another kind of lifetime).
pub fn was_heuristic(
    resp: &ResponseHeader,
    stored_lifetime: Duration,
    heuristic_max: Option<Duration>,
) -> bool {
    if !resp.headers.contains_key(http::header::LAST_MODIFIED) {
        return false;
    }
    // The lifetime is counted from the origin's `Date`, so no arrival time is needed
    // when the stored head has one (it always has: a missing one is added on store).
    let arrival = Arrival {
        request_time: SystemTime::UNIX_EPOCH,
        response_time: SystemTime::UNIX_EPOCH,
    };
    lifetime(governing(resp).as_ref(), resp, &arrival, heuristic_max).is_some_and(|l| {
        l.heuristic && l.duration.as_secs().abs_diff(stored_lifetime.as_secs()) <= 1
    })
}

/// What a client's request directives (RFC 9111 §5.2.1) make of a stored response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientWants {
    /// Nothing beyond the response's own freshness.
    AsStored,
    /// Not without validating it first (`no-cache`, `max-age`, `min-fresh`).
    Revalidated,
    /// Even stale (`max-stale` within its bound, when the response allows stale use).
    StaleAccepted,
}

/// Applies the request directives `req` to a stored response that is `age` old and
/// fresh until `fresh_until`; `stale_allowed` is false when the response forbids
/// stale use (`must-revalidate`, `proxy-revalidate`, `s-maxage`, `no-cache`).
pub fn client_wants(
    req: &CacheControl,
    age: Duration,
    fresh_until: SystemTime,
    now: SystemTime,
    stale_allowed: bool,
) -> ClientWants {
    if req.has_key("no-cache") {
        return ClientWants::Revalidated;
    }
    if let Ok(Some(max_age)) = req.max_age()
        && age.as_secs() > u64::from(max_age)
    {
        return ClientWants::Revalidated;
    }
    if let Some(min_fresh) = req.has_key("min-fresh").then(|| seconds(req, "min-fresh")) {
        let left = fresh_until.duration_since(now).unwrap_or_default();
        if left.as_secs() < min_fresh.unwrap_or(0) {
            return ClientWants::Revalidated;
        }
    }
    let stale_for = now.duration_since(fresh_until).ok();
    if let Some(stale_for) = stale_for.filter(|_| stale_allowed && req.has_key("max-stale")) {
        // `max-stale` without a value: any staleness.
        if seconds(req, "max-stale").is_none_or(|bound| stale_for.as_secs() <= bound) {
            return ClientWants::StaleAccepted;
        }
    }
    ClientWants::AsStored
}

/// A request directive's delta-seconds value, when it has a valid one.
fn seconds(cc: &CacheControl, key: &str) -> Option<u64> {
    let key = pingora::cache::cache_control::DirectiveKey::from_lowercase(key);
    cc.directives
        .get(&key)
        .and_then(|v| v.as_ref())
        .and_then(|v| v.parse_as_delta_seconds().ok())
        .map(u64::from)
}

/// Whether a stored response's own directives forbid serving it stale.
pub fn stale_forbidden(cc: Option<&CacheControl>) -> bool {
    cc.is_some_and(|c| {
        c.must_revalidate()
            || c.proxy_revalidate()
            || c.no_cache()
            || c.s_maxage().is_ok_and(|s| s.is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, h: &[(&str, &str)]) -> ResponseHeader {
        let mut r = ResponseHeader::build(status, None).expect("resp");
        for (k, v) in h {
            r.append_header(k.to_string(), *v).expect("header");
        }
        r
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn date(secs: u64) -> String {
        httpdate::fmt_http_date(at(secs))
    }

    fn arrived(secs: u64) -> Arrival {
        Arrival {
            request_time: at(secs),
            response_time: at(secs),
        }
    }

    fn life(r: &ResponseHeader, arrival: &Arrival) -> Option<(u64, bool)> {
        lifetime(
            governing(r).as_ref(),
            r,
            arrival,
            Some(Duration::from_secs(86_400)),
        )
        .map(|l| (l.duration.as_secs(), l.heuristic))
    }

    #[test]
    fn upstream_age_counts_and_apparent_age_wins_when_larger() {
        // RFC 9111 §4.2.3: max(apparent age, Age + response delay).
        let r = resp(
            200,
            &[
                ("date", &date(0)),
                ("age", "7200"),
                ("cache-control", "max-age=3600"),
            ],
        );
        assert_eq!(initial_age(&r, &arrived(0)).as_secs(), 7200);
        let slow = resp(200, &[("date", &date(0)), ("age", "10")]);
        assert_eq!(initial_age(&slow, &arrived(30)).as_secs(), 30);
        let delayed = Arrival {
            request_time: at(0),
            response_time: at(3),
        };
        let r = resp(200, &[("date", &date(3)), ("age", "10")]);
        assert_eq!(initial_age(&r, &delayed).as_secs(), 13);
        // A fast origin clock (Date in the future) is no negative age.
        let fast = resp(200, &[("date", &date(100))]);
        assert_eq!(initial_age(&fast, &arrived(0)).as_secs(), 0);
        // A missing or invalid Date is the arrival time; an invalid Age is ignored.
        assert_eq!(
            initial_age(&resp(200, &[("age", "x")]), &arrived(0)).as_secs(),
            0
        );
    }

    #[test]
    fn expires_is_read_against_the_origins_own_date() {
        // Origin clock an hour fast: Expires − Date is still ten minutes.
        let r = resp(200, &[("date", &date(3600)), ("expires", &date(4200))]);
        assert_eq!(life(&r, &arrived(0)), Some((600, false)));
        // No Date: Expires against the arrival time.
        let r = resp(200, &[("expires", &date(60))]);
        assert_eq!(life(&r, &arrived(0)), Some((60, false)));
        // Invalid or repeated Expires: already stale.
        assert_eq!(
            life(&resp(200, &[("expires", "0")]), &arrived(0)),
            Some((0, false))
        );
        let twice = resp(200, &[("expires", &date(60)), ("expires", &date(60))]);
        assert_eq!(life(&twice, &arrived(0)), Some((0, false)));
        // max-age wins over Expires, s-maxage over max-age.
        let r = resp(
            200,
            &[
                ("expires", &date(60)),
                ("cache-control", "max-age=5, s-maxage=7"),
            ],
        );
        assert_eq!(life(&r, &arrived(0)), Some((7, false)));
        let bad = resp(200, &[("cache-control", "max-age=soon")]);
        assert_eq!(life(&bad, &arrived(0)), Some((0, false)));
    }

    #[test]
    fn heuristic_is_a_tenth_of_the_time_since_last_change_capped() {
        let lm = |since: u64| resp(200, &[("date", &date(since)), ("last-modified", &date(0))]);
        assert_eq!(life(&lm(1000), &arrived(1000)), Some((100, true)));
        assert_eq!(life(&lm(10_000_000), &arrived(0)), Some((86_400, true)));
        let not_allowed = resp(302, &[("date", &date(1000)), ("last-modified", &date(0))]);
        assert_eq!(life(&not_allowed, &arrived(0)), None);
        let off = lifetime(None, &lm(1000), &arrived(0), None);
        assert_eq!(off, None);
        assert_eq!(life(&resp(200, &[]), &arrived(0)), None);
        assert!(was_heuristic(
            &lm(1000),
            Duration::from_secs(100),
            Some(Duration::from_secs(86_400))
        ));
        assert!(!was_heuristic(
            &lm(1000),
            Duration::from_secs(7200),
            Some(Duration::from_secs(86_400))
        ));
    }

    #[test]
    fn targeted_fields_govern_and_invalid_ones_are_ignored() {
        let max =
            |h: &[(&str, &str)]| governing(&resp(200, h)).and_then(|c| c.max_age().ok().flatten());
        assert_eq!(
            max(&[
                ("cache-control", "max-age=10"),
                ("cdn-cache-control", "max-age=20")
            ]),
            Some(20)
        );
        assert_eq!(
            max(&[
                ("cdn-cache-control", "max-age=20"),
                ("outpost-cache-control", "max-age=30")
            ]),
            Some(30)
        );
        // Not a Dictionary (upper case key, stray characters): the whole field is ignored.
        assert_eq!(
            max(&[
                ("cache-control", "max-age=10"),
                ("cdn-cache-control", "Max-Age=20")
            ]),
            Some(10)
        );
        assert_eq!(
            max(&[
                ("cache-control", "max-age=10"),
                ("cdn-cache-control", "max-age=20;;")
            ]),
            Some(10)
        );
        // A directive of the wrong type is ignored alone; unknown ones too.
        let cc = governing(&resp(
            200,
            &[
                ("cache-control", "max-age=10"),
                ("cdn-cache-control", "max-age=\"20\", no-store, foo=bar"),
            ],
        ))
        .expect("cc");
        assert_eq!(cc.max_age().ok().flatten(), None);
        assert!(cc.no_store());
        // Repeated lines form one Dictionary.
        let cc = governing(&resp(
            200,
            &[
                ("cdn-cache-control", "max-age=20"),
                ("cdn-cache-control", "must-revalidate"),
            ],
        ))
        .expect("cc");
        assert!(cc.must_revalidate());
        assert_eq!(cc.max_age().ok().flatten(), Some(20));
        // private with field names (a String) survives.
        let cc = governing(&resp(
            200,
            &[("cdn-cache-control", "private=\"set-cookie\", max-age=5")],
        ))
        .expect("cc");
        assert!(!cc.private());
        assert_eq!(cc.private_field_names().map(|n| n.count()), Some(1));
    }
}
