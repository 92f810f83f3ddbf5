//! The compositor and the signing task: one thread owns the screen's frame, takes pen samples and
//! window changes, redraws only what changed and presents at most once per refresh interval;
//! frames for `sign=stream` are encoded only while somebody watches.
//!
//! Task states (vendor 9.7): 0 idle (no window, or the last one left without a signature), 1
//! signing (a window is shown), 2 done (confirmed: the window closed, the signature waits for
//! `sign=get`). A new `sign=start` replaces the window and task shown before.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ab_glyph::FontArc;
use apierror::{ApiError, ErrorKind, Text};
use bytes::Bytes;
use image::{Rgb, RgbImage};
use imaging::watermark::{text, text_width};
use tokio::sync::watch;

use crate::docview::{DocAction, DocMarks, DocOptions, DocView, Pages, Placed};
use crate::panel::{Panel, PanelOptions};
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

/// Which element holds the pen from its touch-down to its lift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    None,
    Sign,
    Floating,
    Evaluator,
    Document,
}

/// What happened in the document viewer, for the client that showed it.
#[derive(Clone)]
pub enum DocEvent {
    /// A signature was confirmed and placed (`at_known`: placed where the signer pointed, not by
    /// the "签字" button).
    Signed { placed: Placed, at_known: bool },
    /// The signer pressed "完成": the viewer closed; what was placed on the document.
    Finished(DocMarks),
}

type DocSink = Arc<dyn Fn(DocEvent) + Send + Sync>;

/// The document being signed: the viewer, where its sign window goes, who hears of it.
struct DocSession {
    /// The caller's number for this document (a late close of an older one leaves it alone).
    serial: u64,
    view: DocView,
    /// The sign window's options; its rectangle is used as is when `pos_given`, else its size
    /// only, placed next to the point signed.
    window: SignOptions,
    pos_given: bool,
    sink: DocSink,
    /// The sign window shown belongs to the document: the page and the point signed.
    signing: Option<(usize, Option<(f32, f32)>)>,
}

/// The ad player (vendor 9.18): pictures fitted to the screen, each shown `period`, cross-faded.
pub struct Slides {
    pics: Vec<RgbImage>,
    period: Duration,
    start: Instant,
}

/// Length of the cross-fade between two pictures.
pub const FADE: Duration = Duration::from_millis(600);

impl Slides {
    /// Fit each picture into the screen (letterboxed on black).
    pub fn new(pics: &[RgbImage], screen: (u32, u32), period: Duration) -> Slides {
        let fitted = pics.iter().map(|p| fit(p, screen)).collect();
        Slides {
            pics: fitted,
            period: period.max(Duration::from_secs(1)),
            start: Instant::now(),
        }
    }

    /// (picture shown, picture fading out and how much of it is left) at `now`.
    fn at(&self, now: Instant) -> (usize, Option<(usize, f32)>) {
        let n = self.pics.len();
        let t = now.duration_since(self.start).as_secs_f64();
        let k = (t / self.period.as_secs_f64()) as usize;
        let into = t - k as f64 * self.period.as_secs_f64();
        let cur = k % n;
        if k > 0 && n > 1 && into < FADE.as_secs_f64() {
            let left = 1.0 - (into / FADE.as_secs_f64()) as f32;
            (cur, Some(((k - 1) % n, left)))
        } else {
            (cur, None)
        }
    }

    /// When the picture next changes (the start of the next fade, or the next fade step).
    fn next_change(&self, now: Instant) -> Instant {
        match self.at(now) {
            (_, Some(_)) => now + Duration::from_millis(50),
            _ => {
                let t = now.duration_since(self.start).as_secs_f64();
                let p = self.period.as_secs_f64();
                self.start + Duration::from_secs_f64(((t / p).floor() + 1.0) * p)
            }
        }
    }
}

struct State {
    window: Option<SignWindow>,
    evaluator: Option<Panel>,
    floating: Option<Panel>,
    /// The evaluator's last choice (kept until the next showevaluator).
    evaluation: Option<String>,
    /// The floating group's last press (taken when read).
    floating_pressed: Option<String>,
    slides: Option<Slides>,
    doc: Option<DocSession>,
    owner: Owner,
    task: Option<Task>,
    pen: VecDeque<PenSample>,
    pen_down: bool,
    /// Screen rectangle to redraw.
    dirty: Rect,
    stop: bool,
    /// While another program (the kiosk browser) drives the display: what `sign=stream` shows
    /// instead; pen samples are not ours then.
    handed_over: Option<RgbImage>,
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
    /// The pen shared as a pointer (`enable_sign_screen_mouse`): not grabbed by the pen reader.
    pen_shared: Arc<AtomicBool>,
    /// Held while the display is being taken back.
    taking_back: Mutex<()>,
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

/// The idle screen: `title`'s lines (the device's name and address) centred.
fn idle_screen(w: u32, h: u32, font: Option<&FontArc>, title: &str) -> RgbImage {
    let mut img = RgbImage::from_pixel(w, h, Rgb([0xee, 0xf1, 0xf5]));
    if let Some(f) = font {
        let mut size = (h as f32 / 14.0).clamp(16.0, 72.0);
        let mut y = h as f32 / 2.0 - size;
        for (i, line) in title.lines().enumerate() {
            let tw = text_width(f, line, size);
            let color = if i == 0 {
                [0x4b, 0x55, 0x63]
            } else {
                [0x6b, 0x72, 0x80]
            };
            text(
                &mut img,
                f,
                line,
                size,
                (((w as f32 - tw) / 2.0).max(4.0), y),
                color,
            );
            y += size * 1.5;
            size = (size * 0.5).max(14.0);
        }
    }
    img
}

/// A picture fitted into `screen` (aspect kept, centred on black bars).
pub fn fit(p: &RgbImage, screen: (u32, u32)) -> RgbImage {
    let (w, h) = screen;
    let k = (w as f32 / p.width().max(1) as f32).min(h as f32 / p.height().max(1) as f32);
    let (pw, ph) = (
        ((p.width() as f32 * k).round() as u32).clamp(1, w),
        ((p.height() as f32 * k).round() as u32).clamp(1, h),
    );
    let scaled = image::imageops::resize(p, pw, ph, image::imageops::FilterType::Triangle);
    let mut out = RgbImage::new(w, h);
    image::imageops::replace(
        &mut out,
        &scaled,
        ((w - pw) / 2) as i64,
        ((h - ph) / 2) as i64,
    );
    out
}

impl Pad {
    /// Start the compositor on `screen`; the idle screen shows `title`.
    pub fn start(screen: Box<dyn Screen>, font: Option<FontArc>, title: &str) -> Pad {
        let (w, h) = screen.size();
        let idle = idle_screen(w, h, font.as_ref(), title);
        Pad::start_with_idle(screen, font, idle)
    }

