//! One transform: the source decoded within limits (its header read first, so a
//! decompression bomb is refused before any pixel is) and turned upright, then
//! rotated, fitted to the box, blurred or sharpened, and encoded.

use crate::options::{Fit, Format, MAX_DIMENSION, Options, Output};
use crate::{ImageError, animation, focus, metadata};
use fast_image_resize as fr;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, RgbaImage};
use std::io::Cursor;
use std::time::{Duration, Instant};

/// What a transform may take on.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest source, in bytes (413 beyond).
    pub max_source_bytes: u64,
    /// Largest source, in pixels (width × height; 413 beyond, before decoding).
    /// An animation's frames count together.
    pub max_pixels: u64,
    /// Longest the transform may work, counted from its start on its thread;
    /// checked between stages and frames (a stage already running finishes).
    pub max_time: Duration,
}

/// When a transform must stop, and the check it makes between stages.
#[derive(Clone, Copy)]
struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    fn new(budget: Duration) -> Self {
        Deadline {
            at: Instant::now() + budget,
            budget,
        }
    }

    /// An error once the budget is spent.
    fn check(self) -> Result<(), ImageError> {
        if Instant::now() > self.at {
            Err(ImageError::TooSlow(format!(
                "the transform took longer than {} ms",
                self.budget.as_millis()
            )))
        } else {
            Ok(())
        }
    }
}

/// A transform's result.
#[derive(Debug)]
pub struct Transformed {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Its format.
    pub output: Output,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// The source's own format as an output (a GIF stays a GIF only while animated; a
/// still one becomes PNG), or `None` when the bytes are not an image this edge decodes.
pub fn source_output(source: &[u8]) -> Option<Output> {
    match image::guess_format(source).ok()? {
        ImageFormat::Jpeg => Some(Output::Jpeg),
        ImageFormat::Png => Some(Output::Png),
        ImageFormat::Gif => Some(Output::Gif),
        ImageFormat::WebP => Some(Output::Webp),
        _ => None,
    }
}

/// Transforms `source` as `options` say, encoding it as `output`. An animated source
/// stays animated as GIF or WebP (AVIF negotiated by `format=auto` becomes WebP:
/// this edge encodes no AVIF animation); other outputs take its first frame.
pub fn transform(
    source: &[u8],
    options: &Options,
    output: Output,
    limits: &Limits,
) -> Result<Transformed, ImageError> {
    let deadline = Deadline::new(limits.max_time);
    if source.len() as u64 > limits.max_source_bytes {
        return Err(ImageError::TooLarge(format!(
            "the source is {} bytes; the limit is {}",
            source.len(),
            limits.max_source_bytes
        )));
    }
    let format = image::guess_format(source)
        .ok()
        .filter(|f| {
            matches!(
                f,
                ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP
            )
        })
        .ok_or(ImageError::NotAnImage)?;
    let (w, h) = ImageReader::with_format(Cursor::new(source), format)
        .into_dimensions()
        .map_err(|e| ImageError::Broken(e.to_string()))?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(ImageError::TooLarge(format!(
            "the source is {w}×{h} ({pixels} pixels); the limit is {}",
            limits.max_pixels
        )));
    }
    let mut decode_limits = image::Limits::default();
    // The header was checked; this bounds what a lying one could make us allocate.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    decode_limits.max_image_width = Some(w);
    decode_limits.max_image_height = Some(h);

    let animated_output = match output {
        Output::Gif | Output::Webp => Some(output),
        Output::Avif if options.format == Some(Format::Auto) => Some(Output::Webp),
        _ => None,
    };
    if let Some(animated) = animated_output.filter(|_| options.anim)
        && animation::may_be_animated(source, format)
    {
        let mut out_pixels = 0u64;
        let mut frames =
            animation::frames(source, format, decode_limits, limits.max_pixels, |f| {
                deadline.check()?;
                let fitted = process(f, options, limits.max_pixels)?;
                // The fitted frames are held together until encoded: they share the
                // same pixel budget as the source's.
                out_pixels += u64::from(fitted.width()) * u64::from(fitted.height());
                if out_pixels > limits.max_pixels {
                    return Err(ImageError::TooLarge(format!(
                        "the animation's results would hold more than {} pixels",
                        limits.max_pixels
                    )));
                }
                Ok(fitted)
            })?;
        deadline.check()?;
        if frames.len() > 1 {
            let (width, height) = frames[0].image.dimensions();
            let bytes = animation::encode(frames, animated, options)?;
            return Ok(Transformed {
                bytes,
                output: animated,
                width,
                height,
            });
        }
        let still = frames.remove(0).image;
        return finish(still, output, options, Extras::default());
    }

