//! The `Response` class's native shell: its state, constructor and readers in Rust (the
//! body methods it inherits stay in the prelude's `Body`, over the body record it holds).
//!
//! Built as a JS class, `new Response("text")` cost ~15 µs in boa (a derived-class
//! construction, two private fields, a record, the status and body checks); natively it
//! is one object with its state as Rust data. Everything the constructor cannot decide
//! alone (a body that is a stream, a Blob, FormData…; headers given as a record or a
//! sequence) it hands to the prelude's helpers, which the prelude gives once per context
//! through `host.responseClass(helpers)`.

use crate::convert::{arg, type_error};
use crate::native_class;
use boa_engine::object::RecordTemplate;
use boa_engine::object::builtins::JsUint8Array;
use boa_engine::{
    Context, Finalize, JsData, JsNativeError, JsObject, JsResult, JsString, JsValue,
    NativeFunction, Trace, js_string,
};
use boa_runtime::fetch::headers::JsHeaders;

/// What a `Response` object holds.
#[derive(Trace, Finalize, JsData)]
pub(crate) struct ResponseState {
    /// The body record the prelude's `Body` methods work on: `{ source, used, stream }`.
    body: JsObject,
    /// `null` until a script reads `headers` when the response was made without any:
    /// its only header is then `content_type`. A `Headers` object costs more than the
    /// rest of such a response.
    headers: Option<JsObject>,
    #[unsafe_ignore_trace]
    status: u16,
    #[unsafe_ignore_trace]
    status_text: JsString,
    #[unsafe_ignore_trace]
    url: JsString,
    #[unsafe_ignore_trace]
    redirected: bool,
    #[unsafe_ignore_trace]
    error: bool,
    #[unsafe_ignore_trace]
    content_type: Option<JsString>,
}

impl ResponseState {
    /// Status and headers for the host (without a `Headers` object: the content type
    /// alone).
    fn head(&self) -> (u16, http::HeaderMap) {
        let headers = match &self.headers {
            Some(h) => crate::headers::header_map(&h.clone().into()),
            None => None,
        };
        let headers = headers.unwrap_or_else(|| content_type_map(self.content_type.as_ref()));
        (self.status, headers)
    }
}

/// The headers of a response made without any: its content type, if it has one.
fn content_type_map(content_type: Option<&JsString>) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    if let Some(t) = content_type
        && let Ok(v) = http::HeaderValue::from_str(&crate::convert::utf8(t))
    {
        map.insert(http::header::CONTENT_TYPE, v);
    }
    map
}

/// What the constructor asks of the prelude, and the prototype it makes objects with.
#[derive(Trace, Finalize, Clone)]
struct Helpers {
    /// `extract(body) -> [source, content type or null]`: the Fetch standard's
    /// "extract a body" for everything but null, strings and streams.
    extract: JsObject,
    /// The `Headers` constructor (for `init.headers` that is not a `Headers` object).
    headers: JsObject,
    /// `Response.prototype`.
    prototype: JsObject,
}

/// Fetch §5.5: a reason phrase is HTAB, SP, visible ASCII and obs-text only.
fn valid_reason(text: &JsString) -> bool {
    text.iter()
        .all(|c| c == 0x09 || (0x20..=0x7e).contains(&c) || (0x80..=0xff).contains(&c))
}

fn null_body_status(status: u16) -> bool {
    matches!(status, 101 | 204 | 205 | 304)
}

/// The layout of body records, kept in the realm by [`response_class`].
#[derive(Trace, Finalize, JsData)]
struct BodyRecord(RecordTemplate);

/// `{ source, used: false, stream }`.
fn body_record(source: JsValue, stream: bool, ctx: &mut Context) -> JsResult<JsObject> {
    let stream = if stream {
        source.clone()
    } else {
        JsValue::null()
    };
    // One layout for every record, kept whole (see request.rs).
    let template = native_class::kept(ctx, |t: &BodyRecord| t.0.clone())
        .ok_or_else(|| type_error("the Response class is not set up"))?;
    Ok(template.create(vec![source, false.into(), stream]))
}

