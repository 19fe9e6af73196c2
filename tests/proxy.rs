//! HTTP proxying through the real binary: headers, site selection, WebSocket,
//! the static origin and quick mode.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, raw_exchange};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn forwards_headers_and_strips_hop_by_hop() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("a").await;
        let op = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\nsites:\n  - hosts: [\"example.test\"]\n    origins: [\"{}\"]\n",
            origin.url()
        ));
        let resp = client()
            .get(op.url("/echo?x=1"))
            .header("host", "example.test")
            .header("connection", "x-private")
            .header("x-private", "secret")
            .header("x-forwarded-for", "203.0.113.9")
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-origin"], "a");
        assert!(resp.headers()["via"].to_str().expect("via").contains("outpost"));
        let body = resp.text().await.expect("body");
        assert!(body.starts_with("a GET /echo?x=1\n"), "{body}");
        assert!(body.contains("host: example.test\n"), "Host preserved: {body}");
        assert!(body.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1\n"), "{body}");
        assert!(body.contains("x-forwarded-proto: http\n"), "client value not trusted: {body}");
        assert!(body.contains("via: 1.1 outpost\n"), "{body}");
        assert!(!body.contains("x-private"), "header named in Connection is hop-by-hop: {body}");
        assert!(!body.contains("secret"), "{body}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn picks_site_by_exact_wildcard_and_default_host() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, w, d) = (
            TestOrigin::start("exact").await,
            TestOrigin::start("wild").await,
            TestOrigin::start("default").await,
        );
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nsites:\n  - hosts: [\"www.example.test\"]\n    origins: [\"{}\"]\n  - hosts: [\"*.example.test\"]\n    origins: [\"{}\"]\n  - default: true\n    origins: [\"{}\"]\n",
            a.url(),
            w.url(),
            d.url()
        );
        let op = Outpost::start(&yaml);
        let c = client();
        for (host, want) in [
            ("www.example.test", "exact"),
            ("WWW.Example.Test:8080", "exact"),
            ("img.example.test", "wild"),
            ("a.b.example.test", "wild"),
            ("example.test", "default"),
            ("other.test", "default"),
        ] {
            let r = c.get(op.url("/")).header("host", host).send().await.expect("request");
            assert_eq!(r.headers()["x-origin"], want, "host {host}");
        }

        // Without a default site, an unknown host is a clean 404, not a hang or 5xx.
        let op2 = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\nsites:\n  - hosts: [\"only.test\"]\n    origins: [\"{}\"]\n",
            a.url()
        ));
        let r = c.get(op2.url("/")).header("host", "nope.test").send().await.expect("request");
        assert_eq!(r.status(), 404);
        assert!(r.text().await.expect("body").contains("no site is configured for host \"nope.test\""));
        let raw = raw_exchange(op2.http, b"GET / HTTP/1.0\r\n\r\n", Duration::from_secs(5));
        assert!(raw.starts_with("HTTP/1.1 400") || raw.starts_with("HTTP/1.0 400"), "{raw}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_upgrade_passes_through() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let origin = TestOrigin::start("ws").await;
        let op = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n",
            origin.url()
        ));
        let mut s = tokio::net::TcpStream::connect(op.http).await.expect("connect");
        s.write_all(
            b"GET /ws HTTP/1.1\r\nHost: x.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .expect("write");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.expect("read head");
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 101"), "{head}");
        assert!(head.contains("upgrade: websocket"), "{head}");
        s.write_all(b"ping-through-the-tunnel").await.expect("write frame");
        let mut echo = [0u8; 23];
        s.read_exact(&mut echo).await.expect("echo");
        assert_eq!(&echo, b"ping-through-the-tunnel");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn static_origin_serves_files_with_validators_and_ranges() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let public = dir.path().join("public");
        std::fs::create_dir_all(public.join("sub")).expect("mkdir");
        std::fs::write(public.join("index.html"), "<h1>home</h1>").expect("write");
        std::fs::write(public.join("sub/data.json"), "{\"n\":1234567890}").expect("write");
        std::fs::write(dir.path().join("secret.txt"), "top secret").expect("write");
        let op = Outpost::start_in(
            dir,
            "listen: { http: \"{http}\" }\nsites:\n  - default: true\n    origins: [\"static:./public\"]\n",
            &[],
        );
        let c = client();
        let r = c.get(op.url("/")).send().await.expect("get /");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.text().await.expect("body"), "<h1>home</h1>");

        let r = c.get(op.url("/sub/data.json")).send().await.expect("get json");
        assert_eq!(r.headers()["content-type"], "application/json");
        let etag = r.headers()["etag"].clone();
        let lm = r.headers()["last-modified"].clone();
        let r = c.get(op.url("/sub/data.json")).header("if-none-match", etag.clone()).send().await.expect("inm");
        assert_eq!(r.status(), 304);
        let r = c.get(op.url("/sub/data.json")).header("if-modified-since", lm).send().await.expect("ims");
        assert_eq!(r.status(), 304);
        let r = c.get(op.url("/sub/data.json")).header("range", "bytes=5-9").send().await.expect("range");
        assert_eq!(r.status(), 206);
        assert_eq!(r.headers()["content-range"], "bytes 5-9/16");
        assert_eq!(r.text().await.expect("body"), "12345");
        let r = c.get(op.url("/sub/data.json")).header("range", "bytes=99-").send().await.expect("range");
        assert_eq!(r.status(), 416);
        let r = c.get(op.url("/sub")).send().await.expect("dir");
        assert_eq!(r.url().path(), "/sub/", "a directory redirects to its slash form");
        assert_eq!(r.status(), 404, "and without index.html it is not found");

        assert_eq!(c.get(op.url("/missing")).send().await.expect("404").status(), 404);
        // Traversal never reaches files outside the root, encoded or not.
        for p in ["/../secret.txt", "/%2e%2e/secret.txt", "/sub/..%2f..%2fsecret.txt"] {
            let raw = raw_exchange(
                op.http,
                format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
                Duration::from_secs(5),
            );
            assert!(!raw.contains("top secret"), "{p}: {raw}");
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn quick_proxy_mode_needs_no_config_file() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("quick").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut child, listen) =
            common::start_quick(&["--origin", &origin.url()], &dir.path().join("log"));
        let r = client()
            .get(format!("http://{listen}/"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.text().await.expect("body"), "hello from quick");
        let _ = child.kill();
        let _ = child.wait();

        // A bad origin flag is a clear error, not a panic.
        let out = std::process::Command::new(common::outpost_bin())
            .args(["proxy", "--listen", "127.0.0.1:1", "--origin", "htp://x"])
            .output()
            .expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("sites[0].origins[0]: \"htp://x\" is not a URL"),
            "{err}"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_and_json_access_log() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("h2c").await;
        let op = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\", h2c: true }}\nlog: {{ format: json }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n",
            origin.url()
        ));
        let h2 = reqwest::Client::builder().http2_prior_knowledge().build().expect("client");
        let r = h2.get(op.url("/echo")).send().await.expect("h2c request");
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        let body = r.text().await.expect("body");
        assert!(body.contains("via: 2 outpost"), "{body}");
        op.wait_log("\"target\":\"outpost::access\"", 1);
        let line = op
            .log_text()
            .lines()
            .find(|l| l.contains("outpost::access"))
            .expect("access line")
            .to_string();
        assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
        for field in ["\"method\":\"GET\"", "\"path\":\"/echo\"", "\"status\":200", "\"site\":\"default\""] {
            assert!(line.contains(field), "{field} in {line}");
        }
        // The line is written directly, not by `tracing`'s formatter: it is still
        // one JSON object, in the entries' order `tracing`'s JSON lines use.
        let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
        let keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
        assert!(line.starts_with("{\"timestamp\":\"") && line.ends_with(",\"target\":\"outpost::access\"}"), "{line}");
        assert_eq!(v["level"], "INFO", "{line}");
        assert_eq!(v["message"], "access", "{line}");
        assert_eq!(v["version"], "HTTP/2.0", "{line}");
        assert!(v["duration_ms"].is_f64(), "{line}");
        assert!(keys.len() >= 18, "{keys:?}");
    })
    .await
    .expect("test timed out");
}

