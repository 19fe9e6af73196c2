//! pebble-challtestsrv as a DNS server on loopback whose records a test changes over
//! its HTTP management API.

use super::{client, free_port};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// pebble-challtestsrv answering DNS on a loopback port, with no default answers.
pub struct Dns {
    child: Child,
    /// Where it answers DNS.
    pub dns: SocketAddr,
    /// Its HTTP management API.
    pub management: SocketAddr,
}

impl Dns {
    /// Starts one. Its two ports are picked free but bound only by the child, so
    /// another process may take one first (the child then exits): such a start is
    /// retried on fresh ports. Ready means a management request was answered.
    pub async fn start() -> Dns {
        for _ in 0..5 {
            if let Some(dns) = Self::try_start().await {
                return dns;
            }
        }
        panic!("pebble-challtestsrv did not start (5 tries on fresh ports)");
    }

    async fn try_start() -> Option<Dns> {
        let dns: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let management: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let child = Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                &dns.to_string(),
                "-management",
                &management.to_string(),
            ])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "", "-defaultIPv6", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (Debian package pebble)");
        let mut me = Dns {
            child,
            dns,
            management,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let probe = format!("http://{management}/clear-a");
        loop {
            if me.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            let answered = client()
                .post(&probe)
                .body("{\"host\":\"probe.invalid.\"}")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return Some(me);
            }
            assert!(
                Instant::now() < deadline,
                "pebble-challtestsrv did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Makes `host` resolve to `ip` only.
    pub async fn set_a(&self, host: &str, ip: &str) {
        let base = format!("http://{}", self.management);
        let c = client();
        let r = c
            .post(format!("{base}/clear-a"))
            .body(format!("{{\"host\":\"{host}.\"}}"))
            .send()
            .await
            .expect("clear-a");
        assert!(r.status().is_success());
        let r = c
            .post(format!("{base}/add-a"))
            .body(format!("{{\"host\":\"{host}.\",\"addresses\":[\"{ip}\"]}}"))
            .send()
            .await
            .expect("add-a");
        assert!(r.status().is_success());
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
