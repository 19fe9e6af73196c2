//! The memory-hit fast path (proxy/src/hit_path) through the real binary: what it
//! answers is what pingora's full path would answer (headers, Age, HEAD, Vary,
//! purge, reloads), and what it must not answer (conditionals, ranges, rules,
//! stale objects) still gets the full path's answer. `outpost_cache_fast_hits_total`
//! shows which path answered.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, metric, raw_exchange, scrape, series_reaching};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn config(origin: &TestOrigin, admin: u16, extra_site: &str) -> String {
    format!(
        "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"127.0.0.1:{admin}\" }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n    compression: {{ enabled: false }}\n{extra_site}",
        origin.url()
    )
}

/// An origin and an Outpost in front of it with an admin listener; the extra YAML goes
/// into the site.
async fn start(extra_site: &str) -> (TestOrigin, Outpost, String, u16) {
    let origin = TestOrigin::start("o").await;
    let admin_port = common::free_port();
    let op = Outpost::start(&config(&origin, admin_port, extra_site));
    (origin, op, format!("127.0.0.1:{admin_port}"), admin_port)
}

async fn fast_hits(admin: &str) -> f64 {
    metric(&scrape(admin).await, "outpost_cache_fast_hits_total")
}

/// The fast-hit count once it reaches `want` (or after 5 s): a request is counted
/// when its answer has been written, which the client can see a moment before.
async fn fast_hits_reaching(admin: &str, want: f64) -> f64 {
    series_reaching(admin, "outpost_cache_fast_hits_total", want).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_hit_is_answered_whole_by_the_fast_path() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, op, admin, _) = start("").await;
        let c = client();
        let path = "/c?cc=max-age%3D60&etag=%22v1%22&size=2000";
        let miss = c.get(op.url(path)).send().await.expect("miss");
        assert_eq!(header(&miss, "cache-status"), "outpost; fwd=miss; stored");
        let miss_body = miss.text().await.expect("body");
        let before = fast_hits(&admin).await;

        let hit = c.get(op.url(path)).send().await.expect("hit");
        assert_eq!(hit.status(), 200);
        assert!(header(&hit, "cache-status").starts_with("outpost; hit; ttl="));
        assert_eq!(header(&hit, "etag"), "\"v1\"");
        assert_eq!(header(&hit, "x-origin"), "o");
        assert_eq!(header(&hit, "via"), "1.1 outpost");
        assert_eq!(header(&hit, "content-length"), "2000");
        assert!(!header(&hit, "outpost-request-id").is_empty());
        assert!(!header(&hit, "date").is_empty());
        assert_eq!(header(&hit, "age"), "0");
        assert_eq!(hit.text().await.expect("body"), miss_body);
        assert_eq!(
            fast_hits_reaching(&admin, before + 1.0).await,
            before + 1.0,
            "answered by the fast path"
        );
        assert_eq!(origin.hits.load(Ordering::SeqCst), 1);

        // HEAD: the same head, no body.
        let head = c.head(op.url(path)).send().await.expect("head");
        assert_eq!(head.status(), 200);
        assert_eq!(header(&head, "content-length"), "2000");
        assert!(head.bytes().await.expect("body").is_empty());

        // Age grows with the object's time in the cache.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let later = c.get(op.url(path)).send().await.expect("later");
        let age: u64 = header(&later, "age").parse().expect("age");
        assert!(age >= 2, "age {age}");
        let ttl: i64 = header(&later, "cache-status")
            .rsplit("ttl=")
            .next()
            .and_then(|t| t.parse().ok())
            .expect("ttl");
        assert!((55..=58).contains(&ttl), "ttl {ttl}");
        assert_eq!(fast_hits_reaching(&admin, before + 3.0).await, before + 3.0);

        // Two requests in one write (pipelined) are both answered, in order, and a
        // `Connection: close` request closes after its answer.
        let addr = op.http;
        // (The same Host as the client above: the host is part of the cache key.)
        let one = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let two = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let raw = raw_exchange(
            addr,
            format!("{one}{two}").as_bytes(),
            Duration::from_secs(5),
        );
        assert_eq!(raw.matches("HTTP/1.1 200").count(), 2, "{raw}");
        assert!(raw.contains("Connection: close"), "{raw}");
        assert_eq!(origin.hits.load(Ordering::SeqCst), 1);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn conditionals_ranges_and_varies_keep_the_full_paths_answers() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, op, admin, _) = start("").await;
        let c = client();
        let path = "/c?cc=max-age%3D60&etag=%22v1%22&size=100";
        c.get(op.url(path)).send().await.expect("miss");
        let before = fast_hits(&admin).await;

        // 304 on If-None-Match from the stored copy.
        let inm = c
            .get(op.url(path))
            .header("if-none-match", "\"v1\"")
            .send()
            .await
            .expect("conditional");
        assert_eq!(inm.status(), 304);
        assert!(header(&inm, "cache-status").starts_with("outpost; hit"));
        let other = c
            .get(op.url(path))
            .header("if-none-match", "\"v0\"")
            .send()
            .await
            .expect("conditional");
        assert_eq!(other.status(), 200);

        // A byte range of the stored copy.
        let range = c
            .get(op.url(path))
            .header("range", "bytes=10-19")
            .send()
            .await
            .expect("range");
        assert_eq!(range.status(), 206);
        assert_eq!(header(&range, "content-range"), "bytes 10-19/100");
        assert_eq!(range.text().await.expect("body").len(), 10);
        // (A fast hit would be counted a moment after its answer: give it that moment.)
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            fast_hits(&admin).await,
            before,
            "none of these is a fast hit"
        );
        assert_eq!(origin.hits.load(Ordering::SeqCst), 1);

        // Vary: each variant is a fast hit of its own; a variant not stored yet goes
        // to the origin.
        let vpath = "/c?cc=max-age%3D60&vary=accept-language";
        let get = |lang: &'static str| {
            let c = c.clone();
            let url = op.url(vpath);
            async move {
                c.get(url)
                    .header("accept-language", lang)
                    .send()
                    .await
                    .expect("vary")
                    .text()
                    .await
                    .expect("body")
            }
        };
        let en = get("en").await;
        let fr = get("fr").await;
        assert_eq!(origin.hits.load(Ordering::SeqCst), 3);
        let f0 = fast_hits(&admin).await;
        assert_eq!(get("en").await, en);
        assert_eq!(get("fr").await, fr);
        assert_eq!(get("en").await, en);
        assert_eq!(fast_hits_reaching(&admin, f0 + 3.0).await, f0 + 3.0);
        let de = get("de").await;
        assert!(de.ends_with("lang=de"), "{de}");
        assert_eq!(origin.hits.load(Ordering::SeqCst), 4);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn purges_expiry_rules_and_reloads_reach_the_fast_path() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, op, admin, admin_port) = start("").await;
        let c = client();
        let path = "/c?cc=max-age%3D1";
        c.get(op.url(path)).send().await.expect("miss");
        c.get(op.url(path)).send().await.expect("hit");
        assert_eq!(origin.hits.load(Ordering::SeqCst), 1);

        // Purge: the next request goes to the origin.
        let purge = c
            .post(format!("http://{admin}/purge"))
            .body(r#"{"purge_everything": true}"#)
            .send()
            .await
            .expect("purge");
        assert!(purge.status().is_success(), "{}", purge.status());
        let after = c.get(op.url(path)).send().await.expect("after purge");
        assert!(header(&after, "cache-status").contains("fwd=miss"));
        assert_eq!(origin.hits.load(Ordering::SeqCst), 2);

        // Expiry: a stale object is the full path's (revalidation), never a fast hit.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let before = fast_hits(&admin).await;
        let stale = c.get(op.url(path)).send().await.expect("stale");
        assert!(!header(&stale, "cache-status").starts_with("outpost; hit; ttl="));
        assert_eq!(origin.hits.load(Ordering::SeqCst), 3);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(fast_hits(&admin).await, before);

        // A reload that adds a rule with response headers: the next hit has them
        // (rules are the full path's), and one that makes the request id header
        // another name: hits carry the new one.
        let long = "/c?cc=max-age%3D60";
        c.get(op.url(long)).send().await.expect("miss");
        std::fs::write(
            op.dir.path().join("rules.yaml"),
            "- match: \"/c\"\n  actions: { set_response_headers: { x-rule: \"1\" } }\n",
        )
        .expect("rules");
        op.rewrite_config(&format!(
            "{}server: {{ request_id_header: x-req }}\n",
            config(&origin, admin_port, "    rules: rules.yaml\n")
        ));
        op.signal("HUP");
        let mut seen = false;
        for _ in 0..100 {
            let r = c.get(op.url(long)).send().await.expect("hit");
            if header(&r, "x-rule") == "1" {
                assert!(header(&r, "cache-status").starts_with("outpost; hit"));
                assert!(!header(&r, "x-req").is_empty());
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(seen, "the reloaded rule applies to hits");
        // Without the rule again, a hit is a fast hit with the new request id name.
        std::fs::write(op.dir.path().join("rules.yaml"), "[]\n").expect("rules");
        op.signal("HUP");
        let mut fast = false;
        for _ in 0..100 {
            let f0 = fast_hits(&admin).await;
            let r = c.get(op.url(long)).send().await.expect("hit");
            if header(&r, "x-rule").is_empty() && fast_hits(&admin).await > f0 {
                assert!(!header(&r, "x-req").is_empty());
                assert!(header(&r, "outpost-request-id").is_empty());
                fast = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(fast, "fast hits follow the reloaded request id header");
        assert_eq!(origin.hits.load(Ordering::SeqCst), 4);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_streams_and_h2c_get_the_same_hits() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let admin_port = common::free_port();
        let admin = format!("127.0.0.1:{admin_port}");
        let yaml = config(&origin, admin_port, "").replace(
            "listen: { http: \"{http}\" }",
            "listen: { http: \"{http}\", h2c: true }",
        );
        let op = Outpost::start(&yaml);
        let h1 = client();
        let h2 = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .expect("client");
        let path = "/c?cc=max-age%3D60&size=3000";
        let miss = h2.get(op.url(path)).send().await.expect("miss");
        assert_eq!(miss.version(), reqwest::Version::HTTP_2);
        let body = miss.text().await.expect("body");
        let before = fast_hits(&admin).await;
        for _ in 0..3 {
            let hit = h2.get(op.url(path)).send().await.expect("hit");
            assert_eq!(hit.version(), reqwest::Version::HTTP_2);
            assert!(header(&hit, "cache-status").starts_with("outpost; hit; ttl="));
            assert_eq!(header(&hit, "via"), "1.1 outpost");
            assert!(
                header(&hit, "connection").is_empty(),
                "no hop-by-hop fields in h2"
            );
            assert!(!header(&hit, "age").is_empty());
            assert_eq!(hit.text().await.expect("body"), body);
        }
        let head = h2.head(op.url(path)).send().await.expect("head");
        assert_eq!(head.status(), 200);
        assert!(head.bytes().await.expect("body").is_empty());
        assert_eq!(fast_hits_reaching(&admin, before + 4.0).await, before + 4.0);
        // With h2c on, HTTP/1 connections are pingora's (it looks for the preface):
        // the same answer, from the full path.
        let plain = h1.get(op.url(path)).send().await.expect("h1");
        assert!(header(&plain, "cache-status").starts_with("outpost; hit"));
        assert_eq!(plain.text().await.expect("body"), body);
        assert_eq!(origin.hits.load(Ordering::SeqCst), 1);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn fast_hits_are_logged_and_counted_like_any_hit() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let admin_port = common::free_port();
        let admin = format!("127.0.0.1:{admin_port}");
        let yaml = format!(
            "log: {{ format: json }}\n{}",
            config(&origin, admin_port, "")
        );
        let op = Outpost::start(&yaml);
        let c = client();
        let path = "/c?cc=max-age%3D60&size=700";
        c.get(op.url(path)).send().await.expect("miss");
        let before = scrape(&admin).await;
        let hit = c.get(op.url(path)).send().await.expect("hit");
        let id = header(&hit, "outpost-request-id");
        assert!(!id.is_empty());
        hit.bytes().await.expect("body");
        assert_eq!(fast_hits_reaching(&admin, 1.0).await, 1.0);
        // The access line carries the same fields as the full path's.
        op.wait_log(&format!("\"request_id\":\"{id}\""), 1);
        let line = op
            .log_text()
            .lines()
            .find(|l| l.contains(&id) && l.contains("outpost::access"))
            .expect("access line")
            .to_string();
        for field in [
            "\"method\":\"GET\"",
            "\"status\":200",
            "\"cache\":\"hit\"",
            "\"bytes\":700",
            "\"site\":\"default\"",
        ] {
            assert!(line.contains(field), "{field} in {line}");
        }
        // And the request series: one more 2xx hit, 700 more body bytes.
        let series = "outpost_requests_total{cache=\"hit\",site=\"default\",status=\"2xx\"}";
        let hits_before = if before.lines().any(|l| l.starts_with(series)) {
            metric(&before, series)
        } else {
            0.0
        };
        assert_eq!(
            series_reaching(&admin, series, hits_before + 1.0).await,
            hits_before + 1.0
        );
        let bytes = "outpost_response_body_bytes_total{site=\"default\"}";
        let bytes_before = metric(&before, bytes);
        assert_eq!(
            series_reaching(&admin, bytes, bytes_before + 700.0).await - bytes_before,
            700.0
        );
    })
    .await
    .expect("test timed out");
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map_or(String::new(), |v| v.to_str().unwrap_or("?").to_string())
}
