//! Cameras: V4L2 discovery and role mapping, controls, one GStreamer pipeline per open camera
//! feeding a frame hub (newest frame shared, slow consumers skip), simulated cameras, hotplug.
//! Crop geometry and pixel processing belong to the imaging crate, not here.

pub mod controls;
pub mod device;
pub mod discovery;
pub mod hub;
pub mod manager;
pub mod notice;
pub mod pace;
pub mod pipeline;

pub mod types;
pub mod v4l2;

pub use hub::{Frame, FrameKind, Hub, HubState};
pub use manager::{CameraConfig, CameraManager, Grab, Watch};
pub use types::{CamError, PixelFormat, Role};

/// Parse a property value the way pages write it: "64", "-13", "64.0".
pub fn parse_number(s: &str) -> Option<i64> {
    let t = s.trim();
    t.parse::<i64>().ok().or_else(|| {
        t.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.round() as i64)
    })
}
