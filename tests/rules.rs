//! Page rules end to end: the real binary, a real origin, a real HTTP client. Each
//! action is proven by what the origin received (hit counts, request line, headers)
//! and what the client got (status, Location, headers, Cache-Status).

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT};
use std::sync::atomic::Ordering;
use std::time::Duration;

const RULES: &str = r#"
- match: "http://secure.example.com/*"
  actions: { always_use_https: true }
- match: "example.com/old/*"
  actions: { forward: { to: "https://example.com/new/$1", status: 301 } }
- match: "example.com/tmp/*"
  actions: { forward: { to: "/elsewhere/$1", status: 302, keep_query: false } }
- match: "*.example.com/go/*"
  actions: { forward: { to: "https://$1.example.org/$2", status: 307 } }
- match: "example.com/perm/*"
  actions: { forward: { to: "/p/$1", status: 308 } }
- match: "example.com/static/*"
  actions: { cache_level: cache_everything, edge_ttl: 7d, browser_ttl: 1h }
- match: "example.com/nocache/*"
  actions: { cache_level: bypass }
- match: "example.com/cookie/*"
  actions: { bypass_cache_on_cookie: "^(session|wp-.*)$" }
- match: "example.com/iqs/*"
  actions: { cache_level: ignore_query_string }
- match: "example.com/key/*"
  actions: { cache_key: { query: { include: [v] } } }
- match: "example.com/occ/*"
  actions: { edge_ttl: 1h, origin_cache_control: false }
- match: "example.com/api/*"
  when: { method: [GET, HEAD], header: { x-beta: "1" } }
  actions:
    cache_level: bypass
    origin: beta
    set_request_headers: { x-edge: outpost }
    remove_request_headers: [x-secret]
    set_response_headers: { x-api: beta }
    remove_response_headers: [x-origin]
- match: "example.com/api/*"
  actions: { add_response_headers: { x-api: stable }, add_request_headers: { x-edge: plain } }
- match: "example.com/v1/*"
  actions: { rewrite: { path: "/$1", query: "from=v1" }, host_header: internal.example }
- match: "example.com/ip/*"
  when: { client_ip: ["10.0.0.0/8"] }
  actions: { set_response_headers: { x-ip: private } }
- match: "example.com/ip/*"
  when: { client_ip: ["127.0.0.0/8", "::1"] }
  actions: { set_response_headers: { x-ip: loopback } }
"#;

fn config(main: &TestOrigin, beta: &TestOrigin) -> String {
    format!(
        "listen: {{ http: \"{{http}}\" }}\nserver: {{ debug_headers: true }}\nsites:\n  - hosts: [example.com, \"*.example.com\"]\n    origins: [\"{}\"]\n    pools: {{ beta: [\"{}\"] }}\n    rules: rules.yaml\n",
        main.url(),
        beta.url()
    )
}

fn start(main: &TestOrigin, beta: &TestOrigin) -> Outpost {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("write rules");
    Outpost::start_in(dir, &config(main, beta), &[])
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().expect("ascii"))
    }
}

