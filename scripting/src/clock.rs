//! How much CPU time a run of JavaScript is charged, against the per-request limit.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The CPU time a run of JavaScript uses: this thread's CPU clock, so that time the
/// thread spends preempted (a loaded machine) is not charged to the script.
///
/// Reading the thread's CPU clock is a system call, and most runs last microseconds
/// (a hook's handler, a promise continuation): for those the wall clock (read in user
/// space) is the charge, since CPU time on one thread never exceeds wall time and a
/// few microseconds of preemption do not matter. The CPU clock is read only for runs
/// longer than [`PRECISE_AFTER`], against a per-thread reading at most that old when
/// the run started: such a run is over-charged by at most that much.
pub(crate) struct CpuClock {
    wall: Instant,
    /// This thread's [`uncharged`] total when the clock started.
    uncharged: Duration,
    /// The thread's CPU time at or shortly before `wall` (none without a CPU clock).
    cpu: Option<Duration>,
}

/// Runs shorter than this are charged their wall time.
const PRECISE_AFTER: Duration = Duration::from_millis(1);

thread_local! {
    /// The last reading of this thread's CPU clock, and when it was taken.
    static LAST_CPU: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
    /// CPU time this thread has spent in [`uncharged`] work, ever.
    static UNCHARGED: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// This thread's CPU time so far.
fn thread_cpu() -> Option<Duration> {
    cpu_time::ThreadTime::try_now()
        .ok()
        .map(|t| t.as_duration())
}

impl CpuClock {
    pub(crate) fn start() -> Self {
        let wall = Instant::now();
        let cpu = LAST_CPU.with(|last| match last.get() {
            Some((at, cpu)) if wall.duration_since(at) < PRECISE_AFTER => Some(cpu),
            _ => {
                let cpu = thread_cpu()?;
                last.set(Some((wall, cpu)));
                Some(cpu)
            }
        });
        CpuClock {
            wall,
            uncharged: UNCHARGED.get(),
            cpu,
        }
    }

    /// A clock that counts wall time only: for slices of JavaScript so short (an
    /// `HTMLRewriter` handler) that even the occasional CPU clock read is not worth it.
    /// Wall time over-counts only preemption.
    pub(crate) fn wall_only() -> Self {
        CpuClock {
            wall: Instant::now(),
            uncharged: UNCHARGED.get(),
            cpu: None,
        }
    }

    /// CPU time used since [`CpuClock::start`] (wall time if there is no CPU clock or
    /// the run was short).
    pub(crate) fn elapsed(&self) -> Duration {
        let wall = self.wall.elapsed();
        let used = if wall < PRECISE_AFTER {
            wall
        } else {
            match (self.cpu, thread_cpu()) {
                (Some(start), Some(now)) => now.saturating_sub(start).min(wall),
                _ => wall,
            }
        };
        used.saturating_sub(UNCHARGED.get().saturating_sub(self.uncharged))
    }

    /// Whether more than `limit` of CPU time has been used (CPU time never exceeds
    /// wall time on one thread, so the cheap check comes first).
    pub(crate) fn over(&self, limit: Duration) -> bool {
        self.wall.elapsed() > limit && self.elapsed() > limit
    }
}

/// Runs `f` (the runtime's own work done inside a script's run, such as compiling the
/// Streams code on first use) without charging its time to the script's CPU limit:
/// clocks running now subtract it. Its wall time, not its CPU time: a running clock's
/// reading is wall time whenever its start was a cached CPU reading (see
/// [`CpuClock::elapsed`]), so subtracting CPU time charged the script for every moment
/// the thread was preempted while the runtime compiled (a script using Web Crypto
/// failed its 50 ms limit on a busy machine). Over a CPU reading, this errs toward the
/// script.
pub(crate) fn uncharged<T>(f: impl FnOnce() -> T) -> T {
    let wall = Instant::now();
    let out = f();
    UNCHARGED.set(UNCHARGED.get() + wall.elapsed());
    out
}

/// From now on, boa's automatic garbage collections are [`uncharged`]: a collection
/// marks and sweeps the whole thread's heap (every script's contexts, every request's
/// garbage), so its time belongs to no one request. Charged, it fell on whichever
/// request allocated at the wrong moment: a one-line hook exceeded a 50 ms limit once
/// in a few thousand requests in a debug build. A script that allocates without end is
/// still stopped by its own (charged) running time and the memory limit.
pub(crate) fn leave_collections_uncharged() {
    boa_gc::set_collection_wrapper(|collect| uncharged(collect));
}

thread_local! {
    /// When the last I/O reached this thread's JavaScript (a request, a host call's
    /// result, a timer, a rewriter chunk), in ms since the Unix epoch.
    static IO_TIME: Cell<f64> = Cell::new(epoch_ms());
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// Marks that I/O reached JavaScript now: what `Date.now()`, `new Date()` and
/// `performance.now()` say until the next I/O. Time as Workers give it: it does not
/// advance while a script computes, so code cannot time itself (Workers' defence
/// against timing side channels). Per thread, set on every entry into JavaScript, so
/// each run sees the time of the I/O that started it.
pub(crate) fn io_happened() {
    IO_TIME.set(epoch_ms());
}

/// `host.ioTime()`: the time of the last I/O (see [`io_happened`]).
pub(crate) fn io_time(
    _: &boa_engine::JsValue,
    _: &[boa_engine::JsValue],
    _: &mut boa_engine::Context,
) -> boa_engine::JsResult<boa_engine::JsValue> {
    Ok(IO_TIME.get().into())
}
