//! Cluster mode with real processes: a real `redis-server` (Debian package) on a free
//! loopback port, upper- and lower-tier `outpost` processes, one origin. Tiered
//! fetching (one origin fetch per object), purge fan-out with acknowledgements and
//! catch-up after a disconnection, Redis outages, and upper-tier failover.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, client, free_port};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A `redis-server` on 127.0.0.1, without persistence, killed on drop.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start() -> Redis {
        Self::on(free_port())
    }

    fn on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP relay to Redis that the test can cut (dropping every connection and
/// refusing new ones) and restore: one node's network to Redis.
struct Link {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Link {
    async fn to(target: u16) -> Link {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (u, g) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !u.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let (u, g) = (u.clone(), g.clone());
                let born = g.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut server) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    let relay = tokio::io::copy_bidirectional(&mut client, &mut server);
                    let watch = async {
                        while u.load(Ordering::SeqCst) && g.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = relay => {}
                        () = watch => {}
                    }
                });
            }
        });
        Link {
            addr,
            up,
            generation,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// One cluster node.
struct Node {
    outpost: Outpost,
    admin: String,
}

impl Node {
    /// A node started with `admin: { listen: "{admin}" }`.
    fn of(outpost: Outpost) -> Node {
        let admin = outpost
            .admin
            .expect("the node's config has {admin}")
            .to_string();
        Node { outpost, admin }
    }

    fn start(id: &str, tier: &str, redis: &str, origin: &TestOrigin) -> Node {
        Self::start_in(
            tempfile::tempdir().expect("tempdir"),
            id,
            tier,
            redis,
            origin,
            ("", ""),
            None,
        )
    }

    /// A node in `dir` (kept across restarts), with extra `cluster:` and `cache:`
    /// lines, on a given HTTP address (a restart keeps its address).
    fn start_in(
        dir: tempfile::TempDir,
        id: &str,
        tier: &str,
        redis: &str,
        origin: &TestOrigin,
        (cluster_extra, cache_extra): (&str, &str),
        http: Option<SocketAddr>,
    ) -> Node {
        let yaml = format!(
            "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{{admin}}\" }}\ncluster:\n  redis: \"{redis}\"\n  node_id: {id}\n  region: test\n  tier: {tier}\n  heartbeat: 300ms\n  purge_ack_timeout: 3s\n{cluster_extra}cache:\n  memory: 16MiB\n{cache_extra}sites:\n  - default: true\n    origins: [\"{}\"]\n    retries: 0\n    timeouts: {{ connect: 1s, read: 5s }}\n",
            origin.url()
        );
        let outpost = match http {
            Some(http) => {
                let https = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
                Outpost::start_on(dir, &yaml, http, https)
            }
            None => Outpost::start_in(dir, &yaml, &[]),
        };
        Node::of(outpost)
    }

    async fn status(&self) -> serde_json::Value {
        let r = client()
            .get(format!("http://{}/status", self.admin))
            .send()
            .await
            .expect("status");
        r.json::<serde_json::Value>().await.expect("json")["cluster"].clone()
    }

    /// Waits until this node sees `n` healthy upper-tier nodes (and Redis).
    async fn wait_uppers(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.status().await;
            if s["connected"] == true && s["uppers_healthy"].as_array().map_or(0, Vec::len) == n {
                return;
            }
            assert!(Instant::now() < deadline, "never saw {n} upper tiers: {s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until this node's registry view lists `n` nodes (a purge expects
    /// acknowledgements from the nodes its node knows of).
    async fn wait_nodes(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.status().await;
            if s["nodes"].as_array().map_or(0, Vec::len) == n {
                return;
            }
            assert!(Instant::now() < deadline, "never saw {n} nodes: {s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET path`: status, Cache-Status and body.
    async fn get(&self, path: &str) -> (u16, String, String) {
        let r = client()
            .get(self.outpost.url(path))
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let cache = common::header_text(&r, "cache-status");
        (status, cache, r.text().await.expect("body"))
    }

    async fn purge(&self, body: serde_json::Value) -> serde_json::Value {
        client()
            .post(format!("http://{}/purge", self.admin))
            .json(&body)
            .send()
            .await
            .expect("purge")
            .json()
            .await
            .expect("purge json")
    }
}

fn hits(origin: &TestOrigin) -> usize {
    origin.hits.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_origin_fetch_per_object_across_three_lower_tiers() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let redis = Redis::start();
        let origin = TestOrigin::start("origin").await;
        let upper = Node::start("upper-1", "upper", &redis.url(), &origin);
        let lowers: Vec<Node> = (1..=3)
            .map(|i| Node::start(&format!("lower-{i}"), "lower", &redis.url(), &origin))
            .collect();
        for l in &lowers {
            l.wait_uppers(1).await;
        }

        // One object, 30 requests spread over the lower tiers, one after another.
        for i in 0..30 {
            let (status, _, _) = lowers[i % 3].get("/c?cc=max-age%3D600&o=one").await;
            assert_eq!(status, 200);
        }
        assert_eq!(hits(&origin), 1, "origin fetches for one object");

        // Ten objects, all at once from every lower tier: still one fetch each
        // (the upper node's cache lock collapses the lower tiers' misses).
        let paths: Vec<String> = (0..10)
            .map(|o| format!("/c?cc=max-age%3D600&ms=100&o=b{o}"))
            .collect();
        let mut burst = Vec::new();
        for p in &paths {
            for l in &lowers {
                burst.push(l.get(p));
            }
        }
        for (status, _, _) in futures_util::future::join_all(burst).await {
            assert_eq!(status, 200);
        }
        assert_eq!(hits(&origin), 11, "origin fetches for eleven objects");
        println!(
            "tiered: 3 lower + 1 upper, 60 requests for 11 objects: {} origin fetches",
            hits(&origin)
        );

        // The registry, as `outpost cluster status` shows it.
        let out = Command::new(common::outpost_bin())
            .args(["cluster", "status", "--config"])
            .arg(&upper.outpost.config)
            .output()
            .expect("outpost cluster status");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for id in ["upper-1", "lower-1", "lower-2", "lower-3"] {
            assert!(text.contains(id), "{id} missing from:\n{text}");
        }
        assert!(text.contains("4 node(s) live"), "{text}");
    })
    .await
    .expect("within the bound");
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread")]
async fn purges_reach_every_node_and_a_disconnected_node_catches_up() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let redis = Redis::start();
        let origin = TestOrigin::start("origin").await;
        let link = Link::to(redis.port).await;
        let upper = Node::start("upper-1", "upper", &redis.url(), &origin);
        let l1 = Node::start("lower-1", "lower", &redis.url(), &origin);
        let l2 = Node::start("lower-2", "lower", &redis.url(), &origin);
        let l3 = Node::start("lower-3", "lower", &link.url(), &origin);
        for l in [&l1, &l2, &l3] {
            l.wait_uppers(1).await;
        }
        // Every node registered before the purge counts who must acknowledge it (one
        // run in many purged before lower-2 was in lower-1's view).
        l1.wait_nodes(4).await;
        let nodes = [&l1, &l2, &l3];

        // Cached everywhere, then purged on one lower node: every node acknowledges,
        // and the next round fetches from the origin exactly once.
        let x = "/c?cc=max-age%3D600&o=x";
        for n in nodes {
            n.get(x).await;
        }
        assert_eq!(hits(&origin), 1);
        let r = l1
            .purge(serde_json::json!({ "files": [format!("http://{}{x}", l1.outpost.http)] }))
            .await;
        assert_eq!(r["cluster"]["queued"], false, "{r}");
        assert_eq!(r["cluster"]["expected"], 3, "{r}");
        assert_eq!(
            r["cluster"]["acknowledged"].as_array().map_or(0, Vec::len),
            3,
            "{r}"
        );
        for n in nodes {
            let (_, cache, _) = n.get(x).await;
            assert!(cache.contains("outpost"), "{cache}");
        }
        assert_eq!(
            hits(&origin),
            2,
            "purged everywhere: refetched once, through the upper tier"
        );
        let _ = &upper;

        // Propagation latency: 20 purges, three acknowledgements each.
        let mut acks: Vec<u64> = Vec::new();
        for i in 0..20 {
            let r = l1
                .purge(serde_json::json!({ "prefixes": [format!("{}/none/{i}", l1.outpost.http)] }))
                .await;
            let list = r["cluster"]["acknowledged"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(list.len(), 3, "{r}");
            acks.extend(list.iter().filter_map(|a| a["ms"].as_u64()));
        }
        acks.sort_unstable();
        println!(
            "purge propagation over 3 nodes, 60 acknowledgements: p50 {} ms, p99 {} ms, max {} ms",
            percentile(&acks, 0.5),
            percentile(&acks, 0.99),
            acks[acks.len() - 1]
        );

        // lower-3 loses Redis; a purge made meanwhile reaches it when it is back.
        let y = "/c?cc=max-age%3D600&o=y";
        for n in nodes {
            n.get(y).await;
        }
        let fetched = hits(&origin);
        link.cut();
        let deadline = Instant::now() + Duration::from_secs(15);
        while l3.status().await["connected"] != false {
            assert!(Instant::now() < deadline, "lower-3 never noticed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = l1
            .purge(serde_json::json!({ "files": [format!("http://{}{y}", l1.outpost.http)] }))
            .await;
        let acked: Vec<String> = r["cluster"]["acknowledged"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a["node"].as_str().map(str::to_string))
            .collect();
        assert!(!acked.contains(&"lower-3".to_string()), "{r}");
        // While cut off, lower-3 still has its copy (the documented window)...
        let (_, cache, _) = l3.get(y).await;
        assert!(cache.contains("hit"), "{cache}");
        link.restore();
        // ... and drops it once it has read the purge it missed.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, cache, _) = l3.get(y).await;
            if !cache.contains("hit") {
                break;
            }
            assert!(Instant::now() < deadline, "lower-3 never caught up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            hits(&origin),
            fetched + 1,
            "refetched once (lower-1 or lower-3 first)"
        );
    })
    .await
    .expect("within the bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_nodes_keep_serving_and_purges_wait_for_it() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let mut redis = Redis::start();
        let port = redis.port;
        let origin = TestOrigin::start("origin").await;
        let _upper = Node::start("upper-1", "upper", &redis.url(), &origin);
        let l1 = Node::start("lower-1", "lower", &redis.url(), &origin);
        let l2 = Node::start("lower-2", "lower", &redis.url(), &origin);
        l1.wait_uppers(1).await;
        l2.wait_uppers(1).await;
        let x = "/c?cc=max-age%3D600&o=x";
        l1.get(x).await;
        l2.get(x).await;
        assert_eq!(hits(&origin), 1);

        redis.kill();
        let deadline = Instant::now() + Duration::from_secs(15);
        while l1.status().await["connected"] != false {
            assert!(
                Instant::now() < deadline,
                "lower-1 never noticed Redis going"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Serving goes on: hits, and misses through the last known upper tier.
        for n in [&l1, &l2] {
            let (status, cache, _) = n.get(x).await;
            assert_eq!(status, 200);
            assert!(cache.contains("hit"), "{cache}");
        }
        let (status, _, _) = l1.get("/c?cc=max-age%3D600&o=new").await;
        assert_eq!(status, 200);
        l2.get("/c?cc=max-age%3D600&o=new").await;
        assert_eq!(
            hits(&origin),
            2,
            "the new object still came through the upper tier once"
        );

        // A purge is applied here and queued for the others.
        let r = l1
            .purge(serde_json::json!({ "files": [format!("http://{}{x}", l1.outpost.http)] }))
            .await;
        assert_eq!(r["success"], true);
        assert_eq!(r["cluster"]["queued"], true, "{r}");
        assert!(r["cluster"]["error"].is_string(), "{r}");
        assert_eq!(l1.status().await["purges_queued"], 1);

        // Redis comes back (empty): the queued purge goes out and lower-2 applies it.
        let _redis = Redis::on(port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, cache, _) = l2.get(x).await;
            if !cache.contains("hit") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the queued purge never reached lower-2"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(l1.status().await["purges_queued"], 0);
    })
    .await
    .expect("within the bound");
}

/// How many Outposts a request passed through on its way to the origin (the
/// `CDN-Loop` entries the origin saw).
fn hops(echo: &str) -> usize {
    echo.lines()
        .find(|l| l.starts_with("cdn-loop:"))
        .map_or(0, |l| l.matches("outpost").count())
}

#[tokio::test(flavor = "multi_thread")]
async fn lower_tiers_fail_over_to_the_next_upper_then_to_the_origin() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let redis = Redis::start();
        let origin = TestOrigin::start("origin").await;
        let mut u1 = Node::start("upper-1", "upper", &redis.url(), &origin);
        let mut u2 = Node::start("upper-2", "upper", &redis.url(), &origin);
        let lower = Node::start("lower-1", "lower", &redis.url(), &origin);
        lower.wait_uppers(2).await;

        for i in 0..10 {
            let (status, _, body) = lower.get(&format!("/echo?round=1&i={i}")).await;
            assert_eq!((status, hops(&body)), (200, 2), "{body}");
        }
        // One upper tier dies: its objects go to the other at once (no failed request).
        let _ = u1.outpost.child.kill();
        let _ = u1.outpost.child.wait();
        for i in 0..10 {
            let (status, _, body) = lower.get(&format!("/echo?round=2&i={i}")).await;
            assert_eq!((status, hops(&body)), (200, 2), "{body}");
        }
        // Both die: straight to the origin.
        let _ = u2.outpost.child.kill();
        let _ = u2.outpost.child.wait();
        for i in 0..10 {
            let (status, _, body) = lower.get(&format!("/echo?round=3&i={i}")).await;
            assert_eq!((status, hops(&body)), (200, 1), "{body}");
        }
        lower.wait_uppers(0).await;
    })
    .await
    .expect("within the bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_node_never_serves_what_was_purged_while_it_was_down() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let redis = Redis::start();
        let origin = TestOrigin::start("origin").await;
        // Two nodes that both fetch from the origin (no tiers here).
        // The stream keeps about 10 purges (trimmed by whoever publishes).
        let n1 = Node::start_in(
            tempfile::tempdir().expect("tempdir"),
            "node-1",
            "upper",
            &redis.url(),
            &origin,
            ("  purge_retention: 10\n", ""),
            None,
        );
        let disk_node = |dir: tempfile::TempDir, http: Option<SocketAddr>| {
            let cache = format!(
                "  disk: {{ path: \"{}\", size: 64MiB }}\n",
                dir.path().join("cache").display()
            );
            Node::start_in(
                dir,
                "node-2",
                "upper",
                &redis.url(),
                &origin,
                ("  purge_retention: 10\n", &cache),
                http,
            )
        };
        let mut n2 = disk_node(tempfile::tempdir().expect("tempdir"), None);
        let http = n2.outpost.http;
        let deadline = Instant::now() + Duration::from_secs(15);
        while n2.status().await["connected"] != true {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Stored on lower-2's disk; then lower-2 stops.
        let y = "/c?cc=max-age%3D600&o=y";
        n2.get(y).await;
        let (_, cache, _) = n2.get(y).await;
        assert!(cache.contains("hit"), "{cache}");
        // Let its reader store a cursor, then stop it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let dir = n2.outpost.stop_keep_dir();

        // Purged while it is down: on restart it reads on from its cursor.
        let r = n1
            .purge(serde_json::json!({ "files": [format!("http://{http}{y}")] }))
            .await;
        assert_eq!(r["cluster"]["queued"], false, "{r}");
        n2 = disk_node(dir, Some(http));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = n2.status().await;
            if s["purges_applied"].as_u64() >= Some(1) {
                break;
            }
            assert!(Instant::now() < deadline, "{s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, cache, _) = n2.get(y).await;
        assert!(
            !cache.contains("hit"),
            "served a purged object after restart: {cache}"
        );

        // Away for longer than the stream keeps (retention 10, 300 purges): it cannot
        // know what went, so it empties its cache rather than serve any of it.
        let z = "/c?cc=max-age%3D600&o=z";
        n2.get(z).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let dir = n2.outpost.stop_keep_dir();
        for i in 0..300 {
            n1.purge(serde_json::json!({ "prefixes": [format!("a.test/nothing/{i}")] }))
                .await;
        }
        let n2 = disk_node(dir, Some(http));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = n2.status().await;
            if s["purges_missed"] == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "{s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, cache, _) = n2.get(z).await;
        assert!(!cache.contains("hit"), "{cache}");
    })
    .await
    .expect("within the bound");
}

const KV_HOOK: &str = r#"export default {
  async fetch(request, env) {
    const key = new URL(request.url).searchParams.get("k");
    if (request.method === "PUT") {
      await env.STORE.put(key, await request.text());
      return new Response("stored");
    }
    const value = await env.STORE.get(key);
    return new Response(value === null ? "(none)" : value);
  },
};
"#;

/// A node whose site runs `KV_HOOK` over the shared KV namespace `main`.
fn kv_node(id: &str, redis: &str, origin: &TestOrigin) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kv.js"), KV_HOOK).expect("write hook");
    let outpost = Outpost::start_in(
        dir,
        &format!(
            "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{{admin}}\" }}\ncluster:\n  redis: \"{redis}\"\n  node_id: {id}\n  tier: upper\n  heartbeat: 300ms\nkv: {{ backend: redis, cache_ttl: 1s }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n    script: kv.js\n    kv: {{ STORE: main }}\n",
            origin.url()
        ),
        &[],
    );
    Node::of(outpost)
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_namespaces_are_shared_through_redis_within_the_cache_ttl() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let redis = Redis::start();
        let origin = TestOrigin::start("origin").await;
        let a = kv_node("kv-a", &redis.url(), &origin);
        let b = kv_node("kv-b", &redis.url(), &origin);
        let put = |n: &Node, key: &str, value: &str| {
            client()
                .put(n.outpost.url(&format!("/?k={key}")))
                .body(value.to_string())
                .send()
        };

        // Written on a, read on a at once and on b (never read there before) at once.
        let r = put(&a, "greeting", "hello").await.expect("put");
        assert_eq!(r.text().await.expect("body"), "stored");
        assert_eq!(a.get("/?k=greeting").await.2, "hello");
        assert_eq!(b.get("/?k=greeting").await.2, "hello");

        // A key b has read (and cached as missing) shows the new value within the
        // cache's life (kv.cache_ttl: 1s).
        let mut windows = Vec::new();
        for round in 0..5 {
            let key = format!("late{round}");
            assert_eq!(b.get(&format!("/?k={key}")).await.2, "(none)");
            let written = Instant::now();
            put(&a, &key, "v").await.expect("put");
            loop {
                if b.get(&format!("/?k={key}")).await.2 == "v" {
                    break;
                }
                assert!(
                    written.elapsed() < Duration::from_secs(10),
                    "never visible on b"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            windows.push(written.elapsed());
        }
        let worst = windows.iter().max().copied().unwrap_or_default();
        println!(
            "KV staleness on another node (cache_ttl 1s), 5 rounds: {windows:?}, worst {worst:?}"
        );
        assert!(
            worst < Duration::from_secs(3),
            "staleness beyond the cache life: {worst:?}"
        );

        // The admin API goes through the same shared store: ordered, prefixed listing
        // from any node.
        for key in ["user:2", "user:1", "other"] {
            let r = client()
                .put(format!("http://{}/kv/main/{key}?ttl=600", a.admin))
                .body("x")
                .send()
                .await
                .expect("admin put");
            assert_eq!(r.status(), 200);
        }
        let list: serde_json::Value = client()
            .get(format!("http://{}/kv/main?prefix=user:", b.admin))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        let names: Vec<&str> = list["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k["name"].as_str())
            .collect();
        assert_eq!(names, ["user:1", "user:2"], "{list}");
        assert!(list["keys"][0]["expiration"].as_f64().is_some(), "{list}");
        let r = client()
            .delete(format!("http://{}/kv/main/greeting", b.admin))
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), 200);
        assert_eq!(b.get("/?k=greeting").await.2, "(none)");
    })
    .await
    .expect("within the bound");
}

