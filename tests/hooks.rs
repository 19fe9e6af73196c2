//! JS hooks through the real binary: a site hook, rule-bound hooks, `disable`, errors
//! and limits as clean 500s, and script reload. Hooks answer by themselves in this
//! version (no `fetch()` subrequests yet).

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT};
use std::sync::atomic::Ordering;
use std::time::Duration;

const SITE_HOOK: &str = r#"
let served = 0;
export default {
  async fetch(request, env, ctx) {
    served += 1;
    const url = new URL(request.url);
    return Response.json({
      hook: "site", method: request.method, path: url.pathname,
      name: url.searchParams.get("name"), ua: request.headers.get("user-agent"), served,
    });
  },
};
"#;

/// An A/B test: a visitor without a bucket gets one (and a cookie); with one, keeps it.
const AB_HOOK: &str = r#"
addEventListener("fetch", (event) => {
  const cookie = event.request.headers.get("cookie") || "";
  const match = /(?:^|;\s*)bucket=([ab])/.exec(cookie);
  const bucket = match ? match[1] : (Math.random() < 0.5 ? "a" : "b");
  const headers = new Headers({ "content-type": "text/plain" });
  if (!match) headers.append("set-cookie", `bucket=${bucket}; Path=/; HttpOnly`);
  event.respondWith(new Response(`variant ${bucket}`, { headers }));
});
"#;

const RULES: &str = r#"
- match: "/ab/*"
  actions: { script: ab.js }
- match: "/throw/*"
  actions: { script: throw.js }
- match: "/spin/*"
  actions: { script: spin.js }
- match: "/origin/*"
  actions: { disable: [scripts] }
- match: "/post/*"
  actions: { script: echo-body.js }
- match: "/env/*"
  actions: { script: env.js }
"#;

