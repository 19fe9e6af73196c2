//! The pool of JS threads and the channel that feeds them.
//!
//! boa's `Context` is `!Send`, so every script lives on dedicated threads. A request
//! is sent to one thread (round robin), which compiles the script the first time it
//! sees that name and version and keeps it warm afterwards: module state persists
//! between requests, as in Workers. A script that hit its CPU limit is thrown away and
//! compiled afresh for the next request, so the thread is always usable.
//!
//! Each thread runs an event loop, so one script serves many requests at once, as a
//! Workers isolate does: while one request waits on a subrequest, others run.

use crate::env::Env;
use crate::error::{Result, ScriptError};
use crate::exchange::{Answer, HookRequest};
use crate::instance::Instance;
use crate::limits::{ASYNC_TIMEOUT, Limits};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

mod host_work;
mod inline_rewrite;
mod worker;

use worker::worker;

/// A script as deployed: its path (its name in errors and logs), its code, and a
/// version that changes whenever the code does. The config's script file is one.
pub use outpost_config::ScriptFile as ScriptSource;

/// Where the engine finds the node's KV store once one is opened.
pub type KvSlot = std::sync::OnceLock<Arc<dyn crate::kv::KvBackend>>;

struct Job {
    /// This thread's count of jobs sent but not yet started (for least-loaded dispatch).
    queued: Arc<AtomicUsize>,
    /// The script's count of jobs sent but not yet started, on every thread.
    script_queued: Arc<ScriptQueue>,
    /// [`QUEUED`], then [`STARTED`] by the thread or [`ABANDONED`] by the request
    /// that stopped waiting: whoever moves it first decides.
    state: Arc<std::sync::atomic::AtomicU8>,
    script: ScriptSource,
    env: Arc<Env>,
    request: HookRequest,
    reply: oneshot::Sender<Result<Answer>>,
}

/// A script's jobs sent but not yet started, on every thread, and its name for errors.
struct ScriptQueue {
    waiting: AtomicUsize,
    name: Arc<str>,
}

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

/// How much work may wait for a JS thread: beyond these a request is refused at once
/// (`ScriptError::Overloaded`, answered 503 with `Retry-After`), so a flood of hooked
/// requests costs bounded memory and every request an answer in bounded time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Requests waiting to start on one JS thread.
    pub per_thread: usize,
    /// Requests for one script waiting to start, on all threads together (one tenant's
    /// flood leaves room for the others).
    pub per_script: usize,
    /// The longest a request waits for its thread to start it.
    pub wait: Duration,
}

impl QueueLimits {
    /// The defaults for `threads` JS threads: 128 per thread, one second.
    pub fn for_threads(threads: usize) -> Self {
        Self::new(threads, 128, None, Duration::from_secs(1))
    }

    /// Bounds for `threads` JS threads; a script's share defaults to half of all the
    /// threads' room.
    pub fn new(
        threads: usize,
        per_thread: usize,
        per_script: Option<usize>,
        wait: Duration,
    ) -> Self {
        QueueLimits {
            per_thread,
            per_script: per_script.unwrap_or((per_thread * threads.max(1) / 2).max(1)),
            wait,
        }
    }
}

/// A JS thread that has been inside one call (a handler's synchronous part, or a
/// continuation) this long is stuck in native code the CPU limit cannot interrupt
/// (boa's regex engine backtracks without a step limit: `/^(a+)+$/` on 40
/// characters runs for hours). The watchdog gives its slot a fresh thread.
const WEDGED_AFTER: Duration = Duration::from_secs(5);
/// After this many dropped script contexts (old versions of redeployed scripts,
/// scripts restarted after a limit) a JS thread is replaced by a fresh one: a boa
/// context leaves ~0.9 MiB of itself in its thread's heap when dropped, and that
/// stays in every later collection's live set, so collections grew from ~35 ms after
/// 75 versions to ~0.5 s after 1 000. A thread's exit frees its whole heap. The
/// replaced thread finishes the requests it has first.
pub const RECYCLE_AFTER: usize = 32;
/// The longest a request waits for its script's answer; beyond it the JS thread is
/// stuck and the request gets an error instead of hanging.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(2 * ASYNC_TIMEOUT.as_secs());

