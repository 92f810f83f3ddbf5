//! Wiring of the camera capability into the protocol: `video=stream/open/close/status/
//! setproperty/getproperty`, the camera `param=set/get` settings, and the legacy WebSocket
//! functions (`open_camera`, `close_camera`, `video_stream`). Logic lives in the camera crate.

use std::sync::Arc;
use std::time::Instant;

use api::{blocking, handler, ApiError, ApiRequest, ParamRoutes, Reply, Table, Text, Transport};
use base64::Engine;
use bytes::Bytes;
use camera::{CameraManager, HubState, PixelFormat, Role, Watch};
use futures_util::stream;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::common::{role_of, B64};

/// Releases a stream's hold on the camera off the async runtime (stopping a pipeline blocks).
struct Holder(Option<Watch>);

impl Drop for Holder {
    fn drop(&mut self) {
        if let Some(w) = self.0.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn_blocking(move || drop(w));
                }
                Err(_) => drop(w),
            }
        }
    }
}

/// Frames for one MJPEG client: every preview frame the pipeline delivers (it applies the
/// camera's frame-rate cap; a slow client skips to the newest), then a notice picture when the
/// camera is closed or removed.
fn frames(watch: Watch) -> impl futures_util::Stream<Item = Bytes> + Send {
    struct St {
        holder: Holder,
        preview: watch::Receiver<Option<camera::Frame>>,
        stops: watch::Receiver<(u64, HubState)>,
        done: bool,
    }
    let hub = watch.hub.clone();
    let mut preview = hub.watch_preview();
    preview.mark_changed();
    let st = St {
        preview,
        stops: watch.stops.clone(),
        holder: Holder(Some(watch)),
        done: false,
    };
    stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        let mut stopped = false;
        loop {
            if stopped || st.stops.has_changed().unwrap_or(true) {
                let ended = st.stops.borrow_and_update().1;
                st.done = true;
                let (w, h) = st
                    .holder
                    .0
                    .as_ref()
                    .map(|w| w.preview_size())
                    .unwrap_or((640, 480));
                let n = if ended == HubState::Closed {
                    camera::notice::Notice::Closed
                } else {
                    camera::notice::Notice::Removed
                };
                let pic = tokio::task::spawn_blocking(move || camera::notice::picture(n, w, h))
                    .await
                    .ok()
                    .and_then(|r| r.ok());
                return pic.map(|p| (p, st));
            }
            tokio::select! {
                r = st.preview.changed() => if r.is_err() { return None },
                r = st.stops.changed() => {
                    // `changed` marks the value seen: remember the stop here.
                    if r.is_err() { return None }
                    stopped = true;
                    continue;
                }
            }
            let frame = st
                .preview
                .borrow_and_update()
                .as_ref()
                .map(|f| f.data.clone());
            if let Some(data) = frame {
                return Some((data, st));
            }
        }
    })
}

fn num_field(req: &ApiRequest, obj: &str, key: &str) -> Result<Option<u32>, ApiError> {
    let o = req.fields().object(obj).unwrap_or_default();
    let f = api::Fields(&o);
    match f.int(key)? {
        None => Ok(None),
        Some(v) if (1..=20000).contains(&v) => Ok(Some(v as u32)),
        Some(v) => Err(ApiError::invalid(
            &format!("{obj}.{key}"),
            Text::new(format!("无效的值 {v}"), format!("invalid value {v}")),
        )),
    }
}

