//! Text watermarks (vendor `watermark`): UTF-8 text including Chinese, drawn with a TrueType/
//! OpenType font the caller supplies (the device ships WenQuanYi Zen Hei), at one of five
//! positions, with a transparency and a colour given by name or `#RRGGBB`.

use ab_glyph::{Font, FontArc, Glyph, PxScale, ScaleFont};
use image::RgbImage;

use crate::ImgError;

/// Where the text goes: the vendor's 0..4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Position {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    #[default]
    Center,
}

impl Position {
    pub fn from_code(c: i64) -> Option<Position> {
        Some(match c {
            0 => Position::TopLeft,
            1 => Position::TopRight,
            2 => Position::BottomLeft,
            3 => Position::BottomRight,
            4 => Position::Center,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    /// The text (the caller puts the current time here when the page sent none).
    pub text: String,
    pub position: Position,
    /// 0 = invisible, 255 = opaque.
    pub opacity: u8,
    /// Font size in pixels.
    pub size: f32,
    pub color: [u8; 3],
}

/// The default font size, also used when a page asks for more than 3000 (vendor rule).
pub const DEFAULT_SIZE: f32 = 32.0;

/// A colour by common name (English, as the vendor's table has them) or `#RRGGBB`/`0xRRGGBB`.
pub fn parse_color(s: &str) -> Option<[u8; 3]> {
    let t = s.trim().to_ascii_lowercase();
    let hex = t
        .strip_prefix('#')
        .or_else(|| t.strip_prefix("0x"))
        .filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
    if let Some(h) = hex {
        let v = u32::from_str_radix(h, 16).ok()?;
        return Some([(v >> 16) as u8, (v >> 8) as u8, v as u8]);
    }
    Some(match t.replace([' ', '_', '-'], "").as_str() {
        "red" => [255, 0, 0],
        "green" => [0, 128, 0],
        "lime" => [0, 255, 0],
        "blue" => [0, 0, 255],
        "black" => [0, 0, 0],
        "white" => [255, 255, 255],
        "yellow" => [255, 255, 0],
        "magenta" | "fuchsia" => [255, 0, 255],
        "cyan" | "aqua" => [0, 255, 255],
        "gray" | "grey" => [128, 128, 128],
        "darkgray" | "darkgrey" => [64, 64, 64],
        "lightgray" | "lightgrey" | "silver" => [192, 192, 192],
        "orange" => [255, 165, 0],
        "purple" => [128, 0, 128],
        "violet" => [238, 130, 238],
        "pink" => [255, 192, 203],
        "brown" => [165, 42, 42],
        "gold" => [255, 215, 0],
        "navy" | "darkblue" => [0, 0, 139],
        "darkred" | "maroon" => [139, 0, 0],
        "darkgreen" => [0, 100, 0],
        "olive" => [128, 128, 0],
        "teal" => [0, 128, 128],
        _ => return None,
    })
}

/// Load a font file's bytes (a .ttf, .otf or the first face of a .ttc).
pub fn load_font(data: Vec<u8>) -> Result<FontArc, ImgError> {
    ab_glyph::FontVec::try_from_vec_and_index(data, 0)
        .map(FontArc::new)
        .map_err(|e| ImgError::Invalid(format!("font: {e}")))
}

/// Lay out one line; returns glyphs positioned from (0, ascent) and the line's width.
fn layout(font: &FontArc, scale: PxScale, text: &str) -> (Vec<Glyph>, f32) {
    let sf = font.as_scaled(scale);
    let mut x = 0.0f32;
    let mut prev = None;
    let mut out = Vec::new();
    for ch in text.chars().filter(|c| !c.is_control()) {
        let id = sf.glyph_id(ch);
        if let Some(p) = prev {
            x += sf.kern(p, id);
        }
        out.push(id.with_scale_and_position(scale, ab_glyph::point(x, sf.ascent())));
        x += sf.h_advance(id);
        prev = Some(id);
    }
    (out, x)
}

/// Draw the watermark onto `img`.
pub fn draw(img: &mut RgbImage, font: &FontArc, wm: &Watermark) {
    if wm.text.is_empty() || wm.opacity == 0 || img.width() < 4 || img.height() < 4 {
        return;
    }
    let (w, h) = (img.width() as f32, img.height() as f32);
    let mut size = if wm.size > 0.0 && wm.size <= 3000.0 {
        wm.size
    } else {
        DEFAULT_SIZE
    };
    // Shrink to fit the image.
    let (mut glyphs, mut width) = layout(font, PxScale::from(size), &wm.text);
    let max_w = w * 0.96;
    if width > max_w {
        size *= max_w / width;
        (glyphs, width) = layout(font, PxScale::from(size), &wm.text);
    }
    size = size.min(h * 0.9);
    let sf = font.as_scaled(PxScale::from(size));
    let height = sf.ascent() - sf.descent();
    let margin = (size * 0.5).clamp(2.0, 64.0).min(w * 0.02 + 2.0);
    let (ox, oy) = match wm.position {
        Position::TopLeft => (margin, margin),
        Position::TopRight => (w - width - margin, margin),
        Position::BottomLeft => (margin, h - height - margin),
        Position::BottomRight => (w - width - margin, h - height - margin),
        Position::Center => ((w - width) / 2.0, (h - height) / 2.0),
    };
    let alpha = wm.opacity as f32 / 255.0;
    paint(img, font, glyphs, (ox, oy), wm.color, alpha);
}

/// Draw glyphs laid out by [`layout`], moved by `at`, blended with `alpha`.
fn paint(
    img: &mut RgbImage,
    font: &FontArc,
    glyphs: Vec<Glyph>,
    at: (f32, f32),
    color: [u8; 3],
    alpha: f32,
) {
    for g in glyphs {
        let g = Glyph {
            position: ab_glyph::point(g.position.x + at.0, g.position.y + at.1),
            ..g
        };
        let Some(outline) = font.outline_glyph(g) else {
            continue;
        };
        let b = outline.px_bounds();
        outline.draw(|x, y, cov| {
            let px = b.min.x as i64 + x as i64;
            let py = b.min.y as i64 + y as i64;
            if px < 0 || py < 0 || px >= img.width() as i64 || py >= img.height() as i64 {
                return;
            }
            let a = (cov * alpha).clamp(0.0, 1.0);
            let p = img.get_pixel_mut(px as u32, py as u32);
            for i in 0..3 {
                p[i] = (p[i] as f32 * (1.0 - a) + color[i] as f32 * a).round() as u8;
            }
        });
    }
}

/// Draw one line of text of `size` px with its top-left corner at `at`; gives its width.
pub fn text(
    img: &mut RgbImage,
    font: &FontArc,
    line: &str,
    size: f32,
    at: (f32, f32),
    color: [u8; 3],
) -> f32 {
    let (glyphs, width) = layout(font, PxScale::from(size), line);
    paint(img, font, glyphs, at, color, 1.0);
    width
}

/// The width `line` takes at `size` px.
pub fn text_width(font: &FontArc, line: &str, size: f32) -> f32 {
    layout(font, PxScale::from(size), line).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert_eq!(parse_color("red"), Some([255, 0, 0]));
        assert_eq!(parse_color(" Gray "), Some([128, 128, 128]));
        assert_eq!(parse_color("#00ff80"), Some([0, 255, 128]));
        assert_eq!(parse_color("0x71A2E4"), Some([0x71, 0xA2, 0xE4]));
        assert_eq!(parse_color("notacolour"), None);
        assert_eq!(parse_color("#12345"), None);
    }

    #[test]
    fn positions() {
        assert_eq!(Position::from_code(4), Some(Position::Center));
        assert_eq!(Position::from_code(5), None);
    }
}