    let mut reader = ImageReader::with_format(Cursor::new(source), format);
    reader.limits(decode_limits);
    let broken = |e: image::ImageError| ImageError::Broken(e.to_string());
    let mut decoder = reader.into_decoder().map_err(broken)?;
    // One read of the EXIF serves both (decoders derive their orientation from it).
    let exif = decoder.exif_metadata().ok().flatten();
    // Turned upright as the camera said, whatever metadata is kept (as Cloudflare).
    let orientation = exif
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let extras = Extras {
        exif: match output {
            Output::Jpeg => metadata::kept(exif, options.metadata),
            _ => None,
        },
        // The colour profile stays where the format carries one, so colours stay true.
        icc: decoder.icc_profile().ok().flatten(),
    };
    let mut image = DynamicImage::from_decoder(decoder).map_err(broken)?;
    deadline.check()?;
    image.apply_orientation(orientation);
    let rgba = process(image.into_rgba8(), options, limits.max_pixels)?;
    deadline.check()?;
    finish(rgba, output, options, extras)
}

/// What an encoded still carries besides pixels.
#[derive(Default)]
struct Extras {
    exif: Option<Vec<u8>>,
    icc: Option<Vec<u8>>,
}

/// Rotates, fits, blurs and sharpens one image (or frame).
fn process(image: RgbaImage, options: &Options, max_pixels: u64) -> Result<RgbaImage, ImageError> {
    let image = match options.rotate {
        90 => image::imageops::rotate90(&image),
        180 => image::imageops::rotate180(&image),
        270 => image::imageops::rotate270(&image),
        _ => image,
    };
    let mut rgba = fit(image, options, max_pixels)?;
    if options.blur > 0.0 {
        rgba = image::imageops::blur(&rgba, options.blur / 2.0);
    }
    if options.sharpen > 0.0 {
        rgba = image::imageops::unsharpen(&rgba, 0.5 + options.sharpen / 5.0, 1);
    }
    Ok(rgba)
}

/// Encodes a still as `output` (a GIF as PNG).
fn finish(
    rgba: RgbaImage,
    output: Output,
    options: &Options,
    extras: Extras,
) -> Result<Transformed, ImageError> {
    let output = if output == Output::Gif {
        Output::Png
    } else {
        output
    };
    let (width, height) = rgba.dimensions();
    let bytes = encode(rgba, output, options, extras)?;
    Ok(Transformed {
        bytes,
        output,
        width,
        height,
    })
}

/// Fits the image to the options' box; a result larger than `MAX_DIMENSION` on a side
/// or `max_pixels` in all is refused before it is allocated (one side given to a
/// thin source can ask for an enormous other side).
fn fit(image: RgbaImage, o: &Options, max_pixels: u64) -> Result<RgbaImage, ImageError> {
    let (sw, sh) = image.dimensions();
    let (tw, th) = o.target();
    if tw.is_none() && th.is_none() {
        return Ok(image);
    }
    let (sw_f, sh_f) = (f64::from(sw), f64::from(sh));
    // The scale that fits inside the box, and the one that covers it (a missing side
    // follows the other).
    let sx = tw.map(|w| f64::from(w) / sw_f);
    let sy = th.map(|h| f64::from(h) / sh_f);
    let inside = match (sx, sy) {
        (Some(x), Some(y)) => x.min(y),
        (Some(s), None) | (None, Some(s)) => s,
        (None, None) => 1.0,
    };
    let covering = match (sx, sy) {
        (Some(x), Some(y)) => x.max(y),
        (Some(s), None) | (None, Some(s)) => s,
        (None, None) => 1.0,
    };
    let room = |w: f64, h: f64| -> Result<(u32, u32), ImageError> {
        let (w, h) = (w.round().max(1.0), h.round().max(1.0));
        let side = f64::from(MAX_DIMENSION);
        if w > side || h > side || w * h > max_pixels as f64 {
            return Err(ImageError::TooLarge(format!(
                "the result would be {w}×{h} pixels; the limits are {MAX_DIMENSION} a side and {max_pixels} in all"
            )));
        }
        Ok((w as u32, h as u32))
    };
    let scaled = |s: f64| room(sw_f * s, sh_f * s);
    match o.fit {
        Fit::ScaleDown => {
            let (w, h) = scaled(inside.min(1.0))?;
            resize(&image, (w, h), None)
        }
        Fit::Contain => resize(&image, scaled(inside)?, None),
        Fit::Pad => {
            let (w, h) = scaled(inside)?;
            let inner = resize(&image, (w, h), None)?;
            let (bw, bh) = room(f64::from(tw.unwrap_or(w)), f64::from(th.unwrap_or(h)))?;
            let mut canvas = RgbaImage::from_pixel(bw, bh, image::Rgba(o.background));
            let (x, y) = ((bw.saturating_sub(w)) / 2, (bh.saturating_sub(h)) / 2);
            image::imageops::overlay(&mut canvas, &inner, i64::from(x), i64::from(y));
            Ok(canvas)
        }
        Fit::Cover | Fit::Crop => {
            let s = if o.fit == Fit::Crop {
                covering.min(1.0)
            } else {
                covering
            };
            // The box in source pixels, centred on gravity, then scaled to the box.
            let (bw, bh) = (
                tw.map_or(sw_f * s, f64::from),
                th.map_or(sh_f * s, f64::from),
            );
            let (cw, ch) = ((bw / s).min(sw_f), (bh / s).min(sh_f));
            let (gx, gy) = if o.auto_gravity {
                focus::busiest(&image, cw, ch)
            } else {
                (f64::from(o.gravity.x), f64::from(o.gravity.y))
            };
            let left = ((sw_f - cw) * gx).clamp(0.0, sw_f - cw);
            let top = ((sh_f - ch) * gy).clamp(0.0, sh_f - ch);
            let out = room(cw * s, ch * s)?;
            resize(&image, out, Some((left, top, cw, ch)))
        }
    }
}

