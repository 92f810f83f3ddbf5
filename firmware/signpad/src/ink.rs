//! Signature ink: a coverage mask the size of the window, drawn from pen samples.
//!
//! - Width: from the pen's pressure and its speed — `max_width * (0.35 + 0.65 * pressure) /
//!   (1 + speed)` with the speed in px/ms filtered as `0.7 * new + 0.3 * old`, never under
//!   `min_width` (fast strokes thin out as with a real pen; input without pressure reports 1).
//! - Smoothing: each new sample draws the quadratic curve from the middle of the previous segment
//!   to the middle of the new one, the previous sample its control point (so corners are round and
//!   the ink trails the pen by half a segment only); the pen-up draws the last half segment.
//! - No gaps: the curve is stamped with discs at most a quarter of the thinner end's width apart
//!   (at least every 0.35 px), their radius interpolated along it; each stamp raises the mask to
//!   its coverage (max, not sum), so overlapping stamps never darken the ink.
//! - Ink outside the valid area is not drawn.

use crate::Rect;

#[derive(Debug, Clone, Copy)]
pub struct InkStyle {
    pub min_width: f32,
    pub max_width: f32,
}

impl Default for InkStyle {
    fn default() -> Self {
        InkStyle {
            min_width: 1.5,
            max_width: 5.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Point {
    x: f32,
    y: f32,
    t: f64,
    w: f32,
}

/// The ink of one window: coverage 0-255 per pixel.
pub struct InkLayer {
    pub width: u32,
    pub height: u32,
    mask: Vec<u8>,
    style: InkStyle,
    /// Where ink may go (window coordinates).
    clip: Rect,
    last: Option<Point>,
    /// The middle of the last segment and the width there: where the next curve starts.
    mid: Option<(f32, f32, f32)>,
    speed: f32,
    strokes: usize,
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

impl InkLayer {
    pub fn new(width: u32, height: u32, style: InkStyle, clip: Rect) -> InkLayer {
        InkLayer {
            width,
            height,
            mask: vec![0; width as usize * height as usize],
            style,
            clip: clip.intersect(&Rect::new(0, 0, width, height)),
            last: None,
            mid: None,
            speed: 0.0,
            strokes: 0,
        }
    }

    pub fn clear(&mut self) {
        self.mask.fill(0);
        self.last = None;
        self.mid = None;
        self.strokes = 0;
    }

    /// Whether any ink was drawn.
    pub fn is_empty(&self) -> bool {
        self.strokes == 0
    }

    pub fn strokes(&self) -> usize {
        self.strokes
    }

    pub fn coverage(&self, x: u32, y: u32) -> u8 {
        if x >= self.width || y >= self.height {
            return 0;
        }
        self.mask[y as usize * self.width as usize + x as usize]
    }

    pub fn mask(&self) -> &[u8] {
        &self.mask
    }

    fn width_at(&self, pressure: f32, speed: f32) -> f32 {
        let p = pressure.clamp(0.0, 1.0);
        let w = self.style.max_width * (0.35 + 0.65 * p) / (1.0 + speed);
        w.max(self.style.min_width)
    }

    /// The pen went down at (x, y) (window coordinates). Gives the damaged rectangle.
    pub fn down(&mut self, x: f32, y: f32, pressure: f32, t: f64) -> Rect {
        self.speed = 0.0;
        let w = self.width_at(pressure, 0.0);
        let p = Point { x, y, t, w };
        self.last = Some(p);
        self.mid = Some((x, y, w));
        self.strokes += 1;
        self.stamp(x, y, w / 2.0)
    }

    /// The pen moved while down. Gives the damaged rectangle.
    pub fn moved(&mut self, x: f32, y: f32, pressure: f32, t: f64) -> Rect {
        let Some(last) = self.last else {
            return self.down(x, y, pressure, t);
        };
        let d = ((x - last.x).powi(2) + (y - last.y).powi(2)).sqrt();
        if d < 0.25 {
            return Rect::default();
        }
        let dt = (t - last.t).max(1.0) as f32;
        self.speed = 0.7 * (d / dt) + 0.3 * self.speed;
        let w = self.width_at(pressure, self.speed);
        let (mx, my, mw) = self.mid.unwrap_or((last.x, last.y, last.w));
        let end = ((last.x + x) / 2.0, (last.y + y) / 2.0, (last.w + w) / 2.0);
        let damage = self.curve((mx, my, mw), (last.x, last.y), end);
        self.mid = Some(end);
        self.last = Some(Point { x, y, t, w });
        damage
    }

    /// The pen went up: the last half segment.
    pub fn up(&mut self) -> Rect {
        let (Some(last), Some((mx, my, mw))) = (self.last.take(), self.mid.take()) else {
            return Rect::default();
        };
        let cx = (mx + last.x) / 2.0;
        let cy = (my + last.y) / 2.0;
        self.curve((mx, my, mw), (cx, cy), (last.x, last.y, last.w))
    }

    /// A quadratic curve from `a` to `b` with control point `c`, widths from `a`'s to `b`'s.
    fn curve(&mut self, a: (f32, f32, f32), c: (f32, f32), b: (f32, f32, f32)) -> Rect {
        let len = ((c.0 - a.0).hypot(c.1 - a.1) + (b.0 - c.0).hypot(b.1 - c.1)).max(0.0);
        let step = (a.2.min(b.2) * 0.25).max(0.35);
        let n = ((len / step).ceil() as usize).clamp(1, 20_000);
        let mut damage = Rect::default();
        for i in 0..=n {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            let x = u * u * a.0 + 2.0 * u * t * c.0 + t * t * b.0;
            let y = u * u * a.1 + 2.0 * u * t * c.1 + t * t * b.1;
            let w = lerp(a.2, b.2, t);
            damage = damage.union(&self.stamp(x, y, w / 2.0));
        }
        damage
    }

    /// An anti-aliased disc: each pixel's coverage is how far its centre lies inside the edge.
    fn stamp(&mut self, cx: f32, cy: f32, r: f32) -> Rect {
        let r = r.max(0.5);
        let x0 = ((cx - r - 1.0).floor() as i32).max(self.clip.x);
        let y0 = ((cy - r - 1.0).floor() as i32).max(self.clip.y);
        let x1 = ((cx + r + 1.0).ceil() as i32).min(self.clip.right());
        let y1 = ((cy + r + 1.0).ceil() as i32).min(self.clip.bottom());
        if x1 <= x0 || y1 <= y0 {
            return Rect::default();
        }
        for y in y0..y1 {
            let row = y as usize * self.width as usize;
            for x in x0..x1 {
                let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
                let cov = (r + 0.5 - d).clamp(0.0, 1.0);
                if cov > 0.0 {
                    let v = (cov * 255.0).round() as u8;
                    let m = &mut self.mask[row + x as usize];
                    if v > *m {
                        *m = v;
                    }
                }
            }
        }
        Rect::new(x0, y0, (x1 - x0) as u32, (y1 - y0) as u32)
    }

    /// The ink cropped to its box grown by `margin`: the picture in `color` on transparency and
    /// its rectangle in the layer; None without ink.
    pub fn cropped(&self, color: [u8; 3], margin: u32) -> Option<(image::RgbaImage, Rect)> {
        let (w, h, m) = (self.width, self.height, &self.mask);
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for y in 0..h {
            for x in 0..w {
                if m[(y * w + x) as usize] > 0 {
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x);
                    y1 = y1.max(y);
                }
            }
        }
        if x0 == u32::MAX {
            return None;
        }
        let (x0, y0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
        let (x1, y1) = ((x1 + margin).min(w - 1), (y1 + margin).min(h - 1));
        let img = image::RgbaImage::from_fn(x1 - x0 + 1, y1 - y0 + 1, |x, y| {
            let a = m[((y + y0) * w + x + x0) as usize];
            image::Rgba([color[0], color[1], color[2], a])
        });
        Some((
            img,
            Rect::new(x0 as i32, y0 as i32, x1 - x0 + 1, y1 - y0 + 1),
        ))
    }

    /// The ink as a PNG with a transparent background, in `color`.
    pub fn to_png(&self, color: [u8; 3]) -> Vec<u8> {
        let mut img = image::RgbaImage::new(self.width, self.height);
        for (i, p) in img.pixels_mut().enumerate() {
            *p = image::Rgba([color[0], color[1], color[2], self.mask[i]]);
        }
        let mut out = Vec::new();
        let _ = image::DynamicImage::ImageRgba8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> InkLayer {
        InkLayer::new(400, 200, InkStyle::default(), Rect::new(0, 0, 400, 200))
    }

    #[test]
    fn a_stroke_passes_through_its_samples_without_gaps() {
        let mut ink = layer();
        // Through the middle of pixel row 100.
        ink.down(20.0, 100.5, 0.5, 0.0);
        // A fast stroke: 40 px between samples 8 ms apart.
        let mut t = 0.0;
        for i in 1..=9 {
            t += 8.0;
            ink.moved(20.0 + 40.0 * i as f32, 100.5, 0.5, t);
        }
        ink.up();
        for x in 20..380 {
            assert!(ink.coverage(x, 100) > 200, "gap at x={x}");
        }
        assert_eq!(ink.coverage(200, 90), 0, "ink too wide");
        assert_eq!(ink.coverage(10, 100), 0);
        assert_eq!(ink.strokes(), 1);
    }

    #[test]
    fn width_follows_pressure_and_speed() {
        let thick = |pressure: f32, dt: f64| {
            let mut ink = layer();
            ink.down(20.0, 100.0, pressure, 0.0);
            let mut t = 0.0;
            for i in 1..=30 {
                t += dt;
                ink.moved(20.0 + 10.0 * i as f32, 100.0, pressure, t);
            }
            ink.up();
            (0..200).filter(|&y| ink.coverage(150, y) > 127).count()
        };
        let slow_hard = thick(1.0, 50.0);
        let slow_light = thick(0.1, 50.0);
        let fast_hard = thick(1.0, 2.0);
        assert!(slow_hard > slow_light, "{slow_hard} {slow_light}");
        assert!(slow_hard > fast_hard, "{slow_hard} {fast_hard}");
        assert!(fast_hard >= 1 && slow_light >= 1);
    }

    #[test]
    fn corners_are_rounded_and_ink_stays_in_its_area() {
        let mut ink = InkLayer::new(100, 100, InkStyle::default(), Rect::new(0, 0, 50, 100));
        ink.down(10.0, 10.0, 1.0, 0.0);
        ink.moved(90.0, 10.0, 1.0, 100.0);
        ink.moved(90.0, 90.0, 1.0, 200.0);
        ink.up();
        for y in 0..100 {
            for x in 50..100 {
                assert_eq!(
                    ink.coverage(x, y),
                    0,
                    "ink outside the valid area at {x},{y}"
                );
            }
        }
        assert!(ink.coverage(20, 10) > 200);
    }

    #[test]
    fn a_tap_is_a_dot_and_png_is_transparent_elsewhere() {
        let mut ink = layer();
        ink.down(50.0, 50.0, 1.0, 0.0);
        ink.up();
        assert!(ink.coverage(50, 50) > 200);
        let png = ink.to_png([0, 0, 0]);
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (400, 200));
        assert_eq!(img.get_pixel(0, 0)[3], 0);
        assert!(img.get_pixel(50, 50)[3] > 200);
        ink.clear();
        assert!(ink.is_empty() && ink.coverage(50, 50) == 0);
    }
}
