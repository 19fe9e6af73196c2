//! Prometheus metrics, served by the admin API at `GET /metrics`.
//!
//! Per-request series are updated once per request, in the access-log phase, from
//! what the request context already knows; gauges that describe state (in-flight
//! requests, cache contents, origin health, the loaded config) are read at scrape
//! time, so the request path pays nothing for them.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every series Outpost exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by site, status class (`2xx`…) and cache outcome.
    pub requests: IntCounterVec,
    /// Time from the request's arrival to its last byte, by site.
    pub duration: HistogramVec,
    /// Time spent waiting for origins (connect to response head), by site.
    pub origin_duration: HistogramVec,
    /// Response body bytes sent, by site.
    pub bytes_out: IntCounterVec,
    /// Request body bytes received, by site.
    pub bytes_in: IntCounterVec,
    /// JS hook runs by script and outcome (`ok`, `error`, `cpu_limit`, `memory_limit`).
    pub scripts: IntCounterVec,
    /// Cron trigger runs by script, cron expression and outcome (`ok` or the failure's kind).
    pub scheduled: IntCounterVec,
    /// Requests each page rule applied to (`file:line`).
    pub rule_hits: IntCounterVec,
    /// Responses rewritten by each HTML profile.
    pub html_rewrites: IntCounterVec,
    /// Of those, the ones sent from a kept rewrite of the stored page.
    pub html_kept: IntCounterVec,
    /// Responses compressed on the fly, by coding.
    pub compressed: IntCounterVec,
    /// Body bytes through the compressor, by coding and side (`in`, `out`).
    pub compression_bytes: IntCounterVec,
    /// Completed TLS handshakes by protocol version (`TLSv1.3`, `TLSv1.2`).
    pub tls_handshakes: IntCounterVec,
    /// HTTP/3 (QUIC) connections by outcome (`accepted`, `failed`, `retry`: sent a
    /// Retry to prove its address).
    pub http3_connections: IntCounterVec,
    /// Requests by the protocol the client spoke (counted in `requests` too).
    pub by_protocol: ByProtocol,
    /// Image transform requests by outcome (`transformed`, `hit`, `bad-option`,
    /// `too-large`, `not-an-image`, `forbidden`, `source-failed`, `overloaded`).
    pub images: IntCounterVec,
    /// Image bytes: `in` (sources transformed), `out` (results made).
    pub image_bytes: IntCounterVec,
    /// Time one transform took on its thread (decode, resize, encode), by site.
    pub image_seconds: HistogramVec,
    /// Config reloads by result (`ok`, `failed`).
    pub reloads: IntCounterVec,
    /// Client connections closed by a limit: `global` / `per_ip` (over
    /// `server.max_connections*`), `header_timeout` (slow request head).
    pub connections_refused: IntCounterVec,
    /// Cache hits answered by the memory-hit fast path (a subset of the `hit`
    /// requests: those that needed nothing of pingora's full path).
    pub fast_hits: prometheus::IntCounter,
    /// `outpost_cache_fast_passes_total`: hit-for-pass requests the fast path sent to
    /// the origin itself.
    pub fast_passes: prometheus::IntCounter,
    /// `outpost_script_lane_requests_total`: hooked requests whose script ran without
    /// pingora's session (the hook lane).
    pub lane_hooks: prometheus::IntCounter,
    connections_open: IntGauge,
    config_info: IntGaugeVec,
    config_loaded: IntGauge,
    in_flight: IntGauge,
    cache_bytes: IntGaugeVec,
    cache_entries: IntGaugeVec,
    cache_lookups: IntGaugeVec,
    cache_evictions: IntGaugeVec,
    cache_disk_errors: IntGauge,
    cluster_connected: IntGauge,
    cluster_nodes: IntGaugeVec,
    cluster_purges: IntGaugeVec,
    cluster_bundle: IntGaugeVec,
    resolver_lookups: IntGaugeVec,
    resolver_addresses: IntGaugeVec,
    origin_up: IntGaugeVec,
    cert_expiry: IntGaugeVec,
    acme_orders: IntGaugeVec,
    js_threads_replaced: IntGaugeVec,
    acme_failing: IntGaugeVec,
}

