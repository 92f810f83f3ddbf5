//! Text on a page with its place: the glyphs hayro's interpreter draws, each with the character
//! it stands for (its ToUnicode map, glyph name, or the character code of a UCS-2 CJK font) and
//! its baseline origin and size in shown-page points (origin top-left). Used to place a signature
//! next to a keyword (`show_sign_pdf`'s `keyword`).

use hayro::hayro_interpret::font::GlyphRun;
use hayro::hayro_interpret::hayro_cmap::BfString;
use hayro::hayro_interpret::kurbo::{Affine, BezPath, Point, Rect, Shape};
use hayro::hayro_interpret::{
    interpret_page, BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image,
    ImageDrawProps, InterpreterCache, SoftMask, TransformExt,
};

use crate::{Document, PdfError};

/// Pages a keyword is looked for on (a long document's search stays bounded).
pub const SEARCH_PAGES: usize = 200;

/// One character drawn on a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Glyph {
    pub ch: char,
    /// Baseline origin, shown-page points from the top-left.
    pub x: f32,
    pub y: f32,
    /// Font size in points (the glyph's scale on the page).
    pub size: f32,
    /// The glyph's ink box (x0, y0, x1, y1), when it has an outline.
    pub ink: Option<(f32, f32, f32, f32)>,
}

/// Where a text was found: its page and its box in shown-page points (top-left origin).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub page: usize,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

struct Collect {
    glyphs: Vec<Glyph>,
}

impl<'a> Device<'a> for Collect {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, props: DrawProps<'a>, _: &DrawMode) {
        for g in run.glyphs() {
            let t: Affine = props.transform * g.transform();
            let o = t * Point::ZERO;
            let [a, b, c, d, _, _] = t.as_coeffs();
            // Glyph space has 1000 units to the em (hayro's outlines).
            let size = (a * d - b * c).abs().sqrt() as f32 * 1000.0;
            let ch = match g.as_unicode() {
                Some(BfString::Char(c)) => Some(c),
                Some(BfString::String(s)) => s.chars().next(),
                // A CJK font without a ToUnicode map: with the UCS-2 encodings its codes are
                // Unicode (anything else does not match a keyword).
                None => char::from_u32(g.char_code()).filter(|c| !c.is_control()),
            };
            let ink = match &**g {
                hayro::hayro_interpret::font::Glyph::Outline(o) => {
                    let path = o.outline();
                    let r = t.transform_rect_bbox(path.bounding_box());
                    // A glyph the font lacks has no ink to go by.
                    (r.width() > 0.5 && r.height() > 0.5).then_some((
                        r.x0 as f32,
                        r.y0 as f32,
                        r.x1 as f32,
                        r.y1 as f32,
                    ))
                }
                _ => None,
            };
            if let Some(ch) = ch {
                self.glyphs.push(Glyph {
                    ch,
                    x: o.x as f32,
                    y: o.y as f32,
                    size,
                    ink,
                });
            }
        }
    }
    fn draw_image(&mut self, _: Image<'a, '_>, _: ImageDrawProps<'a>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}
}

impl Document {
    /// The characters drawn on a page, in drawing order.
    pub fn glyphs(&self, index: usize) -> Result<Vec<Glyph>, PdfError> {
        let (w, h) = self.page_size(index)?;
        let pages = self.pdf.pages();
        let page = &pages[index];
        let cache = InterpreterCache::new();
        let mut ctx = Context::new(
            page.initial_transform(true).to_kurbo(),
            Rect::new(0.0, 0.0, w as f64, h as f64),
            &cache,
            page.xref(),
            self.settings.clone(),
        );
        let mut dev = Collect { glyphs: Vec::new() };
        interpret_page(page, &mut ctx, &mut dev);
        Ok(dev.glyphs)
    }

