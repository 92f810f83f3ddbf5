//! The vendor URL grammar: any request target a page can send.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first '?' splits path and query, as the HTTP layer does.
    let (path, query) = match text.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (text, None),
    };
    let t = api::url::parse_target(path, query);
    if let Some(e) = &t.endpoint {
        assert!(!e.group.is_empty());
    }
});
