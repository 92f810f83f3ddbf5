//! The sign window (vendor 9.1): a rectangle of the screen with an optional background picture and
//! tip, a signing area, and three buttons (confirm, sign again, return). Its static look is drawn
//! once into a layer; the ink is composed over it only where it changed.

use ab_glyph::FontArc;
use image::{imageops, Rgb, RgbImage};
use imaging::watermark::{text, text_width};

use crate::ink::{InkLayer, InkStyle};
use crate::{PenSample, Rect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonKind {
    /// `sign_ok_button`: confirm the signature.
    Ok,
    /// `sign_reset_button`: clear and sign again.
    Reset,
    /// `sign_return_button`: leave without a signature (hidden unless asked for).
    Return,
}

impl ButtonKind {
    pub fn from_name(s: &str) -> Option<ButtonKind> {
        match s.trim() {
            "sign_ok_button" => Some(ButtonKind::Ok),
            "sign_reset_button" => Some(ButtonKind::Reset),
            "sign_return_button" => Some(ButtonKind::Return),
            _ => None,
        }
    }

    fn default_text(self) -> &'static str {
        match self {
            ButtonKind::Ok => "确认",
            ButtonKind::Reset => "重签",
            ButtonKind::Return => "返回",
        }
    }
}

/// A page's settings for one button; `None` keeps the default.
#[derive(Debug, Clone, Default)]
pub struct ButtonSpec {
    pub text: Option<String>,
    pub visible: Option<bool>,
    /// Window coordinates.
    pub rect: Option<Rect>,
}

#[derive(Debug, Clone)]
pub struct Tip {
    pub text: String,
    pub size: f32,
    pub color: [u8; 3],
}

#[derive(Debug, Clone)]
pub struct SignOptions {
    /// Screen coordinates.
    pub rect: Rect,
    pub tip: Option<Tip>,
    /// 0 (invisible) .. 100 (opaque).
    pub opacity: u8,
    /// Stretched to the window.
    pub background: Option<RgbImage>,
    /// The signing area in window coordinates (default: the window above the button row).
    pub valid: Option<Rect>,
    pub ok: ButtonSpec,
    pub reset: ButtonSpec,
    pub back: ButtonSpec,
    pub ink_color: [u8; 3],
    pub ink: InkStyle,
}

impl SignOptions {
    pub fn new(rect: Rect) -> SignOptions {
        SignOptions {
            rect,
            tip: None,
            opacity: 100,
            background: None,
            valid: None,
            ok: ButtonSpec::default(),
            reset: ButtonSpec::default(),
            back: ButtonSpec::default(),
            ink_color: [0, 0, 0],
            ink: InkStyle::default(),
        }
    }
}

/// Height of the default button row, its buttons' size and margin.
pub const BUTTON_W: u32 = 140;
pub const BUTTON_H: u32 = 56;
pub const MARGIN: u32 = 16;

struct Button {
    kind: ButtonKind,
    rect: Rect,
    text: String,
    visible: bool,
}

/// What a pen sample did to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    Pressed(ButtonKind),
}

pub struct SignWindow {
    pub rect: Rect,
    pub opacity: u8,
    pub ink: InkLayer,
    pub ink_color: [u8; 3],
    valid: Rect,
    background: Option<RgbImage>,
    tip: Option<Tip>,
    buttons: Vec<Button>,
    layer: RgbImage,
    pressed: Option<ButtonKind>,
    inking: bool,
}

const PAPER: Rgb<u8> = Rgb([255, 255, 255]);
const EDGE: [u8; 3] = [0xc8, 0xcf, 0xd8];
const BUTTON: [u8; 3] = [0x1f, 0x6f, 0xd1];
const BUTTON_DOWN: [u8; 3] = [0x13, 0x4a, 0x8f];
const BUTTON_GREY: [u8; 3] = [0x6b, 0x74, 0x80];

pub(crate) fn fill(img: &mut RgbImage, r: Rect, c: [u8; 3]) {
    let r = r.intersect(&Rect::new(0, 0, img.width(), img.height()));
    for y in r.y..r.bottom() {
        for x in r.x..r.right() {
            img.put_pixel(x as u32, y as u32, Rgb(c));
        }
    }
}

fn outline(img: &mut RgbImage, r: Rect, c: [u8; 3]) {
    if r.is_empty() {
        return;
    }
    fill(img, Rect::new(r.x, r.y, r.w, 1), c);
    fill(img, Rect::new(r.x, r.bottom() - 1, r.w, 1), c);
    fill(img, Rect::new(r.x, r.y, 1, r.h), c);
    fill(img, Rect::new(r.right() - 1, r.y, 1, r.h), c);
}

