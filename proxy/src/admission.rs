//! Connection caps (`server.max_connections`, `server.max_connections_per_ip`): how
//! many client connections are open, in all and per source, and the permit each
//! admitted connection holds until it closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Open client connections, counted for the caps in `server.max_connections*`.
#[derive(Debug, Default)]
pub struct Admission {
    open: AtomicUsize,
    /// Open connections per IPv4 address or IPv6 /64 (an IPv6 client usually holds a
    /// whole /64, so counting single addresses would not limit anyone).
    per_source: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `server.max_connections` reached.
    Global,
    /// `server.max_connections_per_ip` reached for this source.
    PerIp,
}

impl Refusal {
    /// Label for the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Global => "global",
            Refusal::PerIp => "per_ip",
        }
    }
}

/// Holds one connection's place in [`Admission`]; gives it back when dropped.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    source: Option<IpAddr>,
}

/// The key a client address is counted under.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
    }
}

impl Admission {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Takes a place for a connection from `ip`, or says which cap it would break
    /// (`0` turns a cap off).
    pub fn admit(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<Permit, Refusal> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        // From here on the permit gives the place back, whichever way this returns.
        let mut permit = Permit {
            admission: self.clone(),
            source: None,
        };
        if max_total > 0 && before >= max_total {
            return Err(Refusal::Global);
        }
        if let Some(ip) = ip {
            let key = source_key(ip);
            let mut per = self
                .per_source
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = per.entry(key).or_insert(0);
            if max_per_ip > 0 && *count >= max_per_ip {
                if *count == 0 {
                    per.remove(&key);
                }
                return Err(Refusal::PerIp);
            }
            *count += 1;
            permit.source = Some(key);
        }
        Ok(permit)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(key) = self.source {
            let mut per = self
                .admission
                .per_source
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(count) = per.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    per.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_and_give_back() {
        let a = Arc::new(Admission::default());
        let ip: IpAddr = "192.0.2.1".parse().expect("address");
        let other: IpAddr = "192.0.2.2".parse().expect("address");
        let p1 = a.admit(Some(ip), 3, 2).expect("admitted");
        let p2 = a.admit(Some(ip), 3, 2).expect("admitted");
        assert_eq!(
            a.admit(Some(ip), 3, 2).expect_err("refused"),
            Refusal::PerIp
        );
        let p3 = a.admit(Some(other), 3, 2).expect("admitted");
        assert_eq!(
            a.admit(Some(other), 3, 2).expect_err("refused"),
            Refusal::Global
        );
        assert_eq!(a.open(), 3, "refused connections give their place back");
        drop((p1, p2, p3));
        assert_eq!(a.open(), 0);
        assert!(a.per_source.lock().expect("lock").is_empty());
        // 0 turns both caps off.
        let many: Vec<_> = (0..50)
            .map(|_| a.admit(Some(ip), 0, 0).expect("admitted"))
            .collect();
        assert_eq!(a.open(), 50);
        drop(many);
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a = Arc::new(Admission::default());
        let x: IpAddr = "2001:db8:1:2::1".parse().expect("address");
        let y: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("address");
        let z: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        let _p = a.admit(Some(x), 0, 1).expect("admitted");
        assert_eq!(a.admit(Some(y), 0, 1).expect_err("refused"), Refusal::PerIp);
        assert!(a.admit(Some(z), 0, 1).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        let v4: IpAddr = "192.0.2.7".parse().expect("address");
        let _q = a.admit(Some(mapped), 0, 1).expect("admitted");
        assert_eq!(
            a.admit(Some(v4), 0, 1).expect_err("refused"),
            Refusal::PerIp
        );
    }
}
