//! The access-log line, one shape whichever path answered the request, and its
//! direct writer: the same line `tracing`'s formatter would write, made without it.
//!
//! Access logs are on by default, and `tracing`'s formatter cost a 1 KiB memory hit
//! about a sixth of its CPU: 19 fields, each through `core::fmt` and the field
//! formatter's style wrappers, and a timestamp formatted from scratch per line. The
//! binary installs [`write_directly`] when nothing needs `tracing`'s own rendering
//! (no ANSI colours, `outpost dev`'s formatter not in use); the line then goes, byte
//! for byte as `tracing` would have made it (text or JSON, tested against it), into
//! the same writer as every other log line.

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

// `log.format`: `Text` is `tracing_subscriber::fmt()`'s default (full) format without
// ANSI colours, `Json` its `json().flatten_event(true)`, as the binary sets them up.
use outpost_config::LogFormat;

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

/// Where a finished line goes (the log's writer).
type Out = Box<dyn Fn(&[u8]) + Send + Sync>;

struct Direct {
    format: LogFormat,
    out: Out,
}

static DIRECT: OnceLock<Direct> = OnceLock::new();

/// From now on, access-log lines are rendered here in `format` (which must be the one
/// `tracing`'s formatter was set up with) and handed whole to `out` (the log's writer),
/// instead of going through `tracing`'s formatter. Whether a line is written at all is
/// still `tracing`'s filter's decision. Once per process; later calls change nothing.
pub fn write_directly(format: LogFormat, out: impl Fn(&[u8]) + Send + Sync + 'static) {
    let _ = DIRECT.set(Direct {
        format,
        out: Box::new(out),
    });
}

impl AccessLine<'_> {
    /// Emits the line (target `outpost::access`).
    pub(crate) fn write(self) {
        if !tracing::enabled!(target: "outpost::access", tracing::Level::INFO) {
            return;
        }
        let duration_ms = self.start.elapsed().as_secs_f64() * 1000.0;
        let Some(direct) = DIRECT.get() else {
            self.write_through_tracing(duration_ms);
            return;
        };
        LINE.with_borrow_mut(|buf| {
            buf.clear();
            self.render(direct.format, SystemTime::now(), duration_ms, buf);
            (direct.out)(buf);
        });
    }

    fn write_through_tracing(self, duration_ms: f64) {
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
            duration_ms,
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

    /// The whole line, newline included, as `tracing`'s formatter in `format` writes
    /// it at `now` for a request that took `duration_ms`.
    fn render(&self, format: LogFormat, now: SystemTime, duration_ms: f64, buf: &mut Vec<u8>) {
        let mut line = match format {
            LogFormat::Text => Line::text(buf, now),
            LogFormat::Json => Line::json(buf, now),
        };
        match self.client {
            Some(std::net::IpAddr::V4(ip)) => line.ipv4("client", ip),
            Some(ip) => line.shown("client", ip),
            None => line.text_of("client", "-"),
        }
        line.shown("request_id", self.request_id);
        line.text_of("method", self.method);
        line.text_of("host", self.host);
        line.text_of("path", self.path);
        // (`http::Version`'s `Debug` names, which the line has always used.)
        match self.version {
            http::Version::HTTP_09 => line.text_of("version", "HTTP/0.9"),
            http::Version::HTTP_10 => line.text_of("version", "HTTP/1.0"),
            http::Version::HTTP_11 => line.text_of("version", "HTTP/1.1"),
            http::Version::HTTP_2 => line.text_of("version", "HTTP/2.0"),
            http::Version::HTTP_3 => line.text_of("version", "HTTP/3.0"),
            other => line.shown("version", format_args!("{other:?}")),
        }
        line.number("status", u64::from(self.status));
        line.number("bytes", self.bytes as u64);
        line.float("duration_ms", duration_ms);
        line.string("site", self.site);
        line.text_of("origin", self.origin);
        line.number("attempts", self.attempts as u64);
        line.string("cache", self.cache);
        line.flag("subrequest", self.subrequest);
        let optional = [
            ("rule", self.rule.as_deref()),
            ("script", self.script.as_deref()),
            ("html", self.html),
            ("compression", self.compression),
            ("error", self.error.as_deref()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                line.string(name, value);
            }
        }
        line.end();
    }
}

