//! Rectangles in screen pixels.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub const fn new(x: i32, y: i32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    pub fn right(&self) -> i32 {
        self.x + self.w as i32
    }

    pub fn bottom(&self) -> i32 {
        self.y + self.h as i32
    }

    pub fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x as f32
            && y >= self.y as f32
            && x < self.right() as f32
            && y < self.bottom() as f32
    }

    pub fn intersect(&self, o: &Rect) -> Rect {
        let x = self.x.max(o.x);
        let y = self.y.max(o.y);
        let r = self.right().min(o.right());
        let b = self.bottom().min(o.bottom());
        if r <= x || b <= y {
            return Rect::default();
        }
        Rect::new(x, y, (r - x) as u32, (b - y) as u32)
    }

    pub fn union(&self, o: &Rect) -> Rect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        let r = self.right().max(o.right());
        let b = self.bottom().max(o.bottom());
        Rect::new(x, y, (r - x) as u32, (b - y) as u32)
    }

    pub fn offset(&self, dx: i32, dy: i32) -> Rect {
        Rect::new(self.x + dx, self.y + dy, self.w, self.h)
    }

    /// Moved (never cut) so that it lies inside `area`; a rectangle larger than `area` is
    /// shrunk to it.
    pub fn moved_inside(&self, area: &Rect) -> Rect {
        let w = self.w.min(area.w);
        let h = self.h.min(area.h);
        let x = self.x.clamp(area.x, area.right() - w as i32);
        let y = self.y.clamp(area.y, area.bottom() - h as i32);
        Rect::new(x, y, w, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        let a = Rect::new(0, 0, 10, 10);
        let b = Rect::new(5, 5, 10, 10);
        assert_eq!(a.intersect(&b), Rect::new(5, 5, 5, 5));
        assert_eq!(a.union(&b), Rect::new(0, 0, 15, 15));
        assert!(a.intersect(&Rect::new(20, 20, 1, 1)).is_empty());
        let screen = Rect::new(0, 0, 1024, 600);
        // The vendor's floating button default (left 950, width 256) on a 1024 wide screen.
        assert_eq!(
            Rect::new(950, 100, 256, 80).moved_inside(&screen),
            Rect::new(768, 100, 256, 80)
        );
        assert_eq!(
            Rect::new(-5, -5, 2000, 50).moved_inside(&screen),
            Rect::new(0, 0, 1024, 50)
        );
        assert!(a.contains(0.0, 9.9) && !a.contains(10.0, 1.0));
    }
}
