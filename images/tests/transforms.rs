//! Transforms on images made here: the output decodes (with the image crate's own
//! decoders, independent of the resizer) to the size each `fit` promises; bombs,
//! truncated files and non-images are refused with the right error; and no input
//! bytes crash a transform (a bounded proptest run).

use outpost_images::{ImageError, Limits, Options, Output, transform};
use proptest::prelude::*;

const LIMITS: Limits = Limits {
    max_source_bytes: 20 << 20,
    max_pixels: 40_000_000,
    max_time: std::time::Duration::from_secs(60),
};

fn gradient(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x * 255 / w) as u8, (y * 255 / h) as u8, 128, 255])
    })
}

fn encoded(img: &image::RgbaImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let img = if format == image::ImageFormat::Jpeg {
        image::DynamicImage::ImageRgb8(image::DynamicImage::ImageRgba8(img.clone()).into_rgb8())
    } else {
        image::DynamicImage::ImageRgba8(img.clone())
    };
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn decoded(bytes: &[u8]) -> (image::ImageFormat, u32, u32) {
    let format = image::guess_format(bytes).expect("format");
    let img = image::load_from_memory(bytes).expect("decode");
    (format, img.width(), img.height())
}

#[test]
fn each_fit_gives_the_size_it_promises() {
    let jpeg = encoded(&gradient(2000, 1500), image::ImageFormat::Jpeg);
    let cases = [
        ("width=400", (400, 300)),
        ("width=400,height=400,fit=scale-down", (400, 300)),
        ("width=4000,fit=scale-down", (2000, 1500)),
        ("width=4000,fit=contain", (4000, 3000)),
        ("width=400,height=400,fit=cover", (400, 400)),
        ("width=400,height=400,fit=pad", (400, 400)),
        // crop never enlarges: smaller than the box, it is scale-down; larger in one
        // side, that side is cut.
        ("width=3000,height=3000,fit=crop", (2000, 1500)),
        ("width=1800,height=1800,fit=crop", (1800, 1500)),
        ("width=400,height=400,fit=crop", (400, 400)),
        ("width=200,dpr=2", (400, 300)),
        ("width=400,rotate=90", (400, 533)),
    ];
    for (text, want) in cases {
        let options = Options::parse(text).expect(text);
        let out = transform(&jpeg, &options, Output::Jpeg, &LIMITS).expect(text);
        let (format, w, h) = decoded(&out.bytes);
        assert_eq!(format, image::ImageFormat::Jpeg, "{text}");
        assert_eq!((w, h), want, "{text}");
        assert_eq!((out.width, out.height), want, "{text}");
    }
}

#[test]
fn every_output_format_decodes_and_keeps_alpha_where_it_can() {
    let mut img = gradient(64, 48);
    for y in 0..48 {
        for x in 0..16 {
            img.put_pixel(x, y, image::Rgba([0, 0, 0, 0]));
        }
    }
    let png = encoded(&img, image::ImageFormat::Png);
    let options = Options::parse("width=32").expect("options");
    // AVIF (no AVIF decoder here: its container and size are checked; Pillow
    // decodes it in tests/images.rs).
    let avif = transform(&png, &options, Output::Avif, &LIMITS).expect("avif");
    assert_eq!(&avif.bytes[4..12], b"ftypavif");
    assert_eq!((avif.width, avif.height), (32, 24));
    for (output, format) in [
        (Output::Webp, image::ImageFormat::WebP),
        (Output::Png, image::ImageFormat::Png),
        (Output::Jpeg, image::ImageFormat::Jpeg),
    ] {
        let out = transform(&png, &options, output, &LIMITS).expect("transform");
        assert_eq!(decoded(&out.bytes), (format, 32, 24), "{output:?}");
        let back = image::load_from_memory(&out.bytes).expect("decode");
        let alpha = back.to_rgba8().get_pixel(0, 0).0[3];
        if output == Output::Jpeg {
            assert_eq!(alpha, 255, "JPEG has none: the background shows");
        } else {
            assert!(alpha < 128, "{output:?} keeps transparency: {alpha}");
        }
    }
}

#[test]
fn an_animated_gif_gives_its_first_frame() {
    let mut bytes = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut bytes);
        for shade in [10u8, 200] {
            let frame =
                image::RgbaImage::from_pixel(40, 20, image::Rgba([shade, shade, shade, 255]));
            enc.encode_frame(image::Frame::new(frame)).expect("frame");
        }
    }
    let out = transform(
        &bytes,
        &Options::parse("width=20").expect("o"),
        Output::Png,
        &LIMITS,
    )
    .expect("transform");
    let img = image::load_from_memory(&out.bytes)
        .expect("decode")
        .to_rgba8();
    assert_eq!(img.dimensions(), (20, 10));
    assert!(img.get_pixel(5, 5).0[0] < 50, "the first frame's shade");
}

