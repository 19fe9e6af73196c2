//! What bounds one request of a script: the sandbox limits the engine is built with and
//! the fixed caps on subrequests, waits and body reads. Every layer reads these; they
//! read nothing of the crate.

use std::time::Duration;

/// Per-request sandbox limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time for the synchronous part of a request's handler (checked every few
    /// thousand VM instructions).
    pub cpu_time: Duration,
    /// Iterations of any single loop; also bounds async continuations, which run
    /// outside the CPU-time check.
    pub loop_iterations: u64,
    /// Nested calls.
    pub recursion: usize,
    /// Bytes one run of a request's JavaScript may allocate and keep (enforced when the
    /// process reports allocations, see [`crate::memory`]).
    pub memory: usize,
    /// Whether scripts may compile code from strings (`eval`, `new Function`). Off, as
    /// in Workers; the web-platform-tests harness turns it on to load the test files.
    pub code_from_strings: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_time: Duration::from_millis(50),
            // ~100 ms of a tight loop on this class of machine.
            loop_iterations: 10_000_000,
            recursion: 512,
            memory: 128 << 20,
            code_from_strings: false,
        }
    }
}

/// Subrequests one request may make (Workers' default on the free plan).
pub const MAX_SUBREQUESTS: u32 = 50;
/// How long a subrequest, a body read, a timer or `waitUntil` work may take.
pub const ASYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a script may read of one body into memory.
pub const MAX_READ: usize = 128 << 20;
