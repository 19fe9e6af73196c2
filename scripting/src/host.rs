//! The native side of the prelude: the host functions scripts reach through `fetch`,
//! body reads, timers and KV (crypto's are in `crypto.rs`, value conversions in
//! `convert.rs`), and the table `install` puts them in.
//!
//! Host functions run inside the VM and must not block. Asynchronous ones only record
//! a [`HostCall`] in this thread's outbox; the JS thread's event loop turns it into
//! work and later settles the call's promise. Calls are attributed to the request
//! whose JavaScript is running ([`set_current`]).

use crate::convert::{arg, bytes_of, call_arg, string_arg, type_error};
use crate::crypto::{aes_gcm, digest, hkdf, hmac_sign, hmac_verify, pbkdf2, random, uuid};
use crate::exchange::{Body, BodyStream, FetchRequest};
use crate::tokens::Op;
use boa_engine::object::builtins::{JsArray, JsArrayBuffer};
use boa_engine::object::{FunctionObjectBuilder, ObjectInitializer};
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};
use bytes::Bytes;
use foldhash::{HashMap, HashMapExt};
use std::cell::{Cell, RefCell};

/// Work a script asked for, to be done by the JS thread's event loop.
pub(crate) enum HostCall {
    /// `fetch()`.
    Fetch {
        call: u32,
        request: Box<FetchRequest>,
    },
    /// Reading a host-held body to bytes.
    ReadBody { call: u32, body: BodyStream },
    /// Reading the next chunk of host body `id` (it goes back under that id).
    ReadChunk {
        call: u32,
        id: u64,
        body: BodyStream,
    },
    /// A body the script streams is open: the request stays in flight until it ends.
    WatchSink {
        sink: u64,
        watch: crate::sink::Watch,
    },
    /// Writing a chunk of a body the script streams.
    SinkWrite {
        call: u32,
        to: tokio::sync::mpsc::Sender<crate::error::Result<Bytes>>,
        bytes: Bytes,
    },
    /// `setTimeout`.
    Timer { call: u32, ms: u64 },
    /// `clearTimeout`.
    CancelTimer { call: u32 },
    /// `passThroughOnException()`.
    PassThrough,
    /// A KV operation.
    Kv { call: u32, op: crate::kv::KvOp },
    /// The handler promise of `request` settled.
    Settled { request: u64 },
    /// `HTMLRewriter.transform()` started rewriter `rewriter`, whose handler calls
    /// arrive on `calls`.
    Rewrite {
        rewriter: u32,
        calls: tokio::sync::mpsc::UnboundedReceiver<crate::rewriter_thread::HandlerCall>,
        handlers: crate::rewriter_handlers::Handlers,
    },
    /// `HTMLRewriter.transform()` with only synchronous handlers: the JS thread parses
    /// `source` itself, calling them directly, and sends the page on through `out`
    /// (see `rewriter::output`).
    RewriteHere(RewriteHere),
}

/// A page the JS thread rewrites itself: rewriter `rewriter` of the script, the page,
/// what the handlers want and the handlers, the page's content coding, and where the
/// result goes.
pub(crate) struct RewriteHere {
    pub(crate) rewriter: u32,
    pub(crate) source: Body,
    pub(crate) plan: crate::rewriter::Plan,
    pub(crate) handlers: crate::rewriter_handlers::Handlers,
    pub(crate) coding: Option<crate::codec::Coding>,
    pub(crate) out: tokio::sync::mpsc::Sender<crate::error::Result<Bytes>>,
}

/// Where a rewriter handler's edits go: the parser thread waiting for them.
type Reply = std::sync::mpsc::SyncSender<std::result::Result<Vec<Op>, String>>;

