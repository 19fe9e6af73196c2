//! HTTP caching to the letter, through the real binary in front of an origin whose
//! every header field the test chooses: age and clock skew (RFC 9111 §4.2.3),
//! updating stored responses from a 304 (§3.2, §4.3.4), targeted fields (RFC 9213),
//! heuristic freshness (§4.2.2), `Vary` (§4.1) and invalidation (§4.4). Each test
//! asserts the exact `Age`, `Cache-Status` and how often the origin was asked.

mod common;

use common::{Outpost, TEST_TIMEOUT, client, header_text as header};
use http_body_util::Full;
use hyper::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

type Handler = fn(&str, &http::HeaderMap, usize) -> http::Response<Full<Bytes>>;

/// An origin answering each path with `handler(path and query, request fields, n)`
/// (`n`: how many times that path was asked before), counting requests per path.
struct Origin {
    url: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Origin {
    async fn start(handler: Handler, date: bool) -> Origin {
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counted = hits.clone();
        let serve = move |req: hyper::Request<hyper::body::Incoming>| {
            let counted = counted.clone();
            async move {
                let target = req
                    .uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                let n = {
                    let mut m = counted.lock().expect("hits");
                    let n = m.entry(target.clone()).or_default();
                    *n += 1;
                    *n - 1
                };
                handler(&target, req.headers(), n)
            }
        };
        let addr = if date {
            common::origin::serve(serve).await
        } else {
            common::origin::serve_dateless(serve).await
        };
        Origin {
            url: format!("http://{addr}"),
            hits,
        }
    }

    fn hits(&self, target: &str) -> usize {
        self.hits
            .lock()
            .expect("hits")
            .get(target)
            .copied()
            .unwrap_or(0)
    }
}

fn response(status: u16, fields: &[(&str, String)], body: &str) -> http::Response<Full<Bytes>> {
    let mut b = http::Response::builder().status(status);
    for (k, v) in fields {
        b = b.header(*k, v);
    }
    b.body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

/// An HTTP date `secs` from now (negative: in the past).
fn date(secs: i64) -> String {
    let now = SystemTime::now();
    let t = if secs >= 0 {
        now + Duration::from_secs(secs as u64)
    } else {
        now - Duration::from_secs(secs.unsigned_abs())
    };
    httpdate::fmt_http_date(t)
}

fn start(origin: &Origin, extra: &str) -> Outpost {
    Outpost::start(&format!(
        "listen: {{ http: \"{{http}}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - name: main\n    default: true\n    origins: [\"{}\"]\n{extra}",
        origin.url
    ))
}

async fn get(o: &Outpost, target: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut r = client().get(o.url(target));
    for (k, v) in fields {
        r = r.header(*k, *v);
    }
    r.send().await.expect("request")
}

fn number(r: &reqwest::Response, name: &str) -> i64 {
    header(r, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name}: {:?}", header(r, name)))
}

/// The `ttl` parameter of a hit's `Cache-Status`.
fn ttl(r: &reqwest::Response) -> i64 {
    let status = header(r, "cache-status");
    status
        .split("; ")
        .find_map(|p| p.strip_prefix("ttl="))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no ttl in {status:?}"))
}

fn ages(path: &str, _req: &http::HeaderMap, _n: usize) -> http::Response<Full<Bytes>> {
    let (path, _) = path.split_once('?').unwrap_or((path, ""));
    let fields: Vec<(&str, String)> = match path {
        "/stale-on-arrival" => vec![
            ("date", date(0)),
            ("cache-control", "max-age=3600".into()),
            ("age", "7200".into()),
        ],
        "/aged" => vec![
            ("date", date(0)),
            ("cache-control", "max-age=100".into()),
            ("age", "30".into()),
        ],
        "/fast-clock" => vec![("date", date(3600)), ("expires", date(3600 + 600))],
        "/slow-clock" => vec![("date", date(-30)), ("expires", date(-30 + 600))],
        "/cdn-aged" => vec![
            ("date", date(0)),
            ("cdn-cache-control", "max-age=60".into()),
            ("age", "100".into()),
        ],
        _ => vec![("cache-control", "max-age=60".into())],
    };
    response(200, &fields, "body")
}

/// RFC 9111 §4.2.3 (calculating age), §5.1 (`Age`), §5.3 (`Expires` against the
/// origin's own `Date`), RFC 9110 §6.6.1 (a missing `Date` is the arrival time).
#[tokio::test(flavor = "multi_thread")]
async fn age_counts_upstream_age_and_expires_uses_the_origins_clock() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(ages, true).await;
        let o = start(&origin, "");

        // max-age=3600 with Age: 7200 is stale on arrival: stored, but not reused.
        let first = get(&o, "/stale-on-arrival", &[]).await;
        assert_eq!(header(&first, "cache-status"), "outpost; fwd=miss; stored");
        let second = get(&o, "/stale-on-arrival", &[]).await;
        assert!(
            !header(&second, "cache-status").contains("hit"),
            "{:?}",
            header(&second, "cache-status")
        );
        assert_eq!(origin.hits("/stale-on-arrival"), 2);

        // Age: 30 of a max-age=100: the hit is 30 s old with 70 s left.
        get(&o, "/aged", &[]).await;
        let hit = get(&o, "/aged", &[]).await;
        assert!(header(&hit, "cache-status").starts_with("outpost; hit"));
        assert!(
            (30..=31).contains(&number(&hit, "age")),
            "{}",
            header(&hit, "age")
        );
        assert!(
            (68..=70).contains(&ttl(&hit)),
            "{}",
            header(&hit, "cache-status")
        );
        assert_eq!(origin.hits("/aged"), 1);

        // The same holds for a CDN-Cache-Control lifetime: Age 100 > max-age 60.
        get(&o, "/cdn-aged", &[]).await;
        get(&o, "/cdn-aged", &[]).await;
        assert_eq!(
            origin.hits("/cdn-aged"),
            2,
            "an upstream Age counts against CDN-Cache-Control"
        );

        // An origin clock an hour fast: Expires − Date is ten minutes, not 70.
        get(&o, "/fast-clock", &[]).await;
        let hit = get(&o, "/fast-clock", &[]).await;
        assert!(
            (597..=600).contains(&ttl(&hit)),
            "{}",
            header(&hit, "cache-status")
        );
        assert!((0..=1).contains(&number(&hit, "age")));

        // A clock 30 s slow: the response is 30 s old on arrival (apparent age), with
        // ten minutes of lifetime from its Date.
        get(&o, "/slow-clock", &[]).await;
        let hit = get(&o, "/slow-clock", &[]).await;
        assert!(
            (30..=31).contains(&number(&hit, "age")),
            "{}",
            header(&hit, "age")
        );
        assert!(
            (568..=570).contains(&ttl(&hit)),
            "{}",
            header(&hit, "cache-status")
        );

        // The Age sent grows with time in the cache.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let later = get(&o, "/aged", &[]).await;
        assert!(
            (31..=32).contains(&number(&later, "age")),
            "{}",
            header(&later, "age")
        );
        assert_eq!(origin.hits("/aged"), 1);
    })
    .await
    .expect("test timed out");
}

