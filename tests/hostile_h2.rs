//! Hostile HTTP/2 (h2c, prior knowledge): malformed messages that could be
//! downgraded into a different HTTP/1.1 request, pseudo-header abuse, rapid reset
//! (CVE-2023-44487) and a CONTINUATION flood, sent by `tests/h2/attacks.py` (python
//! `h2` with its own validation off). Each malformed request must be refused (a 4xx
//! or a stream/connection error), and nothing smuggled in a body may reach the
//! origin as a request; after the floods the node still serves.
//!
//! Needs python3 with the `h2` package (`pip install h2`; `.ci/run` does it).

mod common;

use common::{Outpost, TEST_TIMEOUT, client};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_abusive_h2_is_refused_and_never_reaches_the_origin() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        // A recording origin: every request line it parses.
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let s = seen.clone();
        let origin = common::origin::serve(move |req: hyper::Request<hyper::body::Incoming>| {
            s.lock().expect("lock").push(format!("{} {}", req.method(), req.uri().path()));
            async {
                hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"ok\n")))
            }
        })
        .await;
        let o = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\", h2c: true }}\nsites:\n  - hosts: [a.test]\n    origins: [\"http://{origin}\"]\n    cache: false\n"
        ));
        let out = tokio::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2/attacks.py"))
            .arg(o.http.ip().to_string())
            .arg(o.http.port().to_string())
            .output()
            .await
            .expect("python3");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "tests/h2/attacks.py failed (python3 with `pip install h2` needed):\n{stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("{stdout}");
        let mut failures = Vec::new();
        for line in stdout.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            let case = v["case"].as_str().unwrap_or("?");
            let outcome = v["outcome"].as_str().unwrap_or("?");
            let refused = outcome.starts_with("status 4")
                || outcome.starts_with("reset")
                || outcome.starts_with("goaway")
                || outcome == "closed";
            let flood = case == "rapid reset" || case == "continuation flood";
            if !flood && !refused {
                failures.push(format!("{case}: {outcome}"));
            }
            if flood && outcome == "timeout" {
                failures.push(format!("{case}: the server neither answered nor closed"));
            }
        }
        // The bodies carry HTTP/1.1 requests (`/smuggled…`): one reaching the origin as
        // a request would be a downgrade smuggle. A request whose body turned out to
        // mismatch its content-length may have had its head forwarded already (the
        // body streams); its upstream connection is then dropped, not reused.
        let got = seen.lock().expect("lock").clone();
        eprintln!("origin saw: {got:?}");
        if got.iter().any(|l| l.contains("smuggled")) {
            failures.push(format!("a smuggled request reached the origin: {got:?}"));
        }
        if got.len() > 2 {
            failures.push(format!("more than the two content-length cases reached the origin: {got:?}"));
        }
        assert!(failures.is_empty(), "{}\n\n{stdout}", failures.join("\n"));
        // Still serving, over HTTP/1.1 and h2c.
        let r = client()
            .get(o.url("/after"))
            .header("host", "a.test")
            .send()
            .await
            .expect("after");
        assert_eq!(r.status(), 200);
        assert!(!o.log_text().contains("panicked"));
    })
    .await
    .expect("within the bound");
}
