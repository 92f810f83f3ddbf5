//! Shared camera types: roles, formats, modes, errors.

use std::fmt;

use apierror::{ApiError, ErrorKind, Text};

/// The vendor's camera roles. `camidx` "0", "1", "2"; the infrared pair has no camidx in the
/// vendor API (it shows in `video=status` as videoIR1/videoIR2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Document,
    Portrait,
    Portrait2,
    Ir1,
    Ir2,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Document,
        Role::Portrait,
        Role::Portrait2,
        Role::Ir1,
        Role::Ir2,
    ];

    /// From a camidx: "0", "1", "2" (and "3"/"4" or "ir1"/"ir2" for the infrared cameras).
    pub fn from_camidx(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "" => Some(Role::Document),
            "1" => Some(Role::Portrait),
            "2" => Some(Role::Portrait2),
            "3" | "ir1" | "videoir1" => Some(Role::Ir1),
            "4" | "ir2" | "videoir2" => Some(Role::Ir2),
            _ => None,
        }
    }

    /// The key in `video=status`.
    pub fn status_key(self) -> &'static str {
        match self {
            Role::Document => "video0",
            Role::Portrait => "video1",
            Role::Portrait2 => "video2",
            Role::Ir1 => "videoIR1",
            Role::Ir2 => "videoIR2",
        }
    }

    /// The configuration key naming the device for this role.
    pub fn config_key(self) -> &'static str {
        match self {
            Role::Document => "document",
            Role::Portrait => "portrait",
            Role::Portrait2 => "portrait2",
            Role::Ir1 => "ir1",
            Role::Ir2 => "ir2",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.status_key())
    }
}

/// Pixel formats the daemon captures in (the vendor's "video types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Motion JPEG: each frame a JPEG.
    Mjpg,
    /// YUYV 4:2:2 packed.
    Yuy2,
}

impl PixelFormat {
    pub fn vendor_name(self) -> &'static str {
        match self {
            PixelFormat::Mjpg => "MJPG",
            PixelFormat::Yuy2 => "YUY2",
        }
    }

    pub fn parse(s: &str) -> Option<PixelFormat> {
        match s.trim().to_ascii_uppercase().as_str() {
            "MJPG" | "MJPEG" | "JPEG" | "JPG" => Some(PixelFormat::Mjpg),
            "YUY2" | "YUYV" => Some(PixelFormat::Yuy2),
            _ => None,
        }
    }

    pub fn fourcc(self) -> [u8; 4] {
        match self {
            PixelFormat::Mjpg => *b"MJPG",
            PixelFormat::Yuy2 => *b"YUYV",
        }
    }

    /// GStreamer caps of this format.
    pub fn caps(self, w: u32, h: u32) -> String {
        match self {
            PixelFormat::Mjpg => format!("image/jpeg,width={w},height={h}"),
            PixelFormat::Yuy2 => format!("video/x-raw,format=YUY2,width={w},height={h}"),
        }
    }
}

/// A frame size with the frame rates the device offers at it.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeInfo {
    pub width: u32,
    pub height: u32,
    /// Frame rates in frames per second, highest first (empty = unknown).
    pub fps: Vec<f64>,
}

/// One pixel format a device offers.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatInfo {
    pub format: PixelFormat,
    /// Largest first.
    pub sizes: Vec<SizeInfo>,
}

/// What a pipeline captures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mode {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    /// Requested frame rate (0 = the device's default).
    pub fps: f64,
}

/// Failures of the camera subsystem.
#[derive(Debug, Clone, PartialEq)]
pub enum CamError {
    /// No device has this role (not connected).
    NotConnected(Role),
    /// The device is there but could not be opened or keeps failing.
    Device(String),
    /// Opened, but no frame arrived in time.
    NoFrames(Role),
    /// The requested resolution is not offered; the valid ones are listed.
    BadResolution { valid: Vec<String> },
    /// The requested video type is not offered.
    BadFormat { valid: Vec<&'static str> },
    /// An unknown property name.
    UnknownProperty(String),
    /// A property value that is not a number.
    BadValue(String),
    /// A preview rotation that is not a multiple of 90 degrees.
    BadRotation(i64),
    /// Something that should not fail did.
    Internal(String),
}

impl fmt::Display for CamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CamError::NotConnected(r) => write!(f, "camera {r} is not connected"),
            CamError::Device(e) => write!(f, "camera device error: {e}"),
            CamError::NoFrames(r) => write!(f, "camera {r} delivers no frames"),
            CamError::BadResolution { valid } => {
                write!(f, "resolution not supported; valid: {}", valid.join("|"))
            }
            CamError::BadFormat { valid } => {
                write!(f, "video type not supported; valid: {}", valid.join(", "))
            }
            CamError::UnknownProperty(p) => write!(f, "unknown property {p}"),
            CamError::BadValue(v) => write!(f, "not a number: {v}"),
            CamError::BadRotation(d) => write!(f, "rotation {d} is not a multiple of 90"),
            CamError::Internal(e) => write!(f, "internal camera error: {e}"),
        }
    }
}

impl std::error::Error for CamError {}

/// The one place camera errors become vendor codes.
impl From<CamError> for ApiError {
    fn from(e: CamError) -> ApiError {
        match e {
            CamError::NotConnected(r) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("摄像头 {} 未连接", r.status_key()),
                    format!("camera {} is not connected", r.status_key()),
                ),
            ),
            CamError::Device(d) => ApiError::with(ErrorKind::DeviceUnavailable, Text::same(d)),
            CamError::NoFrames(r) => ApiError::with(
                ErrorKind::NoData,
                Text::new(
                    format!("摄像头 {} 没有输出图像", r.status_key()),
                    format!("camera {} delivers no frames", r.status_key()),
                ),
            ),
            CamError::BadResolution { valid } => ApiError::invalid(
                "resolution",
                Text::new(
                    format!("设备不支持该分辨率，可用：{}", valid.join("|")),
                    format!("not supported by the camera; valid: {}", valid.join("|")),
                ),
            ),
            CamError::BadFormat { valid } => ApiError::invalid(
                "video_type",
                Text::new(
                    format!("设备不支持该格式，可用：{}", valid.join("、")),
                    format!("not supported by the camera; valid: {}", valid.join(", ")),
                ),
            ),
            CamError::UnknownProperty(p) => ApiError::invalid(
                "key",
                Text::new(format!("未知的属性 {p}"), format!("unknown property {p}")),
            ),
            CamError::BadValue(v) => ApiError::invalid(
                "value",
                Text::new(format!("不是数字：{v}"), format!("not a number: {v}")),
            ),
            CamError::BadRotation(d) => ApiError::invalid(
                "rotate",
                Text::new(
                    format!("旋转角度 {d} 不是 90 的倍数"),
                    format!("{d} is not a multiple of 90 degrees"),
                ),
            ),
            CamError::Internal(e) => ApiError::internal(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, CamError>;