/// What a JS thread reports about itself, read by the dispatcher and the watchdog.
#[derive(Default)]
struct Gauges {
    /// Milliseconds since `EPOCH` when the thread entered the call it is in now;
    /// 0 while it waits for work.
    busy_since: std::sync::atomic::AtomicU64,
    /// True while the idle thread prepares a spare runtime: a step it cannot leave
    /// midway (~10 ms in release builds, ~0.5 s in debug ones). Requests that arrive
    /// meanwhile wait for it, and that wait is not held against the queue's bound,
    /// which is about waiting behind other requests.
    preparing: std::sync::atomic::AtomicBool,
    /// Set once the thread has prepared its spare runtime (with the Streams code if
    /// its scripts use streams), or found it cannot: a thread replacing a worn one
    /// takes over only then, so the first request it gets does not wait for that.
    ready: std::sync::atomic::AtomicBool,
    /// Script contexts the thread has dropped (see [`RECYCLE_AFTER`]).
    dropped: AtomicUsize,
    /// Whether the thread's scripts have used streams (its spare runtimes then come
    /// with the Streams code, and so do a replacement's).
    streams: std::sync::atomic::AtomicBool,
}

/// Among threads with as many jobs waiting, which is likely to start a new one first:
/// an idle thread (0), then the one whose current call began earliest, then one with
/// a job it has not picked up yet (`u64::MAX`). A call's remaining time is bounded by
/// the CPU limit less what it has run, so the older call ends sooner at worst: a
/// runaway script at its limit is about to be stopped, while one that began just now
/// may run for the whole limit. Without this, a thread finishing a stopped script's
/// clean-up and a thread that had just started a runaway one looked alike, and a
/// calm tenant's request could wait out the second one's limit.
fn in_call_since(queued: usize, gauges: &Gauges) -> u64 {
    match gauges.busy_since.load(Ordering::Relaxed) {
        0 if queued == 0 => 0,
        0 => u64::MAX,
        since => since,
    }
}

/// One JS thread as the dispatcher sees it.
struct Slot {
    tx: mpsc::UnboundedSender<Job>,
    /// Jobs sent but not yet started (for least-loaded dispatch).
    queued: Arc<AtomicUsize>,
    gauges: Arc<Gauges>,
    /// Set, and waiters woken, when the watchdog gives up on this thread: the
    /// requests sent to it fail at once instead of at [`ANSWER_DEADLINE`].
    stuck: Arc<(std::sync::atomic::AtomicBool, tokio::sync::Notify)>,
    name: String,
}

/// The JS runtime: a pool of threads running scripts' fetch handlers, with a
/// watchdog that replaces a thread stuck in a call it cannot leave.
pub struct ScriptEngine {
    slots: Arc<std::sync::RwLock<Vec<Slot>>>,
    next: AtomicUsize,
    queue: QueueLimits,
    /// Jobs waiting to start, per script path.
    per_script: std::sync::RwLock<foldhash::HashMap<std::path::PathBuf, Arc<ScriptQueue>>>,
    /// When the watchdog replaces a thread for the contexts it dropped.
    recycling: Arc<Recycling>,
}

/// The watchdog's threshold for replacing a thread that dropped many script contexts,
/// and how often it replaced a thread for that (`done`) or because it was stuck.
struct Recycling {
    after: AtomicUsize,
    done: AtomicUsize,
    stuck: AtomicUsize,
}

static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

