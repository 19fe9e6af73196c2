//! Automatic certificates end to end against a real ACME server: Debian's `pebble`
//! (with `pebble-challtestsrv` as its DNS, answering every name with 127.0.0.1),
//! both on free loopback ports. Pebble validates HTTP-01 and TLS-ALPN-01 by
//! connecting to Outpost's real listeners, and clients verify the certificates
//! against pebble's root.
//!
//! Needs `pebble` installed (`apt-get install pebble`; `.ci/run` does it).

mod common;

use common::{Outpost, free_port, metric, scrape};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Every test here finishes well within this (pebble answers in about a second).
const BOUND: Duration = Duration::from_secs(150);

/// A running pebble and its DNS, killed on drop.
struct Pebble {
    children: Vec<Child>,
    dir: tempfile::TempDir,
    /// The ACME directory URL.
    directory: String,
    /// Pebble's management API (issuing roots).
    management: SocketAddr,
    /// The PEM pebble's own HTTPS API presents (what Outpost must trust as `ca_root`).
    api_cert: std::path::PathBuf,
}

impl Pebble {
    /// Starts pebble validating challenges against `http_port` (HTTP-01) and
    /// `tls_port` (TLS-ALPN-01) on 127.0.0.1.
    fn start(http_port: u16, tls_port: u16) -> Pebble {
        let dir = tempfile::tempdir().expect("tempdir");
        let pair = outpost_tls::self_signed(&["localhost", "127.0.0.1"]).expect("pebble cert");
        let api_cert = dir.path().join("pebble.pem");
        let api_key = dir.path().join("pebble.key");
        pair.write(&api_cert, &api_key).expect("write pebble cert");
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let management: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let dns = free_port();
        let dns_mgmt = free_port();
        let config = serde_json::json!({ "pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": api_cert,
            "privateKey": api_key,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("write pebble config");
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        let missing =
            "pebble is not installed: `apt-get install pebble` (the ACME tests run against it)";
        let chall = Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                &format!("127.0.0.1:{dns}"),
                "-http01",
                "",
                "-https01",
                "",
            ])
            .args(["-tlsalpn01", "", "-defaultIPv6", ""])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect(missing);
        let pebble = Command::new("pebble")
            .args(["-config", config_path.to_str().expect("utf8")])
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            // No random sleeps before validation and no deliberately rejected nonces:
            // the test is about Outpost, not about pebble's chaos options.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect(missing);
        let p = Pebble {
            children: vec![chall, pebble],
            dir,
            directory: format!("https://{listen}/dir"),
            management,
            api_cert,
        };
        for addr in [
            listen,
            management,
            format!("127.0.0.1:{dns_mgmt}").parse().expect("addr"),
        ] {
            let deadline = Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(addr).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "pebble did not start:\n{}",
                    p.log()
                );
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// Pebble's root CA (it makes a new one at every start), as PEM.
    async fn root(&self) -> String {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&self.api_cert).expect("read"))
                    .expect("pem"),
            )
            .resolve("localhost", self.management)
            .build()
            .expect("client");
        client
            .get(format!(
                "https://localhost:{}/roots/0",
                self.management.port()
            ))
            .send()
            .await
            .expect("pebble roots")
            .text()
            .await
            .expect("root pem")
    }

    fn stop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(pebble: &Pebble, admin: SocketAddr, sites: &str) -> String {
    format!(
        r#"
listen: {{ http: "{{http}}", https: "{{https}}" }}
tls:
  acme:
    directory_url: "{dir}"
    ca_root: {root}
    email: ops@example.com
admin: {{ listen: "{admin}" }}
sites:
{sites}
"#,
        dir = pebble.directory,
        root = pebble.api_cert.display(),
    )
}

const TWO_SITES: &str = r#"  - hosts: [a.test, www.a.test]
    origins: ["static:www"]
    tls: { acme: { challenge: http-01 } }
  - hosts: [b.test]
    origins: ["static:www"]
    tls: { acme: { challenge: tls-alpn-01, key_type: rsa-2048 } }
"#;

