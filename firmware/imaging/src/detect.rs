//! Automatic document / card boundary detection on the base mat.
//!
//! Pipeline (see `find_objects`):
//!
//! 1. Box-downscale to a working copy of ~560-800 px long side, blur lightly.
//! 2. Colour gradient magnitude; pixels above a noise-adaptive threshold form
//!    *barriers*. The remaining flat pixels are split into 4-connected regions.
//! 3. The region touching the frame border most is the mat. A smooth background field
//!    (mat colour x illumination) is estimated from it on a coarse grid and inpainted
//!    under the objects. Every other flat region is classified mat or object by its mean
//!    colour against that field (so the test is local and immune to vignetting);
//!    neutral, darker, thin regions are taken as cast shadows (mat). Barrier pixels get
//!    the class of the nearest flat region, which puts the object outline in the middle
//!    of its edge band. Text and photos on a page are enclosed by the page's own edge,
//!    so they never split it; holes are filled.
//! 4. Each object component becomes a quad: convex hull, then greedy removal of hull
//!    edges with the least added area until four remain.
//! 5. Sub-pixel refinement on the full-resolution image: along ~50 normals per edge
//!    the colour (divided by the background field) is projected onto the object/mat
//!    contrast direction; the outermost sharp rising step is the edge (so soft shadows
//!    outside and print inside are skipped). A robust line fit per edge and the
//!    intersections of adjacent lines give the corners. Edges lying on the frame border
//!    (objects partly outside) are snapped to it.

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

