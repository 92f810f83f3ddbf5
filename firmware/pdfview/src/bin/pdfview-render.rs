//! Render a PDF's pages with the device's renderer, for comparisons with other renderers and
//! timings: `pdfview-render FILE DPI OUTDIR [FIRST LAST]` writes OUTDIR/page-N.png (N from 1)
//! and prints one JSON line: {"pages": n, "open_ms": .., "render_ms": [..], "size": [[w, h], ..]}.
//! The CJK fallback font is the device's (or $PDFVIEW_CJK_FONT).

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: pdfview-render FILE DPI OUTDIR [FIRST LAST]");
        std::process::exit(2);
    }
    let data = std::fs::read(&args[1]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[1]);
        std::process::exit(1)
    });
    let dpi: f32 = args[2].parse().expect("DPI");
    let out = PathBuf::from(&args[3]);
    std::fs::create_dir_all(&out).expect("OUTDIR");
    let font =
        std::env::var("PDFVIEW_CJK_FONT").unwrap_or_else(|_| pdfview::DEFAULT_CJK_FONT.into());
    let t = Instant::now();
    let doc = match pdfview::Document::open(data, Some(PathBuf::from(font))) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let n = doc.page_count();
    let first: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let last: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(n).min(n);
    let (mut times, mut sizes) = (Vec::new(), Vec::new());
    for p in first..=last {
        let t = Instant::now();
        let img = match doc.render(p - 1, dpi / 72.0, 200_000_000) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("page {p}: {e}");
                std::process::exit(1)
            }
        };
        times.push(format!("{:.3}", t.elapsed().as_secs_f64() * 1000.0));
        sizes.push(format!("[{}, {}]", img.width(), img.height()));
        img.save(out.join(format!("page-{p}.png")))
            .expect("write PNG");
    }
    println!(
        "{{\"pages\": {n}, \"open_ms\": {open_ms:.3}, \"render_ms\": [{}], \"size\": [{}]}}",
        times.join(", "),
        sizes.join(", ")
    );
}
