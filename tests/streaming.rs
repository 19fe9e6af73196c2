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
