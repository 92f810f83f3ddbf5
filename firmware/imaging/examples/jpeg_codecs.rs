//! Which JPEG codec: the image crate (zune-jpeg decoder, its own encoder) against libjpeg-turbo,
//! decoding and encoding a 2592x1944 camera-like frame, in one run. Prints the ratio.
//!
//! cargo run --release -p imaging --example jpeg_codecs

use std::time::Instant;

use image::{Rgb, RgbImage};

fn frame() -> RgbImage {
    // A page with text-like strokes on a mat, some noise: compresses like a camera frame.
    let mut seed = 0x9E3779B97F4A7C15u64;
    RgbImage::from_fn(2592, 1944, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed % 9) as u8;
        let on_page = (700..1900).contains(&x) && (200..1750).contains(&y);
        let ink = on_page && (y % 40) < 6 && (x % 300) < 260;
        let v = if ink {
            30
        } else if on_page {
            235
        } else {
            60
        };
        Rgb([v + n, v + n, v + n / 2])
    })
}

fn time<T>(runs: u32, mut f: impl FnMut() -> T) -> f64 {
    let t = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(f());
    }
    t.elapsed().as_secs_f64() * 1000.0 / runs as f64
}

fn main() {
    let img = frame();
    let jpeg = imaging::codec::encode_jpeg(&img, 85, (200, 200)).unwrap();
    let runs = 8;
    let turbo_dec = time(runs, || imaging::codec::decode_jpeg(&jpeg).unwrap());
    let turbo_enc = time(runs, || {
        imaging::codec::encode_jpeg(&img, 85, (200, 200)).unwrap()
    });
    let image_dec = time(runs, || image::load_from_memory(&jpeg).unwrap().to_rgb8());
    let image_enc = time(runs, || {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&img)
            .unwrap();
        out
    });
    println!("| codec | decode ms | encode ms |");
    println!("|---|---|---|");
    println!("| libjpeg-turbo (turbojpeg) | {turbo_dec:.1} | {turbo_enc:.1} |");
    println!("| image crate | {image_dec:.1} | {image_enc:.1} |");
    println!(
        "ratio image/turbo: decode {:.2}x, encode {:.2}x",
        image_dec / turbo_dec,
        image_enc / turbo_enc
    );
}
