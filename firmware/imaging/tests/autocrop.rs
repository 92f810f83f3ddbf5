//! Geometry helpers and document detection on small generated scenes (fast in debug).

use image::{Rgb, RgbImage};
use imaging::detect::{find_objects, DocHint};
use imaging::geometry::{deskew_crop, min_area_rect, warp_quad, Homography, Quad};
use synth::{generate, SceneKind};

fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Quad {
    Quad([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
}

#[test]
fn iou_of_identical_disjoint_and_half_overlapping_quads() {
    let a = rect(0.0, 0.0, 10.0, 10.0);
    assert!((a.iou(&a) - 1.0).abs() < 1e-6);
    assert!((a.area() - 100.0).abs() < 1e-4);

    let far = rect(20.0, 0.0, 30.0, 10.0);
    assert_eq!(a.iou(&far), 0.0);
    // Touching along an edge: no overlap either.
    let touching = rect(10.0, 0.0, 20.0, 10.0);
    assert!(a.iou(&touching) < 1e-6);

    // Shifted by half its width: intersection 50, union 150.
    let half = rect(5.0, 0.0, 15.0, 10.0);
    assert!((a.iou(&half) - 1.0 / 3.0).abs() < 1e-5);
    assert!((half.iou(&a) - 1.0 / 3.0).abs() < 1e-5);

    // Contained: area ratio.
    let inner = rect(2.5, 2.5, 7.5, 7.5);
    assert!((a.iou(&inner) - 0.25).abs() < 1e-5);
}

#[test]
fn iou_of_rotated_quads_does_not_depend_on_corner_order() {
    let c = (50.0f32, 40.0f32);
    let corners: Vec<(f32, f32)> = [
        (-20.0f32, -10.0f32),
        (20.0, -10.0),
        (20.0, 10.0),
        (-20.0, 10.0),
    ]
    .iter()
    .map(|&(x, y)| {
        let (s, co) = 0.3f32.sin_cos();
        (c.0 + x * co - y * s, c.1 + x * s + y * co)
    })
    .collect();
    let q = Quad([corners[0], corners[1], corners[2], corners[3]]);
    let reversed = Quad([corners[3], corners[2], corners[1], corners[0]]);
    assert!((q.area() - 800.0).abs() < 0.05);
    assert!((q.iou(&reversed) - 1.0).abs() < 1e-5);
    // The same rectangle moved by 2 px along its long axis.
    let (s, co) = 0.3f32.sin_cos();
    let moved = Quad(q.0.map(|(x, y)| (x + 2.0 * co, y + 2.0 * s)));
    let expected = (38.0 * 20.0) / (2.0 * 800.0 - 38.0 * 20.0);
    assert!((q.iou(&moved) - expected).abs() < 1e-4);
}

#[test]
fn ordered_scale_and_output_size() {
    let q = Quad::ordered([(90.0, 60.0), (10.0, 12.0), (10.0, 58.0), (92.0, 10.0)]);
    assert_eq!(
        q.0,
        [(10.0, 12.0), (92.0, 10.0), (90.0, 60.0), (10.0, 58.0)]
    );
    let (w, h) = q.output_size();
    assert!((81..=82).contains(&w), "{w}");
    assert!((47..=48).contains(&h), "{h}");
    let s = q.scale(2.0, 0.5);
    assert_eq!(s.0[1], (184.0, 5.0));
    // A card lying on its side: the top edge is its short edge, as seen.
    let side = Quad::ordered([(0.0, 0.0), (54.0, 0.0), (54.0, 86.0), (0.0, 86.0)]);
    assert_eq!(side.output_size(), (54, 86));
}

#[test]
fn homography_maps_and_inverts() {
    let src = [(0.0, 0.0), (100.0, 0.0), (100.0, 50.0), (0.0, 50.0)];
    let dst = [(12.0, 7.0), (118.0, 15.0), (110.0, 70.0), (5.0, 60.0)];
    let h = Homography::from_points(src, dst).expect("non-degenerate");
    for (s, d) in src.iter().zip(dst.iter()) {
        let (x, y) = h.apply(s.0, s.1);
        assert!((x - d.0).abs() < 1e-9 && (y - d.1).abs() < 1e-9);
    }
    let inv = h.inverse().expect("invertible");
    let (x, y) = h.apply(37.0, 21.0);
    let (u, v) = inv.apply(x, y);
    assert!((u - 37.0).abs() < 1e-9 && (v - 21.0).abs() < 1e-9);
}

/// Source image whose colour encodes the position: R = x, G = y.
fn position_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([x.min(255) as u8, y.min(255) as u8, 128]))
}

#[test]
fn warp_of_an_axis_aligned_quad_is_a_crop() {
    let img = position_image(200, 120);
    let out = warp_quad(&img, &rect(50.0, 20.0, 150.0, 80.0), 100, 60);
    assert_eq!(out.dimensions(), (100, 60));
    for (x, y, p) in out.enumerate_pixels() {
        assert_eq!(p.0[0] as u32, 50 + x, "R at ({x},{y})");
        assert_eq!(p.0[1] as u32, 20 + y, "G at ({x},{y})");
    }
}

