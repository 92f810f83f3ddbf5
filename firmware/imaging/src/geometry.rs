//! Quadrilaterals, polygon IoU, homographies and perspective / deskew warps.
//!
//! Coordinates are continuous pixel coordinates: pixel `(i, j)` covers the square
//! `[i, i + 1) x [j, j + 1)`, so its centre is `(i + 0.5, j + 0.5)` and the frame of a
//! `w x h` image spans `[0, w] x [0, h]`.

use image::RgbImage;

/// A quadrilateral: corners in pixels, top-left, top-right, bottom-right, bottom-left
/// (clockwise in image coordinates, y pointing down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad(pub [(f32, f32); 4]);

impl Quad {
    /// Area in square pixels (absolute value of the shoelace formula).
    pub fn area(&self) -> f32 {
        let p = self.as_f64();
        signed_area(&p).abs() as f32
    }

    /// Intersection over union with `other`, by exact polygon clipping
    /// (Sutherland–Hodgman). Exact for convex quads; for a non-convex quad the convex one
    /// is used as the clipping window.
    pub fn iou(&self, other: &Quad) -> f32 {
        let a = self.as_f64();
        let b = other.as_f64();
        let area_a = signed_area(&a).abs();
        let area_b = signed_area(&b).abs();
        if area_a <= 0.0 || area_b <= 0.0 {
            return 0.0;
        }
        let inter = if is_convex(&b) || !is_convex(&a) {
            polygon_area_abs(&clip_polygon(&a, &b))
        } else {
            polygon_area_abs(&clip_polygon(&b, &a))
        };
        let union = area_a + area_b - inter;
        if union <= 0.0 {
            0.0
        } else {
            (inter / union).clamp(0.0, 1.0) as f32
        }
    }

    /// Scales every corner coordinate (e.g. from a downscaled image to the full image).
    pub fn scale(&self, sx: f32, sy: f32) -> Quad {
        Quad(self.0.map(|(x, y)| (x * sx, y * sy)))
    }

    /// Orders four arbitrary points as top-left, top-right, bottom-right, bottom-left:
    /// clockwise (in image coordinates) around their centroid, starting so that the
    /// top edge is the one whose direction is closest to +x.
    pub fn ordered(points: [(f32, f32); 4]) -> Quad {
        let cx = points.iter().map(|p| p.0 as f64).sum::<f64>() / 4.0;
        let cy = points.iter().map(|p| p.1 as f64).sum::<f64>() / 4.0;
        let mut pts = points;
        pts.sort_by(|a, b| {
            let aa = (a.1 as f64 - cy).atan2(a.0 as f64 - cx);
            let ab = (b.1 as f64 - cy).atan2(b.0 as f64 - cx);
            aa.partial_cmp(&ab).unwrap_or(std::cmp::Ordering::Equal)
        });
        // Ascending atan2 with y down is clockwise on screen. Pick the start so that the
        // first edge points most nearly along +x.
        let mut best = 0;
        let mut best_cos = f64::NEG_INFINITY;
        for i in 0..4 {
            let (x0, y0) = pts[i];
            let (x1, y1) = pts[(i + 1) % 4];
            let dx = (x1 - x0) as f64;
            let dy = (y1 - y0) as f64;
            let len = (dx * dx + dy * dy).sqrt();
            let c = if len > 0.0 { dx / len } else { -1.0 };
            if c > best_cos + 1e-9 {
                best_cos = c;
                best = i;
            }
        }
        Quad([
            pts[best],
            pts[(best + 1) % 4],
            pts[(best + 2) % 4],
            pts[(best + 3) % 4],
        ])
    }

    /// Width and height of the upright result: the means of opposite edge lengths.
    pub fn output_size(&self) -> (u32, u32) {
        let p = self.0;
        let w = (dist(p[0], p[1]) + dist(p[3], p[2])) / 2.0;
        let h = (dist(p[0], p[3]) + dist(p[1], p[2])) / 2.0;
        (w.round().max(1.0) as u32, h.round().max(1.0) as u32)
    }

