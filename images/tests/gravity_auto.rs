//! `gravity=auto` keeps the detailed part of an image when `cover` crops it, and
//! the centre of one with no detail anywhere.

use outpost_images::{Limits, Options, Output, transform};

const LIMITS: Limits = Limits {
    max_source_bytes: 20 << 20,
    max_pixels: 40_000_000,
    max_time: std::time::Duration::from_secs(60),
};

fn png(img: &image::RgbaImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img.clone())
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

/// How many of the output's pixels are the checkerboard's black.
fn dark_pixels(bytes: &[u8]) -> usize {
    let img = image::load_from_memory(bytes).expect("decode").to_rgba8();
    img.pixels()
        .filter(|p| p[0] < 60 && p[1] < 60 && p[2] < 60)
        .count()
}

#[test]
fn auto_gravity_keeps_the_detail_and_centres_a_flat_image() {
    // A wide sky-blue image with a black-and-white checkerboard near its right edge.
    let (w, h) = (600u32, 200u32);
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        if (480..560).contains(&x) && (60..140).contains(&y) {
            if ((x / 10) + (y / 10)) % 2 == 0 {
                image::Rgba([0, 0, 0, 255])
            } else {
                image::Rgba([255, 255, 255, 255])
            }
        } else {
            image::Rgba([120, 170, 230, 255])
        }
    });
    let source = png(&img);
    let crop = |gravity: &str| {
        let o = Options::parse(&format!("width=200,height=200,fit=cover,gravity={gravity}"))
            .expect("options");
        let t = transform(&source, &o, Output::Png, &LIMITS).expect("transform");
        assert_eq!((t.width, t.height), (200, 200));
        t.bytes
    };
    // The centre crop (pixels 200–400) misses the board; auto finds it.
    assert_eq!(dark_pixels(&crop("0.5x0.5")), 0);
    assert!(
        dark_pixels(&crop("auto")) > 2000,
        "the checkerboard is kept"
    );

    // No detail anywhere: the same as the centre.
    let flat = png(&image::RgbaImage::from_fn(w, h, |x, _| {
        image::Rgba([(x * 255 / w) as u8, 0, 0, 255])
    }));
    let crop_flat = |gravity: &str| {
        let o = Options::parse(&format!("width=200,height=200,fit=cover,gravity={gravity}"))
            .expect("options");
        transform(&flat, &o, Output::Png, &LIMITS)
            .expect("transform")
            .bytes
    };
    assert_eq!(crop_flat("auto"), crop_flat("0.5x0.5"));
}