/// Misses reuse upstream connections: many sequential and concurrent requests through
/// one Outpost open only a few TCP connections to the origin (pingora's pool), and a
/// request whose fast-path attempt falls through to the full path is no exception.
#[tokio::test(flavor = "multi_thread")]
async fn misses_reuse_upstream_connections() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    tokio::time::timeout(TEST_TIMEOUT, async {
        let requests = Arc::new(AtomicUsize::new(0));
        let r = requests.clone();
        let (addr, connects) = common::origin::serve_counting(move |_req| {
            r.fetch_add(1, Ordering::SeqCst);
            async move {
                hyper::Response::builder()
                    .header("cache-control", "no-store")
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(
                        b"fresh every time",
                    )))
                    .expect("response")
            }
        })
        .await;
        let op = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\nsites:\n  - default: true\n    origins: [\"http://{addr}\"]\n"
        ));
        // One keep-alive client, sequential requests: one upstream connection.
        let keep = reqwest::Client::new();
        for i in 0..50 {
            let r = keep.get(op.url(&format!("/m?{i}"))).send().await.expect("miss");
            assert_eq!(r.text().await.expect("body"), "fresh every time");
        }
        assert_eq!(requests.load(Ordering::SeqCst), 50);
        assert_eq!(
            connects.load(Ordering::SeqCst),
            1,
            "sequential misses share one origin connection"
        );
        // 8 clients at once, 25 requests each: at most one origin connection each.
        let mut tasks = Vec::new();
        for t in 0..8 {
            let url = op.url(&format!("/c{t}"));
            tasks.push(tokio::spawn(async move {
                let c = reqwest::Client::new();
                for _ in 0..25 {
                    c.get(&url).send().await.expect("miss").bytes().await.expect("body");
                }
            }));
        }
        for t in tasks {
            t.await.expect("client");
        }
        assert_eq!(requests.load(Ordering::SeqCst), 250);
        let n = connects.load(Ordering::SeqCst);
        assert!(n <= 9, "{n} origin connections for 250 misses from 8 clients");
    })
    .await
    .expect("test timed out");
}
