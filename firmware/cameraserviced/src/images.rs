//! Wiring of still capture, image processing and the storage sandbox into the protocol:
//! `video=grabimage` (v1.5 and v1.0; WebSocket `grab_image`), `imagepro=process`,
//! `storage_image`, `file2base64`, `copyfile`, `merge_images`, and downloads under `/storage/`.
//! Pixels are the imaging crate's, files the storage crate's; heavy work runs off the runtime.

use std::borrow::Cow;
use std::sync::Arc;

use api::{
    handler, ApiError, ApiRequest, Budget, ErrorKind, Fields, Reply, Reservation, Table, Text,
};
use axum::http::{header, HeaderValue, StatusCode};
use base64::Engine;
use camera::{CameraManager, FrameKind, Role};
use imaging::codec::{self, Format};
use imaging::detect::DocHint;
use imaging::process::{self, ColorType, CustomRect, Cut, Len, ProcessOptions, StorageOptions};
use imaging::watermark::{self, Position, Watermark};
use imaging::{ImgError, RgbImage};
use serde_json::{json, Map, Value};
use storage::sandbox::{Storage, StoreError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What the handlers share.
pub struct Images {
    pub cams: Arc<CameraManager>,
    pub store: Arc<Storage>,
    /// The watermark font (None: watermarks answer "not available").
    pub font: Option<ab_glyph::FontArc>,
    /// Work memory and heavy-job slots.
    pub budget: Arc<Budget>,
    /// Most decoded pixels of all sources of one request.
    pub request_pixels: u64,
}

/// Memory estimates, bytes per pixel of a decoded source: the RGB picture and the copies the
/// chain makes of it (crop, finish, colour mode), or the reader's working images.
pub(crate) const PROCESS_BYTES_PER_PIXEL: u64 = 10;
pub(crate) const BARCODE_BYTES_PER_PIXEL: u64 = 10;
pub(crate) const DECODED_BYTES_PER_PIXEL: u64 = 3;

/// What one request may still decode and the memory it holds: every source's header is checked
/// against the pixel ceiling and the request's pixel budget, and its memory reserved, before it
/// is decoded.
pub(crate) struct Work<'a> {
    budget: &'a Budget,
    pixels_left: u64,
    held: Reservation,
}

