//! The web-platform-tests Streams suite (`tests/wpt-streams/`, WPT's own files) run
//! inside Outpost's script runtime, as Node, Deno and workerd run WPT: one fresh script
//! per test file, each loading `testharness.js`, the file's helper scripts and the file
//! itself, inside a real hook handler on a real JS thread.
//!
//! Prints per-file counts (`cargo test --test wpt_streams -- --nocapture`; with
//! `WPT_VERBOSE=1` every failing subtest) and fails when fewer subtests pass than
//! [`FLOOR`], the count this runtime reached when it was last raised. Node 20 passes
//! 1090 of the same 1101 (the folder's README).

use outpost_scripting::{Answer, HookRequest, Limits, QueueLimits, ScriptEngine, ScriptSource};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Subtests that must pass. Raise it when the runtime gets better; never lower it
/// without saying why in the commit.
const FLOOR: usize = 1092;

/// How long one file may run (its async tests wait on timers).
const FILE_TIMEOUT_MS: u64 = 20_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wpt-streams")
}

/// Each test file with the helper scripts its `// META: script=` lines name.
fn manifest() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(root().join("MANIFEST.txt")).expect("MANIFEST.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split('\t').filter(|p| !p.is_empty());
            let test = parts.next().unwrap_or_default().to_string();
            (test, parts.map(str::to_string).collect())
        })
        .collect()
}

/// The global set-up the folder's README asks for, then the harness, its hooks, the
/// helpers and the test, evaluated as one classic (sloppy-mode) script by indirect
/// `eval` inside the hook's handler; the handler answers with the results as JSON.
fn build(test: &str, deps: &[String]) -> String {
    // (An absolute path, as WPT_FILE gives for trying things out, is read as is.)
    let read = |rel: &str| std::fs::read_to_string(root().join(rel)).expect(rel);
    let mut classic = String::from(
        "self = globalThis;\n\
         self.GLOBAL = { isWindow() { return false; }, isWorker() { return true; }, isShadowRealm() { return false; } };\n",
    );
    classic.push_str(&read("resources/testharness.js"));
    classic.push_str(
        "\nsetup({ explicit_timeout: true });\n\
         add_result_callback(t => __wpt_report('result', { name: t.name, status: t.status, message: t.message }));\n\
         add_completion_callback((tests, status) => __wpt_report('complete', { status: status.status, message: status.message }));\n",
    );
    for d in deps {
        classic.push_str(&read(d));
        classic.push('\n');
    }
    classic.push_str(&read(test));
    let source = serde_json::to_string(&classic).expect("json");
    format!(
        r#"const results = [];
let harness = null;
let finish;
const finished = new Promise((r) => {{ finish = r; }});
globalThis.__wpt_report = (kind, data) => {{
  if (kind === "result") results.push(data);
  else {{ harness = data; finish(); }}
}};
export default {{
  async fetch() {{
    try {{ (0, eval)({source}); }}
    catch (e) {{ harness = {{ status: 1, message: "Exception while running: " + String(e && e.stack || e) }}; }}
    const timer = setTimeout(() => {{
      try {{ timeout(); }} catch {{}}
      setTimeout(() => {{ harness = harness ?? {{ status: 2, message: "file timeout" }}; finish(); }}, 500);
    }}, {FILE_TIMEOUT_MS});
    await finished;
    clearTimeout(timer);
    return new Response(JSON.stringify({{ results, harness }}));
  }},
}};
"#
    )
}

struct FileResult {
    test: String,
    passed: usize,
    failed: Vec<String>,
    harness: Option<String>,
}

