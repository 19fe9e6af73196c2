//! The wire schema: what serde reads from YAML, before validation.
//!
//! Every struct denies unknown fields so that a typo is an error, not a silently
//! ignored setting. Values stay close to their YAML form (strings for addresses,
//! sizes and durations); `validate` turns them into the typed model.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Root {
    #[serde(default)]
    pub listen: Listen,
    #[serde(default)]
    pub tls: Tls,
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub cache: Cache,
    pub admin: Option<Admin>,
    #[serde(default)]
    pub log: Log,
    #[serde(default)]
    pub kv: Kv,
    pub cluster: Option<crate::cluster::RawCluster>,
    #[serde(default)]
    pub resolver: crate::resolver::RawResolver,
    #[serde(default)]
    pub sites: Vec<Site>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Kv {
    pub path: Option<String>,
    pub backend: Option<String>,
    pub cache_ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Listen {
    pub http: Option<String>,
    pub https: Option<String>,
    #[serde(default)]
    pub h2c: bool,
    pub http3: Option<String>,
    pub alt_svc: Option<String>,
    pub quic_retry: Option<String>,
    #[serde(default)]
    pub quic_0rtt: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tls {
    #[serde(default)]
    pub certificates: Vec<Certificate>,
    /// Automatic certificates: defaults and storage.
    pub acme: Option<crate::acme::RawAcmeGlobal>,
    /// What a client naming an unknown host gets: `default` or `refuse`.
    pub unknown_sni: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Certificate {
    pub cert: String,
    pub key: String,
    #[serde(default)]
    pub default: bool,
    pub ocsp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Server {
    pub threads: Option<usize>,
    pub debug_headers: Option<bool>,
    pub shutdown_timeout: Option<String>,
    pub upstream_keepalive_pool: Option<usize>,
    pub script_cpu_limit: Option<String>,
    pub script_memory_limit: Option<String>,
    pub script_queue_per_thread: Option<usize>,
    pub script_queue_per_script: Option<usize>,
    pub script_queue_timeout: Option<String>,
    pub request_id_header: Option<String>,
    pub upgrade_socket: Option<String>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub header_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub body_timeout: Option<String>,
    pub send_timeout: Option<String>,
    pub min_send_rate: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Admin {
    pub listen: String,
    pub token_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cache {
    pub memory: Option<String>,
    pub max_memory_object: Option<String>,
    pub rewritten_pages: Option<String>,
    pub disk: Option<CacheDisk>,
    pub lock_timeout: Option<String>,
    pub heuristic_max: Option<String>,
    pub request_directives: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheDisk {
    pub path: String,
    pub size: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Log {
    pub format: Option<String>,
    pub level: Option<String>,
    pub access_log: Option<bool>,
    pub file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Site {
    pub name: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub origins: Vec<String>,
    pub balance: Option<String>,
    pub hash_on: Option<String>,
    pub origin_host: Option<String>,
    #[serde(default)]
    pub timeouts: Timeouts,
    pub retries: Option<u32>,
    pub cache: Option<bool>,
    pub heuristic_freshness: Option<bool>,
    pub health_check: Option<HealthCheck>,
    pub parent: Option<String>,
    pub cache_key: Option<CacheKey>,
    pub parent_fallback: Option<bool>,
    #[serde(default)]
    pub passive_health: PassiveHealth,
    /// One file name or a list of them.
    pub rules: Option<serde_yaml::Value>,
    #[serde(default)]
    pub pools: BTreeMap<String, Vec<String>>,
    pub script: Option<String>,
    /// Name -> plain value, `{ file: PATH }` or `{ from_env: VAR }`.
    #[serde(default)]
    pub env: BTreeMap<String, serde_yaml::Value>,
    /// Binding name -> KV namespace.
    #[serde(default)]
    pub kv: BTreeMap<String, String>,
    /// Profile name -> HTML rewrite profile.
    #[serde(default)]
    pub html_profiles: BTreeMap<String, HtmlProfile>,
    /// Client networks allowed (all others refused), if set.
    #[serde(default)]
    pub ip_allow: Vec<String>,
    /// Client networks refused.
    #[serde(default)]
    pub ip_deny: Vec<String>,
    /// On-the-fly compression.
    pub compression: Option<crate::compression::RawCompression>,
    /// Where hooks may `fetch()` beyond this node's sites.
    pub egress: Option<crate::egress::RawEgress>,
    /// Cron expressions that run the script's `scheduled` handler.
    pub triggers: Option<crate::triggers::RawTriggers>,
    /// The site's certificate: `{ acme: {…} }` for an automatic one.
    pub tls: Option<crate::acme::RawSiteTls>,
    /// Largest request body accepted (413 beyond).
    pub max_request_body: Option<String>,
    /// Range requests fetched and stored in slices of this size (off when unset).
    pub cache_slice: Option<String>,
    /// Image transforms at `/cdn-cgi/image/…`.
    pub images: Option<crate::images::RawImages>,
}

/// One HTML rewrite profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HtmlProfile {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub content_types: Vec<String>,
    #[serde(default)]
    pub https_hosts: Vec<String>,
    pub append_to_head: Option<String>,
    pub append_to_body: Option<String>,
    #[serde(default)]
    pub replace_text: Vec<TextReplace>,
    #[serde(default)]
    pub elements: Vec<ElementRewrite>,
}

/// Edits of the elements one selector matches; content values stay YAML so each
/// form (`"<b>…</b>"`, `{ html }`, `{ text }`) gets its own message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElementRewrite {
    pub select: String,
    #[serde(default)]
    pub set_attribute: BTreeMap<String, String>,
    pub remove_attribute: Option<serde_yaml::Value>,
    pub rewrite_attribute: Option<RewriteAttribute>,
    pub set_inner_content: Option<serde_yaml::Value>,
    pub prepend: Option<serde_yaml::Value>,
    pub append: Option<serde_yaml::Value>,
    pub before: Option<serde_yaml::Value>,
    pub after: Option<serde_yaml::Value>,
    pub replace: Option<serde_yaml::Value>,
    #[serde(default)]
    pub remove: bool,
    #[serde(default)]
    pub remove_and_keep_content: bool,
    #[serde(default)]
    pub replace_text: Vec<TextReplace>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RewriteAttribute {
    pub name: String,
    pub from: Option<String>,
    pub regex: Option<String>,
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextReplace {
    pub from: Option<String>,
    pub regex: Option<String>,
    pub to: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheKey {
    /// `full`, `sorted`, `ignore`, `{ include: [..] }` or `{ exclude: [..] }`.
    pub query: Option<serde_yaml::Value>,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub cookies: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Timeouts {
    pub connect: Option<String>,
    pub read: Option<String>,
    pub write: Option<String>,
    pub idle: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthCheck {
    pub path: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
    pub expect_status: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PassiveHealth {
    pub max_failures: Option<u32>,
    pub cooldown: Option<String>,
}

/// One entry of a rules file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    #[serde(rename = "match")]
    pub pattern: String,
    pub name: Option<String>,
    #[serde(default)]
    pub when: When,
    pub actions: RuleActions,
}

/// Conditions; values stay YAML so each can be checked with its own message.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct When {
    pub method: Option<serde_yaml::Value>,
    #[serde(default)]
    pub header: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub cookie: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub query: BTreeMap<String, serde_yaml::Value>,
    pub client_ip: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleActions {
    pub always_use_https: Option<bool>,
    pub forward: Option<Forward>,
    pub cache_level: Option<String>,
    pub edge_ttl: Option<String>,
    pub browser_ttl: Option<String>,
    pub bypass_cache_on_cookie: Option<String>,
    pub cache_key: Option<CacheKey>,
    pub origin_cache_control: Option<bool>,
    pub cache_deception_armor: Option<bool>,
    pub cache_errors: Option<bool>,
    pub heuristic_freshness: Option<bool>,
    /// Image transform options (`width: 400`, `format: auto`).
    pub image: Option<BTreeMap<String, serde_yaml::Value>>,
    #[serde(default)]
    pub set_request_headers: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub add_request_headers: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub remove_request_headers: Vec<String>,
    #[serde(default)]
    pub set_response_headers: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub add_response_headers: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub remove_response_headers: Vec<String>,
    pub rewrite: Option<Rewrite>,
    pub host_header: Option<String>,
    pub origin: Option<String>,
    pub script: Option<String>,
    pub html_rewrite: Option<String>,
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub disable: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimit {
    pub requests: u32,
    pub per: String,
    pub key: Option<String>,
    pub action: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Forward {
    pub to: String,
    pub status: Option<u16>,
    pub keep_query: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rewrite {
    pub path: Option<String>,
    pub query: Option<String>,
}
