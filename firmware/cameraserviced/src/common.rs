//! What the handler modules share: the context of the image and document handlers
//! ([`Images`]), the work budget of one request ([`Work`]), registering blocking and heavy
//! handlers ([`on`], [`on_heavy`]), the `camidx` of a request, camera frames as pictures, and
//! reading a `source_image`. Handler modules import from here, from the crates and from `api`,
//! never from each other; crate errors become `ApiError`s through their `From` impls (`?`).

use std::sync::Arc;

use api::{
    blocking, handler, ApiError, ApiRequest, Budget, ErrorKind, Fields, Reply, Reservation, Table,
    Text,
};
use base64::Engine;
use camera::{CameraManager, Frame, FrameKind, Role};
use imaging::codec::{self, Format};
use imaging::RgbImage;
use serde_json::{Map, Value};
use storage::sandbox::{Storage, StoreError};

/// Base64 as replies carry it.
pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The context of the image, document and barcode handlers.
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
pub const PROCESS_BYTES_PER_PIXEL: u64 = 10;
pub const BARCODE_BYTES_PER_PIXEL: u64 = 10;
pub const DECODED_BYTES_PER_PIXEL: u64 = 3;

/// What one request may still decode and the memory it holds: every source's header is checked
/// against the pixel ceiling and the request's pixel budget, and its memory reserved, before it
/// is decoded.
pub struct Work<'a> {
    budget: &'a Budget,
    pixels_left: u64,
    held: Reservation,
}

