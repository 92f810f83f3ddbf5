//! BER-TLV and data object lists from cards.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for t in cards::tlv::parse(data) {
        let _ = t.constructed();
    }
    let _ = cards::tlv::find(data, 0x5A);
    let _ = cards::tlv::find(data, 0x9F4D);
    let _ = cards::tlv::find_all(data, 0x61);
    let _ = cards::tlv::parse_dol(data);
});
