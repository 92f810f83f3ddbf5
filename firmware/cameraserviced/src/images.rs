//! Wiring of still capture, image processing and the storage sandbox into the protocol:
//! `video=grabimage` (v1.5 and v1.0; WebSocket `grab_image`), `imagepro=process`,
//! `storage_image`, `file2base64`, `copyfile`, `merge_images`, and downloads under `/storage/`.
//! Pixels are the imaging crate's, files the storage crate's; heavy work runs off the runtime.

use std::sync::Arc;

use api::{blocking, handler, ApiError, ApiRequest, Fields, Reply, Table, Text};
use axum::http::{header, HeaderValue, StatusCode};
use base64::Engine;
use camera::{Frame, Role};
use imaging::codec::{self, Format};
use imaging::detect::DocHint;
use imaging::process::{self, ColorType, CustomRect, Cut, Len, ProcessOptions, StorageOptions};
use imaging::watermark::{self, Position, Watermark};
use imaging::ImgError;
use serde_json::{json, Map, Value};
use storage::sandbox::Storage;

use crate::common::{
    now_text, on_heavy, on_heavy_grab, picture, role_of, Images, Picture, Work, B64,
    DECODED_BYTES_PER_PIXEL, PROCESS_BYTES_PER_PIXEL,
};

/// `image_process_info` -> options.
pub fn process_options(info: &Map<String, Value>) -> Result<ProcessOptions, ApiError> {
    let f = Fields(info);
    let cut = match f.int("cut_type")?.unwrap_or(0) {
        0 => Cut::None,
        1 => Cut::Auto,
        2 => {
            let r = f
                .object("custom_rect")
                .ok_or_else(|| ApiError::missing("custom_rect"))?;
            let rf = Fields(&r);
            let len = |k: &str| -> Result<Len, ApiError> {
                let s = rf
                    .required_str(k)
                    .map_err(|_| ApiError::missing(&format!("custom_rect.{k}")))?;
                Len::parse(&s).ok_or_else(|| {
                    ApiError::invalid(
                        &format!("custom_rect.{k}"),
                        Text::new(
                            format!("无效的值 {s}（px 或 %）"),
                            format!("invalid value {s} (px or %)"),
                        ),
                    )
                })
            };
            Cut::Custom(CustomRect {
                left: len("left")?,
                top: len("top")?,
                right: len("right")?,
                bottom: len("bottom")?,
                angle: rf.float("angle")?.unwrap_or(0.0) as f32,
            })
        }
        3 => Cut::Book,
        4 => Cut::Face,
        v => {
            return Err(ApiError::invalid(
                "cut_type",
                Text::new(
                    format!("未知的值 {v}（0-4）"),
                    format!("unknown value {v} (0-4)"),
                ),
            ))
        }
    };
    let rotate = f.int("rotate")?.unwrap_or(0);
    if rotate % 90 != 0 || rotate.abs() > 3600 {
        return Err(ApiError::invalid(
            "rotate",
            Text::new(
                format!("必须为 90 的倍数，收到 {rotate}"),
                format!("must be a multiple of 90, got {rotate}"),
            ),
        ));
    }
    let fw = f.int("fixed_width")?.unwrap_or(0);
    let fh = f.int("fixed_height")?.unwrap_or(0);
    // Sizes over 6000 are ignored (vendor rule), as are zeros.
    let fixed = if (fw > 0 || fh > 0) && fw <= 6000 && fh <= 6000 && fw >= 0 && fh >= 0 {
        Some((fw as u32, fh as u32))
    } else {
        None
    };
    let color = match f.int("color_type")?.unwrap_or(0) {
        0 => ColorType::Color,
        1 => ColorType::Grey,
        2 => ColorType::BlackWhite,
        v => {
            return Err(ApiError::invalid(
                "color_type",
                Text::new(
                    format!("未知的值 {v}（0-2）"),
                    format!("unknown value {v} (0-2)"),
                ),
            ))
        }
    };
    let document_type = match f.int("document_type")?.unwrap_or(1) {
        0 => DocHint::WhiteDocument,
        1 => DocHint::ColorPage,
        2 => DocHint::Card,
        v => {
            return Err(ApiError::invalid(
                "document_type",
                Text::new(
                    format!("未知的值 {v}（0-2）"),
                    format!("unknown value {v} (0-2)"),
                ),
            ))
        }
    };
    Ok(ProcessOptions {
        cut,
        multi_object: f.bool_or("multi_object", false)?,
        rotate: rotate as i32,
        fixed_size: fixed,
        split_page: f.bool_or("split_page", false)?,
        reduce_shadow: f.bool_or("reduce_shadow", false)?,
        color,
        remove_black_edge: f.bool_or("remove_black_edge", false)?,
        rect_correct: f.bool_or("rect_correct", false)?,
        correct_idcard_direction: f.bool_or("correct_idcard_direction", false)?,
        document_type,
    })
}

