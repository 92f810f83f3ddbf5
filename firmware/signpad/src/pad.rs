//! The compositor and the signing task: one thread owns the screen's frame, takes pen samples and
//! window changes, redraws only what changed and presents at most once per refresh interval;
//! frames for `sign=stream` are encoded only while somebody watches.
//!
//! Task states (vendor 9.7): 0 idle (no window, or the last one left without a signature), 1
//! signing (a window is shown), 2 done (confirmed: the window closed, the signature waits for
//! `sign=get`). A new `sign=start` replaces the window and task shown before.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ab_glyph::FontArc;
use apierror::{ApiError, ErrorKind, Text};
use bytes::Bytes;
use image::{Rgb, RgbImage};
use imaging::watermark::{text, text_width};
use tokio::sync::watch;

use crate::screen::Screen;
use crate::window::{Action, ButtonKind, SignOptions, SignWindow};
use crate::{PenSample, Rect};

#[derive(Debug, Clone, PartialEq)]
pub enum PadError {
    /// A task id that is not the current task.
    UnknownTask(String),
    /// The screen backend failed.
    Screen(String),
}

impl From<PadError> for ApiError {
    fn from(e: PadError) -> ApiError {
        match e {
            PadError::UnknownTask(id) => ApiError::with(
                ErrorKind::NotFound,
                Text::new(
                    format!("没有签字任务 {id}"),
                    format!("no signing task {id}"),
                ),
            ),
            PadError::Screen(m) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("签字屏不可用：{m}"),
                    format!("signing screen unavailable: {m}"),
                ),
            ),
        }
    }
}

/// A pen report on the sign window, for live pen events (vendor 9.13's purpose, over WebSocket).
#[derive(Debug, Clone, PartialEq)]
pub struct PenEvent {
    /// "down", "move" or "up".
    pub kind: &'static str,
    /// Screen pixels.
    pub x: f32,
    pub y: f32,
    /// 0..1.
    pub pressure: f32,
    pub task_id: String,
}

type PenListener = Box<dyn Fn(&PenEvent) + Send + Sync>;

/// A task's state as `sign=status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Idle = 0,
    Signing = 1,
    Done = 2,
}

struct Task {
    id: String,
    status: Status,
    png: Option<Vec<u8>>,
    remark: String,
}

struct State {
    window: Option<SignWindow>,
    task: Option<Task>,
    pen: VecDeque<PenSample>,
    pen_down: bool,
    /// Screen rectangle to redraw.
    dirty: Rect,
    stop: bool,
}

struct Inner {
    listener: Mutex<Option<PenListener>>,
    /// Milliseconds from a pen event's kernel time stamp to the end of the present that showed
    /// it (the page flip on DRM), the last 1000.
    latency: Mutex<VecDeque<f64>>,
    screen: Box<dyn Screen>,
    font: Option<FontArc>,
    state: Mutex<State>,
    wake: Condvar,
    jpeg: watch::Sender<Option<Bytes>>,
    size: (u32, u32),
}

/// The signing screen.
#[derive(Clone)]
pub struct Pad {
    inner: Arc<Inner>,
}

/// Most pen samples waiting for the compositor (older ones are dropped when it falls behind).
const PEN_QUEUE: usize = 4096;
/// Frame rate of `sign=stream`.
pub const STREAM_FPS: u32 = 15;

fn idle_screen(w: u32, h: u32, font: Option<&FontArc>, title: &str) -> RgbImage {
    let mut img = RgbImage::from_pixel(w, h, Rgb([0xee, 0xf1, 0xf5]));
    if let Some(f) = font {
        let size = (h as f32 / 14.0).clamp(16.0, 72.0);
        let tw = text_width(f, title, size);
        text(
            &mut img,
            f,
            title,
            size,
            ((w as f32 - tw) / 2.0, h as f32 / 2.0 - size),
            [0x4b, 0x55, 0x63],
        );
    }
    img
}

