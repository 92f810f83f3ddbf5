//! The pen through evdev: a tablet or touch screen (ABS_X/ABS_Y, or multi-touch slot 0's
//! ABS_MT_POSITION_X/Y; ABS_PRESSURE; BTN_TOUCH, BTN_TOOL_PEN), its axes mapped onto the screen
//! from their absinfo and the configured rotation, flips and offsets, held with an exclusive grab
//! (so the pen never moves a pointer elsewhere) unless the pointer is handed to the kiosk browser
//! (`enable_sign_screen_mouse`). A four-corner calibration file, when given, replaces the absinfo
//! mapping. A device that goes away is looked for again every second.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, UNIX_EPOCH};

use evdev::{AbsoluteAxisCode, Device, EventSummary, KeyCode, SynchronizationCode};

use crate::PenSample;

/// How digitiser axes map onto the screen.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Calibration {
    /// Clockwise degrees the digitiser is turned against the screen: 0, 90, 180, 270.
    pub rotation: u32,
    pub flip_x: bool,
    pub flip_y: bool,
    /// Added after mapping, in screen pixels.
    pub offset_x: f32,
    pub offset_y: f32,
    /// From a four-corner calibration file: raw digitiser values straight to screen pixels,
    /// in place of absinfo, rotation, flips and offsets.
    pub corners: Option<Homography>,
}

/// A projective map of the plane (3x3, row-major, the last element 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [f64; 9]);

impl Homography {
    /// The map taking each `from[i]` to `to[i]`; None when three of the points are on a line.
    pub fn from_points(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> Option<Homography> {
        // h0..h7 from the eight equations u = (h0 x + h1 y + h2) / (h6 x + h7 y + 1), v alike.
        let mut a = [[0f64; 9]; 8];
        for i in 0..4 {
            let ((x, y), (u, v)) = (from[i], to[i]);
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        // Gauss-Jordan with partial pivoting, scaled to the largest coefficient.
        let scale = a
            .iter()
            .flatten()
            .fold(0f64, |m, v| m.max(v.abs()))
            .max(1.0);
        for c in 0..8 {
            let p = (c..8).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
            if a[p][c].abs() < 1e-12 * scale {
                return None;
            }
            a.swap(c, p);
            let pivot = a[c];
            for (r, row) in a.iter_mut().enumerate() {
                if r != c {
                    let k = row[c] / pivot[c];
                    for (x, p) in row.iter_mut().zip(pivot.iter()).skip(c) {
                        *x -= k * p;
                    }
                }
            }
        }
        let mut h = [0f64; 9];
        for (i, (hi, row)) in h.iter_mut().zip(a.iter()).enumerate() {
            *hi = row[8] / row[i];
        }
        h[8] = 1.0;
        let m = Homography(h);
        // Every corner must land where it was asked to (a degenerate set passes the pivots only
        // by rounding).
        from.iter()
            .zip(to.iter())
            .all(|(f, t)| {
                m.apply(f.0, f.1)
                    .is_some_and(|(u, v)| (u - t.0).abs() < 0.5 && (v - t.1).abs() < 0.5)
            })
            .then_some(m)
    }

    pub fn apply(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let h = &self.0;
        let w = h[6] * x + h[7] * y + h[8];
        if w.abs() < 1e-12 {
            return None;
        }
        Some((
            (h[0] * x + h[1] * y + h[2]) / w,
            (h[3] * x + h[4] * y + h[5]) / w,
        ))
    }

    /// A calibration file: four lines `screen_x screen_y raw_x raw_y` (the screen point touched
    /// in pixels, the digitiser's report there), `#` comments and blank lines ignored.
    pub fn parse(text: &str) -> Result<Homography, String> {
        let mut pts = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let v: Vec<f64> = line
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|t| !t.is_empty())
                .map(|t| {
                    t.parse::<f64>()
                        .map_err(|_| format!("line {}: not a number: {t}", n + 1))
                })
                .collect::<Result<_, _>>()?;
            if v.len() != 4 || v.iter().any(|x| !x.is_finite()) {
                return Err(format!(
                    "line {}: expected four numbers: screen_x screen_y raw_x raw_y",
                    n + 1
                ));
            }
            pts.push(((v[2], v[3]), (v[0], v[1])));
        }
        if pts.len() != 4 {
            return Err(format!("expected four points, found {}", pts.len()));
        }
        let raw = [pts[0].0, pts[1].0, pts[2].0, pts[3].0];
        let scr = [pts[0].1, pts[1].1, pts[2].1, pts[3].1];
        Homography::from_points(raw, scr)
            .ok_or_else(|| "three of the four points lie on one line".to_string())
    }
}