/// RFC 9110 §6.6.1: a response without `Date` counts from its arrival.
#[tokio::test(flavor = "multi_thread")]
async fn a_response_without_date_counts_from_its_arrival() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(ages, false).await;
        let o = start(&origin, "");
        let miss = get(&o, "/dateless", &[]).await;
        assert_eq!(header(&miss, "cache-status"), "outpost; fwd=miss; stored");
        let hit = get(&o, "/dateless", &[]).await;
        assert_eq!(number(&hit, "age"), 0);
        assert!(
            (58..=60).contains(&ttl(&hit)),
            "{}",
            header(&hit, "cache-status")
        );
        assert_eq!(origin.hits("/dateless"), 1);
    })
    .await
    .expect("test timed out");
}

fn revalidated(_path: &str, req: &http::HeaderMap, n: usize) -> http::Response<Full<Bytes>> {
    if n > 0 && req.get("if-none-match").is_some_and(|v| v == "\"v1\"") {
        return response(
            304,
            &[
                ("date", date(0)),
                ("cache-control", "max-age=600".into()),
                ("etag", "\"v1\"".into()),
                ("content-type", "text/html; charset=utf-8".into()),
                ("content-language", "fr".into()),
                ("x-version", "2".into()),
                ("x-added", "yes".into()),
                ("cache-tag", "after".into()),
            ],
            "",
        );
    }
    response(
        200,
        &[
            ("date", date(0)),
            ("cache-control", "max-age=1".into()),
            ("etag", "\"v1\"".into()),
            ("content-type", "text/plain".into()),
            ("content-language", "en".into()),
            ("x-version", "1".into()),
            ("cache-tag", "before".into()),
        ],
        "stored body",
    )
}

/// RFC 9111 §3.2 and §4.3.4: a 304 replaces every stored field it carries (`Date`,
/// `Cache-Control`, `Content-*`, custom fields), later hits serve the updated fields
/// and freshness, and the stored body and its length stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_304_updates_every_stored_field_it_carries() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(revalidated, true).await;
        let o = start(&origin, "");
        let first = get(&o, "/doc", &[]).await;
        assert_eq!(header(&first, "x-version"), "1");
        first.bytes().await.expect("body");
        tokio::time::sleep(Duration::from_millis(2100)).await;

        let revalidation = get(&o, "/doc", &[]).await;
        assert_eq!(revalidation.status(), 200);
        assert_eq!(header(&revalidation, "x-version"), "2");
        assert_eq!(origin.hits("/doc"), 2);
        revalidation.bytes().await.expect("body");

        for _ in 0..2 {
            let hit = get(&o, "/doc", &[]).await;
            assert!(
                header(&hit, "cache-status").starts_with("outpost; hit"),
                "{}",
                header(&hit, "cache-status")
            );
            assert!(
                (597..=600).contains(&ttl(&hit)),
                "{}",
                header(&hit, "cache-status")
            );
            assert_eq!(header(&hit, "x-version"), "2");
            assert_eq!(header(&hit, "x-added"), "yes");
            assert_eq!(header(&hit, "content-type"), "text/html; charset=utf-8");
            assert_eq!(header(&hit, "content-language"), "fr");
            assert_eq!(header(&hit, "cache-control"), "max-age=600");
            assert_eq!(header(&hit, "content-length"), "11");
            assert_eq!(hit.text().await.expect("body"), "stored body");
        }
        assert_eq!(origin.hits("/doc"), 2);
    })
    .await
    .expect("test timed out");
}

