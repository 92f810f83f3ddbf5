//! Simulated cameras (`--sim`): real GStreamer sources behind the same pipeline code as the V4L2
//! cameras, with a control table so properties work end to end.
//!
//! - Document camera: a document on a base mat (an image file from the configuration, or a
//!   generated A4 page) at document-camera resolutions in MJPG and YUY2. Like a real MJPEG camera
//!   it delivers ready JPEG frames: the scene is encoded once per size and control setting and then
//!   pushed at the frame rate.
//! - Portrait and infrared cameras: a moving test pattern, encoded live.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use camera::controls::{cid, ControlAccess, ControlInfo};
use camera::device::{CameraDevice, Identity, SourceGuard};
use camera::discovery::{Discovery, Found};
use camera::types::{CamError, FormatInfo, Mode, PixelFormat, Result, Role, SizeInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimKind {
    Document,
    Portrait,
    Infrared,
}

/// Where the simulated document page lies in the frame: corners as fractions of width and height
/// (top-left, top-right, bottom-right, bottom-left). Tests of document detection use it.
pub const DOC_PAGE_CORNERS: [(f64, f64); 4] = [
    (0.300, 0.135),
    (0.700, 0.110),
    (0.725, 0.860),
    (0.322, 0.885),
];

pub struct SimCamera {
    kind: SimKind,
    identity: Identity,
    formats: Vec<FormatInfo>,
    info: HashMap<u32, ControlInfo>,
    ctl: Arc<SimControls>,
    document_image: Option<PathBuf>,
    present: AtomicBool,
    /// The running pipeline's videobalance (live sources), to apply controls at once.
    balance: Mutex<Option<gst::glib::WeakRef<gst::Element>>>,
}

/// Control values, shared with a running document feeder (which re-renders when `version` moves).
struct SimControls {
    kind: SimKind,
    values: Mutex<HashMap<u32, i64>>,
    version: AtomicU64,
}

impl SimControls {
    fn value(&self, id: u32) -> i64 {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    /// videobalance settings (brightness, contrast, saturation, hue) from the controls.
    fn balance(&self) -> (f64, f64, f64, f64) {
        let b = (self.value(cid::BRIGHTNESS) - 128) as f64 / 128.0;
        let c = self.value(cid::CONTRAST) as f64 / 128.0;
        let s = if self.value(cid::COLOR_KILLER) != 0 || self.kind == SimKind::Infrared {
            0.0
        } else {
            self.value(cid::SATURATION) as f64 / 128.0
        };
        let h = self.value(cid::HUE) as f64 / 180.0;
        (
            b.clamp(-1.0, 1.0),
            c.clamp(0.0, 2.0),
            s.clamp(0.0, 2.0),
            h.clamp(-1.0, 1.0),
        )
    }
}

fn size(width: u32, height: u32, fps: &[f64]) -> SizeInfo {
    SizeInfo {
        width,
        height,
        fps: fps.to_vec(),
    }
}

fn ctl(id: u32, min: i64, max: i64, default: i64) -> (u32, ControlInfo) {
    (id, ControlInfo::simple(id, min, max, default))
}

impl SimCamera {
    pub fn new(kind: SimKind, name: &str, document_image: Option<PathBuf>) -> SimCamera {
        let formats = match kind {
            SimKind::Document => vec![
                FormatInfo {
                    format: PixelFormat::Mjpg,
                    sizes: vec![
                        size(3264, 2448, &[10.0]),
                        size(2592, 1944, &[15.0]),
                        size(2048, 1536, &[15.0]),
                        size(1600, 1200, &[15.0]),
                        size(1280, 960, &[15.0]),
                        size(640, 480, &[15.0]),
                    ],
                },
                FormatInfo {
                    format: PixelFormat::Yuy2,
                    sizes: vec![size(1280, 960, &[5.0]), size(640, 480, &[15.0])],
                },
            ],
            SimKind::Portrait | SimKind::Infrared => vec![
                FormatInfo {
                    format: PixelFormat::Mjpg,
                    sizes: vec![size(1280, 720, &[15.0]), size(640, 480, &[15.0])],
                },
                FormatInfo {
                    format: PixelFormat::Yuy2,
                    sizes: vec![size(640, 480, &[15.0])],
                },
            ],
        };
        let info: HashMap<u32, ControlInfo> = [
            ctl(cid::BRIGHTNESS, 0, 255, 128),
            ctl(cid::CONTRAST, 0, 255, 128),
            ctl(cid::SATURATION, 0, 255, 128),
            ctl(cid::HUE, -180, 180, 0),
            ctl(cid::SHARPNESS, 0, 7, 3),
            ctl(cid::GAMMA, 100, 300, 100),
            ctl(cid::COLOR_KILLER, 0, 1, 0),
            ctl(cid::WHITE_BALANCE_TEMPERATURE, 2800, 6500, 4600),
            ctl(cid::AUTO_WHITE_BALANCE, 0, 1, 1),
            ctl(cid::BACKLIGHT_COMPENSATION, 0, 2, 1),
            ctl(cid::GAIN, 0, 255, 0),
            ctl(cid::AUTOGAIN, 0, 1, 1),
            ctl(cid::EXPOSURE_ABSOLUTE, 1, 5000, 156),
            ctl(cid::EXPOSURE_AUTO, 0, 3, 3),
            ctl(cid::FOCUS_ABSOLUTE, 0, 1023, 0),
            ctl(cid::FOCUS_AUTO, 0, 1, 1),
            ctl(cid::ZOOM_ABSOLUTE, 100, 500, 100),
        ]
        .into_iter()
        .collect();
        let values = info.values().map(|c| (c.id, c.default)).collect();
        SimCamera {
            kind,
            identity: Identity {
                key: format!("sim:{name}"),
                card: format!("Simulated {name} camera"),
                bus: "sim".into(),
                usb_id: None,
                links: Vec::new(),
            },
            formats,
            info,
            ctl: Arc::new(SimControls {
                kind,
                values: Mutex::new(values),
                version: AtomicU64::new(0),
            }),
            document_image,
            present: AtomicBool::new(true),
            balance: Mutex::new(None),
        }
    }

    /// Simulate unplugging (false) and plugging back (true).
    pub fn set_present(&self, present: bool) {
        self.present.store(present, Ordering::Relaxed);
    }

    fn apply_balance(&self, e: &gst::Element) {
        let (b, c, s, h) = self.ctl.balance();
        e.set_property("brightness", b);
        e.set_property("contrast", c);
        e.set_property("saturation", s);
        e.set_property("hue", h);
    }
}

impl ControlAccess for SimCamera {
    fn query(&self, id: u32) -> Option<ControlInfo> {
        self.info.get(&id).copied()
    }

    fn get(&self, id: u32) -> Result<i64> {
        if !self.info.contains_key(&id) {
            return Err(CamError::Device(format!("no control {id:#x}")));
        }
        Ok(self.ctl.value(id))
    }

    fn set(&self, id: u32, value: i64) -> Result<()> {
        let Some(info) = self.info.get(&id) else {
            return Err(CamError::Device(format!("no control {id:#x}")));
        };
        if value < info.min || value > info.max {
            return Err(CamError::Device(format!(
                "control {id:#x}: {value} out of range"
            )));
        }
        self.ctl
            .values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, value);
        self.ctl.version.fetch_add(1, Ordering::Relaxed);
        let live = self
            .balance
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|w| w.upgrade());
        if let Some(e) = live {
            self.apply_balance(&e);
        }
        Ok(())
    }
}