/// One axis' range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: i32,
    pub max: i32,
}

impl Range {
    fn unit(&self, v: i32) -> f32 {
        let span = (self.max - self.min).max(1) as f32;
        ((v - self.min) as f32 / span).clamp(0.0, 1.0)
    }
}

/// Digitiser (x, y) -> screen pixels.
pub fn map(
    cal: &Calibration,
    rx: Range,
    ry: Range,
    x: i32,
    y: i32,
    screen: (u32, u32),
) -> (f32, f32) {
    let (w, h) = (screen.0 as f32, screen.1 as f32);
    if let Some(m) = &cal.corners {
        let (sx, sy) = m.apply(x as f64, y as f64).unwrap_or((0.0, 0.0));
        return (
            (sx as f32).clamp(0.0, w - 1.0),
            (sy as f32).clamp(0.0, h - 1.0),
        );
    }
    let (mut u, mut v) = (rx.unit(x), ry.unit(y));
    if cal.flip_x {
        u = 1.0 - u;
    }
    if cal.flip_y {
        v = 1.0 - v;
    }
    let (u, v) = match cal.rotation % 360 {
        90 => (1.0 - v, u),
        180 => (1.0 - u, 1.0 - v),
        270 => (v, 1.0 - u),
        _ => (u, v),
    };
    (
        (u * (w - 1.0) + cal.offset_x).clamp(0.0, w - 1.0),
        (v * (h - 1.0) + cal.offset_y).clamp(0.0, h - 1.0),
    )
}

fn is_pen(d: &Device) -> bool {
    let axes = d.supported_absolute_axes();
    let keys = d.supported_keys();
    let has_xy = axes.is_some_and(|a| {
        (a.contains(AbsoluteAxisCode::ABS_X) && a.contains(AbsoluteAxisCode::ABS_Y))
            || (a.contains(AbsoluteAxisCode::ABS_MT_POSITION_X)
                && a.contains(AbsoluteAxisCode::ABS_MT_POSITION_Y))
    });
    let touches =
        keys.is_some_and(|k| k.contains(KeyCode::BTN_TOUCH) || k.contains(KeyCode::BTN_TOOL_PEN));
    has_xy && touches
}

/// The pen device: a path, a part of a device name, or "" for the first pen-like device.
pub fn find(spec: &str) -> Option<(PathBuf, Device)> {
    let spec = spec.trim();
    if spec.starts_with('/') {
        return Device::open(spec).ok().map(|d| (PathBuf::from(spec), d));
    }
    let mut all: Vec<(PathBuf, Device)> = evdev::enumerate().collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter().find(|(_, d)| {
        is_pen(d)
            && (spec.is_empty()
                || d.name()
                    .is_some_and(|n| n.to_lowercase().contains(&spec.to_lowercase())))
    })
}

