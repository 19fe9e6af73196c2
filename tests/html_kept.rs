//! Kept rewrites (`cache.rewritten_pages`) through the real binary: a stored page that a
//! profile rewrites the same for every visitor is rewritten once and later hits get the
//! kept bytes; a new version of the page (purge, expiry) is never answered with an old
//! rewrite; per-visitor profiles, HEAD and each client coding stay correct.

mod common;

use bytes::Bytes;
use common::{Outpost, TEST_TIMEOUT, client, free_port, scrape, series_reaching};
use http_body_util::Full;
use hyper::Response;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const RULES: &str = r#"
- match: "/same/*"
  actions: { html_rewrite: same }
- match: "/personal/*"
  actions: { html_rewrite: personal }
"#;

/// An origin whose page names its version (bumped by the test) and links over http.
async fn origin(version: Arc<AtomicUsize>) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    common::origin::serve_counting(move |req| {
        let version = version.load(Ordering::SeqCst);
        let path = req.uri().path().to_string();
        async move {
            let body = format!(
                "<html><head><title>v{version}</title></head><body>\
                 <a href=\"http://docs.test{path}\">self</a><p>{}</p></body></html>",
                "filler text ".repeat(400)
            );
            Response::builder()
                .header("content-type", "text/html; charset=utf-8")
                .header("cache-control", "public, max-age=300")
                .body(Full::new(Bytes::from(body)))
                .expect("response")
        }
    })
    .await
}

/// Outpost in front of `origin`, with `rewritten_pages` of room for kept rewrites.
fn start(origin: std::net::SocketAddr, admin: &str, rewritten_pages: &str) -> Outpost {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    let yaml = format!(
        r#"
listen: {{ http: "{{http}}" }}
admin: {{ listen: "{admin}" }}
cache: {{ memory: 64MiB, rewritten_pages: {rewritten_pages} }}
log: {{ access_log: false }}
sites:
  - hosts: [docs.test]
    origins: ["http://{origin}"]
    rules: rules.yaml
    html_profiles:
      same:
        include: [https_links]
        append_to_body: '<p id="edge">for {{{{ host }}}}</p>'
      personal:
        append_to_body: '<p id="edge">for {{{{ header.x-user }}}}</p>'
"#
    );
    Outpost::start_in(dir, &yaml, &[])
}

