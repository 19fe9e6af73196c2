//! What the JavaScript running now on this thread may still use (CPU time, memory),
//! so that checks inside a long run can stop it: boa's loops ask every 64 iterations
//! whether the memory limit is passed (a patch, `vendor/README.md`), and a page parsed
//! on the JS thread asks before each `HTMLRewriter` handler about both limits.
//!
//! Only the synchronous part of a handler runs in slices that yield to the worker
//! (`instance::within` checks the limits there); promise jobs, host calls into JS
//! functions and `HTMLRewriter` handlers run to their end. Without a check inside them
//! a loop after an `await` could allocate far past the memory limit before the run
//! ended and the worker looked.

use crate::clock::CpuClock;
use std::cell::RefCell;
use std::time::Duration;

struct Budget {
    clock: CpuClock,
    cpu_left: Duration,
    heap_base: Option<isize>,
    memory: usize,
}

thread_local! {
    static CURRENT: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Which limit a run went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    Cpu,
    Memory,
}

/// Sets what the run starting now may use: `cpu_left` of CPU time and `memory` bytes
/// of new heap it may keep, until the guard is dropped (what was set before comes back).
pub(crate) fn enter(cpu_left: Duration, memory: usize) -> Guard {
    let budget = Budget {
        clock: CpuClock::start(),
        cpu_left,
        heap_base: crate::memory::live(),
        memory,
    };
    Guard {
        before: CURRENT.with_borrow_mut(|c| c.replace(budget)),
    }
}

/// Ends a run's budget (see [`enter`]).
pub(crate) struct Guard {
    before: Option<Budget>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let before = self.before.take();
        CURRENT.with_borrow_mut(|c| *c = before);
    }
}

/// What the running JavaScript went over, as a handler's error says it.
pub(crate) fn exceeded() -> Option<String> {
    let memory = CURRENT.with_borrow(|c| c.as_ref().map(|b| b.memory))?;
    over().map(|o| match o {
        Over::Cpu => "the script exceeded its CPU limit".to_string(),
        Over::Memory => format!(
            "the script exceeded its memory limit of {} MiB",
            memory >> 20
        ),
    })
}

/// The limit the running JavaScript has gone over, if any.
pub(crate) fn over() -> Option<Over> {
    CURRENT.with_borrow(|c| {
        let b = c.as_ref()?;
        if b.over_memory() {
            return Some(Over::Memory);
        }
        b.clock.over(b.cpu_left).then_some(Over::Cpu)
    })
}

/// Makes boa's loops stop once the running JavaScript keeps more memory than its
/// limit (once per process). Checked every 64 iterations: a loop keeping 1 MiB strings
/// stops within 64 MiB of the limit. CPU time is not checked there: work after the
/// response (a body's transform, `waitUntil`) has always run past the CPU limit up to
/// the loop limit, and a stop mid-stream would cut bodies that work today.
pub(crate) fn install() {
    boa_engine::vm::set_interrupt_check(loop_check);
}

/// Whether the running JavaScript keeps more memory than its limit.
pub(crate) fn over_memory() -> bool {
    CURRENT.with_borrow(|c| c.as_ref().is_some_and(Budget::over_memory))
}

fn loop_check() -> bool {
    over_memory()
}

impl Budget {
    fn over_memory(&self) -> bool {
        matches!((self.heap_base, crate::memory::live()),
            (Some(base), Some(now)) if now.saturating_sub(base) > self.memory as isize)
    }
}
