//! Diagnostics for the demo page (the appliance's own endpoints): `diag=status` — firmware
//! version, uptime, the backend and state of every hardware class, the cameras, the update's
//! state — and `diag=log` — the most recent log lines, kept in memory by a tracing layer.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use api::{blocking, handler, Reply, Table};
use camera::{CameraManager, Role};
use serde_json::{json, Value};

/// Lines kept for `diag=log`.
pub const LOG_LINES: usize = 500;
/// Longest message kept (characters); the rest is cut.
const MAX_MESSAGE: usize = 1000;

struct LogLine {
    time: String,
    level: &'static str,
    target: String,
    message: String,
}

static RING: Mutex<VecDeque<LogLine>> = Mutex::new(VecDeque::new());

/// A tracing layer keeping the last [`LOG_LINES`] events (those the log filter lets through).
pub struct RingLayer;

struct Fields {
    message: String,
    rest: String,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={:?}", field.name(), value);
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RingLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        let mut f = Fields {
            message: String::new(),
            rest: String::new(),
        };
        event.record(&mut f);
        let mut message = f.message + &f.rest;
        if message.chars().count() > MAX_MESSAGE {
            message = message.chars().take(MAX_MESSAGE).collect::<String>() + "…";
        }
        let line = LogLine {
            time: crate::common::now_text(),
            level: meta.level().as_str(),
            target: meta.target().to_string(),
            message,
        };
        let mut ring = RING.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() >= LOG_LINES {
            ring.pop_front();
        }
        ring.push_back(line);
    }
}

/// The last `n` lines, oldest first.
fn recent(n: usize) -> Vec<Value> {
    let ring = RING.lock().unwrap_or_else(|e| e.into_inner());
    ring.iter()
        .skip(ring.len().saturating_sub(n))
        .map(
            |l| json!({"time": l.time, "level": l.level, "target": l.target, "message": l.message}),
        )
        .collect()
}

/// Classes whose rooms are not built yet: they answer "9" and show so.
const NOT_BUILT: &[&str] = &[
    "fingerprint",
    "face",
    "barcode scanner",
    "gpio",
    "recording",
    "ocr",
];

pub struct Diag {
    pub cams: Arc<CameraManager>,
    pub started: Instant,
    pub serial_number: String,
    pub wlt_decoder: bool,
    /// The signing screen, for its ink latency.
    pub pad: Option<signpad::Pad>,
    /// Set once the update service exists (it needs the server, which needs this table).
    pub ota: OnceLock<Arc<update::Ota>>,
}

impl Diag {
    fn status(&self) -> Reply {
        let mut classes: Vec<Value> = crate::devices::chosen()
            .into_iter()
            .map(|c| {
                let state = if c.backend == "none" {
                    "disabled"
                } else {
                    "configured"
                };
                json!({"class": c.class, "backend": c.backend, "state": state, "detail": c.detail})
            })
            .collect();
        classes.push(json!({
            "class": "idphoto",
            "backend": if self.wlt_decoder { "library" } else { "none" },
            "state": if self.wlt_decoder { "configured" } else { "disabled" },
            "detail": if self.wlt_decoder { "" } else { "no licensed WLT decoder (idcard.wlt_decoder)" },
        }));
        for c in NOT_BUILT {
            classes.push(json!({
                "class": c, "backend": "", "state": "not built",
                "detail": "not in this firmware yet: its endpoints answer code \"9\"",
            }));
        }
        let cameras: Vec<Value> = Role::ALL
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let state = match self.cams.status(*r) {
                    "run" => "streaming",
                    "ok" => "ready",
                    _ => "absent",
                };
                json!({"camidx": i.to_string(), "name": r.status_key(), "state": state})
            })
            .collect();
        let (state, progress) = match self.ota.get() {
            Some(o) => o.brief(),
            None => ("unavailable", 0),
        };
        let mut r = Reply::ok()
            .with("version", env!("CARGO_PKG_VERSION"))
            .with("uptime_seconds", self.started.elapsed().as_secs())
            .with("serial_number", self.serial_number.clone())
            .with("classes", Value::Array(classes))
            .with("cameras", Value::Array(cameras))
            .with("update", json!({"state": state, "progress": progress}));
        if let Some(p) = &self.pad {
            let (n, p50, p95) = p.latency();
            r = r.with(
                "signpad_latency_ms",
                json!({"samples": n, "p50": (p50 * 10.0).round() / 10.0, "p95": (p95 * 10.0).round() / 10.0}),
            );
            // Who has the screen and the pen: our windows, or the kiosk browser (9.4, 5.8).
            r = r.with(
                "signpad_state",
                json!({"handed_over": p.is_handed_over(), "pen_shared": p.is_pen_shared()}),
            );
        }
        r
    }
}

pub fn register(table: &mut Table, d: Arc<Diag>) {
    table.register(
        "diag",
        "status",
        handler(move |_| {
            let d = d.clone();
            // Camera states take the slots' locks: off the runtime.
            async move { blocking(move || Ok(d.status())).await }
        }),
    );
    table.register(
        "diag",
        "log",
        handler(|req| async move {
            let n = req
                .fields()
                .tuning("lines", 1, LOG_LINES as i64)?
                .unwrap_or(100);
            Ok(Reply::ok().with("lines", Value::Array(recent(n as usize))))
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn ring_keeps_the_last_lines_with_fields() {
        let sub = tracing_subscriber::registry().with(RingLayer);
        tracing::subscriber::with_default(sub, || {
            for i in 0..(LOG_LINES + 20) {
                tracing::info!(n = i, who = "x", "line {i}");
            }
            tracing::warn!("{}", "é".repeat(MAX_MESSAGE + 5));
        });
        let lines = recent(LOG_LINES + 100);
        assert_eq!(lines.len(), LOG_LINES);
        let last = &lines[LOG_LINES - 1];
        assert_eq!(last["level"], "WARN");
        assert_eq!(
            last["message"].as_str().unwrap().chars().count(),
            MAX_MESSAGE + 1
        );
        let before = lines[LOG_LINES - 2]["message"].as_str().unwrap();
        assert_eq!(
            before,
            format!("line {} n={} who=x", LOG_LINES + 19, LOG_LINES + 19)
        );
        assert_eq!(recent(3).len(), 3);
    }
}
