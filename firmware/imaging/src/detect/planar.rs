//! Planar float images (three `f32` channels) and the pixel-level steps on them: the box
//! downscale and blur giving the working copy (stage 1), the colour gradient and its
//! ridges, medians.

use image::RgbImage;

#[derive(Debug, Clone)]
pub(super) struct Planar {
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) c: [Vec<f32>; 3],
}

impl Planar {
    pub(super) fn new(w: usize, h: usize) -> Planar {
        Planar {
            w,
            h,
            c: [vec![0.0; w * h], vec![0.0; w * h], vec![0.0; w * h]],
        }
    }

    #[inline]
    pub(super) fn px(&self, i: usize) -> [f32; 3] {
        [self.c[0][i], self.c[1][i], self.c[2][i]]
    }

    /// Bilinear sample at continuous coordinates (pixel centres at `i + 0.5`).
    pub(super) fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let fx = (x - 0.5).clamp(0.0, (self.w - 1) as f32);
        let fy = (y - 0.5).clamp(0.0, (self.h - 1) as f32);
        let x0 = fx as usize;
        let y0 = fy as usize;
        let x1 = (x0 + 1).min(self.w - 1);
        let y1 = (y0 + 1).min(self.h - 1);
        let ax = fx - x0 as f32;
        let ay = fy - y0 as f32;
        let mut o = [0.0; 3];
        for (c, ov) in o.iter_mut().enumerate() {
            let p = &self.c[c];
            let top = p[y0 * self.w + x0] * (1.0 - ax) + p[y0 * self.w + x1] * ax;
            let bot = p[y1 * self.w + x0] * (1.0 - ax) + p[y1 * self.w + x1] * ax;
            *ov = top * (1.0 - ay) + bot * ay;
        }
        o
    }
}

/// Box average over `k x k` blocks into a `w x h` copy (the caller checked that the image
/// covers `w*k x h*k`; what lies beyond is dropped).
pub(super) fn downscale(img: &RgbImage, k: usize, w: usize, h: usize) -> Planar {
    let fw = img.width() as usize;
    let mut out = Planar::new(w, h);
    let raw = img.as_raw();
    let used = w * k * 3;
    // Column sums over the k rows of a block row (vectorises), then k columns at once.
    let mut cols = vec![0u32; used];
    let norm = 1.0 / (k * k) as f32;
    for y in 0..h {
        cols.iter_mut().for_each(|v| *v = 0);
        for yy in y * k..y * k + k {
            let row = &raw[yy * fw * 3..yy * fw * 3 + used];
            for (c, &v) in cols.iter_mut().zip(row) {
                *c += v as u32;
            }
        }
        for x in 0..w {
            let block = &cols[x * k * 3..(x + 1) * k * 3];
            let mut acc = [0u32; 3];
            for p in block.chunks_exact(3) {
                acc[0] += p[0];
                acc[1] += p[1];
                acc[2] += p[2];
            }
            let i = y * w + x;
            out.c[0][i] = acc[0] as f32 * norm;
            out.c[1][i] = acc[1] as f32 * norm;
            out.c[2][i] = acc[2] as f32 * norm;
        }
    }
    out
}

/// Separable [1 4 6 4 1]/16 blur (sigma ~1), edges clamped.
pub(super) fn blur5(src: &Planar) -> Planar {
    let (w, h) = (src.w, src.h);
    let mut out = Planar::new(w, h);
    let mut tmp = vec![0.0f32; w * h];
    let cl = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    for c in 0..3 {
        let s = &src.c[c];
        for y in 0..h {
            let row = &s[y * w..(y + 1) * w];
            let o = &mut tmp[y * w..(y + 1) * w];
            for x in 0..w {
                let xi = x as isize;
                o[x] = if x >= 2 && x + 2 < w {
                    (row[x - 2] + row[x + 2] + 4.0 * (row[x - 1] + row[x + 1]) + 6.0 * row[x])
                        * (1.0 / 16.0)
                } else {
                    (row[cl(xi - 2, w)]
                        + row[cl(xi + 2, w)]
                        + 4.0 * (row[cl(xi - 1, w)] + row[cl(xi + 1, w)])
                        + 6.0 * row[x])
                        * (1.0 / 16.0)
                };
            }
        }
        let o = &mut out.c[c];
        for y in 0..h {
            let yi = y as isize;
            let r = [-2isize, -1, 0, 1, 2].map(|d| cl(yi + d, h) * w);
            let (r0, r1, r2, r3, r4) = (
                &tmp[r[0]..r[0] + w],
                &tmp[r[1]..r[1] + w],
                &tmp[r[2]..r[2] + w],
                &tmp[r[3]..r[3] + w],
                &tmp[r[4]..r[4] + w],
            );
            let orow = &mut o[y * w..(y + 1) * w];
            for x in 0..w {
                orow[x] = (r0[x] + r4[x] + 4.0 * (r1[x] + r3[x]) + 6.0 * r2[x]) * (1.0 / 16.0);
            }
        }
    }
    out
}

