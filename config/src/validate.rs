//! Turns the wire schema into the validated model, collecting every problem.

use crate::error::{ConfigError, Diagnostic, Result};
use crate::locate::{Seg, display_path, locate};
use crate::model::*;
use crate::raw;
use crate::rule::ScriptFile;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Collects problems with their positions while walking one YAML file.
pub(crate) struct Validator<'a> {
    pub(crate) text: &'a str,
    pub(crate) file: &'a Path,
    /// Relative paths in the file are resolved against this directory.
    pub(crate) base: PathBuf,
    pub(crate) problems: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
    /// Files read so far (main config first), for `--watch`.
    pub(crate) files: Vec<PathBuf>,
    /// Of those, the ones holding secrets (`env: { NAME: { file: PATH } }`), and where
    /// the first is named.
    pub(crate) secret_files: Vec<PathBuf>,
    pub(crate) first_secret_at: Option<String>,
}

impl<'a> Validator<'a> {
    /// A validator for `text`, read from `file`.
    pub(crate) fn new(text: &'a str, file: &'a Path) -> Self {
        let base = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Validator {
            text,
            file,
            base,
            problems: Vec::new(),
            warnings: Vec::new(),
            files: Vec::new(),
            secret_files: Vec::new(),
            first_secret_at: None,
        }
    }

    /// An IP network (`10.0.0.0/8`) or a single address, reported at `path` if neither.
    pub(crate) fn network(&mut self, s: &str, path: &[Seg]) -> Option<ipnet::IpNet> {
        let net = s
            .parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        if net.is_err() {
            self.report(
                path,
                format!("{s:?} is not an IP network (expected e.g. \"10.0.0.0/8\", \"2001:db8::/32\" or \"192.0.2.7\")"),
            );
        }
        net.ok()
    }

    pub(crate) fn report(&mut self, path: &[Seg], message: impl Into<String>) {
        let d = self.diagnostic(path, message.into());
        self.problems.push(d);
    }

    /// Records a problem that does not stop loading.
    pub(crate) fn warn(&mut self, path: &[Seg], message: impl Into<String>) {
        let d = self.diagnostic(path, message.into());
        self.warnings.push(d);
    }

    /// The 1-based line of the node at `path` (or its nearest existing parent).
    pub(crate) fn line_of(&self, path: &[Seg]) -> usize {
        self.position(path).0
    }

    fn position(&self, path: &[Seg]) -> (usize, usize) {
        // A missing node (a default we filled in) is reported at its parent.
        let mut at = path;
        loop {
            if let Some(pos) = locate(self.text, at) {
                return pos;
            }
            if at.is_empty() {
                return (1, 1);
            }
            at = &at[..at.len() - 1];
        }
    }

    fn diagnostic(&self, path: &[Seg], message: String) -> Diagnostic {
        let (line, column) = self.position(path);
        Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            path: display_path(path),
            message,
        }
    }

    pub(crate) fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() || self.base == Path::new(".") {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub(crate) fn addr(&mut self, v: Option<&str>, path: &[Seg]) -> Option<SocketAddr> {
        let s = v?;
        match s.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.report(
                    path,
                    format!("{s:?} is not a listen address (expected IP:PORT, e.g. \"0.0.0.0:8080\" or \"[::]:443\")"),
                );
                None
            }
        }
    }

    pub(crate) fn duration(
        &mut self,
        v: Option<&str>,
        default: Duration,
        path: &[Seg],
    ) -> Duration {
        let Some(s) = v else { return default };
        match humantime::parse_duration(s) {
            Ok(d) => d,
            Err(_) => {
                self.report(
                    path,
                    format!("{s:?} is not a duration (expected a number and unit, e.g. \"500ms\", \"30s\", \"5m\")"),
                );
                default
            }
        }
    }

    /// One of a fixed set of words; the first option is the default when absent.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        value: Option<&str>,
        path: &[Seg],
        options: &[(&str, T)],
        what: &str,
    ) -> T {
        let Some(value) = value else {
            return options[0].1;
        };
        if let Some((_, t)) = options.iter().find(|(name, _)| *name == value) {
            return *t;
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
        let expected = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        };
        self.report(
            path,
            format!("{value:?} is not {what} (expected {expected})"),
        );
        options[0].1
    }

    pub(crate) fn size(&mut self, v: Option<&str>, default: u64, path: &[Seg]) -> u64 {
        let Some(s) = v else { return default };
        match s.parse::<bytesize::ByteSize>() {
            Ok(b) => b.as_u64(),
            Err(_) => {
                self.report(
                    path,
                    format!("{s:?} is not a size (expected a number and unit, e.g. \"512MiB\", \"20GiB\", \"64KiB\")"),
                );
                default
            }
        }
    }

    /// Reads a JS hook file (and records it for `--watch`).
    pub(crate) fn script_file(&mut self, v: &str, path: &[Seg]) -> Option<ScriptFile> {
        let resolved = self.existing_file(v, path, "script");
        if !resolved.is_file() {
            return None;
        }
        self.files.push(resolved.clone());
        match ScriptFile::read(&resolved) {
            Ok(s) => Some(s),
            Err(e) => {
                self.report(path, format!("script file {v:?}: cannot read: {e}"));
                None
            }
        }
    }

    pub(crate) fn existing_file(&mut self, v: &str, path: &[Seg], what: &str) -> PathBuf {
        let resolved = self.resolve(v);
        if !resolved.is_file() {
            self.report(
                path,
                format!(
                    "{what} file {v:?} (resolved to {}) does not exist or is not a file",
                    resolved.display()
                ),
            );
        }
        resolved
    }
}

