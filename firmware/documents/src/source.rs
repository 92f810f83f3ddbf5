//! What a source image is: its size, its resolution, and whether its JPEG stream can be embedded
//! as it is. Only headers are read here; pixels are decoded when a page needs them.

use image::DynamicImage;
use imaging::codec::Format;

use crate::DEFAULT_DPI;

/// How a source can be embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A JPEG stream. `components` 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK/YCCK);
    /// `adobe_transform` is the APP14 transform flag when present.
    Jpeg {
        components: u8,
        progressive: bool,
        baseline: bool,
        has_huffman_tables: bool,
        adobe_transform: Option<u8>,
        /// Horizontal and vertical sampling factors of the first component (2,2 = 4:2:0).
        luma_sampling: (u8, u8),
    },
    /// Any other format: decoded for embedding.
    Decode(Format),
}

/// One source image.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    /// Dots per inch, horizontal and vertical (the default when the image states none).
    pub dpi: (f32, f32),
    pub kind: SourceKind,
}

impl<'a> Source<'a> {
    /// Read a source's headers. The error is a short English reason.
    pub fn inspect(data: &'a [u8]) -> Result<Source<'a>, String> {
        match Format::sniff(data) {
            Some(Format::Jpeg) => inspect_jpeg(data),
            Some(f) => {
                let reader = image::ImageReader::with_format(
                    std::io::Cursor::new(data),
                    imaging::codec::image_format(f),
                );
                let (width, height) = reader.into_dimensions().map_err(|e| e.to_string())?;
                if width == 0 || height == 0 {
                    return Err("the image is empty".into());
                }
                let dpi = match f {
                    Format::Png => png_dpi(data),
                    Format::Bmp => bmp_dpi(data),
                    Format::Tiff => tiff_dpi(data),
                    _ => None,
                };
                Ok(Source {
                    data,
                    width,
                    height,
                    dpi: dpi.unwrap_or((DEFAULT_DPI, DEFAULT_DPI)),
                    kind: SourceKind::Decode(f),
                })
            }
            None => Err("not an image (JPEG, PNG, BMP, TIFF, GIF or WebP)".into()),
        }
    }

    /// Decode the pixels (any format).
    pub fn decode(&self) -> Result<DynamicImage, String> {
        if let SourceKind::Jpeg { components, .. } = self.kind {
            if components != 4 {
                let rgb = imaging::codec::decode_jpeg(self.data).map_err(|e| e.to_string())?;
                return Ok(if components == 1 {
                    DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb).into_luma8())
                } else {
                    DynamicImage::ImageRgb8(rgb)
                });
            }
        }
        let f = match self.kind {
            SourceKind::Jpeg { .. } => Format::Jpeg,
            SourceKind::Decode(f) => f,
        };
        let img = image::load_from_memory_with_format(self.data, imaging::codec::image_format(f))
            .map_err(|e| e.to_string())?;
        if img.width() != self.width || img.height() != self.height {
            return Err("the decoded size differs from the header".into());
        }
        Ok(img)
    }

    /// Page size in millimetres at the image's resolution.
    pub fn size_mm(&self) -> (f64, f64) {
        (
            self.width as f64 / self.dpi.0 as f64 * 25.4,
            self.height as f64 / self.dpi.1 as f64 * 25.4,
        )
    }

    /// Page size in PDF points (1/72 inch) at the image's resolution.
    pub fn size_pt(&self) -> (f64, f64) {
        (
            self.width as f64 / self.dpi.0 as f64 * 72.0,
            self.height as f64 / self.dpi.1 as f64 * 72.0,
        )
    }
}

/// A usable resolution (1..=10000 dpi), else None.
fn sane(x: f32, y: f32) -> Option<(f32, f32)> {
    let ok = |v: f32| v.is_finite() && (1.0..=10000.0).contains(&v);
    (ok(x) && ok(y)).then_some((x, y))
}

/// A JPEG frame header: SOF marker, width, height, components, first component's sampling.
type Frame = (u8, u16, u16, u8, (u8, u8));

