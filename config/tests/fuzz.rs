//! Property-based fuzzing of the config loader (stable Rust, proptest): any text is
//! a `Config` or errors that each name the file and a line, never a panic; YAML
//! built from the real keys with hostile values likewise. Longer runs:
//! `PROPTEST_CASES=100000 cargo test --release -p outpost-config --test fuzz`.

use outpost_config::load_str;
use proptest::prelude::*;
use std::path::Path;

fn check(text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = load_str(text, Path::new("outpost.yaml")) {
        let diags = e.diagnostics();
        prop_assert!(!diags.is_empty(), "an error with no diagnostic");
        for d in diags {
            let s = d.to_string();
            prop_assert!(s.starts_with("outpost.yaml:"), "unpositioned: {}", s);
        }
    }
    Ok(())
}

/// A YAML scalar that is often almost right.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"127.0.0.1:80\"".to_string()),
        Just("\"[::1]:0\"".to_string()),
        Just("\"http://127.0.0.1:1\"".to_string()),
        Just("\"static:.\"".to_string()),
        Just("512MiB".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e308".to_string()),
        Just("30s".to_string()),
        Just("\"\"".to_string()),
        Just("~".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("true".to_string()),
        Just("\"*.\"".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("&a [*a]".to_string()),
        "[a-z0-9:/.*]{0,12}".prop_map(|s| format!("{s:?}")),
    ]
}

fn key() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("hosts"),
        Just("origins"),
        Just("default"),
        Just("cache"),
        Just("retries"),
        Just("timeouts"),
        Just("balance"),
        Just("hash_on"),
        Just("compression"),
        Just("tls"),
        Just("max_request_body"),
        Just("ip_allow"),
        Just("env"),
        Just("kv"),
        Just("script"),
        Just("rules"),
        Just("html_profiles"),
        Just("pools"),
        Just("parent"),
    ]
}

proptest! {
    #[test]
    fn any_text_loads_or_gets_positioned_errors(text in "\\PC{0,300}") {
        check(&text)?;
    }

    #[test]
    fn real_keys_with_hostile_values(
        listen in value(),
        fields in proptest::collection::vec((key(), value()), 0..8),
        server in proptest::collection::vec((prop_oneof![Just("threads"), Just("shutdown_timeout"), Just("script_cpu_limit"), Just("script_memory_limit")], value()), 0..3),
        cache in proptest::collection::vec((prop_oneof![Just("memory"), Just("disk"), Just("max_memory_object")], value()), 0..3),
    ) {
        let mut yaml = format!("listen: {{ http: {listen} }}\nserver: {{ ");
        for (k, v) in &server {
            yaml.push_str(&format!("{k}: {v}, "));
        }
        yaml.push_str("}\ncache: { ");
        for (k, v) in &cache {
            yaml.push_str(&format!("{k}: {v}, "));
        }
        yaml.push_str("}\nsites:\n  - origins: [\"http://127.0.0.1:1\"]\n");
        for (k, v) in &fields {
            yaml.push_str(&format!("    {k}: {v}\n"));
        }
        check(&yaml)?;
    }
}
