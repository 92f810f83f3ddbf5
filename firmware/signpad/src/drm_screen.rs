//! The panel through DRM/KMS: the first connected connector's preferred mode on a CRTC its encoder
//! can drive, two dumb buffers (XRGB8888) flipped on vblank. Each present copies the rectangle that
//! changed since the buffer being drawn was last shown (this frame's damage and the previous one's)
//! and waits for the flip, so the compositor never runs ahead of the display.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Mutex;
use std::time::Duration;

use drm::buffer::{Buffer, DrmFourcc};
use drm::control::dumbbuffer::DumbBuffer;
use drm::control::{
    connector, crtc, framebuffer, Device as ControlDevice, Event, Mode, ModeTypeFlags,
    PageFlipFlags,
};
use image::RgbImage;

use crate::screen::Screen;
use crate::Rect;

struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl drm::Device for Card {}
impl ControlDevice for Card {}

struct State {
    card: Card,
    crtc: crtc::Handle,
    conn: connector::Handle,
    mode: Mode,
    bufs: Vec<(DumbBuffer, framebuffer::Handle)>,
    front: usize,
    /// What the buffer about to be drawn misses: the last present's damage.
    prev: Rect,
    flips: u64,
}

pub struct DrmScreen {
    path: String,
    size: (u32, u32),
    hz: u32,
    /// None while another program drives the display ([`Screen::release`]).
    state: Mutex<Option<State>>,
}

/// Open the card and set a mode: the preferred one, or with `want` the first of that size.
fn open_card(path: &str, want: Option<(u16, u16)>) -> Result<State, String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("{path}: {e}"))?;
    let card = Card(file);
    let res = card
        .resource_handles()
        .map_err(|e| format!("{path}: not a KMS device: {e}"))?;
    let conn = res
        .connectors()
        .iter()
        .filter_map(|c| card.get_connector(*c, true).ok())
        .find(|i| i.state() == connector::State::Connected && !i.modes().is_empty())
        .ok_or_else(|| format!("{path}: no connected display"))?;
    let mode = match want {
        None => *conn
            .modes()
            .iter()
            .find(|m| m.mode_type().contains(ModeTypeFlags::PREFERRED))
            .unwrap_or(&conn.modes()[0]),
        Some(size) => *conn
            .modes()
            .iter()
            .find(|m| m.size() == size)
            .ok_or_else(|| {
                format!(
                    "{path}: the display does not offer {}x{} (signpad.mode; a display that changed needs a restart)",
                    size.0, size.1
                )
            })?,
    };
    let enc = conn
        .current_encoder()
        .or_else(|| conn.encoders().first().copied())
        .ok_or_else(|| format!("{path}: the display has no encoder"))?;
    let enc = card
        .get_encoder(enc)
        .map_err(|e| format!("{path}: encoder: {e}"))?;
    let crtc = enc
        .crtc()
        .or_else(|| res.filter_crtcs(enc.possible_crtcs()).first().copied())
        .ok_or_else(|| format!("{path}: no CRTC for the display"))?;
    let (w, h) = mode.size();
    let mut bufs = Vec::new();
    for _ in 0..2 {
        let mut db = card
            .create_dumb_buffer((w as u32, h as u32), DrmFourcc::Xrgb8888, 32)
            .map_err(|e| format!("{path}: dumb buffer: {e}"))?;
        {
            let mut map = card
                .map_dumb_buffer(&mut db)
                .map_err(|e| format!("{path}: map: {e}"))?;
            map.as_mut().fill(0);
        }
        let fb = card
            .add_framebuffer(&db, 24, 32)
            .map_err(|e| format!("{path}: framebuffer: {e}"))?;
        bufs.push((db, fb));
    }
    card.set_crtc(crtc, Some(bufs[0].1), (0, 0), &[conn.handle()], Some(mode))
        .map_err(|e| format!("{path}: mode set: {e}"))?;
    Ok(State {
        card,
        crtc,
        conn: conn.handle(),
        mode,
        bufs,
        front: 0,
        prev: Rect::new(0, 0, w as u32, h as u32),
        flips: 0,
    })
}