/// `image_storage_info` -> options (v1.5 names; v1.0 passes its own keys through `Fields`).
fn storage_options(
    f: &Fields,
    quality_key: &str,
    default_quality: i64,
) -> Result<StorageOptions, ApiError> {
    let xdpi = f.tuning("xdpi", 1, 65535)?.unwrap_or(200) as u16;
    let ydpi = f.tuning("ydpi", 1, 65535)?.unwrap_or(xdpi as i64) as u16;
    let quality = f.tuning(quality_key, 10, 100)?.unwrap_or(default_quality) as u8;
    let max = f.int("max_file_size")?.unwrap_or(0).max(0) as u64;
    Ok(StorageOptions {
        dpi: (xdpi, ydpi),
        quality,
        max_file_size: max,
    })
}

/// Longest watermark text: a line across a page, with room.
const MAX_WATERMARK_CHARS: usize = 1000;

/// `watermark` -> a watermark, or None when absent.
pub fn watermark_of(f: &Fields) -> Result<Option<Watermark>, ApiError> {
    let Some(w) = f.object("watermark") else {
        return Ok(None);
    };
    let wf = Fields(&w);
    let position = match wf.int("pos")? {
        None => Position::Center,
        Some(p) => Position::from_code(p).ok_or_else(|| {
            ApiError::invalid("watermark.pos", Text::new("应为 0 到 4", "expected 0 to 4"))
        })?,
    };
    let opacity = wf
        .tuning("transparency", 0, 255)
        .map_err(|_| {
            ApiError::invalid(
                "watermark.transparency",
                Text::new("应为 0 到 255", "expected 0 to 255"),
            )
        })?
        .unwrap_or(255) as u8;
    // Over 3000 (or not positive) the size is ignored: the default applies (vendor rule).
    let size = match wf.float("fontsize")? {
        Some(s) if s > 0.0 && s <= 3000.0 => s as f32,
        _ => watermark::DEFAULT_SIZE,
    };
    let color = match wf.str_nonempty("color") {
        None => [255, 0, 0],
        Some(c) => watermark::parse_color(&c).ok_or_else(|| {
            ApiError::invalid(
                "watermark.color",
                Text::new(
                    format!("未知的颜色 {c}（颜色名如 red、blue，或 #RRGGBB）"),
                    format!("unknown colour {c} (a name such as red or blue, or #RRGGBB)"),
                ),
            )
        })?,
    };
    let text = wf
        .get("content")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    if text.chars().count() > MAX_WATERMARK_CHARS {
        return Err(ApiError::invalid(
            "watermark.content",
            Text::new(
                format!("水印文字超过 {MAX_WATERMARK_CHARS} 个字符"),
                format!("the watermark text is longer than {MAX_WATERMARK_CHARS} characters"),
            ),
        ));
    }
    Ok(Some(Watermark {
        text: if text.is_empty() { now_text() } else { text },
        position,
        opacity,
        size,
        color,
    }))
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Store generated JPEGs when asked; the `images` array of a v1.5 reply.
fn images_reply(store: &Storage, jpegs: Vec<Vec<u8>>, make_uuid: bool) -> Result<Reply, ApiError> {
    let mut images = Vec::with_capacity(jpegs.len());
    for (i, j) in jpegs.iter().enumerate() {
        let mut o = Map::new();
        o.insert("index".into(), json!(i));
        if make_uuid {
            let id = new_uuid();
            let p = store.write_generated(&id, j)?;
            o.insert("filepath".into(), json!(store.client_path(&p)));
            o.insert("uuid".into(), json!(id));
        }
        o.insert("base64".into(), json!(B64.encode(j)));
        images.push(Value::Object(o));
    }
    Ok(Reply::ok()
        .with("image_count", images.len())
        .with("images", images))
}

fn font_for<'a>(
    font: &'a Option<ab_glyph::FontArc>,
    wm: &'a Option<Watermark>,
) -> Result<Option<(&'a ab_glyph::FontArc, &'a Watermark)>, ApiError> {
    match (wm, font) {
        (None, _) => Ok(None),
        (Some(w), Some(f)) => Ok(Some((f, w))),
        (Some(_), None) => Err(ApiError::not_available(Text::new(
            "未安装水印字体（imaging.font）",
            "no watermark font installed (imaging.font)",
        ))),
    }
}