fn targeted(path: &str, _req: &http::HeaderMap, _n: usize) -> http::Response<Full<Bytes>> {
    let (path, _) = path.split_once('?').unwrap_or((path, ""));
    let fields: &[(&str, &str)] = match path {
        // CDN-Cache-Control governs this cache, whatever Cache-Control says.
        "/cdn-wins" => &[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "max-age=60"),
        ],
        // Not a valid Dictionary: ignored as a whole, Cache-Control governs.
        "/cdn-invalid" => &[
            ("cache-control", "max-age=60"),
            ("cdn-cache-control", "no-store, max-age="),
        ],
        "/cdn-upper" => &[
            ("cache-control", "max-age=60"),
            ("cdn-cache-control", "No-Store"),
        ],
        // Valid field, max-age of the wrong type: that directive is ignored, and the
        // field (not Cache-Control) still governs: no lifetime, not stored.
        "/cdn-wrong-type" => &[
            ("cache-control", "max-age=60"),
            ("cdn-cache-control", "max-age=\"60\""),
        ],
        // Unknown directives are ignored.
        "/cdn-unknown" => &[("cdn-cache-control", "max-age=60, foo, bar=?0, baz=(1 2)")],
        // Our own targeted field is more specific than CDN-Cache-Control.
        "/ours" => &[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "no-store"),
            ("outpost-cache-control", "max-age=30"),
        ],
        // stale-while-revalidate in the targeted field.
        "/cdn-stale" => &[("cdn-cache-control", "max-age=1, stale-while-revalidate=60")],
        _ => &[],
    };
    let fields: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.to_string())).collect();
    response(200, &fields, "body")
}

/// RFC 9213 §2.1–2.2: the targeted field takes precedence; an invalid one is ignored
/// as a whole; directives of the wrong type or unknown are ignored one by one;
/// `Outpost-Cache-Control` is the most specific.
#[tokio::test(flavor = "multi_thread")]
async fn targeted_cache_control_fields_govern_this_cache() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(targeted, true).await;
        let o = start(&origin, "");
        for (path, stored) in [
            ("/cdn-wins", true),
            ("/cdn-invalid", true),
            ("/cdn-upper", true),
            ("/cdn-wrong-type", false),
            ("/cdn-unknown", true),
            ("/ours", true),
        ] {
            let first = get(&o, path, &[]).await;
            let second = get(&o, path, &[]).await;
            let expected = if stored { 1 } else { 2 };
            assert_eq!(
                origin.hits(path),
                expected,
                "{path}: {} then {}",
                header(&first, "cache-status"),
                header(&second, "cache-status")
            );
            if stored {
                assert!(
                    header(&second, "cache-status").starts_with("outpost; hit"),
                    "{path}"
                );
            }
        }
        let hit = get(&o, "/ours", &[]).await;
        assert!(
            (28..=30).contains(&ttl(&hit)),
            "{}",
            header(&hit, "cache-status")
        );
        // The fields reach the client untouched (they are the origin's to send).
        assert_eq!(header(&hit, "outpost-cache-control"), "max-age=30");

        // stale-while-revalidate from the targeted field: a stale hit, refreshed behind.
        get(&o, "/cdn-stale", &[]).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let stale = get(&o, "/cdn-stale", &[]).await;
        assert!(
            header(&stale, "cache-status").contains("fwd=stale"),
            "{}",
            header(&stale, "cache-status")
        );
        assert!(
            header(&stale, "cache-status").starts_with("outpost; hit"),
            "{}",
            header(&stale, "cache-status")
        );
    })
    .await
    .expect("test timed out");
}

fn heuristic(path: &str, _req: &http::HeaderMap, _n: usize) -> http::Response<Full<Bytes>> {
    let (path, _) = path.split_once('?').unwrap_or((path, ""));
    let last_modified = match path {
        "/a-year-old" | "/noguess/page" => date(-365 * 86_400),
        _ => date(-1000),
    };
    // (A 302 without `Location`, so the client does not follow it.)
    let status = if path == "/found" { 302 } else { 200 };
    let fields = vec![("date", date(0)), ("last-modified", last_modified)];
    response(status, &fields, "body")
}

/// RFC 9111 §4.2.2: with `Last-Modified` and no explicit lifetime, 10 % of the time
/// since the last change, capped by `cache.heuristic_max`; only for the statuses
/// that allow it; off per site or rule; `Cache-Status` says the lifetime was guessed.
#[tokio::test(flavor = "multi_thread")]
async fn heuristic_lifetimes_are_a_tenth_of_the_age_capped() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(heuristic, true).await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("rules.yaml"),
            "- match: \"/noguess/*\"\n  actions: { heuristic_freshness: false }\n",
        )
        .expect("rules");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\ncache: {{ memory: 16MiB, heuristic_max: 1h }}\nsites:\n  - name: main\n    default: true\n    origins: [\"{url}\"]\n    rules: rules.yaml\n  - name: strict\n    hosts: [strict.test]\n    heuristic_freshness: false\n    origins: [\"{url}\"]\n",
            url = origin.url
        );
        let o = Outpost::start_in(dir, &yaml, &[]);

        let miss = get(&o, "/recent", &[]).await;
        assert_eq!(header(&miss, "cache-status"), "outpost; fwd=miss; stored; detail=heuristic");
        let hit = get(&o, "/recent", &[]).await;
        assert!((98..=100).contains(&ttl(&hit)), "{}", header(&hit, "cache-status"));
        assert!(header(&hit, "cache-status").ends_with("; detail=heuristic"), "{}", header(&hit, "cache-status"));
        assert_eq!(origin.hits("/recent"), 1);

        // A year since the last change: capped at the configured hour.
        get(&o, "/a-year-old", &[]).await;
        let hit = get(&o, "/a-year-old", &[]).await;
        assert!((3598..=3600).contains(&ttl(&hit)), "{}", header(&hit, "cache-status"));

        // 302 is not heuristically cacheable; a rule and a site can turn guessing off.
        for (target, host) in [("/found", None), ("/noguess/page", None), ("/recent?s", Some("strict.test"))] {
            let fields: Vec<(&str, &str)> = host.map(|h| ("host", h)).into_iter().collect();
            let first = get(&o, target, &fields).await;
            assert_eq!(header(&first, "cache-status"), "outpost; fwd=miss", "{target}");
            get(&o, target, &fields).await;
            assert_eq!(origin.hits(target), 2, "{target}");
        }
    })
    .await
    .expect("test timed out");
}

