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

/// A hook over request bodies: `/count` reads `request.body` with `for await`, `/echo`
/// answers with the request body uppercased through a TransformStream as it arrives,
/// anything else is `fetch(request)` (the origin's `/upload` counts what it receives).
const BODY_HOOK: &str = r#"
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/count") {
      let bytes = 0, chunks = 0;
      for await (const chunk of request.body) { bytes += chunk.byteLength; chunks++; }
      return new Response(`${bytes} bytes in ${chunks > 1 ? "several" : "one"} chunks`);
    }
    if (url.pathname === "/echo") {
      const upper = new TransformStream({
        transform(chunk, controller) {
          const out = new Uint8Array(chunk);
          for (let i = 0; i < out.length; i++) if (out[i] >= 97 && out[i] <= 122) out[i] -= 32;
          controller.enqueue(out);
        },
      });
      return new Response(request.body.pipeThrough(upper));
    }
    return fetch(request);
  },
};
"#;

/// Reads from `s` until `needle` has arrived (or the timeout passes: then the bytes were
/// held back somewhere).
fn read_until(s: &mut std::net::TcpStream, seen: &mut Vec<u8>, needle: &[u8]) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let n = s.read(&mut buf).unwrap_or_else(|e| {
            panic!(
                "waiting for {:?}: {e}; got so far: {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(seen)
            )
        });
        assert!(
            n > 0,
            "connection closed; got {:?}",
            String::from_utf8_lossy(seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_bodies_stream_into_hooks_and_on_to_the_origin() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("big").await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("body.js"), BODY_HOOK).expect("write");
        // A debug build's interpreter reads 8 MiB in more than the default 50 ms of CPU.
        let op = Outpost::start_in(
            dir,
            &format!(
                "listen: {{ http: \"{{http}}\" }}\nserver: {{ threads: 1, script_cpu_limit: 5s }}\nsites:\n  - hosts: [small.test]\n    origins: [\"{0}\"]\n    script: body.js\n    max_request_body: 1MiB\n  - default: true\n    origins: [\"{0}\"]\n    script: body.js\n",
                origin.url()
            ),
            &[],
        );
        let c = common::client();
        let streamed = |total: usize| {
            let chunk = bytes::Bytes::from(vec![b'u'; 64 * 1024]);
            let n = total / chunk.len();
            reqwest::Body::wrap_stream(futures_util::stream::iter(
                (0..n).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            ))
        };

        // The script reads a chunked upload chunk by chunk.
        let r = c.post(op.url("/count")).body(streamed(8 << 20)).send().await.expect("count");
        assert_eq!(r.status(), 200, "{}", op.log_text());
        assert_eq!(r.text().await.expect("body"), format!("{} bytes in several chunks", 8 << 20));

        // `fetch(request)` sends the body on as it arrives, with its length when the
        // client gave one, chunked when not; 64 MiB pass with bounded memory.
        let r = c.post(op.url("/upload")).body(vec![b'l'; 3 << 20]).send().await.expect("sized upload");
        assert_eq!(r.text().await.expect("body"), format!("received {}", 3 << 20));
        let baseline = op.peak_rss();
        let r = c.post(op.url("/upload")).body(streamed(SIZE as usize)).send().await.expect("upload");
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.expect("body"), format!("received {SIZE}"));
        let grew = op.peak_rss().saturating_sub(baseline);
        eprintln!("peak RSS grew {} MiB for a 64 MiB upload through fetch(request)", grew >> 20);
        assert!(grew < 48 * 1024 * 1024, "the upload was buffered: peak RSS grew by {} MiB", grew >> 20);

        // Over the site's max_request_body while the script reads it: 413.
        let r = c
            .post(op.url("/count"))
            .header("host", "small.test")
            .body(streamed(2 << 20))
            .send()
            .await
            .expect("too large");
        assert_eq!(r.status(), 413);

        // Both directions at once: the echo of the first chunk comes back before the
        // client has sent the second (a buffered body would never answer).
        let addr: std::net::SocketAddr = op.url("").trim_start_matches("http://").parse().expect("addr");
        let echoed = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
            s.write_all(b"POST /echo HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                .expect("first chunk");
            let mut seen = Vec::new();
            read_until(&mut s, &mut seen, b"HELLO");
            s.write_all(b"6\r\n world\r\n0\r\n\r\n").expect("last chunk");
            read_until(&mut s, &mut seen, b"0\r\n\r\n");
            String::from_utf8_lossy(&seen).into_owned()
        })
        .await
        .expect("echo");
        assert!(echoed.starts_with("HTTP/1.1 200"), "{echoed}");
        assert!(echoed.contains("WORLD"), "{echoed}");
    })
    .await
    .expect("test timed out");
}
