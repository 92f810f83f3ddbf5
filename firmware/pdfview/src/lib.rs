//! PDF pages as pictures, for the signing screen's document viewer (vendor 9.6). Rendering is
//! hayro's (pure Rust, Apache-2.0 OR MIT): the 14 standard fonts come with it; text in a font the
//! document does not embed and that names a Chinese, Japanese or Korean character collection is
//! drawn with the device's CJK font. Every render is bounded by a pixel ceiling before anything is
//! allocated, and a document that cannot be read says why (encrypted, broken, no pages).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use hayro::hayro_interpret::font::{FontData, FontQuery};
use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{render, PixmapSettings, RenderCache, RenderSettings};
use image::RgbImage;

pub mod stamp;
pub mod text;

/// The device's CJK font (fonts-wqy-zenhei), used when a document does not embed its CJK font.
pub const DEFAULT_CJK_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc";

/// The largest side hayro's pixmap takes (u16), and the one we allow.
const MAX_SIDE: f32 = 16000.0;

#[derive(Debug, Clone, PartialEq)]
pub enum PdfError {
    /// Password-protected or encrypted in a way that cannot be opened.
    Encrypted,
    /// Not a PDF, or damaged beyond reading.
    Broken,
    /// A PDF without pages.
    NoPages,
    /// No such page (0-based index, page count).
    NoSuchPage(usize, usize),
    /// The page at that scale would need more pixels than allowed (needed, allowed).
    TooLarge(u64, u64),
}

impl std::fmt::Display for PdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PdfError::Encrypted => write!(f, "the PDF is encrypted or password-protected"),
            PdfError::Broken => write!(f, "not a readable PDF"),
            PdfError::NoPages => write!(f, "the PDF has no pages"),
            PdfError::NoSuchPage(i, n) => write!(f, "no page {} (the PDF has {n})", i + 1),
            PdfError::TooLarge(need, max) => {
                write!(
                    f,
                    "the page would need {need} pixels at that size (at most {max})"
                )
            }
        }
    }
}

impl std::error::Error for PdfError {}

/// An open PDF document.
pub struct Document {
    pdf: Pdf,
    settings: InterpreterSettings,
}

fn load_font(path: &Path) -> Option<(FontData, u32)> {
    std::fs::read(path)
        .ok()
        .map(|d| (Arc::new(d) as FontData, 0))
}

impl Document {
    /// Read `data`; `cjk_font` is the font drawn for non-embedded CJK text (None: standard
    /// fonts only).
    pub fn open(data: Vec<u8>, cjk_font: Option<PathBuf>) -> Result<Document, PdfError> {
        Self::open_shared(Arc::new(data), cjk_font)
    }

    /// [`Document::open`] of bytes the caller keeps too (not copied).
    pub fn open_shared(
        data: Arc<Vec<u8>>,
        cjk_font: Option<PathBuf>,
    ) -> Result<Document, PdfError> {
        let pdf = Pdf::new(data).map_err(|e| match e {
            LoadPdfError::Decryption(_) => PdfError::Encrypted,
            LoadPdfError::Invalid => PdfError::Broken,
        })?;
        if pdf.pages().is_empty() {
            return Err(PdfError::NoPages);
        }
        // Read the CJK font once, the first time a document needs it.
        let cjk: Arc<OnceLock<Option<(FontData, u32)>>> = Arc::new(OnceLock::new());
        let settings = InterpreterSettings {
            font_resolver: Arc::new(move |q: &FontQuery| match q {
                FontQuery::Standard(s) => Some(s.get_font_data()),
                FontQuery::Fallback(f) => {
                    if f.character_collection.is_some() {
                        if let Some(path) = &cjk_font {
                            if let Some(font) = cjk.get_or_init(|| load_font(path)).clone() {
                                return Some(font);
                            }
                        }
                    }
                    Some(f.pick_standard_font().get_font_data())
                }
            }),
            ..Default::default()
        };
        Ok(Document { pdf, settings })
    }

    pub fn page_count(&self) -> usize {
        self.pdf.pages().len()
    }

