//! On-the-fly compression cost on a realistic ~60 KiB HTML page (the docs-page
//! fixture, its main section repeated), fed in 16 KiB chunks with a flush after each,
//! exactly as the proxy's compression module does for one response: gzip 1/6, br 1/4,
//! zstd 3 (the defaults are gzip 6, br 4, zstd 3).
//!
//! This is the price of the cache keeping one uncompressed copy and compressing per
//! client; each iteration is one response. The compressed sizes are printed once so
//! that the ratio sits next to the speed.
//!
//! Run: `cargo bench --bench compress`. Criterion prints MiB/s of input.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use outpost_scripting::codec::{Codec, Coding};

const CHUNK: usize = 16 << 10;

#[path = "support/page.rs"]
mod support;
use support::page;

/// One response's worth of compression; returns the compressed size.
fn compress(coding: Coding, level: u32, page: &[u8]) -> usize {
    let mut enc = Codec::encoder_at(coding, level).expect("encoder");
    let mut n = 0;
    for c in page.chunks(CHUNK) {
        n += enc.push(c).expect("push").len();
    }
    n + enc.finish().expect("finish").len()
}

fn benches(c: &mut Criterion) {
    let page = page();
    let page = page.as_bytes();
    let cases = [
        (Coding::Gzip, 1, "gzip-1"),
        (Coding::Gzip, 6, "gzip-6"),
        (Coding::Brotli, 1, "br-1"),
        (Coding::Brotli, 4, "br-4"),
        (Coding::Zstd, 3, "zstd-3"),
    ];
    for (coding, level, name) in cases {
        let size = compress(coding, level, page);
        eprintln!(
            "{name}: {} -> {size} bytes ({:.1}%)",
            page.len(),
            100.0 * size as f64 / page.len() as f64
        );
    }
    let mut group = c.benchmark_group("compress_60k_page");
    group.throughput(Throughput::Bytes(page.len() as u64));
    for (coding, level, name) in cases {
        group.bench_function(name, |b| {
            b.iter(|| compress(coding, level, black_box(page)))
        });
    }
    group.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
