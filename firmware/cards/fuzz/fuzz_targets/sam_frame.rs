//! SAM module answers: frame parsing, status words, card data blocks.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((body, used)) = cards::sam::parse(data) {
        assert!(used <= data.len());
        if let Ok((_, rest)) = cards::sam::status(&body) {
            let _ = cards::reader::parse_card(rest, true);
            let _ = cards::reader::parse_card(rest, false);
            let _ = cards::idcard::format_sam_id(rest);
        }
    }
    let _ = cards::reader::parse_card(data, data.first().is_some_and(|b| b & 1 == 1));
});