impl CameraDevice for SimCamera {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn formats(&self) -> &[FormatInfo] {
        &self.formats
    }

    fn source_fragment(&self, mode: &Mode) -> String {
        let fps = mode.fps.round().max(1.0) as u32;
        match self.kind {
            SimKind::Document => "appsrc name=simsrc is-live=true format=time do-timestamp=true \
                                  max-buffers=2 leaky-type=downstream"
                .to_string(),
            SimKind::Portrait | SimKind::Infrared => {
                let pattern = if self.kind == SimKind::Portrait {
                    "ball motion=sweep"
                } else {
                    "ball"
                };
                // The pipeline puts the mode's caps right after this fragment.
                let out = match mode.format {
                    PixelFormat::Mjpg => "video/x-raw,format=I420 ! jpegenc quality=85",
                    PixelFormat::Yuy2 => "identity",
                };
                format!(
                    "videotestsrc is-live=true pattern={pattern} background-color=0xff3a4a5a ! \
                     video/x-raw,width={},height={},framerate={fps}/1 ! videoconvert ! \
                     videobalance name=simbal ! videoconvert ! {out}",
                    mode.width, mode.height
                )
            }
        }
    }

    fn start(&self, pipeline: &gst::Pipeline, mode: &Mode) -> Result<Option<SourceGuard>> {
        if let Some(bal) = pipeline.by_name("simbal") {
            self.apply_balance(&bal);
            *self.balance.lock().unwrap_or_else(|p| p.into_inner()) = Some(bal.downgrade());
            return Ok(None);
        }
        let Some(src) = pipeline
            .by_name("simsrc")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        else {
            return Ok(None);
        };
        let fps = mode.fps.round().max(1.0) as u32;
        let caps: gst::Caps = format!(
            "{},framerate={fps}/1",
            mode.format.caps(mode.width, mode.height)
        )
        .parse()
        .map_err(|e| CamError::Internal(format!("caps: {e}")))?;
        src.set_caps(Some(&caps));
        let feeder = Feeder {
            stop: Arc::new(AtomicBool::new(false)),
        };
        let scene = SceneSource {
            mode: *mode,
            image: self.document_image.clone(),
            balance: self.ctl.balance(),
        };
        let (ctl, stop) = (self.ctl.clone(), feeder.stop.clone());
        let interval = Duration::from_secs_f64(1.0 / fps as f64);
        std::thread::Builder::new()
            .name("sim-doc-feeder".into())
            .spawn(move || feed(src, scene, ctl, interval, stop))
            .map_err(|e| CamError::Internal(format!("feeder: {e}")))?;
        Ok(Some(Box::new(feeder)))
    }

