//! Baseline for the grab benchmark: decode a JPEG and encode it again with libjpeg-turbo.
//! Prints the median milliseconds of RUNS round trips.
//!
//! usage: jpeg_roundtrip FILE [RUNS] [QUALITY]

use std::time::Instant;

fn main() {
    let mut a = std::env::args().skip(1);
    let data = std::fs::read(a.next().expect("FILE")).expect("read");
    let runs: usize = a.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let q: u8 = a.next().and_then(|s| s.parse().ok()).unwrap_or(80);
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = Instant::now();
        let img = imaging::codec::decode_jpeg(&data).expect("decode");
        let out = imaging::codec::encode_jpeg(&img, q, (200, 200)).expect("encode");
        std::hint::black_box(out);
        t.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    println!("{:.2}", t[t.len() / 2]);
}