/// Runs `f` on the state of `this` (a TypeError if it is not a `Response`).
fn with_state<R>(this: &JsValue, f: impl FnOnce(&mut ResponseState) -> R) -> JsResult<R> {
    let object = this.as_object();
    let mut state = object
        .as_ref()
        .and_then(|o| o.downcast_mut::<ResponseState>())
        .ok_or_else(|| type_error("Illegal invocation: not a Response"))?;
    Ok(f(&mut state))
}

/// `new Response(body, init)`.
fn construct(
    new_target: &JsValue,
    args: &[JsValue],
    helpers: &Helpers,
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let target = native_class::new_target(new_target, "Response")?;
    let mut body = arg(args, 0);
    let init = arg(args, 1);
    let (mut status, mut status_text, mut headers) = (200u16, JsString::default(), None);
    if !init.is_null_or_undefined() {
        let Some(init) = init.as_object() else {
            return Err(type_error(
                "Failed to construct 'Response': The provided value is not of type 'ResponseInit'.",
            ));
        };
        let given = init.get(js_string!("status"), ctx)?;
        if !given.is_undefined() {
            // WebIDL `unsigned short`: truncated, modulo 2^16 (200.5 is 200).
            let n = given.to_number(ctx)?;
            let n = if n.is_finite() {
                n.trunc().rem_euclid(65536.0) as u16
            } else {
                0
            };
            if !(200..=599).contains(&n) {
                return Err(JsNativeError::range()
                    .with_message(format!(
                        "Response status {n} is not in the range 200 to 599"
                    ))
                    .into());
            }
            status = n;
        }
        let given = init.get(js_string!("statusText"), ctx)?;
        if !given.is_undefined() {
            status_text = given.to_string(ctx)?;
            if !valid_reason(&status_text) {
                let shown =
                    serde_json::to_string(&status_text.to_std_string_escaped()).unwrap_or_default();
                return Err(type_error(format!(
                    "Failed to construct 'Response': Invalid statusText: {shown}"
                )));
            }
        }
        let given = init.get(js_string!("headers"), ctx)?;
        if !given.is_undefined() {
            headers = Some(match crate::headers::header_map(&given) {
                Some(map) => crate::headers::headers_object(map, ctx)?,
                None => helpers.headers.construct(&[given], None, ctx)?.into(),
            });
        }
    }
    // A null body status with an empty string is no body, as in Workers (the standard
    // refuses any non-null body; scripts written for Workers rely on "" passing).
    if null_body_status(status) && body.as_string().is_some_and(|s| s.is_empty()) {
        body = JsValue::null();
    }
    let (source, content_type, stream) = if body.is_null_or_undefined() {
        (JsValue::null(), None, false)
    } else if body.is_string() {
        (body, Some(js_string!("text/plain;charset=UTF-8")), false)
    } else if let Some(source) = stream_source(&body, ctx)? {
        let stream = source
            .as_object()
            .zip(body.as_object())
            .is_some_and(|(s, b)| JsObject::equals(&s, &b));
        (source, None, stream)
    } else {
        let parts = helpers.extract.call(&JsValue::undefined(), &[body], ctx)?;
        let parts = parts
            .as_object()
            .ok_or_else(|| type_error("extract: not an array"))?;
        let source = parts.get(0, ctx)?;
        let content_type = parts.get(1, ctx)?.as_string();
        (source, content_type, false)
    };
    if !source.is_null() && null_body_status(status) {
        return Err(type_error(format!(
            "Response with null body status {status} cannot have body"
        )));
    }
    let mut own_type = None;
    if let Some(t) = content_type {
        match headers.as_ref().and_then(JsValue::as_object) {
            None => own_type = Some(t),
            Some(h) => {
                if let Some(h) = h.downcast_ref::<JsHeaders>() {
                    let map = h.as_header_map();
                    let mut map = map.borrow_mut();
                    if !map.contains_key(http::header::CONTENT_TYPE)
                        && let Ok(v) = http::HeaderValue::from_str(&crate::convert::utf8(&t))
                    {
                        map.insert(http::header::CONTENT_TYPE, v);
                    }
                }
            }
        }
    }
    let prototype = native_class::prototype_for(&target, &helpers.prototype, ctx)?;
    let state = ResponseState {
        body: body_record(source, stream, ctx)?,
        headers: headers.and_then(|h: JsValue| h.as_object()),
        status,
        status_text,
        url: JsString::default(),
        redirected: false,
        error: false,
        content_type: own_type,
    };
    Ok(native_class::object(prototype, state, ctx).into())
}

