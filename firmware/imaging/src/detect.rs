//! Automatic document / card boundary detection on the base mat.
//!
//! `find_objects` works in four stages:
//!
//! 1. **Working copy.** Box-downscale to ~560-800 px on the long side and blur lightly
//!    (sigma ~1 px). All segmentation runs there (~0.3 Mpx), whatever the camera size.
//! 2. **Segmentation.** Colour gradient magnitude; pixels above a noise-adaptive
//!    threshold (dilated by one pixel), plus thin gradient ridges linked by hysteresis
//!    to strong ones, are *edges*. The rest splits into flat regions. The region
//!    touching the frame border most is mat; the mat then floods to neighbouring
//!    regions whose colours match across the edge between them (texture, seams and
//!    grid lines of a cutting mat). A smooth background field — mat colour times
//!    illumination — is estimated from the mat on a coarse grid and inpainted under the
//!    objects. Remaining regions are object when their mean colour is off that field;
//!    edge pixels are object when their own colour is off it (a neutral darkening, i.e.
//!    a cast shadow, does not count). A closing bridges thin mat-coloured runs inside
//!    objects, an opening removes thin mat structures, holes are filled: text and
//!    photos on a page never split it.
//! 3. **Quad per object.** Convex hull reduced to four sides (greedy removal of the hull
//!    edge adding least area), then each side refitted (RANSAC) to the longest straight
//!    run of the object outline near it, so junk stuck to one spot cannot drag a corner.
//! 4. **Sub-pixel refinement on the full image.** Along ~50 normals per side the colour,
//!    divided by the background field, is projected onto the object/mat contrast; the
//!    outermost sharp rising step is the edge (soft shadows outside and print inside are
//!    passed over). A robust line fit per side and the intersections of adjacent lines
//!    give the corners. Sides lying on the frame border (object partly outside) stay
//!    there.

use crate::geometry::{convex_hull, sample_bilinear, Quad};
use image::RgbImage;

/// Document type selected on the device (vendor `document_type` 0/1/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocHint {
    /// Vendor 0: white paper documents.
    WhiteDocument,
    /// Vendor 1: colour pages (default).
    #[default]
    ColorPage,
    /// Vendor 2: ID / bank cards (rounded corners).
    Card,
}

impl DocHint {
    /// Maps the vendor `document_type` (0, 1, 2); anything else is the default.
    pub fn from_vendor(v: i64) -> DocHint {
        match v {
            0 => DocHint::WhiteDocument,
            2 => DocHint::Card,
            _ => DocHint::ColorPage,
        }
    }
}

/// Objects smaller than this share of the frame are ignored.
const MIN_AREA_FRAC: f32 = 0.01;
/// Quads larger than this share of the frame are the frame itself.
const MAX_AREA_FRAC: f32 = 0.93;
/// Share of an object's outline (mean over its four sides) that must show a straight
/// colour step at full resolution.
const MIN_EDGE_SUPPORT: f32 = 0.55;
/// Flat regions smaller than this (working pixels) are too small to judge.
const MIN_REGION: u32 = 25;
/// Flat regions thinner than this (2 x area / perimeter, working pixels) are the crest
/// of a line (a grid line, a stroke), not a surface.
const MIN_THICKNESS: f32 = 2.5;

/// Every object lying on the base mat, largest first (empty when none is found).
pub fn find_objects(img: &RgbImage, hint: DocHint) -> Vec<Quad> {
    match coarse(img, 1, img.width(), img.height()) {
        Some(c) => refine_objects(img, &c, hint),
        None => Vec::new(),
    }
}

/// The first stage of [`find_objects`]: segmentation of a small working copy. It needs only a
/// reduced picture, so a caller holding a JPEG can run it on a DCT-scaled decode while the
/// full-size decode runs beside it ([`preview_scale`] says which reduction fits).
pub struct Coarse {
    k: usize,
    smooth: Planar,
    seg: Segmentation,
}

/// The reduction (1 or 2) a preview for [`coarse`] may have for a `w x h` frame.
pub fn preview_scale(w: u32, h: u32) -> usize {
    if work_factor(w, h).is_multiple_of(2) {
        2
    } else {
        1
    }
}

/// Segment `small`, a copy of a `full_w x full_h` frame reduced by `scale` (1 or the value of
/// [`preview_scale`]; dimensions rounded up, as libjpeg-turbo's scaled decode gives them).
/// None for frames too small to hold a document or a preview that does not fit.
pub fn coarse(small: &RgbImage, scale: usize, full_w: u32, full_h: u32) -> Option<Coarse> {
    if full_w < 32 || full_h < 32 || scale == 0 {
        return None;
    }
    let k = work_factor(full_w, full_h);
    if !k.is_multiple_of(scale) {
        return None;
    }
    let (w, h) = (full_w as usize / k, full_h as usize / k);
    let ks = k / scale;
    if (small.width() as usize) < w * ks || (small.height() as usize) < h * ks {
        return None;
    }
    let work = downscale(small, ks, w, h);
    let smooth = blur5(&work);
    let seg = segment(&smooth);
    Some(Coarse { k, smooth, seg })
}

/// The second stage of [`find_objects`]: each coarse object refined on the full frame.
pub fn refine_objects(img: &RgbImage, c: &Coarse, hint: DocHint) -> Vec<Quad> {
    let (fw, fh) = img.dimensions();
    let (seg, smooth) = (&c.seg, &c.smooth);
    let frame_area = (fw as f32) * (fh as f32);
    let kf = c.k as f32;
    let mut out: Vec<Quad> = Vec::new();
    for coarse_w in &seg.objects {
        let coarse = snap_to_frame(&coarse_w.scale(kf, kf), fw as f32, fh as f32, kf);
        let m_in = interior_colour(smooth, &seg.bg, coarse_w);
        let (q, support) = refine(img, &seg.bg, kf, &coarse, m_in, hint).unwrap_or((coarse, 0.0));
        let a = q.area();
        // A real object shows a straight step along most of its outline; a blob of
        // mat (texture, a grid patch) does not.
        if support < MIN_EDGE_SUPPORT
            || a < MIN_AREA_FRAC * frame_area
            || a > MAX_AREA_FRAC * frame_area
        {
            continue;
        }
        out.push(q);
    }
    out.sort_by(|a, b| b.area().total_cmp(&a.area()));
    // Objects on the mat do not overlap: a quad mostly inside a bigger one is print on
    // that one (a framed box on a page, say).
    let mut kept: Vec<Quad> = Vec::with_capacity(out.len());
    for q in out {
        let a = q.area();
        let inside = kept.iter().any(|k| {
            let iou = q.iou(k);
            let inter = iou * (a + k.area()) / (1.0 + iou);
            inter > 0.3 * a
        });
        if !inside {
            kept.push(q);
        }
    }
    kept
}

/// Integer downscale factor giving a working copy of ~400-800 px on the long side.
fn work_factor(w: u32, h: u32) -> usize {
    (w.max(h) as usize / 400).max(1)
}