async fn run_file(engine: &ScriptEngine, test: &str, deps: &[String]) -> FileResult {
    let script = ScriptSource {
        path: PathBuf::from(test),
        name: PathBuf::from(test).display().to_string().into(),
        code: build(test, deps).into(),
        version: 1,
    };
    let request = HookRequest::new(
        http::Request::builder()
            .uri("http://wpt.test/")
            .body(bytes::Bytes::new())
            .expect("request"),
    );
    let mut out = FileResult {
        test: test.to_string(),
        passed: 0,
        failed: Vec::new(),
        harness: None,
    };
    let body = match engine.run(script, Default::default(), request).await {
        Ok(Answer::Respond(r)) => match r.body.into_bytes(64 << 20).await {
            Ok(b) => b,
            Err(e) => {
                out.harness = Some(format!("body: {e}"));
                return out;
            }
        },
        Ok(Answer::PassThrough(e)) | Err(e) => {
            out.harness = Some(format!("script failed: {e}"));
            return out;
        }
    };
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            out.harness = Some(format!("bad results: {e}"));
            return out;
        }
    };
    const STATUS: [&str; 5] = ["PASS", "FAIL", "TIMEOUT", "NOTRUN", "PRECONDITION_FAILED"];
    for r in v["results"].as_array().into_iter().flatten() {
        let status = r["status"].as_u64().unwrap_or(1);
        if status == 0 {
            out.passed += 1;
        } else {
            let message = r["message"].as_str().unwrap_or("");
            let first = message.lines().next().unwrap_or("");
            out.failed.push(format!(
                "{}: {} -- {first}",
                STATUS.get(status as usize).unwrap_or(&"?"),
                r["name"].as_str().unwrap_or("?"),
            ));
        }
    }
    let h = &v["harness"];
    if h.is_null() {
        out.harness = Some("no completion".into());
    } else if h["status"].as_u64() != Some(0) {
        out.harness = Some(format!(
            "harness status {}: {}",
            h["status"],
            h["message"]
                .as_str()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wpt_streams_run_inside_the_script_runtime() {
    let limits = Limits {
        // The suite is one long script per file, not a request: the sandbox's
        // per-request limits would stop the harness itself.
        cpu_time: Duration::from_secs(600),
        loop_iterations: u64::MAX / 2,
        recursion: 4096,
        memory: 2 << 30,
        // The harness loads each file with an indirect eval.
        code_from_strings: true,
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(4);
    // Files go to the JS thread their name hashes to, so one can wait for a whole
    // other file to finish (seconds on a loaded CI machine): no queue deadline here,
    // the queue's own behaviour is tested in tests/script_queue.rs.
    let queue = QueueLimits::new(threads, 128, None, Duration::from_secs(600));
    let engine = Arc::new(
        ScriptEngine::new(threads, limits)
            .expect("engine")
            .with_queue_limits(queue),
    );
    let filter = std::env::var("WPT_FILTER").unwrap_or_default();
    let files: Vec<_> = std::env::var("WPT_FILE")
        .map(|f| vec![(f, Vec::new())])
        .unwrap_or_else(|_| manifest())
        .into_iter()
        .filter(|(t, _)| filter.is_empty() || filter.split(',').any(|f| t.contains(f)))
        .collect();
    // One file per JS thread at a time: the engine turns away work that waits long.
    let slots = Arc::new(tokio::sync::Semaphore::new(threads));
    let mut tasks = Vec::new();
    for (test, deps) in files {
        let engine = engine.clone();
        let slots = slots.clone();
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore");
            run_file(&engine, &test, &deps).await
        }));
    }
    let verbose = std::env::var_os("WPT_VERBOSE").is_some();
    let (mut passed, mut failed, mut broken) = (0, 0, 0);
    for t in tasks {
        let r = t.await.expect("task");
        passed += r.passed;
        failed += r.failed.len();
        let mark = match &r.harness {
            Some(h) => {
                broken += 1;
                format!("  [{h}]")
            }
            None => String::new(),
        };
        println!(
            "{}: {} passed, {} failed{mark}",
            r.test,
            r.passed,
            r.failed.len()
        );
        if verbose {
            for f in &r.failed {
                println!("    {f}");
            }
        }
    }
    println!("\n{passed} passed, {failed} failed, {broken} files with harness errors");
    assert!(
        passed >= FLOOR,
        "WPT streams: {passed} subtests passed, fewer than the floor of {FLOOR}"
    );
}
