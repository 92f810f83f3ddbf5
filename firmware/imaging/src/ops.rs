//! Pixel operations of the vendor's image_process_info: rotation, colour modes (colour, grey,
//! black-and-white by adaptive binarisation), shadow reduction, black-edge removal, custom
//! rectangles, page splitting, ID-card orientation, resizing.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, Rgb, RgbImage};

use crate::ImgError;

/// Rotate by a multiple of 90 degrees (negative = counter-clockwise).
pub fn rotate(img: RgbImage, degrees: i32) -> Result<RgbImage, ImgError> {
    if degrees % 90 != 0 {
        return Err(ImgError::Invalid(format!(
            "rotate must be a multiple of 90, got {degrees}"
        )));
    }
    Ok(match degrees.rem_euclid(360) {
        90 => imageops::rotate90(&img),
        180 => imageops::rotate180(&img),
        270 => imageops::rotate270(&img),
        _ => img,
    })
}

/// ITU-R BT.601 luma.
pub fn grey(img: &RgbImage) -> GrayImage {
    let mut out = GrayImage::new(img.width(), img.height());
    for (o, p) in out.as_mut().iter_mut().zip(img.as_raw().chunks_exact(3)) {
        *o = ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8;
    }
    out
}

pub fn grey_to_rgb(g: &GrayImage) -> RgbImage {
    let mut out = RgbImage::new(g.width(), g.height());
    for (o, v) in out.as_mut().chunks_exact_mut(3).zip(g.as_raw()) {
        o.copy_from_slice(&[*v, *v, *v]);
    }
    out
}

/// Black and white by Sauvola's adaptive threshold: local mean and deviation over a window of
/// about 1/40 of the image width, so thin strokes survive uneven light.
pub fn binarize(g: &GrayImage) -> GrayImage {
    let (w, h) = (g.width() as usize, g.height() as usize);
    if w == 0 || h == 0 {
        return g.clone();
    }
    let win = ((w.max(h) / 40).max(15)) | 1;
    let r = win / 2;
    // Integral images (one extra row and column of zeros).
    let mut sum = vec![0u64; (w + 1) * (h + 1)];
    let mut sq = vec![0u64; (w + 1) * (h + 1)];
    let px = g.as_raw();
    for y in 0..h {
        let (mut rs, mut rq) = (0u64, 0u64);
        for x in 0..w {
            let v = px[y * w + x] as u64;
            rs += v;
            rq += v * v;
            sum[(y + 1) * (w + 1) + x + 1] = sum[y * (w + 1) + x + 1] + rs;
            sq[(y + 1) * (w + 1) + x + 1] = sq[y * (w + 1) + x + 1] + rq;
        }
    }
    let (k, range) = (0.2f64, 128.0f64);
    let mut out = GrayImage::new(w as u32, h as u32);
    let o = out.as_mut();
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let n = ((y1 - y0) * (x1 - x0)) as f64;
            let at = |t: &[u64], yy: usize, xx: usize| t[yy * (w + 1) + xx];
            let s =
                (at(&sum, y1, x1) + at(&sum, y0, x0) - at(&sum, y0, x1) - at(&sum, y1, x0)) as f64;
            let q = (at(&sq, y1, x1) + at(&sq, y0, x0) - at(&sq, y0, x1) - at(&sq, y1, x0)) as f64;
            let mean = s / n;
            let sd = (q / n - mean * mean).max(0.0).sqrt();
            let t = mean * (1.0 + k * (sd / range - 1.0));
            o[y * w + x] = if (px[y * w + x] as f64) > t { 255 } else { 0 };
        }
    }
    out
}

/// Even out the illumination: divide by a smooth estimate of the paper's brightness (a heavily
/// downscaled, max-filtered, blurred copy), so shadows and uneven light fade and the paper turns
/// white while ink stays dark.
pub fn reduce_shadow(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    if w < 16 || h < 16 {
        return img.clone();
    }
    let g = grey(img);
    // Background estimate: the 90th percentile of brightness in 16x16 blocks (ink is the
    // minority of a block, so this is the paper), then smoothed and scaled back up.
    let f = 16u32;
    let (sw, sh) = (w.div_ceil(f), h.div_ceil(f));
    let mut bg = GrayImage::new(sw, sh);
    for by in 0..sh {
        for bx in 0..sw {
            let mut hist = [0u32; 256];
            let mut n = 0u32;
            for y in by * f..((by + 1) * f).min(h) {
                for x in bx * f..((bx + 1) * f).min(w) {
                    hist[g.get_pixel(x, y)[0] as usize] += 1;
                    n += 1;
                }
            }
            let mut acc = 0u32;
            let mut v = 255u8;
            for (i, c) in hist.iter().enumerate() {
                acc += c;
                if acc * 10 >= n * 9 {
                    v = i as u8;
                    break;
                }
            }
            bg.put_pixel(bx, by, Luma([v]));
        }
    }
    let bg = imageops::blur(&bg, 1.0);
    let bg = imageops::resize(&bg, w, h, FilterType::Triangle);
    let mut out = img.clone();
    for (p, b) in out.pixels_mut().zip(bg.pixels()) {
        let b = b[0].max(40) as u32;
        for c in p.0.iter_mut() {
            *c = ((*c as u32 * 245) / b).min(255) as u8;
        }
    }
    out
}