/// `make(source, isStream, status, statusText, headers|null, url, redirected, isError,
/// contentType|null)`: a response the runtime makes (a fetch's answer, a clone,
/// `Response.error()`), its parts already valid.
fn make(_: &JsValue, args: &[JsValue], helpers: &Helpers, ctx: &mut Context) -> JsResult<JsValue> {
    let text = |i: usize| arg(args, i).as_string().unwrap_or_default();
    let state = ResponseState {
        body: body_record(arg(args, 0), arg(args, 1).to_boolean(), ctx)?,
        status: arg(args, 2).as_number().unwrap_or(0.0) as u16,
        status_text: text(3),
        headers: arg(args, 4).as_object(),
        url: text(5),
        redirected: arg(args, 6).to_boolean(),
        error: arg(args, 7).to_boolean(),
        content_type: arg(args, 8).as_string(),
    };
    Ok(native_class::object(helpers.prototype.clone(), state, ctx).into())
}

/// A response the host made (a subrequest's answer), with `Response.prototype`
/// `prototype`: what the prelude's `fromHost` makes, for `fetch()`'s native path.
pub(crate) fn from_host(
    prototype: &JsObject,
    source: JsValue,
    status: u16,
    status_text: JsString,
    headers: JsObject,
    url: JsString,
    ctx: &mut Context,
) -> JsResult<JsObject> {
    let state = ResponseState {
        body: body_record(source, false, ctx)?,
        status,
        status_text,
        headers: Some(headers),
        url,
        redirected: false,
        error: false,
        content_type: None,
    };
    Ok(native_class::object(prototype.clone(), state, ctx))
}

/// `bodyOf(x)`: the body record of a `Response` or a `Request` (a request's record is
/// its body's), a TypeError for anything else. One native call for the prelude's body
/// readers, which asked `Request` and `Response` in turn.
fn body_of(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let x = arg(args, 0);
    record_of(&x)
        .or_else(|| crate::request::record_of(&x))
        .map(JsValue::from)
        .ok_or_else(|| type_error("Illegal invocation: not a Response"))
}

/// The Streams part's `bodySource(x)` (see js/streams/07-extras.js), kept in the realm
/// once the part is loaded there: before that no stream exists.
#[derive(Trace, Finalize, JsData)]
struct StreamBodySource(JsObject);

/// Keeps the `bodySource` of the Streams part just loaded (`made`: its factory's
/// `{ api, classes }`) for the constructor.
pub(crate) fn streams_loaded(made: &JsValue, ctx: &mut Context) -> JsResult<()> {
    let api = made
        .as_object()
        .ok_or_else(|| type_error("the Streams part made no API"))?
        .get(js_string!("api"), ctx)?;
    let body_source = api
        .as_object()
        .ok_or_else(|| type_error("the Streams part made no API"))?
        .get(js_string!("bodySource"), ctx)?
        .as_object()
        .ok_or_else(|| type_error("the Streams part has no bodySource"))?;
    ctx.realm()
        .host_defined_mut()
        .insert(StreamBodySource(body_source));
    Ok(())
}

