//! What a script's host calls become on its JS thread: the work each one starts
//! (subrequests, body reads, timers, KV, a rewriter's hand-offs), each under its
//! timeout, and the JS value each settles its call with when it finishes.

use super::KvSlot;
use crate::error::{Result, ScriptError};
use crate::exchange::{FetchResponse, Fetcher};
use crate::host::{self, HostCall};
use crate::instance::Instance;
use crate::kv::KvResult;
use crate::limits::{ASYNC_TIMEOUT, MAX_READ, MAX_SUBREQUESTS};
use crate::rewriter_thread::HandlerCall;
use crate::rewriter_thread::spin;
use boa_engine::object::builtins::JsArray;
use boa_engine::{JsObject, JsResult, JsString, JsValue, js_string};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Finished host work, to be handed back to the script.
pub(super) struct Event {
    pub(super) request: u64,
    pub(super) call: u32,
    pub(super) done: Done,
}

/// What a piece of host work ended with.
pub(super) enum Done {
    Fetched(Result<FetchResponse>),
    Read(Result<bytes::Bytes>),
    /// The next chunk of a host body (`None` at its end), and the body to put back.
    Chunk {
        id: u64,
        body: crate::exchange::BodyStream,
        next: Option<Result<bytes::Bytes>>,
    },
    /// A chunk of a script's streamed body went into its channel.
    Written(Result<()>),
    /// A script's streamed body ended (`Some(why)`: it must be cut short).
    SinkEnded {
        sink: u64,
        why: Option<String>,
    },
    Timer,
    Kv(Result<KvResult>),
    /// A rewriter's parser thread wants a handler run (`None`: the rewrite ended).
    Rewrite {
        rewriter: u32,
        call: Option<HandlerCall>,
        calls: mpsc::UnboundedReceiver<HandlerCall>,
    },
    /// The next piece of a page the JS thread rewrites itself (`Ok(None)`: the page
    /// ended), or, once `io.ended`, its last output went out.
    RewriteInput {
        io: RewriteIo,
        input: Result<Option<bytes::Bytes>>,
    },
}

/// Where a page the JS thread rewrites itself comes from and where it goes.
pub(super) struct RewriteIo {
    pub(super) rewriter: u32,
    /// The rest of the page (`None` once it has all been read).
    pub(super) source: Option<crate::exchange::Body>,
    /// What is left of the last piece read, fed before the source is read again.
    pub(super) rest: Option<bytes::Bytes>,
    pub(super) out: mpsc::Sender<Result<bytes::Bytes>>,
    /// The last output (or the error) has been sent: nothing is left to do.
    pub(super) ended: bool,
}

/// The most of a page one step of a rewrite on the JS thread feeds.
const REWRITE_SLICE: usize = 64 << 10;

/// Sends a rewrite's `output` on (the last one, or an error, ends the page), then
/// reads the next piece of the page.
pub(super) fn rewrite_step(
    request: u64,
    mut io: RewriteIo,
    output: Result<Vec<u8>>,
    last: bool,
) -> BoxFuture<'static, Event> {
    Box::pin(async move {
        let input = async {
            let (chunk, last) = match output {
                Ok(bytes) => (Ok(bytes::Bytes::from(bytes)), last),
                Err(e) => (Err(e), true),
            };
            let failed = chunk.is_err();
            let send = |c| tokio::time::timeout(ASYNC_TIMEOUT, io.out.send(c));
            let gone = || ScriptError::Rewriter {
                message: "the rewritten page was not read".into(),
            };
            if failed || chunk.as_ref().is_ok_and(|b| !b.is_empty()) {
                send(chunk)
                    .await
                    .ok()
                    .and_then(|r| r.ok())
                    .ok_or_else(gone)?;
            }
            if last {
                io.ended = true;
                if !failed {
                    // The end mark: the page is whole.
                    send(Ok(bytes::Bytes::new()))
                        .await
                        .ok()
                        .and_then(|r| r.ok())
                        .ok_or_else(gone)?;
                }
                return Ok(None);
            }
            // A page is fed in slices of at most REWRITE_SLICE, however it arrives (a
            // script may hand over a page whole, or a stream chunk of any size): the
            // thread serves other requests between slices.
            if let Some(mut rest) = io.rest.take() {
                if rest.len() > REWRITE_SLICE {
                    let first = rest.split_to(REWRITE_SLICE);
                    io.rest = Some(rest);
                    return Ok(Some(first));
                }
                return Ok(Some(rest));
            }
            let chunk = match io.source.take() {
                None => return Ok(None),
                Some(crate::exchange::Body::Bytes(b)) => b,
                Some(crate::exchange::Body::Stream(mut s)) => {
                    let next = tokio::time::timeout(ASYNC_TIMEOUT, s.next())
                        .await
                        .map_err(|_| ScriptError::Rewriter {
                            message: "the source body stalled".into(),
                        })?;
                    match next {
                        None => return Ok(None),
                        Some(chunk) => {
                            io.source = Some(crate::exchange::Body::Stream(s));
                            chunk?
                        }
                    }
                }
            };
            let mut chunk = chunk;
            if chunk.len() > REWRITE_SLICE {
                io.rest = Some(chunk.split_off(REWRITE_SLICE));
            }
            Ok(Some(chunk))
        }
        .await;
        Event {
            request,
            // Host calls are numbered from 1: 0 is never cancelled.
            call: 0,
            done: Done::RewriteInput { io, input },
        }
    })
}

