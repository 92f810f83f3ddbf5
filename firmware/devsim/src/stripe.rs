//! A simulated magnetic stripe reader: every call sees a card swiped shortly after it (the
//! swipe a bank card's stripe gives, through the same track parser as real readers).

use std::time::Duration;

use cards::magstripe::{parse_swipe, MagError, StripeReader, Tracks};

/// The swipe the simulated reader reports (track 1, 2 and 3 of a test bank card).
pub const SAMPLE_SWIPE: &str =
    "%B6222021234567890^ZHANG/SAN^3012101?;6222021234567890=30121010000?+0123456789?\r";

/// How long after the call the simulated card is swiped.
const SWIPE_AFTER: Duration = Duration::from_millis(300);

pub struct SimStripe;

impl StripeReader for SimStripe {
    fn swipe(&self, timeout: Duration) -> Result<Tracks, MagError> {
        if timeout < SWIPE_AFTER {
            std::thread::sleep(timeout);
            return Err(MagError::Timeout);
        }
        std::thread::sleep(SWIPE_AFTER);
        Ok(parse_swipe(SAMPLE_SWIPE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swipes_a_bank_card() {
        let t = SimStripe.swipe(Duration::from_secs(2)).unwrap();
        assert_eq!(t.track2, "6222021234567890=30121010000");
        assert!(t.track1.starts_with("B6222021234567890^ZHANG/SAN^"));
        assert_eq!(
            SimStripe.swipe(Duration::from_millis(10)).unwrap_err(),
            MagError::Timeout
        );
    }
}