// ---------------------------------------------------------------------------------
// Planar float images
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Planar {
    w: usize,
    h: usize,
    c: [Vec<f32>; 3],
}

impl Planar {
    fn new(w: usize, h: usize) -> Planar {
        Planar {
            w,
            h,
            c: [vec![0.0; w * h], vec![0.0; w * h], vec![0.0; w * h]],
        }
    }

    #[inline]
    fn px(&self, i: usize) -> [f32; 3] {
        [self.c[0][i], self.c[1][i], self.c[2][i]]
    }

    /// Bilinear sample at continuous coordinates (pixel centres at `i + 0.5`).
    fn sample(&self, x: f32, y: f32) -> [f32; 3] {
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
fn downscale(img: &RgbImage, k: usize, w: usize, h: usize) -> Planar {
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
fn blur5(src: &Planar) -> Planar {
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
fn gradient(s: &Planar) -> (Vec<f32>, Vec<u8>) {
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
fn hysteresis_ridges(g: &[f32], dir: &[u8], w: usize, h: usize, lo: f32, hi: f32) -> Vec<bool> {
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

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let m = v.len() / 2;
    let (_, x, _) = v.select_nth_unstable_by(m, |a, b| a.total_cmp(b));
    *x
}

/// 4- or 8-connected labelling of `mask`; label 0 is "not in mask".
fn label(mask: &[bool], w: usize, h: usize, conn8: bool) -> (Vec<u32>, usize) {
    let mut lab = vec![0u32; w * h];
    let mut n = 0u32;
    let mut stack: Vec<u32> = Vec::new();
    for start in 0..w * h {
        if !mask[start] || lab[start] != 0 {
            continue;
        }
        n += 1;
        lab[start] = n;
        stack.push(start as u32);
        while let Some(i) = stack.pop() {
            let i = i as usize;
            let x = i % w;
            let has_l = x > 0;
            let has_r = x + 1 < w;
            let has_u = i >= w;
            let has_d = i + w < w * h;
            let mut visit = |j: usize| {
                if mask[j] && lab[j] == 0 {
                    lab[j] = n;
                    stack.push(j as u32);
                }
            };
            if has_l {
                visit(i - 1);
            }
            if has_r {
                visit(i + 1);
            }
            if has_u {
                visit(i - w);
            }
            if has_d {
                visit(i + w);
            }
            if conn8 {
                if has_u && has_l {
                    visit(i - w - 1);
                }
                if has_u && has_r {
                    visit(i - w + 1);
                }
                if has_d && has_l {
                    visit(i + w - 1);
                }
                if has_d && has_r {
                    visit(i + w + 1);
                }
            }
        }
    }
    (lab, n as usize)
}

// ---------------------------------------------------------------------------------
// Binary morphology (square structuring elements, separable running sums)
// ---------------------------------------------------------------------------------

/// Dilation with a (2r+1)^2 square; outside the frame counts as empty.
fn binary_dilate(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    // Horizontal pass with a running count along each row.
    let mut tmp = vec![false; w * h];
    for y in 0..h {
        let row = &m[y * w..(y + 1) * w];
        let out = &mut tmp[y * w..(y + 1) * w];
        let mut cnt: u32 = row[..r.min(w)].iter().map(|&v| v as u32).sum();
        for x in 0..w {
            if x + r < w {
                cnt += row[x + r] as u32;
            }
            if x > r {
                cnt -= row[x - r - 1] as u32;
            }
            out[x] = cnt > 0;
        }
    }
    // Vertical pass with running counts per column, row by row.
    let mut out = vec![false; w * h];
    let mut cnt = vec![0u32; w];
    for y in 0..r.min(h) {
        for (c, &v) in cnt.iter_mut().zip(&tmp[y * w..(y + 1) * w]) {
            *c += v as u32;
        }
    }
    for y in 0..h {
        if y + r < h {
            for (c, &v) in cnt.iter_mut().zip(&tmp[(y + r) * w..(y + r + 1) * w]) {
                *c += v as u32;
            }
        }
        if y > r {
            let yy = y - r - 1;
            for (c, &v) in cnt.iter_mut().zip(&tmp[yy * w..(yy + 1) * w]) {
                *c -= v as u32;
            }
        }
        for (o, &c) in out[y * w..(y + 1) * w].iter_mut().zip(&cnt) {
            *o = c > 0;
        }
    }
    out
}

/// Erosion with a (2r+1)^2 square; outside the frame counts as full, so that objects
/// cut by the frame keep their side on it.
fn binary_erode(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let inv: Vec<bool> = m.iter().map(|&v| !v).collect();
    binary_dilate(&inv, w, h, r).iter().map(|&v| !v).collect()
}

fn binary_open(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    binary_dilate(&binary_erode(m, w, h, r), w, h, r)
}

fn binary_close(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    binary_erode(&binary_dilate(m, w, h, r), w, h, r)
}

fn dist3(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Colour `c` is the mat colour `m` darkened without a hue change (a cast shadow).
fn neutral_darker(c: [f32; 3], m: [f32; 3]) -> bool {
    let ratio = [0, 1, 2].map(|ch| c[ch] / m[ch].max(1e-3));
    let rmax = ratio.iter().copied().fold(f32::MIN, f32::max);
    let rmin = ratio.iter().copied().fold(f32::MAX, f32::min);
    rmax < 0.97 && rmin > 0.45 && rmax - rmin < 0.08
}

// ---------------------------------------------------------------------------------
// Segmentation
// ---------------------------------------------------------------------------------

struct Segmentation {
    /// Mat colour x illumination at working scale.
    bg: Planar,
    /// Coarse quads in working-image coordinates.
    objects: Vec<Quad>,
}

/// A pair of touching regions and the colours on either side of the contact.
struct Contact {
    a: usize,
    b: usize,
    ca: [f32; 3],
    cb: [f32; 3],
}

fn segment(s: &Planar) -> Segmentation {
    let (w, h) = (s.w, s.h);
    let n = w * h;

    // Edges: strong gradient (dilated by one pixel so that the crest of a thin line,
    // where the gradient vanishes, does not connect regions), plus faint continuous
    // ridges hooked to strong ones (a white page on a light, textured mat).
    let (g, dir) = gradient(s);
    let mut sample: Vec<f32> = g.iter().step_by(3).copied().collect();
    let thr = (3.0 * median(&mut sample)).clamp(2.0, 4.5);
    let ridges = hysteresis_ridges(&g, &dir, w, h, (0.45 * thr).max(1.5), thr);
    let strong: Vec<bool> = g.iter().map(|&v| v >= thr).collect();
    let strong = binary_dilate(&strong, w, h, 1);
    let flat: Vec<bool> = (0..n).map(|i| !strong[i] && !ridges[i]).collect();

    // Flat regions; specks and line crests count as edges.
    let (mut lab, nlab) = label(&flat, w, h, false);
    let mut count = vec![0u32; nlab + 1];
    let mut perim = vec![0u32; nlab + 1];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let l = lab[i];
            if l == 0 {
                continue;
            }
            count[l as usize] += 1;
            let edge = x == 0
                || x + 1 == w
                || y == 0
                || y + 1 == h
                || lab[i - 1] != l
                || lab[i + 1] != l
                || lab[i - w] != l
                || lab[i + w] != l;
            if edge {
                perim[l as usize] += 1;
            }
        }
    }
    let keep: Vec<bool> = (0..=nlab)
        .map(|l| {
            l != 0
                && count[l] >= MIN_REGION
                && 2.0 * count[l] as f32 / perim[l].max(1) as f32 >= MIN_THICKNESS
        })
        .collect();
    let mut border = vec![0u32; nlab + 1];
    for (i, l) in lab.iter_mut().enumerate() {
        if !keep[*l as usize] {
            *l = 0;
            continue;
        }
        let (x, y) = (i % w, i / w);
        if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
            border[*l as usize] += 1;
        }
    }
    let main = (1..=nlab)
        .filter(|&l| keep[l])
        .max_by_key(|&l| (border[l], count[l]))
        .unwrap_or(0);
    if main == 0 {
        return Segmentation {
            bg: background(s, &lab, &[false]),
            objects: Vec::new(),
        };
    }

    // Contacts: every pixel takes the region of its nearest flat pixel; where two
    // regions meet, compare the colours of those nearest flat pixels.
    let (full, src) = propagate_labels(&lab, w, h);
    let adj = contacts(s, &full, &src, w, h);
    let mut nbrs: Vec<Vec<usize>> = vec![Vec::new(); nlab + 1];
    for (ci, c) in adj.iter().enumerate() {
        nbrs[c.a].push(ci);
        nbrs[c.b].push(ci);
    }

    // Noise level of the mat: spread of the main region around its own smooth field.
    let mut is_mat = vec![false; nlab + 1];
    is_mat[main] = true;
    let bg0 = background(s, &lab, &is_mat);
    let mut res: Vec<f32> = (0..n)
        .step_by(2)
        .filter(|&i| lab[i] as usize == main)
        .map(|i| dist3(s.px(i), bg0.px(i)))
        .collect();
    let tc0 = (3.0 * median(&mut res)).max(8.0);

    // Flood the mat over contacts whose two sides look alike.
    let mut stack = vec![main];
    while let Some(m) = stack.pop() {
        for &ci in &nbrs[m] {
            let c = &adj[ci];
            let (other, cm, co) = if c.a == m {
                (c.b, c.ca, c.cb)
            } else {
                (c.a, c.cb, c.ca)
            };
            if !is_mat[other] && dist3(cm, co) < tc0 {
                is_mat[other] = true;
                stack.push(other);
            }
        }
    }
    // Regions not reached (mat cut off by a long receipt, mat behind a grid line the
    // flood could not cross): object when their mean colour is off the field. Twice:
    // the second field also uses the mat regions found by the first pass.
    let mut bg = background(s, &lab, &is_mat);
    let mut tc = tc0;
    let mut region_obj = vec![false; nlab + 1];
    for pass in 0..2 {
        // Spread of the whole mat (texture, noise) around the field.
        let mut res: Vec<f32> = (0..n)
            .step_by(2)
            .filter(|&i| is_mat[lab[i] as usize])
            .map(|i| dist3(s.px(i), bg.px(i)))
            .collect();
        tc = tc0.max(3.0 * median(&mut res));
        let mut sum_s = vec![[0.0f64; 3]; nlab + 1];
        let mut sum_b = vec![[0.0f64; 3]; nlab + 1];
        for (i, &l) in lab.iter().enumerate() {
            let l = l as usize;
            if l == 0 || is_mat[l] {
                continue;
            }
            let p = s.px(i);
            let b = bg.px(i);
            for c in 0..3 {
                sum_s[l][c] += p[c] as f64;
                sum_b[l][c] += b[c] as f64;
            }
        }
        let mut grown = false;
        for l in 1..=nlab {
            if is_mat[l] || !keep[l] {
                region_obj[l] = false;
                continue;
            }
            let cnt = count[l] as f64;
            let ms = sum_s[l].map(|v| (v / cnt) as f32);
            let mb = sum_b[l].map(|v| (v / cnt) as f32);
            region_obj[l] = dist3(ms, mb) > tc;
            if pass == 0 && !region_obj[l] {
                is_mat[l] = true;
                grown = true;
            }
        }
        if pass == 0 && grown {
            bg = background(s, &lab, &is_mat);
        }
    }

    // Flat pixels follow their region; edge pixels their own colour against the field
    // (a neutral darkening, a cast shadow, is not an object). The closing bridges thin
    // mat-coloured runs inside objects (white print on a dark band, the grey transition
    // between a dark band and a light card body); the opening removes thin structures
    // (grid lines of a cutting mat, texture specks).
    let cand: Vec<bool> = (0..n)
        .map(|i| {
            if lab[i] != 0 {
                return region_obj[lab[i] as usize];
            }
            let p = s.px(i);
            let b = bg.px(i);
            !neutral_darker(p, b) && dist3(p, b) > tc
        })
        .collect();
    let closed = binary_close(&cand, w, h, 2);
    // The closing may only add pixels on a steep edge (a transition inside an object),
    // not the calmer middle of a narrow gap between two objects.
    let closed: Vec<bool> = (0..n)
        .map(|i| cand[i] || (closed[i] && g[i] >= thr))
        .collect();
    let obj = binary_open(&closed, w, h, 2);

    // Object components with holes filled, then cut thin bridges to junk again.
    let obj = fill_holes(&obj, w, h);
    let obj = binary_open(&obj, w, h, 2);
    let (mut olab, mut nobj) = label(&obj, w, h, false);
    split_necks(&mut olab, &mut nobj, w, h);

    let frame = (w * h) as f32;
    let mut area = vec![0u32; nobj + 1];
    let mut hull_pts: Vec<Vec<(f64, f64)>> = vec![Vec::new(); nobj + 1];
    let mut bnd: Vec<Vec<(f32, f32, i8, i8)>> = vec![Vec::new(); nobj + 1];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let l = olab[i];
            if l == 0 {
                continue;
            }
            area[l as usize] += 1;
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let left = x == 0 || olab[i - 1] != l;
            let right = x + 1 == w || olab[i + 1] != l;
            let up = y == 0 || olab[i - w] != l;
            let down = y + 1 == h || olab[i + w] != l;
            let b = &mut bnd[l as usize];
            if left {
                b.push((fx - 0.5, fy, -1, 0));
            }
            if right {
                b.push((fx + 0.5, fy, 1, 0));
            }
            if up {
                b.push((fx, fy - 0.5, 0, -1));
            }
            if down {
                b.push((fx, fy + 0.5, 0, 1));
            }
            if left || right || up || down {
                let (xf, yf) = (x as f64, y as f64);
                hull_pts[l as usize].extend_from_slice(&[
                    (xf, yf),
                    (xf + 1.0, yf),
                    (xf, yf + 1.0),
                    (xf + 1.0, yf + 1.0),
                ]);
            }
        }
    }
    let mut objects = Vec::new();
    for l in 1..=nobj {
        let a = area[l] as f32;
        if a < 0.7 * MIN_AREA_FRAC * frame || a > 0.98 * frame {
            continue;
        }
        let hull = convex_hull(&hull_pts[l]);
        let Some(q) = reduce_to_quad(hull) else {
            continue;
        };
        let hull_quad = Quad::ordered(q.map(|(x, y)| (x as f32, y as f32)));
        let quad = fit_sides(&hull_quad, &bnd[l]).unwrap_or(hull_quad);
        let qa = quad.area();
        if qa <= 0.0 || a / qa < 0.75 || !quad.is_convex() {
            continue;
        }
        objects.push(quad);
    }
    Segmentation { bg, objects }
}

/// Two objects lying close together can merge through a narrow bridge. A component
/// that fills its quad poorly is eroded; if it falls apart into several sizeable
/// pieces, its pixels are shared out among them (nearest piece, within the component).
fn split_necks(olab: &mut [u32], nobj: &mut usize, w: usize, h: usize) {
    let frame = (w * h) as f32;
    let n0 = *nobj;
    let mut bbox = vec![(usize::MAX, usize::MAX, 0usize, 0usize); n0 + 1];
    let mut area = vec![0u32; n0 + 1];
    let mut pts: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n0 + 1];
    for y in 0..h {
        for x in 0..w {
            let l = olab[y * w + x] as usize;
            if l == 0 {
                continue;
            }
            area[l] += 1;
            let b = &mut bbox[l];
            *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            if x == 0
                || olab[y * w + x - 1] as usize != l
                || x + 1 == w
                || olab[y * w + x + 1] as usize != l
            {
                let (xf, yf) = (x as f64, y as f64);
                pts[l].extend_from_slice(&[
                    (xf, yf),
                    (xf + 1.0, yf),
                    (xf, yf + 1.0),
                    (xf + 1.0, yf + 1.0),
                ]);
            }
        }
    }
    for l in 1..=n0 {
        if (area[l] as f32) < 0.02 * frame {
            continue;
        }
        let Some(q) = reduce_to_quad(convex_hull(&pts[l])) else {
            continue;
        };
        let qa = Quad::ordered(q.map(|(x, y)| (x as f32, y as f32))).area();
        if qa <= 0.0 || area[l] as f32 / qa >= 0.92 {
            continue;
        }
        // Crop with a margin of empty pixels, erode, look for pieces.
        let (bx0, by0, bx1, by1) = bbox[l];
        let pad = 4;
        let (cw, ch) = (bx1 - bx0 + 1 + 2 * pad, by1 - by0 + 1 + 2 * pad);
        let mut crop = vec![false; cw * ch];
        for y in by0..=by1 {
            for x in bx0..=bx1 {
                crop[(y - by0 + pad) * cw + (x - bx0 + pad)] = olab[y * w + x] as usize == l;
            }
        }
        for r in [2usize, 3, 4] {
            let er = binary_erode(&crop, cw, ch, r);
            let (plab, np) = label(&er, cw, ch, false);
            let mut parea = vec![0u32; np + 1];
            for &p in &plab {
                parea[p as usize] += 1;
            }
            let big: Vec<usize> = (1..=np)
                .filter(|&p| parea[p] as f32 >= 0.004 * frame)
                .collect();
            if big.len() < 2 {
                continue;
            }
            // Grow the pieces back inside the component (breadth first).
            let mut owner = vec![0u32; cw * ch];
            let mut queue = std::collections::VecDeque::new();
            for (i, &p) in plab.iter().enumerate() {
                if let Some(k) = big.iter().position(|&b| b == p as usize) {
                    owner[i] = k as u32 + 1;
                    queue.push_back(i);
                }
            }
            while let Some(i) = queue.pop_front() {
                let (x, y) = (i % cw, i / cw);
                let nb = [
                    (x > 0).then(|| i - 1),
                    (x + 1 < cw).then(|| i + 1),
                    (y > 0).then(|| i - cw),
                    (y + 1 < ch).then(|| i + cw),
                ];
                for j in nb.into_iter().flatten() {
                    if crop[j] && owner[j] == 0 {
                        owner[j] = owner[i];
                        queue.push_back(j);
                    }
                }
            }
            let base = *nobj as u32;
            for y in by0..=by1 {
                for x in bx0..=bx1 {
                    let o = owner[(y - by0 + pad) * cw + (x - bx0 + pad)];
                    if olab[y * w + x] as usize == l {
                        olab[y * w + x] = match o {
                            0 => 0,
                            1 => l as u32,
                            k => base + k - 1,
                        };
                    }
                }
            }
            *nobj += big.len() - 1;
            break;
        }
    }
}

