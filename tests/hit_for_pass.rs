//! Hit-for-pass (proxy/src/hit_path/pass/) through the real binary: once the origin
//! says a key must not be stored, its next requests go straight to the origin over
//! the fast path's own connections, and both the origin and the client see what
//! pingora's full path gives them (the same forwarded fields, the same answer). What
//! the pass does not relay itself (compressible answers, a dead origin, an answer that
//! became storable) still gets the full path's answer. `outpost_cache_fast_passes_total`
//! shows which path answered.

mod common;

use common::origin::{TestOrigin, serve};
use common::{Outpost, TEST_TIMEOUT, client, raw_exchange, series_reaching};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(origin: &str, admin: u16, site: &str) -> String {
    format!(
        "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"127.0.0.1:{admin}\" }}\nsites:\n  - default: true\n    origins: [\"{origin}\"]\n{site}"
    )
}

fn start(origin: &str, site: &str) -> (Outpost, String) {
    let admin = common::free_port();
    let op = Outpost::start(&config(origin, admin, site));
    (op, format!("127.0.0.1:{admin}"))
}

/// `outpost_cache_fast_passes_total` once it reaches `want` (or after 5 s): a pass is
/// counted after its answer is written, which the client sees a moment before.
async fn passes_reaching(admin: &str, want: f64) -> f64 {
    series_reaching(admin, "outpost_cache_fast_passes_total", want).await
}

/// The response's fields as `name: value` lines, without the ones that differ per
/// response by design.
fn fields(r: &reqwest::Response) -> BTreeSet<String> {
    r.headers()
        .iter()
        .filter(|(n, _)| !["date", "outpost-request-id"].contains(&n.as_str()))
        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_the_origin_will_not_have_stored_passes_with_the_full_paths_answer() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let (op, admin) = start(&origin.url(), "    compression: { enabled: false }\n");
        let c = client();
        let path = "/c?cc=no-store&size=3000";
        let first = c.get(op.url(path)).send().await.expect("first");
        assert_eq!(first.status(), 200);
        assert_eq!(
            common::header_text(&first, "cache-status"),
            "outpost; fwd=miss"
        );
        let first_fields = fields(&first);
        let first_body = first.text().await.expect("body");
        assert_eq!(
            passes_reaching(&admin, 0.0).await,
            0.0,
            "the first is the full path's"
        );

        let second = c.get(op.url(path)).send().await.expect("second");
        assert_eq!(second.status(), 200);
        assert_eq!(fields(&second), first_fields, "same head as the full path");
        assert!(!common::header_text(&second, "outpost-request-id").is_empty());
        assert!(
            !common::header_text(&second, "date").is_empty(),
            "the origin's Date"
        );
        let second_body = second.text().await.expect("body");
        assert_eq!(second_body.len(), 3000);
        assert_eq!(
            second_body.replace("#2", "#1"),
            first_body,
            "asked again: {second_body:.20}"
        );
        assert_eq!(
            passes_reaching(&admin, 1.0).await,
            1.0,
            "passed by the fast path"
        );
        assert_eq!(origin.hits.load(Ordering::SeqCst), 2, "never stored");

        // HEAD: the head, no body, and the connection stays usable.
        let head = c.head(op.url(path)).send().await.expect("head");
        assert_eq!(head.status(), 200);
        assert_eq!(common::header_text(&head, "content-length"), "3000");
        assert!(head.bytes().await.expect("body").is_empty());
        assert_eq!(passes_reaching(&admin, 2.0).await, 2.0);

        // Two pipelined requests, the second with `Connection: close`: both answered
        // in order, then the connection closes.
        let host = op.http;
        let one = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let two = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let raw = raw_exchange(
            host,
            format!("{one}{two}").as_bytes(),
            Duration::from_secs(5),
        );
        assert_eq!(raw.matches("HTTP/1.1 200 OK").count(), 2, "{raw}");
        assert!(raw.contains("Connection: close"), "{raw}");
        assert_eq!(passes_reaching(&admin, 4.0).await, 4.0);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_origin_sees_the_same_request_from_either_path() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // `/echo` gives no lifetime: not stored (Outpost does not guess one), so the
        // key is marked after the full path's answer and passed from then on.
        let origin = TestOrigin::start("o").await;
        let (op, admin) = start(&origin.url(), "    compression: { enabled: false }\n");
        let c = client();
        let ask = || async {
            let r = c
                .get(op.url("/api/echo?q=1"))
                .header("x-forwarded-for", "203.0.113.9")
                .header("via", "1.0 first-hop")
                .header("x-original-url", "/admin")
                .header("x-forwarded-host", "evil.example")
                .header("x-custom", "kept")
                .header("keep-alive", "timeout=5")
                .send()
                .await
                .expect("echo");
            assert_eq!(r.status(), 200);
            r.text().await.expect("body")
        };
        let seen = |body: &str| -> BTreeSet<String> {
            body.lines().skip(1).map(str::to_ascii_lowercase).collect()
        };
        let full = ask().await;
        let passed = ask().await;
        assert_eq!(
            passes_reaching(&admin, 1.0).await,
            1.0,
            "the second was passed"
        );
        assert_eq!(
            full.lines().next(),
            passed.lines().next(),
            "method and target"
        );
        assert_eq!(
            seen(&passed),
            seen(&full),
            "full path:\n{full}\npass:\n{passed}"
        );
        let fwd = seen(&passed);
        assert!(
            fwd.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1"),
            "{passed}"
        );
        assert!(fwd.contains("via: 1.0 first-hop, 1.1 outpost"), "{passed}");
        assert!(fwd.contains("x-forwarded-proto: http"), "{passed}");
        assert!(fwd.contains("x-custom: kept"), "{passed}");
        assert!(
            fwd.iter().any(|l| l.starts_with("cdn-loop: outpost; id=")),
            "{passed}"
        );
        assert!(
            !fwd.iter().any(|l| l.starts_with("x-original-url")),
            "{passed}"
        );
        assert!(!fwd.iter().any(|l| l.starts_with("keep-alive")), "{passed}");
        assert!(!fwd.contains("x-forwarded-host: evil.example"), "{passed}");
        let again = ask().await;
        assert_eq!(seen(&again), seen(&full));
        assert_eq!(passes_reaching(&admin, 2.0).await, 2.0, "still marked");
    })
    .await
    .expect("test timed out");
}

