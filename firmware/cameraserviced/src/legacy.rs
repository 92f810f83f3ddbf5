//! The older vocabulary real pages still use (device=*, camera=state, pdf=*, barcode=get), each
//! mapped onto the rooms the current vocabulary uses: the camera manager, the PDF writer of
//! merge2pdf, the barcode reader. Request and reply shapes follow the public pages and SDKs
//! that call them (README "Older vocabulary"): parameters are strings, `data` carries the
//! answer. The older names of capabilities not built yet stay placeholders ("9").

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::{
    blocking, handler, ApiError, ApiRequest, EndpointKey, Fields, Handler, Reply, Table, Text,
};
use base64::Engine;
use camera::{PixelFormat, Role};
use serde_json::{json, Map, Value};

use crate::common::{grab, on, picture, role_of, Images, Work, B64, BARCODE_BYTES_PER_PIXEL};

/// Most images one client's PDF queue holds, and their bytes together.
const PDF_QUEUE_IMAGES: usize = 200;
const PDF_QUEUE_BYTES: usize = 64 << 20;
/// Clients with a queue at once, and the bytes of all queues together; the longest idle queue
/// of another client goes first when either would be passed.
const PDF_QUEUES: usize = 16;
const PDF_QUEUES_BYTES: usize = 128 << 20;
/// A queue nobody touched for this long is dropped.
const PDF_QUEUE_IDLE: Duration = Duration::from_secs(30 * 60);

/// The images `pdf=addimage` queued for one client (by its address), until `pdf=clear`.
#[derive(Default)]
struct PdfQueue {
    images: Vec<Vec<u8>>,
    bytes: usize,
    touched: Option<Instant>,
}

pub struct Legacy {
    images: Arc<Images>,
    device_type: String,
    pdf: Mutex<HashMap<Option<IpAddr>, PdfQueue>>,
}