impl<'a> Work<'a> {
    pub(crate) fn new(ctx: &'a Images) -> Work<'a> {
        Work {
            budget: &ctx.budget,
            pixels_left: ctx.request_pixels,
            held: Reservation::default(),
        }
    }

    /// Reserve `bytes` of work memory more (waiting briefly; "busy", or "too large" when the
    /// request's whole reservation could never fit the budget).
    pub(crate) fn reserve(&mut self, bytes: u64, what: Text) -> Result<(), ApiError> {
        if bytes == 0 {
            return Ok(());
        }
        // What the whole request holds must be able to fit at all.
        self.budget.fits(self.held.bytes() + bytes, &what)?;
        let r = self.budget.memory_blocking(bytes, what)?;
        self.held.merge(r);
        Ok(())
    }

    /// Read a source (base64, uuid or file path) after reserving `factor` times its size.
    pub(crate) fn source(
        &mut self,
        store: &Storage,
        src: &Map<String, Value>,
        base64_only: bool,
        factor: u64,
    ) -> Result<Vec<u8>, ApiError> {
        let f = Fields(src);
        let size = if let Some(b) = f.raw_str("base64").filter(|b| !b.trim().is_empty()) {
            b.len() as u64 / 4 * 3
        } else if base64_only {
            0
        } else if let Some(u) = f.str_nonempty("uuid") {
            store.size_uuid(&u).unwrap_or(0)
        } else if let Some(p) = f.str_nonempty("filepath") {
            store.size(&p).unwrap_or(0)
        } else {
            0
        };
        self.reserve(size * factor, Text::new("源图像", "a source image"))?;
        source_bytes(store, src, base64_only)
    }

    /// Admit a picture of `w` x `h` pixels that will take `bytes_per_pixel` of memory.
    pub(crate) fn admit(&mut self, w: u32, h: u32, bytes_per_pixel: u64) -> Result<(), ApiError> {
        codec::check_pixels(w, h).map_err(img_error)?;
        let px = w as u64 * h as u64;
        if px > self.pixels_left {
            return Err(ApiError::too_large(Text::new(
                "本次请求要解码的图像像素总数超过限制",
                "the images of this request hold more pixels than one request may decode",
            )));
        }
        self.pixels_left -= px;
        self.reserve(
            px * bytes_per_pixel,
            Text::new(format!("{w}x{h} 的图像"), format!("a {w}x{h} image")),
        )
    }

    /// Admit an encoded image from its header; gives its format and size.
    pub(crate) fn admit_encoded(
        &mut self,
        data: &[u8],
        bytes_per_pixel: u64,
    ) -> Result<(Format, u32, u32), ApiError> {
        let (f, w, h) = codec::probe(data).map_err(img_error)?;
        self.admit(w, h, bytes_per_pixel)?;
        Ok((f, w, h))
    }
}

/// The one place image and storage errors become vendor codes.
pub fn img_error(e: ImgError) -> ApiError {
    match e {
        ImgError::Decode(d) => ApiError::with(
            ErrorKind::InvalidParam,
            Text::new(
                format!("图像数据无法解码：{d}"),
                format!("image data cannot be decoded: {d}"),
            ),
        ),
        // The imaging crate words its details in English; the Chinese message says what kind
        // of failure it is and carries the detail.
        ImgError::Invalid(d) => ApiError::with(
            ErrorKind::InvalidParam,
            Text::new(format!("图像处理参数无效：{d}"), d),
        ),
        ImgError::NotAvailable(d) => {
            ApiError::not_available(Text::new(format!("本设备不支持该功能：{d}"), d))
        }
        ImgError::TooLarge(d) => {
            ApiError::too_large(Text::new(format!("超过设备的像素上限：{d}"), d))
        }
        ImgError::Encode(d) => ApiError::internal(d),
    }
}

pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Refused(p) => ApiError::with(ErrorKind::PathRefused, Text::same(p)),
        StoreError::BadPath(p) => ApiError::invalid(
            "filepath",
            Text::new(format!("路径不可用：{p}"), format!("unusable path: {p}")),
        ),
        StoreError::NotFound(p) => ApiError::with(
            ErrorKind::NotFound,
            Text::new(format!("文件不存在：{p}"), format!("no such file: {p}")),
        ),
        StoreError::Exists(p) => ApiError::invalid(
            "target_file",
            Text::new(
                format!("目标文件已存在：{p}（cover_target_file 为 \"1\" 时才覆盖）"),
                format!("the target exists: {p} (overwritten only with cover_target_file \"1\")"),
            ),
        ),
        StoreError::Full { quota } => ApiError::with(
            ErrorKind::Storage,
            Text::new(
                format!("存储空间已满（配额 {quota} 字节）"),
                format!("storage full (quota {quota} bytes)"),
            ),
        ),
        StoreError::Io(e) => ApiError::with(ErrorKind::Storage, Text::same(e.to_string())),
    }
}

/// Run blocking work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

fn opt_obj<'a>(f: &Fields<'a>, key: &str) -> Cow<'a, Map<String, Value>> {
    f.object_or_empty(key)
}

fn int_in(f: &Fields, key: &str, lo: i64, hi: i64) -> Result<Option<i64>, ApiError> {
    match f.int(key)? {
        Some(v) if !(lo..=hi).contains(&v) => Err(ApiError::invalid(
            key,
            Text::new(
                format!("应在 {lo} 到 {hi} 之间"),
                format!("expected {lo} to {hi}"),
            ),
        )),
        v => Ok(v),
    }
}

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
    let xdpi = int_in(f, "xdpi", 1, 65535)?.unwrap_or(200) as u16;
    let ydpi = int_in(f, "ydpi", 1, 65535)?.unwrap_or(xdpi as i64) as u16;
    let quality = int_in(f, quality_key, 10, 100)?.unwrap_or(default_quality) as u8;
    let max = f.int("max_file_size")?.unwrap_or(0).max(0) as u64;
    Ok(StorageOptions {
        dpi: (xdpi, ydpi),
        quality,
        max_file_size: max,
    })
}