pub fn register(
    table: &mut Table,
    params: &mut ParamRoutes,
    cams: Arc<CameraManager>,
    shutdown: watch::Receiver<bool>,
) {
    let c = cams.clone();
    table.register(
        "video",
        "stream",
        handler(move |req| {
            let (c, shutdown) = (c.clone(), shutdown.clone());
            async move {
                let role = role_of(&req)?;
                let w = blocking(move || Ok(c.watch(role)?)).await?;
                Ok(Reply::Http(api::mjpeg::response(frames(w), shutdown)))
            }
        }),
    );

    let c = cams.clone();
    let open = handler(move |req| {
        let c = c.clone();
        async move {
            let role = role_of(&req)?;
            blocking(move || Ok(c.open(role)?)).await?;
            Ok(Reply::ok())
        }
    });
    table.register("video", "open", open.clone());
    table.register_ws("open_camera", open);
    let c = cams.clone();
    let close = handler(move |req| {
        let c = c.clone();
        async move {
            let role = role_of(&req)?;
            blocking(move || Ok(c.close(role)?)).await?;
            Ok(Reply::ok())
        }
    });
    table.register("video", "close", close.clone());
    table.register_ws("close_camera", close);

    let c = cams.clone();
    table.register(
        "video",
        "status",
        handler(move |_req| {
            let c = c.clone();
            async move {
                let st = blocking(move || {
                    Ok(Role::ALL
                        .iter()
                        .map(|r| (r.status_key(), c.status(*r)))
                        .collect::<Vec<_>>())
                })
                .await?;
                let mut r = Reply::ok();
                for (k, v) in st {
                    r = r.with(k, v);
                }
                Ok(r)
            }
        }),
    );

    let c = cams.clone();
    table.register(
        "video",
        "setproperty",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                // Only the first property given counts (vendor 3.7).
                let (name, value) = req
                    .params
                    .iter()
                    .find(|(k, _)| camera::controls::property(k).is_some())
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            api::request::scalar_string(v).unwrap_or_default(),
                        )
                    })
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "property",
                            Text::new(
                                "缺少要设置的属性（如 brightness）",
                                "no property to set (e.g. brightness)",
                            ),
                        )
                    })?;
                let n = name.clone();
                match blocking(move || Ok(c.set_property(role, &n, &value)?)).await? {
                    Some(_) => Ok(Reply::ok()),
                    None => Err(ApiError::not_available(Text::new(
                        format!("摄像头不支持属性 {name}"),
                        format!("the camera has no {name} control"),
                    ))),
                }
            }
        }),
    );

    let c = cams.clone();
    table.register(
        "video",
        "getproperty",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let key = req
                    .fields()
                    .str_nonempty("key")
                    .ok_or_else(|| ApiError::missing("key"))?;
                let st = blocking(move || Ok(c.get_property(role, &key)?)).await?;
                Ok(match st {
                    None => Reply::ok().with("settable", "1"),
                    Some(s) => Reply::ok()
                        .with("settable", "0")
                        .with("min", s.min.to_string())
                        .with("max", s.max.to_string())
                        .with("step", s.step.to_string())
                        .with("default", s.default.to_string())
                        .with("current", s.current.to_string())
                        .with("is_auto", if s.is_auto { "1" } else { "0" }),
                })
            }
        }),
    );

    register_params(params, &cams);
    register_ws_stream(table, cams);
}

fn register_params(params: &mut ParamRoutes, cams: &Arc<CameraManager>) {
    let c = cams.clone();
    params.on_get(
        "resolution",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let list = blocking(move || Ok(c.resolutions(role)?)).await?;
                Ok(Reply::ok().with("resolution", list.join("|")))
            }
        }),
    );
    let c = cams.clone();
    params.on_get(
        "current_resolution",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let (w, h) = blocking(move || Ok(c.current_resolution(role)?)).await?;
                Ok(Reply::ok().with("resolution", format!("{w}x{h}")))
            }
        }),
    );
    let c = cams.clone();
    params.on_set_key(
        "resolution",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let w = num_field(&req, "resolution", "width")?;
                let h = num_field(&req, "resolution", "height")?;
                let (Some(w), Some(h)) = (w, h) else {
                    return Err(ApiError::missing("resolution.width/height"));
                };
                let (w, h) = blocking(move || Ok(c.set_resolution(role, w, h)?)).await?;
                Ok(Reply::ok().with("resolution", format!("{w}x{h}")))
            }
        }),
    );
    let c = cams.clone();
    params.on_get(
        "available_video_type",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let list = blocking(move || Ok(c.video_types(role)?)).await?;
                Ok(Reply::ok().with("available_video_type", list))
            }
        }),
    );
    let c = cams.clone();
    params.on_get(
        "video_type",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let f = blocking(move || Ok(c.video_type(role)?)).await?;
                Ok(Reply::ok().with("video_type", f.vendor_name()))
            }
        }),
    );
    let c = cams.clone();
    params.on_set_key(
        "video_type",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let s = req.fields().str("video_type").unwrap_or_default();
                let f = PixelFormat::parse(&s).ok_or_else(|| {
                    ApiError::invalid(
                        "video_type",
                        Text::new("应为 \"MJPG\" 或 \"YUY2\"", "expected \"MJPG\" or \"YUY2\""),
                    )
                })?;
                blocking(move || Ok(c.set_video_type(role, f)?)).await?;
                Ok(Reply::ok())
            }
        }),
    );
    let c = cams.clone();
    params.on_get(
        "preview_resolution",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let (w, h) = blocking(move || Ok(c.preview_resolution(role)?)).await?;
                Ok(Reply::ok().with(
                    "preview_resolution",
                    json!({"width": w.to_string(), "height": h.to_string()}),
                ))
            }
        }),
    );
    let c = cams.clone();
    params.on_set_key(
        "preview_resolution",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let w = num_field(&req, "preview_resolution", "width")?;
                let h = num_field(&req, "preview_resolution", "height")?;
                let want = match (w, h) {
                    (Some(w), _) => PreviewWant::Width(w),
                    (None, Some(h)) => PreviewWant::Height(h),
                    _ => return Err(ApiError::missing("preview_resolution.width")),
                };
                let (w, h) = blocking(move || {
                    let width = match want {
                        PreviewWant::Width(w) => w,
                        PreviewWant::Height(h) => {
                            let (cw, ch) = c.current_resolution(role)?;
                            (h as u64 * cw as u64 / ch.max(1) as u64) as u32
                        }
                    };
                    Ok(c.set_preview_resolution(role, width)?)
                })
                .await?;
                Ok(Reply::ok().with(
                    "preview_resolution",
                    json!({"width": w.to_string(), "height": h.to_string()}),
                ))
            }
        }),
    );
    let c = cams.clone();
    params.on_set_key(
        "framerate",
        handler(move |req| {
            let c = c.clone();
            async move {
                let role = role_of(&req)?;
                let fps = req
                    .fields()
                    .tuning("framerate", 1, 60)?
                    .ok_or_else(|| ApiError::missing("framerate"))?;
                blocking(move || Ok(c.set_fps_cap(role, fps as u32)?)).await?;
                Ok(Reply::ok())
            }
        }),
    );
}

