//! On-the-fly compression through the real binary: the negotiation matrix (codings,
//! `q` values, `*`, identity), what is left alone (small bodies, encoded bodies,
//! `no-transform`, other types, ranges, HEAD), compressed copies stored once per kind
//! of client and served as hits, per-site settings, hook and HTML-rewritten responses, and the metrics.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client};
use outpost_scripting::codec::{Codec, Coding, accept_encoding_key};

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let coding = Coding::from_content_encoding(Some(coding))
        .flatten()
        .unwrap_or_else(|| panic!("unknown coding {coding}"));
    let mut d = Codec::decoder(coding).expect("decoder");
    let mut out = d.push(body).expect("decode");
    out.extend(d.finish().expect("complete stream"));
    out
}

struct Got {
    status: u16,
    encoding: Option<String>,
    vary: String,
    length: Option<String>,
    etag: Option<String>,
    cache: String,
    raw: Vec<u8>,
}

impl Got {
    /// The body as the client would read it after undoing the coding.
    fn text(&self) -> String {
        let bytes = match &self.encoding {
            Some(c) => decode(c, &self.raw),
            None => self.raw.clone(),
        };
        String::from_utf8(bytes).expect("utf-8")
    }
}

async fn get(c: &reqwest::Client, url: &str, accept: Option<&str>) -> Got {
    let mut req = c.get(url);
    if let Some(a) = accept {
        req = req.header("accept-encoding", a);
    }
    let r = req.send().await.expect("request");
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, encoding, vary, length, etag, cache) = (
        r.status().as_u16(),
        h("content-encoding"),
        h("vary").unwrap_or_default(),
        h("content-length"),
        h("etag"),
        h("cache-status").unwrap_or_default(),
    );
    let raw = r.bytes().await.expect("body").to_vec();
    Got {
        status,
        encoding,
        vary,
        length,
        etag,
        cache,
        raw,
    }
}

