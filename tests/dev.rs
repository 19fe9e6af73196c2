//! `outpost dev` through the real binary: a hook and an origin from flags, readable
//! request and console lines, full stack traces in error pages, reload on save.

mod common;

use common::TEST_TIMEOUT;
use common::origin::TestOrigin;
use std::time::{Duration, Instant};

const HOOK: &str = r#"function fail() { throw new RangeError("no such bucket"); }
export default {
  async fetch(request) {
    const url = new URL(request.url);
    console.log("seen", url.pathname);
    if (url.pathname === "/fail") fail();
    const r = await fetch(request);
    const out = new Response(r.body, r);
    out.headers.set("x-version", "one");
    return out;
  },
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_prints_requests_and_reloads_on_save() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("hook.js");
        std::fs::write(&script, HOOK).expect("write");
        let log = dir.path().join("dev.log");
        let (mut child, listen) = common::start_dev(
            &[
                "--origin",
                &origin.url(),
                "--script",
                script.to_str().expect("utf8"),
            ],
            &log,
        );
        let c = common::client();
        let r = c
            .get(format!("http://{listen}/echo"))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-version"], "one");
        assert!(
            r.text()
                .await
                .expect("body")
                .starts_with("origin GET /echo")
        );

        // Error pages carry the script's own stack in dev mode.
        let r = c
            .get(format!("http://{listen}/fail"))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 500);
        let page = r.text().await.expect("body");
        assert!(
            page.contains("uncaught RangeError: no such bucket"),
            "{page}"
        );
        assert!(page.contains("at fail ("), "{page}");
        assert!(page.contains("hook.js:1:"), "{page}");

        // Save a new version: served without a restart.
        std::fs::write(&script, HOOK.replace("\"one\"", "\"two\"")).expect("rewrite");
        let changed = Instant::now();
        loop {
            let r = c
                .get(format!("http://{listen}/echo"))
                .send()
                .await
                .expect("req");
            if r.headers()["x-version"] == "two" {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(10),
                "never reloaded"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).expect("log");
        assert!(text.contains("outpost dev: serving on http://"), "{text}");
        assert!(text.contains("[hook.js] seen /echo"), "{text}");
        assert!(text.contains("GET 127.0.0.1/echo → 200"), "{text}");
        assert!(text.contains("↳ fetch GET 127.0.0.1/echo → 200"), "{text}");
    })
    .await
    .expect("timed out");
}
