//! The screen class: what the compositor presents its frames on.

use image::RgbImage;

use crate::Rect;

/// A screen backend: the compositor hands it whole frames with the rectangle that changed.
pub trait Screen: Send + Sync {
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Refresh rate: the compositor never presents faster.
    fn refresh_hz(&self) -> u32;
    /// Show `frame` (the whole screen); only `damage` changed since the last call.
    fn present(&self, frame: &RgbImage, damage: Rect) -> Result<(), String>;
    /// Open the device again (vendor `sign=reset_sign_device`; after [`Screen::release`]).
    fn reset(&self) -> Result<(), String> {
        Ok(())
    }
    /// Let another program drive the display (the kiosk browser): close the device; presents
    /// do nothing until [`Screen::reset`].
    fn release(&self) -> Result<(), String> {
        Ok(())
    }
    /// "virtual 1280x800" ...
    fn describe(&self) -> String;
}

/// A screen in memory only: what it shows is seen through `sign=stream`. For devices without a
/// panel and for development (`--sim`).
pub struct VirtualScreen {
    pub width: u32,
    pub height: u32,
    pub hz: u32,
}

impl Screen for VirtualScreen {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
    fn refresh_hz(&self) -> u32 {
        self.hz.clamp(1, 240)
    }
    fn present(&self, _frame: &RgbImage, _damage: Rect) -> Result<(), String> {
        Ok(())
    }
    fn describe(&self) -> String {
        format!("virtual {}x{} at {} Hz", self.width, self.height, self.hz)
    }
}
