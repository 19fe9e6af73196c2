//! The process allocator: mimalloc, with every allocation and free reported to the
//! JS runtime's per-thread heap counter (`outpost_scripting::memory`), which is how a
//! hook's memory limit is enforced (boa has no heap limit of its own).
//!
//! This is the only `unsafe` in Outpost: `GlobalAlloc` is an unsafe trait. Each method
//! forwards to mimalloc unchanged and only adds a thread-local counter update, which
//! neither allocates nor panics.
#![allow(unsafe_code)]

use outpost_scripting::memory;
use std::alloc::{GlobalAlloc, Layout};

/// mimalloc plus heap accounting.
pub struct CountingMimalloc;

// SAFETY: every call forwards its arguments to mimalloc's `GlobalAlloc` implementation
// with the caller's guarantees intact; the accounting touches no memory it returns.
unsafe impl GlobalAlloc for CountingMimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see above).
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !p.is_null() {
            memory::allocated(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            memory::allocated(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) };
        memory::freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            memory::freed(layout.size());
            memory::allocated(new_size);
        }
        p
    }
}