/// The next handler call if one arrives within [`spin`](crate::rewriter_thread::spin); `None` if the channel is
/// still empty (or closed: the future that waits will see that).
pub(super) fn spin_recv(calls: &mut mpsc::UnboundedReceiver<HandlerCall>) -> Option<HandlerCall> {
    let until = std::time::Instant::now() + spin();
    loop {
        match calls.try_recv() {
            Ok(c) => return Some(c),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) if std::time::Instant::now() >= until => {
                return None;
            }
            Err(mpsc::error::TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
}

/// Waits for rewriter `rewriter`'s next handler call.
pub(super) fn next_handler_call(
    request: u64,
    rewriter: u32,
    mut calls: mpsc::UnboundedReceiver<HandlerCall>,
) -> BoxFuture<'static, Event> {
    Box::pin(async move {
        let call = calls.recv().await;
        Event {
            request,
            // Host calls are numbered from 1: 0 is never cancelled.
            call: 0,
            done: Done::Rewrite {
                rewriter,
                call,
                calls,
            },
        }
    })
}

/// What the worker does with a host call.
pub(super) enum Work {
    /// Work started: its event comes back through the worker's queue.
    Started(BoxFuture<'static, Event>),
    /// `passThroughOnException()`.
    PassThrough,
    /// `clearTimeout`: the timer's event is to be ignored.
    CancelTimer(u32),
    /// The handler of request `.0` settled.
    Settled(u64),
    /// A page the JS thread rewrites itself: the worker sets it up.
    RewriteHere(host::RewriteHere),
    /// A page a parser thread rewrites: the worker keeps rewriter `rewriter`'s
    /// handlers and waits for the first handler call (`first`).
    Rewrite {
        rewriter: u32,
        handlers: crate::rewriter_handlers::Handlers,
        first: BoxFuture<'static, Event>,
    },
}

/// Starts the work host call `call` of request `request` asks for (`fetcher` and
/// `subrequests` are the request's: each subrequest counts against its limit).
pub(super) fn start(
    request: u64,
    call: HostCall,
    fetcher: Option<&Arc<dyn Fetcher>>,
    subrequests: &mut u32,
    kv: &KvSlot,
) -> Work {
    Work::Started(match call {
        HostCall::PassThrough => return Work::PassThrough,
        HostCall::Settled { request } => return Work::Settled(request),
        HostCall::RewriteHere(page) => return Work::RewriteHere(page),
        HostCall::Rewrite {
            rewriter,
            calls,
            handlers,
        } => {
            return Work::Rewrite {
                rewriter,
                handlers,
                // Not timed as a whole (a big page takes as long as it takes);
                // each handler and each body read has its own timeout.
                first: next_handler_call(request, rewriter, calls),
            };
        }
        HostCall::CancelTimer { call } => return Work::CancelTimer(call),
        HostCall::Fetch {
            call,
            request: boxed,
        } => {
            let req = *boxed;
            *subrequests += 1;
            let max = fetcher.map_or(MAX_SUBREQUESTS, |f| f.max_subrequests());
            let started = match (fetcher, *subrequests > max) {
                (_, true) => Err(ScriptError::Subrequest {
                    message: format!("too many subrequests: a request may make at most {max}"),
                }),
                (None, _) => Err(ScriptError::Subrequest {
                    message: "fetch() is not available here".into(),
                }),
                (Some(f), _) => Ok(f.fetch(req)),
            };
            let late = Done::Fetched(Err(ScriptError::Subrequest {
                message: format!("no response within {} s", ASYNC_TIMEOUT.as_secs()),
            }));
            timed(
                request,
                call,
                ASYNC_TIMEOUT,
                async move {
                    match started {
                        Ok(f) => Done::Fetched(f.await),
                        Err(e) => Done::Fetched(Err(e)),
                    }
                },
                late,
            )
        }
        HostCall::ReadBody { call, body } => {
            let late = Done::Read(Err(ScriptError::Subrequest {
                message: format!("body not read within {} s", ASYNC_TIMEOUT.as_secs()),
            }));
            timed(
                request,
                call,
                ASYNC_TIMEOUT,
                async move { Done::Read(body.collect(MAX_READ).await) },
                late,
            )
        }
        HostCall::ReadChunk { call, id, mut body } => {
            let late = Done::Read(Err(ScriptError::Subrequest {
                message: format!("no body chunk within {} s", ASYNC_TIMEOUT.as_secs()),
            }));
            timed(
                request,
                call,
                ASYNC_TIMEOUT,
                async move {
                    let next = body.next().await;
                    Done::Chunk { id, body, next }
                },
                late,
            )
        }
        HostCall::WatchSink { sink, watch } => Box::pin(async move {
            Event {
                request,
                // Host calls are numbered from 1: 0 is never cancelled.
                call: 0,
                done: Done::SinkEnded {
                    sink,
                    why: watch.ended(ASYNC_TIMEOUT).await,
                },
            }
        }),
        HostCall::SinkWrite { call, to, bytes } => {
            let late = Done::Written(Err(ScriptError::Stream {
                message: format!(
                    "the body's reader took no data for {} s",
                    ASYNC_TIMEOUT.as_secs()
                ),
            }));
            timed(
                request,
                call,
                ASYNC_TIMEOUT,
                async move {
                    Done::Written(to.send(Ok(bytes)).await.map_err(|_| ScriptError::Stream {
                        message: "the body's reader has gone (the client disconnected?)".into(),
                    }))
                },
                late,
            )
        }
        HostCall::Timer { call, ms } => {
            let wait = Duration::from_millis(ms).min(ASYNC_TIMEOUT);
            timed(
                request,
                call,
                ASYNC_TIMEOUT + Duration::from_secs(1),
                async move {
                    tokio::time::sleep(wait).await;
                    Done::Timer
                },
                Done::Timer,
            )
        }
        HostCall::Kv { call, op } => {
            let pending = match kv.get() {
                Some(kv) => crate::kv::run(kv, op),
                None => Box::pin(std::future::ready(Err(ScriptError::Kv {
                    message: "no KV store is configured on this node".into(),
                }))),
            };
            Box::pin(async move {
                Event {
                    request,
                    call,
                    done: Done::Kv(pending.await),
                }
            })
        }
    })
}

fn timed<F>(
    request: u64,
    call: u32,
    limit: Duration,
    fut: F,
    late: Done,
) -> BoxFuture<'static, Event>
where
    F: std::future::Future<Output = Done> + Send + 'static,
{
    Box::pin(async move {
        let done = tokio::time::timeout(limit, fut).await.unwrap_or(late);
        Event {
            request,
            call,
            done,
        }
    })
}

/// The JS value a finished piece of host work settles its call with.
pub(super) fn to_js(inst: &mut Instance, request: u64, done: Done) -> JsResult<(bool, JsValue)> {
    let ctx = inst.context();
    let fail = |e: ScriptError| (false, JsValue::from(JsString::from(e.to_string().as_str())));
    Ok(match done {
        Done::Timer | Done::Written(Ok(())) => (true, JsValue::undefined()),
        Done::Chunk { id, body, next } => {
            host::restore_body(request, id, body);
            match next {
                None => (true, JsValue::null()),
                Some(Ok(bytes)) => (true, crate::convert::uint8_array(&bytes, ctx)?),
                Some(Err(e)) => fail(e),
            }
        }
        Done::Read(Ok(bytes)) => (true, crate::convert::uint8_array(&bytes, ctx)?),
        Done::Fetched(Ok(resp)) => {
            let status = resp.head.status;
            let headers = crate::headers::headers_object(resp.head.headers, ctx)?;
            let body = host::store_body(request, resp.body);
            let parts = JsArray::from_iter(
                [
                    JsValue::from(status.as_u16()),
                    JsValue::from(JsString::from(status.canonical_reason().unwrap_or(""))),
                    headers,
                    JsValue::from(body as f64),
                    JsValue::from(JsString::from("")),
                ],
                ctx,
            );
            (true, parts.into())
        }
        Done::Kv(Ok(KvResult::Done)) => (true, JsValue::undefined()),
        Done::Kv(Ok(KvResult::Value(None))) => (true, JsValue::null()),
        Done::Kv(Ok(KvResult::Value(Some(v)))) => (true, crate::convert::uint8_array(&v, ctx)?),
        Done::Kv(Ok(KvResult::List(list))) => {
            let mut keys = Vec::new();
            for k in list.keys {
                let o = JsObject::with_object_proto(ctx.intrinsics());
                o.set(
                    js_string!("name"),
                    JsString::from(k.name.as_str()),
                    false,
                    ctx,
                )?;
                if let Some(e) = k.expiration {
                    o.set(js_string!("expiration"), e, false, ctx)?;
                }
                keys.push(JsValue::from(o));
            }
            let out = JsObject::with_object_proto(ctx.intrinsics());
            out.set(
                js_string!("keys"),
                JsArray::from_iter(keys, ctx),
                false,
                ctx,
            )?;
            out.set(
                js_string!("list_complete"),
                list.cursor.is_none(),
                false,
                ctx,
            )?;
            if let Some(c) = list.cursor {
                out.set(js_string!("cursor"), JsString::from(c.as_str()), false, ctx)?;
            }
            (true, out.into())
        }
        Done::Fetched(Err(e)) | Done::Read(Err(e)) | Done::Kv(Err(e)) | Done::Written(Err(e)) => {
            fail(e)
        }
        Done::Rewrite { .. } | Done::RewriteInput { .. } | Done::SinkEnded { .. } => {
            (true, JsValue::undefined())
        }
    })
}
