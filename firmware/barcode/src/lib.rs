//! Reading barcodes and 2D codes (vendor 6.3 `imagepro=barcode`) with zxing-cpp.
//!
//! Every symbology zxing-cpp reads: QR Code (Micro QR, rMQR), Data Matrix, PDF417 (MicroPDF417),
//! Aztec, MaxiCode, EAN-13/8, UPC-A/E, Code 128/39/93, Codabar, ITF, GS1 DataBar, DX film edge.
//! Several codes in one picture are all reported. The reader tries harder, rotated, inverted and
//! downscaled copies (the library's defaults), so light codes on dark ground and large photos of
//! small codes are read too.

mod ffi;

use std::collections::HashSet;

use image::GrayImage;

// The library is built and linked by this crate.
use zxingcpp as _;

/// One code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The symbology by its ZXing name (QR_CODE, CODE_128, EAN_13 ...).
    pub kind: String,
    /// The decoded text.
    pub text: String,
}

/// Where to look, as fractions of the picture (the vendor's `roi`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    pub top: f32,
    pub left: f32,
    pub bottom: f32,
    pub right: f32,
}

impl Roi {
    /// The region in pixels, or None when it is empty or outside the 0..1 range.
    pub fn pixels(&self, w: u32, h: u32) -> Option<(u32, u32, u32, u32)> {
        let ok = |v: f32| v.is_finite() && (0.0..=1.0).contains(&v);
        if !(ok(self.top) && ok(self.left) && ok(self.bottom) && ok(self.right)) {
            return None;
        }
        let x0 = (self.left * w as f32).floor() as u32;
        let y0 = (self.top * h as f32).floor() as u32;
        let x1 = ((self.right * w as f32).ceil() as u32).min(w);
        let y1 = ((self.bottom * h as f32).ceil() as u32).min(h);
        (x1 > x0 + 1 && y1 > y0 + 1).then(|| (x0, y0, x1 - x0, y1 - y0))
    }
}

/// The name users know for a zxing-cpp format code (ZXing's names: QR_CODE, CODE_128 ...).
pub fn kind_name(format: u32) -> String {
    let name = match format {
        0x2046 => "CODABAR",
        0x2041 | 0x7341 | 0x6541 => "CODE_39",
        0x3241 => "CODE_32",
        0x7041 => "PZN",
        0x2047 => "CODE_93",
        0x2043 => "CODE_128",
        0x2049 => "ITF",
        0x3449 => "ITF_14",
        0x2065 | 0x6F65 | 0x7365 | 0x4F65 => "RSS_14",
        0x6C65 => "RSS_LIMITED",
        0x6565 | 0x4565 => "RSS_EXPANDED",
        0x3145 => "EAN_13",
        0x3845 => "EAN_8",
        0x3545 => "EAN_5",
        0x3245 => "EAN_2",
        0x6945 => "ISBN",
        0x6145 => "UPC_A",
        0x6545 => "UPC_E",
        0x2042 | 0x3042 | 0x3142 => "TELEPEN",
        0x7858 => "DX_FILM_EDGE",
        0x204C | 0x634C => "PDF_417",
        0x6D4C => "MICRO_PDF_417",
        0x207A | 0x637A => "AZTEC",
        0x727A => "AZTEC_RUNE",
        0x2051 | 0x3151 | 0x3251 => "QR_CODE",
        0x6D51 => "MICRO_QR_CODE",
        0x7251 => "RMQR_CODE",
        0x2064 => "DATA_MATRIX",
        0x2055 => "MAXICODE",
        other => {
            // SAFETY: the library returns a fresh string for any format value.
            let s = unsafe { ffi::take_string(ffi::ZXing_BarcodeFormatToString(other)) };
            return s.to_ascii_uppercase().replace(['-', ' '], "_");
        }
    };
    name.to_string()
}

/// Grey from colour with the BT.601 weights (what cameras and most image tools use for luma).
pub fn luma(img: &image::RgbImage) -> GrayImage {
    let (w, h) = img.dimensions();
    let data = img
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8
        })
        .collect();
    GrayImage::from_raw(w, h, data).expect("same size")
}

/// Every code in a grey picture (empty when there is none). Errors of the library are
/// reported as text.
pub fn read(img: &GrayImage) -> Result<Vec<Code>, String> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Ok(Vec::new());
    }
    let (Ok(wi), Ok(hi)) = (i32::try_from(w), i32::try_from(h)) else {
        return Err("picture too large".into());
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    // SAFETY: the image view borrows `img`, which outlives every object created here; every
    // object is deleted once, and returned strings are freed by `take_string`.
    unsafe {
        let iv =
            ffi::ZXing_ImageView_new(img.as_raw().as_ptr(), wi, hi, ffi::IMAGE_FORMAT_LUM, wi, 1);
        if iv.is_null() {
            return Err(ffi::take_string(ffi::ZXing_LastErrorMsg()));
        }
        let opts = ffi::ZXing_ReaderOptions_new();
        ffi::ZXing_ReaderOptions_setTextMode(opts, ffi::TEXT_MODE_PLAIN);
        let found = ffi::ZXing_ReadBarcodes(iv, opts);
        ffi::ZXing_ReaderOptions_delete(opts);
        ffi::ZXing_ImageView_delete(iv);
        if found.is_null() {
            return Err(ffi::take_string(ffi::ZXing_LastErrorMsg()));
        }
        for i in 0..ffi::ZXing_Barcodes_size(found) {
            let b = ffi::ZXing_Barcodes_at(found, i);
            if b.is_null() {
                continue;
            }
            // Binary content may hold NUL bytes, which a C string cannot: its bytes are given
            // one character each (ISO 8859-1), as ZXing does.
            let text = if ffi::ZXing_Barcode_contentType(b) == ffi::CONTENT_BINARY {
                let mut len = 0;
                let bytes = ffi::take_bytes(ffi::ZXing_Barcode_bytes(b, &mut len), len);
                bytes.iter().map(|&c| c as char).collect()
            } else {
                ffi::take_string(ffi::ZXing_Barcode_text(b))
            };
            let code = Code {
                kind: kind_name(ffi::ZXing_Barcode_format(b)),
                text,
            };
            if seen.insert((code.kind.clone(), code.text.clone())) {
                out.push(code);
            }
        }
        ffi::ZXing_Barcodes_delete(found);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roi_fractions() {
        let r = Roi {
            top: 0.1,
            left: 0.2,
            bottom: 0.9,
            right: 0.8,
        };
        assert_eq!(r.pixels(100, 200), Some((20, 20, 60, 160)));
        assert_eq!(
            Roi {
                top: 0.5,
                left: 0.0,
                bottom: 0.5,
                right: 1.0
            }
            .pixels(100, 100),
            None
        );
        assert_eq!(
            Roi {
                top: -0.1,
                left: 0.0,
                bottom: 0.5,
                right: 1.0
            }
            .pixels(100, 100),
            None
        );
        // Reversed sides are empty, not an overflow.
        assert_eq!(
            Roi {
                top: 0.6,
                left: 0.0,
                bottom: 0.4,
                right: 1.0
            }
            .pixels(100, 100),
            None
        );
        assert_eq!(
            Roi {
                top: 0.0,
                left: 0.7,
                bottom: 1.0,
                right: 0.2
            }
            .pixels(100, 100),
            None
        );
    }

    #[test]
    fn blank_picture_has_no_codes() {
        assert!(read(&GrayImage::from_pixel(200, 100, image::Luma([255])))
            .unwrap()
            .is_empty());
        assert!(read(&GrayImage::new(0, 5)).unwrap().is_empty());
    }
}