/// Fills the holes of every component of `m` (background parts not connected to the
/// frame border).
fn fill_holes(m: &[bool], w: usize, h: usize) -> Vec<bool> {
    let inv: Vec<bool> = m.iter().map(|&v| !v).collect();
    let (hl, nh) = label(&inv, w, h, true);
    let mut outside = vec![false; nh + 1];
    for y in 0..h {
        for x in 0..w {
            if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
                outside[hl[y * w + x] as usize] = true;
            }
        }
    }
    (0..w * h)
        .map(|i| m[i] || !outside[hl[i] as usize])
        .collect()
}

/// Gives unlabelled pixels (edges, specks) the label of the nearest labelled one
/// (breadth first); also returns, for every pixel, the flat pixel it got it from.
fn propagate_labels(lab: &[u32], w: usize, h: usize) -> (Vec<u32>, Vec<u32>) {
    let mut full = lab.to_vec();
    let mut src: Vec<u32> = (0..(w * h) as u32).collect();
    let mut queue: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    for i in 0..w * h {
        if full[i] != 0 {
            let x = i % w;
            let y = i / w;
            let near_none = (x > 0 && full[i - 1] == 0)
                || (x + 1 < w && full[i + 1] == 0)
                || (y > 0 && full[i - w] == 0)
                || (y + 1 < h && full[i + w] == 0);
            if near_none {
                queue.push_back(i);
            }
        }
    }
    while let Some(i) = queue.pop_front() {
        let x = i % w;
        let y = i / w;
        let nb = [
            (x > 0).then(|| i - 1),
            (x + 1 < w).then(|| i + 1),
            (y > 0).then(|| i - w),
            (y + 1 < h).then(|| i + w),
        ];
        for j in nb.into_iter().flatten() {
            if full[j] == 0 {
                full[j] = full[i];
                src[j] = src[i];
                queue.push_back(j);
            }
        }
    }
    (full, src)
}

