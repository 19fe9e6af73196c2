//! What common Workers operations cost inside Outpost's JS runtime (boa plus the
//! runtime's own JavaScript), measured through the engine as a hook runs: each variant
//! is a fetch handler doing one operation 20 times before it answers, run 64 calls in
//! flight on one JS thread; the cost of the operation is the difference from the plain
//! answering handler, divided by 20. The plain handler's own time is the engine's cost
//! per request (hand-off to the JS thread, building the `Request`, the `Response` it
//! returns, converting that back, the reply). Compare with `native_floor` in the
//! scripting crate: the same handlers over natively implemented classes.
//!
//! Whole hooks that fetch are priced per request as they are (their `fetch()` goes to an
//! in-process fetcher that answers at once with an origin-like head and a 1 KiB body,
//! so what remains is the runtime's own work for the subrequest and its response).
//!
//! Run: `cargo bench --bench js_ops` (`ONLY=name` for one variant, `ROUNDS=n`, e.g.
//! under `perf record`; `ONLY=- OP='code' SETUP='code'` prices one operation of your
//! own in an async handler). Wall time of the best of `ROUNDS` rounds; one JS thread.

#[path = "support/hook.rs"]
mod support;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use outpost_scripting::{
    BodyStream, FetchRequest, FetchResponse, Fetcher, Limits, ScriptEngine, ScriptSource,
};

/// Whole hooks, priced per request: (name, handler).
const HOOKS: &[(&str, &str)] = &[
    ("answer", "fetch(r) { return new Response('x'); }"),
    (
        "async answer",
        "async fetch(r) { return new Response('x'); }",
    ),
    ("return fetch(request)", "fetch(r) { return fetch(r); }"),
    (
        "await fetch(request), answer",
        "async fetch(r) { await fetch(r); return new Response('x'); }",
    ),
    (
        "await fetch(request), read .body, answer",
        "async fetch(r) { (await fetch(r)).body; return new Response('x'); }",
    ),
    (
        "await fetch(request), new Response(r.body, r)",
        "async fetch(r) { const f = await fetch(r); return new Response(f.body, f); }",
    ),
    (
        "header-rewrite hook (compare-hook.js)",
        "async fetch(r) { const f = await fetch(r); const out = new Response(f.body, f); out.headers.set('x-edge', 'outpost-bench'); return out; }",
    ),
];

/// Answers every subrequest at once: an origin-like head and a 1 KiB body.
struct Origin;

impl Fetcher for Origin {
    fn fetch(
        &self,
        _: FetchRequest,
    ) -> BoxFuture<'static, outpost_scripting::Result<FetchResponse>> {
        Box::pin(async {
            let mut head = http::Response::new(()).into_parts().0;
            for (name, value) in [
                ("content-type", "text/html; charset=utf-8"),
                ("content-length", "1024"),
                ("cache-control", "public, max-age=60"),
                ("etag", "\"0123456789\""),
                ("last-modified", "Sun, 06 Dec 2026 10:00:00 GMT"),
                ("date", "Sun, 06 Dec 2026 10:00:00 GMT"),
                ("server", "origin"),
                ("age", "3"),
            ] {
                head.headers
                    .insert(name, http::HeaderValue::from_static(value));
            }
            let body = bytes::Bytes::from(vec![b'a'; 1024]);
            Ok(FetchResponse {
                head,
                body: BodyStream::new(futures_util::stream::iter([Ok(body)])),
            })
        })
    }
}

/// (name, code run 20 times in the handler, set-up code before the loop, async handler)
const OPS: &[(&str, &str, &str, bool)] = &[
    ("new Response(string)", "new Response('x');", "", false),
    (
        "new Response(null, { status })",
        "new Response(null, { status: 201 });",
        "",
        false,
    ),
    (
        "new Response(string, response)",
        "new Response('y', a);",
        "const a = new Response('x');",
        false,
    ),
    (
        "response.body (a string body's stream)",
        "new Response('y').body;",
        "",
        false,
    ),
    (
        "new Response(r.body, r)",
        "const a = new Response('y'); new Response(a.body, a);",
        "",
        false,
    ),
    ("new Request(request)", "new Request(r);", "", false),
    ("new Headers()", "new Headers();", "", false),
    (
        "headers.get(name)",
        "r.headers.get('user-agent');",
        "",
        false,
    ),
    (
        "headers.set(name, value)",
        "h.set('x-edge', 'v');",
        "const h = new Headers();",
        false,
    ),
    ("request.url", "r.url;", "", false),
    (
        "object literal, 9 properties",
        "({ source: null, used: false, stream: null, status: 200, statusText: '', headers: null, url: '', redirected: false, type: 'default' });",
        "",
        false,
    ),
    ("await", "await 1;", "", true),
];

fn main() {
    let limits = Limits::default();
    let rt = support::runtime();
    let fetcher: Arc<dyn Fetcher> = Arc::new(Origin);
    let request = || {
        let mut r = support::request();
        r.fetcher = Some(fetcher.clone());
        r
    };
    let only = std::env::var("ONLY").ok();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    // Best of `rounds` rounds of 30 × 64 calls in flight: µs per call.
    let per_call = |code: String| -> f64 {
        let engine = ScriptEngine::new(1, limits).expect("engine");
        let script = ScriptSource {
            path: "js_ops.js".into(),
            name: "js_ops.js".into(),
            code: code.into(),
            version: 1,
        };
        rt.block_on(engine.run(script.clone(), Default::default(), request()))
            .expect("runs");
        let mut best = f64::MAX;
        for _ in 0..rounds {
            let t = std::time::Instant::now();
            for _ in 0..30 {
                for answer in rt.block_on(futures_util::future::join_all(
                    (0..64).map(|_| engine.run(script.clone(), Default::default(), request())),
                )) {
                    answer.expect("runs");
                }
            }
            best = best.min(t.elapsed().as_secs_f64() * 1e6 / (30.0 * 64.0));
        }
        best
    };
    let handler = |asynchronous: bool, body: &str| {
        format!(
            "export default {{ {}fetch(r) {{ {body} return new Response('x'); }} }};",
            if asynchronous { "async " } else { "" }
        )
    };
    // The plain handlers are the baseline of OPS (not needed for one whole hook alone).
    let hook_only = only
        .as_deref()
        .is_some_and(|o| HOOKS.iter().any(|(name, _)| *name == o));
    let (sync_base, async_base) = if hook_only {
        (0.0, 0.0)
    } else {
        (per_call(handler(false, "")), per_call(handler(true, "")))
    };
    if !hook_only {
        println!(
            "a hook answering by itself: {sync_base:.1} µs per request (async handler: {async_base:.1})"
        );
    }
    for (name, op, setup, asynchronous) in OPS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let t = per_call(handler(
            *asynchronous,
            &format!("{setup} for (let i = 0; i < 20; i++) {{ {op} }}"),
        ));
        let base = if *asynchronous { async_base } else { sync_base };
        println!("{name}: {:.2} µs", (t - base) / 20.0);
    }
    // OP="code" [SETUP="code"] prices one more operation, as OPS does.
    if let Ok(op) = std::env::var("OP") {
        let setup = std::env::var("SETUP").unwrap_or_default();
        let t = per_call(handler(
            true,
            &format!("{setup} for (let i = 0; i < 20; i++) {{ {op} }}"),
        ));
        println!("{op}: {:.2} µs", (t - async_base) / 20.0);
    }
    for (name, handler) in HOOKS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let t = per_call(format!("export default {{ {handler} }};"));
        println!("{name}: {t:.1} µs per request");
    }
}
