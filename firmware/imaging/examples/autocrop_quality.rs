//! Auto-crop quality harness: generates a fixed, labelled set of synthetic
//! document-camera shots (the `synth` crate), runs `imaging::detect::find_objects` and
//! reports IoU against the ground truth per scene kind, plus timing on full-size
//! 2592x1944 frames.
//!
//! ```text
//! cargo run --release -p imaging --example autocrop_quality
//! ```
//!
//! Environment (all optional): `AUTOCROP_N` images per kind (default 22; the
//! multi-object kind gets 40 by default), `AUTOCROP_SIZE` as `WxH` (default 1296x972),
//! `AUTOCROP_DUMP` a directory where failing shots (IoU < 0.95 or wrong count) are
//! written as PNG with the truth in green and the detection in red; `AUTOCROP_JPEG` set: each
//! shot is JPEG-encoded (quality 90) and found the way a camera frame is (scaled decode for the
//! first stage beside the full decode; the times then include decoding).

use imaging::detect::find_objects;
use imaging::geometry::Quad;
use std::time::Instant;
use synth::{generate, SceneKind};

const TARGET_MEAN_IOU: f64 = 0.97;
const TARGET_SHARE_95: f64 = 0.95;
const TARGET_COUNT_EXACT: f64 = 0.95;

#[derive(Default)]
struct Stats {
    n: usize,
    iou_sum: f64,
    good: usize,
    count_exact: usize,
    obj_n: usize,
    obj_iou_sum: f64,
    ms_sum: f64,
    ms_max: f64,
}

