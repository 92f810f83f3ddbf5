//! The signing screen's endpoints (vendor 9.1-9.5, 9.7-9.12, 9.14-9.19; param 5.7, 5.8): this
//! adapter reads the pages' options into `signpad` types and answers in the vendor's shapes.
//! Without a screen (`signpad.backend = "none"`) they answer "2" and say so.

use std::sync::Arc;

use api::{handler, ApiError, ApiRequest, ErrorKind, Fields, ParamRoutes, Reply, Table, Text};
use base64::Engine;
use bytes::Bytes;
use futures_util::stream;
use serde_json::{json, Map, Value};
use signpad::browser::Browser;
use signpad::panel::{Icon, PanelButton, PanelOptions};
use signpad::window::{ButtonKind, ButtonSpec, SignOptions, Tip};
use signpad::{Pad, Rect};
use tokio::sync::watch;

use crate::common::{Images, Work, B64, DECODED_BYTES_PER_PIXEL};

pub struct Sign {
    pub pad: Option<Pad>,
    pub images: Arc<Images>,
    /// The kiosk browser for `sign=browser`; None when none is configured.
    pub browser: Option<Arc<Browser>>,
    /// The font for Chinese text a PDF does not embed.
    pub cjk_font: std::path::PathBuf,
    /// The document being signed (vendor 9.6).
    pub pdf: crate::signpdf::PdfSessions,
}

/// The kiosk browser of the configuration: `browser_command`, or cog on a DRM screen.
pub fn browser(
    cfg: &crate::config::SignpadSection,
    pad: &Pad,
    state_dir: &std::path::Path,
) -> Option<Arc<Browser>> {
    let command = match cfg.browser_command.trim() {
        "" if pad.describe().starts_with("DRM") => "cog --platform=drm {url}".to_string(),
        "" => return None,
        c => c.to_string(),
    };
    let words = signpad::browser::split_command(&command);
    if words.is_empty() {
        return None;
    }
    Some(Browser::new(words, state_dir.join("browser"), pad.clone()))
}

/// A page's address for the kiosk browser: http or https only (no file:, javascript: or data:
/// pages on the device's own screen), at most 4096 bytes, no control characters.
fn page_url(s: Option<String>) -> Result<String, ApiError> {
    let url = s.map(|u| u.trim().to_string()).unwrap_or_default();
    if url.is_empty() {
        return Err(ApiError::missing("url"));
    }
    let lower = url.to_ascii_lowercase();
    let host = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    if url.len() > 4096
        || url.chars().any(|c| c.is_control() || c.is_whitespace())
        || host.is_none_or(|h| h.is_empty())
    {
        return Err(bad(
            "url",
            "只能显示 http:// 或 https:// 网页".into(),
            "only http:// and https:// pages can be shown (at most 4096 characters, no spaces)"
                .into(),
        ));
    }
    Ok(url)
}

pub fn no_screen() -> ApiError {
    ApiError::with(
        ErrorKind::DeviceUnavailable,
        Text::new(
            "没有签字屏（配置 signpad.backend）",
            "no signing screen (signpad.backend)",
        ),
    )
}

fn bad(key: &str, zh: String, en: String) -> ApiError {
    ApiError::invalid(key, Text::new(zh, en))
}

/// A length: a number or "120", "120px" (pixels), "50%" (of `total`).
pub fn length(key: &str, v: &Value, total: u32) -> Result<i32, ApiError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return Err(bad(key, "应为数值".into(), "expected a length".into())),
    };
    let (num, pct) = if let Some(p) = text.strip_suffix('%') {
        (p.trim(), true)
    } else {
        (text.strip_suffix("px").unwrap_or(&text).trim(), false)
    };
    let n: f64 = num.parse().map_err(|_| {
        bad(
            key,
            format!("无效的长度 {text}"),
            format!("invalid length {text} (px or %)"),
        )
    })?;
    if !n.is_finite() || n.abs() > 100_000.0 {
        return Err(bad(
            key,
            format!("无效的长度 {text}"),
            format!("invalid length {text}"),
        ));
    }
    Ok(if pct {
        (n * total as f64 / 100.0).round() as i32
    } else {
        n.round() as i32
    })
}