/// What `body` becomes as a response's body if it is a `ReadableStream`: the host body
/// of an untouched host stream (`new Response(r.body, r)`; the stream is then locked),
/// or the stream itself. `None` for anything else. One call into the Streams part
/// instead of the prelude's `extract` and the array it answers with.
fn stream_source(body: &JsValue, ctx: &mut Context) -> JsResult<Option<JsValue>> {
    if let Some(host_body) = crate::host_streams::hand_on(body) {
        return Ok(Some(host_body));
    }
    let Some(body_source) = native_class::kept(ctx, |f: &StreamBodySource| f.0.clone()) else {
        return Ok(None);
    };
    let source = body_source.call(&JsValue::undefined(), std::slice::from_ref(body), ctx)?;
    Ok((!source.is_undefined()).then_some(source))
}

/// `cloneOf(response, source, isStream)`: a copy of `response` (headers copied) with
/// the body `source`.
fn clone_of(
    _: &JsValue,
    args: &[JsValue],
    helpers: &Helpers,
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let (headers, status, status_text, url, redirected, error, content_type) =
        with_state(&arg(args, 0), |s| {
            (
                s.headers.clone(),
                s.status,
                s.status_text.clone(),
                s.url.clone(),
                s.redirected,
                s.error,
                s.content_type.clone(),
            )
        })?;
    let headers = match headers {
        Some(h) => match crate::headers::header_map(&h.into()) {
            Some(map) => crate::headers::headers_object(map, ctx)?.as_object(),
            None => None,
        },
        None => None,
    };
    let state = ResponseState {
        body: body_record(arg(args, 1), arg(args, 2).to_boolean(), ctx)?,
        headers,
        status,
        status_text,
        url,
        redirected,
        error,
        content_type,
    };
    Ok(native_class::object(helpers.prototype.clone(), state, ctx).into())
}

type Getter = fn(&ResponseState) -> JsValue;

/// The readers on `Response.prototype`.
const GETTERS: [(&str, Getter); 6] = [
    ("status", |s| s.status.into()),
    ("ok", |s| (200..=299).contains(&s.status).into()),
    ("statusText", |s| s.status_text.clone().into()),
    ("url", |s| s.url.clone().into()),
    ("redirected", |s| s.redirected.into()),
    ("type", |s| {
        if s.error {
            js_string!("error")
        } else {
            js_string!("default")
        }
        .into()
    }),
];

/// `headers`: made on first read when the response was made without any.
fn headers(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let content_type = match with_state(this, |s| s.headers.clone().ok_or(s.content_type.clone()))?
    {
        Ok(h) => return Ok(h.into()),
        Err(t) => t,
    };
    let h = crate::headers::headers_object(content_type_map(content_type.as_ref()), ctx)?;
    with_state(this, |s| s.headers = h.as_object())?;
    Ok(h)
}

/// `host.responseClass({ extract, Headers })` → `{ Response, make, bodyOf, cloneOf }`: the class (its prototype has the readers; the prelude adds the rest)
/// and the prelude's ways into it.
pub(crate) fn response_class(
    _: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let extract = native_class::helper(args, "extract", ctx)?;
    let headers_ctor = native_class::helper(args, "Headers", ctx)?;
    let prototype = JsObject::with_object_proto(ctx.intrinsics());
    let record = RecordTemplate::new(&[SOURCE.1, USED.1, STREAM.1], ctx);
    ctx.realm().host_defined_mut().insert(BodyRecord(record));
    let helpers = Helpers {
        extract,
        headers: headers_ctor,
        prototype: prototype.clone(),
    };
    let class = native_class::class(
        "Response",
        0,
        NativeFunction::from_copy_closure_with_captures(construct, helpers.clone()),
        &prototype,
        ctx,
    )?;
    for (i, (name, _)) in GETTERS.iter().enumerate() {
        native_class::reader(
            &prototype,
            name,
            NativeFunction::from_copy_closure_with_captures(
                |this, _, i: &usize, _| with_state(this, |s| (GETTERS[*i].1)(s)),
                i,
            ),
            ctx,
        )?;
    }
    native_class::reader(
        &prototype,
        "headers",
        NativeFunction::from_fn_ptr(headers),
        ctx,
    )?;
    Ok(native_class::ways_in(
        ("Response", class),
        vec![
            (
                "make",
                NativeFunction::from_copy_closure_with_captures(make, helpers.clone()),
            ),
            (
                "cloneOf",
                NativeFunction::from_copy_closure_with_captures(clone_of, helpers),
            ),
            ("bodyOf", NativeFunction::from_fn_ptr(body_of)),
        ],
        ctx,
    ))
}