/// `video=grabimage` v1.5 and `imagepro=process`.
fn v15(ctx: &Images, req: &ApiRequest, pic: Picture) -> Result<Reply, ApiError> {
    let f = req.fields();
    let opts = process_options(&f.object_or_empty("image_process_info"))?;
    let sinfo = f.object_or_empty("image_storage_info");
    let sf = Fields(&sinfo);
    let store_opts = storage_options(&sf, "jpg_quality", 80)?;
    let wm = watermark_of(&f)?;
    let make_uuid = f.bool_or("make_uuid", false)?;
    // Nothing asks for pixels: the JPEG goes out as it is, with the resolution written in.
    if let Picture::Jpeg(j) = &pic {
        let untouched = opts == ProcessOptions::default()
            && wm.is_none()
            && !sf.has("jpg_quality")
            && (store_opts.max_file_size == 0 || j.len() as u64 <= store_opts.max_file_size)
            && codec::has_huffman_tables(j)
            && codec::jfif_compatible(j);
        if untouched {
            // The one copy: the resolution is written into the reply's JPEG.
            let mut j = j.to_vec();
            codec::set_density(&mut j, store_opts.dpi);
            return images_reply(&ctx.store, vec![j], make_uuid);
        }
    }
    let font = font_for(&ctx.font, &wm)?;
    let jpegs = match pic {
        Picture::Jpeg(j) => process::process_jpeg(&j, &opts, font, &store_opts),
        Picture::Pixels(img) => process::process(img, &opts, font, &store_opts),
    }?;
    images_reply(&ctx.store, jpegs, make_uuid)
}

/// `video=grabimage` v1.0 (appendix 12.1), including the fields real pages send.
fn v10(ctx: &Images, req: &ApiRequest, role: Role, pic: Picture) -> Result<Reply, ApiError> {
    let img = pic.pixels()?;
    let f = req.fields();
    let rotate = f.int("rotate")?.unwrap_or(0);
    if rotate % 90 != 0 {
        return Err(ApiError::invalid(
            "rotate",
            Text::new(
                format!("必须为 90 的倍数，收到 {rotate}"),
                format!("must be a multiple of 90, got {rotate}"),
            ),
        ));
    }
    // Document camera: cropped unless cutpage is "0" (or deskew "0"); portrait cameras: never.
    let cut = role == Role::Document
        && f.bool("cutpage")?.unwrap_or(true)
        && f.bool("deskew")?.unwrap_or(true);
    let w = f.int("width")?.unwrap_or(0).clamp(0, 6000) as u32;
    let h = f.int("height")?.unwrap_or(0).clamp(0, 6000) as u32;
    let color = match f.int("ColorMode")?.or(f.int("colormode")?).unwrap_or(0) {
        1 => ColorType::Grey,
        2 => ColorType::BlackWhite,
        _ => ColorType::Color,
    };
    let opts = ProcessOptions {
        cut: if cut { Cut::Auto } else { Cut::None },
        rotate: rotate as i32,
        rect_correct: true,
        fixed_size: (cut && (w > 0 || h > 0)).then_some((w, h)),
        color,
        ..Default::default()
    };
    let quality_key = if f.has("jquality") {
        "jquality"
    } else {
        "quality"
    };
    let store_opts = storage_options(&f, quality_key, 35)?;
    let wm = watermark_of(&f)?;
    let wmf = font_for(&ctx.font, &wm)?;
    // v1.0 returns one image: the largest object.
    let crops = process::crop(img, &opts)?;
    let first = crops
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("no image"))?;
    let finished = process::finish(first, &opts)?;
    let thumb = process::thumbnail(&finished, 160)?;
    let jpeg = process::encode(finished, color, wmf, &store_opts)?;
    let filepath = f.str("filepath").unwrap_or_default();
    if filepath.eq_ignore_ascii_case("base64") {
        return Ok(Reply::ok().with("photoBase64", B64.encode(&jpeg)));
    }
    let (uuid, path) = if filepath.is_empty() {
        let id = new_uuid();
        let p = ctx.store.write_generated(&id, &jpeg)?;
        (id, ctx.store.client_path(&p))
    } else {
        ctx.store.write(&filepath, &jpeg, true)?;
        (String::new(), filepath)
    };
    Ok(Reply::ok()
        .with("uuid", uuid)
        .with("filepath", path)
        .with("photoBase64", B64.encode(&jpeg))
        .with("thumbnail", B64.encode(&thumb)))
}

