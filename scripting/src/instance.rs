//! One script compiled in its own boa `Context` (its own globals: scripts never see
//! each other), and the call of its fetch handler under the CPU limit.

use crate::clock::CpuClock;
use crate::console::TracingLogger;
use crate::error::{Result, ScriptError};
use crate::exchange::{Body, Cf, HookResponse};
use crate::limits::Limits;
use boa_engine::JsString;
use boa_engine::builtins::object::OrdinaryObject;
use boa_engine::builtins::promise::PromiseState;
use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::object::builtins::JsPromise;
use boa_engine::property::Attribute;
use boa_engine::{
    Context, Finalize, JsData, JsError, JsObject, JsResult, JsValue, Module, Script, Source, Trace,
    js_error, js_string,
};
use boa_runtime::extensions::{
    Base64Extension, ConsoleExtension, EncodingExtension, FetchExtension, StructuredCloneExtension,
    UrlExtension,
};
use boa_runtime::fetch::request::JsRequest;
use boa_runtime::fetch::response::JsResponse;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

/// VM instructions between limit checks. Small, because one instruction can be a
/// native call doing a lot of work (`new Array(1e5).fill(0)`), and the memory check
/// must see a bomb before it has grown far past the limit.
const BUDGET: u32 = 128;

/// Calls the prelude's dispatcher with `[request, scheduled]` stored in `__outpostArgs`
/// (a script, so that it can run under the VM's instruction budget).
const DISPATCH: &str = "__outpostDispatch(__outpostArgs)";

/// `fetch()` until subrequests are routed through Outpost's pipeline: a clear error
/// rather than a direct socket from the script.
#[derive(Debug, Trace, Finalize, JsData)]
pub(crate) struct NoSubrequests;

impl boa_runtime::fetch::Fetcher for NoSubrequests {
    async fn fetch(
        self: Rc<Self>,
        _request: JsRequest,
        _signal: Option<JsObject>,
        _context: &RefCell<&mut Context>,
    ) -> JsResult<JsResponse> {
        Err(
            js_error!(TypeError: "fetch() subrequests are not available in this Outpost version yet"),
        )
    }
}

/// A compiled, warm script.
pub(crate) struct Instance {
    name: Arc<str>,
    context: Context,
    dispatch: Script,
    settle: JsObject,
    export: JsObject,
}

/// Where a handler's result stands.
pub(crate) enum Outcome {
    /// Still waiting (on a subrequest, a timer, a body read…).
    Pending,
    /// The handler produced this value.
    Done(JsValue),
    /// The handler threw or its promise was rejected.
    Failed(ScriptError),
}

fn global_function(context: &mut Context, name: JsString) -> JsResult<JsObject> {
    context
        .global_object()
        .get(name, context)?
        .as_callable()
        .ok_or_else(|| js_error!(TypeError: "prelude function missing"))
}

/// Refuses `eval` and `new Function` as Workers do (V8's error, word for word): code a
/// script builds from strings is code nobody reviewed when it was deployed.
struct NoCodeFromStrings;

impl boa_engine::context::HostHooks for NoCodeFromStrings {
    fn ensure_can_compile_strings(
        &self,
        _realm: boa_engine::realm::Realm,
        _parameters: &[JsString],
        _body: &JsString,
        _direct: bool,
        _context: &mut Context,
    ) -> JsResult<()> {
        Err(boa_engine::JsNativeError::eval()
            .with_message("Code generation from strings disallowed for this context")
            .into())
    }
}

/// A context with the Web APIs set up and no script yet. The JS thread makes one ahead
/// of need, when it is idle, so that deploying a script costs only compiling it (what a
/// V8 snapshot gives workerd).
pub(crate) struct Runtime {
    context: Context,
    /// The Streams code is compiled in it already.
    pub(crate) with_streams: bool,
}

