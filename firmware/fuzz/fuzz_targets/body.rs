//! Request bodies: the shape check and the tolerant parser (BOM, blanks, double encoding).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let shape_ok = api::request::check_json_shape(data).is_ok();
    match api::request::parse_body(data) {
        // Whatever parses passed the shape check.
        Ok(Some(_)) => assert!(shape_ok || data.starts_with(b"\xEF\xBB\xBF")),
        Ok(None) | Err(_) => {}
    }
});
