//! The document viewer of PDF signing (vendor 9.6): a document's pages on the whole screen with a
//! toolbar at the bottom (previous/next page, zoom out/in, the modes, "签字" when signing is
//! started by a button, "完成"), pages rendered ahead on a thread of their own and cached within
//! a memory bound, pen panning and page turning, signatures shown where they were placed and
//! remarks (free ink) kept per page.
//!
//! Modes: drag (the pen pans; a long press opens the sign window there when
//! `long_press_trigger_sign`), sign (a tap opens the sign window there), remark (the pen writes
//! on the page). The viewer is drawn by the compositor in [`crate::pad`]; this module keeps its
//! state and draws its picture.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ab_glyph::FontArc;
use image::{Rgb, RgbImage, RgbaImage};
use imaging::watermark::{text, text_width};

use crate::ink::{InkLayer, InkStyle};
use crate::window::fill;
use crate::{PenSample, Rect};

/// A document's pages, as the viewer needs them (the daemon's PDF renderer).
pub trait Pages: Send + Sync {
    fn count(&self) -> usize;
    /// The page's shown size in points (its rotation applied).
    fn size(&self, page: usize) -> (f32, f32);
    /// The page at `scale` pixels per point.
    fn render(&self, page: usize, scale: f32) -> Result<RgbImage, String>;
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zoom {
    /// Vendor `preview_zoom` 1..100: 50 is the original size (96 dpi), 100 twice, 25 half.
    Percent(u32),
    FitWidth,
    FitHeight,
    /// The whole page.
    FitPage,
    /// A scale (px per point) chosen with the zoom keys.
    Scale(f32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Drag,
    Sign,
    Remark,
}

#[derive(Debug, Clone)]
pub struct DocOptions {
    pub zoom: Zoom,
    pub mode: Mode,
    /// Signing allowed at all (vendor `sign`).
    pub sign: bool,
    /// Vendor `long_press_trigger_sign`: a long press (drag mode) or a tap (sign mode) opens the
    /// sign window at that point; false: the "签字" button opens it and no position is known.
    pub long_press: bool,
    /// Most bytes of rendered pages kept.
    pub cache_bytes: usize,
    /// Most pixels of one rendered page.
    pub max_pixels: u64,
}

/// What the pen did to the viewer, for the compositor.
#[derive(Debug, Clone, PartialEq)]
pub enum DocAction {
    None,
    /// Open the sign window for `page`; `at` is the point (page fractions, shown page, origin
    /// top-left) where the signature goes, `screen` the pen's screen point.
    Sign {
        page: usize,
        at: Option<(f32, f32)>,
        screen: (f32, f32),
    },
    /// The signer pressed "完成".
    Finish,
}

/// A signature placed on a page (fractions of the shown page).
#[derive(Clone)]
pub struct Placed {
    pub page: usize,
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub image: RgbaImage,
}

/// What was placed on a document: the signatures, and the remarks as strokes in page points.
#[derive(Clone, Default)]
pub struct DocMarks {
    pub placed: Vec<Placed>,
    remarks: HashMap<usize, Vec<Vec<PenSample>>>,
    sizes: HashMap<usize, (f32, f32)>,
}

impl DocMarks {
    /// The remarks of each page as pictures cropped to their ink, placed like signatures
    /// (fractions of the page), drawn at `scale` px per point (less on a page that would need
    /// more than 8 MP).
    pub fn remark_pictures(&self, scale: f32) -> Vec<Placed> {
        let mut out = Vec::new();
        let mut pages: Vec<_> = self.remarks.keys().copied().collect();
        pages.sort();
        for page in pages {
            let (w, h) = self.sizes.get(&page).copied().unwrap_or((595.0, 842.0));
            let (w, h) = (w.max(1.0), h.max(1.0));
            let s = scale.min((8_000_000.0 / (w * h)).sqrt());
            let (pw, ph) = (
                (w * s).ceil().max(1.0) as u32,
                (h * s).ceil().max(1.0) as u32,
            );
            let mut ink = InkLayer::new(pw, ph, remark_style(s), Rect::new(0, 0, pw, ph));
            replay(&mut ink, self.remarks.get(&page), s);
            if let Some((img, r)) = ink.cropped(REMARK, 0) {
                out.push(Placed {
                    page,
                    x: r.x as f32 / pw as f32,
                    y: r.y as f32 / ph as f32,
                    w: r.w as f32 / pw as f32,
                    h: r.h as f32 / ph as f32,
                    image: img,
                });
            }
        }
        out
    }
}

/// Points per inch and the screen's pixels per inch at the original size.
const ORIGINAL_SCALE: f32 = 96.0 / 72.0;
/// The renderer's largest picture side.
const MAX_SIDE: f32 = 16000.0;
/// A press held this long without moving is a long press.
pub const LONG_PRESS: Duration = Duration::from_millis(800);
/// Movement (px) under which a press is a tap or a long press.
const SLOP: f32 = 10.0;
/// Remark ink colour.
const REMARK: [u8; 3] = [0xd0, 0x20, 0x20];
const GREY: [u8; 3] = [0x5a, 0x5e, 0x66];
const BAR: [u8; 3] = [0x26, 0x2a, 0x33];
const KEY: [u8; 3] = [0x44, 0x4a, 0x58];
const KEY_ON: [u8; 3] = [0x1d, 0x6f, 0xd8];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Prev,
    Next,
    Out,
    In,
    Mode(Mode),
    Sign,
    Finish,
}

/// The render thread's share: pages rendered (page, scale key) -> picture, what is wanted next.
struct Cache {
    pages: Vec<((usize, u32), Arc<RgbImage>)>,
    failed: HashMap<(usize, u32), String>,
    wanted: Vec<(usize, f32)>,
    stop: bool,
}

struct Renderer {
    cache: Mutex<Cache>,
    wake: Condvar,
}

fn key(page: usize, scale: f32) -> (usize, u32) {
    (page, (scale * 1000.0).round() as u32)
}

impl Renderer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn render_thread(
    r: Arc<Renderer>,
    pages: Arc<dyn Pages>,
    budget: usize,
    ready: Arc<dyn Fn() + Send + Sync>,
) {
    let mut c = r.lock();
    loop {
        if c.stop {
            return;
        }
        let next = c.wanted.iter().copied().find(|&(p, s)| {
            let k = key(p, s);
            !c.pages.iter().any(|(pk, _)| *pk == k) && !c.failed.contains_key(&k)
        });
        let Some((page, scale)) = next else {
            c = r.wake.wait(c).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        drop(c);
        let out = pages.render(page, scale);
        c = r.lock();
        let k = key(page, scale);
        match out {
            Ok(img) => {
                c.pages.push((k, Arc::new(img)));
                // Oldest first out, never what is wanted now.
                let wanted: Vec<_> = c.wanted.iter().map(|&(p, s)| key(p, s)).collect();
                let mut bytes: usize = c.pages.iter().map(|(_, i)| i.as_raw().len()).sum();
                let mut i = 0;
                while bytes > budget && i < c.pages.len() {
                    if wanted.contains(&c.pages[i].0) {
                        i += 1;
                        continue;
                    }
                    bytes -= c.pages[i].1.as_raw().len();
                    c.pages.remove(i);
                }
            }
            Err(e) => {
                tracing::warn!(page, "document page not rendered: {e}");
                c.failed.insert(k, e);
            }
        }
        drop(c);
        ready();
        c = r.lock();
    }
}

/// The viewer's state.
pub struct DocView {
    pages: Arc<dyn Pages>,
    pub opts: DocOptions,
    screen: (u32, u32),
    renderer: Arc<Renderer>,
    pub page: usize,
    scale: f32,
    /// Pan: the page's top-left relative to the page area's top-left (pixels).
    off: (f32, f32),
    mode: Mode,
    /// Pen down: where, when, on which key, whether it moved beyond the slop, last point.
    press: Option<Press>,
    /// Dragged past the page's top or bottom edge (px), to turn the page.
    overscroll: f32,
    /// Remark strokes per page: samples in page points.
    remarks: HashMap<usize, Vec<Vec<PenSample>>>,
    /// The current page's remark ink at the current scale.
    remark_ink: Option<InkLayer>,
    pub placed: Vec<Placed>,
    view: RgbImage,
    stale: bool,
}

#[derive(Debug, Clone, Copy)]
struct Press {
    x: f32,
    y: f32,
    at: Instant,
    key: Option<Key>,
    moved: bool,
    last: (f32, f32),
    long_done: bool,
    /// A remark stroke was started by this press (on the page).
    stroke: bool,
}

impl Drop for DocView {
    fn drop(&mut self) {
        self.renderer.lock().stop = true;
        self.renderer.wake.notify_all();
    }
}

impl DocView {
    /// `ready` is called (from the render thread) when a page picture arrived.
    pub fn new(
        pages: Arc<dyn Pages>,
        opts: DocOptions,
        screen: (u32, u32),
        ready: Arc<dyn Fn() + Send + Sync>,
    ) -> DocView {
        let renderer = Arc::new(Renderer {
            cache: Mutex::new(Cache {
                pages: Vec::new(),
                failed: HashMap::new(),
                wanted: Vec::new(),
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let (r, p, budget) = (renderer.clone(), pages.clone(), opts.cache_bytes);
        let _ = thread::Builder::new()
            .name("pdf-render".into())
            .spawn(move || render_thread(r, p, budget, ready));
        let mut v = DocView {
            pages,
            mode: opts.mode,
            opts,
            screen,
            renderer,
            page: 0,
            scale: 1.0,
            off: (0.0, 0.0),
            press: None,
            overscroll: 0.0,
            remarks: HashMap::new(),
            remark_ink: None,
            placed: Vec::new(),
            view: RgbImage::new(screen.0, screen.1),
            stale: true,
        };
        if v.mode == Mode::Sign && (!v.opts.sign || !v.opts.long_press) {
            v.mode = Mode::Drag;
        }
        v.set_scale_for_page();
        v
    }

    /// The screen's size.
    pub fn screen(&self) -> (u32, u32) {
        self.screen
    }

    /// The mode the signer is in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A page's shown size in points.
    pub fn page_size(&self, page: usize) -> (f32, f32) {
        self.pages.size(page)
    }

    /// The viewer's last picture (see [`DocView::picture`]).
    pub fn view(&self) -> &RgbImage {
        &self.view
    }

    pub fn page_count(&self) -> usize {
        self.pages.count()
    }

    fn bar_h(&self) -> u32 {
        (self.screen.1 / 10).clamp(40, 72)
    }

    /// The page area (screen coordinates).
    pub fn area(&self) -> Rect {
        Rect::new(0, 0, self.screen.0, self.screen.1 - self.bar_h())
    }

    fn page_px(&self) -> (f32, f32) {
        let (w, h) = self.pages.size(self.page);
        (w * self.scale, h * self.scale)
    }

    /// The scale the zoom setting asks for on the current page, bounded by the pixel ceiling.
    fn set_scale_for_page(&mut self) {
        let a = self.area();
        let (w, h) = self.pages.size(self.page);
        let (w, h) = (w.max(1.0), h.max(1.0));
        let s = match self.opts.zoom {
            Zoom::Percent(p) => p.clamp(1, 100) as f32 / 50.0 * ORIGINAL_SCALE,
            Zoom::FitWidth => (a.w as f32 - 16.0).max(16.0) / w,
            Zoom::FitHeight => (a.h as f32 - 16.0).max(16.0) / h,
            Zoom::FitPage => {
                ((a.w as f32 - 16.0).max(16.0) / w).min((a.h as f32 - 16.0).max(16.0) / h)
            }
            Zoom::Scale(s) => s,
        };
        self.set_scale(s);
        self.off = (0.0, 0.0);
        self.clamp_pan();
    }

    fn set_scale(&mut self, s: f32) {
        let (w, h) = self.pages.size(self.page);
        let most = ((self.opts.max_pixels as f32) / (w.max(1.0) * h.max(1.0)))
            .sqrt()
            .min(MAX_SIDE / w.max(h).max(1.0));
        // Quantised (down, so that a fitted page never overflows) to the cache's key, so that the
        // cache finds a page rendered at the same zoom again.
        let s = s.clamp(0.01, 8.0).min(most);
        self.scale = (s * 1000.0).floor().max(1.0) / 1000.0;
        self.remark_ink = None;
        self.stale = true;
    }

    /// Where the page's top-left sits in the page area; centred along a side it does not fill.
    fn origin(&self) -> (f32, f32) {
        let a = self.area();
        let (pw, ph) = self.page_px();
        let x = if pw <= a.w as f32 {
            (a.w as f32 - pw) / 2.0
        } else {
            self.off.0
        };
        let y = if ph <= a.h as f32 {
            (a.h as f32 - ph) / 2.0
        } else {
            self.off.1
        };
        (x, y)
    }

    fn clamp_pan(&mut self) {
        let a = self.area();
        let (pw, ph) = self.page_px();
        self.off.0 = self.off.0.clamp((a.w as f32 - pw).min(0.0), 0.0);
        self.off.1 = self.off.1.clamp((a.h as f32 - ph).min(0.0), 0.0);
    }

    /// A screen point as page fractions, if it is on the page.
    fn on_page(&self, x: f32, y: f32) -> Option<(f32, f32)> {
        let (ox, oy) = self.origin();
        let (pw, ph) = self.page_px();
        let (fx, fy) = ((x - ox) / pw, (y - oy) / ph);
        ((0.0..=1.0).contains(&fx) && (0.0..=1.0).contains(&fy) && self.area().contains(x, y))
            .then_some((fx, fy))
    }

    fn keys(&self) -> Vec<(Key, Rect, String)> {
        let bh = self.bar_h();
        let y = (self.screen.1 - bh) as i32 + 4;
        let h = bh - 8;
        let mut list: Vec<(Key, &str)> = vec![
            (Key::Prev, "上一页"),
            (Key::Next, "下一页"),
            (Key::Out, "缩小"),
            (Key::In, "放大"),
            (Key::Mode(Mode::Drag), "拖动"),
        ];
        if self.opts.sign && self.opts.long_press {
            list.push((Key::Mode(Mode::Sign), "签字模式"));
        }
        list.push((Key::Mode(Mode::Remark), "批注"));
        if self.opts.sign && !self.opts.long_press {
            list.push((Key::Sign, "签字"));
        }
        list.push((Key::Finish, "完成"));
        // The page label takes a slot's width in the middle.
        let slots = list.len() as u32 + 1;
        let w = (self.screen.0 - 8) / slots;
        let mut out = Vec::new();
        for (i, (k, label)) in list.into_iter().enumerate() {
            let slot = if i >= 2 { i + 1 } else { i } as i32;
            out.push((
                k,
                Rect::new(4 + slot * w as i32 + 2, y, w.saturating_sub(4), h),
                label.to_string(),
            ));
        }
        out
    }

    /// A key's rectangle (tests and the rig press them).
    pub fn key_rect(&self, label: &str) -> Option<Rect> {
        self.keys()
            .into_iter()
            .find(|(_, _, l)| l == label)
            .map(|(_, r, _)| r)
    }

    fn key_at(&self, x: f32, y: f32) -> Option<Key> {
        self.keys()
            .into_iter()
            .find(|(_, r, _)| r.contains(x, y))
            .map(|(k, _, _)| k)
    }

    fn go(&mut self, page: usize, at_end: bool) {
        let n = self.pages.count();
        if page >= n || page == self.page {
            return;
        }
        self.page = page;
        let s = self.scale;
        // A fitted zoom fits each page; a chosen zoom stays.
        match self.opts.zoom {
            Zoom::Percent(_) | Zoom::Scale(_) => self.set_scale(s),
            _ => self.set_scale_for_page(),
        }
        self.off = (0.0, if at_end { f32::MIN } else { 0.0 });
        self.clamp_pan();
        self.stale = true;
    }

    fn zoom_by(&mut self, f: f32) {
        let a = self.area();
        // Keep the point at the page area's centre where it is.
        let (ox, oy) = self.origin();
        let (cx, cy) = (a.w as f32 / 2.0, a.h as f32 / 2.0);
        let (px, py) = ((cx - ox) / self.scale, (cy - oy) / self.scale);
        self.set_scale(self.scale * f);
        self.opts.zoom = Zoom::Scale(self.scale);
        self.off = (cx - px * self.scale, cy - py * self.scale);
        self.clamp_pan();
    }

    /// The current page in page points of a screen point.
    fn page_point(&self, x: f32, y: f32) -> (f32, f32) {
        let (ox, oy) = self.origin();
        ((x - ox) / self.scale, (y - oy) / self.scale)
    }

    fn remark_layer(&mut self) -> &mut InkLayer {
        if self.remark_ink.is_none() {
            let (pw, ph) = self.page_px();
            let (w, h) = (pw.ceil().max(1.0) as u32, ph.ceil().max(1.0) as u32);
            let mut ink = InkLayer::new(w, h, remark_style(self.scale), Rect::new(0, 0, w, h));
            replay(&mut ink, self.remarks.get(&self.page), self.scale);
            self.remark_ink = Some(ink);
        }
        self.remark_ink.as_mut().expect("made above")
    }

    /// A remark pen sample while the pen is down: a stroke starts where the pen first touches the
    /// page and goes on while it is held. Gives the screen damage.
    fn remark(&mut self, s: &PenSample) -> Rect {
        let Some(mut p) = self.press else {
            return Rect::default();
        };
        let (px, py) = self.page_point(s.x, s.y);
        let sc = self.scale;
        let d = if !p.stroke {
            if self.on_page(s.x, s.y).is_none() {
                return Rect::default();
            }
            p.stroke = true;
            self.press = Some(p);
            self.remarks
                .entry(self.page)
                .or_default()
                .push(vec![PenSample { x: px, y: py, ..*s }]);
            self.remark_layer()
                .down(px * sc, py * sc, s.pressure, s.t_ms)
        } else {
            if let Some(stroke) = self.remarks.get_mut(&self.page).and_then(|v| v.last_mut()) {
                stroke.push(PenSample { x: px, y: py, ..*s });
            }
            self.remark_layer()
                .moved(px * sc, py * sc, s.pressure, s.t_ms)
        };
        // The viewer's picture carries the ink.
        self.stale = true;
        self.page_damage(d)
    }

    /// A pen sample (screen coordinates). Gives the action and the screen damage.
    pub fn pen(&mut self, s: &PenSample, prev: bool) -> (DocAction, Rect) {
        let full = Rect::new(0, 0, self.screen.0, self.screen.1);
        match (prev, s.down) {
            (false, true) => {
                let key = self.key_at(s.x, s.y);
                self.press = Some(Press {
                    x: s.x,
                    y: s.y,
                    at: Instant::now(),
                    key,
                    moved: false,
                    last: (s.x, s.y),
                    long_done: false,
                    stroke: false,
                });
                self.overscroll = 0.0;
                if key.is_none() && self.mode == Mode::Remark {
                    return (DocAction::None, self.remark(s));
                }
                (DocAction::None, Rect::default())
            }
            (true, true) => {
                let Some(mut p) = self.press else {
                    return (DocAction::None, Rect::default());
                };
                if (s.x - p.x).hypot(s.y - p.y) > SLOP {
                    p.moved = true;
                }
                let (dx, dy) = (s.x - p.last.0, s.y - p.last.1);
                p.last = (s.x, s.y);
                self.press = Some(p);
                if p.key.is_some() || p.long_done {
                    return (DocAction::None, Rect::default());
                }
                match self.mode {
                    Mode::Remark => (DocAction::None, self.remark(s)),
                    _ if p.moved => {
                        let before = self.off;
                        self.off.0 += dx;
                        self.off.1 += dy;
                        self.clamp_pan();
                        // Dragging on past the top or bottom edge turns the page.
                        let rest = dy - (self.off.1 - before.1);
                        self.overscroll += rest;
                        let limit = self.area().h as f32 / 5.0;
                        if self.overscroll < -limit {
                            self.overscroll = 0.0;
                            self.go(self.page + 1, false);
                        } else if self.overscroll > limit && self.page > 0 {
                            self.overscroll = 0.0;
                            self.go(self.page - 1, true);
                        }
                        self.stale = true;
                        (DocAction::None, full)
                    }
                    _ => (DocAction::None, Rect::default()),
                }
            }
            (true, false) => {
                let Some(p) = self.press.take() else {
                    return (DocAction::None, Rect::default());
                };
                if let Some(k) = p.key {
                    // A key acts when the pen lifts on it.
                    if self.key_at(s.x, s.y) != Some(k) {
                        return (DocAction::None, Rect::default());
                    }
                    return self.press_key(k);
                }
                if self.mode == Mode::Remark {
                    if p.stroke {
                        if let Some(ink) = self.remark_ink.as_mut() {
                            let d = ink.up();
                            self.stale = true;
                            return (DocAction::None, self.page_damage(d));
                        }
                    }
                    return (DocAction::None, Rect::default());
                }
                if self.mode == Mode::Sign && !p.moved && self.opts.sign && self.opts.long_press {
                    if let Some(at) = self.on_page(p.x, p.y) {
                        return (
                            DocAction::Sign {
                                page: self.page,
                                at: Some(at),
                                screen: (p.x, p.y),
                            },
                            Rect::default(),
                        );
                    }
                }
                (DocAction::None, Rect::default())
            }
            (false, false) => (DocAction::None, Rect::default()),
        }
    }

    fn page_damage(&self, d: Rect) -> Rect {
        if d.is_empty() {
            return d;
        }
        let (ox, oy) = self.origin();
        d.offset(ox.floor() as i32, oy.floor() as i32)
            .union(&d.offset(ox.ceil() as i32, oy.ceil() as i32))
            .intersect(&self.area())
    }

    fn press_key(&mut self, k: Key) -> (DocAction, Rect) {
        let full = Rect::new(0, 0, self.screen.0, self.screen.1);
        match k {
            Key::Prev if self.page > 0 => self.go(self.page - 1, false),
            Key::Next => self.go(self.page + 1, false),
            Key::Out => self.zoom_by(0.8),
            Key::In => self.zoom_by(1.25),
            Key::Mode(m) => {
                self.mode = m;
            }
            Key::Sign => {
                let a = self.area();
                return (
                    DocAction::Sign {
                        page: self.page,
                        at: None,
                        screen: (a.w as f32 / 2.0, a.h as f32 / 2.0),
                    },
                    Rect::default(),
                );
            }
            Key::Finish => return (DocAction::Finish, Rect::default()),
            _ => {}
        }
        self.stale = true;
        (DocAction::None, full)
    }

    /// Show `page` with the point (`fx`, `fy`: page fractions) in view; gives its screen point.
    pub fn show_point(&mut self, page: usize, fx: f32, fy: f32) -> (f32, f32) {
        if page != self.page {
            self.go(page.min(self.pages.count().saturating_sub(1)), false);
        }
        let a = self.area();
        let (pw, ph) = self.page_px();
        // Centre the point where the page is larger than the area.
        self.off = (a.w as f32 / 2.0 - fx * pw, a.h as f32 / 2.0 - fy * ph);
        self.clamp_pan();
        self.stale = true;
        let (ox, oy) = self.origin();
        (ox + fx * pw, oy + fy * ph)
    }

    /// A long press that has come due (drag mode).
    pub fn tick(&mut self, now: Instant) -> DocAction {
        let Some(p) = self.press.as_mut() else {
            return DocAction::None;
        };
        if p.key.is_some()
            || p.moved
            || p.long_done
            || self.mode != Mode::Drag
            || !self.opts.sign
            || !self.opts.long_press
            || now < p.at + LONG_PRESS
        {
            return DocAction::None;
        }
        p.long_done = true;
        let (x, y) = (p.x, p.y);
        match self.on_page(x, y) {
            Some(at) => DocAction::Sign {
                page: self.page,
                at: Some(at),
                screen: (x, y),
            },
            None => DocAction::None,
        }
    }

    /// When a long press comes due, if one is pending.
    pub fn next_timer(&self) -> Option<Instant> {
        let p = self.press?;
        (self.mode == Mode::Drag
            && self.opts.sign
            && self.opts.long_press
            && !p.moved
            && !p.long_done
            && p.key.is_none())
        .then_some(p.at + LONG_PRESS)
    }

    /// The pen was taken by a window opened over the viewer: forget the press.
    pub fn cancel_press(&mut self) {
        self.press = None;
    }

    pub fn place(&mut self, p: Placed) {
        self.placed.push(p);
        self.stale = true;
    }

    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// What was placed on the document so far: signatures and remark strokes (cheap to take;
    /// the remark pictures are made later by [`DocMarks::remark_pictures`]).
    pub fn marks(&self) -> DocMarks {
        let sizes = self
            .remarks
            .keys()
            .map(|&p| (p, self.pages.size(p)))
            .collect();
        DocMarks {
            placed: self.placed.clone(),
            remarks: self.remarks.clone(),
            sizes,
        }
    }

    /// The viewer's picture (the whole screen), redrawn if something changed.
    pub fn picture(&mut self, font: Option<&FontArc>) -> &RgbImage {
        if self.stale {
            self.stale = false;
            self.draw(font);
        }
        &self.view
    }

    #[allow(clippy::needless_range_loop)]
    fn draw(&mut self, font: Option<&FontArc>) {
        let a = self.area();
        let n = self.pages.count();
        let (page, scale) = (self.page, self.scale);
        // What to render: this page first, then its neighbours at the same scale.
        let mut wanted = vec![(page, scale)];
        if page + 1 < n {
            wanted.push((page + 1, scale));
        }
        if page > 0 {
            wanted.push((page - 1, scale));
        }
        let (pic, failed) = {
            let mut c = self.renderer.lock();
            c.wanted = wanted;
            let k = key(page, scale);
            (
                c.pages
                    .iter()
                    .find(|(pk, _)| *pk == k)
                    .map(|(_, i)| i.clone()),
                c.failed.get(&k).cloned(),
            )
        };
        self.renderer.wake.notify_all();
        let (ox, oy) = self.origin();
        let (pw, ph) = self.page_px();
        let view = &mut self.view;
        for p in view.pixels_mut() {
            *p = Rgb(GREY);
        }
        let (ox, oy) = (ox.round() as i32, oy.round() as i32);
        let page_rect = Rect::new(ox, oy, pw.round() as u32, ph.round() as u32).intersect(&a);
        match &pic {
            Some(img) => {
                for y in page_rect.y..page_rect.bottom() {
                    for x in page_rect.x..page_rect.right() {
                        let (sx, sy) = ((x - ox) as u32, (y - oy) as u32);
                        if sx < img.width() && sy < img.height() {
                            view.put_pixel(x as u32, y as u32, *img.get_pixel(sx, sy));
                        } else {
                            view.put_pixel(x as u32, y as u32, Rgb([255, 255, 255]));
                        }
                    }
                }
            }
            None => {
                fill(view, page_rect, [255, 255, 255]);
                if let Some(f) = font {
                    let msg = match &failed {
                        Some(_) => "此页无法显示",
                        None => "正在加载…",
                    };
                    let size = 28.0;
                    let tw = text_width(f, msg, size);
                    let c = (a.w as f32 / 2.0 - tw / 2.0, a.h as f32 / 2.0 - size);
                    text(view, f, msg, size, c, [0x55, 0x55, 0x55]);
                }
            }
        }
        // Signatures placed on this page.
        for s in self.placed.iter().filter(|s| s.page == page) {
            let (w, h) = ((s.w * pw).round() as u32, (s.h * ph).round() as u32);
            if w == 0 || h == 0 || w > 8000 || h > 8000 {
                continue;
            }
            let img =
                image::imageops::resize(&s.image, w, h, image::imageops::FilterType::Triangle);
            let (x0, y0) = (
                ox + (s.x * pw).round() as i32,
                oy + (s.y * ph).round() as i32,
            );
            blend_rgba(view, &img, x0, y0, a);
        }
        // Remarks on this page.
        let has_remarks = self.remarks.get(&page).is_some_and(|v| !v.is_empty());
        if has_remarks {
            let ink = self.remark_layer();
            let (iw, ih) = (ink.width, ink.height);
            let mask = ink.mask().to_vec();
            let view = &mut self.view;
            for y in page_rect.y..page_rect.bottom() {
                for x in page_rect.x..page_rect.right() {
                    let (sx, sy) = ((x - ox) as u32, (y - oy) as u32);
                    if sx < iw && sy < ih {
                        let c = mask[(sy * iw + sx) as usize] as u32;
                        if c > 0 {
                            let p = view.get_pixel_mut(x as u32, y as u32);
                            for i in 0..3 {
                                p.0[i] = ((p.0[i] as u32 * (255 - c) + REMARK[i] as u32 * c) / 255)
                                    as u8;
                            }
                        }
                    }
                }
            }
        }
        // The toolbar.
        let bh = self.bar_h();
        let bar = Rect::new(0, (self.screen.1 - bh) as i32, self.screen.0, bh);
        fill(&mut self.view, bar, BAR);
        let keys = self.keys();
        let mode = self.mode;
        for (k, r, label) in &keys {
            let on = matches!(k, Key::Mode(m) if *m == mode);
            fill(&mut self.view, *r, if on { KEY_ON } else { KEY });
            if let Some(f) = font {
                let size = (r.h as f32 * 0.42).clamp(10.0, 30.0);
                let tw = text_width(f, label, size);
                let x = r.x as f32 + (r.w as f32 - tw) / 2.0;
                let y = r.y as f32 + (r.h as f32 - size * 1.15) / 2.0;
                text(&mut self.view, f, label, size, (x, y), [255, 255, 255]);
            }
        }
        if let (Some(f), Some((_, r, _))) = (font, keys.get(1)) {
            let label = format!("{} / {}", page + 1, n);
            let size = (r.h as f32 * 0.42).clamp(10.0, 30.0);
            let tw = text_width(f, &label, size);
            let x = r.right() as f32 + 4.0 + (r.w as f32 - tw) / 2.0;
            let y = r.y as f32 + (r.h as f32 - size * 1.15) / 2.0;
            text(&mut self.view, f, &label, size, (x, y), [255, 255, 255]);
        }
    }
}

fn remark_style(scale: f32) -> InkStyle {
    InkStyle {
        min_width: (2.0 * scale).max(2.0),
        max_width: (5.0 * scale).max(3.0),
    }
}

/// Draw the strokes (page points) into `ink` at `scale`.
fn replay(ink: &mut InkLayer, strokes: Option<&Vec<Vec<PenSample>>>, scale: f32) {
    for stroke in strokes.into_iter().flatten() {
        for (i, s) in stroke.iter().enumerate() {
            let (x, y) = (s.x * scale, s.y * scale);
            if i == 0 {
                ink.down(x, y, s.pressure, s.t_ms);
            } else {
                ink.moved(x, y, s.pressure, s.t_ms);
            }
        }
        ink.up();
    }
}

#[allow(clippy::needless_range_loop)]
fn blend_rgba(dst: &mut RgbImage, src: &RgbaImage, x0: i32, y0: i32, clip: Rect) {
    let r = Rect::new(x0, y0, src.width(), src.height()).intersect(&clip);
    for y in r.y..r.bottom() {
        for x in r.x..r.right() {
            let s = src.get_pixel((x - x0) as u32, (y - y0) as u32).0;
            let a = s[3] as u32;
            if a == 0 {
                continue;
            }
            let d = dst.get_pixel_mut(x as u32, y as u32);
            for i in 0..3 {
                d.0[i] = ((d.0[i] as u32 * (255 - a) + s[i] as u32 * a) / 255) as u8;
            }
        }
    }
}
