//! `log:`: log format, level, access log and file.

use crate::locate::Seg::Key;
use crate::raw;
use crate::validator::Validator;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// Default level filter (`RUST_LOG` overrides it).
    pub level: String,
    /// Emit one access-log line per request.
    pub access_log: bool,
    /// Write the log (access lines included) to this file instead of stderr; reopened
    /// on SIGUSR1, the logrotate convention. Read at start.
    pub file: Option<std::path::PathBuf>,
}

pub(crate) fn validate(v: &mut Validator<'_>, raw: &raw::Log) -> LogConfig {
    let format = v.choice(
        raw.format.as_deref(),
        &[Key("log"), Key("format")],
        &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        "a log format",
    );
    let level = raw.level.clone().unwrap_or_else(|| "info".to_string());
    if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
        v.report(
            &[Key("log"), Key("level")],
            format!("{level:?} is not a log level (expected error, warn, info, debug or trace)"),
        );
    }
    LogConfig {
        format,
        level,
        access_log: raw.access_log.unwrap_or(true),
        file: raw.file.as_deref().map(|f| v.resolve(f)),
    }
}