    /// Start the compositor with an idle screen of the screen's size (see [`fit`]).
    pub fn start_with_idle(screen: Box<dyn Screen>, font: Option<FontArc>, idle: RgbImage) -> Pad {
        let size = screen.size();
        let idle = if idle.dimensions() == size {
            idle
        } else {
            fit(&idle, size)
        };
        let (jpeg, _) = watch::channel(None);
        let inner = Arc::new(Inner {
            listener: Mutex::new(None),
            latency: Mutex::new(VecDeque::new()),
            screen,
            font,
            state: Mutex::new(State {
                window: None,
                evaluator: None,
                floating: None,
                evaluation: None,
                floating_pressed: None,
                slides: None,
                doc: None,
                owner: Owner::None,
                task: None,
                pen: VecDeque::new(),
                pen_down: false,
                dirty: Rect::new(0, 0, size.0, size.1),
                stop: false,
                handed_over: None,
            }),
            wake: Condvar::new(),
            jpeg,
            size,
            pen_shared: Arc::new(AtomicBool::new(false)),
            taking_back: Mutex::new(()),
        });
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

    /// The flag the pen reader watches: set = the pen is shared as a pointer, not grabbed.
    pub fn pen_shared(&self) -> Arc<AtomicBool> {
        self.inner.pen_shared.clone()
    }

    /// `enable_sign_screen_mouse` (vendor 5.8): share the pen with other readers as a pointer.
    pub fn set_pen_shared(&self, on: bool) {
        self.inner.pen_shared.store(on, Ordering::Relaxed);
        tracing::info!(shared = on, "signing screen: pen pointer");
    }

    pub fn is_pen_shared(&self) -> bool {
        self.inner.pen_shared.load(Ordering::Relaxed)
    }

    /// Hand the display to another program (the kiosk browser, vendor 9.4): the screen device is
    /// closed, windows stay as they are but get no pen; `sign=stream` shows `notice`.
    pub fn hand_over(&self, notice: &str) -> Result<(), PadError> {
        let (w, h) = self.inner.size;
        let mut img = RgbImage::from_pixel(w, h, Rgb([0x1f, 0x29, 0x37]));
        if let Some(f) = self.inner.font.as_ref() {
            let size = (h as f32 / 24.0).clamp(14.0, 40.0);
            let mut y = h as f32 / 2.0 - size * 2.0;
            for line in notice.lines() {
                let tw = text_width(f, line, size);
                text(
                    &mut img,
                    f,
                    line,
                    size,
                    (((w as f32 - tw) / 2.0).max(8.0), y),
                    [0xe5, 0xe7, 0xeb],
                );
                y += size * 1.6;
            }
        }
        let mut st = self.lock();
        st.handed_over = Some(img);
        st.dirty = Rect::new(0, 0, w, h);
        st.pen.clear();
        st.pen_down = false;
        st.owner = Owner::None;
        drop(st);
        // The last present waits for the lock above, then the device is closed.
        self.inner.screen.release().map_err(PadError::Screen)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Take the display back (the browser closed or died): open it again and redraw everything.
    pub fn take_back(&self) -> Result<(), PadError> {
        // One at a time (the browser's waiter and a closing request may both call this).
        let _one = self
            .inner
            .taking_back
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !self.is_handed_over() {
            return Ok(());
        }
        // The other program's last descriptor of the device may close a moment after it ended.
        let mut r = self.inner.screen.reset().map_err(PadError::Screen);
        for _ in 0..30 {
            if r.is_ok() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
            r = self.inner.screen.reset().map_err(PadError::Screen);
        }
        let mut st = self.lock();
        st.handed_over = None;
        st.dirty = Rect::new(0, 0, self.inner.size.0, self.inner.size.1);
        st.pen.clear();
        st.pen_down = false;
        drop(st);
        self.inner.wake.notify_one();
        r
    }

    pub fn is_handed_over(&self) -> bool {
        self.lock().handed_over.is_some()
    }

    pub fn describe(&self) -> String {
        self.inner.screen.describe()
    }

    /// Change the compositor's state, then wake it.
    fn change<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.lock());
        self.inner.wake.notify_one();
        r
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pen sample from a pen backend.
    pub fn pen(&self, s: PenSample) {
        self.change(|st| {
            if st.pen.len() >= PEN_QUEUE {
                st.pen.pop_front();
            }
            st.pen.push_back(s);
        });
    }

    /// Show a sign window (vendor 9.1) for the task `id` (the caller names it).
    pub fn show(&self, id: String, o: SignOptions, remark: String) {
        let win = SignWindow::new(o, self.inner.font.as_ref());
        self.change(|st| {
            Self::close_window(st);
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
        });
    }

    fn close_window(st: &mut State) {
        if let Some(d) = st.doc.as_mut() {
            d.signing = None;
        }
        if let Some(w) = st.window.take() {
            st.dirty = st.dirty.union(&w.rect);
        }
    }

    /// Close the window (vendor 9.2): a task being signed becomes idle; a confirmed signature
    /// stays.
    pub fn stop(&self) {
        self.change(|st| {
            Self::close_window(st);
            if let Some(t) = st.task.as_mut() {
                if t.status == Status::Signing {
                    t.status = Status::Idle;
                }
            }
        });
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
        self.change(|st| {
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
        });
    }

    /// `sign=reset_sign_device` (vendor 9.12): open the screen again and redraw it all.
    pub fn reset_device(&self) -> Result<(), PadError> {
        // While the browser drives the display it is not ours to open.
        if !self.is_handed_over() {
            self.inner.screen.reset().map_err(PadError::Screen)?;
        }
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

    fn full(&self) -> Rect {
        Rect::new(0, 0, self.inner.size.0, self.inner.size.1)
    }

    /// Show the evaluator (vendor 9.8); its previous choice is forgotten.
    pub fn show_evaluator(&self, o: PanelOptions) {
        let p = Panel::new(o, self.inner.font.as_ref());
        self.change(|st| {
            if let Some(old) = st.evaluator.take() {
                st.dirty = st.dirty.union(&old.rect);
            }
            st.dirty = st.dirty.union(&p.rect);
            st.evaluator = Some(p);
            st.evaluation = None;
        });
    }

    /// Close the evaluator (9.9); its choice stays readable.
    pub fn close_evaluator(&self) {
        self.change(|st| {
            if let Some(old) = st.evaluator.take() {
                st.dirty = st.dirty.union(&old.rect);
            }
        });
    }

    /// The evaluator's choice (9.10): the pressed button's content.
    pub fn evaluation(&self) -> Option<String> {
        self.lock().evaluation.clone()
    }

    /// Show the floating button group (9.15).
    pub fn show_floating(&self, o: PanelOptions) {
        let p = Panel::new(o, self.inner.font.as_ref());
        self.change(|st| {
            if let Some(old) = st.floating.take() {
                st.dirty = st.dirty.union(&old.rect);
            }
            st.dirty = st.dirty.union(&p.rect);
            st.floating = Some(p);
            st.floating_pressed = None;
        });
    }

    /// Close the floating button group (9.16).
    pub fn close_floating(&self) {
        self.change(|st| {
            if let Some(old) = st.floating.take() {
                st.dirty = st.dirty.union(&old.rect);
            }
        });
    }

    /// The floating group's last press (9.17), taken: the next read sees the next press.
    pub fn floating_pressed(&self) -> Option<String> {
        self.lock().floating_pressed.take()
    }

    /// Start the ad player (9.18) with pictures already fitted by [`Slides::new`].
    pub fn show_slides(&self, slides: Slides) {
        let full = self.full();
        self.change(|st| {
            st.slides = Some(slides);
            st.dirty = full;
        });
    }

    /// Stop the ad player (9.19): the idle screen again.
    pub fn close_slides(&self) {
        let full = self.full();
        self.change(|st| {
            st.slides = None;
            st.dirty = full;
        });
    }

    /// Show a document for signing (vendor 9.6), replacing one shown before. `window` is the sign
    /// window's look; its rectangle is used as is when `pos_given`, else only its size. `sink`
    /// hears of every signature and of the signer finishing (called outside the compositor's
    /// lock).
    pub fn show_document(
        &self,
        serial: u64,
        pages: Arc<dyn Pages>,
        opts: DocOptions,
        window: SignOptions,
        pos_given: bool,
        sink: impl Fn(DocEvent) + Send + Sync + 'static,
    ) {
        let view = DocView::new(pages, opts, self.inner.size, self.ready_callback());
        let full = self.full();
        self.change(|st| {
            if st.doc.as_ref().is_some_and(|d| d.signing.is_some()) {
                Self::close_window(st);
            }
            st.doc = Some(DocSession {
                serial,
                view,
                window,
                pos_given,
                sink: Arc::new(sink),
                signing: None,
            });
            st.dirty = full;
        });
    }

    /// Replace the shown document's pages (vendor `update`), now numbered `serial`: the viewer's
    /// zoom and mode stay unless `keep_zoom` / `keep_mode` are false (the caller asked for
    /// others in `opts`); signing settings come from `opts`; `sink` hears of the new document;
    /// what was placed on the old one is forgotten. False when none is shown.
    pub fn update_document(
        &self,
        serial: u64,
        pages: Arc<dyn Pages>,
        mut opts: DocOptions,
        keep_zoom: bool,
        keep_mode: bool,
        sink: impl Fn(DocEvent) + Send + Sync + 'static,
    ) -> bool {
        let ready = self.ready_callback();
        let full = self.full();
        let mut st = self.lock();
        let Some(d) = st.doc.as_mut() else {
            return false;
        };
        if keep_zoom {
            opts.zoom = d.view.opts.zoom;
        }
        if keep_mode {
            opts.mode = d.view.mode();
        }
        d.view = DocView::new(pages, opts, self.inner.size, ready);
        d.sink = Arc::new(sink);
        d.serial = serial;
        let signing = d.signing.take().is_some();
        if signing {
            Self::close_window(&mut st);
        }
        st.dirty = full;
        drop(st);
        self.inner.wake.notify_one();
        true
    }

    /// Close the document numbered `serial` (any with None) and its sign window; what was placed
    /// on it is dropped. False when no such document is shown.
    pub fn close_document(&self, serial: Option<u64>) -> bool {
        let full = self.full();
        let mut st = self.lock();
        let other = |d: &DocSession| serial.is_some_and(|n| n != d.serial);
        if st.doc.as_ref().is_none_or(other) {
            return false;
        }
        let d = st.doc.take();
        if d.as_ref().is_some_and(|d| d.signing.is_some()) {
            Self::close_window(&mut st);
        }
        st.dirty = full;
        drop(st);
        // The viewer (its render thread's handle, its pictures) goes outside the lock.
        drop(d);
        self.inner.wake.notify_one();
        true
    }

    /// The number of the document shown, if any.
    pub fn document_serial(&self) -> Option<u64> {
        self.lock().doc.as_ref().map(|d| d.serial)
    }

    /// Open the document's sign window for a signature at (`fx`, `fy`) of `page` (page
    /// fractions): the page is shown with that point in view (a keyword found in the document).
    pub fn sign_document_at(&self, serial: u64, page: usize, fx: f32, fy: f32) {
        let full = self.full();
        self.change(|st| {
            let Some(d) = st.doc.as_mut().filter(|d| d.serial == serial) else {
                return;
            };
            let screen = d.view.show_point(page, fx, fy);
            let page = d.view.page;
            st.dirty = full;
            let mut out = Vec::new();
            doc_action(
                st,
                DocAction::Sign {
                    page,
                    at: Some((fx, fy)),
                    screen,
                },
                self.inner.font.as_ref(),
                &mut out,
            );
        });
    }

    /// Whether a document is shown.
    pub fn has_document(&self) -> bool {
        self.lock().doc.is_some()
    }

    /// A toolbar key of the document viewer, by its label (tests and the rig press it).
    pub fn document_key(&self, label: &str) -> Option<Rect> {
        self.lock()
            .doc
            .as_ref()
            .and_then(|d| d.view.key_rect(label))
    }

    /// The document viewer's page shown (0-based) and its page area.
    pub fn document_page(&self) -> Option<(usize, Rect)> {
        self.lock()
            .doc
            .as_ref()
            .map(|d| (d.view.page, d.view.area()))
    }

    fn ready_callback(&self) -> Arc<dyn Fn() + Send + Sync> {
        let weak = Arc::downgrade(&self.inner);
        Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(d) = st.doc.as_mut() {
                    d.view.mark_stale();
                    st.dirty = Rect::new(0, 0, inner.size.0, inner.size.1);
                }
                drop(st);
                inner.wake.notify_one();
            }
        })
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

/// Compose `damage` of the screen: the idle screen or the ad player's picture, the evaluator, the
/// floating buttons, the sign window over them at its opacity.
fn compose(frame: &mut RgbImage, idle: &RgbImage, st: &State, now: Instant, damage: Rect) {
    if let Some(notice) = &st.handed_over {
        for y in damage.y..damage.bottom() {
            for x in damage.x..damage.right() {
                frame.put_pixel(x as u32, y as u32, *notice.get_pixel(x as u32, y as u32));
            }
        }
        return;
    }
    let slide = st.slides.as_ref().map(|sl| (sl, sl.at(now)));
    let doc = st.doc.as_ref().map(|d| d.view.view());
    for y in damage.y..damage.bottom() {
        for x in damage.x..damage.right() {
            let (ux, uy) = (x as u32, y as u32);
            let mut base = match &slide {
                _ if doc.is_some() => doc.expect("checked").get_pixel(ux, uy).0,
                Some((sl, (cur, None))) => sl.pics[*cur].get_pixel(ux, uy).0,
                Some((sl, (cur, Some((prev, left))))) => {
                    let a = sl.pics[*cur].get_pixel(ux, uy).0;
                    let b = sl.pics[*prev].get_pixel(ux, uy).0;
                    let mut o = [0u8; 3];
                    for i in 0..3 {
                        o[i] = (a[i] as f32 * (1.0 - left) + b[i] as f32 * left).round() as u8;
                    }
                    o
                }
                None => idle.get_pixel(ux, uy).0,
            };
            for p in [st.evaluator.as_ref(), st.floating.as_ref()]
                .into_iter()
                .flatten()
            {
                if p.rect.contains(x as f32, y as f32) {
                    if let Some(c) = p.pixel((x - p.rect.x) as u32, (y - p.rect.y) as u32) {
                        base = c;
                    }
                }
            }
            let px = match st.window.as_ref() {
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
            frame.put_pixel(ux, uy, Rgb(px));
        }
    }
}

/// Share of the page's width a signature as wide as its window takes on the page.
pub const SIGNATURE_WIDTH: f32 = 0.35;

/// A signature confirmed in the document's sign window, placed on `page`: its picture keeps its
/// proportions, a signature as wide as the window takes [`SIGNATURE_WIDTH`] of the page's width;
/// its top-left at `at` (moved onto the page if it would stick out), or without a point at the
/// bottom right of the page.
fn place(
    view: &DocView,
    page: usize,
    at: Option<(f32, f32)>,
    img: image::RgbaImage,
    win_w: u32,
) -> Placed {
    let (pw, ph) = view.page_size(page);
    let k = SIGNATURE_WIDTH * pw / win_w.max(1) as f32;
    let w = (img.width() as f32 * k / pw.max(1.0)).min(1.0);
    let h = (img.height() as f32 * k / ph.max(1.0)).min(1.0);
    let (x, y) = match at {
        Some((x, y)) => (x.min(1.0 - w).max(0.0), y.min(1.0 - h).max(0.0)),
        None => ((0.95 - w).max(0.0), (0.92 - h).max(0.0)),
    };
    Placed {
        page,
        x,
        y,
        w,
        h,
        image: img,
    }
}

/// Act on what the pen did in the document viewer: open its sign window, or tell the client the
/// signer finished.
fn doc_action(
    st: &mut State,
    a: DocAction,
    font: Option<&FontArc>,
    out: &mut Vec<(DocSink, DocEvent)>,
) {
    match a {
        DocAction::None => {}
        DocAction::Finish => {
            // The viewer closes at once; the client hears of what was placed.
            let Some(d) = st.doc.take() else { return };
            if d.signing.is_some() {
                if let Some(w) = st.window.take() {
                    st.dirty = st.dirty.union(&w.rect);
                }
            }
            let (w, h) = d.view.screen();
            st.dirty = Rect::new(0, 0, w, h);
            out.push((d.sink.clone(), DocEvent::Finished(d.view.marks())));
        }
        DocAction::Sign { page, at, screen } => {
            if st.window.is_some() {
                return;
            }
            let Some(d) = st.doc.as_mut() else { return };
            let mut o = d.window.clone();
            if !d.pos_given {
                let area = d.view.area();
                o.rect = Rect::new(
                    screen.0 as i32,
                    screen.1 as i32,
                    o.rect.w.min(area.w),
                    o.rect.h.min(area.h),
                )
                .moved_inside(&area);
            }
            d.signing = Some((page, at));
            d.view.cancel_press();
            let win = SignWindow::new(o, font);
            st.dirty = st.dirty.union(&win.rect);
            st.window = Some(win);
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
    let mut doc_out: Vec<(DocSink, DocEvent)> = Vec::new();
    let mut next_slide = Instant::now();
    loop {
        let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.stop || Arc::strong_count(&inner) == 1 {
            return;
        }
        if st.handed_over.is_some() {
            st.pen.clear();
        }
        // Pen samples: into the window, button presses into task changes.
        while let Some(s) = st.pen.pop_front() {
            let prev = st.pen_down;
            st.pen_down = s.down;
            if !prev && s.down {
                st.owner = if st
                    .window
                    .as_ref()
                    .is_some_and(|w| w.rect.contains(s.x, s.y))
                {
                    Owner::Sign
                } else if st
                    .floating
                    .as_ref()
                    .is_some_and(|p| p.rect.contains(s.x, s.y))
                {
                    Owner::Floating
                } else if st
                    .evaluator
                    .as_ref()
                    .is_some_and(|p| p.rect.contains(s.x, s.y))
                {
                    Owner::Evaluator
                } else if st.window.is_none() && st.doc.is_some() {
                    Owner::Document
                } else if st.window.is_some() {
                    // Outside the window: the window still takes it (a button released elsewhere
                    // does nothing, ink outside it is not drawn).
                    Owner::Sign
                } else {
                    Owner::None
                };
            }
            let owner = st.owner;
            if !s.down {
                st.owner = Owner::None;
            }
            if owner == Owner::Floating || owner == Owner::Evaluator {
                let font = inner.font.as_ref();
                let State {
                    floating,
                    evaluator,
                    floating_pressed,
                    evaluation,
                    ..
                } = &mut *st;
                let (panel, result) = if owner == Owner::Floating {
                    (floating.as_mut(), floating_pressed)
                } else {
                    (evaluator.as_mut(), evaluation)
                };
                let Some(panel) = panel else { continue };
                let (pressed, damage) = panel.pen(&s, prev, font);
                let mut dirty = damage;
                if let Some(content) = pressed {
                    tracing::info!(button = %content, "signing screen: panel button pressed");
                    *result = Some(content);
                    // The evaluator closes once a rating is chosen; the floating group stays.
                    if owner == Owner::Evaluator {
                        dirty = dirty.union(&panel.rect);
                        *evaluator = None;
                    }
                }
                st.dirty = st.dirty.union(&dirty);
                continue;
            }
            if owner == Owner::Document {
                let Some(d) = st.doc.as_mut() else { continue };
                let (action, damage) = d.view.pen(&s, prev);
                st.dirty = st.dirty.union(&damage);
                doc_action(&mut st, action, inner.font.as_ref(), &mut doc_out);
                continue;
            }
            if owner != Owner::Sign || st.window.is_none() {
                continue;
            }
            let kind = match (prev, s.down) {
                (false, true) => Some("down"),
                (true, true) if s.t_ms - last_move >= period_ms => Some("move"),
                (true, false) => Some("up"),
                _ => None,
            };
            // The document's sign window is its client's only (no live pen events).
            let doc_window = st.doc.as_ref().is_some_and(|d| d.signing.is_some());
            if let (Some(kind), false) = (kind, doc_window) {
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
            let doc_signing = st.doc.as_ref().and_then(|d| d.signing);
            let win = st.window.as_mut().expect("checked above");
            let (action, damage) = win.pen(&s, prev, inner.font.as_ref());
            if !damage.is_empty() && unshown.is_none() {
                unshown = Some(s.t_ms);
            }
            let rect = win.rect;
            let mut dirty = damage;
            // The window closes with this state and signature.
            let mut outcome = None;
            if let (Some((page, at)), Action::Pressed(k)) = (doc_signing, action) {
                // The document's sign window: a confirmed signature is placed on the page.
                let win = st.window.as_ref().expect("checked above");
                let placed = match k {
                    ButtonKind::Ok => match win.ink.cropped(win.ink_color, 4) {
                        Some((img, _)) => Some((img, win.rect.w)),
                        None => {
                            tracing::debug!("confirm pressed with nothing signed: ignored");
                            st.dirty = st.dirty.union(&dirty);
                            continue;
                        }
                    },
                    ButtonKind::Reset => {
                        let win = st.window.as_mut().expect("checked above");
                        win.ink.clear();
                        st.dirty = st.dirty.union(&dirty.union(&rect));
                        continue;
                    }
                    ButtonKind::Return => None,
                };
                st.window = None;
                st.dirty = st.dirty.union(&dirty.union(&rect));
                let d = st.doc.as_mut().expect("checked above");
                d.signing = None;
                d.view.mark_stale();
                if let Some((img, win_w)) = placed {
                    let p = place(&d.view, page, at, img, win_w);
                    d.view.place(p.clone());
                    doc_out.push((
                        d.sink.clone(),
                        DocEvent::Signed {
                            placed: p,
                            at_known: at.is_some(),
                        },
                    ));
                }
                continue;
            }
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
        if !doc_out.is_empty() {
            drop(st);
            for (f, e) in doc_out.drain(..) {
                f(e);
            }
            continue;
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
        let slide_change = st.slides.as_ref().map(|sl| sl.next_change(now));
        if let Some(next) = slide_change {
            if now >= next_slide {
                st.dirty = screen_rect;
                next_slide = next;
            }
        }
        if let Some(d) = st.doc.as_mut() {
            let a = d.view.tick(now);
            if a != DocAction::None {
                doc_action(&mut st, a, inner.font.as_ref(), &mut doc_out);
                continue;
            }
        }
        if !st.dirty.is_empty() && now >= last_present + interval {
            let damage = st.dirty.intersect(&screen_rect);
            if let Some(d) = st.doc.as_mut() {
                d.view.picture(inner.font.as_ref());
            }
            st.dirty = Rect::default();
            compose(&mut frame, &idle, &st, now, damage);
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
        // Never encode while a change waits for its present: a frame sent after a window or a
        // new watcher came shows everything done before.
        if watching && stream_stale && st.dirty.is_empty() && now >= last_stream + stream_interval {
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
        if let Some(sl) = &st.slides {
            next_slide = next_slide.min(sl.next_change(now));
            wait = wait.min(next_slide.saturating_duration_since(now));
        }
        if !st.dirty.is_empty() {
            wait = wait.min((last_present + interval).saturating_duration_since(now));
        }
        if let Some(t) = st.doc.as_ref().and_then(|d| d.view.next_timer()) {
            wait = wait.min(t.saturating_duration_since(now));
        }
        if watching && st.dirty.is_empty() {
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

    fn button(content: &str) -> crate::panel::PanelButton {
        crate::panel::PanelButton {
            content: content.into(),
            fontsize: 18.0,
            textcolor: [255, 255, 255],
            buttoncolor: [0x71, 0xa2, 0xe4],
            icon: crate::panel::Icon::None,
            size: None,
        }
    }

    fn press(p: &Pad, r: Rect, t: f64) {
        let (x, y) = (r.x as f32 + r.w as f32 / 2.0, r.y as f32 + r.h as f32 / 2.0);
        p.pen(s(x, y, true, t));
        p.pen(s(x, y, false, t + 10.0));
        p.settle(Duration::from_secs(2));
    }

    #[test]
    fn evaluator_keeps_its_choice_floating_result_is_taken_on_read() {
        let p = pad();
        let rect = Rect::new(100, 100, 400, 200);
        let opts = |names: &[&str], tip| PanelOptions {
            rect,
            tip,
            background: Some([255, 255, 255]),
            buttons: names.iter().map(|n| button(n)).collect(),
        };
        p.show_evaluator(opts(
            &["good", "bad"],
            Some(("tip".into(), 20.0, [0; 3], [255; 3])),
        ));
        let rects = crate::panel::Panel::new(
            opts(
                &["good", "bad"],
                Some(("tip".into(), 20.0, [0; 3], [255; 3])),
            ),
            None,
        )
        .button_rects();
        assert_eq!(p.evaluation(), None);
        let b = rects[1];
        press(&p, Rect::new(rect.x + b.x, rect.y + b.y, b.w, b.h), 0.0);
        assert_eq!(p.evaluation().as_deref(), Some("bad"));
        assert_eq!(
            p.evaluation().as_deref(),
            Some("bad"),
            "kept until the next show"
        );

        p.show_floating(opts(&["ok"], None));
        assert_eq!(p.floating_pressed(), None);
        press(&p, rect, 100.0);
        assert_eq!(p.floating_pressed().as_deref(), Some("ok"));
        assert_eq!(p.floating_pressed(), None, "cleared once read");
        p.close_floating();
        press(&p, rect, 200.0);
        assert_eq!(p.floating_pressed(), None, "a closed group is not pressed");
    }

    #[test]
    fn slides_fade_in_turn() {
        let red = RgbImage::from_pixel(40, 20, image::Rgb([255, 0, 0]));
        let blue = RgbImage::from_pixel(20, 20, image::Rgb([0, 0, 255]));
        let sl = Slides::new(&[red, blue], (80, 40), Duration::from_secs(2));
        // letterboxed: the red 2:1 fills, the blue square has bars left and right
        assert_eq!(sl.pics[0].get_pixel(0, 0).0, [255, 0, 0]);
        assert_eq!(sl.pics[1].get_pixel(2, 20).0, [0, 0, 0]);
        assert_eq!(sl.pics[1].get_pixel(40, 20).0, [0, 0, 255]);
        let t0 = sl.start;
        assert_eq!(
            sl.at(t0 + Duration::from_millis(100)),
            (0, None),
            "no fade at the start"
        );
        let (cur, fade) = sl.at(t0 + Duration::from_millis(2300));
        assert_eq!(cur, 1);
        let (prev, left) = fade.unwrap();
        assert_eq!(prev, 0);
        assert!((left - 0.5).abs() < 0.01, "{left}");
        assert_eq!(sl.at(t0 + Duration::from_millis(3000)), (1, None));
        assert_eq!(sl.at(t0 + Duration::from_millis(4700)).0, 0, "in a loop");
    }

    /// Pages of one colour each, A4 portrait.
    struct Plain(Vec<[u8; 3]>);

    impl crate::docview::Pages for Plain {
        fn count(&self) -> usize {
            self.0.len()
        }
        fn size(&self, _: usize) -> (f32, f32) {
            (595.0, 842.0)
        }
        fn render(&self, page: usize, scale: f32) -> Result<RgbImage, String> {
            let (w, h) = ((595.0 * scale) as u32, (842.0 * scale) as u32);
            Ok(RgbImage::from_pixel(w, h, Rgb(self.0[page])))
        }
    }

    fn doc_opts(mode: crate::docview::Mode, long_press: bool) -> DocOptions {
        DocOptions {
            zoom: crate::docview::Zoom::FitHeight,
            mode,
            sign: true,
            long_press,
            cache_bytes: 64 << 20,
            max_pixels: 40_000_000,
        }
    }

    fn stroke(p: &Pad, x: f32, y: f32, t: f64) {
        p.pen(s(x, y, true, t));
        for i in 1..10 {
            p.pen(s(
                x + 8.0 * i as f32,
                y + (i % 3) as f32 * 4.0,
                true,
                t + 8.0 * i as f64,
            ));
        }
        p.pen(s(x + 80.0, y, false, t + 90.0));
        p.settle(Duration::from_secs(2));
    }

    /// Show a document numbered 7; the events its client hears.
    fn show_doc(
        p: &Pad,
        pages: Arc<Plain>,
        opts: DocOptions,
        win: SignOptions,
        pos_given: bool,
    ) -> Arc<Mutex<Vec<DocEvent>>> {
        let got: Arc<Mutex<Vec<DocEvent>>> = Arc::default();
        let g = got.clone();
        p.show_document(7, pages, opts, win, pos_given, move |e| {
            g.lock().unwrap().push(e)
        });
        got
    }

    /// A stroke in the sign window at `wr`, then its confirm button.
    fn sign_and_confirm(p: &Pad, wr: Rect) {
        stroke(p, wr.x as f32 + 40.0, wr.y as f32 + 50.0, 100.0);
        let ok = p
            .lock()
            .window
            .as_ref()
            .unwrap()
            .button_rect(ButtonKind::Ok)
            .unwrap();
        press(p, ok.offset(wr.x, wr.y), 300.0);
    }

    #[test]
    fn document_signed_by_tap_long_press_and_button() {
        use crate::docview::Mode;
        let p = pad();
        let got = show_doc(
            &p,
            Arc::new(Plain(vec![[250, 250, 250], [200, 230, 250]])),
            doc_opts(Mode::Sign, true),
            SignOptions::new(Rect::new(0, 0, 300, 160)),
            false,
        );
        let (page, area) = p.document_page().unwrap();
        assert_eq!(page, 0);
        // Sign mode: a tap at the page's centre opens the window there.
        let (cx, cy) = (area.w as f32 / 2.0, area.h as f32 / 2.0);
        p.pen(s(cx, cy, true, 0.0));
        p.pen(s(cx, cy, false, 20.0));
        p.settle(Duration::from_secs(2));
        let wr = p
            .lock()
            .window
            .as_ref()
            .map(|w| w.rect)
            .expect("sign window");
        assert_eq!((wr.w, wr.h), (300, 160));
        assert!(wr.contains(cx + 1.0, cy + 1.0) || wr.right() as f32 >= cx);
        // Sign and confirm.
        sign_and_confirm(&p, wr);
        assert!(p.lock().window.is_none(), "window still open");
        let ev = got.lock().unwrap().clone();
        assert_eq!(ev.len(), 1);
        let DocEvent::Signed { placed, at_known } = &ev[0] else {
            panic!()
        };
        assert!(at_known);
        assert_eq!(placed.page, 0);
        assert!(
            (placed.x - 0.5).abs() < 0.02 && (placed.y - 0.5).abs() < 0.02,
            "{} {}",
            placed.x,
            placed.y
        );
        // About 80 px of a 300 px window: 0.35 * 88/300 of the page width.
        assert!(placed.w > 0.08 && placed.w < 0.14, "{}", placed.w);
        // Next page by its key, then the finish key.
        press(&p, p.document_key("下一页").unwrap(), 400.0);
        assert_eq!(p.document_page().unwrap().0, 1);
        press(&p, p.document_key("完成").unwrap(), 500.0);
        // 完成 closes the viewer and hands over what was placed.
        let Some(DocEvent::Finished(marks)) = got.lock().unwrap().last().cloned() else {
            panic!("no sign-off")
        };
        assert_eq!(marks.placed.len(), 1);
        assert!(marks.remark_pictures(2.0).is_empty());
        assert!(!p.has_document());
        assert!(!p.close_document(None));
        p.shutdown();
    }

    #[test]
    fn document_long_press_button_and_remarks() {
        use crate::docview::Mode;
        let p = pad();
        let got = show_doc(
            &p,
            Arc::new(Plain(vec![[250, 250, 250]])),
            doc_opts(Mode::Drag, true),
            SignOptions::new(Rect::new(10, 10, 320, 200)),
            true,
        );
        let (_, area) = p.document_page().unwrap();
        let (cx, cy) = (area.w as f32 / 2.0, area.h as f32 / 3.0);
        // A short press in drag mode does nothing; a long one opens the window at pos.
        p.pen(s(cx, cy, true, 0.0));
        p.pen(s(cx, cy, false, 30.0));
        p.settle(Duration::from_secs(2));
        assert!(p.lock().window.is_none());
        p.pen(s(cx, cy, true, 1000.0));
        let end = Instant::now() + Duration::from_secs(5);
        while p.lock().window.is_none() && Instant::now() < end {
            thread::sleep(Duration::from_millis(20));
        }
        p.pen(s(cx, cy, false, 2000.0));
        let wr = p
            .lock()
            .window
            .as_ref()
            .map(|w| w.rect)
            .expect("window after a long press");
        assert_eq!(wr, Rect::new(10, 10, 320, 200));
        // Return closes it without a signature.
        let back = {
            let st = p.lock();
            st.window.as_ref().unwrap().button_rect(ButtonKind::Return)
        };
        if let Some(b) = back {
            press(&p, b.offset(wr.x, wr.y), 2100.0);
            assert!(p.lock().window.is_none());
        }
        assert!(got.lock().unwrap().is_empty());
        // Remark mode: ink on the page, kept as a page picture.
        p.lock().window = None;
        press(&p, p.document_key("批注").unwrap(), 3000.0);
        // A stroke that starts on the grey margin (the page spans x 199..441 here) begins its
        // ink where it reaches the page.
        stroke(&p, 150.0, cy, 3100.0);
        press(&p, p.document_key("完成").unwrap(), 3500.0);
        let Some(DocEvent::Finished(marks)) = got.lock().unwrap().last().cloned() else {
            panic!("no sign-off")
        };
        assert!(marks.placed.is_empty());
        let remarks = marks.remark_pictures(1.0);
        assert_eq!(remarks.len(), 1);
        let r = &remarks[0];
        // Samples every 8 px from x 150: the first on the page at 206, the last at 222 — ink
        // from about 0.03 of the page's width, about 0.07 wide; nothing reaches back to x 0.
        assert_eq!(r.page, 0);
        assert!(
            r.x > 0.01 && r.x < 0.05 && r.w > 0.04 && r.w < 0.12 && r.h < 0.05,
            "{} {} {}",
            r.x,
            r.w,
            r.h
        );
        assert!(r.image.pixels().filter(|p| p.0[3] > 128).count() > 100);
        // Closing a document that is not shown (another number) does nothing.
        assert!(!p.close_document(Some(7)));
        p.shutdown();

        // Without long press: a "签字" key, and no point known.
        let p = pad();
        let got = show_doc(
            &p,
            Arc::new(Plain(vec![[250, 250, 250]])),
            doc_opts(Mode::Sign, false),
            SignOptions::new(Rect::new(0, 0, 300, 160)),
            false,
        );
        assert!(p.document_key("签字模式").is_none());
        press(&p, p.document_key("签字").unwrap(), 0.0);
        let wr = p
            .lock()
            .window
            .as_ref()
            .map(|w| w.rect)
            .expect("window from the key");
        sign_and_confirm(&p, wr);
        let ev = got.lock().unwrap().clone();
        let Some(DocEvent::Signed {
            placed,
            at_known: false,
        }) = ev.first()
        else {
            panic!("no signature")
        };
        assert!(placed.x + placed.w <= 0.96 && placed.y + placed.h <= 0.93);
        p.shutdown();
    }
}
