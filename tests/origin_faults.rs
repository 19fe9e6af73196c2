//! Origins that misbehave on command: a raw TCP server whose answer depends on the
//! request path. Outpost must answer cleanly (502/504), never cache a broken
//! response, and keep serving.

mod common;

use common::{Outpost, TEST_TIMEOUT, client};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Starts the misbehaving origin. Paths:
/// `/reset-headers` half a status line, then a reset; `/reset-body` headers for
/// 100 000 bytes, 1 000 sent, then a reset; `/slow-body` the same but the
/// connection stays open and silent; `/trickle` the same head, then one body byte
/// every 100 ms; `/garbage` not HTTP; `/huge-headers` 200 KB of headers;
/// `/loop` a redirect to itself; anything else a cacheable 200.
async fn bad_origin() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&got);
                let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                let reset = |s: tokio::net::TcpStream| {
                    // SO_LINGER 0: close sends a RST, not a FIN.
                    let _ = s.set_zero_linger();
                    drop(s);
                };
                match path.as_str() {
                    "/reset-headers" => {
                        let _ = s.write_all(b"HTTP/1.1 200 O").await;
                        reset(s);
                    }
                    "/reset-body" => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nCache-Control: max-age=60\r\n\r\n")
                            .await;
                        let _ = s.write_all(&[b'x'; 1000]).await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        reset(s);
                    }
                    "/slow-body" => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nCache-Control: max-age=60\r\n\r\n")
                            .await;
                        let _ = s.write_all(&[b'x'; 1000]).await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    "/trickle" => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nCache-Control: max-age=60\r\n\r\n")
                            .await;
                        // One byte every 100 ms: never idle long enough for the read
                        // timeout, and never done.
                        for _ in 0..100_000 {
                            if s.write_all(b"x").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    "/garbage" => {
                        let _ = s
                            .write_all(b"SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n")
                            .await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    "/huge-headers" => {
                        let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
                        for i in 0..2000 {
                            r.extend_from_slice(
                                format!("X-H{i}: {}\r\n", "v".repeat(100)).as_bytes(),
                            );
                        }
                        r.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
                        let _ = s.write_all(&r).await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    "/loop" => {
                        let _ = s
                            .write_all(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
                            .await;
                    }
                    _ => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nCache-Control: max-age=60\r\n\r\nok\n")
                            .await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_origins_get_clean_errors_and_nothing_broken_is_cached() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = bad_origin().await;
        let o = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - hosts: [a.test]\n    origins: [\"http://{origin}\"]\n    retries: 0\n    timeouts: {{ connect: 1s, read: 2s, body: 3s }}\n    compression: {{ enabled: false }}\n"
        ));
        let get = |path: &'static str| {
            let url = o.url(path);
            async move {
                let started = Instant::now();
                let r = client()
                    .get(url)
                    .header("host", "a.test")
                    .send()
                    .await
                    .expect("an answer, not a dropped connection");
                let status = r.status().as_u16();
                (status, r.bytes().await.map(|b| b.len()), started.elapsed())
            }
        };

        for path in ["/reset-headers", "/garbage", "/huge-headers"] {
            let (status, _, _) = get(path).await;
            assert_eq!(status, 502, "{path}");
        }

        // Reset mid-body: the head already went out, so the client sees a truncated
        // body and a closed connection (never a complete-looking response)...
        let (status, body, _) = get("/reset-body").await;
        assert_eq!(status, 200);
        assert!(body.is_err(), "the body must not look complete: {body:?}");
        // ... and the truncated copy is not cached: the next request goes to the
        // origin again (and is truncated again), it is not a HIT of 1 000 bytes.
        let r = client()
            .get(o.url("/reset-body"))
            .header("host", "a.test")
            .send()
            .await
            .expect("answer");
        let cache = common::header_text(&r, "cache-status");
        assert!(!cache.contains("hit"), "a truncated body was cached: {cache}");
        assert!(r.bytes().await.is_err());

        // A body that stops coming: the read timeout (2 s) ends it.
        let (status, body, took) = get("/slow-body").await;
        assert_eq!(status, 200);
        assert!(body.is_err(), "{body:?}");
        assert!(took < Duration::from_secs(10), "timed out in {took:?}");

        // A body that trickles forever: never idle for `read`, cut at `body` (3 s),
        // and the part that came is not cached.
        let (status, body, took) = get("/trickle").await;
        assert_eq!(status, 200);
        assert!(body.is_err(), "{body:?}");
        assert!(
            took >= Duration::from_millis(2500) && took < Duration::from_secs(15),
            "cut after {took:?}"
        );
        let r = client()
            .get(o.url("/trickle"))
            .header("host", "a.test")
            .send()
            .await
            .expect("answer");
        assert!(!common::header_text(&r, "cache-status").contains("hit"));
        drop(r);

        // A redirect loop is the origin's answer: passed through, not followed.
        let no_follow = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let r = no_follow
            .get(o.url("/loop"))
            .header("host", "a.test")
            .send()
            .await
            .expect("loop");
        assert_eq!(r.status(), 302);
        assert_eq!(r.headers()["location"], "/loop");

        // Through all of it, Outpost kept serving.
        let (status, body, _) = get("/fine").await;
        assert_eq!((status, body.map_err(|e| e.to_string())), (200, Ok(3)));
    })
    .await
    .expect("within the bound");
}
