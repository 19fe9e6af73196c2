//! Image transforms for the edge: Cloudflare's options parsed from a URL segment,
//! a source decoded within limits (JPEG, PNG, GIF and WebP, animated or not),
//! resized with a SIMD resizer, and encoded as AVIF, WebP, JPEG or PNG (animations
//! as GIF or WebP), with the EXIF fields `metadata` keeps.
//!
//! This crate owns the pixels only: it must not do I/O, know HTTP, or decide what
//! is cached — the proxy fetches sources, negotiates formats, and stores results.
//! Every entry point is a pure function of bytes and options, safe to fuzz, and
//! meant to run on a thread that is not serving requests.

mod animation;
mod focus;
mod metadata;
mod options;
mod transform;

pub use options::{Fit, Format, Gravity, MAX_DIMENSION, Metadata, Options, Output};
pub use transform::{Limits, Transformed, source_output, transform};

/// Why a transform was refused or failed; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An option is unknown or its value is out of range (400).
    #[error("invalid image option {0}")]
    BadOption(String),
    /// Asked for something this edge does not do (400).
    #[error("{0}")]
    Unsupported(String),
    /// The source is larger than the limits allow (413).
    #[error("image too large: {0}")]
    TooLarge(String),
    /// The transform passed its time budget (413: too much to transform).
    #[error("image too costly to transform: {0}")]
    TooSlow(String),
    /// The source is not an image this edge decodes (415).
    #[error("the source is not an image (JPEG, PNG, GIF or WebP)")]
    NotAnImage,
    /// The source could not be decoded, or the result encoded (415).
    #[error("the image could not be decoded: {0}")]
    Broken(String),
}

impl ImageError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            ImageError::BadOption(_) | ImageError::Unsupported(_) => 400,
            ImageError::TooLarge(_) | ImageError::TooSlow(_) => 413,
            ImageError::NotAnImage | ImageError::Broken(_) => 415,
        }
    }
}
