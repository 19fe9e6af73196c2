//! The cache's share of a HIT, without the network: computing a request's cache key
//! (Outpost's policy: scheme, host, path and query, length-framed; then pingora's
//! blake2 hash), a lookup that hits the memory tier or the disk tier (a 1 KiB object:
//! meta deserialized, body handed over) as pingora's cache path does it, and the
//! memory-hit fast path's whole answer to a request head (parse, site, rules index,
//! key, lookup, prepared head, response bytes, metrics).
//!
//! Run: `cargo bench --bench cache_path`. Criterion prints time per operation.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use outpost_cache::{TieredStorage, TieredStorageConfig};
use pingora::cache::key::CacheHashKey;
use pingora::cache::trace::Span;
use pingora::cache::{CacheKey, CacheMeta, Storage};
use pingora::http::{RequestHeader, ResponseHeader};
use std::time::{Duration, SystemTime};

/// A storage holding one 1 KiB object under `key` (memory only, or disk only).
fn storage_with(key: &CacheKey, disk: Option<&std::path::Path>) -> &'static TieredStorage {
    let storage: &'static TieredStorage = Box::leak(Box::new(
        TieredStorage::new(&TieredStorageConfig {
            // A disk-only lookup: objects skip memory when the memory tier is tiny.
            memory_bytes: if disk.is_some() { 0 } else { 64 << 20 },
            max_memory_object: if disk.is_some() { 0 } else { 64 << 10 },
            disk: disk.map(|d| (d.to_path_buf(), 1 << 30)),
        })
        .expect("storage"),
    ));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    store_1k(
        &rt,
        storage,
        key,
        &[
            ("cache-control", "max-age=3600"),
            ("content-type", "text/plain"),
        ],
    );
    storage
}

/// Stores a fresh 1 KiB object under `key` with the head `fields`, as a miss does.
fn store_1k(
    rt: &tokio::runtime::Runtime,
    storage: &'static TieredStorage,
    key: &CacheKey,
    fields: &[(&'static str, &'static str)],
) {
    rt.block_on(async {
        let mut head = ResponseHeader::build(200, None).expect("head");
        for (k, v) in fields {
            head.insert_header(*k, *v).expect("field");
        }
        let now = SystemTime::now();
        let meta = CacheMeta::new(now + Duration::from_secs(3600), now, 0, 0, head);
        let span = Span::inactive();
        let mut miss = storage
            .get_miss_handler(key, &meta, &span.handle())
            .await
            .expect("miss");
        miss.write_body(bytes::Bytes::from(vec![b'x'; 1024]), true)
            .await
            .expect("write");
        miss.finish().await.expect("finish");
    });
}

/// One lookup that must hit, with its body read.
async fn hit(
    storage: &'static TieredStorage,
    key: &CacheKey,
    span: &Span,
) -> (CacheMeta, Option<bytes::Bytes>) {
    let (meta, mut hit) = storage
        .lookup(key, &span.handle())
        .await
        .expect("lookup")
        .expect("hit");
    let body = hit.read_body().await.expect("body");
    (meta, body)
}

fn benches(c: &mut Criterion) {
    let req = RequestHeader::build("GET", b"/assets/app.js?v=12&lang=en", None).expect("req");
    let policy = outpost_config::CacheKeyPolicy::default();
    let names = outpost_cache::KeyHash::random();
    c.bench_function("cache_key/compute_and_hash", |b| {
        b.iter(|| {
            let key = outpost_proxy::caching::cache_key(
                &names,
                false,
                "www.example.com",
                black_box(&req),
                &policy,
            );
            black_box(key.combined_bin())
        })
    });

    let key = outpost_proxy::caching::cache_key(&names, false, "www.example.com", &req, &policy);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let span = Span::inactive();
    let memory = storage_with(&key, None);
    c.bench_function("cache_lookup/memory_hit_1k", |b| {
        b.iter(|| black_box(rt.block_on(hit(memory, &key, &span))))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = storage_with(&key, Some(dir.path()));
    let io = tokio::runtime::Runtime::new().expect("runtime");
    c.bench_function("cache_lookup/disk_hit_1k", |b| {
        b.iter(|| black_box(io.block_on(hit(disk, &key, &span))))
    });
}

/// The fast path's answer to one request head, with a real `Live` (config, site
/// table, metrics) and a 1 KiB object in its memory tier.
fn fast_path(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let yaml = "listen: { http: \"127.0.0.1:8080\" }\nlog: { access_log: false }\ncache: { memory: 64MiB }\nsites:\n  - hosts: [\"www.example.com\"]\n    origins: [\"http://127.0.0.1:1\"]\n    compression: { enabled: false }\n";
    let cfg = outpost_config::load_str(yaml, std::path::Path::new("bench.yaml")).expect("config");
    let live = outpost_proxy::Live::new(cfg, rt.handle().clone(), false).expect("live");
    let storage = live.cache.expect("cache").storage;
    let req = RequestHeader::build("GET", b"/assets/app.js?v=12&lang=en", None).expect("req");
    let key = outpost_proxy::caching::cache_key(
        storage.key_hash(),
        false,
        "www.example.com",
        &req,
        &outpost_config::CacheKeyPolicy::default(),
    );
    store_1k(
        &rt,
        storage,
        &key,
        &[
            ("server", "nginx/1.22.1"),
            ("content-type", "application/javascript"),
            ("content-length", "1024"),
            ("last-modified", "Fri, 04 Dec 2026 10:17:48 GMT"),
            ("etag", "\"6b12934c-400\""),
            ("cache-control", "max-age=3600"),
            ("accept-ranges", "bytes"),
        ],
    );
    let head = b"GET /assets/app.js?v=12&lang=en HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n";
    let mut out = Vec::with_capacity(4096);
    assert!(outpost_proxy::hit_path::answer_bytes(&live, head, &mut out));
    c.bench_function("fast_path/memory_hit_1k_answer", |b| {
        b.iter(|| {
            let ok = outpost_proxy::hit_path::answer_bytes(&live, black_box(head), &mut out);
            black_box((ok, out.len()))
        })
    });
}

criterion_group!(group, benches, fast_path);
criterion_main!(group);
