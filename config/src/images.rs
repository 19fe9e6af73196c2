//! `sites[].images`: image transforms at `/cdn-cgi/image/OPTIONS/SOURCE`, which
//! sources they may read, and their limits.

use crate::locate::Seg::{Index, Key};
use crate::validator::Validator;
use serde::Deserialize;

/// A site's image transforms (present only when enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Sources a transform may read: the site's own paths (`/*`, `/uploads/*`) or
    /// absolute URLs (`https://uploads.example.com/*`), `*` matching any run of
    /// characters.
    pub sources: Vec<String>,
    /// Largest source in bytes (413 beyond).
    pub max_source_bytes: u64,
    /// Largest source in pixels, width × height, checked from the header before
    /// decoding (413 beyond).
    pub max_pixels: u64,
    /// Longest a transform may work on its thread: checked between its stages and
    /// between an animation's frames (413 beyond: too much to transform).
    pub max_transform_time: std::time::Duration,
}

impl Default for Images {
    /// The limits a page rule's `image` action uses on a site without `images`.
    fn default() -> Self {
        Images {
            sources: Vec::new(),
            max_source_bytes: 20 << 20,
            max_pixels: 100_000_000,
            max_transform_time: DEFAULT_TRANSFORM_TIME,
        }
    }
}

const DEFAULT_TRANSFORM_TIME: std::time::Duration = std::time::Duration::from_secs(10);

impl Images {
    /// Whether a transform may read `source` (a path, or an absolute URL).
    pub fn allows(&self, source: &str) -> bool {
        self.sources.iter().any(|p| glob(p, source))
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// `sites[].images` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImages {
    pub enabled: Option<bool>,
    pub sources: Option<Vec<String>>,
    pub max_source_bytes: Option<String>,
    pub max_pixels: Option<u64>,
    pub max_transform_time: Option<String>,
}

/// Validates `sites[i].images`: `None` when absent or not enabled.
pub(crate) fn site_images(
    v: &mut Validator<'_>,
    raw: Option<&RawImages>,
    i: usize,
) -> Option<Images> {
    let raw = raw?;
    let at = |k: &'static str| vec![Key("sites"), Index(i), Key("images"), Key(k)];
    let sources = match &raw.sources {
        Some(list) => {
            for (j, s) in list.iter().enumerate() {
                let absolute = s.starts_with("https://") || s.starts_with("http://");
                if !s.starts_with('/') && !absolute {
                    let mut path = at("sources");
                    path.push(Index(j));
                    v.report(
                        &path,
                        format!("{s:?} is not a source pattern (expected a path such as \"/*\" or a URL such as \"https://uploads.example.com/*\")"),
                    );
                }
            }
            list.clone()
        }
        None => vec!["/*".to_string()],
    };
    let max_source_bytes = v.size(
        raw.max_source_bytes.as_deref(),
        20 << 20,
        &at("max_source_bytes"),
    );
    let max_pixels = raw.max_pixels.unwrap_or(100_000_000);
    if max_pixels == 0 {
        v.report(&at("max_pixels"), "must be at least 1");
    }
    let max_transform_time = v.duration(
        raw.max_transform_time.as_deref(),
        DEFAULT_TRANSFORM_TIME,
        &at("max_transform_time"),
    );
    if max_transform_time.is_zero() {
        v.report(&at("max_transform_time"), "must be more than 0s");
    }
    raw.enabled.unwrap_or(true).then_some(Images {
        sources,
        max_source_bytes,
        max_pixels,
        max_transform_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_patterns_match_paths_and_urls() {
        let i = Images {
            sources: vec!["/uploads/*".into(), "https://img.example.com/*.jpg".into()],
            max_source_bytes: 1,
            max_pixels: 1,
            max_transform_time: DEFAULT_TRANSFORM_TIME,
        };
        assert!(i.allows("/uploads/a/b.png"));
        assert!(!i.allows("/private/b.png"));
        assert!(i.allows("https://img.example.com/x/y.jpg"));
        assert!(!i.allows("https://img.example.com/x/y.png"));
        assert!(!i.allows("https://evil.example/uploads/a.png"));
        assert!(glob("/*", "/"));
        assert!(glob("/a*b*c", "/axxbyyc"));
        assert!(!glob("/a*b*c", "/axxbyy"));
    }
}