/// Every object lying on the base mat, largest first (empty when none is found).
pub fn find_objects(img: &RgbImage, hint: DocHint) -> Vec<Quad> {
    let (fw, fh) = img.dimensions();
    if fw < 32 || fh < 32 {
        return Vec::new();
    }
    let k = work_factor(fw, fh);
    let work = downscale(img, k);
    let smooth = blur5(&work);
    let seg = segment(&smooth);
    let frame_area = (fw as f32) * (fh as f32);
    let mut out: Vec<Quad> = Vec::new();
    for comp in &seg.objects {
        let coarse_w = comp.quad;
        let coarse = coarse_w.scale(k as f32, k as f32);
        let coarse = snap_to_frame(&coarse, fw as f32, fh as f32, k as f32);
        let m_in = interior_colour(&smooth, &seg.bg, &coarse_w);
        let rq = refine(img, &seg.bg, k as f32, &coarse, m_in, hint);
        if std::env::var("DETECT_DEBUG").is_ok() {
            eprintln!("coarse {:?} refined {:?} m_in {:?}", coarse, rq, m_in);
        }
        let q = rq.unwrap_or(coarse);
        let a = q.area();
        if a < MIN_AREA_FRAC * frame_area || a > MAX_AREA_FRAC * frame_area {
            continue;
        }
        out.push(q);
    }
    out.sort_by(|a, b| {
        b.area()
            .partial_cmp(&a.area())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

fn work_factor(w: u32, h: u32) -> usize {
    let long = w.max(h) as usize;
    (long / 560).max(1)
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

fn downscale(img: &RgbImage, k: usize) -> Planar {
    let (fw, fh) = (img.width() as usize, img.height() as usize);
    let w = fw / k;
    let h = fh / k;
    let mut out = Planar::new(w, h);
    let raw = img.as_raw();
    let mut acc = vec![0u32; w * 3];
    let norm = 1.0 / (k * k) as f32;
    for y in 0..h {
        acc.iter_mut().for_each(|v| *v = 0);
        for yy in y * k..y * k + k {
            let row = &raw[yy * fw * 3..yy * fw * 3 + w * k * 3];
            for x in 0..w {
                let seg = &row[x * k * 3..(x + 1) * k * 3];
                let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
                for p in seg.chunks_exact(3) {
                    r += p[0] as u32;
                    g += p[1] as u32;
                    b += p[2] as u32;
                }
                acc[x * 3] += r;
                acc[x * 3 + 1] += g;
                acc[x * 3 + 2] += b;
            }
        }
        for x in 0..w {
            let i = y * w + x;
            out.c[0][i] = acc[x * 3] as f32 * norm;
            out.c[1][i] = acc[x * 3 + 1] as f32 * norm;
            out.c[2][i] = acc[x * 3 + 2] as f32 * norm;
        }
    }
    out
}

/// Separable [1 4 6 4 1]/16 blur (sigma ~1), edges clamped.
fn blur5(src: &Planar) -> Planar {
    let (w, h) = (src.w, src.h);
    let mut out = Planar::new(w, h);
    let mut tmp = vec![0.0f32; w * h];
    const K: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
    for c in 0..3 {
        let s = &src.c[c];
        for y in 0..h {
            let row = &s[y * w..(y + 1) * w];
            for x in 0..w {
                let mut acc = 0.0;
                for (j, kv) in K.iter().enumerate() {
                    let xx = (x + j).saturating_sub(2).min(w - 1);
                    acc += kv * row[xx];
                }
                tmp[y * w + x] = acc;
            }
        }
        let o = &mut out.c[c];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (j, kv) in K.iter().enumerate() {
                    let yy = (y + j).saturating_sub(2).min(h - 1);
                    acc += kv * tmp[yy * w + x];
                }
                o[y * w + x] = acc;
            }
        }
    }
    out
}

/// Colour Sobel gradient magnitude (per-pixel derivative units).
fn gradient(s: &Planar) -> Vec<f32> {
    let (w, h) = (s.w, s.h);
    let mut g = vec![0.0f32; w * h];
    for y in 0..h {
        let ym = y.saturating_sub(1);
        let yp = (y + 1).min(h - 1);
        for x in 0..w {
            let xm = x.saturating_sub(1);
            let xp = (x + 1).min(w - 1);
            let mut acc = 0.0;
            for c in 0..3 {
                let p = &s.c[c];
                let a = |xx: usize, yy: usize| p[yy * w + xx];
                let gx = (a(xp, ym) + 2.0 * a(xp, y) + a(xp, yp)
                    - a(xm, ym)
                    - 2.0 * a(xm, y)
                    - a(xm, yp))
                    / 8.0;
                let gy = (a(xm, yp) + 2.0 * a(x, yp) + a(xp, yp)
                    - a(xm, ym)
                    - 2.0 * a(x, ym)
                    - a(xp, ym))
                    / 8.0;
                acc += gx * gx + gy * gy;
            }
            g[y * w + x] = acc.sqrt();
        }
    }
    g
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let m = v.len() / 2;
    let (_, x, _) = v.select_nth_unstable_by(m, |a, b| {
        a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
    });
    *x
}

/// 4- or 8-connected labelling of `mask`; label 0 is "not in mask".
fn label(mask: &[bool], w: usize, h: usize, conn8: bool) -> (Vec<u32>, usize) {
    let mut lab = vec![0u32; w * h];
    let mut n = 0u32;
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..w * h {
        if !mask[start] || lab[start] != 0 {
            continue;
        }
        n += 1;
        lab[start] = n;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let x = i % w;
            let y = i / w;
            let mut visit = |j: usize| {
                if mask[j] && lab[j] == 0 {
                    lab[j] = n;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
            if conn8 {
                if x > 0 && y > 0 {
                    visit(i - w - 1);
                }
                if x + 1 < w && y > 0 {
                    visit(i - w + 1);
                }
                if x > 0 && y + 1 < h {
                    visit(i + w - 1);
                }
                if x + 1 < w && y + 1 < h {
                    visit(i + w + 1);
                }
            }
        }
    }
    (lab, n as usize)
}

// ---------------------------------------------------------------------------------
// Segmentation
// ---------------------------------------------------------------------------------

struct ObjectComp {
    /// Coarse quad in working-image coordinates.
    quad: Quad,
}

struct Segmentation {
    bg: Planar,
    objects: Vec<ObjectComp>,
}

const CLASS_MAT: u8 = 1;
const USE_SHADOW: bool = false;
const CLASS_OBJ: u8 = 2;

fn segment(s: &Planar) -> Segmentation {
    let (w, h) = (s.w, s.h);
    let n = w * h;
    let g = gradient(s);
    let mut sample: Vec<f32> = g.iter().step_by(3).copied().collect();
    let med_g = median(&mut sample);
    let thr = (3.0 * med_g).clamp(2.0, 4.5);
    // Barriers: strong gradient, dilated by one pixel so that the crest of a thin line
    // (zero gradient at its centre) does not connect regions.
    // A coarser scale catches faint straight edges (white page on a light mat) that the
    // texture of the mat would drown at the fine scale.
    let g2 = gradient(&blur5(&blur5(s)));
    let mut sample2: Vec<f32> = g2.iter().step_by(3).copied().collect();
    let thr2 = (3.0 * median(&mut sample2)).clamp(1.2, 3.0);
    let strong: Vec<bool> = g
        .iter()
        .zip(&g2)
        .map(|(&v, &v2)| v >= thr || v2 >= thr2)
        .collect();
    let mut flat = vec![true; n];
    for y in 0..h {
        for x in 0..w {
            if strong[y * w + x] {
                for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                    for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                        flat[yy * w + xx] = false;
                    }
                }
            }
        }
    }
    let (mut lab, nlab) = label(&flat, w, h, false);

    // Region statistics; specks are treated like barrier pixels.
    let mut count = vec![0u32; nlab + 1];
    let mut border = vec![0u32; nlab + 1];
    for y in 0..h {
        for x in 0..w {
            let l = lab[y * w + x] as usize;
            count[l] += 1;
            if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
                border[l] += 1;
            }
        }
    }
    for l in lab.iter_mut() {
        if count[*l as usize] < 6 {
            *l = 0;
        }
    }
    let main = (1..=nlab)
        .filter(|&l| count[l] >= 6)
        .max_by_key(|&l| (border[l], count[l]))
        .unwrap_or(0);
    if main == 0 {
        return Segmentation {
            bg: background(s, &lab, &[false]),
            objects: Vec::new(),
        };
    }

    // Every pixel gets the region of the nearest flat pixel (its "source").
    let (full, src) = propagate_labels(&lab, w, h);

    // Contacts between regions, with the colours of both sides next to the contact.
    let mut contacts: Vec<(u64, usize, usize)> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            for j in [i + 1, i + w] {
                if (j == i + 1 && x + 1 >= w) || (j == i + w && y + 1 >= h) {
                    continue;
                }
                let (a, b) = (full[i], full[j]);
                if a != b && a != 0 && b != 0 {
                    let (lo, hi, si, sj) = if a < b {
                        (a, b, src[i], src[j])
                    } else {
                        (b, a, src[j], src[i])
                    };
                    contacts.push((((lo as u64) << 32) | hi as u64, si, sj));
                }
            }
        }
    }
    contacts.sort_unstable_by_key(|c| c.0);
    struct Contact {
        a: usize,
        b: usize,
        ca: [f32; 3],
        cb: [f32; 3],
    }
    let mut adj: Vec<Contact> = Vec::new();
    let mut i = 0;
    while i < contacts.len() {
        let key = contacts[i].0;
        let mut sa = [0.0f32; 3];
        let mut sb = [0.0f32; 3];
        let mut m = 0.0f32;
        while i < contacts.len() && contacts[i].0 == key {
            let pa = s.px(contacts[i].1);
            let pb = s.px(contacts[i].2);
            for c in 0..3 {
                sa[c] += pa[c];
                sb[c] += pb[c];
            }
            m += 1.0;
            i += 1;
        }
        if m >= 3.0 {
            adj.push(Contact {
                a: (key >> 32) as usize,
                b: (key & 0xffff_ffff) as usize,
                ca: sa.map(|v| v / m),
                cb: sb.map(|v| v / m),
            });
        }
    }
    let mut nbrs: Vec<Vec<usize>> = vec![Vec::new(); nlab + 1];
    for (ci, c) in adj.iter().enumerate() {
        nbrs[c.a].push(ci);
        nbrs[c.b].push(ci);
    }

    // Noise level of the mat: spread of the main region around its own smooth field.
    let mut is_mat = vec![false; nlab + 1];
    is_mat[main] = true;
    let bg0 = background(s, &lab, &is_mat);
    let mut res: Vec<f32> = Vec::with_capacity(n / 4);
    for i in (0..n).step_by(2) {
        if lab[i] as usize == main {
            res.push(dist3(s.px(i), bg0.px(i)));
        }
    }
    let tc = (3.0 * median(&mut res)).max(8.0);

    // Flood the mat over contacts whose two sides look alike (grid lines, texture and
    // seams of a cutting mat) or where the far side is a soft cast shadow.
    let thickness = |l: usize, perim: u32| 2.0 * count[l] as f32 / perim.max(1) as f32;
    let mut perim = vec![0u32; nlab + 1];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let l = lab[i] as usize;
            if l == 0 {
                continue;
            }
            let edge = (x == 0 || lab[i - 1] as usize != l)
                || (x + 1 == w || lab[i + 1] as usize != l)
                || (y == 0 || lab[i - w] as usize != l)
                || (y + 1 == h || lab[i + w] as usize != l);
            if edge {
                perim[l] += 1;
            }
        }
    }
    let shadow_of = |c: [f32; 3], m: [f32; 3], l: usize| {
        let ratio = [0, 1, 2].map(|ch| c[ch] / m[ch].max(4.0));
        let rmax = ratio.iter().copied().fold(f32::MIN, f32::max);
        let rmin = ratio.iter().copied().fold(f32::MAX, f32::min);
        rmax < 0.97 && rmin > 0.45 && rmax - rmin < 0.08 && thickness(l, perim[l]) < 8.0
    };
    let mut stack = vec![main];
    while let Some(m) = stack.pop() {
        for &ci in &nbrs[m] {
            let c = &adj[ci];
            let (other, cm, co) = if c.a == m {
                (c.b, c.ca, c.cb)
            } else {
                (c.a, c.cb, c.ca)
            };
            if is_mat[other] {
                continue;
            }
            if dist3(cm, co) < tc || (USE_SHADOW && shadow_of(co, cm, other)) {
                if std::env::var("DETECT_DEBUG").is_ok() && count[other] > 40 {
                    eprintln!(
                        "flood {m}->{other} n {} cm {:?} co {:?} d {} sh {}",
                        count[other],
                        cm,
                        co,
                        dist3(cm, co),
                        shadow_of(co, cm, other)
                    );
                }
                is_mat[other] = true;
                stack.push(other);
            }
        }
    }
    let bg = background(s, &lab, &is_mat);
    if std::env::var("DETECT_DEBUG").is_ok() {
        let mut hist = [0usize; 12];
        for c in &adj {
            let d = dist3(c.ca, c.cb);
            hist[((d / 2.0) as usize).min(11)] += 1;
        }
        let nm = is_mat.iter().filter(|&&b| b).count();
        eprintln!(
            "adj {} hist(2-level bins) {:?} flooded {} of {}",
            adj.len(),
            hist,
            nm,
            nlab
        );
    }

    // Regions not reached: compare their mean colour with the background field.
    let mut sum_s = vec![[0.0f64; 3]; nlab + 1];
    let mut sum_b = vec![[0.0f64; 3]; nlab + 1];
    for i in 0..n {
        let l = lab[i] as usize;
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
    let mut class_of = vec![CLASS_MAT; nlab + 1];
    for l in 1..=nlab {
        if is_mat[l] || count[l] < 6 {
            continue;
        }
        let cnt = count[l] as f64;
        let ms = sum_s[l].map(|v| (v / cnt) as f32);
        let mb = sum_b[l].map(|v| (v / cnt) as f32);
        if dist3(ms, mb) > tc && !(USE_SHADOW && shadow_of(ms, mb, l)) {
            class_of[l] = CLASS_OBJ;
        }
    }
    let mut class: Vec<u8> = full.iter().map(|&l| class_of[l as usize]).collect();
    // Edge bands and dense print right at an object's border are not flat, so they took
    // the class of the nearest flat region, which may be the mat. Pixels there that
    // clearly differ from the mat (other than by a neutral shadow) are object; thin
    // mat structures caught this way (grid lines) are removed by the opening below.
    // Deviation from the mat, and its local maximum so that a pixel in an edge band only
    // counts as object past the middle of the transition.
    let dev: Vec<f32> = (0..n)
        .map(|i| {
            let p = s.px(i);
            let b = bg.px(i);
            if neutral_darker(p, b) {
                0.0
            } else {
                dist3(p, b)
            }
        })
        .collect();
    let local_max = max_filter(&dev, w, h, 3);
    for i in 0..n {
        if lab[i] != 0 {
            continue;
        }
        if dev[i] > tc.max(0.5 * local_max[i]) {
            class[i] = CLASS_OBJ;
        } else if dev[i] < tc {
            class[i] = CLASS_MAT;
        }
    }
    open_objects(&mut class, w, h);
    // DEBUG-BEGIN
    if let Ok(p) = std::env::var("DETECT_DEBUG") {
        let mut im = RgbImage::new(w as u32, h as u32);
        for i in 0..n {
            let l = full[i] as usize;
            let v = if class_of[l] == CLASS_OBJ { 200u8 } else { 40 };
            let b = if lab[i] == 0 { 60u8 } else { 0 };
            let m = if is_mat[l] { 80u8 } else { 0 };
            im.put_pixel(
                (i % w) as u32,
                (i / w) as u32,
                image::Rgb([v, v.saturating_add(m), v.saturating_add(b)]),
            );
        }
        let _ = im.save(&p);
        eprintln!("thr {thr} thr2 {thr2} tc {tc} main {main} nlab {nlab}");
    }
    // DEBUG-END

    // Object components, holes filled.
    let objmask: Vec<bool> = class.iter().map(|&c| c == CLASS_OBJ).collect();
    let (mut olab, nobj) = label(&objmask, w, h, false);
    let notobj: Vec<bool> = objmask.iter().map(|&b| !b).collect();
    let (hlab, nholes) = label(&notobj, w, h, true);
    let mut hole_touches = vec![false; nholes + 1];
    let mut hole_owner = vec![0u32; nholes + 1];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let hl = hlab[i] as usize;
            if hl == 0 {
                continue;
            }
            if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
                hole_touches[hl] = true;
            }
            if hole_owner[hl] == 0 {
                if x > 0 && olab[i - 1] != 0 {
                    hole_owner[hl] = olab[i - 1];
                } else if y > 0 && olab[i - w] != 0 {
                    hole_owner[hl] = olab[i - w];
                }
            }
        }
    }
    for i in 0..n {
        let hl = hlab[i] as usize;
        if hl != 0 && !hole_touches[hl] && hole_owner[hl] != 0 {
            olab[i] = hole_owner[hl];
        }
    }

    // Per-object row extents.
    let mut area = vec![0u32; nobj + 1];
    let mut rows: Vec<Vec<(u32, u32, u32)>> = vec![Vec::new(); nobj + 1];
    for y in 0..h {
        let mut x = 0;
        while x < w {
            let l = olab[y * w + x] as usize;
            if l == 0 {
                x += 1;
                continue;
            }
            let start = x;
            while x < w && olab[y * w + x] as usize == l {
                x += 1;
            }
            area[l] += (x - start) as u32;
            let r = &mut rows[l];
            match r.last_mut() {
                Some(last) if last.0 == y as u32 => {
                    last.1 = last.1.min(start as u32);
                    last.2 = last.2.max(x as u32);
                }
                _ => r.push((y as u32, start as u32, x as u32)),
            }
        }
    }
    let frame = (w * h) as f32;
    let mut objects = Vec::new();
    for l in 1..=nobj {
        let a = area[l] as f32;
        if a < 0.7 * MIN_AREA_FRAC * frame || a > 0.98 * frame {
            continue;
        }
        let mut pts: Vec<(f64, f64)> = Vec::with_capacity(rows[l].len() * 4);
        for &(y, x0, x1) in &rows[l] {
            let (y, x0, x1) = (y as f64, x0 as f64, x1 as f64);
            pts.extend_from_slice(&[(x0, y), (x0, y + 1.0), (x1, y), (x1, y + 1.0)]);
        }
        let hull = convex_hull(&pts);
        let Some(q) = reduce_to_quad(hull) else {
            continue;
        };
        let quad = Quad::ordered(q.map(|(x, y)| (x as f32, y as f32)));
        let qa = quad.area();
        if qa <= 0.0 || a / qa < 0.75 || !quad.is_convex() {
            continue;
        }
        objects.push(ObjectComp { quad });
    }
    Segmentation { bg, objects }
}

