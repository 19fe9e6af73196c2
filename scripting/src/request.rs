//! The `Request` class's native shell: the object and its readers in Rust over the
//! record the prelude keeps a request's state in (the Fetch standard's checks of
//! `new Request(input, init)` stay in the prelude, which makes that record).
//!
//! Every hooked request gets a `Request`; built as a JS class (a derived-class
//! construction and two private fields) that cost ~7 µs in boa before the handler ran.

use crate::convert::{arg, type_error};
use crate::native_class;
use boa_engine::{
    Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace,
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
    Ok(JsObject::from_proto_and_data(Some(prototype), RequestState { record }).into())
}

/// `make(record)`: a request the runtime makes (the one a handler receives), its
/// record already valid.
fn make(_: &JsValue, args: &[JsValue], helpers: &Helpers, _: &mut Context) -> JsResult<JsValue> {
    let record = arg(args, 0)
        .as_object()
        .ok_or_else(|| type_error("make: expected a record"))?;
    Ok(
        JsObject::from_proto_and_data(Some(helpers.prototype.clone()), RequestState { record })
            .into(),
    )
}

/// `recordOf(x)`: the record of a `Request`, or undefined.
fn record(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(record_of(&arg(args, 0)).map_or_else(JsValue::undefined, JsValue::from))
}

/// The readers on `Request.prototype`: fields of the record.
const FIELDS: [&str; 5] = ["url", "method", "headers", "redirect", "cf"];

/// `host.requestClass({ init })` → `{ Request, make, recordOf }`: the class (its
/// prototype has the readers; the prelude adds the rest) and the prelude's ways into it.
pub(crate) fn request_class(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let init = native_class::helper(args, "init", ctx)?;
    let prototype = JsObject::with_object_proto(ctx.intrinsics());
    let helpers = Helpers {
        init,
        prototype: prototype.clone(),
    };
    let class = native_class::class(
        "Request",
        1,
        NativeFunction::from_copy_closure_with_captures(construct, helpers.clone()),
        &prototype,
        ctx,
    )?;
    for (i, name) in FIELDS.iter().enumerate() {
        native_class::reader(
            &prototype,
            name,
            NativeFunction::from_copy_closure_with_captures(
                |this, _, i: &usize, ctx| {
                    let record = record_of(this)
                        .ok_or_else(|| type_error("Illegal invocation: not a Request"))?;
                    record.get(JsString::from(FIELDS[*i]), ctx)
                },
                i,
            ),
            ctx,
        )?;
    }
    Ok(native_class::ways_in(
        ("Request", class),
        vec![
            (
                "make",
                NativeFunction::from_copy_closure_with_captures(make, helpers),
            ),
            ("recordOf", NativeFunction::from_fn_ptr(record)),
        ],
        ctx,
    ))
}
