//! The resident ID card photo (WLT, 1024 bytes) is compressed with a proprietary codec; vendors
//! ship a licensed decoder library. This loads one at run time. The common Linux interface:
//! `int unpack(char *wlt, char *bmp, int save)`, 1 on success, writing a 102x126 24-bit BMP
//! (38862 bytes) into `bmp`.

use std::path::Path;

/// A loaded decoder.
pub struct WltDecoder {
    unpack: unsafe extern "C" fn(*const u8, *mut u8, i32) -> i32,
}

// SAFETY: the function pointer is called with our own buffers only; callers serialise calls
// (the ID card reader's lock).
unsafe impl Send for WltDecoder {}
unsafe impl Sync for WltDecoder {}

/// Size of the BMP the decoder writes (102x126, 24 bits, rows padded to 4 bytes, headers).
pub const BMP_LEN: usize = 38862;

impl WltDecoder {
    /// Load the library at `path` and find its `unpack` function.
    pub fn load(path: &Path) -> Result<WltDecoder, String> {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|e| e.to_string())?;
        // SAFETY: dlopen/dlsym with valid C strings; the library stays loaded for the process.
        unsafe {
            let h = libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            if h.is_null() {
                let e = libc::dlerror();
                return Err(if e.is_null() {
                    "dlopen failed".into()
                } else {
                    std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
                });
            }
            let sym = libc::dlsym(h, c"unpack".as_ptr());
            if sym.is_null() {
                return Err("the library has no `unpack` function".into());
            }
            Ok(WltDecoder {
                unpack: std::mem::transmute::<
                    *mut libc::c_void,
                    unsafe extern "C" fn(*const u8, *mut u8, i32) -> i32,
                >(sym),
            })
        }
    }

    /// Decode a 1024-byte WLT photo into the decoder's BMP.
    pub fn unpack(&self, wlt: &[u8]) -> Result<Vec<u8>, String> {
        if wlt.len() != 1024 {
            return Err(format!("photo data of {} bytes", wlt.len()));
        }
        let mut out = vec![0u8; 64 * 1024];
        // SAFETY: 1024 bytes in, a buffer far larger than the 38862-byte BMP out.
        let ok = unsafe { (self.unpack)(wlt.as_ptr(), out.as_mut_ptr(), 0) };
        if ok != 1 {
            return Err(format!("the decoder returned {ok}"));
        }
        // The BMP's own size field says how much was written.
        let len = u32::from_le_bytes([out[2], out[3], out[4], out[5]]) as usize;
        out.truncate(if (54..=out.len()).contains(&len) {
            len
        } else {
            BMP_LEN
        });
        Ok(out)
    }
}
