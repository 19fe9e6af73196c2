//! A flood of hooked requests against a slow hook: the JS threads' queues are bounded
//! (server.script_queue_*), so every request is answered in bounded time — served, or
//! refused at once with 503 + Retry-After — memory stays flat, and the refusals are
//! counted and logged once per interval, not once per request.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, free_port};
use std::time::{Duration, Instant};

/// CPU-bound for a few milliseconds per request (the thread cannot serve others).
const SLOW_HOOK: &str = r#"
export default {
  fetch() {
    let x = 0;
    for (let i = 0; i < 20000; i++) { x = (x + i * 7) % 1000003; }
    return new Response(`done ${x}`);
  },
};
"#;

/// `n` concurrent requests: (status, has Retry-After, latency) each.
async fn flood(url: &str, n: usize) -> Vec<(u16, bool, Duration)> {
    let c = client();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let c = c.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let r = c.get(url).send().await.expect("every request is answered");
            let status = r.status().as_u16();
            let retry = r.headers().contains_key("retry-after");
            let _ = r.bytes().await;
            (status, retry, started.elapsed())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_hooked_requests_gets_bounded_queues_and_prompt_503s() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let origin = TestOrigin::start("origin").await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("slow.js"), SLOW_HOOK).expect("write");
        let admin = format!("127.0.0.1:{}", free_port());
        let op = Outpost::start_in(
            dir,
            &format!(
                "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\nserver:\n  threads: 1\n  script_cpu_limit: 500ms\n  script_queue_per_thread: 8\n  script_queue_timeout: 300ms\nsites:\n  - default: true\n    origins: [\"{}\"]\n    script: slow.js\n",
                origin.url()
            ),
            &[],
        );
        let url = op.url("/");
        assert_eq!(client().get(&url).send().await.expect("warm").status(), 200);

        let first = flood(&url, 150).await;
        let rss_after_first = op.peak_rss();
        let mut all = first;
        for _ in 0..3 {
            all.extend(flood(&url, 150).await);
        }
        let served = all.iter().filter(|(s, _, _)| *s == 200).count();
        let refused: Vec<_> = all.iter().filter(|(s, _, _)| *s == 503).collect();
        assert_eq!(served + refused.len(), all.len(), "only 200s and 503s");
        assert!(served > 0, "the hook still serves under a flood");
        assert!(!refused.is_empty(), "a queue bound of 8 must refuse part of 150 at once");
        assert!(refused.iter().all(|(_, retry, _)| *retry), "503s carry Retry-After");
        let slowest = all.iter().map(|(_, _, t)| *t).max().unwrap_or_default();
        // Queue wait (300 ms) plus at most one run (500 ms CPU limit), plus slack for a
        // debug build on a busy machine: never the unbounded wait of an unbounded queue.
        assert!(slowest < Duration::from_secs(4), "a request waited {slowest:?}");

        // Memory: three more floods do not grow the peak beyond noise.
        let rss_after_all = op.peak_rss();
        assert!(
            rss_after_all < rss_after_first + (24 << 20),
            "peak RSS grew from {} to {} MiB",
            rss_after_first >> 20,
            rss_after_all >> 20
        );

        let metrics = common::scrape(&admin).await;
        let counted: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("outpost_script_runs_total{") && l.contains("script-overloaded"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert_eq!(counted as usize, refused.len(), "every refusal is counted");
        let lines = op.log_text().matches("hooked requests refused with 503").count();
        assert!(lines >= 1, "refusals are logged");
        assert!(
            lines <= 8,
            "{lines} log lines for {} refusals: logged per interval, not per request",
            refused.len()
        );
        eprintln!(
            "{} served, {} refused, slowest {slowest:?}, peak RSS {} -> {} MiB, {lines} log lines",
            served,
            refused.len(),
            rss_after_first >> 20,
            rss_after_all >> 20
        );
    })
    .await
    .expect("within the bound");
}