fn varied(path: &str, req: &http::HeaderMap, n: usize) -> http::Response<Full<Bytes>> {
    let (path, _) = path.split_once('?').unwrap_or((path, ""));
    let mut fields = vec![("cache-control", "max-age=60".to_string())];
    match path {
        "/two-lines" => {
            fields.push(("vary", "accept-language".into()));
            fields.push(("vary", "x-device".into()));
        }
        "/star-second-line" => {
            fields.push(("vary", "accept".into()));
            fields.push(("vary", "*".into()));
        }
        _ => fields.push(("vary", "accept-language".into())),
    }
    let device = req
        .get("x-device")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    response(200, &fields, &format!("#{n} device={device}"))
}

/// RFC 9111 §4.1: every `Vary` line counts; `Vary: *` on any line is never reused; a
/// request without the field matches only a response to a request without it; list
/// whitespace does not split variants.
#[tokio::test(flavor = "multi_thread")]
async fn vary_lines_absent_fields_and_whitespace() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(varied, true).await;
        let o = start(&origin, "");

        let phone = get(
            &o,
            "/two-lines",
            &[("accept-language", "en"), ("x-device", "phone")],
        )
        .await;
        assert_eq!(phone.text().await.expect("body"), "#0 device=phone");
        let desk = get(
            &o,
            "/two-lines",
            &[("accept-language", "en"), ("x-device", "desk")],
        )
        .await;
        assert_eq!(
            desk.text().await.expect("body"),
            "#1 device=desk",
            "the second Vary line counts"
        );
        let again = get(
            &o,
            "/two-lines",
            &[("accept-language", "en"), ("x-device", "phone")],
        )
        .await;
        assert_eq!(again.text().await.expect("body"), "#0 device=phone");
        assert_eq!(origin.hits("/two-lines"), 2);

        get(&o, "/star-second-line", &[]).await;
        get(&o, "/star-second-line", &[]).await;
        assert_eq!(
            origin.hits("/star-second-line"),
            2,
            "Vary: * on a second line"
        );

        // Without Accept-Language, then with it empty: two variants.
        let none = get(&o, "/lang", &[]).await;
        assert_eq!(none.text().await.expect("body"), "#0 device=-");
        let empty = get(&o, "/lang", &[("accept-language", "")]).await;
        assert_eq!(empty.text().await.expect("body"), "#1 device=-");
        let none = get(&o, "/lang", &[]).await;
        assert_eq!(none.text().await.expect("body"), "#0 device=-");

        // `en, fr` and `en,fr` are one variant.
        let spaced = get(&o, "/lang", &[("accept-language", "en, fr")]).await;
        assert_eq!(spaced.text().await.expect("body"), "#2 device=-");
        let tight = get(&o, "/lang", &[("accept-language", "en,fr")]).await;
        assert!(header(&tight, "cache-status").starts_with("outpost; hit"));
        assert_eq!(tight.text().await.expect("body"), "#2 device=-");
        assert_eq!(origin.hits("/lang"), 3);
    })
    .await
    .expect("test timed out");
}

fn updates(path: &str, _req: &http::HeaderMap, n: usize) -> http::Response<Full<Bytes>> {
    let (path, _) = path.split_once('?').unwrap_or((path, ""));
    match path {
        "/items" => response(
            201,
            &[
                ("location", "list/7".into()),
                ("content-location", "/summary".into()),
            ],
            "",
        ),
        "/move" => response(
            201,
            &[("location", "http://elsewhere.test/list/8".into())],
            "",
        ),
        _ => response(
            200,
            &[("cache-control", "max-age=60".into())],
            &format!("#{n}"),
        ),
    }
}

/// RFC 9111 §4.4: a successful unsafe request invalidates its target and the
/// same-origin URIs in `Location` and `Content-Location` (relative ones resolved
/// against the request), never another host's.
#[tokio::test(flavor = "multi_thread")]
async fn unsafe_requests_invalidate_location_and_content_location() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(updates, true).await;
        let o = start(&origin, "");
        for target in ["/list/7", "/summary", "/list/8"] {
            get(&o, target, &[]).await;
            let hit = get(&o, target, &[]).await;
            assert!(
                header(&hit, "cache-status").starts_with("outpost; hit"),
                "{target}"
            );
        }
        let r = client()
            .post(o.url("/items"))
            .body("x")
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 201);
        let r = client()
            .post(o.url("/move"))
            .body("x")
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 201);
        for (target, hits) in [("/list/7", 2), ("/summary", 2), ("/list/8", 1)] {
            let after = get(&o, target, &[]).await;
            assert_eq!(
                origin.hits(target),
                hits,
                "{target}: {}",
                header(&after, "cache-status")
            );
        }
    })
    .await
    .expect("test timed out");
}

