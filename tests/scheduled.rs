//! Cron triggers through the real binary: a site's `triggers.crons` run its script's
//! `scheduled(controller, env, ctx)` handler on time (its `fetch()` reaching the
//! origin), failures are counted and logged without harming anything else, a bad
//! expression is a config error with its position, and `outpost dev` runs one by hand.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, free_port, scrape};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const WORKER: &str = r#"export default {
  async fetch(request, env) {
    return new Response("fetch handler, " + env.GREETING);
  },
  async scheduled(controller, env, ctx) {
    const q = new URLSearchParams({
      cron: controller.cron,
      type: controller.type,
      whole: String(controller.scheduledTime % 1000 === 0),
      env: env.GREETING,
    });
    const r = await fetch(env.ORIGIN + "/echo/ping?" + q);
    if (!r.ok) throw new Error("origin said " + r.status);
  },
};
"#;

const BROKEN: &str = r#"export default {
  async scheduled(controller) { throw new RangeError("nothing to do at " + controller.cron); },
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn cron_triggers_run_the_scheduled_handler_on_time() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let admin = format!("127.0.0.1:{}", free_port());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("worker.js"), WORKER).expect("worker");
        std::fs::write(dir.path().join("broken.js"), BROKEN).expect("broken");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\nsites:\n  - name: app\n    default: true\n    origins: [\"{url}\"]\n    script: worker.js\n    env: {{ GREETING: hello, ORIGIN: \"{url}\" }}\n    triggers: {{ crons: [\"*/1 * * * * *\"] }}\n  - name: broken\n    hosts: [broken.test]\n    origins: [\"{url}\"]\n    script: broken.js\n    triggers: {{ crons: [\"* * * * * *\"] }}\n",
            url = origin.url()
        );
        let o = Outpost::start_in(dir, &yaml, &[]);

        // Every second: wait for three runs to reach the origin.
        let deadline = Instant::now() + Duration::from_secs(10);
        while origin.hits.load(Ordering::SeqCst) < 3 {
            assert!(Instant::now() < deadline, "no scheduled runs; log:\n{}", o.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The handler saw the configured expression, a whole-second scheduledTime and
        // its env, and its fetch() went out as a request's would.
        o.wait_log("scheduled handler ran", 3);
        let seen = o.log_text();
        assert!(seen.contains("cron=*/1 * * * * *") || seen.contains("cron=\"*/1 * * * * *\""), "{seen}");

        // The same script still answers requests with its fetch handler.
        let r = client().get(o.url("/")).send().await.expect("request");
        assert_eq!(r.text().await.expect("body"), "fetch handler, hello");

        // Failures are counted by outcome and logged; the process carries on.
        o.wait_log("scheduled handler failed", 2);
        assert!(o.log_text().contains("nothing to do at * * * * * *"), "{}", o.log_text());
        let text = scrape(&admin).await;
        let ok = text
            .lines()
            .find(|l| l.starts_with("outpost_scheduled_runs_total{cron=\"*/1 * * * * *\",outcome=\"ok\""))
            .unwrap_or_else(|| panic!("no ok series:\n{text}"));
        let runs: f64 = ok.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("value");
        assert!(runs >= 3.0, "{ok}");
        assert!(
            text.contains("outpost_scheduled_runs_total{cron=\"* * * * * *\",outcome=\"script-exception\""),
            "{text}"
        );
        // Nothing a scheduled run did stays in flight.
        assert_eq!(common::in_flight_settled(&admin).await, 0.0);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_runs_reach_the_origin_with_what_the_handler_saw() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // The origin's echo shows the query the handler built.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let record = seen.clone();
        let addr = common::origin::serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let record = record.clone();
            async move {
                record
                    .lock()
                    .expect("seen")
                    .push(req.uri().query().unwrap_or("").to_string());
                hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from("ok")))
            }
        })
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("worker.js"), WORKER).expect("worker");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nsites:\n  - default: true\n    origins: [\"http://{addr}\"]\n    script: worker.js\n    env: {{ GREETING: hi, ORIGIN: \"http://{addr}\" }}\n    triggers: {{ crons: [\"*/1 * * * * *\"] }}\n"
        );
        let _o = Outpost::start_in(dir, &yaml, &[]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.lock().expect("seen").is_empty() {
            assert!(Instant::now() < deadline, "no scheduled run reached the origin");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let query = seen.lock().expect("seen")[0].clone();
        // (URLSearchParams' encoding: `/` as %2F, spaces as `+`.)
        for part in ["cron=*%2F1+*+*+*+*+*", "type=scheduled", "whole=true", "env=hi"] {
            assert!(query.split('&').any(|p| p == part), "{part} in {query}");
        }
    })
    .await
    .expect("test timed out");
}

#[test]
fn a_bad_cron_expression_is_a_config_error_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("worker.js"), WORKER).expect("worker");
    let config = dir.path().join("outpost.yaml");
    std::fs::write(
        &config,
        "listen: { http: \"127.0.0.1:0\" }\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:9\"]\n    script: worker.js\n    triggers:\n      crons: [\"*/5 * * * *\", \"every tuesday\"]\n",
    )
    .expect("config");
    let out = std::process::Command::new(common::outpost_bin())
        .args(["check", "--config", config.to_str().expect("utf8")])
        .output()
        .expect("run outpost check");
    assert!(!out.status.success());
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("outpost.yaml:7:"), "{err}");
    assert!(
        err.contains("\"every tuesday\" is not a cron expression"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outpost_dev_runs_a_trigger_by_hand() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("worker.js");
        std::fs::write(
            &script,
            WORKER.replace("env.ORIGIN", &format!("\"{}\"", origin.url())),
        )
        .expect("worker");
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
        let r = client()
            .get(format!(
                "http://{listen}/cdn-cgi/handler/scheduled?cron=*/5+*+*+*+*"
            ))
            .send()
            .await
            .expect("trigger");
        let status = r.status();
        let body = r.text().await.expect("body");
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("scheduled handler ran for \"*/5 * * * *\""),
            "{body}"
        );
        assert_eq!(
            origin.hits.load(Ordering::SeqCst),
            1,
            "its fetch() reached the origin"
        );
        // Without ?cron= and without triggers: a clear 400.
        let r = client()
            .get(format!("http://{listen}/cdn-cgi/handler/scheduled"))
            .send()
            .await
            .expect("trigger");
        assert_eq!(r.status(), 400);
        let _ = child.kill();
        let _ = child.wait();
    })
    .await
    .expect("test timed out");
}
