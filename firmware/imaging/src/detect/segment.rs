//! Stage 2: segmentation of the working copy into mat and objects, with the smooth
//! background field (mat colour x illumination) and a coarse quad per object.

use super::morph::{
    binary_close, binary_dilate, binary_erode, binary_open, fill_holes, label, propagate_labels,
};
use super::planar::{gradient, hysteresis_ridges, median, Planar};
use super::quad::{fit_sides, reduce_to_quad};
use super::{MIN_AREA_FRAC, MIN_REGION, MIN_THICKNESS};
use crate::geometry::{convex_hull, Quad};

pub(super) struct Segmentation {
    /// Mat colour x illumination at working scale.
    pub(super) bg: Planar,
    /// Coarse quads in working-image coordinates.
    pub(super) objects: Vec<Quad>,
}

/// A pair of touching regions and the colours on either side of the contact.
struct Contact {
    a: usize,
    b: usize,
    ca: [f32; 3],
    cb: [f32; 3],
}

pub(super) fn segment(s: &Planar) -> Segmentation {
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

pub(super) fn dist3(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Colour `c` is the mat colour `m` darkened without a hue change (a cast shadow).
pub(super) fn neutral_darker(c: [f32; 3], m: [f32; 3]) -> bool {
    let ratio = [0, 1, 2].map(|ch| c[ch] / m[ch].max(1e-3));
    let rmax = ratio.iter().copied().fold(f32::MIN, f32::max);
    let rmin = ratio.iter().copied().fold(f32::MAX, f32::min);
    rmax < 0.97 && rmin > 0.45 && rmax - rmin < 0.08
}
