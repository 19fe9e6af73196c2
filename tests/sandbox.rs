//! The hook sandbox through the real binary: a memory bomb is stopped and the process
//! lives on, one tenant's runaway script does not hold up another's requests, and a
//! script replaced under load drops no request.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn start(origin: &TestOrigin, server: &str, scripts: &[(&str, &str)], extra: &[&str]) -> Outpost {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in scripts {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let yaml = format!(
        "listen: {{ http: \"{{http}}\" }}\nserver: {{ {server} }}\nsites:\n  - hosts: [bomb.test]\n    origins: [\"{o}\"]\n    script: bomb.js\n  - hosts: [spin.test]\n    origins: [\"{o}\"]\n    script: spin.js\n  - hosts: [calm.test]\n    origins: [\"{o}\"]\n    script: calm.js\n",
        o = origin.url()
    );
    Outpost::start_in(dir, &yaml, extra)
}

/// One JS thread, a 20 s CPU limit and a 32 MiB memory limit; `bomb` is bomb.test's
/// script.
fn start_with_bomb(origin: &TestOrigin, bomb: &str) -> Outpost {
    start(
        origin,
        "threads: 1, script_cpu_limit: 20s, script_memory_limit: 32MiB",
        &[("bomb.js", bomb), ("spin.js", SPIN), ("calm.js", CALM)],
        &[],
    )
}

// A 1 MiB string, then ever more copies of it (string concatenation does not count
// toward the loop limit, so the memory limit is what stops this).
/// These tests load the machine on purpose (a memory bomb, a spinning tenant, a
/// request storm); run one at a time so each measures itself, not the others.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BOMB: &str = "export default { fetch(r) { if (new URL(r.url).pathname === '/ok') return new Response('fine'); let s = 'x'; for (let i = 0; i < 20; i++) s = s + s; const a = []; for (;;) a.push(s + a.length); } };";
const SPIN: &str = "export default { fetch() { for (;;) {} } };";
const CALM: &str = "let v = 'v1'; export default { fetch() { return new Response(v); } };";

async fn get(
    c: &reqwest::Client,
    op: &Outpost,
    host: &str,
    path: &str,
) -> (u16, String, Option<String>) {
    let r = c
        .get(op.url(path))
        .header("host", host)
        .send()
        .await
        .expect("req");
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("outpost-error")
        .map(|v| v.to_str().expect("ascii").to_string());
    (status, r.text().await.expect("body"), kind)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_is_stopped_and_the_process_serves_on() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let op = start_with_bomb(&origin, BOMB);
        let c = common::client();
        let before = op.peak_rss();
        let (status, _, kind) = get(&c, &op, "bomb.test", "/boom").await;
        assert_eq!(status, 500);
        assert_eq!(kind.as_deref(), Some("memory-limit"));
        // The same script, recompiled, and the same thread serve the next request.
        assert_eq!(get(&c, &op, "bomb.test", "/ok").await.1, "fine");
        assert_eq!(get(&c, &op, "calm.test", "/").await.1, "v1");
        let (status, _, kind) = get(&c, &op, "bomb.test", "/boom").await;
        assert_eq!((status, kind.as_deref()), (500, Some("memory-limit")));
        // Stopped near its 32 MiB, not at the machine's limit.
        let grown = op.peak_rss().saturating_sub(before);
        assert!(grown < 512 << 20, "RSS grew by {grown} bytes");
        assert!(
            op.log_text()
                .contains("exceeded its memory limit of 32 MiB")
        );
    })
    .await
    .expect("timed out");
}

