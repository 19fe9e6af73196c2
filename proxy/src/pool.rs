//! Origin pools: choosing an origin per request and tracking origin health.
//!
//! Health has two inputs. Active probes (optional, per site) flip an origin down
//! after `unhealthy_threshold` consecutive failed probes and up after
//! `healthy_threshold` successes. Passive marking counts consecutive failed
//! requests (connect errors, timeouts) and takes an origin out of rotation for
//! `cooldown` after `max_failures`. When every origin looks down we still try them
//! rather than fail outright: a false "all down" must not become an outage.

use crate::resolve::{HappyEyeballs, Name};
use outpost_config::{Balance, HealthCheck, Origin, PassiveHealth, Timeouts};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where an origin is.
#[derive(Debug, Clone)]
pub enum Address {
    /// An IP address in the config, or the static origin's loopback port.
    Fixed(SocketAddr),
    /// A host name, kept resolved by the resolver.
    Named(Arc<Name>),
}

impl Address {
    /// Where the next connection goes first.
    pub fn current(&self) -> SocketAddr {
        match self {
            Address::Fixed(a) => *a,
            Address::Named(n) => n.preferred(),
        }
    }
}

/// One origin as resolved at load: `(origin, address, tls, host, port)`.
pub type ResolvedOrigin = (Origin, Address, bool, String, u16);

/// One origin with its resolved address and health state.
#[derive(Debug)]
pub struct OriginState {
    /// The origin as configured.
    pub origin: Origin,
    /// Where to connect.
    pub address: Address,
    /// Its place on the consistent-hash ring (the first address at load, so that
    /// placement does not move when DNS answers change).
    ring_key: SocketAddr,
    /// For a name: the connector that tries its addresses (built once, not per request).
    pub connector: Option<Arc<HappyEyeballs>>,
    /// TLS to the origin.
    pub tls: bool,
    /// SNI and certificate name for TLS origins; `Host` for `origin_host: origin`.
    pub host: String,
    /// Port, for the `Host` header.
    pub port: u16,
    active_up: AtomicBool,
    probe_streak: AtomicU32,
    passive_failures: AtomicU32,
    /// Milliseconds since the pool's epoch until which passive marking keeps it out.
    down_until_ms: AtomicU64,
}

impl OriginState {
    /// Label used in logs: the configured origin.
    pub fn label(&self) -> String {
        self.origin.to_string()
    }

    /// Where the next connection goes first.
    pub fn addr(&self) -> SocketAddr {
        self.address.current()
    }

    /// The origin's own `Host` value (`origin_host: origin`): its host, bracketed if
    /// IPv6, with the port unless it is the scheme's default.
    pub fn authority(&self) -> Authority<'_> {
        Authority(self)
    }
}

/// [`OriginState::authority`], written where it is needed without an allocation.
pub struct Authority<'a>(&'a OriginState);

impl std::fmt::Display for Authority<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = self.0;
        if o.host.contains(':') {
            write!(f, "[{}]", o.host)?;
        } else {
            f.write_str(&o.host)?;
        }
        if o.port != if o.tls { 443 } else { 80 } {
            write!(f, ":{}", o.port)?;
        }
        Ok(())
    }
}

/// The origins of one site and how to choose among them.
pub struct OriginPool {
    origins: Vec<OriginState>,
    balance: Balance,
    ring: Option<pingora_ketama::Continuum>,
    next: AtomicUsize,
    epoch: Instant,
    /// Passive marking settings.
    pub passive: PassiveHealth,
    /// Active probe settings.
    pub health_check: Option<HealthCheck>,
    /// Timeouts towards these origins.
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for OriginPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginPool")
            .field("origins", &self.origins)
            .field("balance", &self.balance)
            .finish_non_exhaustive()
    }
}

impl OriginPool {
    /// Builds a pool from resolved origins.
    pub fn new(
        resolved: Vec<ResolvedOrigin>,
        balance: Balance,
        passive: PassiveHealth,
        health_check: Option<HealthCheck>,
        timeouts: Timeouts,
    ) -> Self {
        let origins: Vec<OriginState> = resolved
            .into_iter()
            .map(|(origin, address, tls, host, port)| OriginState {
                origin,
                ring_key: address.current(),
                connector: match &address {
                    Address::Named(name) => {
                        Some(Arc::new(HappyEyeballs::new(name.clone(), timeouts.connect)))
                    }
                    Address::Fixed(_) => None,
                },
                address,
                tls,
                host,
                port,
                active_up: AtomicBool::new(true),
                probe_streak: AtomicU32::new(0),
                passive_failures: AtomicU32::new(0),
                down_until_ms: AtomicU64::new(0),
            })
            .collect();
        let ring = (balance == Balance::ConsistentHash).then(|| {
            let buckets: Vec<_> = origins
                .iter()
                .map(|o| pingora_ketama::Bucket::new(o.ring_key, 1))
                .collect();
            pingora_ketama::Continuum::new(&buckets)
        });
        OriginPool {
            origins,
            balance,
            ring,
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
            passive,
            health_check,
            timeouts,
        }
    }

