//! The camera hardware class: one trait, a V4L2 backend (`v4l2`) and a simulated one (`sim`).

use std::any::Any;

use crate::controls::ControlAccess;
use crate::types::{FormatInfo, Mode, Result};

/// What is known about a device, for matching it to a role.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// Stable key while the device stays plugged in (e.g. "/dev/video2", "sim:document").
    pub key: String,
    /// Card name (VIDIOC_QUERYCAP).
    pub card: String,
    /// Bus info (e.g. "usb-0000:01:00.0-1.3").
    pub bus: String,
    /// USB "vvvv:pppp", if a USB device.
    pub usb_id: Option<String>,
    /// Names under /dev/v4l/by-id and /dev/v4l/by-path pointing at the device.
    pub links: Vec<String>,
}

impl Identity {
    /// Whether a configured match string names this device: a substring of a by-id/by-path
    /// name, the device path, the card name, or a USB "VID:PID" (case-insensitive).
    pub fn matches(&self, pattern: &str) -> bool {
        let pat = pattern.trim().to_ascii_lowercase();
        if pat.is_empty() {
            return false;
        }
        let hay = [&self.key, &self.card, &self.bus]
            .into_iter()
            .chain(self.links.iter())
            .chain(self.usb_id.iter());
        for h in hay {
            if h.to_ascii_lowercase().contains(&pat) {
                return true;
            }
        }
        false
    }
}

/// Something started beside a pipeline (the simulated cameras' frame feeder); dropped when the
/// pipeline stops.
pub type SourceGuard = Box<dyn Any + Send>;

/// A camera device.
pub trait CameraDevice: ControlAccess {
    fn identity(&self) -> &Identity;
    /// Formats and sizes the device offers (MJPG and YUY2 only), largest size first.
    fn formats(&self) -> &[FormatInfo];
    /// A gst-launch fragment producing buffers in `mode` (caps are added by the pipeline).
    fn source_fragment(&self, mode: &Mode) -> String;
    /// Called once the pipeline is built, before it plays.
    fn start(&self, _pipeline: &gstreamer::Pipeline, _mode: &Mode) -> Result<Option<SourceGuard>> {
        Ok(None)
    }
    /// Whether the device is still there.
    fn present(&self) -> bool;
}

/// Size of a format's largest frame, in pixels.
pub fn max_area(formats: &[FormatInfo]) -> u64 {
    formats
        .iter()
        .flat_map(|f| f.sizes.iter())
        .map(|s| s.width as u64 * s.height as u64)
        .max()
        .unwrap_or(0)
}