#[test]
fn warp_undoes_a_perspective_mapping() {
    // A "document" of 80x50 with R = u, G = v, seen through a homography.
    let doc = [(0.0, 0.0), (80.0, 0.0), (80.0, 50.0), (0.0, 50.0)];
    let seen = [(30.0, 20.0), (170.0, 35.0), (160.0, 130.0), (20.0, 110.0)];
    let h = Homography::from_points(seen, doc).expect("non-degenerate");
    let img = RgbImage::from_fn(200, 150, |x, y| {
        let (u, v) = h.apply(x as f64 + 0.5, y as f64 + 0.5);
        Rgb([
            (u * 3.0).clamp(0.0, 255.0) as u8,
            (v * 5.0).clamp(0.0, 255.0) as u8,
            0,
        ])
    });
    let q = Quad(seen.map(|(x, y)| (x as f32, y as f32)));
    let out = warp_quad(&img, &q, 80, 50);
    let mut worst = 0i32;
    for (x, y, p) in out.enumerate_pixels() {
        if x < 2 || y < 2 || x > 77 || y > 47 {
            continue;
        }
        let eu = (p.0[0] as i32 - ((x as f64 + 0.5) * 3.0) as i32).abs();
        let ev = (p.0[1] as i32 - ((y as f64 + 0.5) * 5.0) as i32).abs();
        worst = worst.max(eu).max(ev);
    }
    assert!(worst <= 4, "max error {worst}");
}

#[test]
fn deskew_crop_straightens_a_rotated_rectangle() {
    // A white 100x40 rectangle rotated by 10 degrees on black.
    let (s, c) = 10f32.to_radians().sin_cos();
    let centre = (120.0f32, 90.0f32);
    let inside = |x: f32, y: f32| {
        let (dx, dy) = (x - centre.0, y - centre.1);
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        u.abs() <= 50.0 && v.abs() <= 20.0
    };
    let img = RgbImage::from_fn(240, 180, |x, y| {
        if inside(x as f32 + 0.5, y as f32 + 0.5) {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    });
    let corners = [
        (-50.0f32, -20.0f32),
        (50.0, -20.0),
        (50.0, 20.0),
        (-50.0, 20.0),
    ]
    .map(|(u, v)| (centre.0 + u * c - v * s, centre.1 + u * s + v * c));
    let q = Quad::ordered(corners);
    let r = min_area_rect(&q);
    assert!((r.area() - 4000.0).abs() < 1.0);
    let out = deskew_crop(&img, &q);
    let (w, h) = out.dimensions();
    assert!((99..=101).contains(&w) && (39..=41).contains(&h), "{w}x{h}");
    // Upright: rows well inside are white end to end.
    for y in [5, h / 2, h - 6] {
        for x in 3..w - 3 {
            assert!(out.get_pixel(x, y).0[0] > 200, "({x},{y})");
        }
    }
}

fn check_scene(seed: u64, kind: SceneKind, min_iou: f32) {
    let scene = generate(seed, kind, 400, 300);
    let found = find_objects(&scene.image, scene.hint);
    assert_eq!(
        found.len(),
        scene.objects.len(),
        "{kind:?} seed {seed}: found {found:?}, truth {:?}",
        scene.objects
    );
    for t in &scene.objects {
        let best = found.iter().map(|d| d.iou(t)).fold(0.0f32, f32::max);
        assert!(best >= min_iou, "{kind:?} seed {seed}: IoU {best}");
    }
}

#[test]
fn detects_a_page_on_a_dark_mat() {
    check_scene(3, SceneKind::DarkMat, 0.95);
}

#[test]
fn detects_a_white_page_on_a_light_mat() {
    check_scene(1, SceneKind::LightMat, 0.95);
}

#[test]
fn detects_every_object_of_a_multi_object_scene() {
    check_scene(2, SceneKind::MultiObject, 0.9);
}

#[test]
fn reports_the_visible_part_of_an_object_cut_by_the_frame() {
    check_scene(4, SceneKind::BorderTouch, 0.95);
}

#[test]
fn finds_nothing_on_an_empty_mat_or_a_tiny_image() {
    let mat = RgbImage::from_fn(400, 300, |x, y| {
        let v = 40 + ((x * 7 + y * 13) % 5) as u8;
        Rgb([v, v + 2, v + 1])
    });
    assert!(find_objects(&mat, DocHint::default()).is_empty());
    assert!(find_objects(&RgbImage::new(8, 8), DocHint::Card).is_empty());
    // A frame-filling page is the frame itself, not an object.
    let full = RgbImage::from_pixel(400, 300, Rgb([235, 235, 230]));
    assert!(find_objects(&full, DocHint::WhiteDocument).is_empty());
}

#[test]
fn generator_is_deterministic_and_labels_inside_the_frame() {
    let a = generate(11, SceneKind::Perspective, 320, 240);
    let b = generate(11, SceneKind::Perspective, 320, 240);
    assert_eq!(a.image.as_raw(), b.image.as_raw());
    assert_eq!(a.objects, b.objects);
    for q in &a.objects {
        for &(x, y) in &q.0 {
            assert!((-0.01..=320.01).contains(&x) && (-0.01..=240.01).contains(&y));
        }
    }
}
