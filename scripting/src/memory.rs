//! Heap accounting for the per-request memory limit.
//!
//! boa has no heap limit of its own, so the process's global allocator (the `outpost`
//! binary installs a counting wrapper around mimalloc, `src/alloc.rs`) reports every
//! allocation and free here, per thread. A JS thread reads its counter when a run of
//! JavaScript starts and again each time the VM yields: what a run allocates and keeps
//! is charged to that run. Memory allocated on a JS thread and freed on another (a
//! response body) only shows as drift between runs, which the per-run delta ignores.
//!
//! Without the counting allocator (unit tests, or an embedder that does not install
//! it) nothing is reported and the memory limit never triggers.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

static REPORTING: AtomicBool = AtomicBool::new(false);

/// An allocation of `bytes` on this thread. Called from the global allocator: it must
/// not allocate, panic or block.
#[inline]
pub fn allocated(bytes: usize) {
    let _ = LIVE.try_with(|c| c.set(c.get().wrapping_add(bytes as isize)));
}

/// A free of `bytes` on this thread (same rules as [`allocated`]).
#[inline]
pub fn freed(bytes: usize) {
    let _ = LIVE.try_with(|c| c.set(c.get().wrapping_sub(bytes as isize)));
}

/// Declares that the global allocator reports to [`allocated`] and [`freed`], which
/// turns the memory limit on.
pub fn enable() {
    REPORTING.store(true, Ordering::Relaxed);
}

/// Net bytes allocated on this thread so far (`None` when nothing reports).
pub(crate) fn live() -> Option<isize> {
    if REPORTING.load(Ordering::Relaxed) {
        LIVE.try_with(Cell::get).ok()
    } else {
        None
    }
}
