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
        // The server counts a handshake once its side is done, which in TLS 1.2 can be
        // a moment after the client's: wait for the series to get there.
        assert_eq!(
            common::series_reaching(
                &admin,
                r#"outpost_tls_handshakes_total{version="TLSv1.3"}"#,
                2.0
            )
            .await,
            2.0
        );
        assert_eq!(
            common::series_reaching(
                &admin,
                r#"outpost_tls_handshakes_total{version="TLSv1.2"}"#,
                1.0
            )
            .await,
            1.0
        );
    })
    .await
    .expect("test timed out");
}

/// Records the OCSP response a server staples while verifying as usual.
#[derive(Debug)]
struct StapleRecorder {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    stapled: Arc<std::sync::Mutex<Option<Vec<u8>>>>,
}

impl rustls::client::danger::ServerCertVerifier for StapleRecorder {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        *self.stapled.lock().expect("lock") = Some(ocsp_response.to_vec());
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, &[], now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The OCSP response stapled in a handshake for `sni` (empty: none).
async fn stapled(ca: &TestCa, addr: std::net::SocketAddr, sni: &str) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert.der().clone()).expect("root");
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let seen = Arc::new(std::sync::Mutex::new(None));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(StapleRecorder {
            inner,
            stapled: seen.clone(),
        }))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from(sni.to_string()).expect("name");
    connector.connect(name, tcp).await.expect("handshake");
    seen.lock().expect("lock").take().expect("verifier ran")
}

/// An OCSP response from openssl's responder for `leaf`, `good` or revoked.
fn ocsp_response(
    dir: &std::path::Path,
    ca: &TestCa,
    leaf: &std::path::Path,
    good: bool,
) -> Vec<u8> {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("ca");
    std::fs::write(dir.join("ca.key"), ca.key.serialize_pem()).expect("ca key");
    let leaf = leaf.to_str().expect("utf8");
    let serial = run(&["x509", "-in", leaf, "-noout", "-serial"]);
    let serial = serial.trim().trim_start_matches("serial=");
    let entry = if good {
        format!("V\t301231235959Z\t\t{serial}\tunknown\t/CN=a.test\n")
    } else {
        format!("R\t301231235959Z\t251101000000Z\t{serial}\tunknown\t/CN=a.test\n")
    };
    std::fs::write(dir.join("index.txt"), entry).expect("index");
    run(&[
        "ocsp",
        "-issuer",
        "ca.pem",
        "-cert",
        leaf,
        "-no_nonce",
        "-reqout",
        "req.der",
    ]);
    run(&[
        "ocsp",
        "-index",
        "index.txt",
        "-rsigner",
        "ca.pem",
        "-rkey",
        "ca.key",
        "-CA",
        "ca.pem",
        "-reqin",
        "req.der",
        "-respout",
        "resp.der",
        "-ndays",
        "7",
    ]);
    std::fs::read(dir.join("resp.der")).expect("response")
}

#[tokio::test(flavor = "multi_thread")]
async fn ocsp_responses_are_checked_and_stapled() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("a").await;
        let ca = TestCa::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let (a_cert, _) = ca.issue(dir.path(), "a", &["a.test"]);
        let (b_cert, _) = ca.issue(dir.path(), "b", &["b.test"]);
        let good = ocsp_response(dir.path(), &ca, &a_cert, true);
        std::fs::write(dir.path().join("a.ocsp"), &good).expect("write");
        let config = |ocsp: &str| {
            format!(
                "listen: {{ http: \"{{http}}\", https: \"{{https}}\" }}\ntls:\n  certificates:\n    - {{ cert: a.pem, key: a.key, ocsp: {ocsp}, default: true }}\n    - {{ cert: b.pem, key: b.key }}\nsites:\n  - hosts: [a.test, b.test]\n    origins: [\"{}\"]\n",
                origin.url()
            )
        };
        let check = |ocsp: &str| {
            let path = dir.path().join("check.yaml");
            std::fs::write(&path, config(ocsp).replace("{http}", "127.0.0.1:1").replace("{https}", "127.0.0.1:2"))
                .expect("write");
            std::process::Command::new(common::outpost_bin())
                .args(["check", "--config"])
                .arg(&path)
                .output()
                .expect("outpost check")
        };
        let out = check("a.ocsp");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        // A revoked certificate's response, and another certificate's: refused by name.
        let revoked = ocsp_response(dir.path(), &ca, &a_cert, false);
        std::fs::write(dir.path().join("revoked.ocsp"), revoked).expect("write");
        let other = ocsp_response(dir.path(), &ca, &b_cert, true);
        std::fs::write(dir.path().join("other.ocsp"), other).expect("write");
        for (file, why) in [("revoked.ocsp", "revoked"), ("other.ocsp", "another certificate")] {
            let out = check(file);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{file} passed the check");
            assert!(err.contains(file) && err.contains(why), "{file}: {err}");
        }

        // Served: a.test's handshake carries the response byte for byte; b.test's none.
        let keep = tempfile::tempdir().expect("tempdir");
        for f in ["a.pem", "a.key", "b.pem", "b.key", "a.ocsp"] {
            std::fs::copy(dir.path().join(f), keep.path().join(f)).expect("copy");
        }
        let o = Outpost::start_in(keep, &config("a.ocsp"), &[]);
        let https = o.https.expect("https");
        assert_eq!(stapled(&ca, https, "a.test").await, good);
        assert!(stapled(&ca, https, "b.test").await.is_empty());
    })
    .await
    .expect("within the bound");
}

/// What `openssl s_client` negotiates with `args`: the cipher, or `None` if refused.
fn s_client(addr: std::net::SocketAddr, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "a.test",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl (Debian package openssl)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let cipher = text.lines().find_map(|l| {
        l.split_once("Cipher is ")
            .map(|(_, c)| c.trim().to_string())
    })?;
    (cipher != "(NONE)").then_some(cipher)
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_protocols_and_weak_suites_are_refused() {
    let origin = TestOrigin::start("a").await;
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("tempdir");
    ca.issue(dir.path(), "a", &["a.test"]);
    let o = Outpost::start_in(
        dir,
        &format!(
            "listen: {{ http: \"{{http}}\", https: \"{{https}}\" }}\ntls:\n  certificates:\n    - {{ cert: a.pem, key: a.key }}\nsites:\n  - hosts: [a.test]\n    origins: [\"{}\"]\n",
            origin.url()
        ),
        &[],
    );
    let https = o.https.expect("https");
    // The client side allows everything (security level 0), so a refusal is the server's.
    for (args, what) in [
        (&["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"][..], "TLS 1.0"),
        (&["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], "TLS 1.1"),
        (
            &["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],
            "RSA key exchange, CBC",
        ),
        (
            &["-tls1_2", "-cipher", "AES128-GCM-SHA256:@SECLEVEL=0"],
            "RSA key exchange (no forward secrecy)",
        ),
        (
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"],
            "CBC mode",
        ),
    ] {
        assert_eq!(s_client(https, args), None, "{what} was accepted");
    }
    assert_eq!(
        s_client(
            https,
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]
        )
        .as_deref(),
        Some("ECDHE-ECDSA-AES128-GCM-SHA256"),
        "TLS 1.2 with ECDHE and an AEAD works"
    );
    assert!(s_client(https, &["-tls1_3"]).is_some_and(|c| c.starts_with("TLS_")));
}