fn named_fields(path: &str, _req: &http::HeaderMap, n: usize) -> http::Response<Full<Bytes>> {
    let (path, _) = path.split_once('?').unwrap_or((path, ""));
    let cc = match path {
        "/private-cookie" => "max-age=60, private=\"set-cookie\"",
        "/no-cache-cookie" => "max-age=60, no-cache=\"Set-Cookie, x-user\"",
        _ => "max-age=60",
    };
    response(
        200,
        &[
            ("cache-control", cc.into()),
            ("set-cookie", format!("session={n}")),
            ("x-user", "alice".into()),
        ],
        &format!("#{n}"),
    )
}

/// RFC 9111 §5.2.2.4 and §5.2.2.7: `private="Set-Cookie"` and `no-cache="Set-Cookie"`
/// let a shared cache store the response without the named fields; a plain
/// `Set-Cookie` response is never shared.
#[tokio::test(flavor = "multi_thread")]
async fn named_private_and_no_cache_fields_are_withheld_not_the_response() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(named_fields, true).await;
        let o = start(&origin, "");
        for path in ["/private-cookie", "/no-cache-cookie"] {
            let miss = get(&o, path, &[]).await;
            assert_eq!(
                header(&miss, "set-cookie"),
                "session=0",
                "{path}: the fetching client gets it"
            );
            let hit = get(&o, path, &[]).await;
            assert!(
                header(&hit, "cache-status").starts_with("outpost; hit"),
                "{path}"
            );
            assert_eq!(
                header(&hit, "set-cookie"),
                "",
                "{path}: withheld from others"
            );
            assert_eq!(hit.text().await.expect("body"), "#0");
            assert_eq!(origin.hits(path), 1, "{path}");
        }
        let hit = get(&o, "/no-cache-cookie", &[]).await;
        assert_eq!(header(&hit, "x-user"), "", "every named field is withheld");
        get(&o, "/plain-cookie", &[]).await;
        get(&o, "/plain-cookie", &[]).await;
        assert_eq!(origin.hits("/plain-cookie"), 2);
    })
    .await
    .expect("test timed out");
}

fn ranged(_path: &str, req: &http::HeaderMap, _n: usize) -> http::Response<Full<Bytes>> {
    let body: String = (0..1000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    // The origin itself answers ranges (as most do); the cache must still store the
    // whole object and serve later requests from it correctly.
    let fields = [
        ("cache-control", "max-age=60".to_string()),
        ("etag", "\"r1\"".into()),
        ("last-modified", date(-3600)),
        ("accept-ranges", "bytes".into()),
    ];
    let range = req
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
    if let Some((a, b)) = range {
        let mut f = fields.to_vec();
        f.push(("content-range", format!("bytes {a}-{b}/1000")));
        return response(206, &f, &body[a..=b]);
    }
    response(200, &fields, &body)
}

/// RFC 9110 §14 and RFC 9111 §3.3–3.4 as a cache serves them: a range from a stored
/// whole response (single, multiple, `If-Range`), and never a 206 served as a 200.
#[tokio::test(flavor = "multi_thread")]
async fn ranges_come_from_the_whole_stored_response() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(ranged, true).await;
        let o = start(&origin, "");
        let whole: String = (0..1000).map(|i| (b'a' + (i % 26) as u8) as char).collect();

        // A range on a miss: the client gets its 206 and the cache fetches and keeps
        // the whole response, so a later whole request gets a 200 with every byte,
        // never a 206 passed off as a 200.
        let first = get(&o, "/file", &[("range", "bytes=10-19")]).await;
        assert_eq!(first.status(), 206);
        assert_eq!(first.text().await.expect("body"), &whole[10..20]);
        let full = get(&o, "/file", &[]).await;
        assert_eq!(full.status(), 200);
        // The range miss fetched the whole object (the origin's 206 is never what is
        // stored): the full request is already a hit.
        assert!(
            header(&full, "cache-status").starts_with("outpost; hit"),
            "{}",
            header(&full, "cache-status")
        );
        assert_eq!(origin.hits("/file"), 1);
        assert_eq!(full.text().await.expect("body"), whole);
        let hit = get(&o, "/file", &[]).await;
        assert!(header(&hit, "cache-status").starts_with("outpost; hit"));
        let hits_so_far = origin.hits("/file");

        // From the stored response: one range, several (multipart/byteranges), and
        // If-Range with a matching and a stale validator.
        let one = get(&o, "/file", &[("range", "bytes=100-109")]).await;
        assert_eq!(one.status(), 206);
        assert_eq!(header(&one, "content-range"), "bytes 100-109/1000");
        assert_eq!(one.text().await.expect("body"), &whole[100..110]);
        let suffix = get(&o, "/file", &[("range", "bytes=-5")]).await;
        assert_eq!(suffix.status(), 206);
        assert_eq!(suffix.text().await.expect("body"), &whole[995..]);
        let many = get(&o, "/file", &[("range", "bytes=0-1, 500-502")]).await;
        assert_eq!(many.status(), 206);
        assert!(header(&many, "content-type").starts_with("multipart/byteranges; boundary="));
        let text = many.text().await.expect("body");
        assert!(
            text.contains("Content-Range: bytes 0-1/1000")
                || text.contains("content-range: bytes 0-1/1000"),
            "{text}"
        );
        assert!(text.contains(&whole[500..503]), "{text}");
        let matching = get(
            &o,
            "/file",
            &[("range", "bytes=0-3"), ("if-range", "\"r1\"")],
        )
        .await;
        assert_eq!(matching.status(), 206);
        let stale = get(
            &o,
            "/file",
            &[("range", "bytes=0-3"), ("if-range", "\"old\"")],
        )
        .await;
        assert_eq!(stale.status(), 200);
        assert_eq!(stale.text().await.expect("body"), whole);
        let unsatisfiable = get(&o, "/file", &[("range", "bytes=5000-6000")]).await;
        assert_eq!(unsatisfiable.status(), 416);
        assert_eq!(header(&unsatisfiable, "content-range"), "bytes */1000");
        assert_eq!(
            origin.hits("/file"),
            hits_so_far,
            "all from the stored response"
        );
    })
    .await
    .expect("test timed out");
}

