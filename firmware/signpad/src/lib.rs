//! The signing screen (vendor chapter 9): a screen backend ([`screen::Screen`]: the panel through
//! DRM/KMS, or a virtual one), pen samples in screen pixels ([`PenSample`], from evdev or a
//! simulator), one compositor that owns the screen and draws the active window
//! over the idle screen ([`pad::Pad`]), signature ink with pressure and speed dependent width
//! ([`ink`]) and the sign window ([`window`]).

pub mod browser;
pub mod docview;
pub mod drm_screen;
pub mod evdev_pen;
pub mod geometry;
pub mod ink;
pub mod pad;
pub mod panel;
pub mod screen;
pub mod window;

pub use geometry::Rect;
pub use pad::{Pad, PadError};

/// One pen report in screen pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PenSample {
    pub x: f32,
    pub y: f32,
    /// 0..1 (1 for input without pressure).
    pub pressure: f32,
    /// Touching the screen.
    pub down: bool,
    /// Milliseconds on the pen's own clock (only differences count).
    pub t_ms: f64,
}