fn now_ms() -> u64 {
    let epoch = EPOCH.get_or_init(std::time::Instant::now);
    u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Starts a JS thread; `streams`: its scripts are expected to use streams (it
/// replaces a thread whose scripts did).
fn spawn_worker(
    name: String,
    limits: Limits,
    kv: Arc<KvSlot>,
    streams: bool,
) -> std::io::Result<Slot> {
    let (tx, rx) = mpsc::unbounded_channel::<Job>();
    let gauges = Arc::new(Gauges::default());
    gauges.streams.store(streams, Ordering::Relaxed);
    let reports = gauges.clone();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || worker(rx, limits, kv, reports))?;
    Ok(Slot {
        tx,
        queued: Arc::new(AtomicUsize::new(0)),
        gauges,
        stuck: Arc::default(),
        name,
    })
}

/// Every 250 ms: a slot whose thread has been in one call for longer than
/// [`WEDGED_AFTER`] (or four CPU limits, if that is longer) gets a new thread. The old
/// one keeps the jobs it had (they fail at [`ANSWER_DEADLINE`]) and exits when its
/// call returns, if it ever does; until then it holds a CPU, which the log says.
/// A slot whose thread has dropped [`RECYCLE_AFTER`] script contexts gets a new
/// thread too, once that one has its spare runtime ready; the old one finishes its
/// requests and exits.
fn watchdog(
    slots: std::sync::Weak<std::sync::RwLock<Vec<Slot>>>,
    limits: Limits,
    kv: Arc<KvSlot>,
    recycling: Arc<Recycling>,
) {
    let wedged = WEDGED_AFTER.max(limits.cpu_time * 4);
    let mut replaced = 0usize;
    // Threads started for worn slots, by slot, until they are ready to take over.
    let mut waiting: Vec<Option<Slot>> = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let Some(slots) = slots.upgrade() else { return };
        let now = now_ms();
        let stuck_for = |slot: &Slot| {
            let since = slot.gauges.busy_since.load(Ordering::Relaxed);
            since != 0 && now.saturating_sub(since) >= wedged.as_millis() as u64
        };
        let after = recycling.after.load(Ordering::Relaxed);
        let worn = |slot: &Slot| slot.gauges.dropped.load(Ordering::Relaxed) >= after;
        let mut fresh_name = |slot: &Slot| {
            replaced += 1;
            format!(
                "{}-r{replaced}",
                slot.name.split("-r").next().unwrap_or("outpost-js")
            )
        };
        // Start replacements for worn slots (without the write lock: dispatch goes on).
        let mut stuck_any = false;
        let mut ready_any = false;
        if let Ok(read) = slots.read() {
            waiting.resize_with(read.len(), || None);
            for (slot, pending) in read.iter().zip(waiting.iter_mut()) {
                stuck_any |= stuck_for(slot);
                if worn(slot) && pending.is_none() {
                    let streams = slot.gauges.streams.load(Ordering::Relaxed);
                    match spawn_worker(fresh_name(slot), limits, kv.clone(), streams) {
                        Ok(fresh) => *pending = Some(fresh),
                        Err(e) => {
                            tracing::error!(error = %e, "cannot start a replacement JS thread");
                        }
                    }
                }
                ready_any |= pending
                    .as_ref()
                    .is_some_and(|p| p.gauges.ready.load(Ordering::Relaxed));
            }
        }
        if !stuck_any && !ready_any {
            continue;
        }
        let Ok(mut slots) = slots.write() else { return };
        for (slot, pending) in slots.iter_mut().zip(waiting.iter_mut()) {
            if stuck_for(slot) {
                let since = slot.gauges.busy_since.load(Ordering::Relaxed);
                let fresh = match pending.take() {
                    Some(fresh) => Ok(fresh),
                    None => spawn_worker(
                        fresh_name(slot),
                        limits,
                        kv.clone(),
                        slot.gauges.streams.load(Ordering::Relaxed),
                    ),
                };
                match fresh {
                    Ok(fresh) => {
                        tracing::error!(
                            stuck = %slot.name,
                            replacement = %fresh.name,
                            stuck_for_ms = now.saturating_sub(since),
                            "a JS thread is stuck in one call the CPU limit cannot interrupt (a catastrophic regex?); new requests go to a fresh thread, the stuck one holds a CPU until its call returns"
                        );
                        slot.stuck.0.store(true, Ordering::SeqCst);
                        slot.stuck.1.notify_waiters();
                        recycling.stuck.fetch_add(1, Ordering::Relaxed);
                        *slot = fresh;
                    }
                    Err(e) => tracing::error!(error = %e, "cannot start a replacement JS thread"),
                }
            } else if pending
                .as_ref()
                .is_some_and(|p| p.gauges.ready.load(Ordering::Relaxed))
                && let Some(fresh) = pending.take()
            {
                tracing::info!(
                    old = %slot.name,
                    replacement = %fresh.name,
                    dropped_contexts = slot.gauges.dropped.load(Ordering::Relaxed),
                    "a JS thread that dropped many script versions is replaced by a fresh one (its heap is freed once it finishes its requests)"
                );
                recycling.done.fetch_add(1, Ordering::Relaxed);
                *slot = fresh;
            }
        }
    }
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("threads", &self.slots.read().map_or(0, |s| s.len()))
            .finish()
    }
}

