//! PDF from images, one page per image, the page the image's size at its resolution.
//!
//! JPEG sources go in as they are (DCTDecode): the bytes inside the PDF are the source's bytes.
//! Other sources are decoded and stored losslessly with Flate (alpha as a soft mask). A JPEG
//! without Huffman tables (raw UVC MJPEG) is re-encoded, since PDF readers need the tables.

use std::io::Write;

use flate2::write::ZlibEncoder;
use image::DynamicImage;

use crate::source::{Source, SourceKind};
use crate::{inspect_all, DocError};

/// The largest page side PDF readers accept in default user units (200 inches).
const MAX_PT: f64 = 14400.0;

/// Build a PDF from image files (in page order).
pub fn merge(sources: &[Vec<u8>]) -> Result<Vec<u8>, DocError> {
    let pages = inspect_all(sources)?;
    let mut w = Writer::new(sources.iter().map(|s| s.len()).sum::<usize>() + 4096);
    // 1: catalog, 2: page tree, 3: info; pages from 4 on.
    let mut kids = Vec::with_capacity(pages.len());
    let mut next = 4u32;
    let mut bodies: Vec<Vec<(u32, Vec<u8>)>> = Vec::with_capacity(pages.len());
    for (index, src) in pages.iter().enumerate() {
        let bad = |detail: String| DocError::BadSource { index, detail };
        let images = page_images(src).map_err(bad)?;
        let page_id = next;
        let content_id = next + 1;
        let image_id = next + 2;
        let smask_id = next + 3;
        next += if images.smask.is_some() { 4 } else { 3 };
        kids.push(page_id);

        let (wpt, hpt) = src.size_pt();
        let unit = (wpt.max(hpt) / MAX_PT).max(1.0);
        let (bw, bh) = (wpt / unit, hpt / unit);
        let mut objs = Vec::new();
        let user_unit = if unit > 1.0 {
            format!(" /UserUnit {}", num(unit))
        } else {
            String::new()
        };
        objs.push((
            page_id,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}]{user_unit} /Resources << /XObject << /Im0 {image_id} 0 R >> >> /Contents {content_id} 0 R >>",
                num(bw),
                num(bh)
            )
            .into_bytes(),
        ));
        let content = format!("q {} 0 0 {} 0 0 cm /Im0 Do Q", num(bw), num(bh)).into_bytes();
        objs.push((
            content_id,
            stream_obj(&format!("/Length {}", content.len()), &content),
        ));
        let smask_ref = if images.smask.is_some() {
            format!(" /SMask {smask_id} 0 R")
        } else {
            String::new()
        };
        let dict = format!(
            "/Type /XObject /Subtype /Image /Width {} /Height {} {}{smask_ref} /Length {}",
            src.width,
            src.height,
            images.dict,
            images.data.len()
        );
        objs.push((image_id, stream_obj(&dict, &images.data)));
        if let Some(alpha) = images.smask {
            let dict = format!(
                "/Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length {}",
                src.width,
                src.height,
                alpha.len()
            );
            objs.push((smask_id, stream_obj(&dict, &alpha)));
        }
        bodies.push(objs);
    }
    w.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>");
    let kids_s: Vec<String> = kids.iter().map(|k| format!("{k} 0 R")).collect();
    w.obj(
        2,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids_s.join(" "),
            kids.len()
        )
        .as_bytes(),
    );
    w.obj(
        3,
        b"<< /Producer (CameraService) /Creator (CameraService merge2pdf) >>",
    );
    for objs in bodies {
        for (id, body) in objs {
            w.obj(id, &body);
        }
    }
    Ok(w.finish(next - 1))
}

/// An image XObject's dictionary entries and stream, plus a soft mask stream.
struct Embedded {
    dict: String,
    data: Vec<u8>,
    smask: Option<Vec<u8>>,
}

