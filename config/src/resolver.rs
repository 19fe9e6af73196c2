//! `resolver:`: which DNS servers resolve origin host names.

use crate::locate::Seg::{Index, Key};
use crate::validator::Validator;
use serde::Deserialize;
use std::net::SocketAddr;

/// `resolver:` as validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Name servers (UDP, then TCP for truncated answers); empty: the system's
    /// (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResolver {
    #[serde(default)]
    pub servers: Vec<String>,
}

pub(crate) fn validate(v: &mut Validator<'_>, raw: &RawResolver) -> ResolverConfig {
    let mut servers = Vec::new();
    for (i, s) in raw.servers.iter().enumerate() {
        let at = [Key("resolver"), Key("servers"), Index(i)];
        // A bare IP means port 53.
        let parsed = s.parse::<SocketAddr>().ok().or_else(|| {
            s.parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        });
        match parsed {
            Some(addr) => servers.push(addr),
            None => v.report(
                &at,
                format!(
                    "{s:?} is not a name server address (IP or IP:PORT, e.g. \"127.0.0.1:8053\")"
                ),
            ),
        }
    }
    ResolverConfig { servers }
}