/// Rules that stamp responses with `x-version`.
fn versioned_rules(version: &str) -> String {
    format!("- match: \"/*\"\n  actions: {{ set_response_headers: {{ x-version: {version} }} }}\n")
}

/// `outpost push` with `args`; its stdout, stderr and success.
fn push(config: &std::path::Path, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(common::outpost_bin())
        .args(["push", "--config"])
        .arg(config)
        .args(["--wait", "10s"])
        .args(args)
        .output()
        .expect("outpost push");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn config_pushes_roll_out_in_stages_and_a_bad_bundle_is_refused_everywhere() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let redis = Redis::start();
        let origin = TestOrigin::start("origin").await;
        let mut nodes = Vec::new();
        for i in 1..=3 {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("rules.yaml"), versioned_rules("v1")).expect("write");
            let outpost = Outpost::start_in(
                dir,
                &format!(
                    "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{{admin}}\" }}\ncluster:\n  redis: \"{}\"\n  node_id: node-{i}\n  tier: upper\n  heartbeat: 300ms\nsites:\n  - default: true\n    origins: [\"{}\"]\n    rules: rules.yaml\n",
                    redis.url(),
                    origin.url()
                ),
                &[],
            );
            nodes.push(Node::of(outpost));
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while nodes[0].status().await["nodes"].as_array().map_or(0, Vec::len) < 3 {
            assert!(Instant::now() < deadline, "nodes never registered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let version_of = |n: &Node| {
            let url = n.outpost.url("/c");
            async move {
                let r = client().get(url).send().await.expect("request");
                common::header_text(&r, "x-version")
            }
        };

        // The operator's copy: the same relative paths as the nodes', plus a pool the
        // nodes do not have (used by the bad bundle below).
        let ops = tempfile::tempdir().expect("tempdir");
        let ops_config = ops.path().join("outpost.yaml");
        std::fs::write(
            &ops_config,
            format!(
                "listen: {{ http: \"127.0.0.1:1\" }}\ncluster:\n  redis: \"{}\"\n  node_id: operator\nsites:\n  - default: true\n    origins: [\"{}\"]\n    pools: {{ api: [\"{}\"] }}\n    rules: rules.yaml\n",
                redis.url(),
                origin.url(),
                origin.url()
            ),
        )
        .expect("write");

        // Stage 1: node-1 only.
        std::fs::write(ops.path().join("rules.yaml"), versioned_rules("v2")).expect("write");
        let (out, err, ok) = push(&ops_config, &["--nodes", "node-1", "--message", "stage 1"]);
        assert!(ok, "{out}{err}");
        assert!(out.contains("node-1") && out.contains("applied"), "{out}");
        assert_eq!(version_of(&nodes[0]).await, "v2");
        assert_eq!(version_of(&nodes[1]).await, "v1");
        assert_eq!(version_of(&nodes[2]).await, "v1");
        let bundle = nodes[0].status().await["bundle"].as_str().map(str::to_string);
        assert!(bundle.as_ref().is_some_and(|b| b.len() == 64), "{bundle:?}");

        // Stage 2: everyone.
        let (out, err, ok) = push(&ops_config, &["--message", "stage 2"]);
        assert!(ok, "{out}{err}");
        assert_eq!(out.matches("applied").count(), 3, "{out}");
        for n in &nodes {
            assert_eq!(version_of(n).await, "v2");
            assert_eq!(n.status().await["bundle"].as_str().map(str::to_string), bundle);
        }

        // A bundle that loads for the operator but not on the nodes (it names a pool
        // they do not have): refused by every node, which keep serving v2 from the
        // files they had.
        std::fs::write(
            ops.path().join("rules.yaml"),
            "- match: \"/*\"\n  actions: { origin: api, set_response_headers: { x-version: v3 } }\n",
        )
        .expect("write");
        let (out, err, ok) = push(&ops_config, &[]);
        assert!(!ok, "a refused bundle must fail the push: {out}");
        assert_eq!(out.matches("rejected:").count(), 3, "{out}{err}");
        assert!(out.contains("api"), "the reason is shown: {out}");
        for n in &nodes {
            assert_eq!(version_of(n).await, "v2");
            let rules = std::fs::read_to_string(n.outpost.dir.path().join("rules.yaml"))
                .expect("rules");
            assert_eq!(rules, versioned_rules("v2"), "previous files put back");
            let s = n.status().await;
            assert_eq!(s["bundle"].as_str().map(str::to_string), bundle, "{s}");
            assert!(s["bundle_rejected"][1].as_str().is_some_and(|e| e.contains("api")), "{s}");
        }
    })
    .await
    .expect("within the bound");
}

