//! Animated sources (GIF, WebP) decoded frame by frame within a pixel budget, each
//! frame fitted as it comes (so only one source-sized canvas is held), and encoded
//! again as an animated GIF or WebP.

use crate::ImageError;
use crate::options::{Options, Output};
use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, ImageFormat, RgbaImage};
use std::io::Cursor;

/// One fitted frame and how long it shows.
pub(crate) struct Frame {
    pub(crate) image: RgbaImage,
    pub(crate) delay_ms: u32,
}

/// Whether `source` (of `format`) is animated: a WebP says so in its header; a GIF
/// is, when it has a second frame (found by decoding, so GIFs take [`frames`]).
pub(crate) fn may_be_animated(source: &[u8], format: ImageFormat) -> bool {
    match format {
        ImageFormat::Gif => true,
        ImageFormat::WebP => WebPDecoder::new(Cursor::new(source)).is_ok_and(|d| d.has_animation()),
        _ => false,
    }
}

/// Decodes every frame of `source`, giving each to `fit` as it comes. The frames'
/// pixels together (source canvas × frames) may not pass `max_pixels`: a long
/// animation is a decompression bomb spread over time.
pub(crate) fn frames(
    source: &[u8],
    format: ImageFormat,
    limits: image::Limits,
    max_pixels: u64,
    mut fit: impl FnMut(RgbaImage) -> Result<RgbaImage, ImageError>,
) -> Result<Vec<Frame>, ImageError> {
    let broken = |e: image::ImageError| ImageError::Broken(e.to_string());
    let decoded = match format {
        ImageFormat::Gif => {
            let mut d = GifDecoder::new(Cursor::new(source)).map_err(broken)?;
            image::ImageDecoder::set_limits(&mut d, limits).map_err(broken)?;
            d.into_frames()
        }
        _ => {
            let mut d = WebPDecoder::new(Cursor::new(source)).map_err(broken)?;
            image::ImageDecoder::set_limits(&mut d, limits).map_err(broken)?;
            d.into_frames()
        }
    };
    let mut out = Vec::new();
    let mut pixels = 0u64;
    for frame in decoded {
        let frame = frame.map_err(broken)?;
        let (w, h) = frame.buffer().dimensions();
        pixels += u64::from(w) * u64::from(h);
        if pixels > max_pixels {
            return Err(ImageError::TooLarge(format!(
                "the animation's frames hold more than {max_pixels} pixels"
            )));
        }
        let (numer, denom) = frame.delay().numer_denom_ms();
        let delay_ms = numer / denom.max(1);
        out.push(Frame {
            image: fit(frame.into_buffer())?,
            delay_ms,
        });
    }
    if out.is_empty() {
        return Err(ImageError::Broken("the animation has no frames".into()));
    }
    Ok(out)
}

/// Encodes `frames` (all of one size) as an animation in `output` (GIF or WebP),
/// looping forever as browsers play them.
pub(crate) fn encode(
    frames: Vec<Frame>,
    output: Output,
    o: &Options,
) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    match output {
        Output::Webp => {
            let (w, h) = frames[0].image.dimensions();
            let mut config = webp::WebPConfig::new()
                .map_err(|()| ImageError::Broken("encoding: the WebP encoder".into()))?;
            config.quality = f32::from(o.quality);
            let mut encoder = webp::AnimEncoder::new(w, h, &config);
            encoder.set_loop_count(0);
            // A frame's timestamp is when it starts.
            let mut at = 0i32;
            for f in &frames {
                encoder.add_frame(webp::AnimFrame::from_rgba(f.image.as_raw(), w, h, at));
                at = at.saturating_add(i32::try_from(f.delay_ms).unwrap_or(i32::MAX));
            }
            let encoded = encoder
                .try_encode()
                .map_err(|e| ImageError::Broken(format!("encoding: {e:?}")))?;
            out.extend_from_slice(&encoded);
        }
        _ => {
            // Speed 10 of 30: NeuQuant's palette per frame is most of a GIF's cost.
            let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
            let failed = |e: image::ImageError| ImageError::Broken(format!("encoding: {e}"));
            encoder.set_repeat(Repeat::Infinite).map_err(failed)?;
            for f in frames {
                let delay = image::Delay::from_numer_denom_ms(f.delay_ms, 1);
                encoder
                    .encode_frame(image::Frame::from_parts(f.image, 0, 0, delay))
                    .map_err(failed)?;
            }
        }
    }
    Ok(out)
}
