//! Connected-component labelling and binary morphology (square structuring elements,
//! separable running sums), used by the segmentation.

/// 4- or 8-connected labelling of `mask`; label 0 is "not in mask".
pub(super) fn label(mask: &[bool], w: usize, h: usize, conn8: bool) -> (Vec<u32>, usize) {
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

/// Dilation with a (2r+1)^2 square; outside the frame counts as empty.
pub(super) fn binary_dilate(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
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
pub(super) fn binary_erode(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let inv: Vec<bool> = m.iter().map(|&v| !v).collect();
    binary_dilate(&inv, w, h, r).iter().map(|&v| !v).collect()
}

pub(super) fn binary_open(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    binary_dilate(&binary_erode(m, w, h, r), w, h, r)
}

pub(super) fn binary_close(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    binary_erode(&binary_dilate(m, w, h, r), w, h, r)
}

/// Fills the holes of every component of `m` (background parts not connected to the
/// frame border).
pub(super) fn fill_holes(m: &[bool], w: usize, h: usize) -> Vec<bool> {
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
pub(super) fn propagate_labels(lab: &[u32], w: usize, h: usize) -> (Vec<u32>, Vec<u32>) {
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
