//! Animations kept (GIF → GIF or WebP, frame count and timing read back by the image
//! crate's decoders), bounded by a pixel budget over all frames; EXIF orientation
//! applied; and `metadata` keeping what it says, read back with kamadak-exif.

use image::AnimationDecoder;
use outpost_images::{ImageError, Limits, Options, Output, transform};
use proptest::prelude::*;
use std::io::Cursor;

const LIMITS: Limits = Limits {
    max_source_bytes: 20 << 20,
    max_pixels: 40_000_000,
    max_time: std::time::Duration::from_secs(60),
};

/// A looping GIF of `n` frames of `w`×`h`, each 100 ms, in shades of red.
fn gif(n: u8, w: u32, h: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut bytes);
        for i in 0..n {
            let shade = i.wrapping_mul(60).wrapping_add(20);
            let frame = image::RgbaImage::from_pixel(w, h, image::Rgba([shade, 0, 0, 255]));
            let delay = image::Delay::from_numer_denom_ms(100, 1);
            enc.encode_frame(image::Frame::from_parts(frame, 0, 0, delay))
                .expect("frame");
        }
    }
    bytes
}

/// (frames, width, height, delays in ms) of an animated GIF or WebP.
fn frames_of(bytes: &[u8]) -> (usize, u32, u32, Vec<u32>) {
    let frames = match image::guess_format(bytes).expect("format") {
        image::ImageFormat::Gif => image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
            .expect("gif")
            .into_frames()
            .collect_frames(),
        image::ImageFormat::WebP => image::codecs::webp::WebPDecoder::new(Cursor::new(bytes))
            .expect("webp")
            .into_frames()
            .collect_frames(),
        other => panic!("not an animation format: {other:?}"),
    }
    .expect("frames");
    let (w, h) = frames[0].buffer().dimensions();
    let delays = frames
        .iter()
        .map(|f| {
            let (n, d) = f.delay().numer_denom_ms();
            n / d
        })
        .collect();
    (frames.len(), w, h, delays)
}

#[test]
fn animations_stay_animated_as_gif_or_webp_unless_anim_is_false() {
    let source = gif(3, 80, 40);
    let o = Options::parse("width=40").expect("o");

    let as_gif = transform(&source, &o, Output::Gif, &LIMITS).expect("gif");
    assert_eq!(as_gif.output, Output::Gif);
    assert_eq!(frames_of(&as_gif.bytes), (3, 40, 20, vec![100, 100, 100]));

    let as_webp = transform(&source, &o, Output::Webp, &LIMITS).expect("webp");
    assert_eq!(as_webp.output, Output::Webp);
    let (n, w, h, delays) = frames_of(&as_webp.bytes);
    assert_eq!((n, w, h), (3, 40, 20));
    assert_eq!(&delays[..2], &[100, 100]);

    // format=auto negotiated AVIF: an animation goes out as WebP instead.
    let auto = Options::parse("width=40,format=auto").expect("o");
    let negotiated = transform(&source, &auto, Output::Avif, &LIMITS).expect("auto");
    assert_eq!(negotiated.output, Output::Webp);
    assert_eq!(frames_of(&negotiated.bytes).0, 3);

    // anim=false, or an output without animation: the first frame, still.
    let still = Options::parse("width=40,anim=false").expect("o");
    let first = transform(&source, &still, Output::Gif, &LIMITS).expect("still");
    assert_eq!(first.output, Output::Png);
    let img = image::load_from_memory(&first.bytes)
        .expect("png")
        .to_rgba8();
    assert_eq!(img.dimensions(), (40, 20));
    assert!(img.get_pixel(5, 5).0[0] < 50, "the first frame's shade");
    let jpeg = transform(&source, &o, Output::Jpeg, &LIMITS).expect("jpeg");
    assert_eq!(
        image::guess_format(&jpeg.bytes).ok(),
        Some(image::ImageFormat::Jpeg)
    );

    // A one-frame GIF is a still: PNG.
    let one = transform(&gif(1, 80, 40), &o, Output::Gif, &LIMITS).expect("one");
    assert_eq!(one.output, Output::Png);
}

#[test]
fn an_animation_past_the_pixel_budget_is_refused() {
    // 40 frames of 100×100 = 400 000 pixels, under a budget of 100 000.
    let source = gif(40, 100, 100);
    let tight = Limits {
        max_pixels: 100_000,
        ..LIMITS
    };
    let r = transform(
        &source,
        &Options::parse("width=50").expect("o"),
        Output::Gif,
        &tight,
    );
    assert!(
        matches!(r, Err(ImageError::TooLarge(_))),
        "{:?}",
        r.map(|t| t.output)
    );
}

