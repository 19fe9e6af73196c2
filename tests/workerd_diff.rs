//! Differential tests: the same hook script runs in Cloudflare's own Workers runtime
//! (workerd) and in Outpost; for the same requests, status, key headers and body must
//! match. workerd comes from `tests/differential/install-workerd.sh` (a pinned npm
//! tarball; `.ci/run` installs it, and this test runs the script when it is missing).

mod common;

use common::origin::TestOrigin;
use common::{TEST_TIMEOUT, free_port, start_quick};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn workerd() -> PathBuf {
    if let Ok(p) = std::env::var("OUTPOST_WORKERD") {
        return PathBuf::from(p);
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/differential/install-workerd.sh"
    );
    let out = Command::new("bash")
        .arg(script)
        .output()
        .expect("run install-workerd.sh");
    assert!(
        out.status.success(),
        "workerd is needed for the differential tests and could not be installed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A child process killed when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves `script` (a module worker) with workerd on a free loopback port.
fn start_workerd(dir: &std::path::Path, script: &str, module: bool) -> (Killed, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    std::fs::copy(script, dir.join("worker.js")).expect("copy script");
    let code = if module {
        r#"modules = [ (name = "worker.js", esModule = embed "worker.js") ]"#
    } else {
        r#"serviceWorkerScript = embed "worker.js""#
    };
    // Subrequests may reach the test origin on loopback.
    let capnp = format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "{addr}", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  {code},
  compatibilityDate = "2024-09-23",
  globalOutbound = "net",
);
"#
    );
    let config = dir.join("config.capnp");
    std::fs::write(&config, capnp).expect("write capnp");
    let log = std::fs::File::create(dir.join("workerd.log")).expect("log");
    let child = Command::new(workerd())
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start workerd");
    let w = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "workerd did not start:\n{}",
            std::fs::read_to_string(dir.join("workerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (w, addr)
}

/// What is compared: status, the headers a script controls, and the body.
async fn exchange(
    c: &reqwest::Client,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    origin: &str,
) -> (u16, Option<String>, Option<String>, Option<String>, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = c
        .request(method, format!("http://{addr}{path}"))
        .header("user-agent", "differential/1")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .header("x-origin-url", origin);
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let r = req.send().await.expect("request");
    let h = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_string())
    };
    let (status, ct, location, xj) = (
        r.status().as_u16(),
        h("content-type"),
        h("location"),
        h("x-j").or(h("x-hook")),
    );
    let text = r.text().await.expect("body");
    // An uncaught exception: both answer 500; the error pages are each runtime's own.
    let text = if status == 500 { String::new() } else { text };
    (status, ct, location, xj, text)
}

/// Sends each case to both runtimes; returns the differences (empty when they agree).
/// Every case must have really answered in Outpost (a 500 on both sides would compare
/// equal), except `/throw`, which tests exactly that.
async fn compare(
    c: &reqwest::Client,
    workerd: &str,
    outpost: &str,
    cases: &[(&str, &str, Option<&str>)],
    origin: &str,
) -> String {
    let mut diffs = Vec::new();
    for (method, path, body) in cases {
        let want = exchange(c, workerd, method, path, *body, origin).await;
        let got = exchange(c, outpost, method, path, *body, origin).await;
        assert!(
            *path == "/throw" || got.0 != 500,
            "{method} {path} failed in Outpost: {got:?}"
        );
        if want != got {
            diffs.push(format!(
                "{method} {path}\n  workerd: {want:?}\n  outpost: {got:?}"
            ));
        }
    }
    diffs.join("\n")
}

/// Runs `tests/differential/NAME` in workerd and in `outpost proxy` (quick mode, in
/// front of a test origin, with `extra` flags), sends both `cases`, and returns the
/// differences. With `send_origin`, requests carry the origin's URL for the script.
async fn differ(
    name: &str,
    module: bool,
    extra: &[&str],
    c: &reqwest::Client,
    cases: &[(&str, &str, Option<&str>)],
    send_origin: bool,
) -> String {
    let script = format!("{}/tests/differential/{name}", env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (_workerd, wd) = start_workerd(dir.path(), &script, module);
    let origin = TestOrigin::start("origin").await;
    let url = origin.url();
    // Answers are compared, not speed: a debug build's interpreter and crypto run
    // many times slower than a release build's, so the production 50 ms CPU limit
    // would be a timing threshold here (Web Crypto routes sat right at it).
    let mut args = vec![
        "--origin",
        url.as_str(),
        "--script",
        script.as_str(),
        "--script-cpu-limit",
        "2s",
    ];
    args.extend_from_slice(extra);
    let (op, outpost) = start_quick(&args, &dir.path().join("outpost.log"));
    let _op = Killed(op);
    let sent = if send_origin { url.as_str() } else { "" };
    compare(c, &wd, &outpost, cases, sent).await
}

fn gets<'a>(paths: &[&'a str]) -> Vec<(&'static str, &'a str, Option<&'static str>)> {
    paths.iter().map(|p| ("GET", *p, None)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_answer_as_workerd_does() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("GET", "/request?q=1&q=2", None),
            ("POST", "/request", Some("posted body")),
            ("PUT", "/request?x=%20y", Some("")),
            ("GET", "/url", None),
            ("GET", "/headers", None),
            ("GET", "/headers-read", None),
            ("GET", "/bodies", None),
            ("GET", "/encoding", None),
            ("GET", "/json", None),
            ("GET", "/redirect", None),
            ("GET", "/nowhere", None),
            ("GET", "/throw", None),
            ("GET", "/globals", None),
            ("GET", "/hmac", None),
            ("GET", "/blob", None),
            ("GET", "/cache-shape", None),
            ("GET", "/formdata", None),
            ("GET", "/crypto-shape", None),
            ("GET", "/sig-rsa-pkcs1", None),
            ("GET", "/sig-rsa-pss", None),
            ("GET", "/sig-p256", None),
            ("GET", "/sig-p384", None),
            ("GET", "/sig-ed25519", None),
            ("GET", "/sig-refused", None),
            ("GET", "/urlpattern", None),
        ];
        let diffs = differ("webapis.js", true, &[], &c, cases, false).await;
        assert!(diffs.is_empty(), "Outpost differs from workerd:\n{diffs}");
    })
    .await
    .expect("timed out");
}