/// The version of `/video` the slicing test's origin serves (its bytes and `ETag`).
static VIDEO_VERSION: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
/// `Range` fields the slicing test's origin received for `/video`, in order.
static VIDEO_RANGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn video_bytes(version: u8) -> Vec<u8> {
    (0..1000u32)
        .map(|i| b'a' + ((i + u32::from(version)) % 26) as u8)
        .collect()
}

/// `/video`: 1000 bytes that answer ranges, in the version `VIDEO_VERSION` says;
/// `/plain`: an origin that ignores `Range`.
fn sliced(path: &str, req: &http::HeaderMap, _n: usize) -> http::Response<Full<Bytes>> {
    let version = VIDEO_VERSION.load(std::sync::atomic::Ordering::SeqCst);
    let body = video_bytes(version);
    let fields = vec![
        ("cache-control", "max-age=60".to_string()),
        ("etag", format!("\"v{version}\"")),
        ("content-type", "video/mp4".into()),
    ];
    let range = req.get("range").and_then(|v| v.to_str().ok());
    if path == "/video"
        && let Some(range) = range
    {
        VIDEO_RANGES.lock().expect("ranges").push(range.to_string());
        let (a, b) = range
            .strip_prefix("bytes=")
            .and_then(|r| r.split_once('-'))
            .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
            .expect("the cache asks for one whole range");
        if a >= body.len() {
            return response(416, &[("content-range", "bytes */1000".into())], "");
        }
        let b = b.min(body.len() - 1);
        let mut f = fields.clone();
        f.push(("content-range", format!("bytes {a}-{b}/1000")));
        let mut r = http::Response::builder().status(206);
        for (k, v) in f {
            r = r.header(k, v);
        }
        return r
            .body(Full::new(Bytes::copy_from_slice(&body[a..=b])))
            .expect("response");
    }
    let mut r = http::Response::builder().status(200);
    for (k, v) in fields {
        r = r.header(k, v);
    }
    r.body(Full::new(Bytes::from(body))).expect("response")
}

