//! `fetch()`'s common case in Rust: a `Request` sent on as it is (`fetch(request)`
//! in a hook), answered with a native `Response`; every other case goes to the
//! prelude's `fetch`.
//!
//! In JavaScript that case ran the prelude's async `fetch`, a host-call promise and its
//! pending-call record, the settle function, a parts array and `fromHost`: ~40 % of a
//! `return fetch(request)` hook's time in the engine. Here it is one promise made and
//! resolved from Rust.

use crate::convert::{arg, type_error};
use crate::error::Result;
use crate::exchange::{Body, FetchResponse};
use crate::native_class::kept;
use boa_engine::object::builtins::JsPromise;
use boa_engine::object::{FunctionObjectBuilder, RecordTemplate};
use boa_engine::property::PropertyKey;
use boa_engine::{
    Context, Finalize, JsData, JsNativeError, JsObject, JsResult, JsString, JsValue,
    NativeFunction, Trace, js_string,
};
use bytes::Bytes;
use foldhash::{HashMap, HashMapExt};

/// Ids of native calls have the top bit set; the prelude's stay below it.
const NATIVE: u32 = 0x8000_0000;

/// Workers' cache and image options a request's `cf` may carry (the prelude's
/// `fetch` sends those on).
const CACHE_OPTIONS: [JsString; 6] = [
    js_string!("cacheTtl"),
    js_string!("cacheEverything"),
    js_string!("cacheKey"),
    js_string!("cacheTtlByStatus"),
    js_string!("cacheTags"),
    js_string!("image"),
];

/// What the native path needs from the prelude.
#[derive(Trace, Finalize, Clone)]
struct Helpers {
    /// The prelude's `fetch`, for everything this module does not take.
    slow: JsObject,
    /// `HostBody.prototype`: a body the host holds (`{ id, signal }`).
    host_body: JsObject,
    /// The layout of a `HostBody`, as its constructor makes it.
    host_body_record: RecordTemplate,
    /// `Response.prototype`.
    response: JsObject,
}

/// A native fetch waiting for its answer: its promise (settled from here: it has no
/// resolving functions), and the URL its response reports.
#[derive(Trace, Finalize)]
struct Waiting {
    promise: JsPromise,
    #[unsafe_ignore_trace]
    url: JsString,
}

/// The realm's native fetches in flight (in its host-defined slot: it goes with the
/// context).
#[derive(Trace, Finalize, JsData)]
struct InFlight {
    helpers: Helpers,
    /// [`CACHE_OPTIONS`] as property keys, made once (a key made from a string is
    /// checked for being an array index each time).
    #[unsafe_ignore_trace]
    cache_options: std::rc::Rc<[PropertyKey]>,
    #[unsafe_ignore_trace]
    next: u32,
    waiting: HashMap<u32, Waiting>,
}

/// Whether host call `call` is a native fetch (its answer goes to [`settle`]).
pub(crate) fn is_native(call: u32) -> bool {
    call & NATIVE != 0
}

/// Defines `__outpostHost.fetchFunction({ fetch, HostBody, Response })` (the prelude
/// makes `globalThis.fetch` with it).
pub(crate) fn install(ctx: &mut Context) -> JsResult<()> {
    let host = ctx.global_object().get(js_string!("__outpostHost"), ctx)?;
    let host = host
        .as_object()
        .ok_or_else(|| type_error("__outpostHost is missing"))?;
    let make = FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(function))
        .name(js_string!("fetchFunction"))
        .length(1)
        .build();
    host.set(js_string!("fetchFunction"), make, false, ctx)?;
    Ok(())
}

/// `fetchFunction({ fetch, HostBody, Response })` → the `fetch` scripts see.
fn function(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let slow = crate::native_class::helper(args, "fetch", ctx)?;
    let prototype_of = |name: &str, ctx: &mut Context| -> JsResult<JsObject> {
        crate::native_class::helper(args, name, ctx)?
            .get(js_string!("prototype"), ctx)?
            .as_object()
            .ok_or_else(|| type_error(format!("{name}.prototype is missing")))
    };
    let host_body = prototype_of("HostBody", ctx)?;
    let host_body_record = RecordTemplate::with_prototype(
        host_body.clone(),
        &[js_string!("id"), js_string!("signal")],
        ctx,
    );
    let helpers = Helpers {
        slow,
        host_body,
        host_body_record,
        response: prototype_of("Response", ctx)?,
    };
    ctx.realm().host_defined_mut().insert(InFlight {
        helpers: helpers.clone(),
        cache_options: CACHE_OPTIONS.into_iter().map(PropertyKey::from).collect(),
        next: 0,
        waiting: HashMap::new(),
    });
    Ok(FunctionObjectBuilder::new(
        ctx.realm(),
        NativeFunction::from_copy_closure_with_captures(fetch, helpers),
    )
    .name(js_string!("fetch"))
    .length(2)
    .build()
    .into())
}