impl Runtime {
    /// A fresh context: boa's intrinsics, `boa_runtime`'s extensions, the host functions
    /// and the JS sources (see `sources.rs`). Fails only on a defect in those.
    pub(crate) fn new(limits: &Limits) -> std::result::Result<Runtime, String> {
        crate::clock::leave_collections_uncharged();
        crate::budget::install();
        let mut context = if limits.code_from_strings {
            Context::default()
        } else {
            Context::builder()
                .host_hooks(Rc::new(NoCodeFromStrings))
                .build()
                .map_err(|e| format!("runtime set-up failed (context): {e}"))?
        };
        let rl = context.runtime_limits_mut();
        rl.set_loop_iteration_limit(limits.loop_iterations);
        rl.set_recursion_limit(limits.recursion);
        use boa_runtime::extensions::RuntimeExtension;
        let set_up = |r: JsResult<()>, what: &str| {
            r.map_err(|e| format!("runtime set-up failed ({what}): {e}"))
        };
        // For its Headers class; the prelude replaces Request, Response and fetch.
        set_up(
            FetchExtension(NoSubrequests).register(None, &mut context),
            "fetch",
        )?;
        set_up(UrlExtension.register(None, &mut context), "url")?;
        set_up(EncodingExtension.register(None, &mut context), "encoding")?;
        set_up(Base64Extension.register(None, &mut context), "base64")?;
        set_up(
            StructuredCloneExtension.register(None, &mut context),
            "clone",
        )?;
        set_up(crate::host::install(&mut context), "host")?;
        set_up(crate::fetch::install(&mut context), "fetch()")?;
        for src in crate::sources::eager() {
            crate::sources::run(src, &mut context)
                .map_err(|e| crate::convert::error_text(&e, &mut context))?;
        }
        Ok(Runtime {
            context,
            with_streams: false,
        })
    }

    /// Compiles the Streams code (otherwise compiled when a script first uses a stream):
    /// for a spare on a thread whose scripts use streams, such as every hook that does
    /// `new Response(r.body, r)`.
    pub(crate) fn add_streams(&mut self) -> std::result::Result<(), String> {
        self.with_streams = true;
        self.context
            .eval(Source::from_bytes("void ReadableStream"))
            .map(|_| ())
            .map_err(|e| crate::convert::error_text(&e, &mut self.context))
    }
}

impl Instance {
    /// Compiles `code` as an ES module in a fresh context and finds its fetch handler.
    pub(crate) fn compile(
        name: &str,
        code: &str,
        env: &crate::env::Env,
        limits: &Limits,
    ) -> Result<Instance> {
        let runtime = Runtime::new(limits).map_err(|message| ScriptError::Compile {
            script: name.to_string(),
            message,
        })?;
        Instance::load(runtime, name, code, env)
    }

