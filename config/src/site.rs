//! `sites:`: one site's hosts, origins, pools, health checks, timeouts and the
//! sections it names (rules, HTML profiles, compression, ACME, bindings).

use crate::bindings::{site_env, site_kv};
use crate::cache::{CacheKeyPolicy, cache_key_policy};
use crate::locate::Seg;
use crate::raw;
use crate::validator::Validator;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A host name a site answers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// An exact host name, lowercased.
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com` (one or more labels), stored as `example.com`.
    Wildcard(String),
}

/// How a site picks among its origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// Each request goes to the next healthy origin.
    RoundRobin,
    /// The same key goes to the same origin while it is healthy (ketama ring).
    ConsistentHash,
}

/// What the consistent hash is computed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    /// Path and query of the request.
    Uri,
    /// The client's IP address.
    ClientIp,
    /// The value of a request header.
    Header(String),
}

/// Which `Host` header goes to the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginHost {
    /// The client's `Host` (usual for CDNs: the origin sees its public name).
    Preserve,
    /// The host from the origin URL.
    Origin,
}

/// One origin server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An HTTP(S) server.
    Http {
        /// TLS to the origin.
        tls: bool,
        /// Host name or IP literal (brackets stripped); also the SNI for TLS.
        host: String,
        /// Port.
        port: u16,
    },
    /// Outpost's built-in static file origin serving this directory.
    Static {
        /// Absolute directory path.
        root: PathBuf,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Http { tls, host, port } => {
                let scheme = if *tls { "https" } else { "http" };
                if host.contains(':') {
                    write!(f, "{scheme}://[{host}]:{port}")
                } else {
                    write!(f, "{scheme}://{host}:{port}")
                }
            }
            Origin::Static { root } => write!(f, "static:{}", root.display()),
        }
    }
}

/// Timeouts towards origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connect.
    pub connect: Duration,
    /// Waiting for each read from the origin (so also time to first byte).
    pub read: Duration,
    /// Each write to the origin.
    pub write: Duration,
    /// How long an idle upstream connection is kept for reuse.
    pub idle: Duration,
    /// The whole response body, from its head to its last byte; `None` (the default):
    /// no limit, only `read` between bytes. Ends origins that trickle forever.
    pub body: Option<Duration>,
}

/// Active health checking of origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Path requested with GET.
    pub path: String,
    /// Time between probes.
    pub interval: Duration,
    /// Connect and read timeout of a probe.
    pub timeout: Duration,
    /// Consecutive successes to mark a down origin up.
    pub healthy_threshold: u32,
    /// Consecutive failures to mark an up origin down.
    pub unhealthy_threshold: u32,
    /// Expected status code.
    pub expect_status: u16,
}

/// Passive failure marking from real traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassiveHealth {
    /// Consecutive failed attempts (connect errors, timeouts) that take an origin out.
    pub max_failures: u32,
    /// How long it stays out before traffic tries it again.
    pub cooldown: Duration,
}

/// One site: the hosts it answers and how it reaches its origins.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// A name for logs and metrics (defaults to the first host).
    pub name: String,
    /// Hosts this site answers.
    pub hosts: Vec<HostPattern>,
    /// Answers requests whose host matches no site.
    pub default: bool,
    /// Origins, at least one.
    pub origins: Vec<Origin>,
    /// Selection among origins.
    pub balance: Balance,
    /// Hash input for [`Balance::ConsistentHash`].
    pub hash_on: HashOn,
    /// `Host` header sent upstream.
    pub origin_host: OriginHost,
    /// Timeouts towards origins.
    pub timeouts: Timeouts,
    /// How many other origins to try after a failure (connect errors always; other
    /// errors only for idempotent requests without a body).
    pub retries: u32,
    /// Whether responses for this site may be cached (per RFC 9111 and origin headers).
    pub cache: bool,
    /// Whether responses without a lifetime but with `Last-Modified` get a heuristic
    /// one (`cache.heuristic_max` caps it). Default on.
    pub heuristic_freshness: bool,
    /// Active probes, if configured.
    pub health_check: Option<HealthCheck>,
    /// How the cache key is built for this site.
    pub cache_key: CacheKeyPolicy,
    /// Upper-tier Outpost that misses go to instead of the origins (tiered caching).
    pub parent: Option<Origin>,
    /// Go to the origins directly when the parent cannot be reached.
    pub parent_fallback: bool,
    /// Passive failure marking.
    pub passive_health: PassiveHealth,
    /// Named extra origin pools that page rules can pick (`origin: NAME`); they share
    /// the site's balancing, timeouts and health settings.
    pub pools: Vec<(String, Vec<Origin>)>,
    /// Page rules from the site's rules files, in order: the first match applies.
    pub rules: Vec<crate::rule::Rule>,
    /// JS hook run for every request of the site (a rule can replace or disable it).
    pub script: Option<crate::script_file::ScriptFile>,
    /// Bindings the site's hooks see as `env` (values resolved at load; secrets may
    /// come from files or the process environment so they stay out of the YAML).
    pub env: Vec<(String, String)>,
    /// KV bindings: the name hooks see in `env` and the namespace behind it.
    pub kv: Vec<(String, String)>,
    /// HTML rewrite profiles declared by the site (built-ins are not listed).
    pub html_profiles: Vec<crate::html::HtmlProfile>,
    /// When not empty, only clients in these networks are served (others get `403`).
    pub ip_allow: Vec<ipnet::IpNet>,
    /// Clients in these networks get `403` (checked after `ip_allow`).
    pub ip_deny: Vec<ipnet::IpNet>,
    /// On-the-fly compression of uncompressed responses.
    pub compression: crate::compression::Compression,
    /// Where the site's hooks may `fetch()` beyond this node's sites.
    pub egress: crate::egress::Egress,
    /// Cron triggers that run the site's script's `scheduled` handler.
    pub crons: Vec<crate::triggers::CronTrigger>,
    /// An automatic certificate for the site's names, if it asked for one.
    pub acme: Option<crate::SiteAcme>,
    /// Largest request body accepted, in bytes (413 beyond; default 100 MiB).
    pub max_request_body: u64,
    /// Slice size for range requests, in bytes: a range is answered from the slices
    /// of the object it covers, each fetched from the origin with a `Range` request
    /// and stored on its own (RFC 9111 §3.3–3.4). `None`: a range miss fetches and
    /// stores the whole object.
    pub cache_slice: Option<u64>,
    /// Image transforms at `/cdn-cgi/image/OPTIONS/SOURCE`, when enabled.
    pub images: Option<crate::images::Images>,
}

/// Whether a site with these lists serves a client at `ip`: in `allow` (when it is
/// not empty) and not in `deny`. A client without an IP address is served only when
/// there is no allow list.
pub fn ip_admitted(
    allow: &[ipnet::IpNet],
    deny: &[ipnet::IpNet],
    ip: Option<std::net::IpAddr>,
) -> bool {
    let Some(ip) = ip else {
        return allow.is_empty();
    };
    (allow.is_empty() || allow.iter().any(|n| n.contains(&ip)))
        && !deny.iter().any(|n| n.contains(&ip))
}

impl SiteConfig {
    /// The profile a rule's `html_rewrite: NAME` names: the site's own, else a built-in.
    pub fn html_profile(&self, name: &str) -> Option<crate::html::HtmlProfile> {
        self.html_profiles
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .or_else(|| crate::html::builtin_profile(name))
    }
}

pub(crate) fn validate(
    v: &mut Validator<'_>,
    s: &raw::Site,
    i: usize,
    seen_hosts: &mut HashMap<HostPattern, usize>,
    default_site: &mut Option<usize>,
    acme: &crate::AcmeSettings,
) -> SiteConfig {
    use Seg::{Index, Key};
    let at = |k: &'static str| vec![Key("sites"), Index(i), Key(k)];

    let mut hosts = Vec::new();
    for (j, h) in s.hosts.iter().enumerate() {
        let path = [Key("sites"), Index(i), Key("hosts"), Index(j)];
        match parse_host(h) {
            Ok(p) => {
                if let Some(other) = seen_hosts.insert(p.clone(), i) {
                    v.report(
                        &path,
                        format!("host {h:?} is already served by sites[{other}]"),
                    );
                }
                hosts.push(p);
            }
            Err(why) => v.report(&path, format!("{h:?} is not a host name ({why})")),
        }
    }
    let mut default = s.default;
    if s.hosts.iter().any(|h| h == "*") {
        default = true;
    }
    if default {
        if let Some(other) = default_site {
            v.report(
                &at("default"),
                format!("sites[{other}] is already the default site; only one site can be"),
            );
        } else {
            *default_site = Some(i);
        }
    }
    if s.hosts.is_empty() && !default {
        v.report(
            &at("hosts"),
            "a site needs at least one host (or `default: true`)",
        );
    }

    let mut origins = Vec::new();
    for (j, o) in s.origins.iter().enumerate() {
        let path = [Key("sites"), Index(i), Key("origins"), Index(j)];
        match parse_origin(o, &v.base) {
            Ok(origin) => origins.push(origin),
            Err(why) => v.report(&path, why),
        }
    }
    if s.origins.is_empty() {
        v.report(&at("origins"), "a site needs at least one origin (e.g. \"http://10.0.0.5:8080\" or \"static:./public\")");
    }

    let balance = v.choice(
        s.balance.as_deref(),
        &at("balance"),
        &[
            ("round_robin", Balance::RoundRobin),
            ("consistent_hash", Balance::ConsistentHash),
        ],
        "a balancing method",
    );
    let hash_on = match s.hash_on.as_deref() {
        None | Some("uri") => HashOn::Uri,
        Some("client_ip") => HashOn::ClientIp,
        Some(h) if h.starts_with("header:") && h.len() > "header:".len() => {
            HashOn::Header(h["header:".len()..].to_ascii_lowercase())
        }
        Some(other) => {
            v.report(
                &at("hash_on"),
                format!("{other:?} is not a hash input (expected \"uri\", \"client_ip\" or \"header:NAME\")"),
            );
            HashOn::Uri
        }
    };
    let origin_host = v.choice(
        s.origin_host.as_deref(),
        &at("origin_host"),
        &[
            ("preserve", OriginHost::Preserve),
            ("origin", OriginHost::Origin),
        ],
        "an origin_host mode",
    );
    let t = |k: &'static str| vec![Key("sites"), Index(i), Key("timeouts"), Key(k)];
    let timeouts = Timeouts {
        connect: v.duration(
            s.timeouts.connect.as_deref(),
            Duration::from_secs(5),
            &t("connect"),
        ),
        read: v.duration(
            s.timeouts.read.as_deref(),
            Duration::from_secs(60),
            &t("read"),
        ),
        write: v.duration(
            s.timeouts.write.as_deref(),
            Duration::from_secs(60),
            &t("write"),
        ),
        idle: v.duration(
            s.timeouts.idle.as_deref(),
            Duration::from_secs(60),
            &t("idle"),
        ),
        body: s
            .timeouts
            .body
            .as_deref()
            .map(|b| v.duration(Some(b), Duration::ZERO, &t("body"))),
    };
    let cache_key = match &s.cache_key {
        None => CacheKeyPolicy::default(),
        Some(k) => cache_key_policy(v, k, &at("cache_key")),
    };
    let parent = s
        .parent
        .as_ref()
        .and_then(|p| match parse_origin(p, &v.base) {
            Ok(Origin::Static { .. }) => {
                v.report(
                    &at("parent"),
                    format!(
                        "{p:?}: a parent tier must be an http:// or https:// URL of another Outpost"
                    ),
                );
                None
            }
            Ok(o) => Some(o),
            Err(why) => {
                v.report(&at("parent"), why);
                None
            }
        });
    let health_check = s.health_check.as_ref().map(|h| {
        let hp = |k: &'static str| vec![Key("sites"), Index(i), Key("health_check"), Key(k)];
        let path = h.path.clone().unwrap_or_else(|| "/".to_string());
        if !path.starts_with('/') {
            v.report(
                &hp("path"),
                format!("{path:?} is not an absolute path (expected it to start with '/')"),
            );
        }
        let check = HealthCheck {
            path,
            interval: v.duration(
                h.interval.as_deref(),
                Duration::from_secs(5),
                &hp("interval"),
            ),
            timeout: v.duration(h.timeout.as_deref(), Duration::from_secs(2), &hp("timeout")),
            healthy_threshold: h.healthy_threshold.unwrap_or(2),
            unhealthy_threshold: h.unhealthy_threshold.unwrap_or(3),
            expect_status: h.expect_status.unwrap_or(200),
        };
        if check.interval.is_zero() {
            v.report(&hp("interval"), "must be greater than zero");
        }
        for (k, n) in [
            ("healthy_threshold", check.healthy_threshold),
            ("unhealthy_threshold", check.unhealthy_threshold),
        ] {
            if n == 0 {
                v.report(&hp(k), "must be at least 1");
            }
        }
        if !(100..=599).contains(&check.expect_status) {
            v.report(
                &hp("expect_status"),
                format!(
                    "{} is not an HTTP status (expected 100..599)",
                    check.expect_status
                ),
            );
        }
        check
    });
    let pp = |k: &'static str| vec![Key("sites"), Index(i), Key("passive_health"), Key(k)];
    let passive_health = PassiveHealth {
        max_failures: s.passive_health.max_failures.unwrap_or(3),
        cooldown: v.duration(
            s.passive_health.cooldown.as_deref(),
            Duration::from_secs(10),
            &pp("cooldown"),
        ),
    };

    let mut pools = Vec::new();
    for (name, list) in &s.pools {
        let mut resolved = Vec::new();
        for (j, o) in list.iter().enumerate() {
            match parse_origin(o, &v.base) {
                Ok(origin) => resolved.push(origin),
                Err(why) => v.report(
                    &[
                        Key("sites"),
                        Index(i),
                        Key("pools"),
                        Seg::Name(name.clone()),
                        Index(j),
                    ],
                    why,
                ),
            }
        }
        if list.is_empty() {
            v.report(
                &[
                    Key("sites"),
                    Index(i),
                    Key("pools"),
                    Seg::Name(name.clone()),
                ],
                "a pool needs at least one origin",
            );
        }
        pools.push((name.clone(), resolved));
    }
    let pool_names: Vec<&str> = pools.iter().map(|(n, _)| n.as_str()).collect();
    let html_profiles = crate::html::site_profiles(v, &s.html_profiles, i);
    let mut profile_names: Vec<&str> = html_profiles.iter().map(|p| p.name.as_str()).collect();
    profile_names.extend(crate::html::BUILTIN_PROFILES);
    let view = crate::rule_file::SiteView {
        pools: &pool_names,
        html_profiles: &profile_names,
        host_globs: site_host_globs(&hosts, default),
    };
    let rules = crate::rule_file::load_site_rules(v, s.rules.as_ref(), i, &view);

    let name = s.name.clone().unwrap_or_else(|| match hosts.first() {
        Some(HostPattern::Exact(h)) => h.clone(),
        Some(HostPattern::Wildcard(h)) => format!("*.{h}"),
        None => "default".to_string(),
    });
    let acme = crate::acme::site(v, s.tls.as_ref(), i, &hosts, acme);
    SiteConfig {
        name,
        hosts,
        default,
        origins,
        balance,
        hash_on,
        origin_host,
        timeouts,
        retries: s.retries.unwrap_or(1),
        cache: s.cache.unwrap_or(true),
        heuristic_freshness: s.heuristic_freshness.unwrap_or(true),
        cache_key,
        parent,
        parent_fallback: s.parent_fallback.unwrap_or(true),
        health_check,
        passive_health,
        pools,
        rules,
        script: s
            .script
            .as_ref()
            .and_then(|f| v.script_file(f, &at("script"))),
        env: site_env(v, &s.env, i),
        kv: site_kv(v, s, i),
        html_profiles,
        ip_allow: networks(v, &s.ip_allow, i, "ip_allow"),
        ip_deny: networks(v, &s.ip_deny, i, "ip_deny"),
        compression: crate::compression::site_compression(v, s.compression.as_ref(), i),
        egress: crate::egress::site_egress(v, s.egress.as_ref(), i),
        crons: crate::triggers::site_triggers(v, s.triggers.as_ref(), s.script.is_some(), i),
        acme,
        max_request_body: v.size(
            s.max_request_body.as_deref(),
            100 << 20,
            &at("max_request_body"),
        ),
        cache_slice: s.cache_slice.as_deref().and_then(|size| {
            // (An unparsable size is reported by `size`, which then gives 1.)
            let n = v.size(Some(size), 1, &at("cache_slice"));
            if n == 0 {
                v.report(&at("cache_slice"), "cache_slice must be at least 1 byte");
                return None;
            }
            Some(n)
        }),
        images: crate::images::site_images(v, s.images.as_ref(), i),
    }
}

/// Parses `sites[i].<key>`: networks (`10.0.0.0/8`) or single addresses.
fn networks(
    v: &mut Validator<'_>,
    list: &[String],
    i: usize,
    key: &'static str,
) -> Vec<ipnet::IpNet> {
    list.iter()
        .enumerate()
        .filter_map(|(j, s)| {
            v.network(
                s,
                &[
                    Seg::Key("sites"),
                    Seg::Index(i),
                    Seg::Key(key),
                    Seg::Index(j),
                ],
            )
        })
        .collect()
}

/// Parses a site host: `example.com` or `*.example.com`. `*` alone is handled by the caller.
pub(crate) fn parse_host(h: &str) -> std::result::Result<HostPattern, &'static str> {
    let lower = h.to_ascii_lowercase();
    let (wild, name) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest.to_string()),
        None => (false, lower),
    };
    if name.is_empty() || name == "*" {
        return Err("expected a name like \"example.com\" or \"*.example.com\"");
    }
    if name.len() > 253 {
        return Err("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each dot-separated label must have 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("only letters, digits, '-' and a leading \"*.\" are allowed");
        }
    }
    Ok(if wild {
        HostPattern::Wildcard(name)
    } else {
        HostPattern::Exact(name)
    })
}

/// Parses an origin: `http://host:port`, `https://host[:port]` or `static:DIR`.
pub(crate) fn parse_origin(o: &str, base: &Path) -> std::result::Result<Origin, String> {
    if let Some(dir) = o.strip_prefix("static:") {
        let p = Path::new(dir);
        let root = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        };
        if !root.is_dir() {
            return Err(format!(
                "static root {dir:?} (resolved to {}) does not exist or is not a directory",
                root.display()
            ));
        }
        let root = root.canonicalize().unwrap_or(root);
        return Ok(Origin::Static { root });
    }
    let expected = "(expected http://HOST[:PORT], https://HOST[:PORT] or static:DIR)";
    let url = url::Url::parse(o).map_err(|_| format!("{o:?} is not a URL {expected}"))?;
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        _ => return Err(format!("{o:?} is not a URL {expected}")),
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(format!("{o:?} has no host {expected}")),
    };
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{o:?}: an origin URL cannot have a path, query or fragment {expected}"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{o:?}: credentials in origin URLs are not supported"
        ));
    }
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    Ok(Origin::Http { tls, host, port })
}