thread_local! {
    static OUTBOX: RefCell<Vec<(u64, HostCall)>> = const { RefCell::new(Vec::new()) };
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    static CURRENT_ID: RefCell<Option<std::sync::Arc<str>>> = const { RefCell::new(None) };
    static NEXT_BODY: Cell<u64> = const { Cell::new(1) };
    static BODIES: RefCell<HashMap<u64, (u64, BodyStream)>> = RefCell::new(HashMap::new());
    static NEXT_REPLY: Cell<u64> = const { Cell::new(1) };
    static STREAMS_USED: Cell<bool> = const { Cell::new(false) };
    static REPLIES: RefCell<HashMap<u64, (u64, Reply)>> = RefCell::new(HashMap::new());
}

/// Keeps the reply channel of a rewriter handler call made for `request` until the
/// handler (maybe `async`) has finished: see [`reply`].
pub(crate) fn store_reply(request: u64, reply: Reply) -> u64 {
    let token = NEXT_REPLY.get();
    NEXT_REPLY.set(token + 1);
    REPLIES.with_borrow_mut(|r| r.insert(token, (request, reply)));
    token
}

/// Answers a rewriter handler call: its edits, or why it failed.
pub(crate) fn reply(token: u64, answer: std::result::Result<Vec<Op>, String>) {
    if let Some((_, reply)) = REPLIES.with_borrow_mut(|r| r.remove(&token)) {
        let _ = reply.send(answer);
    }
}

/// Marks `request` (known in logs as `id`) as the one whose JavaScript runs next on
/// this thread.
pub(crate) fn set_current(request: u64, id: &std::sync::Arc<str>) {
    CURRENT.set(request);
    CURRENT_ID.with_borrow_mut(|c| *c = Some(id.clone()));
}

/// The log id of the request whose JavaScript is running.
pub(crate) fn current_id() -> std::sync::Arc<str> {
    CURRENT_ID
        .with_borrow(|c| c.clone())
        .unwrap_or_else(|| std::sync::Arc::from("-"))
}

/// The host calls made since the last drain, each with the request that made it.
pub(crate) fn drain_outbox() -> Vec<(u64, HostCall)> {
    OUTBOX.with_borrow_mut(std::mem::take)
}

fn push(call: HostCall) {
    OUTBOX.with_borrow_mut(|o| o.push((CURRENT.get(), call)));
}

/// Keeps `body` on this thread for `request`; scripts see the returned id.
pub(crate) fn store_body(request: u64, body: BodyStream) -> u64 {
    let id = NEXT_BODY.get();
    NEXT_BODY.set(id + 1);
    BODIES.with_borrow_mut(|b| b.insert(id, (request, body)));
    id
}

/// Takes a stored body out (it is then gone from JS's reach).
pub(crate) fn take_body(id: u64) -> Option<BodyStream> {
    BODIES.with_borrow_mut(|b| b.remove(&id)).map(|(_, s)| s)
}

/// Puts a body back under its id after a chunk was read from it.
pub(crate) fn restore_body(request: u64, id: u64, body: BodyStream) {
    BODIES.with_borrow_mut(|b| b.insert(id, (request, body)));
}

/// Drops the bodies a finished request left unread, and ends (with an error) the
/// ones it was writing.
pub(crate) fn drop_bodies(request: u64) {
    BODIES.with_borrow_mut(|b| b.retain(|_, (r, _)| *r != request));
    crate::sink::drop_for(request);
    crate::compression::drop_for(request);
    // A rewrite waiting on one of this request's handlers stops (the parser thread
    // sees the channel close).
    REPLIES.with_borrow_mut(|m| m.retain(|_, (r, _)| *r != request));
}