/// A PNG whose header claims `w`×`h` (with a valid CRC), and nothing behind it.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32fast::hash(&ihdr).to_be_bytes());
    // An empty IDAT and the end: what a decoder reads before the first pixel.
    for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(&crc32fast::hash(chunk).to_be_bytes());
    }
    out
}

#[test]
fn bombs_truncated_files_and_non_images_are_refused() {
    let o = Options::parse("width=100").expect("o");
    // 100 000 × 100 000 claimed: refused from the header, before any pixel.
    let bomb = transform(&png_claiming(100_000, 100_000), &o, Output::Png, &LIMITS);
    assert!(matches!(bomb, Err(ImageError::TooLarge(_))), "{bomb:?}");
    assert_eq!(bomb.err().map(|e| e.status()), Some(413));
    let small = Limits {
        max_source_bytes: 100,
        ..LIMITS
    };
    let big = encoded(&gradient(64, 64), image::ImageFormat::Png);
    assert!(matches!(
        transform(&big, &o, Output::Png, &small),
        Err(ImageError::TooLarge(_))
    ));
    // A truncated PNG fails; a truncated JPEG decodes what arrived (as browsers
    // show it). Neither crashes.
    let mut truncated = encoded(&gradient(300, 300), image::ImageFormat::Png);
    truncated.truncate(truncated.len() / 3);
    let t = transform(&truncated, &o, Output::Png, &LIMITS);
    assert!(matches!(t, Err(ImageError::Broken(_))), "{t:?}");
    let mut truncated = encoded(&gradient(300, 300), image::ImageFormat::Jpeg);
    truncated.truncate(truncated.len() / 3);
    let t = transform(&truncated, &o, Output::Png, &LIMITS).expect("partial JPEG");
    assert_eq!((t.width, t.height), (100, 100));
    let text = transform(b"<html>not an image</html>", &o, Output::Png, &LIMITS);
    assert!(matches!(text, Err(ImageError::NotAnImage)));
    assert_eq!(text.err().map(|e| e.status()), Some(415));
}

/// Output bombs: one side asked of a thin source, or a huge box to pad, would make
/// a result far larger than any source allowed; refused before it is allocated.
#[test]
fn results_past_the_limits_are_refused_before_they_are_allocated() {
    let thin = encoded(&gradient(1, 1000), image::ImageFormat::Png);
    for opts in [
        "width=12000,fit=contain",
        "width=12000,height=12000,fit=pad",
        "width=12000,fit=cover",
    ] {
        let r = transform(
            &thin,
            &Options::parse(opts).expect("o"),
            Output::Png,
            &LIMITS,
        );
        assert!(
            matches!(r, Err(ImageError::TooLarge(_))),
            "{opts}: {:?}",
            r.map(|t| (t.width, t.height))
        );
    }
    // Within the limits the same source enlarges as asked.
    let ok = transform(
        &thin,
        &Options::parse("height=2000,fit=contain").expect("o"),
        Output::Png,
        &LIMITS,
    )
    .expect("transform");
    assert_eq!((ok.width, ok.height), (2, 2000));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the bytes, a transform answers (an image or an error), never panics.
    #[test]
    fn arbitrary_bytes_never_crash_a_transform(
        tail in proptest::collection::vec(any::<u8>(), 0..512),
        kind in 0usize..4,
    ) {
        let heads: [&[u8]; 4] = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\0\0\0\0WEBPVP8 "];
        let mut bytes = heads[kind].to_vec();
        bytes.extend_from_slice(&tail);
        let _ = transform(&bytes, &Options::parse("width=16").expect("o"), Output::Png, &LIMITS);
    }

    /// Mutations of a real image never crash a transform.
    #[test]
    fn mutated_images_never_crash_a_transform(at in 0usize..2000, byte in any::<u8>()) {
        let mut png = encoded(&gradient(40, 30), image::ImageFormat::Png);
        let i = at % png.len();
        png[i] = byte;
        let _ = transform(&png, &Options::parse("width=16").expect("o"), Output::Webp, &LIMITS);
    }
}
