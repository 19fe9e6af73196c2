//! Scripts' `fetch()` to hosts this node does not serve, through the real binary:
//! the site's egress policy (`sites[].egress`) decides, after DNS resolution, and a
//! refusal is a `TypeError` the script can catch, logged with the request id. A real
//! DNS server on loopback (pebble-challtestsrv) gives test names their addresses.

mod common;

use common::dns::Dns;
use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client};
use std::sync::atomic::Ordering;

/// A hook that fetches `?url=…` (with the client's method and body) and answers with
/// what came back, or with the error's name and message (status 599). With `asis=1`
/// it sends a `Request` made first, as it is (the runtime's native `fetch` path).
const RELAY: &str = r#"export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get("url");
    const n = Number(new URL(request.url).searchParams.get("n") || "1");
    const asis = new URL(request.url).searchParams.get("asis") === "1";
    try {
      let r;
      for (let i = 0; i < n; i++) {
        const init = { method: request.method, headers: { "x-from-hook": "1" } };
        if (request.method === "POST") init.body = request.body;
        r = asis ? await fetch(new Request(target, { ...init, redirect: "manual" })) : await fetch(target, init);
      }
      const out = new Response(r.body, r);
      out.headers.set("x-fetched-status", String(r.status));
      return out;
    } catch (e) {
      return new Response(`${e.name}: ${e.message}`, { status: 599 });
    }
  },
};"#;

fn start(egress: &str, dns: Option<&Dns>) -> Outpost {
    let resolver = dns.map_or(String::new(), |d| {
        format!("resolver: {{ servers: [\"{}\"] }}\n", d.dns)
    });
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("relay.js"), RELAY).expect("script");
    Outpost::start_in(
        dir,
        &format!(
            "listen: {{ http: \"{{http}}\" }}\n{resolver}sites:\n  - default: true\n    origins: [\"http://127.0.0.1:9\"]\n    script: relay.js\n{egress}"
        ),
        &[],
    )
}

