//! Conformance tests written from the standards' text (`standards/*.js`), run inside
//! Outpost's runtime: each script answers the list of checks that failed.

use outpost_scripting::{Answer, HookRequest, Limits, ScriptEngine, ScriptSource};
use std::time::Duration;

async fn failures(name: &str, code: &str) -> Vec<String> {
    // Debug builds interpret slowly; the checks are about behaviour, not time.
    let limits = Limits {
        cpu_time: Duration::from_secs(5),
        ..Limits::default()
    };
    let engine = patient(ScriptEngine::new(1, limits).expect("engine"));
    let source = ScriptSource {
        path: name.into(),
        name: name.into(),
        code: code.into(),
        version: 1,
    };
    let request = HookRequest::new(
        http::Request::builder()
            .uri("https://example.com/")
            .body(bytes::Bytes::new())
            .expect("request"),
    );
    let answer = engine
        .run(source, Default::default(), request)
        .await
        .expect("the script runs");
    let Answer::Respond(response) = answer else {
        panic!("{name}: passed through");
    };
    let body = response.body.into_bytes(1 << 20).await.expect("body");
    serde_json::from_slice(&body).expect("a JSON list of failures")
}

#[tokio::test]
async fn url_pattern_follows_the_standard() {
    let failed = failures("urlpattern.js", include_str!("standards/urlpattern.js")).await;
    assert!(failed.is_empty(), "URLPattern:\n{}", failed.join("\n"));
}

#[tokio::test]
async fn fetch_and_url_follow_the_standards() {
    let failed = failures("fetch.js", include_str!("standards/fetch.js")).await;
    assert!(failed.is_empty(), "Fetch/URL:\n{}", failed.join("\n"));
}

/// An engine whose requests wait as long as they need for their JS thread: a thread
/// replaced after a runaway script sets up a new runtime, which takes seconds in a
/// debug build on a loaded CI machine, past the default 1 s queue deadline (tested on
/// its own in tests/script_queue.rs).
fn patient(engine: outpost_scripting::ScriptEngine) -> outpost_scripting::ScriptEngine {
    let wait = std::time::Duration::from_secs(60);
    engine.with_queue_limits(outpost_scripting::QueueLimits::new(1, 128, None, wait))
}

#[tokio::test]
async fn web_crypto_key_generation_follows_the_standard() {
    let failed = failures("webcrypto.js", include_str!("standards/webcrypto.js")).await;
    assert!(failed.is_empty(), "Web Crypto:\n{}", failed.join("\n"));
}
