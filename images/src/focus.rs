//! `gravity=auto`: where a crop keeps the image, found as the window with the most
//! detail (edge energy on a small greyscale copy), the centre winning ties. A cheap
//! stand-in for learned saliency that keeps faces, products and text, which are where
//! the edges are, over sky, walls and blurred backgrounds.

use image::RgbaImage;

/// Side of the copy the search runs on: enough to find a region, cheap to scan.
const SEARCH_SIDE: u32 = 96;

/// The gravity (fractions of the free room, 0 to 1 on each axis) that puts a
/// `cw`×`ch` window (in `image`'s pixels) over its most detailed region.
pub(crate) fn busiest(image: &RgbaImage, cw: f64, ch: f64) -> (f64, f64) {
    let (sw, sh) = image.dimensions();
    let scale = (f64::from(SEARCH_SIDE) / f64::from(sw.max(sh))).min(1.0);
    let (w, h) = (
        ((f64::from(sw) * scale).round() as u32).max(1),
        ((f64::from(sh) * scale).round() as u32).max(1),
    );
    let small = image::imageops::thumbnail(image, w, h);
    let luma: Vec<f64> = small
        .pixels()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    let (wu, hu) = (w as usize, h as usize);
    let at = |x: usize, y: usize| luma[y * wu + x];
    // Summed-area table of the gradient magnitude: any window's energy in O(1).
    let mut sum = vec![0.0f64; (wu + 1) * (hu + 1)];
    for y in 0..hu {
        let mut row = 0.0;
        for x in 0..wu {
            let dx = at((x + 1).min(wu - 1), y) - at(x.saturating_sub(1), y);
            let dy = at(x, (y + 1).min(hu - 1)) - at(x, y.saturating_sub(1));
            row += dx.abs() + dy.abs();
            sum[(y + 1) * (wu + 1) + x + 1] = sum[y * (wu + 1) + x + 1] + row;
        }
    }
    let energy = |x0: usize, y0: usize, x1: usize, y1: usize| {
        sum[y1 * (wu + 1) + x1] - sum[y0 * (wu + 1) + x1] - sum[y1 * (wu + 1) + x0]
            + sum[y0 * (wu + 1) + x0]
    };
    let tw = ((cw * scale).round() as usize).clamp(1, wu);
    let th = ((ch * scale).round() as usize).clamp(1, hu);
    let (free_x, free_y) = (wu - tw, hu - th);
    let mut best = (f64::MIN, f64::MAX, 0.5, 0.5);
    for y0 in 0..=free_y {
        for x0 in 0..=free_x {
            let e = energy(x0, y0, x0 + tw, y0 + th);
            let gx = if free_x == 0 {
                0.5
            } else {
                x0 as f64 / free_x as f64
            };
            let gy = if free_y == 0 {
                0.5
            } else {
                y0 as f64 / free_y as f64
            };
            let off_centre = (gx - 0.5).abs() + (gy - 0.5).abs();
            // (Energies within a hair count as equal, so a flat image stays centred.)
            let more = e > best.0 * (1.0 + 1e-9) + 1e-9;
            let as_much = (e - best.0).abs() <= best.0.abs() * 1e-9 + 1e-9;
            if more || (as_much && off_centre < best.1) {
                best = (e, off_centre, gx, gy);
            }
        }
    }
    (best.2, best.3)
}
