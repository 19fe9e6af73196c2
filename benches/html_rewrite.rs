//! HTML rewrite throughput on a realistic ~60 KiB page (the docs-page fixture, its
//! main section repeated) streamed as 50 MiB, in 16 KiB chunks, with one edit: every
//! `a[href]` gets `http://` replaced by `https://`. Three ways:
//! - raw lol_html with that handler written in Rust (the ceiling);
//! - Outpost's declarative profile (`rewrite_attribute` on `a[href]`), as the proxy
//!   runs it in `response_body_filter` (templates, shared profile, output buffer);
//! - a JS hook's `HTMLRewriter` with an `a[href]` element handler, the page coming
//!   from `fetch()` (each match is a round trip to the JS thread).
//!
//! Run: `cargo bench --bench html_rewrite`. Criterion prints MiB/s.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::future::BoxFuture;
use outpost_proxy::html::{CompiledProfile, PageRewriter, RequestValues};
use outpost_scripting::{
    Answer, Body, BodyStream, FetchRequest, FetchResponse, Fetcher, HookRequest, Limits,
    ScriptEngine, ScriptSource,
};
use std::borrow::Cow;
use std::sync::Arc;

const TOTAL: usize = 50 << 20;
const CHUNK: usize = 16 << 10;

#[path = "support/page.rs"]
mod support;
use support::page;

/// 50 MiB of pages, as the chunks a socket would deliver.
fn chunks(page: &str) -> Vec<Bytes> {
    let all = page.repeat(TOTAL / page.len() + 1);
    all.as_bytes()[..TOTAL]
        .chunks(CHUNK)
        .map(Bytes::copy_from_slice)
        .collect()
}

fn raw(chunks: &[Bytes]) -> usize {
    use lol_html::html_content::Element;
    let mut out = 0usize;
    let settings = lol_html::Settings::new().append_element_content_handler((
        Cow::Owned("a[href]".parse().expect("selector")),
        lol_html::ElementContentHandlers::default().element(|el: &mut Element<'_, '_>| {
            if let Some(href) = el.get_attribute("href")
                && href.contains("http://")
            {
                el.set_attribute("href", &href.replace("http://", "https://"))?;
            }
            Ok(())
        }),
    ));
    let mut r = lol_html::HtmlRewriter::new(settings, |c: &[u8]| out += c.len());
    for c in chunks {
        r.write(c).expect("write");
    }
    r.end().expect("end");
    out
}

fn declarative(profile: &Arc<CompiledProfile>, chunks: &[Bytes]) -> usize {
    let values = Arc::new(RequestValues::default());
    let mut r = PageRewriter::new(profile, values, Some("utf-8"), None, None)
        .expect("rewriter")
        .expect("utf-8 is rewritable");
    let mut out = 0;
    for c in chunks {
        out += r.push(c).expect("push").len();
    }
    out + r.finish().expect("finish").len()
}

/// Serves the page chunks to the hook's `fetch()`.
struct PageFetcher(Arc<Vec<Bytes>>);

impl Fetcher for PageFetcher {
    fn fetch(
        &self,
        _: FetchRequest,
    ) -> BoxFuture<'static, outpost_scripting::Result<FetchResponse>> {
        let chunks = self.0.clone();
        Box::pin(async move {
            let mut head = http::Response::new(()).into_parts().0;
            head.headers
                .insert("content-type", "text/html".parse().expect("hv"));
            let body =
                futures_util::stream::iter((0..chunks.len()).map(move |i| Ok(chunks[i].clone())));
            Ok(FetchResponse {
                head,
                body: BodyStream::new(body),
            })
        })
    }
}

const HOOK: &str = r#"
export default {
  async fetch(request) {
    return new HTMLRewriter()
      .on("a[href]", {
        element(el) {
          const href = el.getAttribute("href");
          if (href.includes("http://")) el.setAttribute("href", href.replaceAll("http://", "https://"));
        },
      })
      .transform(await fetch("http://bench.test/page"));
  },
};
"#;

fn benches(c: &mut Criterion) {
    let page = page();
    let chunks = chunks(&page);
    let links = page.matches("<a href").count();
    eprintln!(
        "page: {} KiB, {links} links; stream: {} MiB in {} chunks",
        page.len() >> 10,
        TOTAL >> 20,
        chunks.len()
    );
    let yaml = r#"
listen: { http: "127.0.0.1:1" }
sites:
  - default: true
    origins: ["http://127.0.0.1:1"]
    html_profiles:
      links:
        elements:
          - select: "a[href]"
            rewrite_attribute: { name: href, from: "http://", to: "https://" }
"#;
    let config =
        outpost_config::load_str(yaml, std::path::Path::new("bench.yaml")).expect("config");
    let site = &config.sites[0];
    let profile = Arc::new(
        CompiledProfile::new(site.html_profile("links").expect("profile"), &site.hosts)
            .expect("compiles"),
    );
    assert_eq!(
        raw(&chunks),
        declarative(&profile, &chunks),
        "same output size"
    );

    let mut group = c.benchmark_group("html_rewrite_50MiB");
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.sample_size(10);
    group.bench_function("raw_lol_html", |b| b.iter(|| raw(&chunks)));
    group.bench_function("declarative_profile", |b| {
        b.iter(|| declarative(&profile, &chunks))
    });

    // 50 MiB is ~157 000 handler calls: far past a request's default 50 ms of CPU,
    // which would (rightly) stop the rewrite.
    let limits = Limits {
        cpu_time: std::time::Duration::from_secs(600),
        ..Limits::default()
    };
    let engine = ScriptEngine::new(1, limits).expect("engine");
    let script = ScriptSource {
        path: "rewrite.js".into(),
        name: "rewrite.js".into(),
        code: HOOK.into(),
        version: 1,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fetcher: Arc<dyn Fetcher> = Arc::new(PageFetcher(Arc::new(chunks.clone())));
    let run = || {
        rt.block_on(async {
            let mut req = HookRequest::new(
                http::Request::builder()
                    .uri("http://bench.test/")
                    .body(Bytes::new())
                    .expect("request"),
            );
            req.fetcher = Some(fetcher.clone());
            let Answer::Respond(resp) = engine
                .run(script.clone(), Default::default(), req)
                .await
                .expect("runs")
            else {
                panic!("pass-through")
            };
            let Body::Stream(mut s) = resp.body else {
                panic!("a streamed body")
            };
            let mut n = 0;
            while let Some(c) = s.next().await {
                n += c.expect("chunk").len();
            }
            n
        })
    };
    assert_eq!(run(), raw(&chunks), "the hook rewrote the same bytes");
    group.bench_function("js_html_rewriter", |b| b.iter(run));
    group.finish();
}

criterion_group!(html, benches);
criterion_main!(html);