/// Local time as "YYYY-MM-DD HH:MM:SS" (the watermark when the page gives no text).
pub fn now_text() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let tt = t as libc::time_t;
    // SAFETY: localtime_r writes into the tm we own.
    unsafe { libc::localtime_r(&tt, &mut tm) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
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
    let opacity = int_in(&wf, "transparency", 0, 255)
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

/// Decode base64 the way pages send it: with or without a data-URL prefix, line breaks, URL-safe
/// alphabet, missing padding. Only a text that needs cleaning is copied.
pub fn decode_b64(s: &str) -> Result<Vec<u8>, ApiError> {
    let s = s.trim();
    let s = match s.find(";base64,") {
        Some(i) if s.starts_with("data:") => &s[i + 8..],
        _ => s,
    };
    let needs_cleaning = s
        .bytes()
        .any(|c| c.is_ascii_whitespace() || c == b'-' || c == b'_');
    let cleaned;
    let text: &[u8] = if needs_cleaning {
        cleaned = s
            .bytes()
            .filter(|c| !c.is_ascii_whitespace())
            .map(|c| match c {
                b'-' => b'+',
                b'_' => b'/',
                c => c,
            })
            .collect::<Vec<u8>>();
        &cleaned
    } else {
        s.as_bytes()
    };
    let end = text.iter().rposition(|&c| c != b'=').map_or(0, |i| i + 1);
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&text[..end])
        .map_err(|e| {
            ApiError::invalid(
                "base64",
                Text::new(
                    format!("base64 数据无效：{e}"),
                    format!("invalid base64: {e}"),
                ),
            )
        })
}