fn page_images(src: &Source) -> Result<Embedded, String> {
    match src.kind {
        SourceKind::Jpeg {
            components,
            has_huffman_tables: true,
            adobe_transform,
            ..
        } => {
            let cs = match components {
                1 => "/DeviceGray",
                3 => "/DeviceRGB",
                _ => "/DeviceCMYK",
            };
            // Adobe's CMYK JPEGs store inverted values.
            let decode = if components == 4 && adobe_transform.is_some() {
                " /Decode [1 0 1 0 1 0 1 0]"
            } else {
                ""
            };
            Ok(Embedded {
                dict: format!("/ColorSpace {cs} /BitsPerComponent 8 /Filter /DCTDecode{decode}"),
                data: src.data.to_vec(),
                smask: None,
            })
        }
        SourceKind::Jpeg { .. } => {
            let rgb = imaging::codec::decode_jpeg(src.data).map_err(|e| e.to_string())?;
            let j = imaging::codec::encode_jpeg(&rgb, 92, (72, 72)).map_err(|e| e.to_string())?;
            Ok(Embedded {
                dict: "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode".into(),
                data: j,
                smask: None,
            })
        }
        SourceKind::Decode(_) => {
            let img = src.decode()?;
            let (pixels, cs, alpha) = split_alpha(img);
            Ok(Embedded {
                dict: format!("/ColorSpace {cs} /BitsPerComponent 8 /Filter /FlateDecode"),
                data: deflate(&pixels),
                smask: alpha.map(|a| deflate(&a)),
            })
        }
    }
}

/// 8-bit samples, the PDF colour space, and the alpha channel when it is not fully opaque.
fn split_alpha(img: DynamicImage) -> (Vec<u8>, &'static str, Option<Vec<u8>>) {
    let grey = matches!(
        img,
        DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
    );
    if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        let alpha: Vec<u8> = rgba.pixels().map(|p| p.0[3]).collect();
        let opaque = alpha.iter().all(|&a| a == 255);
        let pixels: Vec<u8> = if grey {
            rgba.pixels().map(|p| p.0[0]).collect()
        } else {
            rgba.pixels()
                .flat_map(|p| [p.0[0], p.0[1], p.0[2]])
                .collect()
        };
        let cs = if grey { "/DeviceGray" } else { "/DeviceRGB" };
        return (pixels, cs, (!opaque).then_some(alpha));
    }
    if grey {
        (img.into_luma8().into_raw(), "/DeviceGray", None)
    } else {
        (img.into_rgb8().into_raw(), "/DeviceRGB", None)
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2),
        flate2::Compression::fast(),
    );
    e.write_all(data).expect("writing to memory");
    e.finish().expect("writing to memory")
}

fn stream_obj(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + dict.len() + 32);
    v.extend_from_slice(b"<< ");
    v.extend_from_slice(dict.as_bytes());
    v.extend_from_slice(b" >>\nstream\n");
    v.extend_from_slice(data);
    v.extend_from_slice(b"\nendstream");
    v
}

/// A number as PDF writes it: up to 4 decimals, no exponent.
fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Objects written in any order; the cross-reference table sorts them out.
struct Writer {
    out: Vec<u8>,
    offsets: Vec<(u32, usize)>,
}

impl Writer {
    fn new(capacity: usize) -> Writer {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
        Writer {
            out,
            offsets: Vec::new(),
        }
    }

    fn obj(&mut self, id: u32, body: &[u8]) {
        self.offsets.push((id, self.out.len()));
        self.out
            .extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(b"\nendobj\n");
    }

    fn finish(mut self, max_id: u32) -> Vec<u8> {
        let mut table = vec![None; max_id as usize + 1];
        for (id, off) in &self.offsets {
            table[*id as usize] = Some(*off);
        }
        let xref = self.out.len();
        self.out
            .extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", max_id + 1).as_bytes());
        for entry in table.iter().skip(1) {
            match entry {
                Some(off) => self
                    .out
                    .extend_from_slice(format!("{off:010} 00000 n \n").as_bytes()),
                None => self.out.extend_from_slice(b"0000000000 65535 f \n"),
            }
        }
        self.out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R /Info 3 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                max_id + 1
            )
            .as_bytes(),
        );
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_bytes_are_embedded_unchanged() {
        let img = image::RgbImage::from_fn(120, 80, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let j = imaging::codec::encode_jpeg(&img, 80, (150, 150)).unwrap();
        let pdf = merge(&[j.clone(), j.clone()]).unwrap();
        let hits = pdf.windows(j.len()).filter(|w| *w == &j[..]).count();
        assert_eq!(hits, 2);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 2"));
        // 120 px at 150 dpi = 57.6 pt.
        assert!(text.contains("/MediaBox [0 0 57.6 38.4]"), "{text:.400}");
        assert!(text.ends_with("%%EOF\n"));
    }

    #[test]
    fn empty_and_bad_sources() {
        assert_eq!(merge(&[]), Err(DocError::Empty));
        let img = image::RgbImage::new(8, 8);
        let j = imaging::codec::encode_jpeg(&img, 80, (150, 150)).unwrap();
        match merge(&[j, b"nope".to_vec()]) {
            Err(DocError::BadSource { index: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(num(57.6), "57.6");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.23456), "1.2346");
    }
}
