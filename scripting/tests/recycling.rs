//! A JS thread that dropped many script contexts (redeploys) is replaced by a fresh
//! one, and the requests the old thread was serving still finish there.

use outpost_scripting::{
    Answer, HookRequest, Limits, QueueLimits, ScriptEngine, ScriptError, ScriptSource,
};
use std::time::{Duration, Instant};

fn version(path: &str, version: u64, code: &str) -> ScriptSource {
    ScriptSource {
        path: path.into(),
        name: path.into(),
        code: code.into(),
        version,
    }
}

async fn body(e: &ScriptEngine, s: &ScriptSource) -> Result<String, ScriptError> {
    let req = HookRequest::new(
        http::Request::builder()
            .uri("http://h/")
            .body(bytes::Bytes::new())
            .expect("request"),
    );
    match e.run(s.clone(), Default::default(), req).await? {
        Answer::Respond(r) => {
            let body = r.body.into_bytes(1 << 20).await?;
            Ok(String::from_utf8(body.to_vec()).expect("utf8"))
        }
        Answer::PassThrough(e) => panic!("unexpected pass-through: {e}"),
    }
}

#[tokio::test]
async fn redeploys_recycle_the_thread_without_losing_requests() {
    const AFTER: usize = 3;
    let e = std::sync::Arc::new(
        ScriptEngine::new(1, Limits::default())
            .expect("engine")
            .with_queue_limits(QueueLimits::new(1, 128, None, Duration::from_secs(60)))
            .with_recycling_after(AFTER),
    );
    // A request still running on the thread when it is replaced.
    let slow = version(
        "slow.js",
        1,
        "export default { async fetch() { await new Promise((r) => setTimeout(r, 1500)); return new Response('slow done'); } };",
    );
    let pending = tokio::spawn({
        let (e, slow) = (e.clone(), slow.clone());
        async move { body(&e, &slow).await }
    });
    // Each new version of a script drops the old one's context on the thread.
    for v in 1..=(AFTER as u64 + 1) {
        let code = format!("export default {{ fetch() {{ return new Response('v{v}'); }} }};");
        let s = version("deploy.js", v, &code);
        assert_eq!(
            body(&e, &s).await.expect("a version answers"),
            format!("v{v}")
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.threads_recycled() == 0 {
        assert!(
            Instant::now() < deadline,
            "the thread was not replaced after {AFTER} dropped contexts"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The old thread finished what it had; the fresh one serves what comes next.
    assert_eq!(
        pending
            .await
            .expect("task")
            .expect("the request in flight finishes"),
        "slow done"
    );
    let next = version(
        "deploy.js",
        99,
        "export default { fetch() { return new Response('after'); } };",
    );
    assert_eq!(body(&e, &next).await.expect("fresh thread"), "after");
    assert_eq!(
        body(&e, &slow).await.expect("slow.js again"),
        "slow done",
        "a script the old thread had warm is compiled again on the fresh one"
    );
    assert_eq!(e.threads_recycled(), 1, "one replacement, not one per tick");
    assert_eq!(e.threads_replaced_stuck(), 0, "nothing was stuck");
}
