//! JS hook costs: cold start (the first request to a freshly deployed script: compiling
//! and evaluating the module in the runtime the idle thread set up ahead, and its first
//! call, through the engine's thread; and the same on a thread that has just started,
//! which sets up the runtime first), a warm call of its fetch handler through the engine's
//! thread (channel hop and thread wake-ups, Request construction, handler, Response
//! conversion: latency), and 64 calls in flight at once (throughput: time per call
//! when the JS thread is kept busy, as under load).
//!
//! Run: `cargo bench --bench hooks`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
#[path = "support/hook.rs"]
mod support;

use outpost_scripting::{Limits, ScriptEngine, ScriptSource};

const HOOK: &str = r#"
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const headers = new Headers({ "content-type": "application/json", "x-edge": "outpost" });
    return new Response(JSON.stringify({ path: url.pathname, ua: request.headers.get("user-agent") }), { headers });
  },
};
"#;

/// Answers with a body read through a stream (`new Response(r.body, r)` does the same
/// with a fetched body).
const STREAMING_HOOK: &str = r#"
export default {
  async fetch(request) {
    const r = new Response("hello");
    return new Response(r.body, r);
  },
};
"#;

fn benches(c: &mut Criterion) {
    let script = ScriptSource {
        path: "bench.js".into(),
        name: "bench.js".into(),
        code: HOOK.into(),
        version: 1,
    };
    let limits = Limits::default();
    let engine = ScriptEngine::new(1, limits).expect("engine");
    let rt = support::runtime();
    let request = support::request;
    // Each iteration deploys the script to a fresh JS thread (made outside the timing):
    // on one long-lived thread every version's context would stay behind (boa leaks
    // part of a dropped context, README "Known limits") and the pauses of the collector
    // marking them would grow with the iteration count.
    //
    // Cold start as a running node sees it: the thread has been idle long enough to set
    // up its spare runtime (~12 ms), so the first request pays compiling the script,
    // binding its env and the first call.
    let mut cold = c.benchmark_group("hook");
    cold.sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(200))
        .measurement_time(std::time::Duration::from_millis(500));
    cold.bench_function("cold_start_first_request", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let fresh = ScriptEngine::new(1, limits).expect("engine");
                std::thread::sleep(std::time::Duration::from_millis(40));
                let t = std::time::Instant::now();
                rt.block_on(fresh.run(script.clone(), Default::default(), request()))
                    .expect("runs");
                total += t.elapsed();
            }
            total
        })
    });
    // A script that streams (reads a body as a stream): on a thread whose scripts have
    // used streams before, the spare has the Streams code compiled too.
    let streaming = ScriptSource {
        path: "bench-streams.js".into(),
        name: "bench-streams.js".into(),
        code: STREAMING_HOOK.into(),
        version: 1,
    };
    cold.bench_function("cold_start_first_request_streams", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let fresh = ScriptEngine::new(1, limits).expect("engine");
                rt.block_on(fresh.run(streaming.clone(), Default::default(), request()))
                    .expect("runs");
                std::thread::sleep(std::time::Duration::from_millis(80));
                let next = ScriptSource {
                    version: 2,
                    ..streaming.clone()
                };
                let t = std::time::Instant::now();
                rt.block_on(fresh.run(next, Default::default(), request()))
                    .expect("runs");
                total += t.elapsed();
            }
            total
        })
    });
    // The same on a thread that has just started: the runtime is set up in the request.
    cold.bench_function("cold_start_new_thread", |b| {
        b.iter_batched(
            || ScriptEngine::new(1, limits).expect("engine"),
            |fresh| {
                rt.block_on(fresh.run(script.clone(), Default::default(), request()))
                    .expect("runs");
                fresh
            },
            BatchSize::PerIteration,
        )
    });
    cold.finish();
    rt.block_on(engine.run(script.clone(), Default::default(), request()))
        .expect("warm up");
    c.bench_function("hook/warm_call", |b| {
        b.iter(|| {
            rt.block_on(engine.run(script.clone(), Default::default(), request()))
                .expect("runs")
        })
    });
    let mut group = c.benchmark_group("hook");
    group.throughput(Throughput::Elements(64));
    group.bench_function("warm_calls_64_in_flight", |b| {
        b.iter(|| {
            rt.block_on(futures_util::future::join_all(
                (0..64).map(|_| engine.run(script.clone(), Default::default(), request())),
            ))
        })
    });
    group.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
