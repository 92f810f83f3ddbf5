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

mod lines;
mod morph;
mod planar;
mod quad;
mod refine;
mod segment;

use crate::geometry::Quad;
use image::RgbImage;
use planar::{blur5, downscale, Planar};
use refine::{interior_colour, refine, snap_to_frame};
use segment::{segment, Segmentation};

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
