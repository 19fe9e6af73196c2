//! Origin host names: resolved asynchronously (hickory), every A and AAAA address
//! kept, re-resolved in the background when the records' TTL runs out, and
//! connected to Happy-Eyeballs style (RFC 8305) so a dead address or an unreachable
//! address family costs a quarter second, not a connect timeout.
//!
//! Names are shared across config generations: a reload that keeps an origin keeps
//! its resolution (no lookup on the reload path) and its background refresh.

use crate::error::{ProxyError, Result};
use arc_swap::ArcSwap;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hickory_resolver::TokioResolver;
use pingora::protocols::l4::stream::Stream;
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

/// Records with a shorter TTL (0 included) are still re-resolved no more often.
const MIN_REFRESH: Duration = Duration::from_secs(1);
/// Records with a longer TTL are re-resolved at least this often.
const MAX_REFRESH: Duration = Duration::from_secs(3600);
/// After a failed lookup the last good addresses stay in use; retry this soon.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// How long the first lookup of a name (at config load) may take.
const FIRST_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// RFC 8305 §5: the delay before the next address is tried in parallel.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The caching resolver for origin names, and the names it keeps fresh.
pub struct Resolver {
    dns: TokioResolver,
    /// Where lookups and refreshes run (the control runtime).
    runtime: tokio::runtime::Handle,
    names: Mutex<HashMap<(String, u16), Weak<Name>>>,
    servers: String,
    lookups: AtomicU64,
    failures: AtomicU64,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

/// One origin host name and port, with its current addresses.
pub struct Name {
    /// The host name as configured.
    pub host: String,
    /// The origin's port.
    pub port: u16,
    /// Every address, IPv6 and IPv4 interleaved (RFC 8305 §4), never empty.
    addrs: ArcSwap<Vec<SocketAddr>>,
    /// Index into `addrs` of the address that last connected: requests go there first,
    /// so pooled connections are reused.
    preferred: AtomicUsize,
    state: Mutex<NameState>,
}

struct NameState {
    valid_until: Instant,
    resolved_at: SystemTime,
    last_error: Option<String>,
    changes: u64,
}

/// A name as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct NameStatus {
    /// `host:port`.
    pub name: String,
    /// Current addresses, in the order they are tried.
    pub addresses: Vec<SocketAddr>,
    /// The address requests go to first.
    pub preferred: Option<SocketAddr>,
    /// Seconds until the next lookup.
    pub refresh_in_secs: u64,
    /// When the addresses were last confirmed (RFC 3339).
    pub resolved_at: String,
    /// How often the answer changed since the name was first resolved.
    pub changes: u64,
    /// The last lookup's error, if it failed (the previous addresses stay in use).
    pub last_error: Option<String>,
}

/// The resolver as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ResolverStatus {
    /// `system (/etc/resolv.conf)` or the configured servers.
    pub servers: String,
    /// Lookups made (first and background).
    pub lookups: u64,
    /// Lookups that failed.
    pub failures: u64,
    /// Every name in use.
    pub names: Vec<NameStatus>,
}

