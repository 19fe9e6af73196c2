//! `sites[].compression`: on-the-fly compression of responses the origin sent
//! uncompressed.

use crate::locate::Seg::{self, Index, Key};
use crate::validator::Validator;
use serde::Deserialize;

/// A content coding Outpost can compress with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressCoding {
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
    /// `gzip`.
    Gzip,
}

impl CompressCoding {
    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            CompressCoding::Brotli => "br",
            CompressCoding::Zstd => "zstd",
            CompressCoding::Gzip => "gzip",
        }
    }
}

/// How a site compresses responses on the way out.
///
/// Applies to every response the site sends (cache hits, origin responses, hook
/// responses, error pages) whose origin body is uncompressed, when the client accepts
/// one of `codings`. The cache keeps one uncompressed copy and compresses per client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compression {
    /// Off: responses leave as the origin (or hook) made them.
    pub enabled: bool,
    /// Codings offered, best first; among those the client accepts with the same
    /// `q`, the first here wins.
    pub codings: Vec<CompressCoding>,
    /// Bodies with a known length below this are sent as they are (a small body
    /// fits a packet either way and the coding's framing can make it bigger).
    pub min_size: u64,
    /// gzip level, 1 (fastest) to 9 (smallest).
    pub gzip_level: u32,
    /// Brotli quality, 0 to 11.
    pub brotli_level: u32,
    /// zstd level, 1 to 19.
    pub zstd_level: i32,
    /// Media types compressed: exact (`text/html`) or a whole type (`text/*`).
    pub content_types: Vec<String>,
}

/// Media types compressed when `content_types` is not set: text formats, and the
/// binary formats that are not already compressed.
pub const DEFAULT_COMPRESS_TYPES: &[&str] = &[
    "text/*",
    "application/javascript",
    "application/json",
    "application/ld+json",
    "application/manifest+json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/wasm",
    "application/x-javascript",
    "application/graphql-response+json",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/bmp",
    "font/ttf",
    "font/otf",
    "application/vnd.ms-fontobject",
];

impl Default for Compression {
    fn default() -> Self {
        Compression {
            enabled: true,
            // zstd first: as small as br-4 on HTML and ~9x cheaper per response
            // (`benches/compress.rs`); Chrome and Firefox take it, Safari gets br.
            codings: vec![
                CompressCoding::Zstd,
                CompressCoding::Brotli,
                CompressCoding::Gzip,
            ],
            min_size: 1024,
            gzip_level: 6,
            brotli_level: 4,
            zstd_level: 3,
            content_types: DEFAULT_COMPRESS_TYPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl Compression {
    /// Whether a response of this media type (lowercase, without parameters) is
    /// compressed.
    pub fn compresses(&self, media_type: &str) -> bool {
        self.content_types
            .iter()
            .any(|t| match t.strip_suffix("/*") {
                Some(top) => media_type
                    .strip_prefix(top)
                    .is_some_and(|rest| rest.starts_with('/')),
                None => t == media_type,
            })
    }
}

/// The wire form.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCompression {
    pub enabled: Option<bool>,
    pub codings: Option<Vec<String>>,
    pub min_size: Option<serde_yaml::Value>,
    pub gzip_level: Option<u32>,
    pub brotli_level: Option<u32>,
    pub zstd_level: Option<i32>,
    pub content_types: Option<Vec<String>>,
}

/// Validates `sites[i].compression`.
pub(crate) fn site_compression(
    v: &mut Validator<'_>,
    raw: Option<&RawCompression>,
    i: usize,
) -> Compression {
    let mut out = Compression::default();
    let Some(raw) = raw else { return out };
    let at = |k: &'static str| vec![Key("sites"), Index(i), Key("compression"), Key(k)];
    out.enabled = raw.enabled.unwrap_or(true);
    if let Some(list) = &raw.codings {
        out.codings.clear();
        for (j, name) in list.iter().enumerate() {
            let mut path = at("codings");
            path.push(Index(j));
            let coding = match name.as_str() {
                "br" => CompressCoding::Brotli,
                "zstd" => CompressCoding::Zstd,
                "gzip" => CompressCoding::Gzip,
                _ => {
                    v.report(
                        &path,
                        format!("{name:?} is not a compression coding (expected \"br\", \"zstd\" or \"gzip\")"),
                    );
                    continue;
                }
            };
            if !out.codings.contains(&coding) {
                out.codings.push(coding);
            }
        }
        if list.is_empty() {
            v.report(
                &at("codings"),
                "empty list (to turn compression off, write `enabled: false`)",
            );
        }
    }
    if let Some(size) = &raw.min_size {
        out.min_size = match size {
            serde_yaml::Value::Number(n) if n.as_u64().is_some() => n.as_u64().unwrap_or(0),
            serde_yaml::Value::String(s) => v.size(Some(s), out.min_size, &at("min_size")),
            _ => {
                v.report(
                    &at("min_size"),
                    "expected a size in bytes (e.g. 1024 or \"1KiB\")",
                );
                out.min_size
            }
        };
    }
    let mut level = |value: Option<i64>, range: std::ops::RangeInclusive<i64>, key, what| {
        let value = value?;
        if range.contains(&value) {
            Some(value)
        } else {
            v.report(
                &at(key),
                format!(
                    "{value} is not a {what} level (expected {}..={})",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    };
    if let Some(l) = level(raw.gzip_level.map(i64::from), 1..=9, "gzip_level", "gzip") {
        out.gzip_level = l as u32;
    }
    if let Some(l) = level(
        raw.brotli_level.map(i64::from),
        0..=11,
        "brotli_level",
        "brotli",
    ) {
        out.brotli_level = l as u32;
    }
    if let Some(l) = level(raw.zstd_level.map(i64::from), 1..=19, "zstd_level", "zstd") {
        out.zstd_level = l as i32;
    }
    if let Some(types) = &raw.content_types {
        out.content_types.clear();
        for (j, t) in types.iter().enumerate() {
            let t = t.trim().to_ascii_lowercase();
            let well_formed = t.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && a != "*" && !t.contains(';')
            });
            if !well_formed {
                let mut path: Vec<Seg> = at("content_types");
                path.push(Index(j));
                v.report(
                    &path,
                    format!(
                        "{t:?} is not a media type (expected e.g. \"text/html\" or \"text/*\")"
                    ),
                );
                continue;
            }
            out.content_types.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_patterns() {
        let c = Compression::default();
        assert!(c.compresses("text/html"));
        assert!(c.compresses("text/css"));
        assert!(c.compresses("image/svg+xml"));
        assert!(!c.compresses("image/png"));
        assert!(!c.compresses("textual/html"));
        assert!(!c.compresses("application/zip"));
    }
}