    fn present(&self) -> bool {
        self.present.load(Ordering::Relaxed)
    }
}

/// Stops the feeder thread when the pipeline stops.
struct Feeder {
    stop: Arc<AtomicBool>,
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct SceneSource {
    mode: Mode,
    image: Option<PathBuf>,
    balance: (f64, f64, f64, f64),
}

fn feed(
    src: gst_app::AppSrc,
    mut scene: SceneSource,
    ctl: Arc<SimControls>,
    interval: Duration,
    stop: Arc<AtomicBool>,
) {
    let mut version = ctl.version.load(Ordering::Relaxed);
    let mut frame = match render(&scene) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("simulated document camera: {e}");
            return;
        }
    };
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let v = ctl.version.load(Ordering::Relaxed);
        if v != version {
            version = v;
            scene.balance = ctl.balance();
            match render(&scene) {
                Ok(b) => frame = b,
                Err(e) => tracing::warn!("simulated document camera: {e}"),
            }
        }
        if src
            .push_buffer(gst::Buffer::from_slice(frame.clone()))
            .is_err()
        {
            break;
        }
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

/// Encode the document scene for `scene.mode`.
fn render(scene: &SceneSource) -> Result<Bytes> {
    let (w, h) = (scene.mode.width, scene.mode.height);
    let rgb = match &scene.image {
        Some(p) => load_image(p, w, h)?,
        None => document_scene(w, h),
    };
    let (b, c, s, hue) = scene.balance;
    let out = match scene.mode.format {
        // Like a camera's MJPEG: YCbCr 4:2:0.
        PixelFormat::Mjpg => "video/x-raw,format=I420 ! jpegenc quality=90",
        PixelFormat::Yuy2 => "video/x-raw,format=YUY2",
    };
    let desc = format!(
        "appsrc name=in format=time caps=video/x-raw,format=RGB,width={w},height={h},framerate=0/1 ! videoconvert ! \
         videobalance brightness={b} contrast={c} saturation={s} hue={hue} ! videoconvert ! {out} ! appsink name=out"
    );
    camera::pipeline::one_shot(&desc, Some(rgb))
}