    /// A page's size in points as it is shown (its crop box, turned by its /Rotate).
    pub fn page_size(&self, index: usize) -> Result<(f32, f32), PdfError> {
        let pages = self.pdf.pages();
        let page = pages
            .get(index)
            .ok_or(PdfError::NoSuchPage(index, pages.len()))?;
        Ok(page.render_dimensions())
    }

    /// Render a page at `scale` pixels per point (72 dpi = 1.0) on white, refusing what would
    /// need more than `max_pixels`.
    pub fn render(&self, index: usize, scale: f32, max_pixels: u64) -> Result<RgbImage, PdfError> {
        let (w, h) = self.page_size(index)?;
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let (pw, ph) = ((w * scale).max(1.0), (h * scale).max(1.0));
        let need = (pw as u64).saturating_mul(ph as u64);
        if need > max_pixels || pw > MAX_SIDE || ph > MAX_SIDE {
            return Err(PdfError::TooLarge(need, max_pixels));
        }
        let pages = self.pdf.pages();
        let page = &pages[index];
        let cache = RenderCache::new();
        let pix = render(
            page,
            &cache,
            &self.settings,
            &RenderSettings::default(),
            &PixmapSettings {
                x_scale: scale,
                y_scale: scale,
                bg_color: WHITE,
            },
        );
        let (pw, ph) = (pix.width() as u32, pix.height() as u32);
        // On an opaque white background every pixel is opaque: premultiplied = straight.
        let rgb: Vec<u8> = pix
            .data_as_u8_slice()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        RgbImage::from_raw(pw, ph, rgb).ok_or(PdfError::Broken)
    }

