//! Bodies a script writes as a stream (`new Response(readable)`, a streamed `fetch()`
//! body): a bounded channel from the JS thread to whoever reads the body, so a slow
//! reader holds the script's writes back instead of letting them pile up.

use crate::error::ScriptError;
use crate::exchange::BodyStream;
use bytes::Bytes;
use foldhash::{HashMap, HashMapExt};
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use tokio::sync::mpsc;

/// Chunks in flight between the script and the body's reader.
const DEPTH: usize = 4;

type Chunk = crate::error::Result<Bytes>;

/// The writing end of a streamed body.
struct Sink {
    tx: mpsc::Sender<Chunk>,
    /// Why the body stopped short, for the reader to see after the last chunk.
    failed: Arc<Mutex<Option<ScriptError>>>,
    /// Dropped with the sink: tells [`Watch`] the script is done writing.
    _done: tokio::sync::oneshot::Sender<()>,
}

/// What keeps a request with an open streamed body in flight: it ends when the
/// script closes or errors the stream, when the reader goes away, or after `limit`.
pub(crate) struct Watch {
    done: tokio::sync::oneshot::Receiver<()>,
    reader: mpsc::Sender<Chunk>,
}

impl Watch {
    /// Waits; `Some(why)` when the body must be cut short.
    pub(crate) async fn ended(self, limit: std::time::Duration) -> Option<String> {
        let Watch { done, reader } = self;
        tokio::select! {
            _ = done => None,
            _ = reader.closed() => Some("the body's reader has gone".into()),
            _ = tokio::time::sleep(limit) => Some(format!(
                "the script did not finish writing its streamed body within {} s",
                limit.as_secs()
            )),
        }
    }
}

thread_local! {
    static NEXT: Cell<u64> = const { Cell::new(1) };
    static SINKS: RefCell<HashMap<u64, (u64, Sink)>> = RefCell::new(HashMap::new());
}

/// Opens a streamed body for `request`: the sink's id (for the script's writes), the
/// body as its reader sees it, and what keeps the request alive while it is written.
pub(crate) fn open(request: u64) -> (u64, BodyStream, Watch) {
    let (tx, mut rx) = mpsc::channel::<Chunk>(DEPTH);
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let watch = Watch {
        done,
        reader: tx.clone(),
    };
    let failed = Arc::new(Mutex::new(None));
    let seen = failed.clone();
    let body = BodyStream::new(futures_util::stream::poll_fn(move |cx| {
        match rx.poll_recv(cx) {
            Poll::Ready(None) => {
                let failure = seen.lock().ok().and_then(|mut f| f.take());
                Poll::Ready(failure.map(Err))
            }
            other => other,
        }
    }));
    let id = NEXT.get();
    NEXT.set(id + 1);
    let sink = Sink {
        tx,
        failed,
        _done: done_tx,
    };
    SINKS.with_borrow_mut(|s| s.insert(id, (request, sink)));
    (id, body, watch)
}

/// A handle to write into sink `id` (the write waits while the channel is full).
pub(crate) fn writer(id: u64) -> Option<mpsc::Sender<Chunk>> {
    SINKS.with_borrow(|s| s.get(&id).map(|(_, sink)| sink.tx.clone()))
}

/// The script closed its stream: the body ends after the chunks already written.
pub(crate) fn close(id: u64) {
    SINKS.with_borrow_mut(|s| s.remove(&id));
}

/// The script's stream errored: the body ends with this error.
pub(crate) fn fail(id: u64, message: String) {
    if let Some((_, sink)) = SINKS.with_borrow_mut(|s| s.remove(&id)) {
        set_failure(&sink, ScriptError::Stream { message });
    }
}

/// `request` is over: a body its script never closed ends with an error rather than
/// looking complete.
pub(crate) fn drop_for(request: u64) {
    let open: Vec<Sink> = SINKS.with_borrow_mut(|s| {
        let ids: Vec<u64> = s
            .iter()
            .filter(|(_, (r, _))| *r == request)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| s.remove(&id).map(|(_, sink)| sink))
            .collect()
    });
    for sink in open {
        set_failure(
            &sink,
            ScriptError::Stream {
                message:
                    "the script's stream was neither closed nor errored when its request ended"
                        .into(),
            },
        );
    }
}

fn set_failure(sink: &Sink, e: ScriptError) {
    if let Ok(mut f) = sink.failed.lock() {
        *f = Some(e);
    }
}
