//! The transform threads: a bounded pool beside the request runtime, so decoding and
//! encoding megapixels never holds a request thread, and a flood of transforms waits
//! in a short queue or is turned away instead of piling up.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

/// Transforms waiting for a thread beyond which new ones are refused (503).
const QUEUE: usize = 32;

type Job = Box<dyn FnOnce() + Send>;

/// Why a job was not taken.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The queue is full.
    Busy,
    /// No thread could be started.
    NoThreads,
}

/// Runs `work` on a transform thread and gives its result.
pub(crate) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Refused> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(work());
    });
    let queue = queue().ok_or(Refused::NoThreads)?;
    queue.try_send(job).map_err(|e| match e {
        TrySendError::Full(_) => Refused::Busy,
        TrySendError::Disconnected(_) => Refused::NoThreads,
    })?;
    rx.await.map_err(|_| Refused::NoThreads)
}

/// The pool's queue, its threads started on first use: one per core. (At normal
/// priority: a lower one would starve transforms under sustained hit traffic; the
/// queue bound is what keeps them from crowding the request threads.)
fn queue() -> Option<&'static SyncSender<Job>> {
    static QUEUE_TX: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
    QUEUE_TX
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
            let rx = Arc::new(Mutex::new(rx));
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut started = 0;
            for i in 0..threads {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("outpost-image-{i}"))
                    .spawn(move || worker(&rx));
                started += usize::from(spawned.is_ok());
            }
            (started > 0).then_some(tx)
        })
        .as_ref()
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        // (The lock is held only while waiting for the next job.)
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => {
                // A panic in a decoder must not take the thread (or the process).
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}