/// Region contacts with the mean colours of the flat pixels on each side.
fn contacts(s: &Planar, full: &[u32], src: &[u32], w: usize, h: usize) -> Vec<Contact> {
    let mut raw: Vec<(u64, u32, u32)> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let right = (x + 1 < w).then(|| i + 1);
            let down = (y + 1 < h).then(|| i + w);
            for j in [right, down].into_iter().flatten() {
                let (a, b) = (full[i], full[j]);
                if a != b && a != 0 && b != 0 {
                    let (lo, hi, si, sj) = if a < b {
                        (a, b, src[i], src[j])
                    } else {
                        (b, a, src[j], src[i])
                    };
                    raw.push((((lo as u64) << 32) | hi as u64, si, sj));
                }
            }
        }
    }
    raw.sort_unstable_by_key(|c| c.0);
    let mut out = Vec::new();
    for group in raw.chunk_by(|a, b| a.0 == b.0) {
        if group.len() < 3 {
            continue;
        }
        let mut sa = [0.0f32; 3];
        let mut sb = [0.0f32; 3];
        for &(_, si, sj) in group {
            let pa = s.px(si as usize);
            let pb = s.px(sj as usize);
            for c in 0..3 {
                sa[c] += pa[c];
                sb[c] += pb[c];
            }
        }
        let m = group.len() as f32;
        let key = group[0].0;
        out.push(Contact {
            a: (key >> 32) as usize,
            b: (key & 0xffff_ffff) as usize,
            ca: sa.map(|v| v / m),
            cb: sb.map(|v| v / m),
        });
    }
    out
}