// The same 1 MiB string, 1 500 copies kept after an `await` (of nothing, or of a
// timer): that code runs as a promise job, which does not yield to the worker between
// slices as the handler's first part does; the loop's own check stops it.
const LATE_BOMB: &str = "export default { async fetch(r) { const path = new URL(r.url).pathname; if (path === '/ok') return new Response('fine'); if (path === '/timer') await new Promise((done) => setTimeout(done, 1)); else await null; let s = 'x'; for (let i = 0; i < 20; i++) s = s + s; const a = []; for (let i = 0; i < 1500; i++) a.push(s + i); return new Response('kept ' + a.length); } };";

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_after_an_await_is_stopped_too() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let op = start_with_bomb(&origin, LATE_BOMB);
        let c = common::client();
        let before = op.peak_rss();
        // Run by the handler's own start (`await null`), and by the worker when a timer
        // fires.
        for path in ["/boom", "/timer"] {
            let (status, _, kind) = get(&c, &op, "bomb.test", path).await;
            assert_eq!(
                (status, kind.as_deref()),
                (500, Some("memory-limit")),
                "{path}"
            );
        }
        // Stopped within a few dozen MiB of its 32 MiB, not after 1.5 GB.
        let grown = op.peak_rss().saturating_sub(before);
        assert!(grown < 256 << 20, "RSS grew by {grown} bytes");
        assert_eq!(get(&c, &op, "bomb.test", "/ok").await.1, "fine");
        assert_eq!(get(&c, &op, "calm.test", "/").await.1, "v1");
    })
    .await
    .expect("timed out");
}

// An HTMLRewriter handler that keeps 24 MiB per element: the page is parsed on the JS
// thread (no async handler), where the limit is checked before each handler.
const REWRITE_BOMB: &str = "export default { fetch(r) { if (new URL(r.url).pathname === '/ok') return new Response('fine'); return new HTMLRewriter().on('p', { element() { let s = 'x'; for (let i = 0; i < 20; i++) s = s + s; const kept = (globalThis.kept ??= []); for (let i = 0; i < 24; i++) kept.push(s + i); } }).transform(new Response('<p>x</p>'.repeat(50))); } };";