/// A `HostBody` (`{ id, signal }`) for host body `id`: what the prelude's body
/// methods read a body the host holds through.
pub(crate) fn host_body(id: u64, ctx: &mut Context) -> JsResult<JsValue> {
    let template = kept(ctx, |f: &InFlight| f.helpers.host_body_record.clone())
        .ok_or_else(|| type_error("fetch() is not set up"))?;
    Ok(host_body_with(&template, id))
}

/// This realm's `HostBody.prototype`, once `fetch()` is set up.
fn host_body_prototype(ctx: &Context) -> Option<JsObject> {
    kept(ctx, |f: &InFlight| f.helpers.host_body.clone())
}

/// `value` if it is a `HostBody` (its prototype is `prototype`).
fn as_host_body(value: &JsValue, prototype: &JsObject) -> Option<JsObject> {
    value.as_object().filter(|o| {
        o.prototype()
            .is_some_and(|p| JsObject::equals(&p, prototype))
    })
}

/// [`host_body`] with the realm's `HostBody` layout at hand.
fn host_body_with(template: &RecordTemplate, id: u64) -> JsValue {
    template
        .create(vec![(id as f64).into(), JsValue::undefined()])
        .into()
}

/// Takes the body of `value` (a `Response`) out for the host when it is a host body
/// not yet used (a fetched response's, handed on by `new Response(r.body, r)`): its
/// id, as the prelude's `__outpostExport` would give it. `None` for every other body.
pub(crate) fn take_host_body(value: &JsValue, ctx: &mut Context) -> JsResult<Option<JsValue>> {
    let Some(record) = crate::response::record_of(value) else {
        return Ok(None);
    };
    let layout = crate::response::body_layout(ctx);
    let Some(source) = crate::response::untouched_source(&record, layout.as_ref(), ctx)? else {
        return Ok(None);
    };
    let Some(body) = host_body_prototype(ctx).and_then(|p| as_host_body(&source, &p)) else {
        return Ok(None);
    };
    let id = body.get(js_string!("id"), ctx)?;
    crate::response::mark_taken(&record, layout.as_ref(), &source, ctx)?;
    Ok(Some(id))
}

/// `fetch(input, init)`.
fn fetch(
    this: &JsValue,
    args: &[JsValue],
    helpers: &Helpers,
    ctx: &mut Context,
) -> JsResult<JsValue> {
    match sent_as_is(args, helpers, ctx)? {
        Some(promise) => Ok(promise),
        None => helpers.slow.call(this, args, ctx),
    }
}

