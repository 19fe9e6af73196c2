//! URL pattern matching, conditions and back-references, table-driven. Rules are
//! loaded through `outpost-config` from a real rules file, as `outpost run` does.

use outpost_rules::{Match, RequestView, RuleSet};
use std::net::IpAddr;

/// Loads `rules_yaml` as the rules file of a default site.
fn load(rules_yaml: &str) -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), rules_yaml).expect("write rules");
    let main = "listen: { http: \"127.0.0.1:80\" }\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:1\"]\n    rules: rules.yaml\n";
    let cfg = outpost_config::load_str(main, &dir.path().join("outpost.yaml"))
        .unwrap_or_else(|e| panic!("rules did not load:\n{e}"));
    RuleSet::new(&cfg.sites[0].rules)
}

/// One rule per pattern, each tagged with its index.
fn patterns(list: &[&str]) -> RuleSet {
    let mut yaml = String::new();
    for (i, p) in list.iter().enumerate() {
        yaml.push_str(&format!(
            "- match: {p:?}\n  actions: {{ set_response_headers: {{ x-rule: \"{i}\" }} }}\n"
        ));
    }
    load(&yaml)
}

struct Req {
    tls: bool,
    host: String,
    port: u16,
    pq: String,
    method: String,
    headers: http::HeaderMap,
    ip: Option<IpAddr>,
}

impl Req {
    fn new(url: &str) -> Req {
        let uri: http::Uri = url.parse().expect("test URL");
        let tls = uri.scheme_str() == Some("https");
        let a = uri.authority().expect("authority");
        Req {
            tls,
            // The proxy lowercases the host before matching.
            host: a.host().to_ascii_lowercase(),
            port: a.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            pq: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            method: "GET".into(),
            headers: http::HeaderMap::new(),
            ip: Some("127.0.0.1".parse().expect("ip")),
        }
    }

    fn header(mut self, k: &'static str, v: &str) -> Req {
        self.headers.append(k, v.parse().expect("value"));
        self
    }

    fn view(&self) -> RequestView<'_> {
        RequestView {
            tls: self.tls,
            host: &self.host,
            port: self.port,
            path_and_query: &self.pq,
            method: &self.method,
            headers: &self.headers,
            client_ip: self.ip,
        }
    }

    fn find(&self, set: &RuleSet) -> Option<Match> {
        set.find(&self.view())
    }
}

fn index_of(m: &Match) -> usize {
    m.rule.source.index
}