async fn relay(op: &Outpost, target: &str) -> (u16, String) {
    let r = client()
        .get(op.url(&format!("/?url={target}")))
        .send()
        .await
        .expect("relay");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_unless_the_site_allows_them() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // Another server on loopback that no site of this node serves.
        let other = TestOrigin::start("elsewhere").await;
        let target = format!("{}/echo", other.url());

        let strict = start("", None);
        let (status, body) = relay(&strict, &target).await;
        assert_eq!(status, 599, "{body}");
        assert!(body.starts_with("TypeError: "), "{body}");
        assert!(body.contains("refused"), "{body}");
        assert!(body.contains("127.0.0.1 (loopback)"), "{body}");
        assert!(body.contains("sites[].egress.private"), "{body}");
        // A Request sent on as it is is refused the same way.
        let (status, body) = relay(&strict, &format!("{target}&asis=1")).await;
        assert_eq!(status, 599, "{body}");
        assert!(body.starts_with("TypeError: "), "{body}");
        assert!(body.contains("sites[].egress.private"), "{body}");
        assert_eq!(other.hits.load(Ordering::SeqCst), 0, "nothing reached it");
        strict.wait_log("fetch() refused by the egress policy", 1);
        assert!(
            strict.log_text().contains("request_id="),
            "{}",
            strict.log_text()
        );

        let open = start("    egress: { private: allow }\n", None);
        let (status, body) = relay(&open, &target).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("elsewhere GET /echo"), "{body}");
        assert!(body.contains("x-from-hook: 1"), "{body}");
        // A POST body streams along.
        let r = client()
            .post(open.url(&format!("/?url={}/upload", other.url())))
            .body(vec![b'z'; 300_000])
            .send()
            .await
            .expect("post");
        let text = r.text().await.expect("body");
        assert_eq!(text, "received 300000", "{}", open.log_text());
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn names_are_checked_after_resolution_and_against_the_allow_list() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dns = Dns::start().await;
        dns.set_a("api.partner.test", "127.0.0.1").await;
        dns.set_a("other.partner.test", "127.0.0.1").await;
        let other = TestOrigin::start("partner").await;
        let port = other.addr.port();

        // A public-looking name that resolves to loopback is refused like loopback.
        let strict = start("    egress: { allow: [\"*.partner.test\"] }\n", Some(&dns));
        let (status, body) = relay(&strict, &format!("http://api.partner.test:{port}/")).await;
        assert_eq!(status, 599, "{body}");
        assert!(
            body.contains("api.partner.test resolves to 127.0.0.1 (loopback)"),
            "{body}"
        );

        // With private addresses allowed, the allow list still decides.
        let open = start(
            "    egress: { allow: [\"api.partner.test\"], private: allow, max_subrequests: 3 }\n",
            Some(&dns),
        );
        let (status, body) = relay(&open, &format!("http://api.partner.test:{port}/")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, "hello from partner");
        let (status, body) = relay(&open, &format!("http://other.partner.test:{port}/")).await;
        assert_eq!(status, 599, "{body}");
        assert!(
            body.contains("other.partner.test is not in this site's sites[].egress.allow"),
            "{body}"
        );
        let (status, body) = relay(&open, &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(status, 599, "{body}");

        // Every redirect hop is a fetch of its own, checked again: an allowed host
        // sending the script to one the policy refuses does not get it there.
        let to = format!("http://127.0.0.1:{port}/");
        let redirector = common::origin::serve(move |_req| {
            let to = to.clone();
            async move {
                hyper::Response::builder()
                    .status(302)
                    .header("location", to)
                    .body(http_body_util::Full::new(bytes::Bytes::new()))
                    .expect("response")
            }
        })
        .await;
        dns.set_a("api.partner.test", &redirector.ip().to_string())
            .await;
        let before = other.hits.load(Ordering::SeqCst);
        let (status, body) = relay(
            &open,
            &format!("http://api.partner.test:{}/", redirector.port()),
        )
        .await;
        assert_eq!(status, 599, "{body}");
        assert!(
            body.contains("127.0.0.1 is not in this site's sites[].egress.allow"),
            "{body}"
        );
        assert_eq!(
            other.hits.load(Ordering::SeqCst),
            before,
            "the hop was not made"
        );

        // The subrequest limit is the site's.
        let r = client()
            .get(open.url(&format!("/?n=4&url=http://api.partner.test:{port}/")))
            .send()
            .await
            .expect("many");
        let body = r.text().await.expect("body");
        assert!(
            body.contains("too many subrequests: a request may make at most 3"),
            "{body}"
        );
    })
    .await
    .expect("test timed out");
}

#[test]
fn a_bad_egress_policy_is_a_config_error_with_its_place() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("outpost.yaml");
    std::fs::write(
        &path,
        "listen: { http: \"127.0.0.1:0\" }\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:9\"]\n    egress: { allow: [\"bad host!\"], private: sometimes }\n",
    )
    .expect("config");
    let out = std::process::Command::new(common::outpost_bin())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("outpost check");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("outpost.yaml:5:"), "{text}");
    assert!(
        text.contains("\"bad host!\" is not a host name or pattern"),
        "{text}"
    );
    assert!(
        text.contains("\"sometimes\" is not \"deny\" or \"allow\""),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn https_is_verified_against_the_platform_roots() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // A TLS server with a certificate from a CA the platform does not trust.
        let ca = common::pki::TestCa::new();
        let dir = tempfile::tempdir().expect("dir");
        ca.issue(dir.path(), "self", &["localhost"]);
        let tls_server = Outpost::start_in(
            dir,
            "listen: { http: \"{http}\", https: \"{https}\" }\ntls:\n  certificates:\n    - { cert: self.pem, key: self.key, default: true }\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:9\"]\n",
            &[],
        );
        let port = tls_server.https.expect("https").port();
        let op = start("    egress: { private: allow }\n", None);
        let (status, body) = relay(&op, &format!("https://localhost:{port}/")).await;
        assert_eq!(status, 599, "{body}");
        assert!(body.starts_with("TypeError: "), "{body}");
        assert!(body.to_ascii_lowercase().contains("certificate"), "{body}");
    })
    .await
    .expect("test timed out");
}
