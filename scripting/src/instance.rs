//! One script compiled in its own boa `Context` (its own globals: scripts never see
//! each other), and the call of its fetch handler under the CPU limit.

use crate::console::TracingLogger;
use crate::engine::Limits;
use crate::error::{Result, ScriptError};
use boa_engine::JsString;
use boa_engine::builtins::promise::PromiseState;
use boa_engine::object::builtins::JsArray;
use boa_engine::object::builtins::JsPromise;
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
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

/// Defines the Service Worker entry point before the script runs.
const PRELUDE: &str = r#"
globalThis.addEventListener = function addEventListener(type, listener) {
  if (type === "fetch") globalThis.__outpostListener = listener;
};
// boa_runtime's Request has only a constructor; this one follows the Fetch spec's
// shape for what hooks use: url, method, headers, body readers, bodyUsed, clone().
globalThis.Request = class Request {
  #url; #method; #headers; #body = null; #bodyUsed = false;
  constructor(input, init = {}) {
    if (input instanceof Request) {
      if (input.bodyUsed) throw new TypeError("Request body has already been used");
      this.#url = input.url;
      this.#method = input.method;
      this.#headers = new Headers(input.headers);
      this.#body = input.#body;
    } else {
      this.#url = new URL(String(input)).href;
      this.#method = "GET";
      this.#headers = new Headers();
    }
    if (init.method !== undefined) {
      const m = String(init.method);
      const upper = m.toUpperCase();
      this.#method = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"].includes(upper) ? upper : m;
    }
    if (init.headers !== undefined) this.#headers = new Headers(init.headers);
    if (init.body !== undefined && init.body !== null) {
      if (this.#method === "GET" || this.#method === "HEAD") {
        throw new TypeError("Request with GET/HEAD method cannot have body");
      }
      this.#body = String(init.body);
    }
  }
  get url() { return this.#url; }
  get method() { return this.#method; }
  get headers() { return this.#headers; }
  get bodyUsed() { return this.#bodyUsed; }
  async text() {
    if (this.#bodyUsed) throw new TypeError("Body has already been used");
    this.#bodyUsed = true;
    return this.#body ?? "";
  }
  async json() { return JSON.parse(await this.text()); }
  async arrayBuffer() { return new TextEncoder().encode(await this.text()).buffer; }
  clone() { return new Request(this); }
};
// WHATWG URLSearchParams (application/x-www-form-urlencoded), and URL#searchParams
// kept in step with the URL's query, which boa_runtime's URL does not provide.
globalThis.URLSearchParams = class URLSearchParams {
  #list = [];
  #onChange = null;
  constructor(init = "", onChange = null) {
    if (typeof init === "object" && init !== null) {
      const pairs = Symbol.iterator in init ? init : Object.entries(init);
      for (const [k, v] of pairs) this.#list.push([String(k), String(v)]);
    } else {
      let s = String(init);
      if (s.startsWith("?")) s = s.slice(1);
      for (const part of s.split("&")) {
        if (part === "") continue;
        const eq = part.indexOf("=");
        const k = eq < 0 ? part : part.slice(0, eq);
        const v = eq < 0 ? "" : part.slice(eq + 1);
        this.#list.push([URLSearchParams.#decode(k), URLSearchParams.#decode(v)]);
      }
    }
    this.#onChange = onChange;
  }
  static #decode(s) {
    s = s.replace(/\+/g, " ");
    try { return decodeURIComponent(s); } catch { return s; }
  }
  static #encode(s) {
    return encodeURIComponent(s).replace(/%20/g, "+").replace(/[!'()~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  }
  #changed() { if (this.#onChange) this.#onChange(this.toString()); }
  get size() { return this.#list.length; }
  append(k, v) { this.#list.push([String(k), String(v)]); this.#changed(); }
  delete(k, v) {
    this.#list = this.#list.filter(([a, b]) => !(a === String(k) && (v === undefined || b === String(v))));
    this.#changed();
  }
  get(k) { const e = this.#list.find(([a]) => a === String(k)); return e ? e[1] : null; }
  getAll(k) { return this.#list.filter(([a]) => a === String(k)).map(([, b]) => b); }
  has(k, v) { return this.#list.some(([a, b]) => a === String(k) && (v === undefined || b === String(v))); }
  set(k, v) {
    k = String(k); v = String(v);
    const i = this.#list.findIndex(([a]) => a === k);
    if (i < 0) this.#list.push([k, v]);
    else { this.#list[i][1] = v; this.#list = this.#list.filter(([a], j) => a !== k || j === i); }
    this.#changed();
  }
  sort() { this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); this.#changed(); }
  forEach(f, self) { for (const [k, v] of this.#list) f.call(self, v, k, this); }
  *entries() { for (const [k, v] of this.#list) yield [k, v]; }
  *keys() { for (const [k] of this.#list) yield k; }
  *values() { for (const [, v] of this.#list) yield v; }
  [Symbol.iterator]() { return this.entries(); }
  toString() {
    return this.#list.map(([k, v]) => URLSearchParams.#encode(k) + "=" + URLSearchParams.#encode(v)).join("&");
  }
};
Object.defineProperty(URL.prototype, "searchParams", {
  configurable: true,
  get() {
    const url = this;
    return new URLSearchParams(url.search, (q) => { url.search = q; });
  },
});
// JSON.stringify keeps the object's key order, as Workers do.
Response.json = function json(data, init = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  return new Response(JSON.stringify(data), { ...init, headers });
};
"#;

/// Calls whichever entry point the script has; the result may be a promise.
const DISPATCH: &str = r#"
(function () {
  const [url, method, headers, body] = globalThis.__outpostRequest;
  const request = new Request(url, { method, headers, body });
  const handler = globalThis.__outpostHandler;
  if (handler) return handler.fetch(request, globalThis.__outpostEnv, globalThis.__outpostCtx);
  let response;
  const event = {
    request,
    respondWith(r) { response = r; },
    waitUntil() {},
    passThroughOnException() {},
  };
  globalThis.__outpostListener(event);
  return response;
})()
"#;

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
}

/// The error as JavaScript prints it, with at most a few stack frames (a runaway
/// recursion would otherwise log hundreds of identical lines).
fn message(e: &JsError, context: &mut Context) -> String {
    let full = match e.try_native(context) {
        Ok(native) => native.to_string(),
        Err(_) => e.to_string(),
    };
    let mut lines = full.lines();
    let mut out: Vec<&str> = lines.by_ref().take(6).collect();
    let rest = lines.count();
    let more = format!("    ... {rest} more frames");
    if rest > 0 {
        out.push(&more);
    }
    out.join("\n")
}

impl Instance {
    /// Compiles `code` as an ES module and finds its fetch handler.
    pub(crate) fn compile(
        name: &str,
        code: &str,
        env: &crate::engine::Env,
        limits: &Limits,
    ) -> Result<Instance> {
        let name: Arc<str> = Arc::from(name);
        let fail = |message: String| ScriptError::Compile {
            script: name.to_string(),
            message,
        };
        let mut context = Context::default();
        let rl = context.runtime_limits_mut();
        rl.set_loop_iteration_limit(limits.loop_iterations);
        rl.set_recursion_limit(limits.recursion);
        use boa_runtime::extensions::RuntimeExtension;
        let set_up = |r: JsResult<()>, what: &str| {
            r.map_err(|e| fail(format!("runtime set-up failed ({what}): {e}")))
        };
        set_up(
            ConsoleExtension(TracingLogger {
                script: name.clone(),
            })
            .register(None, &mut context),
            "console",
        )?;
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
        context
            .eval(Source::from_bytes(PRELUDE))
            .map_err(|e| fail(e.to_string()))?;

        let module = Module::parse(
            Source::from_bytes(code).with_path(std::path::Path::new(&*name)),
            None,
            &mut context,
        )
        .map_err(|e| fail(message(&e, &mut context)))?;
        let done = module.load_link_evaluate(&mut context);
        context
            .run_jobs()
            .map_err(|e| fail(message(&e, &mut context)))?;
        match done.state() {
            PromiseState::Fulfilled(_) => {}
            PromiseState::Rejected(v) => {
                let e = JsError::from_opaque(v);
                return Err(fail(message(&e, &mut context)));
            }
            PromiseState::Pending => {
                return Err(fail("the module's top-level code did not finish".into()));
            }
        }

        let namespace = module.namespace(&mut context);
        let default = namespace
            .get(js_string!("default"), &mut context)
            .map_err(|e| fail(message(&e, &mut context)))?;
        let has_fetch = match default.as_object() {
            Some(obj) => obj
                .get(js_string!("fetch"), &mut context)
                .is_ok_and(|f| f.is_callable()),
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
        for (k, v) in &env.vars {
            let (key, value) = (JsString::from(k.as_str()), JsString::from(v.as_str()));
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
        let ctx = context
            .eval(Source::from_bytes(
                "({ waitUntil() {}, passThroughOnException() {} })",
            ))
            .map_err(|e| fail(e.to_string()))?;
        global
            .set(js_string!("__outpostCtx"), ctx, false, &mut context)
            .map_err(|e| fail(e.to_string()))?;
        let dispatch = Script::parse(Source::from_bytes(DISPATCH), None, &mut context)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Instance {
            name,
            context,
            dispatch,
        })
    }

    fn error(&mut self, e: &JsError) -> ScriptError {
        let message = message(e, &mut self.context);
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

    /// Runs the fetch handler for `request`. On `Err(CpuLimit)` the instance is left
    /// mid-run and must be dropped (the caller compiles a fresh one).
    pub(crate) async fn call(
        &mut self,
        request: http::Request<Vec<u8>>,
        limits: &Limits,
    ) -> Result<http::Response<Vec<u8>>> {
        // The script gets a real `Request` made by its own constructor (from URL,
        // method and header pairs), so it behaves exactly like one the script builds.
        let ctx = &mut self.context;
        let mut pairs = Vec::new();
        for (k, v) in request.headers() {
            let pair = JsArray::from_iter(
                [
                    JsValue::from(JsString::from(k.as_str())),
                    JsValue::from(JsString::from(
                        String::from_utf8_lossy(v.as_bytes()).as_ref(),
                    )),
                ],
                ctx,
            );
            pairs.push(JsValue::from(pair));
        }
        let parts = JsArray::from_iter(
            [
                JsValue::from(JsString::from(request.uri().to_string().as_str())),
                JsValue::from(JsString::from(request.method().as_str())),
                JsValue::from(JsArray::from_iter(pairs, ctx)),
                if request.body().is_empty() {
                    JsValue::null()
                } else {
                    JsValue::from(JsString::from(
                        String::from_utf8_lossy(request.body()).as_ref(),
                    ))
                },
            ],
            ctx,
        );
        let global = ctx.global_object();
        global
            .set(js_string!("__outpostRequest"), parts, false, ctx)
            .map_err(|e| self.error(&e))?;

        // The synchronous part of the handler runs with a budget: the VM yields every
        // few thousand instructions, and we stop it once the CPU time is spent.
        let started = Instant::now();
        let result = {
            let eval = self
                .dispatch
                .evaluate_async_with_budget(&mut self.context, 4096);
            within(eval, started, limits).await
        };
        let value = match result {
            None => {
                return Err(ScriptError::CpuLimit {
                    script: self.name.to_string(),
                    limit_ms: limits.cpu_time.as_millis() as u64,
                });
            }
            Some(r) => r.map_err(|e| self.error(&e))?,
        };
        // Async continuations run as jobs; the loop and recursion limits bound them.
        self.context.run_jobs().map_err(|e| self.error(&e))?;
        let value = match value
            .as_object()
            .and_then(|o| JsPromise::from_object(o.clone()).ok())
        {
            Some(p) => match p.state() {
                PromiseState::Fulfilled(v) => v,
                PromiseState::Rejected(v) => return Err(self.error(&JsError::from_opaque(v))),
                PromiseState::Pending => {
                    // Either it awaits something that can never finish, or a runtime
                    // limit stopped an async continuation (boa drops that job).
                    return Err(ScriptError::RuntimeLimit {
                        script: self.name.to_string(),
                        message: "the handler's promise never settled: it awaits something that cannot finish, or a loop or recursion limit stopped it".into(),
                    });
                }
            },
            None => value,
        };
        if started.elapsed() > limits.cpu_time {
            return Err(ScriptError::CpuLimit {
                script: self.name.to_string(),
                limit_ms: limits.cpu_time.as_millis() as u64,
            });
        }
        to_http(&self.name, &value)
    }
}

/// Polls `fut` until it finishes or `limits.cpu_time` has passed since `started`
/// (checked each time the VM yields). `None` means the limit was hit.
async fn within<F: Future>(fut: F, started: Instant, limits: &Limits) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(Some(v));
        }
        if started.elapsed() > limits.cpu_time {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    })
    .await
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

fn to_http(script: &str, v: &JsValue) -> Result<http::Response<Vec<u8>>> {
    let not_response = || ScriptError::NotAResponse {
        script: script.to_string(),
        got: describe(v),
    };
    let obj = v.as_object().ok_or_else(not_response)?;
    let resp = obj.downcast_ref::<JsResponse>().ok_or_else(not_response)?;
    let mut out = http::Response::new(resp.body().as_ref().clone());
    *out.status_mut() =
        http::StatusCode::from_u16(resp.status()).map_err(|_| ScriptError::NotAResponse {
            script: script.to_string(),
            got: format!("a Response with status {}", resp.status()),
        })?;
    let headers = resp.headers().as_header_map();
    *out.headers_mut() = headers.borrow().clone();
    Ok(out)
}