impl ScriptEngine {
    /// Starts `threads` JS threads (at least one) with these limits and no KV store.
    pub fn new(threads: usize, limits: Limits) -> std::io::Result<Self> {
        Self::with_kv(threads, limits, Arc::default())
    }

    /// Starts `threads` JS threads whose scripts' KV bindings use the store in `kv`
    /// (which may be filled in later, when a config first binds a namespace).
    pub fn with_kv(threads: usize, limits: Limits, kv: Arc<KvSlot>) -> std::io::Result<Self> {
        let mut slots = Vec::new();
        for i in 0..threads.max(1) {
            slots.push(spawn_worker(
                format!("outpost-js-{i}"),
                limits,
                kv.clone(),
                false,
            )?);
        }
        let slots = Arc::new(std::sync::RwLock::new(slots));
        let weak = Arc::downgrade(&slots);
        let recycling = Arc::new(Recycling {
            after: AtomicUsize::new(RECYCLE_AFTER),
            done: AtomicUsize::new(0),
            stuck: AtomicUsize::new(0),
        });
        let watched = recycling.clone();
        std::thread::Builder::new()
            .name("outpost-js-watchdog".into())
            .spawn(move || watchdog(weak, limits, kv, watched))?;
        let threads = threads.max(1);
        Ok(ScriptEngine {
            slots,
            next: AtomicUsize::new(0),
            queue: QueueLimits::for_threads(threads),
            per_script: Default::default(),
            recycling,
        })
    }

    /// How many JS threads have been replaced by fresh ones after dropping
    /// [`RECYCLE_AFTER`] script contexts.
    pub fn threads_recycled(&self) -> usize {
        self.recycling.done.load(Ordering::Relaxed)
    }

    /// How many JS threads have been replaced because they were stuck in a call the
    /// CPU limit cannot interrupt.
    pub fn threads_replaced_stuck(&self) -> usize {
        self.recycling.stuck.load(Ordering::Relaxed)
    }

    /// The same engine, replacing a JS thread after it dropped `contexts` script
    /// contexts instead of [`RECYCLE_AFTER`] (at least 1).
    pub fn with_recycling_after(self, contexts: usize) -> Self {
        self.recycling
            .after
            .store(contexts.max(1), Ordering::Relaxed);
        self
    }

    /// The same engine with these queue bounds.
    pub fn with_queue_limits(mut self, queue: QueueLimits) -> Self {
        self.queue = queue;
        self
    }

    /// The counter of `script`'s waiting jobs.
    fn script_counter(&self, script: &ScriptSource) -> Arc<ScriptQueue> {
        if let Some(c) = self
            .per_script
            .read()
            .ok()
            .and_then(|m| m.get(&script.path).cloned())
        {
            return c;
        }
        let mut map = self.per_script.write().unwrap_or_else(|p| p.into_inner());
        // Scripts removed from the config leave idle counters; drop them now and then.
        if map.len() > 4096 {
            map.retain(|_, c| c.waiting.load(Ordering::Relaxed) > 0);
        }
        map.entry(script.path.clone())
            .or_insert_with(|| {
                Arc::new(ScriptQueue {
                    waiting: AtomicUsize::new(0),
                    name: script.name.clone(),
                })
            })
            .clone()
    }

