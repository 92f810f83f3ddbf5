//! A simulated pen for the signing screen: a Unix socket taking one line per report, in screen
//! pixels — `down X Y [P] [T]`, `move X Y [P] [T]`, `up [T]` (P pressure 0..1, default 1; T the
//! pen's clock in ms, default the time since the socket opened) — each answered `ok` or
//! `err <why>`, so a test knows the sample was handed over.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Instant;

use signpad::PenSample;

/// Parse one line; `last` gives the position of a bare `up`.
pub fn parse(line: &str, last: (f32, f32), now_ms: f64) -> Result<PenSample, String> {
    let mut it = line.split_whitespace();
    let verb = it.next().ok_or("empty line")?;
    let nums: Vec<f64> = it
        .map(|t| t.parse::<f64>().map_err(|_| format!("not a number: {t}")))
        .collect::<Result<_, _>>()?;
    let finite = |v: f64| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("not finite: {v}"))
        }
    };
    match verb {
        "down" | "move" => {
            if nums.len() < 2 || nums.len() > 4 {
                return Err(format!("{verb} X Y [P] [T]"));
            }
            Ok(PenSample {
                x: finite(nums[0])? as f32,
                y: finite(nums[1])? as f32,
                pressure: finite(nums.get(2).copied().unwrap_or(1.0))?.clamp(0.0, 1.0) as f32,
                down: true,
                t_ms: finite(nums.get(3).copied().unwrap_or(now_ms))?,
            })
        }
        "up" => {
            if nums.len() > 1 {
                return Err("up [T]".into());
            }
            Ok(PenSample {
                x: last.0,
                y: last.1,
                pressure: 0.0,
                down: false,
                t_ms: finite(nums.first().copied().unwrap_or(now_ms))?,
            })
        }
        other => Err(format!("unknown report {other}")),
    }
}

/// Listen on `path` (replacing a stale socket; a path `@name` is a Linux abstract socket, which
/// leaves no file behind) and hand every report to `sink`.
pub fn serve(path: &Path, sink: impl Fn(PenSample) + Send + Sync + 'static) -> std::io::Result<()> {
    let listener = match path.to_str().and_then(|p| p.strip_prefix('@')) {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            UnixListener::bind_addr(&addr)?
        }
        None => {
            let _ = std::fs::remove_file(path);
            UnixListener::bind(path)?
        }
    };
    let sink = std::sync::Arc::new(sink);
    let start = Instant::now();
    std::thread::Builder::new()
        .name("sim-pen".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let Ok(mut out) = conn.try_clone() else {
                        return;
                    };
                    let mut last = (0.0, 0.0);
                    for line in BufReader::new(conn).lines() {
                        let Ok(line) = line else { break };
                        if line.trim().is_empty() {
                            continue;
                        }
                        let now = start.elapsed().as_secs_f64() * 1000.0;
                        let answer = match parse(&line, last, now) {
                            Ok(s) => {
                                last = (s.x, s.y);
                                sink(s);
                                "ok\n".to_string()
                            }
                            Err(e) => format!("err {e}\n"),
                        };
                        if out.write_all(answer.as_bytes()).is_err() {
                            break;
                        }
                    }
                });
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let s = parse("down 10 20.5 0.5 100", (0.0, 0.0), 7.0).unwrap();
        assert_eq!(
            (s.x, s.y, s.pressure, s.down, s.t_ms),
            (10.0, 20.5, 0.5, true, 100.0)
        );
        let s = parse("move 1 2", (0.0, 0.0), 7.0).unwrap();
        assert_eq!((s.pressure, s.t_ms), (1.0, 7.0));
        let s = parse("up", (3.0, 4.0), 9.0).unwrap();
        assert_eq!((s.x, s.y, s.down), (3.0, 4.0, false));
        for bad in [
            "",
            "jump 1 2",
            "down 1",
            "down a b",
            "down 1 2 3 4 5",
            "move NaN 1",
            "up 1 2",
        ] {
            assert!(parse(bad, (0.0, 0.0), 0.0).is_err(), "{bad}");
        }
    }
}
