//! The frame hub of one camera role: the newest full-resolution frame and the newest preview JPEG,
//! each shared as `Bytes` (no copy per consumer). Publishing never waits: a consumer that is slow
//! simply sees the newest frame when it looks again. The hub outlives pipeline restarts
//! (resolution or format changes), so watching clients continue.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::watch;

/// What a frame's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A complete JPEG file.
    Jpeg,
    /// Packed YUYV 4:2:2, `stride` bytes a row.
    Yuy2 { stride: u32 },
}

#[derive(Debug, Clone)]
pub struct Frame {
    /// Increases with every frame the hub publishes on this channel.
    pub seq: u64,
    pub kind: FrameKind,
    pub width: u32,
    pub height: u32,
    pub data: Bytes,
    pub at: Instant,
}

/// Why frames stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubState {
    /// No pipeline (never opened, or released with nobody using it).
    Idle,
    Running,
    /// Closed by `video=close`.
    Closed,
    /// The device went away or failed.
    Removed,
}

pub struct Hub {
    full: watch::Sender<Option<Frame>>,
    preview: watch::Sender<Option<Frame>>,
    state: watch::Sender<HubState>,
    /// (number of stops so far, why the last one happened): clients that watched before a stop
    /// learn of it even when the camera restarted before they looked.
    stops: watch::Sender<(u64, HubState)>,
    seq: AtomicU64,
    preview_seq: AtomicU64,
    /// Clients that want preview frames (the pipeline's preview branch runs only for them).
    preview_users: AtomicUsize,
    /// Cap on preview frames a second for clients (0 = none), read by every stream on every
    /// frame without taking the camera manager's lock.
    fps_cap: std::sync::atomic::AtomicU32,
    /// Preview width << 32 | height of the running (or last) pipeline; 0 before the first.
    preview_size: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        Hub {
            full: watch::channel(None).0,
            preview: watch::channel(None).0,
            state: watch::channel(HubState::Idle).0,
            stops: watch::channel((0, HubState::Idle)).0,
            seq: AtomicU64::new(0),
            preview_seq: AtomicU64::new(0),
            preview_users: AtomicUsize::new(0),
            fps_cap: std::sync::atomic::AtomicU32::new(0),
            preview_size: AtomicU64::new(0),
        }
    }

    /// The cap on preview frames a second for clients (0 = none).
    pub fn fps_cap(&self) -> u32 {
        self.fps_cap.load(Ordering::Relaxed)
    }

    pub fn set_fps_cap(&self, fps: u32) {
        self.fps_cap.store(fps, Ordering::Relaxed);
    }

    /// The preview size of the running (or last) pipeline, read without a lock.
    pub fn preview_size(&self) -> Option<(u32, u32)> {
        match self.preview_size.load(Ordering::Relaxed) {
            0 => None,
            v => Some(((v >> 32) as u32, v as u32)),
        }
    }

    pub fn set_preview_size(&self, width: u32, height: u32) {
        self.preview_size
            .store((width as u64) << 32 | height as u64, Ordering::Relaxed);
    }

    pub fn publish_full(&self, kind: FrameKind, width: u32, height: u32, data: Bytes) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.full.send_replace(Some(Frame {
            seq,
            kind,
            width,
            height,
            data,
            at: Instant::now(),
        }));
    }

    pub fn publish_preview(&self, width: u32, height: u32, jpeg: Bytes) {
        let seq = self.preview_seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.preview.send_replace(Some(Frame {
            seq,
            kind: FrameKind::Jpeg,
            width,
            height,
            data: jpeg,
            at: Instant::now(),
        }));
    }

    pub fn set_state(&self, s: HubState) {
        self.state.send_if_modified(|cur| {
            let changed = *cur != s;
            *cur = s;
            changed
        });
        if matches!(s, HubState::Closed | HubState::Removed) {
            self.stops.send_modify(|(n, why)| {
                *n += 1;
                *why = s;
            });
        }
        if s != HubState::Running {
            // Old frames must not be served as new ones after a restart.
            self.full.send_replace(None);
            self.preview.send_replace(None);
        }
    }

    pub fn state(&self) -> HubState {
        *self.state.borrow()
    }

    pub fn watch_state(&self) -> watch::Receiver<HubState> {
        self.state.subscribe()
    }

    /// Changes whenever the camera is closed or removed; the value says which.
    pub fn watch_stops(&self) -> watch::Receiver<(u64, HubState)> {
        self.stops.subscribe()
    }

    pub fn watch_full(&self) -> watch::Receiver<Option<Frame>> {
        self.full.subscribe()
    }

    pub fn watch_preview(&self) -> watch::Receiver<Option<Frame>> {
        self.preview.subscribe()
    }

    pub fn latest_full_seq(&self) -> u64 {
        self.full.borrow().as_ref().map(|f| f.seq).unwrap_or(0)
    }

    pub fn preview_users(&self) -> usize {
        self.preview_users.load(Ordering::Relaxed)
    }

    pub(crate) fn add_preview_user(&self) -> usize {
        self.preview_users.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn remove_preview_user(&self) -> usize {
        self.preview_users.fetch_sub(1, Ordering::Relaxed) - 1
    }
}

pub type SharedHub = Arc<Hub>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slow_consumer_sees_newest() {
        let hub = Hub::new();
        let mut rx = hub.watch_preview();
        for i in 0..10u8 {
            hub.publish_preview(1, 1, Bytes::from(vec![i]));
        }
        rx.changed().await.unwrap();
        let f = rx.borrow_and_update().clone().unwrap();
        assert_eq!(f.data[0], 9);
        assert_eq!(f.seq, 10);
    }

    #[test]
    fn stop_clears_frames() {
        let hub = Hub::new();
        hub.publish_full(FrameKind::Jpeg, 1, 1, Bytes::from_static(b"x"));
        let mut stops = hub.watch_stops();
        hub.set_state(HubState::Removed);
        hub.set_state(HubState::Idle);
        hub.set_state(HubState::Running);
        assert!(hub.watch_full().borrow().is_none());
        assert!(
            stops.has_changed().unwrap(),
            "a stop is seen after a quick restart"
        );
        assert_eq!(*stops.borrow_and_update(), (1, HubState::Removed));
    }
}