    /// Mean of the four corners.
    pub fn centroid(&self) -> (f32, f32) {
        let sx: f32 = self.0.iter().map(|p| p.0).sum();
        let sy: f32 = self.0.iter().map(|p| p.1).sum();
        (sx / 4.0, sy / 4.0)
    }

    /// True when the quad is strictly convex (all turns in the same direction).
    pub fn is_convex(&self) -> bool {
        is_convex(&self.as_f64())
    }

    fn as_f64(&self) -> Vec<(f64, f64)> {
        self.0.iter().map(|&(x, y)| (x as f64, y as f64)).collect()
    }
}

fn dist(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// Signed shoelace area (positive for clockwise-on-screen order with y down).
pub fn signed_area(p: &[(f64, f64)]) -> f64 {
    let n = p.len();
    if n < 3 {
        return 0.0;
    }
    let mut s = 0.0;
    for i in 0..n {
        let (x0, y0) = p[i];
        let (x1, y1) = p[(i + 1) % n];
        s += x0 * y1 - x1 * y0;
    }
    s / 2.0
}

fn polygon_area_abs(p: &[(f64, f64)]) -> f64 {
    signed_area(p).abs()
}

fn cross(o: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

fn is_convex(p: &[(f64, f64)]) -> bool {
    let n = p.len();
    let mut sign = 0.0f64;
    for i in 0..n {
        let c = cross(p[i], p[(i + 1) % n], p[(i + 2) % n]);
        if c.abs() < 1e-12 {
            continue;
        }
        if sign == 0.0 {
            sign = c.signum();
        } else if c.signum() != sign {
            return false;
        }
    }
    sign != 0.0
}

/// Sutherland–Hodgman: clips `subject` by the convex polygon `clip`.
fn clip_polygon(subject: &[(f64, f64)], clip: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut clip: Vec<(f64, f64)> = clip.to_vec();
    if signed_area(&clip) < 0.0 {
        clip.reverse();
    }
    let mut output: Vec<(f64, f64)> = subject.to_vec();
    let n = clip.len();
    for i in 0..n {
        if output.is_empty() {
            break;
        }
        let a = clip[i];
        let b = clip[(i + 1) % n];
        let input = std::mem::take(&mut output);
        let inside = |p: (f64, f64)| cross(a, b, p) >= 0.0;
        let intersect = |p: (f64, f64), q: (f64, f64)| {
            let cp = cross(a, b, p);
            let cq = cross(a, b, q);
            let t = cp / (cp - cq);
            (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1))
        };
        let m = input.len();
        for j in 0..m {
            let cur = input[j];
            let prev = input[(j + m - 1) % m];
            let cur_in = inside(cur);
            let prev_in = inside(prev);
            if cur_in {
                if !prev_in {
                    output.push(intersect(prev, cur));
                }
                output.push(cur);
            } else if prev_in {
                output.push(intersect(prev, cur));
            }
        }
    }
    output
}

/// Clips a polygon to the axis-aligned rectangle `[0, w] x [0, h]`.
pub fn clip_to_frame(poly: &[(f64, f64)], w: f64, h: f64) -> Vec<(f64, f64)> {
    let frame = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    clip_polygon(poly, &frame)
}

/// A plane projective transform, row-major 3x3 with `h[8]` normalised to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [f64; 9]);

impl Homography {
    /// The transform mapping `src[i]` to `dst[i]` (four point pairs, no three collinear).
    pub fn from_points(src: [(f64, f64); 4], dst: [(f64, f64); 4]) -> Option<Homography> {
        let mut a = [[0.0f64; 9]; 8];
        for i in 0..4 {
            let (x, y) = src[i];
            let (u, v) = dst[i];
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        let sol = solve8(a)?;
        Some(Homography([
            sol[0], sol[1], sol[2], sol[3], sol[4], sol[5], sol[6], sol[7], 1.0,
        ]))
    }

    /// Maps a point; returns non-finite values for points on the horizon line.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let h = &self.0;
        let w = h[6] * x + h[7] * y + h[8];
        (
            (h[0] * x + h[1] * y + h[2]) / w,
            (h[3] * x + h[4] * y + h[5]) / w,
        )
    }

    /// The inverse transform.
    pub fn inverse(&self) -> Option<Homography> {
        let m = &self.0;
        let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
            + m[2] * (m[3] * m[7] - m[4] * m[6]);
        if det.abs() < 1e-15 {
            return None;
        }
        let inv = [
            (m[4] * m[8] - m[5] * m[7]) / det,
            (m[2] * m[7] - m[1] * m[8]) / det,
            (m[1] * m[5] - m[2] * m[4]) / det,
            (m[5] * m[6] - m[3] * m[8]) / det,
            (m[0] * m[8] - m[2] * m[6]) / det,
            (m[2] * m[3] - m[0] * m[5]) / det,
            (m[3] * m[7] - m[4] * m[6]) / det,
            (m[1] * m[6] - m[0] * m[7]) / det,
            (m[0] * m[4] - m[1] * m[3]) / det,
        ];
        let s = inv[8];
        if s.abs() < 1e-15 {
            return Some(Homography(inv));
        }
        Some(Homography(inv.map(|v| v / s)))
    }
}

/// Gaussian elimination with partial pivoting on an 8x9 augmented matrix.
fn solve8(mut a: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let mut piv = col;
        for r in col + 1..8 {
            if a[r][col].abs() > a[piv][col].abs() {
                piv = r;
            }
        }
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                if f != 0.0 {
                    for (v, p) in row.iter_mut().zip(pivot_row.iter()).skip(col) {
                        *v -= f * p;
                    }
                }
            }
        }
    }
    let mut x = [0.0; 8];
    for i in 0..8 {
        x[i] = a[i][8] / a[i][i];
    }
    Some(x)
}