/// A `source_image` (filepath, uuid or base64 + image_type) -> its bytes.
pub fn source_bytes(
    store: &Storage,
    src: &Map<String, Value>,
    base64_only: bool,
) -> Result<Vec<u8>, ApiError> {
    let f = Fields(src);
    if let Some(b) = f.raw_str("base64").filter(|b| !b.trim().is_empty()) {
        let ty = f.str_nonempty("image_type").unwrap_or_else(|| "jpg".into());
        if Format::from_name(&ty).is_none() {
            return Err(ApiError::invalid(
                "image_type",
                Text::new(
                    format!("不支持的图像类型 {ty}（jpg、png、bmp、tif、gif、webp）"),
                    format!("unsupported image type {ty} (jpg, png, bmp, tif, gif, webp)"),
                ),
            ));
        }
        let data = decode_b64(b)?;
        if Format::sniff(&data).is_none() {
            return Err(ApiError::invalid(
                "base64",
                Text::new("base64 内容不是图像", "the base64 data is not an image"),
            ));
        }
        return Ok(data);
    }
    if base64_only {
        return Err(ApiError::missing("source_image.base64"));
    }
    if let Some(u) = f.str_nonempty("uuid") {
        return store.read_uuid(&u).map_err(|e| match e {
            StoreError::BadPath(_) => ApiError::invalid(
                "uuid",
                Text::new(format!("无效的 uuid {u}"), format!("invalid uuid {u}")),
            ),
            StoreError::NotFound(_) => ApiError::with(
                ErrorKind::NotFound,
                Text::new(
                    format!("没有 uuid 为 {u} 的图像"),
                    format!("no image with uuid {u}"),
                ),
            ),
            e => store_error(e),
        });
    }
    if let Some(p) = f.str_nonempty("filepath") {
        return store.read(&p).map_err(store_error);
    }
    Err(ApiError::missing("source_image (filepath, uuid or base64)"))
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
            let p = store.write_generated(&id, j).map_err(store_error)?;
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

/// A picture to process: a JPEG as the camera or the client sent it, or pixels.
pub(crate) enum Picture {
    Jpeg(Vec<u8>),
    Pixels(RgbImage),
}

impl Picture {
    /// Width and height.
    pub(crate) fn size(&self) -> Result<(u32, u32), ApiError> {
        match self {
            Picture::Jpeg(j) => codec::probe(j).map(|(_, w, h)| (w, h)).map_err(img_error),
            Picture::Pixels(p) => Ok(p.dimensions()),
        }
    }

    pub(crate) fn pixels(self) -> Result<RgbImage, ApiError> {
        match self {
            Picture::Jpeg(j) => codec::decode_jpeg(&j).map_err(img_error),
            Picture::Pixels(p) => Ok(p),
        }
    }
}

/// The next camera frame.
pub(crate) fn grab(cams: &CameraManager, role: Role) -> Result<Picture, ApiError> {
    let frame = cams.grab(role).map_err(crate::video::cam_error)?;
    match frame.kind {
        FrameKind::Jpeg => Ok(Picture::Jpeg(frame.data.to_vec())),
        FrameKind::Yuy2 { stride } => {
            codec::yuy2_to_rgb(&frame.data, frame.width, frame.height, stride)
                .map(Picture::Pixels)
                .map_err(img_error)
        }
    }
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
    let opts = process_options(&opt_obj(&f, "image_process_info"))?;
    let sinfo = opt_obj(&f, "image_storage_info");
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
            let mut j = j.clone();
            codec::set_density(&mut j, store_opts.dpi);
            return images_reply(&ctx.store, vec![j], make_uuid);
        }
    }
    let font = font_for(&ctx.font, &wm)?;
    let jpegs = match pic {
        Picture::Jpeg(j) => process::process_jpeg(&j, &opts, font, &store_opts),
        Picture::Pixels(img) => process::process(img, &opts, font, &store_opts),
    }
    .map_err(img_error)?;
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
    let crops = process::crop(img, &opts).map_err(img_error)?;
    let first = crops
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("no image"))?;
    let finished = process::finish(first, &opts).map_err(img_error)?;
    let thumb = process::thumbnail(&finished, 160).map_err(img_error)?;
    let jpeg = process::encode(finished, color, wmf, &store_opts).map_err(img_error)?;
    let filepath = f.str("filepath").unwrap_or_default();
    if filepath.eq_ignore_ascii_case("base64") {
        return Ok(Reply::ok().with("photoBase64", B64.encode(&jpeg)));
    }
    let (uuid, path) = if filepath.is_empty() {
        let id = new_uuid();
        let p = ctx.store.write_generated(&id, &jpeg).map_err(store_error)?;
        (id, ctx.store.client_path(&p))
    } else {
        ctx.store
            .write(&filepath, &jpeg, true)
            .map_err(store_error)?;
        (String::new(), filepath)
    };
    Ok(Reply::ok()
        .with("uuid", uuid)
        .with("filepath", path)
        .with("photoBase64", B64.encode(&jpeg))
        .with("thumbnail", B64.encode(&thumb)))
}

/// Register a heavy handler (decoding, processing, merging, large files): it waits for one of
/// the few heavy-job slots ("busy" after `limits.busy_wait_ms`), then runs off the async runtime.
pub fn on_heavy(
    table: &mut Table,
    group: &str,
    action: &str,
    ctx: &Arc<Images>,
    f: impl Fn(&Images, ApiRequest) -> Result<Reply, ApiError> + Copy + Send + Sync + 'static,
) {
    let c = ctx.clone();
    let key = format!("{group}={action}");
    table.register(
        group,
        action,
        handler(move |req: ApiRequest| {
            let c = c.clone();
            let key = key.clone();
            async move {
                let slot = c.budget.job(Text::same(key)).await?;
                let r = blocking(move || f(&c, req)).await;
                drop(slot);
                r
            }
        }),
    );
}