/// Validates `raw`, read from `file` whose text is `text`.
pub(crate) fn validate(raw: raw::Root, text: &str, file: &Path) -> Result<Config> {
    let mut v = Validator::new(text, file);
    v.files.push(file.to_path_buf());

    use Seg::{Index, Key};
    let listen = Listen {
        http: v.addr(raw.listen.http.as_deref(), &[Key("listen"), Key("http")]),
        https: v.addr(raw.listen.https.as_deref(), &[Key("listen"), Key("https")]),
        h2c: raw.listen.h2c,
    };
    if raw.listen.http.is_none() && raw.listen.https.is_none() {
        v.report(
            &[Key("listen")],
            "no listener configured (expected listen.http and/or listen.https)",
        );
    }

    let cluster = raw
        .cluster
        .as_ref()
        .map(|c| crate::cluster::validate(&mut v, c, listen.http));
    let shared = v.choice(
        raw.kv.backend.as_deref(),
        &[Key("kv"), Key("backend")],
        &[("local", false), ("redis", true)],
        "a KV backend",
    );
    if shared && cluster.is_none() {
        v.report(
            &[Key("kv"), Key("backend")],
            "the redis backend uses the cluster's Redis: add a `cluster:` section (cluster.redis)",
        );
    }
    let kv_cache_ttl = v.duration(
        raw.kv.cache_ttl.as_deref(),
        Duration::from_secs(5),
        &[Key("kv"), Key("cache_ttl")],
    );
    let kv_shared = shared.then_some(kv_cache_ttl);
    let resolver = crate::resolver::validate(&mut v, &raw.resolver);

    let mut certificates = Vec::new();
    let mut defaults = 0;
    for (i, c) in raw.tls.certificates.iter().enumerate() {
        let at = |k| [Key("tls"), Key("certificates"), Index(i), Key(k)];
        let cert = v.existing_file(&c.cert, &at("cert"), "certificate");
        let key = v.existing_file(&c.key, &at("key"), "private key");
        if c.default {
            defaults += 1;
            if defaults > 1 {
                v.report(&at("default"), "only one certificate can be the default");
            }
        }
        let ocsp = c
            .ocsp
            .as_ref()
            .map(|o| v.existing_file(o, &at("ocsp"), "OCSP response"));
        certificates.push(CertificateConfig {
            cert,
            key,
            default: c.default,
            ocsp,
        });
    }
    let acme = crate::acme::global(&mut v, raw.tls.acme.as_ref());
    let refuse_unknown_sni = v.choice(
        raw.tls.unknown_sni.as_deref(),
        &[Key("tls"), Key("unknown_sni")],
        &[("default", false), ("refuse", true)],
        "an unknown-SNI policy",
    );

    let threads = match raw.server.threads {
        Some(0) => {
            v.report(&[Key("server"), Key("threads")], "must be at least 1");
            1
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let request_id_header = match raw.server.request_id_header.as_deref() {
        None => Some(http::HeaderName::from_static("outpost-request-id")),
        Some("") => None,
        Some(name) => match http::HeaderName::from_bytes(name.as_bytes()) {
            Ok(h) => Some(h),
            Err(_) => {
                v.report(
                    &[Key("server"), Key("request_id_header")],
                    format!("{name:?} is not a header name (\"\" turns the header off)"),
                );
                None
            }
        },
    };
    let server = ServerSettings {
        request_id_header,
        upgrade_socket: raw.server.upgrade_socket.as_deref().map_or_else(
            || std::env::temp_dir().join("outpost-upgrade.sock"),
            |p| v.resolve(p),
        ),
        threads,
        shutdown_timeout: v.duration(
            raw.server.shutdown_timeout.as_deref(),
            Duration::from_secs(10),
            &[Key("server"), Key("shutdown_timeout")],
        ),
        upstream_keepalive_pool: raw.server.upstream_keepalive_pool.unwrap_or(256),
        debug_headers: raw.server.debug_headers.unwrap_or(false),
        script_cpu_limit: v.duration(
            raw.server.script_cpu_limit.as_deref(),
            Duration::from_millis(50),
            &[Key("server"), Key("script_cpu_limit")],
        ),
        script_memory_limit: v.size(
            raw.server.script_memory_limit.as_deref(),
            128 << 20,
            &[Key("server"), Key("script_memory_limit")],
        ),
        script_queue_per_thread: match raw.server.script_queue_per_thread {
            Some(0) => {
                v.report(
                    &[Key("server"), Key("script_queue_per_thread")],
                    "must be at least 1",
                );
                1
            }
            n => n.unwrap_or(128),
        },
        script_queue_per_script: match raw.server.script_queue_per_script {
            Some(0) => {
                v.report(
                    &[Key("server"), Key("script_queue_per_script")],
                    "must be at least 1",
                );
                None
            }
            n => n,
        },
        script_queue_timeout: v.duration(
            raw.server.script_queue_timeout.as_deref(),
            Duration::from_secs(1),
            &[Key("server"), Key("script_queue_timeout")],
        ),
        max_connections: raw.server.max_connections.unwrap_or(10_000),
        max_connections_per_ip: raw.server.max_connections_per_ip.unwrap_or(256),
        header_timeout: v.duration(
            raw.server.header_timeout.as_deref(),
            Duration::from_secs(15),
            &[Key("server"), Key("header_timeout")],
        ),
        idle_timeout: v.duration(
            raw.server.idle_timeout.as_deref(),
            Duration::from_secs(60),
            &[Key("server"), Key("idle_timeout")],
        ),
        body_timeout: v.duration(
            raw.server.body_timeout.as_deref(),
            Duration::from_secs(60),
            &[Key("server"), Key("body_timeout")],
        ),
        send_timeout: v.duration(
            raw.server.send_timeout.as_deref(),
            Duration::from_secs(60),
            &[Key("server"), Key("send_timeout")],
        ),
        min_send_rate: v.size(
            raw.server.min_send_rate.as_deref(),
            1024,
            &[Key("server"), Key("min_send_rate")],
        ),
    };
    for (name, d) in [
        ("header_timeout", server.header_timeout),
        ("idle_timeout", server.idle_timeout),
        ("body_timeout", server.body_timeout),
        ("send_timeout", server.send_timeout),
    ] {
        // pingora counts keep-alive in whole seconds; below one, a timer would never
        // be set and the limit would silently be off.
        if d < Duration::from_secs(1) {
            v.report(&[Key("server"), Key(name)], "must be at least 1s");
        }
    }

    let c = &raw.cache;
    let cache = CacheConfig {
        memory: v.size(
            c.memory.as_deref(),
            256 << 20,
            &[Key("cache"), Key("memory")],
        ),
        max_memory_object: v.size(
            c.max_memory_object.as_deref(),
            8 << 20,
            &[Key("cache"), Key("max_memory_object")],
        ),
        disk: c.disk.as_ref().map(|d| CacheDiskConfig {
            path: v.resolve(&d.path),
            size: v.size(Some(&d.size), 0, &[Key("cache"), Key("disk"), Key("size")]),
        }),
        lock_timeout: v.duration(
            c.lock_timeout.as_deref(),
            Duration::from_secs(5),
            &[Key("cache"), Key("lock_timeout")],
        ),
    };
    if cache.disk.as_ref().is_some_and(|d| d.size == 0) {
        v.report(
            &[Key("cache"), Key("disk"), Key("size")],
            "must be greater than zero",
        );
    }

    let admin = raw.admin.as_ref().and_then(|a| {
        let listen = v.addr(Some(&a.listen), &[Key("admin"), Key("listen")])?;
        let token = a.token_file.as_ref().and_then(|f| {
            let path = v.existing_file(f, &[Key("admin"), Key("token_file")], "token");
            let token = std::fs::read_to_string(&path).ok()?.trim().to_string();
            if token.len() < 16 {
                v.report(&[Key("admin"), Key("token_file")], "the token must be at least 16 characters");
            }
            Some(token)
        });
        if token.is_none() && !listen.ip().is_loopback() {
            v.report(
                &[Key("admin"), Key("listen")],
                format!("{listen} is not a loopback address: set admin.token_file so the admin API is not open to anyone"),
            );
        }
        Some(AdminConfig { listen, token })
    });

    let format = v.choice(
        raw.log.format.as_deref(),
        &[Key("log"), Key("format")],
        &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        "a log format",
    );
    let level = raw.log.level.clone().unwrap_or_else(|| "info".to_string());
    if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
        v.report(
            &[Key("log"), Key("level")],
            format!("{level:?} is not a log level (expected error, warn, info, debug or trace)"),
        );
    }
    let log = LogConfig {
        format,
        level,
        access_log: raw.log.access_log.unwrap_or(true),
        file: raw.log.file.as_deref().map(|f| v.resolve(f)),
    };

    if raw.sites.is_empty() {
        v.report(
            &[Key("sites")],
            "no sites configured (expected at least one entry under sites)",
        );
    }
    let mut seen_hosts: HashMap<HostPattern, usize> = HashMap::new();
    let mut default_site: Option<usize> = None;
    let mut sites = Vec::new();
    for (i, s) in raw.sites.iter().enumerate() {
        sites.push(validate_site(
            &mut v,
            s,
            i,
            &mut seen_hosts,
            &mut default_site,
            &acme,
        ));
    }
    let acme_sites: Vec<usize> = (0..sites.len())
        .filter(|&i| sites[i].acme.is_some())
        .collect();
    if raw.listen.https.is_some() && certificates.is_empty() && acme_sites.is_empty() {
        v.report(
            &[Key("listen"), Key("https")],
            "an HTTPS listener needs at least one certificate in tls.certificates or a site with tls.acme (try `outpost cert self-signed HOST`)",
        );
    }
    for &i in &acme_sites {
        let at = [Key("sites"), Index(i), Key("tls"), Key("acme")];
        if raw.listen.https.is_none() {
            v.report(
                &at,
                "an ACME certificate needs an HTTPS listener (listen.https) to serve it",
            );
        }
        if sites[i]
            .acme
            .as_ref()
            .is_some_and(|a| a.challenge == crate::AcmeChallenge::Http01)
            && raw.listen.http.is_none()
        {
            v.report(
                &at,
                "the http-01 challenge needs the plain HTTP listener (listen.http, port 80 in production); or use challenge: tls-alpn-01",
            );
        }
    }

    // `outpost push` carries secret files through Redis: only ever encrypted.
    if let (Some(c), Some(at)) = (&cluster, v.first_secret_at.clone())
        && c.secret_key.is_none()
    {
        v.report(
            &[Key("cluster")],
            format!(
                "this config reads a secret from a file ({at}) and cluster mode pushes such files through Redis: \
                 set cluster.secret_key_file to a file of 64 hex digits shared by the nodes \
                 (`openssl rand -hex 32 > cluster.key`), so they are encrypted"
            ),
        );
    }

    if v.problems.is_empty() {
        Ok(Config {
            source: file.to_path_buf(),
            listen,
            tls: TlsConfig {
                certificates,
                acme,
                refuse_unknown_sni,
            },
            server,
            cache,
            admin,
            log,
            kv_path: v.resolve(raw.kv.path.as_deref().unwrap_or("kv.redb")),
            kv_shared,
            cluster,
            resolver,
            sites,
            warnings: v.warnings,
            files: v.files,
            secret_files: v.secret_files,
        })
    } else {
        Err(ConfigError::Invalid(v.problems))
    }
}

fn validate_site(
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
        host_globs: crate::rule_file::site_host_globs(&hosts, default),
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
        acme,
        max_request_body: v.size(
            s.max_request_body.as_deref(),
            100 << 20,
            &at("max_request_body"),
        ),
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

fn is_js_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Where binding `name` of `sites[i].<section>` is, if the name can be a JavaScript
/// binding (reported otherwise).
fn binding_path(
    v: &mut Validator<'_>,
    i: usize,
    section: &'static str,
    name: &str,
) -> Option<[Seg; 4]> {
    let path = [
        Seg::Key("sites"),
        Seg::Index(i),
        Seg::Key(section),
        Seg::Name(name.to_string()),
    ];
    if is_js_identifier(name) {
        Some(path)
    } else {
        v.report(
            &path,
            format!("{name:?} is not a JavaScript identifier (letters, digits, _ and $)"),
        );
        None
    }
}

/// Resolves a site's `kv:` bindings (binding name -> namespace).
fn site_kv(v: &mut Validator<'_>, s: &raw::Site, i: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, namespace) in &s.kv {
        let Some(path) = binding_path(v, i, "kv", name) else {
            continue;
        };
        if s.env.contains_key(name) {
            v.report(&path, format!("{name:?} is already an env binding"));
            continue;
        }
        let ok = !namespace.is_empty()
            && namespace.len() <= 64
            && namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            v.report(
                &path,
                format!("namespace {namespace:?}: use 1 to 64 letters, digits, '_' or '-'"),
            );
            continue;
        }
        out.push((name.clone(), namespace.clone()));
    }
    out
}