/// `fetch(call, url, method, headers, bytes, bodyId)`.
fn fetch(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let call = call_arg(args, 0, ctx)?;
    let url = string_arg(args, 1, ctx)?;
    let method = string_arg(args, 2, ctx)?;
    let headers = crate::headers::header_map(&arg(args, 3)).unwrap_or_default();
    let bytes = arg(args, 4);
    let body_id = arg(args, 5);
    let body = if !bytes.is_null_or_undefined() {
        Some(Body::Bytes(Bytes::from(bytes_of(&bytes, ctx)?)))
    } else if !body_id.is_null_or_undefined() {
        let id = body_id.to_length(ctx)?;
        Some(Body::Stream(
            take_body(id).ok_or_else(|| type_error("Body has already been used"))?,
        ))
    } else {
        None
    };
    let op = arg(args, 6);
    let cache = if op.is_null_or_undefined() {
        None
    } else {
        let part = |i: u32, ctx: &mut Context| -> JsResult<JsValue> {
            op.as_object()
                .ok_or_else(|| type_error("cache operation: expected an array"))?
                .get(i, ctx)
        };
        let kind = part(0, ctx)?.to_string(ctx)?.to_std_string_escaped();
        let cache = part(1, ctx)?.to_string(ctx)?.to_std_string_escaped();
        Some(match kind.as_str() {
            "match" => crate::exchange::CacheOp::Match { cache },
            "put" => crate::exchange::CacheOp::Put {
                cache,
                status: u16::try_from(part(2, ctx)?.to_length(ctx)?)
                    .map_err(|_| type_error("cache.put: bad status"))?,
            },
            "delete" => crate::exchange::CacheOp::Delete { cache },
            other => return Err(type_error(format!("unknown cache operation {other}"))),
        })
    };
    // Workers' `cf` cache and image options, as JSON (only when the script gave any).
    let cf_json = arg(args, 7);
    let cf = if cf_json.is_null_or_undefined() {
        None
    } else {
        let text = cf_json.to_string(ctx)?.to_std_string_escaped();
        let cf: crate::exchange::FetchCf = serde_json::from_str(&text)
            .map_err(|e| type_error(format!("fetch: bad cf options: {e}")))?;
        (cf.caches() || cf.image.is_some()).then_some(cf)
    };
    push_fetch(call, &url, &method, headers, body, cache, cf)?;
    Ok(JsValue::undefined())
}

/// Starts subrequest `call` (after checking its URL and method, as `fetch()` does).
pub(crate) fn push_fetch(
    call: u32,
    url: &str,
    method: &str,
    headers: http::HeaderMap,
    body: Option<Body>,
    cache: Option<crate::exchange::CacheOp>,
    cf: Option<crate::exchange::FetchCf>,
) -> JsResult<()> {
    let url =
        url::Url::parse(url).map_err(|e| type_error(format!("fetch: bad URL {url:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(type_error(format!(
            "fetch: only http and https URLs can be fetched, not {}",
            url.scheme()
        )));
    }
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| type_error(format!("fetch: bad method {method:?}")))?;
    push(HostCall::Fetch {
        call,
        request: Box::new(FetchRequest {
            method,
            url,
            headers,
            body,
            cache,
            cf,
        }),
    });
    Ok(())
}

/// `readBody(call, bodyId)`.
fn read_body(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let call = call_arg(args, 0, ctx)?;
    let id = arg(args, 1).to_length(ctx)?;
    let body = take_body(id).ok_or_else(|| type_error("Body has already been used"))?;
    push(HostCall::ReadBody { call, body });
    Ok(JsValue::undefined())
}

/// `readChunk(call, bodyId)`: settles with the next chunk, or `null` at the end.
fn read_chunk(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let call = call_arg(args, 0, ctx)?;
    let id = arg(args, 1).to_length(ctx)?;
    let body = take_body(id).ok_or_else(|| type_error("Body has already been used"))?;
    push(HostCall::ReadChunk { call, id, body });
    Ok(JsValue::undefined())
}

/// `dropBody(bodyId)`: the script cancelled its read of a host body.
fn drop_body(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = arg(args, 0).to_length(ctx)?;
    drop(take_body(id));
    Ok(JsValue::undefined())
}