/// `{left, top, right, bottom}` with px or % of (w, h).
fn ltrb(key: &str, o: &Map<String, Value>, w: u32, h: u32) -> Result<Rect, ApiError> {
    let get = |k: &str, total: u32, default: i32| -> Result<i32, ApiError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => length(&format!("{key}.{k}"), v, total),
        }
    };
    let l = get("left", w, 0)?;
    let t = get("top", h, 0)?;
    let r = get("right", w, w as i32)?;
    let b = get("bottom", h, h as i32)?;
    if r <= l || b <= t {
        return Err(bad(
            key,
            "矩形的右/下边须大于左/上边".into(),
            "the rectangle's right/bottom must exceed its left/top".into(),
        ));
    }
    Ok(Rect::new(l, t, (r - l) as u32, (b - t) as u32))
}

/// `pos`: {left, top, width, height} in px, or {left, top, right, bottom} with units.
fn position(o: &Map<String, Value>, sw: u32, sh: u32) -> Result<Rect, ApiError> {
    let screen = Rect::new(0, 0, sw, sh);
    let r = if o.contains_key("right") || o.contains_key("bottom") {
        ltrb("pos", o, sw, sh)?
    } else {
        let get = |k: &str, total: u32, default: i32| -> Result<i32, ApiError> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => length(&format!("pos.{k}"), v, total),
            }
        };
        let (l, t) = (get("left", sw, 0)?, get("top", sh, 0)?);
        let (w, h) = (get("width", sw, sw as i32)?, get("height", sh, sh as i32)?);
        if w < 1 || h < 1 {
            return Err(bad(
                "pos",
                "窗口的宽和高须为正数".into(),
                "the window's width and height must be positive".into(),
            ));
        }
        Rect::new(l, t, w as u32, h as u32)
    };
    if r.w < 64 || r.h < 48 {
        return Err(bad(
            "pos",
            "签字窗口太小（至少 64x48）".into(),
            "the sign window is too small (at least 64x48)".into(),
        ));
    }
    // Moved inside the screen, never cut off (shrunk only when larger than the screen).
    Ok(r.moved_inside(&screen))
}

fn color(key: &str, s: Option<String>, default: [u8; 3]) -> Result<[u8; 3], ApiError> {
    match s.filter(|s| !s.trim().is_empty()) {
        None => Ok(default),
        Some(c) => imaging::watermark::parse_color(&c).ok_or_else(|| {
            bad(
                key,
                format!("无效的颜色 {c}"),
                format!("invalid colour {c} (a name or #RRGGBB)"),
            )
        }),
    }
}

/// `pos` {left, top, width, height} with a default; moved inside the screen, never cut off.
fn panel_rect(f: &Fields, default: Rect, screen: (u32, u32)) -> Result<Rect, ApiError> {
    let area = Rect::new(0, 0, screen.0, screen.1);
    let r = match f.object("pos") {
        Some(o) => {
            let get = |k: &str, total: u32, d: i32| -> Result<i32, ApiError> {
                match o.get(k) {
                    None | Some(Value::Null) => Ok(d),
                    Some(v) => length(&format!("pos.{k}"), v, total),
                }
            };
            let (l, t) = (
                get("left", screen.0, default.x)?,
                get("top", screen.1, default.y)?,
            );
            let (w, h) = (
                get("width", screen.0, default.w as i32)?,
                get("height", screen.1, default.h as i32)?,
            );
            if w < 16 || h < 16 {
                return Err(bad(
                    "pos",
                    "宽和高至少 16 像素".into(),
                    "width and height must be at least 16 px".into(),
                ));
            }
            Rect::new(l, t, w as u32, h as u32)
        }
        None => default,
    };
    Ok(r.moved_inside(&area))
}

