//! One GStreamer pipeline per open camera:
//!
//! ```text
//! source ! caps ! tee ─ appsink full                          (every full-resolution frame)
//!                     └ queue(leaky) ! valve ·pace· ! decode ! scale ! encode ! appsink preview
//! source ! caps ! appsink full ·pace· → preview               (MJPEG at the preview size)
//! ```
//!
//! MJPEG at the preview size is its own preview: one appsink, no tee, no queue, and the full
//! frame's bytes are published as the preview frame too (shared, not copied). Otherwise the
//! preview branch decodes, scales and encodes, with the board's hardware elements (v4l2jpegdec,
//! v4l2convert, v4l2jpegenc) when they exist, else software; the valve keeps it idle while nobody
//! watches. Either way the camera's frame-rate cap (the hub's, read on every frame without a
//! lock) is applied once, before any preview work (`pace`): the only cap on preview frames.
//! The full-resolution appsink runs in the capture thread (publishing never waits).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::device::{CameraDevice, SourceGuard};
use crate::hub::{FrameKind, Hub};
use crate::pace::Pacer;
use crate::types::{CamError, Mode, PixelFormat, Result};

/// Initialise GStreamer once.
pub fn init() -> Result<()> {
    static INIT: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(CamError::Internal)
}

fn have(element: &str) -> bool {
    gst::ElementFactory::find(element).is_some()
}

/// Which codec elements the preview branch uses (chosen at run time).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewCodecs {
    pub decoder: &'static str,
    pub scaler: &'static str,
    pub encoder: &'static str,
    /// The raw format handed to the encoder ("" = negotiated).
    pub raw_format: &'static str,
}

impl PreviewCodecs {
    pub fn detect() -> PreviewCodecs {
        let hw = have("v4l2jpegdec") && have("v4l2jpegenc") && have("v4l2convert");
        if hw {
            PreviewCodecs {
                decoder: "v4l2jpegdec",
                scaler: "v4l2convert",
                encoder: "v4l2jpegenc",
                raw_format: "",
            }
        } else {
            PreviewCodecs {
                decoder: "jpegdec",
                scaler: "videoconvert ! videoscale",
                encoder: "jpegenc quality=80",
                // Planar 4:2:0: libjpeg takes it as it is (raw data), where packed YUYV would be
                // split line by line inside the encoder; 0.75x the encoding time of YUY2.
                raw_format: "I420",
            }
        }
    }
}

/// Preview size of a running pipeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviewSpec {
    /// The preview scaled from the camera's frame, before any rotation.
    pub width: u32,
    pub height: u32,
    /// Rotation of the preview, degrees counter-clockwise: 0, 90, 180 or 270 (`video=rotate`).
    pub rotation: u32,
}

impl PreviewSpec {
    /// Width and height of the preview frames clients get (after the rotation).
    pub fn shown(&self) -> (u32, u32) {
        if self.rotation % 180 == 90 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    /// The `videoflip` step of the rotation ("" for none).
    fn flip(&self) -> &'static str {
        match self.rotation {
            90 => "videoflip video-direction=90l ! ",
            180 => "videoflip video-direction=180 ! ",
            270 => "videoflip video-direction=90r ! ",
            _ => "",
        }
    }
}

/// Build the launch description (exposed for tests and logs).
pub fn describe(
    source: &str,
    mode: &Mode,
    preview: &PreviewSpec,
    codecs: &PreviewCodecs,
) -> String {
    let mut caps = mode.format.caps(mode.width, mode.height);
    if mode.fps > 0.0 {
        caps.push_str(&format!(",framerate={}/1", mode.fps.round() as u32));
    }
    let format = match codecs.raw_format {
        "" => String::new(),
        f => format!(",format={f}"),
    };
    let pcaps = format!(
        "video/x-raw{format},width={},height={}",
        preview.width, preview.height
    );
    let sink = "sync=false async=false max-buffers=1 drop=true enable-last-sample=false";
    if is_passthrough(mode, preview) {
        return format!("{source} ! {caps} ! appsink name=full {sink}");
    }
    let flip = preview.flip();
    let chain = match mode.format {
        PixelFormat::Mjpg => format!(
            "{} ! {} ! {pcaps} ! {flip}{}",
            codecs.decoder, codecs.scaler, codecs.encoder
        ),
        PixelFormat::Yuy2 => format!("{} ! {pcaps} ! {flip}{}", codecs.scaler, codecs.encoder),
    };
    let q = "queue leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0";
    format!(
        "{source} ! {caps} ! tee name=t \
         t. ! appsink name=full {sink} \
         t. ! {q} ! valve name=pvalve drop=true ! {chain} ! appsink name=preview {sink}"
    )
}