/// Trim dark borders (scanner/base-mat edges): rows and columns at the sides that are mostly
/// dark, at most 15 % of the size from each side.
pub fn remove_black_edge(img: RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    if w < 8 || h < 8 {
        return img;
    }
    let g = grey(&img);
    let dark_row =
        |y: u32| (0..w).filter(|&x| g.get_pixel(x, y)[0] < 70).count() * 10 >= w as usize * 6;
    let dark_col =
        |x: u32| (0..h).filter(|&y| g.get_pixel(x, y)[0] < 70).count() * 10 >= h as usize * 6;
    let (max_x, max_y) = (w * 15 / 100, h * 15 / 100);
    let top = (0..max_y).take_while(|&y| dark_row(y)).count() as u32;
    let bottom = (0..max_y).take_while(|&i| dark_row(h - 1 - i)).count() as u32;
    let left = (0..max_x).take_while(|&x| dark_col(x)).count() as u32;
    let right = (0..max_x).take_while(|&i| dark_col(w - 1 - i)).count() as u32;
    if top + bottom + left + right == 0 {
        return img;
    }
    imageops::crop_imm(&img, left, top, w - left - right, h - top - bottom).to_image()
}

/// Crop a rectangle centred at (cx, cy) of size rw x rh, rotated by `angle` degrees
/// (clockwise), into an upright image (bilinear sampling; outside the image is white).
pub fn crop_rotated(img: &RgbImage, cx: f32, cy: f32, rw: u32, rh: u32, angle: f32) -> RgbImage {
    if angle.abs() < 0.01 {
        let x0 = (cx - rw as f32 / 2.0).round().max(0.0) as u32;
        let y0 = (cy - rh as f32 / 2.0).round().max(0.0) as u32;
        let cw = rw.min(img.width().saturating_sub(x0));
        let ch = rh.min(img.height().saturating_sub(y0));
        return imageops::crop_imm(img, x0, y0, cw.max(1), ch.max(1)).to_image();
    }
    let (s, c) = angle.to_radians().sin_cos();
    let mut out = RgbImage::new(rw.max(1), rh.max(1));
    for y in 0..out.height() {
        for x in 0..out.width() {
            let (dx, dy) = (
                x as f32 + 0.5 - rw as f32 / 2.0,
                y as f32 + 0.5 - rh as f32 / 2.0,
            );
            let sx = cx + dx * c - dy * s - 0.5;
            let sy = cy + dx * s + dy * c - 0.5;
            out.put_pixel(x, y, sample(img, sx, sy));
        }
    }
    out
}

/// Bilinear sample; white outside the image.
pub fn sample(img: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    if x < -0.5 || y < -0.5 || x > w as f32 - 0.5 || y > h as f32 - 0.5 {
        return Rgb([255, 255, 255]);
    }
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at =
        |xx: i64, yy: i64| *img.get_pixel(xx.clamp(0, w - 1) as u32, yy.clamp(0, h - 1) as u32);
    let (a, b, c, d) = (
        at(x0, y0),
        at(x0 + 1, y0),
        at(x0, y0 + 1),
        at(x0 + 1, y0 + 1),
    );
    let mut out = [0u8; 3];
    for i in 0..3 {
        let top = a[i] as f32 * (1.0 - fx) + b[i] as f32 * fx;
        let bot = c[i] as f32 * (1.0 - fx) + d[i] as f32 * fx;
        out[i] = (top * (1.0 - fy) + bot * fy).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(out)
}

/// Halve along the long side (a spread of two pages): left/top first.
pub fn split_page(img: &RgbImage) -> Vec<RgbImage> {
    let (w, h) = img.dimensions();
    if w >= h {
        let half = w / 2;
        vec![
            imageops::crop_imm(img, 0, 0, half, h).to_image(),
            imageops::crop_imm(img, half, 0, w - half, h).to_image(),
        ]
    } else {
        let half = h / 2;
        vec![
            imageops::crop_imm(img, 0, 0, w, half).to_image(),
            imageops::crop_imm(img, 0, half, w, h - half).to_image(),
        ]
    }
}

/// Resize to exactly `w` x `h`.
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    imageops::resize(img, w.max(1), h.max(1), FilterType::Triangle)
}