async fn get(op: &Outpost, host: &str, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut r = client().get(op.url(path)).header("host", host);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.expect("request");
    Got {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_actions_answer_at_the_edge() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (main, beta) = (
            TestOrigin::start("main").await,
            TestOrigin::start("beta").await,
        );
        let op = start(&main, &beta);

        let r = get(&op, "secure.example.com", "/a/b?x=1", &[]).await;
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), "https://secure.example.com/a/b?x=1");
        assert_eq!(
            r.header("outpost-rule"),
            "rules.yaml:2",
            "debug header names the rule"
        );

        let r = get(&op, "example.com", "/old/a/b.html?x=1", &[]).await;
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), "https://example.com/new/a/b.html?x=1");

        let r = get(&op, "example.com", "/tmp/t?drop=me", &[]).await;
        assert_eq!(r.status, 302);
        assert_eq!(
            r.header("location"),
            "/elsewhere/t",
            "keep_query: false drops the query"
        );

        let r = get(&op, "shop.example.com", "/go/cart", &[]).await;
        assert_eq!(r.status, 307);
        assert_eq!(r.header("location"), "https://shop.example.org/cart");

        let r = get(&op, "example.com", "/perm/x", &[]).await;
        assert_eq!(r.status, 308);
        assert_eq!(r.header("location"), "/p/x");

        assert_eq!(
            main.hits.load(Ordering::SeqCst),
            0,
            "no redirect reached the origin"
        );

        // No rule: the origin answers, and there is no Outpost-Rule header.
        let r = get(&op, "example.com", "/plain", &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "hello from main");
        assert!(r.headers.get("outpost-rule").is_none());
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_actions_change_what_is_stored_and_for_how_long() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (main, beta) = (
            TestOrigin::start("main").await,
            TestOrigin::start("beta").await,
        );
        let op = start(&main, &beta);
        let hits = || main.hits.load(Ordering::SeqCst);

        // cache_everything + edge_ttl: stored for 7 days although the origin said 60s,
        // and clients get browser_ttl (1h) in Cache-Control.
        let r = get(&op, "example.com", "/static/c?cc=max-age%3D60", &[]).await;
        assert_eq!(r.header("cache-status"), "outpost; fwd=miss; stored");
        assert_eq!(r.header("cache-control"), "public, max-age=3600");
        let r = get(&op, "example.com", "/static/c?cc=max-age%3D60", &[]).await;
        let ttl: u64 = r
            .header("cache-status")
            .strip_prefix("outpost; hit; ttl=")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("not a hit with a ttl: {}", r.header("cache-status")));
        assert!(
            (604_700..=604_800).contains(&ttl),
            "edge TTL is the rule's 7d: {ttl}"
        );
        assert_eq!(
            r.header("cache-control"),
            "public, max-age=3600",
            "browser TTL on hits too"
        );
        assert_eq!(hits(), 1);

        // cache_everything stores a response without any freshness headers...
        get(&op, "example.com", "/static/c", &[]).await;
        let r = get(&op, "example.com", "/static/c", &[]).await;
        assert!(
            r.header("cache-status").starts_with("outpost; hit"),
            "{}",
            r.header("cache-status")
        );
        assert_eq!(hits(), 2);
        // ...which without a rule is not stored (RFC 9111, no heuristics).
        get(&op, "example.com", "/plain/c", &[]).await;
        get(&op, "example.com", "/plain/c", &[]).await;
        assert_eq!(hits(), 4);
        // The origin's no-store still wins over edge_ttl (origin_cache_control on).
        get(&op, "example.com", "/static/c?cc=no-store", &[]).await;
        get(&op, "example.com", "/static/c?cc=no-store", &[]).await;
        assert_eq!(hits(), 6);

        // bypass: never stored, even with a long max-age.
        for _ in 0..2 {
            let r = get(&op, "example.com", "/nocache/c?cc=max-age%3D600", &[]).await;
            assert_eq!(r.header("cache-status"), "outpost; fwd=bypass");
        }
        assert_eq!(hits(), 8);

        // bypass_cache_on_cookie: a matching cookie name goes to the origin.
        get(&op, "example.com", "/cookie/c?cc=max-age%3D600", &[]).await;
        let r = get(
            &op,
            "example.com",
            "/cookie/c?cc=max-age%3D600",
            &[("cookie", "theme=dark")],
        )
        .await;
        assert!(r.header("cache-status").starts_with("outpost; hit"));
        assert_eq!(hits(), 9);
        let r = get(
            &op,
            "example.com",
            "/cookie/c?cc=max-age%3D600",
            &[("cookie", "theme=dark; wp-settings=1")],
        )
        .await;
        assert_eq!(r.header("cache-status"), "outpost; fwd=bypass");
        assert_eq!(hits(), 10);

        // ignore_query_string: one object whatever the query.
        get(&op, "example.com", "/iqs/c?cc=max-age%3D600&v=1", &[]).await;
        let r = get(&op, "example.com", "/iqs/c?cc=max-age%3D600&v=2", &[]).await;
        assert!(r.header("cache-status").starts_with("outpost; hit"));
        assert_eq!(hits(), 11);

        // cache_key include: only `v` counts.
        get(&op, "example.com", "/key/c?cc=max-age%3D600&v=1&utm=a", &[]).await;
        let r = get(&op, "example.com", "/key/c?cc=max-age%3D600&v=1&utm=b", &[]).await;
        assert!(r.header("cache-status").starts_with("outpost; hit"));
        assert_eq!(hits(), 12);
        let r = get(&op, "example.com", "/key/c?cc=max-age%3D600&v=2&utm=b", &[]).await;
        assert_eq!(r.header("cache-status"), "outpost; fwd=miss; stored");
        assert_eq!(hits(), 13);

        // origin_cache_control: false lets edge_ttl store even a no-store response,
        // while the client still sees the origin's Cache-Control.
        get(&op, "example.com", "/occ/c?cc=no-store", &[]).await;
        let r = get(&op, "example.com", "/occ/c?cc=no-store", &[]).await;
        assert!(
            r.header("cache-status").starts_with("outpost; hit; ttl=3"),
            "{}",
            r.header("cache-status")
        );
        assert_eq!(r.header("cache-control"), "no-store");
        assert_eq!(hits(), 14);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn header_rewrite_and_origin_actions_reach_the_origin() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (main, beta) = (
            TestOrigin::start("main").await,
            TestOrigin::start("beta").await,
        );
        let op = start(&main, &beta);

        // Conditions hold: the beta pool, request and response header edits.
        let r = get(
            &op,
            "example.com",
            "/api/echo",
            &[("x-beta", "1"), ("x-secret", "s")],
        )
        .await;
        assert!(r.body.starts_with("beta GET /api/echo"), "{}", r.body);
        assert!(r.body.contains("x-edge: outpost\n"), "{}", r.body);
        assert!(
            !r.body.contains("x-secret"),
            "removed before the origin: {}",
            r.body
        );
        assert_eq!(r.header("x-api"), "beta");
        assert!(
            r.headers.get("x-origin").is_none(),
            "response header removed"
        );
        assert_eq!(r.header("cache-status"), "outpost; fwd=bypass");
        assert_eq!(beta.hits.load(Ordering::SeqCst), 1);

        // Conditions fail (no x-beta): the next rule, the main pool, added headers.
        let r = get(&op, "example.com", "/api/echo", &[("x-edge", "client")]).await;
        assert!(r.body.starts_with("main GET /api/echo"), "{}", r.body);
        assert!(
            r.body.contains("x-edge: client\nx-edge: plain\n"),
            "added after the client's: {}",
            r.body
        );
        assert_eq!(r.header("x-api"), "stable");
        assert_eq!(r.header("x-origin"), "main");

        // rewrite + host_header: the origin sees the new URL and Host; the client's is unchanged.
        let r = get(&op, "example.com", "/v1/echo?x=1", &[]).await;
        assert!(r.body.starts_with("main GET /echo?from=v1\n"), "{}", r.body);
        assert!(r.body.contains("host: internal.example\n"), "{}", r.body);
        assert!(
            r.body.contains("x-forwarded-host: example.com\n"),
            "{}",
            r.body
        );

        // client_ip: the loopback client matches the second /ip/ rule.
        let r = get(&op, "example.com", "/ip/x", &[]).await;
        assert_eq!(r.header("x-ip"), "loopback");
        assert_eq!(r.header("outpost-rule"), "rules.yaml:40");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_reload_with_the_config_and_a_bad_file_keeps_the_old_rules() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (main, beta) = (TestOrigin::start("main").await, TestOrigin::start("beta").await);
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path().join("rules.yaml");
        std::fs::write(&rules, "- match: \"example.com/*\"\n  actions: { set_response_headers: { x-gen: one } }\n").expect("write");
        let op = Outpost::start_in(dir, &config(&main, &beta), &["--watch"]);
        assert_eq!(get(&op, "example.com", "/", &[]).await.header("x-gen"), "one");

        // A broken rules file: rejected with its own position; the old rules keep serving.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        std::fs::write(&rules, "- match: \"example.com/*\"\n  actions: { set_response_headers: { x-gen: two }, cache_levl: bypass }\n").expect("write");
        op.wait_log("configuration reload failed", 1);
        assert!(op.log_text().contains("rules.yaml:2:52: [0].actions: unknown field `cache_levl`"), "{}", op.log_text());
        assert_eq!(get(&op, "example.com", "/", &[]).await.header("x-gen"), "one");

        // Fixed: --watch picks up the rules file change by itself.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        std::fs::write(&rules, "- match: \"example.com/*\"\n  actions: { set_response_headers: { x-gen: three } }\n").expect("write");
        op.wait_log("configuration reloaded", 1);
        assert_eq!(get(&op, "example.com", "/", &[]).await.header("x-gen"), "three");
    })
    .await
    .expect("test timed out");
}