/// The globs a rule host must intersect for a site: its exact names and wildcards.
fn site_host_globs(hosts: &[HostPattern], default: bool) -> Vec<String> {
    if default {
        return Vec::new();
    }
    hosts
        .iter()
        .map(|h| match h {
            HostPattern::Exact(n) => n.clone(),
            HostPattern::Wildcard(p) => format!("*.{p}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("Example.COM"),
            Ok(HostPattern::Exact("example.com".into()))
        );
        assert_eq!(
            parse_host("*.example.com"),
            Ok(HostPattern::Wildcard("example.com".into()))
        );
        assert!(parse_host("ex ample.com").is_err());
        assert!(parse_host("a..b").is_err());
        assert!(parse_host("*").is_err());
    }

    #[test]
    fn origins() {
        let base = Path::new(".");
        assert_eq!(
            parse_origin("http://10.0.0.5:8080", base),
            Ok(Origin::Http {
                tls: false,
                host: "10.0.0.5".into(),
                port: 8080
            })
        );
        assert_eq!(
            parse_origin("https://api.example.com", base),
            Ok(Origin::Http {
                tls: true,
                host: "api.example.com".into(),
                port: 443
            })
        );
        assert_eq!(
            parse_origin("http://[::1]:81", base),
            Ok(Origin::Http {
                tls: false,
                host: "::1".into(),
                port: 81
            })
        );
        assert!(
            parse_origin("htp://x", base)
                .expect_err("bad scheme")
                .contains("is not a URL")
        );
        assert!(parse_origin("http://x/path", base).is_err());
        assert!(parse_origin("static:/definitely/not/here", base).is_err());
    }
}