/// Whether the camera's frames are already the preview (MJPEG at the preview size).
fn is_passthrough(mode: &Mode, preview: &PreviewSpec) -> bool {
    mode.format == PixelFormat::Mjpg
        && preview.width == mode.width
        && preview.height == mode.height
        && preview.rotation == 0
}

/// Parse a launch description into a pipeline.
fn launch(desc: &str) -> Result<gst::Pipeline> {
    gst::parse::launch(desc)
        .map_err(|e| CamError::Internal(format!("{desc}: {e}")))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| CamError::Internal("not a pipeline".into()))
}

/// The appsink called `name` in a pipeline.
fn appsink(p: &gst::Pipeline, name: &str) -> Result<gst_app::AppSink> {
    p.by_name(name)
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| CamError::Internal(format!("no appsink {name}")))
}

/// A running capture pipeline.
pub struct Pipeline {
    pipeline: gst::Pipeline,
    stop: Arc<AtomicBool>,
    bus_thread: Option<JoinHandle<()>>,
    _guard: Option<SourceGuard>,
    pub mode: Mode,
    pub preview: PreviewSpec,
}

fn mapped_bytes(sample: &gst::Sample) -> Option<Bytes> {
    let buffer = sample.buffer_owned()?;
    let mapped = buffer.into_mapped_buffer_readable().ok()?;
    Some(Bytes::from_owner(mapped))
}

impl Pipeline {
    /// Build and start a pipeline; `on_failure` is called (once, from a helper thread) when the
    /// device fails or the stream ends.
    pub fn start(
        device: &dyn CameraDevice,
        mode: Mode,
        preview: PreviewSpec,
        hub: Arc<Hub>,
        on_failure: Box<dyn FnOnce(String) + Send>,
    ) -> Result<Pipeline> {
        init()?;
        let codecs = PreviewCodecs::detect();
        let desc = describe(&device.source_fragment(&mode), &mode, &preview, &codecs);
        tracing::debug!(%desc, "camera pipeline");
        let pipeline = launch(&desc)?;
        let full = appsink(&pipeline, "full")?;

        let kind_of = move |len: usize| match mode.format {
            PixelFormat::Mjpg => FrameKind::Jpeg,
            PixelFormat::Yuy2 => FrameKind::Yuy2 {
                stride: (len / mode.height.max(1) as usize) as u32,
            },
        };
        let (pw, ph) = preview.shown();
        // Passthrough: the full frame is also the preview frame, when someone watches and the
        // cap lets it through.
        let gate = is_passthrough(&mode, &preview).then(|| Gate::new(hub.clone()));
        let h = hub.clone();
        on_sample(&full, move |pts, b| {
            if let Some(g) = &gate {
                if h.preview_users() > 0 && g.admit(pts) {
                    h.publish_preview(pw, ph, b.clone());
                }
            }
            h.publish_full(kind_of(b.len()), mode.width, mode.height, b);
        });
        if let Ok(prev) = appsink(&pipeline, "preview") {
            let h = hub.clone();
            on_sample(&prev, move |_, b| h.publish_preview(pw, ph, b));
            pace_preview(&pipeline, hub.clone())?;
        }
        let guard = device.start(&pipeline, &mode)?;
        let stop = Arc::new(AtomicBool::new(false));
        let bus = pipeline
            .bus()
            .ok_or_else(|| CamError::Internal("no bus".into()))?;
        let stop2 = stop.clone();
        let bus_thread = std::thread::Builder::new()
            .name("camera-bus".into())
            .spawn(move || {
                let mut on_failure = Some(on_failure);
                while !stop2.load(Ordering::Relaxed) {
                    let Some(msg) = bus.timed_pop_filtered(
                        gst::ClockTime::from_mseconds(200),
                        &[gst::MessageType::Error, gst::MessageType::Eos],
                    ) else {
                        continue;
                    };
                    let why = match msg.view() {
                        gst::MessageView::Error(e) => format!(
                            "{} ({})",
                            e.error(),
                            e.debug().map(|d| d.to_string()).unwrap_or_default()
                        ),
                        _ => "end of stream".to_string(),
                    };
                    if !stop2.load(Ordering::Relaxed) {
                        if let Some(f) = on_failure.take() {
                            f(why);
                        }
                    }
                    break;
                }
            })
            .map_err(|e| CamError::Internal(format!("bus thread: {e}")))?;

        let p = Pipeline {
            pipeline,
            stop,
            bus_thread: Some(bus_thread),
            _guard: guard,
            mode,
            preview,
        };
        p.set_preview_enabled(hub.preview_users() > 0);
        p.pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| CamError::Device(format!("cannot start capture: {e}")))?;
        Ok(p)
    }

    /// Run the preview branch only while someone watches.
    pub fn set_preview_enabled(&self, on: bool) {
        if let Some(v) = self.pipeline.by_name("pvalve") {
            v.set_property("drop", !on);
        }
    }
}