/// A raw HTTP/1.1 origin answering every request with a chunked body in three chunks
/// and a trailer section, marked `private`, on kept-alive connections; counts the
/// connections it accepts.
async fn chunked_origin() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connects = Arc::new(AtomicUsize::new(0));
    let counted = connects.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                            Cache-Control: private\r\nTransfer-Encoding: chunked\r\n\r\n\
                            5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 11\r\n\r\n";
                        // In two writes, split inside a chunk's data.
                        let (a, b) = answer.split_at(answer.len() - 30);
                        if s.write_all(a.as_bytes()).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        if s.write_all(b.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, connects)
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_answers_are_relayed_whole_over_reused_origin_connections() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (addr, connects) = chunked_origin().await;
        let (op, admin) = start(&format!("http://{addr}"), "");
        // One client connection for all requests, as a browser would.
        let c = reqwest::Client::builder().build().expect("client");
        for i in 0..6 {
            let r = c.get(op.url("/stream")).send().await.expect("get");
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.expect("body"), "hello world", "request {i}");
        }
        assert_eq!(
            passes_reaching(&admin, 5.0).await,
            5.0,
            "all but the first passed"
        );
        // The full path and the passes share idle connections: one for all six.
        assert_eq!(connects.load(Ordering::SeqCst), 1, "origin connections");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_pass_does_not_relay_gets_the_full_paths_answer() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // An origin whose answer turns storable when `cacheable` is set.
        let cacheable = Arc::new(AtomicBool::new(false));
        let flag = cacheable.clone();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let addr = serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let flag = flag.clone();
            let counted = counted.clone();
            async move {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                let cc = if flag.load(Ordering::SeqCst) {
                    "max-age=60"
                } else {
                    "no-store"
                };
                let body = if req.uri().path() == "/page.txt" {
                    "x".repeat(4000)
                } else {
                    format!("answer {n}")
                };
                hyper::Response::builder()
                    .header("cache-control", cc)
                    .header("content-type", "text/plain")
                    .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                    .expect("response")
            }
        })
        .await;
        let (op, admin) = start(&format!("http://{addr}"), "");
        let c = client();

        // Compression is on (the default): a compressible answer is the full path's,
        // compressed for a client that accepts it.
        for _ in 0..2 {
            let r = c
                .get(op.url("/page.txt"))
                .header("accept-encoding", "gzip")
                .send()
                .await
                .expect("page");
            assert_eq!(common::header_text(&r, "content-encoding"), "gzip");
            assert!(
                common::header_text(&r, "vary")
                    .to_ascii_lowercase()
                    .contains("accept-encoding")
            );
        }
        assert_eq!(passes_reaching(&admin, 0.0).await, 0.0);

        // Small answers are not compressed (under min_size): passed.
        let get = || async { c.get(op.url("/small")).send().await.expect("small") };
        assert_eq!(get().await.text().await.expect("body"), "answer 3");
        assert_eq!(get().await.text().await.expect("body"), "answer 4");
        assert_eq!(passes_reaching(&admin, 1.0).await, 1.0);

        // The origin now says it may be stored: the pass relays that answer and drops
        // the mark; the next request stores it, and the one after is a hit.
        cacheable.store(true, Ordering::SeqCst);
        assert_eq!(get().await.text().await.expect("body"), "answer 5");
        assert_eq!(passes_reaching(&admin, 2.0).await, 2.0);
        let stored = get().await;
        assert_eq!(
            common::header_text(&stored, "cache-status"),
            "outpost; fwd=miss; stored"
        );
        assert_eq!(stored.text().await.expect("body"), "answer 6");
        let hit = get().await;
        assert!(common::header_text(&hit, "cache-status").starts_with("outpost; hit"));
        assert_eq!(hit.text().await.expect("body"), "answer 6");
        assert_eq!(hits.load(Ordering::SeqCst), 6);
        assert_eq!(passes_reaching(&admin, 2.0).await, 2.0);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_marked_key_whose_origin_is_gone_gets_the_full_paths_error() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let (op, admin) = start(&origin.url(), "    compression: { enabled: false }\n");
        let c = client();
        let path = "/c?cc=private";
        for _ in 0..2 {
            assert_eq!(c.get(op.url(path)).send().await.expect("get").status(), 200);
        }
        assert_eq!(passes_reaching(&admin, 1.0).await, 1.0);
        origin.stop();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let down = c.get(op.url(path)).send().await.expect("down");
        assert_eq!(down.status(), 502);
        assert!(
            down.text()
                .await
                .expect("body")
                .contains("could not get a valid response")
        );
        assert_eq!(passes_reaching(&admin, 1.0).await, 1.0, "not a pass");
    })
    .await
    .expect("test timed out");
}