/// Resizes (Lanczos3, alpha premultiplied) to `size`, from the `crop` rectangle of
/// the source (left, top, width, height) if given.
fn resize(
    image: &RgbaImage,
    size: (u32, u32),
    crop: Option<(f64, f64, f64, f64)>,
) -> Result<RgbaImage, ImageError> {
    let (w, h) = image.dimensions();
    if size == (w, h) && crop.is_none() {
        return Ok(image.clone());
    }
    let src = fr::images::ImageRef::new(w, h, image.as_raw(), fr::PixelType::U8x4)
        .map_err(|e| ImageError::Broken(e.to_string()))?;
    let mut dst = fr::images::Image::new(size.0, size.1, fr::PixelType::U8x4);
    let mut options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    if let Some((left, top, cw, ch)) = crop {
        options = options.crop(left, top, cw, ch);
    }
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| ImageError::Broken(e.to_string()))?;
    RgbaImage::from_raw(size.0, size.1, dst.into_vec())
        .ok_or_else(|| ImageError::Broken("resized buffer of the wrong size".into()))
}

fn encode(
    rgba: RgbaImage,
    output: Output,
    o: &Options,
    extras: Extras,
) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let failed = |e: image::ImageError| ImageError::Broken(format!("encoding: {e}"));
    // (JPEG and PNG encoders take both; a refusal only loses the extra.)
    let with_extras = |encoder: &mut dyn ImageEncoder| {
        if let Some(icc) = extras.icc.clone() {
            let _ = encoder.set_icc_profile(icc);
        }
        if let Some(exif) = extras.exif.clone() {
            let _ = encoder.set_exif_metadata(exif);
        }
    };
    match output {
        Output::Jpeg => {
            // JPEG has no alpha: transparent pixels go over the background colour.
            let [br, bg, bb, _] = o.background;
            let rgb = image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
                let p = rgba.get_pixel(x, y).0;
                let a = u16::from(p[3]);
                let mix =
                    |c: u8, b: u8| ((u16::from(c) * a + u16::from(b) * (255 - a)) / 255) as u8;
                image::Rgb([mix(p[0], br), mix(p[1], bg), mix(p[2], bb)])
            });
            let mut encoder =
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, o.quality);
            with_extras(&mut encoder);
            encoder
                .encode_image(&DynamicImage::ImageRgb8(rgb))
                .map_err(failed)?;
        }
        // (`finish` turns a still GIF into PNG.)
        Output::Png | Output::Gif => {
            let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
            with_extras(&mut encoder);
            DynamicImage::ImageRgba8(rgba)
                .write_with_encoder(encoder)
                .map_err(failed)?;
        }
        Output::Webp => {
            // Lossy at `quality`, as Cloudflare's WebP (libwebp).
            let (w, h) = rgba.dimensions();
            out = webp::Encoder::from_rgba(rgba.as_raw(), w, h)
                .encode(f32::from(o.quality))
                .to_vec();
        }
        Output::Avif => {
            // Speed 10, rav1e's fastest: made on the fly (rav1e without its
            // assembly is slow); the result is stored, so this runs once per variant.
            let encoder =
                image::codecs::avif::AvifEncoder::new_with_speed_quality(&mut out, 10, o.quality);
            DynamicImage::ImageRgba8(rgba)
                .write_with_encoder(encoder)
                .map_err(failed)?;
        }
    }
    Ok(out)
}
