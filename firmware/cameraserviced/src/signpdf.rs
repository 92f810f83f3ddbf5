//! PDF signing on the device screen (vendor 9.6, WebSocket only): `show_sign_pdf` shows a
//! document in the signing screen's viewer, `close_sign_pdf` closes it, `sign_pdf_info` is pushed
//! to the connection that showed it for every signature and when the signer finishes
//! (`action: "signoff"`, with the signed PDF the device wrote: `signed_file_path`, an appliance
//! extension). A client's answer to a push is taken by the WebSocket layer.

use std::sync::{Arc, Mutex};

use api::{
    handler, ApiError, ApiRequest, ErrorKind, Fields, Reply, Table, Text, Transport, WsPeer,
};
use base64::Engine;
use pdfview::stamp::Stamp;
use pdfview::{Document, PdfError};
use serde_json::{json, Map, Value};
use signpad::docview::DocMarks;
use signpad::docview::{DocOptions, Mode, Pages, Zoom};
use signpad::pad::DocEvent;
use signpad::Rect;

use crate::common::{Work, B64};
use crate::sign::Sign;

/// Largest document shown (bytes).
pub const MAX_PDF_BYTES: u64 = 64 << 20;
/// Rendered pages kept by the viewer.
const CACHE_BYTES: usize = 64 << 20;
/// Most pixels of one rendered page (A4 at about 300 dpi; a zoom beyond it stops there).
const PAGE_PIXELS: u64 = 12_000_000;
/// Remarks are stamped at this many pixels per point (144 dpi).
const REMARK_SCALE: f32 = 2.0;

/// The client signing a document: who hears of it, and the document's bytes to sign.
pub struct PdfClient {
    peer: WsPeer,
    original: Arc<Vec<u8>>,
    file_path: String,
    /// Bumped for each document shown, so that a late event of an old one is not taken.
    serial: u64,
    /// Dropped with the session: ends its watch on the connection.
    _ended: tokio::sync::oneshot::Sender<()>,
}

#[derive(Default)]
pub struct PdfSessions {
    current: Mutex<Option<PdfClient>>,
    serial: std::sync::atomic::AtomicU64,
}

impl PdfSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<PdfClient>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A PDF's pages for the viewer.
struct PdfPages {
    doc: Document,
    sizes: Vec<(f32, f32)>,
    max_pixels: u64,
}

impl Pages for PdfPages {
    fn count(&self) -> usize {
        self.sizes.len()
    }
    fn size(&self, page: usize) -> (f32, f32) {
        self.sizes.get(page).copied().unwrap_or((595.0, 842.0))
    }
    fn render(&self, page: usize, scale: f32) -> Result<image::RgbImage, String> {
        self.doc
            .render(page, scale, self.max_pixels)
            .map_err(|e| e.to_string())
    }
}

fn pdf_error(e: PdfError) -> ApiError {
    let (zh, en) = match &e {
        PdfError::Encrypted => ("PDF 文件已加密或有密码保护，无法显示", e.to_string()),
        PdfError::Broken => ("不是可读的 PDF 文件", e.to_string()),
        PdfError::NoPages => ("PDF 文件没有页面", e.to_string()),
        _ => ("PDF 文件无法处理", e.to_string()),
    };
    ApiError::with(ErrorKind::InvalidParam, Text::new(zh.to_string(), en))
}

fn bad(key: &str, zh: &str, en: &str) -> ApiError {
    ApiError::invalid(key, Text::new(zh.to_string(), en.to_string()))
}

