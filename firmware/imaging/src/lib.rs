//! Pure image processing (bytes and pixels in, bytes and pixels out; no I/O): document
//! detection and perspective correction, the vendor's processing options, colour modes,
//! watermarks, JPEG with DPI under a size cap, merging.

pub mod codec;
pub mod detect;
pub mod geometry;
pub mod merge;
pub mod ops;
pub mod process;
pub mod synth;
pub mod watermark;

pub use image::RgbImage;

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
}

impl std::fmt::Display for ImgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImgError::Decode(e) => write!(f, "cannot decode the image: {e}"),
            ImgError::Encode(e) => write!(f, "cannot encode the image: {e}"),
            ImgError::Invalid(e) => write!(f, "{e}"),
            ImgError::NotAvailable(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ImgError {}
