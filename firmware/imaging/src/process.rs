//! The processing chain of `video=grabimage` and `imagepro=process` (vendor 3.3 and 6.4):
//! crop (none, automatic, custom) -> split -> rotate -> ID-card orientation -> shadow reduction
//! -> black-edge removal -> fixed size -> colour mode -> watermark -> JPEG with DPI, shrunk until it
//! fits `max_file_size`.

use ab_glyph::FontArc;
use image::RgbImage;

use crate::detect::{self, find_objects, DocHint};
use crate::geometry::{deskew_crop, warp_quad, Quad};
use crate::watermark::{self, Watermark};
use crate::{codec, ops, ImgError};

/// A length of `custom_rect`: pixels or percent of the image side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Len {
    Px(f32),
    Pct(f32),
}

impl Len {
    /// "100", "100px", "5%", " 12.5 % " ...
    pub fn parse(s: &str) -> Option<Len> {
        let t = s.trim().to_ascii_lowercase();
        if let Some(p) = t.strip_suffix('%') {
            return p
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Len::Pct);
        }
        let t = t.strip_suffix("px").unwrap_or(&t).trim().to_string();
        t.parse::<f32>().ok().filter(|v| v.is_finite()).map(Len::Px)
    }

    fn resolve(self, side: u32) -> f32 {
        match self {
            Len::Px(v) => v,
            Len::Pct(p) => p / 100.0 * side as f32,
        }
    }
}

