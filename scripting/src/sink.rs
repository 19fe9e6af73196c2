//! Bodies a script writes as a stream (`new Response(readable)`, a streamed `fetch()`
//! body): a bounded channel from the JS thread to whoever reads the body, so a slow
//! reader holds the script's writes back instead of letting them pile up.

use crate::error::ScriptError;
use crate::exchange::BodyStream;
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
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
}

thread_local! {
    static NEXT: Cell<u64> = const { Cell::new(1) };
    static SINKS: RefCell<HashMap<u64, (u64, Sink)>> = RefCell::new(HashMap::new());
}

/// Opens a streamed body for `request`: the sink's id (for the script's writes) and
/// the body as its reader sees it.
pub(crate) fn open(request: u64) -> (u64, BodyStream) {
    let (tx, mut rx) = mpsc::channel::<Chunk>(DEPTH);
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
    SINKS.with_borrow_mut(|s| s.insert(id, (request, Sink { tx, failed })));
    (id, body)
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
