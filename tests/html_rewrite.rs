//! Streaming HTML rewrite profiles through the real binary: every declarative action,
//! the built-in profiles, streaming, bounded memory, compressed and non-UTF-8 pages,
//! and per-visitor rewrites of one cached page.

mod common;

use bytes::Bytes;
use common::{Outpost, TEST_TIMEOUT, client};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PAGE: &str = include_str!("fixtures/docs-page.html");

type Body = BoxBody<Bytes, Infallible>;

/// When the slow page's origin sent its second half.
type Stamp = Arc<Mutex<Option<Instant>>>;

struct PageOrigin {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    rest_sent: Stamp,
}

fn encode(coding: &str, data: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("gzip");
            e.finish().expect("gzip")
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
                e.write_all(data).expect("br");
            }
            out
        }
        "zstd" => zstd::encode_all(data, 3).expect("zstd"),
        other => panic!("no coding {other}"),
    }
}

fn decode(coding: Option<&str>, data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(data),
        Some("gzip") => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        Some("br") => {
            brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .expect("unbrotli");
        }
        Some("zstd") => out = zstd::decode_all(data).expect("unzstd"),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

fn page(body: Body, content_type: &str) -> Response<Body> {
    Response::builder()
        .header("content-type", content_type)
        .header("etag", "\"v1\"")
        .body(body)
        .expect("response")
}

/// A 200 MiB page, made as it streams: 64 KiB chunks of links.
fn huge_page(bytes: usize) -> Body {
    let unit = "<p><a href=\"http://docs.test/x\">link</a> text</p>\n";
    let chunk: Bytes = Bytes::from(unit.repeat((64 << 10) / unit.len()));
    let count = bytes / chunk.len();
    let head = futures_util::stream::once(async {
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(
            b"<!doctype html><html><head></head><body>",
        )))
    });
    let body = futures_util::stream::iter((0..count).map(move |_| Ok(Frame::data(chunk.clone()))));
    let tail = futures_util::stream::once(async {
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"</body></html>")))
    });
    use futures_util::StreamExt;
    BodyExt::boxed(StreamBody::new(head.chain(body).chain(tail)))
}