/// RFC 9111 §3.3–3.4 with `cache_slice`: a range is fetched from the origin as the
/// slices it covers (each a `Range` request whose 206 is stored as it came) and
/// answered by combining them; stored slices answer later ranges without the
/// origin; slices of different versions of the object (validators that disagree)
/// are never combined; invalidating the URL takes every slice; an origin that ignores
/// `Range` is passed on as its 200.
#[tokio::test(flavor = "multi_thread")]
async fn ranges_are_fetched_and_stored_in_slices_and_combined() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(sliced, true).await;
        let o = start(&origin, "    cache_slice: 100B\n");
        let ranges = || std::mem::take(&mut *VIDEO_RANGES.lock().expect("ranges"));
        let v1 = video_bytes(1);

        // A range inside one slice: one slice from the origin, stored.
        let first = get(&o, "/video", &[("range", "bytes=250-259")]).await;
        assert_eq!(first.status(), 206);
        assert_eq!(header(&first, "content-range"), "bytes 250-259/1000");
        assert_eq!(header(&first, "content-length"), "10");
        assert_eq!(header(&first, "etag"), "\"v1\"");
        assert_eq!(first.bytes().await.expect("body"), &v1[250..260]);
        assert_eq!(ranges(), ["bytes=200-299"]);

        // A range over three slices: the stored one and two more from the origin,
        // combined into one 206.
        let across = get(&o, "/video", &[("range", "bytes=150-420")]).await;
        assert_eq!(across.status(), 206);
        assert_eq!(header(&across, "content-range"), "bytes 150-420/1000");
        assert_eq!(across.bytes().await.expect("body"), &v1[150..=420]);
        assert_eq!(
            ranges(),
            ["bytes=100-199", "bytes=300-399", "bytes=400-499"]
        );

        // Every slice it needs is stored: no origin request, Cache-Status a hit.
        let stored = get(&o, "/video", &[("range", "bytes=120-480")]).await;
        assert_eq!(stored.status(), 206);
        assert!(
            header(&stored, "cache-status").starts_with("outpost; hit"),
            "{}",
            header(&stored, "cache-status")
        );
        assert_eq!(stored.bytes().await.expect("body"), &v1[120..=480]);
        assert!(ranges().is_empty(), "answered from stored slices");

        // To the end, and the last slice shorter than the others.
        let tail = get(&o, "/video", &[("range", "bytes=950-")]).await;
        assert_eq!(header(&tail, "content-range"), "bytes 950-999/1000");
        assert_eq!(tail.bytes().await.expect("body"), &v1[950..]);
        assert_eq!(ranges(), ["bytes=900-999"]);
        // Past the end: 416 with the length.
        let past = get(&o, "/video", &[("range", "bytes=5000-5100")]).await;
        assert_eq!(past.status(), 416);
        assert_eq!(header(&past, "content-range"), "bytes */1000");
        ranges();

        // The object changes at the origin. A range over a stored slice of version 1
        // and a new slice of version 2 must not be combined: the response is cut
        // short, and the stored slices are dropped so the retry is whole and new.
        VIDEO_VERSION.store(2, std::sync::atomic::Ordering::SeqCst);
        let mixed = get(&o, "/video", &[("range", "bytes=480-520")]).await;
        assert!(
            mixed.bytes().await.is_err(),
            "a response combining two versions must fail"
        );
        assert_eq!(ranges(), ["bytes=500-599"]);
        let v2 = video_bytes(2);
        let retry = get(&o, "/video", &[("range", "bytes=480-520")]).await;
        assert_eq!(retry.status(), 206);
        assert_eq!(header(&retry, "etag"), "\"v2\"");
        assert_eq!(retry.bytes().await.expect("body"), &v2[480..=520]);
        assert_eq!(ranges(), ["bytes=400-499", "bytes=500-599"]);

        // Invalidation of the URL (a successful POST, §4.4) takes every slice.
        let posted = client().post(o.url("/video")).send().await.expect("post");
        assert_eq!(posted.status(), 200);
        let again = get(&o, "/video", &[("range", "bytes=480-499")]).await;
        assert_eq!(again.bytes().await.expect("body"), &v2[480..500]);
        assert_eq!(
            ranges(),
            ["bytes=400-499"],
            "refetched after the invalidation"
        );

        // Whole requests are not sliced: the whole object, stored on its own.
        let whole = get(&o, "/video", &[]).await;
        assert_eq!(whole.status(), 200);
        assert_eq!(whole.bytes().await.expect("body"), &v2[..]);
        assert!(ranges().is_empty());

        // An origin that ignores Range answers the slice with a 200: passed on as
        // it came (ignoring Range is allowed), never stored as a slice.
        let plain = get(&o, "/plain", &[("range", "bytes=10-19")]).await;
        assert_eq!(plain.status(), 200);
        assert_eq!(plain.bytes().await.expect("body").len(), 1000);
        let hits = origin.hits("/plain");
        get(&o, "/plain", &[("range", "bytes=10-19")]).await;
        assert_eq!(
            origin.hits("/plain"),
            hits + 1,
            "a 200 is not stored as a slice"
        );
    })
    .await
    .expect("test timed out");
}

fn directed(path: &str, _req: &http::HeaderMap, n: usize) -> http::Response<Full<Bytes>> {
    let (path, _) = path.split_once('?').unwrap_or((path, ""));
    let cc = match path {
        "/short" => "max-age=1",
        "/strict" => "max-age=1, must-revalidate",
        _ => "max-age=60",
    };
    response(
        200,
        &[("date", date(0)), ("cache-control", cc.into())],
        &format!("#{n}"),
    )
}

/// RFC 9111 §5.2.1: clients' request directives. By default (`ignore`, as the big
/// CDNs do) a reload's `no-cache` is still a hit; `only-if-cached` is obeyed either
/// way (504 when nothing is stored). With `cache.request_directives: honour`:
/// `no-cache`, `max-age`, `min-fresh` revalidate, `max-stale` takes a stale copy
/// (never one that says `must-revalidate`), `no-store` keeps the answer out.
#[tokio::test(flavor = "multi_thread")]
async fn request_directives_ignored_by_default_and_honoured_when_configured() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(directed, true).await;
        let o = start(&origin, "");
        get(&o, "/r", &[]).await;
        let reload = get(&o, "/r", &[("cache-control", "no-cache")]).await;
        assert!(header(&reload, "cache-status").starts_with("outpost; hit"));
        assert_eq!(origin.hits("/r"), 1);
        let cached = get(&o, "/r", &[("cache-control", "only-if-cached")]).await;
        assert_eq!(cached.status(), 200);
        let absent = get(&o, "/absent", &[("cache-control", "only-if-cached")]).await;
        assert_eq!(absent.status(), 504);
        assert_eq!(origin.hits("/absent"), 0);
        drop(o);

        let origin = Origin::start(directed, true).await;
        let o = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\ncache: {{ memory: 16MiB, request_directives: honour }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n",
            origin.url
        ));
        get(&o, "/r", &[]).await;
        assert!(header(&get(&o, "/r", &[]).await, "cache-status").starts_with("outpost; hit"));
        let mut expected = 1;
        for directive in ["no-cache", "min-fresh=120"] {
            let r = get(&o, "/r", &[("cache-control", directive)]).await;
            expected += 1;
            assert_eq!(origin.hits("/r"), expected, "{directive}: {}", header(&r, "cache-status"));
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
        get(&o, "/r", &[("cache-control", "max-age=0")]).await;
        assert_eq!(origin.hits("/r"), expected + 1, "max-age=0 on a response a second old");
        let fine = get(&o, "/r", &[("cache-control", "max-age=30")]).await;
        assert!(header(&fine, "cache-status").starts_with("outpost; hit"));

        for path in ["/short", "/strict"] {
            get(&o, path, &[]).await;
        }
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let stale = get(&o, "/short", &[("cache-control", "max-stale=100")]).await;
        assert_eq!(stale.text().await.expect("body"), "#0");
        assert_eq!(origin.hits("/short"), 1, "max-stale takes the stale copy");
        get(&o, "/strict", &[("cache-control", "max-stale")]).await;
        assert_eq!(origin.hits("/strict"), 2, "must-revalidate refuses max-stale");

        get(&o, "/kept-out", &[("cache-control", "no-store")]).await;
        get(&o, "/kept-out", &[]).await;
        assert_eq!(origin.hits("/kept-out"), 2, "a no-store request's answer is not stored");
    })
    .await
    .expect("test timed out");
}