fn site(origin: &TestOrigin, extra: &str) -> String {
    format!(
        "listen: {{ http: \"{{http}}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n{extra}",
        origin.url()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn negotiation_matrix_and_one_stored_copy_per_kind_of_client() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let o = Outpost::start(&site(&origin, ""));
        let c = client();
        let url = o.url("/c?cc=max-age%3D60&size=20000&etag=%22v1%22");
        let plain = get(&c, &url, None).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.encoding, None, "no Accept-Encoding: identity");
        assert_eq!(plain.length.as_deref(), Some("20000"));
        assert!(
            plain.vary.to_ascii_lowercase().contains("accept-encoding"),
            "{}",
            plain.vary
        );
        assert_eq!(
            plain.etag.as_deref(),
            Some("\"v1\""),
            "identity keeps the strong ETag"
        );
        let expected = plain.text();

        let matrix: &[(&str, Option<&str>)] = &[
            ("gzip", Some("gzip")),
            ("br", Some("br")),
            ("zstd", Some("zstd")),
            ("x-gzip", Some("gzip")),
            ("gzip, deflate, br, zstd", Some("zstd")),
            ("gzip, deflate, br", Some("br")),
            ("gzip, deflate", Some("gzip")),
            ("br;q=0.5, gzip", Some("gzip")),
            ("br;q=0, zstd;q=0.1, gzip;q=0.1", Some("zstd")),
            ("*", Some("zstd")),
            ("*, zstd;q=0", Some("br")),
            ("identity", None),
            ("gzip;q=0", None),
            ("deflate", None),
            ("compress, sdch", None),
        ];
        for (accept, want) in matrix {
            // The first client of each kind is a miss, compressed on its way into the
            // cache; the next one is a hit of that stored copy.
            let first = get(&c, &url, Some(accept)).await;
            let got = get(&c, &url, Some(accept)).await;
            assert_eq!(got.status, 200, "{accept}");
            assert_eq!(
                first.encoding.as_deref(),
                *want,
                "Accept-Encoding: {accept} (miss)"
            );
            assert_eq!(
                got.encoding.as_deref(),
                *want,
                "Accept-Encoding: {accept} (hit)"
            );
            assert!(got.cache.contains("hit"), "{accept}: {}", got.cache);
            assert_eq!(got.raw, first.raw, "{accept}: the hit is the stored copy");
            assert!(
                got.vary.to_ascii_lowercase().contains("accept-encoding"),
                "{accept}: {}",
                got.vary
            );
            // Each origin fetch says its number ("origin #N") first; the rest is the same.
            let text = got.text();
            assert!(
                text.len() == expected.len() && text[12..] == expected[12..],
                "{accept}: same content"
            );
            if want.is_some() {
                assert_eq!(got.length, None, "{accept}: streamed, no Content-Length");
                assert!(
                    got.raw.len() < 2000,
                    "{accept}: compressed {} bytes",
                    got.raw.len()
                );
                assert_eq!(
                    got.etag.as_deref(),
                    Some("W/\"v1\""),
                    "{accept}: ETag weakened"
                );
            } else {
                assert_eq!(got.length.as_deref(), Some("20000"), "{accept}");
            }
        }
        // One origin fetch per set of accepted codings, however it was spelled.
        let kinds: std::collections::HashSet<String> = matrix
            .iter()
            .map(|(a, _)| accept_encoding_key(Some(a)))
            .chain([accept_encoding_key(None)])
            .collect();
        let hits = origin.hits.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(hits, kinds.len(), "origin fetches");
        let again = get(&c, &url, Some("zstd, br, gzip, deflate")).await;
        assert!(
            again.cache.contains("hit"),
            "same set as \"gzip, deflate, br, zstd\": {}",
            again.cache
        );
        assert_eq!(again.encoding.as_deref(), Some("zstd"));
        assert_eq!(origin.hits.load(std::sync::atomic::Ordering::SeqCst), hits);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn leaves_alone_what_it_must_not_touch() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let o = Outpost::start(&site(&origin, ""));
        let c = client();
        let br = Some("br, gzip");
        let cases: &[(&str, &str)] = &[
            ("/c?size=500", "under min_size (1 KiB)"),
            ("/c?size=5000&ct=image/png", "not a compressible type"),
            ("/c?size=5000&ct=application/zip", "not a compressible type"),
            (
                "/c?size=5000&cc=no-transform",
                "Cache-Control: no-transform",
            ),
            ("/c?size=5000&ce=gzip", "already encoded by the origin"),
        ];
        for (path, why) in cases {
            let plain = get(&c, &o.url(path), None).await;
            let got = get(&c, &o.url(path), br).await;
            assert_eq!(got.status, 200, "{why}");
            let origin_coding = path.contains("ce=gzip").then_some("gzip");
            assert_eq!(got.encoding.as_deref(), origin_coding, "{why}");
            assert_eq!(got.raw.len(), plain.raw.len(), "{why}: body untouched");
            assert_eq!(got.length, plain.length, "{why}");
        }
        // A small body never depends on Accept-Encoding, so it does not say it does.
        let small = get(&c, &o.url("/c?size=500"), br).await;
        assert!(
            !small.vary.to_ascii_lowercase().contains("accept-encoding"),
            "{}",
            small.vary
        );

        // A range of a compressible body is served from the identity bytes, as asked.
        let r = c
            .get(o.url("/c?size=5000&cc=max-age%3D60"))
            .header("accept-encoding", "br")
            .header("range", "bytes=0-99")
            .send()
            .await
            .expect("range");
        assert_eq!(r.status(), 206);
        assert!(r.headers().get("content-encoding").is_none());
        assert_eq!(r.bytes().await.expect("body").len(), 100);

        // HEAD: the head a GET would get (RFC 9110 §9.3.2), and no body.
        let r = c
            .head(o.url("/c?size=5000"))
            .header("accept-encoding", "br")
            .send()
            .await
            .expect("head");
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers().get("content-encoding").map(|v| v.as_bytes()),
            Some(&b"br"[..])
        );
        assert!(r.bytes().await.expect("body").is_empty());

        // A streamed body of unknown length (no Content-Length) is compressed.
        let got = get(&c, &o.url("/big?bytes=3000000"), Some("gzip")).await;
        assert_eq!(got.encoding.as_deref(), Some("gzip"));
        assert!(got.raw.len() < 100_000, "{}", got.raw.len());
        assert_eq!(got.text().len(), 3_000_000);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn site_settings_apply() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let o = Outpost::start(&site(
            &origin,
            "    compression: { codings: [gzip], gzip_level: 9, min_size: 100, content_types: [\"text/plain\", \"image/*\"] }\n",
        ));
        let c = client();
        let got = get(&c, &o.url("/c?size=500"), Some("br, zstd, gzip")).await;
        assert_eq!(got.encoding.as_deref(), Some("gzip"), "only gzip is offered; 500 B > min_size 100");
        let got = get(&c, &o.url("/c?size=500"), Some("br")).await;
        assert_eq!(got.encoding, None, "the client takes nothing offered");
        let got = get(&c, &o.url("/c?size=5000&ct=image/x-portable-anymap"), Some("gzip")).await;
        assert_eq!(got.encoding.as_deref(), Some("gzip"), "image/* listed");
        let got = get(&c, &o.url("/c?size=5000&ct=text/html"), Some("gzip")).await;
        assert_eq!(got.encoding, None, "text/html is not listed");

        o.rewrite_config(&site(&origin, "    compression: { enabled: false }\n"));
        o.signal("HUP");
        let mut off = false;
        for _ in 0..100 {
            if get(&c, &o.url("/c?size=5000"), Some("gzip")).await.encoding.is_none() {
                off = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(off, "enabled: false after reload");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn hook_and_rewritten_pages_are_compressed_once() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("origin").await;
        let admin = format!("127.0.0.1:{}", common::free_port());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("rules.yaml"),
            "- match: \"/read/*\"\n  actions: { script: read.js }\n- match: \"/hook\"\n  actions: { script: hook.js }\n- match: \"/c\"\n  actions: { html_rewrite: strip_comments }\n",
        )
        .expect("rules");
        std::fs::write(
            dir.path().join("hook.js"),
            "export default { fetch() { return new Response('<p>made by a hook</p>'.repeat(200), { headers: { 'content-type': 'text/html; charset=utf-8' } }); } };",
        )
        .expect("hook");
        // Reads what fetch() returns: it must get plain text, whatever the client takes.
        std::fs::write(
            dir.path().join("read.js"),
            "export default { async fetch(request) { const u = new URL(request.url); u.pathname = '/c'; const r = await fetch(u.toString(), { headers: request.headers }); const t = await r.text(); return new Response(t.slice(0, 6).toUpperCase() + ' ' + t.length + ' ' + (r.headers.get('content-encoding') || 'identity'), { headers: { 'content-type': 'text/plain' } }); } };",
        )
        .expect("read hook");
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n    rules: rules.yaml\n",
            origin.url()
        );
        let o = Outpost::start_in(dir, &yaml, &[]);
        let c = client();
        let got = get(&c, &o.url("/hook"), Some("gzip, br")).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.encoding.as_deref(), Some("br"));
        assert_eq!(got.text(), "<p>made by a hook</p>".repeat(200));

        for _ in 0..2 {
            let got = get(&c, &o.url("/read/x?size=5000&cc=max-age%3D60"), Some("gzip, br, zstd")).await;
            assert_eq!(got.status, 200);
            assert_eq!(got.text(), "ORIGIN 5000 identity", "the hook read plain text");
        }

        // An identity page rewritten by a profile, then compressed for the client.
        let got = get(&c, &o.url("/c?size=4000&ct=text/html"), Some("zstd")).await;
        assert_eq!(got.encoding.as_deref(), Some("zstd"));
        assert!(got.text().starts_with("origin #"), "{}", &got.text()[..20]);

        // The access-log phase (which counts) may end just after the client has the body.
        let mut metrics = String::new();
        for _ in 0..100 {
            metrics = common::scrape(&admin).await;
            if metrics.contains("coding=\"zstd\"") && metrics.contains("coding=\"br\"") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let line = |series: &str| common::metric(&metrics, series);
        assert_eq!(line("outpost_compressed_responses_total{coding=\"br\"}"), 1.0);
        assert_eq!(line("outpost_compressed_responses_total{coding=\"zstd\"}"), 1.0);
        let bytes_in = line("outpost_compression_bytes_total{coding=\"br\",side=\"in\"}");
        let bytes_out = line("outpost_compression_bytes_total{coding=\"br\",side=\"out\"}");
        assert_eq!(bytes_in, 21.0 * 200.0);
        assert!(bytes_out > 0.0 && bytes_out < bytes_in / 10.0, "{bytes_out}");
    })
    .await
    .expect("test timed out");
}
