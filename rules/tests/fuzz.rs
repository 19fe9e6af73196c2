//! Property-based fuzzing of rule patterns and matching (stable Rust, proptest):
//! any pattern text either loads or is a positioned config error, and matching any
//! request against what loaded never panics. Back-references stay within what the
//! wildcards matched. Longer runs: `PROPTEST_CASES=100000 cargo test --release -p
//! outpost-rules --test fuzz`.

use outpost_rules::{RequestView, RuleSet};
use proptest::prelude::*;

/// Pattern and URL text from the characters that matter to the matcher.
fn piece() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("*"),
            Just("/"),
            Just("a"),
            Just("b"),
            Just("."),
            Just("?"),
            Just("="),
            Just("&"),
            Just(":"),
            Just("%"),
            Just("%2F"),
            Just("$1"),
            Just("é"),
            Just("A"),
            Just("http://"),
            Just("https://"),
            Just("a.test"),
            Just(":8080"),
            Just("\\"),
            Just("{"),
            Just("}"),
            Just("["),
            Just("#"),
            Just(" "),
            Just("\""),
        ],
        0..12,
    )
    .prop_map(|v| v.concat())
}

fn load(patterns: &[String]) -> Result<RuleSet, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut yaml = String::new();
    for (i, p) in patterns.iter().enumerate() {
        // Quoted with serde_yaml so that any text is a YAML string.
        let quoted = serde_yaml::to_string(p).expect("yaml string");
        yaml.push_str(&format!(
            "- match: {}  actions: {{ forward: {{ to: \"/to/$1/{i}\", status: 302 }} }}\n",
            quoted.trim_end().to_string() + "\n"
        ));
    }
    std::fs::write(dir.path().join("rules.yaml"), yaml).expect("write");
    let main = "listen: { http: \"127.0.0.1:80\" }\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:1\"]\n    rules: rules.yaml\n";
    match outpost_config::load_str(main, &dir.path().join("outpost.yaml")) {
        Ok(cfg) => Ok(RuleSet::new(&cfg.sites[0].rules)),
        Err(e) => Err(e.to_string()),
    }
}

proptest! {
    #[test]
    fn any_pattern_loads_or_is_a_positioned_error_and_matching_never_panics(
        patterns in proptest::collection::vec(piece(), 1..4),
        host in prop_oneof![Just("a.test".to_string()), Just("b.test".to_string()), piece()],
        path in piece(),
        tls in any::<bool>(),
    ) {
        match load(&patterns) {
            Err(e) => prop_assert!(e.contains("rules.yaml:"), "unpositioned error: {}", e),
            Ok(set) => {
                let headers = http::HeaderMap::new();
                let pq = format!("/{path}");
                let view = RequestView {
                    tls,
                    host: &host,
                    port: if tls { 443 } else { 80 },
                    path_and_query: &pq,
                    method: "GET",
                    headers: &headers,
                    client_ip: None,
                };
                if let Some(m) = set.find(&view) {
                    // Whatever the redirect target renders to, building it must not panic.
                    let _ = m.redirect(&view, Some(443));
                }
            }
        }
    }
}