fn authorized(path: &str, _req: &http::HeaderMap, n: usize) -> http::Response<Full<Bytes>> {
    let (path, _) = path.split_once('?').unwrap_or((path, ""));
    let cc = match path {
        "/public" => "public, max-age=60",
        "/shared-max" => "s-maxage=60",
        "/must" => "max-age=60, must-revalidate",
        _ => "max-age=60",
    };
    response(200, &[("cache-control", cc.into())], &format!("#{n}"))
}

/// RFC 9111 §3.5: a response to a request with `Authorization` is stored only with
/// `public`, `s-maxage` or `must-revalidate`; a request with credentials is never
/// answered from the cache itself (the safe side for a shared cache).
#[tokio::test(flavor = "multi_thread")]
async fn responses_to_authorized_requests_are_stored_only_when_they_say_so() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(authorized, true).await;
        let o = start(&origin, "");
        let auth = [("authorization", "Bearer alice")];
        for (path, stored) in [
            ("/public", true),
            ("/shared-max", true),
            ("/must", true),
            ("/private-by-default", false),
        ] {
            let first = get(&o, path, &auth).await;
            let expected = if stored {
                "outpost; fwd=bypass; stored"
            } else {
                "outpost; fwd=bypass"
            };
            assert_eq!(header(&first, "cache-status"), expected, "{path}");
            // Another client, without credentials: the stored copy, or the origin.
            let other = get(&o, path, &[]).await;
            let hit = header(&other, "cache-status").starts_with("outpost; hit");
            assert_eq!(hit, stored, "{path}: {}", header(&other, "cache-status"));
            // Credentials again: never the stored copy.
            let again = get(&o, path, &auth).await;
            assert!(
                header(&again, "cache-status").starts_with("outpost; fwd=bypass"),
                "{path}"
            );
            let expected_hits = if stored { 2 } else { 3 };
            assert_eq!(origin.hits(path), expected_hits, "{path}");
        }
    })
    .await
    .expect("test timed out");
}

/// RFC 9111 §4.4: invalidating a URI invalidates every response stored for it, each
/// `Vary` variant included.
#[tokio::test(flavor = "multi_thread")]
async fn unsafe_requests_invalidate_every_variant() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = Origin::start(varied, true).await;
        let o = start(&origin, "");
        for lang in ["en", "fr"] {
            get(&o, "/lang", &[("accept-language", lang)]).await;
            let hit = get(&o, "/lang", &[("accept-language", lang)]).await;
            assert!(
                header(&hit, "cache-status").starts_with("outpost; hit"),
                "{lang}"
            );
        }
        assert_eq!(origin.hits("/lang"), 2);
        let r = client()
            .post(o.url("/lang"))
            .body("x")
            .send()
            .await
            .expect("post");
        assert!(r.status().is_success());
        assert_eq!(origin.hits("/lang"), 3);
        for lang in ["en", "fr"] {
            let after = get(&o, "/lang", &[("accept-language", lang)]).await;
            assert!(
                !header(&after, "cache-status").starts_with("outpost; hit"),
                "{lang} variant still served"
            );
        }
        assert_eq!(origin.hits("/lang"), 5);
    })
    .await
    .expect("test timed out");
}

/// RFC 9111 §4.3.5 concerns a cache that sends HEAD to freshen stored responses;
/// Outpost never does: a HEAD that misses is fetched from the origin as a GET and
/// stored whole, so the next GET is a hit and HEAD answers come from the same entry.
#[tokio::test(flavor = "multi_thread")]
async fn a_head_miss_fills_the_cache_with_the_get_response() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let record = seen.clone();
        let addr = common::origin::serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let record = record.clone();
            async move {
                record.lock().expect("seen").push(req.method().to_string());
                response(200, &[("cache-control", "max-age=60".into())], "whole body")
            }
        })
        .await;
        let o = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - default: true\n    origins: [\"http://{addr}\"]\n"
        ));
        let head = client().head(o.url("/h")).send().await.expect("head");
        assert_eq!(head.status(), 200);
        assert_eq!(header(&head, "content-length"), "10");
        let get = get(&o, "/h", &[]).await;
        assert!(header(&get, "cache-status").starts_with("outpost; hit"), "{}", header(&get, "cache-status"));
        assert_eq!(get.text().await.expect("body"), "whole body");
        assert_eq!(*seen.lock().expect("seen"), ["GET"], "one origin request, a GET");
    })
    .await
    .expect("test timed out");
}