/// The public key algorithm of a DER certificate, as a dotted OID.
fn key_algorithm(der: &[u8]) -> String {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).expect("parse leaf");
    cert.public_key().algorithm.algorithm.to_id_string()
}

/// The issuer and subject of a DER certificate.
fn issuer_and_subject(der: &[u8]) -> (String, String) {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).expect("parse leaf");
    (cert.issuer().to_string(), cert.subject().to_string())
}

fn ports() -> (SocketAddr, SocketAddr) {
    let p = || format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    (p(), p())
}

fn site_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("www")).expect("www");
    std::fs::write(dir.path().join("www/index.html"), "hello over acme\n").expect("index");
    dir
}

/// `GET /certs` until every listed certificate is issued with `issued_count` total
/// issuances in the metrics (bounded).
async fn wait_issued(admin: SocketAddr, issued_count: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = scrape(&admin.to_string()).await;
        if text.contains("outpost_acme_orders{result=\"issued\"}")
            && metric(&text, "outpost_acme_orders{result=\"issued\"}") >= issued_count
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "certificates never issued:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TLS client trusting only `root_pem`.
fn tls_config(root_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(c.expect("root pem")).expect("add root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    // Full handshakes only: a resumed session reports the certificate of the session
    // it resumes, not the one the server would present now.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// One HTTPS request on a new connection, verified against `config`'s roots:
/// the status line's code and the leaf certificate presented.
async fn get_once(
    config: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    host: &str,
) -> Result<(u16, Vec<u8>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name =
        rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let mut tls = tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or("no certificate")?;
    tls.write_all(
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))?;
    if !text.ends_with("hello over acme\n") {
        return Err(format!("unexpected body: {text:?}"));
    }
    Ok((code, leaf))
}

#[tokio::test(flavor = "multi_thread")]
async fn issues_by_http01_and_tls_alpn01_then_reuses_and_reissues_a_broken_file() {
    tokio::time::timeout(BOUND, async {
        let (http, https) = ports();
        let pebble = Pebble::start(http.port(), https.port());
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let yaml = config(&pebble, admin, TWO_SITES);

        // First start: nothing stored, both orders run.
        let started = Instant::now();
        let o = Outpost::start_on(site_dir(), &yaml, http, https);
        let text = wait_issued(admin, 2.0).await;
        eprintln!(
            "time to first certificates (2 orders, one after the other): {:?}",
            started.elapsed()
        );
        assert_eq!(metric(&text, "outpost_acme_orders{result=\"loaded\"}"), 0.0);
        assert!(
            metric(
                &text,
                "outpost_certificate_expiry_seconds{host=\"www.a.test\"}"
            ) > 86_400.0
        );
        let log = o.log_text();
        assert!(log.contains("answered an ACME http-01 challenge"), "{log}");
        assert!(
            log.contains("answered an ACME tls-alpn-01 validation handshake"),
            "{log}"
        );

        // Clients verify both against pebble's root, on every name.
        let root = pebble.root().await;
        let client = tls_config(&root);
        let mut served = std::collections::HashMap::new();
        for host in ["a.test", "www.a.test", "b.test"] {
            let (code, leaf) = get_once(&client, https, host).await.expect(host);
            assert_eq!(code, 200, "{host}");
            served.insert(host, leaf);
        }
        assert_eq!(
            served["a.test"], served["www.a.test"],
            "one certificate per site"
        );
        assert_ne!(served["a.test"], served["b.test"]);
        assert_eq!(
            key_algorithm(&served["a.test"]),
            "1.2.840.10045.2.1",
            "ECDSA by default"
        );
        assert_eq!(
            key_algorithm(&served["b.test"]),
            "1.2.840.113549.1.1.1",
            "key_type: rsa-2048"
        );

        // Keys and certificates are private to the process user.
        #[cfg(unix)]
        for f in [
            "certs/a.test/key.pem",
            "certs/a.test/cert.pem",
            "certs/b.test/key.pem",
        ] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(o.dir.path().join("acme").join(f))
                .expect(f)
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }

        // Restart: both come from storage, no new order.
        let dir = o.stop_keep_dir();
        let o = Outpost::start_on(dir, &yaml, http, https);
        o.wait_log("ACME certificate loaded from storage", 2);
        for host in ["a.test", "b.test"] {
            let (code, leaf) = get_once(&client, https, host).await.expect(host);
            assert_eq!(
                (code, &leaf),
                (200, &served[host]),
                "{host}: the stored certificate"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let text = scrape(&admin.to_string()).await;
        assert_eq!(metric(&text, "outpost_acme_orders{result=\"loaded\"}"), 2.0);
        assert_eq!(metric(&text, "outpost_acme_orders{result=\"issued\"}"), 0.0);

        // A half-written certificate is detected, never served, and re-issued.
        let dir = o.stop_keep_dir();
        let cert = dir.path().join("acme/certs/b.test/cert.pem");
        let pem = std::fs::read(&cert).expect("read");
        std::fs::write(&cert, &pem[..pem.len() / 2]).expect("truncate");
        let o = Outpost::start_on(dir, &yaml, http, https);
        wait_issued(admin, 1.0).await;
        let log = o.log_text();
        assert!(log.contains("stored ACME certificate is unusable"), "{log}");
        let text = scrape(&admin.to_string()).await;
        assert_eq!(metric(&text, "outpost_acme_orders{result=\"loaded\"}"), 1.0);
        let (code, leaf) = get_once(&client, https, "b.test").await.expect("b.test");
        assert_eq!(code, 200);
        assert_ne!(leaf, served["b.test"], "a new certificate");
        assert_eq!(
            get_once(&client, https, "a.test").await.expect("a").1,
            served["a.test"]
        );

        // `outpost cert status` reads the same storage offline.
        let out = Command::new(common::outpost_bin())
            .args([
                "cert",
                "status",
                "--config",
                o.config.to_str().expect("utf8"),
            ])
            .output()
            .expect("cert status");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("a.test,www.a.test  issuer: CN=Pebble Intermediate"),
            "{stdout}"
        );
        assert!(stdout.contains("[tls-alpn-01]"), "{stdout}");

        // A reload that adds a name: b.test keeps its certificate until the new one,
        // covering both names, is issued and swapped in.
        let (_, before) = get_once(&client, https, "b.test").await.expect("b.test");
        o.rewrite_config(&yaml.replace("hosts: [b.test]", "hosts: [b.test, www.b.test]"));
        o.signal("HUP");
        let mut during = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        let after = loop {
            let (code, leaf) = get_once(&client, https, "b.test")
                .await
                .expect("b.test serves throughout");
            assert_eq!(code, 200);
            if leaf != before {
                break leaf;
            }
            during += 1;
            assert!(Instant::now() < deadline, "the new certificate never came");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        eprintln!("b.test served its old certificate {during} times while the new order ran");
        let (code, www) = get_once(&client, https, "www.b.test")
            .await
            .expect("www.b.test");
        assert_eq!(
            (code, &www),
            (200, &after),
            "one certificate for both names"
        );
    })
    .await
    .expect("within the bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_under_load_loses_no_request_and_a_ca_outage_keeps_the_old_certificate() {
    tokio::time::timeout(BOUND, async {
        let (http, https) = ports();
        let mut pebble = Pebble::start(http.port(), https.port());
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let yaml = config(
            &pebble,
            admin,
            "  - hosts: [a.test]\n    origins: [\"static:www\"]\n    tls: { acme: {} }\n",
        );
        let o = Outpost::start_on(site_dir(), &yaml, http, https);
        wait_issued(admin, 1.0).await;
        let client = tls_config(&pebble.root().await);
        let (_, first) = get_once(&client, https, "a.test").await.expect("first");

        // Four clients, a new TLS connection per request, through a forced renewal.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (client, stop, ok, failed) =
                (client.clone(), stop.clone(), ok.clone(), failed.clone());
            workers.push(tokio::spawn(async move {
                let mut last = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match get_once(&client, https, "a.test").await {
                        Ok((200, leaf)) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            last = leaf;
                        }
                        Ok((code, _)) => {
                            eprintln!("status {code}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("failed: {e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                last
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let renew = common::client()
            .post(format!("http://{admin}/certs/renew"))
            .send()
            .await
            .expect("renew");
        assert_eq!(renew.status(), 202);
        wait_issued(admin, 2.0).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        let mut lasts = Vec::new();
        for w in workers {
            lasts.push(w.await.expect("worker"));
        }
        let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
        eprintln!("renewal under load: {ok} requests, {failed} failed");
        assert_eq!(failed, 0, "no request fails during a renewal");
        assert!(ok > 20, "the load ran ({ok} requests)");
        let (_, renewed) = get_once(&client, https, "a.test").await.expect("renewed");
        assert_ne!(renewed, first, "the served certificate changed");
        assert!(
            lasts.iter().all(|l| *l == renewed),
            "every client ended on the new one"
        );

        // The CA goes away: renewal fails loudly, the current certificate keeps serving.
        pebble.stop();
        common::client()
            .post(format!("http://{admin}/certs/renew"))
            .send()
            .await
            .expect("renew");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = scrape(&admin.to_string()).await;
            if metric(&text, "outpost_acme_failures{host=\"a.test\"}") >= 1.0 {
                assert!(metric(&text, "outpost_acme_orders{result=\"failed\"}") >= 1.0);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the failure never showed:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The log line is written by the log writer thread in batches: it may land a
        // moment after the metric.
        o.wait_log(
            "ACME order failed; the current certificate (if any) keeps serving",
            1,
        );
        let certs: serde_json::Value = common::client()
            .get(format!("http://{admin}/certs"))
            .send()
            .await
            .expect("certs")
            .json()
            .await
            .expect("json");
        assert!(
            certs["certificates"][0]["last_error"].is_string(),
            "{certs}"
        );
        for _ in 0..5 {
            let (code, leaf) = get_once(&client, https, "a.test")
                .await
                .expect("still served");
            assert_eq!((code, &leaf), (200, &renewed));
        }
    })
    .await
    .expect("within the bound");
}

/// Accepts any certificate: to look at what is served before a real one exists.
#[derive(Debug)]
struct AcceptAnything;

impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn before_the_first_certificate_a_placeholder_or_a_refusal_as_configured() {
    tokio::time::timeout(BOUND, async {
        // A CA that is not there: every order fails, nothing is ever issued.
        let dead = free_port();
        let any = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything))
            .with_no_client_auth(),
        );
        for placeholder in ["self-signed", "refuse"] {
            let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
            let (http, https) = ports();
            let yaml = format!(
                "listen: {{ http: \"{{http}}\", https: \"{{https}}\" }}\ntls:\n  acme: {{ directory_url: \"https://127.0.0.1:{dead}/dir\", placeholder: {placeholder} }}\nadmin: {{ listen: \"{admin}\" }}\nsites:\n  - hosts: [a.test]\n    origins: [\"static:www\"]\n    tls: {{ acme: {{}} }}\n"
            );
            let o = Outpost::start_on(site_dir(), &yaml, http, https);
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let text = scrape(&admin.to_string()).await;
                if text.contains("outpost_acme_failures{host=\"a.test\"} 1") {
                    break;
                }
                assert!(Instant::now() < deadline, "no failure reported:\n{text}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // (The log writer buffers off-thread: the line may land after the metric.)
            o.wait_log("ACME order failed", 1);
            let log = o.log_text();
            assert!(log.contains("ACME order failed"), "{log}");
            let got = get_once(&any, https, "a.test").await;
            if placeholder == "self-signed" {
                o.wait_log("serving a self-signed placeholder", 1);
                let log = o.log_text();
                assert!(log.contains("serving a self-signed placeholder"), "{log}");
                let (code, leaf) = got.expect("the placeholder serves");
                assert_eq!(code, 200);
                let (issuer, subject) = issuer_and_subject(&leaf);
                assert_eq!(issuer, subject, "self-signed");
            } else {
                assert!(log.contains("refusing TLS for these names"), "{log}");
                let e = got.expect_err("no certificate, no handshake");
                assert!(e.starts_with("handshake"), "{e}");
            }
        }
    })
    .await
    .expect("within the bound");
}