/// `sink() -> [sinkId, bodyId]`: a body the script will write.
fn sink(_: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let request = CURRENT.get();
    let (sink, body, watch) = crate::sink::open(request);
    let body = store_body(request, body);
    push(HostCall::WatchSink { sink, watch });
    Ok(JsArray::from_iter(
        [JsValue::from(sink as f64), JsValue::from(body as f64)],
        ctx,
    )
    .into())
}

/// `sinkWrite(call, sinkId, bytes)`: settles once the chunk is in the channel.
fn sink_write(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let call = call_arg(args, 0, ctx)?;
    let id = arg(args, 1).to_length(ctx)?;
    let bytes = Bytes::from(bytes_of(&arg(args, 2), ctx)?);
    let to =
        crate::sink::writer(id).ok_or_else(|| type_error("the body is no longer being written"))?;
    push(HostCall::SinkWrite { call, to, bytes });
    Ok(JsValue::undefined())
}

/// `sinkClose(sinkId)`.
fn sink_close(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    crate::sink::close(arg(args, 0).to_length(ctx)?);
    Ok(JsValue::undefined())
}

/// `sinkError(sinkId, message)`.
fn sink_error(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = arg(args, 0).to_length(ctx)?;
    let message = string_arg(args, 1, ctx)?;
    crate::sink::fail(id, message);
    Ok(JsValue::undefined())
}

/// `transfer(buffer) -> ArrayBuffer`: moves the bytes to a new buffer and detaches
/// the old one (the Streams standard's TransferArrayBuffer; boa builds
/// `ArrayBuffer.prototype.transfer` only with its experimental features).
fn transfer(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let buffer = array_buffer_arg(args, 0).ok_or_else(|| type_error("expected an ArrayBuffer"))?;
    let data = buffer.detach(&JsValue::undefined())?;
    Ok(JsArrayBuffer::from_byte_block(data, ctx)?.into())
}

/// `codecOpen(format, compress) -> id` (CompressionStream / DecompressionStream).
fn codec_open(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let format = string_arg(args, 0, ctx)?;
    let compress = arg(args, 1).to_boolean();
    Ok((crate::compression::open(CURRENT.get(), &format, compress)? as f64).into())
}

/// `codecPush(id, bytes, last) -> Uint8Array`.
fn codec_push(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = arg(args, 0).to_length(ctx)?;
    let last = arg(args, 2).to_boolean();
    let data = if last {
        Vec::new()
    } else {
        bytes_of(&arg(args, 1), ctx)?
    };
    crate::compression::push(id, &data, last, ctx)
}

/// `isDetached(buffer) -> boolean`.
fn is_detached(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let detached = array_buffer_arg(args, 0).is_some_and(|b| b.data().is_none());
    Ok(detached.into())
}

fn array_buffer_arg(args: &[JsValue], i: usize) -> Option<JsArrayBuffer> {
    arg(args, i)
        .as_object()
        .and_then(|o| JsArrayBuffer::from_object(o.clone()).ok())
}

/// `tee(bodyId) -> [id, id]`.
fn tee(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = arg(args, 0).to_length(ctx)?;
    let body = take_body(id).ok_or_else(|| type_error("Body has already been used"))?;
    let (a, b) = body.tee();
    let request = CURRENT.get();
    let ids = [store_body(request, a), store_body(request, b)];
    Ok(boa_engine::object::builtins::JsArray::from_iter(
        ids.into_iter().map(|i| JsValue::from(i as f64)),
        ctx,
    )
    .into())
}

/// `timer(call, ms)`.
fn timer(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let call = call_arg(args, 0, ctx)?;
    let ms = arg(args, 1).to_number(ctx)?;
    let ms = if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    };
    push(HostCall::Timer { call, ms });
    Ok(JsValue::undefined())
}

/// `cancelTimer(call)`.
fn cancel_timer(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let call = call_arg(args, 0, ctx)?;
    push(HostCall::CancelTimer { call });
    Ok(JsValue::undefined())
}