async fn route(req: Request<Incoming>, hits: Arc<AtomicUsize>, rest_sent: Stamp) -> Response<Body> {
    hits.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_string();
    let html = "text/html; charset=utf-8";
    let last = path.rsplit('/').next().unwrap_or("");
    match last {
        "page" | "" => page(full(PAGE), html),
        "cached" => {
            let mut r = page(full(PAGE), html);
            r.headers_mut()
                .insert("cache-control", "public, max-age=300".parse().expect("hv"));
            r
        }
        "page.gz" | "page.br" | "page.zst" => {
            let coding = match last {
                "page.gz" => "gzip",
                "page.br" => "br",
                _ => "zstd",
            };
            let mut r = page(full(encode(coding, PAGE.as_bytes())), html);
            r.headers_mut()
                .insert("content-encoding", coding.parse().expect("hv"));
            r.headers_mut()
                .insert("cache-control", "public, max-age=300".parse().expect("hv"));
            r
        }
        "sjis" => {
            let text = "<html><head><title>案内</title></head><body><h1>ようこそ、Outpost へ</h1><p>東京のエッジ</p></body></html>";
            let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
            assert!(!bad);
            page(full(bytes.into_owned()), "text/html; charset=Shift_JIS")
        }
        "cp1251" => {
            let text = "<html><head><meta charset=\"windows-1251\"><title>Справка</title></head><body><h1>Добро пожаловать</h1></body></html>";
            let (bytes, _, bad) = encoding_rs::WINDOWS_1251.encode(text);
            assert!(!bad);
            page(full(bytes.into_owned()), "text/html")
        }
        "plain.txt" => page(full("<!-- not html --> http://docs.test/"), "text/plain"),
        "huge" => page(huge_page(200 << 20), html),
        "slow" => {
            let split = PAGE.find("<main>").expect("fixture has <main>");
            let (first, rest) = (Bytes::from(&PAGE[..split]), Bytes::from(&PAGE[split..]));
            let stream = futures_util::stream::unfold(0, move |step| {
                let (first, rest, stamp) = (first.clone(), rest.clone(), rest_sent.clone());
                async move {
                    match step {
                        0 => Some((Ok::<_, Infallible>(Frame::data(first)), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                            *stamp.lock().expect("lock") = Some(Instant::now());
                            Some((Ok(Frame::data(rest)), 2))
                        }
                        _ => None,
                    }
                }
            });
            page(BodyExt::boxed(StreamBody::new(stream)), html)
        }
        _ => Response::builder()
            .status(404)
            .body(full("no such page"))
            .expect("response"),
    }
}

async fn start_origin() -> PageOrigin {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let rest_sent: Stamp = Arc::default();
    let (h, s) = (hits.clone(), rest_sent.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (h, s) = (h.clone(), s.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let (h, s) = (h.clone(), s.clone());
                    async move { Ok::<_, Infallible>(route(req, h, s).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    PageOrigin {
        addr,
        hits,
        rest_sent,
    }
}

const HOOK: &str = r#"
export default {
  async fetch(request) {
    const page = await fetch(request);
    return new HTMLRewriter()
      .on("h1", { async element(el) { await null; el.setAttribute("data-js", request.headers.get("x-user")); } })
      .onDocument({ end(end) { end.append("<!-- rewritten by a hook -->", { html: true }); } })
      .transform(page);
  },
};
"#;

const RULES: &str = r#"
- match: "/js/*"
  actions: { script: hook.js }
- match: "/builtin/https/*"
  actions: { html_rewrite: https_links }
- match: "/builtin/comments/*"
  actions: { html_rewrite: strip_comments }
- match: "/intl/*"
  actions: { html_rewrite: intl }
- match: "/*"
  actions: { html_rewrite: all }
"#;

fn config(origin: SocketAddr) -> String {
    format!(
        r##"
listen: {{ http: "{{http}}" }}
cache: {{ memory: 64MiB }}
log: {{ access_log: false }}
sites:
  - hosts: [docs.test, 127.0.0.1]
    default: true
    origins: ["http://{origin}"]
    rules: rules.yaml
    html_profiles:
      intl:
        append_to_body: "<p id=added>ようこそ / Добро пожаловать / {{{{ header.x-user }}}}</p>"
      all:
        include: [https_links, strip_comments]
        https_hosts: ["cdn.example.net"]
        append_to_head: '<meta name="edge-user" content="{{{{ header.x-user }}}}">'
        append_to_body: '<footer id="edge">bucket={{{{ cookie.bucket | default: "none" }}}}</footer>'
        replace_text:
          - {{ from: "Outpost Docs", to: "Edge Docs" }}
        elements:
          - select: "a[href^='http://old.example.com']"
            rewrite_attribute: {{ name: href, from: "http://old.example.com", to: "https://new.example.com" }}
          - select: "img[src]"
            rewrite_attribute: {{ name: src, regex: '^/images/(.*)\.png$', to: "/img/$1.webp" }}
          - select: "#greeting"
            set_inner_content: {{ text: "Hello, {{{{ header.x-user }}}}!" }}
          - select: nav
            prepend: '<a href="/" id="home">Home</a>'
            append: {{ text: "<end of nav>" }}
          - select: h1
            before: '<div class="before-h1"></div>'
            after: {{ html: '<p class="after-h1">after</p>' }}
            set_attribute: {{ data-user: "{{{{ header.x-user }}}}" }}
          - select: ".ads"
            remove: true
          - select: "span.wrapper"
            remove_and_keep_content: true
          - select: "[data-tracking]"
            remove_attribute: data-tracking
          - select: "p.note"
            replace_text: [{{ regex: 'v(\d+)', to: "version $1" }}]
          - select: "#legacy"
            replace: '<section id="modern">new layout</section>'
"##
    )
}

fn start(origin: SocketAddr) -> Outpost {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    std::fs::write(dir.path().join("hook.js"), HOOK).expect("hook");
    Outpost::start_in(dir, &config(origin), &[])
}

async fn get(o: &Outpost, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = client().get(o.url(path)).header("host", "docs.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp
}

async fn text(o: &Outpost, path: &str, headers: &[(&str, &str)]) -> (http::HeaderMap, String) {
    let resp = get(o, path, headers).await;
    let head = resp.headers().clone();
    let body = resp.bytes().await.expect("body");
    let coding = head
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = decode(coding.as_deref(), &body);
    (head, String::from_utf8(body).expect("utf-8 page"))
}

/// Reads the whole body, noting when `marker` had arrived.
async fn read_noting(resp: reqwest::Response, marker: &str) -> (String, Option<Instant>) {
    use futures_util::StreamExt;
    let mut body = resp.bytes_stream();
    let (mut seen, mut at) = (String::new(), None);
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        if at.is_none() && seen.contains(marker) {
            at = Some(Instant::now());
        }
    }
    (seen, at)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_declarative_action_on_a_real_page() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = start_origin().await;
        let o = start(origin.addr);
        let (head, page) = text(&o, "/page", &[("x-user", "Ann <admin>"), ("cookie", "bucket=b7")]).await;

        // Head: no length (it changed), a weak validator, chunked framing.
        assert!(head.get("content-length").is_none());
        assert_eq!(head.get("etag").and_then(|v| v.to_str().ok()), Some("W/\"v1\""));

        // append_to_head / append_to_body with escaped placeholders.
        assert!(page.contains("<meta name=\"edge-user\" content=\"Ann &lt;admin&gt;\"></head>"), "{page}");
        assert!(page.contains("<footer id=\"edge\">bucket=b7</footer></body>"), "{page}");
        // set_inner_content as text: escaped by the writer, once.
        assert!(page.contains("<p id=\"greeting\">Hello, Ann &lt;admin&gt;!</p>"), "{page}");
        // rewrite_attribute: substring and regex with a group.
        assert!(page.contains("href=\"https://new.example.com/blog\""));
        assert!(page.contains("src=\"/img/rules-flow.webp\""));
        // prepend / append (HTML and text).
        assert!(page.contains("<nav aria-label=\"Main\"><a href=\"/\" id=\"home\">Home</a>"));
        assert!(page.contains("&lt;end of nav&gt;</nav>"));
        // before / after / set_attribute.
        assert!(page.contains("<div class=\"before-h1\"></div><h1 id=\"page-rules\" data-user=\"Ann &lt;admin&gt;\">Page rules</h1><p class=\"after-h1\">after</p>"), "{page}");
        // remove / remove_and_keep_content / remove_attribute / replace.
        assert!(!page.contains("Buy more bandwidth"));
        assert!(page.contains("served: caching,\n      <em>redirects</em>, header edits and more"), "{page}");
        assert!(!page.contains("data-tracking"));
        assert!(page.contains("<section id=\"modern\">new layout</section>") && !page.contains("old layout"));
        // Element-scoped and document-wide text replacement.
        assert!(page.contains("Available since version 2 of the rules format; version 3 adds"));
        assert!(page.contains("Page rules change how Edge Docs readers") && !page.contains("Outpost Docs"));
        // Built-ins pulled in by `include`: comments gone (conditional ones kept) and
        // links to this site's hosts and `https_hosts` upgraded, others left alone.
        assert!(!page.contains("generated by docs-build") && !page.contains("TODO"));
        assert!(page.contains("<!--[if lt IE 9]>"));
        assert!(page.contains("href=\"https://docs.test/static/site.css\""));
        assert!(page.contains("src=\"https://cdn.example.net/js/search.js\""));
        assert!(page.contains("href=\"https://docs.test/guide/patterns#wildcards\""));
        assert!(page.contains("action=\"https://docs.test/search\""));
        assert!(page.contains("srcset=\"https://docs.test/images/rules-flow.png 1x, https://docs.test/images/rules-flow@2x.png 2x\""));
        assert!(page.contains("src=\"http://tracker.example.org/t.js\""));
        assert!(page.contains("href=\"http://docs.test:8443/admin\""));
        assert!(page.contains("href=\"http://example.org/rfc3986\""));
        // Untouched parts survive byte for byte.
        assert!(page.contains("<figcaption>Rules run before the cache &amp; the origin.</figcaption>"));

        assert!(head.get("outpost-html-rewrite").is_none(), "debug headers are off");

        // Other media types under the same rule pass untouched.
        let (head, plain) = text(&o, "/plain.txt", &[]).await;
        assert_eq!(plain, "<!-- not html --> http://docs.test/");
        assert!(head.get("etag").is_some_and(|v| v == "\"v1\""));
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn builtin_profiles_alone() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = start_origin().await;
        let o = start(origin.addr);
        let (_, https) = text(&o, "/builtin/https/page", &[]).await;
        assert!(https.contains("href=\"https://docs.test/guide/quickstart\""));
        assert!(
            https.contains("<!-- generated by docs-build"),
            "comments stay"
        );
        // Not in this profile's https_hosts (only the `all` profile lists it).
        assert!(https.contains("src=\"http://cdn.example.net/js/search.js\""));
        let (_, comments) = text(&o, "/builtin/comments/page", &[]).await;
        assert!(!comments.contains("<!-- generated") && !comments.contains("TODO"));
        assert!(
            comments.contains("href=\"http://docs.test/guide/quickstart\""),
            "links stay"
        );
        // Only comments went: the rest is the origin's page.
        let stripped = PAGE
            .replace("<!-- generated by docs-build 4.2, do not edit -->", "")
            .replace("<!-- TODO: document rule priorities -->", "");
        assert_eq!(comments, stripped);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_pages_are_decoded_rewritten_and_encoded_again() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = start_origin().await;
        let o = start(origin.addr);
        for (path, coding) in [
            ("/page.gz", "gzip"),
            ("/page.br", "br"),
            ("/page.zst", "zstd"),
        ] {
            // A client that takes the origin's coding gets it back.
            let resp = get(&o, path, &[("accept-encoding", coding), ("x-user", "Zed")]).await;
            let head = resp.headers().clone();
            assert_eq!(
                head.get("content-encoding").and_then(|v| v.to_str().ok()),
                Some(coding),
                "{path}"
            );
            assert!(
                head.get("vary")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("Accept-Encoding"))
            );
            let body = resp.bytes().await.expect("body");
            let page = String::from_utf8(decode(Some(coding), &body)).expect("utf-8");
            assert!(
                page.contains("<meta name=\"edge-user\" content=\"Zed\">"),
                "{path}: {page}"
            );
            assert!(page.ends_with("</html>\n"), "{path}: complete page");
            // One that takes only gzip gets gzip; one that takes nothing gets identity.
            let (head, page) = text(&o, path, &[("accept-encoding", "gzip")]).await;
            assert_eq!(
                head.get("content-encoding").and_then(|v| v.to_str().ok()),
                Some("gzip")
            );
            assert!(page.contains("Edge Docs"));
            let (head, page) = text(&o, path, &[("accept-encoding", "identity")]).await;
            assert!(head.get("content-encoding").is_none());
            assert!(page.contains("<footer id=\"edge\">bucket=none</footer>"));
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn non_utf8_pages_keep_their_charset() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = start_origin().await;
        let o = start(origin.addr);
        // Charset from Content-Type.
        let resp = get(&o, "/intl/sjis", &[("x-user", "Ivan")]).await;
        let body = resp.bytes().await.expect("body");
        let (page, _, bad) = encoding_rs::SHIFT_JIS.decode(&body);
        assert!(!bad, "valid Shift_JIS");
        assert!(
            page.contains("<h1>ようこそ、Outpost へ</h1><p>東京のエッジ</p>"),
            "{page}"
        );
        // The inserted text is encoded in the page's charset (Cyrillic has no
        // Shift_JIS form beyond a few letters: those become character references).
        assert!(page.contains("<p id=added>ようこそ / "), "{page}");
        assert!(page.contains(" / Ivan</p></body>"), "{page}");
        // Charset from <meta charset>.
        let resp = get(&o, "/intl/cp1251", &[("x-user", "Ivan")]).await;
        let body = resp.bytes().await.expect("body");
        let (page, _, bad) = encoding_rs::WINDOWS_1251.decode(&body);
        assert!(!bad, "valid windows-1251");
        assert!(page.contains("<h1>Добро пожаловать</h1>"), "{page}");
        assert!(page.contains("/ Добро пожаловать / Ivan</p>"), "{page}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_cached_page_personalised_for_two_visitors() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = start_origin().await;
        let o = start(origin.addr);
        let (h1, ann) = text(&o, "/cached", &[("x-user", "Ann"), ("cookie", "bucket=a")]).await;
        let (h2, bob) = text(&o, "/cached", &[("x-user", "Bob"), ("cookie", "bucket=b")]).await;
        assert_eq!(
            origin.hits.load(Ordering::SeqCst),
            1,
            "the origin was asked once"
        );
        let status = |h: &http::HeaderMap| {
            h.get("cache-status")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert!(status(&h1).contains("fwd=miss"), "{:?}", status(&h1));
        assert!(status(&h2).contains("hit"), "{:?}", status(&h2));
        assert!(ann.contains("content=\"Ann\"") && ann.contains("bucket=a</footer>"));
        assert!(bob.contains("content=\"Bob\"") && bob.contains("bucket=b</footer>"));
        assert!(!bob.contains("Ann"));
        // A compressed cached page, too: stored compressed once, rewritten per request.
        let before = origin.hits.load(Ordering::SeqCst);
        let (_, a) = text(
            &o,
            "/page.gz",
            &[("accept-encoding", "gzip"), ("x-user", "Ann")],
        )
        .await;
        let (_, b) = text(
            &o,
            "/page.gz",
            &[("accept-encoding", "br"), ("x-user", "Bob")],
        )
        .await;
        assert_eq!(origin.hits.load(Ordering::SeqCst), before + 1);
        assert!(a.contains("content=\"Ann\"") && b.contains("content=\"Bob\""));
        // A range request for a rewritten page gets the whole page.
        let resp = get(&o, "/cached", &[("range", "bytes=0-9")]).await;
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.expect("body");
        assert!(body.len() > 1000 && body.contains("bucket=none"));
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn rewritten_head_arrives_before_the_origin_finishes() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = start_origin().await;
        let o = start(origin.addr);
        let resp = get(&o, "/slow", &[("x-user", "Ann")]).await;
        let (seen, head_at) =
            read_noting(resp, "<meta name=\"edge-user\" content=\"Ann\"></head>").await;
        let head_at = head_at.expect("the rewritten head arrived");
        let rest_sent = origin
            .rest_sent
            .lock()
            .expect("lock")
            .expect("origin sent the rest");
        assert!(
            head_at < rest_sent,
            "the rewritten head reached the client before the origin sent the rest of the page"
        );
        assert!(seen.contains("bucket=none</footer></body>"));
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_200_mib_page_is_rewritten_in_bounded_memory() {
    tokio::time::timeout(Duration::from_secs(300), async {
        let origin = start_origin().await;
        let o = start(origin.addr);
        // Warm up (allocator, runtime), then measure the peak while 200 MiB stream through.
        let _ = text(&o, "/page", &[]).await;
        let before = o.peak_rss();
        // No overall timeout: a debug build takes a while for 200 MiB.
        let resp = reqwest::Client::new()
            .get(o.url("/builtin/https/huge"))
            .send()
            .await
            .expect("request");
        let started = Instant::now();
        let mut body = resp.bytes_stream();
        use futures_util::StreamExt;
        let (mut total, mut upgraded, mut carry) = (0usize, 0usize, Vec::new());
        let needle = "href=\"https://docs.test/x\"";
        while let Some(chunk) = body.next().await {
            let chunk = chunk.expect("chunk");
            total += chunk.len();
            carry.extend_from_slice(&chunk);
            // The page is ASCII; a match cannot fit in the kept tail, so none counts twice.
            upgraded += std::str::from_utf8(&carry).expect("ascii").matches(needle).count();
            carry.drain(..carry.len().saturating_sub(needle.len() - 1));
        }
        let after = o.peak_rss();
        let grew = after.saturating_sub(before);
        eprintln!(
            "200 MiB page: {} MiB out in {:.1} s, {upgraded} links upgraded, proxy peak RSS {} -> {} MiB (+{} MiB)",
            total >> 20,
            started.elapsed().as_secs_f64(),
            before >> 20,
            after >> 20,
            grew >> 20
        );
        assert!(total > 200 << 20, "whole page came through ({total} bytes)");
        assert!(upgraded > 3_000_000, "links were rewritten all the way ({upgraded})");
        assert!(grew < 64 << 20, "proxy memory grew by {} MiB for a 200 MiB page", grew >> 20);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hooks_html_rewriter_streams_a_fetched_page() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = start_origin().await;
        let o = start(origin.addr);
        let resp = get(&o, "/js/slow", &[("x-user", "Ann")]).await;
        assert!(resp.headers().get("content-length").is_none());
        let (seen, nav_at) = read_noting(resp, "<nav aria-label=\"Main\">").await;
        let nav_at = nav_at.expect("the page's first half arrived");
        let rest_sent = origin
            .rest_sent
            .lock()
            .expect("lock")
            .expect("origin sent the rest");
        assert!(
            nav_at < rest_sent,
            "the first half streamed through the hook before the origin sent the rest"
        );
        assert!(
            seen.contains("<h1 id=\"page-rules\" data-js=\"Ann\">"),
            "{seen}"
        );
        assert!(
            seen.ends_with("</html>\n<!-- rewritten by a hook -->"),
            "{seen}"
        );

        // A compressed page from fetch() is decoded for the rewrite; the hook's response
        // is then compressed for the client once, by the site's compression.
        let (head, page) = text(
            &o,
            "/js/page.br",
            &[("accept-encoding", "br"), ("x-user", "Bo")],
        )
        .await;
        assert_eq!(
            head.get("content-encoding").map(|v| v.as_bytes()),
            Some(&b"br"[..])
        );
        assert!(
            page.contains("<h1 id=\"page-rules\" data-js=\"Bo\">"),
            "{page}"
        );
        assert!(page.ends_with("</html>\n<!-- rewritten by a hook -->"));
    })
    .await
    .expect("test timed out");
}
