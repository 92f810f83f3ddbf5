//! Merge image files into one document and print the time it took (files read and document
//! built, not written): `merge_files pdf|tif|ofd OUT RUNS FILE...`. Used by
//! tests/bench/merge_bench.py.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: merge_files pdf|tif|ofd OUT RUNS FILE...");
        std::process::exit(2);
    }
    let runs: usize = args[2].parse().expect("RUNS");
    let mut times = Vec::new();
    let mut doc = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let files: Vec<Vec<u8>> = args[3..]
            .iter()
            .map(|p| std::fs::read(p).expect("read"))
            .collect();
        doc = match args[0].as_str() {
            "pdf" => documents::pdf::merge(&files),
            "tif" => documents::tiff::merge(&files).map(|(d, _)| d),
            _ => documents::ofd::merge(
                &files,
                &documents::ofd::Meta {
                    doc_id: "00000000000000000000000000000000".into(),
                    creation_date: "2026-01-01".into(),
                },
            ),
        }
        .expect("merge");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    std::fs::write(&args[1], &doc).expect("write");
    times.sort_by(|a, b| a.total_cmp(b));
    println!("{:.2}", times[times.len() / 2]);
}
