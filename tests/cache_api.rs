//! Workers' Cache API in hooks through the real binary: `caches.default` is the node's
//! own cache (an entry a hook puts there is what a client request for that URL is
//! served from), `caches.open(name)` keeps its entries apart, and what may be stored
//! follows the response's own headers.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, header_text};
use std::sync::atomic::Ordering;

/// A hook on `hooked.test` that runs one Cache API operation per request:
/// `/put|/match|/delete?key=URL[&cc=…][&body=…][&named=1]`, `/misuse`, `/shape`.
const HOOK: &str = r#"export default {
  async fetch(request) {
    const url = new URL(request.url);
    const q = url.searchParams;
    const cache = q.get("named") ? await caches.open("mine") : caches.default;
    const key = q.get("key");
    switch (url.pathname) {
      case "/put":
        await cache.put(key, new Response(q.get("body"), {
          headers: { "cache-control": q.get("cc"), "content-type": "text/plain", "x-put": "1", "cache-tag": q.get("tag") || "none" },
        }));
        return new Response("stored");
      case "/match": {
        const r = await cache.match(key);
        if (r === undefined) return new Response("none", { status: 404 });
        return new Response(await r.text(), {
          headers: { "x-cf-cache-status": r.headers.get("cf-cache-status"), "x-put": r.headers.get("x-put") },
        });
      }
      case "/delete":
        return new Response(String(await cache.delete(key)));
      case "/misuse": {
        const out = [];
        for (const attempt of [
          () => cache.put(new Request(key, { method: "POST" }), new Response("x")),
          () => cache.put(key, new Response("x", { status: 206 })),
          () => cache.put(key, new Response("x", { headers: { vary: "*" } })),
        ]) {
          try { await attempt(); out.push("stored"); } catch (e) { out.push(`${e.name}: ${e.message}`); }
        }
        return new Response(out.join("\n"));
      }
      case "/shape": {
        let constructed;
        try { new Cache(); constructed = "yes"; } catch (e) { constructed = e.name; }
        return Response.json({
          caches: typeof caches,
          isCache: caches.default instanceof Cache,
          storage: caches instanceof CacheStorage,
          constructed,
          opened: (await caches.open("x")) instanceof Cache,
        });
      }
    }
    return new Response("?", { status: 400 });
  },
};"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_puts_matches_and_deletes_and_clients_are_served_what_it_put() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("cache.js"), HOOK).expect("script");
        let admin = format!("127.0.0.1:{}", common::free_port());
        let op = Outpost::start_in(
            dir,
            &format!(
                "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\ncache: {{ memory: 16MiB }}\nsites:\n  - hosts: [hooked.test]\n    origins: [\"{0}\"]\n    script: cache.js\n  - hosts: [plain.test]\n    origins: [\"{0}\"]\n    compression: {{ enabled: false }}\n",
                origin.url()
            ),
            &[],
        );
        let c = client();
        let hook = |path: String| {
            let c = c.clone();
            let url = op.url(&path);
            async move {
                let r = c
                    .get(url)
                    .header("host", "hooked.test")
                    .send()
                    .await
                    .expect("hook");
                let status = r.status().as_u16();
                let cf = header_text(&r, "x-cf-cache-status");
                (status, r.text().await.expect("body"), cf)
            }
        };
        let port = op.http.port();
        let key = format!("http://plain.test:{port}/page");

        assert_eq!(hook(format!("/match?key={key}")).await.1, "none");
        let (status, body, _) =
            hook(format!("/put?key={key}&cc=max-age%3D60&body=from-the-hook")).await;
        assert_eq!((status, body.as_str()), (200, "stored"));
        let (status, body, cf) = hook(format!("/match?key={key}")).await;
        assert_eq!((status, body.as_str(), cf.as_str()), (200, "from-the-hook", "HIT"));

        // A client asking plain.test for that URL gets the entry: a hit, no origin.
        let r = c
            .get(op.url("/page"))
            .header("host", format!("plain.test:{port}"))
            .send()
            .await
            .expect("client");
        assert!(header_text(&r, "cache-status").starts_with("outpost; hit"), "{:?}", r.headers());
        assert_eq!(header_text(&r, "x-put"), "1");
        assert_eq!(r.text().await.expect("body"), "from-the-hook");
        assert_eq!(origin.hits.load(Ordering::SeqCst), 0);

        // Deleted: gone for match and for clients.
        assert_eq!(hook(format!("/delete?key={key}")).await.1, "true");
        assert_eq!(hook(format!("/delete?key={key}")).await.1, "false");
        assert_eq!(hook(format!("/match?key={key}")).await.1, "none");
        let r = c
            .get(op.url("/page"))
            .header("host", format!("plain.test:{port}"))
            .send()
            .await
            .expect("client");
        assert_eq!(r.text().await.expect("body"), "hello from o");

        // What says not to store it is not stored.
        hook(format!("/put?key={key}2&cc=no-store&body=x")).await;
        assert_eq!(hook(format!("/match?key={key}2")).await.1, "none");

        // A named cache keeps its own entries.
        hook(format!("/put?key={key}3&cc=max-age%3D60&body=named&named=1")).await;
        assert_eq!(hook(format!("/match?key={key}3")).await.1, "none");
        assert_eq!(hook(format!("/match?key={key}3&named=1")).await.1, "named");

        // A purge by tag reaches entries scripts put.
        hook(format!("/put?key={key}5&cc=max-age%3D60&body=tagged&tag=promo")).await;
        assert_eq!(hook(format!("/match?key={key}5")).await.1, "tagged");
        let purged = c
            .post(format!("http://{admin}/purge"))
            .body("{\"tags\":[\"promo\"]}")
            .send()
            .await
            .expect("purge");
        let text = purged.text().await.expect("body");
        assert!(text.contains("\"purged\":1"), "{text}");
        assert_eq!(hook(format!("/match?key={key}5")).await.1, "none");

        // Misuse is a TypeError, as in Workers.
        let (_, body, _) = hook(format!("/misuse?key={key}4")).await;
        assert_eq!(
            body,
            "TypeError: Cannot cache response to non-GET request.\n\
             TypeError: Cannot cache response to a range request (206 Partial Content).\n\
             TypeError: Cannot cache response with 'Vary: *' header."
        );
        let (_, body, _) = hook("/shape".to_string()).await;
        assert_eq!(
            body,
            r#"{"caches":"object","isCache":true,"storage":true,"constructed":"TypeError","opened":true}"#
        );
    })
    .await
    .expect("test timed out");
}
