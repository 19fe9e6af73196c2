//! Large bodies stream through the proxy in both directions with bounded memory.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT};
use futures_util::StreamExt;

const SIZE: u64 = 64 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn large_upload_and_download_stream_with_bounded_memory() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("big").await;
        let op = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\nserver: {{ threads: 2 }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n",
            origin.url()
        ));
        let c = common::client();
        // Warm up so the baseline includes thread stacks and pools.
        c.get(op.url("/")).send().await.expect("warm up");
        let baseline = op.peak_rss();

        // Upload: 64 MiB generated on the fly (never held whole by the client either).
        let chunk = bytes::Bytes::from(vec![b'u'; 256 * 1024]);
        let chunks = (SIZE / chunk.len() as u64) as usize;
        let stream = futures_util::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
        let r = c
            .post(op.url("/upload"))
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .expect("upload");
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.expect("body"), format!("received {SIZE}"));

        // Download: 64 MiB streamed from the origin, counted as it arrives.
        let r = c.get(op.url(&format!("/big?bytes={SIZE}"))).send().await.expect("download");
        assert_eq!(r.status(), 200);
        let mut body = r.bytes_stream();
        let mut got: u64 = 0;
        while let Some(b) = body.next().await {
            got += b.expect("chunk").len() as u64;
        }
        assert_eq!(got, SIZE);

        let peak = op.peak_rss();
        let grew = peak.saturating_sub(baseline);
        eprintln!("proxy peak RSS {} MiB (baseline {} MiB, grew {} MiB) for 2 x 64 MiB", peak >> 20, baseline >> 20, grew >> 20);
        assert!(grew < 24 * 1024 * 1024, "proxy buffered the body: peak RSS grew by {} MiB", grew >> 20);
    })
    .await
    .expect("test timed out");
}

/// A hook that streams: `/stream` writes a first chunk, waits until `/release` (another
/// request to the same script) lets it go on, then writes the last one; `/upper`
/// passes a fetched body through a JS TransformStream.
const STREAMING_HOOK: &str = r#"
let release;
const released = new Promise((r) => { release = r; });
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/release") { release(); return new Response("released"); }
    if (url.pathname === "/stream") {
      const { readable, writable } = new TransformStream();
      const writer = writable.getWriter();
      const enc = new TextEncoder();
      ctx.waitUntil((async () => {
        await writer.write(enc.encode("first;"));
        await released;
        await writer.write(enc.encode("last"));
        await writer.close();
      })());
      return new Response(readable, { headers: { "x-streamed": "1" } });
    }
    if (url.pathname === "/upper") {
      const r = await fetch(request.url.replace("/upper", "/big"));
      const upper = new TransformStream({
        transform(chunk, controller) {
          const out = new Uint8Array(chunk);
          for (let i = 0; i < out.length; i++) if (out[i] >= 97 && out[i] <= 122) out[i] -= 32;
          controller.enqueue(out);
        },
      });
      return new Response(r.body.pipeThrough(upper));
    }
    if (url.pathname === "/through") {
      const r = await fetch(request.url.replace("/through", "/big"));
      return new Response(r.body.pipeThrough(new TransformStream()));
    }
    return fetch(request);
  },
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_streams_its_response_as_it_writes_it_with_bounded_memory() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("big").await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("stream.js"), STREAMING_HOOK).expect("write");
        let op = Outpost::start_in(
            dir,
            &format!(
                "listen: {{ http: \"{{http}}\" }}\nserver: {{ threads: 1 }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n    script: stream.js\n",
                origin.url()
            ),
            &[],
        );
        let c = common::client();

        // The first chunk reaches the client while the script cannot have finished: it
        // waits for /release, which is only sent after that chunk has arrived.
        let r = c.get(op.url("/stream")).send().await.expect("stream");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-streamed"], "1");
        let mut body = r.bytes_stream();
        let first = body.next().await.expect("a first chunk").expect("chunk");
        assert_eq!(&first[..], b"first;");
        let released = c.get(op.url("/release")).send().await.expect("release");
        assert_eq!(released.text().await.expect("body"), "released");
        let mut rest = Vec::new();
        while let Some(b) = body.next().await {
            rest.extend_from_slice(&b.expect("chunk"));
        }
        assert_eq!(rest, b"last");

        // A transformer that rewrites every byte.
        let r = c.get(op.url("/upper?bytes=200000")).send().await.expect("upper");
        assert_eq!(r.status(), 200);
        let upper = r.bytes().await.expect("body");
        assert_eq!(upper.len(), 200_000);
        assert!(upper.iter().all(|b| *b == b'X'), "every byte is transformed");

        // 64 MiB through a JS TransformStream: the process does not hold the body.
        let baseline = op.peak_rss();
        let r = c.get(op.url(&format!("/through?bytes={SIZE}"))).send().await.expect("through");
        assert_eq!(r.status(), 200);
        let mut body = r.bytes_stream();
        let mut got: u64 = 0;
        while let Some(b) = body.next().await {
            got += b.expect("chunk").len() as u64;
        }
        assert_eq!(got, SIZE);
        let grew = op.peak_rss().saturating_sub(baseline);
        eprintln!("peak RSS grew {} MiB for 64 MiB through a TransformStream", grew >> 20);
        assert!(grew < 48 * 1024 * 1024, "the body was buffered: peak RSS grew by {} MiB", grew >> 20);
    })
    .await
    .expect("test timed out");
}