/// A site's per-request series, resolved once per site and config version (looking a
/// labelled series up hashes its labels and takes a lock: not per request).
#[derive(Debug)]
pub struct SiteMeters {
    /// `requests{site, 2xx, hit}`: the fast path's usual answer.
    pub hits_2xx: prometheus::IntCounter,
    /// `duration{site}`.
    pub duration: prometheus::Histogram,
    /// `bytes_out{site}`.
    pub bytes_out: prometheus::IntCounter,
    /// `bytes_in{site}`.
    pub bytes_in: prometheus::IntCounter,
    /// `requests{site, 2xx, disabled}`: a pass's usual answer (not stored).
    pub passes_2xx: prometheus::IntCounter,
    /// `origin_duration{site}`.
    pub origin_duration: prometheus::Histogram,
}

impl SiteMeters {
    /// The series of site `name` in `m`.
    pub fn new(m: &Metrics, name: &str) -> Self {
        SiteMeters {
            hits_2xx: m.requests.with_label_values(&[name, "2xx", "hit"]),
            duration: m.duration.with_label_values(&[name]),
            bytes_out: m.bytes_out.with_label_values(&[name]),
            bytes_in: m.bytes_in.with_label_values(&[name]),
            passes_2xx: m.requests.with_label_values(&[name, "2xx", "disabled"]),
            origin_duration: m.origin_duration.with_label_values(&[name]),
        }
    }
}

/// `requests_by_protocol{protocol}`: one series per protocol, resolved once (every
/// request, fast paths included, counts in one).
#[derive(Debug)]
pub struct ByProtocol {
    http10: prometheus::IntCounter,
    http11: prometheus::IntCounter,
    h2: prometheus::IntCounter,
    h3: prometheus::IntCounter,
}

impl ByProtocol {
    fn new(family: IntCounterVec) -> Self {
        ByProtocol {
            http10: family.with_label_values(&["http/1.0"]),
            http11: family.with_label_values(&["http/1.1"]),
            h2: family.with_label_values(&["h2"]),
            h3: family.with_label_values(&["h3"]),
        }
    }

    /// Counts one request a client made in `version`.
    pub fn count(&self, version: http::Version) {
        match version {
            http::Version::HTTP_10 | http::Version::HTTP_09 => &self.http10,
            http::Version::HTTP_2 => &self.h2,
            http::Version::HTTP_3 => &self.h3,
            _ => &self.http11,
        }
        .inc();
    }
}

