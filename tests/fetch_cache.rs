//! Workers' `cf` cache options on a hook's `fetch()` through the real binary:
//! `cacheTtl` (over the response's own headers), `cacheTtlByStatus`,
//! `cacheEverything`, `cacheKey` and `cacheTags` (purgeable through the admin API),
//! on a fetch that leaves the node for another host.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, free_port};
use std::sync::atomic::Ordering;

/// Fetches `ORIGIN/c?<q>` with the `cf` options given as JSON in `cf`, and says what
/// `cf-cache-status` the fetch saw.
const HOOK: &str = r#"export default {
  async fetch(request, env) {
    const u = new URL(request.url);
    const cf = JSON.parse(u.searchParams.get("cf") || "null");
    const init = cf === null ? {} : { cf };
    const target = env.ORIGIN + "/c?" + (u.searchParams.get("q") || "");
    // req=1: the options ride on a Request's cf, sent on by fetch(request) (with
    // redirect "manual", as the request a hook receives: Outpost's native fetch).
    const r = u.searchParams.has("req")
      ? await fetch(new Request(target, { ...init, redirect: "manual" }))
      : await fetch(target, init);
    const out = new Response(r.body, r);
    out.headers.set("x-fetch-cache", r.headers.get("cf-cache-status") ?? "none");
    return out;
  },
};
"#;

struct Setup {
    origin: TestOrigin,
    outpost: Outpost,
    admin: String,
}

async fn setup() -> Setup {
    let origin = TestOrigin::start("api").await;
    let admin = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hook.js"), HOOK).expect("hook");
    // The hook's site has its own origin (a static one); the API is another host.
    std::fs::create_dir(dir.path().join("public")).expect("dir");
    let yaml = format!(
        "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - default: true\n    origins: [\"static:public\"]\n    script: hook.js\n    env: {{ ORIGIN: \"{}\" }}\n    egress: {{ private: allow }}\n",
        origin.url()
    );
    let outpost = Outpost::start_in(dir, &yaml, &[]);
    Setup {
        origin,
        outpost,
        admin,
    }
}

/// The body and `x-fetch-cache` of one request through the hook.
async fn through(s: &Setup, q: &str, cf: Option<&str>) -> (String, String) {
    through_as(s, q, cf, "").await
}

/// [`through`], the hook's query string ending with `extra`.
async fn through_as(s: &Setup, q: &str, cf: Option<&str>, extra: &str) -> (String, String) {
    let mut url = format!("{}?q={}{extra}", s.outpost.url("/go"), urlencode(q));
    if let Some(cf) = cf {
        url.push_str(&format!("&cf={}", urlencode(cf)));
    }
    let r = client().get(url).send().await.expect("request");
    assert_eq!(r.status(), 200);
    let cache = common::header_text(&r, "x-fetch-cache");
    (r.text().await.expect("body"), cache)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cf_cache_options_store_and_reuse_fetch_answers() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let s = setup().await;
        let hits = || s.origin.hits.load(Ordering::SeqCst);

        // No cf options: a fetch to another host is not cached.
        through(&s, "cc=max-age%3D60&k=plain", None).await;
        through(&s, "cc=max-age%3D60&k=plain", None).await;
        assert_eq!(hits(), 2);

        // cacheTtl stores even what says no-store, and the next fetch is a hit.
        let ttl = r#"{"cacheTtl":60}"#;
        let (first, status) = through(&s, "cc=no-store&k=ttl", Some(ttl)).await;
        assert_eq!(status, "MISS");
        let (second, status) = through(&s, "cc=no-store&k=ttl", Some(ttl)).await;
        assert_eq!(status, "HIT");
        assert_eq!(second, first);
        assert_eq!(hits(), 3);

        // The same options on a Request's cf, sent by fetch(request) (the native
        // fetch, which must see them and hand the request to the cache path).
        let (first, status) = through_as(&s, "cc=no-store&k=req", Some(ttl), "&req=1").await;
        assert_eq!(status, "MISS");
        let (second, status) = through_as(&s, "cc=no-store&k=req", Some(ttl), "&req=1").await;
        assert_eq!(status, "HIT");
        assert_eq!(second, first);
        assert_eq!(hits(), 4);
        // Without options, fetch(request) to another host stores nothing.
        through_as(&s, "cc=no-store&k=req-plain", None, "&req=1").await;
        through_as(&s, "cc=no-store&k=req-plain", None, "&req=1").await;
        assert_eq!(hits(), 6);

        // cacheTtlByStatus wins for the statuses it names: -1 is "do not store".
        let by_status = r#"{"cacheTtl":60,"cacheTtlByStatus":{"200-299":-1}}"#;
        through(&s, "cc=max-age%3D60&k=status", Some(by_status)).await;
        through(&s, "cc=max-age%3D60&k=status", Some(by_status)).await;
        assert_eq!(hits(), 8);

        // cacheEverything stores a response that gives no lifetime at all.
        let everything = r#"{"cacheEverything":true}"#;
        through(&s, "k=everything", Some(everything)).await;
        let (_, status) = through(&s, "k=everything", Some(everything)).await;
        assert_eq!(status, "HIT");
        assert_eq!(hits(), 9);
        // ... but not a Set-Cookie response, whatever the TTL.
        through(&s, "cookie=1&k=cookie", Some(ttl)).await;
        through(&s, "cookie=1&k=cookie", Some(ttl)).await;
        assert_eq!(hits(), 11);

        // cacheKey: two URLs, one entry.
        let keyed = r#"{"cacheTtl":60,"cacheKey":"catalogue"}"#;
        let (a, _) = through(&s, "k=one", Some(keyed)).await;
        let (b, status) = through(&s, "k=two", Some(keyed)).await;
        assert_eq!((b.as_str(), status.as_str()), (a.as_str(), "HIT"));
        assert_eq!(hits(), 12);

        // cacheTags: a purge by tag removes the entry.
        let tagged = r#"{"cacheTtl":60,"cacheTags":["prices"]}"#;
        through(&s, "k=tagged", Some(tagged)).await;
        let (_, status) = through(&s, "k=tagged", Some(tagged)).await;
        assert_eq!(status, "HIT");
        let r = client()
            .post(format!("http://{}/purge", s.admin))
            .body(r#"{"tags":["prices"]}"#)
            .send()
            .await
            .expect("purge");
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let (_, status) = through(&s, "k=tagged", Some(tagged)).await;
        assert_eq!(status, "MISS");
        assert_eq!(hits(), 14);
    })
    .await
    .expect("test timed out");
}
