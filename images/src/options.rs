//! The transform options, in Cloudflare's URL form (`width=400,fit=cover,format=auto`).

use crate::ImageError;

/// How the image fits the `width` × `height` box (Cloudflare's `fit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Within the box, aspect ratio kept, never enlarged (the default).
    ScaleDown,
    /// Within the box, aspect ratio kept, enlarged if smaller.
    Contain,
    /// Fills the box, aspect ratio kept, the excess cut off around `gravity`.
    Cover,
    /// As `cover`, but never enlarged (a smaller image is scaled down only).
    Crop,
    /// As `contain`, then padded to the whole box with `background`.
    Pad,
}

/// The output format asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The best the client accepts (its `Accept`): AVIF, else WebP, else the
    /// source's format.
    Auto,
    /// AVIF at `quality`.
    Avif,
    /// WebP at `quality` (lossy).
    Webp,
    /// JPEG at `quality`.
    Jpeg,
    /// PNG.
    Png,
}

/// Which of the source's metadata (EXIF) the result keeps (Cloudflare's `metadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metadata {
    /// All of it (its orientation reset, as the pixels are turned upright).
    Keep,
    /// Only the copyright and artist fields (the default).
    Copyright,
    /// None.
    None,
}

/// Encoded output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `image/avif`.
    Avif,
    /// `image/webp`.
    Webp,
    /// `image/jpeg`.
    Jpeg,
    /// `image/png`.
    Png,
    /// `image/gif`: only an animated GIF kept animated (a still one becomes PNG).
    Gif,
}

impl Output {
    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Output::Avif => "image/avif",
            Output::Webp => "image/webp",
            Output::Jpeg => "image/jpeg",
            Output::Png => "image/png",
            Output::Gif => "image/gif",
        }
    }

    /// Its name in options and keys.
    pub fn name(self) -> &'static str {
        match self {
            Output::Avif => "avif",
            Output::Webp => "webp",
            Output::Jpeg => "jpeg",
            Output::Png => "png",
            Output::Gif => "gif",
        }
    }
}

/// Where `cover` and `crop` keep the image: a point as fractions of width and
/// height (0.5, 0.5 is the centre).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gravity {
    /// From the left, 0 to 1.
    pub x: f32,
    /// From the top, 0 to 1.
    pub y: f32,
}

/// One transform, as the URL's options give it.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Target width in CSS pixels (times `dpr`).
    pub width: Option<u32>,
    /// Target height in CSS pixels (times `dpr`).
    pub height: Option<u32>,
    /// Device pixel ratio, 1 to 3.
    pub dpr: f32,
    /// How the image fits the box.
    pub fit: Fit,
    /// Where `cover`/`crop` keep the image.
    pub gravity: Gravity,
    /// `gravity=auto`: `cover`/`crop` keep the most detailed region instead.
    pub auto_gravity: bool,
    /// Encoder quality, 1 to 100 (JPEG, WebP, AVIF).
    pub quality: u8,
    /// Output format.
    pub format: Option<Format>,
    /// Clockwise rotation: 0, 90, 180 or 270.
    pub rotate: u16,
    /// Gaussian blur radius, 0 to 250.
    pub blur: f32,
    /// Sharpening, 0 to 10.
    pub sharpen: f32,
    /// Padding colour for `pad` and for transparent pixels in JPEG (RGBA).
    pub background: [u8; 4],
    /// Which EXIF metadata the result keeps.
    pub metadata: Metadata,
    /// Whether an animated source stays animated (as GIF or WebP); `false` keeps its
    /// first frame.
    pub anim: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            width: None,
            height: None,
            dpr: 1.0,
            fit: Fit::ScaleDown,
            gravity: Gravity { x: 0.5, y: 0.5 },
            auto_gravity: false,
            quality: 85,
            format: None,
            rotate: 0,
            blur: 0.0,
            sharpen: 0.0,
            background: [255, 255, 255, 255],
            metadata: Metadata::Copyright,
            anim: true,
        }
    }
}

/// Largest width or height a URL may ask for.
pub const MAX_DIMENSION: u32 = 12_000;

