//! Multi-page TIFF: one page per source image, resolution tags from the image.
//!
//! - Black-and-white pages (1-bit sources, and grey sources whose pixels are almost all black
//!   or white) are CCITT Group 4 (T.6) compressed, photometric WhiteIsZero.
//! - Colour and grey pages are JPEG compressed (compression 7): a baseline JPEG source with its
//!   own Huffman tables is stored as it is, one strip per page; anything else is encoded at
//!   quality 90.

use fax::{encoder::Encoder, Color, VecWriter};
use image::{DynamicImage, GrayImage};

use crate::source::{Source, SourceKind};
use crate::{inspect_all, DocError};

/// JPEG quality of pages that have to be encoded.
const JPEG_QUALITY: u8 = 90;
/// Share of pixels that must be near black or white for a grey page to count as bilevel.
const BILEVEL_SHARE: f64 = 0.985;

/// How a page is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCoding {
    /// CCITT G4, 1 bit per pixel.
    G4,
    /// JPEG, grey.
    JpegGrey,
    /// JPEG, colour (YCbCr with the stream's chroma subsampling).
    JpegColour,
}

struct Page {
    coding: PageCoding,
    width: u32,
    height: u32,
    dpi: (f32, f32),
    /// YCbCr subsampling of a colour JPEG page.
    sampling: (u16, u16),
    data: Vec<u8>,
}

/// Build a multi-page TIFF from image files (in page order). Also returns each page's coding.
pub fn merge(sources: &[Vec<u8>]) -> Result<(Vec<u8>, Vec<PageCoding>), DocError> {
    let srcs = inspect_all(sources)?;
    let mut pages = Vec::with_capacity(srcs.len());
    for (index, s) in srcs.iter().enumerate() {
        pages.push(page(s).map_err(|detail| DocError::BadSource { index, detail })?);
    }
    let codings = pages.iter().map(|p| p.coding).collect();
    Ok((write(&pages), codings))
}

fn page(s: &Source) -> Result<Page, String> {
    let base = |coding, sampling, data| Page {
        coding,
        width: s.width,
        height: s.height,
        dpi: s.dpi,
        sampling,
        data,
    };
    if let SourceKind::Jpeg {
        components,
        baseline: true,
        has_huffman_tables: true,
        adobe_transform,
        luma_sampling: (h, v),
        ..
    } = s.kind
    {
        // A colour JPEG page is stored as it is (a camera picture is colour; deciding whether
        // it is bilevel would cost a full decode).
        let ycbcr = adobe_transform != Some(0);
        if components == 3 && ycbcr && matches!(h, 1 | 2 | 4) && matches!(v, 1 | 2 | 4) && v <= h {
            return Ok(base(
                PageCoding::JpegColour,
                (h as u16, v as u16),
                s.data.to_vec(),
            ));
        }
        if components == 1 {
            let grey = s.decode()?.into_luma8();
            if is_bilevel(&grey) {
                return Ok(base(PageCoding::G4, (1, 1), g4(&grey)));
            }
            return Ok(base(PageCoding::JpegGrey, (1, 1), s.data.to_vec()));
        }
    }
    let img = s.decode()?;
    let grey_source = matches!(
        img,
        DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
    );
    let rgb = flatten(img);
    let grey = grey_source || is_neutral(&rgb);
    if grey {
        let g = DynamicImage::ImageRgb8(rgb).into_luma8();
        if is_bilevel(&g) {
            return Ok(base(PageCoding::G4, (1, 1), g4(&g)));
        }
        let j = imaging::codec::encode_gray_jpeg(&g, JPEG_QUALITY, (72, 72))
            .map_err(|e| e.to_string())?;
        return Ok(base(PageCoding::JpegGrey, (1, 1), j));
    }
    let j = imaging::codec::encode_jpeg(&rgb, JPEG_QUALITY, (72, 72)).map_err(|e| e.to_string())?;
    // Our encoder writes 4:2:0.
    Ok(base(PageCoding::JpegColour, (2, 2), j))
}