fn start(origin: &TestOrigin, debug: bool, extra: &[&str]) -> Outpost {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        ("site.js", SITE_HOOK),
        ("ab.js", AB_HOOK),
        (
            "throw.js",
            "export default { fetch() { throw new RangeError('bucket out of range'); } };",
        ),
        ("spin.js", "export default { fetch() { for (;;) {} } };"),
        (
            "echo-body.js",
            "export default { async fetch(r) { return new Response(`${r.method} ${await r.text()}`, { status: 202 }); } };",
        ),
        ("rules.yaml", RULES),
        (
            "env.js",
            "export default { fetch(r, env) { return Response.json(env); } };",
        ),
        ("token.txt", "t0ken-from-file\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let yaml = format!(
        "listen: {{ http: \"{{http}}\" }}\nserver: {{ threads: 1, debug_headers: {debug} }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n    script: site.js\n    rules: rules.yaml\n    env: {{ GREETING: hej, LIMIT: 3, TOKEN: {{ file: token.txt }} }}\n",
        origin.url()
    );
    Outpost::start_in(dir, &yaml, extra)
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_answer_requests_and_rules_choose_or_disable_them() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let op = start(&origin, false, &[]);
        let c = common::client();

        let r = c.get(op.url("/hello?name=ada")).header("user-agent", "test/1").send().await.expect("req");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(
            r.text().await.expect("body"),
            r#"{"hook":"site","method":"GET","path":"/hello","name":"ada","ua":"test/1","served":1}"#
        );
        // Warm: module state persists (one JS thread here).
        let r = c.get(op.url("/again")).send().await.expect("req");
        assert!(r.text().await.expect("body").ends_with(r#""served":2}"#));

        // A rule binds another hook: the A/B test sets a bucket once, then keeps it.
        let r = c.get(op.url("/ab/page")).send().await.expect("req");
        let set = r.headers()["set-cookie"].to_str().expect("ascii").to_string();
        assert!(set.starts_with("bucket=") && set.ends_with("; Path=/; HttpOnly"), "{set}");
        let bucket = &set["bucket=".len().."bucket=".len() + 1];
        assert_eq!(r.text().await.expect("body"), format!("variant {bucket}"));
        let r = c.get(op.url("/ab/page")).header("cookie", format!("theme=x; bucket={bucket}")).send().await.expect("req");
        assert!(r.headers().get("set-cookie").is_none());
        assert_eq!(r.text().await.expect("body"), format!("variant {bucket}"));

        // Request bodies reach the hook.
        let r = c.post(op.url("/post/x")).body("payload").send().await.expect("req");
        assert_eq!(r.status(), 202);
        assert_eq!(r.text().await.expect("body"), "POST payload");

        // `env` bindings: plain values and a secret read from a file.
        let r = c.get(op.url("/env/x")).send().await.expect("req");
        assert_eq!(
            r.text().await.expect("body"),
            r#"{"GREETING":"hej","LIMIT":"3","TOKEN":"t0ken-from-file"}"#
        );

        // `disable: [scripts]` sends the request to the origin as usual.
        assert_eq!(origin.hits.load(Ordering::SeqCst), 0, "hooks answered everything so far");
        let r = c.get(op.url("/origin/x")).send().await.expect("req");
        assert_eq!(r.text().await.expect("body"), "hello from origin");
        assert_eq!(origin.hits.load(Ordering::SeqCst), 1);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_and_runaway_hooks_get_clean_500s_and_the_next_request_is_served() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let op = start(&origin, true, &[]);
        let c = common::client();

        let r = c.get(op.url("/throw/x")).send().await.expect("req");
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()["outpost-error"], "script-exception");
        let body = r.text().await.expect("body");
        assert!(
            body.contains("RangeError: bucket out of range"),
            "detail in debug mode: {body}"
        );
        op.wait_log("script failed", 1);
        assert!(
            op.log_text().contains("throw.js"),
            "the log names the script"
        );

        let r = c.get(op.url("/spin/x")).send().await.expect("req");
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()["outpost-error"], "cpu-limit");
        // The only JS thread is free again for the next request.
        let r = c.get(op.url("/fine")).send().await.expect("req");
        assert_eq!(r.status(), 200);
        assert!(r.text().await.expect("body").contains(r#""hook":"site""#));
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_debug_the_error_page_keeps_details_in_the_log() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let op = start(&origin, false, &[]);
        let r = common::client()
            .get(op.url("/throw/x"))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 500);
        let body = r.text().await.expect("body");
        assert_eq!(
            body,
            "500 Internal Server Error\nThe site's edge script could not handle this request.\n"
        );
        op.wait_log("bucket out of range", 1);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_script_is_served_after_reload_and_a_broken_one_is_refused() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let op = start(&origin, false, &["--watch"]);
        let c = common::client();
        let site_js = op.dir.path().join("site.js");
        assert!(
            c.get(op.url("/"))
                .send()
                .await
                .expect("req")
                .text()
                .await
                .expect("body")
                .contains(r#""hook":"site""#)
        );

        tokio::time::sleep(Duration::from_millis(1100)).await;
        std::fs::write(
            &site_js,
            "export default { fetch() { return new Response('v2'); } };",
        )
        .expect("write");
        op.wait_log("configuration reloaded", 1);
        assert_eq!(
            c.get(op.url("/"))
                .send()
                .await
                .expect("req")
                .text()
                .await
                .expect("body"),
            "v2"
        );

        tokio::time::sleep(Duration::from_millis(1100)).await;
        std::fs::write(
            &site_js,
            "export default { fetch() { return new Response('v3' }; ",
        )
        .expect("write");
        op.wait_log("configuration reload failed", 1);
        assert!(
            op.log_text().contains("site.js:1:"),
            "positioned compile error: {}",
            op.log_text()
        );
        assert_eq!(
            c.get(op.url("/"))
                .send()
                .await
                .expect("req")
                .text()
                .await
                .expect("body"),
            "v2",
            "the old script keeps serving"
        );
    })
    .await
    .expect("test timed out");
}

#[test]
fn check_compiles_every_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.js"),
        "export default {\n  async fetch(request) {\n    return new Response(\"x\"\n  }\n};\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("outpost.yaml"), "listen: { http: \"127.0.0.1:8080\" }\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:9\"]\n    script: bad.js\n").expect("write");
    let out = std::process::Command::new(common::outpost_bin())
        .args(["check", "--config", "outpost.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("run check");
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: bad.js:4:3: SyntaxError: expected one of ',' or ')', got '}' in argument list"
    );
}
