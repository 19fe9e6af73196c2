//! Origin host names follow DNS without a reload: a real DNS server on loopback
//! (pebble-challtestsrv, whose records change over its HTTP management API) moves an
//! origin name from one address to another, and the next requests follow.

mod common;

use bytes::Bytes;
use common::dns::Dns;
use common::origin::serve_at;
use common::{Outpost, TEST_TIMEOUT, client, free_port};
use http_body_util::Full;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// An origin on `ip:port` answering with its own name.
async fn origin_at(ip: &str, port: u16, name: &'static str) {
    let bind: SocketAddr = format!("{ip}:{port}").parse().expect("addr");
    serve_at(bind, move |_req| async move {
        http::Response::builder()
            .header("x-origin", name)
            .header("cache-control", "no-store")
            .body(Full::new(Bytes::from_static(name.as_bytes())))
            .expect("response")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_name_follows_its_dns_records_without_a_reload() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dns = Dns::start().await;
        // Two origins on the same port of two loopback addresses.
        let port = free_port();
        origin_at("127.0.0.2", port, "first").await;
        origin_at("127.0.0.3", port, "second").await;
        dns.set_a("origin.test", "127.0.0.2").await;

        let admin = format!("127.0.0.1:{}", free_port());
        let outpost = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\nadmin: {{ listen: \"{admin}\" }}\nresolver: {{ servers: [\"{}\"] }}\nsites:\n  - default: true\n    origins: [\"http://origin.test:{port}\"]\n",
            dns.dns
        ));
        let c = client();
        let body = |outpost: &Outpost| {
            let c = c.clone();
            let url = outpost.url("/");
            async move {
                c.get(url)
                    .send()
                    .await
                    .expect("request")
                    .text()
                    .await
                    .expect("body")
            }
        };
        assert_eq!(body(&outpost).await, "first");

        // The record moves (challtestsrv answers with TTL 0): within a few seconds,
        // with keep-alive connections to the old address open, requests follow.
        dns.set_a("origin.test", "127.0.0.3").await;
        let moved = Instant::now();
        loop {
            if body(&outpost).await == "second" {
                break;
            }
            assert!(
                moved.elapsed() < Duration::from_secs(5),
                "still on the old address 5 s after the DNS change"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("followed the DNS change in {:?}", moved.elapsed());
        for _ in 0..5 {
            assert_eq!(body(&outpost).await, "second");
        }

        // The admin API and metrics show the resolver's state.
        let status: serde_json::Value = c
            .get(format!("http://{admin}/resolver"))
            .send()
            .await
            .expect("resolver status")
            .json()
            .await
            .expect("json");
        let name = &status["names"][0];
        assert_eq!(name["name"], format!("origin.test:{port}"), "{status}");
        assert_eq!(name["addresses"][0], format!("127.0.0.3:{port}"), "{status}");
        assert!(name["changes"].as_u64() >= Some(1), "{status}");
        assert!(status["servers"].as_str().is_some_and(|s| s.contains(&dns.dns.to_string())));
        let metrics = common::scrape(&admin).await;
        assert_eq!(
            common::metric(&metrics, &format!("outpost_resolver_addresses{{name=\"origin.test:{port}\"}}")),
            1.0
        );
        assert!(common::metric(&metrics, "outpost_resolver_lookups{result=\"ok\"}") >= 2.0);
    })
    .await
    .expect("within the bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_address_of_a_name_costs_a_quarter_second_not_a_timeout() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dns = Dns::start().await;
        let port = free_port();
        origin_at("127.0.0.5", port, "alive").await;
        // 127.0.0.4 refuses; the name has both addresses, the dead one first.
        let base = format!("http://{}", dns.management);
        let r = client()
            .post(format!("{base}/add-a"))
            .body("{\"host\":\"pair.test.\",\"addresses\":[\"127.0.0.4\",\"127.0.0.5\"]}")
            .send()
            .await
            .expect("add-a");
        assert!(r.status().is_success());
        let outpost = Outpost::start(&format!(
            "listen: {{ http: \"{{http}}\" }}\nresolver: {{ servers: [\"{}\"] }}\nsites:\n  - default: true\n    retries: 0\n    origins: [\"http://pair.test:{port}\"]\n    timeouts: {{ connect: 10s }}\n",
            dns.dns
        ));
        for _ in 0..3 {
            let started = Instant::now();
            let r = client().get(outpost.url("/")).send().await.expect("request");
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.expect("body"), "alive");
            assert!(started.elapsed() < Duration::from_secs(5), "waited for a timeout");
        }
    })
    .await
    .expect("within the bound");
}

#[test]
fn resolver_servers_are_checked_with_their_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("outpost.yaml");
    std::fs::write(
        &config,
        "listen: { http: \"127.0.0.1:1\" }\nresolver:\n  servers: [\"127.0.0.1:8053\", \"dns.example\"]\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:2\"]\n",
    )
    .expect("write");
    let out = Command::new(common::outpost_bin())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("outpost check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("outpost.yaml:3:") && err.contains("dns.example"),
        "{err}"
    );
}
