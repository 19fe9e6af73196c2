//! One JS thread: its event loop over new requests and the completions of the host
//! work (subrequests, body reads, timers, KV, `HTMLRewriter` calls) that scripts
//! started, the scripts it keeps warm, and the requests it is serving.

mod rewrites;

use super::host_work::{self, Done, Event, Work};
use super::{Gauges, Job, KvSlot, QUEUED, STARTED, ScriptSource, now_ms};
use crate::clock::CpuClock;
use crate::env::Env;
use crate::error::{Result, ScriptError};
use crate::exchange::{Answer, Fetcher};
use crate::host::{self, HostCall};
use crate::instance::{Instance, Outcome, Runtime};
use crate::limits::Limits;
use crate::rewriter::Document;
use boa_engine::JsValue;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
// Keys here are the thread's own counters and the config's script paths, nothing a
// client chooses: foldhash (already the cache's) instead of SipHash, which was ~2 %
// of a hooked request.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// One JS thread: an event loop over new requests and the completions of the host
/// work (subrequests, body reads, timers, KV) that scripts started.
pub(super) fn worker(
    rx: mpsc::UnboundedReceiver<Job>,
    limits: Limits,
    kv: Arc<KvSlot>,
    gauges: Arc<Gauges>,
) {
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
    if gauges.streams.load(Ordering::Relaxed) {
        host::expect_streams();
    }
    let mut w = Worker {
        limits,
        kv,
        instances: HashMap::new(),
        spare: None,
        no_spare: false,
        warm: HashMap::new(),
        next_instance: 1,
        requests: HashMap::new(),
        next_request: 1,
        events: FuturesUnordered::new(),
        settled: Vec::new(),
        documents: HashMap::new(),
        rewriters: HashMap::new(),
        gauges,
    };
    rt.block_on(w.run(rx));
}

/// A compiled script on this thread, with the requests it is serving.
struct Live {
    inst: Instance,
    in_flight: usize,
    retired: bool,
}

/// A request whose script has not finished: waiting on host work, or answered but
/// with `waitUntil` work (or other calls) still running.
struct InFlight {
    instance: u64,
    reply: Option<oneshot::Sender<Result<Answer>>>,
    value: JsValue,
    fetcher: Option<Arc<dyn Fetcher>>,
    subrequests: u32,
    outstanding: usize,
    cancelled: HashSet<u32>,
    pass_through: bool,
    cpu: Duration,
    /// The request's id in logs.
    id: Arc<str>,
}

struct Worker {
    limits: Limits,
    kv: Arc<KvSlot>,
    instances: HashMap<u64, Live>,
    /// A runtime made while the thread was idle, for the next script to compile into.
    spare: Option<Runtime>,
    /// Set when making a spare failed (a defect in the runtime's sources): not retried.
    no_spare: bool,
    warm: HashMap<std::path::PathBuf, HashMap<u64, (u64, u64)>>,
    next_instance: u64,
    requests: HashMap<u64, InFlight>,
    next_request: u64,
    events: FuturesUnordered<BoxFuture<'static, Event>>,
    /// Requests whose handler promise settled since the last check.
    settled: Vec<u64>,
    /// Pages this thread parses itself, by request and rewriter.
    documents: HashMap<(u64, u32), Document>,
    /// The handlers of pages parser threads parse, by request and rewriter.
    rewriters: HashMap<(u64, u32), std::rc::Rc<crate::rewriter_handlers::Handlers>>,
    /// What the pool reads about this thread. Its count of dropped script contexts
    /// (old versions, restarted scripts) matters because each leaves part of itself
    /// in the thread's heap: the pool gives the slot a fresh thread after enough of
    /// them (`RECYCLE_AFTER`).
    gauges: Arc<Gauges>,
}

