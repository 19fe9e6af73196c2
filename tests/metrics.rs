//! `GET /metrics` on the admin API after real traffic: the series count what the test
//! sent (requests by cache outcome and status class, rule hits, hook runs, HTML
//! rewrites, reloads, origin health, bytes).

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, metric as value, scrape};

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_was_sent() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let admin = format!("127.0.0.1:{}", common::free_port());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("rules.yaml"),
            "- match: \"/hook/*\"\n  actions: { script: hook.js }\n- match: \"/page/*\"\n  actions: { html_rewrite: strip_comments }\n",
        )
        .expect("rules");
        std::fs::write(
            dir.path().join("hook.js"),
            "export default { fetch() { return new Response('<!-- x --><p>hi</p>', { headers: { 'content-type': 'text/html' } }); } };",
        )
        .expect("hook");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - name: shop\n    default: true\n    origins: [\"{}\"]\n    rules: rules.yaml\n",
            origin.url()
        );
        let o = Outpost::start_in(dir, &yaml, &[]);
        let c = client();
        // 1 miss + 2 hits of a cacheable object.
        for _ in 0..3 {
            let r = c.get(o.url("/c?cc=max-age%3D60")).send().await.expect("get");
            assert_eq!(r.status(), 200);
            r.bytes().await.expect("body");
        }
        // Two hook runs.
        for _ in 0..2 {
            let r = c.get(o.url("/hook/a")).send().await.expect("hook");
            assert_eq!(r.status(), 200);
        }
        // A failed reload, then a good one.
        let good = std::fs::read_to_string(&o.config).expect("config");
        std::fs::write(&o.config, "listen: [oops").expect("break config");
        let r = c.post(format!("http://{admin}/reload")).send().await.expect("reload");
        assert_ne!(r.status(), 200);
        std::fs::write(&o.config, &good).expect("restore config");
        let r = c.post(format!("http://{admin}/reload")).send().await.expect("reload");
        assert_eq!(r.status(), 200);

        let text = scrape(&admin).await;
        assert_eq!(value(&text, r#"outpost_requests_total{cache="miss",site="shop",status="2xx"}"#), 1.0, "{text}");
        assert_eq!(value(&text, r#"outpost_requests_total{cache="hit",site="shop",status="2xx"}"#), 2.0);
        assert_eq!(value(&text, r#"outpost_requests_total{cache="script",site="shop",status="2xx"}"#), 2.0);
        let runs = text
            .lines()
            .find(|l| l.starts_with(r#"outpost_script_runs_total{outcome="ok",script=""#) && l.contains("hook.js"))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or("none");
        assert_eq!(runs, "2", "{text}");
        assert_eq!(value(&text, r#"outpost_rule_hits_total{rule="rules.yaml:1"}"#), 2.0);
        assert_eq!(value(&text, r#"outpost_config_reloads_total{result="failed"}"#), 1.0);
        assert_eq!(value(&text, r#"outpost_config_reloads_total{result="ok"}"#), 1.0);
        assert!(text.contains("outpost_config_info{generation=\"2\",hash=\""), "{text}");
        assert_eq!(value(&text, &format!("outpost_origin_up{{origin=\"{}\",site=\"shop\"}}", origin.url())), 1.0);
        assert_eq!(value(&text, r#"outpost_request_duration_seconds_count{site="shop"}"#), 5.0);
        assert!(value(&text, r#"outpost_response_body_bytes_total{site="shop"}"#) > 0.0);
        assert_eq!(value(&text, r#"outpost_cache_lookups{result="memory_hit"}"#), 2.0);
        assert_eq!(value(&text, "outpost_requests_in_flight"), 0.0);
        assert_eq!(value(&text, r#"outpost_js_threads_replaced{reason="stuck"}"#), 0.0);
        assert_eq!(value(&text, r#"outpost_js_threads_replaced{reason="worn"}"#), 0.0);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_carries_the_request_id_of_its_log_line() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("rules.yaml"),
            "- match: \"/old/*\"\n  actions: { forward: { to: \"/new/$1\" } }\n",
        )
        .expect("rules");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nlog: {{ format: json }}\nsites:\n  - hosts: [a.test]\n    origins: [\"{}\"]\n    rules: rules.yaml\n",
            origin.url()
        );
        let o = Outpost::start_in(dir, &yaml, &[]);
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut ids = Vec::new();
        // Proxied, redirected by a rule, and refused (no site for the host).
        for (host, path, status) in [("a.test", "/x", 200), ("a.test", "/old/y", 301), ("b.test", "/", 404)] {
            let r = c
                .get(o.url(path))
                .header("host", host)
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), status, "{host}{path}");
            let id = r
                .headers()
                .get("outpost-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{host}{path}: no request id"))
                .to_string();
            ids.push(id);
        }
        assert!(ids[0] != ids[1] && ids[1] != ids[2]);
        for id in &ids {
            o.wait_log(&format!("\"request_id\":\"{id}\""), 1);
        }
        // Renamed, then turned off, by a reload.
        let named = yaml.replace("log: {", "server: { request_id_header: X-Req }\nlog: {");
        o.rewrite_config(&named);
        o.signal("HUP");
        o.wait_log("configuration reloaded", 1);
        let r = c.get(o.url("/x")).header("host", "a.test").send().await.expect("request");
        assert!(r.headers().get("x-req").is_some() && r.headers().get("outpost-request-id").is_none());
        let off = yaml.replace("log: {", "server: { request_id_header: \"\" }\nlog: {");
        o.rewrite_config(&off);
        o.signal("HUP");
        o.wait_log("configuration reloaded", 2);
        let r = c.get(o.url("/x")).header("host", "a.test").send().await.expect("request");
        assert!(r.headers().get("x-req").is_none() && r.headers().get("outpost-request-id").is_none());
    })
    .await
    .expect("test timed out");
}

/// Waits (bounded) until `path` contains `needle`.
fn wait_file(path: &std::path::Path, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never showed {needle:?}:\n{}",
            path.display(),
            std::fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_file_is_reopened_on_sigusr1() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nlog: {{ file: logs/outpost.log, format: json }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n",
            origin.url()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("logs")).expect("logs dir");
        let o = Outpost::start_in(dir, &yaml, &[]);
        let log = o.dir.path().join("logs/outpost.log");
        let rotated = o.dir.path().join("logs/outpost.log.1");
        let c = client();
        let id = |r: &reqwest::Response| {
            r.headers()
                .get("outpost-request-id")
                .and_then(|v| v.to_str().ok())
                .expect("request id")
                .to_string()
        };
        let first = id(&c.get(o.url("/a")).send().await.expect("request"));
        wait_file(&log, &format!("\"request_id\":\"{first}\""));
        // What logrotate does: move the file away, then signal.
        std::fs::rename(&log, &rotated).expect("rotate");
        o.signal("USR1");
        wait_file(&log, "log file reopened");
        let second = id(&c.get(o.url("/b")).send().await.expect("request"));
        wait_file(&log, &format!("\"request_id\":\"{second}\""));
        let old = std::fs::read_to_string(&rotated).expect("rotated log");
        assert!(old.contains(&first) && !old.contains(&second), "{old}");
        assert!(!std::fs::read_to_string(&log).expect("log").contains(&first));
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_admin_endpoint_answers_without_the_token() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let admin = format!("127.0.0.1:{}", common::free_port());
        let dir = tempfile::tempdir().expect("tempdir");
        let token = "s3cret-token-for-the-test";
        std::fs::write(dir.path().join("admin.token"), format!("{token}\n")).expect("token");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\", token_file: admin.token }}\ncache: {{ memory: 16MiB }}\nkv: {{ path: kv.redb }}\nsites:\n  - name: shop\n    default: true\n    origins: [\"{}\"]\n    kv: {{ STORE: main }}\n",
            origin.url()
        );
        let o = Outpost::start_in(dir, &yaml, &[]);
        let c = client();
        let calls: &[(&str, &str)] = &[
            ("GET", "/status"),
            ("GET", "/metrics"),
            ("GET", "/origins"),
            ("GET", "/cache/stats"),
            ("POST", "/purge"),
            ("POST", "/reload"),
            ("GET", "/kv/main/k"),
            ("PUT", "/kv/main/k"),
            ("DELETE", "/kv/main/k"),
            ("GET", "/kv/main"),
            ("GET", "/scripts"),
            ("PUT", "/scripts/hook.js"),
            ("GET", "/no-such-endpoint"),
        ];
        for (method, path) in calls {
            for auth in [None, Some("wrong"), Some("Bearer"), Some(&format!("{token}x")[..])] {
                let mut req = c.request(
                    reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                    format!("http://{admin}{path}"),
                );
                if let Some(a) = auth {
                    req = req.bearer_auth(a);
                }
                let r = req.body("{\"purge_everything\":true}").send().await.expect("admin");
                assert_eq!(r.status(), 401, "{method} {path} with {auth:?}");
                let body = r.text().await.expect("body");
                assert!(body.contains("\"success\":false"), "{body}");
            }
        }
        // With the token: the origin list says the origin takes traffic.
        let r = c
            .get(format!("http://{admin}/origins"))
            .bearer_auth(token)
            .send()
            .await
            .expect("origins");
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["origins"][0]["origin"], origin.url());
        assert_eq!(v["origins"][0]["healthy"], true);
        assert_eq!(v["origins"][0]["site"], "shop");
        let r = c
            .get(format!("http://{admin}/status"))
            .bearer_auth(token)
            .send()
            .await
            .expect("status");
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["config_hash"].as_str().map(str::len), Some(16), "{v}");
        drop(o);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_block_per_key_with_retry_after() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("rules.yaml"),
            concat!(
                "- match: \"/login\"\n  actions: { rate_limit: { requests: 3, per: 1h, key: \"header:x-user\" } }\n",
                "- match: \"/search/*\"\n  actions: { rate_limit: { requests: 2, per: 1h, action: challenge_header } }\n",
            ),
        )
        .expect("rules");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n    rules: rules.yaml\n",
            origin.url()
        );
        let o = Outpost::start_in(dir, &yaml, &[]);
        let c = client();
        let login = |user: &'static str| c.get(o.url("/login")).header("x-user", user).send();
        for i in 1..=3 {
            assert_eq!(login("ann").await.expect("login").status(), 200, "request {i}");
        }
        let r = login("ann").await.expect("login");
        assert_eq!(r.status(), 429, "the 4th request in the window");
        assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("3600"));
        // Another key has its own count.
        assert_eq!(login("bob").await.expect("login").status(), 200);
        // challenge_header: over the limit, the origin is told (echo shows the header).
        let mut seen = Vec::new();
        for _ in 0..3 {
            let body = c
                .get(o.url("/search/echo"))
                .send()
                .await
                .expect("search")
                .text()
                .await
                .expect("body");
            seen.push(body.contains("outpost-rate-limited: 1"));
        }
        assert_eq!(seen, [false, false, true]);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn ip_allow_and_deny_lists_refuse_with_403() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let site = |lists: &str| {
            format!(
                "listen: {{ http: \"{{http}}\" }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n{lists}",
                origin.url()
            )
        };
        let o = Outpost::start(&site("    ip_allow: [\"127.0.0.0/8\", \"::1\"]\n"));
        let c = client();
        assert_eq!(c.get(o.url("/a")).send().await.expect("get").status(), 200);
        let mut reloads = 0;
        for (lists, want) in [
            ("    ip_allow: [\"10.0.0.0/8\"]\n", 403),
            ("    ip_deny: [\"127.0.0.1\"]\n", 403),
            ("    ip_allow: [\"127.0.0.0/8\"]\n    ip_deny: [\"192.0.2.0/24\"]\n", 200),
        ] {
            o.rewrite_config(&site(lists));
            o.signal("HUP");
            reloads += 1;
            o.wait_log("configuration reloaded", reloads);
            let r = c.get(o.url("/a")).send().await.expect("get");
            assert_eq!(r.status(), want, "{lists}");
            if want == 403 {
                assert!(r.text().await.expect("body").contains("does not serve your network"));
            }
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_deploy_through_the_admin_api_only_when_they_compile() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let admin = format!("127.0.0.1:{}", common::free_port());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("hooks")).expect("dir");
        let hook = |v: &str| {
            format!("export default {{ fetch() {{ return new Response('{v}'); }} }};")
        };
        std::fs::write(dir.path().join("hooks/api.js"), hook("v1")).expect("hook");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\nsites:\n  - name: shop\n    default: true\n    origins: [\"{}\"]\n    script: hooks/api.js\n",
            origin.url()
        );
        let o = Outpost::start_in(dir, &yaml, &[]);
        let file = o.config.parent().expect("dir").join("hooks/api.js");
        let c = client();
        let served = || async { c.get(o.url("/")).send().await.expect("get").text().await.expect("body") };
        assert_eq!(served().await, "v1");

        let r = c.get(format!("http://{admin}/scripts")).send().await.expect("list");
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["scripts"][0]["name"], "hooks/api.js", "{v}");
        assert_eq!(v["scripts"][0]["sites"][0], "shop", "{v}");

        let put = |name: &str, body: String| {
            c.put(format!("http://{admin}/scripts/{name}")).body(body).send()
        };
        // Refused, and nothing changes: a syntax error, a module without a fetch
        // handler, a name the config does not use.
        for (name, body, status, says) in [
            ("hooks/api.js", "export default { fetch( {".to_string(), 422, "script rejected"),
            ("api.js", "export const x = 1;".to_string(), 422, "script rejected"),
            ("other.js", hook("v9"), 404, "no script \\\"other.js\\\""),
        ] {
            let r = put(name, body).await.expect("put");
            assert_eq!(r.status(), status, "{name}");
            let text = r.text().await.expect("body");
            assert!(text.contains("\"success\":false") && text.contains(says), "{text}");
            assert_eq!(served().await, "v1");
            assert_eq!(std::fs::read_to_string(&file).expect("file"), hook("v1"));
        }
        // A good one (by its file name) serves at once and is on disk for restarts.
        let r = put("api.js", hook("v2")).await.expect("put");
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["success"], true, "{v}");
        assert_eq!(served().await, "v2");
        assert_eq!(std::fs::read_to_string(&file).expect("file"), hook("v2"));
    })
    .await
    .expect("test timed out");
}