/// Walk a JPEG's marker segments up to the first scan; check that the stream ends.
fn inspect_jpeg(data: &[u8]) -> Result<Source<'_>, String> {
    let mut i = 2;
    let mut frame: Option<Frame> = None;
    let mut jfif_dpi = None;
    let mut exif_dpi = None;
    let mut adobe = None;
    let mut dht = false;
    let mut scan = false;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return Err(format!("JPEG marker expected at byte {i}"));
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        if len < 2 || i + 2 + len > data.len() {
            return Err("JPEG segment runs past the end of the data".into());
        }
        let seg = &data[i + 4..i + 2 + len];
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if seg.len() < 6 {
                    return Err("JPEG frame header too short".into());
                }
                let h = u16::from_be_bytes([seg[1], seg[2]]);
                let w = u16::from_be_bytes([seg[3], seg[4]]);
                let n = seg[5];
                if seg[0] != 8 {
                    return Err(format!("{}-bit JPEG samples are not supported", seg[0]));
                }
                let sampling = if seg.len() >= 9 {
                    (seg[7] >> 4, seg[7] & 0x0F)
                } else {
                    (1, 1)
                };
                frame = Some((marker, w, h, n, sampling));
            }
            0xC4 => dht = true,
            0xE0 if seg.starts_with(b"JFIF\0") && seg.len() >= 12 => {
                let (x, y) = (
                    u16::from_be_bytes([seg[8], seg[9]]) as f32,
                    u16::from_be_bytes([seg[10], seg[11]]) as f32,
                );
                jfif_dpi = match seg[7] {
                    1 => sane(x, y),
                    2 => sane(x * 2.54, y * 2.54),
                    _ => None,
                };
            }
            0xE1 if seg.starts_with(b"Exif\0\0") => exif_dpi = tiff_resolution(&seg[6..]),
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => adobe = Some(seg[11]),
            0xDA => {
                scan = true;
                break;
            }
            _ => {}
        }
        i += 2 + len;
    }
    let (sof, w, h, components, luma_sampling) = frame.ok_or("JPEG without a frame header")?;
    if !scan {
        return Err("JPEG without image data".into());
    }
    if w == 0 || h == 0 {
        return Err("JPEG with an unstated height (DNL) or an empty frame".into());
    }
    if !matches!(components, 1 | 3 | 4) {
        return Err(format!("JPEG with {components} components"));
    }
    if !ends_with_eoi(data) {
        return Err("the JPEG is truncated (no end marker)".into());
    }
    if matches!(sof, 0xC3 | 0xC5..=0xC7 | 0xCB | 0xCD..=0xCF) {
        return Err("lossless or hierarchical JPEG is not supported".into());
    }
    Ok(Source {
        data,
        width: w as u32,
        height: h as u32,
        dpi: jfif_dpi.or(exif_dpi).unwrap_or((DEFAULT_DPI, DEFAULT_DPI)),
        kind: SourceKind::Jpeg {
            components,
            progressive: matches!(sof, 0xC2 | 0xCA),
            baseline: sof == 0xC0 || sof == 0xC1,
            has_huffman_tables: dht || matches!(sof, 0xC9 | 0xCA),
            adobe_transform: adobe,
            luma_sampling,
        },
    })
}

/// The end-of-image marker, allowing the zero or 0xFF padding some cameras append.
fn ends_with_eoi(data: &[u8]) -> bool {
    let tail = &data[data.len().saturating_sub(4096)..];
    let mut end = tail.len();
    while end > 0 && (tail[end - 1] == 0 || tail[end - 1] == 0xFF) {
        end -= 1;
    }
    // `end` now points just past the last byte that is neither padding value; EOI is FF D9
    // with D9 as that byte.
    end >= 2 && tail[end - 1] == 0xD9 && tail[end - 2] == 0xFF
}