/// Pictures a page names: a stored file path or base64 (with or without a data-URL prefix).
fn picture_source(s: &str) -> Map<String, Value> {
    let t = s.trim();
    let base64 = t.starts_with("data:")
        || ["/9j/", "iVBOR", "Qk", "R0lGOD", "UklGR", "SUkq", "TU0A"]
            .iter()
            .any(|m| t.starts_with(m))
        || t.len() > 1024;
    let mut m = Map::new();
    if base64 {
        m.insert("base64".into(), Value::String(t.to_string()));
    } else {
        m.insert("filepath".into(), Value::String(t.to_string()));
    }
    m
}

impl Sign {
    /// Decode a picture a page names, within the work budget.
    fn picture(&self, work: &mut Work, s: &str) -> Result<imaging::RgbImage, ApiError> {
        let src = picture_source(s);
        let data = work.source(&self.images.store, &src, false, 1)?;
        work.admit_encoded(&data, DECODED_BYTES_PER_PIXEL)?;
        Ok(imaging::codec::decode(&data)?)
    }

    /// The buttons of a panel (vendor 9.8, 9.15); `defaults` when the page gives none.
    fn panel_buttons(
        &self,
        f: &Fields,
        defaults: &[(&str, &str)],
        sized: bool,
    ) -> Result<Vec<PanelButton>, ApiError> {
        let default_button = |content: &str, icon: &str| -> Value {
            json!({"content": content, "fontsize": "18", "textcolor": "0xFFFFFF",
                   "buttoncolor": "0x71A2E4", "icon": icon})
        };
        let list: Vec<Value> = match f.array("buttons") {
            Some(l) if !l.is_empty() => l.to_vec(),
            _ => defaults.iter().map(|(c, i)| default_button(c, i)).collect(),
        };
        if list.len() > 12 {
            return Err(bad(
                "buttons",
                "按钮最多 12 个".into(),
                "at most 12 buttons".into(),
            ));
        }
        let mut work = Work::new(&self.images);
        let mut out = Vec::new();
        for (i, b) in list.iter().enumerate() {
            let b = b.as_object().ok_or_else(|| {
                bad(
                    "buttons",
                    format!("第 {i} 项不是对象"),
                    format!("item {i} is not an object"),
                )
            })?;
            let bf = Fields(b);
            let icon = match bf.str("icon").unwrap_or_default().trim() {
                "" => Icon::None,
                k @ ("0" | "1" | "2" | "3") => Icon::Face(k.parse().unwrap_or(0)),
                path => Icon::Picture(self.picture(&mut work, path)?),
            };
            let size = if sized {
                match (bf.int("width")?, bf.int("height")?) {
                    (Some(w), Some(h)) if (8..=4000).contains(&w) && (8..=4000).contains(&h) => {
                        Some((w as u32, h as u32))
                    }
                    (None, None) => None,
                    _ => {
                        return Err(bad(
                            "buttons.width",
                            "按钮的宽和高须同时给出，8 到 4000 像素".into(),
                            "give a button's width and height together, 8 to 4000 px".into(),
                        ))
                    }
                }
            } else {
                None
            };
            out.push(PanelButton {
                content: bf.str("content").unwrap_or_default(),
                fontsize: bf.tuning("fontsize", 6, 120)?.unwrap_or(18) as f32,
                textcolor: color("buttons.textcolor", bf.str("textcolor"), [255, 255, 255])?,
                buttoncolor: color(
                    "buttons.buttoncolor",
                    bf.str("buttoncolor"),
                    [0x71, 0xa2, 0xe4],
                )?,
                icon,
                size,
            });
        }
        Ok(out)
    }

