//! Button panels: the evaluator (vendor 9.8: a tip line over a row of rating buttons with the
//! built-in face icons) and the floating button group (9.15: a row of buttons over whatever the
//! screen shows). A button whose colour equals the panel's background is drawn transparent.

use ab_glyph::FontArc;
use image::{imageops, RgbImage};
use imaging::watermark::{text, text_width};

use crate::{PenSample, Rect};

#[derive(Debug, Clone)]
pub struct PanelButton {
    pub content: String,
    pub fontsize: f32,
    pub textcolor: [u8; 3],
    pub buttoncolor: [u8; 3],
    /// A built-in face ("0" very satisfied .. "3" unsatisfied) or a picture.
    pub icon: Icon,
    /// Fixed size (floating buttons); None: an equal share of the row.
    pub size: Option<(u32, u32)>,
}

#[derive(Debug, Clone)]
pub enum Icon {
    None,
    Face(u8),
    Picture(RgbImage),
}

#[derive(Debug, Clone)]
pub struct PanelOptions {
    pub rect: Rect,
    /// The tip line (evaluator): text, font size, text colour, background colour.
    pub tip: Option<(String, f32, [u8; 3], [u8; 3])>,
    /// The panel's background; None: transparent (floating buttons).
    pub background: Option<[u8; 3]>,
    pub buttons: Vec<PanelButton>,
}

pub struct Panel {
    pub rect: Rect,
    layer: RgbImage,
    /// Which pixels the panel covers (the rest shows what is beneath).
    opaque: Vec<bool>,
    buttons: Vec<(Rect, PanelButton)>,
    background: Option<[u8; 3]>,
    tip: Option<(String, f32, [u8; 3], [u8; 3])>,
    tip_h: u32,
    pressed: Option<usize>,
}

/// Built-in icons: a face with a mouth from a broad smile (0) to a frown (3).
fn face(img: &mut RgbImage, opaque: &mut [bool], cx: f32, cy: f32, r: f32, kind: u8, c: [u8; 3]) {
    let w = img.width();
    let mut dot = |x: f32, y: f32, rad: f32| {
        let (x0, y0) = (
            (x - rad - 1.0).max(0.0) as u32,
            (y - rad - 1.0).max(0.0) as u32,
        );
        let (x1, y1) = (
            ((x + rad + 1.0) as u32).min(img.width()),
            ((y + rad + 1.0) as u32).min(img.height()),
        );
        for py in y0..y1 {
            for px in x0..x1 {
                let d = ((px as f32 + 0.5 - x).powi(2) + (py as f32 + 0.5 - y).powi(2)).sqrt();
                let a = (rad + 0.5 - d).clamp(0.0, 1.0);
                if a > 0.0 {
                    let p = img.get_pixel_mut(px, py);
                    for i in 0..3 {
                        p[i] = (p[i] as f32 * (1.0 - a) + c[i] as f32 * a).round() as u8;
                    }
                    opaque[(py * w + px) as usize] = true;
                }
            }
        }
    };
    let stroke = (r * 0.09).max(1.0);
    // The ring.
    let n = (r * 8.0) as usize + 16;
    for i in 0..n {
        let t = i as f32 / n as f32 * std::f32::consts::TAU;
        dot(cx + r * t.cos(), cy + r * t.sin(), stroke);
    }
    // Eyes.
    dot(cx - r * 0.35, cy - r * 0.25, stroke * 1.4);
    dot(cx + r * 0.35, cy - r * 0.25, stroke * 1.4);
    // The mouth: a parabola curving up (smile) to down (frown).
    let bend = [0.35f32, 0.18, 0.0, -0.25][kind.min(3) as usize];
    let m = 32;
    for i in 0..=m {
        let u = i as f32 / m as f32 * 2.0 - 1.0;
        let x = cx + u * r * 0.5;
        let y = cy + r * 0.3 + bend * r * (1.0 - u * u) - bend * r * 0.5;
        dot(x, y, stroke);
    }
}