fn load_image(path: &std::path::Path, w: u32, h: u32) -> Result<Vec<u8>> {
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! \
         video/x-raw,format=RGB,width={w},height={h} ! appsink name=out",
        path.display()
    );
    let b = camera::pipeline::one_shot(&desc, None)?;
    let stride = ((w * 3 + 3) & !3) as usize;
    if stride == (w * 3) as usize {
        return Ok(b.to_vec());
    }
    // GStreamer pads RGB rows to 4 bytes.
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for row in b.chunks(stride).take(h as usize) {
        out.extend_from_slice(&row[..(w * 3) as usize]);
    }
    Ok(out)
}

/// Fill the convex quadrilateral `q` (pixel coordinates, in order) with `color`.
fn fill_quad(img: &mut [u8], w: u32, h: u32, q: &[(f64, f64); 4], color: [u8; 3]) {
    let ymin = q
        .iter()
        .map(|p| p.1)
        .fold(f64::MAX, f64::min)
        .floor()
        .max(0.0) as u32;
    let ymax = q
        .iter()
        .map(|p| p.1)
        .fold(f64::MIN, f64::max)
        .ceil()
        .min(h as f64) as u32;
    for y in ymin..ymax {
        let yc = y as f64 + 0.5;
        let mut xs: Vec<f64> = Vec::with_capacity(4);
        for i in 0..4 {
            let (a, b) = (q[i], q[(i + 1) % 4]);
            if (a.1 <= yc && b.1 > yc) || (b.1 <= yc && a.1 > yc) {
                xs.push(a.0 + (yc - a.1) / (b.1 - a.1) * (b.0 - a.0));
            }
        }
        if xs.len() < 2 {
            continue;
        }
        let x0 = xs.iter().copied().fold(f64::MAX, f64::min).round().max(0.0) as u32;
        let x1 = xs
            .iter()
            .copied()
            .fold(f64::MIN, f64::max)
            .round()
            .min(w as f64) as u32;
        let row = (y * w * 3) as usize;
        for x in x0..x1 {
            let i = row + (x * 3) as usize;
            img[i..i + 3].copy_from_slice(&color);
        }
    }
}

/// A point inside the page: (u, v) in 0..1 along the page's top and left edges.
fn page_point(c: &[(f64, f64); 4], u: f64, v: f64) -> (f64, f64) {
    let top = (
        c[0].0 + (c[1].0 - c[0].0) * u,
        c[0].1 + (c[1].1 - c[0].1) * u,
    );
    let bot = (
        c[3].0 + (c[2].0 - c[3].0) * u,
        c[3].1 + (c[2].1 - c[3].1) * u,
    );
    (top.0 + (bot.0 - top.0) * v, top.1 + (bot.1 - top.1) * v)
}