fn grabimage(c: &Images, req: ApiRequest, frame: Option<Frame>) -> Result<Reply, ApiError> {
    let role = role_of(&req)?;
    let frame = frame.ok_or_else(|| ApiError::internal("no camera frame"))?;
    let pic = picture(frame)?;
    let mut work = Work::new(c);
    let (w, h) = pic.size()?;
    work.admit(w, h, PROCESS_BYTES_PER_PIXEL)?;
    if req.fields().get("image_process_info").is_some() {
        v15(c, &req, pic)
    } else {
        v10(c, &req, role, pic)
    }
}

fn process_source(c: &Images, req: ApiRequest) -> Result<Reply, ApiError> {
    let f = req.fields();
    let src = f
        .object("source_image")
        .ok_or_else(|| ApiError::missing("source_image"))?;
    let mut work = Work::new(c);
    let data = work.source(&c.store, &src, false, 1)?;
    let (format, _, _) = work.admit_encoded(&data, PROCESS_BYTES_PER_PIXEL)?;
    let pic = if format == Format::Jpeg {
        Picture::Jpeg(data.into())
    } else {
        Picture::Pixels(codec::decode(&data)?)
    };
    v15(c, &req, pic)
}

fn storage_image(c: &Images, req: ApiRequest) -> Result<Reply, ApiError> {
    let f = req.fields();
    let src = f
        .object("source_image")
        .ok_or_else(|| ApiError::missing("source_image"))?;
    let mut work = Work::new(c);
    let data = work.source(&c.store, &src, true, 1)?;
    let out = f.object_or_empty("output_image");
    let path = match Fields(&out).str_nonempty("filepath") {
        Some(p) => {
            c.store.write(&p, &data, true)?;
            p
        }
        None => {
            let ext = Format::sniff(&data).map(|f| f.extension()).unwrap_or("jpg");
            let p = format!("/images/{}.{ext}", new_uuid());
            c.store.write(&p, &data, false)?;
            p
        }
    };
    Ok(Reply::ok()
        .with("image_count", 1)
        .with("images", json!([{"index": 0, "filepath": path}])))
}

fn file2base64(c: &Images, req: ApiRequest) -> Result<Reply, ApiError> {
    let p = req
        .fields()
        .str_nonempty("filepath")
        .ok_or_else(|| ApiError::missing("filepath"))?;
    // The file, its base64 and the reply's JSON text.
    let size = c.store.size(&p)?;
    let mut work = Work::new(c);
    work.reserve(
        size * 4,
        Text::new(format!("文件 {p}"), format!("file {p}")),
    )?;
    let data = c.store.read(&p)?;
    Ok(Reply::ok().with("base64", B64.encode(data)))
}

fn copyfile(c: &Images, req: ApiRequest) -> Result<Reply, ApiError> {
    let f = req.fields();
    let from = f
        .str_nonempty("source_file")
        .ok_or_else(|| ApiError::missing("source_file"))?;
    let to = f
        .str_nonempty("target_file")
        .ok_or_else(|| ApiError::missing("target_file"))?;
    let delete = f.bool_or("delete_source_file", false)?;
    let cover = f.bool_or("cover_target_file", false)?;
    let size = c.store.size(&from)?;
    let mut work = Work::new(c);
    work.reserve(
        size,
        Text::new(format!("文件 {from}"), format!("file {from}")),
    )?;
    c.store.copy(&from, &to, cover, delete)?;
    Ok(Reply::ok())
}