impl Resolver {
    /// A resolver asking `servers` (UDP, TCP on truncation), or the system's
    /// configuration when empty; lookups and refreshes run on `runtime`.
    pub fn new(servers: &[SocketAddr], runtime: tokio::runtime::Handle) -> Result<Self> {
        use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
        use hickory_resolver::net::runtime::TokioRuntimeProvider;
        let builder = if servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| ProxyError::Resolver(e.to_string()))?
        } else {
            let name_servers = servers
                .iter()
                .map(|s| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = s.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = s.port();
                    NameServerConfig::new(s.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(name_servers),
                TokioRuntimeProvider::default(),
            )
        };
        let mut builder = builder;
        let opts = builder.options_mut();
        // Both families, IPv6 first: Happy Eyeballs decides per connection.
        opts.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv6AndIpv4;
        let dns = builder
            .build()
            .map_err(|e| ProxyError::Resolver(e.to_string()))?;
        Ok(Resolver {
            dns,
            runtime,
            names: Mutex::new(HashMap::new()),
            servers: if servers.is_empty() {
                "system (/etc/resolv.conf)".to_string()
            } else {
                servers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            lookups: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    /// The name `host:port`, resolved: the one already in use if any, else looked up
    /// now (blocking the caller, which loads a config off the request path) and kept
    /// fresh in the background while anything holds it.
    pub fn name(self: &Arc<Self>, host: &str, port: u16) -> std::result::Result<Arc<Name>, String> {
        let key = (host.to_ascii_lowercase(), port);
        if let Some(name) = self.lock_names().get(&key).and_then(Weak::upgrade) {
            return Ok(name);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let me = self.clone();
        let host_owned = key.0.clone();
        self.runtime.spawn(async move {
            let _ = tx.send(me.lookup(&host_owned, port).await);
        });
        let (addrs, valid_until) = rx
            .recv_timeout(FIRST_LOOKUP_TIMEOUT)
            .map_err(|_| format!("no answer within {FIRST_LOOKUP_TIMEOUT:?}"))
            .and_then(|r| r)?;
        let name = Arc::new(Name {
            host: key.0.clone(),
            port,
            addrs: ArcSwap::from_pointee(addrs),
            preferred: AtomicUsize::new(0),
            state: Mutex::new(NameState {
                valid_until,
                resolved_at: SystemTime::now(),
                last_error: None,
                changes: 0,
            }),
        });
        let mut names = self.lock_names();
        // Another load may have resolved it meanwhile: keep one.
        if let Some(existing) = names.get(&key).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        names.retain(|_, w| w.strong_count() > 0);
        names.insert(key, Arc::downgrade(&name));
        drop(names);
        self.runtime
            .spawn(self.clone().keep_fresh(Arc::downgrade(&name)));
        Ok(name)
    }

    fn lock_names(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u16), Weak<Name>>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every address of `host`:`port` (IPv6 and IPv4 interleaved), looked up on the
    /// resolver's runtime; hickory caches answers for their TTL. For scripts'
    /// `fetch()` to other hosts, which needs no background refresh.
    pub async fn addresses(
        self: &Arc<Self>,
        host: &str,
        port: u16,
    ) -> std::result::Result<Vec<SocketAddr>, String> {
        let me = self.clone();
        let host = host.to_string();
        self.runtime
            .spawn(async move { me.lookup(&host, port).await.map(|(addrs, _)| addrs) })
            .await
            .map_err(|e| format!("lookup task failed: {e}"))?
    }

    /// Every address of `host` (IPv6 and IPv4 interleaved) and until when they hold.
    async fn lookup(
        &self,
        host: &str,
        port: u16,
    ) -> std::result::Result<(Vec<SocketAddr>, Instant), String> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        // A dot at the end: an origin name is absolute, not subject to search domains.
        let fqdn = if host.ends_with('.') {
            host.to_string()
        } else {
            format!("{host}.")
        };
        match self.dns.lookup_ip(fqdn).await {
            Ok(found) => {
                let ips: Vec<IpAddr> = found.iter().collect();
                if ips.is_empty() {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    return Err("no A or AAAA records".to_string());
                }
                Ok((interleave(&ips, port), found.valid_until()))
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                Err(e.to_string())
            }
        }
    }

    /// Re-resolves `name` when its records expire, for as long as it is in use.
    async fn keep_fresh(self: Arc<Self>, name: Weak<Name>) {
        loop {
            let wait = match name.upgrade() {
                Some(n) => refresh_delay(n.lock_state().valid_until),
                None => return,
            };
            tokio::time::sleep(wait).await;
            let Some(n) = name.upgrade() else { return };
            let result = self.lookup(&n.host, n.port).await;
            let mut state = n.lock_state();
            match result {
                Ok((addrs, valid_until)) => {
                    state.valid_until = valid_until;
                    state.resolved_at = SystemTime::now();
                    state.last_error = None;
                    if **n.addrs.load() != addrs {
                        state.changes += 1;
                        tracing::info!(host = %n.host, port = n.port, addresses = ?addrs, "origin name resolves to new addresses");
                        n.preferred.store(0, Ordering::Relaxed);
                        n.addrs.store(Arc::new(addrs));
                    }
                }
                Err(e) => {
                    if state.last_error.is_none() {
                        tracing::warn!(host = %n.host, error = %e, "origin name lookup failed; the previous addresses stay in use");
                    }
                    state.last_error = Some(e);
                    state.valid_until = Instant::now() + RETRY_AFTER_FAILURE;
                }
            }
        }
    }

    /// The resolver's state for `GET /resolver` and metrics.
    pub fn status(&self) -> ResolverStatus {
        let mut names: Vec<NameStatus> = self
            .lock_names()
            .values()
            .filter_map(Weak::upgrade)
            .map(|n| n.status())
            .collect();
        names.sort_by(|a, b| a.name.cmp(&b.name));
        ResolverStatus {
            servers: self.servers.clone(),
            lookups: self.lookups.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            names,
        }
    }
}

/// How long to wait before re-resolving records valid until `until`.
fn refresh_delay(until: Instant) -> Duration {
    until
        .saturating_duration_since(Instant::now())
        .clamp(MIN_REFRESH, MAX_REFRESH)
}

/// RFC 8305 §4: alternate the families, IPv6 first, each family in the order given.
fn interleave(ips: &[IpAddr], port: u16) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<IpAddr>, Vec<IpAddr>) = ips.iter().partition(|ip| ip.is_ipv6());
    let mut out = Vec::with_capacity(ips.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y).map(|ip| SocketAddr::new(ip, port))),
        }
    }
}

impl Name {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, NameState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the next connection goes first.
    pub fn preferred(&self) -> SocketAddr {
        let addrs = self.addrs.load();
        addrs[self.preferred.load(Ordering::Relaxed) % addrs.len()]
    }