/// Bilinear sample at continuous coordinates (pixel centres at `i + 0.5`), clamped to
/// the image edge.
pub fn sample_bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = img.dimensions();
    let fx = (x - 0.5).clamp(0.0, (w - 1) as f32);
    let fy = (y - 0.5).clamp(0.0, (h - 1) as f32);
    let x0 = fx.floor() as u32;
    let y0 = fy.floor() as u32;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let ax = fx - x0 as f32;
    let ay = fy - y0 as f32;
    let raw = img.as_raw();
    let stride = w as usize * 3;
    let i00 = y0 as usize * stride + x0 as usize * 3;
    let i10 = y0 as usize * stride + x1 as usize * 3;
    let i01 = y1 as usize * stride + x0 as usize * 3;
    let i11 = y1 as usize * stride + x1 as usize * 3;
    let mut out = [0.0f32; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = raw[i00 + c] as f32 * (1.0 - ax) + raw[i10 + c] as f32 * ax;
        let bot = raw[i01 + c] as f32 * (1.0 - ax) + raw[i11 + c] as f32 * ax;
        *o = top * (1.0 - ay) + bot * ay;
    }
    out
}

/// Bilinear sample with 8-bit fixed-point weights (the warp's inner loop; same sampling
/// grid as [`sample_bilinear`], rounded to the nearest value).
#[inline(always)]
fn sample_fixed(raw: &[u8], w: usize, h: usize, x: f32, y: f32) -> [u8; 3] {
    // Clamped to the frame first, so truncation is the floor.
    let fx = (x - 0.5).clamp(0.0, (w - 1) as f32);
    let fy = (y - 0.5).clamp(0.0, (h - 1) as f32);
    let x0 = fx as usize;
    let y0 = fy as usize;
    let ax = ((fx - x0 as f32) * 256.0) as u32;
    let ay = ((fy - y0 as f32) * 256.0) as u32;
    let dx = if x0 + 1 < w { 3 } else { 0 };
    let dy = if y0 + 1 < h { w * 3 } else { 0 };
    let i = y0 * w * 3 + x0 * 3;
    let (a, b) = (&raw[i..i + 3 + dx], &raw[i + dy..i + dy + 3 + dx]);
    let mut out = [0u8; 3];
    for c in 0..3 {
        let top = a[c] as u32 * (256 - ax) + a[c + dx] as u32 * ax;
        let bot = b[c] as u32 * (256 - ax) + b[c + dx] as u32 * ax;
        out[c] = ((top * (256 - ay) + bot * ay + (1 << 15)) >> 16) as u8;
    }
    out
}

