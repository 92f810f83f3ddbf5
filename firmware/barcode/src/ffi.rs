//! The few functions of zxing-cpp's C API (ZXingC.h, version 3.1) this crate uses. The library
//! itself is built and linked by the `zxing-cpp` crate; its Rust wrapper is not used because it
//! converts format codes into a Rust enum that lacks some of the codes the library returns.

use std::ffi::{c_char, c_int, c_uint, c_void};

#[repr(C)]
pub struct ImageView {
    _p: [u8; 0],
}
#[repr(C)]
pub struct ReaderOptions {
    _p: [u8; 0],
}
#[repr(C)]
pub struct Barcodes {
    _p: [u8; 0],
}
#[repr(C)]
pub struct Barcode {
    _p: [u8; 0],
}

/// ZXing_TextMode_Plain: the content as ZXing (Java, .NET) gives it, e.g. GS1 element strings
/// as raw digits rather than "(01)...".
pub const TEXT_MODE_PLAIN: c_uint = 0;

/// ZXing_ContentType_Binary: the symbol holds bytes, not text.
pub const CONTENT_BINARY: c_uint = 1;

/// ZXing_ImageFormat_Lum: one byte per pixel.
pub const IMAGE_FORMAT_LUM: c_uint = 0x0100_0000;

extern "C" {
    pub fn ZXing_ImageView_new(
        data: *const u8,
        width: c_int,
        height: c_int,
        format: c_uint,
        row_stride: c_int,
        pix_stride: c_int,
    ) -> *mut ImageView;
    pub fn ZXing_ImageView_delete(iv: *mut ImageView);
    pub fn ZXing_ReaderOptions_new() -> *mut ReaderOptions;
    pub fn ZXing_ReaderOptions_delete(opts: *mut ReaderOptions);
    pub fn ZXing_ReaderOptions_setTextMode(opts: *mut ReaderOptions, mode: c_uint);
    pub fn ZXing_ReadBarcodes(iv: *const ImageView, opts: *const ReaderOptions) -> *mut Barcodes;
    pub fn ZXing_Barcodes_delete(b: *mut Barcodes);
    pub fn ZXing_Barcodes_size(b: *const Barcodes) -> c_int;
    pub fn ZXing_Barcodes_at(b: *const Barcodes, i: c_int) -> *const Barcode;
    pub fn ZXing_Barcode_format(b: *const Barcode) -> c_uint;
    pub fn ZXing_Barcode_text(b: *const Barcode) -> *mut c_char;
    pub fn ZXing_Barcode_contentType(b: *const Barcode) -> c_uint;
    pub fn ZXing_Barcode_bytes(b: *const Barcode, len: *mut c_int) -> *mut u8;
    pub fn ZXing_BarcodeFormatToString(format: c_uint) -> *mut c_char;
    pub fn ZXing_LastErrorMsg() -> *mut c_char;
    pub fn ZXing_free(p: *mut c_void);
}

/// Take a string the library allocated (and free it).
///
/// # Safety
/// `p` is null or a NUL-terminated string from the library, not used afterwards.
pub unsafe fn take_string(p: *mut c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    let s = std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
    ZXing_free(p as *mut c_void);
    s
}

/// Take a byte buffer the library allocated (and free it).
///
/// # Safety
/// `p` is null or a buffer of `len` bytes from the library, not used afterwards.
pub unsafe fn take_bytes(p: *mut u8, len: c_int) -> Vec<u8> {
    if p.is_null() {
        return Vec::new();
    }
    let v = std::slice::from_raw_parts(p, len.max(0) as usize).to_vec();
    ZXing_free(p as *mut c_void);
    v
}
