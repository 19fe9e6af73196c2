//! HTTP/3 to clients, with a real QUIC + HTTP/3 client (quinn and h3, the stacks a
//! Rust client would use): requests over QUIC go through the same pipeline as TCP
//! ones — cache, rules, hooks, origins — and TCP responses advertise the listener.

mod common;

use bytes::{Buf, Bytes};
use common::origin::TestOrigin;
use common::pki::TestCa;
use common::{Outpost, TEST_TIMEOUT};
use std::net::SocketAddr;
use std::sync::Arc;

type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// An HTTP/3 connection to `addr` for `name`, trusting the test CA.
async fn connect(ca: &TestCa, addr: SocketAddr, name: &str) -> (quinn::Endpoint, Sender) {
    let (endpoint, sender, _) = connect_seeing(ca, addr, name).await;
    (endpoint, sender)
}

/// [`connect`], also giving the leaf certificate the server presented (DER).
async fn connect_seeing(
    ca: &TestCa,
    addr: SocketAddr,
    name: &str,
) -> (quinn::Endpoint, Sender, Vec<u8>) {
    let mut tls = (*ca.rustls_config()).clone();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
    let mut endpoint =
        quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client endpoint");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let conn = endpoint
        .connect(addr, name)
        .expect("connect")
        .await
        .expect("QUIC handshake verifies against the test CA");
    let leaf = conn
        .peer_identity()
        .and_then(|id| {
            id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .and_then(|certs| certs.first().map(|c| c.to_vec()))
        .expect("the server's certificate");
    let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .expect("HTTP/3 connection");
    tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    (endpoint, sender, leaf)
}

/// Sends one request (with `body`) and reads the whole answer.
async fn exchange(
    sender: &mut Sender,
    method: &str,
    url: &str,
    body: Option<Bytes>,
) -> (http::Response<()>, Vec<u8>) {
    let mut builder = http::Request::builder().method(method).uri(url);
    if let Some(b) = &body {
        builder = builder.header("content-length", b.len());
    }
    let request = builder.body(()).expect("request");
    let mut stream = sender.send_request(request).await.expect("send request");
    if let Some(b) = body {
        for chunk in b.chunks(64 << 10) {
            stream
                .send_data(Bytes::copy_from_slice(chunk))
                .await
                .expect("send body");
        }
    }
    stream.finish().await.expect("finish");
    read_response(&mut stream).await
}

/// The response on a request stream whose request is sent: head and whole body.
async fn read_response(
    stream: &mut h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
) -> (http::Response<()>, Vec<u8>) {
    let response = stream.recv_response().await.expect("response");
    let mut out = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.expect("body") {
        let n = chunk.remaining();
        out.extend_from_slice(&chunk.copy_to_bytes(n));
    }
    (response, out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn header<'a>(r: &'a http::Response<()>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn config(origin: &TestOrigin, admin: &str, quic: &str) -> String {
    format!(
        "listen: {{ http: \"{{http}}\", https: \"{{https}}\", http3: \"{{https}}\", {quic} }}
admin: {{ listen: \"{admin}\" }}
tls:
  certificates:
    - {{ cert: a.pem, key: a.key, default: true }}
    - {{ cert: b.pem, key: b.key }}
cache: {{ memory: 64MiB }}
sites:
  - hosts: [\"a.test\", \"b.test\"]
    origins: [\"{}\"]
    rules: rules.yaml
",
        origin.url()
    )
}

/// Outpost with two certificates (`a.test`, `b.test`), the rules and the hook, an
/// admin API, and HTTP/3 on the HTTPS port with `listen` settings `quic` (such as
/// `quic_retry: always`).
fn start(origin: &TestOrigin, ca: &TestCa, quic: &str) -> (Outpost, String) {
    start_with(origin, ca, quic, |_| String::new())
}

/// [`start`] with more top-level YAML, written knowing the process's directory.
fn start_with(
    origin: &TestOrigin,
    ca: &TestCa,
    quic: &str,
    more: impl FnOnce(&std::path::Path) -> String,
) -> (Outpost, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    ca.issue(dir.path(), "a", &["a.test"]);
    ca.issue(dir.path(), "b", &["b.test"]);
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    std::fs::write(dir.path().join("hook.js"), HOOK).expect("hook");
    let admin = format!("127.0.0.1:{}", common::free_port());
    let yaml = config(origin, &admin, quic) + &more(dir.path());
    (Outpost::start_in(dir, &yaml, &[]), admin)
}

const RULES: &str = "- match: \"/old/*\"
  actions: { forward: { to: \"/new/$1\", status: 301 } }
- match: \"/hook/*\"
  actions: { script: hook.js }
";

const HOOK: &str = "export default {
  async fetch(request) {
    return Response.json({ hooked: new URL(request.url).pathname, protocol: request.cf?.httpProtocol ?? null });
  },
};
";

#[tokio::test(flavor = "multi_thread")]
async fn requests_over_http3_take_the_same_pipeline() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, ca) = (TestOrigin::start("origin").await, TestCa::new());
        let (op, admin) = start(&origin, &ca, "quic_retry: always");
        let https = op.https.expect("https");
        let (_endpoint, mut h3) = connect(&ca, https, "a.test").await;
        let base = format!("https://a.test:{}", https.port());

        // A cacheable object: a miss, then a hit, through the same cache as TCP.
        let url = format!("{base}/c?cc=max-age%3D60");
        let (first, body) = exchange(&mut h3, "GET", &url, None).await;
        assert_eq!(first.status(), 200);
        assert_eq!(body, b"origin #1");
        assert!(
            header(&first, "cache-status").contains("fwd=miss"),
            "{first:?}"
        );
        let (second, body) = exchange(&mut h3, "GET", &url, None).await;
        assert_eq!(body, b"origin #1");
        assert!(
            header(&second, "cache-status").starts_with("outpost; hit"),
            "{second:?}"
        );
        // Cache-Status names the protocol for HTTP/3 (an extension parameter).
        for r in [&first, &second] {
            assert!(header(r, "cache-status").ends_with("; proto=h3"), "{r:?}");
        }
        assert_eq!(header(&second, "via"), "3 outpost");
        assert!(!header(&second, "date").is_empty() && !header(&second, "age").is_empty());
        assert!(first.headers().get("connection").is_none());

        // A page rule's redirect and a hook's own answer.
        let (moved, _) = exchange(&mut h3, "GET", &format!("{base}/old/x"), None).await;
        assert_eq!(moved.status(), 301);
        assert_eq!(header(&moved, "location"), "/new/x");
        let (hooked, body) = exchange(&mut h3, "GET", &format!("{base}/hook/y"), None).await;
        assert_eq!(hooked.status(), 200);
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["hooked"], "/hook/y");
        // As Workers name it (not `HTTP/3.0`).
        assert_eq!(json["protocol"], "HTTP/3");

        // A POST body reaches the origin; a 10 MiB body streams back whole.
        let upload = Bytes::from(vec![b'u'; 3 << 20]);
        let (posted, body) =
            exchange(&mut h3, "POST", &format!("{base}/upload"), Some(upload)).await;
        assert_eq!(posted.status(), 200);
        assert_eq!(body, format!("received {}", 3 << 20).as_bytes());
        let (big, body) = exchange(
            &mut h3,
            "GET",
            &format!("{base}/big?bytes={}", 10 << 20),
            None,
        )
        .await;
        assert_eq!(big.status(), 200);
        assert_eq!(body.len(), 10 << 20);
        assert!(body.iter().all(|&b| b == b'x'));

        // Many streams at once on the one connection.
        let mut tasks = Vec::new();
        for i in 0..32 {
            let mut sender = h3.clone();
            let url = format!("{base}/echo?n={i}");
            tasks.push(tokio::spawn(async move {
                let (r, body) = exchange(&mut sender, "GET", &url, None).await;
                (
                    r.status(),
                    String::from_utf8_lossy(&body).contains(&format!("n={i}")),
                )
            }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("stream"), (http::StatusCode::OK, true));
        }

        // SNI picks the certificate for each name (each leaf names its host).
        let (_endpoint_a, _, leaf_a) = connect_seeing(&ca, https, "a.test").await;
        let (_endpoint_b, mut h3b, leaf_b) = connect_seeing(&ca, https, "b.test").await;
        assert_ne!(leaf_a, leaf_b);
        let names = |der: &[u8]| (contains(der, b"a.test"), contains(der, b"b.test"));
        assert_eq!((names(&leaf_a), names(&leaf_b)), ((true, false), (false, true)));
        let (r, _) = exchange(
            &mut h3b,
            "GET",
            &format!("https://b.test:{}/echo", https.port()),
            None,
        )
        .await;
        assert_eq!(r.status(), 200);

        // TCP responses advertise the listener.
        let tcp = ca.client(https, &["a.test"]);
        let r = tcp
            .get(format!("{base}/echo"))
            .send()
            .await
            .expect("https request");
        let alt = r.headers()["alt-svc"].to_str().expect("ascii").to_string();
        assert_eq!(alt, format!("h3=\":{}\"; ma=86400", https.port()));
        let plain = common::client()
            .get(op.url("/c?cc=max-age%3D60"))
            .header("host", "a.test")
            .send()
            .await
            .expect("http request");
        assert!(
            plain.headers().contains_key("alt-svc"),
            "fast-path hits too"
        );
        let status = plain.headers()["cache-status"].to_str().expect("ascii");
        assert!(status.starts_with("outpost; ") && !status.contains("proto="), "{status}");

        // A reload while the connection is open: the next request on it sees the new
        // rules.
        let rules = format!(
            "- match: \"/fresh/*\"\n  actions: {{ forward: {{ to: \"/reloaded\", status: 302 }} }}\n{RULES}"
        );
        std::fs::write(op.dir.path().join("rules.yaml"), rules).expect("rules");
        op.signal("HUP");
        op.wait_log("configuration reloaded", 1);
        let (fresh, _) = exchange(&mut h3, "GET", &format!("{base}/fresh/z"), None).await;
        assert_eq!(fresh.status(), 302);
        assert_eq!(header(&fresh, "location"), "/reloaded");

        // Counted and logged as HTTP/3; every new client proved its address first
        // (`quic_retry: always`; the client followed the Retry on its own).
        op.wait_log("version=HTTP/3", 1);
        let metrics = common::scrape(&admin).await;
        for want in [
            "outpost_http3_connections_total{outcome=\"retry\"} 3",
            "outpost_http3_connections_total{outcome=\"accepted\"} 3",
        ] {
            assert!(metrics.contains(want), "{want} in:\n{metrics}");
        }
        // Every request counted by its protocol: HTTP/3 ones and TCP ones apart.
        let series = |protocol: &str| -> u64 {
            let prefix = format!("outpost_requests_by_protocol_total{{protocol=\"{protocol}\"}} ");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        assert!(series("h3") >= 8, "{metrics}");
        assert!(series("http/1.1") >= 1 && series("h2") >= 1, "{metrics}");
        // The hit was answered from memory without a pipeline session, as TCP hits
        // are (and still named itself HTTP/3 above).
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("outpost_cache_fast_hits_total ") && !l.ends_with(" 0")),
            "{metrics}"
        );
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_lets_open_http3_requests_finish() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, ca) = (TestOrigin::start("origin").await, TestCa::new());
        let (op, _admin) = start(&origin, &ca, "quic_retry: always");
        let https = op.https.expect("https");
        let (_endpoint, mut h3) = connect(&ca, https, "a.test").await;
        let url = format!("https://a.test:{}/slow?ms=800", https.port());
        let slow = tokio::spawn(async move { exchange(&mut h3, "GET", &url, None).await });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        op.signal("TERM");
        let (r, body) = slow.await.expect("request");
        assert_eq!(r.status(), 200, "the request in flight finished");
        assert_eq!(body, b"slow from origin");
    })
    .await
    .expect("timed out");
}

/// A binary upgrade (`outpost run --upgrade`, then SIGQUIT to the old process) while
/// clients hold HTTP/3 connections with requests in flight: the new process binds the
/// same UDP port, yet every packet of an old connection still reaches the old process
/// (steered by its connection IDs; without that the kernel would hand about half of
/// them to the new process), so uploads in flight finish; the old
/// connections are told to go away, and new connections reach the new process.
#[tokio::test(flavor = "multi_thread")]
async fn a_binary_upgrade_lets_open_http3_connections_finish() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, ca) = (TestOrigin::start("origin").await, TestCa::new());
        let (old, _admin) = start_with(&origin, &ca, "", |dir| {
            format!(
                "server: {{ shutdown_timeout: 5s, upgrade_socket: \"{}\" }}\n",
                dir.join("upgrade.sock").display()
            )
        });
        let https = old.https.expect("https");
        let base = format!("https://a.test:{}", https.port());
        // Eight clients, each from its own port (so the kernel's hash would spread
        // them over both processes).
        let mut clients = Vec::new();
        for _ in 0..8 {
            let (endpoint, mut h3) = connect(&ca, https, "a.test").await;
            let (r, _) = exchange(&mut h3, "GET", &format!("{base}/c?cc=no-store"), None).await;
            assert_eq!(r.status(), 200);
            clients.push((endpoint, h3));
        }
        // On each connection an upload is under way: its first part sent before the
        // upgrade, the rest after the new process holds the port. The rest reaches
        // the origin only if the old process still gets the connection's packets.
        const FIRST: usize = 64 << 10;
        const REST: usize = 512 << 10;
        let (go, gate) = tokio::sync::watch::channel(false);
        let mut uploads = Vec::new();
        for (_endpoint, h3) in &clients {
            let (mut h3, url, mut gate) = (h3.clone(), format!("{base}/upload"), gate.clone());
            uploads.push(tokio::spawn(async move {
                let request = http::Request::post(url)
                    .header("content-length", FIRST + REST)
                    .body(())
                    .expect("request");
                let mut stream = h3.send_request(request).await.expect("send request");
                stream
                    .send_data(Bytes::from(vec![b'u'; FIRST]))
                    .await
                    .expect("first part");
                gate.wait_for(|go| *go).await.expect("gate");
                for chunk in vec![b'u'; REST].chunks(64 << 10) {
                    stream
                        .send_data(Bytes::copy_from_slice(chunk))
                        .await
                        .expect("rest");
                }
                stream.finish().await.expect("finish");
                read_response(&mut stream).await
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        let new_log = old.dir.path().join("new.log");
        let config = old.config.to_str().expect("utf-8").to_string();
        let mut new = common::spawn_outpost(&["run", "--config", &config, "--upgrade"], &new_log);
        let wait_new_log = |needle: &str| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !std::fs::read_to_string(&new_log)
                .unwrap_or_default()
                .contains(needle)
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "new process: no {needle:?} in {}",
                    std::fs::read_to_string(&new_log).unwrap_or_default()
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        wait_new_log("waiting for the running Outpost's listeners");
        old.signal("QUIT");
        wait_new_log("listening for HTTP/3");

        go.send(true).expect("go");
        for (i, upload) in uploads.into_iter().enumerate() {
            let (r, body) = tokio::time::timeout(std::time::Duration::from_secs(10), upload)
                .await
                .unwrap_or_else(|_| panic!("client {i}: the upload stalled after the upgrade"))
                .expect("upload");
            assert_eq!(r.status(), 200, "client {i}: the upload in flight finished");
            assert_eq!(
                body,
                format!("received {}", FIRST + REST).as_bytes(),
                "client {i}"
            );
        }
        // A new connection is the new process's: the old one takes none while it
        // drains.
        let (_endpoint, mut h3) = connect(&ca, https, "a.test").await;
        let (r, body) = exchange(&mut h3, "GET", &format!("{base}/c?cc=no-store"), None).await;
        assert_eq!(r.status(), 200);
        assert!(body.starts_with(b"origin #"), "{body:?}");
        assert!(
            new.try_wait().ok().flatten().is_none(),
            "the new process runs"
        );
        let _ = new.kill();
        let _ = new.wait();
    })
    .await
    .expect("timed out");
}

/// Many clients starting handshakes at once: past 64 handshakes in progress, new
/// clients are asked to prove their address with a Retry (a spoofed source could not
/// answer it, so a flood gets no amplified replies); real clients follow it and
/// connect.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_handshakes_is_answered_with_retry() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, ca) = (TestOrigin::start("origin").await, TestCa::new());
        let (op, admin) = start(&origin, &ca, "");
        let https = op.https.expect("https");
        let mut handshakes = Vec::new();
        for _ in 0..200 {
            let ca_config = ca.rustls_config();
            handshakes.push(tokio::spawn(async move {
                let mut tls = (*ca_config).clone();
                tls.alpn_protocols = vec![b"h3".to_vec()];
                let crypto =
                    quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
                let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr"))
                    .expect("client endpoint");
                endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
                let conn = endpoint.connect(https, "a.test").expect("connect").await;
                (conn.is_ok(), endpoint)
            }));
        }
        let mut connected = 0;
        let mut endpoints = Vec::new();
        for h in handshakes {
            let (ok, endpoint) = h.await.expect("handshake task");
            connected += usize::from(ok);
            endpoints.push(endpoint);
        }
        assert_eq!(connected, 200, "every real client connects, Retry or not");
        let metrics = common::scrape(&admin).await;
        let retried = metrics
            .lines()
            .find_map(|l| l.strip_prefix("outpost_http3_connections_total{outcome=\"retry\"} "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        assert!(retried > 0, "no Retry under a burst:\n{metrics}");
    })
    .await
    .expect("timed out");
}

/// `listen.quic_0rtt: true`: a resuming client sends requests in its first flight
/// (0-RTT) and the server accepts them; a safe method is served at once, an unsafe one
/// once the handshake completes (a replay never completes it).
#[tokio::test(flavor = "multi_thread")]
async fn zero_rtt_serves_resuming_clients_when_enabled() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (origin, ca) = (TestOrigin::start("origin").await, TestCa::new());
        let (op, _admin) = start(&origin, &ca, "quic_0rtt: true");
        let https = op.https.expect("https");
        let mut tls = (*ca.rustls_config()).clone();
        tls.alpn_protocols = vec![b"h3".to_vec()];
        tls.enable_early_data = true;
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
        let mut endpoint =
            quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        let base = format!("https://a.test:{}", https.port());

        // A first connection leaves the client a session ticket.
        let conn = endpoint
            .connect(https, "a.test")
            .expect("connect")
            .await
            .expect("handshake");
        let (mut driver, mut sender) = h3::client::new(h3_quinn::Connection::new(conn.clone()))
            .await
            .expect("h3");
        let drive = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        let (r, _) = exchange(&mut sender, "GET", &format!("{base}/echo"), None).await;
        assert_eq!(r.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        conn.close(0u32.into(), b"done");
        drop(sender);
        let _ = drive.await;

        // The second resumes with 0-RTT: its requests go out before the handshake ends.
        let (conn, accepted) = endpoint
            .connect(https, "a.test")
            .expect("connect")
            .into_0rtt()
            .unwrap_or_else(|_| panic!("the client has no 0-RTT ticket: the server offered none"));
        let (mut driver, mut sender) = h3::client::new(h3_quinn::Connection::new(conn))
            .await
            .expect("h3");
        tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        let mut sender2 = sender.clone();
        let (get_url, post_url) = (format!("{base}/echo?early"), format!("{base}/upload"));
        let get = exchange(&mut sender, "GET", &get_url, None);
        let post = exchange(
            &mut sender2,
            "POST",
            &post_url,
            Some(Bytes::from_static(b"twelve bytes")),
        );
        let ((g, _), (p, body)) = tokio::join!(get, post);
        assert!(accepted.await, "the server accepted the early data");
        assert_eq!(g.status(), 200);
        assert_eq!(p.status(), 200);
        assert_eq!(body, b"received 12");
    })
    .await
    .expect("timed out");
}