impl Worker {
    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        let gauges = self.gauges.clone();
        let (busy_since, preparing) = (&gauges.busy_since, &gauges.preparing);
        // Closed when the pool gave this thread's slot to a fresh thread: the requests
        // already here are finished, then the thread exits (freeing its heap).
        let mut closed = false;
        let mut streams_seen = false;
        loop {
            if closed && self.requests.is_empty() && self.events.is_empty() {
                break;
            }
            if !streams_seen && host::streams_used() {
                streams_seen = true;
                gauges.streams.store(true, Ordering::Relaxed);
            }
            tokio::select! {
                // Requests and their completions first; the spare only when neither waits.
                biased;
                job = rx.recv(), if !closed => match job {
                    Some(job) => {
                        busy_since.store(now_ms(), Ordering::Relaxed);
                        self.start(job).await;
                        busy_since.store(0, Ordering::Relaxed);
                    }
                    None => closed = true,
                },
                Some(event) = self.events.next(), if !self.events.is_empty() => {
                    busy_since.store(now_ms(), Ordering::Relaxed);
                    self.settle(event);
                    busy_since.store(0, Ordering::Relaxed);
                }
                () = std::future::ready(()), if !closed && self.spare_wanted() => {
                    preparing.store(true, Ordering::Relaxed);
                    self.make_spare();
                    preparing.store(false, Ordering::Relaxed);
                    if !self.spare_wanted() {
                        gauges.ready.store(true, Ordering::Relaxed);
                    }
                }
                // Only once closed: requests left with nothing that could move them.
                else => break,
            }
        }
    }

    /// Whether the idle thread has a spare runtime to make (or to add streams to).
    fn spare_wanted(&self) -> bool {
        !self.no_spare
            && match &self.spare {
                None => true,
                Some(spare) => !spare.with_streams && host::streams_used(),
            }
    }

    /// One step of making the spare runtime: set it up, then (if this thread's scripts
    /// use streams) compile the Streams code in it. Steps, so a request waits for at most one.
    fn make_spare(&mut self) {
        let made = match self.spare.as_mut() {
            None => Runtime::new(&self.limits).map(|r| self.spare = Some(r)),
            Some(spare) => spare.add_streams(),
        };
        if let Err(e) = made {
            tracing::error!(error = %e, "cannot set up the JS runtime");
            self.spare = None;
            self.no_spare = true;
        }
    }

    /// The warm instance for this script and bindings, compiling it when new or changed.
    fn instance_for(&mut self, script: &ScriptSource, env: &Env) -> Result<u64> {
        let fingerprint = env.fingerprint();
        if let Some((version, id)) = self
            .warm
            .get(&script.path)
            .and_then(|bound| bound.get(&fingerprint))
            && *version == script.version
            && self.instances.contains_key(id)
        {
            return Ok(*id);
        }
        let inst = match self.spare.take() {
            Some(runtime) => Instance::load(runtime, &script.name, &script.code, env)?,
            None => Instance::compile(&script.name, &script.code, env, &self.limits)?,
        };
        let id = self.next_instance;
        self.next_instance += 1;
        self.instances.insert(
            id,
            Live {
                inst,
                in_flight: 0,
                retired: false,
            },
        );
        // The old version finishes the requests it has, then goes.
        let bound = self.warm.entry(script.path.clone()).or_default();
        if let Some((_, old)) = bound.insert(fingerprint, (script.version, id)) {
            self.retire(old);
        }
        Ok(id)
    }

    fn retire(&mut self, id: u64) {
        if let Some(live) = self.instances.get_mut(&id) {
            live.retired = true;
            if live.in_flight == 0 {
                self.drop_instance(id);
            }
        }
    }

    /// Drops a compiled script's context (counted: see `dropped`).
    fn drop_instance(&mut self, id: u64) {
        if self.instances.remove(&id).is_some() {
            self.gauges.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn start(&mut self, job: Job) {
        let queued = job.queued.clone();
        job.script_queued.waiting.fetch_sub(1, Ordering::Relaxed);
        // A request that stopped waiting has been answered already.
        if job
            .state
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.start_job(job).await;
        }
        queued.fetch_sub(1, Ordering::Relaxed);
    }

    async fn start_job(&mut self, job: Job) {
        let id = match self.instance_for(&job.script, &job.env) {
            Ok(id) => id,
            Err(e) => {
                let _ = job.reply.send(Err(e));
                return;
            }
        };
        let Some(live) = self.instances.get_mut(&id) else {
            return;
        };
        let request = self.next_request;
        self.next_request += 1;
        live.in_flight += 1;
        self.requests.insert(
            request,
            InFlight {
                instance: id,
                reply: Some(job.reply),
                value: JsValue::undefined(),
                fetcher: job.request.fetcher,
                subrequests: 0,
                outstanding: 0,
                cancelled: HashSet::new(),
                pass_through: false,
                cpu: Duration::ZERO,
                id: job.request.id.clone(),
            },
        );
        host::set_current(request, &job.request.id);
        let streamed = job
            .request
            .stream
            .map(|body| host::store_body(request, body));
        let started = CpuClock::start();
        let result = live
            .inst
            .start(
                request,
                job.request.request,
                streamed,
                &job.request.cf,
                &self.limits,
            )
            .await;
        let spent = started.elapsed();
        match result {
            Err(e @ (ScriptError::CpuLimit { .. } | ScriptError::MemoryLimit { .. })) => {
                // Stopped mid-run: the VM state is not reusable. Every request on this
                // instance fails; the next one gets a fresh copy of the script.
                self.take_calls(id);
                self.reset(id, request, e);
            }
            Err(e) => {
                self.take_calls(id);
                self.fail(request, e);
                self.check(id, &[request]);
            }
            Ok(value) => {
                if let Some(r) = self.requests.get_mut(&request) {
                    r.value = value;
                    r.cpu += spent;
                }
                self.take_calls(id);
                self.check(id, &[request]);
            }
        }
    }

    /// Drops instance `id` after `culprit` went over its CPU or memory limit.
    fn reset(&mut self, id: u64, culprit: u64, e: ScriptError) {
        let name = self
            .instances
            .get(&id)
            .map(|l| l.inst.name().to_string())
            .unwrap_or_default();
        let victims: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, r)| r.instance == id)
            .map(|(k, _)| *k)
            .collect();
        for r in victims {
            let err = if r == culprit {
                e.clone()
            } else {
                ScriptError::Exception {
                    script: name.clone(),
                    message: "the script was restarted because another request exceeded its limits"
                        .into(),
                }
            };
            if let Some(mut f) = self.requests.remove(&r) {
                if let Some(reply) = f.reply.take() {
                    let answer = if f.pass_through {
                        Ok(Answer::PassThrough(err))
                    } else {
                        Err(err)
                    };
                    let _ = reply.send(answer);
                }
                self.forget_bodies(r);
            }
        }
        self.drop_instance(id);
        for bound in self.warm.values_mut() {
            bound.retain(|_, (_, i)| *i != id);
        }
        self.warm.retain(|_, bound| !bound.is_empty());
        // Give the dropped context's heap back now, not at the next collection.
        boa_gc::force_collect();
    }

    /// Answers `request` with an error (or a pass-through, if the script asked).
    fn fail(&mut self, request: u64, e: ScriptError) {
        if let Some(r) = self.requests.get_mut(&request) {
            match r.reply.take() {
                Some(reply) => {
                    let answer = if r.pass_through {
                        Ok(Answer::PassThrough(e))
                    } else {
                        Err(e)
                    };
                    let _ = reply.send(answer);
                }
                None => tracing::warn!(error = %e, "script work after the response failed"),
            }
        }
    }

    /// Turns the host calls the last run of JavaScript made into work.
    fn take_calls(&mut self, instance: u64) {
        for (request, call) in host::drain_outbox() {
            // Whichever request's JS was running, this names the one that settled.
            if let HostCall::Settled { request: done } = call {
                self.settled.push(done);
                continue;
            }
            let Some(r) = self.requests.get_mut(&request) else {
                continue;
            };
            if r.instance != instance {
                continue;
            }
            match host_work::start(
                request,
                call,
                r.fetcher.as_ref(),
                &mut r.subrequests,
                &self.kv,
            ) {
                Work::Started(fut) => {
                    r.outstanding += 1;
                    self.events.push(fut);
                }
                Work::PassThrough => r.pass_through = true,
                Work::CancelTimer(call) => {
                    if r.cancelled.insert(call) {
                        r.outstanding = r.outstanding.saturating_sub(1);
                    }
                }
                Work::Settled(done) => self.settled.push(done),
                Work::RewriteHere(page) => {
                    r.outstanding += 1;
                    self.start_rewrite_here(request, page);
                }
                Work::Rewrite {
                    rewriter,
                    handlers,
                    first,
                } => {
                    r.outstanding += 1;
                    self.events.push(first);
                    self.rewriters
                        .insert((request, rewriter), std::rc::Rc::new(handlers));
                }
            }
        }
    }

    /// Hands finished host work back to the script that asked for it.
    fn settle(&mut self, event: Event) {
        let Some(r) = self.requests.get_mut(&event.request) else {
            return;
        };
        if r.cancelled.remove(&event.call) {
            return;
        }
        r.outstanding = r.outstanding.saturating_sub(1);
        let request = event.request;
        match event.done {
            Done::RewriteInput { io, input } => self.rewrite_input(request, io, input),
            Done::Rewrite {
                rewriter,
                call,
                calls,
            } => self.rewrite_call(request, rewriter, call, calls),
            Done::SinkEnded { sink, why } => {
                if let Some(why) = why {
                    crate::sink::fail(sink, why);
                }
                let instance = r.instance;
                self.check(instance, &[request]);
            }
            Done::Fetched(answer) if crate::fetch::is_native(event.call) => {
                let call = event.call;
                self.run_js(request, CpuClock::start, move |inst| {
                    inst.settle_fetch(call, request, answer)
                });
            }
            done => {
                let call = event.call;
                self.run_js(
                    request,
                    CpuClock::start,
                    move |inst| match host_work::to_js(inst, request, done) {
                        Ok((ok, v)) => inst.settle(call, ok, v),
                        Err(e) => Err(inst.error(&e)),
                    },
                );
            }
        }
    }

    /// Lets go of what a finished request still holds: its host bodies and the pages
    /// its `HTMLRewriter`s were parsing.
    fn forget_bodies(&mut self, request: u64) {
        host::drop_bodies(request);
        self.documents.retain(|(of, _), _| *of != request);
        self.rewriters.retain(|(of, _), _| *of != request);
    }

    /// Runs `f` (a piece of `request`'s JavaScript) under the request's CPU and
    /// memory accounting, then turns its host calls into work and answers what finished.
    fn run_js(
        &mut self,
        request: u64,
        clock: fn() -> CpuClock,
        f: impl FnOnce(&mut Instance) -> Result<()>,
    ) {
        let Some(r) = self.requests.get_mut(&request) else {
            return;
        };
        let id = r.instance;
        let log_id = r.id.clone();
        let Some(live) = self.instances.get_mut(&id) else {
            return;
        };
        let inst = &mut live.inst;
        host::set_current(request, &log_id);
        let started = clock();
        let budget = crate::budget::enter(
            self.limits.cpu_time.saturating_sub(r.cpu),
            self.limits.memory,
        );
        let result = f(inst);
        let over_memory = crate::budget::over_memory();
        drop(budget);
        if over_memory {
            let e = ScriptError::MemoryLimit {
                script: inst.name().to_string(),
                limit_mb: (self.limits.memory >> 20) as u64,
            };
            let _ = host::drain_outbox();
            self.reset(id, request, e);
            return;
        }
        if let Some(r) = self.requests.get_mut(&request) {
            r.cpu += started.elapsed();
        }
        self.take_calls(id);
        if let Err(e) = result {
            self.fail(request, e);
        }
        self.check(id, &[request]);
    }

    /// Answers the requests on `instance` whose handler finished, and forgets the ones
    /// with nothing left to do.
    fn check(&mut self, instance: u64, focus: &[u64]) {
        let on_instance = |r: &InFlight| r.instance == instance;
        // A pending handler may be waiting on another request's work (a promise the
        // module shares between requests): it can only be declared stuck once nothing
        // on the instance is outstanding.
        let instance_busy = self
            .requests
            .values()
            .any(|r| on_instance(r) && r.outstanding > 0);
        // Looking at a handler's promise costs a VM call: while the instance is busy,
        // only the requests that just had work done, or whose handler just settled
        // (the prelude reports that), can have changed. (Then the thread's other
        // requests are not listed at all: this runs after every slice of JavaScript.)
        let mut targets: Vec<u64> = if instance_busy {
            focus
                .iter()
                .copied()
                .filter(|id| self.requests.get(id).is_some_and(on_instance))
                .collect()
        } else {
            self.requests
                .iter()
                .filter(|(_, r)| on_instance(r))
                .map(|(k, _)| *k)
                .collect()
        };
        targets.extend(std::mem::take(&mut self.settled).into_iter().filter(|id| {
            !focus.contains(id)
                && self
                    .requests
                    .get(id)
                    .is_some_and(|r| r.instance == instance)
        }));
        targets.dedup();
        for request in targets {
            let Some(live) = self.instances.get_mut(&instance) else {
                return;
            };
            let Some(r) = self.requests.get_mut(&request) else {
                continue;
            };
            let mut exported = false;
            if r.reply.is_some() {
                let answer = if r.cpu > self.limits.cpu_time {
                    Some(Err(ScriptError::CpuLimit {
                        script: live.inst.name().to_string(),
                        limit_ms: self.limits.cpu_time.as_millis() as u64,
                    }))
                } else {
                    match live.inst.outcome(&r.value) {
                        Outcome::Done(v) => {
                            // Exporting a streamed body starts its pump: host calls
                            // made now belong to this request.
                            host::set_current(request, &r.id);
                            exported = true;
                            Some(live.inst.export(&v).map(Answer::Respond))
                        }
                        Outcome::Failed(e) => Some(Err(e)),
                        Outcome::Pending if !instance_busy => Some(Err(ScriptError::RuntimeLimit {
                            script: live.inst.name().to_string(),
                            message: "the handler's promise never settled: it awaits something that cannot finish, or a loop or recursion limit stopped it".into(),
                        })),
                        Outcome::Pending => None,
                    }
                };
                match answer {
                    Some(Ok(a)) => {
                        if let Some(reply) = r.reply.take() {
                            let _ = reply.send(Ok(a));
                        }
                    }
                    Some(Err(e)) => self.fail(request, e),
                    None => {}
                }
            }
            if exported {
                // The pump's first steps wait in the job queue: run them, and start the
                // host work they asked for.
                if let Some(live) = self.instances.get_mut(&instance)
                    && let Err(e) = live.inst.run_jobs()
                {
                    tracing::warn!(error = %e, "a streamed body's pump failed to start");
                }
                self.take_calls(instance);
            }
            let Some(r) = self.requests.get(&request) else {
                continue;
            };
            if r.reply.is_none() && r.outstanding == 0 {
                self.requests.remove(&request);
                self.forget_bodies(request);
                if let Some(live) = self.instances.get_mut(&instance) {
                    live.in_flight -= 1;
                    if live.retired && live.in_flight == 0 {
                        self.drop_instance(instance);
                    }
                }
            }
        }
    }
}
