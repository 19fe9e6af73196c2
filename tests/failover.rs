//! Origin pools: failover, clean 502/504 pages, health checks, consistent hashing.

mod common;

use common::origin::{TestOrigin, blackhole, closed_port_url};
use common::{Outpost, TEST_TIMEOUT, client};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Which origins answered `n` requests for `/`.
async fn origins_seen(c: &reqwest::Client, op: &Outpost, n: usize) -> HashSet<String> {
    let mut seen = HashSet::new();
    for _ in 0..n {
        let r = c.get(op.url("/")).send().await.expect("request");
        assert_eq!(r.status(), 200);
        seen.insert(r.headers()["x-origin"].to_str().expect("str").to_string());
    }
    seen
}

fn pool_config(origins: &[String], extra: &str) -> String {
    let list = origins
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "listen: {{ http: \"{{http}}\" }}\nsites:\n  - default: true\n    origins: [{list}]\n    timeouts: {{ connect: 1s, read: 1s }}\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn one_origin_down_requests_keep_succeeding_both_down_502() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b) = (TestOrigin::start("a").await, TestOrigin::start("b").await);
        let op = Outpost::start(&pool_config(&[a.url(), b.url()], ""));
        let c = client();
        let seen = origins_seen(&c, &op, 6).await;
        assert_eq!(seen.len(), 2, "round robin reaches both origins");

        a.stop();
        for i in 0..20 {
            let r = c.get(op.url("/")).send().await.expect("request");
            assert_eq!(r.status(), 200, "request {i} after origin a died");
            assert_eq!(r.headers()["x-origin"], "b");
        }

        b.stop();
        let started = Instant::now();
        let r = c.get(op.url("/")).send().await.expect("request");
        assert_eq!(r.status(), 502);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "502 within the connect timeout"
        );
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        let body = r.text().await.expect("body");
        assert!(body.starts_with("502 Bad Gateway"), "{body}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn hung_origin_gives_504_within_read_timeout() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (addr, _task) = blackhole().await;
        let op = Outpost::start(&pool_config(
            &[format!("http://{addr}")],
            "    retries: 0\n",
        ));
        let started = Instant::now();
        let r = client().get(op.url("/")).send().await.expect("request");
        assert_eq!(r.status(), 504);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "{took:?}"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_origin_is_retried_on_the_next_one() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let b = TestOrigin::start("b").await;
        // The dead origin is first in the list, so round robin hits it half the time.
        let op = Outpost::start(&pool_config(
            &[closed_port_url(), b.url()],
            "    passive_health: { max_failures: 1000 }\n",
        ));
        let c = client();
        for _ in 0..10 {
            let r = c.get(op.url("/")).send().await.expect("request");
            assert_eq!(r.status(), 200);
        }
        assert_eq!(b.hits.load(std::sync::atomic::Ordering::SeqCst), 10);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn active_health_check_takes_origin_out_and_back() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b) = (TestOrigin::start("a").await, TestOrigin::start("b").await);
        let op = Outpost::start(&pool_config(
            &[a.url(), b.url()],
            "    health_check: { path: /health, interval: 200ms, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 2 }\n",
        ));
        a.health_status.store(503, std::sync::atomic::Ordering::SeqCst);
        // Two failed probes at 200 ms intervals; allow generous slack.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let c = client();
        let before = a.hits.load(std::sync::atomic::Ordering::SeqCst);
        for _ in 0..10 {
            let r = c.get(op.url("/")).send().await.expect("request");
            assert_eq!(r.headers()["x-origin"], "b");
        }
        assert_eq!(a.hits.load(std::sync::atomic::Ordering::SeqCst), before);

        a.health_status.store(200, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let seen = origins_seen(&c, &op, 6).await;
        assert!(seen.contains("a"), "a is back in rotation: {seen:?}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn consistent_hash_keeps_a_path_on_one_origin() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origins = [
            TestOrigin::start("a").await,
            TestOrigin::start("b").await,
            TestOrigin::start("c").await,
        ];
        let urls: Vec<String> = origins.iter().map(|o| o.url()).collect();
        let op = Outpost::start(&pool_config(&urls, "    balance: consistent_hash\n"));
        let c = client();
        let mut spread = HashSet::new();
        for k in 0..20 {
            let path = format!("/item/{k}");
            let first = c
                .get(op.url(&path))
                .send()
                .await
                .expect("request")
                .headers()["x-origin"]
                .clone();
            for _ in 0..3 {
                let again = c
                    .get(op.url(&path))
                    .send()
                    .await
                    .expect("request")
                    .headers()["x-origin"]
                    .clone();
                assert_eq!(first, again, "{path} stays on one origin");
            }
            spread.insert(first.to_str().expect("str").to_string());
        }
        assert!(spread.len() >= 2, "keys spread over origins: {spread:?}");
    })
    .await
    .expect("test timed out");
}
