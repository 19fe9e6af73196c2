//! A page parsed on a thread of its own, for an `HTMLRewriter` with an `async` handler:
//! the thread drives the page's [`Document`] and sends each match's snapshot to the JS
//! thread ([`HandlerCall`]), waiting for the edits, so the JS thread never blocks and
//! an `async` handler can wait on I/O mid-page.

use crate::codec::Coding;
use crate::error::Result;
use crate::exchange::{Body, BodyStream};
use crate::limits::ASYNC_TIMEOUT;
use crate::rewriter::{Ask, Boxed, Document, OUT_CHANNEL, Plan, Target, check_plan, failed};
use crate::tokens::{Op, Token, Unit};
use bytes::Bytes;
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;

/// One handler to run on the JS thread; the edits (or the handler's error) go back
/// through `reply`.
pub(crate) struct HandlerCall {
    pub target: Target,
    pub unit: Unit,
    pub reply: std_mpsc::SyncSender<std::result::Result<Vec<Op>, String>>,
}

/// Starts rewriting `source` per `plan` on a parser thread of its own; returns the
/// rewritten body. Handler calls arrive on `calls`; the stream ends when the rewrite
/// does (or errs if it failed).
pub(crate) fn start(
    source: Body,
    coding: Option<Coding>,
    plan: Plan,
    calls: mpsc::UnboundedSender<HandlerCall>,
) -> Result<BodyStream> {
    check_plan(&plan)?;
    let (out_tx, mut out_rx) = mpsc::channel::<Result<Bytes>>(OUT_CHANNEL);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let result = run(&handle, source, coding, &plan, calls, &out_tx);
        if let Err(e) = result {
            tracing::warn!(error = %e, "HTMLRewriter stopped; the response is cut short");
            let _ = handle.block_on(out_tx.send(Err(e)));
        }
    });
    Ok(BodyStream::new(futures_util::stream::poll_fn(move |cx| {
        out_rx.poll_recv(cx)
    })))
}

/// Runs handler `target` on the JS thread with a snapshot of `token`, waits for its
/// edits and applies them.
fn ask_thread(
    calls: &mpsc::UnboundedSender<HandlerCall>,
    target: Target,
    token: &mut dyn Token,
) -> std::result::Result<(), Boxed> {
    let unit = token.unit();
    let (reply, answer) = std_mpsc::sync_channel(1);
    calls
        .send(HandlerCall {
            target,
            unit,
            reply,
        })
        .map_err(|_| Boxed::from("the script is gone"))?;
    // Most handlers answer within microseconds: poll briefly before sleeping.
    let until = std::time::Instant::now() + spin();
    let answer = loop {
        match answer.try_recv() {
            Ok(a) => break Ok(a),
            Err(std_mpsc::TryRecvError::Disconnected) => {
                break Err(std_mpsc::RecvTimeoutError::Disconnected);
            }
            Err(std_mpsc::TryRecvError::Empty) if std::time::Instant::now() < until => {
                std::hint::spin_loop();
            }
            Err(std_mpsc::TryRecvError::Empty) => break answer.recv_timeout(ASYNC_TIMEOUT),
        }
    };
    match answer {
        Ok(Ok(ops)) => {
            for op in ops {
                token.edit(op)?;
            }
            Ok(())
        }
        Ok(Err(message)) => Err(message.into()),
        Err(std_mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "a handler did not finish within {} s",
            ASYNC_TIMEOUT.as_secs()
        )
        .into()),
        Err(std_mpsc::RecvTimeoutError::Disconnected) => {
            Err("the script stopped (an error, or a CPU or memory limit)".into())
        }
    }
}

/// The parser thread's loop: reads `source`, rewrites it and sends the output on.
fn run(
    handle: &tokio::runtime::Handle,
    source: Body,
    coding: Option<Coding>,
    plan: &Plan,
    calls: mpsc::UnboundedSender<HandlerCall>,
    out_tx: &mpsc::Sender<Result<Bytes>>,
) -> Result<()> {
    let ask: Ask = Rc::new(move |target, token| ask_thread(&calls, target, token));
    let mut doc = Document::new(plan, coding, ask)?;
    let send = |bytes: Vec<u8>| -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match handle.block_on(tokio::time::timeout(
            ASYNC_TIMEOUT,
            out_tx.send(Ok(Bytes::from(bytes))),
        )) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(failed("the response was dropped")),
            Err(_) => Err(failed("the rewritten body was not read")),
        }
    };
    match source {
        Body::Bytes(b) => send(doc.write(&b)?)?,
        Body::Stream(mut s) => loop {
            let next = handle
                .block_on(tokio::time::timeout(ASYNC_TIMEOUT, s.next()))
                .map_err(|_| failed("the source body stalled"))?;
            match next {
                None => break,
                Some(chunk) => send(doc.write(&chunk?)?)?,
            }
        },
    }
    send(doc.end()?)
}

/// How long a thread polls for the other side of a rewriter hand-off before it
/// sleeps (a sleep and wake-up costs tens of microseconds). Zero when the process
/// has one CPU: polling would only keep the other side from running.
pub(crate) fn spin() -> std::time::Duration {
    static SPIN: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *SPIN.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        if cpus > 1 {
            std::time::Duration::from_micros(40)
        } else {
            std::time::Duration::ZERO
        }
    })
}