/// Tells the worker when request `request`'s handler promise settles: it may be
/// settled by another request's work (a promise the module shares between requests),
/// so the worker cannot learn it from the request's own events.
pub(crate) fn tell_when_settled(
    promise: &boa_engine::object::builtins::JsPromise,
    request: u64,
    ctx: &mut Context,
) {
    let done = FunctionObjectBuilder::new(
        ctx.realm(),
        NativeFunction::from_copy_closure(move |_, _, _| {
            push(HostCall::Settled { request });
            Ok(JsValue::undefined())
        }),
    )
    .build();
    // (A reaction, not `then`: no derived promise, no species lookup.)
    promise.when_settled(Some(done.clone()), Some(done), ctx);
}

/// `passThrough()`.
fn pass_through(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    push(HostCall::PassThrough);
    Ok(JsValue::undefined())
}

/// `kv(call, namespace, op, key, value, extra)`.
fn kv(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let call = call_arg(args, 0, ctx)?;
    let namespace = string_arg(args, 1, ctx)?;
    let op = string_arg(args, 2, ctx)?;
    let key = string_arg(args, 3, ctx)?;
    let op = match op.as_str() {
        "get" => crate::kv::KvOp::Get { namespace, key },
        "put" => {
            let value = bytes_of(&arg(args, 4), ctx)?;
            let extra = arg(args, 5);
            let expires = if extra.is_null_or_undefined() {
                None
            } else {
                Some(extra.to_number(ctx)?)
            };
            crate::kv::KvOp::Put {
                namespace,
                key,
                value,
                expires,
            }
        }
        "delete" => crate::kv::KvOp::Delete { namespace, key },
        "list" => {
            let cursor = string_arg(args, 4, ctx)?;
            let limit = arg(args, 5).to_length(ctx)? as usize;
            crate::kv::KvOp::List {
                namespace,
                prefix: key,
                cursor,
                limit,
            }
        }
        other => return Err(type_error(format!("unknown KV operation {other}"))),
    };
    push(HostCall::Kv { call, op });
    Ok(JsValue::undefined())
}

/// `checkSelector(selector)`: throws a TypeError for a selector lol_html cannot use.
fn check_selector(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let s = string_arg(args, 0, ctx)?;
    crate::rewriter::check_selector(&s).map_err(type_error)?;
    Ok(JsValue::undefined())
}

/// `rewrite(rewriter, bodyId, bytes, plan, coding, here, handlers) -> bodyId`: starts an
/// `HTMLRewriter` transform of a host body or of bytes (decoded first if `coding` names
/// a content coding) with `handlers` (`[[elementHandlers…], [documentHandlers…]]`);
/// returns the rewritten body. With `here` (no handler is `async`) the JS thread
/// parses the page itself; otherwise a parser thread does.
/// `plan` is `[[[selector, element, comments, text]…], [[doctype, comments, text, end]…]]`.
fn rewrite(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let rewriter = call_arg(args, 0, ctx)?;
    let body_id = arg(args, 1);
    let source = if body_id.is_null_or_undefined() {
        Body::Bytes(Bytes::from(bytes_of(&arg(args, 2), ctx)?))
    } else {
        let id = body_id.to_length(ctx)?;
        Body::Stream(take_body(id).ok_or_else(|| type_error("Body has already been used"))?)
    };
    let plan_value = arg(args, 3);
    let plan_obj = plan_value
        .as_object()
        .ok_or_else(|| type_error("bad rewriter plan"))?;
    let list = |v: JsValue, ctx: &mut Context| crate::convert::elements(&v, "rewriter plan", ctx);
    let mut plan = crate::rewriter::Plan::default();
    for entry in list(plan_obj.get(0, ctx)?, ctx)? {
        let e = list(entry, ctx)?;
        let selector = e
            .first()
            .cloned()
            .unwrap_or_default()
            .to_string(ctx)?
            .to_std_string_escaped();
        let flag = |i: usize| e.get(i).is_some_and(JsValue::to_boolean);
        plan.selectors.push((selector, [flag(1), flag(2), flag(3)]));
    }
    for entry in list(plan_obj.get(1, ctx)?, ctx)? {
        let e = list(entry, ctx)?;
        let flag = |i: usize| e.get(i).is_some_and(JsValue::to_boolean);
        plan.documents.push([flag(0), flag(1), flag(2), flag(3)]);
    }
    let coding = arg(args, 4);
    let coding = if coding.is_null_or_undefined() {
        None
    } else {
        let token = coding.to_string(ctx)?.to_std_string_escaped();
        crate::codec::Coding::from_content_encoding(Some(&token)).flatten()
    };
    let handlers = crate::rewriter_handlers::Handlers::from_js(&arg(args, 6), ctx)?;
    if arg(args, 5).to_boolean() {
        crate::rewriter::check_plan(&plan).map_err(|e| type_error(e.to_string()))?;
        let (out, body) = crate::rewriter::output();
        let id = store_body(CURRENT.get(), body);
        push(HostCall::RewriteHere(RewriteHere {
            rewriter,
            source,
            plan,
            handlers,
            coding,
            out,
        }));
        return Ok(JsValue::from(id as f64));
    }
    let (calls_tx, calls) = tokio::sync::mpsc::unbounded_channel();
    let out = crate::rewriter_thread::start(source, coding, plan, calls_tx)
        .map_err(|e| type_error(e.to_string()))?;
    let id = store_body(CURRENT.get(), out);
    push(HostCall::Rewrite {
        rewriter,
        calls,
        handlers,
    });
    Ok(JsValue::from(id as f64))
}