/// Output pixels per span whose source positions are interpolated linearly between
/// two exact evaluations of the projective map (the error over a span is far below
/// a hundredth of a pixel for any quad the detector produces).
const SPAN: usize = 16;

/// One output row of the warp: the projective map evaluated exactly at span ends,
/// 16.16 fixed-point steps in between, fixed-point bilinear sampling.
fn warp_row(raw: &[u8], w: usize, h: usize, m: &[f64; 9], y: f64, row: &mut [u8]) {
    let at = |x: f64| -> (f64, f64) {
        let nw = m[6] * x + m[7] * y + m[8];
        if nw.abs() > 1e-12 {
            (
                (m[0] * x + m[1] * y + m[2]) / nw,
                (m[3] * x + m[4] * y + m[5]) / nw,
            )
        } else {
            (0.0, 0.0)
        }
    };
    let out_w = row.len() / 3;
    // Inside this box a sample needs no clamping (both neighbours exist).
    let (lo_x, hi_x) = (0.5, w as f64 - 0.5 - 1.0 / 256.0);
    let (lo_y, hi_y) = (0.5, h as f64 - 0.5 - 1.0 / 256.0);
    let inside = |p: (f64, f64)| p.0 >= lo_x && p.0 < hi_x && p.1 >= lo_y && p.1 < hi_y;
    let stride = w * 3;
    let mut x0 = 0usize;
    let mut p0 = at(0.5);
    while x0 < out_w {
        let n = SPAN.min(out_w - x0);
        let p1 = at((x0 + n) as f64 + 0.5);
        let span = &mut row[x0 * 3..(x0 + n) * 3];
        let last = (
            p0.0 + (p1.0 - p0.0) * (n - 1) as f64 / n as f64,
            p0.1 + (p1.1 - p0.1) * (n - 1) as f64 / n as f64,
        );
        if inside(p0) && inside(last) {
            // Pixel-centre convention: sample position minus 0.5, in 16.16 fixed point.
            let mut fx = ((p0.0 - 0.5) * 65536.0) as i64;
            let mut fy = ((p0.1 - 0.5) * 65536.0) as i64;
            let dx = ((p1.0 - p0.0) * 65536.0 / n as f64) as i64;
            let dy = ((p1.1 - p0.1) * 65536.0 / n as f64) as i64;
            for px in span.chunks_exact_mut(3) {
                let (xi, yi) = ((fx >> 16) as usize, (fy >> 16) as usize);
                let ax = ((fx >> 8) & 0xff) as u32;
                let ay = ((fy >> 8) & 0xff) as u32;
                let i = yi * stride + xi * 3;
                let a = &raw[i..i + 6];
                let b = &raw[i + stride..i + stride + 6];
                for c in 0..3 {
                    let top = a[c] as u32 * (256 - ax) + a[c + 3] as u32 * ax;
                    let bot = b[c] as u32 * (256 - ax) + b[c + 3] as u32 * ax;
                    px[c] = ((top * (256 - ay) + bot * ay + (1 << 15)) >> 16) as u8;
                }
                fx += dx;
                fy += dy;
            }
        } else {
            for (k, px) in span.chunks_exact_mut(3).enumerate() {
                let p = at((x0 + k) as f64 + 0.5);
                px.copy_from_slice(&sample_fixed(raw, w, h, p.0 as f32, p.1 as f32));
            }
        }
        x0 += n;
        p0 = p1;
    }
}