/// Colour Sobel gradient (per-pixel derivative units): magnitude, and the direction
/// of strongest change from the colour structure tensor, quantised to 0 (x),
/// 1 (diagonal down-right), 2 (y), 3 (diagonal down-left).
pub(super) fn gradient(s: &Planar) -> (Vec<f32>, Vec<u8>) {
    let (w, h) = (s.w, s.h);
    let mut g = vec![0.0f32; w * h];
    let mut dir = vec![0u8; w * h];
    let mut jxx = vec![0.0f32; w];
    let mut jyy = vec![0.0f32; w];
    let mut jxy = vec![0.0f32; w];
    for y in 0..h {
        let ym = y.saturating_sub(1);
        let yp = (y + 1).min(h - 1);
        jxx.iter_mut().for_each(|v| *v = 0.0);
        jyy.iter_mut().for_each(|v| *v = 0.0);
        jxy.iter_mut().for_each(|v| *v = 0.0);
        for c in 0..3 {
            let p = &s.c[c];
            let r0 = &p[ym * w..ym * w + w];
            let r1 = &p[y * w..y * w + w];
            let r2 = &p[yp * w..yp * w + w];
            for x in 0..w {
                let xm = x.saturating_sub(1);
                let xp = (x + 1).min(w - 1);
                let gx = (r0[xp] + 2.0 * r1[xp] + r2[xp] - r0[xm] - 2.0 * r1[xm] - r2[xm]) * 0.125;
                let gy = (r2[xm] + 2.0 * r2[x] + r2[xp] - r0[xm] - 2.0 * r0[x] - r0[xp]) * 0.125;
                jxx[x] += gx * gx;
                jyy[x] += gy * gy;
                jxy[x] += gx * gy;
            }
        }
        for x in 0..w {
            let i = y * w + x;
            g[i] = (jxx[x] + jyy[x]).sqrt();
            // Dominant orientation theta = atan2(2 jxy, jxx - jyy) / 2, rounded to 45°.
            let a = jxx[x] - jyy[x];
            let b = 2.0 * jxy[x];
            dir[i] = if b.abs() <= a.abs() {
                if a >= 0.0 {
                    0
                } else {
                    2
                }
            } else if b > 0.0 {
                1
            } else {
                3
            };
        }
    }
    (g, dir)
}

/// Thin ridges of the gradient magnitude (non-maximum suppression) at or above `lo`
/// that connect to a ridge pixel at or above `hi` (hysteresis, 8-connected).
pub(super) fn hysteresis_ridges(
    g: &[f32],
    dir: &[u8],
    w: usize,
    h: usize,
    lo: f32,
    hi: f32,
) -> Vec<bool> {
    let mut ridge = vec![false; w * h];
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let i = y * w + x;
            let v = g[i];
            if v < lo {
                continue;
            }
            let (a, b) = match dir[i] {
                0 => (i - 1, i + 1),
                1 => (i - w - 1, i + w + 1),
                2 => (i - w, i + w),
                _ => (i - w + 1, i + w - 1),
            };
            if v >= g[a] && v > g[b] {
                ridge[i] = true;
            }
        }
    }
    let mut keep = vec![false; w * h];
    let mut stack: Vec<usize> = Vec::new();
    for i in 0..w * h {
        if ridge[i] && g[i] >= hi {
            keep[i] = true;
            stack.push(i);
        }
    }
    while let Some(i) = stack.pop() {
        let x = i % w;
        let y = i / w;
        for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
            for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                let j = yy * w + xx;
                if ridge[j] && !keep[j] {
                    keep[j] = true;
                    stack.push(j);
                }
            }
        }
    }
    keep
}

pub(super) fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let m = v.len() / 2;
    let (_, x, _) = v.select_nth_unstable_by(m, |a, b| a.total_cmp(b));
    *x
}