/// The native path: `fetch(request)` of a `Request` whose redirects come back to the
/// script (`redirect: "manual"`, as the request a hook receives has), with no abort
/// signal, no `cf` cache options, and a body that is none, the host's, or bytes. The
/// prelude's `fetch` does the same steps for these (and all the others).
fn sent_as_is(args: &[JsValue], helpers: &Helpers, ctx: &mut Context) -> JsResult<Option<JsValue>> {
    if !arg(args, 1).is_undefined() {
        return Ok(None);
    }
    let Some(record) = crate::request::record_of(&arg(args, 0)) else {
        return Ok(None);
    };
    use crate::request::{CF, HEADERS, METHOD, REDIRECT, SIGNAL, URL};
    let layout = crate::request::layout(ctx);
    let field = |index: usize, ctx: &mut Context| {
        let field = crate::request::record_field(index);
        crate::native_class::field(&record, layout.as_ref(), field, ctx)
    };
    if field(REDIRECT, ctx)?
        .as_string()
        .is_none_or(|r| r != js_string!("manual"))
        || !field(SIGNAL, ctx)?.is_null_or_undefined()
        || has_cache_options(&field(CF, ctx)?, ctx)?
    {
        return Ok(None);
    }
    let Some(headers) = crate::headers::header_map(&field(HEADERS, ctx)?) else {
        return Ok(None);
    };
    let Some(source) = crate::response::untouched_source(&record, layout.as_ref(), ctx)? else {
        return Ok(None);
    };
    // Last of the checks, since it takes a host body out.
    let host_body = as_host_body(&source, &helpers.host_body);
    let body = if source.is_null() {
        None
    } else if let Some(o) = host_body {
        let id = o.get(js_string!("id"), ctx)?.to_length(ctx)?;
        Some(Body::Stream(
            crate::host::take_body(id).ok_or_else(|| type_error("Body has already been used"))?,
        ))
    } else if crate::response::is_bytes(&source) {
        Some(Body::Bytes(Bytes::from(crate::convert::bytes_of(
            &source, ctx,
        )?)))
    } else {
        return Ok(None);
    };
    crate::response::mark_taken(&record, layout.as_ref(), &source, ctx)?;
    let url = field(URL, ctx)?.to_string(ctx)?;
    let method = field(METHOD, ctx)?.to_string(ctx)?;
    let method = crate::convert::utf8(&method);
    let call = {
        let mut host_defined = ctx.realm().host_defined_mut();
        let Some(in_flight) = host_defined.get_mut::<InFlight>() else {
            return Ok(None);
        };
        let call = NATIVE | in_flight.next;
        in_flight.next = (in_flight.next + 1) & !NATIVE;
        call
    };
    crate::host::push_fetch(
        call,
        &crate::convert::utf8(&url),
        &method,
        headers,
        body,
        None,
        None,
    )?;
    let promise = JsPromise::new_unsettled(ctx);
    if let Some(in_flight) = ctx.realm().host_defined_mut().get_mut::<InFlight>() {
        in_flight.waiting.insert(
            call,
            Waiting {
                promise: promise.clone(),
                url,
            },
        );
    }
    Ok(Some(promise.into()))
}

/// Whether a request's `cf` carries Workers' cache or image options (the prelude's
/// `fetch` sends those on). Each may be inherited, so each is a `[[Get]]`, unless the
/// object and its prototypes are ordinary and none of them has any of the names (the
/// common case, a request's own `cf`): then every `[[Get]]` would answer `undefined`.
fn has_cache_options(cf: &JsValue, ctx: &mut Context) -> JsResult<bool> {
    let Some(cf) = cf.as_object() else {
        return Ok(false);
    };
    let keys = kept(ctx, |f: &InFlight| f.cache_options.clone()).unwrap_or_default();
    if !keys.is_empty() && cf.has_none_of(&keys) == Some(true) {
        return Ok(false);
    }
    for key in CACHE_OPTIONS {
        if !cf.get(key, ctx)?.is_undefined() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Settles native fetch `call` of `request` with its answer: a `Response` whose body
/// stays with the host until read, or a TypeError (as Workers reject a failed fetch).
pub(crate) fn settle(
    call: u32,
    request: u64,
    answer: Result<FetchResponse>,
    ctx: &mut Context,
) -> JsResult<()> {
    let (waiting, helpers) = {
        let mut host_defined = ctx.realm().host_defined_mut();
        let Some(in_flight) = host_defined.get_mut::<InFlight>() else {
            return Ok(());
        };
        let Some(waiting) = in_flight.waiting.remove(&call) else {
            return Ok(());
        };
        (waiting, in_flight.helpers.clone())
    };
    match answer {
        Ok(response) => {
            let status = response.head.status;
            let headers = crate::headers::headers_object(response.head.headers, ctx)?;
            let headers = headers
                .as_object()
                .ok_or_else(|| type_error("headers: not an object"))?;
            let id = crate::host::store_body(request, response.body);
            let body = host_body_with(&helpers.host_body_record, id);
            let response = crate::response::from_host(
                &helpers.response,
                body,
                status.as_u16(),
                JsString::from(status.canonical_reason().unwrap_or("")),
                headers,
                waiting.url.clone(),
                ctx,
            )?;
            waiting.promise.settle(Ok(response.into()), ctx)?;
        }
        Err(e) => {
            let error = JsNativeError::typ()
                .with_message(e.to_string())
                .into_opaque(ctx);
            waiting.promise.settle(Err(error.into()), ctx)?;
        }
    }
    Ok(())
}
