//! Upper-tier selection: which upper nodes are healthy (registered and answering a
//! TCP connect), and for an object, the order to try them in — its home node by
//! consistent hashing (ketama, as pingora's own load balancer uses), then the next
//! ones on the ring — so each object is fetched from the origin by one upper node.

use crate::registry::NodeInfo;
use arc_swap::ArcSwap;
use pingora_ketama::{Bucket, Continuum};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The healthy upper nodes and their hash ring.
#[derive(Default)]
struct Ring {
    addrs: Vec<SocketAddr>,
    continuum: Option<Continuum>,
}

/// Upper-tier health and ordering, shared by the probe task and requests.
#[derive(Default)]
pub(crate) struct Uppers {
    ring: ArcSwap<Ring>,
    /// Marked down by a failed request; skipped until a probe succeeds after the mark.
    down: Mutex<HashMap<SocketAddr, Instant>>,
}

impl Uppers {
    /// Connects to every registered upper node (but `me`) and rebuilds the ring from
    /// those that answered.
    pub(crate) async fn probe(&self, nodes: &[NodeInfo], me: &str, timeout: Duration) {
        let mut probes = tokio::task::JoinSet::new();
        for addr in nodes
            .iter()
            .filter(|n| n.is_upper() && n.id != me)
            .filter_map(|n| n.advertise)
        {
            probes.spawn(async move {
                let ok = matches!(
                    tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await,
                    Ok(Ok(_))
                );
                (addr, ok, Instant::now())
            });
        }
        let mut healthy = Vec::new();
        while let Some(Ok((addr, ok, at))) = probes.join_next().await {
            if ok {
                healthy.push(addr);
                let mut down = self.down.lock().unwrap_or_else(|p| p.into_inner());
                if down.get(&addr).is_some_and(|marked| *marked < at) {
                    down.remove(&addr);
                }
            }
        }
        healthy.sort();
        if healthy != self.ring.load().addrs {
            if healthy.len() != self.ring.load().addrs.len() {
                tracing::info!(uppers = ?healthy, "healthy upper tiers changed");
            }
            let continuum = (!healthy.is_empty()).then(|| {
                let buckets: Vec<Bucket> = healthy.iter().map(|a| Bucket::new(*a, 1)).collect();
                Continuum::new(&buckets)
            });
            self.ring.store(Arc::new(Ring {
                addrs: healthy,
                continuum,
            }));
        }
    }

    /// The healthy upper nodes, in address order.
    pub(crate) fn healthy(&self) -> Vec<SocketAddr> {
        self.ring.load().addrs.clone()
    }

    /// The upper nodes to try for `key`, home first; nodes marked down go last
    /// (they may be back before the next probe says so).
    pub(crate) fn order(&self, key: &[u8]) -> Vec<SocketAddr> {
        let ring = self.ring.load();
        let Some(continuum) = &ring.continuum else {
            return Vec::new();
        };
        let mut order: Vec<SocketAddr> = Vec::with_capacity(ring.addrs.len());
        for addr in continuum.node_iter(key) {
            if !order.contains(addr) {
                order.push(*addr);
            }
            if order.len() == ring.addrs.len() {
                break;
            }
        }
        let down = self.down.lock().unwrap_or_else(|p| p.into_inner());
        order.sort_by_key(|a| down.contains_key(a));
        order
    }

    /// A request could not reach `addr`.
    pub(crate) fn mark_down(&self, addr: SocketAddr) {
        self.down
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(addr, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper(id: &str, addr: SocketAddr) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            region: String::new(),
            tier: "upper".into(),
            advertise: Some(addr),
            version: String::new(),
            bundle: None,
            started: 0,
            seen: 0,
        }
    }

    #[tokio::test]
    async fn objects_have_one_home_and_fail_over_along_the_ring() {
        let mut listeners = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..3 {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            nodes.push(upper(&format!("u{i}"), l.local_addr().expect("addr")));
            listeners.push(l);
        }
        let uppers = Uppers::default();
        uppers.probe(&nodes, "me", Duration::from_secs(1)).await;
        assert_eq!(uppers.healthy().len(), 3);
        // Every key has a stable home, and the homes spread over the nodes.
        let mut homes = HashMap::new();
        for k in 0..300 {
            let key = format!("a.test/object/{k}");
            let order = uppers.order(key.as_bytes());
            assert_eq!(order.len(), 3);
            assert_eq!(order, uppers.order(key.as_bytes()));
            *homes.entry(order[0]).or_insert(0) += 1;
        }
        assert_eq!(homes.len(), 3, "{homes:?}");
        assert!(homes.values().all(|n| *n > 50), "{homes:?}");
        // A node marked down is tried last; the others keep their order.
        let key = b"a.test/x";
        let before = uppers.order(key);
        uppers.mark_down(before[0]);
        let after = uppers.order(key);
        assert_eq!(after[2], before[0]);
        // A node that stops answering leaves the ring at the next probe; only the
        // objects it was home for move.
        drop(listeners.remove(0));
        uppers.probe(&nodes, "me", Duration::from_secs(1)).await;
        assert_eq!(uppers.healthy().len(), 2);
        let gone = nodes[0].advertise.expect("addr");
        for k in 0..300 {
            let key = format!("a.test/object/{k}");
            let order = uppers.order(key.as_bytes());
            assert!(!order.contains(&gone));
        }
    }
}
