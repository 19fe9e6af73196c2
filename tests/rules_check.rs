//! `outpost check` on bad rules files: every problem gets one exact message with the
//! rules file's own line and column. Runs the real binary.

mod common;

use std::process::Command;

const MAIN: &str = r#"listen: { http: "127.0.0.1:8080" }
sites:
  - hosts: [example.com, "*.example.com"]
    origins: ["http://127.0.0.1:9"]
    pools: { api: ["http://127.0.0.1:10"] }
    rules: rules.yaml
"#;

/// Runs `outpost check` in a directory holding MAIN and `rules` (if any); returns
/// (success, stdout, stderr).
fn check(rules: Option<&str>, extra: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("outpost.yaml"), MAIN).expect("write");
    if let Some(r) = rules {
        std::fs::write(dir.path().join("rules.yaml"), r).expect("write");
    }
    let out = Command::new(common::outpost_bin())
        .args(["check", "--config", "outpost.yaml"])
        .args(extra)
        .current_dir(dir.path())
        .output()
        .expect("run outpost check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_rules_files_get_exact_positioned_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown action",
            "- match: \"/x\"\n  actions: { cache_levl: bypass }\n",
            "error: rules.yaml:2:14: [0].actions: unknown field `cache_levl`, expected one of `always_use_https`, `forward`, `cache_level`, `edge_ttl`, `browser_ttl`, `bypass_cache_on_cookie`, `cache_key`, `origin_cache_control`, `cache_deception_armor`, `cache_errors`, `heuristic_freshness`, `image`, `set_request_headers`, `add_request_headers`, `remove_request_headers`, `set_response_headers`, `add_response_headers`, `remove_response_headers`, `rewrite`, `host_header`, `origin`, `script`, `html_rewrite`, `rate_limit`, `disable`",
        ),
        (
            "unknown scheme",
            "- match: \"ftp://x/*\"\n  actions: { cache_level: bypass }\n",
            "error: rules.yaml:1:10: [0].match: \"ftp://x/*\": scheme \"ftp\" is not http or https (leave it out to match both)",
        ),
        (
            "wildcard port",
            "- match: \"example.com:*/x\"\n  actions: { cache_level: bypass }\n",
            "error: rules.yaml:1:10: [0].match: \"example.com:*/x\": port \"*\" is not a number from 1 to 65535 (wildcards are not allowed in ports; leave the port out to match all)",
        ),
        (
            "$n beyond the wildcards",
            "- match: \"example.com/old/*\"\n  actions:\n    forward: { to: \"/new/$2\", status: 301 }\n",
            "error: rules.yaml:3:20: [0].actions.forward.to: $2 refers to wildcard 2, but the pattern \"example.com/old/*\" has only one ($1)",
        ),
        (
            "bad forwarding target and status",
            "- match: \"example.com/old/*\"\n  actions:\n    forward: { to: \"new/$1\", status: 305 }\n",
            "error: rules.yaml:3:20: [0].actions.forward.to: \"new/$1\" is not a forwarding target (expected an http(s):// URL or a path starting with '/')\nrules.yaml:3:38: [0].actions.forward.status: 305 is not a redirect status (expected 301, 302, 303, 307 or 308)",
        ),
        (
            "forward combined with another action",
            "- match: \"example.com/a/*\"\n  actions:\n    forward: { to: \"/b/$1\" }\n    cache_level: bypass\n",
            "error: rules.yaml:3:14: [0].actions.forward: forward answers with a redirect at once, so it cannot be combined with cache_level (put them in a separate rule)",
        ),
        (
            "conflicting cache actions",
            "- match: \"example.com/a/*\"\n  actions: { cache_level: bypass, edge_ttl: 1h }\n- match: \"example.com/b/*\"\n  actions: { origin_cache_control: false }\n",
            "error: rules.yaml:2:45: [0].actions.edge_ttl: edge_ttl has no effect with cache_level: bypass (nothing is cached)\nrules.yaml:4:36: [1].actions.origin_cache_control: origin_cache_control: false needs edge_ttl or cache_level: cache_everything (otherwise nothing says how long to cache)",
        ),
        (
            "unknown origin pool",
            "- match: \"example.com/a/*\"\n  actions: { origin: apii }\n",
            "error: rules.yaml:2:22: [0].actions.origin: no origin pool named \"apii\": the site's pools are: api",
        ),
        (
            "unknown HTML rewrite profile",
            "- match: \"example.com/a/*\"\n  actions: { html_rewrite: https_link }\n",
            "error: rules.yaml:2:28: [0].actions.html_rewrite: no HTML rewrite profile named \"https_link\": the site's html_profiles and the built-ins are: https_links, strip_comments",
        ),
        (
            "bad rate limit",
            "- match: \"example.com/login\"\n  actions: { rate_limit: { requests: 0, per: 1m, key: \"ip\", action: ban } }\n",
            "error: rules.yaml:2:38: [0].actions.rate_limit.requests: allow at least one request per window\nrules.yaml:2:55: [0].actions.rate_limit.key: \"ip\" is not a rate-limit key (expected client_ip, header:NAME or cookie:NAME)\nrules.yaml:2:69: [0].actions.rate_limit.action: \"ban\" is not a rate-limit action (expected block or challenge_header)",
        ),
        (
            "bad regex and network in conditions",
            "- match: \"example.com/a/*\"\n  when: { header: { user-agent: { regex: \"(bot\" } }, client_ip: \"10.0.0.0/33\" }\n  actions: { cache_level: bypass }\n",
            "error: rules.yaml:2:33: [0].when.header.user-agent: \"(bot\" is not a valid regex: unclosed group\nrules.yaml:2:65: [0].when.client_ip: \"10.0.0.0/33\" is not an IP network (expected e.g. \"10.0.0.0/8\", \"2001:db8::/32\" or \"192.0.2.7\")",
        ),
        (
            "header edits Outpost owns, or that contradict",
            "- match: \"example.com/*\"\n  actions: { set_request_headers: { host: x }, remove_response_headers: [x-a], set_response_headers: { x-a: \"1\" } }\n",
            "error: rules.yaml:2:43: [0].actions.set_request_headers.host: \"host\" is managed by Outpost and cannot be changed by a rule (use the host_header action for the Host sent to the origin)\nrules.yaml:2:74: [0].actions.remove_response_headers[0]: \"x-a\" is both removed and set/added by this rule; keep one",
        ),
        (
            "YAML syntax",
            "- match: \"example.com/*\"\n  actions: { cache_level: bypass\n",
            "error: rules.yaml:3:1: did not find expected ',' or '}', while parsing a flow mapping at line 2 column 12",
        ),
        (
            "missing script",
            "- match: \"example.com/*\"\n  actions: { script: nope.js }\n",
            "error: rules.yaml:2:22: [0].actions.script: script file \"nope.js\" (resolved to nope.js) does not exist or is not a file",
        ),
        (
            "no actions",
            "- match: \"example.com/*\"\n  actions: {}\n",
            "error: rules.yaml:2:12: [0].actions: the rule has no actions",
        ),
        (
            "doubled wildcard",
            "- match: \"example.com/**\"\n  actions: { cache_level: bypass }\n",
            "error: rules.yaml:1:10: [0].match: \"example.com/**\": `**` is the same as `*` but shifts the $n numbering; write one `*`",
        ),
    ];
    let mut failures = Vec::new();
    for (name, rules, want) in cases {
        let (ok, _, stderr) = check(Some(rules), &[]);
        if ok || stderr.trim_end() != *want {
            failures.push(format!(
                "{name}:\n  want {want}\n  got  {}",
                stderr.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_rules_file_is_reported_in_the_main_config() {
    let (ok, _, stderr) = check(None, &[]);
    assert!(!ok);
    assert_eq!(
        stderr.trim_end(),
        "error: outpost.yaml:6:12: sites[0].rules: rules file \"rules.yaml\" (resolved to rules.yaml): cannot read: No such file or directory (os error 2)"
    );
}

#[test]
fn rules_that_can_never_apply_are_warnings() {
    let rules = "- match: \"example.com/*\"\n  actions: { cache_level: bypass }\n- match: \"example.com/static/*\"\n  actions: { edge_ttl: 1d }\n- match: \"example.org/*\"\n  actions: { edge_ttl: 1d }\n- match: \"example.com/api/*\"\n  when: { method: POST }\n  actions: { cache_level: bypass }\n";
    let (ok, stdout, stderr) = check(Some(rules), &[]);
    assert!(ok, "warnings do not fail the check: {stderr}");
    assert_eq!(
        stdout.trim_end(),
        "ok: outpost.yaml (1 site, 4 page rules, 0 scripts, 0 HTML profiles, 0 certificates)"
    );
    assert_eq!(
        stderr.trim_end(),
        "warning: rules.yaml:3:10: [1].match: this rule never applies: the rule at rules.yaml:1 (\"example.com/*\") matches every URL it matches and comes first\n\
         warning: rules.yaml:5:10: [2].match: this rule never applies: host \"example.org\" matches none of the site's hosts (example.com, *.example.com)\n\
         warning: rules.yaml:7:10: [3].match: this rule never applies: the rule at rules.yaml:1 (\"example.com/*\") matches every URL it matches and comes first"
    );
    let (ok, _, stderr) = check(Some(rules), &["--deny-warnings"]);
    assert!(!ok);
    assert!(
        stderr.ends_with("error: 3 warning(s) and --deny-warnings was given\n"),
        "{stderr}"
    );
    // A rule shadowed only by a conditional rule is reachable: no warning.
    let (ok, _, stderr) = check(
        Some(
            "- match: \"example.com/*\"\n  when: { method: POST }\n  actions: { cache_level: bypass }\n- match: \"example.com/static/*\"\n  actions: { edge_ttl: 1d }\n",
        ),
        &["--deny-warnings"],
    );
    assert!(ok, "{stderr}");
}
