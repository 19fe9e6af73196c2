//! Every bad config gets one exact, positioned message: `file:line:col: path: what`.

use outpost_config::load_str;
use std::path::Path;

const CASES: &[(&str, &str, &[&str])] = &[
    (
        "unknown key (typo)",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - hosts: [a.test]\n    orgins: [\"http://x\"]\n",
        &[
            "outpost.yaml:4:5: sites[0]: unknown field `orgins`, expected one of `name`, `hosts`, `default`, `origins`, `balance`, `hash_on`, `origin_host`, `timeouts`, `retries`, `cache`, `heuristic_freshness`, `health_check`, `parent`, `cache_key`, `parent_fallback`, `passive_health`, `rules`, `pools`, `script`, `env`, `kv`, `html_profiles`, `ip_allow`, `ip_deny`, `compression`, `egress`, `triggers`, `tls`, `max_request_body`, `cache_slice`, `images`",
        ],
    ),
    (
        "slice size",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - default: true\n    origins: [\"http://x\"]\n    cache_slice: 0B\n  - hosts: [b.test]\n    origins: [\"http://x\"]\n    cache_slice: big\n",
        &[
            "outpost.yaml:5:18: sites[0].cache_slice: cache_slice must be at least 1 byte",
            "outpost.yaml:8:18: sites[1].cache_slice: \"big\" is not a size (expected a number and unit, e.g. \"512MiB\", \"20GiB\", \"64KiB\")",
        ],
    ),
    (
        "image limits",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - default: true\n    origins: [\"http://x\"]\n    images: { max_pixels: 0, max_transform_time: soon }\n  - hosts: [b.test]\n    origins: [\"http://x\"]\n    images: { max_transform_time: 0s }\n",
        &[
            "outpost.yaml:5:27: sites[0].images.max_pixels: must be at least 1",
            "outpost.yaml:5:50: sites[0].images.max_transform_time: \"soon\" is not a duration (expected a number and unit, e.g. \"500ms\", \"30s\", \"5m\")",
            "outpost.yaml:8:35: sites[1].images.max_transform_time: must be more than 0s",
        ],
    ),
    (
        "KV bindings",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - default: true\n    origins: [\"http://x\"]\n    env: { STORE: x }\n    kv: { STORE: main, 2bad: main, CACHE: \"no spaces\" }\n",
        &[
            "outpost.yaml:6:30: sites[0].kv.2bad: \"2bad\" is not a JavaScript identifier (letters, digits, _ and $)",
            "outpost.yaml:6:43: sites[0].kv.CACHE: namespace \"no spaces\": use 1 to 64 letters, digits, '_' or '-'",
            "outpost.yaml:6:18: sites[0].kv.STORE: \"STORE\" is already an env binding",
        ],
    ),
    (
        "HTML rewrite profiles",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - default: true\n    origins: [\"http://x\"]\n    html_profiles:\n      banner:\n        include: [https_link]\n        append_to_body: \"{{ header.x-user | loud }}\"\n        elements:\n          - select: \"a:hover\"\n            remove: true\n          - select: img\n            rewrite_attribute: { name: src, regex: \"(\", to: x }\n          - select: p\n            append: { markup: x }\n          - select: div\n",
        &[
            "outpost.yaml:7:19: sites[0].html_profiles.banner.include[0]: unknown built-in profile \"https_link\" (expected https_links or strip_comments)",
            "outpost.yaml:8:25: sites[0].html_profiles.banner.append_to_body: unknown filter \"loud\" (expected html_escape, raw, url_encode or default: \"…\")",
            "outpost.yaml:13:32: sites[0].html_profiles.banner.elements[1].rewrite_attribute: bad regex \"(\": regex parse error:\n    (\n    ^\nerror: unclosed group",
            "outpost.yaml:15:21: sites[0].html_profiles.banner.elements[2].append: expected markup, { html: \"…\" } or { text: \"…\" }",
            "outpost.yaml:16:13: sites[0].html_profiles.banner.elements[3]: no action for the selected elements",
        ],
    ),
    (
        "ACME",
        "listen: { https: \"0.0.0.0:443\" }\ntls:\n  acme: { directory_url: \"http://ca.test/dir\", email: nobody, key_type: rsa-1024 }\nsites:\n  - hosts: [a.test, \"*.b.test\"]\n    origins: [\"http://x\"]\n    tls: { acme: { challenge: dns-01 } }\n",
        &[
            "outpost.yaml:3:26: tls.acme.directory_url: \"http://ca.test/dir\" is not an ACME directory URL (expected https://…, \"letsencrypt\" or \"letsencrypt-staging\")",
            "outpost.yaml:3:55: tls.acme.email: \"nobody\" is not an email address",
            "outpost.yaml:3:73: tls.acme.key_type: \"rsa-1024\" is not a key type (expected \"ecdsa-p256\", \"ecdsa-p384\" or \"rsa-2048\")",
            "outpost.yaml:7:18: sites[0].tls.acme: *.b.test cannot get an ACME certificate by http-01 or tls-alpn-01 (wildcards need dns-01): list the names, or give the site a certificate in tls.certificates",
            "outpost.yaml:7:31: sites[0].tls.acme.challenge: \"dns-01\" is not an ACME challenge (expected \"http-01\" or \"tls-alpn-01\")",
            "outpost.yaml:7:18: sites[0].tls.acme: the http-01 challenge needs the plain HTTP listener (listen.http, port 80 in production); or use challenge: tls-alpn-01",
        ],
    ),
    (
        "request id header",
        "listen: { http: \"0.0.0.0:80\" }\nserver: { request_id_header: \"x id\" }\nsites:\n  - { default: true, origins: [\"http://x\"] }\n",
        &[
            "outpost.yaml:2:30: server.request_id_header: \"x id\" is not a header name (\"\" turns the header off)",
        ],
    ),
    (
        "origin with a bad scheme",
        "listen:\n  http: \"0.0.0.0:80\"\nsites:\n  - hosts: [a.test]\n    origins:\n      - http://10.0.0.5:8080\n      - htp://x\n",
        &[
            "outpost.yaml:7:9: sites[0].origins[1]: \"htp://x\" is not a URL (expected http://HOST[:PORT], https://HOST[:PORT] or static:DIR)",
        ],
    ),
    (
        "origin with a path",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - hosts: [a.test]\n    origins: [\"http://x/app\"]\n",
        &[
            "outpost.yaml:4:15: sites[0].origins[0]: \"http://x/app\": an origin URL cannot have a path, query or fragment (expected http://HOST[:PORT], https://HOST[:PORT] or static:DIR)",
        ],
    ),
    (
        "listen address",
        "listen: { http: \"localhost\" }\nsites:\n  - { default: true, origins: [\"http://x\"] }\n",
        &[
            "outpost.yaml:1:17: listen.http: \"localhost\" is not a listen address (expected IP:PORT, e.g. \"0.0.0.0:8080\" or \"[::]:443\")",
        ],
    ),
    (
        "duration",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - default: true\n    origins: [\"http://x\"]\n    timeouts: { connect: 5 parsecs }\n",
        &[
            "outpost.yaml:5:26: sites[0].timeouts.connect: \"5 parsecs\" is not a duration (expected a number and unit, e.g. \"500ms\", \"30s\", \"5m\")",
        ],
    ),
    (
        "wrong type",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - default: true\n    origins: [\"http://x\"]\n    retries: lots\n",
        &["outpost.yaml:5:14: sites[0].retries: invalid type: string \"lots\", expected u32"],
    ),
    (
        "duplicate host and two defaults, both reported",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - hosts: [a.test]\n    default: true\n    origins: [\"http://x\"]\n  - hosts: [\"A.test\"]\n    default: true\n    origins: [\"http://y\"]\n",
        &[
            "outpost.yaml:6:13: sites[1].hosts[0]: host \"A.test\" is already served by sites[0]",
            "outpost.yaml:7:14: sites[1].default: sites[0] is already the default site; only one site can be",
        ],
    ),
    (
        "bad host name",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - hosts: [\"exa mple.com\"]\n    origins: [\"http://x\"]\n",
        &[
            "outpost.yaml:3:13: sites[0].hosts[0]: \"exa mple.com\" is not a host name (only letters, digits, '-' and a leading \"*.\" are allowed)",
        ],
    ),
    (
        "https without certificates",
        "listen: { https: \"0.0.0.0:443\" }\nsites:\n  - { default: true, origins: [\"http://x\"] }\n",
        &[
            "outpost.yaml:1:18: listen.https: an HTTPS listener needs at least one certificate in tls.certificates or a site with tls.acme (try `outpost cert self-signed HOST`)",
        ],
    ),
    (
        "missing certificate file",
        "listen: { http: \"0.0.0.0:80\" }\ntls:\n  certificates:\n    - cert: /nonexistent/a.pem\n      key: /nonexistent/a.key\nsites:\n  - { default: true, origins: [\"http://x\"] }\n",
        &[
            "outpost.yaml:4:13: tls.certificates[0].cert: certificate file \"/nonexistent/a.pem\" (resolved to /nonexistent/a.pem) does not exist or is not a file",
            "outpost.yaml:5:12: tls.certificates[0].key: private key file \"/nonexistent/a.key\" (resolved to /nonexistent/a.key) does not exist or is not a file",
        ],
    ),
    (
        "static root missing",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - { default: true, origins: [\"static:/nonexistent/www\"] }\n",
        &[
            "outpost.yaml:3:32: sites[0].origins[0]: static root \"/nonexistent/www\" (resolved to /nonexistent/www) does not exist or is not a directory",
        ],
    ),
    (
        "no sites, no listener",
        "log: { format: json }\n",
        &[
            "outpost.yaml:1:1: listen: no listener configured (expected listen.http and/or listen.https)",
            "outpost.yaml:1:1: sites: no sites configured (expected at least one entry under sites)",
        ],
    ),
    (
        "site without origins or hosts",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - name: empty\n",
        &[
            "outpost.yaml:3:5: sites[0].hosts: a site needs at least one host (or `default: true`)",
            "outpost.yaml:3:5: sites[0].origins: a site needs at least one origin (e.g. \"http://10.0.0.5:8080\" or \"static:./public\")",
        ],
    ),
    (
        "enum values",
        "listen: { http: \"0.0.0.0:80\" }\nlog: { format: xml }\nsites:\n  - default: true\n    origins: [\"http://x\"]\n    balance: random\n",
        &[
            "outpost.yaml:2:16: log.format: \"xml\" is not a log format (expected \"text\" or \"json\")",
            "outpost.yaml:6:14: sites[0].balance: \"random\" is not a balancing method (expected \"round_robin\" or \"consistent_hash\")",
        ],
    ),
    (
        "health check values",
        "listen: { http: \"0.0.0.0:80\" }\nsites:\n  - default: true\n    origins: [\"http://x\"]\n    health_check:\n      path: healthz\n      expect_status: 999\n",
        &[
            "outpost.yaml:6:13: sites[0].health_check.path: \"healthz\" is not an absolute path (expected it to start with '/')",
            "outpost.yaml:7:22: sites[0].health_check.expect_status: 999 is not an HTTP status (expected 100..599)",
        ],
    ),
    (
        "YAML syntax",
        "listen: { http: \"0.0.0.0:80\"\nsites: []\n",
        &[
            "outpost.yaml:2:1: did not find expected ',' or '}', while parsing a flow mapping at line 1 column 9",
        ],
    ),
];

#[test]
fn bad_configs_get_exact_positioned_errors() {
    let mut failures = Vec::new();
    for (name, yaml, want) in CASES {
        match load_str(yaml, Path::new("outpost.yaml")) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(e) => {
                let got: Vec<String> = e.diagnostics().iter().map(|d| d.to_string()).collect();
                if got != *want {
                    failures.push(format!("{name}:\n  want {want:#?}\n  got  {got:#?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn good_config_loads_with_defaults() {
    let yaml = "listen: { http: \"127.0.0.1:8080\", h2c: true }\nsites:\n  - hosts: [\"example.com\", \"*.example.com\"]\n    origins: [\"http://10.0.0.5:8080\", \"https://origin.example.net\"]\n    balance: consistent_hash\n    hash_on: header:X-User\n";
    let cfg = load_str(yaml, Path::new("outpost.yaml")).expect("valid");
    let site = &cfg.sites[0];
    assert_eq!(site.name, "example.com");
    assert_eq!(
        site.hash_on,
        outpost_config::HashOn::Header("x-user".into())
    );
    assert_eq!(site.retries, 1);
    assert_eq!(site.timeouts.connect, std::time::Duration::from_secs(5));
    assert!(cfg.listen.h2c);
    assert_eq!(cfg.log.format, outpost_config::LogFormat::Text);
}

#[test]
fn examples_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for entry in std::fs::read_dir(&root).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            outpost_config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn acme_sites_inherit_the_global_defaults() {
    let yaml = "listen: { http: \"127.0.0.1:80\", https: \"127.0.0.1:443\" }\ntls:\n  acme: { email: ops@example.com, directory_url: letsencrypt-staging }\nsites:\n  - hosts: [a.test, www.a.test]\n    origins: [\"http://x\"]\n    tls: { acme: {} }\n  - hosts: [b.test]\n    origins: [\"http://x\"]\n    tls: { acme: { challenge: tls-alpn-01, directory_url: \"https://ca.example/dir\" } }\n";
    let cfg = load_str(yaml, Path::new("/etc/outpost/outpost.yaml")).expect("valid");
    let a = cfg.sites[0].acme.as_ref().expect("acme");
    assert_eq!(a.names, ["a.test", "www.a.test"]);
    assert_eq!(a.directory_url, outpost_config::LETS_ENCRYPT_STAGING);
    assert_eq!(a.email.as_deref(), Some("ops@example.com"));
    assert_eq!(a.challenge, outpost_config::AcmeChallenge::Http01);
    let b = cfg.sites[1].acme.as_ref().expect("acme");
    assert_eq!(b.challenge, outpost_config::AcmeChallenge::TlsAlpn01);
    assert_eq!(b.directory_url, "https://ca.example/dir");
    assert_eq!(cfg.tls.acme.storage, Path::new("/etc/outpost/acme"));
    assert!(
        cfg.tls.certificates.is_empty(),
        "no file certificate needed with ACME"
    );
}