impl Options {
    /// Parses `width=400,height=300,fit=cover` (`,` or `&` between options). Unknown
    /// options and bad values are errors naming them.
    pub fn parse(text: &str) -> Result<Options, ImageError> {
        let mut o = Options::default();
        for part in text.split([',', '&']).filter(|p| !p.trim().is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad(part, "expected name=value"))?;
            let (name, value) = (name.trim(), value.trim());
            match name {
                "width" | "w" => o.width = Some(dimension(name, value)?),
                "height" | "h" => o.height = Some(dimension(name, value)?),
                "dpr" => o.dpr = number(name, value, 1.0, 3.0)?,
                "fit" => {
                    o.fit = match value {
                        "scale-down" => Fit::ScaleDown,
                        "contain" => Fit::Contain,
                        "cover" => Fit::Cover,
                        "crop" => Fit::Crop,
                        "pad" => Fit::Pad,
                        _ => return Err(bad(part, "scale-down, contain, cover, crop or pad")),
                    }
                }
                "gravity" | "g" => {
                    o.auto_gravity = value == "auto";
                    o.gravity = gravity(part, value)?;
                }
                "quality" | "q" => o.quality = number(name, value, 1.0, 100.0)? as u8,
                "format" | "f" => {
                    o.format = Some(match value {
                        "auto" => Format::Auto,
                        "webp" => Format::Webp,
                        "jpeg" | "jpg" => Format::Jpeg,
                        "png" => Format::Png,
                        "avif" => Format::Avif,
                        _ => return Err(bad(part, "auto, avif, webp, jpeg or png")),
                    })
                }
                "rotate" => {
                    o.rotate = match value {
                        "0" => 0,
                        "90" => 90,
                        "180" => 180,
                        "270" => 270,
                        _ => return Err(bad(part, "0, 90, 180 or 270")),
                    }
                }
                "blur" => o.blur = number(name, value, 0.0, 250.0)?,
                "sharpen" => o.sharpen = number(name, value, 0.0, 10.0)?,
                "background" => o.background = colour(part, value)?,
                "metadata" => {
                    o.metadata = match value {
                        "keep" => Metadata::Keep,
                        "copyright" => Metadata::Copyright,
                        "none" => Metadata::None,
                        _ => return Err(bad(part, "keep, copyright or none")),
                    }
                }
                "anim" => {
                    o.anim = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(part, "true or false")),
                    }
                }
                _ => return Err(bad(part, "an option this edge knows")),
            }
        }
        Ok(o)
    }

    /// The target box in device pixels (`dpr` applied, capped).
    pub fn target(&self) -> (Option<u32>, Option<u32>) {
        let scale = |v: u32| ((v as f32 * self.dpr).round() as u32).clamp(1, MAX_DIMENSION);
        (self.width.map(scale), self.height.map(scale))
    }

    /// A canonical text of everything but the format, for cache keys: equal for
    /// equal transforms however the URL spelled them.
    pub fn canonical(&self) -> String {
        let (w, h) = self.target();
        format!(
            "w={:?};h={:?};fit={:?};g={},{},{};q={};r={};blur={};sharpen={};bg={:?};meta={:?};anim={}",
            w,
            h,
            self.fit,
            self.gravity.x,
            self.gravity.y,
            self.auto_gravity,
            self.quality,
            self.rotate,
            self.blur,
            self.sharpen,
            self.background,
            self.metadata,
            self.anim
        )
    }
}

fn bad(part: &str, expected: &str) -> ImageError {
    ImageError::BadOption(format!("{part:?}: expected {expected}"))
}

fn dimension(name: &str, value: &str) -> Result<u32, ImageError> {
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_DIMENSION).contains(&n) => Ok(n),
        _ => Err(ImageError::BadOption(format!(
            "{name}={value}: expected a whole number of pixels from 1 to {MAX_DIMENSION}"
        ))),
    }
}

fn number(name: &str, value: &str, min: f32, max: f32) -> Result<f32, ImageError> {
    match value.parse::<f32>() {
        Ok(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
        _ => Err(ImageError::BadOption(format!(
            "{name}={value}: expected a number from {min} to {max}"
        ))),
    }
}

fn gravity(part: &str, value: &str) -> Result<Gravity, ImageError> {
    let (x, y) = match value {
        "auto" | "center" | "centre" => (0.5, 0.5),
        "left" => (0.0, 0.5),
        "right" => (1.0, 0.5),
        "top" => (0.5, 0.0),
        "bottom" => (0.5, 1.0),
        _ => {
            let (x, y) = value
                .split_once('x')
                .ok_or_else(|| bad(part, "auto, left, right, top, bottom or XxY"))?;
            let f = |v: &str| v.parse::<f32>().ok().filter(|n| (0.0..=1.0).contains(n));
            match (f(x), f(y)) {
                (Some(x), Some(y)) => (x, y),
                _ => return Err(bad(part, "XxY with X and Y from 0 to 1")),
            }
        }
    };
    Ok(Gravity { x, y })
}

/// `#rgb`, `#rrggbb` or `#rrggbbaa` (the `#` may be left out, as in a URL it must
/// be escaped).
fn colour(part: &str, value: &str) -> Result<[u8; 4], ImageError> {
    let hex = value.strip_prefix('#').unwrap_or(value);
    let digits = |s: &str| u8::from_str_radix(s, 16).ok();
    let rgba = match hex.len() {
        3 => hex
            .chars()
            .map(|c| digits(&format!("{c}{c}")))
            .collect::<Option<Vec<u8>>>()
            .map(|v| [v[0], v[1], v[2], 255]),
        6 | 8 => (0..hex.len())
            .step_by(2)
            .map(|i| hex.get(i..i + 2).and_then(digits))
            .collect::<Option<Vec<u8>>>()
            .map(|v| [v[0], v[1], v[2], v.get(3).copied().unwrap_or(255)]),
        _ => None,
    };
    rgba.ok_or_else(|| bad(part, "a colour as #rgb, #rrggbb or #rrggbbaa"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudflare_spellings_parse() {
        let o = Options::parse("width=400,height=300,fit=cover,quality=80,format=auto,dpr=2")
            .expect("parse");
        assert_eq!(o.target(), (Some(800), Some(600)));
        assert_eq!(o.fit, Fit::Cover);
        assert_eq!(o.quality, 80);
        assert_eq!(o.format, Some(Format::Auto));
        let short = Options::parse("w=400,h=300,fit=cover,q=80,f=auto,dpr=2").expect("parse");
        assert_eq!(short.canonical(), o.canonical());
        let o = Options::parse("gravity=0.2x0.8,background=#102030,rotate=90,metadata=none")
            .expect("parse");
        assert_eq!(o.gravity, Gravity { x: 0.2, y: 0.8 });
        assert_eq!(o.background, [0x10, 0x20, 0x30, 255]);
        assert_eq!(o.rotate, 90);
    }

    #[test]
    fn bad_options_name_themselves() {
        for (text, needle) in [
            ("width=0", "width=0"),
            ("width=abc", "width=abc"),
            ("fit=stretch", "fit=stretch"),
            ("quality=101", "quality=101"),
            ("zoom=2", "zoom=2"),
            ("rotate=45", "rotate=45"),
            ("width", "width"),
            ("background=#12", "background=#12"),
        ] {
            let e = Options::parse(text).expect_err(text).to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
