//! Micro benchmarks of the per-request path that is ours (not pingora's):
//! config loading, host → site lookup, and origin selection.
//!
//! Run: `cargo bench --bench proxy_path`.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use std::path::Path;

/// A config with `n` sites, alternating exact and wildcard hosts, each with 3 origins.
fn many_sites(n: usize) -> String {
    let mut y = String::from("listen: { http: \"127.0.0.1:8080\" }\nsites:\n");
    for i in 0..n {
        let host = if i % 2 == 0 {
            format!("site{i}.example.com")
        } else {
            format!("*.site{i}.example.net")
        };
        y.push_str(&format!(
            "  - hosts: [\"{host}\"]\n    origins: [\"http://10.0.{}.1:80\", \"http://10.0.{}.2:80\", \"http://10.0.{}.3:80\"]\n    balance: {}\n",
            i % 250,
            i % 250,
            i % 250,
            if i % 3 == 0 { "consistent_hash" } else { "round_robin" }
        ));
    }
    y.push_str("  - default: true\n    origins: [\"http://10.9.9.9:80\"]\n");
    y
}

fn benches(c: &mut Criterion) {
    let yaml = many_sites(1000);
    let path = Path::new("bench.yaml");
    c.bench_function("config/load_1000_sites", |b| {
        b.iter(|| outpost_config::load_str(black_box(&yaml), path).expect("valid"))
    });

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cfg = outpost_config::load_str(&yaml, path).expect("valid");
    let resolver = std::sync::Arc::new(
        outpost_proxy::resolve::Resolver::new(&[], rt.handle().clone()).expect("resolver"),
    );
    let snapshot = outpost_proxy::Snapshot::build(cfg, 1, &resolver).expect("snapshot");
    let mut g = c.benchmark_group("site_lookup_1000_sites");
    for host in [
        "site500.example.com",
        "www.site501.example.net",
        "unknown.example.org",
    ] {
        g.bench_function(host, |b| {
            b.iter(|| snapshot.sites.lookup(black_box(host)).is_some())
        });
    }
    g.finish();

    let rr = snapshot
        .sites
        .lookup("site2.example.com")
        .expect("site")
        .pool
        .clone();
    let hash = snapshot
        .sites
        .lookup("site0.example.com")
        .expect("site")
        .pool
        .clone();
    c.bench_function("origin_select/round_robin", |b| {
        b.iter(|| rr.select(black_box(b""), &[]))
    });
    c.bench_function("origin_select/consistent_hash", |b| {
        b.iter(|| hash.select(black_box(b"/images/cat.jpg"), &[]))
    });
    c.bench_function("host/normalize", |b| {
        b.iter(|| outpost_proxy::site::normalize_host(black_box("WWW.Example.COM:443")))
    });
}

criterion_group!(proxy_path, benches);
criterion_main!(proxy_path);