fn options(f: &Fields) -> Result<DocOptions, ApiError> {
    let zoom = match f.str("preview_zoom").map(|s| s.trim().to_ascii_lowercase()) {
        None => Zoom::FitPage,
        Some(s) if s.is_empty() => Zoom::FitPage,
        Some(s) => match s.as_str() {
            "no_zoom" => Zoom::Percent(50),
            "fit_width" => Zoom::FitWidth,
            "fit_height" => Zoom::FitHeight,
            n => match n.parse::<f64>() {
                Ok(v) if (1.0..=100.0).contains(&v) => Zoom::Percent(v.round() as u32),
                _ => {
                    return Err(bad(
                        "preview_zoom",
                        "preview_zoom 应为 1-100、no_zoom、fit_width 或 fit_height",
                        "preview_zoom must be 1-100, no_zoom, fit_width or fit_height",
                    ))
                }
            },
        },
    };
    let mode = match f.str("default_mode").map(|s| s.trim().to_ascii_lowercase()) {
        None => Mode::Drag,
        Some(s) => match s.as_str() {
            "" | "drag" => Mode::Drag,
            "sign" => Mode::Sign,
            "remark" => Mode::Remark,
            _ => {
                return Err(bad(
                    "default_mode",
                    "default_mode 应为 drag、sign 或 remark",
                    "default_mode must be drag, sign or remark",
                ))
            }
        },
    };
    Ok(DocOptions {
        zoom,
        mode,
        sign: f.bool("sign")?.unwrap_or(true),
        long_press: f.bool("long_press_trigger_sign")?.unwrap_or(true),
        cache_bytes: CACHE_BYTES,
        max_pixels: PAGE_PIXELS,
    })
}

