//! Cache poisoning and web cache deception: an attacker's request must not change
//! what the cache serves to others. The origin here is deliberately naive: it
//! reflects the headers frameworks trust (X-Forwarded-Host, X-Original-URL, method
//! overrides…), the request body and the query string into cacheable responses, as
//! real applications behind CDNs have done.

mod common;

use common::{Outpost, TEST_TIMEOUT, client};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A naive origin; returns its address and its request counter.
async fn naive_origin() -> (SocketAddr, Arc<AtomicUsize>) {
    use http_body_util::BodyExt;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let addr = common::origin::serve(move |req: hyper::Request<hyper::body::Incoming>| {
        let n = h.fetch_add(1, Ordering::SeqCst);
        async move {
            let get = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_string()
            };
            let path = req.uri().path().to_string();
            let query = req.uri().query().unwrap_or("").to_string();
            let reflected = format!(
                "xfh={} xou={} xfs={} xfp={} xhmo={} fwd={} cookie={} q={query}",
                get("x-forwarded-host"),
                get("x-original-url"),
                get("x-forwarded-scheme"),
                get("x-forwarded-proto"),
                get("x-http-method-override"),
                get("forwarded"),
                get("cookie"),
            );
            let body_len = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().len())
                .unwrap_or(0);
            let (status, ct, body) = if path == "/err" {
                (500, "text/plain", format!("error #{n}"))
            } else if path.starts_with("/account.php") {
                // Path-info routing: /account.php/anything is the account page.
                (
                    200,
                    "text/html",
                    format!("<p>account of {reflected} #{n}</p>"),
                )
            } else {
                (
                    200,
                    "text/plain",
                    format!("{reflected} body={body_len} #{n}"),
                )
            };
            hyper::Response::builder()
                .status(status)
                .header("content-type", ct)
                .header("cache-control", "public, max-age=60")
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .expect("response")
        }
    })
    .await;
    (addr, hits)
}

fn start(origin: SocketAddr) -> Outpost {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("rules.yaml"),
        "- match: \"/armored/*\"\n  actions: { cache_deception_armor: true }\n",
    )
    .expect("rules");
    Outpost::start_in(
        dir,
        &format!(
            "listen: {{ http: \"{{http}}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - hosts: [a.test]\n    origins: [\"http://{origin}\"]\n    rules: rules.yaml\n    compression: {{ enabled: false }}\n"
        ),
        &[],
    )
}

async fn get(o: &Outpost, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut r = client().get(o.url(path)).header("host", "a.test");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    let cache = common::header_text(&r, "cache-status");
    (status, r.text().await.expect("body"), cache)
}

#[tokio::test(flavor = "multi_thread")]
async fn unkeyed_inputs_cannot_change_what_others_are_served() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, _) = naive_origin().await;
        let o = start(origin);

        // The attacker goes first, with every override header frameworks honour.
        let attack: &[(&str, &str)] = &[
            ("x-forwarded-host", "evil.test"),
            ("x-original-url", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("x-forwarded-scheme", "nothttps"),
            ("x-forwarded-proto", "nothttps"),
            ("x-http-method-override", "DELETE"),
            ("forwarded", "host=evil.test;proto=http"),
        ];
        let (_, attacker, _) = get(&o, "/page", attack).await;
        for bad in ["evil.test", "/admin", "nothttps", "DELETE"] {
            assert!(
                !attacker.contains(bad),
                "the origin never sees {bad}: {attacker}"
            );
        }
        assert!(
            attacker.contains("xfh=a.test"),
            "Outpost's own X-Forwarded-Host: {attacker}"
        );
        let (_, victim, status) = get(&o, "/page", &[]).await;
        assert!(status.contains("hit"), "{status}");
        assert_eq!(victim, attacker, "the stored answer is the clean one");

        // Fat GET: a body on a GET bypasses the cache (the body is not in the key).
        let r = client()
            .get(o.url("/fat"))
            .header("host", "a.test")
            .body("x=evil")
            .send()
            .await
            .expect("fat get");
        let fat = r.text().await.expect("body");
        let (_, victim, _) = get(&o, "/fat", &[]).await;
        assert!(
            victim.contains("body=0"),
            "victim got the attacker's answer: {victim} (attacker: {fat})"
        );

        // Parameter cloaking: `;` is not a separator in the key, so `?a=1;b=evil` and
        // `?a=1` are different objects.
        let (_, cloaked, _) = get(&o, "/q?a=1;b=evil", &[]).await;
        assert!(cloaked.contains("q=a=1;b=evil"), "{cloaked}");
        let (_, victim, _) = get(&o, "/q?a=1", &[]).await;
        assert!(!victim.contains("evil"), "{victim}");
    })
    .await
    .expect("within the bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_not_stored_and_deception_armor_keeps_private_pages_out() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, _) = naive_origin().await;
        let o = start(origin);

        // A 500 that says max-age=60 is still not stored (RFC 9111: not a
        // heuristically cacheable status; the next request gets a fresh try).
        // (Counted by the answers, not the origin's request count: an idempotent GET
        // may be retried once on a reused upstream connection, which a loaded CI
        // machine showed.)
        let mut answers = Vec::new();
        for _ in 0..3 {
            let (status, body, cache) = get(&o, "/err", &[]).await;
            assert_eq!(status, 500);
            assert!(
                !cache.contains("hit"),
                "a 500 was served from the cache: {cache}"
            );
            answers.push(body);
        }
        answers.dedup();
        assert_eq!(
            answers.len(),
            3,
            "every 500 came fresh from the origin: {answers:?}"
        );

        // Web cache deception: the victim follows a link to /account.php/x.css; the
        // origin answers with the account page. Without armor the (misconfigured,
        // public) page is stored under a stylesheet's URL for the attacker to fetch.
        let (_, victim, _) = get(&o, "/account.php/x.css", &[("cookie", "session=victim")]).await;
        assert!(victim.contains("session=victim"));
        let (_, attacker, status) = get(&o, "/account.php/x.css", &[]).await;
        assert!(
            attacker.contains("session=victim") && status.contains("hit"),
            "without armor the deception works (the test's control): {attacker} {status}"
        );
        // With `cache_deception_armor: true` on the rule, it is not stored.
        let (_, victim, _) = get(
            &o,
            "/armored/account.php/x.css",
            &[("cookie", "session=victim")],
        )
        .await;
        assert!(victim.contains("session=victim"));
        let (_, attacker, status) = get(&o, "/armored/account.php/x.css", &[]).await;
        assert!(
            !attacker.contains("session=victim"),
            "armor: {attacker} {status}"
        );
        // A real stylesheet-looking path that is HTML stays out; a path without an
        // extension is cached as before.
        get(&o, "/armored/account.php", &[]).await;
        let (_, _, status) = get(&o, "/armored/account.php", &[]).await;
        assert!(status.contains("hit"), "no extension, no armor: {status}");
    })
    .await
    .expect("within the bound");
}
