//! Stage 4: sub-pixel refinement of each coarse quad on the full image, along normals
//! to its sides.

use super::lines::{robust_line, Line};
use super::planar::{median, Planar};
use super::segment::{dist3, neutral_darker};
use super::DocHint;
use crate::geometry::{sample_bilinear, Quad};
use image::RgbImage;

/// Corners within about one working pixel of the frame edge are put exactly on it.
pub(super) fn snap_to_frame(q: &Quad, w: f32, h: f32, k: f32) -> Quad {
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
pub(super) fn interior_colour(s: &Planar, bg: &Planar, q: &Quad) -> [f32; 3] {
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

pub(super) fn refine(
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