/// Whether `value` is a `Response` (of this class or a subclass).
pub(crate) fn is_response(value: &JsValue) -> bool {
    value.as_object().is_some_and(|o| o.is::<ResponseState>())
}

/// A body record's first three fields, as both layouts (a response's and a request's)
/// begin: `source`, `used`, `stream`.
const SOURCE: (usize, JsString) = (0, js_string!("source"));
const USED: (usize, JsString) = (1, js_string!("used"));
const STREAM: (usize, JsString) = (2, js_string!("stream"));

/// The layout of a response's body record (`{ source, used, stream }`), once the class
/// is set up.
pub(crate) fn body_layout(ctx: &Context) -> Option<RecordTemplate> {
    native_class::kept(ctx, |t: &BodyRecord| t.0.clone())
}

/// The source of body record `record` (a `Request`'s or a `Response`'s, made with
/// `layout`) if it can still be taken as it is: no stream made over it, not used.
/// `None` otherwise (the prelude's `Body.take` decides those, or throws).
pub(crate) fn untouched_source(
    record: &JsObject,
    layout: Option<&RecordTemplate>,
    ctx: &mut Context,
) -> JsResult<Option<JsValue>> {
    if !native_class::field(record, layout, STREAM, ctx)?.is_null()
        || native_class::field(record, layout, USED, ctx)?.to_boolean()
    {
        return Ok(None);
    }
    native_class::field(record, layout, SOURCE, ctx).map(Some)
}

/// Marks `source`, taken from body record `record` (made with `layout`), as gone: the
/// record is used (if there was a body) and holds no source, as the prelude's
/// `Body.take` leaves it.
pub(crate) fn mark_taken(
    record: &JsObject,
    layout: Option<&RecordTemplate>,
    source: &JsValue,
    ctx: &mut Context,
) -> JsResult<()> {
    if !source.is_null() {
        native_class::set_field(record, layout, USED, true.into(), ctx)?;
    }
    native_class::set_field(record, layout, SOURCE, JsValue::null(), ctx)
}

/// Whether `value` is a `Uint8Array` (bytes the host copies as they are).
pub(crate) fn is_bytes(value: &JsValue) -> bool {
    value
        .as_object()
        .is_some_and(|o| JsUint8Array::from_object(o.clone()).is_ok())
}

/// Takes the body of `value` (a `Response`) out for the host when it is one the host
/// reads without the prelude: none, a string or a `Uint8Array`, not yet used. `None`
/// for every other body (the prelude's `__outpostExport` takes those).
pub(crate) fn take_plain_body(value: &JsValue, ctx: &mut Context) -> JsResult<Option<JsValue>> {
    let Some(record) = record_of(value) else {
        return Ok(None);
    };
    let layout = body_layout(ctx);
    let Some(source) = untouched_source(&record, layout.as_ref(), ctx)? else {
        return Ok(None);
    };
    if !(source.is_null() || source.is_string() || is_bytes(&source)) {
        return Ok(None);
    }
    mark_taken(&record, layout.as_ref(), &source, ctx)?;
    Ok(Some(source))
}

/// The body record (`source`, `used`, `stream`) of `value` if it is a `Response`.
pub(crate) fn record_of(value: &JsValue) -> Option<JsObject> {
    let object = value.as_object()?;
    let state = object.downcast_ref::<ResponseState>()?;
    Some(state.body.clone())
}

/// Status and headers of `value` if it is a `Response` (see [`ResponseState::head`]).
pub(crate) fn head(value: &JsValue) -> Option<(u16, http::HeaderMap)> {
    let object = value.as_object()?;
    let state = object.downcast_ref::<ResponseState>()?;
    Some(state.head())
}
