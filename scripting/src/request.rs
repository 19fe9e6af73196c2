//! The `Request` class's native shell: the object and its readers in Rust over the
//! record the prelude keeps a request's state in (the Fetch standard's checks of
//! `new Request(input, init)` stay in the prelude, which makes that record; the record
//! of the request a handler receives is made here).
//!
//! Every hooked request gets a `Request`; built as a JS class (a derived-class
//! construction and two private fields) that cost ~7 µs in boa before the handler ran.

use crate::convert::{arg, type_error};
use crate::native_class;
use boa_engine::object::RecordTemplate;
use boa_engine::{
    Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace,
    js_string,
};

/// What a `Request` object holds: the prelude's record `{ source, used, stream, url,
/// method, headers, redirect, cf, signal }` (the body's state and the request's).
#[derive(Trace, Finalize, JsData)]
struct RequestState {
    record: JsObject,
}

/// What the constructor asks of the prelude, and the prototype it makes objects with.
#[derive(Trace, Finalize, Clone)]
struct Helpers {
    /// `init(input, init) -> record`: the Fetch standard's `new Request` steps.
    init: JsObject,
    /// `Request.prototype`.
    prototype: JsObject,
}

/// The record of a `Request`.
pub(crate) fn record_of(value: &JsValue) -> Option<JsObject> {
    let object = value.as_object()?;
    let state = object.downcast_ref::<RequestState>()?;
    Some(state.record.clone())
}

/// `new Request(input, init)`.
fn construct(
    new_target: &JsValue,
    args: &[JsValue],
    helpers: &Helpers,
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let target = native_class::new_target(new_target, "Request")?;
    let record = helpers
        .init
        .call(&JsValue::undefined(), &[arg(args, 0), arg(args, 1)], ctx)?;
    let record = record
        .as_object()
        .ok_or_else(|| type_error("Request init: not a record"))?;
    let prototype = native_class::prototype_for(&target, &helpers.prototype, ctx)?;
    Ok(native_class::object(prototype, RequestState { record }, ctx).into())
}

/// The layout of request records, once the class is set up.
pub(crate) fn layout(ctx: &Context) -> Option<RecordTemplate> {
    native_class::kept(ctx, |m: &Made| m.record.clone())
}

/// `recordOf(x)`: the record of a `Request`, or undefined.
fn record(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(record_of(&arg(args, 0)).map_or_else(JsValue::undefined, JsValue::from))
}

/// `Request.prototype` and the layout of request records, kept in the realm for
/// [`incoming`] and [`new_record`].
#[derive(Trace, Finalize, JsData, Clone)]
struct Made {
    prototype: JsObject,
    record: RecordTemplate,
}

/// A request's record: `{ source, used, stream, url, method, headers, redirect, cf,
/// signal }`, the state a `Request` and the prelude's body methods share. One maker
/// for both the prelude's `new Request` and [`incoming`], so both have one shape.
fn new_record(template: &RecordTemplate, fields: [JsValue; 7]) -> JsObject {
    let [source, url, method, headers, redirect, cf, signal] = fields;
    // One layout for every record, kept whole: made property by property, each
    // record cost a transition lookup per property.
    template.create(vec![
        source,
        false.into(),
        JsValue::null(),
        url,
        method,
        headers,
        redirect,
        cf,
        signal,
    ])
}

/// What [`request_class`] kept in the current realm.
fn made(ctx: &Context) -> JsResult<Made> {
    native_class::kept(ctx, Made::clone)
        .ok_or_else(|| type_error("the Request class is not set up"))
}

/// `newRecord(source, url, method, headers, redirect, cf, signal)`: a record for the
/// prelude's `new Request` steps.
fn new_record_way(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let fields = std::array::from_fn(|i| arg(args, i));
    Ok(new_record(&made(ctx)?.record, fields).into())
}

/// The `Request` a handler receives, made here rather than by the prelude (a literal
/// and two calls fewer per request). As in Workers, its redirects come back to the
/// script (`redirect: "manual"`), so `fetch(request)` hands a redirect to the client.
pub(crate) fn incoming(
    source: JsValue,
    url: JsString,
    method: JsString,
    headers: JsValue,
    cf: JsValue,
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let made = made(ctx)?;
    let record = new_record(
        &made.record,
        [
            source,
            url.into(),
            method.into(),
            headers,
            js_string!("manual").into(),
            cf,
            JsValue::undefined(),
        ],
    );
    Ok(native_class::object(made.prototype.clone(), RequestState { record }, ctx).into())
}

/// The keys of a request's record, in its layout's order: the body's three (as a
/// response's body record begins), then the request's. Native code reads a field by
/// its position here while the record keeps this layout (`native_class::field`).
const RECORD_KEYS: [JsString; 9] = [
    js_string!("source"),
    js_string!("used"),
    js_string!("stream"),
    js_string!("url"),
    js_string!("method"),
    js_string!("headers"),
    js_string!("redirect"),
    js_string!("cf"),
    js_string!("signal"),
];

/// Positions in [`RECORD_KEYS`].
pub(crate) const URL: usize = 3;
pub(crate) const METHOD: usize = 4;
pub(crate) const HEADERS: usize = 5;
pub(crate) const REDIRECT: usize = 6;
pub(crate) const CF: usize = 7;
pub(crate) const SIGNAL: usize = 8;

/// Field `index` of a request's record, as [`native_class::field`] takes it.
pub(crate) fn record_field(index: usize) -> (usize, JsString) {
    (index, RECORD_KEYS[index].clone())
}

/// The readers on `Request.prototype`: fields of the record.
const FIELDS: [usize; 5] = [URL, METHOD, HEADERS, REDIRECT, CF];

/// `host.requestClass({ init })` → `{ Request, recordOf, newRecord }`: the class (its
/// prototype has the readers; the prelude adds the rest) and the prelude's ways into it.
pub(crate) fn request_class(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let init = native_class::helper(args, "init", ctx)?;
    let prototype = JsObject::with_object_proto(ctx.intrinsics());
    let helpers = Helpers {
        init,
        prototype: prototype.clone(),
    };
    let layout = RecordTemplate::new(&RECORD_KEYS, ctx);
    ctx.realm().host_defined_mut().insert(Made {
        prototype: prototype.clone(),
        record: layout,
    });
    let class = native_class::class(
        "Request",
        1,
        NativeFunction::from_copy_closure_with_captures(construct, helpers),
        &prototype,
        ctx,
    )?;
    for index in FIELDS {
        let name = RECORD_KEYS[index].to_std_string_escaped();
        native_class::reader(
            &prototype,
            &name,
            NativeFunction::from_copy_closure_with_captures(
                |this, _, index: &usize, ctx| {
                    let record = record_of(this)
                        .ok_or_else(|| type_error("Illegal invocation: not a Request"))?;
                    let layout = crate::request::layout(ctx);
                    native_class::field(&record, layout.as_ref(), record_field(*index), ctx)
                },
                index,
            ),
            ctx,
        )?;
    }
    Ok(native_class::ways_in(
        ("Request", class),
        vec![
            ("recordOf", NativeFunction::from_fn_ptr(record)),
            ("newRecord", NativeFunction::from_fn_ptr(new_record_way)),
        ],
        ctx,
    ))
}