/// Wait for the page flip event (at most `timeout`).
fn wait_flip(card: &Card, timeout: Duration) -> bool {
    use std::os::fd::AsRawFd;
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    loop {
        let mut fd = libc::pollfd {
            fd: card.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own, for the duration of the call.
        if unsafe { libc::poll(&mut fd, 1, ms) } <= 0 {
            return false;
        }
        match card.receive_events() {
            Ok(events) => {
                if events.into_iter().any(|e| matches!(e, Event::PageFlip(_))) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
}

impl DrmScreen {
    /// Open `path` (empty: the first `/dev/dri/card*` with a connected display) in the display's
    /// preferred mode, or with `mode` the first of that size.
    pub fn open(path: &str, mode: Option<(u16, u16)>) -> Result<DrmScreen, String> {
        let candidates: Vec<String> = if path.trim().is_empty() {
            let mut v: Vec<String> = std::fs::read_dir("/dev/dri")
                .map_err(|e| format!("/dev/dri: {e}"))?
                .flatten()
                .map(|e| e.path().display().to_string())
                .filter(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with("card")))
                .collect();
            v.sort();
            v
        } else {
            vec![path.trim().to_string()]
        };
        let mut errors = Vec::new();
        for p in candidates {
            match open_card(&p, mode) {
                Ok(st) => {
                    let (w, h) = st.mode.size();
                    let hz = st.mode.vrefresh().clamp(1, 240);
                    return Ok(DrmScreen {
                        path: p,
                        size: (w as u32, h as u32),
                        hz,
                        state: Mutex::new(Some(st)),
                    });
                }
                Err(e) => errors.push(e),
            }
        }
        Err(if errors.is_empty() {
            "no DRM device".into()
        } else {
            errors.join("; ")
        })
    }

    /// Page flips shown so far.
    pub fn flips(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |s| s.flips)
    }
}

impl Screen for DrmScreen {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn refresh_hz(&self) -> u32 {
        self.hz
    }

    fn present(&self, frame: &RgbImage, damage: Rect) -> Result<(), String> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(st) = guard.as_mut() else {
            return Ok(());
        };
        let (w, h) = self.size;
        let area = Rect::new(0, 0, w, h);
        let region = damage.union(&st.prev).intersect(&area);
        st.prev = damage.intersect(&area);
        let back = 1 - st.front;
        let State { card, bufs, .. } = st;
        let (db, fb) = &mut bufs[back];
        let fb = *fb;
        let pitch = db.pitch() as usize;
        {
            let mut map = card.map_dumb_buffer(db).map_err(|e| format!("map: {e}"))?;
            let dst = map.as_mut();
            let src = frame.as_raw();
            let fw = frame.width() as usize;
            for y in region.y as usize..region.bottom() as usize {
                let row = &mut dst[y * pitch..y * pitch + w as usize * 4];
                for x in region.x as usize..region.right() as usize {
                    let s = (y * fw + x) * 3;
                    row[x * 4] = src[s + 2];
                    row[x * 4 + 1] = src[s + 1];
                    row[x * 4 + 2] = src[s];
                    row[x * 4 + 3] = 0xff;
                }
            }
        }
        let crtc = st.crtc;
        if st
            .card
            .page_flip(crtc, fb, PageFlipFlags::EVENT, None)
            .is_err()
        {
            // A flip still pending, or a lost mode: set the buffer directly.
            let (conn, mode) = (st.conn, st.mode);
            st.card
                .set_crtc(crtc, Some(fb), (0, 0), &[conn], Some(mode))
                .map_err(|e| format!("mode set: {e}"))?;
        } else {
            // The next frame starts after this one is on the glass.
            wait_flip(&st.card, Duration::from_millis(200));
        }
        st.front = back;
        st.flips += 1;
        Ok(())
    }

    fn reset(&self) -> Result<(), String> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Close first: a second open of the card would not become its master.
        *st = None;
        let fresh = open_card(&self.path, Some((self.size.0 as u16, self.size.1 as u16)))?;
        *st = Some(fresh);
        Ok(())
    }

    fn release(&self) -> Result<(), String> {
        // Closing the card frees the buffers and gives up DRM master.
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "DRM {} {}x{} at {} Hz",
            self.path, self.size.0, self.size.1, self.hz
        )
    }
}
