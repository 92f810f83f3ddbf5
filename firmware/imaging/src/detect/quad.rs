//! Stage 3: a quad per object, the convex hull reduced to four sides, then each side
//! refitted to the longest straight run of the object outline near it.

use super::lines::{fit_line, Line};
use crate::geometry::Quad;

pub(super) fn fit_sides(hq: &Quad, bnd: &[(f32, f32, i8, i8)]) -> Option<Quad> {
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

pub(super) fn reduce_to_quad(mut p: Vec<(f64, f64)>) -> Option<[(f64, f64); 4]> {
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