/// Read the pen in a thread until `stop`; samples go to `sink`. While `shared` is set the pen is
/// not grabbed: other readers (the kiosk browser, as a pointer) see it too.
pub fn spawn(
    spec: String,
    cal: Calibration,
    screen: (u32, u32),
    sink: impl Fn(PenSample) + Send + 'static,
    shared: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let _ = thread::Builder::new()
        .name("pen".into())
        .spawn(move || {
            let mut warned = false;
            while !stop.load(Ordering::Relaxed) {
                match find(&spec) {
                    Some((path, dev)) => {
                        warned = false;
                        read(&path, dev, &cal, screen, &sink, &shared, &stop);
                    }
                    None if !warned => {
                        tracing::warn!(pen = %spec, "signing screen: no pen found; looking again every second");
                        warned = true;
                    }
                    None => {}
                }
                thread::sleep(Duration::from_secs(1));
            }
        });
}

fn read(
    path: &Path,
    mut dev: Device,
    cal: &Calibration,
    screen: (u32, u32),
    sink: &impl Fn(PenSample),
    shared: &AtomicBool,
    stop: &AtomicBool,
) {
    // Multi-touch screens report slot 0 on ABS_MT_POSITION_X/Y when they have no ABS_X.
    let mt = dev.supported_absolute_axes().is_some_and(|a| {
        !a.contains(AbsoluteAxisCode::ABS_X) && a.contains(AbsoluteAxisCode::ABS_MT_POSITION_X)
    });
    let (ax, ay) = if mt {
        (
            AbsoluteAxisCode::ABS_MT_POSITION_X,
            AbsoluteAxisCode::ABS_MT_POSITION_Y,
        )
    } else {
        (AbsoluteAxisCode::ABS_X, AbsoluteAxisCode::ABS_Y)
    };
    let mut rx = Range { min: 0, max: 1 };
    let mut ry = Range { min: 0, max: 1 };
    let mut rp = Range { min: 0, max: 0 };
    if let Ok(infos) = dev.get_absinfo() {
        for (code, info) in infos {
            let r = Range {
                min: info.minimum(),
                max: info.maximum(),
            };
            if code == ax {
                rx = r;
            } else if code == ay {
                ry = r;
            } else if code == AbsoluteAxisCode::ABS_PRESSURE {
                rp = r;
            }
        }
    }
    tracing::info!(pen = %path.display(), name = dev.name().unwrap_or(""), "signing screen: pen opened");
    let (mut x, mut y, mut p) = (0i32, 0i32, None::<i32>);
    let mut down = false;
    let mut slot = 0i32;
    let mut changed = false;
    let mut grabbed = false;
    while !stop.load(Ordering::Relaxed) {
        let want = !shared.load(Ordering::Relaxed);
        if want != grabbed {
            let r = if want { dev.grab() } else { dev.ungrab() };
            match r {
                Ok(()) => {
                    tracing::info!(pen = %path.display(), grabbed = want, "signing screen: pen {}", if want { "grabbed" } else { "shared as a pointer" })
                }
                Err(e) => {
                    tracing::warn!(pen = %path.display(), "signing screen: pen grab {want}: {e}")
                }
            }
            grabbed = want;
        }
        // Wait at most 100 ms, so a change of `shared` or `stop` is seen without a pen event.
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&dev),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own, for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n == 0
            || (n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted)
        {
            continue;
        }
        let events = match dev.fetch_events() {
            Ok(e) => e.collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(pen = %path.display(), "signing screen: pen gone: {e}");
                return;
            }
        };
        for ev in events {
            match ev.destructure() {
                EventSummary::AbsoluteAxis(_, AbsoluteAxisCode::ABS_MT_SLOT, v) => slot = v,
                EventSummary::AbsoluteAxis(_, AbsoluteAxisCode::ABS_X, v) if !mt => {
                    x = v;
                    changed = true;
                }
                EventSummary::AbsoluteAxis(_, AbsoluteAxisCode::ABS_Y, v) if !mt => {
                    y = v;
                    changed = true;
                }
                EventSummary::AbsoluteAxis(_, AbsoluteAxisCode::ABS_MT_POSITION_X, v)
                    if mt && slot == 0 =>
                {
                    x = v;
                    changed = true;
                }
                EventSummary::AbsoluteAxis(_, AbsoluteAxisCode::ABS_MT_POSITION_Y, v)
                    if mt && slot == 0 =>
                {
                    y = v;
                    changed = true;
                }
                EventSummary::AbsoluteAxis(_, AbsoluteAxisCode::ABS_PRESSURE, v) => {
                    p = Some(v);
                    changed = true;
                }
                EventSummary::Key(_, KeyCode::BTN_TOUCH, v) => {
                    down = v != 0;
                    changed = true;
                }
                EventSummary::Synchronization(e, SynchronizationCode::SYN_REPORT, _) if changed => {
                    changed = false;
                    let (sx, sy) = map(cal, rx, ry, x, y, screen);
                    let pressure = match (p, rp.max > rp.min) {
                        (Some(v), true) => (v - rp.min) as f32 / (rp.max - rp.min) as f32,
                        _ => 1.0,
                    };
                    let t_ms = e
                        .timestamp()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs_f64() * 1000.0)
                        .unwrap_or(0.0);
                    sink(PenSample {
                        x: sx,
                        y: sy,
                        pressure: pressure.clamp(0.0, 1.0),
                        down,
                        t_ms,
                    });
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        let r = Range { min: 0, max: 1000 };
        let s = (101, 51);
        let c = Calibration::default();
        assert_eq!(map(&c, r, r, 0, 0, s), (0.0, 0.0));
        assert_eq!(map(&c, r, r, 1000, 1000, s), (100.0, 50.0));
        assert_eq!(map(&c, r, r, 500, 0, s), (50.0, 0.0));
        let c90 = Calibration {
            rotation: 90,
            ..Default::default()
        };
        // Turned clockwise: the digitiser's top-left is the screen's top-right.
        assert_eq!(map(&c90, r, r, 0, 0, s), (100.0, 0.0));
        let flip = Calibration {
            flip_x: true,
            offset_y: 5.0,
            ..Default::default()
        };
        assert_eq!(map(&flip, r, r, 0, 0, s), (100.0, 5.0));
        // Out of range values stay on the screen.
        assert_eq!(map(&c, r, r, -50, 5000, s), (0.0, 50.0));
    }

    #[test]
    fn calibration_file() {
        // A digitiser turned 90 degrees and squeezed: targets 10% in from each corner of 1000x500.
        let text = "# screen_x screen_y raw_x raw_y\n\
                    100 50 3600 400\n100 450 400 400\n\n900 450 400 3600\n900 50 3600 3600  # last\n";
        let m = Homography::parse(text).unwrap();
        let c = Calibration {
            corners: Some(m),
            ..Default::default()
        };
        let r = Range { min: 0, max: 4000 };
        let (x, y) = map(&c, r, r, 2000, 2000, (1000, 500));
        assert!(
            (x - 500.0).abs() < 0.01 && (y - 250.0).abs() < 0.01,
            "{x} {y}"
        );
        let (x, y) = map(&c, r, r, 3600, 400, (1000, 500));
        assert!(
            (x - 100.0).abs() < 0.01 && (y - 50.0).abs() < 0.01,
            "{x} {y}"
        );
        // beyond the targets: extrapolated, then kept on the screen
        let (x, y) = map(&c, r, r, 4000, 0, (1000, 500));
        assert!(x.abs() < 0.01 && y.abs() < 0.01, "{x} {y}");
        assert_eq!(map(&c, r, r, 0, 4000, (1000, 500)), (999.0, 499.0));
        assert!(Homography::parse("1 2 3 4\n").is_err());
        assert!(
            Homography::parse("0 0 0 0\n1 1 1 1\n2 2 2 2\n0 5 0 5\n").is_err(),
            "collinear"
        );
        assert!(Homography::parse("0 0 0 0\n1 0 x 0\n1 1 1 1\n0 1 0 1\n").is_err());
    }
}