/// `loadStreams(intrinsics)`: compiles the Streams standard into this context and
/// calls its factory with `intrinsics` (once, from `js/streams-loader.js`). The
/// runtime's work, not the script's: not charged to the request's CPU limit.
fn load_streams(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    STREAMS_USED.set(true);
    let made = run_part("streams", args.first().cloned().unwrap_or_default(), ctx)?;
    crate::response::streams_loaded(&made, ctx)?;
    crate::host_streams::streams_loaded(&made, ctx)?;
    Ok(made)
}

/// `loadPart(name, arg)`: compiles one of the runtime's lazily compiled parts (Web
/// Crypto's key operations, FormData's multipart codecs: see `sources`) into this
/// context, or runs the thread's compiled copy of it, and returns what its factory
/// makes of `arg` (once, from the code that asked). Not charged to the request's CPU
/// limit, as for Streams.
fn load_part(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = string_arg(args, 0, ctx)?;
    run_part(&name, args.get(1).cloned().unwrap_or_default(), ctx)
}

/// Runs the lazily compiled part `name` in `ctx` and calls its factory with `arg`,
/// uncharged (see `sources::run`). The call is part of the loading: a factory sets up
/// a part's classes and tables, which took most of a debug build's first
/// `HTMLRewriter` request when it was charged (past a 50 ms limit on a loaded machine).
fn run_part(name: &str, arg: JsValue, ctx: &mut Context) -> JsResult<JsValue> {
    let source = crate::sources::part(name)
        .ok_or_else(|| type_error(format!("no runtime part {name:?}")))?;
    crate::clock::uncharged(|| {
        let factory = crate::sources::run(source, ctx)?;
        let factory = factory
            .as_callable()
            .ok_or_else(|| type_error(format!("runtime part {name:?} is not a function")))?;
        factory.call(&JsValue::undefined(), &[arg], ctx)
    })
}

/// Whether a script on this thread has used streams (then the spare runtimes the thread
/// makes ahead come with them compiled).
pub(crate) fn streams_used() -> bool {
    STREAMS_USED.get()
}

/// Marks this thread's scripts as users of streams before any ran here: a thread
/// replacing one whose scripts used them prepares its spare runtime with them.
pub(crate) fn expect_streams() {
    STREAMS_USED.set(true);
}