/// Perspective-correct the quad into an upright image of `out_w x out_h` (homography,
/// bilinear sampling). Corner `TL` of the quad lands on the output's top-left corner.
pub fn warp_quad(img: &RgbImage, q: &Quad, out_w: u32, out_h: u32) -> RgbImage {
    let out_w = out_w.max(1);
    let out_h = out_h.max(1);
    let mut out = RgbImage::new(out_w, out_h);
    if img.width() == 0 || img.height() == 0 {
        return out;
    }
    let (w, h) = (out_w as f64, out_h as f64);
    let src = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let dst = q.0.map(|(x, y)| (x as f64, y as f64));
    let Some(hm) = Homography::from_points(src, dst) else {
        return out;
    };
    let m = hm.0;
    let raw: &[u8] = img.as_raw();
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    // Rows are independent: split them over the available cores.
    let row_bytes = out_w as usize * 3;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let rows_per = (out_h as usize).div_ceil(threads).max(1);
    let buf: &mut [u8] = &mut out;
    std::thread::scope(|sc| {
        for (part, chunk) in buf.chunks_mut(rows_per * row_bytes).enumerate() {
            sc.spawn(move || {
                let first = part * rows_per;
                for (r, row) in chunk.chunks_mut(row_bytes).enumerate() {
                    warp_row(raw, iw, ih, &m, (first + r) as f64 + 0.5, row);
                }
            });
        }
    });
    out
}

/// The minimum-area rectangle enclosing the quad's corners, as a quad ordered
/// TL, TR, BR, BL with the top edge the one closest to horizontal.
pub fn min_area_rect(q: &Quad) -> Quad {
    let pts = q.0.map(|(x, y)| (x as f64, y as f64));
    let hull = convex_hull(&pts);
    if hull.len() < 3 {
        return *q;
    }
    let mut best: Option<(f64, [(f64, f64); 4])> = None;
    for i in 0..hull.len() {
        let a = hull[i];
        let b = hull[(i + 1) % hull.len()];
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if len < 1e-9 {
            continue;
        }
        let (ux, uy) = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        let (vx, vy) = (-uy, ux);
        let (mut min_u, mut max_u, mut min_v, mut max_v) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &hull {
            let pu = p.0 * ux + p.1 * uy;
            let pv = p.0 * vx + p.1 * vy;
            min_u = min_u.min(pu);
            max_u = max_u.max(pu);
            min_v = min_v.min(pv);
            max_v = max_v.max(pv);
        }
        let area = (max_u - min_u) * (max_v - min_v);
        let corner = |pu: f64, pv: f64| (pu * ux + pv * vx, pu * uy + pv * vy);
        let rect = [
            corner(min_u, min_v),
            corner(max_u, min_v),
            corner(max_u, max_v),
            corner(min_u, max_v),
        ];
        if best.is_none_or(|(ba, _)| area < ba - 1e-9) {
            best = Some((area, rect));
        }
    }
    match best {
        Some((_, r)) => Quad::ordered(r.map(|(x, y)| (x as f32, y as f32))),
        None => *q,
    }
}

/// Without perspective correction: the minimum-area rotated rectangle around the quad,
/// rotated upright (deskew only).
pub fn deskew_crop(img: &RgbImage, q: &Quad) -> RgbImage {
    let r = min_area_rect(q);
    let w = dist(r.0[0], r.0[1]).round().max(1.0) as u32;
    let h = dist(r.0[0], r.0[3]).round().max(1.0) as u32;
    warp_quad(img, &r, w, h)
}

/// Andrew's monotone chain; returns the hull without repeating the first point.
pub fn convex_hull(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut p: Vec<(f64, f64)> = points.to_vec();
    p.sort_by(|a, b| {
        a.0.partial_cmp(&b.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
    });
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let mut lower: Vec<(f64, f64)> = Vec::new();
    for &pt in &p {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], pt) <= 0.0 {
            lower.pop();
        }
        lower.push(pt);
    }
    let mut upper: Vec<(f64, f64)> = Vec::new();
    for &pt in p.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], pt) <= 0.0 {
            upper.pop();
        }
        upper.push(pt);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}