    fn show_evaluator(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let pad = self.pad()?;
        let f = req.fields();
        // Vendor defaults: (340, 280) 600x240, a blue tip line, four rating buttons.
        let rect = panel_rect(&f, Rect::new(340, 280, 600, 240), pad.size())?;
        let t = f.object("tip_message").unwrap_or_default();
        let tf = Fields(&t);
        let tip = (
            tf.str("content")
                .unwrap_or_else(|| "请您对我们的服务进行评价".into()),
            tf.tuning("fontsize", 6, 120)?.unwrap_or(28) as f32,
            color(
                "tip_message.textcolor",
                tf.str("textcolor"),
                [255, 255, 255],
            )?,
            color(
                "tip_message.backgroundcolor",
                tf.str("backgroundcolor"),
                [0x71, 0xa2, 0xe4],
            )?,
        );
        let buttons = self.panel_buttons(
            &f,
            &[
                ("非常满意", "0"),
                ("基本满意", "1"),
                ("一般", "2"),
                ("不满意", "3"),
            ],
            false,
        )?;
        pad.show_evaluator(PanelOptions {
            rect,
            tip: Some(tip),
            background: Some([255, 255, 255]),
            buttons,
        });
        Ok(Reply::ok())
    }

    fn show_floating(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let pad = self.pad()?;
        let f = req.fields();
        // Vendor default: (950, 700) 256x64, moved inside smaller screens.
        let rect = panel_rect(&f, Rect::new(950, 700, 256, 64), pad.size())?;
        let buttons = self.panel_buttons(&f, &[("确认", ""), ("取消", "")], true)?;
        pad.show_floating(PanelOptions {
            rect,
            tip: None,
            background: None,
            buttons,
        });
        Ok(Reply::ok())
    }

