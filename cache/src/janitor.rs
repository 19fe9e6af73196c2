//! Deleting cache files off the request threads: purges and evictions queue the
//! deletion here and return; one thread of its own does the file system work.

use std::path::PathBuf;

/// An object's key (the disk tier's), which names its file.
type Key = [u8; 16];
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Deletions that may wait. Beyond it the caller deletes the file itself: memory stays
/// bounded, nobody blocks, and no deletion is lost (a surviving file would be indexed
/// again at the next start).
const QUEUE: usize = 65_536;

/// A file to delete.
pub(crate) enum Chore {
    /// An object purged or evicted: deleted unless the key was cached again meanwhile
    /// (the new file took the name; deleting it would only cost a miss, but why).
    Object(Key),
    /// A write that never committed.
    Temporary(PathBuf),
}

/// The handle that queues deletions.
#[derive(Clone)]
pub(crate) struct Janitor {
    tx: SyncSender<Chore>,
    path_of: PathOf,
}

/// Names an object's file.
type PathOf = std::sync::Arc<dyn Fn(&Key) -> PathBuf + Send + Sync>;

impl Janitor {
    /// A queue for the janitor thread [`Janitor::run`] will serve; `path_of` names an
    /// object's file.
    pub(crate) fn channel(
        path_of: impl Fn(&Key) -> PathBuf + Send + Sync + 'static,
    ) -> (Janitor, Receiver<Chore>) {
        let (tx, rx) = sync_channel(QUEUE);
        let path_of: PathOf = std::sync::Arc::new(path_of);
        (Janitor { tx, path_of }, rx)
    }

    /// Serves `rx` on a new thread until every handle is gone; `index` says which
    /// keys were cached again meanwhile.
    pub(crate) fn run(
        &self,
        rx: Receiver<Chore>,
        index: moka::sync::Cache<Key, u64, foldhash::fast::RandomState>,
    ) -> std::io::Result<()> {
        let path_of = self.path_of.clone();
        std::thread::Builder::new()
            .name("outpost-cache-janitor".into())
            .spawn(move || {
                // Only CPU time nothing else wants: deleting a big purge's files must not
                // slow requests on a busy core. Where the policy cannot be set, the
                // janitor still runs, at normal priority.
                use thread_priority::{
                    NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
                };
                if let Err(e) = thread_priority::set_thread_priority_and_policy(
                    thread_priority::thread_native_id(),
                    ThreadPriority::Min,
                    ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
                ) {
                    tracing::debug!(error = ?e, "cache janitor keeps normal priority");
                }
                for chore in rx {
                    match chore {
                        Chore::Object(key) if index.contains_key(&key) => {}
                        Chore::Object(key) => remove(path_of(&key)),
                        Chore::Temporary(path) => remove(path),
                    }
                }
            })?;
        Ok(())
    }

    /// Queues `chore`, or does it now when the queue is full (or the thread gone).
    pub(crate) fn delete(&self, chore: Chore) {
        match self.tx.try_send(chore) {
            Ok(()) => {}
            Err(TrySendError::Full(chore) | TrySendError::Disconnected(chore)) => {
                remove(match chore {
                    Chore::Object(key) => (self.path_of)(&key),
                    Chore::Temporary(path) => path,
                })
            }
        }
    }
}

fn remove(path: PathBuf) {
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(file = %path.display(), error = %e, "cannot delete a cache file"),
    }
}
