//! HTTPS: SNI picks among several certificates, ALPN negotiates h2, and certificates
//! reload without dropping open connections.

mod common;

use common::origin::TestOrigin;
use common::pki::TestCa;
use common::{Outpost, TEST_TIMEOUT};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn two_site_config(a: &TestOrigin, b: &TestOrigin) -> String {
    format!(
        "listen: {{ http: \"{{http}}\", https: \"{{https}}\" }}
tls:
  certificates:
    - {{ cert: a.pem, key: a.key, default: true }}
    - {{ cert: b.pem, key: b.key }}
sites:
  - hosts: [\"a.test\"]
    origins: [\"{}\"]
  - hosts: [\"*.b.test\"]
    origins: [\"{}\"]
",
        a.url(),
        b.url()
    )
}

/// The DER of the leaf certificate the server presents for `sni`.
async fn served_cert(ca: &TestCa, addr: std::net::SocketAddr, sni: &str) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(ca.rustls_config());
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from(sni.to_string()).expect("name");
    let tls = connector
        .connect(name, tcp)
        .await
        .expect("handshake verifies against the test CA");
    tls.get_ref().1.peer_certificates().expect("certs")[0].to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn sni_selects_certificate_and_h2_is_negotiated() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b) = (TestOrigin::start("a").await, TestOrigin::start("b").await);
        let ca = TestCa::new();
        let dir = tempfile::tempdir().expect("tempdir");
        ca.issue(dir.path(), "a", &["a.test"]);
        ca.issue(dir.path(), "b", &["*.b.test"]);
        let op = Outpost::start_in(dir, &two_site_config(&a, &b), &[]);
        let https = op.https.expect("https");

        let c = ca.client(https, &["a.test", "www.b.test"]);
        for (host, want) in [("a.test", "a"), ("www.b.test", "b")] {
            let r = c
                .get(format!("https://{host}:{}/echo", https.port()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{host}: {e:?}"));
            assert_eq!(r.version(), reqwest::Version::HTTP_2, "ALPN picks h2");
            assert_eq!(r.headers()["x-origin"], want);
            let body = r.text().await.expect("body");
            assert!(body.contains("x-forwarded-proto: https\n"), "{body}");
            assert!(body.contains(&format!("host: {host}")), "{body}");
        }

        // HTTP/1.1 over TLS still works.
        let h1 = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("pem"))
            .resolve("a.test", https)
            .http1_only()
            .build()
            .expect("client");
        let r = h1
            .get(format!("https://a.test:{}/", https.port()))
            .send()
            .await
            .expect("h1");
        assert_eq!(r.version(), reqwest::Version::HTTP_11);

        // Each name gets its own certificate; an unknown name gets the default (a.test).
        let cert_a = served_cert(&ca, https, "a.test").await;
        let cert_b = served_cert(&ca, https, "x.b.test").await;
        assert_ne!(cert_a, cert_b);
        let connector = tokio_rustls::TlsConnector::from(ca.rustls_config());
        let tcp = tokio::net::TcpStream::connect(https)
            .await
            .expect("connect");
        let name = rustls_pki_types::ServerName::try_from("unknown.test").expect("name");
        let err = connector
            .connect(name, tcp)
            .await
            .expect_err("default cert does not cover unknown.test");
        assert!(err.to_string().contains("certificate"), "{err}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_hot_reload_keeps_open_connections() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b) = (TestOrigin::start("a").await, TestOrigin::start("b").await);
        let ca = TestCa::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let dir_path = dir.path().to_path_buf();
        ca.issue(&dir_path, "a", &["a.test"]);
        ca.issue(&dir_path, "b", &["*.b.test"]);
        let op = Outpost::start_in(dir, &two_site_config(&a, &b), &[]);
        let https = op.https.expect("https");
        let before = served_cert(&ca, https, "a.test").await;

        // Open a keep-alive connection on the old certificate.
        let connector = tokio_rustls::TlsConnector::from(Arc::new({
            let mut c = (*ca.rustls_config()).clone();
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            c
        }));
        let tcp = tokio::net::TcpStream::connect(https)
            .await
            .expect("connect");
        let name = rustls_pki_types::ServerName::try_from("a.test").expect("name");
        let mut open = connector.connect(name, tcp).await.expect("handshake");
        let req = b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
        open.write_all(req).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let n = open.read(&mut buf).await.expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

        // Replace the files and reload: new handshakes see the new certificate.
        ca.issue(&dir_path, "a", &["a.test"]);
        op.signal("HUP");
        op.wait_log("configuration reloaded", 1);
        let after = served_cert(&ca, https, "a.test").await;
        assert_ne!(before, after, "new handshake uses the new certificate");

        // The connection opened before the reload still works.
        open.write_all(req).await.expect("write after reload");
        let n = open.read(&mut buf).await.expect("read after reload");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

        // A broken certificate file is rejected and the current one keeps serving.
        std::fs::write(dir_path.join("a.pem"), "garbage").expect("write");
        op.signal("HUP");
        op.wait_log("configuration reload failed", 1);
        assert_eq!(served_cert(&ca, https, "a.test").await, after);

        // Certificate and key deleted, then the config file itself: each reload fails
        // cleanly and the running certificates and config keep serving.
        std::fs::remove_file(dir_path.join("a.pem")).expect("rm cert");
        std::fs::remove_file(dir_path.join("a.key")).expect("rm key");
        op.signal("HUP");
        op.wait_log("configuration reload failed", 2);
        assert_eq!(served_cert(&ca, https, "a.test").await, after);
        std::fs::remove_file(&op.config).expect("rm config");
        op.signal("HUP");
        op.wait_log("configuration reload failed", 3);
        assert_eq!(served_cert(&ca, https, "a.test").await, after);
        open.write_all(req)
            .await
            .expect("write after the files went");
        let n = open
            .read(&mut buf)
            .await
            .expect("read after the files went");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn handshakes_are_counted_by_tls_version() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b) = (TestOrigin::start("a").await, TestOrigin::start("b").await);
        let ca = TestCa::new();
        let dir = tempfile::tempdir().expect("tempdir");
        ca.issue(dir.path(), "a", &["a.test"]);
        ca.issue(dir.path(), "b", &["*.b.test"]);
        let admin = format!("127.0.0.1:{}", common::free_port());
        let yaml = two_site_config(&a, &b).replace(
            "sites:\n",
            &format!("admin: {{ listen: \"{admin}\" }}\nsites:\n"),
        );
        let op = Outpost::start_in(dir, &yaml, &[]);
        let https = op.https.expect("https");
        // Two TLS 1.3 handshakes, one TLS 1.2.
        served_cert(&ca, https, "a.test").await;
        served_cert(&ca, https, "www.b.test").await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert.der().clone()).expect("root");
        let tls12 = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(https)
            .await
            .expect("connect");
        let name = rustls_pki_types::ServerName::try_from("a.test").expect("name");
        let tls = tokio_rustls::TlsConnector::from(Arc::new(tls12))
            .connect(name, tcp)
            .await
            .expect("TLS 1.2 handshake");
        assert_eq!(
            tls.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        let metrics = common::scrape(&admin).await;
        assert_eq!(
            common::metric(
                &metrics,
                r#"outpost_tls_handshakes_total{version="TLSv1.3"}"#
            ),
            2.0
        );
        assert_eq!(
            common::metric(
                &metrics,
                r#"outpost_tls_handshakes_total{version="TLSv1.2"}"#
            ),
            1.0
        );
    })
    .await
    .expect("test timed out");
}
