//! The pool of JS threads and the channel that feeds them.
//!
//! boa's `Context` is `!Send`, so every script lives on dedicated threads. A request
//! is sent to one thread (round robin), which compiles the script the first time it
//! sees that name and version and keeps it warm afterwards: module state persists
//! between requests, as in Workers. A script that hit its CPU limit is thrown away and
//! compiled afresh for the next request, so the thread is always usable.

use crate::error::{Result, ScriptError};
use crate::instance::Instance;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Per-request sandbox limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time for the synchronous part of a request's handler (checked every few
    /// thousand VM instructions).
    pub cpu_time: Duration,
    /// Iterations of any single loop; also bounds async continuations, which run
    /// outside the CPU-time check.
    pub loop_iterations: u64,
    /// Nested calls.
    pub recursion: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_time: Duration::from_millis(50),
            // ~100 ms of a tight loop on this class of machine.
            loop_iterations: 10_000_000,
            recursion: 512,
        }
    }
}

/// A script as deployed: its path (its name in errors and logs), its code, and a
/// version that changes whenever the code does. The config's script file is one.
pub use outpost_config::ScriptFile as ScriptSource;

/// The bindings a hook sees: `env` in module form, globals in service-worker form.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub struct Env {
    /// Name and value of each variable or secret.
    pub vars: Vec<(String, String)>,
}

impl Env {
    fn fingerprint(&self) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(self)
    }
}

struct Job {
    script: ScriptSource,
    env: std::sync::Arc<Env>,
    request: http::Request<Vec<u8>>,
    reply: tokio::sync::oneshot::Sender<Result<http::Response<Vec<u8>>>>,
}

/// The JS runtime: a fixed pool of threads running scripts' fetch handlers.
pub struct ScriptEngine {
    workers: Vec<std::sync::mpsc::Sender<Job>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("threads", &self.workers.len())
            .finish()
    }
}

impl ScriptEngine {
    /// Starts `threads` JS threads (at least one) with these limits.
    pub fn new(threads: usize, limits: Limits) -> std::io::Result<Self> {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name(format!("outpost-js-{i}"))
                .spawn(move || worker(rx, limits))?;
            workers.push(tx);
        }
        Ok(ScriptEngine {
            workers,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `script`'s fetch handler for `request` and returns its response.
    pub async fn run(
        &self,
        script: ScriptSource,
        env: std::sync::Arc<Env>,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.workers[i]
            .send(Job {
                script,
                env,
                request,
                reply,
            })
            .map_err(|_| ScriptError::Unavailable)?;
        answer.await.map_err(|_| ScriptError::Unavailable)?
    }

    /// Compiles `script` on the calling thread and discards it: the check that
    /// `outpost check` and deploys run before a script may serve.
    pub fn compile_check(script: &ScriptSource, limits: &Limits) -> Result<()> {
        Instance::compile(&name_of(script), &script.code, &Env::default(), limits).map(|_| ())
    }
}

/// How a script is named in errors and logs: its path as configured.
fn name_of(script: &ScriptSource) -> String {
    script.path.display().to_string()
}

/// One JS thread: compiles scripts on first use and runs jobs one at a time.
fn worker(rx: std::sync::mpsc::Receiver<Job>, limits: Limits) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a JS thread runtime");
            return;
        }
    };
    // One instance per script and set of bindings (two sites may share a script file
    // with different `env`).
    let mut warm: HashMap<(std::path::PathBuf, u64), (u64, Instance)> = HashMap::new();
    while let Ok(job) = rx.recv() {
        let script = job.script;
        let key = (script.path.clone(), job.env.fingerprint());
        let fresh = warm.get(&key).is_none_or(|(v, _)| *v != script.version);
        if fresh {
            match Instance::compile(&name_of(&script), &script.code, &job.env, &limits) {
                Ok(inst) => {
                    warm.insert(key.clone(), (script.version, inst));
                }
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                    continue;
                }
            }
        }
        let Some((_, inst)) = warm.get_mut(&key) else {
            continue;
        };
        let result = rt.block_on(inst.call(job.request, &limits));
        if matches!(result, Err(ScriptError::CpuLimit { .. })) {
            // Stopped mid-run: its VM state is not reusable.
            warm.remove(&key);
        }
        let _ = job.reply.send(result);
    }
}