/// Register a handler that runs its (blocking) work off the async runtime.
pub fn on<C: Send + Sync + 'static>(
    table: &mut Table,
    group: &str,
    action: &str,
    ctx: &Arc<C>,
    f: impl Fn(&C, ApiRequest) -> Result<Reply, ApiError> + Copy + Send + Sync + 'static,
) {
    let c = ctx.clone();
    table.register(
        group,
        action,
        handler(move |req: ApiRequest| {
            let c = c.clone();
            async move { blocking(move || f(&c, req)).await }
        }),
    );
}

fn grabimage(c: &Images, req: ApiRequest) -> Result<Reply, ApiError> {
    let role = crate::video::role_of(&req)?;
    let pic = grab(&c.cams, role)?;
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
        Picture::Jpeg(data)
    } else {
        Picture::Pixels(codec::decode(&data).map_err(img_error)?)
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
    let out = opt_obj(&f, "output_image");
    let path = match Fields(&out).str_nonempty("filepath") {
        Some(p) => {
            c.store.write(&p, &data, true).map_err(store_error)?;
            p
        }
        None => {
            let ext = Format::sniff(&data).map(|f| f.extension()).unwrap_or("jpg");
            let p = format!("/images/{}.{ext}", new_uuid());
            c.store.write(&p, &data, false).map_err(store_error)?;
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
    let size = c.store.size(&p).map_err(store_error)?;
    let mut work = Work::new(c);
    work.reserve(
        size * 4,
        Text::new(format!("文件 {p}"), format!("file {p}")),
    )?;
    let data = c.store.read(&p).map_err(store_error)?;
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
    let size = c.store.size(&from).map_err(store_error)?;
    let mut work = Work::new(c);
    work.reserve(
        size,
        Text::new(format!("文件 {from}"), format!("file {from}")),
    )?;
    c.store
        .copy(&from, &to, cover, delete)
        .map_err(store_error)?;
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
        imgs.push(codec::decode(&data).map_err(img_error)?);
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
    let margin = int_in(&f, "margin", 0, 2000)?.unwrap_or(5) as u32;
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
        return Err(img_error(ImgError::TooLarge(format!(
            "merged image would be {along}x{across} pixels, over the limit of {}",
            imaging::max_pixels()
        ))));
    }
    work.reserve(
        along * across * (DECODED_BYTES_PER_PIXEL + 1),
        Text::new("拼接后的图像", "the merged image"),
    )?;
    let align =
        imaging::merge::Align::from_code(f.int("align")?.unwrap_or(1)).ok_or_else(|| {
            ApiError::invalid("align", Text::new("应为 0、1 或 2", "expected 0, 1 or 2"))
        })?;
    let merged = imaging::merge::merge(&imgs, horizontal, margin, align).map_err(img_error)?;
    let sinfo = opt_obj(&f, "image_storage_info");
    let store_opts = storage_options(&Fields(&sinfo), "jpg_quality", 80)?;
    let wm = watermark_of(&f)?;
    let jpeg = process::encode(
        merged,
        ColorType::Color,
        font_for(&c.font, &wm)?,
        &store_opts,
    )
    .map_err(img_error)?;
    let mut image = Map::new();
    if f.bool_or("make_uuid", false)? {
        let id = new_uuid();
        let p = c.store.write_generated(&id, &jpeg).map_err(store_error)?;
        image.insert("uuid".into(), json!(id));
        image.insert("filepath".into(), json!(c.store.client_path(&p)));
    }
    image.insert("base64".into(), json!(B64.encode(&jpeg)));
    Ok(Reply::ok().with("image", Value::Object(image)))
}

pub fn register(table: &mut Table, ctx: Arc<Images>) {
    on_heavy(table, "video", "grabimage", &ctx, grabimage);
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
                let size = c.store.size(&path).map_err(store_error)?;
                let _memory = c
                    .budget
                    .memory(
                        size,
                        Text::new(format!("文件 {path}"), format!("file {path}")),
                    )
                    .await?;
                let data = blocking(move || c.store.read(&path).map_err(store_error)).await?;
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
