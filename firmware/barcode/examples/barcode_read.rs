//! Read every image named on stdin (one path per line) and print one JSON line per image:
//! `{"image": path, "ms": reading time, "codes": [{"type", "code"}]}` (decoding the file is not
//! timed). Used by tests/bench/barcode_bench.py.

use std::io::BufRead;
use std::time::Instant;

fn main() {
    for line in std::io::stdin().lock().lines() {
        let path = line.expect("stdin");
        let path = path.trim();
        if path.is_empty() {
            continue;
        }
        // Decoded the way the daemon decodes uploads (libjpeg-turbo for JPEG).
        let decoded = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| imaging::codec::decode(&b).map_err(|e| e.to_string()));
        let out = match decoded {
            Ok(rgb) => {
                let grey = barcode::luma(&rgb);
                let t = Instant::now();
                let codes = barcode::read(&grey).unwrap_or_default();
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                let codes: Vec<_> = codes
                    .iter()
                    .map(|c| serde_json::json!({"type": c.kind, "code": c.text}))
                    .collect();
                serde_json::json!({"image": path, "ms": ms, "codes": codes})
            }
            Err(e) => serde_json::json!({"image": path, "error": e}),
        };
        println!("{out}");
    }
}
