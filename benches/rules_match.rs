//! Page rule matching cost as the rule count grows (10, 1 000, 10 000 rules), plus
//! the cost of loading and validating a 10 000-rule file.
//!
//! Run: `cargo bench --bench rules_match`.
//!
//! The rules look like a large site's: one per section (`example.com/sN/*`) with
//! varied actions, a few host wildcards, and a catch-all last. Requests probe the
//! last section (the worst case for a linear scan), an early one, and a URL that
//! only the catch-all matches.

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use outpost_rules::{RequestView, RuleSet};

fn rules_yaml(n: usize) -> String {
    let mut y = String::new();
    for i in 0..n.saturating_sub(3) {
        let actions = match i % 4 {
            0 => "{ cache_level: cache_everything, edge_ttl: 1d }".to_string(),
            1 => format!("{{ forward: {{ to: \"https://example.com/new{i}/$1\", status: 301 }} }}"),
            2 => "{ set_response_headers: { x-section: \"1\" }, browser_ttl: 1h }".to_string(),
            _ => "{ cache_level: bypass }".to_string(),
        };
        y.push_str(&format!(
            "- match: \"example.com/s{i}/*\"\n  actions: {actions}\n"
        ));
    }
    y.push_str("- match: \"*.example.com/static/*\"\n  actions: { edge_ttl: 7d }\n");
    y.push_str("- match: \"example.com/api/*\"\n  when: { header: { x-beta: \"1\" } }\n  actions: { cache_level: bypass }\n");
    y.push_str("- match: \"example.com/*\"\n  actions: { browser_ttl: 10m }\n");
    y
}

fn load(n: usize, dir: &std::path::Path) -> outpost_config::Config {
    std::fs::write(dir.join(format!("rules{n}.yaml")), rules_yaml(n)).expect("write rules");
    let main = format!(
        "listen: {{ http: \"127.0.0.1:8080\" }}\nsites:\n  - hosts: [example.com, \"*.example.com\"]\n    origins: [\"http://127.0.0.1:9\"]\n    rules: rules{n}.yaml\n"
    );
    outpost_config::load_str(&main, &dir.join("outpost.yaml")).expect("valid rules")
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let headers = http::HeaderMap::new();
    let mut g = c.benchmark_group("rules_find");
    for n in [10usize, 1_000, 10_000] {
        let cfg = load(n, dir.path());
        let set = RuleSet::new(&cfg.sites[0].rules);
        assert_eq!(set.len(), n);
        let last = format!("/s{}/page.html?x=1", n - 4);
        for (label, path) in [
            ("last_section", last.as_str()),
            ("first_section", "/s0/a/b.css"),
            ("catch_all", "/about/team"),
        ] {
            let view = RequestView {
                tls: true,
                host: "example.com",
                port: 443,
                path_and_query: path,
                method: "GET",
                headers: &headers,
                client_ip: None,
            };
            assert!(set.find(&view).is_some(), "{label} must match a rule");
            g.bench_with_input(BenchmarkId::new(label, n), &view, |b, v| {
                b.iter(|| set.find(black_box(v)))
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("rules_load");
    g.sample_size(10);
    g.bench_function("config_with_10000_rules", |b| {
        b.iter(|| load(10_000, dir.path()))
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