/// GET `path` with `headers`: (Content-Encoding, decoded body).
async fn page(o: &Outpost, path: &str, headers: &[(&str, &str)]) -> (Option<String>, String) {
    let mut req = client().get(o.url(path)).header("host", "docs.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    assert_eq!(resp.status(), 200, "{path}");
    let coding = resp
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await.expect("body");
    let mut out = Vec::new();
    match coding.as_deref() {
        None => out.extend_from_slice(&body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        Some("br") => {
            brotli::Decompressor::new(&body[..], 4096)
                .read_to_end(&mut out)
                .expect("unbrotli");
        }
        Some("zstd") => out = zstd::decode_all(&body[..]).expect("unzstd"),
        Some(other) => panic!("unexpected coding {other}"),
    }
    (coding, String::from_utf8(out).expect("utf-8 page"))
}

/// `outpost_html_kept_total{profile}` once it reaches `want` (or after 5 s).
async fn kept(admin: &str, profile: &str, want: f64) -> f64 {
    let series = format!("outpost_html_kept_total{{profile=\"{profile}\"}}");
    series_reaching(admin, &series, want).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_page_is_rewritten_once_and_a_new_version_never_gets_the_old_rewrite() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let version = Arc::new(AtomicUsize::new(1));
        let (addr, _) = origin(version.clone()).await;
        let admin = format!("127.0.0.1:{}", free_port());
        let o = start(addr, &admin, "8MiB");
        let expect = |body: &str, v: usize| {
            assert!(body.contains(&format!("<title>v{v}</title>")), "{body}");
            assert!(
                body.contains("<a href=\"https://docs.test/same/a\">"),
                "links upgraded: {body}"
            );
            assert!(
                body.ends_with("<p id=\"edge\">for docs.test</p></body></html>"),
                "{body}"
            );
        };
        // Miss (rewritten), hit (rewritten and kept), then hits from the kept bytes.
        let mut bodies = Vec::new();
        for _ in 0..4 {
            let (coding, body) = page(&o, "/same/a", &[("accept-encoding", "identity")]).await;
            assert_eq!(coding, None);
            expect(&body, 1);
            bodies.push(body);
        }
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "every answer the same"
        );
        assert_eq!(
            kept(&admin, "same", 2.0).await,
            2.0,
            "the third and fourth were kept bytes"
        );

        // HEAD of a kept page has no body, and does not disturb the kept one.
        let head = client()
            .head(o.url("/same/a"))
            .header("host", "docs.test")
            .header("accept-encoding", "identity")
            .send()
            .await
            .expect("head");
        assert_eq!(head.status(), 200);
        assert!(head.bytes().await.expect("head body").is_empty());
        let (_, body) = page(&o, "/same/a", &[("accept-encoding", "identity")]).await;
        assert_eq!(body, bodies[0]);
        assert_eq!(kept(&admin, "same", 3.0).await, 3.0);

        // A client of another coding gets its own rewrite, kept too, and decodable
        // (the cache stores a gzip copy for such clients: a miss, a hit, kept bytes).
        for _ in 0..3 {
            let (coding, body) = page(&o, "/same/a", &[("accept-encoding", "gzip")]).await;
            assert_eq!(coding.as_deref(), Some("gzip"));
            expect(&body, 1);
        }
        assert_eq!(kept(&admin, "same", 4.0).await, 4.0);

        // The page changes at the origin and is purged: the next answers are the new
        // version, never the old kept rewrite.
        version.store(2, Ordering::SeqCst);
        let purged = client()
            .post(format!("http://{admin}/purge"))
            .body(r#"{"prefixes":["docs.test/same/"]}"#)
            .send()
            .await
            .expect("purge");
        assert!(purged.status().is_success());
        for _ in 0..3 {
            let (_, body) = page(&o, "/same/a", &[("accept-encoding", "identity")]).await;
            expect(&body, 2);
        }
        assert_eq!(
            kept(&admin, "same", 5.0).await,
            5.0,
            "the new version was kept in turn"
        );

        // A profile that reads a request header is rewritten per request, never kept.
        for user in ["Ann", "Bob", "Ann", "Bob"] {
            let (_, body) = page(&o, "/personal/a", &[("x-user", user)]).await;
            assert!(
                body.ends_with(&format!("<p id=\"edge\">for {user}</p></body></html>")),
                "{body}"
            );
        }
        let rewrites = "outpost_html_rewrites_total{profile=\"personal\"}";
        assert_eq!(series_reaching(&admin, rewrites, 4.0).await, 4.0);
        let text = scrape(&admin).await;
        assert!(
            !text.contains("outpost_html_kept_total{profile=\"personal\"}"),
            "{text}"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn rewritten_pages_zero_rewrites_every_hit() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let version = Arc::new(AtomicUsize::new(1));
        let (addr, hits) = origin(version).await;
        let admin = format!("127.0.0.1:{}", free_port());
        let o = start(addr, &admin, "0");
        for _ in 0..3 {
            let (_, body) = page(&o, "/same/b", &[]).await;
            assert!(
                body.contains("<a href=\"https://docs.test/same/b\">"),
                "{body}"
            );
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1, "served from the cache");
        let rewrites = "outpost_html_rewrites_total{profile=\"same\"}";
        assert_eq!(series_reaching(&admin, rewrites, 3.0).await, 3.0);
        let text = scrape(&admin).await;
        assert!(
            !text.contains("outpost_html_kept_total{profile=\"same\"}"),
            "nothing kept:\n{text}"
        );
    })
    .await
    .expect("test timed out");
}