#[test]
fn rules_test_explains_which_rule_applies() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("write rules");
    let main = "listen: { http: \"127.0.0.1:8080\" }\nsites:\n  - name: example\n    hosts: [example.com, \"*.example.com\"]\n    origins: [\"http://127.0.0.1:9\"]\n    pools: { beta: [\"http://127.0.0.1:10\"] }\n    rules: rules.yaml\n";
    std::fs::write(dir.path().join("outpost.yaml"), main).expect("write config");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(common::outpost_bin())
            .args(["rules", "test", "--config", "outpost.yaml"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run outpost rules test");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    };
    assert_eq!(
        run(&["http://shop.example.com/go/cart?x=1"]),
        "site:    example\nrule:    rules.yaml:8  match \"*.example.com/go/*\"\n  $1 = \"shop\"\n  $2 = \"cart\"\nactions:\n  redirect 307 -> https://shop.example.org/cart?x=1\n"
    );
    assert_eq!(
        run(&["example.com/api/users", "-H", "x-beta: 1"]),
        "site:    example\nrule:    rules.yaml:24  match \"example.com/api/*\"\n  $1 = \"users\"\nactions:\n  cache_level: bypass (never cached)\n  request header: remove x-secret\n  request header: set x-edge: outpost\n  response header: remove x-origin\n  response header: set x-api: beta\n  origin: pool beta\n"
    );
    assert_eq!(
        run(&["-X", "POST", "example.com/api/users", "-H", "x-beta: 1"]),
        "site:    example\nrule:    rules.yaml:33  match \"example.com/api/*\"\n  $1 = \"users\"\nactions:\n  request header: add x-edge: plain\n  response header: add x-api: stable\n",
        "the method condition fails, so the next rule applies"
    );
    assert_eq!(
        run(&["https://example.com/v1/a?b=c"]),
        "site:    example\nrule:    rules.yaml:35  match \"example.com/v1/*\"\n  $1 = \"a\"\nactions:\n  rewrite: origin gets /a?from=v1\n  host_header: internal.example\n"
    );
    assert_eq!(
        run(&["example.com/elsewhere"]),
        "site:    example\nrule:    none of the site's 16 rule(s) match; the site's defaults apply\n"
    );
    assert_eq!(
        run(&["other.test/"]),
        "no site serves host \"other.test\": Outpost answers 404\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn quick_mode_takes_a_rules_file() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("quick").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path().join("rules.yaml");
        std::fs::write(&rules, "- match: \"/old/*\"\n  actions: { forward: { to: \"/new/$1\", status: 308 } }\n- match: \"/*\"\n  actions: { set_response_headers: { x-quick: \"yes\" } }\n").expect("write");
        let (mut child, listen) = common::start_quick(
            &["--origin", &origin.url(), "--rules", rules.to_str().expect("utf8")],
            &dir.path().join("log"),
        );
        let r = client().get(format!("http://{listen}/old/a")).send().await.expect("request");
        assert_eq!(r.status().as_u16(), 308);
        assert_eq!(r.headers()["location"], "/new/a");
        let r = client().get(format!("http://{listen}/x")).send().await.expect("request");
        assert_eq!(r.headers()["x-quick"], "yes");
        assert_eq!(r.text().await.expect("body"), "hello from quick");
        let _ = child.kill();
        let _ = child.wait();
    })
    .await
    .expect("test timed out");
}
