//! Multi-page documents from images, for `imagepro=merge2pdf`, `merge2tif` and `merge2ofd`
//! (vendor 6.1). Pure: image bytes in, document bytes out.
//!
//! - PDF: a JPEG source is embedded as it is (DCTDecode passthrough, no re-encoding); other
//!   sources are decoded and embedded losslessly (Flate, alpha as a soft mask).
//! - TIFF: one page per source; JPEG compression for colour and grey pages (a baseline JPEG
//!   source is embedded as it is), CCITT G4 for black-and-white pages.
//! - OFD (GB/T 33190-2016): a zip container with OFD.xml, Document.xml, DocumentRes.xml, one
//!   Content.xml per page and the images as resources.
//!
//! Page sizes follow each image's resolution (JFIF, EXIF, PNG pHYs, TIFF tags; 200 dpi when the
//! image states none).

pub mod ofd;
pub mod pdf;
pub mod source;
pub mod tiff;
mod zip;

pub use source::{Source, SourceKind};

/// Resolution assumed when an image does not state one.
pub const DEFAULT_DPI: f32 = 200.0;

/// Failures of document building.
#[derive(Debug, Clone, PartialEq)]
pub enum DocError {
    /// No pages were given.
    Empty,
    /// Source `index` (0-based) is not a usable image.
    BadSource { index: usize, detail: String },
    /// Building the document failed.
    Build(String),
}

impl std::fmt::Display for DocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocError::Empty => write!(f, "no source images"),
            DocError::BadSource { index, detail } => {
                write!(f, "source image {} is not usable: {detail}", index + 1)
            }
            DocError::Build(e) => write!(f, "cannot build the document: {e}"),
        }
    }
}

impl std::error::Error for DocError {}

/// The one place document errors become vendor codes.
impl From<DocError> for apierror::ApiError {
    fn from(e: DocError) -> apierror::ApiError {
        use apierror::{ApiError, ErrorKind, Text};
        match e {
            DocError::Empty => ApiError::invalid(
                "source_image",
                Text::new(
                    "图像数组为空：至少需要一张图像",
                    "the image array is empty: at least one image is needed",
                ),
            ),
            DocError::BadSource { index, detail } => ApiError::with(
                ErrorKind::InvalidParam,
                Text::new(
                    format!("第 {} 张图像无法使用：{detail}", index + 1),
                    format!("image {} is not usable: {detail}", index + 1),
                ),
            ),
            DocError::Build(d) => ApiError::internal(d),
        }
    }
}

/// Inspect every source (in order), failing on the first unusable one.
pub fn inspect_all(sources: &[Vec<u8>]) -> Result<Vec<Source<'_>>, DocError> {
    if sources.is_empty() {
        return Err(DocError::Empty);
    }
    sources
        .iter()
        .enumerate()
        .map(|(index, data)| {
            Source::inspect(data).map_err(|detail| DocError::BadSource { index, detail })
        })
        .collect()
}