#[tokio::test(flavor = "multi_thread")]
async fn an_html_rewriter_handler_over_the_memory_limit_errors_its_page() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let op = start_with_bomb(&origin, REWRITE_BOMB);
        let c = common::client();
        let before = op.peak_rss();
        let r = c
            .get(op.url("/page"))
            .header("host", "bomb.test")
            .send()
            .await
            .expect("response head");
        // The head went out before the handlers ran: the body must fail, not end as if
        // the page were whole.
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.bytes().await.is_err(), "the page's body must fail");
        assert_eq!(get(&c, &op, "bomb.test", "/ok").await.1, "fine");
        assert_eq!(get(&c, &op, "calm.test", "/").await.1, "v1");
        let grown = op.peak_rss().saturating_sub(before);
        assert!(grown < 512 << 20, "RSS grew by {grown} bytes");
        assert!(
            op.log_text()
                .contains("exceeded its memory limit of 32 MiB")
        );
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_tenant_does_not_hold_up_another() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        // Two JS threads; the spinning tenant may burn 1 s per request.
        let op = start(
            &origin,
            "threads: 2, script_cpu_limit: 1s",
            &[("bomb.js", BOMB), ("spin.js", SPIN), ("calm.js", CALM)],
            &[],
        );
        let c = common::client();
        // Warm the calm tenant on both JS threads (sequential requests go round robin)
        // so no compile is measured: a debug build compiles for hundreds of ms on a
        // loaded machine.
        for _ in 0..4 {
            assert_eq!(get(&c, &op, "calm.test", "/").await.1, "v1");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let spins = Arc::new(AtomicUsize::new(0));
        let spinner = {
            let (c, stop, spins, url) = (c.clone(), stop.clone(), spins.clone(), op.url("/"));
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let r = c
                        .get(&url)
                        .header("host", "spin.test")
                        .send()
                        .await
                        .expect("req");
                    assert_eq!(r.headers()["outpost-error"], "cpu-limit");
                    spins.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            let t = Instant::now();
            assert_eq!(get(&c, &op, "calm.test", "/").await.1, "v1");
            worst = worst.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::SeqCst);
        spinner.await.expect("spinner");
        assert!(spins.load(Ordering::SeqCst) >= 1);
        // A calm request that queued behind a spinning one would wait up to 1 s.
        assert!(
            worst < Duration::from_millis(500),
            "worst calm latency {worst:?}"
        );
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_script_replaced_under_load_drops_no_request() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let op = start(
            &origin,
            "threads: 2",
            &[("bomb.js", BOMB), ("spin.js", SPIN), ("calm.js", CALM)],
            &["--watch"],
        );
        let c = common::client();
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let mut load = Vec::new();
        for _ in 0..4 {
            let (c, stop, failures, served, url) = (
                c.clone(),
                stop.clone(),
                failures.clone(),
                served.clone(),
                op.url("/"),
            );
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    match c.get(&url).header("host", "calm.test").send().await {
                        Ok(r) if r.status() == 200 => {
                            let body = r.text().await.unwrap_or_default();
                            if body != "v1" && body != "v2" {
                                eprintln!("unexpected body {body:?}");
                                failures.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        other => {
                            match other {
                                Ok(r) => eprintln!("status {} {:?}", r.status(), r.text().await),
                                Err(e) => eprintln!("error {e}"),
                            }
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    served.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(op.dir.path().join("calm.js"), CALM.replace("'v1'", "'v2'"))
            .expect("rewrite");
        let changed = Instant::now();
        loop {
            if get(&c, &op, "calm.test", "/").await.1 == "v2" {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(10),
                "new version never served"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = changed.elapsed();
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::SeqCst);
        for t in load {
            t.await.expect("load task");
        }
        assert_eq!(
            failures.load(Ordering::SeqCst),
            0,
            "failed requests during the deploy; the log says:\n{}",
            op.log_text()
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(served.load(Ordering::SeqCst) > 20);
        eprintln!("new version served {took:?} after the file changed");
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_subrequests_and_a_redos_are_contained() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        // bomb.test makes 10 000 subrequests; spin.test runs a catastrophic regex.
        let fan = "export default { async fetch(req) { let ok = 0, refused = 0, msg = ''; for (let i = 0; i < 10000; i++) { try { await (await fetch(new URL('/c?cc=max-age%3D60&i=' + i, req.url))).text(); ok++; } catch (e) { refused++; msg = String(e); } } return new Response(ok + ' ' + refused + ' ' + msg); } };";
        let redos = "export default { fetch() { return new Response(String(/^(a+)+$/.test('a'.repeat(40) + '!'))); } };";
        let op = start(
            &origin,
            "threads: 2, script_cpu_limit: 1s",
            &[("bomb.js", fan), ("spin.js", redos), ("calm.js", CALM)],
            &[],
        );
        let c = common::client();
        let before = origin.hits.load(Ordering::SeqCst);
        let (status, body, kind) = get(&c, &op, "bomb.test", "/").await;
        let made = origin.hits.load(Ordering::SeqCst) - before;
        eprintln!("10 000 subrequests: {status} {body:?} {kind:?}, origin saw {made}");
        assert!(made <= 50, "at most 50 subrequests reach the origin, saw {made}");
        if status == 200 {
            assert!(body.starts_with("50 9950 "), "{body}");
            assert!(body.contains("too many subrequests"), "{body}");
        } else {
            assert!(kind.is_some(), "a clear error: {status} {body}");
        }
        // The ReDoS: the request fails (the thread is replaced after 5 s) and the
        // process, and another tenant, are fine.
        let started = Instant::now();
        let (status, _, kind) = get(&c, &op, "spin.test", "/").await;
        assert_eq!((status, kind.as_deref()), (500, Some("runtime-limit")));
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(get(&c, &op, "calm.test", "/").await.1, "v1");
        op.wait_log("a JS thread is stuck in one call", 1);
    })
    .await
    .expect("timed out");
}