/// Resolves a site's `env:` bindings.
fn site_env(
    v: &mut Validator<'_>,
    env: &std::collections::BTreeMap<String, serde_yaml::Value>,
    i: usize,
) -> Vec<(String, String)> {
    use serde_yaml::Value;
    let mut out = Vec::new();
    for (name, value) in env {
        let Some(path) = binding_path(v, i, "env", name) else {
            continue;
        };
        let expected = "expected a value, { file: PATH } or { from_env: VAR }";
        let resolved = match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Mapping(m) if m.len() == 1 => {
                let (k, val) = m
                    .iter()
                    .next()
                    .map_or((None, None), |(k, v)| (k.as_str(), v.as_str()));
                match (k, val) {
                    (Some("file"), Some(f)) => {
                        let file = v.existing_file(f, &path, "secret");
                        v.files.push(file.clone());
                        v.secret_files.push(file.clone());
                        if v.first_secret_at.is_none() {
                            v.first_secret_at = Some(format!("sites[{i}].env.{name}"));
                        }
                        std::fs::read_to_string(&file)
                            .ok()
                            .map(|s| s.trim_end().to_string())
                    }
                    (Some("from_env"), Some(var)) => match std::env::var(var) {
                        Ok(s) => Some(s),
                        Err(_) => {
                            v.report(&path, format!("environment variable {var:?} is not set"));
                            None
                        }
                    },
                    _ => {
                        v.report(&path, expected);
                        None
                    }
                }
            }
            _ => {
                v.report(&path, expected);
                None
            }
        };
        if let Some(r) = resolved {
            out.push((name.clone(), r));
        }
    }
    out
}