#[test]
fn pattern_table() {
    // (pattern, URL, captures if it matches)
    let cases: &[(&str, &str, Option<&[&str]>)] = &[
        // Cloudflare's documented examples.
        ("example.com/t*st", "http://example.com/test", Some(&["e"])),
        (
            "example.com/t*st",
            "http://example.com/toast",
            Some(&["oa"]),
        ),
        (
            "example.com/t*st",
            "http://example.com/trust",
            Some(&["ru"]),
        ),
        ("example.com/t*st", "http://example.com/foo/t/test", None),
        ("example.com/foo/*", "http://example.com/foo", None),
        ("example.com/foo*", "http://example.com/foo", Some(&[""])),
        ("example.com", "http://example.com/", Some(&[])),
        ("example.com", "http://example.com/page", None),
        ("example.com/*", "http://example.com/a/b", Some(&["a/b"])),
        (
            "*example.com/*",
            "https://www.example.com/x",
            Some(&["www.", "x"]),
        ),
        ("*example.com/*", "http://example.com/x", Some(&["", "x"])),
        ("*.example.com/*", "http://example.com/x", None),
        (
            "*.example.com/*",
            "https://a.b.example.com/img/1.png",
            Some(&["a.b", "img/1.png"]),
        ),
        (
            "www.example.com/*/*.jpg",
            "http://www.example.com/a/b/c.jpg",
            Some(&["a", "b/c"]),
        ),
        // Scheme: optional; when given it must match.
        ("http://example.com/*", "https://example.com/a", None),
        ("http://example.com/*", "http://example.com/a", Some(&["a"])),
        (
            "https://example.com/*",
            "https://example.com/a",
            Some(&["a"]),
        ),
        ("example.com/*", "https://example.com/a", Some(&["a"])),
        // Port: optional; the scheme's default counts when the URL has none.
        (
            "example.com:8080/*",
            "http://example.com:8080/a",
            Some(&["a"]),
        ),
        ("example.com:8080/*", "http://example.com/a", None),
        ("example.com/*", "http://example.com:8080/a", Some(&["a"])),
        (
            "https://example.com:443/*",
            "https://example.com/a",
            Some(&["a"]),
        ),
        // Case: host insensitive, path sensitive.
        ("EXAMPLE.com/a", "http://Example.COM/a", Some(&[])),
        ("example.com/Path", "http://example.com/path", None),
        // Query: ignored by patterns without `?` (and never captured); matched by those with one.
        (
            "example.com/page",
            "http://example.com/page?utm=1",
            Some(&[]),
        ),
        (
            "example.com/page*",
            "http://example.com/page?x=1",
            Some(&[""]),
        ),
        (
            "example.com/search?q=*",
            "http://example.com/search?q=cats",
            Some(&["cats"]),
        ),
        ("example.com/search?q=*", "http://example.com/search", None),
        (
            "example.com/*?*",
            "http://example.com/a?b=1",
            Some(&["a", "b=1"]),
        ),
        // Any host of the site, and paths matched as sent (no decoding).
        (
            "/static/*",
            "http://anything.test/static/x.css",
            Some(&["x.css"]),
        ),
        ("example.com/a%20b", "http://example.com/a%20b", Some(&[])),
        ("example.com/a b", "http://example.com/a%20b", None),
    ];
    let mut failures = Vec::new();
    for (pattern, url, want) in cases {
        if pattern.contains(' ') {
            // Spaces are rejected at load; the request can never carry one either.
            continue;
        }
        let set = patterns(&[pattern]);
        let got = Req::new(url).find(&set).map(|m| {
            m.captures
                .iter()
                .map(String::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
        let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        if got != want {
            failures.push(format!("{pattern:?} on {url}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn first_match_wins_across_the_index() {
    let set = patterns(&[
        "example.com/a/*",   // 0: exact host, segment "a"
        "*/a/b",             // 1: any host, segment "a"
        "example.com/*",     // 2: exact host, any segment
        "*.example.com/a/*", // 3: wildcard host
        "/*",                // 4: any host of the site
    ]);
    let at = |url: &str| Req::new(url).find(&set).map(|m| index_of(&m));
    assert_eq!(at("http://example.com/a/b"), Some(0));
    assert_eq!(at("http://example.com/c"), Some(2));
    assert_eq!(at("http://other.test/a/b"), Some(1));
    assert_eq!(at("http://x.example.com/a/z"), Some(3));
    assert_eq!(at("http://x.example.com/z"), Some(4));
}

#[test]
fn back_references_fill_forwarding_targets() {
    let set = load(
        r#"
- match: "*.example.com/*"
  actions: { forward: { to: "https://example.com/$1/$2", status: 301 } }
- match: "example.com/keep/*"
  actions: { forward: { to: "/new/$1", status: 302 } }
- match: "example.com/drop/*"
  actions: { forward: { to: "/new/$1?src=old", status: 307, keep_query: false } }
- match: "example.com/search?q=*"
  actions: { forward: { to: "https://search.example.com/?term=$1", status: 308 } }
- match: "http://example.com/*"
  actions: { always_use_https: true }
"#,
    );
    let redirect = |url: &str, https_port: Option<u16>| {
        let r = Req::new(url);
        let m = r.find(&set).expect("a rule matches");
        let d = m
            .redirect(&r.view(), https_port)
            .expect("redirects")
            .expect("valid");
        (d.status, d.location)
    };
    assert_eq!(
        redirect("http://www.example.com/stuff?x=1", None),
        (301, "https://example.com/www/stuff?x=1".to_string())
    );
    assert_eq!(
        redirect("http://example.com/keep/a/b?x=1&y=2", None),
        (302, "/new/a/b?x=1&y=2".to_string())
    );
    assert_eq!(
        redirect("http://example.com/drop/a?x=1", None),
        (307, "/new/a?src=old".to_string())
    );
    assert_eq!(
        redirect("http://example.com/search?q=rust", None),
        (308, "https://search.example.com/?term=rust".to_string())
    );
    assert_eq!(
        redirect("http://example.com/x?y=1", None),
        (301, "https://example.com/x?y=1".to_string())
    );
    assert_eq!(
        redirect("http://example.com/x", Some(8443)),
        (301, "https://example.com:8443/x".to_string())
    );
    // Already HTTPS: the http:// rule does not even match.
    assert!(Req::new("https://example.com/x").find(&set).is_none());
}

#[test]
fn rewrites_substitute_into_path_and_query() {
    let set = load(
        r#"
- match: "/v1/*"
  actions: { rewrite: { path: "/api/v1/$1" } }
- match: "/img/*.png"
  actions: { rewrite: { path: "/images/$1.webp", query: "fmt=webp" } }
- match: "/clean/*"
  actions: { rewrite: { query: "" } }
"#,
    );
    let rewrite = |url: &str| {
        let r = Req::new(url);
        let m = r.find(&set).expect("a rule matches");
        m.rewritten(&r.pq)
            .expect("rewrites")
            .expect("valid")
            .to_string()
    };
    assert_eq!(rewrite("http://h/v1/users?id=7"), "/api/v1/users?id=7");
    assert_eq!(
        rewrite("http://h/img/cat.png?w=100"),
        "/images/cat.webp?fmt=webp"
    );
    assert_eq!(rewrite("http://h/clean/x?utm=1"), "/clean/x");
}

#[test]
fn conditions() {
    let set = load(
        r#"
- match: "/api/*"
  when: { method: [GET, HEAD], header: { x-beta: "1" } }
  actions: { set_response_headers: { x-rule: beta } }
- match: "/re/*"
  when: { header: { user-agent: { regex: "(?i)bot" }, x-debug: false } }
  actions: { set_response_headers: { x-rule: bot } }
- match: "/c/*"
  when: { cookie: { session: true, theme: dark } }
  actions: { set_response_headers: { x-rule: cookie } }
- match: "/q/*"
  when: { query: { "a b": "c&d" } }
  actions: { set_response_headers: { x-rule: query } }
- match: "/ip/*"
  when: { client_ip: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"] }
  actions: { set_response_headers: { x-rule: ip } }
"#,
    );
    let hit = |r: Req| r.find(&set).is_some();
    assert!(hit(Req::new("http://h/api/x").header("x-beta", "1")));
    assert!(!hit(Req::new("http://h/api/x").header("x-beta", "2")));
    assert!(!hit(Req::new("http://h/api/x")));
    let mut post = Req::new("http://h/api/x").header("x-beta", "1");
    post.method = "POST".into();
    assert!(!hit(post));

    assert!(hit(
        Req::new("http://h/re/x").header("user-agent", "GoogleBot/2")
    ));
    assert!(!hit(
        Req::new("http://h/re/x").header("user-agent", "Firefox")
    ));
    assert!(!hit(Req::new("http://h/re/x")
        .header("user-agent", "bot")
        .header("x-debug", "1")));

    assert!(hit(
        Req::new("http://h/c/x").header("cookie", "session=abc; theme=dark")
    ));
    assert!(hit(Req::new("http://h/c/x")
        .header("cookie", "theme=dark")
        .header("cookie", "session=1")));
    assert!(!hit(Req::new("http://h/c/x").header("cookie", "theme=dark")));
    assert!(!hit(
        Req::new("http://h/c/x").header("cookie", "session=abc; theme=light")
    ));

    assert!(
        hit(Req::new("http://h/q/x?a+b=c%26d")),
        "names and values are decoded"
    );
    assert!(!hit(Req::new("http://h/q/x?a+b=c")));

    let from = |ip: &str| {
        let mut r = Req::new("http://h/ip/x");
        r.ip = Some(ip.parse().expect("ip"));
        hit(r)
    };
    assert!(from("10.1.2.3"));
    assert!(from("2001:db8::1"));
    assert!(from("192.0.2.7"));
    assert!(!from("192.0.2.8"));
    assert!(!from("11.0.0.1"));
}

#[test]
fn candidates_are_what_find_can_return() {
    let set = patterns(&["example.com/hook/*", "*/html/*"]);
    // Whenever find() matches, there were candidates; where there are none, nothing
    // can match whatever the request's headers are.
    for url in [
        "http://example.com/hook/a",
        "http://other.test/html/x",
        "http://example.com/1k.txt",
        "http://example.com/",
        "http://other.test/hook/a",
    ] {
        let r = Req::new(url).header("cookie", "a=1");
        let candidates = set.has_candidates(&r.host, &r.pq);
        if r.find(&set).is_some() {
            assert!(candidates, "{url}");
        }
    }
    assert!(!set.has_candidates("example.com", "/1k.txt"));
    assert!(!set.has_candidates("example.com", "/"));
    assert!(set.has_candidates("example.com", "/hook/x"));
    assert!(set.has_candidates("other.test", "/html/y?z=1"));
    // A catch-all rule is a candidate for everything.
    assert!(patterns(&["/*"]).has_candidates("any.test", "/1k.txt"));
}
