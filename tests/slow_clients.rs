//! Slow and greedy clients: slowloris (a head that never ends), silent connections,
//! stalled request bodies, idle keep-alive, slow readers, and connection caps. Each
//! must be cut off within its configured limit while normal clients keep being
//! served, and each cut shows in the metrics.
//!
//! The limits are set to seconds here so the tests stay short; every wait is bounded.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, metric, scrape};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(origin: &TestOrigin, admin: &str, server: &str) -> String {
    format!(
        "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\nserver: {{ {server} }}\ncache: {{ memory: 16MiB }}\nsites:\n  - hosts: [a.test]\n    origins: [\"{}\"]\n    compression: {{ enabled: false }}\n",
        origin.url()
    )
}

/// An origin, and Outpost in front of it with `server` settings and an admin API.
async fn start(server: &str) -> (TestOrigin, String, Outpost) {
    let origin = TestOrigin::start("origin").await;
    let admin = format!("127.0.0.1:{}", common::free_port());
    let o = Outpost::start(&config(&origin, &admin, server));
    (origin, admin, o)
}

/// Reads until EOF or reset; returns the bytes and when the end came.
async fn read_to_close(s: &mut TcpStream, bound: Duration) -> (Vec<u8>, Instant) {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Instant::now()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the connection was not closed within {bound:?}; got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// A complete `GET /` for `a.test` on a kept-alive connection.
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";

/// Reads one response with a `Content-Length` body from a kept-alive connection.
async fn read_response(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().expect("length"))
                })
                .expect("content-length");
            if got.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slowloris_and_silent_connections_are_cut_at_the_header_deadline() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (_origin, admin, o) = start("header_timeout: 2s, idle_timeout: 3s").await;

        // Slowloris: a head that keeps coming, one header every 300 ms, forever.
        let mut loris = TcpStream::connect(o.http).await.expect("connect");
        let started = Instant::now();
        loris
            .write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n")
            .await
            .expect("write");
        let (mut rd, mut wr) = loris.into_split();
        let trickle = tokio::spawn(async move {
            for i in 0..100 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if wr
                    .write_all(format!("X-{i}: y\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        // Silent: connects and sends nothing.
        let mut silent = TcpStream::connect(o.http).await.expect("connect");
        let silent_started = Instant::now();

        // Meanwhile normal clients are served.
        let r = client()
            .get(o.url("/"))
            .header("host", "a.test")
            .send()
            .await
            .expect("served");
        assert_eq!(r.status(), 200);

        let mut rest = Vec::new();
        let ended = loop {
            let mut buf = [0u8; 1024];
            match tokio::time::timeout(Duration::from_secs(15), rd.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break Instant::now(),
                Ok(Ok(n)) => rest.extend_from_slice(&buf[..n]),
                Err(_) => panic!("slowloris connection still open after 15 s"),
            }
        };
        trickle.abort();
        let took = ended - started;
        assert!(
            took >= Duration::from_millis(1500),
            "cut before the deadline: {took:?}"
        );
        assert!(rest.is_empty(), "no response to a head that never ended");
        let (_, silent_ended) = read_to_close(&mut silent, Duration::from_secs(15)).await;
        assert!(silent_ended - silent_started >= Duration::from_millis(1500));

        // A head sent in pieces but within the deadline is served; on a kept-alive
        // connection the deadline starts again with each request (the connection
        // here lives longer than one deadline).
        let mut slow_ok = TcpStream::connect(o.http).await.expect("connect");
        for round in 0..3 {
            for part in [&b"GET / HTTP/1.1\r\n"[..], b"Host: a.test\r\n", b"\r\n"] {
                slow_ok.write_all(part).await.expect("write");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let text = read_response(&mut slow_ok).await;
            assert!(text.starts_with("HTTP/1.1 200"), "round {round}: {text}");
            tokio::time::sleep(Duration::from_millis(800)).await;
        }

        let m = scrape(&admin).await;
        assert_eq!(
            metric(
                &m,
                "outpost_connections_refused_total{reason=\"header_timeout\"}"
            ),
            2.0
        );
    })
    .await
    .expect("within the bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_keepalive_and_stalled_bodies_are_closed() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, _admin, o) = start("idle_timeout: 2s, body_timeout: 2s, header_timeout: 30s").await;

        // Idle keep-alive: served, then closed after idle_timeout of silence.
        let mut s = TcpStream::connect(o.http).await.expect("connect");
        s.write_all(GET).await.expect("write");
        let text = read_response(&mut s).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        let served = Instant::now();
        let (more, closed) = read_to_close(&mut s, Duration::from_secs(15)).await;
        assert!(more.is_empty());
        let idle = closed - served;
        assert!(idle >= Duration::from_millis(1500), "closed early: {idle:?}");

        // A client asking for a longer keep-alive than ours does not get it.
        let mut s = TcpStream::connect(o.http).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive\r\nKeep-Alive: timeout=3600\r\n\r\n")
            .await
            .expect("write");
        read_response(&mut s).await;
        read_to_close(&mut s, Duration::from_secs(15)).await;

        // A request body that stops arriving: the origin never gets a complete request.
        let hits = origin.hits.load(std::sync::atomic::Ordering::SeqCst);
        let mut s = TcpStream::connect(o.http).await.expect("connect");
        s.write_all(b"POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1000\r\n\r\n0123456789")
            .await
            .expect("write");
        let sent = Instant::now();
        let (answer, closed) = read_to_close(&mut s, Duration::from_secs(15)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            !answer.contains("received 1000"),
            "the origin got a whole body: {answer}"
        );
        assert!(
            answer.is_empty() || !answer.starts_with("HTTP/1.1 2"),
            "a stalled upload must not succeed: {answer}"
        );
        assert!(closed - sent >= Duration::from_millis(1500));
        // The origin may have seen the request start; it never saw it finish well.
        assert!(origin.hits.load(std::sync::atomic::Ordering::SeqCst) <= hits + 1);

        let r = client()
            .get(o.url("/"))
            .header("host", "a.test")
            .send()
            .await
            .expect("still serving");
        assert_eq!(r.status(), 200);
    })
    .await
    .expect("within the bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_readers_are_cut_off_and_their_resources_freed() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (_origin, admin, o) = start("send_timeout: 30s, min_send_rate: 64KiB").await;
        // A small receive buffer so the reader's pace shows at the server soon.
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("rcvbuf");
        let mut s = socket.connect(o.http).await.expect("connect");
        let total = 64u64 << 20;
        s.write_all(format!("GET /big?bytes={total} HTTP/1.1\r\nHost: a.test\r\n\r\n").as_bytes())
            .await
            .expect("write");
        // Read 256 B every 250 ms (1 KiB/s) until the server has let go.
        let started = Instant::now();
        let mut received = 0u64;
        let freed = loop {
            let mut buf = [0u8; 256];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await
            {
                received += n as u64;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            let m = scrape(&admin).await;
            if started.elapsed() > Duration::from_secs(2)
                && metric(&m, "outpost_requests_in_flight") == 0.0
                && metric(&m, "outpost_connections_open") == 0.0
            {
                break started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "a 1 KiB/s reader still holds its request after 40 s"
            );
        };
        // What the kernel still holds arrives, then the end: never the whole body.
        let (rest, _) = read_to_close(&mut s, Duration::from_secs(20)).await;
        received += rest.len() as u64;
        assert!(received < total, "got all {received} bytes");
        println!(
            "slow reader let go after {freed:?}, having been sent {received} of {total} bytes"
        );

        // A normal download of the same size is not affected.
        let r = client()
            .get(o.url(&format!("/big?bytes={total}")))
            .header("host", "a.test")
            .send()
            .await
            .expect("download");
        assert_eq!(r.bytes().await.expect("body").len() as u64, total);
    })
    .await
    .expect("within the bound");
}

/// Opens a connection from `source` (any 127.0.0.0/8 address) to `to`.
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("addr"))
        .expect("bind source");
    socket.connect(to).await.expect("connect")
}