impl Pad {
    /// Start the compositor on `screen`; the idle screen shows `title`.
    pub fn start(screen: Box<dyn Screen>, font: Option<FontArc>, title: &str) -> Pad {
        let size = screen.size();
        let (jpeg, _) = watch::channel(None);
        let inner = Arc::new(Inner {
            listener: Mutex::new(None),
            latency: Mutex::new(VecDeque::new()),
            screen,
            font,
            state: Mutex::new(State {
                window: None,
                task: None,
                pen: VecDeque::new(),
                pen_down: false,
                dirty: Rect::new(0, 0, size.0, size.1),
                stop: false,
            }),
            wake: Condvar::new(),
            jpeg,
            size,
        });
        let idle = idle_screen(size.0, size.1, inner.font.as_ref(), title);
        let i = inner.clone();
        thread::Builder::new()
            .name("signpad".into())
            .spawn(move || compositor(i, idle))
            .expect("spawn the compositor");
        tracing::info!(screen = %inner.screen.describe(), "signing screen started");
        Pad { inner }
    }

    pub fn size(&self) -> (u32, u32) {
        self.inner.size
    }

    pub fn describe(&self) -> String {
        self.inner.screen.describe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pen sample from a pen backend.
    pub fn pen(&self, s: PenSample) {
        let mut st = self.lock();
        if st.pen.len() >= PEN_QUEUE {
            st.pen.pop_front();
        }
        st.pen.push_back(s);
        drop(st);
        self.inner.wake.notify_one();
    }

    /// Show a sign window (vendor 9.1) for the task `id` (the caller names it).
    pub fn show(&self, id: String, o: SignOptions, remark: String) {
        let win = SignWindow::new(o, self.inner.font.as_ref());
        let mut st = self.lock();
        if let Some(old) = st.window.take() {
            st.dirty = st.dirty.union(&old.rect);
        }
        if let Some(t) = &st.task {
            if t.status == Status::Signing {
                tracing::info!(task = %t.id, "signing task replaced by a new one");
            }
        }
        st.dirty = st.dirty.union(&win.rect);
        st.window = Some(win);
        st.task = Some(Task {
            id,
            status: Status::Signing,
            png: None,
            remark,
        });
        drop(st);
        self.inner.wake.notify_one();
    }

    fn close_window(st: &mut State) {
        if let Some(w) = st.window.take() {
            st.dirty = st.dirty.union(&w.rect);
        }
    }

    /// Close the window (vendor 9.2): a task being signed becomes idle; a confirmed signature
    /// stays.
    pub fn stop(&self) {
        let mut st = self.lock();
        Self::close_window(&mut st);
        if let Some(t) = st.task.as_mut() {
            if t.status == Status::Signing {
                t.status = Status::Idle;
            }
        }
        drop(st);
        self.inner.wake.notify_one();
    }

    fn check<'a>(task: &'a Option<Task>, id: Option<&str>) -> Result<Option<&'a Task>, PadError> {
        match (task, id) {
            (_, None) => Ok(task.as_ref()),
            (Some(t), Some(id)) if t.id == id => Ok(Some(t)),
            (_, Some(id)) => Err(PadError::UnknownTask(id.to_string())),
        }
    }

    /// `sign=status`: the task's state and id ("" when there was never a task).
    pub fn status(&self, id: Option<&str>) -> Result<(Status, String), PadError> {
        let st = self.lock();
        Ok(match Self::check(&st.task, id)? {
            Some(t) => (t.status, t.id.clone()),
            None => (Status::Idle, String::new()),
        })
    }

    /// `sign=get`: the confirmed signature (PNG) and the task's remark; None while there is none.
    pub fn signature(&self, id: Option<&str>) -> Result<Option<(Vec<u8>, String)>, PadError> {
        let st = self.lock();
        Ok(Self::check(&st.task, id)?.and_then(|t| t.png.clone().map(|p| (p, t.remark.clone()))))
    }

    /// `sign=reset_status` (vendor 9.14): a confirmed signature is forgotten and the state is 0;
    /// a window being signed is cleared to sign again.
    pub fn reset_status(&self) {
        let mut st = self.lock();
        let mut cleared = None;
        if let Some(w) = st.window.as_mut() {
            w.ink.clear();
            cleared = Some(w.rect);
        }
        if let Some(r) = cleared {
            st.dirty = st.dirty.union(&r);
        }
        if let Some(t) = st.task.as_mut() {
            if t.status == Status::Done {
                t.status = Status::Idle;
                t.png = None;
            }
        }
        drop(st);
        self.inner.wake.notify_one();
    }

    /// `sign=reset_sign_device` (vendor 9.12): open the screen again and redraw it all.
    pub fn reset_device(&self) -> Result<(), PadError> {
        self.inner.screen.reset().map_err(PadError::Screen)?;
        let mut st = self.lock();
        st.dirty = Rect::new(0, 0, self.inner.size.0, self.inner.size.1);
        st.pen_down = false;
        drop(st);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Ink latency so far: (samples, p50, p95) in milliseconds, from pen events stamped by the
    /// kernel (evdev) to the end of the present that showed them.
    pub fn latency(&self) -> (usize, f64, f64) {
        let mut v: Vec<f64> = self
            .inner
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        if v.is_empty() {
            return (0, 0.0, 0.0);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (v.len(), at(0.5), at(0.95))
    }

    /// Hand every pen report on a sign window to `f` (down and up always, moves at most once per
    /// refresh interval of the pen's clock), outside the compositor's lock.
    pub fn on_pen(&self, f: impl Fn(&PenEvent) + Send + Sync + 'static) {
        *self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// Stop the compositor (daemon shutdown).
    pub fn shutdown(&self) {
        self.lock().stop = true;
        self.inner.wake.notify_one();
    }

    /// The screen as JPEG frames, for `sign=stream`.
    pub fn frames(&self) -> watch::Receiver<Option<Bytes>> {
        // Nobody watched: what the channel holds is old.
        if self.inner.jpeg.receiver_count() == 0 {
            self.inner.jpeg.send_replace(None);
        }
        let rx = self.inner.jpeg.subscribe();
        // A new watcher gets a frame at once.
        let mut st = self.lock();
        st.dirty = Rect::new(0, 0, self.inner.size.0, self.inner.size.1);
        drop(st);
        self.inner.wake.notify_one();
        rx
    }

    /// Wait until the compositor has taken every pen sample given so far (tests, and a page's
    /// `sign=get` right after the pen went up).
    pub fn settle(&self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.lock().pen.is_empty() {
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Compose `damage` of the screen: the idle screen, the window over it at its opacity.
fn compose(frame: &mut RgbImage, idle: &RgbImage, win: Option<&SignWindow>, damage: Rect) {
    for y in damage.y..damage.bottom() {
        for x in damage.x..damage.right() {
            let base = idle.get_pixel(x as u32, y as u32).0;
            let px = match win {
                Some(w) if w.rect.contains(x as f32, y as f32) => {
                    let top = w.pixel((x - w.rect.x) as u32, (y - w.rect.y) as u32);
                    let a = w.opacity as u32;
                    let mut o = [0u8; 3];
                    for i in 0..3 {
                        o[i] = ((base[i] as u32 * (100 - a) + top[i] as u32 * a) / 100) as u8;
                    }
                    o
                }
                _ => base,
            };
            frame.put_pixel(x as u32, y as u32, Rgb(px));
        }
    }
}

fn compositor(inner: Arc<Inner>, idle: RgbImage) {
    let (w, h) = inner.size;
    let screen_rect = Rect::new(0, 0, w, h);
    let interval = Duration::from_secs_f64(1.0 / inner.screen.refresh_hz().max(1) as f64);
    let stream_interval = Duration::from_secs_f64(1.0 / STREAM_FPS as f64);
    let mut frame = idle.clone();
    let mut last_present = Instant::now() - interval;
    let mut last_stream = Instant::now() - stream_interval;
    let mut stream_stale = true;
    // The oldest pen event drawn and not yet presented (its time stamp, ms since the epoch).
    let mut unshown: Option<f64> = None;
    let period_ms = 1000.0 / inner.screen.refresh_hz().max(1) as f64;
    let mut last_move = f64::MIN;
    let mut events: Vec<PenEvent> = Vec::new();
    loop {
        let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.stop || Arc::strong_count(&inner) == 1 {
            return;
        }
        // Pen samples: into the window, button presses into task changes.
        while let Some(s) = st.pen.pop_front() {
            let prev = st.pen_down;
            st.pen_down = s.down;
            if st.window.is_none() {
                continue;
            }
            let kind = match (prev, s.down) {
                (false, true) => Some("down"),
                (true, true) if s.t_ms - last_move >= period_ms => Some("move"),
                (true, false) => Some("up"),
                _ => None,
            };
            if let Some(kind) = kind {
                if kind == "move" {
                    last_move = s.t_ms;
                }
                events.push(PenEvent {
                    kind,
                    x: s.x,
                    y: s.y,
                    pressure: s.pressure,
                    task_id: st.task.as_ref().map(|t| t.id.clone()).unwrap_or_default(),
                });
            }
            let win = st.window.as_mut().expect("checked above");
            let (action, damage) = win.pen(&s, prev, inner.font.as_ref());
            if !damage.is_empty() && unshown.is_none() {
                unshown = Some(s.t_ms);
            }
            let rect = win.rect;
            let mut dirty = damage;
            // The window closes with this state and signature.
            let mut outcome = None;
            match action {
                Action::Pressed(ButtonKind::Ok) if !win.ink.is_empty() => {
                    outcome = Some((Status::Done, Some(win.ink.to_png(win.ink_color))));
                }
                Action::Pressed(ButtonKind::Ok) => {
                    tracing::debug!("confirm pressed with nothing signed: ignored");
                }
                Action::Pressed(ButtonKind::Reset) => {
                    win.ink.clear();
                    dirty = dirty.union(&rect);
                }
                Action::Pressed(ButtonKind::Return) => outcome = Some((Status::Idle, None)),
                Action::None => {}
            }
            if let Some((status, png)) = outcome {
                dirty = dirty.union(&rect);
                st.window = None;
                if let Some(t) = st.task.as_mut() {
                    t.status = status;
                    t.png = png;
                    tracing::info!(task = %t.id, status = status as u8, "sign window closed by its button");
                }
            }
            st.dirty = st.dirty.union(&dirty);
        }
        if !events.is_empty() {
            drop(st);
            if let Some(f) = inner
                .listener
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                for e in &events {
                    f(e);
                }
            }
            events.clear();
            continue;
        }
        let watching = inner.jpeg.receiver_count() > 0;
        let now = Instant::now();
        if !st.dirty.is_empty() && now >= last_present + interval {
            let damage = st.dirty.intersect(&screen_rect);
            st.dirty = Rect::default();
            compose(&mut frame, &idle, st.window.as_ref(), damage);
            drop(st);
            if let Err(e) = inner.screen.present(&frame, damage) {
                tracing::warn!("signing screen: present failed: {e}");
            }
            if let Some(t) = unshown.take() {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64() * 1000.0)
                    .unwrap_or(0.0);
                // Only pens stamping events with the wall clock (evdev) count.
                let lat = now - t;
                if (0.0..10_000.0).contains(&lat) {
                    let mut l = inner.latency.lock().unwrap_or_else(|e| e.into_inner());
                    if l.len() >= 1000 {
                        l.pop_front();
                    }
                    l.push_back(lat);
                }
            }
            last_present = now;
            stream_stale = true;
            continue;
        }
        // A still screen is sent again every second, so that viewers joining and proxies
        // see a live stream.
        if watching && now >= last_stream + Duration::from_secs(1) {
            stream_stale = true;
        }
        if watching && stream_stale && now >= last_stream + stream_interval {
            drop(st);
            stream_stale = false;
            last_stream = now;
            match imaging::codec::encode_jpeg(&frame, 85, (96, 96)) {
                Ok(j) => {
                    let _ = inner.jpeg.send(Some(Bytes::from(j)));
                }
                Err(e) => tracing::warn!("signing screen: frame not encoded: {e}"),
            }
            continue;
        }
        // Sleep until something happens or the next present/stream is due.
        let mut wait = Duration::from_millis(250);
        if !st.dirty.is_empty() {
            wait = wait.min((last_present + interval).saturating_duration_since(now));
        }
        if watching {
            let due = if stream_stale {
                last_stream + stream_interval
            } else {
                last_stream + Duration::from_secs(1)
            };
            wait = wait.min(due.saturating_duration_since(now));
        }
        if st.pen.is_empty() {
            let _ = inner
                .wake
                .wait_timeout(st, wait.max(Duration::from_millis(1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::VirtualScreen;

    fn pad() -> Pad {
        Pad::start(
            Box::new(VirtualScreen {
                width: 640,
                height: 400,
                hz: 60,
            }),
            None,
            "test",
        )
    }

    fn s(x: f32, y: f32, down: bool, t: f64) -> PenSample {
        PenSample {
            x,
            y,
            pressure: 1.0,
            down,
            t_ms: t,
        }
    }

    #[test]
    fn sign_confirm_get_reset() {
        let p = pad();
        assert_eq!(p.status(None).unwrap(), (Status::Idle, String::new()));
        p.show(
            "t1".into(),
            SignOptions::new(Rect::new(20, 20, 600, 360)),
            "r".into(),
        );
        assert_eq!(p.status(Some("t1")).unwrap().0, Status::Signing);
        assert!(p.status(Some("zz")).is_err());
        // Confirm with nothing signed: ignored.
        let ok = (20.0 + 600.0 - 156.0 + 20.0, 20.0 + 360.0 - 72.0 + 20.0);
        p.pen(s(ok.0, ok.1, true, 0.0));
        p.pen(s(ok.0, ok.1, false, 10.0));
        p.settle(Duration::from_secs(2));
        assert_eq!(p.status(None).unwrap().0, Status::Signing);
        p.pen(s(100.0, 100.0, true, 20.0));
        p.pen(s(200.0, 120.0, true, 40.0));
        p.pen(s(200.0, 120.0, false, 50.0));
        p.pen(s(ok.0, ok.1, true, 60.0));
        p.pen(s(ok.0, ok.1, false, 70.0));
        p.settle(Duration::from_secs(2));
        thread::sleep(Duration::from_millis(20));
        assert_eq!(p.status(None).unwrap().0, Status::Done);
        let (png, remark) = p.signature(Some("t1")).unwrap().unwrap();
        assert_eq!(remark, "r");
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (600, 360));
        assert!(
            img.get_pixel(80, 80)[3] > 200,
            "ink where the pen went down"
        );
        p.reset_status();
        assert_eq!(p.status(None).unwrap().0, Status::Idle);
        assert!(p.signature(None).unwrap().is_none());
    }

    #[test]
    fn stream_frames_while_watched() {
        let p = pad();
        let mut rx = p.frames();
        let rt = std::time::Instant::now();
        while rx.borrow_and_update().is_none() {
            assert!(rt.elapsed() < Duration::from_secs(5), "no frame");
            thread::sleep(Duration::from_millis(5));
        }
        let jpeg = rx.borrow().clone().unwrap();
        assert_eq!(&jpeg[..2], b"\xff\xd8");
    }
}
