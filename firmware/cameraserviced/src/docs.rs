//! `imagepro=merge2pdf`, `merge2tif`, `merge2ofd` (vendor 6.1): images in, one document out,
//! stored as a generated file and returned as base64. `imagepro=barcode` (vendor 6.3): the codes
//! on a stored image or on the document camera's next frame.

use std::sync::Arc;

use api::{ApiError, ApiRequest, Reply, Table, Text};
use base64::Engine;
use documents::DocError;
use serde_json::{json, Map, Value};

use crate::common::{
    now_text, on_heavy, on_heavy_grab, picture, Images, Work, B64, BARCODE_BYTES_PER_PIXEL,
};

#[derive(Clone, Copy)]
enum Kind {
    Pdf,
    Tif,
    Ofd,
}

impl Kind {
    fn ext(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Tif => "tif",
            Kind::Ofd => "ofd",
        }
    }
}

/// The source list: the body array (the vendor's form), or an object's `source_image` /
/// `source_images` array, or a lone source object.
fn sources(req: &mut ApiRequest) -> Result<Vec<Value>, ApiError> {
    if let Some(a) = req.take_array() {
        return Ok(a);
    }
    let f = req.fields();
    if let Some(a) = f.array("source_image").or_else(|| f.array("source_images")) {
        return Ok(a.into_owned());
    }
    if !req.params.is_empty()
        && req.params.keys().any(|k| {
            ["uuid", "filepath", "base64"]
                .iter()
                .any(|n| k.eq_ignore_ascii_case(n))
        })
    {
        // A lone source object as the body.
        return Ok(vec![Value::Object(std::mem::take(&mut req.params))]);
    }
    Err(ApiError::missing("source_image"))
}

/// One element of the source list as an object (a page may wrap it as {"source_image": {...}}).
fn source_object(
    v: &Value,
    i: usize,
) -> Result<std::borrow::Cow<'_, Map<String, Value>>, ApiError> {
    let name = format!("source_image[{i}]");
    let o = api::request::expect_object(v, &name)?;
    match o {
        std::borrow::Cow::Borrowed(b) => match b.get("source_image") {
            Some(inner) => api::request::expect_object(inner, &name),
            None => Ok(std::borrow::Cow::Borrowed(b)),
        },
        std::borrow::Cow::Owned(mut m) => match m.remove("source_image") {
            Some(inner) => api::request::expect_object(&inner, &name)
                .map(|c| std::borrow::Cow::Owned(c.into_owned())),
            None => Ok(std::borrow::Cow::Owned(m)),
        },
    }
}

fn merge(c: &Images, mut req: ApiRequest, kind: Kind) -> Result<Reply, ApiError> {
    let list = sources(&mut req)?;
    if list.is_empty() {
        return Err(DocError::Empty.into());
    }
    let mut work = Work::new(c);
    let mut data = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        // Say which image a failure is about.
        let name = |mut e: ApiError| {
            let d = e.detail.take().unwrap_or_else(|| Text::new("", ""));
            e.detail = Some(Text::new(
                format!("第 {} 张图像：{}", i + 1, d.zh),
                format!("image {}: {}", i + 1, d.en),
            ));
            e
        };
        let src = source_object(v, i)?;
        // The source, its copy in the document, the document's base64 and the reply's text.
        let bytes = work.source(&c.store, &src, false, 4).map_err(name)?;
        // Pages count against the request's pixels; a page that is decoded (not a JPEG
        // embedded as it is) takes memory for its pixels too.
        if let Ok((format, w, h)) = imaging::codec::probe(&bytes) {
            let passthrough = format == imaging::codec::Format::Jpeg && !matches!(kind, Kind::Tif);
            work.admit(w, h, if passthrough { 0 } else { 4 })
                .map_err(name)?;
        }
        data.push(bytes);
    }
    drop(list);
    let uuid = uuid::Uuid::new_v4();
    let doc = match kind {
        Kind::Pdf => documents::pdf::merge(&data),
        Kind::Tif => documents::tiff::merge(&data).map(|(d, _)| d),
        Kind::Ofd => documents::ofd::merge(
            &data,
            &documents::ofd::Meta {
                doc_id: uuid.simple().to_string(),
                creation_date: now_text()[..10].to_string(),
            },
        ),
    }?;
    drop(data);
    // Written only once the whole document exists, atomically: a failed call leaves nothing.
    let p = c
        .store
        .write_generated_as(&uuid.to_string(), kind.ext(), &doc)?;
    Ok(Reply::ok()
        .with("filepath", json!(c.store.client_path(&p)))
        .with("base64", json!(B64.encode(&doc))))
}

/// A vendor on/off flag where "0" is off and anything else on (cut_type, binary).
fn flag(f: &api::Fields, keys: &[&str], default: bool) -> bool {
    keys.iter()
        .find_map(|k| f.str_nonempty(k))
        .map(|s| s.trim() != "0")
        .unwrap_or(default)
}