/// Whether a fresh connection is refused with the over-capacity 503.
async fn refused(s: &mut TcpStream) -> bool {
    let (text, _) = read_to_close(s, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.starts_with("HTTP/1.1 503") && text.contains("too many connections"),
        "{text}"
    );
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_caps_per_ip_and_global() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (_origin, admin, o) =
            start("max_connections: 5, max_connections_per_ip: 3, header_timeout: 30s").await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(connect_from("127.0.0.1", o.http).await);
        }
        // Connections are admitted in their own tasks: let these take their places first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The fourth from the same address is turned away...
        let mut fourth = connect_from("127.0.0.1", o.http).await;
        assert!(refused(&mut fourth).await);
        // ... while another address still gets in, up to the global cap.
        for _ in 0..2 {
            held.push(connect_from("127.0.0.2", o.http).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut over = connect_from("127.0.0.3", o.http).await;
        assert!(refused(&mut over).await);

        // The held connections were admitted: each is served.
        for s in &mut held {
            s.write_all(GET).await.expect("write");
            let text = read_response(s).await;
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        }
        let m = scrape(&admin).await;
        assert_eq!(metric(&m, "outpost_connections_open"), 5.0);
        assert_eq!(
            metric(&m, "outpost_connections_refused_total{reason=\"per_ip\"}"),
            1.0
        );
        assert_eq!(
            metric(&m, "outpost_connections_refused_total{reason=\"global\"}"),
            1.0
        );

        // A place given back is a place free again.
        drop(held.remove(0));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut s = connect_from("127.0.0.1", o.http).await;
            s.write_all(GET).await.expect("write");
            let mut buf = [0u8; 12];
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf)).await;
            if &buf == b"HTTP/1.1 200" {
                break;
            }
            assert!(Instant::now() < deadline, "the freed place never came back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("within the bound");
}