/// Web Crypto beyond digests and HMAC, in an instance of its own: its routes are the
/// heaviest (a debug build runs hooks under the same 50 ms CPU limit), and their
/// garbage would otherwise be collected during the other routes' requests.
#[tokio::test(flavor = "multi_thread")]
async fn web_crypto_behaves_as_in_workerd() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("GET", "/aes-gcm", None),
            ("GET", "/derive", None),
            ("GET", "/sign-ed25519", None),
            // (RSA routes: ring and rsa are optimised even in debug builds, see
            // Cargo.toml, or their key checks overrun the 50 ms CPU limit.)
            ("GET", "/sign-rsa", None),
            ("GET", "/sign-rsa-jwk-pss", None),
            ("GET", "/export-rsa-private", None),
            ("GET", "/export-rsa-public", None),
            ("GET", "/export-private", None),
            ("GET", "/sign-ecdsa", None),
            ("GET", "/sign-p384-pair", None),
            ("GET", "/digest-stream", None),
            ("GET", "/aes-cbc", None),
            ("GET", "/aes-ctr", None),
            ("GET", "/aes-wrap", None),
            ("GET", "/ecdh", None),
        ];
        let diffs = differ("webapis.js", true, &[], &c, cases, false).await;
        assert!(diffs.is_empty(), "Outpost differs from workerd:\n{diffs}");
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn subrequests_behave_as_in_workerd() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let cases = gets(&[
            "/passthrough",
            "/read",
            "/parallel",
            "/clone",
            "/none",
            "/abort",
            "/asis",
            "/bodystream",
            "/hoststream",
        ]);
        let extra = ["--cache-memory", "0"];
        let diffs = differ("fetcher.js", false, &extra, &common::client(), &cases, true).await;
        assert!(diffs.is_empty(), "Outpost differs from workerd:\n{diffs}");
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn html_rewriter_behaves_as_in_workerd() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let cases = gets(&[
            "/elements",
            "/text",
            "/async",
            "/promises",
            "/tokens",
            "/fetched",
        ]);
        let diffs = differ("rewriter.js", true, &[], &common::client(), &cases, true).await;
        assert!(diffs.is_empty(), "Outpost differs from workerd:\n{diffs}");
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_behave_as_in_workerd() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let mut cases = gets(&[
            "/transform",
            "/identity",
            "/decoder",
            "/uppercase",
            "/tee",
            "/text",
            "/state",
            "/byob",
            "/rewrite",
            "/errored",
            "/compression/gzip",
            "/compression/deflate",
            "/compression/deflate-raw",
            "/compression/br",
            "/compression/bad",
        ]);
        cases.push(("POST", "/for-await", Some("a streamed request body")));
        let diffs = differ("streams.js", true, &[], &common::client(), &cases, true).await;
        assert!(diffs.is_empty(), "Outpost differs from workerd:\n{diffs}");
    })
    .await
    .expect("timed out");
}

/// The Fetch and URL standards' details (`fetchstd.js`): each route answers a list of
/// `[check, outcome]`; differences are reported check by check.
#[tokio::test(flavor = "multi_thread")]
async fn fetch_and_url_standards_as_in_workerd() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let script = format!(
            "{}/tests/differential/fetchstd.js",
            env!("CARGO_MANIFEST_DIR")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let (_workerd, wd) = start_workerd(dir.path(), &script, true);
        let origin = TestOrigin::start("origin").await;
        let url = origin.url();
        let (op, outpost) = start_quick(
            &["--origin", url.as_str(), "--script", script.as_str()],
            &dir.path().join("outpost.log"),
        );
        let _op = Killed(op);
        let c = common::client();
        let mut diffs = Vec::new();
        let mut checks = 0;
        for route in ["/headers", "/request", "/response", "/url"] {
            let answer = |addr: String| {
                let c = c.clone();
                async move {
                    let r = c
                        .get(format!("http://{addr}{route}"))
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(r.status(), 200, "{route} in {addr}");
                    r.json::<Vec<(String, serde_json::Value)>>()
                        .await
                        .expect("a list of checks")
                }
            };
            let want = answer(wd.clone()).await;
            let got = answer(outpost.clone()).await;
            assert_eq!(want.len(), got.len(), "{route}: the same checks");
            for ((name, w), (_, g)) in want.iter().zip(&got) {
                checks += 1;
                if w != g {
                    diffs.push(format!("{route} {name}: workerd {w}, outpost {g}"));
                }
            }
        }
        assert!(
            diffs.is_empty(),
            "Outpost differs from workerd in {} of {checks} checks:\n{}",
            diffs.len(),
            diffs.join("\n")
        );
    })
    .await
    .expect("timed out");
}