    fn show_ads(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let pad = self.pad()?;
        let f = req.fields();
        let list = f
            .array("piclist")
            .ok_or_else(|| ApiError::missing("piclist"))?;
        if list.is_empty() || list.len() > 30 {
            return Err(bad(
                "piclist",
                "需要 1 到 30 张图片".into(),
                "give 1 to 30 pictures".into(),
            ));
        }
        let secs = f.tuning("time", 1, 3600)?.unwrap_or(5) as u64;
        let (w, h) = pad.size();
        let mut work = Work::new(&self.images);
        // The fitted pictures stay in memory while the player runs.
        work.reserve(
            list.len() as u64 * w as u64 * h as u64 * 3,
            Text::new("广告图片", "the slide show's pictures"),
        )?;
        let mut pics = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let s = v.as_str().ok_or_else(|| {
                bad(
                    "piclist",
                    format!("第 {i} 项不是字符串"),
                    format!("item {i} is not a string"),
                )
            })?;
            pics.push(self.picture(&mut work, s)?);
        }
        let slides = signpad::pad::Slides::new(&pics, (w, h), std::time::Duration::from_secs(secs));
        pad.show_slides(slides);
        tracing::info!(pictures = pics.len(), seconds = secs, "ad player started");
        Ok(Reply::ok())
    }

    fn show_browser(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let pad = self.pad()?;
        let f = req.fields();
        let url = page_url(f.str("url"))?;
        let mouse = f.bool_or("enable_sign_screen_mouse", true)?;
        let browser = self.browser.as_ref().ok_or_else(|| {
            ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    "没有配置网页浏览器（signpad.browser_command）",
                    "no kiosk browser configured (signpad.browser_command)",
                ),
            )
        })?;
        pad.set_pen_shared(mouse);
        browser.open(&url).map_err(|e| {
            ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("网页浏览器未能启动：{e}"),
                    format!("the kiosk browser did not start: {e}"),
                ),
            )
        })?;
        Ok(Reply::ok())
    }

    fn pad(&self) -> Result<&Pad, ApiError> {
        self.pad.as_ref().ok_or_else(no_screen)
    }

    pub fn options(&self, req: &ApiRequest, pad: &Pad) -> Result<(SignOptions, String), ApiError> {
        let (sw, sh) = pad.size();
        self.options_in(req, pad, Rect::new(0, 0, sw, sh))
    }

    /// The sign window's options; `default` is its rectangle without `pos` (button and valid
    /// rectangles are read relative to the window's size).
    pub fn options_in(
        &self,
        req: &ApiRequest,
        pad: &Pad,
        default: Rect,
    ) -> Result<(SignOptions, String), ApiError> {
        let f = req.fields();
        let (sw, sh) = pad.size();
        let rect = match f.object("pos") {
            Some(o) => position(&o, sw, sh)?,
            None => default,
        };
        let mut o = SignOptions::new(rect);
        if let Some(t) = f.object("tip_message") {
            let t = Fields(&t);
            let size = t.tuning("fontsize", 6, 200)?.unwrap_or(24) as f32;
            o.tip = Some(Tip {
                text: t.str("content").unwrap_or_default(),
                size,
                color: color("tip_message.color", t.str("color"), [0x4b, 0x55, 0x63])?,
            });
        }
        o.opacity = f.tuning("opacity", 0, 100)?.unwrap_or(100) as u8;
        if let Some(src) = f.object("background_image") {
            let mut work = Work::new(&self.images);
            let data = work.source(&self.images.store, &src, false, 1)?;
            work.admit_encoded(&data, DECODED_BYTES_PER_PIXEL)?;
            o.background = Some(imaging::codec::decode(&data)?);
        }
        if let Some(v) = f.object("valid_sign_rect") {
            o.valid = Some(ltrb("valid_sign_rect", &v, rect.w, rect.h)?);
        }
        if let Some(list) = f.array("sign_buttons_info") {
            for (i, b) in list.iter().enumerate() {
                let b = b.as_object().ok_or_else(|| {
                    bad(
                        "sign_buttons_info",
                        format!("第 {i} 项不是对象"),
                        format!("item {i} is not an object"),
                    )
                })?;
                let bf = Fields(b);
                let name = bf.str("button_name").unwrap_or_default();
                let kind = ButtonKind::from_name(&name).ok_or_else(|| {
                    bad(
                        "sign_buttons_info.button_name",
                        format!("未知的按钮 {name}（sign_ok_button、sign_reset_button、sign_return_button）"),
                        format!("unknown button {name} (sign_ok_button, sign_reset_button, sign_return_button)"),
                    )
                })?;
                let rect_of = match b.get("button_rect") {
                    Some(Value::Object(r)) => {
                        Some(ltrb("sign_buttons_info.button_rect", r, rect.w, rect.h)?)
                    }
                    Some(Value::String(s)) if !s.trim().is_empty() => {
                        let r: Map<String, Value> = serde_json::from_str(s).map_err(|_| {
                            bad(
                                "sign_buttons_info.button_rect",
                                "应为 {left, top, right, bottom}".into(),
                                "expected {left, top, right, bottom}".into(),
                            )
                        })?;
                        Some(ltrb("sign_buttons_info.button_rect", &r, rect.w, rect.h)?)
                    }
                    _ => None,
                };
                let spec = ButtonSpec {
                    text: bf.str("text").filter(|t| !t.is_empty()),
                    visible: bf.bool("visible")?,
                    rect: rect_of,
                };
                match kind {
                    ButtonKind::Ok => o.ok = spec,
                    ButtonKind::Reset => o.reset = spec,
                    ButtonKind::Return => o.back = spec,
                }
            }
        }
        let remark = f.str("remark").unwrap_or_default();
        Ok((o, remark))
    }

    fn start(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let pad = self.pad()?;
        // The window's layer (RGB), its ink mask and the old window until it is replaced.
        let (sw, sh) = pad.size();
        let mut work = Work::new(&self.images);
        work.reserve(
            sw as u64 * sh as u64 * 8,
            Text::new("签字窗口", "a sign window"),
        )?;
        let (o, remark) = self.options(&req, pad)?;
        let id = uuid::Uuid::new_v4().to_string();
        tracing::info!(task = %id, rect = ?o.rect, "sign window shown");
        pad.show(id.clone(), o, remark);
        Ok(Reply::ok().with("task_id", id))
    }

    fn task(req: &ApiRequest) -> Option<String> {
        req.fields().str_nonempty("task_id")
    }

    fn get(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let pad = self.pad()?;
        pad.settle(std::time::Duration::from_millis(500));
        match pad.signature(Self::task(&req).as_deref())? {
            Some((png, remark)) => Ok(Reply::ok()
                .with("image", B64.encode(png))
                .with("remark", remark)),
            // The vendor's code for "no signature yet" (9.3).
            None => Ok(Reply::code(
                "1",
                Some(Text::new(
                    "无签字图像：未开始签字，或未在签字窗口上点击确认",
                    "no signature yet: no signing started, or the confirm button was not pressed",
                )),
            )),
        }
    }

    fn status(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let pad = self.pad()?;
        let (status, id) = pad.status(Self::task(&req).as_deref())?;
        Ok(Reply::ok()
            .with("status", (status as u8).to_string())
            .with("task_id", id))
    }
}