/// What the scrape reads from the running node.
pub struct State<'a> {
    /// Requests being served now.
    pub in_flight: usize,
    /// Client connections open now.
    pub connections_open: usize,
    /// Cluster mode: this node's view of the cluster.
    pub cluster: Option<outpost_cluster::ClusterStatus>,
    /// The origin-name resolver.
    pub resolver: crate::resolve::ResolverStatus,
    /// Cache counters, if caching is on.
    pub cache: Option<outpost_cache::CacheStats>,
    /// `(site, origin, up)` for every origin of every site.
    pub origins: Vec<(&'a str, String, bool)>,
    /// The ACME manager's view of each order.
    pub acme: Vec<outpost_tls::acme::OrderStatusReport>,
    /// ACME order outcomes since start: (issued, failed, loaded from storage).
    pub acme_counts: (u64, u64, u64),
    /// JS threads replaced since start: (stuck in a call, worn by dropped contexts).
    pub js_threads_replaced: (u64, u64),
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    r.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    r.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn histogram(r: &Registry, name: &str, help: &str) -> HistogramVec {
    let buckets = vec![
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), &["site"])
        .expect("valid metric definition");
    r.register(Box::new(h.clone()))
        .expect("metric registered once");
    h
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every series, all at zero.
    // The definitions are constants: registering them cannot fail at run time.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let r = Registry::new();
        let single = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric definition");
            r.register(Box::new(g.clone()))
                .expect("metric registered once");
            g
        };
        let config_loaded = single(
            "outpost_config_loaded_timestamp_seconds",
            "When the running configuration was loaded (Unix time).",
        );
        let in_flight = single("outpost_requests_in_flight", "Requests being served now.");
        let cluster_connected = single(
            "outpost_cluster_connected",
            "Cluster mode: 1 when the last exchange with Redis worked.",
        );
        let cache_disk_errors = single(
            "outpost_cache_disk_write_errors",
            "Disk-tier writes that failed since start (disk full, I/O errors); those objects were cached in memory only.",
        );
        let connections_open = single(
            "outpost_connections_open",
            "Client connections open now (all listeners).",
        );
        Metrics {
            requests: counter(
                &r,
                "outpost_requests_total",
                "Requests served, by site, status class and cache outcome.",
                &["site", "status", "cache"],
            ),
            duration: histogram(
                &r,
                "outpost_request_duration_seconds",
                "Time from a request's arrival to its response's last byte.",
            ),
            origin_duration: histogram(
                &r,
                "outpost_origin_duration_seconds",
                "Time from connecting to an origin to its response head.",
            ),
            bytes_out: counter(
                &r,
                "outpost_response_body_bytes_total",
                "Response body bytes sent to clients.",
                &["site"],
            ),
            bytes_in: counter(
                &r,
                "outpost_request_body_bytes_total",
                "Request body bytes received from clients.",
                &["site"],
            ),
            scripts: counter(
                &r,
                "outpost_script_runs_total",
                "JS hook runs, by script and outcome.",
                &["script", "outcome"],
            ),
            scheduled: counter(
                &r,
                "outpost_scheduled_runs_total",
                "Cron trigger runs of scripts' scheduled handlers, by script, cron and outcome.",
                &["script", "cron", "outcome"],
            ),
            rule_hits: counter(
                &r,
                "outpost_rule_hits_total",
                "Requests each page rule applied to.",
                &["rule"],
            ),
            html_rewrites: counter(
                &r,
                "outpost_html_rewrites_total",
                "Responses rewritten, by HTML profile.",
                &["profile"],
            ),
            html_kept: counter(
                &r,
                "outpost_html_kept_total",
                "Rewritten responses sent from a kept rewrite of the stored page (cache.rewritten_pages), by HTML profile.",
                &["profile"],
            ),
            compressed: counter(
                &r,
                "outpost_compressed_responses_total",
                "Responses compressed on the fly, by coding.",
                &["coding"],
            ),
            compression_bytes: counter(
                &r,
                "outpost_compression_bytes_total",
                "Body bytes into (in) and out of (out) on-the-fly compression, by coding.",
                &["coding", "side"],
            ),
            tls_handshakes: counter(
                &r,
                "outpost_tls_handshakes_total",
                "Completed TLS handshakes, by protocol version.",
                &["version"],
            ),
            http3_connections: counter(
                &r,
                "outpost_http3_connections_total",
                "HTTP/3 (QUIC) connections, by outcome (accepted, failed, retry).",
                &["outcome"],
            ),
            images: counter(
                &r,
                "outpost_image_requests_total",
                "Image transform requests (/cdn-cgi/image/…) by outcome; hit: a stored variant.",
                &["outcome"],
            ),
            image_bytes: counter(
                &r,
                "outpost_image_bytes_total",
                "Bytes of image sources transformed (in) and of results made (out).",
                &["side"],
            ),
            image_seconds: histogram(
                &r,
                "outpost_image_transform_seconds",
                "Time one image transform took on its thread (decode, resize, encode).",
            ),
            by_protocol: ByProtocol::new(counter(
                &r,
                "outpost_requests_by_protocol_total",
                "Requests by the protocol the client spoke (http/1.0, http/1.1, h2, h3); \
                 every one is also in outpost_requests_total.",
                &["protocol"],
            )),
            reloads: counter(
                &r,
                "outpost_config_reloads_total",
                "Configuration reloads, by result.",
                &["result"],
            ),
            config_info: gauge(
                &r,
                "outpost_config_info",
                "The running configuration: 1 for its content hash and generation.",
                &["hash", "generation"],
            ),
            fast_hits: {
                let c = prometheus::IntCounter::new(
                    "outpost_cache_fast_hits_total",
                    "Cache hits answered by the memory-hit fast path (HTTP/1.1 GET/HEAD of a fresh memory-tier object that no rule, hook or conditional touches).",
                )
                .expect("valid metric definition");
                r.register(Box::new(c.clone()))
                    .expect("metric registered once");
                c
            },
            fast_passes: {
                let c = prometheus::IntCounter::new(
                    "outpost_cache_fast_passes_total",
                    "Requests for a key whose origin said not to store it (hit-for-pass) that the fast path relayed from the origin itself (HTTP/1.1 GET/HEAD that no rule, hook or conditional touches).",
                )
                .expect("valid metric definition");
                r.register(Box::new(c.clone()))
                    .expect("metric registered once");
                c
            },
            lane_hooks: {
                let c = prometheus::IntCounter::new(
                    "outpost_script_lane_requests_total",
                    "Hooked requests whose script ran in the hook lane (HTTP/1.1 or HTTP/2 GET/HEAD without a body, rule or conditional) instead of through pingora's session.",
                )
                .expect("valid metric definition");
                r.register(Box::new(c.clone()))
                    .expect("metric registered once");
                c
            },
            connections_refused: counter(
                &r,
                "outpost_connections_refused_total",
                "Client connections closed by a limit: global or per_ip connection cap, header_timeout.",
                &["reason"],
            ),
            connections_open,
            cache_disk_errors,
            cluster_connected,
            cluster_nodes: gauge(
                &r,
                "outpost_cluster_nodes",
                "Cluster mode: live nodes in the registry, by tier; upper_healthy counts upper nodes passing this node's checks.",
                &["tier"],
            ),
            cluster_purges: gauge(
                &r,
                "outpost_cluster_purges",
                "Cluster mode: purges since start, by kind (published, applied = from other nodes, queued = waiting for Redis now, missed = cache emptied after a gap).",
                &["kind"],
            ),
            cluster_bundle: gauge(
                &r,
                "outpost_cluster_bundle_info",
                "Cluster mode: 1 for the last pushed bundle applied (version), and for the last refused (result=rejected).",
                &["version", "result"],
            ),
            resolver_lookups: gauge(
                &r,
                "outpost_resolver_lookups",
                "DNS lookups of origin names since start (first and background refreshes), by result (ok, failed).",
                &["result"],
            ),
            resolver_addresses: gauge(
                &r,
                "outpost_resolver_addresses",
                "Addresses an origin name resolves to now (host:port); 0 never appears: a failed lookup keeps the last answer.",
                &["name"],
            ),
            config_loaded,
            in_flight,
            cache_bytes: gauge(
                &r,
                "outpost_cache_bytes",
                "Bytes cached, by tier.",
                &["tier"],
            ),
            cache_entries: gauge(
                &r,
                "outpost_cache_entries",
                "Objects cached, by tier.",
                &["tier"],
            ),
            cache_lookups: gauge(
                &r,
                "outpost_cache_lookups",
                "Cache lookups since start, by result (memory_hit, disk_hit, miss).",
                &["result"],
            ),
            cache_evictions: gauge(
                &r,
                "outpost_cache_evictions",
                "Objects evicted for space since start, by tier.",
                &["tier"],
            ),
            origin_up: gauge(
                &r,
                "outpost_origin_up",
                "1 when an origin is taking traffic (health checks and passive marking), else 0.",
                &["site", "origin"],
            ),
            cert_expiry: gauge(
                &r,
                "outpost_certificate_expiry_seconds",
                "Seconds until the ACME certificate served for a host expires (negative: expired).",
                &["host"],
            ),
            acme_orders: gauge(
                &r,
                "outpost_acme_orders",
                "ACME orders since start, by result (issued, failed, loaded = taken from storage at start).",
                &["result"],
            ),
            js_threads_replaced: gauge(
                &r,
                "outpost_js_threads_replaced",
                "JS threads replaced by fresh ones since start, by reason (stuck = in a call the CPU limit cannot interrupt; worn = after dropping many script versions' contexts).",
                &["reason"],
            ),
            acme_failing: gauge(
                &r,
                "outpost_acme_failures",
                "Failed ACME attempts in a row for a host's certificate (0 after a success).",
                &["host"],
            ),
            registry: r,
        }
    }

    /// Records that config `hash` (generation `generation`) is now running.
    pub fn config_loaded(&self, hash: &str, generation: u64) {
        self.config_info.reset();
        self.config_info
            .with_label_values(&[hash, &generation.to_string()])
            .set(1);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.config_loaded
            .set(i64::try_from(now).unwrap_or(i64::MAX));
    }

    /// The text exposition of every series, with `state` read now.
    pub fn render(&self, state: &State<'_>) -> String {
        let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.in_flight
            .set(i64::try_from(state.in_flight).unwrap_or(i64::MAX));
        self.connections_open
            .set(i64::try_from(state.connections_open).unwrap_or(i64::MAX));
        let r = &state.resolver;
        self.resolver_lookups
            .with_label_values(&["ok"])
            .set(to_i64(r.lookups.saturating_sub(r.failures)));
        self.resolver_lookups
            .with_label_values(&["failed"])
            .set(to_i64(r.failures));
        self.resolver_addresses.reset();
        for n in &r.names {
            self.resolver_addresses
                .with_label_values(&[n.name.as_str()])
                .set(i64::try_from(n.addresses.len()).unwrap_or(i64::MAX));
        }
        if let Some(c) = &state.cluster {
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            self.cluster_connected.set(i64::from(c.connected));
            for tier in ["lower", "upper"] {
                self.cluster_nodes
                    .with_label_values(&[tier])
                    .set(count(c.nodes.iter().filter(|n| n.tier == tier).count()));
            }
            self.cluster_nodes
                .with_label_values(&["upper_healthy"])
                .set(count(c.uppers_healthy.len()));
            for (kind, n) in [
                ("published", c.purges_published),
                ("applied", c.purges_applied),
                ("queued", c.purges_queued as u64),
                ("missed", c.purges_missed),
            ] {
                self.cluster_purges
                    .with_label_values(&[kind])
                    .set(to_i64(n));
            }
            self.cluster_bundle.reset();
            if let Some(v) = &c.bundle {
                self.cluster_bundle
                    .with_label_values(&[v, "applied"])
                    .set(1);
            }
            if let Some((v, _)) = &c.bundle_rejected {
                self.cluster_bundle
                    .with_label_values(&[v, "rejected"])
                    .set(1);
            }
        }
        if let Some(s) = &state.cache {
            for (tier, bytes, entries, evictions) in [
                (
                    "memory",
                    s.memory_bytes,
                    s.memory_entries,
                    s.memory_evictions,
                ),
                ("disk", s.disk_bytes, s.disk_entries, s.disk_evictions),
            ] {
                self.cache_bytes
                    .with_label_values(&[tier])
                    .set(to_i64(bytes));
                self.cache_entries
                    .with_label_values(&[tier])
                    .set(to_i64(entries));
                self.cache_evictions
                    .with_label_values(&[tier])
                    .set(to_i64(evictions));
            }
            self.cache_disk_errors.set(to_i64(s.disk_write_errors));
            for (result, n) in [
                ("memory_hit", s.memory_hits),
                ("disk_hit", s.disk_hits),
                ("miss", s.misses),
            ] {
                self.cache_lookups
                    .with_label_values(&[result])
                    .set(to_i64(n));
            }
        }
        self.origin_up.reset();
        for (site, origin, up) in &state.origins {
            self.origin_up
                .with_label_values(&[site, origin.as_str()])
                .set(i64::from(*up));
        }
        self.cert_expiry.reset();
        self.acme_failing.reset();
        let now = std::time::SystemTime::now();
        for report in &state.acme {
            for host in &report.names {
                if let Some(cert) = &report.current {
                    let left = match cert.not_after.duration_since(now) {
                        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
                    };
                    self.cert_expiry.with_label_values(&[host]).set(left);
                }
                self.acme_failing
                    .with_label_values(&[host])
                    .set(i64::from(report.failures));
            }
        }
        let (issued, failed, loaded) = state.acme_counts;
        for (result, n) in [("issued", issued), ("failed", failed), ("loaded", loaded)] {
            self.acme_orders.with_label_values(&[result]).set(to_i64(n));
        }
        let (stuck, worn) = state.js_threads_replaced;
        for (reason, n) in [("stuck", stuck), ("worn", worn)] {
            self.js_threads_replaced
                .with_label_values(&[reason])
                .set(to_i64(n));
        }
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail; an empty page is the fallback.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `2xx`, `4xx`… for a status code (`0`: no response was written).
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

/// Counts completed TLS handshakes by version (pingora calls it after each one).
pub struct HandshakeCounter(pub IntCounterVec);

#[async_trait::async_trait]
impl pingora::listeners::TlsAccept for HandshakeCounter {
    async fn handshake_complete_callback(
        &self,
        tls: &pingora::protocols::tls::TlsRef,
    ) -> Option<std::sync::Arc<dyn std::any::Any + Send + Sync>> {
        self.0
            .with_label_values(&[match tls.version() {
                // rustls spells them `TLSv1_3`; Prometheus users expect OpenSSL's names.
                Some("TLSv1_3") => "TLSv1.3",
                Some("TLSv1_2") => "TLSv1.2",
                Some(other) => other,
                None => "unknown",
            }])
            .inc();
        None
    }
}