    /// Whether there is more than one address to try.
    pub fn has_alternatives(&self) -> bool {
        self.addrs.load().len() > 1
    }

    fn status(&self) -> NameStatus {
        let state = self.lock_state();
        NameStatus {
            name: format!("{}:{}", self.host, self.port),
            addresses: self.addrs.load().as_ref().clone(),
            preferred: Some(self.preferred()),
            refresh_in_secs: refresh_delay(state.valid_until).as_secs(),
            resolved_at: humantime::format_rfc3339_seconds(state.resolved_at).to_string(),
            changes: state.changes,
            last_error: state.last_error.clone(),
        }
    }
}

/// A connector for an origin with several addresses: the preferred one first, then
/// the next one every [`ATTEMPT_DELAY`] (or at once when one fails) until one
/// connects; the winner becomes the preferred address.
#[derive(Debug)]
pub struct HappyEyeballs {
    name: Arc<Name>,
    /// The whole attempt's limit (pingora does not time a custom connector).
    timeout: Duration,
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} → {:?}", self.host, self.port, self.addrs.load())
    }
}

impl HappyEyeballs {
    /// The connector for `name`, giving up after `timeout`.
    pub fn new(name: Arc<Name>, timeout: Duration) -> Self {
        HappyEyeballs { name, timeout }
    }

    /// Whether the name has more than one address (with one, pingora's own connect
    /// does the same job).
    pub fn has_alternatives(&self) -> bool {
        self.name.has_alternatives()
    }
}

#[async_trait::async_trait]
impl pingora::connectors::L4Connect for HappyEyeballs {
    async fn connect(
        &self,
        first: &pingora::protocols::l4::socket::SocketAddr,
    ) -> pingora::Result<Stream> {
        use pingora::{Error, ErrorType};
        let addrs = self.name.addrs.load_full();
        let first = first.as_inet().copied();
        let order: Vec<SocketAddr> = first
            .into_iter()
            .chain(addrs.iter().copied().filter(|a| Some(*a) != first))
            .collect();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut attempts = FuturesUnordered::new();
        let mut next = 0;
        let mut last_error = None;
        loop {
            if next < order.len() {
                let addr = order[next];
                next += 1;
                attempts.push(async move { (addr, tokio::net::TcpStream::connect(addr).await) });
            }
            if attempts.is_empty() {
                break;
            }
            tokio::select! {
                Some((addr, result)) = attempts.next() => match result {
                    Ok(stream) => {
                        if let Some(i) = addrs.iter().position(|a| *a == addr) {
                            self.name.preferred.store(i, Ordering::Relaxed);
                        }
                        return Ok(stream.into());
                    }
                    Err(e) => last_error = Some(format!("{addr}: {e}")),
                },
                _ = tokio::time::sleep(ATTEMPT_DELAY), if next < order.len() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return Error::e_explain(
                        ErrorType::ConnectTimedout,
                        format!("no address of {}:{} connected within {:?}", self.name.host, self.name.port, self.timeout),
                    );
                }
            }
        }
        Error::e_explain(
            ErrorType::ConnectRefused,
            format!(
                "no address of {}:{} connected (last: {})",
                self.name.host,
                self.name.port,
                last_error.unwrap_or_default()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_alternate_ipv6_first() {
        let ips: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "::1", "10.0.0.3"]
            .iter()
            .map(|s| s.parse().expect("ip"))
            .collect();
        let order: Vec<String> = interleave(&ips, 80)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            order,
            ["[::1]:80", "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
        );
    }

    #[test]
    fn short_and_zero_ttls_are_refreshed_every_second_long_ones_within_the_hour() {
        let now = Instant::now();
        assert_eq!(refresh_delay(now), MIN_REFRESH);
        assert!(refresh_delay(now + Duration::from_secs(30)) > Duration::from_secs(28));
        assert_eq!(
            refresh_delay(now + Duration::from_secs(86_400)),
            MAX_REFRESH
        );
    }

    #[tokio::test]
    async fn happy_eyeballs_skips_a_dead_address_and_prefers_the_live_one() {
        let live = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let live_addr = live.local_addr().expect("addr");
        // A port nobody listens on: refused at once.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        let name = Arc::new(Name {
            host: "origin.test".into(),
            port: 0,
            addrs: ArcSwap::from_pointee(vec![dead, live_addr]),
            preferred: AtomicUsize::new(0),
            state: Mutex::new(NameState {
                valid_until: Instant::now(),
                resolved_at: SystemTime::now(),
                last_error: None,
                changes: 0,
            }),
        });
        assert_eq!(name.preferred(), dead);
        let eyeballs = HappyEyeballs::new(name.clone(), Duration::from_secs(5));
        let first = pingora::protocols::l4::socket::SocketAddr::Inet(dead);
        let stream = pingora::connectors::L4Connect::connect(&eyeballs, &first).await;
        assert!(stream.is_ok(), "{:?}", stream.err());
        assert_eq!(
            name.preferred(),
            live_addr,
            "the next request goes to the live address"
        );
    }
}
