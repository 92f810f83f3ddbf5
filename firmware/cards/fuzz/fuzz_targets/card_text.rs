//! ID card text blocks and magnetic stripe swipes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut block = [0x20u8; cards::idcard::TEXT_LEN];
    let n = data.len().min(block.len());
    block[..n].copy_from_slice(&data[..n]);
    let _ = cards::idcard::parse(&block);
    let _ = cards::magstripe::parse_swipe(&String::from_utf8_lossy(data));
});