    /// Runs `script`'s fetch handler for `request`.
    pub async fn run(
        &self,
        script: ScriptSource,
        env: Arc<Env>,
        request: HookRequest,
    ) -> Result<Answer> {
        // The thread with the fewest jobs waiting to start (then see `in_call_since`;
        // round robin among equals): a thread busy with a runaway script gets no new
        // work while another is free, so one tenant's loop does not delay the others
        // beyond its own limit.
        let (reply, answer) = oneshot::channel();
        // (The script's name, for errors only, is kept with its counter: formatting
        // its path per request was ~1 % of a hooked request.)
        let script_queued = self.script_counter(&script);
        let name = || script_queued.name.to_string();
        let overloaded = |reason: String| ScriptError::Overloaded {
            script: name(),
            reason,
        };
        if script_queued.waiting.load(Ordering::Relaxed) >= self.queue.per_script {
            return Err(overloaded(format!(
                "{} of its requests already wait for a JS thread",
                self.queue.per_script
            )));
        }
        let state = Arc::new(std::sync::atomic::AtomicU8::new(QUEUED));
        let (stuck, gauges);
        {
            let slots = self.slots.read().map_err(|_| ScriptError::Unavailable)?;
            let n = slots.len();
            // A thread preparing a spare runtime (tens of ms in release, up to a
            // second in a loaded debug build) starts a job only after that step: among
            // threads with as many jobs waiting, an idle one goes first. The count is
            // taken only if no other request took that thread meanwhile (else choose
            // again), so two requests arriving together cannot both pick one thread
            // as the least loaded.
            let slot = loop {
                let first = self.next.fetch_add(1, Ordering::Relaxed);
                let (i, (seen, _, _)) = (0..n)
                    .map(|k| (first + k) % n)
                    .map(|i| {
                        let slot = &slots[i];
                        let queued = slot.queued.load(Ordering::Relaxed);
                        let load = (
                            queued,
                            slot.gauges.preparing.load(Ordering::Relaxed),
                            in_call_since(queued, &slot.gauges),
                        );
                        (i, load)
                    })
                    .min_by_key(|&(_, load)| load)
                    .ok_or(ScriptError::Unavailable)?;
                let slot = slots.get(i).ok_or(ScriptError::Unavailable)?;
                if seen >= self.queue.per_thread {
                    return Err(overloaded(format!(
                        "every JS thread has {} requests waiting",
                        self.queue.per_thread
                    )));
                }
                if slot
                    .queued
                    .compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    break slot;
                }
            };
            stuck = slot.stuck.clone();
            gauges = slot.gauges.clone();
            script_queued.waiting.fetch_add(1, Ordering::Relaxed);
            slot.tx
                .send(Job {
                    queued: slot.queued.clone(),
                    script_queued: script_queued.clone(),
                    state: state.clone(),
                    script,
                    env,
                    request,
                    reply,
                })
                .map_err(|_| ScriptError::Unavailable)?;
        }
        let given_up = stuck.1.notified();
        tokio::pin!(given_up);
        given_up.as_mut().enable();
        let stuck_error = || {
            ScriptError::RuntimeLimit {
            script: name(),
            message: "the JS thread serving this request got stuck in a call the CPU limit cannot interrupt (a catastrophic regular expression?) and was replaced".into(),
        }
        };
        if stuck.0.load(Ordering::SeqCst) {
            return Err(stuck_error());
        }
        // One timer for both deadlines (a timer per request is a registration in
        // tokio's wheel): first the queue's wait (a job not started by then is given
        // up; the thread skips it), then, once the job has started, the answer's.
        let wait = self.queue.wait;
        let sent = tokio::time::Instant::now();
        let answer_by = sent + ANSWER_DEADLINE;
        let deadline = tokio::time::sleep_until((sent + wait).min(answer_by));
        tokio::pin!(deadline);
        let mut answer = answer;
        let answer = loop {
            tokio::select! {
                a = &mut answer => break Some(a),
                _ = &mut given_up => break None,
                _ = &mut deadline => {
                    let now = tokio::time::Instant::now();
                    if now >= answer_by {
                        return Err(ScriptError::RuntimeLimit {
                            script: name(),
                            message: format!(
                                "no answer within {} s: the JS thread serving it was stuck in a call the CPU limit cannot interrupt",
                                ANSWER_DEADLINE.as_secs()
                            ),
                        });
                    }
                    if state.load(Ordering::Relaxed) != QUEUED {
                        deadline.as_mut().reset(answer_by);
                        continue;
                    }
                    if gauges.preparing.load(Ordering::Relaxed) {
                        deadline.as_mut().reset((now + wait).min(answer_by));
                        continue;
                    }
                    if state
                        .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Err(overloaded(format!(
                            "waited {} ms for a JS thread",
                            wait.as_millis()
                        )));
                    }
                    // (Started just now.)
                    deadline.as_mut().reset(answer_by);
                }
            }
        };
        match answer {
            Some(answer) => answer.map_err(|_| ScriptError::Unavailable)?,
            None => Err(stuck_error()),
        }
    }

    /// Compiles `script` and discards it: the check that `outpost check` and deploys
    /// run before a script may serve.
    ///
    /// The compile runs on a thread of its own that then exits: a boa context leaks
    /// part of itself when dropped (~1 MiB: class and module-namespace objects are not
    /// reclaimed), and on a long-lived thread those leftovers stayed in the collector's
    /// live set, so each check marked all the earlier ones again (a config with 200
    /// scripts took over 10 s and 330 MiB to start). A thread's exit frees its whole
    /// heap. A script that passed once (same path, same code) is not compiled again.
    pub fn compile_check(script: &ScriptSource, limits: &Limits) -> Result<()> {
        static PASSED: std::sync::Mutex<Option<HashSet<(std::path::PathBuf, u64)>>> =
            std::sync::Mutex::new(None);
        let key = (script.path.clone(), script.version);
        if let Ok(passed) = PASSED.lock()
            && passed.as_ref().is_some_and(|p| p.contains(&key))
        {
            return Ok(());
        }
        let name = script.name.clone();
        let code = script.code.clone();
        let limits = *limits;
        let failed = |message: String| ScriptError::Compile {
            script: script.name.to_string(),
            message,
        };
        std::thread::Builder::new()
            .name("outpost-js-check".into())
            .spawn(move || Instance::compile(&name, &code, &Env::default(), &limits).map(|_| ()))
            .map_err(|e| failed(format!("cannot start a thread to compile it: {e}")))?
            .join()
            .map_err(|_| failed("compiling it crashed its thread".into()))??;
        if let Ok(mut passed) = PASSED.lock() {
            let set = passed.get_or_insert_with(HashSet::new);
            // Bounded: a node that deploys thousands of versions forgets old ones.
            if set.len() >= 4096 {
                set.clear();
            }
            set.insert(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Gauges, in_call_since};
    use std::sync::atomic::Ordering;

    /// Among threads with one job each, one finishing a call begun long ago (a runaway
    /// script at its CPU limit) is chosen before one whose call began just now.
    #[test]
    fn an_older_call_ranks_before_a_newer_one() {
        let at = |queued: usize, since: u64| {
            let g = Gauges::default();
            g.busy_since.store(since, Ordering::Relaxed);
            in_call_since(queued, &g)
        };
        let idle = at(0, 0);
        let old = at(1, 346);
        let new = at(1, 1351);
        let not_picked_up = at(1, 0);
        assert!(idle < old && old < new && new < not_picked_up);
    }
}