    /// Render a page as large as fits into `width` x `height` (aspect kept).
    pub fn render_fit(
        &self,
        index: usize,
        width: u32,
        height: u32,
        max_pixels: u64,
    ) -> Result<RgbImage, PdfError> {
        let (w, h) = self.page_size(index)?;
        let scale = (width as f32 / w.max(1.0)).min(height as f32 / h.max(1.0));
        self.render(index, scale, max_pixels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpdf::pdf_with;

    const HELVETICA: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

    fn dark(img: &RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                if img.get_pixel(x, y).0.iter().map(|&c| c as u32).sum::<u32>() < 300 {
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn vector_and_standard_font_text() {
        // A filled rectangle at (100, 100)-(200, 150) in PDF units (origin bottom left) and a
        // line of Helvetica at y = 300.
        let pdf = pdf_with(
            "0 0 1 rg 100 100 100 50 re f BT /F1 24 Tf 0 g 50 300 Td (Hello signer) Tj ET",
            400,
            500,
            HELVETICA,
        );
        let doc = Document::open(pdf, None).unwrap();
        assert_eq!(doc.page_count(), 1);
        assert_eq!(doc.page_size(0).unwrap(), (400.0, 500.0));
        let img = doc.render(0, 2.0, 10_000_000).unwrap();
        assert_eq!(img.dimensions(), (800, 1000));
        // The rectangle: blue at its centre (y flipped: 500 - 125 = 375 pt -> 750 px).
        assert_eq!(img.get_pixel(300, 750).0, [0, 0, 255]);
        assert_eq!(img.get_pixel(20, 20).0, [255, 255, 255]);
        // The text: dark pixels on its line (baseline 300 pt -> 400 px; glyphs above it).
        assert!(dark(&img, 100, 350, 500, 400) > 500, "no text drawn");
        assert_eq!(dark(&img, 100, 420, 500, 460), 0, "ink below the line");
        // Fitted into a screen: the aspect is kept.
        let fit = doc.render_fit(0, 1024, 600, 10_000_000).unwrap();
        assert_eq!(fit.dimensions(), (480, 600));
    }

    #[test]
    fn a_merged_document_of_our_own() {
        // merge2pdf's writer: a red JPEG page.
        let img = image::DynamicImage::ImageRgb8(RgbImage::from_pixel(
            200,
            100,
            image::Rgb([220, 20, 20]),
        ));
        let jpeg = imaging::codec::encode_jpeg(&img.to_rgb8(), 90, (100, 100)).unwrap();
        let pdf = documents::pdf::merge(&[jpeg]).unwrap();
        let doc = Document::open(pdf, None).unwrap();
        let (w, h) = doc.page_size(0).unwrap();
        let out = doc.render(0, 1.0, 10_000_000).unwrap();
        assert_eq!(out.dimensions(), (w as u32, h as u32));
        let p = out.get_pixel(out.width() / 2, out.height() / 2).0;
        assert!(p[0] > 180 && p[1] < 70 && p[2] < 70, "{p:?}");
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Document::open(b"not a pdf at all".to_vec(), None).err(),
            Some(PdfError::Broken)
        );
        let doc = Document::open(pdf_with("", 600, 800, HELVETICA), None).unwrap();
        assert_eq!(doc.page_size(3).err(), Some(PdfError::NoSuchPage(3, 1)));
        assert!(matches!(
            doc.render(0, 10.0, 1_000_000),
            Err(PdfError::TooLarge(48_000_000, 1_000_000))
        ));
        assert!(matches!(
            doc.render(0, 100.0, u64::MAX),
            Err(PdfError::TooLarge(..))
        ));
        assert_eq!(
            PdfError::NoSuchPage(3, 1).to_string(),
            "no page 4 (the PDF has 1)"
        );
    }

    #[test]
    fn chinese_text_in_a_font_the_document_does_not_embed() {
        // 签名 (U+7B7E U+540D) in STSong-Light, Adobe-GB1, not embedded: drawn with the device's
        // CJK font; without one, the standard fallback has no such glyphs.
        let font = crate::testpdf::STSONG;
        let pdf = pdf_with(
            "BT /F1 48 Tf 0 g 50 100 Td <7B7E540D> Tj ET",
            300,
            200,
            font,
        );
        if !Path::new(DEFAULT_CJK_FONT).exists() {
            eprintln!("skipped: {DEFAULT_CJK_FONT} missing");
            return;
        }
        let with = Document::open(pdf.clone(), Some(DEFAULT_CJK_FONT.into()))
            .unwrap()
            .render(0, 1.0, 1_000_000)
            .unwrap();
        // Baseline at 100 pt from the bottom = y 100 px; two 48 pt glyphs from x 50.
        let ink = dark(&with, 50, 55, 150, 105);
        assert!(ink > 400, "only {ink} dark pixels where 签名 should be");
        let without = Document::open(pdf, None)
            .unwrap()
            .render(0, 1.0, 1_000_000)
            .unwrap();
        let ink0 = dark(&without, 50, 55, 150, 105);
        assert!(ink0 < ink / 2, "{ink0} without the CJK font, {ink} with it");
    }
}

#[cfg(test)]
pub(crate) mod testpdf {
    /// STSong-Light (Adobe-GB1), not embedded, codes UCS-2: viewers draw it with a CJK fallback.
    pub const STSONG: &str = "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light \
        /Encoding /UniGB-UCS2-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 \
        /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) \
        /Supplement 2 >> /FontDescriptor << /Type /FontDescriptor /FontName /STSong-Light \
        /Flags 6 /FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 /Descent -120 \
        /CapHeight 880 /StemV 80 >> >>] >>";

    /// A one-page PDF (`w` x `h` points) whose content stream is `content`, font F1 `font`.
    pub fn pdf_with(content: &str, w: u32, h: u32, font: &str) -> Vec<u8> {
        pdf_with_page(content, w, h, font, "")
    }

    /// The same with `extra` entries in the page dictionary (`/Rotate 90`, a `/CropBox`).
    pub fn pdf_with_page(content: &str, w: u32, h: u32, font: &str, extra: &str) -> Vec<u8> {
        let objs = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Contents 4 0 R \
                 /Resources << /Font << /F1 5 0 R >> >> {extra} >>"
            ),
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len() + 1
            ),
            font.to_string(),
        ];
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objs.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes(),
        );
        for off in offsets {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objs.len() + 1
            )
            .as_bytes(),
        );
        out
    }
}
