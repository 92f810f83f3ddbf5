//! The signed PDF: pictures (signatures, remarks) stamped onto pages of a document as image
//! XObjects in an incremental update (ISO 32000-1, 7.5.6). The original bytes are kept as they
//! are and the update is appended after them: each stamped page gets a new revision whose
//! contents are the old ones wrapped in `q`/`Q` followed by a stream drawing the pictures, and
//! whose resources name the new images. lopdf (MIT) reads the document and writes the update.

use image::RgbaImage;
use lopdf::{dictionary, Dictionary, IncrementalDocument, Object, ObjectId, Stream};

use crate::PdfError;

/// A picture placed on a page as the viewer shows it: the page turned by its `/Rotate`, origin at
/// the top-left, `x`, `y`, `w`, `h` as fractions (0..1) of the shown page's width and height.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// 0-based page index.
    pub page: usize,
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    /// Transparent where nothing is drawn.
    pub image: RgbaImage,
}

fn lo(e: lopdf::Error) -> PdfError {
    match e {
        lopdf::Error::Decryption(_) | lopdf::Error::UnsupportedSecurityHandler(_) => {
            PdfError::Encrypted
        }
        _ => PdfError::Broken,
    }
}

fn number(o: &Object) -> Option<f32> {
    match o {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

/// An attribute of a page, from the page or the first ancestor in the page tree that has it.
fn inherited<'a>(doc: &'a lopdf::Document, page: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut id = page;
    for _ in 0..64 {
        let d = doc.get_dictionary(id).ok()?;
        if let Ok(v) = d.get(key) {
            return doc.dereference(v).ok().map(|(_, o)| o);
        }
        id = d.get(b"Parent").and_then(Object::as_reference).ok()?;
    }
    None
}

/// The page's visible box as the renderer shows it (CropBox within MediaBox; A4 without a usable
/// MediaBox, and the MediaBox when the CropBox does not overlap it) as llx, lly, urx, ury, and its
/// rotation.
fn page_box(doc: &lopdf::Document, page: ObjectId) -> Result<([f32; 4], i64), PdfError> {
    let rect = |o: Option<&Object>| -> Option<[f32; 4]> {
        let a = o?.as_array().ok()?;
        if a.len() != 4 {
            return None;
        }
        let mut v = [0f32; 4];
        for (i, x) in a.iter().enumerate() {
            v[i] = number(doc.dereference(x).ok()?.1)?;
        }
        let r = [
            v[0].min(v[2]),
            v[1].min(v[3]),
            v[0].max(v[2]),
            v[1].max(v[3]),
        ];
        (r[2] > r[0] && r[3] > r[1]).then_some(r)
    };
    let media = rect(inherited(doc, page, b"MediaBox")).unwrap_or([0.0, 0.0, 595.0, 842.0]);
    let b = match rect(inherited(doc, page, b"CropBox")) {
        Some(c) => {
            let i = [
                c[0].max(media[0]),
                c[1].max(media[1]),
                c[2].min(media[2]),
                c[3].min(media[3]),
            ];
            if i[2] > i[0] && i[3] > i[1] {
                i
            } else {
                media
            }
        }
        None => media,
    };
    let rot = inherited(doc, page, b"Rotate")
        .and_then(|o| o.as_i64().ok())
        .unwrap_or(0)
        .rem_euclid(360);
    Ok((b, rot - rot % 90))
}

/// User-space point of a shown-page point (`u`, `v` in points from the shown top-left).
fn user(b: [f32; 4], rot: i64, u: f32, v: f32) -> (f32, f32) {
    let [llx, lly, urx, ury] = b;
    match rot {
        90 => (llx + v, lly + u),
        180 => (urx - u, lly + v),
        270 => (urx - v, ury - u),
        _ => (llx + u, ury - v),
    }
}

/// The image XObject of a picture: RGB with its alpha as a soft mask, both deflated.
fn image_objects(inc: &mut IncrementalDocument, img: &RgbaImage) -> Result<ObjectId, PdfError> {
    let (w, h) = img.dimensions();
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    let mut alpha = Vec::with_capacity((w * h) as usize);
    for p in img.pixels() {
        rgb.extend_from_slice(&p.0[..3]);
        alpha.push(p.0[3]);
    }
    let mut mask = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image",
            "Width" => w as i64, "Height" => h as i64,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
        },
        alpha,
    );
    mask.compress().map_err(lo)?;
    let mask_id = inc.new_document.add_object(mask);
    let mut pic = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image",
            "Width" => w as i64, "Height" => h as i64,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8,
            "SMask" => mask_id,
        },
        rgb,
    );
    pic.compress().map_err(lo)?;
    Ok(inc.new_document.add_object(pic))
}