/// A cache key policy (site `cache_key:` or a rule's `cache_key` action).
pub(crate) fn cache_key_policy(
    v: &mut Validator<'_>,
    k: &raw::CacheKey,
    at: &[Seg],
) -> CacheKeyPolicy {
    let mut path = at.to_vec();
    path.push(Seg::Key("query"));
    let expected = "(expected \"full\", \"sorted\", \"ignore\", { include: [NAME, ...] } or { exclude: [NAME, ...] })";
    let query = match &k.query {
        None => QueryKey::Full,
        Some(serde_yaml::Value::String(s)) => match s.as_str() {
            "full" => QueryKey::Full,
            "sorted" => QueryKey::Sorted,
            "ignore" => QueryKey::Ignore,
            other => {
                v.report(
                    &path,
                    format!("{other:?} is not a query key mode {expected}"),
                );
                QueryKey::Full
            }
        },
        Some(serde_yaml::Value::Mapping(m)) if m.len() == 1 => {
            let (key, list) = m
                .iter()
                .next()
                .map_or((None, None), |(k, l)| (k.as_str(), Some(l)));
            let names: Option<Vec<String>> = list
                .and_then(|l| l.as_sequence())
                .and_then(|seq| seq.iter().map(|n| n.as_str().map(str::to_string)).collect());
            match (key, names) {
                (Some("include"), Some(n)) => QueryKey::Include(n),
                (Some("exclude"), Some(n)) => QueryKey::Exclude(n),
                _ => {
                    v.report(&path, format!("not a query key mode {expected}"));
                    QueryKey::Full
                }
            }
        }
        Some(_) => {
            v.report(&path, format!("not a query key mode {expected}"));
            QueryKey::Full
        }
    };
    CacheKeyPolicy {
        query,
        headers: k.headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
        cookies: k.cookies.clone(),
    }
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