impl SignWindow {
    pub fn new(o: SignOptions, font: Option<&FontArc>) -> SignWindow {
        let (w, h) = (o.rect.w.max(1), o.rect.h.max(1));
        let area = Rect::new(0, 0, w, h);
        // Default buttons: a row at the bottom right, confirm rightmost.
        let row_y = h as i32 - (BUTTON_H + MARGIN) as i32;
        let slot = |i: i32| {
            Rect::new(
                w as i32 - (i + 1) * (BUTTON_W + MARGIN) as i32,
                row_y,
                BUTTON_W,
                BUTTON_H,
            )
        };
        let mut buttons = Vec::new();
        for (kind, spec, default_rect, default_visible) in [
            (ButtonKind::Ok, &o.ok, slot(0), true),
            (ButtonKind::Reset, &o.reset, slot(1), true),
            (ButtonKind::Return, &o.back, slot(2), false),
        ] {
            buttons.push(Button {
                kind,
                rect: spec.rect.unwrap_or(default_rect).moved_inside(&area),
                text: spec
                    .text
                    .clone()
                    .unwrap_or_else(|| kind.default_text().to_string()),
                visible: spec.visible.unwrap_or(default_visible),
            });
        }
        let default_valid = Rect::new(0, 0, w, (row_y - MARGIN as i32).max(1) as u32);
        let valid = o.valid.unwrap_or(default_valid).intersect(&area);
        let mut win = SignWindow {
            rect: o.rect,
            opacity: o.opacity.min(100),
            ink: InkLayer::new(w, h, o.ink, valid),
            ink_color: o.ink_color,
            valid,
            background: o.background,
            tip: o.tip,
            buttons,
            layer: RgbImage::new(w, h),
            pressed: None,
            inking: false,
        };
        win.draw_layer(font);
        win
    }

    /// The visible buttons' rectangles (window coordinates).
    pub fn button_rect(&self, kind: ButtonKind) -> Option<Rect> {
        self.buttons
            .iter()
            .find(|b| b.kind == kind && b.visible)
            .map(|b| b.rect)
    }

    pub fn valid_area(&self) -> Rect {
        self.valid
    }

    /// Draw background, tip, signing area and buttons.
    pub fn draw_layer(&mut self, font: Option<&FontArc>) {
        let (w, h) = self.layer.dimensions();
        match &self.background {
            Some(bg) => {
                self.layer = imageops::resize(bg, w, h, imageops::FilterType::Triangle);
            }
            None => {
                for p in self.layer.pixels_mut() {
                    *p = PAPER;
                }
            }
        }
        outline(&mut self.layer, Rect::new(0, 0, w, h), EDGE);
        outline(&mut self.layer, self.valid, EDGE);
        if let (Some(f), Some(tip)) = (font, &self.tip) {
            if !tip.text.is_empty() {
                let size = tip.size.clamp(6.0, 200.0);
                text(
                    &mut self.layer,
                    f,
                    &tip.text,
                    size,
                    (MARGIN as f32, MARGIN as f32 * 0.75),
                    tip.color,
                );
            }
        }
        for i in 0..self.buttons.len() {
            self.draw_button(i, font);
        }
    }

    /// Draw one button into the layer (its pressed look when it is held).
    fn draw_button(&mut self, i: usize, font: Option<&FontArc>) {
        let b = &self.buttons[i];
        if !b.visible {
            return;
        }
        let c = if self.pressed == Some(b.kind) {
            BUTTON_DOWN
        } else if b.kind == ButtonKind::Ok {
            BUTTON
        } else {
            BUTTON_GREY
        };
        let (rect, label) = (b.rect, b.text.clone());
        fill(&mut self.layer, rect, c);
        if let Some(f) = font {
            let size = (rect.h as f32 * 0.45).clamp(8.0, 64.0);
            let tw = text_width(f, &label, size);
            let x = rect.x as f32 + (rect.w as f32 - tw) / 2.0;
            let y = rect.y as f32 + (rect.h as f32 - size * 1.15) / 2.0;
            text(&mut self.layer, f, &label, size, (x, y), [255, 255, 255]);
        }
    }