    /// The origins, in configuration order.
    pub fn origins(&self) -> &[OriginState] {
        &self.origins
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether selection uses the hash key (consistent hashing).
    pub fn is_hashed(&self) -> bool {
        self.ring.is_some()
    }

    /// Whether `i` is in rotation (active probes say up and not passively marked out).
    pub fn is_available(&self, i: usize) -> bool {
        let o = &self.origins[i];
        // (An origin never marked down needs no clock read: most requests.)
        let down_until = o.down_until_ms.load(Ordering::Relaxed);
        o.active_up.load(Ordering::Relaxed) && (down_until == 0 || self.now_ms() >= down_until)
    }

    /// Picks an origin not in `exclude`: a healthy one if any, else any untried one.
    /// `key` is the consistent-hash input (ignored for round robin).
    pub fn select(&self, key: &[u8], exclude: &[usize]) -> Option<usize> {
        let n = self.origins.len();
        // (Either order, without boxing an iterator per request.)
        let (hashed, round) = match (&self.ring, self.balance) {
            (Some(ring), Balance::ConsistentHash) => (
                Some(
                    ring.node_iter(key)
                        .filter_map(|addr| self.origins.iter().position(|o| o.ring_key == *addr))
                        .take(n * 200),
                ),
                None,
            ),
            _ => {
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                (None, Some((0..n).map(move |k| (start + k) % n)))
            }
        };
        let order = hashed
            .into_iter()
            .flatten()
            .chain(round.into_iter().flatten());
        let mut fallback = None;
        for i in order {
            if exclude.contains(&i) {
                continue;
            }
            if self.is_available(i) {
                return Some(i);
            }
            fallback.get_or_insert(i);
        }
        fallback.or_else(|| (0..n).find(|i| !exclude.contains(i)))
    }

    /// Records a request that reached origin `i` and got a response.
    pub fn record_success(&self, i: usize) {
        self.origins[i].passive_failures.store(0, Ordering::Relaxed);
    }

    /// Records a failed attempt (connect error or timeout) against origin `i`.
    pub fn record_failure(&self, i: usize) {
        let o = &self.origins[i];
        let n = o.passive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if self.passive.max_failures > 0 && n >= self.passive.max_failures {
            let until = self.now_ms() + self.passive.cooldown.as_millis() as u64;
            o.down_until_ms.store(until, Ordering::Relaxed);
            o.passive_failures.store(0, Ordering::Relaxed);
            tracing::warn!(origin = %o.label(), cooldown = ?self.passive.cooldown, "origin marked down after {n} consecutive failures");
        }
    }

    /// Applies one active probe result to origin `i`, honouring the thresholds.
    pub fn record_probe(&self, i: usize, ok: bool) {
        let Some(hc) = &self.health_check else { return };
        let o = &self.origins[i];
        let up = o.active_up.load(Ordering::Relaxed);
        if ok == up {
            o.probe_streak.store(0, Ordering::Relaxed);
            return;
        }
        let streak = o.probe_streak.fetch_add(1, Ordering::Relaxed) + 1;
        let needed = if up {
            hc.unhealthy_threshold
        } else {
            hc.healthy_threshold
        };
        if streak >= needed {
            o.active_up.store(ok, Ordering::Relaxed);
            o.probe_streak.store(0, Ordering::Relaxed);
            if ok {
                // A recovered origin gets a clean slate from passive marking too.
                o.down_until_ms.store(0, Ordering::Relaxed);
                tracing::info!(origin = %o.label(), "origin healthy again (active probe)");
            } else {
                tracing::warn!(origin = %o.label(), "origin unhealthy (active probe)");
            }
        }
    }

    /// Interval of active probes, if configured.
    pub fn probe_interval(&self) -> Option<Duration> {
        self.health_check.as_ref().map(|h| h.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: u16, balance: Balance) -> OriginPool {
        let resolved = (0..n)
            .map(|i| {
                let addr: SocketAddr = format!("127.0.0.1:{}", 1000 + i).parse().expect("addr");
                (
                    Origin::Http {
                        tls: false,
                        host: "127.0.0.1".into(),
                        port: 1000 + i,
                    },
                    Address::Fixed(addr),
                    false,
                    "127.0.0.1".to_string(),
                    1000 + i,
                )
            })
            .collect();
        let hc = HealthCheck {
            path: "/".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            expect_status: 200,
        };
        let t = Duration::from_secs(1);
        OriginPool::new(
            resolved,
            balance,
            PassiveHealth {
                max_failures: 2,
                cooldown: Duration::from_secs(60),
            },
            Some(hc),
            Timeouts {
                connect: t,
                read: t,
                write: t,
                idle: t,
                body: None,
            },
        )
    }

    #[test]
    fn round_robin_skips_down_and_excluded() {
        let p = pool(3, Balance::RoundRobin);
        let picks: Vec<_> = (0..6).filter_map(|_| p.select(b"", &[])).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        p.record_failure(1);
        assert!(p.is_available(1), "one failure is below max_failures");
        p.record_failure(1);
        assert!(!p.is_available(1));
        for _ in 0..6 {
            assert_ne!(p.select(b"", &[]), Some(1));
        }
        assert_eq!(
            p.select(b"", &[0, 2]),
            Some(1),
            "all else tried: try the marked one"
        );
        assert_eq!(p.select(b"", &[0, 1, 2]), None);
    }

    #[test]
    fn consistent_hash_is_stable_and_fails_over() {
        let p = pool(4, Balance::ConsistentHash);
        let first = p.select(b"/a", &[]).expect("pick");
        for _ in 0..10 {
            assert_eq!(p.select(b"/a", &[]), Some(first));
        }
        let second = p.select(b"/a", &[first]).expect("pick");
        assert_ne!(first, second);
        // Keys spread over more than one origin.
        let distinct: std::collections::HashSet<_> = (0..100)
            .filter_map(|k| p.select(format!("/k{k}").as_bytes(), &[]))
            .collect();
        assert!(distinct.len() > 1);
    }

    #[test]
    fn probes_respect_thresholds() {
        let p = pool(1, Balance::RoundRobin);
        p.record_probe(0, false);
        assert!(p.is_available(0));
        p.record_probe(0, false);
        assert!(!p.is_available(0));
        p.record_probe(0, true);
        assert!(!p.is_available(0));
        p.record_probe(0, true);
        assert!(p.is_available(0));
    }
}
