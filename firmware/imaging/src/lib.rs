//! Pure image processing (bytes and pixels in, bytes and pixels out; no I/O): document
//! detection and perspective correction, the vendor's processing options, colour modes,
//! watermarks, JPEG with DPI under a size cap, merging.

pub mod cardface;
pub mod codec;
pub mod detect;
pub mod geometry;
pub mod merge;
pub mod ops;
pub mod process;
pub mod watermark;

pub use image::RgbImage;

use std::sync::atomic::{AtomicU64, Ordering};

/// Largest image (pixels) decoded or produced unless the daemon sets another ceiling.
pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;

static MAX_PIXELS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_PIXELS);

/// The pixel ceiling: no source is decoded and no output is made above it.
pub fn max_pixels() -> u64 {
    MAX_PIXELS.load(Ordering::Relaxed)
}

/// Set the pixel ceiling (from the configuration, at start).
pub fn set_max_pixels(n: u64) {
    MAX_PIXELS.store(n.max(1), Ordering::Relaxed);
}

/// Failures of image processing.
#[derive(Debug, Clone, PartialEq)]
pub enum ImgError {
    /// The input is not a decodable image.
    Decode(String),
    Encode(String),
    /// An option that cannot be applied (rotate 45, a rectangle outside the image ...).
    Invalid(String),
    /// A function this firmware does not have (book flattening, face crop).
    NotAvailable(String),
    /// An image over the pixel ceiling.
    TooLarge(String),
}

impl std::fmt::Display for ImgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImgError::Decode(e) => write!(f, "cannot decode the image: {e}"),
            ImgError::Encode(e) => write!(f, "cannot encode the image: {e}"),
            ImgError::Invalid(e) => write!(f, "{e}"),
            ImgError::NotAvailable(e) => write!(f, "{e}"),
            ImgError::TooLarge(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ImgError {}

/// The one place image errors become vendor codes.
impl From<ImgError> for apierror::ApiError {
    fn from(e: ImgError) -> apierror::ApiError {
        use apierror::{ApiError, ErrorKind, Text};
        match e {
            ImgError::Decode(d) => ApiError::with(
                ErrorKind::InvalidParam,
                Text::new(
                    format!("图像数据无法解码：{d}"),
                    format!("image data cannot be decoded: {d}"),
                ),
            ),
            // The details are worded in English; the Chinese message says what kind of failure
            // it is and carries the detail.
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
}