/// A JPEG of `w`×`h` (left half red, right half blue) whose EXIF carries
/// `orientation` and the given string fields.
fn jpeg_with_exif(w: u32, h: u32, orientation: u16, fields: &[(exif::Tag, &str)]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    let mut tiff = Cursor::new(Vec::new());
    {
        let orient = exif::Field {
            tag: exif::Tag::Orientation,
            ifd_num: exif::In::PRIMARY,
            value: exif::Value::Short(vec![orientation]),
        };
        let strings: Vec<exif::Field> = fields
            .iter()
            .map(|(tag, text)| exif::Field {
                tag: *tag,
                ifd_num: exif::In::PRIMARY,
                value: exif::Value::Ascii(vec![text.as_bytes().to_vec()]),
            })
            .collect();
        let mut writer = exif::experimental::Writer::new();
        writer.push_field(&orient);
        for f in &strings {
            writer.push_field(f);
        }
        writer.write(&mut tiff, false).expect("exif");
    }
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
    image::ImageEncoder::set_exif_metadata(&mut enc, tiff.into_inner()).expect("set exif");
    enc.encode_image(&image::DynamicImage::ImageRgb8(img))
        .expect("jpeg");
    out
}

/// The EXIF fields of an encoded JPEG: (tag, displayed value).
fn exif_of(jpeg: &[u8]) -> Vec<(exif::Tag, String)> {
    match exif::Reader::new().read_from_container(&mut Cursor::new(jpeg)) {
        Ok(e) => e
            .fields()
            .map(|f| (f.tag, f.display_value().to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn exif_orientation_is_applied_and_metadata_keeps_what_it_says() {
    // Orientation 6: the camera was turned; shown rotated 90° clockwise.
    let source = jpeg_with_exif(
        200,
        100,
        6,
        &[
            (exif::Tag::Copyright, "(c) Example Photographer"),
            (exif::Tag::Artist, "Example Photographer"),
            (exif::Tag::Make, "ExampleCam"),
        ],
    );
    let t = |opts: &str| {
        transform(
            &source,
            &Options::parse(opts).expect("o"),
            Output::Jpeg,
            &LIMITS,
        )
        .expect("transform")
    };

    // Upright: 100 wide, 200 tall, the source's left (red) half now on top.
    let upright = t("width=50,metadata=none");
    assert_eq!((upright.width, upright.height), (50, 100));
    let img = image::load_from_memory(&upright.bytes)
        .expect("jpeg")
        .to_rgb8();
    assert!(img.get_pixel(25, 10).0[0] > 200, "red on top");
    assert!(img.get_pixel(25, 90).0[2] > 200, "blue below");
    assert!(
        exif_of(&upright.bytes).is_empty(),
        "metadata=none strips EXIF"
    );

    // The default, copyright: those two fields only.
    let mut kept: Vec<exif::Tag> = exif_of(&t("width=50").bytes).iter().map(|f| f.0).collect();
    kept.sort_by_key(|t| t.number());
    assert_eq!(kept, vec![exif::Tag::Artist, exif::Tag::Copyright]);

    // keep: everything, with the orientation reset (the pixels are upright now).
    let all = exif_of(&t("width=50,metadata=keep").bytes);
    assert!(
        all.iter()
            .any(|(t, v)| *t == exif::Tag::Make && v.contains("ExampleCam")),
        "{all:?}"
    );
    let orientation = all.iter().find(|(t, _)| *t == exif::Tag::Orientation);
    assert_eq!(
        orientation.map(|(_, v)| v.as_str()),
        Some("row 0 at top and column 0 at left")
    );

    // Other outputs carry no EXIF (as Cloudflare's), but are upright too.
    let webp = transform(
        &source,
        &Options::parse("width=50").expect("o"),
        Output::Webp,
        &LIMITS,
    )
    .expect("webp");
    assert_eq!((webp.width, webp.height), (50, 100));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Mutations of an animated GIF never crash an animated transform.
    #[test]
    fn mutated_animations_never_crash_a_transform(at in 0usize..4000, byte in any::<u8>(), webp in any::<bool>()) {
        let mut source = gif(3, 30, 20);
        let i = at % source.len();
        source[i] = byte;
        let output = if webp { Output::Webp } else { Output::Gif };
        let _ = transform(&source, &Options::parse("width=16").expect("o"), output, &LIMITS);
    }
}

#[test]
fn a_transform_past_its_time_budget_stops_with_413() {
    let spent = Limits {
        max_time: std::time::Duration::ZERO,
        ..LIMITS
    };
    let o = Options::parse("width=50").expect("o");
    for (source, output) in [
        (gif(3, 100, 100), Output::Gif),
        (gif(1, 100, 100), Output::Png),
    ] {
        let r = transform(&source, &o, output, &spent);
        assert!(
            matches!(r, Err(ImageError::TooSlow(_))),
            "{:?}",
            r.map(|t| t.output)
        );
        assert_eq!(r.err().map(|e| e.status()), Some(413));
    }
}