/// Smooth mat colour x illumination field from the pixels of the mat regions: cell
/// medians on a coarse grid, inpainted (onion peel) under objects, smoothed there,
/// bilinearly expanded.
fn background(s: &Planar, lab: &[u32], is_mat: &[bool]) -> Planar {
    let (w, h) = (s.w, s.h);
    let cs = (w.max(h) / 40).max(6);
    let gw = w.div_ceil(cs);
    let gh = h.div_ceil(cs);
    let mut grid = vec![[0.0f32; 3]; gw * gh];
    let mut known = vec![false; gw * gh];
    let mut buf: [Vec<f32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let is = |i: usize| is_mat.get(lab[i] as usize).copied().unwrap_or(false);
    for gy in 0..gh {
        for gx in 0..gw {
            buf.iter_mut().for_each(|b| b.clear());
            let (y0, y1) = (gy * cs, ((gy + 1) * cs).min(h));
            let (x0, x1) = (gx * cs, ((gx + 1) * cs).min(w));
            for y in (y0..y1).step_by(2) {
                for x in (x0..x1).step_by(2) {
                    let i = y * w + x;
                    if is(i) {
                        for (b, ch) in buf.iter_mut().zip(&s.c) {
                            b.push(ch[i]);
                        }
                    }
                }
            }
            let total = (y1 - y0).div_ceil(2) * (x1 - x0).div_ceil(2);
            if !buf[0].is_empty() && buf[0].len() * 4 >= total {
                for c in 0..3 {
                    grid[gy * gw + gx][c] = median(&mut buf[c]);
                }
                known[gy * gw + gx] = true;
            }
        }
    }
    if !known.iter().any(|&k| k) {
        // No usable mat: the border ring median.
        let mut ring: [Vec<f32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for y in 0..h {
            for x in 0..w {
                if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
                    for (r, ch) in ring.iter_mut().zip(&s.c) {
                        r.push(ch[y * w + x]);
                    }
                }
            }
        }
        let mut out = Planar::new(w, h);
        for (ch, r) in out.c.iter_mut().zip(ring.iter_mut()) {
            let m = median(r);
            ch.iter_mut().for_each(|v| *v = m);
        }
        return out;
    }
    // Onion-peel inpainting of unknown cells from known neighbours.
    let mut filled = known.clone();
    loop {
        let snapshot = filled.clone();
        let prev = grid.clone();
        let mut changed = false;
        for gy in 0..gh {
            for gx in 0..gw {
                let i = gy * gw + gx;
                if snapshot[i] {
                    continue;
                }
                let mut acc = [0.0f32; 3];
                let mut wsum = 0.0;
                for ny in gy.saturating_sub(1)..=(gy + 1).min(gh - 1) {
                    for nx in gx.saturating_sub(1)..=(gx + 1).min(gw - 1) {
                        let j = ny * gw + nx;
                        if snapshot[j] {
                            let wt = if nx == gx || ny == gy { 1.0 } else { 0.7 };
                            for c in 0..3 {
                                acc[c] += wt * prev[j][c];
                            }
                            wsum += wt;
                        }
                    }
                }
                if wsum > 0.0 {
                    grid[i] = acc.map(|v| v / wsum);
                    filled[i] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Light smoothing of the inpainted cells only (measured cells stay as measured).
    for _ in 0..4 {
        let prev = grid.clone();
        for gy in 0..gh {
            for gx in 0..gw {
                let i = gy * gw + gx;
                if known[i] {
                    continue;
                }
                let mut acc = [0.0f32; 3];
                let mut cnt = 0.0;
                for (nx, ny) in [
                    (gx, gy),
                    (gx.wrapping_sub(1), gy),
                    (gx + 1, gy),
                    (gx, gy.wrapping_sub(1)),
                    (gx, gy + 1),
                ] {
                    if nx >= gw || ny >= gh {
                        continue;
                    }
                    let j = ny * gw + nx;
                    for c in 0..3 {
                        acc[c] += prev[j][c];
                    }
                    cnt += 1.0;
                }
                grid[i] = acc.map(|v| v / cnt);
            }
        }
    }
    // Bilinear expansion (cell centres at (g + 0.5) * cs).
    let axis = |len: usize, glen: usize| -> Vec<(usize, usize, f32)> {
        (0..len)
            .map(|p| {
                let f = ((p as f32 + 0.5) / cs as f32 - 0.5).clamp(0.0, (glen - 1) as f32);
                let p0 = f as usize;
                (p0, (p0 + 1).min(glen - 1), f - p0 as f32)
            })
            .collect()
    };
    let xs = axis(w, gw);
    let ys = axis(h, gh);
    let mut out = Planar::new(w, h);
    for (y, &(y0, y1, ay)) in ys.iter().enumerate() {
        for (x, &(x0, x1, ax)) in xs.iter().enumerate() {
            let i = y * w + x;
            let (g00, g01) = (&grid[y0 * gw + x0], &grid[y0 * gw + x1]);
            let (g10, g11) = (&grid[y1 * gw + x0], &grid[y1 * gw + x1]);
            for c in 0..3 {
                let top = g00[c] + (g01[c] - g00[c]) * ax;
                let bot = g10[c] + (g11[c] - g10[c]) * ax;
                out.c[c][i] = top + (bot - top) * ay;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Quads
// ---------------------------------------------------------------------------------

fn fit_sides(hq: &Quad, bnd: &[(f32, f32, i8, i8)]) -> Option<Quad> {
    let p = hq.0;
    let (cx, cy) = hq.centroid();
    let mut lines = [Line {
        n: (0.0, 0.0),
        d: 0.0,
    }; 4];
    let min_side = (0..4)
        .map(|i| {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt()
        })
        .fold(f32::MAX, f32::min);
    let depth = (0.25 * min_side).max(4.0);
    for i in 0..4 {
        let (a, b) = (p[i], p[(i + 1) % 4]);
        let side = Line::through(a, b);
        let mut n = side.n;
        if n.0 * (cx - a.0) + n.1 * (cy - a.1) > 0.0 {
            n = (-n.0, -n.1);
        }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = (dx * dx + dy * dy).max(1e-6);
        let len = len2.sqrt();
        let pts: Vec<(f32, f32)> = bnd
            .iter()
            .filter(|&&(x, y, ox, oy)| {
                let facing = ox as f32 * n.0 + oy as f32 * n.1;
                let d = (x - a.0) * n.0 + (y - a.1) * n.1;
                let t = ((x - a.0) * dx + (y - a.1) * dy) / len2;
                facing > 0.3 && d > -depth && d < 1.5 && t > -0.02 && t < 1.02
            })
            .map(|&(x, y, _, _)| (x, y))
            .collect();
        lines[i] = side;
        if pts.len() < 8 {
            continue;
        }
        // Deterministic RANSAC over point pairs, lines within 20 degrees of the side.
        let m = pts.len();
        let step = (m / 24).max(1);
        let cos_max = 20f32.to_radians().cos();
        let mut best: Option<(usize, Line)> = None;
        let mut u = 0;
        while u < m {
            let mut v = u + (m / 4).max(1);
            while v < m {
                let cand = Line::through(pts[u], pts[v]);
                if (cand.n.0 * n.0 + cand.n.1 * n.1).abs() >= cos_max {
                    let cnt = pts.iter().filter(|&&q| cand.dist(q).abs() <= 1.0).count();
                    if best.as_ref().is_none_or(|(c, _)| cnt > *c) {
                        best = Some((cnt, cand));
                    }
                }
                v += step;
            }
            u += step;
        }
        let Some((cnt, line)) = best else {
            continue;
        };
        if (cnt as f32) < 0.3 * len {
            continue;
        }
        let inl: Vec<(f32, f32)> = pts
            .iter()
            .copied()
            .filter(|&q| line.dist(q).abs() <= 1.0)
            .collect();
        lines[i] = fit_line(&inl).unwrap_or(line);
    }
    let mut corners = [(0.0f32, 0.0f32); 4];
    for (i, c) in corners.iter_mut().enumerate() {
        *c = lines[(i + 3) % 4].intersect(&lines[i])?;
    }
    let q = Quad::ordered(corners);
    if !q.is_convex() || q.area() < 0.5 * hq.area() || q.area() > 1.05 * hq.area() {
        return None;
    }
    Some(q)
}

fn reduce_to_quad(mut p: Vec<(f64, f64)>) -> Option<[(f64, f64); 4]> {
    if p.len() < 4 {
        return None;
    }
    while p.len() > 4 {
        let n = p.len();
        let mut best: Option<(f64, usize, (f64, f64))> = None;
        for i in 0..n {
            let a0 = p[(i + n - 1) % n];
            let a1 = p[i];
            let b0 = p[(i + 1) % n];
            let b1 = p[(i + 2) % n];
            let Some((x, t, s)) = line_intersection(a0, a1, b1, b0) else {
                continue;
            };
            if t < 1.0 - 1e-9 || s < 1.0 - 1e-9 {
                continue;
            }
            let cost = tri_area(a1, x, b0);
            if best.is_none_or(|(c, _, _)| cost < c) {
                best = Some((cost, i, x));
            }
        }
        match best {
            Some((_, i, x)) => {
                let j = (i + 1) % n;
                p[i] = x;
                p.remove(j);
            }
            None => {
                // No convergent pair: drop the vertex spanning the smallest triangle.
                let i = (0..n)
                    .min_by(|&a, &b| {
                        let ta = tri_area(p[(a + n - 1) % n], p[a], p[(a + 1) % n]);
                        let tb = tri_area(p[(b + n - 1) % n], p[b], p[(b + 1) % n]);
                        ta.partial_cmp(&tb).unwrap_or(std::cmp::Ordering::Equal)
                    })
                    .unwrap_or(0);
                p.remove(i);
            }
        }
    }
    Some([p[0], p[1], p[2], p[3]])
}

/// Intersection of line (p0 -> p1) with line (q0 -> q1); returns the point and the
/// parameters along each (1.0 = at p1 / q1).
fn line_intersection(
    p0: (f64, f64),
    p1: (f64, f64),
    q0: (f64, f64),
    q1: (f64, f64),
) -> Option<((f64, f64), f64, f64)> {
    let r = (p1.0 - p0.0, p1.1 - p0.1);
    let s = (q1.0 - q0.0, q1.1 - q0.1);
    let den = r.0 * s.1 - r.1 * s.0;
    if den.abs() < 1e-12 {
        return None;
    }
    let qp = (q0.0 - p0.0, q0.1 - p0.1);
    let t = (qp.0 * s.1 - qp.1 * s.0) / den;
    let u = (qp.0 * r.1 - qp.1 * r.0) / den;
    Some(((p0.0 + t * r.0, p0.1 + t * r.1), t, u))
}

fn tri_area(a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> f64 {
    ((b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)).abs() / 2.0
}

// ---------------------------------------------------------------------------------
// Refinement
// ---------------------------------------------------------------------------------

/// Corners within about one working pixel of the frame edge are put exactly on it.
fn snap_to_frame(q: &Quad, w: f32, h: f32, k: f32) -> Quad {
    let tol = 1.5 * k + 1.0;
    Quad(q.0.map(|(x, y)| {
        let x = if x < tol {
            0.0
        } else if x > w - tol - k {
            w
        } else {
            x
        };
        let y = if y < tol {
            0.0
        } else if y > h - tol - k {
            h
        } else {
            y
        };
        (x, y)
    }))
}

/// Median colour of the object near its outline, relative to the background field.
fn interior_colour(s: &Planar, bg: &Planar, q: &Quad) -> [f32; 3] {
    let (cx, cy) = q.centroid();
    let mut vals: [Vec<f32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..4 {
        let a = q.0[i];
        let b = q.0[(i + 1) % 4];
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-3);
        let (ux, uy) = (dx / len, dy / len);
        let (mut nx, mut ny) = (-uy, ux);
        if nx * (cx - a.0) + ny * (cy - a.1) < 0.0 {
            nx = -nx;
            ny = -ny;
        }
        let m = (len / 3.0).clamp(8.0, 60.0) as usize;
        for j in 0..m {
            let t = 0.1 + 0.8 * (j as f32 + 0.5) / m as f32;
            for off in [3.0f32, 5.0, 8.0, 12.0] {
                let x = a.0 + dx * t + nx * off;
                let y = a.1 + dy * t + ny * off;
                if x < 0.0 || y < 0.0 || x > s.w as f32 || y > s.h as f32 {
                    continue;
                }
                let p = s.sample(x, y);
                let b = bg.sample(x, y);
                for c in 0..3 {
                    vals[c].push(p[c] / b[c].max(4.0));
                }
            }
        }
    }
    [0, 1, 2].map(|c| {
        if vals[c].is_empty() {
            1.0
        } else {
            median(&mut vals[c])
        }
    })
}

#[derive(Debug, Clone, Copy)]
struct Line {
    /// Unit normal and offset: n . p = d.
    n: (f32, f32),
    d: f32,
}

impl Line {
    fn through(a: (f32, f32), b: (f32, f32)) -> Line {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        let n = (-dy / len, dx / len);
        Line {
            n,
            d: n.0 * a.0 + n.1 * a.1,
        }
    }

    fn dist(&self, p: (f32, f32)) -> f32 {
        self.n.0 * p.0 + self.n.1 * p.1 - self.d
    }

    fn intersect(&self, o: &Line) -> Option<(f32, f32)> {
        let det = self.n.0 * o.n.1 - self.n.1 * o.n.0;
        if det.abs() < 1e-6 {
            return None;
        }
        Some((
            (self.d * o.n.1 - self.n.1 * o.d) / det,
            (self.n.0 * o.d - self.d * o.n.0) / det,
        ))
    }
}

/// Total-least-squares line through points.
fn fit_line(pts: &[(f32, f32)]) -> Option<Line> {
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0 as f64).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for p in pts {
        let dx = p.0 as f64 - mx;
        let dy = p.1 as f64 - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    // Direction = principal eigenvector of the scatter matrix.
    let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (ux, uy) = (theta.cos(), theta.sin());
    let nvec = (-uy as f32, ux as f32);
    Some(Line {
        n: nvec,
        d: nvec.0 * mx as f32 + nvec.1 * my as f32,
    })
}

/// RANSAC over point pairs, then least squares on the inliers (twice).
fn robust_line(pts: &[(f32, f32)], tol: f32) -> Option<(Line, usize)> {
    let n = pts.len();
    if n < 4 {
        return None;
    }
    let step = (n / 14).max(1);
    let mut best: Option<(usize, Line)> = None;
    let mut i = 0;
    while i < n {
        let mut j = i + (n / 3).max(1);
        while j < n {
            let l = Line::through(pts[i], pts[j]);
            let cnt = pts.iter().filter(|&&p| l.dist(p).abs() <= tol).count();
            if best.as_ref().is_none_or(|(c, _)| cnt > *c) {
                best = Some((cnt, l));
            }
            j += step;
        }
        i += step;
    }
    let (_, mut line) = best?;
    let mut inl = 0;
    for t in [tol, tol * 0.7] {
        let inliers: Vec<(f32, f32)> = pts
            .iter()
            .copied()
            .filter(|&p| line.dist(p).abs() <= t)
            .collect();
        if inliers.len() < 3 {
            break;
        }
        inl = inliers.len();
        if let Some(l) = fit_line(&inliers) {
            line = l;
        }
    }
    Some((line, inl))
}

/// Normalised colours (image / background field) sampled along the normals of one edge.
struct EdgeProfiles {
    /// Base point of each profile on the coarse edge.
    base: Vec<(f32, f32)>,
    /// `span` samples per profile, offsets `-r_out..=r_in` along the inward normal.
    samples: Vec<[f32; 3]>,
    valid: Vec<bool>,
    span: usize,
    r_out: i32,
    normal: (f32, f32),
}

#[allow(clippy::too_many_arguments)]
fn sample_edge(
    img: &RgbImage,
    bg: &Planar,
    k: f32,
    a: (f32, f32),
    b: (f32, f32),
    normal: (f32, f32),
    r_out: i32,
    r_in: i32,
    s_range: (f32, f32),
) -> EdgeProfiles {
    let (fw, fh) = (img.width() as f32, img.height() as f32);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt().max(1e-3);
    let (ux, uy) = (dx / len, dy / len);
    let nprof = ((len / 8.0) as usize).clamp(8, 80);
    let span = (r_out + r_in + 1) as usize;
    let mut base = Vec::with_capacity(nprof);
    let mut samples = vec![[0.0f32; 3]; nprof * span];
    let mut valid = vec![false; nprof * span];
    for j in 0..nprof {
        let s = s_range.0 + (s_range.1 - s_range.0) * (j as f32 + 0.5) / nprof as f32;
        let bx = a.0 + dx * s;
        let by = a.1 + dy * s;
        base.push((bx, by));
        for (idx, off) in (-r_out..=r_in).enumerate() {
            let px = bx + normal.0 * off as f32;
            let py = by + normal.1 * off as f32;
            if px < 1.0 || py < 1.0 || px > fw - 1.0 || py > fh - 1.0 {
                continue;
            }
            let mut acc = [0.0f32; 3];
            for tj in -3i32..=3 {
                let c = sample_bilinear(img, px + ux * tj as f32, py + uy * tj as f32);
                acc[0] += c[0];
                acc[1] += c[1];
                acc[2] += c[2];
            }
            let bgv = bg.sample(px / k, py / k);
            samples[j * span + idx] = [0, 1, 2].map(|c| acc[c] / 7.0 / bgv[c].max(4.0));
            valid[j * span + idx] = true;
        }
    }
    EdgeProfiles {
        base,
        samples,
        valid,
        span,
        r_out,
        normal,
    }
}

/// For contrast direction `d` (object minus mat, normalised), finds in every profile the
/// outermost sharp rising step of the projection and fits a line through them.
/// Returns the line, its inlier count and the mean offset of the inliers.
fn edge_line(pr: &EdgeProfiles, d: [f32; 3], k: f32) -> Option<(Line, usize, f32)> {
    if d[0] * d[0] + d[1] * d[1] + d[2] * d[2] < 0.03 * 0.03 {
        return None;
    }
    // Split the contrast into a neutral (brightness) part and a chroma part. For an
    // object darker than the mat but of a different hue, down-weight brightness so that
    // a neutral cast shadow in front of it does not look like the object.
    let dn = (d[0] + d[1] + d[2]) / 3.0;
    let dq = [d[0] - dn, d[1] - dn, d[2] - dn];
    let q2 = dq[0] * dq[0] + dq[1] * dq[1] + dq[2] * dq[2];
    let n2 = 3.0 * dn * dn;
    let wn = if dn < 0.0 && q2 >= 0.1 * (q2 + n2) {
        0.2
    } else {
        1.0
    };
    let d2 = wn * n2 + q2;
    let span = pr.span;
    let nprof = pr.base.len();
    let win = (1.0 + k / 2.0).round() as usize + 1;
    let mut t = vec![0.0f32; span];
    let mut ts = vec![0.0f32; span];
    let mut pts: Vec<(f32, f32)> = Vec::with_capacity(nprof);
    let mut offs: Vec<f32> = Vec::with_capacity(nprof);
    for j in 0..nprof {
        let row = &pr.samples[j * span..(j + 1) * span];
        let valid = &pr.valid[j * span..(j + 1) * span];
        for idx in 0..span {
            let c = [row[idx][0] - 1.0, row[idx][1] - 1.0, row[idx][2] - 1.0];
            let cn = (c[0] + c[1] + c[2]) / 3.0;
            let v = wn * 3.0 * cn * dn
                + (c[0] - cn) * dq[0]
                + (c[1] - cn) * dq[1]
                + (c[2] - cn) * dq[2];
            t[idx] = (v / d2).clamp(-0.3, 1.3);
        }
        ts.copy_from_slice(&t);
        for idx in 1..span - 1 {
            ts[idx] = 0.25 * t[idx - 1] + 0.5 * t[idx] + 0.25 * t[idx + 1];
        }
        let g = |i: usize| (ts[i + 1] - ts[i - 1]) / 2.0;
        for idx in 2..span - 2 {
            if !(valid[idx - 2] && valid[idx + 2]) {
                continue;
            }
            let g0 = g(idx);
            if g0 < 0.08 || g0 < g(idx - 1) || g0 <= g(idx + 1) {
                continue;
            }
            let lo = idx.saturating_sub(win);
            let hi = (idx + win).min(span - 1);
            if !(valid[lo] && valid[hi]) || ts[hi] - ts[lo] < 0.45 {
                continue;
            }
            let (gm, gp) = (g(idx - 1), g(idx + 1));
            let den = gm - 2.0 * g0 + gp;
            let delta = if den.abs() > 1e-6 {
                (0.5 * (gm - gp) / den).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let off = (idx as i32 - pr.r_out) as f32 + delta;
            let (bx, by) = pr.base[j];
            pts.push((bx + pr.normal.0 * off, by + pr.normal.1 * off));
            offs.push(off);
            break;
        }
    }
    if pts.len() < (nprof / 3).max(4) {
        return None;
    }
    let tol = 1.0 + 0.25 * k;
    let (line, inl) = robust_line(&pts, tol)?;
    if inl < (nprof * 2 / 5).max(4) {
        return None;
    }
    let mut sum = 0.0;
    let mut n = 0usize;
    for (p, o) in pts.iter().zip(&offs) {
        if line.dist(*p).abs() <= tol {
            sum += o;
            n += 1;
        }
    }
    Some((line, inl, sum / n.max(1) as f32))
}

fn refine(
    img: &RgbImage,
    bg: &Planar,
    k: f32,
    coarse: &Quad,
    m_in: [f32; 3],
    hint: DocHint,
) -> Option<(Quad, f32)> {
    let (fw, fh) = (img.width() as f32, img.height() as f32);
    let mut support = [0.0f32; 4];
    let d_obj = [m_in[0] - 1.0, m_in[1] - 1.0, m_in[2] - 1.0];
    let p = coarse.0;
    let (cx, cy) = coarse.centroid();
    let r_out = (3.0 * k + 3.0).round() as i32;
    let r_in = (10.0 * k + 4.0).round() as i32;
    let s_range = if hint == DocHint::Card {
        (0.12, 0.88)
    } else {
        (0.07, 0.93)
    };
    let tol_frame = 0.5;
    let mut lines = [Line {
        n: (0.0, 0.0),
        d: 0.0,
    }; 4];
    for e in 0..4 {
        let a = p[e];
        let b = p[(e + 1) % 4];
        lines[e] = Line::through(a, b);
        // Edge on the frame border: keep it there.
        let on_frame = (a.0 <= tol_frame && b.0 <= tol_frame)
            || (a.1 <= tol_frame && b.1 <= tol_frame)
            || (a.0 >= fw - tol_frame && b.0 >= fw - tol_frame)
            || (a.1 >= fh - tol_frame && b.1 >= fh - tol_frame);
        if on_frame {
            support[e] = 1.0;
            continue;
        }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt();
        if len < 8.0 {
            continue;
        }
        let (ux, uy) = (dx / len, dy / len);
        let (mut nx, mut ny) = (-uy, ux);
        if nx * (cx - a.0) + ny * (cy - a.1) < 0.0 {
            nx = -nx;
            ny = -ny;
        }
        let pr = sample_edge(img, bg, k, a, b, (nx, ny), r_out, r_in, s_range);
        // Contrast direction just inside this edge (a card's colour band, say) as an
        // alternative to the object's overall colour.
        let mut vals: [Vec<f32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        let lo = (r_out as f32 + 3.0 * k + 3.0).round() as usize;
        let hi = (r_out as f32 + 5.0 * k + 4.0).round() as usize;
        for j in 0..pr.base.len() {
            for idx in lo..=hi.min(pr.span - 1) {
                if pr.valid[j * pr.span + idx] {
                    let c = pr.samples[j * pr.span + idx];
                    for ch in 0..3 {
                        vals[ch].push(c[ch]);
                    }
                }
            }
        }
        let mut cands: Vec<(Line, usize, f32)> = Vec::new();
        if let Some(r) = edge_line(&pr, d_obj, k) {
            cands.push(r);
        }
        if !vals[0].is_empty() {
            let m_edge = [0, 1, 2].map(|c| median(&mut vals[c]));
            let d_edge = [m_edge[0] - 1.0, m_edge[1] - 1.0, m_edge[2] - 1.0];
            let diff = dist3(d_edge, d_obj);
            let scale = dist3(d_obj, [0.0; 3]).max(dist3(d_edge, [0.0; 3]));
            // A shadow-coloured band is the shadow outside a bulged coarse edge, not
            // the object: never track it.
            if diff > 0.25 * scale && !neutral_darker(m_edge, [1.0; 3]) {
                if let Some(r) = edge_line(&pr, d_edge, k) {
                    cands.push(r);
                }
            }
        }
        let best_inl = cands.iter().map(|c| c.1).max().unwrap_or(0);
        if let Some(c) = cands
            .iter()
            .filter(|c| c.1 * 10 >= best_inl * 6)
            .min_by(|a, b| a.2.total_cmp(&b.2))
        {
            lines[e] = c.0;
            support[e] = c.1 as f32 / pr.base.len().max(1) as f32;
        }
    }
    let mut corners = [(0.0f32, 0.0f32); 4];
    for (i, c) in corners.iter_mut().enumerate() {
        let prev = &lines[(i + 3) % 4];
        let cur = &lines[i];
        let x = prev.intersect(cur)?;
        let max_move = (r_in as f32 + r_out as f32) * 1.5;
        if (x.0 - p[i].0).abs() > max_move || (x.1 - p[i].1).abs() > max_move {
            return None;
        }
        *c = (x.0.clamp(0.0, fw), x.1.clamp(0.0, fh));
    }
    let q = Quad(corners);
    if !q.is_convex() {
        return None;
    }
    Some((q, support.iter().sum::<f32>() / 4.0))
}
