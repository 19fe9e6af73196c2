//! The floor under a hook's JavaScript: the handlers of `benches/load/hook-overhead.sh`
//! run in a bare boa context over natively implemented stand-ins for `Request`,
//! `Response`, `Headers` and `fetch` (objects with a native prototype, no state, a
//! `fetch` that answers at once), called the way the engine calls a handler (call,
//! run the jobs, look at the promise). What is left is boa's own cost for the
//! handler's code: calls, `async`/`await`, promises, property reads. The gap between
//! this and `cargo bench --bench js_ops` (the runtime's real classes) is what native
//! Workers classes could remove.
//!
//! Run: `cargo bench -p outpost-scripting --bench native_floor`.

use boa_engine::builtins::promise::PromiseState;
use boa_engine::object::builtins::JsPromise;
use boa_engine::object::{FunctionObjectBuilder, ObjectInitializer};
use boa_engine::property::Attribute;
use boa_engine::{Context, JsObject, JsResult, JsValue, NativeFunction, Script, Source, js_string};
use std::cell::RefCell;
use std::time::Instant;

type Native = fn(&JsValue, &[JsValue], &mut Context) -> JsResult<JsValue>;

thread_local! {
    /// The stand-ins' prototypes: (request-like, response-like, headers).
    static PROTOS: RefCell<Option<[JsObject; 3]>> = const { RefCell::new(None) };
}

fn instance(which: usize) -> JsObject {
    let proto = PROTOS.with_borrow(|p| p.as_ref().map(|p| p[which].clone()));
    JsObject::from_proto_and_data(proto, ())
}

fn response(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(instance(1).into())
}
fn fetch(_: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    Ok(JsPromise::resolve(instance(1), ctx)?.into())
}
fn headers(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(instance(2).into())
}
fn body(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::null())
}
fn set(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::undefined())
}

const HANDLERS: [(&str, &str); 4] = [
    (
        "hook answering by itself",
        "({ fetch(request) { return new Response('hello from the edge\\n'); } })",
    ),
    (
        "async hook answering by itself",
        "({ async fetch(request) { return new Response('hello from the edge\\n'); } })",
    ),
    (
        "return fetch(request)",
        "({ fetch(request) { return fetch(request); } })",
    ),
    (
        "header-rewrite hook",
        "({ async fetch(request) { const r = await fetch(request); const out = new Response(r.body, r); out.headers.set('x-edge', 'outpost-bench'); return out; } })",
    ),
];

fn main() -> JsResult<()> {
    let ctx = &mut Context::default();
    let function = |ctx: &mut Context, f: Native| {
        FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(f)).build()
    };
    let headers_getter = function(ctx, headers);
    let body_getter = function(ctx, body);
    let mut message = || {
        ObjectInitializer::new(ctx)
            .accessor(
                js_string!("headers"),
                Some(headers_getter.clone()),
                None,
                Attribute::CONFIGURABLE,
            )
            .accessor(
                js_string!("body"),
                Some(body_getter.clone()),
                None,
                Attribute::CONFIGURABLE,
            )
            .build()
    };
    let request_proto = message();
    let response_proto = message();
    let headers_proto = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(set), js_string!("set"), 2)
        .build();
    PROTOS.with_borrow_mut(|p| *p = Some([request_proto, response_proto, headers_proto]));
    let constructor =
        FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(response))
            .name(js_string!("Response"))
            .length(2)
            .constructor(true)
            .build();
    ctx.register_global_property(js_string!("Response"), constructor, Attribute::all())?;
    let fetch = FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(fetch))
        .name(js_string!("fetch"))
        .build();
    ctx.register_global_property(js_string!("fetch"), fetch, Attribute::all())?;
    let env = JsObject::with_object_proto(ctx.intrinsics());
    for (name, source) in HANDLERS {
        let handler = Script::parse(Source::from_bytes(source), None, ctx)?.evaluate(ctx)?;
        let Some(handler) = handler.as_object() else {
            panic!("{name}: not an object");
        };
        let Some(call) = handler.get(js_string!("fetch"), ctx)?.as_object() else {
            panic!("{name}: no fetch");
        };
        let mut per_call = 0.0;
        // A warm-up round, then the measured one.
        for _ in 0..2 {
            let n = 100_000;
            let t = Instant::now();
            for _ in 0..n {
                let request = instance(0);
                let out = call.call(
                    &handler.clone().into(),
                    &[request.into(), env.clone().into()],
                    ctx,
                )?;
                ctx.run_jobs()?;
                if let Some(p) = out
                    .as_object()
                    .and_then(|o| JsPromise::from_object(o.clone()).ok())
                {
                    assert!(
                        matches!(p.state(), PromiseState::Fulfilled(_)),
                        "{name}: not fulfilled"
                    );
                }
            }
            per_call = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        }
        println!("{name}: {per_call:.2} µs per call");
    }
    Ok(())
}