/// XResolution / YResolution / ResolutionUnit from a TIFF structure (a TIFF file or EXIF).
fn tiff_resolution(t: &[u8]) -> Option<(f32, f32)> {
    if t.len() < 8 {
        return None;
    }
    let le = match &t[0..2] {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let b = t.get(o..o + 2)?;
        Some(if le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let b = t.get(o..o + 4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let ifd = u32_at(4)? as usize;
    let n = u16_at(ifd)? as usize;
    let (mut x, mut y, mut unit) = (None, None, 2u16);
    for k in 0..n.min(512) {
        let e = ifd + 2 + k * 12;
        let tag = u16_at(e)?;
        let rational = |e: usize| -> Option<f32> {
            let off = u32_at(e + 8)? as usize;
            let (a, b) = (u32_at(off)?, u32_at(off + 4)?);
            (b != 0).then(|| a as f32 / b as f32)
        };
        match tag {
            0x011A => x = rational(e),
            0x011B => y = rational(e),
            0x0128 => unit = u16_at(e + 8)?,
            _ => {}
        }
    }
    let (x, y) = (x?, y?);
    match unit {
        2 => sane(x, y),
        3 => sane(x * 2.54, y * 2.54),
        _ => None,
    }
}

fn tiff_dpi(data: &[u8]) -> Option<(f32, f32)> {
    tiff_resolution(data)
}

/// PNG `pHYs` (pixels per metre).
fn png_dpi(data: &[u8]) -> Option<(f32, f32)> {
    let mut i = 8;
    while i + 12 <= data.len() {
        let len = u32::from_be_bytes(data[i..i + 4].try_into().ok()?) as usize;
        let kind = &data[i + 4..i + 8];
        if kind == b"pHYs" && len == 9 && i + 8 + 9 <= data.len() {
            let d = &data[i + 8..i + 17];
            if d[8] != 1 {
                return None;
            }
            let x = u32::from_be_bytes(d[0..4].try_into().ok()?) as f32 * 0.0254;
            let y = u32::from_be_bytes(d[4..8].try_into().ok()?) as f32 * 0.0254;
            return sane(x, y);
        }
        if kind == b"IDAT" || kind == b"IEND" {
            return None;
        }
        i += 12 + len;
    }
    None
}

/// BMP pixels per metre (BITMAPINFOHEADER).
fn bmp_dpi(data: &[u8]) -> Option<(f32, f32)> {
    let x = i32::from_le_bytes(data.get(38..42)?.try_into().ok()?);
    let y = i32::from_le_bytes(data.get(42..46)?.try_into().ok()?);
    sane(x as f32 * 0.0254, y as f32 * 0.0254)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32, dpi: u16) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 100, 50]));
        imaging::codec::encode_jpeg(&img, 85, (dpi, dpi)).unwrap()
    }

    #[test]
    fn jpeg_headers() {
        let j = jpeg(64, 48, 300);
        let s = Source::inspect(&j).unwrap();
        assert_eq!((s.width, s.height), (64, 48));
        assert_eq!(s.dpi, (300.0, 300.0));
        assert!(matches!(
            s.kind,
            SourceKind::Jpeg {
                components: 3,
                baseline: true,
                has_huffman_tables: true,
                ..
            }
        ));
        let mm = s.size_mm();
        assert!((mm.0 - 64.0 / 300.0 * 25.4).abs() < 1e-6);
    }

    #[test]
    fn truncated_and_garbage_refused() {
        let j = jpeg(64, 48, 200);
        assert!(Source::inspect(&j[..j.len() - 40]).is_err());
        assert!(Source::inspect(&j[..30]).is_err());
        assert!(Source::inspect(b"hello").is_err());
        let mut padded = j.clone();
        padded.extend_from_slice(&[0, 0, 0]);
        assert!(Source::inspect(&padded).is_ok());
    }

    #[test]
    fn png_resolution_and_default() {
        let img = image::RgbImage::from_pixel(10, 10, image::Rgb([1, 2, 3]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let s = Source::inspect(&png).unwrap();
        assert_eq!(s.dpi, (DEFAULT_DPI, DEFAULT_DPI));
        assert_eq!(s.kind, SourceKind::Decode(Format::Png));
        // Insert a pHYs chunk of 11811 px/m (300 dpi) after IHDR.
        let mut chunk = Vec::new();
        let body: Vec<u8> = [11811u32.to_be_bytes(), 11811u32.to_be_bytes()]
            .concat()
            .into_iter()
            .chain([1u8])
            .collect();
        chunk.extend_from_slice(&9u32.to_be_bytes());
        chunk.extend_from_slice(b"pHYs");
        chunk.extend_from_slice(&body);
        let crc = crc32fast::hash(&[b"pHYs".as_slice(), &body].concat());
        chunk.extend_from_slice(&crc.to_be_bytes());
        let mut with = png[..33].to_vec();
        with.extend_from_slice(&chunk);
        with.extend_from_slice(&png[33..]);
        let s = Source::inspect(&with).unwrap();
        assert!((s.dpi.0 - 300.0).abs() < 0.1, "{:?}", s.dpi);
    }
}