impl Legacy {
    pub fn new(images: Arc<Images>, device_type: String) -> Legacy {
        Legacy {
            images,
            device_type,
            pdf: Mutex::new(HashMap::new()),
        }
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, PdfQueue>> {
        self.pdf.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `mode` of device=getresolution/setresolution: "0" YUY2 (the vendor's 高清), "1" MJPG (高速);
/// absent = the format in use.
fn mode_of(c: &Legacy, f: &Fields, role: Role) -> Result<PixelFormat, ApiError> {
    match f.str_nonempty("mode").as_deref() {
        Some("0") => Ok(PixelFormat::Yuy2),
        Some("1") => Ok(PixelFormat::Mjpg),
        Some(m) => Err(ApiError::invalid(
            "mode",
            Text::new(
                format!("应为 \"0\"（YUY2）或 \"1\"（MJPG），收到 {m}"),
                format!("expected \"0\" (YUY2) or \"1\" (MJPG), got {m}"),
            ),
        )),
        None => Ok(c.images.cams.video_type(role)?),
    }
}

/// `device=isconnect`: how many cameras are connected, as a string (pages parse it).
fn isconnect(c: &Legacy, _req: ApiRequest) -> Result<Reply, ApiError> {
    let n = Role::ALL
        .iter()
        .filter(|r| c.images.cams.status(**r) != "no")
        .count();
    Ok(Reply::ok().with("data", n.to_string()))
}

/// `device=getresolution {camidx, mode}`: "W*H|W*H|..." largest first, always a string.
fn getresolution(c: &Legacy, req: ApiRequest) -> Result<Reply, ApiError> {
    let f = req.fields();
    let role = role_of(&req)?;
    let format = mode_of(c, &f, role)?;
    let list: Vec<String> = c
        .images
        .cams
        .sizes_of(role, format)?
        .into_iter()
        .map(|(w, h)| format!("{w}*{h}"))
        .collect();
    Ok(Reply::ok().with("data", list.join("|")))
}

/// `device=setresolution {camidx, mode, width, height}`: format and capture size.
fn setresolution(c: &Legacy, req: ApiRequest) -> Result<Reply, ApiError> {
    let f = req.fields();
    let role = role_of(&req)?;
    let format = mode_of(c, &f, role)?;
    let size = |k: &str| -> Result<u32, ApiError> {
        match f.int(k)? {
            Some(v) if (1..=20000).contains(&v) => Ok(v as u32),
            Some(v) => Err(ApiError::invalid(
                k,
                Text::new(format!("无效的值 {v}"), format!("invalid value {v}")),
            )),
            None => Err(ApiError::missing(k)),
        }
    };
    let (w, h) = (size("width")?, size("height")?);
    let (w, h) = c.images.cams.set_mode(role, Some(format), w, h)?;
    Ok(Reply::ok().with("data", format!("{w}*{h}")))
}

/// `video=rotate {camidx, rotate}`: turn the live preview by `rotate` degrees ("90" left, "270"
/// or "-90" right), added to its rotation so far; `data`: the rotation now, degrees
/// counter-clockwise.
fn rotate(c: &Legacy, req: ApiRequest) -> Result<Reply, ApiError> {
    let role = role_of(&req)?;
    let degrees = req
        .fields()
        .int("rotate")?
        .ok_or_else(|| ApiError::missing("rotate"))?;
    let now = c.images.cams.rotate_preview(role, degrees)?;
    Ok(Reply::ok().with("data", now.to_string()))
}

/// `camera=state`: "opened"/"closed" per camidx, comma-separated, in `state` (no `data`: the
/// SDK that reads it takes `data` instead of the reply when there is one).
fn camera_state(c: &Legacy, _req: ApiRequest) -> Result<Reply, ApiError> {
    let state: Vec<&str> = Role::ALL
        .iter()
        .map(|r| match c.images.cams.status(*r) {
            "run" => "opened",
            _ => "closed",
        })
        .collect();
    Ok(Reply::ok().with("state", state.join(",")))
}

/// `pdf=addimage {ImagePath, ImageBase64}`: queue a picture (a stored file or base64) for this
/// client's next `pdf=save`.
fn pdf_addimage(c: &Legacy, req: ApiRequest) -> Result<Reply, ApiError> {
    let f = req.fields();
    let mut src = Map::new();
    if let Some(b) = f.str_nonempty("ImageBase64") {
        src.insert("base64".into(), Value::String(b));
    } else if let Some(p) = f.str_nonempty("ImagePath") {
        src.insert("filepath".into(), Value::String(p));
    } else {
        return Err(ApiError::missing("ImageBase64"));
    }
    let mut work = Work::new(&c.images);
    let data = work.source(&c.images.store, &src, false, 1)?;
    // Only pictures go in: check the header now, not at save time.
    imaging::codec::probe(&data)?;
    let me = req.peer.map(|p| p.ip());
    let mut queues = c.queues();
    let now = Instant::now();
    queues.retain(|_, q| q.touched.is_some_and(|t| now - t < PDF_QUEUE_IDLE));
    // Room for this client's queue and this image: other clients' idle queues go, oldest first.
    loop {
        let total: usize = queues.values().map(|q| q.bytes).sum();
        let too_many = !queues.contains_key(&me) && queues.len() >= PDF_QUEUES;
        if !too_many && total + data.len() <= PDF_QUEUES_BYTES {
            break;
        }
        let oldest = queues
            .iter()
            .filter(|(k, _)| **k != me)
            .min_by_key(|(_, q)| q.touched)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                queues.remove(&k);
            }
            None => break, // only this client's queue: its own limit below decides
        }
    }
    let q = queues.entry(me).or_default();
    if q.images.len() >= PDF_QUEUE_IMAGES || q.bytes + data.len() > PDF_QUEUE_BYTES {
        return Err(ApiError::too_large(Text::new(
            format!(
                "PDF 队列已满（最多 {PDF_QUEUE_IMAGES} 张、{} MiB），请先 pdf=save 或 pdf=clear",
                PDF_QUEUE_BYTES >> 20
            ),
            format!(
                "the PDF queue is full ({PDF_QUEUE_IMAGES} images, {} MiB at most): pdf=save or pdf=clear first",
                PDF_QUEUE_BYTES >> 20
            ),
        )));
    }
    q.bytes += data.len();
    q.images.push(data);
    q.touched = Some(now);
    Ok(Reply::ok().with("data", q.images.len().to_string()))
}

/// `pdf=save {PdfPath}`: the queued pictures as one PDF (merge2pdf's writer), stored (at
/// `PdfPath` when it is a path inside the storage root, else a generated name) and returned as
/// base64 in `data`. The queue stays until `pdf=clear`.
fn pdf_save(c: &Legacy, req: ApiRequest) -> Result<Reply, ApiError> {
    let me = req.peer.map(|p| p.ip());
    // The copy of the queue, the document and its base64 come out of the work memory budget
    // (reserved before the queue is copied; waiting for room never holds the queues' lock).
    let queued = c.queues().get(&me).map_or(0, |q| q.bytes) as u64;
    let mut work = Work::new(&c.images);
    work.reserve(queued * 4, Text::new("PDF 文档", "the PDF document"))?;
    let images: Vec<Vec<u8>> = {
        let mut queues = c.queues();
        match queues.get_mut(&me) {
            Some(q) if !q.images.is_empty() => {
                q.touched = Some(Instant::now());
                q.images.clone()
            }
            _ => {
                return Err(ApiError::with(
                    api::ErrorKind::InvalidParam,
                    Text::new(
                        "PDF 队列为空：请先用 pdf=addimage 加入图像",
                        "the PDF queue is empty: add images with pdf=addimage first",
                    ),
                ))
            }
        }
    };
    let doc = documents::pdf::merge(&images)?;
    let store = &c.images.store;
    let path = match req.fields().str_nonempty("PdfPath") {
        // A Windows path of the vendor's PC service (D://x.pdf) means nothing here.
        Some(p) if p.starts_with('/') && p.to_ascii_lowercase().ends_with(".pdf") => {
            store.write(&p, &doc, true)?;
            p
        }
        _ => {
            let id = uuid::Uuid::new_v4().to_string();
            let p = store.write_generated_as(&id, "pdf", &doc)?;
            store.client_path(&p)
        }
    };
    Ok(Reply::ok()
        .with("data", B64.encode(&doc))
        .with("filepath", path))
}

/// `pdf=clear`: forget this client's queued pictures.
fn pdf_clear(c: &Legacy, req: ApiRequest) -> Result<Reply, ApiError> {
    c.queues().remove(&req.peer.map(|p| p.ip()));
    Ok(Reply::ok())
}

/// `barcode=get {time}`: frames of the document camera are read until codes are found or
/// `time` seconds (default 20, at most 60) pass; `data` is `[{barcodedata}]`. Nothing found in
/// time: code "3" (no data).
async fn barcode_get(c: Arc<Legacy>, req: ApiRequest) -> Result<Reply, ApiError> {
    let secs = req.fields().tuning("time", 1, 60)?.unwrap_or(20) as u64;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let ctx = c.images.clone();
    loop {
        let frame = grab(&ctx.cams, Role::Document).await?;
        // A heavy-job slot for each reading, not for the whole wait.
        let _slot = ctx.budget.job(Text::same("barcode=get")).await?;
        let ctx2 = ctx.clone();
        let codes = blocking(move || {
            let pic = picture(frame)?;
            let mut work = Work::new(&ctx2);
            let (w, h) = pic.size()?;
            work.admit(w, h, BARCODE_BYTES_PER_PIXEL)?;
            let g = barcode::luma(&pic.pixels()?);
            barcode::read(&g).map_err(|e| ApiError::internal(format!("barcode reader: {e}")))
        })
        .await?;
        if !codes.is_empty() {
            let data: Vec<Value> = codes
                .iter()
                .map(|c| json!({"barcodedata": c.text}))
                .collect();
            return Ok(Reply::ok().with("data", data));
        }
        if Instant::now() >= deadline {
            return Err(ApiError::with(
                api::ErrorKind::NoData,
                Text::new(
                    format!("{secs} 秒内未识别到条码"),
                    format!("no barcode recognised within {secs} s"),
                ),
            ));
        }
    }
}

pub fn register(table: &mut Table, c: Arc<Legacy>) {
    on(table, "device", "isconnect", &c, isconnect);
    on(table, "device", "getresolution", &c, getresolution);
    on(table, "device", "setresolution", &c, setresolution);
    on(table, "device", "getequipmenttype", &c, |c, _| {
        Ok(Reply::ok().with("data", c.device_type.clone()))
    });
    on(table, "camera", "state", &c, camera_state);
    on(table, "video", "rotate", &c, rotate);
    on(table, "pdf", "addimage", &c, pdf_addimage);
    on(table, "pdf", "save", &c, pdf_save);
    on(table, "pdf", "clear", &c, pdf_clear);
    let b = c.clone();
    table.register(
        "barcode",
        "get",
        handler(move |req| barcode_get(b.clone(), req)),
    );
}

/// Run `h` on the request after `adapt` rewrote its parameters.
fn adapted(h: Handler, adapt: fn(&mut Map<String, Value>)) -> Handler {
    handler(move |mut req: ApiRequest| {
        let h = h.clone();
        adapt(&mut req.params);
        async move { h(req).await }
    })
}

/// The older WebSocket names of `param=get` / `param=set` (call after `ParamRoutes::install`):
/// `get_param` is `param=get`; `get_resolution` is `param=get` with `type` "resolution" unless
/// the message names another; `set_resolution` is `param=set` with `width`/`height` given at the
/// top level taken as its `resolution`; `set_cutpage` is `param=set` (`cutpage`).
pub fn register_ws_params(table: &mut Table) {
    let key = |a: &str| EndpointKey::new("param", a);
    let get = table.http(&key("get")).expect("param=get is installed");
    let set = table.http(&key("set")).expect("param=set is installed");
    table.register_ws("get_param", get.clone());
    table.register_ws(
        "get_resolution",
        adapted(get, |p| {
            p.entry("type")
                .or_insert_with(|| Value::String("resolution".into()));
        }),
    );
    table.register_ws(
        "set_resolution",
        adapted(set.clone(), |p| {
            if !p.contains_key("resolution") {
                let mut r = Map::new();
                for k in ["width", "height"] {
                    if let Some(v) = p.remove(k) {
                        r.insert(k.into(), v);
                    }
                }
                if !r.is_empty() {
                    p.insert("resolution".into(), Value::Object(r));
                }
            }
        }),
    );
    table.register_ws("set_cutpage", set);
}
