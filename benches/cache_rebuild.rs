//! Disk tier cold start: how long rebuilding the index (and purge catalog) takes.
//!
//! Writes N objects of 1 KiB through the real `Storage` API into a temp directory,
//! drops the storage, then times `TieredStorage::new` on that directory and checks
//! that every object is a hit afterwards. One measured run (not criterion: the
//! interesting number is a single cold start).
//!
//! Run: `cargo bench --bench cache_rebuild -- 100000`

use outpost_cache::{TieredStorage, TieredStorageConfig};
use pingora::cache::trace::Span;
use pingora::cache::{CacheKey, CacheMeta, Storage};
use pingora::http::ResponseHeader;
use std::time::{Duration, Instant, SystemTime};

fn config(dir: &std::path::Path) -> TieredStorageConfig {
    TieredStorageConfig {
        memory_bytes: 64 << 20,
        max_memory_object: 64 << 10,
        disk: Some((dir.to_path_buf(), 8 << 30)),
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let span = Span::inactive();
    let body = bytes::Bytes::from(vec![b'x'; 1024]);

    let storage: &'static TieredStorage = Box::leak(Box::new(
        TieredStorage::new(&config(dir.path())).expect("storage"),
    ));
    let fill = Instant::now();
    rt.block_on(async {
        for i in 0..n {
            let key = CacheKey::new(
                format!("4:http6:a.test{}:/obj/{i}", format!("/obj/{i}").len()),
                "",
            );
            let mut header = ResponseHeader::build(200, None).expect("header");
            header
                .insert_header("cache-control", "max-age=3600")
                .expect("cc");
            let now = SystemTime::now();
            let meta = CacheMeta::new(now + Duration::from_secs(3600), now, 0, 0, header);
            let mut miss = storage
                .get_miss_handler(&key, &meta, &span.handle())
                .await
                .expect("miss");
            miss.write_body(body.clone(), true).await.expect("write");
            miss.finish().await.expect("finish");
        }
    });
    println!("filled {n} objects of 1 KiB in {:?}", fill.elapsed());

    let start = Instant::now();
    let reopened: &'static TieredStorage = Box::leak(Box::new(
        TieredStorage::new(&config(dir.path())).expect("reopen"),
    ));
    let rebuild = start.elapsed();
    let stats = reopened.stats();
    println!(
        "cold start: index + catalog rebuilt for {} objects ({} MiB) in {:?}",
        stats.disk_entries,
        stats.disk_bytes >> 20,
        rebuild
    );
    let hits = rt.block_on(async {
        let mut hits = 0;
        for i in (0..n).step_by((n / 1000).max(1)) {
            let key = CacheKey::new(
                format!("4:http6:a.test{}:/obj/{i}", format!("/obj/{i}").len()),
                "",
            );
            if reopened
                .lookup(&key, &span.handle())
                .await
                .expect("lookup")
                .is_some()
            {
                hits += 1;
            }
        }
        hits
    });
    let sampled = n.div_ceil((n / 1000).max(1));
    println!("disk hit rate after restart: {hits}/{sampled} sampled objects");
}