thread_local! {
    /// The line being made (kept: a line is made per request).
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The second this thread last wrote a timestamp for, and its text up to the
    /// seconds (`2026-12-07T03:24:31`): every line in a second shares it.
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// `now` as `tracing_subscriber`'s `SystemTime` timer writes it: RFC 3339, UTC,
/// microseconds (`2026-12-07T03:24:31.323867Z`).
fn timestamp(now: SystemTime, buf: &mut Vec<u8>) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != secs {
        let mut full = Vec::with_capacity(20);
        let _ = write!(
            full,
            "{}",
            humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs))
        );
        if full.len() < 19 {
            // (Years past 9999: never cached, written whole.)
            let _ = write!(buf, "{}", humantime::format_rfc3339_micros(now));
            return;
        }
        text.copy_from_slice(&full[..19]);
        SECOND.set((secs, text));
    }
    buf.extend_from_slice(&text);
    let micros = since.subsec_micros();
    let mut digits = [b'0'; 6];
    let mut n = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf.push(b'.');
    buf.extend_from_slice(&digits);
    buf.push(b'Z');
}

/// A line being written field by field, in one of the two formats.
struct Line<'b> {
    buf: &'b mut Vec<u8>,
    format: LogFormat,
}

impl<'b> Line<'b> {
    /// `{timestamp}  INFO outpost::access: access`: the full text format's prefix and
    /// the message, the first field.
    fn text(buf: &'b mut Vec<u8>, now: SystemTime) -> Self {
        timestamp(now, buf);
        buf.extend_from_slice(b"  INFO outpost::access: access");
        Line {
            buf,
            format: LogFormat::Text,
        }
    }

    /// `{"timestamp":…,"level":"INFO","message":"access"`: the JSON format's first
    /// entries (the target comes last).
    fn json(buf: &'b mut Vec<u8>, now: SystemTime) -> Self {
        buf.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(now, buf);
        buf.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"access\"");
        Line {
            buf,
            format: LogFormat::Json,
        }
    }

    fn name(&mut self, name: &str) {
        match self.format {
            LogFormat::Text => {
                self.buf.push(b' ');
                self.buf.extend_from_slice(name.as_bytes());
                self.buf.push(b'=');
            }
            LogFormat::Json => {
                self.buf.extend_from_slice(b",\"");
                self.buf.extend_from_slice(name.as_bytes());
                self.buf.extend_from_slice(b"\":");
            }
        }
    }

    /// A field given with `%` (or `?`): its text as it is (text), or as a JSON string.
    fn shown(&mut self, name: &str, value: impl std::fmt::Display) {
        self.name(name);
        match self.format {
            LogFormat::Text => {
                let _ = write!(self.buf, "{value}");
            }
            LogFormat::Json => {
                // serde_json's escaping, as `tracing`'s JSON formatter uses.
                let _ = serde_json::to_writer(&mut *self.buf, &format_args!("{value}"));
            }
        }
    }

    /// A string field given with `%`: [`Line::shown`] without `core::fmt`.
    fn text_of(&mut self, name: &str, value: &str) {
        match self.format {
            LogFormat::Text => {
                self.name(name);
                self.buf.extend_from_slice(value.as_bytes());
            }
            LogFormat::Json => self.string(name, value),
        }
    }

    /// A string field: quoted as Rust's `Debug` quotes it (text), or a JSON string.
    fn string(&mut self, name: &str, value: &str) {
        self.name(name);
        match self.format {
            LogFormat::Text => {
                let plain = value
                    .bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
                if plain {
                    self.buf.push(b'"');
                    self.buf.extend_from_slice(value.as_bytes());
                    self.buf.push(b'"');
                } else {
                    let _ = write!(self.buf, "{value:?}");
                }
            }
            LogFormat::Json => {
                let _ = serde_json::to_writer(&mut *self.buf, value);
            }
        }
    }

    /// An IPv4 address given with `%` (its dotted form), without `core::fmt`.
    fn ipv4(&mut self, name: &str, ip: std::net::Ipv4Addr) {
        let mut text = [0u8; 15];
        let mut len = 0;
        for (i, octet) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                text[len] = b'.';
                len += 1;
            }
            let mut digits = itoa::Buffer::new();
            let d = digits.format(octet).as_bytes();
            text[len..len + d.len()].copy_from_slice(d);
            len += d.len();
        }
        // (Always ASCII digits and dots.)
        self.text_of(name, std::str::from_utf8(&text[..len]).unwrap_or("-"));
    }

    fn number(&mut self, name: &str, value: u64) {
        self.name(name);
        let mut digits = itoa::Buffer::new();
        self.buf.extend_from_slice(digits.format(value).as_bytes());
    }

    fn float(&mut self, name: &str, value: f64) {
        self.name(name);
        match self.format {
            LogFormat::Text => {
                let _ = write!(self.buf, "{value:?}");
            }
            LogFormat::Json => {
                let _ = serde_json::to_writer(&mut *self.buf, &value);
            }
        }
    }

    fn flag(&mut self, name: &str, value: bool) {
        self.name(name);
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn end(self) {
        if self.format == LogFormat::Json {
            self.buf
                .extend_from_slice(b",\"target\":\"outpost::access\"}");
        }
        self.buf.push(b'\n');
    }
}

#[cfg(test)]
mod tests;
