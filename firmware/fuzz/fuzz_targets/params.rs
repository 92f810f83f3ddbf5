//! Parameter extraction: every accessor a handler uses, on any body and query.
#![no_main]
use api::{ApiRequest, Fields};
use libfuzzer_sys::fuzz_target;

const KEYS: &[&str] = &[
    "camidx", "type", "width", "height", "rotate", "fixed_width", "xdpi", "jpg_quality",
    "max_file_size", "source_image", "source_images", "image_process_info", "watermark",
    "custom_rect", "base64", "filepath", "uuid", "roi", "margin", "fontsize",
];

fn exercise(f: Fields<'_>, depth: usize) {
    for k in KEYS {
        let _ = f.str(k);
        let _ = f.int(k);
        let _ = f.float(k);
        let _ = f.bool(k);
        let _ = f.raw_str(k);
        if let Some(o) = f.object(k) {
            if depth < 3 {
                exercise(Fields(&o), depth + 1);
            }
        }
        if let Some(a) = f.array(k) {
            for v in a.iter().take(8) {
                if let Ok(o) = api::request::expect_object(v, k) {
                    if depth < 3 {
                        exercise(Fields(&o), depth + 1);
                    }
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Body and query separated by the first NUL byte.
    let (body, query) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(body) = api::request::parse_body(body) else {
        return;
    };
    let query = String::from_utf8_lossy(query);
    let target = api::url::parse_target("/param=get", Some(&query));
    let (params, mut body) = ApiRequest::split_body(body.or(target.json), target.params);
    exercise(Fields(&params), 0);
    if let Some(serde_json::Value::Array(a)) = body.take() {
        for v in a.iter().take(8) {
            if let Ok(o) = api::request::expect_object(v, "source_image") {
                exercise(Fields(&o), 1);
            }
        }
    }
});