enum PreviewWant {
    Width(u32),
    Height(u32),
}

/// Legacy WebSocket preview: `{"function":"video_stream","camidx":"0"}` pushes
/// `{"function":"video_stream","camidx":"0","image_base64":...}` at most `framerate` (default 5)
/// times a second until the client closes or sends `"action":"stop"`.
fn register_ws_stream(table: &mut Table, cams: Arc<CameraManager>) {
    table.register_ws(
        "video_stream",
        handler(move |req: ApiRequest| {
            let c = cams.clone();
            async move {
                let Transport::WebSocket { peer, .. } = &req.transport else {
                    return Err(ApiError::not_available(Text::new(
                        "仅用于 WebSocket",
                        "WebSocket only",
                    )));
                };
                let peer = peer.clone();
                let role = role_of(&req)?;
                let camidx = req.fields().str("camidx").unwrap_or_else(|| "0".into());
                let f = req.fields();
                let key = (peer.id(), camidx.clone());
                if f.str("action").is_some_and(|a| a.eq_ignore_ascii_case("stop")) {
                    if let Some(stop) = ws_streams().remove(&key) {
                        stop.notify_one();
                    }
                    return Ok(Reply::ok().with("camidx", camidx));
                }
                let fps = f.tuning("framerate", 1, 15)?.unwrap_or(5);
                let w = blocking(move || Ok(c.watch(role)?)).await?;
                // One stream per connection and camera: a new start replaces the old one.
                let stop = Arc::new(tokio::sync::Notify::new());
                if let Some(old) = ws_streams().insert(key.clone(), stop.clone()) {
                    old.notify_one();
                }
                tokio::spawn(async move {
                    let mut frames = Box::pin(frames(w));
                    // The client's own rate, paced like the camera's cap (jitter-tolerant).
                    let mut pacer = camera::pace::Pacer::new();
                    let t0 = Instant::now();
                    use futures_util::StreamExt;
                    loop {
                        let next = tokio::select! {
                            f = frames.next() => f,
                            _ = peer.closed() => None,
                            _ = stop.notified() => None,
                        };
                        let Some(jpeg) = next else { break };
                        let t = t0.elapsed().as_nanos() as u64;
                        if !pacer.admit(t, fps as u32) || !peer.has_room() {
                            continue;
                        }
                        let b64 = B64.encode(&jpeg);
                        let msg = json!({"function": "video_stream", "camidx": camidx, "code": "0", "message": "", "image_base64": b64});
                        if !peer.push(&msg) {
                            break;
                        }
                    }
                    let mut streams = ws_streams();
                    if streams.get(&key).is_some_and(|s| Arc::ptr_eq(s, &stop)) {
                        streams.remove(&key);
                    }
                });
                Ok(Reply::ok().with("camidx", Value::String(req.fields().str("camidx").unwrap_or_else(|| "0".into()))))
            }
        }),
    );
}

type StreamKey = (u64, String);

/// Running `video_stream` pushes by (connection id, camidx), to stop them.
fn ws_streams(
) -> std::sync::MutexGuard<'static, std::collections::HashMap<StreamKey, Arc<tokio::sync::Notify>>>
{
    static STREAMS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<StreamKey, Arc<tokio::sync::Notify>>>,
    > = std::sync::OnceLock::new();
    STREAMS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}
