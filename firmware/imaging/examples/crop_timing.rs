//! Where the time of an automatic crop goes at 2592x1944: detection, perspective warp, encode.
//!
//! cargo run --release -p imaging --example crop_timing

use std::time::Instant;

use imaging::detect::{find_objects, DocHint};
use imaging::geometry::warp_quad;
use synth::{generate, SceneKind};

fn main() {
    let scene = generate(7, SceneKind::A4Page, 2592, 1944);
    let img = scene.image;
    let runs = 5;
    let (mut det, mut warp, mut enc) = (0.0, 0.0, 0.0);
    for _ in 0..runs {
        let t = Instant::now();
        let quads = find_objects(&img, DocHint::ColorPage);
        det += t.elapsed().as_secs_f64();
        let q = quads.first().copied().expect("a page");
        let (w, h) = q.output_size();
        if std::env::var("SZ").is_ok() {
            eprintln!("{w}x{h}");
        }
        let t = Instant::now();
        let out = warp_quad(&img, &q, w, h);
        warp += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let j = imaging::codec::encode_jpeg(&out, 80, (200, 200)).unwrap();
        enc += t.elapsed().as_secs_f64();
        std::hint::black_box(j);
    }
    let ms = |s: f64| s * 1000.0 / runs as f64;
    println!(
        "detect {:.1} ms, warp {:.1} ms, encode {:.1} ms (2592x1944, mean of {runs})",
        ms(det),
        ms(warp),
        ms(enc)
    );
}