/// Defines `__outpostHost` (the prelude takes it and deletes it).
pub(crate) fn install(ctx: &mut Context) -> JsResult<()> {
    type Native = fn(&JsValue, &[JsValue], &mut Context) -> JsResult<JsValue>;
    let functions: [(&str, Native, usize); 59] = [
        ("ioTime", crate::clock::io_time, 0),
        ("loadStreams", load_streams, 1),
        ("makeHostStream", crate::host_streams::make, 1),
        ("isHostStream", crate::host_streams::is, 1),
        ("recordHostStream", crate::host_streams::record_tag, 1),
        ("handOnHostStream", crate::host_streams::hand_on_js, 1),
        ("loadPart", load_part, 2),
        ("headerGet", crate::headers::get, 2),
        ("headerList", crate::headers::list, 1),
        ("headerAppend", crate::headers::append, 3),
        ("headerSet", crate::headers::set, 3),
        ("headerDelete", crate::headers::delete, 2),
        ("checkSelector", check_selector, 1),
        ("rewrite", rewrite, 7),
        ("fetch", fetch, 7),
        ("readBody", read_body, 2),
        ("readChunk", read_chunk, 2),
        ("transfer", transfer, 1),
        ("isDetached", is_detached, 1),
        ("codecOpen", codec_open, 2),
        ("codecPush", codec_push, 3),
        ("dropBody", drop_body, 1),
        ("sink", sink, 0),
        ("sinkWrite", sink_write, 3),
        ("sinkClose", sink_close, 1),
        ("sinkError", sink_error, 2),
        ("tee", tee, 1),
        ("timer", timer, 2),
        ("cancelTimer", cancel_timer, 1),
        ("passThrough", pass_through, 0),
        ("random", random, 1),
        ("uuid", uuid, 0),
        ("digest", digest, 2),
        ("aesGcm", aes_gcm, 5),
        ("pbkdf2", pbkdf2, 5),
        ("hkdf", hkdf, 5),
        ("privateKey", crate::private_keys::private_key, 3),
        ("generateKeyPair", crate::private_keys::generate_key_pair, 1),
        ("signWith", crate::private_keys::sign, 4),
        ("base64url", crate::crypto::base64url, 1),
        ("fromBase64url", crate::crypto::from_base64url, 1),
        ("exportPrivate", crate::key_export::export_private, 3),
        ("exportRsaPublic", crate::key_export::export_rsa_public, 2),
        ("generateRsa", crate::key_export::generate_rsa, 2),
        ("hmacSign", hmac_sign, 3),
        ("hmacVerify", hmac_verify, 4),
        ("publicKey", crate::public_keys::public_key, 4),
        ("verifySignature", crate::public_keys::verify_signature, 4),
        ("kv", kv, 6),
        ("aesCbc", crate::ciphers::aes_cbc, 4),
        ("aesCtr", crate::ciphers::aes_ctr, 4),
        ("aesKw", crate::ciphers::aes_kw, 3),
        ("ecdh", crate::ciphers::ecdh, 3),
        ("formDecode", crate::urlencoded::decode, 1),
        ("formEncode", crate::urlencoded::encode, 1),
        ("urlPattern", crate::url_pattern::compile, 3),
        ("urlPatternExec", crate::url_pattern::exec, 3),
        ("requestClass", crate::request::request_class, 1),
        ("responseClass", crate::response::response_class, 1),
    ];
    let mut built: Vec<(JsString, JsObject)> = Vec::new();
    for (name, f, len) in functions {
        let name = JsString::from(name);
        let func = FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(f))
            .name(name.clone())
            .length(len)
            .build();
        built.push((name, func.into()));
    }
    let mut init = ObjectInitializer::new(ctx);
    for (name, func) in built {
        init.property(name, func, boa_engine::property::Attribute::all());
    }
    let host = init.build();
    let global = ctx.global_object();
    global.set(js_string!("__outpostHost"), host, false, ctx)?;
    Ok(())
}
