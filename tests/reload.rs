//! Reload (SIGHUP and --watch) and graceful shutdown (SIGTERM).

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client};
use std::time::Duration;

fn config(origin: &TestOrigin) -> String {
    format!(
        "listen: {{ http: \"{{http}}\" }}\nserver: {{ shutdown_timeout: 10s }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n",
        origin.url()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_applies_valid_config_without_dropping_in_flight_requests() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b) = (TestOrigin::start("a").await, TestOrigin::start("b").await);
        let op = Outpost::start(&config(&a));
        let c = client();

        // A request in flight on the old config...
        let slow = tokio::spawn(c.get(op.url("/slow?ms=1500")).send());
        tokio::time::sleep(Duration::from_millis(300)).await;
        // ...while the config changes to another origin.
        op.rewrite_config(&config(&b));
        op.signal("HUP");
        op.wait_log("configuration reloaded", 1);

        let r = c.get(op.url("/")).send().await.expect("after reload");
        assert_eq!(r.headers()["x-origin"], "b", "new requests use the new config");
        let r = slow.await.expect("join").expect("in-flight request completed");
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.expect("body"), "slow from a", "in-flight request kept its config");

        // An invalid config is rejected with file:line:col, and the old one keeps serving.
        op.rewrite_config("listen: { http: \"{http}\" }\nsites:\n  - default: true\n    origins: [\"htp://nope\"]\n");
        op.signal("HUP");
        op.wait_log("configuration reload failed", 1);
        assert!(op.log_text().contains("outpost.yaml:4:15: sites[0].origins[0]: \"htp://nope\" is not a URL"), "{}", op.log_text());
        let r = c.get(op.url("/")).send().await.expect("still serving");
        assert_eq!(r.headers()["x-origin"], "b");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_mode_reloads_on_file_change() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (a, b) = (TestOrigin::start("a").await, TestOrigin::start("b").await);
        let op = Outpost::start_in(
            tempfile::tempdir().expect("tempdir"),
            &config(&a),
            &["--watch"],
        );
        let c = client();
        assert_eq!(
            c.get(op.url("/")).send().await.expect("req").headers()["x-origin"],
            "a"
        );
        // mtime granularity can be coarse: make sure the new file's stamp differs.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        op.rewrite_config(&config(&b));
        op.wait_log("configuration reloaded", 1);
        assert_eq!(
            c.get(op.url("/")).send().await.expect("req").headers()["x-origin"],
            "b"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_in_flight_requests_then_exits() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let a = TestOrigin::start("a").await;
        let mut op = Outpost::start(&config(&a));
        let slow = tokio::spawn(client().get(op.url("/slow?ms=1000")).send());
        tokio::time::sleep(Duration::from_millis(300)).await;
        op.signal("TERM");
        let r = slow
            .await
            .expect("join")
            .expect("in-flight request finished during drain");
        assert_eq!(r.text().await.expect("body"), "slow from a");
        let status = tokio::task::spawn_blocking(move || {
            let s = op.child.wait().expect("wait");
            (s, op)
        })
        .await
        .expect("join")
        .0;
        assert!(status.success(), "graceful exit: {status:?}");
    })
    .await
    .expect("test timed out");
}
