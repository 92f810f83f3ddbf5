//! Images a page sends: the header probe, the pixel ceiling and the decoders behind it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small ceiling keeps each run's memory low; the check is the same at any ceiling.
    imaging::set_max_pixels(4_000_000);
    let probed = imaging::codec::probe(data);
    match imaging::codec::decode(data) {
        Ok(img) => {
            // What decodes was probed first and is within the ceiling.
            let (_, w, h) = probed.expect("decoded without a readable header");
            assert_eq!(img.dimensions(), (w, h));
            assert!(w as u64 * h as u64 <= 4_000_000);
        }
        Err(_) => {}
    }
});