/// Greedy one-to-one matching by IoU; returns the IoU for every truth object
/// (0 when unmatched).
fn match_objects(truth: &[Quad], det: &[Quad]) -> Vec<f64> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, t) in truth.iter().enumerate() {
        for (j, d) in det.iter().enumerate() {
            let iou = t.iou(d) as f64;
            if iou > 0.1 {
                pairs.push((iou, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut out = vec![0.0; truth.len()];
    let mut used_t = vec![false; truth.len()];
    let mut used_d = vec![false; det.len()];
    for (iou, i, j) in pairs {
        if !used_t[i] && !used_d[j] {
            used_t[i] = true;
            used_d[j] = true;
            out[i] = iou;
        }
    }
    out
}

fn draw_quad(img: &mut image::RgbImage, q: &Quad, col: [u8; 3]) {
    let (w, h) = img.dimensions();
    for i in 0..4 {
        let a = q.0[i];
        let b = q.0[(i + 1) % 4];
        let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()) as usize).max(1);
        for s in 0..=steps {
            let t = s as f32 / steps as f32;
            let x = a.0 + (b.0 - a.0) * t;
            let y = a.1 + (b.1 - a.1) * t;
            if x >= 0.0 && y >= 0.0 && (x as u32) < w && (y as u32) < h {
                img.put_pixel(x as u32, y as u32, image::Rgb(col));
            }
        }
    }
}

fn main() {
    let n_per_kind: usize = std::env::var("AUTOCROP_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(22);
    let n_multi = if std::env::var("AUTOCROP_N").is_ok() {
        n_per_kind
    } else {
        40
    };
    let (w, h) = std::env::var("AUTOCROP_SIZE")
        .ok()
        .and_then(|v| {
            let (a, b) = v.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((1296u32, 972u32));
    let dump = std::env::var("AUTOCROP_DUMP").ok();
    let via_jpeg = std::env::var("AUTOCROP_JPEG").is_ok();
    let only: Option<String> = std::env::var("AUTOCROP_KIND").ok();
    let dump_all = std::env::var("AUTOCROP_DUMP_ALL").is_ok();
    let seed_base: u64 = std::env::var("AUTOCROP_SEED_BASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let first_seed: Option<u64> = std::env::var("AUTOCROP_FIRST_SEED")
        .ok()
        .and_then(|v| v.parse().ok());

    let t_start = Instant::now();
    let mut rows: Vec<(SceneKind, Stats)> = Vec::new();
    for kind in SceneKind::ALL {
        if only.as_deref().is_some_and(|k| k != kind.name()) {
            continue;
        }
        let n = if kind == SceneKind::MultiObject {
            n_multi
        } else {
            n_per_kind
        };
        let mut st = Stats::default();
        for i in 0..n {
            let seed = seed_base + i as u64;
            if first_seed.is_some_and(|f| seed < f) {
                continue;
            }
            let scene = generate(seed, kind, w, h);
            let jpeg = via_jpeg.then(|| {
                imaging::codec::encode_jpeg(&scene.image, 90, (200, 200)).expect("encode")
            });
            let t0 = Instant::now();
            let det = match &jpeg {
                Some(j) => {
                    let scale = imaging::detect::preview_scale(w, h);
                    imaging::process::decode_and_find(j, scale, scene.hint)
                        .expect("decode")
                        .1
                }
                None => find_objects(&scene.image, scene.hint),
            };
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            st.ms_sum += ms;
            st.ms_max = st.ms_max.max(ms);
            st.n += 1;
            let multi = kind == SceneKind::MultiObject;
            let iou = if multi {
                let per = match_objects(&scene.objects, &det);
                st.obj_n += per.len();
                st.obj_iou_sum += per.iter().sum::<f64>();
                per.iter().sum::<f64>() / per.len().max(1) as f64
            } else {
                match (det.first(), scene.objects.first()) {
                    (Some(d), Some(t)) => d.iou(t) as f64,
                    _ => 0.0,
                }
            };
            let exact = det.len() == scene.objects.len();
            if exact {
                st.count_exact += 1;
            }
            st.iou_sum += iou;
            if iou >= 0.95 {
                st.good += 1;
            }
            if iou < 0.95 || !exact || dump_all {
                eprintln!(
                    "  {} seed {}: iou {:.3}, detected {} of {}",
                    kind.name(),
                    seed,
                    iou,
                    det.len(),
                    scene.objects.len()
                );
                if dump_all {
                    eprintln!("    truth {:?}\n    found {:?}", scene.objects, det);
                }
                if let Some(dir) = &dump {
                    let mut img = scene.image.clone();
                    for t in &scene.objects {
                        draw_quad(&mut img, t, [0, 255, 0]);
                    }
                    for d in &det {
                        draw_quad(&mut img, d, [255, 0, 0]);
                    }
                    let path = format!("{}/{}_{}.png", dir, kind.name(), seed);
                    if let Err(e) = img.save(&path) {
                        eprintln!("cannot write {path}: {e}");
                    }
                }
            }
        }
        rows.push((kind, st));
    }

    println!("## Auto-crop quality ({w}x{h}, fixed seeds)\n");
    println!("| kind | images | mean IoU | IoU >= 0.95 | count exact | per-object IoU | ms/image (mean / max) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut all = Stats::default();
    let mut multi_exact = (0usize, 0usize);
    for (kind, st) in &rows {
        let per_obj = if st.obj_n > 0 {
            format!("{:.4}", st.obj_iou_sum / st.obj_n as f64)
        } else {
            "-".to_string()
        };
        println!(
            "| {} | {} | {:.4} | {:.1} % | {:.1} % | {} | {:.1} / {:.1} |",
            kind.name(),
            st.n,
            st.iou_sum / st.n.max(1) as f64,
            100.0 * st.good as f64 / st.n.max(1) as f64,
            100.0 * st.count_exact as f64 / st.n.max(1) as f64,
            per_obj,
            st.ms_sum / st.n.max(1) as f64,
            st.ms_max
        );
        all.n += st.n;
        all.iou_sum += st.iou_sum;
        all.good += st.good;
        all.count_exact += st.count_exact;
        all.obj_n += st.obj_n;
        all.obj_iou_sum += st.obj_iou_sum;
        all.ms_sum += st.ms_sum;
        all.ms_max = all.ms_max.max(st.ms_max);
        if *kind == SceneKind::MultiObject {
            multi_exact = (st.count_exact, st.n);
        }
    }
    let mean_iou = all.iou_sum / all.n.max(1) as f64;
    let share = all.good as f64 / all.n.max(1) as f64;
    println!(
        "| **overall** | {} | {:.4} | {:.1} % | {:.1} % | {} | {:.1} / {:.1} |",
        all.n,
        mean_iou,
        100.0 * share,
        100.0 * all.count_exact as f64 / all.n.max(1) as f64,
        if all.obj_n > 0 {
            format!("{:.4}", all.obj_iou_sum / all.obj_n as f64)
        } else {
            "-".to_string()
        },
        all.ms_sum / all.n.max(1) as f64,
        all.ms_max
    );
    println!();
    println!("Single-object scenes: IoU of the largest detection vs the truth (miss = 0); count exact = no extra detections.");
    println!("Multi-object scenes: mean IoU over truth objects after greedy one-to-one matching (unmatched = 0).");

    if only.is_some() {
        return;
    }

    // Timing on full-size frames.
    let mut times: Vec<f64> = Vec::new();
    let kinds = [
        SceneKind::A4Page,
        SceneKind::MultiObject,
        SceneKind::LightMat,
        SceneKind::IdCard,
        SceneKind::Shadow,
        SceneKind::Jpeg,
    ];
    for (i, kind) in kinds.iter().enumerate() {
        let scene = generate(7000 + i as u64, *kind, 2592, 1944);
        let _ = find_objects(&scene.image, scene.hint);
        for _ in 0..3 {
            let t0 = Instant::now();
            let _ = find_objects(&scene.image, scene.hint);
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let med = times[times.len() / 2];
    let max = times[times.len() - 1];
    println!();
    println!(
        "find_objects on 2592x1944: median {med:.1} ms, max {max:.1} ms ({} runs)",
        times.len()
    );
    println!(
        "total harness time {:.1} s",
        t_start.elapsed().as_secs_f64()
    );
    println!();

    let multi_share = if multi_exact.1 > 0 {
        multi_exact.0 as f64 / multi_exact.1 as f64
    } else {
        1.0
    };
    let ok_iou = mean_iou >= TARGET_MEAN_IOU;
    let ok_share = share >= TARGET_SHARE_95;
    let ok_multi = multi_share >= TARGET_COUNT_EXACT;
    let ok_time = med < 150.0;
    println!(
        "mean IoU {:.4} (target >= {TARGET_MEAN_IOU}) {}; IoU >= 0.95 on {:.1} % (target >= {:.0} %) {}; multi-object count exact {:.1} % (target >= {:.0} %) {}; 2592x1944 median {med:.1} ms (target < 150) {}",
        mean_iou,
        if ok_iou { "ok" } else { "MISSED" },
        100.0 * share,
        100.0 * TARGET_SHARE_95,
        if ok_share { "ok" } else { "MISSED" },
        100.0 * multi_share,
        100.0 * TARGET_COUNT_EXACT,
        if ok_multi { "ok" } else { "MISSED" },
        if ok_time { "ok" } else { "MISSED" },
    );
    if ok_iou && ok_share && ok_multi && ok_time {
        println!("PASS");
    } else {
        println!("FAIL");
    }
}