fn roi_of(o: &Map<String, Value>) -> Result<barcode::Roi, ApiError> {
    let f = api::Fields(o);
    let side = |k: &str, default: f32| -> Result<f32, ApiError> {
        match f.str_nonempty(k) {
            None => Ok(default),
            Some(s) => s
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "roi",
                        Text::new(
                            format!("{k} 不是数字：{s}"),
                            format!("{k} is not a number: {s}"),
                        ),
                    )
                }),
        }
    };
    Ok(barcode::Roi {
        top: side("top", 0.0)?,
        left: side("left", 0.0)?,
        bottom: side("bottom", 1.0)?,
        right: side("right", 1.0)?,
    })
}

/// The region of interest of a picture (all of it without one).
fn region(
    img: &imaging::RgbImage,
    roi: Option<barcode::Roi>,
) -> Result<imaging::RgbImage, ApiError> {
    let Some(r) = roi else {
        return Ok(img.clone());
    };
    let (w, h) = img.dimensions();
    let (x, y, rw, rh) = r.pixels(w, h).ok_or_else(|| {
        ApiError::invalid(
            "roi",
            Text::new(
                "roi 应为 0 到 1 之间的比例，且 top < bottom、left < right",
                "roi takes fractions from 0 to 1 with top < bottom and left < right",
            ),
        )
    })?;
    Ok(image::imageops::crop_imm(img, x, y, rw, rh).to_image())
}

fn read_codes(img: &imaging::RgbImage, binary: bool) -> Result<Vec<barcode::Code>, ApiError> {
    let mut g = barcode::luma(img);
    if binary {
        g = imaging::ops::binarize(&g);
    }
    barcode::read(&g).map_err(|e| ApiError::internal(format!("barcode reader: {e}")))
}

/// `imagepro=barcode` reads the document camera's next frame when no source image is given.
fn barcode_frame(req: &ApiRequest) -> Result<Option<camera::Role>, ApiError> {
    let given = req
        .fields()
        .object("source_image")
        .is_some_and(|s| !s.is_empty());
    Ok((!given).then_some(camera::Role::Document))
}

fn read_barcodes(
    c: &Images,
    req: ApiRequest,
    frame: Option<camera::Frame>,
) -> Result<Reply, ApiError> {
    let f = req.fields();
    let roi = match f.object("roi") {
        Some(o) if !o.is_empty() => Some(roi_of(&o)?),
        _ => None,
    };
    let cut = flag(&f, &["cut_type", "cutpage"], true);
    let binary = flag(&f, &["binary"], false);
    let mut work = Work::new(c);
    let img = match f.object("source_image") {
        Some(src) if !src.is_empty() => {
            let data = work.source(&c.store, &src, false, 1)?;
            work.admit_encoded(&data, BARCODE_BYTES_PER_PIXEL)?;
            imaging::codec::decode(&data)?
        }
        _ => {
            let frame = frame.ok_or_else(|| ApiError::internal("no camera frame"))?;
            let pic = picture(frame)?;
            let (w, h) = pic.size()?;
            work.admit(w, h, BARCODE_BYTES_PER_PIXEL)?;
            pic.pixels()?
        }
    };
    let mut codes = Vec::new();
    let mut whole_read = false;
    if cut {
        // The document first (then the roi inside it), as the vendor describes.
        let opts = imaging::process::ProcessOptions {
            cut: imaging::process::Cut::Auto,
            rect_correct: true,
            ..Default::default()
        };
        let crops = imaging::process::crop(img.clone(), &opts)?;
        if let Some(doc) = crops.first() {
            codes = read_codes(&region(doc, roi)?, binary)?;
            // No document found: the crop was the whole picture.
            whole_read = doc.dimensions() == img.dimensions();
            // A "document" this small is most likely a code itself (a QR on a blank sheet):
            // the rest of the picture may hold more codes.
            let (dw, dh) = doc.dimensions();
            let (w, h) = img.dimensions();
            if !codes.is_empty() && (dw as u64 * dh as u64) * 4 < w as u64 * h as u64 {
                for c in read_codes(&region(&img, roi)?, binary)? {
                    if !codes.contains(&c) {
                        codes.push(c);
                    }
                }
                whole_read = true;
            }
        }
    }
    if codes.is_empty() && !whole_read {
        // Nothing on the cropped document (or no crop asked for): the whole picture.
        codes = read_codes(&region(&img, roi)?, binary)?;
    }
    let list: Vec<Value> = codes
        .iter()
        .map(|c| json!({"type": c.kind, "code": c.text}))
        .collect();
    Ok(Reply::ok().with("count", list.len()).with("barcode", list))
}

pub fn register(table: &mut Table, ctx: Arc<Images>) {
    on_heavy_grab(
        table,
        "imagepro",
        "barcode",
        &ctx,
        barcode_frame,
        read_barcodes,
    );
    on_heavy(table, "imagepro", "merge2pdf", &ctx, |c, r| {
        merge(c, r, Kind::Pdf)
    });
    on_heavy(table, "imagepro", "merge2tif", &ctx, |c, r| {
        merge(c, r, Kind::Tif)
    });
    on_heavy(table, "imagepro", "merge2ofd", &ctx, |c, r| {
        merge(c, r, Kind::Ofd)
    });
}