impl Panel {
    pub fn new(o: PanelOptions, font: Option<&FontArc>) -> Panel {
        let (w, h) = (o.rect.w.max(1), o.rect.h.max(1));
        let tip_h = if o.tip.is_some() {
            (h as f32 * 0.35) as u32
        } else {
            0
        };
        // The buttons: a row under the tip, fixed sizes where given, the rest shared equally.
        let n = o.buttons.len().max(1) as u32;
        let gap = 8u32;
        let row = Rect::new(0, tip_h as i32, w, h - tip_h);
        let fixed: u32 = o.buttons.iter().filter_map(|b| b.size.map(|s| s.0)).sum();
        let free = o.buttons.iter().filter(|b| b.size.is_none()).count() as u32;
        let share = w
            .saturating_sub(fixed + gap * (n + 1))
            .checked_div(free)
            .map_or(0, |s| s.max(8));
        let mut x = gap as i32;
        let mut buttons = Vec::new();
        for b in o.buttons {
            let (bw, bh) = b
                .size
                .unwrap_or((share, row.h.saturating_sub(2 * gap).max(8)));
            let bh = bh.min(row.h.max(1));
            let y = row.y + ((row.h - bh) / 2) as i32;
            buttons.push((Rect::new(x, y, bw, bh), b));
            x += (bw + gap) as i32;
        }
        let mut p = Panel {
            rect: o.rect,
            layer: RgbImage::new(w, h),
            opaque: vec![false; (w * h) as usize],
            buttons,
            background: o.background,
            tip: o.tip,
            tip_h,
            pressed: None,
        };
        p.draw(font);
        p
    }

    fn fill(&mut self, r: Rect, c: [u8; 3]) {
        let r = r.intersect(&Rect::new(0, 0, self.layer.width(), self.layer.height()));
        let w = self.layer.width();
        for y in r.y..r.bottom() {
            for x in r.x..r.right() {
                self.layer.put_pixel(x as u32, y as u32, image::Rgb(c));
                self.opaque[(y as u32 * w + x as u32) as usize] = true;
            }
        }
    }

    fn draw(&mut self, font: Option<&FontArc>) {
        let (w, h) = self.layer.dimensions();
        self.opaque.fill(false);
        if let Some(bg) = self.background {
            self.fill(Rect::new(0, 0, w, h), bg);
        }
        if let Some((t, size, tc, bg)) = self.tip.clone() {
            self.fill(Rect::new(0, 0, w, self.tip_h), bg);
            if let Some(f) = font {
                let size = size.clamp(6.0, 120.0);
                let tw = text_width(f, &t, size);
                let y = (self.tip_h as f32 - size * 1.15) / 2.0;
                text(&mut self.layer, f, &t, size, ((w as f32 - tw) / 2.0, y), tc);
            }
        }
        for i in 0..self.buttons.len() {
            self.draw_button(i, font);
        }
    }

    fn draw_button(&mut self, i: usize, font: Option<&FontArc>) {
        let (r, b) = self.buttons[i].clone();
        let transparent = Some(b.buttoncolor) == self.background;
        let mut c = b.buttoncolor;
        if self.pressed == Some(i) {
            c = [c[0] / 4 * 3, c[1] / 4 * 3, c[2] / 4 * 3];
        }
        if !transparent || self.pressed == Some(i) {
            self.fill(r, c);
        } else if let Some(bg) = self.background {
            self.fill(r, bg);
        }
        let size = b.fontsize.clamp(6.0, 120.0);
        let icon_h = match &b.icon {
            Icon::None => 0.0,
            _ => ((r.h as f32 - size * 1.8) * 0.85).clamp(0.0, r.w as f32 * 0.8),
        };
        let cx = r.x as f32 + r.w as f32 / 2.0;
        let top = r.y as f32 + (r.h as f32 - icon_h - size * 1.2) / 2.0;
        match &b.icon {
            Icon::Face(k) if icon_h > 8.0 => {
                let rad = icon_h / 2.0 - 2.0;
                face(
                    &mut self.layer,
                    &mut self.opaque,
                    cx,
                    top + icon_h / 2.0,
                    rad,
                    *k,
                    b.textcolor,
                );
            }
            Icon::Picture(img) if icon_h > 8.0 => {
                let s = icon_h as u32;
                let scaled = imageops::resize(img, s, s, imageops::FilterType::Triangle);
                let (x0, y0) = ((cx - s as f32 / 2.0) as i64, top as i64);
                imageops::replace(&mut self.layer, &scaled, x0, y0);
                let w = self.layer.width() as i64;
                for y in y0.max(0)..(y0 + s as i64).min(self.layer.height() as i64) {
                    for x in x0.max(0)..(x0 + s as i64).min(w) {
                        self.opaque[(y * w + x) as usize] = true;
                    }
                }
            }
            _ => {}
        }
        if let Some(f) = font {
            let tw = text_width(f, &b.content, size);
            let y = top + icon_h + size * 0.05;
            // Text pixels count as covered even on a transparent button.
            let before = self.layer.clone();
            text(
                &mut self.layer,
                f,
                &b.content,
                size,
                (cx - tw / 2.0, y),
                b.textcolor,
            );
            for (i, (a, z)) in before.pixels().zip(self.layer.pixels()).enumerate() {
                if a != z {
                    self.opaque[i] = true;
                }
            }
        }
    }