/// Colour `c` is the mat colour `m` darkened without a hue change (a cast shadow).
fn neutral_darker(c: [f32; 3], m: [f32; 3]) -> bool {
    let ratio = [0, 1, 2].map(|ch| c[ch] / m[ch].max(1e-3));
    let rmax = ratio.iter().copied().fold(f32::MIN, f32::max);
    let rmin = ratio.iter().copied().fold(f32::MAX, f32::min);
    rmax < 0.97 && rmin > 0.45 && rmax - rmin < 0.08
}

/// Morphological opening (3x3) of the object class: drops structures under 3 px wide.
fn open_objects(class: &mut [u8], w: usize, h: usize) {
    let is = |c: &[u8], x: usize, y: usize| c[y * w + x] == CLASS_OBJ;
    let mut eroded = vec![false; w * h];
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            eroded[y * w + x] = is(class, x - 1, y - 1)
                && is(class, x, y - 1)
                && is(class, x + 1, y - 1)
                && is(class, x - 1, y)
                && is(class, x, y)
                && is(class, x + 1, y)
                && is(class, x - 1, y + 1)
                && is(class, x, y + 1)
                && is(class, x + 1, y + 1);
        }
    }
    // Keep objects touching the frame border intact along it.
    for y in 0..h {
        for x in 0..w {
            if (x == 0 || y == 0 || x + 1 == w || y + 1 == h) && is(class, x, y) {
                let xi = x.clamp(1, w.saturating_sub(2));
                let yi = y.clamp(1, h.saturating_sub(2));
                if eroded[yi * w + xi] {
                    eroded[y * w + x] = true;
                }
            }
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut any = false;
            for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    any |= eroded[yy * w + xx];
                }
            }
            class[y * w + x] = if any { CLASS_OBJ } else { CLASS_MAT };
        }
    }
}

