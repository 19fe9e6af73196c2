//! `cluster:`: many Outposts coordinated through Redis (or Valkey) — node registry,
//! purge fan-out, and lower/upper cache tiers. Without this section a node runs alone
//! and needs no Redis.

use crate::locate::Seg::Key;
use crate::validator::Validator;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// A node's place in a tiered topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Sends cache misses to the upper tier that owns the object (consistent hashing
    /// over the healthy upper nodes), then to the next one, then to the origin.
    Lower,
    /// Fetches from origins; lower nodes send their misses here.
    Upper,
}

impl Tier {
    /// The name in config, the registry and status output.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Lower => "lower",
            Tier::Upper => "upper",
        }
    }
}

/// `cluster:` as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `redis://[user:password@]host:port/db` (or `rediss://` for TLS).
    pub redis: String,
    /// This node's name, unique in the cluster (default: the host name).
    pub node_id: String,
    /// Free-form location label (`fra`, `us-east`…), shown in status.
    pub region: String,
    /// Lower or upper tier.
    pub tier: Tier,
    /// Where other nodes reach this node's HTTP listener (upper tiers must have one;
    /// default: `listen.http` when it is a specific address).
    pub advertise: Option<SocketAddr>,
    /// How often a node renews its registry entry and re-reads the others'.
    pub heartbeat: Duration,
    /// How long the API waits for other nodes to acknowledge a purge.
    pub purge_ack_timeout: Duration,
    /// Purges kept in the Redis stream for nodes that were away; a node that missed
    /// more than this empties its cache instead of serving what may be purged.
    pub purge_retention: usize,
    /// The key that encrypts secret files in pushed bundles (`secret_key_file`).
    pub secret_key: Option<SecretKey>,
}

/// A 256-bit key shared by a cluster's nodes; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    pub redis: String,
    pub node_id: Option<String>,
    pub region: Option<String>,
    pub tier: Option<String>,
    pub advertise: Option<String>,
    pub heartbeat: Option<String>,
    pub purge_ack_timeout: Option<String>,
    pub purge_retention: Option<usize>,
    pub secret_key_file: Option<String>,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "outpost".to_string())
}

pub(crate) fn validate(
    v: &mut Validator<'_>,
    raw: &RawCluster,
    http: Option<SocketAddr>,
) -> ClusterConfig {
    let at = |k: &'static str| [Key("cluster"), Key(k)];
    if !(raw.redis.starts_with("redis://")
        || raw.redis.starts_with("rediss://")
        || raw.redis.starts_with("valkey://"))
    {
        v.report(
            &at("redis"),
            format!(
                "{:?} is not a Redis URL (expected redis://HOST:PORT/DB or rediss:// for TLS)",
                raw.redis
            ),
        );
    }
    let node_id = raw.node_id.clone().unwrap_or_else(hostname);
    if node_id.is_empty()
        || !node_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        v.report(
            &at("node_id"),
            format!("{node_id:?} is not a node id (letters, digits, '-', '_', '.')"),
        );
    }
    let tier = v.choice(
        raw.tier.as_deref(),
        &at("tier"),
        &[("lower", Tier::Lower), ("upper", Tier::Upper)],
        "a tier",
    );
    let advertise = match raw.advertise.as_deref() {
        Some(a) => v.addr(Some(a), &at("advertise")),
        None => http.filter(|a| !a.ip().is_unspecified()),
    };
    if tier == Tier::Upper && advertise.is_none() {
        v.report(
            &at("advertise"),
            "an upper-tier node needs the address lower tiers reach it at (cluster.advertise, or a specific listen.http)",
        );
    }
    let purge_retention = raw.purge_retention.unwrap_or(100_000);
    if purge_retention == 0 {
        v.report(&at("purge_retention"), "must be at least 1");
    }
    ClusterConfig {
        redis: raw.redis.clone(),
        node_id,
        region: raw.region.clone().unwrap_or_default(),
        tier,
        advertise,
        heartbeat: v.duration(
            raw.heartbeat.as_deref(),
            Duration::from_secs(2),
            &at("heartbeat"),
        ),
        purge_ack_timeout: v.duration(
            raw.purge_ack_timeout.as_deref(),
            Duration::from_secs(2),
            &at("purge_ack_timeout"),
        ),
        purge_retention,
        secret_key: raw
            .secret_key_file
            .as_deref()
            .and_then(|f| secret_key(v, f)),
    }
}

/// Reads a key file: 64 hex digits (surrounding whitespace ignored).
fn secret_key(v: &mut Validator<'_>, file: &str) -> Option<SecretKey> {
    let at = [Key("cluster"), Key("secret_key_file")];
    // Not listed in the config's files: `outpost push` must never carry the key itself.
    let path = v.existing_file(file, &at, "key");
    let text = std::fs::read_to_string(&path).ok()?;
    let text = text.trim();
    let mut key = [0u8; 32];
    let ok = text.len() == 64
        && text.is_ascii()
        && (0..32).all(|i| {
            u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map(|b| key[i] = b)
                .is_ok()
        });
    if ok {
        Some(SecretKey(key))
    } else {
        v.report(
            &at,
            format!(
                "{} must hold 64 hex digits (a 256-bit key: `openssl rand -hex 32`)",
                path.display()
            ),
        );
        None
    }
}