    fn button_at(&self, x: f32, y: f32) -> Option<usize> {
        self.buttons.iter().position(|(r, _)| r.contains(x, y))
    }

    /// A pen sample (screen coordinates) while the panel holds the pen: gives the content of a
    /// button pressed and released on it, and the damaged rectangle (screen coordinates).
    pub fn pen(
        &mut self,
        s: &PenSample,
        prev_down: bool,
        font: Option<&FontArc>,
    ) -> (Option<String>, Rect) {
        let (x, y) = (s.x - self.rect.x as f32, s.y - self.rect.y as f32);
        let mut out = None;
        let mut damage = Rect::default();
        match (prev_down, s.down) {
            (false, true) => {
                if let Some(i) = self.button_at(x, y) {
                    self.pressed = Some(i);
                    self.draw_button(i, font);
                    damage = self.buttons[i].0;
                }
            }
            (true, false) => {
                if let Some(i) = self.pressed.take() {
                    self.draw_button(i, font);
                    damage = self.buttons[i].0;
                    if self.button_at(x, y) == Some(i) {
                        out = Some(self.buttons[i].1.content.clone());
                    }
                }
            }
            _ => {}
        }
        (out, damage.offset(self.rect.x, self.rect.y))
    }

    /// The panel's pixel at window coordinates, None where it is transparent.
    #[inline]
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        let w = self.layer.width();
        self.opaque[(y * w + x) as usize].then(|| self.layer.get_pixel(x, y).0)
    }

    pub fn button_rects(&self) -> Vec<Rect> {
        self.buttons.iter().map(|(r, _)| *r).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(content: &str) -> PanelButton {
        PanelButton {
            content: content.into(),
            fontsize: 18.0,
            textcolor: [255, 255, 255],
            buttoncolor: [0x71, 0xa2, 0xe4],
            icon: Icon::Face(0),
            size: None,
        }
    }

    #[test]
    fn rows_presses_and_transparency() {
        let mut p = Panel::new(
            PanelOptions {
                rect: Rect::new(100, 100, 600, 240),
                tip: Some(("tip".into(), 28.0, [255; 3], [0x71, 0xa2, 0xe4])),
                background: Some([255, 255, 255]),
                buttons: vec![b("a"), b("b"), b("c"), b("d")],
            },
            None,
        );
        let r = p.button_rects();
        assert_eq!(r.len(), 4);
        assert!(r.windows(2).all(|w| w[0].right() < w[1].x));
        assert!(r.iter().all(|x| x.y >= 84 && x.right() <= 600));
        let c = (100.0 + r[2].x as f32 + 5.0, 100.0 + r[2].y as f32 + 5.0);
        let s = |down| PenSample {
            x: c.0,
            y: c.1,
            pressure: 1.0,
            down,
            t_ms: 0.0,
        };
        p.pen(&s(true), false, None);
        assert_eq!(p.pen(&s(false), true, None).0.as_deref(), Some("c"));
        // A floating group without background: transparent between its buttons.
        let f = Panel::new(
            PanelOptions {
                rect: Rect::new(0, 0, 256, 64),
                tip: None,
                background: None,
                buttons: vec![
                    PanelButton {
                        icon: Icon::None,
                        size: Some((100, 40)),
                        ..b("ok")
                    },
                    PanelButton {
                        icon: Icon::None,
                        size: Some((100, 40)),
                        ..b("no")
                    },
                ],
            },
            None,
        );
        assert!(f.pixel(2, 2).is_none());
        let r = f.button_rects();
        assert!(f.pixel(r[0].x as u32 + 3, r[0].y as u32 + 3).is_some());
    }
}