/// Turn a cropped resident ID card upright: landscape, and the side with the photo (front) or
/// the emblem (back) — the densest third of the card — placed where the card layout has it.
/// Heuristic (documented simplification): the front's portrait is on the right and the back's
/// emblem on the left; which side is shown is told by the densest third being in the upper or the
/// lower half.
pub fn idcard_upright(img: RgbImage) -> RgbImage {
    let img = if img.height() > img.width() {
        imageops::rotate90(&img)
    } else {
        img
    };
    let g = grey(&img);
    let (w, h) = g.dimensions();
    let ink = |x0: u32, x1: u32, y0: u32, y1: u32| -> f64 {
        let mut n = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                n += (255 - g.get_pixel(x, y)[0]) as u64;
            }
        }
        n as f64 / (((x1 - x0) * (y1 - y0)).max(1)) as f64
    };
    let left = ink(0, w / 3, 0, h);
    let right = ink(w - w / 3, w, 0, h);
    let top = ink(0, w, 0, h / 2);
    let bottom = ink(0, w, h / 2, h);
    // Front: portrait on the right, text spread over the card. Back: emblem top left, text
    // lower. A card whose dense side is on the left with more ink in the top half is a back
    // the right way up; the same pattern mirrored means upside down.
    let front_like = right > left * 1.15;
    let back_like = left > right * 1.15 && top >= bottom;
    if front_like || back_like || (left - right).abs() < 1.0 {
        img
    } else {
        imageops::rotate180(&img)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations() {
        let img = RgbImage::new(4, 2);
        assert_eq!(rotate(img.clone(), 90).unwrap().dimensions(), (2, 4));
        assert_eq!(rotate(img.clone(), -90).unwrap().dimensions(), (2, 4));
        assert_eq!(rotate(img.clone(), 180).unwrap().dimensions(), (4, 2));
        assert_eq!(rotate(img.clone(), 360).unwrap().dimensions(), (4, 2));
        assert!(rotate(img, 45).is_err());
    }

    #[test]
    fn binarize_keeps_thin_strokes_under_uneven_light() {
        // A gradient background (60..220) with 1-pixel dark lines.
        let mut g = GrayImage::from_fn(200, 100, |x, _| Luma([60 + (x * 160 / 200) as u8]));
        for y in (10..90).step_by(10) {
            for x in 0..200 {
                let v = g.get_pixel(x, y)[0];
                g.put_pixel(x, y, Luma([v / 3]));
            }
        }
        let b = binarize(&g);
        let line_black = (0..200).filter(|&x| b.get_pixel(x, 50)[0] == 0).count();
        let gap_white = (0..200).filter(|&x| b.get_pixel(x, 55)[0] == 255).count();
        assert!(line_black > 180, "line kept: {line_black}");
        assert!(gap_white > 180, "background white: {gap_white}");
    }

    #[test]
    fn shadow_reduced() {
        let img = RgbImage::from_fn(256, 256, |x, _| {
            let v = 120 + (x / 2) as u8;
            Rgb([v, v, v])
        });
        let out = reduce_shadow(&img);
        let l = out.get_pixel(10, 128)[0] as i32;
        let r = out.get_pixel(245, 128)[0] as i32;
        assert!((l - r).abs() < 25, "{l} vs {r}");
        assert!(l > 200);
    }

    #[test]
    fn black_edges_trimmed() {
        let img = RgbImage::from_fn(100, 80, |x, y| {
            if x < 6 || y > 74 {
                Rgb([10, 10, 10])
            } else {
                Rgb([230, 230, 230])
            }
        });
        assert_eq!(remove_black_edge(img).dimensions(), (94, 75));
    }

    #[test]
    fn rotated_crop() {
        let img = RgbImage::from_fn(100, 100, |x, _| {
            if x < 50 {
                Rgb([0, 0, 0])
            } else {
                Rgb([255, 255, 255])
            }
        });
        let c = crop_rotated(&img, 50.0, 50.0, 20, 10, 90.0);
        assert_eq!(c.dimensions(), (20, 10));
        // Rotated 90 degrees: the black half is now on top or bottom.
        let top = c.get_pixel(10, 1)[0];
        let bottom = c.get_pixel(10, 8)[0];
        assert_ne!(top, bottom);
    }

    #[test]
    fn split() {
        let parts = split_page(&RgbImage::new(101, 50));
        assert_eq!(parts[0].dimensions(), (50, 50));
        assert_eq!(parts[1].dimensions(), (51, 50));
    }
}
