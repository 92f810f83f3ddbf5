//! Straight lines in normal form and their fits (total least squares, RANSAC), used by
//! the quad fit (stage 3) and the refinement (stage 4).

#[derive(Debug, Clone, Copy)]
pub(super) struct Line {
    /// Unit normal and offset: n . p = d.
    pub(super) n: (f32, f32),
    pub(super) d: f32,
}

impl Line {
    pub(super) fn through(a: (f32, f32), b: (f32, f32)) -> Line {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        let n = (-dy / len, dx / len);
        Line {
            n,
            d: n.0 * a.0 + n.1 * a.1,
        }
    }

    pub(super) fn dist(&self, p: (f32, f32)) -> f32 {
        self.n.0 * p.0 + self.n.1 * p.1 - self.d
    }

    pub(super) fn intersect(&self, o: &Line) -> Option<(f32, f32)> {
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
pub(super) fn fit_line(pts: &[(f32, f32)]) -> Option<Line> {
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
pub(super) fn robust_line(pts: &[(f32, f32)], tol: f32) -> Option<(Line, usize)> {
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