/// RGB over white (transparent parts become paper).
fn flatten(img: DynamicImage) -> image::RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = p[3] as u32;
        let mix = |c: u8| ((c as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

/// Whether every pixel is (nearly) grey.
fn is_neutral(rgb: &image::RgbImage) -> bool {
    rgb.pixels().all(|p| {
        let [r, g, b] = p.0;
        r.abs_diff(g) <= 6 && g.abs_diff(b) <= 6 && r.abs_diff(b) <= 6
    })
}

/// Whether a grey page is black and white (a scan in black-white mode, a 1-bit image).
pub fn is_bilevel(g: &GrayImage) -> bool {
    let n = g.as_raw().len();
    if n == 0 {
        return false;
    }
    let extreme = g
        .as_raw()
        .iter()
        .filter(|&&v| !(48..=207).contains(&v))
        .count();
    extreme as f64 >= BILEVEL_SHARE * n as f64
}

/// CCITT G4 (T.6) of a grey page thresholded at mid-grey.
fn g4(g: &GrayImage) -> Vec<u8> {
    let (w, h) = g.dimensions();
    let mut enc = Encoder::new(VecWriter::with_capacity((w * h / 8) as usize));
    for row in g.as_raw().chunks_exact(w as usize).take(h as usize) {
        let line = row
            .iter()
            .map(|&v| if v < 128 { Color::Black } else { Color::White });
        // VecWriter never fails.
        let _ = enc.encode_line(line, w as u16);
    }
    match enc.finish() {
        Ok(wr) => wr.finish(),
        Err(never) => match never {},
    }
}

// TIFF field types.
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;
const ASCII: u16 = 2;

/// Little-endian TIFF, each page's data followed by its IFD.
fn write(pages: &[Page]) -> Vec<u8> {
    let total: usize = pages.iter().map(|p| p.data.len() + 400).sum();
    let mut out = Vec::with_capacity(total + 16);
    out.extend_from_slice(b"II*\0");
    let mut link_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let software = b"CameraService merge2tif\0";
    for (i, p) in pages.iter().enumerate() {
        pad_even(&mut out);
        let data_at = out.len() as u32;
        out.extend_from_slice(&p.data);
        pad_even(&mut out);
        // Out-of-line values: resolutions, bits per sample, software name.
        let xres_at = out.len() as u32;
        push_rational(&mut out, p.dpi.0);
        let yres_at = out.len() as u32;
        push_rational(&mut out, p.dpi.1);
        let bits_at = out.len() as u32;
        for _ in 0..3 {
            out.extend_from_slice(&8u16.to_le_bytes());
        }
        let sw_at = out.len() as u32;
        out.extend_from_slice(software);
        pad_even(&mut out);

        let (compression, photometric, spp, bits): (u16, u16, u16, (u32, u32)) = match p.coding {
            PageCoding::G4 => (4, 0, 1, (1, 1)),
            PageCoding::JpegGrey => (7, 1, 1, (1, 8)),
            PageCoding::JpegColour => (7, 6, 3, (3, bits_at)),
        };
        let mut tags: Vec<(u16, u16, u32, u32)> = vec![
            (256, LONG, 1, p.width),
            (257, LONG, 1, p.height),
            (258, SHORT, bits.0, bits.1),
            (259, SHORT, 1, compression as u32),
            (262, SHORT, 1, photometric as u32),
            (273, LONG, 1, data_at),
            (277, SHORT, 1, spp as u32),
            (278, LONG, 1, p.height),
            (279, LONG, 1, p.data.len() as u32),
            (282, RATIONAL, 1, xres_at),
            (283, RATIONAL, 1, yres_at),
            (284, SHORT, 1, 1),
            (296, SHORT, 1, 2),
            (297, SHORT, 2, (i as u32) | ((pages.len() as u32) << 16)),
            (305, ASCII, software.len() as u32, sw_at),
        ];
        if p.coding == PageCoding::G4 {
            tags.push((293, LONG, 1, 0));
        }
        if p.coding == PageCoding::JpegColour {
            tags.push((
                530,
                SHORT,
                2,
                p.sampling.0 as u32 | ((p.sampling.1 as u32) << 16),
            ));
        }
        tags.sort_by_key(|t| t.0);
        let ifd_at = out.len() as u32;
        out[link_at..link_at + 4].copy_from_slice(&ifd_at.to_le_bytes());
        out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
        for (tag, typ, count, value) in tags {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if typ == SHORT && count == 1 {
                // A lone SHORT sits left-justified in the value field.
                out.extend_from_slice(&(value as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        link_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

fn pad_even(out: &mut Vec<u8>) {
    if out.len() % 2 == 1 {
        out.push(0);
    }
}

/// A resolution as a rational with a denominator of 100.
fn push_rational(out: &mut Vec<u8>, v: f32) {
    let num = (v as f64 * 100.0).round().clamp(1.0, u32::MAX as f64) as u32;
    out.extend_from_slice(&num.to_le_bytes());
    out.extend_from_slice(&100u32.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bw_png() -> Vec<u8> {
        let g = GrayImage::from_fn(203, 101, |x, y| {
            image::Luma([if (x / 7 + y / 5).is_multiple_of(3) {
                0
            } else {
                255
            }])
        });
        let mut v = Vec::new();
        DynamicImage::ImageLuma8(g)
            .write_to(&mut std::io::Cursor::new(&mut v), image::ImageFormat::Png)
            .unwrap();
        v
    }

    #[test]
    fn pages_read_back_with_the_image_crate() {
        let colour = image::RgbImage::from_fn(160, 120, |x, y| image::Rgb([x as u8, y as u8, 200]));
        let j = imaging::codec::encode_jpeg(&colour, 85, (300, 300)).unwrap();
        let (tif, codings) = merge(&[bw_png(), j]).unwrap();
        assert_eq!(codings, vec![PageCoding::G4, PageCoding::JpegColour]);
        // The image crate's TIFF decoder reads the first page (G4 through the fax crate).
        let first = image::load_from_memory_with_format(&tif, image::ImageFormat::Tiff).unwrap();
        assert_eq!((first.width(), first.height()), (203, 101));
        let g = first.into_luma8();
        let expect = |x: u32, y: u32| {
            if (x / 7 + y / 5).is_multiple_of(3) {
                0u8
            } else {
                255
            }
        };
        let wrong = g
            .enumerate_pixels()
            .filter(|(x, y, p)| (p.0[0] < 128) != (expect(*x, *y) < 128))
            .count();
        assert_eq!(wrong, 0);
    }

    #[test]
    fn bilevel_detection() {
        let g = GrayImage::from_fn(100, 100, |x, _| image::Luma([if x < 50 { 3 } else { 250 }]));
        assert!(is_bilevel(&g));
        let g = GrayImage::from_fn(100, 100, |x, _| image::Luma([(x * 2) as u8]));
        assert!(!is_bilevel(&g));
    }
}
