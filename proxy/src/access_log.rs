//! The access-log line, one shape whichever path answered the request.

use std::time::Instant;

/// One access-log line, whichever path answered (pingora's, or the memory-hit fast
/// path's): the fields are defined here once.
pub(crate) struct AccessLine<'a> {
    pub(crate) client: Option<std::net::IpAddr>,
    pub(crate) request_id: &'a dyn std::fmt::Display,
    pub(crate) method: &'a str,
    pub(crate) host: &'a str,
    pub(crate) path: &'a str,
    pub(crate) version: http::Version,
    pub(crate) status: u16,
    pub(crate) bytes: usize,
    /// When the request arrived (the line gives the duration since).
    pub(crate) start: Instant,
    pub(crate) site: &'a str,
    pub(crate) origin: &'a str,
    pub(crate) attempts: usize,
    pub(crate) cache: &'a str,
    pub(crate) subrequest: bool,
    pub(crate) rule: Option<String>,
    pub(crate) script: Option<String>,
    pub(crate) html: Option<&'a str>,
    pub(crate) compression: Option<&'a str>,
    pub(crate) error: Option<String>,
}

impl AccessLine<'_> {
    /// Emits the line (target `outpost::access`).
    pub(crate) fn write(self) {
        let client = self
            .client
            .map_or_else(|| "-".to_string(), |ip| ip.to_string());
        tracing::info!(
            target: "outpost::access",
            client = %client,
            request_id = %self.request_id,
            method = %self.method,
            host = %self.host,
            path = %self.path,
            version = ?self.version,
            status = self.status,
            bytes = self.bytes,
            duration_ms = self.start.elapsed().as_secs_f64() * 1000.0,
            site = self.site,
            origin = %self.origin,
            attempts = self.attempts,
            cache = self.cache,
            subrequest = self.subrequest,
            rule = self.rule,
            script = self.script,
            html = self.html,
            compression = self.compression,
            error = self.error,
            "access"
        );
    }
}