fn merge_images(c: &Images, req: ApiRequest) -> Result<Reply, ApiError> {
    let f = req.fields();
    let sources = f
        .array("source_images")
        .ok_or_else(|| ApiError::missing("source_images"))?;
    if sources.is_empty() {
        return Err(ApiError::invalid(
            "source_images",
            Text::new("至少需要一张图像", "at least one image is needed"),
        ));
    }
    let mut work = Work::new(c);
    let mut imgs = Vec::with_capacity(sources.len());
    for (i, s) in sources.iter().enumerate() {
        let o = api::request::expect_object(s, &format!("source_images[{i}]"))?;
        let data = work.source(&c.store, &o, false, 1)?;
        work.admit_encoded(&data, DECODED_BYTES_PER_PIXEL)?;
        imgs.push(codec::decode(&data)?);
    }
    let horizontal = match f.int("merge_type")?.unwrap_or(1) {
        0 => true,
        1 => false,
        v => {
            return Err(ApiError::invalid(
                "merge_type",
                Text::new(
                    format!("未知的值 {v}（0 或 1）"),
                    format!("unknown value {v} (0 or 1)"),
                ),
            ))
        }
    };
    let margin = f.tuning("margin", 0, 2000)?.unwrap_or(5) as u32;
    // The merged picture and its encoding.
    let along: u64 = imgs
        .iter()
        .map(|i| if horizontal { i.width() } else { i.height() } as u64 + margin as u64)
        .sum();
    let across = imgs
        .iter()
        .map(|i| if horizontal { i.height() } else { i.width() } as u64)
        .max()
        .unwrap_or(0);
    if along * across > imaging::max_pixels() {
        return Err(ImgError::TooLarge(format!(
            "merged image would be {along}x{across} pixels, over the limit of {}",
            imaging::max_pixels()
        ))
        .into());
    }
    work.reserve(
        along * across * (DECODED_BYTES_PER_PIXEL + 1),
        Text::new("拼接后的图像", "the merged image"),
    )?;
    let align =
        imaging::merge::Align::from_code(f.int("align")?.unwrap_or(1)).ok_or_else(|| {
            ApiError::invalid("align", Text::new("应为 0、1 或 2", "expected 0, 1 or 2"))
        })?;
    let merged = imaging::merge::merge(&imgs, horizontal, margin, align)?;
    let sinfo = f.object_or_empty("image_storage_info");
    let store_opts = storage_options(&Fields(&sinfo), "jpg_quality", 80)?;
    let wm = watermark_of(&f)?;
    let jpeg = process::encode(
        merged,
        ColorType::Color,
        font_for(&c.font, &wm)?,
        &store_opts,
    )?;
    let mut image = Map::new();
    if f.bool_or("make_uuid", false)? {
        let id = new_uuid();
        let p = c.store.write_generated(&id, &jpeg)?;
        image.insert("uuid".into(), json!(id));
        image.insert("filepath".into(), json!(c.store.client_path(&p)));
    }
    image.insert("base64".into(), json!(B64.encode(&jpeg)));
    Ok(Reply::ok().with("image", Value::Object(image)))
}

pub fn register(table: &mut Table, ctx: Arc<Images>) {
    on_heavy_grab(
        table,
        "video",
        "grabimage",
        &ctx,
        |r| Ok(Some(role_of(r)?)),
        grabimage,
    );
    on_heavy(table, "imagepro", "process", &ctx, process_source);
    on_heavy(table, "imagepro", "storage_image", &ctx, storage_image);
    on_heavy(table, "imagepro", "file2base64", &ctx, file2base64);
    on_heavy(table, "imagepro", "copyfile", &ctx, copyfile);
    on_heavy(table, "imagepro", "merge_images", &ctx, merge_images);

    // Stored files can be downloaded: GET /storage/<filepath>.
    let c = ctx;
    table.register_prefix(
        "/storage/",
        handler(move |req: ApiRequest| {
            let c = c.clone();
            async move {
                let path = req.fields().str("path").unwrap_or_default();
                let path_l = path.to_ascii_lowercase();
                let size = c.store.size(&path)?;
                let _memory = c
                    .budget
                    .memory(
                        size,
                        Text::new(format!("文件 {path}"), format!("file {path}")),
                    )
                    .await?;
                let data = blocking(move || Ok(c.store.read(&path)?)).await?;
                let ty = match Format::sniff(&data) {
                    Some(Format::Jpeg) => "image/jpeg",
                    Some(Format::Png) => "image/png",
                    Some(Format::Bmp) => "image/bmp",
                    Some(Format::Tiff) => "image/tiff",
                    Some(Format::Gif) => "image/gif",
                    Some(Format::Webp) => "image/webp",
                    None if data.starts_with(b"%PDF") => "application/pdf",
                    None if data.starts_with(b"PK\x03\x04") && path_l.ends_with(".ofd") => {
                        "application/ofd"
                    }
                    None => "application/octet-stream",
                };
                let mut r = axum::response::Response::new(axum::body::Body::from(data));
                *r.status_mut() = StatusCode::OK;
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                Ok(Reply::Http(r))
            }
        }),
    );
}