fn push_signature(
    peer: &WsPeer,
    file_path: &str,
    placed: &signpad::docview::Placed,
    at_known: bool,
) {
    let mut png = Vec::new();
    let _ = image::DynamicImage::ImageRgba8(placed.image.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
    let mut m = Map::new();
    m.insert("function".into(), json!("sign_pdf_info"));
    m.insert("signature".into(), json!(B64.encode(&png)));
    m.insert("file_path".into(), json!(file_path));
    if at_known {
        m.insert(
            "pos".into(),
            json!({
                "page": (placed.page + 1).to_string(),
                "x": format!("{:.4}", placed.x),
                "y": format!("{:.4}", placed.y),
            }),
        );
    }
    // The signature's size on the page (fractions), beyond the vendor's fields.
    m.insert(
        "size".into(),
        json!({"width": format!("{:.4}", placed.w), "height": format!("{:.4}", placed.h)}),
    );
    peer.push(&Value::Object(m));
}

/// The signer finished (the viewer has closed): write the signed PDF, tell the client.
fn sign_off(sign: &Sign, serial: u64, marks: DocMarks) {
    let client = {
        let mut cur = sign.pdf.lock();
        match cur.as_ref() {
            Some(c) if c.serial == serial => cur.take(),
            _ => None,
        }
    };
    let Some(client) = client else { return };
    let stamps: Vec<Stamp> = marks
        .placed
        .iter()
        .cloned()
        .chain(marks.remark_pictures(REMARK_SCALE))
        .map(|p| Stamp {
            page: p.page,
            x: p.x,
            y: p.y,
            w: p.w,
            h: p.h,
            image: p.image,
        })
        .collect();
    let mut m = Map::new();
    m.insert("function".into(), json!("sign_pdf_info"));
    m.insert("action".into(), json!("signoff"));
    m.insert("file_path".into(), json!(client.file_path));
    if !stamps.is_empty() {
        let written = pdfview::stamp::stamp(&client.original, &stamps)
            .map_err(|e| e.to_string())
            .and_then(|signed| {
                let id = uuid::Uuid::new_v4().to_string();
                sign.images
                    .store
                    .write_generated_as(&id, "pdf", &signed)
                    .map_err(|e| e.to_string())
            });
        match written {
            Ok(p) => {
                let path = sign.images.store.client_path(&p);
                tracing::info!(file = %path, marks = stamps.len(), "signed PDF written");
                m.insert("signed_file_path".into(), json!(path));
            }
            Err(e) => {
                tracing::warn!("signed PDF not written: {e}");
                m.insert("signed_file_error".into(), json!(e));
            }
        }
    }
    // The sign-off is not dropped for a full queue (a slow reader waits for it, up to 10 s).
    if !client
        .peer
        .push_wait(&Value::Object(m), std::time::Duration::from_secs(10))
    {
        tracing::info!(
            "the sign-off could not be delivered: the client went away or takes nothing"
        );
    }
}

/// End the signing session numbered `serial` (any with None) and close its viewer. False when
/// there was none.
fn close(sign: &Sign, serial: Option<u64>) -> bool {
    let mut cur = sign.pdf.lock();
    let n = match (cur.as_ref(), serial) {
        (Some(c), Some(s)) if c.serial != s => return false,
        (Some(c), _) => Some(c.serial),
        (None, _) => None,
    };
    cur.take();
    let shown = sign
        .pad
        .as_ref()
        .is_some_and(|p| p.close_document(n.or(serial)));
    n.is_some() || shown
}

async fn show(sign: Arc<Sign>, req: ApiRequest) -> Result<Reply, ApiError> {
    let Transport::WebSocket { peer, .. } = &req.transport else {
        return Err(ApiError::not_available(Text::new(
            "仅用于 WebSocket",
            "WebSocket only",
        )));
    };
    let peer = peer.clone();
    let pad = sign.pad.clone().ok_or_else(crate::sign::no_screen)?;
    let f = req.fields();
    let opts = options(&f)?;
    let window_allowed = opts.sign;
    let zoom_given = f.str("preview_zoom").is_some_and(|z| !z.trim().is_empty());
    let mode_given = f.str("default_mode").is_some_and(|m| !m.trim().is_empty());
    let update = f.bool("update")?.unwrap_or(false);
    let fingerprint = f.bool("fingerprint")?.unwrap_or(false);
    // Appliance extension: open the sign window next to the first place this text is drawn.
    let keyword = f.str("keyword").filter(|k| !k.trim().is_empty());
    if keyword.as_ref().is_some_and(|k| k.chars().count() > 200) {
        return Err(bad(
            "keyword",
            "keyword 最多 200 个字符",
            "keyword takes at most 200 characters",
        ));
    }
    // The document: base64, or a storage path.
    let b64 = f
        .raw_str("base64")
        .filter(|b| !b.trim().is_empty())
        .map(|b| b.to_string());
    let file_path = f.str_nonempty("file_path").unwrap_or_default();
    if b64.is_none() && file_path.is_empty() {
        return Err(ApiError::missing("file_path"));
    }
    let pos_given = f.object("pos").is_some();
    let images = sign.images.clone();
    let font = sign.cjk_font.clone();
    let path = file_path.clone();
    let asked_keyword = keyword.is_some();
    let (sign2, pad2) = (sign.clone(), pad.clone());
    let (window, data, found, pages) = api::blocking(move || {
        // The sign window's options (a background picture is decoded here, off the runtime).
        // Without pos: 3/5 x 9/20 of the screen (at most 640x320), placed where signed.
        let (sw, sh) = pad2.size();
        let default = Rect::new(
            0,
            0,
            (sw * 3 / 5).clamp(64, 640),
            (sh * 9 / 20).clamp(48, 320),
        );
        let (mut window, _) = sign2.options_in(&req, &pad2, default)?;
        if window.back.visible.is_none() {
            window.back.visible = Some(true);
        }
        let mut work = Work::new(&images);
        let too_large = || {
            ApiError::too_large(Text::new(
                format!("PDF 文件超过 {} MiB", MAX_PDF_BYTES >> 20),
                format!("the PDF is larger than {} MiB", MAX_PDF_BYTES >> 20),
            ))
        };
        let what = Text::new("PDF 文件", "the PDF");
        let data = match b64 {
            Some(b) => {
                if b.len() as u64 / 4 * 3 > MAX_PDF_BYTES {
                    return Err(too_large());
                }
                work.reserve(b.len() as u64 / 4 * 3 * 4, what)?;
                crate::common::decode_b64(&b)?
            }
            None => {
                let size = images.store.size(&path)?;
                if size > MAX_PDF_BYTES {
                    return Err(too_large());
                }
                work.reserve(size * 4, what)?;
                images.store.read(&path)?
            }
        };
        let data = Arc::new(data);
        let doc = Document::open_shared(data.clone(), Some(font)).map_err(pdf_error)?;
        let sizes: Vec<(f32, f32)> = (0..doc.page_count())
            .map(|i| doc.page_size(i).unwrap_or((595.0, 842.0)))
            .collect();
        // The keyword's place: right of its last character, level with its top (fractions).
        let found = keyword.as_deref().and_then(|k| doc.find_text(k)).map(|f| {
            let (w, h) = sizes[f.page];
            let gap = (f.y1 - f.y0) * 0.3;
            (
                f.page,
                ((f.x1 + gap) / w.max(1.0)).min(0.98),
                (f.y0 / h.max(1.0)).clamp(0.0, 0.98),
            )
        });
        Ok((
            window,
            data,
            found,
            PdfPages {
                doc,
                sizes,
                max_pixels: PAGE_PIXELS,
            },
        ))
    })
    .await?;
    let count = pages.sizes.len();
    let serial = sign
        .pdf
        .serial
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    // Signatures and the sign-off go to this connection only.
    let sink = {
        let (weak, peer, fp) = (Arc::downgrade(&sign), peer.clone(), file_path.clone());
        move |e: DocEvent| match e {
            DocEvent::Signed { placed, at_known } => push_signature(&peer, &fp, &placed, at_known),
            DocEvent::Finished(marks) => {
                let weak = weak.clone();
                // Stamping and writing take a while: not on the compositor's thread.
                let _ = std::thread::Builder::new()
                    .name("pdf-signoff".into())
                    .spawn(move || {
                        if let Some(sign) = weak.upgrade() {
                            sign_off(&sign, serial, marks);
                        }
                    });
            }
        }
    };
    let pages: Arc<dyn Pages> = Arc::new(pages);
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    // The screen and the session change together (one show, update, close or sign-off at a
    // time), so a late close or sign-off of an older document never meets a newer one.
    let updated = {
        let mut cur = sign.pdf.lock();
        let updated = update
            && pad.update_document(
                serial,
                pages.clone(),
                opts.clone(),
                !zoom_given,
                !mode_given,
                sink.clone(),
            );
        if !updated {
            pad.show_document(serial, pages, opts, window, pos_given, sink);
        }
        if let (Some((page, x, y)), true) = (found, window_allowed) {
            pad.sign_document_at(serial, page, x, y);
        }
        let old = cur.replace(PdfClient {
            peer: peer.clone(),
            original: data,
            file_path: file_path.clone(),
            serial,
            _ended: ended_tx,
        });
        if old.is_some_and(|o| o.peer.id() != peer.id()) {
            tracing::info!("document signing taken over by another client");
        }
        updated
    };
    tracing::info!(pages = count, updated, file = %file_path, "document shown for signing");
    // A client that goes away closes what it showed (the watch ends with the session).
    let weak = Arc::downgrade(&sign);
    tokio::spawn(async move {
        tokio::select! {
            _ = peer.closed() => {}
            _ = ended_rx => return,
        }
        let Some(sign) = weak.upgrade() else { return };
        if close(&sign, Some(serial)) {
            tracing::info!("the client signing a document went away: viewer closed");
        }
    });
    let mut reply = Reply::ok().with("page_count", count.to_string());
    if asked_keyword {
        reply = reply.with(
            "keyword_found",
            if found.is_some() { "true" } else { "false" },
        );
    }
    if let Some((page, x, y)) = found {
        reply = reply.with(
            "keyword_pos",
            json!({"page": (page + 1).to_string(), "x": format!("{x:.4}"), "y": format!("{y:.4}")}),
        );
    }
    if fingerprint {
        reply = reply.with(
            "fingerprint",
            "unavailable: this device has no fingerprint module; the pushes carry no fingerprint",
        );
    }
    Ok(reply)
}

pub fn register(table: &mut Table, sign: Arc<Sign>) {
    let s = sign.clone();
    table.register_ws("show_sign_pdf", handler(move |req| show(s.clone(), req)));
    let s = sign.clone();
    table.register_ws(
        "close_sign_pdf",
        handler(move |_req| {
            let s = s.clone();
            async move {
                s.pad.as_ref().ok_or_else(crate::sign::no_screen)?;
                if !close(&s, None) {
                    tracing::debug!("close_sign_pdf with no document shown");
                }
                Ok(Reply::ok())
            }
        }),
    );
    table.register_ws(
        "sign_pdf_info",
        handler(move |_req| async move {
            Err(ApiError::invalid(
                "function",
                Text::new(
                    "sign_pdf_info 由设备推送；客户端只可带 code 回复",
                    "sign_pdf_info is pushed by the device; a client sends it only as an answer carrying code",
                ),
            ))
        }),
    );
}