    /// The first place `needle` is drawn (white space ignored on both sides), pages in order,
    /// within the first [`SEARCH_PAGES`] pages.
    pub fn find_text(&self, needle: &str) -> Option<Found> {
        let want: Vec<char> = needle.chars().filter(|c| !c.is_whitespace()).collect();
        if want.is_empty() {
            return None;
        }
        for page in 0..self.page_count().min(SEARCH_PAGES) {
            let Ok(glyphs) = self.glyphs(page) else {
                continue;
            };
            let glyphs: Vec<&Glyph> = glyphs.iter().filter(|g| !g.ch.is_whitespace()).collect();
            let hit = glyphs
                .windows(want.len())
                .find(|w| w.iter().zip(&want).all(|(g, c)| g.ch == *c));
            if let Some(w) = hit {
                // The ink's box where the glyphs have outlines; else from the font size (the
                // last glyph about one em wide for CJK, 0.6 em otherwise).
                let mut b = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
                for g in w {
                    let (x0, y0, x1, y1) = g.ink.unwrap_or_else(|| {
                        let adv = if g.ch.is_ascii() { 0.6 } else { 1.0 } * g.size;
                        (g.x, g.y - g.size * 0.9, g.x + adv, g.y + g.size * 0.25)
                    });
                    b = (b.0.min(x0), b.1.min(y0), b.2.max(x1), b.3.max(y1));
                }
                return Some(Found {
                    page,
                    x0: b.0,
                    y0: b.1,
                    x1: b.2,
                    y1: b.3,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::testpdf::pdf_with;
    use crate::Document;

    #[test]
    fn keywords_found_where_drawn() {
        // Helvetica 20 pt: "Name:" at (72, 700) in PDF space on a 600x800 page -> top 100.
        let pdf = pdf_with(
            "BT /F1 20 Tf 72 700 Td (Contract) Tj ET BT /F1 20 Tf 72 100 Td (Signed by: ) Tj ET",
            600,
            800,
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        );
        let doc = Document::open(pdf, None).unwrap();
        let f = doc.find_text("Signed by:").unwrap();
        assert_eq!(f.page, 0);
        assert!((f.x0 - 72.0).abs() < 2.0, "{f:?}");
        // Baseline at 800 - 100 = 700 from the top; "g" and "y" go below it.
        assert!(
            f.y0 < 700.0 - 10.0 && f.y0 > 700.0 - 20.0 && f.y1 > 700.0,
            "{f:?}"
        );
        assert!(f.x1 > 72.0 + 60.0 && f.x1 < 72.0 + 140.0, "{f:?}");
        assert!(doc.find_text("Contr act").is_some());
        assert!(doc.find_text("nowhere").is_none());
    }

    #[test]
    fn chinese_keyword_in_a_ucs2_font() {
        let font = crate::testpdf::STSONG;
        // 签字：(U+7B7E U+5B57 U+FF1A) at (100, 200), 30 pt, on a 400x400 page.
        let pdf = pdf_with(
            "BT /F1 30 Tf 100 200 Td <7B7E5B57FF1A> Tj ET",
            400,
            400,
            font,
        );
        let cjk = Some(std::path::PathBuf::from(crate::DEFAULT_CJK_FONT));
        let doc = Document::open(pdf.clone(), cjk).unwrap();
        let f = doc.find_text("签字：").expect("keyword");
        // Baseline 400 - 200 = 200 from the top; the glyphs about 30 pt tall.
        assert!(
            (f.x0 - 100.0).abs() < 4.0 && f.y0 > 200.0 - 32.0 && f.y0 < 200.0 - 18.0,
            "{f:?}"
        );
        assert!(f.x1 > 100.0 + 60.0 && f.x1 < 100.0 + 95.0, "{f:?}");
        // Without the font the characters are still found, their box from the font size.
        let g = Document::open(pdf, None)
            .unwrap()
            .find_text("签字")
            .expect("keyword");
        assert!((g.x0 - 100.0).abs() < 0.5 && g.y0 < 200.0 - 20.0, "{g:?}");
    }
}