/// The generated scene: an A4 page with a title bar, a photo box and lines of "text" on a dark
/// base mat, slightly rotated, at `DOC_PAGE_CORNERS`.
pub fn document_scene(w: u32, h: u32) -> Vec<u8> {
    let mut img = vec![0u8; (w * h * 3) as usize];
    // Base mat with a gentle vertical gradient (uneven light).
    for y in 0..h {
        let t = y as f64 / h as f64;
        let c = [
            (46.0 + 14.0 * t) as u8,
            (52.0 + 12.0 * t) as u8,
            (60.0 + 10.0 * t) as u8,
        ];
        let row = (y * w * 3) as usize;
        for x in 0..w as usize {
            img[row + x * 3..row + x * 3 + 3].copy_from_slice(&c);
        }
    }
    let c = DOC_PAGE_CORNERS.map(|(x, y)| (x * w as f64, y * h as f64));
    fill_quad(&mut img, w, h, &c, [246, 246, 240]);
    let rect = |u0: f64, v0: f64, u1: f64, v1: f64| {
        [
            page_point(&c, u0, v0),
            page_point(&c, u1, v0),
            page_point(&c, u1, v1),
            page_point(&c, u0, v1),
        ]
    };
    fill_quad(&mut img, w, h, &rect(0.08, 0.05, 0.92, 0.10), [40, 80, 160]);
    fill_quad(
        &mut img,
        w,
        h,
        &rect(0.65, 0.14, 0.90, 0.30),
        [150, 120, 100],
    );
    let mut v = 0.14;
    let mut i = 0;
    while v < 0.93 {
        let right = if v < 0.31 {
            0.60
        } else {
            0.92 - (i % 3) as f64 * 0.07
        };
        fill_quad(
            &mut img,
            w,
            h,
            &rect(0.08, v, right, v + 0.012),
            [30, 30, 30],
        );
        v += 0.028;
        i += 1;
    }
    img
}

/// The simulated cameras of `--sim` (`camera.backend = "sim"`): a document camera (camidx 0) and
/// a portrait camera (1); with `all_roles` also a second portrait camera and the infrared pair.
pub struct SimDiscovery {
    cams: Vec<(Role, Arc<SimCamera>)>,
}

impl SimDiscovery {
    /// `document_image`: what the document camera shows (else a generated page).
    pub fn new(document_image: Option<PathBuf>, all_roles: bool) -> SimDiscovery {
        let mut cams = vec![
            (
                Role::Document,
                Arc::new(SimCamera::new(
                    SimKind::Document,
                    "document",
                    document_image,
                )),
            ),
            (
                Role::Portrait,
                Arc::new(SimCamera::new(SimKind::Portrait, "portrait", None)),
            ),
        ];
        if all_roles {
            cams.push((
                Role::Portrait2,
                Arc::new(SimCamera::new(SimKind::Portrait, "portrait2", None)),
            ));
            cams.push((
                Role::Ir1,
                Arc::new(SimCamera::new(SimKind::Infrared, "ir1", None)),
            ));
            cams.push((
                Role::Ir2,
                Arc::new(SimCamera::new(SimKind::Infrared, "ir2", None)),
            ));
        }
        SimDiscovery { cams }
    }

    /// The simulated camera of a role (a test can unplug it with `set_present(false)`).
    pub fn camera(&self, role: Role) -> Option<Arc<SimCamera>> {
        self.cams
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, c)| c.clone())
    }
}

impl Discovery for SimDiscovery {
    fn scan(&self) -> Vec<Found> {
        self.cams
            .iter()
            .filter(|(_, c)| c.present())
            .map(|(role, c)| Found {
                device: c.clone() as Arc<dyn CameraDevice>,
                role: Some(*role),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_has_page_on_mat() {
        let (w, h) = (320, 240);
        let img = document_scene(w, h);
        let px = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            [img[i], img[i + 1], img[i + 2]]
        };
        assert!(px(5, 5)[0] < 80, "mat is dark");
        // A point on the page margin (inside the page, left of the text).
        let (x, y) = page_point(
            &DOC_PAGE_CORNERS.map(|(x, y)| (x * w as f64, y * h as f64)),
            0.04,
            0.5,
        );
        assert!(px(x as u32, y as u32)[0] > 200, "page is light");
    }

    #[test]
    fn renders_jpeg_and_yuy2() {
        let mut scene = SceneSource {
            mode: Mode {
                format: PixelFormat::Mjpg,
                width: 320,
                height: 240,
                fps: 15.0,
            },
            image: None,
            balance: (0.0, 1.0, 1.0, 0.0),
        };
        let jpeg = render(&scene).unwrap();
        assert_eq!(&jpeg[..2], b"\xff\xd8");
        scene.mode.format = PixelFormat::Yuy2;
        let yuy2 = render(&scene).unwrap();
        assert_eq!(yuy2.len(), 320 * 240 * 2);
    }
}
