//! The pen through evdev: a tablet or touch screen (ABS_X/ABS_Y, or multi-touch slot 0's
//! ABS_MT_POSITION_X/Y; ABS_PRESSURE; BTN_TOUCH, BTN_TOOL_PEN), its axes mapped onto the screen
//! from their absinfo and the configured rotation, flips and offsets, held with an exclusive grab
//! (so the pen never moves a pointer elsewhere). A device that goes away is looked for again every
//! second.

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
    let (w, h) = (screen.0 as f32, screen.1 as f32);
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

/// Read the pen in a thread until `stop`; samples go to `sink`.
pub fn spawn(
    spec: String,
    cal: Calibration,
    screen: (u32, u32),
    sink: impl Fn(PenSample) + Send + 'static,
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
                        read(&path, dev, &cal, screen, &sink, &stop);
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
    if let Err(e) = dev.grab() {
        tracing::warn!(pen = %path.display(), "signing screen: pen not grabbed: {e}");
    }
    tracing::info!(pen = %path.display(), name = dev.name().unwrap_or(""), "signing screen: pen opened");
    let (mut x, mut y, mut p) = (0i32, 0i32, None::<i32>);
    let mut down = false;
    let mut slot = 0i32;
    let mut changed = false;
    while !stop.load(Ordering::Relaxed) {
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
}