/// `custom_rect`: the edges of the rectangle and its angle in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomRect {
    pub left: Len,
    pub top: Len,
    pub right: Len,
    pub bottom: Len,
    pub angle: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Cut {
    #[default]
    None,
    Auto,
    Custom(CustomRect),
    /// Book flattening (vendor "3"): not available.
    Book,
    /// Face crop (vendor "4"): not available until a face detector exists.
    Face,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorType {
    #[default]
    Color,
    Grey,
    BlackWhite,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProcessOptions {
    pub cut: Cut,
    pub multi_object: bool,
    pub rotate: i32,
    /// Output size (only with automatic or face crop, each side at most 6000).
    pub fixed_size: Option<(u32, u32)>,
    pub split_page: bool,
    pub reduce_shadow: bool,
    pub color: ColorType,
    pub remove_black_edge: bool,
    /// Perspective correction of automatically found objects (else deskew only).
    pub rect_correct: bool,
    pub correct_idcard_direction: bool,
    pub document_type: DocHint,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageOptions {
    pub dpi: (u16, u16),
    /// 10-100.
    pub quality: u8,
    /// Bytes; 0 = no limit.
    pub max_file_size: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            dpi: (200, 200),
            quality: 80,
            max_file_size: 0,
        }
    }
}

/// The crops an image yields.
pub fn crop(img: RgbImage, opts: &ProcessOptions) -> Result<Vec<RgbImage>, ImgError> {
    crop_found(img, opts, None)
}

/// [`crop`] with the automatic crop's objects already found (None: look for them here).
fn crop_found(
    img: RgbImage,
    opts: &ProcessOptions,
    found: Option<Vec<Quad>>,
) -> Result<Vec<RgbImage>, ImgError> {
    let mut out = match opts.cut {
        Cut::None => vec![img],
        Cut::Book => {
            return Err(ImgError::NotAvailable(
                "book flattening (cut_type 3) is not available on this device".into(),
            ))
        }
        Cut::Face => return Err(ImgError::NotAvailable(
            "face crop (cut_type 4) needs the face detector, which this firmware does not have yet"
                .into(),
        )),
        Cut::Custom(r) => vec![custom(&img, &r)?],
        Cut::Auto => {
            let quads = match found {
                Some(q) => q,
                None => find_objects(&img, opts.document_type),
            };
            let chosen: Vec<_> = if opts.multi_object {
                quads
            } else {
                quads.into_iter().take(1).collect()
            };
            if chosen.is_empty() {
                // Nothing on the base: the whole picture, as a scanner would give it.
                vec![img]
            } else {
                chosen
                    .iter()
                    .map(|q| {
                        if opts.rect_correct && opts.fixed_size.is_none() {
                            let (w, h) = q.output_size();
                            warp_quad(&img, q, w.max(1), h.max(1))
                        } else {
                            deskew_crop(&img, q)
                        }
                    })
                    .collect()
            }
        }
    };
    if opts.split_page && matches!(opts.cut, Cut::Auto) {
        out = out.iter().flat_map(ops::split_page).collect();
    }
    Ok(out)
}

fn custom(img: &RgbImage, r: &CustomRect) -> Result<RgbImage, ImgError> {
    let (w, h) = img.dimensions();
    let (l, t) = (r.left.resolve(w), r.top.resolve(h));
    let (rt, b) = (r.right.resolve(w), r.bottom.resolve(h));
    let bad = |why: &str| {
        ImgError::Invalid(format!(
            "custom_rect {why} (image {w}x{h}: left {l}, top {t}, right {rt}, bottom {b})"
        ))
    };
    if !(rt > l && b > t) {
        return Err(bad(
            "is empty: right must exceed left and bottom exceed top",
        ));
    }
    let tol = 0.5;
    if l < -tol || t < -tol || rt > w as f32 + tol || b > h as f32 + tol {
        return Err(bad("lies outside the image"));
    }
    let (cw, ch) = (
        (rt - l).round().max(1.0) as u32,
        (b - t).round().max(1.0) as u32,
    );
    Ok(ops::crop_rotated(
        img,
        (l + rt) / 2.0,
        (t + b) / 2.0,
        cw,
        ch,
        r.angle,
    ))
}

/// Everything after the crop, for one image: geometry and tone, not yet encoded.
pub fn finish(mut img: RgbImage, opts: &ProcessOptions) -> Result<RgbImage, ImgError> {
    img = ops::rotate(img, opts.rotate)?;
    if opts.correct_idcard_direction {
        img = ops::idcard_upright(img);
    }
    if opts.reduce_shadow {
        img = ops::reduce_shadow(&img);
    }
    if opts.remove_black_edge {
        img = ops::remove_black_edge(img);
    }
    if let Some((fw, fh)) = opts.fixed_size {
        if matches!(opts.cut, Cut::Auto | Cut::Face) {
            let (w, h) = img.dimensions();
            // The other side follows the aspect ratio; a size whose pixels would pass the
            // ceiling is ignored, like the vendor ignores sizes over 6000.
            let (fw, fh) = match (fw as u64, fh as u64) {
                (0, 0) => (w as u64, h as u64),
                (0, fh) => (w as u64 * fh / h.max(1) as u64, fh),
                (fw, 0) => (fw, h as u64 * fw / w.max(1) as u64),
                s => s,
            };
            if fw.max(1) * fh.max(1) <= crate::max_pixels()
                && fw <= u32::MAX as u64
                && fh <= u32::MAX as u64
            {
                img = ops::resize(&img, (fw as u32).max(1), (fh as u32).max(1));
            }
        }
    }
    Ok(img)
}

/// Colour mode, watermark and encoding with the size cap.
pub fn encode(
    img: RgbImage,
    color: ColorType,
    wm: Option<(&FontArc, &Watermark)>,
    store: &StorageOptions,
) -> Result<Vec<u8>, ImgError> {
    let quality = store.quality.clamp(10, 100);
    let grey = match color {
        ColorType::Color => None,
        ColorType::Grey => Some(ops::grey(&img)),
        ColorType::BlackWhite => Some(ops::binarize(&ops::grey(&img))),
    };
    // A watermark is drawn in colour, so a grey or black-white page with one stays RGB.
    let enc = |img: &RgbImage, grey: Option<&image::GrayImage>| match grey {
        Some(g) => codec::encode_gray_jpeg(g, quality, store.dpi),
        None => codec::encode_jpeg(img, quality, store.dpi),
    };
    let (rgb, grey) = match (grey, wm) {
        (Some(g), Some((font, w))) => {
            let mut rgb = ops::grey_to_rgb(&g);
            watermark::draw(&mut rgb, font, w);
            (rgb, None)
        }
        (Some(g), None) => (img, Some(g)),
        (None, Some((font, w))) => {
            let mut rgb = img;
            watermark::draw(&mut rgb, font, w);
            (rgb, None)
        }
        (None, None) => (img, None),
    };
    let mut jpeg = enc(&rgb, grey.as_ref())?;
    if store.max_file_size == 0 || jpeg.len() as u64 <= store.max_file_size {
        return Ok(jpeg);
    }
    // Reduce the resolution in steps until it fits (vendor: "max_file_size").
    let (w0, h0) = rgb.dimensions();
    let mut scale = 1.0f64;
    for _ in 0..16 {
        let ratio = store.max_file_size as f64 / jpeg.len() as f64;
        scale *= ratio.sqrt().clamp(0.3, 0.92);
        let (w, h) = (
            ((w0 as f64 * scale) as u32).max(8),
            ((h0 as f64 * scale) as u32).max(8),
        );
        let small = ops::resize(&rgb, w, h);
        let small_grey = grey
            .as_ref()
            .map(|g| image::imageops::resize(g, w, h, image::imageops::FilterType::Triangle));
        jpeg = enc(&small, small_grey.as_ref())?;
        if jpeg.len() as u64 <= store.max_file_size || (w <= 8 && h <= 8) {
            break;
        }
    }
    if jpeg.len() as u64 > store.max_file_size {
        return Err(ImgError::Invalid(format!(
            "max_file_size {} bytes cannot be met",
            store.max_file_size
        )));
    }
    Ok(jpeg)
}

/// The whole chain: one JPEG per output image.
pub fn process(
    img: RgbImage,
    opts: &ProcessOptions,
    wm: Option<(&FontArc, &Watermark)>,
    store: &StorageOptions,
) -> Result<Vec<Vec<u8>>, ImgError> {
    crop_found(img, opts, None)?
        .into_iter()
        .map(|c| encode(finish(c, opts)?, opts.color, wm, store))
        .collect()
}

/// [`process`] for a JPEG source. With the automatic crop, the detector's first stage runs on
/// a DCT-scaled decode while the full-size decode runs on another core.
pub fn process_jpeg(
    jpeg: &[u8],
    opts: &ProcessOptions,
    wm: Option<(&FontArc, &Watermark)>,
    store: &StorageOptions,
) -> Result<Vec<Vec<u8>>, ImgError> {
    let head = codec::jpeg_size(jpeg);
    let scale = head.map(|(w, h)| detect::preview_scale(w, h)).unwrap_or(1);
    if opts.cut != Cut::Auto || scale == 1 {
        return process(codec::decode_jpeg(jpeg)?, opts, wm, store);
    }
    let (img, found) = decode_and_find(jpeg, scale, opts.document_type)?;
    crop_found(img, opts, Some(found))?
        .into_iter()
        .map(|c| encode(finish(c, opts)?, opts.color, wm, store))
        .collect()
}

/// Decode a JPEG and find the objects on it, the detector's first stage on a DCT-scaled
/// decode (reduced by `scale`, see [`detect::preview_scale`]) while the full-size decode runs
/// on another core. Gives the same objects as [`find_objects`] on the decoded picture, up to
/// the difference between the scaled decode and a box average.
pub fn decode_and_find(
    jpeg: &[u8],
    scale: usize,
    hint: DocHint,
) -> Result<(RgbImage, Vec<Quad>), ImgError> {
    let (fw, fh) = codec::jpeg_size(jpeg).ok_or_else(|| ImgError::Decode("not a JPEG".into()))?;
    let (full, coarse) = std::thread::scope(|sc| {
        let full = sc.spawn(|| codec::decode_jpeg(jpeg));
        let coarse = codec::decode_jpeg_scaled(jpeg, scale)
            .ok()
            .and_then(|small| detect::coarse(&small, scale, fw, fh));
        (full.join(), coarse)
    });
    let img = full.map_err(|_| ImgError::Decode("JPEG decoder failed".into()))??;
    let found = match coarse {
        Some(c) if img.dimensions() == (fw, fh) => detect::refine_objects(&img, &c, hint),
        _ => find_objects(&img, hint),
    };
    Ok((img, found))
}

/// A small preview (the v1.0 `thumbnail`): at most `max_side` pixels on the long side.
pub fn thumbnail(img: &RgbImage, max_side: u32) -> Result<Vec<u8>, ImgError> {
    let (w, h) = img.dimensions();
    let s = max_side as f64 / w.max(h).max(1) as f64;
    let t = if s < 1.0 {
        ops::resize(
            img,
            ((w as f64 * s) as u32).max(1),
            ((h as f64 * s) as u32).max(1),
        )
    } else {
        img.clone()
    };
    codec::encode_jpeg(&t, 70, (96, 96))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> RgbImage {
        RgbImage::from_fn(400, 300, |x, y| {
            if (100..300).contains(&x) && (50..250).contains(&y) {
                image::Rgb([240, 240, 240])
            } else {
                image::Rgb([40, 40, 50])
            }
        })
    }

    #[test]
    fn jpeg_source_auto_crop_matches_the_pixel_path() {
        // 1600x1200: work factor 4, so the first stage runs on a half-size scaled decode.
        let img = RgbImage::from_fn(1600, 1200, |x, y| {
            if (400..1200).contains(&x) && (200..1000).contains(&y) {
                image::Rgb([235, 235, 230])
            } else {
                image::Rgb([40, 45, 50])
            }
        });
        assert_eq!(detect::preview_scale(1600, 1200), 2);
        let jpeg = codec::encode_jpeg(&img, 92, (200, 200)).unwrap();
        let opts = ProcessOptions {
            cut: Cut::Auto,
            rect_correct: true,
            ..Default::default()
        };
        let store = StorageOptions::default();
        let via_jpeg = process_jpeg(&jpeg, &opts, None, &store).unwrap();
        let via_pixels = process(codec::decode_jpeg(&jpeg).unwrap(), &opts, None, &store).unwrap();
        assert_eq!(via_jpeg.len(), 1);
        let a = codec::decode_jpeg(&via_jpeg[0]).unwrap();
        let b = codec::decode_jpeg(&via_pixels[0]).unwrap();
        let (w, h) = a.dimensions();
        assert!(
            (790..=810).contains(&w) && (790..=810).contains(&h),
            "{w}x{h}"
        );
        assert!(w.abs_diff(b.width()) <= 2 && h.abs_diff(b.height()) <= 2);
        // A broken JPEG is a decode error, not a panic.
        assert!(matches!(
            process_jpeg(&jpeg[..200], &opts, None, &store),
            Err(ImgError::Decode(_))
        ));
    }

    #[test]
    fn scaled_decode_rounds_sides_up() {
        let img = RgbImage::from_pixel(101, 77, image::Rgb([10, 200, 30]));
        let jpeg = codec::encode_jpeg(&img, 90, (72, 72)).unwrap();
        assert_eq!(
            codec::decode_jpeg_scaled(&jpeg, 2).unwrap().dimensions(),
            (51, 39)
        );
        assert_eq!(
            codec::decode_jpeg_scaled(&jpeg, 4).unwrap().dimensions(),
            (26, 20)
        );
        assert!(codec::decode_jpeg_scaled(&jpeg, 3).is_err());
    }

    #[test]
    fn fixed_size_over_the_ceiling_is_ignored() {
        // 4x2000 with fixed_width 6000 would be 6000 x 3000000: ignored, not allocated.
        let img = RgbImage::from_pixel(4, 2000, image::Rgb([200, 200, 200]));
        let opts = ProcessOptions {
            cut: Cut::Auto,
            fixed_size: Some((6000, 0)),
            ..Default::default()
        };
        assert_eq!(finish(img, &opts).unwrap().dimensions(), (4, 2000));
        let img = RgbImage::from_pixel(40, 20, image::Rgb([200, 200, 200]));
        let opts = ProcessOptions {
            cut: Cut::Auto,
            fixed_size: Some((400, 0)),
            ..Default::default()
        };
        assert_eq!(finish(img, &opts).unwrap().dimensions(), (400, 200));
    }

    #[test]
    fn lengths() {
        assert_eq!(Len::parse("100px"), Some(Len::Px(100.0)));
        assert_eq!(Len::parse("5%"), Some(Len::Pct(5.0)));
        assert_eq!(Len::parse(" 2000 "), Some(Len::Px(2000.0)));
        assert_eq!(Len::parse("abc"), None);
    }

    #[test]
    fn custom_rect_px_and_pct() {
        let r = CustomRect {
            left: Len::Px(10.0),
            top: Len::Pct(10.0),
            right: Len::Pct(50.0),
            bottom: Len::Px(130.0),
            angle: 0.0,
        };
        let opts = ProcessOptions {
            cut: Cut::Custom(r),
            ..Default::default()
        };
        let out = crop(page(), &opts).unwrap();
        assert_eq!(out[0].dimensions(), (190, 100));
        let outside = CustomRect {
            right: Len::Px(5000.0),
            ..r
        };
        let opts = ProcessOptions {
            cut: Cut::Custom(outside),
            ..Default::default()
        };
        assert!(matches!(crop(page(), &opts), Err(ImgError::Invalid(_))));
    }

    #[test]
    fn unavailable_cuts() {
        for cut in [Cut::Book, Cut::Face] {
            let opts = ProcessOptions {
                cut,
                ..Default::default()
            };
            assert!(matches!(
                crop(page(), &opts),
                Err(ImgError::NotAvailable(_))
            ));
        }
    }

    #[test]
    fn size_cap_shrinks() {
        let img = RgbImage::from_fn(800, 600, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 13 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        });
        let store = StorageOptions {
            max_file_size: 20_000,
            ..Default::default()
        };
        let j = encode(img, ColorType::Color, None, &store).unwrap();
        assert!(j.len() <= 20_000, "{}", j.len());
        let back = codec::decode(&j).unwrap();
        assert!(back.width() < 800);
        assert_eq!(codec::density(&j), Some((200, 200)));
    }

    #[test]
    fn grey_and_bw_are_single_channel() {
        let store = StorageOptions::default();
        for c in [ColorType::Grey, ColorType::BlackWhite] {
            let j = encode(page(), c, None, &store).unwrap();
            let h = turbojpeg::read_header(&j).unwrap();
            assert_eq!(h.subsamp, turbojpeg::Subsamp::Gray);
        }
    }
}