    /// Redraw the button of `kind` after its look changed; gives its rectangle.
    fn redraw_button(&mut self, kind: ButtonKind, font: Option<&FontArc>) -> Rect {
        match self.buttons.iter().position(|b| b.kind == kind) {
            Some(i) => {
                self.draw_button(i, font);
                self.buttons[i].rect
            }
            None => Rect::default(),
        }
    }

    fn button_at(&self, x: f32, y: f32) -> Option<ButtonKind> {
        self.buttons
            .iter()
            .find(|b| b.visible && b.rect.contains(x, y))
            .map(|b| b.kind)
    }

    /// A pen sample in screen coordinates. Gives the action and the damaged rectangle (screen
    /// coordinates); a button whose look changed is redrawn here.
    pub fn pen(
        &mut self,
        s: &PenSample,
        prev_down: bool,
        font: Option<&FontArc>,
    ) -> (Action, Rect) {
        let x = s.x - self.rect.x as f32;
        let y = s.y - self.rect.y as f32;
        let mut action = Action::None;
        let mut damage = Rect::default();
        match (prev_down, s.down) {
            (false, true) => {
                if let Some(k) = self.button_at(x, y) {
                    self.pressed = Some(k);
                    damage = self.redraw_button(k, font);
                } else if self.valid.contains(x, y) {
                    self.inking = true;
                    damage = self.ink.down(x, y, s.pressure, s.t_ms);
                }
            }
            (true, true) => {
                if self.inking {
                    damage = self.ink.moved(x, y, s.pressure, s.t_ms);
                }
            }
            (true, false) => {
                if let Some(k) = self.pressed.take() {
                    damage = self.redraw_button(k, font);
                    if self.button_at(x, y) == Some(k) {
                        action = Action::Pressed(k);
                    }
                } else if self.inking {
                    self.inking = false;
                    damage = self.ink.up();
                }
            }
            (false, false) => {}
        }
        (action, damage.offset(self.rect.x, self.rect.y))
    }

    /// The window's pixel at window coordinates (layer with the ink over it).
    #[inline]
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let base = self.layer.get_pixel(x, y).0;
        let cov = self.ink.coverage(x, y) as u32;
        if cov == 0 {
            return base;
        }
        let mut out = [0u8; 3];
        for i in 0..3 {
            out[i] = ((base[i] as u32 * (255 - cov) + self.ink_color[i] as u32 * cov) / 255) as u8;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(x: f32, y: f32, down: bool, t: f64) -> PenSample {
        PenSample {
            x,
            y,
            pressure: 1.0,
            down,
            t_ms: t,
        }
    }

    #[test]
    fn default_layout_and_buttons() {
        let mut w = SignWindow::new(SignOptions::new(Rect::new(100, 50, 800, 400)), None);
        let ok = w.button_rect(ButtonKind::Ok).unwrap();
        assert_eq!(ok, Rect::new(800 - 156, 400 - 72, 140, 56));
        assert!(w.button_rect(ButtonKind::Return).is_none());
        assert!(w.valid_area().bottom() <= ok.y);
        // Ink inside, then the confirm button pressed and released on it.
        w.pen(&sample(200.0, 150.0, true, 0.0), false, None);
        w.pen(&sample(300.0, 160.0, true, 20.0), true, None);
        w.pen(&sample(300.0, 160.0, false, 30.0), true, None);
        assert!(!w.ink.is_empty());
        let (cx, cy) = (100.0 + ok.x as f32 + 10.0, 50.0 + ok.y as f32 + 10.0);
        assert_eq!(
            w.pen(&sample(cx, cy, true, 40.0), false, None).0,
            Action::None
        );
        assert_eq!(
            w.pen(&sample(cx, cy, false, 50.0), true, None).0,
            Action::Pressed(ButtonKind::Ok)
        );
        // Pressed, slid off, released elsewhere: nothing.
        w.pen(&sample(cx, cy, true, 60.0), false, None);
        assert_eq!(
            w.pen(&sample(10.0, 10.0, false, 70.0), true, None).0,
            Action::None
        );
    }

    #[test]
    fn buttons_moved_inside_and_custom() {
        let mut o = SignOptions::new(Rect::new(0, 0, 300, 200));
        o.back = ButtonSpec {
            text: Some("back".into()),
            visible: Some(true),
            rect: Some(Rect::new(250, 180, 100, 40)),
        };
        let w = SignWindow::new(o, None);
        assert_eq!(
            w.button_rect(ButtonKind::Return),
            Some(Rect::new(200, 160, 100, 40))
        );
    }
}
