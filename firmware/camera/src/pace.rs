//! The one frame-rate cap: which frames of a stream pass when at most `fps` a second may.
//!
//! A frame passes when it arrives no more than a quarter interval before its slot; each pass
//! moves the slot on by one whole interval. Timestamps of real cameras jitter by milliseconds,
//! so a rule that compares each frame with the previous one (`videorate drop-only`) throws away
//! a frame whenever two arrive a little early (14.6 of 15 a second); here a source at the cap
//! passes every frame, a faster source is thinned evenly (30 to 15: every other frame) and a
//! pause does not earn a burst afterwards.

/// State of one capped stream. Times are nanoseconds on any monotonic clock.
#[derive(Debug, Default, Clone)]
pub struct Pacer {
    next: Option<u64>,
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer::default()
    }

    /// Whether the frame at time `t` passes a cap of `fps` frames a second (0 = no cap).
    pub fn admit(&mut self, t: u64, fps: u32) -> bool {
        if fps == 0 {
            self.next = None;
            return true;
        }
        let period = 1_000_000_000 / fps as u64;
        match self.next {
            Some(next) if t.saturating_add(period / 4) < next => false,
            Some(next) if t < next.saturating_add(period) => {
                self.next = Some(next + period);
                true
            }
            // The first frame, or one after a pause of more than an interval: a new start.
            _ => {
                self.next = Some(t.saturating_add(period));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Frames of a `src_fps` source with a deterministic jitter of up to `jitter_ms` either way.
    fn passed(src_fps: f64, cap: u32, seconds: f64, jitter_ms: f64) -> usize {
        let mut p = Pacer::new();
        let n = (src_fps * seconds) as usize;
        let mut seed = 7u64;
        (0..n)
            .filter(|&i| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let j = ((seed >> 33) as f64 / (1u64 << 31) as f64 * 2.0 - 1.0) * jitter_ms;
                let t = (10_000.0 + i as f64 * 1000.0 / src_fps + j) * MS as f64;
                p.admit(t as u64, cap)
            })
            .count()
    }

    #[test]
    fn a_source_at_the_cap_passes_every_frame_despite_jitter() {
        assert_eq!(passed(15.0, 15, 60.0, 8.0), 900);
        assert_eq!(passed(30.0, 30, 10.0, 4.0), 300);
    }

    #[test]
    fn a_faster_source_is_thinned_to_the_cap() {
        let n = passed(30.0, 15, 60.0, 3.0);
        assert!((895..=901).contains(&n), "{n}");
        let n = passed(25.0, 15, 60.0, 3.0);
        assert!((895..=901).contains(&n), "{n}");
        let n = passed(15.0, 5, 60.0, 8.0);
        assert!((299..=301).contains(&n), "{n}");
    }

    #[test]
    fn no_cap_passes_all_and_a_pause_earns_no_burst() {
        assert_eq!(passed(30.0, 0, 2.0, 3.0), 60);
        let mut p = Pacer::new();
        assert!(p.admit(0, 10));
        // Two seconds without frames, then a fast burst: one passes per interval.
        let burst = (0..10)
            .filter(|i| p.admit(2_000 * MS + i * 5 * MS, 10))
            .count();
        assert_eq!(burst, 1);
    }
}