    /// Compiles `code` as an ES module in `runtime` and finds its fetch handler.
    pub(crate) fn load(
        runtime: Runtime,
        name: &str,
        code: &str,
        env: &crate::env::Env,
    ) -> Result<Instance> {
        let name: Arc<str> = Arc::from(name);
        let fail = |message: String| ScriptError::Compile {
            script: name.to_string(),
            message,
        };
        let mut context = runtime.context;
        use boa_runtime::extensions::RuntimeExtension;
        // Registered here, not in the runtime: its log lines name the script.
        ConsoleExtension(TracingLogger {
            script: name.clone(),
        })
        .register(None, &mut context)
        .map_err(|e| fail(format!("runtime set-up failed (console): {e}")))?;

        let module = Module::parse(
            Source::from_bytes(code).with_path(std::path::Path::new(&*name)),
            None,
            &mut context,
        )
        .map_err(|e| fail(crate::convert::error_text(&e, &mut context)))?;
        crate::clock::io_happened();
        let done = module.load_link_evaluate(&mut context);
        context
            .run_jobs()
            .map_err(|e| fail(crate::convert::error_text(&e, &mut context)))?;
        match done.state() {
            PromiseState::Fulfilled(_) => {}
            PromiseState::Rejected(v) => {
                let e = JsError::from_opaque(v);
                return Err(fail(crate::convert::error_text(&e, &mut context)));
            }
            PromiseState::Pending => {
                return Err(fail("the module's top-level code did not finish".into()));
            }
        }

        let namespace = module.namespace(&mut context);
        let default = namespace
            .get(js_string!("default"), &mut context)
            .map_err(|e| fail(crate::convert::error_text(&e, &mut context)))?;
        // A module Worker: `export default { fetch, scheduled }` (either or both).
        let has_fetch = match default.as_object() {
            Some(obj) => ["fetch", "scheduled"].iter().any(|name| {
                obj.get(JsString::from(*name), &mut context)
                    .is_ok_and(|f| f.is_callable())
            }),
            None => false,
        };
        let global = context.global_object();
        if has_fetch {
            global
                .set(js_string!("__outpostHandler"), default, false, &mut context)
                .map_err(|e| fail(e.to_string()))?;
        } else {
            let listener = global
                .get(js_string!("__outpostListener"), &mut context)
                .map_err(|e| fail(e.to_string()))?;
            if !listener.is_callable() {
                return Err(ScriptError::NoHandler {
                    script: name.to_string(),
                });
            }
        }
        let env_obj = JsObject::with_null_proto();
        let kv_namespace = global_function(&mut context, js_string!("__outpostKvNamespace"))
            .map_err(|e| fail(e.to_string()))?;
        let mut bindings: Vec<(JsString, JsValue)> = Vec::new();
        for (k, v) in &env.vars {
            bindings.push((
                JsString::from(k.as_str()),
                JsString::from(v.as_str()).into(),
            ));
        }
        for (binding, namespace) in &env.kv {
            let ns = kv_namespace
                .call(
                    &JsValue::undefined(),
                    &[JsString::from(namespace.as_str()).into()],
                    &mut context,
                )
                .map_err(|e| fail(e.to_string()))?;
            bindings.push((JsString::from(binding.as_str()), ns));
        }
        for (key, value) in bindings {
            env_obj
                .set(key.clone(), value.clone(), false, &mut context)
                .map_err(|e| fail(e.to_string()))?;
            // Service-worker scripts see their bindings as globals, as in Workers.
            if !has_fetch {
                global
                    .set(key, value, false, &mut context)
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
        global
            .set(js_string!("__outpostEnv"), env_obj, false, &mut context)
            .map_err(|e| fail(e.to_string()))?;
        let dispatch = Script::parse(Source::from_bytes(DISPATCH), None, &mut context)
            .map_err(|e| fail(e.to_string()))?;
        let settle = global_function(&mut context, js_string!("__outpostSettle"))
            .map_err(|e| fail(e.to_string()))?;
        let export = global_function(&mut context, js_string!("__outpostExport"))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Instance {
            name,
            context,
            dispatch,
            settle,
            export,
        })
    }

    /// The script's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The context, to build values for [`Instance::settle`].
    pub(crate) fn context(&mut self) -> &mut Context {
        &mut self.context
    }

    pub(crate) fn error(&mut self, e: &JsError) -> ScriptError {
        let message = crate::convert::error_text(e, &mut self.context);
        // A RuntimeLimit error is not catchable by the script and names the limit.
        if message.starts_with("RuntimeLimit") {
            ScriptError::RuntimeLimit {
                script: self.name.to_string(),
                message,
            }
        } else {
            ScriptError::Exception {
                script: self.name.to_string(),
                message,
            }
        }
    }

    /// Runs the synchronous part of the fetch handler for `request` (its body either in
    /// `request` or, still arriving, host body `streamed`) under the CPU
    /// limit, then the promise jobs it queued. Returns the handler's value (usually a
    /// promise). On `Err(CpuLimit)` the VM was stopped mid-run and the instance must be
    /// dropped.
    pub(crate) async fn start(
        &mut self,
        id: u64,
        request: http::Request<bytes::Bytes>,
        streamed: Option<u64>,
        cf: &Cf,
        limits: &Limits,
    ) -> Result<JsValue> {
        crate::clock::io_happened();
        let (parts, body) = request.into_parts();
        let ctx = &mut self.context;
        let headers =
            crate::headers::headers_object(parts.headers, ctx).map_err(|e| self.error(&e))?;
        let ctx = &mut self.context;
        // A body still arriving goes in as its host body (read as a stream over it).
        let body = if let Some(host_body) = streamed {
            match crate::fetch::host_body(host_body, ctx) {
                Ok(b) => b,
                Err(e) => return Err(self.error(&e)),
            }
        } else if body.is_empty() {
            JsValue::null()
        } else {
            match crate::convert::uint8_array(&body, ctx) {
                Ok(b) => b,
                Err(e) => return Err(self.error(&e)),
            }
        };
        let ctx = &mut self.context;
        let mut facts: Vec<(JsString, JsValue)> = vec![(
            js_string!("httpProtocol"),
            JsString::from(cf.http_protocol.as_str()).into(),
        )];
        if let Some(ip) = cf.client_ip {
            facts.push((
                js_string!("clientIp"),
                JsString::from(crate::convert::ip_text(ip).as_str()).into(),
            ));
        }
        if let Some(v) = &cf.tls_version {
            facts.push((js_string!("tlsVersion"), JsString::from(v.as_str()).into()));
        }
        if let Some(r) = &cf.rule {
            facts.push((js_string!("rule"), JsString::from(r.as_str()).into()));
        }
        // A shared shape, as the request's record (`request::new_record`).
        let mut cf_obj = ObjectInitializer::with_native_data(OrdinaryObject, ctx);
        for (k, v) in facts {
            cf_obj.property(k, v, Attribute::all());
        }
        let cf_obj = cf_obj.build();
        let ctx = &mut self.context;
        let scheduled = match &cf.scheduled {
            Some(s) => JsArray::from_iter(
                [
                    JsValue::from(JsString::from(s.cron.as_str())),
                    JsValue::from(s.scheduled_time_ms),
                ],
                ctx,
            )
            .into(),
            None => JsValue::undefined(),
        };
        let request = match crate::request::incoming(
            body,
            JsString::from(parts.uri.to_string().as_str()),
            JsString::from(parts.method.as_str()),
            headers,
            cf_obj.into(),
            ctx,
        ) {
            Ok(r) => r,
            Err(e) => return Err(self.error(&e)),
        };
        let args = JsArray::from_iter([request, scheduled], ctx);
        let global = ctx.global_object();
        global
            .set(js_string!("__outpostArgs"), args, false, ctx)
            .map_err(|e| self.error(&e))?;

        // The synchronous part of the handler runs with a budget: the VM yields every
        // few thousand instructions, and we stop it once the CPU time is spent.
        let started = CpuClock::start();
        let result = {
            let eval = self
                .dispatch
                .evaluate_async_with_budget(&mut self.context, BUDGET);
            within(eval, &started, limits).await
        };
        match result {
            Err(Stop::Cpu) => Err(ScriptError::CpuLimit {
                script: self.name.to_string(),
                limit_ms: limits.cpu_time.as_millis() as u64,
            }),
            Err(Stop::Memory) => Err(ScriptError::MemoryLimit {
                script: self.name.to_string(),
                limit_mb: (limits.memory >> 20) as u64,
            }),
            Ok(r) => {
                let value = r.map_err(|e| self.error(&e))?;
                // The promise jobs the handler queued (its code after an `await`) run
                // to their end, not in slices: a loop's check stops one that keeps more
                // than the memory limit (see `budget`).
                let jobs = {
                    let _budget = crate::budget::enter(
                        limits.cpu_time.saturating_sub(started.elapsed()),
                        limits.memory,
                    );
                    let ran = self.run_jobs();
                    (ran, crate::budget::over())
                };
                match jobs {
                    (_, Some(crate::budget::Over::Memory)) => {
                        return Err(ScriptError::MemoryLimit {
                            script: self.name.to_string(),
                            limit_mb: (limits.memory >> 20) as u64,
                        });
                    }
                    (ran, _) => ran?,
                }
                // A handler promise still pending: the worker hears when it settles.
                if let Some(p) = value
                    .as_object()
                    .and_then(|o| JsPromise::from_object(o).ok())
                    && matches!(p.state(), PromiseState::Pending)
                {
                    crate::host::tell_when_settled(&p, id, &mut self.context);
                }
                Ok(value)
            }
        }
    }

    /// Runs queued promise jobs (continuations). The loop and recursion limits bound
    /// them.
    pub(crate) fn run_jobs(&mut self) -> Result<()> {
        self.context.run_jobs().map_err(|e| self.error(&e))
    }

    /// Settles host call `call` with `value` (or rejects it), then runs the
    /// continuations that unblocks.
    pub(crate) fn settle(&mut self, call: u32, ok: bool, value: JsValue) -> Result<()> {
        crate::clock::io_happened();
        let settle = self.settle.clone();
        settle
            .call(
                &JsValue::undefined(),
                &[JsValue::from(call), JsValue::from(ok), value],
                &mut self.context,
            )
            .map_err(|e| self.error(&e))?;
        self.run_jobs()
    }

    /// Settles native fetch `call` of `request` (see `fetch.rs`) with its answer.
    pub(crate) fn settle_fetch(
        &mut self,
        call: u32,
        request: u64,
        answer: Result<crate::exchange::FetchResponse>,
    ) -> Result<()> {
        crate::clock::io_happened();
        crate::fetch::settle(call, request, answer, &mut self.context)
            .map_err(|e| self.error(&e))?;
        self.run_jobs()
    }

    /// Where the handler's `value` stands.
    pub(crate) fn outcome(&mut self, value: &JsValue) -> Outcome {
        match value
            .as_object()
            .and_then(|o| JsPromise::from_object(o.clone()).ok())
        {
            Some(p) => match p.state() {
                PromiseState::Fulfilled(v) => Outcome::Done(v),
                PromiseState::Rejected(v) => Outcome::Failed(self.error(&JsError::from_opaque(v))),
                PromiseState::Pending => Outcome::Pending,
            },
            None => Outcome::Done(value.clone()),
        }
    }

    /// Turns the handler's final value into a response (status, headers and a body
    /// that is bytes or a host-held stream).
    pub(crate) fn export(&mut self, value: &JsValue) -> Result<HookResponse> {
        let name = self.name.clone();
        let not_response = |got: String| ScriptError::NotAResponse {
            script: name.to_string(),
            got,
        };
        if !crate::response::is_response(value) {
            return Err(not_response(describe(value)));
        }
        // The body first: handing on a FixedLengthStream sets a header.
        let plain = match crate::response::take_plain_body(value, &mut self.context) {
            Ok(None) => crate::fetch::take_host_body(value, &mut self.context),
            taken => taken,
        }
        .map_err(|e| self.error(&e))?;
        let body = match plain {
            Some(body) => body,
            None => {
                let export = self.export.clone();
                export
                    .call(
                        &JsValue::undefined(),
                        std::slice::from_ref(value),
                        &mut self.context,
                    )
                    .map_err(|e| self.error(&e))?
            }
        };
        let Some((status, headers)) = crate::response::head(value) else {
            return Err(not_response(describe(value)));
        };
        let status = http::StatusCode::from_u16(status)
            .map_err(|_| not_response(format!("a Response with status {status}")))?;
        let body = if body.is_null_or_undefined() {
            Body::Bytes(bytes::Bytes::new())
        } else if let Some(s) = body.as_string() {
            Body::Bytes(bytes::Bytes::from(crate::convert::utf8(&s)))
        } else if let Some(id) = body.as_number() {
            match crate::host::take_body(id as u64) {
                Some(stream) => Body::Stream(stream),
                None => Body::Bytes(bytes::Bytes::new()),
            }
        } else {
            let bytes =
                crate::convert::bytes_of(&body, &mut self.context).map_err(|e| self.error(&e))?;
            Body::Bytes(bytes::Bytes::from(bytes))
        };
        let mut head = http::Response::new(()).into_parts().0;
        head.status = status;
        head.headers = headers;
        Ok(HookResponse { head, body })
    }
}

/// Why a run of JavaScript was stopped.
enum Stop {
    Cpu,
    Memory,
}

/// Polls `fut` until it finishes, or until `limits.cpu_time` has passed since
/// `started` or the run has allocated more than `limits.memory` (both checked each
/// time the VM yields).
///
/// The VM yields every [`BUDGET`] instructions by waking itself and returning
/// `Pending`. Handing that back to the thread's runtime would re-enter the scheduler
/// (and every few dozen polls its I/O and timer driver) a hundred times per request;
/// instead a yield that woke itself is polled again here at once. Only a real wait
/// (nothing woke the VM) goes back to the runtime.
async fn within<F: Future>(
    fut: F,
    started: &CpuClock,
    limits: &Limits,
) -> std::result::Result<F::Output, Stop> {
    let base = crate::memory::live();
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        let wake = Arc::new(SelfWake {
            woken: AtomicBool::new(false),
            polling: AtomicBool::new(true),
            outer: cx.waker().clone(),
        });
        let waker = std::task::Waker::from(wake.clone());
        let mut inner = std::task::Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut inner) {
                return Poll::Ready(Ok(v));
            }
            if started.over(limits.cpu_time) {
                return Poll::Ready(Err(Stop::Cpu));
            }
            if let (Some(base), Some(now)) = (base, crate::memory::live())
                && now.saturating_sub(base) > limits.memory as isize
            {
                return Poll::Ready(Err(Stop::Memory));
            }
            if !wake.woken.swap(false, Ordering::AcqRel) {
                wake.polling.store(false, Ordering::Release);
                // A wake that came in between still counts.
                if wake.woken.swap(false, Ordering::AcqRel) {
                    wake.polling.store(true, Ordering::Release);
                    continue;
                }
                return Poll::Pending;
            }
        }
    })
    .await
}

/// The waker [`within`] polls the VM with: a wake while it is polling (a budget
/// yield) is only noted; one after it returned `Pending` goes on to the runtime.
struct SelfWake {
    woken: AtomicBool,
    polling: AtomicBool,
    outer: std::task::Waker,
}

impl std::task::Wake for SelfWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if !self.polling.load(Ordering::Acquire) {
            self.outer.wake_by_ref();
        }
    }
}

fn describe(v: &JsValue) -> String {
    if v.is_undefined() {
        "undefined".into()
    } else if v.is_null() {
        "null".into()
    } else if v.is_string() {
        "a string".into()
    } else if v.is_object() {
        "an object".into()
    } else {
        v.type_of().to_string()
    }
}