/// What Redis holds under `pattern` (redis-cli, from the redis-tools package).
fn redis_keys(redis: &Redis, pattern: &str) -> Vec<String> {
    let out = Command::new("redis-cli")
        .args(["-u", &redis.url(), "--scan", "--pattern", pattern])
        .output()
        .expect("redis-cli (Debian package redis-tools)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushed_secrets_travel_sealed_land_private_and_leave_redis() {
    use std::os::unix::fs::PermissionsExt;
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let redis = Redis::start();
        let origin = TestOrigin::start("origin").await;
        let key = "7f".repeat(32);
        // A node and the operator share the key and the secret's relative path.
        let node_yaml = || {
            format!(
                "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{{admin}}\" }}\ncluster:\n  redis: \"{}\"\n  node_id: node-s\n  tier: upper\n  heartbeat: 300ms\n  secret_key_file: cluster.key\nsites:\n  - default: true\n    origins: [\"{}\"]\n    env: {{ TOKEN: {{ file: secrets/token }} }}\n",
                redis.url(),
                origin.url()
            )
        };
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("secrets")).expect("mkdir");
        std::fs::write(dir.path().join("secrets/token"), "old-token").expect("write");
        std::fs::write(dir.path().join("cluster.key"), &key).expect("write");
        let node = Node::of(Outpost::start_in(dir, &node_yaml(), &[]));
        let deadline = Instant::now() + Duration::from_secs(15);
        while node.status().await["nodes"].as_array().map_or(0, Vec::len) < 1 {
            assert!(Instant::now() < deadline, "the node never registered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let ops = tempfile::tempdir().expect("tempdir");
        let ops_config = ops.path().join("outpost.yaml");
        std::fs::write(&ops_config, node_yaml()
                .replace("{http}", "127.0.0.1:1")
                .replace("{admin}", "127.0.0.1:1"))
            .expect("write");
        std::fs::create_dir(ops.path().join("secrets")).expect("mkdir");
        std::fs::write(ops.path().join("secrets/token"), "new-token-s3cr3t").expect("write");

        // Without the key, the config that would push the secret does not load.
        std::fs::remove_file(ops.path().join("cluster.key")).ok();
        let no_key = std::fs::read_to_string(&ops_config)
            .expect("read")
            .replace("  secret_key_file: cluster.key\n", "");
        let no_key_config = ops.path().join("no-key.yaml");
        std::fs::write(&no_key_config, no_key).expect("write");
        let (out, err, ok) = push(&no_key_config, &[]);
        assert!(!ok, "{out}");
        assert!(
            err.contains("secret_key_file") && err.contains("sites[0].env.TOKEN"),
            "the error says what to set and why: {err}"
        );

        std::fs::write(ops.path().join("cluster.key"), &key).expect("write");
        let (out, err, ok) = push(&ops_config, &["--message", "rotate token"]);
        assert!(ok, "{out}{err}");
        let token = node.outpost.dir.path().join("secrets/token");
        assert_eq!(std::fs::read_to_string(&token).expect("token"), "new-token-s3cr3t");
        let mode = std::fs::metadata(&token).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a pushed secret is written private");
        // Applied everywhere: the bundle with the secret is gone from Redis at once.
        let bundles: Vec<String> = redis_keys(&redis, "outpost:bundle:*")
            .into_iter()
            .filter(|k| !k.ends_with(":results"))
            .collect();
        assert!(bundles.is_empty(), "a secret bundle outlived its rollout: {bundles:?}");
        assert!(
            !std::fs::read_to_string(node.outpost.dir.path().join("outpost.yaml"))
                .expect("config")
                .contains("s3cr3t")
        );
    })
    .await
    .expect("within the bound");
}