impl<'a> Work<'a> {
    pub fn new(ctx: &'a Images) -> Work<'a> {
        Work {
            budget: &ctx.budget,
            pixels_left: ctx.request_pixels,
            held: Reservation::default(),
        }
    }

    /// Reserve `bytes` of work memory more (waiting briefly; "busy", or "too large" when the
    /// request's whole reservation could never fit the budget).
    pub fn reserve(&mut self, bytes: u64, what: Text) -> Result<(), ApiError> {
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
    pub fn source(
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
    pub fn admit(&mut self, w: u32, h: u32, bytes_per_pixel: u64) -> Result<(), ApiError> {
        codec::check_pixels(w, h)?;
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
    pub fn admit_encoded(
        &mut self,
        data: &[u8],
        bytes_per_pixel: u64,
    ) -> Result<(Format, u32, u32), ApiError> {
        let (f, w, h) = codec::probe(data)?;
        self.admit(w, h, bytes_per_pixel)?;
        Ok((f, w, h))
    }
}

/// `camidx` of a request (default "0").
pub fn role_of(req: &ApiRequest) -> Result<Role, ApiError> {
    let s = req.fields().str("camidx").unwrap_or_default();
    Role::from_camidx(&s).ok_or_else(|| {
        ApiError::invalid(
            "camidx",
            Text::new(
                format!("未知的摄像头 {s}，可用 \"0\"、\"1\"、\"2\""),
                format!("unknown camera {s}; use \"0\", \"1\" or \"2\""),
            ),
        )
    })
}

/// A picture to process: a JPEG as the camera or the client sent it, or pixels.
pub enum Picture {
    /// A JPEG as the camera or the client sent it (a camera frame is shared, not copied).
    Jpeg(bytes::Bytes),
    Pixels(RgbImage),
}

impl Picture {
    /// Width and height.
    pub fn size(&self) -> Result<(u32, u32), ApiError> {
        match self {
            Picture::Jpeg(j) => {
                let (_, w, h) = codec::probe(j)?;
                Ok((w, h))
            }
            Picture::Pixels(p) => Ok(p.dimensions()),
        }
    }

    pub fn pixels(self) -> Result<RgbImage, ApiError> {
        match self {
            Picture::Jpeg(j) => Ok(codec::decode_jpeg(&j)?),
            Picture::Pixels(p) => Ok(p),
        }
    }
}

/// A camera frame as a picture to process (a JPEG frame is shared, YUYV is converted: call
/// off the async runtime).
pub fn picture(frame: Frame) -> Result<Picture, ApiError> {
    match frame.kind {
        FrameKind::Jpeg => Ok(Picture::Jpeg(frame.data)),
        FrameKind::Yuy2 { stride } => Ok(Picture::Pixels(codec::yuy2_to_rgb(
            &frame.data,
            frame.width,
            frame.height,
            stride,
        )?)),
    }
}

/// The next frame of a camera: started off the async runtime if it was not running, the frame
/// itself awaited on the runtime (no thread waits for it).
pub async fn grab(cams: &Arc<CameraManager>, role: Role) -> Result<Frame, ApiError> {
    let c = cams.clone();
    let g = blocking(move || Ok(c.begin_grab(role)?)).await?;
    Ok(g.frame().await?)
}

/// Which camera a request needs a frame from before its work starts (None: no frame).
pub type WantsFrame = fn(&ApiRequest) -> Result<Option<Role>, ApiError>;

/// Register a heavy handler (decoding, processing, merging, large files): it waits for one of
/// the few heavy-job slots ("busy" after `limits.busy_wait_ms`), then runs off the async runtime.
pub fn on_heavy(
    table: &mut Table,
    group: &str,
    action: &str,
    ctx: &Arc<Images>,
    f: impl Fn(&Images, ApiRequest) -> Result<Reply, ApiError> + Copy + Send + Sync + 'static,
) {
    let slots = Some(ctx.budget.clone());
    register_blocking(table, group, action, ctx, slots, None, move |c, r, _| {
        f(c, r)
    });
}

/// A heavy handler that may work on a camera frame: after the heavy-job slot is taken, the
/// frame of the camera `wants` names is awaited, then `f` runs off the runtime with it.
pub fn on_heavy_grab(
    table: &mut Table,
    group: &str,
    action: &str,
    ctx: &Arc<Images>,
    wants: WantsFrame,
    f: impl Fn(&Images, ApiRequest, Option<Frame>) -> Result<Reply, ApiError>
        + Copy
        + Send
        + Sync
        + 'static,
) {
    let slots = Some(ctx.budget.clone());
    let cams = Some((ctx.cams.clone(), wants));
    register_blocking(table, group, action, ctx, slots, cams, f);
}

/// Register a handler that runs its (blocking) work off the async runtime.
pub fn on<C: Send + Sync + 'static>(
    table: &mut Table,
    group: &str,
    action: &str,
    ctx: &Arc<C>,
    f: impl Fn(&C, ApiRequest) -> Result<Reply, ApiError> + Copy + Send + Sync + 'static,
) {
    register_blocking(table, group, action, ctx, None, None, move |c, r, _| {
        f(c, r)
    });
}

/// A handler running `f` off the async runtime, after taking a heavy-job slot of `slots` if
/// given and awaiting the camera frame the request wants, if any.
fn register_blocking<C: Send + Sync + 'static>(
    table: &mut Table,
    group: &str,
    action: &str,
    ctx: &Arc<C>,
    slots: Option<Arc<api::Budget>>,
    camera: Option<(Arc<CameraManager>, WantsFrame)>,
    f: impl Fn(&C, ApiRequest, Option<Frame>) -> Result<Reply, ApiError> + Copy + Send + Sync + 'static,
) {
    let c = ctx.clone();
    let key = format!("{group}={action}");
    table.register(
        group,
        action,
        handler(move |req: ApiRequest| {
            let (c, slots, key, camera) = (c.clone(), slots.clone(), key.clone(), camera.clone());
            async move {
                let slot = match &slots {
                    Some(b) => Some(b.job(Text::same(key)).await?),
                    None => None,
                };
                let frame = match &camera {
                    Some((cams, wants)) => match wants(&req)? {
                        Some(role) => Some(grab(cams, role).await?),
                        None => None,
                    },
                    None => None,
                };
                let r = blocking(move || f(&c, req, frame)).await;
                drop(slot);
                r
            }
        }),
    );
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
fn source_bytes(
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
            e => e.into(),
        });
    }
    if let Some(p) = f.str_nonempty("filepath") {
        return Ok(store.read(&p)?);
    }
    Err(ApiError::missing("source_image (filepath, uuid or base64)"))
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
