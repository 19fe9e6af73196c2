//! Heap bytes per memory-tier entry, counted by the allocator rather than read from
//! RSS: objects stored as a miss stores them (a 16-byte body under an nginx-like
//! head, keys distinct by query string, Outpost's cache-key policy), then each one hit
//! once through the memory-hit fast path (which prepares its head). Prints the bytes
//! each entry holds beyond the object itself (body and stored head), after the store
//! and after the first hit.
//!
//! Run: `cargo bench --bench entry_bytes` (about 10 s; `ENTRIES=` changes the count).

#![allow(unsafe_code)] // the counting allocator only; see `src/alloc.rs`

use mimalloc::MiMalloc as System;
use outpost_cache::TieredStorage;
use pingora::cache::trace::Span;
use pingora::cache::{CacheMeta, Storage};
use pingora::http::{RequestHeader, ResponseHeader};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// The process's allocator (mimalloc), counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` unchanged; the counter neither allocates nor
// panics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const HOST: &str = "www.example.com";

fn path(i: usize) -> String {
    format!("/t.txt?k={i}")
}

/// The process's resident set, in bytes.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    let entries: usize = std::env::var("ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let yaml = format!(
        "listen: {{ http: \"127.0.0.1:8080\" }}\nlog: {{ access_log: false }}\ncache: {{ memory: 4GiB }}\nsites:\n  - hosts: [\"{HOST}\"]\n    origins: [\"http://127.0.0.1:1\"]\n    compression: {{ enabled: false }}\n"
    );
    let cfg = outpost_config::load_str(&yaml, std::path::Path::new("bench.yaml")).expect("config");
    let live = outpost_proxy::Live::new(cfg, rt.handle().clone(), false).expect("live");
    let storage: &'static TieredStorage = live.cache.as_ref().expect("cache").storage;
    let policy = outpost_config::CacheKeyPolicy::default();

    let before = LIVE.load(Ordering::Relaxed);
    let rss_before = rss();
    rt.block_on(async {
        for i in 0..entries {
            let req = RequestHeader::build("GET", path(i).as_bytes(), None).expect("req");
            let key =
                outpost_proxy::caching::cache_key(storage.key_hash(), false, HOST, &req, &policy);
            let mut head = ResponseHeader::build(200, None).expect("head");
            for (k, v) in [
                ("server", "nginx/1.22.1"),
                ("date", "Sat, 05 Dec 2026 20:00:00 GMT"),
                ("content-type", "text/plain"),
                ("content-length", "16"),
                ("last-modified", "Fri, 04 Dec 2026 10:17:48 GMT"),
                ("etag", "\"6b12934c-10\""),
                ("expires", "Sat, 05 Dec 2026 21:00:00 GMT"),
                ("cache-control", "max-age=3600"),
                ("accept-ranges", "bytes"),
            ] {
                head.insert_header(k, v).expect("field");
            }
            let now = SystemTime::now();
            let meta = CacheMeta::new(now + Duration::from_secs(3600), now, 0, 0, head);
            let span = Span::inactive();
            let mut miss = storage
                .get_miss_handler(&key, &meta, &span.handle())
                .await
                .expect("miss");
            miss.write_body(bytes::Bytes::from_static(b"0123456789abcdef"), true)
                .await
                .expect("write");
            miss.finish().await.expect("finish");
        }
    });
    let stats = storage.stats();
    let stored = LIVE.load(Ordering::Relaxed);
    let rss_stored = rss();
    // The cache weighs an entry as body + stored head + 128.
    let object = stats.memory_bytes as f64 / stats.memory_entries.max(1) as f64 - 128.0;
    let per = |bytes: usize| bytes as f64 / entries as f64;
    println!(
        "entries: {} (object: body + stored head = {object:.0} B)",
        stats.memory_entries
    );
    println!(
        "after the store: {:.0} B per entry, {:.0} B beyond the object (RSS: {:.0} B per entry)",
        per(stored - before),
        per(stored - before) - object,
        per(rss_stored.saturating_sub(rss_before)),
    );
    let mut out = Vec::with_capacity(4096);
    let mut answered = 0;
    for i in 0..entries {
        let head = format!("GET {} HTTP/1.1\r\nHost: {HOST}\r\n\r\n", path(i));
        answered += usize::from(outpost_proxy::hit_path::answer_bytes(
            &live,
            head.as_bytes(),
            &mut out,
        ));
    }
    let hit = LIVE.load(Ordering::Relaxed);
    println!(
        "after one fast hit each ({answered} answered): {:.0} B per entry, {:.0} B beyond the object (RSS: {:.0} B per entry)",
        per(hit - before),
        per(hit - before) - object,
        per(rss().saturating_sub(rss_before)),
    );
}
