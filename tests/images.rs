//! Image transforms at `/cdn-cgi/image/OPTIONS/SOURCE` through the real binary, on
//! images made by the test and served by the site's static origin. Every output is
//! checked with an independent decoder, python's Pillow (`scripts/test.sh` installs
//! it): its format and its size. Also: `format=auto` follows `Accept` with one stored
//! variant per format, the second request is a hit with no new transform, a purge of
//! the source takes its variants, and bad input gets its 4xx.

mod common;

use common::{Outpost, TEST_TIMEOUT, client, header_text as header};
use std::path::Path;

/// (format, width, height) as Pillow reads `bytes`.
fn pillow(bytes: &[u8]) -> (String, u32, u32) {
    let (format, w, h, _) = pillow_frames(bytes);
    (format, w, h)
}

/// (format, width, height, frames) as Pillow reads `bytes`.
fn pillow_frames(bytes: &[u8]) -> (String, u32, u32, u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("image");
    std::fs::write(&file, bytes).expect("write");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]); im.load()\nprint(im.format, im.size[0], im.size[1], getattr(im, 'n_frames', 1))",
        ])
        .arg(&file)
        .output()
        .expect("python3 runs (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "Pillow could not read the image of {} bytes starting {:02x?} ({}); if it is missing, `pip install pillow` (scripts/test.sh does)",
        bytes.len(),
        &bytes[..bytes.len().min(12)],
        String::from_utf8_lossy(&out.stderr)
    );
    let mut parts = text.split_whitespace();
    let format = parts.next().unwrap_or("").to_string();
    let mut n = || parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    (format, n(), n(), n())
}

fn gradient(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x * 255 / w) as u8, (y * 255 / h) as u8, 90, 255])
    })
}

fn save(img: &image::RgbaImage, path: &Path, format: image::ImageFormat) {
    let img = if format == image::ImageFormat::Jpeg {
        image::DynamicImage::ImageRgb8(image::DynamicImage::ImageRgba8(img.clone()).into_rgb8())
    } else {
        image::DynamicImage::ImageRgba8(img.clone())
    };
    img.save_with_format(path, format).expect("save");
}

/// The test's images, in `www/` of the process's directory.
fn make_images(www: &Path) {
    std::fs::create_dir_all(www.join("img")).expect("www");
    save(
        &gradient(2000, 1500),
        &www.join("img/photo.jpg"),
        image::ImageFormat::Jpeg,
    );
    save(
        &gradient(320, 200),
        &www.join("img/logo.png"),
        image::ImageFormat::Png,
    );
    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
        for shade in [20u8, 220] {
            let frame = image::RgbaImage::from_pixel(80, 40, image::Rgba([shade, 0, 0, 255]));
            enc.encode_frame(image::Frame::new(frame)).expect("frame");
        }
    }
    std::fs::write(www.join("img/anim.gif"), gif).expect("gif");
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(gradient(400, 400))
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("png");
    let png = png.into_inner();
    std::fs::write(www.join("img/truncated.png"), &png[..png.len() / 3]).expect("truncated");
    std::fs::write(www.join("img/notes.txt"), "not an image at all").expect("text");
    // A PNG that claims 50 000 × 50 000 pixels: refused from its header.
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    bomb.extend_from_slice(&13u32.to_be_bytes());
    bomb.extend_from_slice(&ihdr);
    bomb.extend_from_slice(&crc32fast::hash(&ihdr).to_be_bytes());
    for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
        bomb.extend_from_slice(&0u32.to_be_bytes());
        bomb.extend_from_slice(chunk);
        bomb.extend_from_slice(&crc32fast::hash(chunk).to_be_bytes());
    }
    std::fs::write(www.join("img/bomb.png"), bomb).expect("bomb");
    std::fs::write(www.join("private.jpg"), b"secret").expect("private");
    std::fs::create_dir_all(www.join("small")).expect("small");
    save(
        &gradient(400, 300),
        &www.join("small/photo.jpg"),
        image::ImageFormat::Jpeg,
    );
}

fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn get(o: &Outpost, target: &str, accept: &str) -> reqwest::Response {
    client()
        .get(o.url(target))
        .header("accept", accept)
        .send()
        .await
        .expect("request")
}

#[tokio::test(flavor = "multi_thread")]
async fn images_are_transformed_once_negotiated_and_purged_with_their_source() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().expect("tempdir");
        make_images(&dir.path().join("www"));
        // The logo's responses carry a Cache-Tag (as an origin's would).
        std::fs::write(
            dir.path().join("rules.yaml"),
            "- match: \"/img/logo.png\"\n  actions: { set_response_headers: { cache-tag: brand } }\n- match: \"/thumb/*\"\n  actions: { script: thumb.js }\n- match: \"/small/*\"\n  actions: { image: { width: 50, format: png } }\n",
        )
        .expect("rules");
        // Workers' image resizing: fetch() with cf.image.
        std::fs::write(
            dir.path().join("thumb.js"),
            "export default {
  async fetch(request) {
    const url = new URL(request.url);
    const image = url.pathname === '/thumb/bad'
      ? { width: 'wide' }
      : { width: 120, height: 90, fit: 'cover', format: 'webp', gravity: { x: 0.5, y: 0.2 } };
    return fetch(new URL('/img/photo.jpg', url), { cf: { image } });
  },
};
",
        )
        .expect("script");
        let admin = format!("127.0.0.1:{}", common::free_port());
        let o = Outpost::start_in(
            dir,
            &format!(
                "listen: {{ http: \"{{http}}\" }}
admin: {{ listen: \"{admin}\" }}
cache: {{ memory: 64MiB }}
sites:
  - default: true
    origins: [\"static:www\"]
    images: {{ enabled: true, sources: [\"/img/*\"], max_source_bytes: 2MiB, max_pixels: 20000000 }}
    rules: rules.yaml
"
            ),
            &[],
        );
        let transformed = "outpost_image_requests_total{outcome=\"transformed\"} ";
        let hits = "outpost_image_requests_total{outcome=\"hit\"} ";

        // Resized to the width asked for, as JPEG; made once, then a hit.
        let url = "/cdn-cgi/image/width=400,quality=80/img/photo.jpg";
        let first = get(&o, url, "image/jpeg").await;
        assert_eq!(first.status(), 200);
        assert_eq!(header(&first, "content-type"), "image/jpeg");
        assert_eq!(header(&first, "cache-status"), "outpost; fwd=miss; stored");
        let bytes = first.bytes().await.expect("body");
        assert_eq!(pillow(&bytes), ("JPEG".into(), 400, 300));
        let second = get(&o, url, "image/jpeg").await;
        assert_eq!(header(&second, "cache-status"), "outpost; hit");
        assert_eq!(second.bytes().await.expect("body"), bytes);
        let m = common::scrape(&admin).await;
        assert_eq!((counter(&m, transformed), counter(&m, hits)), (1, 1), "{m}");

        // format=auto: AVIF, else WebP, for a client that takes it, the source's
        // format for one that takes neither; any Accept naming the same best format
        // shares its one stored variant.
        let auto = "/cdn-cgi/image/width=200,height=200,fit=cover,format=auto/img/photo.jpg";
        let avif = get(&o, auto, "image/avif,image/webp,*/*").await;
        assert_eq!(header(&avif, "content-type"), "image/avif");
        assert_eq!(
            pillow(&avif.bytes().await.expect("body")),
            ("AVIF".into(), 200, 200)
        );
        let webp = get(&o, auto, "image/webp,*/*").await;
        assert_eq!(header(&webp, "content-type"), "image/webp");
        assert_eq!(header(&webp, "vary"), "Accept");
        assert_eq!(
            pillow(&webp.bytes().await.expect("body")),
            ("WEBP".into(), 200, 200)
        );
        let jpeg = get(&o, auto, "image/jpeg,*/*;q=0.5").await;
        assert_eq!(header(&jpeg, "content-type"), "image/jpeg");
        assert_eq!(
            pillow(&jpeg.bytes().await.expect("body")),
            ("JPEG".into(), 200, 200)
        );
        let other_webp = get(&o, auto, "image/webp;q=0.9").await;
        assert_eq!(header(&other_webp, "cache-status"), "outpost; hit");
        assert_eq!(header(&other_webp, "content-type"), "image/webp");

        // Other fits and sources: pad to the box, PNG kept as PNG, an animated GIF's
        // first frame as PNG with anim=false, an explicit output format.
        let pad = get(
            &o,
            "/cdn-cgi/image/w=300,h=300,fit=pad,background=%23ff0000/img/logo.png",
            "*/*",
        )
        .await;
        assert_eq!(
            pillow(&pad.bytes().await.expect("body")),
            ("PNG".into(), 300, 300)
        );
        let gif = get(&o, "/cdn-cgi/image/width=40,anim=false/img/anim.gif", "*/*").await;
        assert_eq!(header(&gif, "content-type"), "image/png");
        assert_eq!(
            pillow(&gif.bytes().await.expect("body")),
            ("PNG".into(), 40, 20)
        );
        // By default an animation stays one: as GIF, or as WebP where negotiated.
        let anim = get(&o, "/cdn-cgi/image/width=40/img/anim.gif", "*/*").await;
        assert_eq!(header(&anim, "content-type"), "image/gif");
        assert_eq!(
            pillow_frames(&anim.bytes().await.expect("body")),
            ("GIF".into(), 40, 20, 2)
        );
        let anim = get(
            &o,
            "/cdn-cgi/image/width=40,format=auto/img/anim.gif",
            "image/avif,image/webp,*/*",
        )
        .await;
        assert_eq!(header(&anim, "content-type"), "image/webp");
        assert_eq!(
            pillow_frames(&anim.bytes().await.expect("body")),
            ("WEBP".into(), 40, 20, 2)
        );
        let png = get(
            &o,
            "/cdn-cgi/image/width=100,format=png/img/photo.jpg",
            "*/*",
        )
        .await;
        assert_eq!(
            pillow(&png.bytes().await.expect("body")),
            ("PNG".into(), 100, 75)
        );

        // A purge of the source takes its variants: the next request transforms again.
        let before = counter(&common::scrape(&admin).await, transformed);
        let purged = client()
            .post(format!("http://{admin}/purge"))
            .body(format!("{{\"files\":[\"{}\"]}}", o.url("/img/photo.jpg")))
            .send()
            .await
            .expect("purge");
        assert_eq!(
            purged.status(),
            200,
            "{}",
            purged.text().await.unwrap_or_default()
        );
        let again = get(&o, url, "image/jpeg").await;
        assert_eq!(header(&again, "cache-status"), "outpost; fwd=miss; stored");
        assert_eq!(
            counter(&common::scrape(&admin).await, transformed),
            before + 1
        );

        // A hook's fetch() with cf.image: the same transform, stored the same way.
        let thumb = get(&o, "/thumb/a", "*/*").await;
        assert_eq!(thumb.status(), 200);
        assert_eq!(header(&thumb, "content-type"), "image/webp");
        assert_eq!(pillow(&thumb.bytes().await.expect("body")), ("WEBP".into(), 120, 90));
        let again = get(&o, "/thumb/b", "*/*").await;
        assert_eq!(header(&again, "cache-status"), "outpost; hit");
        let bad = get(&o, "/thumb/bad", "*/*").await;
        assert_eq!(bad.status(), 400);
        assert!(bad.text().await.expect("body").contains("width=wide"));

        // A page rule's image action: the URL's own response, transformed.
        let small = get(&o, "/small/photo.jpg", "*/*").await;
        assert_eq!(small.status(), 200);
        assert_eq!(header(&small, "content-type"), "image/png");
        assert_eq!(pillow(&small.bytes().await.expect("body")), ("PNG".into(), 50, 38));
        let small = get(&o, "/small/photo.jpg", "*/*").await;
        assert_eq!(header(&small, "cache-status"), "outpost; hit");

        // A purge of the source's tag takes the variants made from it.
        let logo = "/cdn-cgi/image/width=100/img/logo.png";
        assert_eq!(header(&get(&o, logo, "*/*").await, "cache-tag"), "brand");
        assert_eq!(header(&get(&o, logo, "*/*").await, "cache-status"), "outpost; hit");
        let purged = client()
            .post(format!("http://{admin}/purge"))
            .body("{\"tags\":[\"brand\"]}")
            .send()
            .await
            .expect("purge");
        assert_eq!(purged.status(), 200);
        let after_tag = get(&o, logo, "*/*").await;
        assert_eq!(header(&after_tag, "cache-status"), "outpost; fwd=miss; stored");

        // Bad input: each its own status, and the process keeps serving.
        for (target, status) in [
            ("/cdn-cgi/image/width=abc/img/photo.jpg", 400),
            ("/cdn-cgi/image/fit=stretch/img/photo.jpg", 400),
            ("/cdn-cgi/image/width=100", 400),
            ("/cdn-cgi/image/width=100/img/notes.txt", 415),
            ("/cdn-cgi/image/width=100/img/truncated.png", 415),
            ("/cdn-cgi/image/width=100/img/bomb.png", 413),
            ("/cdn-cgi/image/width=100/private.jpg", 403),
            ("/cdn-cgi/image/width=100/img/missing.jpg", 404),
        ] {
            let r = get(&o, target, "*/*").await;
            assert_eq!(
                r.status(),
                status,
                "{target}: {}",
                r.text().await.unwrap_or_default()
            );
        }
        let ok = get(&o, url, "image/jpeg").await;
        assert_eq!(ok.status(), 200);
        let m = common::scrape(&admin).await;
        for outcome in [
            "bad-option",
            "not-an-image",
            "too-large",
            "forbidden",
            "source-failed",
        ] {
            let series = format!("outpost_image_requests_total{{outcome=\"{outcome}\"}} ");
            assert!(counter(&m, &series) >= 1, "{series} in {m}");
        }
        assert!(m.contains("outpost_image_transform_seconds_count"), "{m}");
    })
    .await
    .expect("test timed out");
}

/// Concurrent first requests for one variant: one transform, the others answered
/// from what it stored.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_first_requests_for_a_variant_share_one_transform() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().expect("tempdir");
        make_images(&dir.path().join("www"));
        let o = Outpost::start_in(
            dir,
            "listen: { http: \"{http}\" }
admin: { listen: \"{admin}\" }
cache: { memory: 64MiB }
sites:
  - default: true
    origins: [\"static:www\"]
    images: { enabled: true, sources: [\"/img/*\"] }
",
            &[],
        );
        let admin = o.admin.expect("admin").to_string();
        let url = "/cdn-cgi/image/width=640,format=webp/img/photo.jpg";
        let answers = futures_util::future::join_all((0..8).map(|_| get(&o, url, "*/*"))).await;
        let mut bodies = Vec::new();
        for a in answers {
            assert_eq!(a.status(), 200);
            bodies.push(a.bytes().await.expect("body"));
        }
        assert!(
            bodies.iter().all(|b| *b == bodies[0]),
            "one variant for all"
        );
        assert_eq!(pillow(&bodies[0]), ("WEBP".into(), 640, 480));
        let m = common::scrape(&admin).await;
        let transformed = "outpost_image_requests_total{outcome=\"transformed\"} ";
        let hits = "outpost_image_requests_total{outcome=\"hit\"} ";
        assert_eq!((counter(&m, transformed), counter(&m, hits)), (1, 7), "{m}");
    })
    .await
    .expect("test timed out");
}