/// A button result (9.10, 9.17): the vendor's code "1" while there is none.
fn result_reply(r: Option<String>) -> Result<Reply, ApiError> {
    match r {
        Some(content) => Ok(Reply::ok().with("result", content)),
        None => Ok(Reply::code(
            "1",
            Some(Text::new("暂无结果", "no result yet")),
        )),
    }
}

/// JPEG frames of the screen for the multipart writer.
fn frames(rx: watch::Receiver<Option<Bytes>>) -> impl futures_util::Stream<Item = Bytes> + Send {
    stream::unfold(rx, |mut rx| async move {
        loop {
            if rx.changed().await.is_err() {
                return None;
            }
            let frame = rx.borrow_and_update().clone();
            if let Some(f) = frame {
                return Some((f, rx));
            }
        }
    })
}

pub fn register(
    table: &mut Table,
    params: &mut ParamRoutes,
    s: Arc<Sign>,
    shutdown: watch::Receiver<bool>,
) {
    use crate::common::on;
    on(table, "sign", "start", &s, Sign::start);
    on(table, "sign", "get", &s, Sign::get);
    on(table, "sign", "status", &s, Sign::status);
    on(table, "sign", "stop", &s, |c, _| {
        c.pad()?.stop();
        Ok(Reply::ok())
    });
    on(table, "sign", "reset_status", &s, |c, _| {
        c.pad()?.reset_status();
        Ok(Reply::ok())
    });
    on(table, "sign", "reset_sign_device", &s, |c, _| {
        c.pad()?.reset_device()?;
        Ok(Reply::ok())
    });
    on(table, "sign", "showevaluator", &s, Sign::show_evaluator);
    on(table, "sign", "closeevaluator", &s, |c, _| {
        c.pad()?.close_evaluator();
        Ok(Reply::ok())
    });
    on(table, "sign", "getevaluatorresult", &s, |c, _| {
        result_reply(c.pad()?.evaluation())
    });
    on(
        table,
        "sign",
        "showefloatingbuttongroup",
        &s,
        Sign::show_floating,
    );
    on(table, "sign", "closefloatingbuttongroup", &s, |c, _| {
        c.pad()?.close_floating();
        Ok(Reply::ok())
    });
    on(table, "sign", "getfloatingbuttongroupresult", &s, |c, _| {
        result_reply(c.pad()?.floating_pressed())
    });
    on(table, "sign", "browser", &s, Sign::show_browser);
    on(table, "sign", "closebrowser", &s, |c, _| {
        c.pad()?;
        if let Some(b) = &c.browser {
            b.close();
        }
        Ok(Reply::ok())
    });
    on(table, "sign", "set_recv_hwnd", &s, |_, _| {
        Err(ApiError::with(
            ErrorKind::NotAvailable,
            Text::new(
                "本设备不支持 Windows 窗口消息（没有窗口句柄）；实时笔迹请订阅 WebSocket 主题 sign_pen",
                "not supported on this device (no Windows window handles): subscribe to the WebSocket topic sign_pen for live pen points",
            ),
        ))
    });
    on(table, "sign", "showadvertisingplayer", &s, Sign::show_ads);
    on(table, "sign", "closeadvertisingplayer", &s, |c, _| {
        c.pad()?.close_slides();
        Ok(Reply::ok())
    });
    let c = s.clone();
    table.register(
        "sign",
        "stream",
        handler(move |_req| {
            let (c, shutdown) = (c.clone(), shutdown.clone());
            async move {
                let pad = c.pad()?;
                // The first frame is the next one composed (pad.frames asks for it at once), never
                // one from before this viewer came.
                let rx = pad.frames();
                Ok(Reply::Http(api::mjpeg::response(frames(rx), shutdown)))
            }
        }),
    );
    let c = s.clone();
    params.on_set_key(
        "enable_sign_screen_mouse",
        handler(move |req| {
            let c = c.clone();
            async move {
                let on = req
                    .fields()
                    .bool("enable_sign_screen_mouse")?
                    .ok_or_else(|| ApiError::missing("enable_sign_screen_mouse"))?;
                c.pad()?.set_pen_shared(on);
                Ok(Reply::ok())
            }
        }),
    );
    let c = s.clone();
    params.on_get(
        "screen_pos",
        handler(move |_| {
            let c = c.clone();
            async move {
                let (w, h) = c.pad()?.size();
                Ok(Reply::ok().with(
                    "pos",
                    json!({"x": "0", "y": "0", "width": w.to_string(), "height": h.to_string()}),
                ))
            }
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls() {
        for ok in [
            "http://192.168.7.2:8080/a?b=1",
            "HTTPS://example.test",
            "https://x/#y",
        ] {
            assert_eq!(page_url(Some(ok.into())).unwrap(), ok);
        }
        for bad in [
            "",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,x",
            "http://",
            "http:///x",
            "http://a b",
            "ftp://x",
            "-http://x",
        ] {
            assert!(page_url(Some(bad.into())).is_err(), "{bad}");
        }
        assert!(page_url(None).is_err());
        assert!(page_url(Some(format!("http://x/{}", "a".repeat(5000)))).is_err());
    }

    #[test]
    fn lengths() {
        assert_eq!(length("k", &json!("120"), 1000).unwrap(), 120);
        assert_eq!(length("k", &json!("120px"), 1000).unwrap(), 120);
        assert_eq!(length("k", &json!(" 50% "), 1000).unwrap(), 500);
        assert_eq!(length("k", &json!(12.6), 1000).unwrap(), 13);
        assert_eq!(length("k", &json!("0"), 1000).unwrap(), 0);
        for bad in [
            json!("abc"),
            json!("1e9"),
            json!(true),
            json!("%"),
            json!("NaN"),
        ] {
            assert!(length("k", &bad, 100).is_err(), "{bad}");
        }
    }

    #[test]
    fn positions() {
        let o = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            position(
                &o(json!({"left":"10","top":"20","width":"300","height":"200"})),
                1280,
                800
            )
            .unwrap(),
            Rect::new(10, 20, 300, 200)
        );
        assert_eq!(
            position(
                &o(json!({"left":"10%","top":"0","right":"90%","bottom":"50%"})),
                1000,
                800
            )
            .unwrap(),
            Rect::new(100, 0, 800, 400)
        );
        // Outside the screen: moved in.
        assert_eq!(
            position(
                &o(json!({"left":1200,"top":700,"width":300,"height":200})),
                1280,
                800
            )
            .unwrap(),
            Rect::new(980, 600, 300, 200)
        );
        assert!(position(
            &o(json!({"left":0,"top":0,"width":10,"height":10})),
            1280,
            800
        )
        .is_err());
        assert!(position(&o(json!({"left":"50%","right":"10%"})), 1280, 800).is_err());
    }
}