/// Separable (2r+1)^2 maximum filter.
fn max_filter(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut m = f32::MIN;
            for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                m = m.max(v[y * w + xx]);
            }
            tmp[y * w + x] = m;
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut m = f32::MIN;
            for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                m = m.max(tmp[yy * w + x]);
            }
            out[y * w + x] = m;
        }
    }
    out
}

fn dist3(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Gives unlabelled pixels (barriers, specks) the label of the nearest labelled one
/// (breadth first); also returns, for every pixel, the flat pixel it got its label from.
fn propagate_labels(lab: &[u32], w: usize, h: usize) -> (Vec<u32>, Vec<usize>) {
    let mut full = lab.to_vec();
    let mut src: Vec<usize> = (0..w * h).collect();
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
        let mut nb = [usize::MAX; 4];
        if x > 0 {
            nb[0] = i - 1;
        }
        if x + 1 < w {
            nb[1] = i + 1;
        }
        if y > 0 {
            nb[2] = i - w;
        }
        if y + 1 < h {
            nb[3] = i + w;
        }
        for j in nb {
            if j != usize::MAX && full[j] == 0 {
                full[j] = full[i];
                src[j] = src[i];
                queue.push_back(j);
            }
        }
    }
    (full, src)
}

/// Smooth mat colour x illumination field from the pixels of region `main`, estimated on
/// a coarse grid (cell medians), inpainted under objects, smoothed, bilinearly expanded.
fn background(s: &Planar, lab: &[u32], is_mat: &[bool]) -> Planar {
    let (w, h) = (s.w, s.h);
    let cs = ((w.max(h)) / 40).max(6);
    let gw = w.div_ceil(cs);
    let gh = h.div_ceil(cs);
    let mut grid = vec![[0.0f32; 3]; gw * gh];
    let mut known = vec![false; gw * gh];
    let mut buf: [Vec<f32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut global: [Vec<f32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for gy in 0..gh {
        for gx in 0..gw {
            buf.iter_mut().for_each(|b| b.clear());
            for y in gy * cs..((gy + 1) * cs).min(h) {
                for x in gx * cs..((gx + 1) * cs).min(w) {
                    let i = y * w + x;
                    if is_mat.get(lab[i] as usize).copied().unwrap_or(false) {
                        for c in 0..3 {
                            buf[c].push(s.c[c][i]);
                        }
                    }
                }
            }
            if buf[0].len() >= cs * cs / 4 {
                for c in 0..3 {
                    let m = median(&mut buf[c]);
                    grid[gy * gw + gx][c] = m;
                    global[c].push(m);
                }
                known[gy * gw + gx] = true;
            }
        }
    }
    if global[0].is_empty() {
        // No usable mat: fall back to the border ring median.
        for y in 0..h {
            for x in 0..w {
                if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
                    for c in 0..3 {
                        global[c].push(s.c[c][y * w + x]);
                    }
                }
            }
        }
        let m = [0, 1, 2].map(|c| median(&mut global[c]));
        let mut out = Planar::new(w, h);
        for c in 0..3 {
            out.c[c].iter_mut().for_each(|v| *v = m[c]);
        }
        return out;
    }
    // Onion-peel inpainting of unknown cells from known neighbours.
    let mut filled = known.clone();
    loop {
        let mut changed = false;
        let snapshot = filled.clone();
        let prev = grid.clone();
        for gy in 0..gh {
            for gx in 0..gw {
                let i = gy * gw + gx;
                if snapshot[i] {
                    continue;
                }
                let mut acc = [0.0f32; 3];
                let mut wsum = 0.0;
                for dy in -1i32..=1 {
                    for dx in -1i32..=1 {
                        let (nx, ny) = (gx as i32 + dx, gy as i32 + dy);
                        if nx < 0 || ny < 0 || nx >= gw as i32 || ny >= gh as i32 {
                            continue;
                        }
                        let j = ny as usize * gw + nx as usize;
                        if snapshot[j] {
                            let wt = if dx == 0 || dy == 0 { 1.0 } else { 0.7 };
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
    // Light smoothing of the inpainted cells only (keeps measured cells exact).
    for _ in 0..4 {
        let prev = grid.clone();
        for gy in 0..gh {
            for gx in 0..gw {
                let i = gy * gw + gx;
                if known[i] {
                    continue;
                }
                let mut acc = [0.0f32; 3];
                let mut n = 0.0;
                for (dx, dy) in [(0i32, 0i32), (-1, 0), (1, 0), (0, -1), (0, 1)] {
                    let (nx, ny) = (gx as i32 + dx, gy as i32 + dy);
                    if nx < 0 || ny < 0 || nx >= gw as i32 || ny >= gh as i32 {
                        continue;
                    }
                    let j = ny as usize * gw + nx as usize;
                    for c in 0..3 {
                        acc[c] += prev[j][c];
                    }
                    n += 1.0;
                }
                grid[i] = acc.map(|v| v / n);
            }
        }
    }
    // Bilinear expansion (cell centres at (g + 0.5) * cs).
    let mut out = Planar::new(w, h);
    for y in 0..h {
        let fy = ((y as f32 + 0.5) / cs as f32 - 0.5).clamp(0.0, (gh - 1) as f32);
        let y0 = fy as usize;
        let y1 = (y0 + 1).min(gh - 1);
        let ay = fy - y0 as f32;
        for x in 0..w {
            let fx = ((x as f32 + 0.5) / cs as f32 - 0.5).clamp(0.0, (gw - 1) as f32);
            let x0 = fx as usize;
            let x1 = (x0 + 1).min(gw - 1);
            let ax = fx - x0 as f32;
            let i = y * w + x;
            for c in 0..3 {
                let top = grid[y0 * gw + x0][c] * (1.0 - ax) + grid[y0 * gw + x1][c] * ax;
                let bot = grid[y1 * gw + x0][c] * (1.0 - ax) + grid[y1 * gw + x1][c] * ax;
                out.c[c][i] = top * (1.0 - ay) + bot * ay;
            }
        }
    }
    out
}

/// Reduces a convex polygon to four vertices by repeatedly dropping the edge whose
/// removal (extending its neighbours to their intersection) adds the least area.
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
        if std::env::var("DETECT_DEBUG").is_ok() && j == nprof / 2 {
            eprintln!(
                "d {:?} wn {wn} t {:?}",
                d,
                ts.iter()
                    .map(|v| (v * 100.0).round() as i32)
                    .collect::<Vec<_>>()
            );
        }
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
) -> Option<Quad> {
    let (fw, fh) = (img.width() as f32, img.height() as f32);
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
        let lo = (r_out as f32 + 2.0 * k + 2.0).round() as usize;
        let hi = (r_out as f32 + 4.0 * k + 3.0).round() as usize;
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
            .min_by(|a, b| a.2.partial_cmp(&b.2).unwrap_or(std::cmp::Ordering::Equal))
        {
            lines[e] = c.0;
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
    Some(q)
}