/// `original` with `stamps` drawn on their pages, as an incremental update appended to it.
pub fn stamp(original: &[u8], stamps: &[Stamp]) -> Result<Vec<u8>, PdfError> {
    let doc = lopdf::Document::load_mem(original).map_err(lo)?;
    if doc.is_encrypted() || doc.trailer.has(b"Encrypt") {
        return Err(PdfError::Encrypted);
    }
    let pages = doc.get_pages();
    let count = pages.len();
    if count == 0 {
        return Err(PdfError::NoPages);
    }
    let page_ids: Vec<ObjectId> = pages.values().copied().collect();
    let mut inc = IncrementalDocument::create_from(original.to_vec(), doc);
    // The pictures of each page, in order.
    let mut by_page: std::collections::BTreeMap<usize, Vec<&Stamp>> = Default::default();
    for s in stamps {
        if s.page >= count {
            return Err(PdfError::NoSuchPage(s.page, count));
        }
        by_page.entry(s.page).or_default().push(s);
    }
    // Names no earlier revision used: the file's length differs at every update.
    let round = original.len();
    let mut serial = 0usize;
    for (page, list) in by_page {
        let page_id = page_ids[page];
        let (b, rot) = page_box(inc.get_prev_documents(), page_id)?;
        let (bw, bh) = (b[2] - b[0], b[3] - b[1]);
        // The shown page's size in points.
        let (sw, sh) = if rot % 180 == 90 { (bh, bw) } else { (bw, bh) };
        let mut ops = String::from("Q\n");
        for s in list {
            serial += 1;
            let name = format!("CsSig{round}x{serial}");
            let id = image_objects(&mut inc, &s.image)?;
            inc.add_xobject(page_id, name.as_bytes(), id).map_err(lo)?;
            let (u0, v0) = (s.x * sw, s.y * sh);
            let (dw, dh) = (s.w * sw, s.h * sh);
            let o = user(b, rot, u0, v0 + dh);
            let r = user(b, rot, u0 + dw, v0 + dh);
            let t = user(b, rot, u0, v0);
            ops.push_str(&format!(
                "q {:.4} {:.4} {:.4} {:.4} {:.4} {:.4} cm /{name} Do Q\n",
                r.0 - o.0,
                r.1 - o.1,
                t.0 - o.0,
                t.1 - o.1,
                o.0,
                o.1
            ));
        }
        // Old contents, flattened to a list of streams.
        let old: Vec<Object> = {
            let prev = inc.get_prev_documents();
            let d = prev.get_dictionary(page_id).map_err(lo)?;
            match d.get(b"Contents") {
                Ok(c) => match prev.dereference(c).map_err(lo)? {
                    (_, Object::Array(a)) => a.clone(),
                    (Some(id), _) => vec![Object::Reference(id)],
                    (None, o) => vec![o.clone()],
                },
                Err(_) => Vec::new(),
            }
        };
        let open = inc
            .new_document
            .add_object(Stream::new(Dictionary::new(), b"q\n".to_vec()));
        let mut draw = Stream::new(Dictionary::new(), ops.into_bytes());
        draw.compress().map_err(lo)?;
        let draw = inc.new_document.add_object(draw);
        let mut contents = vec![Object::Reference(open)];
        contents.extend(old);
        contents.push(Object::Reference(draw));
        inc.opt_clone_object_to_new_document(page_id).map_err(lo)?;
        inc.new_document
            .get_dictionary_mut(page_id)
            .map_err(lo)?
            .set("Contents", Object::Array(contents));
    }
    let mut out = Vec::with_capacity(original.len() + 64 * 1024);
    inc.save_to(&mut out).map_err(|_| PdfError::Broken)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpdf::pdf_with_page;
    use crate::Document;
    use image::Rgba;

    const FONT: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

    /// A green square with a transparent border.
    fn mark() -> RgbaImage {
        mark_of([0, 160, 0])
    }

    fn mark_of(c: [u8; 3]) -> RgbaImage {
        RgbaImage::from_fn(40, 40, |x, y| {
            if (5..35).contains(&x) && (5..35).contains(&y) {
                Rgba([c[0], c[1], c[2], 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        })
    }

    fn green(img: &image::RgbImage, x: f32, y: f32) -> bool {
        let p = img.get_pixel(
            (x * img.width() as f32) as u32,
            (y * img.height() as f32) as u32,
        );
        p.0[1] > 120 && p.0[0] < 60 && p.0[2] < 60
    }

    /// The stamp lands where the shown page puts it, for every rotation and an offset crop box;
    /// the original is a prefix; the page's own drawing stays; the border stays transparent.
    #[test]
    fn stamped_where_shown_at_every_rotation() {
        for extra in [
            "",
            "/Rotate 90",
            "/Rotate 180",
            "/Rotate 270",
            "/CropBox [50 40 350 440]",
            "/Rotate 90 /CropBox [50 40 350 440]",
            // A crop box reaching past the media box: what is shown is their overlap.
            "/CropBox [-30 0 430 500]",
        ] {
            // A red bar along the bottom-left of the page (user space).
            let orig = pdf_with_page("1 0 0 rg 60 50 80 20 re f", 400, 500, FONT, extra);
            let s = Stamp {
                page: 0,
                x: 0.6,
                y: 0.1,
                w: 0.2,
                h: 0.15,
                image: mark(),
            };
            let signed = stamp(&orig, &[s]).unwrap();
            assert!(signed.starts_with(&orig), "{extra}: original not kept");
            let doc = Document::open(signed, None).unwrap();
            let img = doc.render(0, 1.0, 10_000_000).unwrap();
            // Centre of the stamp: (0.7, 0.175); the border is transparent: the page is white
            // just inside the stamp's box.
            assert!(green(&img, 0.7, 0.175), "{extra}: no stamp at its place");
            let at = img.get_pixel(
                (0.602 * img.width() as f32) as u32,
                (0.102 * img.height() as f32) as u32,
            );
            assert_eq!(at.0, [255, 255, 255], "{extra}: border not transparent");
            assert!(!green(&img, 0.3, 0.5), "{extra}");
            // The page's own red bar is still drawn somewhere.
            let red = img.pixels().filter(|p| p.0 == [255, 0, 0]).count();
            assert!(red > 500, "{extra}: page content lost ({red})");
        }
    }

    #[test]
    fn two_pages_and_refusals() {
        let orig = documents::pdf::merge(&[
            imaging::codec::encode_jpeg(
                &image::RgbImage::from_pixel(300, 200, image::Rgb([250, 250, 250])),
                90,
                (72, 72),
            )
            .unwrap(),
            imaging::codec::encode_jpeg(
                &image::RgbImage::from_pixel(200, 300, image::Rgb([250, 250, 250])),
                90,
                (72, 72),
            )
            .unwrap(),
        ])
        .unwrap();
        let at = |page| Stamp {
            page,
            x: 0.1,
            y: 0.7,
            w: 0.3,
            h: 0.2,
            image: mark(),
        };
        // Two stamps on the second page, one on the first; stamping the result again works.
        let once = stamp(&orig, &[at(1), at(0), Stamp { x: 0.5, ..at(1) }]).unwrap();
        // A second signer elsewhere on the same page: the first signature stays.
        let blue = Stamp {
            y: 0.1,
            image: mark_of([0, 0, 200]),
            ..at(0)
        };
        let twice = stamp(&once, &[blue]).unwrap();
        assert!(twice.starts_with(&once) && once.starts_with(&orig));
        let doc = Document::open(twice, None).unwrap();
        for p in 0..2 {
            let img = doc.render(p, 1.0, 10_000_000).unwrap();
            assert!(green(&img, 0.25, 0.8), "page {p}");
        }
        let img = doc.render(0, 1.0, 10_000_000).unwrap();
        let p = img.get_pixel(img.width() / 4, img.height() / 5).0;
        assert!(p[2] > 150 && p[1] < 60, "the second signature: {p:?}");
        let img = doc.render(1, 1.0, 10_000_000).unwrap();
        assert!(green(&img, 0.65, 0.8));
        assert_eq!(
            stamp(&orig, &[at(2)]).err(),
            Some(PdfError::NoSuchPage(2, 2))
        );
        assert_eq!(
            stamp(b"%PDF-1.4 nothing", &[]).err(),
            Some(PdfError::Broken)
        );
    }
}
