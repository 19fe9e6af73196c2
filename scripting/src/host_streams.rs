//! `ReadableStream`s over bodies the host holds (a fetch's answer), made natively.
//!
//! `r.body` of a fetched response is an object of the Streams part's `ReadableStream`
//! class holding the host body it reads, and nothing else: the Streams part makes its
//! internal record only when a script first uses it as a stream (its brand checks ask
//! [`record_tag`]), and handed on untouched as a body (`new Response(r.body, r)`, the
//! commonest use) it never gets one. Made in JavaScript, the stream and its record
//! were ~49 000 instructions of every such hook (a fifth of a header-rewrite hook).

use crate::convert::arg;
use crate::native_class;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsValue, Trace, js_string};
use std::cell::Cell;

/// What a native host stream holds.
#[derive(Trace, Finalize, JsData)]
struct HostStream {
    /// The prelude's `HostBody` it reads.
    tag: JsValue,
    #[unsafe_ignore_trace]
    state: Cell<State>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// No record yet, not handed on.
    Untouched,
    /// Handed on as a body before it had a record: locked for good.
    HandedOn,
    /// The Streams part made its record (and keeps it).
    Recorded,
}

/// `ReadableStream.prototype` of the realm's Streams part, kept when the part loads.
#[derive(Trace, Finalize, JsData)]
struct Prototype(JsObject);

/// Keeps `ReadableStream.prototype` of the Streams part just loaded (`made`: its
/// factory's `{ api, classes }`).
pub(crate) fn streams_loaded(made: &JsValue, ctx: &mut Context) -> JsResult<()> {
    let missing = || crate::convert::type_error("the Streams part made no ReadableStream");
    let class = made
        .as_object()
        .ok_or_else(missing)?
        .get(js_string!("classes"), ctx)?
        .as_object()
        .ok_or_else(missing)?
        .get(js_string!("ReadableStream"), ctx)?
        .as_object()
        .ok_or_else(missing)?;
    let prototype = class
        .get(js_string!("prototype"), ctx)?
        .as_object()
        .ok_or_else(missing)?;
    ctx.realm().host_defined_mut().insert(Prototype(prototype));
    Ok(())
}

/// `makeHostStream(hostBody)`: a new stream over `hostBody`.
pub(crate) fn make(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let prototype = native_class::kept(ctx, |p: &Prototype| p.0.clone())
        .ok_or_else(|| crate::convert::type_error("the Streams part is not loaded"))?;
    let stream = HostStream {
        tag: arg(args, 0),
        state: Cell::new(State::Untouched),
    };
    Ok(native_class::object(prototype, stream, ctx).into())
}

/// `isHostStream(x)`: whether `x` is one of these streams.
pub(crate) fn is(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(args
        .first()
        .and_then(JsValue::as_object)
        .is_some_and(|o| o.is::<HostStream>())
        .into())
}

/// `recordHostStream(x)`, asked once by the Streams part as it makes `x`'s record:
/// the host body to read (`null` if `x` was handed on already: its record is then
/// locked), or `undefined` if `x` is not one of these streams or has its record.
pub(crate) fn record_tag(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let Some(object) = args.first().and_then(JsValue::as_object) else {
        return Ok(JsValue::undefined());
    };
    let Some(stream) = object.downcast_ref::<HostStream>() else {
        return Ok(JsValue::undefined());
    };
    let before = stream.state.replace(State::Recorded);
    Ok(match before {
        State::Untouched => stream.tag.clone(),
        State::HandedOn => JsValue::null(),
        State::Recorded => JsValue::undefined(),
    })
}

/// The host body of `value` if it is one of these streams, untouched: handing it on
/// locks it for good. `None` for anything else (a stream with a record is handed on
/// through it).
pub(crate) fn hand_on(value: &JsValue) -> Option<JsValue> {
    let object = value.as_object()?;
    let stream = object.downcast_ref::<HostStream>()?;
    if stream.state.get() != State::Untouched {
        return None;
    }
    stream.state.set(State::HandedOn);
    Some(stream.tag.clone())
}

/// `handOnHostStream(x)`: [`hand_on`] for the Streams part; `undefined` for `None`.
pub(crate) fn hand_on_js(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(args.first().and_then(hand_on).unwrap_or_default())
}