/// Call `f` with each sample's timestamp and mapped bytes (shared, not copied).
fn on_sample(
    sink: &gst_app::AppSink,
    f: impl Fn(Option<gst::ClockTime>, Bytes) + Send + Sync + 'static,
) {
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let pts = sample.buffer().and_then(|b| b.pts());
                if let Some(b) = mapped_bytes(&sample) {
                    f(pts, b);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// The camera's frame-rate cap on preview frames, by their capture timestamps (else the
/// arrival time).
struct Gate {
    hub: Arc<Hub>,
    pacer: std::sync::Mutex<Pacer>,
    start: std::time::Instant,
}

impl Gate {
    fn new(hub: Arc<Hub>) -> Gate {
        Gate {
            hub,
            pacer: std::sync::Mutex::new(Pacer::new()),
            start: std::time::Instant::now(),
        }
    }

    fn admit(&self, pts: Option<gst::ClockTime>) -> bool {
        let t = match pts {
            Some(pts) => pts.nseconds(),
            None => self.start.elapsed().as_nanos() as u64,
        };
        let fps = self.hub.fps_cap();
        self.pacer
            .lock()
            .map(|mut p| p.admit(t, fps))
            .unwrap_or(true)
    }
}

/// The frame-rate cap of the preview branch: a probe behind the valve drops the frames the cap
/// does not let through before they cost any work.
fn pace_preview(pipeline: &gst::Pipeline, hub: Arc<Hub>) -> Result<()> {
    let pad = pipeline
        .by_name("pvalve")
        .and_then(|v| v.static_pad("src"))
        .ok_or_else(|| CamError::Internal("no preview valve".into()))?;
    let gate = Gate::new(hub);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if gate.admit(info.buffer().and_then(|b| b.pts())) {
            gst::PadProbeReturn::Ok
        } else {
            gst::PadProbeReturn::Drop
        }
    });
    Ok(())
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(t) = self.bus_thread.take() {
            let _ = t.join();
        }
    }
}

/// Run a small pipeline (`appsrc name=in` optional, `appsink name=out`) and return the first
/// buffer it produces.
pub fn one_shot(desc: &str, input: Option<Vec<u8>>) -> Result<Bytes> {
    init()?;
    let p = launch(desc)?;
    let sink = appsink(&p, "out")?;
    p.set_state(gst::State::Playing)
        .map_err(|e| CamError::Internal(format!("one-shot pipeline: {e}")))?;
    if let Some(data) = input {
        if let Some(src) = p
            .by_name("in")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        {
            let mut buf = gst::Buffer::from_mut_slice(data);
            if let Some(b) = buf.get_mut() {
                b.set_pts(gst::ClockTime::ZERO);
            }
            let _ = src.push_buffer(buf);
            let _ = src.end_of_stream();
        }
    }
    let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(20));
    let _ = p.set_state(gst::State::Null);
    let sample = sample.ok_or_else(|| CamError::Internal(format!("no output from {desc}")))?;
    let buf = sample
        .buffer_owned()
        .ok_or_else(|| CamError::Internal("empty sample".into()))?;
    let map = buf
        .into_mapped_buffer_readable()
        .map_err(|_| CamError::Internal("unmappable buffer".into()))?;
    Ok(Bytes::from_owner(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_when_mjpeg_at_preview_size() {
        let codecs = PreviewCodecs {
            decoder: "jpegdec",
            scaler: "videoscale",
            encoder: "jpegenc",
            raw_format: "",
        };
        let m = Mode {
            format: PixelFormat::Mjpg,
            width: 640,
            height: 480,
            fps: 15.0,
        };
        let desc = |width, height, rotation| {
            let mode = Mode { width, height, ..m };
            let preview = PreviewSpec {
                width: 640,
                height: 480,
                rotation,
            };
            describe("src", &mode, &preview, &codecs)
        };
        assert_eq!(
            desc(640, 480, 0),
            "src ! image/jpeg,width=640,height=480,framerate=15/1 ! appsink name=full \
             sync=false async=false max-buffers=1 drop=true enable-last-sample=false"
        );
        let d = desc(2592, 1944, 0);
        assert!(
            d.contains("jpegdec ! videoscale ! video/x-raw,width=640,height=480 ! jpegenc"),
            "{d}"
        );
        assert!(!d.contains("videorate"), "{d}");
        // A rotated preview is never a passthrough; the rotation follows the scaling.
        let d = desc(640, 480, 90);
        let rotated = "video/x-raw,width=640,height=480 ! videoflip video-direction=90l ! jpegenc";
        assert!(d.contains(rotated), "{d}");
    }
}
