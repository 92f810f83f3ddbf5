//! Real cameras: V4L2 capture devices (UVC document and portrait cameras), enumerated from /dev,
//! controlled through V4L2 ioctls, captured by GStreamer's v4l2src.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use v4l::control::{Control, Flags as CtrlFlags, Type as CtrlType, Value};
use v4l::format::FourCC;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::video::Capture;
use v4l::Device;

use crate::controls::{ControlAccess, ControlInfo};
use crate::device::{CameraDevice, Identity};
use crate::types::{CamError, FormatInfo, Mode, PixelFormat, Result, SizeInfo};

/// Common sizes offered when a device reports a continuous/stepwise range.
const STEPWISE_SIZES: &[(u32, u32)] = &[
    (4208, 3120),
    (3264, 2448),
    (2592, 1944),
    (2048, 1536),
    (1920, 1080),
    (1600, 1200),
    (1280, 960),
    (1280, 720),
    (1024, 768),
    (800, 600),
    (640, 480),
    (640, 360),
    (320, 240),
];

pub struct V4l2Camera {
    path: PathBuf,
    identity: Identity,
    formats: Vec<FormatInfo>,
    controls: HashMap<u32, ControlInfo>,
}

impl V4l2Camera {
    /// Open `path` and read what it offers. `None` if it is not a video capture node with MJPG or
    /// YUYV (metadata nodes, encoders, output devices are skipped).
    pub fn probe(path: &Path) -> Option<V4l2Camera> {
        let dev = Device::with_path(path).ok()?;
        let caps = dev.query_caps().ok()?;
        let descs = dev.enum_formats().ok()?;
        let mut formats = Vec::new();
        for pf in [PixelFormat::Mjpg, PixelFormat::Yuy2] {
            let fcc = FourCC::new(&pf.fourcc());
            if !descs.iter().any(|d| d.fourcc == fcc) {
                continue;
            }
            let sizes = frame_sizes(&dev, fcc);
            if !sizes.is_empty() {
                formats.push(FormatInfo { format: pf, sizes });
            }
        }
        if formats.is_empty() {
            return None;
        }
        let controls = read_controls(&dev);
        let identity = Identity {
            key: path.display().to_string(),
            card: caps.card.clone(),
            bus: caps.bus.clone(),
            usb_id: usb_id(path),
            links: links_to(path),
        };
        Some(V4l2Camera {
            path: path.to_path_buf(),
            identity,
            formats,
            controls,
        })
    }

    fn open(&self) -> Result<Device> {
        Device::with_path(&self.path)
            .map_err(|e| CamError::Device(format!("{}: {e}", self.path.display())))
    }
}

/// /dev/videoN nodes, in numeric order.
pub fn video_nodes(dev_dir: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<(u32, PathBuf)> = std::fs::read_dir(dev_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: u32 = name.strip_prefix("video")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

fn frame_sizes(dev: &Device, fcc: FourCC) -> Vec<SizeInfo> {
    let mut out: Vec<SizeInfo> = Vec::new();
    let Ok(list) = dev.enum_framesizes(fcc) else {
        return out;
    };
    let mut sizes = Vec::new();
    for fs in list {
        match fs.size {
            FrameSizeEnum::Discrete(d) => sizes.push((d.width, d.height)),
            FrameSizeEnum::Stepwise(s) => {
                for &(w, h) in STEPWISE_SIZES {
                    if (s.min_width..=s.max_width).contains(&w)
                        && (s.min_height..=s.max_height).contains(&h)
                        && (s.step_width <= 1 || (w - s.min_width) % s.step_width == 0)
                        && (s.step_height <= 1 || (h - s.min_height) % s.step_height == 0)
                    {
                        sizes.push((w, h));
                    }
                }
            }
        }
    }
    for (w, h) in sizes {
        if out.iter().any(|s| s.width == w && s.height == h) {
            continue;
        }
        let mut fps: Vec<f64> = dev
            .enum_frameintervals(fcc, w, h)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|fi| match fi.interval {
                FrameIntervalEnum::Discrete(f) if f.numerator > 0 => {
                    Some(f.denominator as f64 / f.numerator as f64)
                }
                FrameIntervalEnum::Stepwise(s) if s.min.numerator > 0 => {
                    Some(s.min.denominator as f64 / s.min.numerator as f64)
                }
                _ => None,
            })
            .collect();
        fps.sort_by(|a, b| b.total_cmp(a));
        fps.dedup();
        out.push(SizeInfo {
            width: w,
            height: h,
            fps,
        });
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.width as u64 * s.height as u64));
    out
}

fn read_controls(dev: &Device) -> HashMap<u32, ControlInfo> {
    let mut map = HashMap::new();
    for d in dev.query_controls().unwrap_or_default() {
        if !matches!(
            d.typ,
            CtrlType::Integer | CtrlType::Boolean | CtrlType::Menu | CtrlType::Integer64
        ) {
            continue;
        }
        if d.flags.contains(CtrlFlags::DISABLED) {
            continue;
        }
        map.insert(
            d.id,
            ControlInfo {
                id: d.id,
                min: d.minimum,
                max: d.maximum,
                step: d.step as i64,
                default: d.default,
                read_only: d.flags.contains(CtrlFlags::READ_ONLY),
            },
        );
    }
    map
}

/// USB vendor:product of a /dev/videoN, from sysfs.
fn usb_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let dev = std::fs::canonicalize(format!("/sys/class/video4linux/{name}/device")).ok()?;
    // The interface directory's parent is the USB device.
    for dir in [dev.clone(), dev.parent()?.to_path_buf()] {
        let v = std::fs::read_to_string(dir.join("idVendor")).ok();
        let p = std::fs::read_to_string(dir.join("idProduct")).ok();
        if let (Some(v), Some(p)) = (v, p) {
            return Some(format!("{}:{}", v.trim(), p.trim()));
        }
    }
    None
}

/// Names in /dev/v4l/by-id and /dev/v4l/by-path that resolve to `path`.
fn links_to(path: &Path) -> Vec<String> {
    let Ok(target) = std::fs::canonicalize(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dir in ["/dev/v4l/by-id", "/dev/v4l/by-path"] {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if std::fs::canonicalize(e.path()).ok().as_ref() == Some(&target) {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

impl ControlAccess for V4l2Camera {
    fn query(&self, id: u32) -> Option<ControlInfo> {
        self.controls.get(&id).copied().filter(|c| !c.read_only)
    }

    fn get(&self, id: u32) -> Result<i64> {
        let c = self
            .open()?
            .control(id)
            .map_err(|e| CamError::Device(format!("get control {id:#x}: {e}")))?;
        Ok(match c.value {
            Value::Integer(v) => v,
            Value::Boolean(b) => b as i64,
            _ => 0,
        })
    }

    fn set(&self, id: u32, value: i64) -> Result<()> {
        self.open()?
            .set_control(Control {
                id,
                value: Value::Integer(value),
            })
            .map_err(|e| CamError::Device(format!("set control {id:#x} = {value}: {e}")))
    }
}

impl CameraDevice for V4l2Camera {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn formats(&self) -> &[FormatInfo] {
        &self.formats
    }

    fn source_fragment(&self, _mode: &Mode) -> String {
        format!(
            "v4l2src device=\"{}\" do-timestamp=true",
            self.path.display()
        )
    }

    fn present(&self) -> bool {
        self.path.exists()
    }
}
