//! The camera manager: which device plays which role, open/close counting, settings (format,
//! resolution, preview size, frame rate), pipelines started and stopped on demand, hotplug.
//!
//! A camera runs while `video=open` holds it (count > 0), while clients watch its stream, while a
//! grab needs it, and for a short linger after a grab. `video=close` that brings the count to 0
//! closes it: watching streams end with the "device closed" picture (the vendor's behaviour);
//! a new stream request opens it again. Each camera has its own lock, so starting or stopping
//! one never waits for another. All methods block briefly (GStreamer state changes):
//! call them off the async runtime; only waiting for a grab's frame ([`Grab::frame`]) is async.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::controls::{self, PropertyState, SetOutcome};
use crate::device::{max_area, CameraDevice};
use crate::discovery::Discovery;
use crate::hub::{Frame, Hub, HubState};
use crate::pipeline::{Pipeline, PreviewSpec};
use crate::types::{CamError, Mode, PixelFormat, Result, Role};

/// Camera settings from the daemon's configuration.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    /// Device match pattern per role (by-id/by-path name, device path, card name or VID:PID).
    pub roles: HashMap<Role, String>,
    /// Default preview width (height follows the camera's aspect ratio).
    pub preview_width: u32,
    /// Default cap on preview frames a second sent to clients.
    pub preview_fps: u32,
    /// How often devices are looked for (hotplug).
    pub scan_interval: Duration,
    /// How long a camera stays open after a grab when nothing else holds it.
    pub linger: Duration,
    /// Frames to drop after a camera starts before a grab takes one (auto exposure settling).
    pub warmup_frames: u32,
    /// How long a grab waits for a frame.
    pub frame_timeout: Duration,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            roles: HashMap::new(),
            preview_width: 640,
            preview_fps: 15,
            scan_interval: Duration::from_secs(1),
            linger: Duration::from_secs(10),
            warmup_frames: 3,
            frame_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Settings {
    format: Option<PixelFormat>,
    size: Option<(u32, u32)>,
    preview_width: Option<u32>,
    /// Preview rotation, degrees counter-clockwise (0, 90, 180, 270).
    rotation: u32,
}

struct Slot {
    device: Option<Arc<dyn CameraDevice>>,
    hub: Arc<Hub>,
    settings: Settings,
    opens: u32,
    users: u32,
    pipeline: Option<Pipeline>,
    generation: u64,
    started_seq: u64,
    linger_until: Option<Instant>,
}

pub struct CameraManager {
    cfg: CameraConfig,
    /// One lock per camera: starting or stopping one camera's pipeline never blocks another.
    slots: HashMap<Role, Mutex<Slot>>,
    /// Serialises scans (assignments look at every slot, locked in `Role::ALL` order).
    scanning: Mutex<()>,
    discovery: Box<dyn Discovery>,
    me: Weak<CameraManager>,
}

/// A client watching a camera's preview; dropping it lets the camera go.
pub struct Watch {
    mgr: Arc<CameraManager>,
    role: Role,
    pub hub: Arc<Hub>,
    /// Subscribed when the watch began: a close or removal after that is never missed.
    pub stops: tokio::sync::watch::Receiver<(u64, HubState)>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.hub.remove_preview_user();
        let mut guard = self.mgr.slot(self.role);
        let slot = &mut *guard;
        slot.users = slot.users.saturating_sub(1);
        if let Some(p) = &slot.pipeline {
            p.set_preview_enabled(slot.hub.preview_users() > 0);
        }
        self.mgr.release_if_unused(slot);
    }
}

impl Watch {
    /// The preview size now in use (read without a lock).
    pub fn preview_size(&self) -> (u32, u32) {
        self.hub.preview_size().unwrap_or((
            self.mgr.cfg.preview_width,
            self.mgr.cfg.preview_width * 3 / 4,
        ))
    }
}

/// A grab under way: the camera runs (and is held) until this is dropped. Made by
/// [`CameraManager::begin_grab`] off the async runtime; its frame is awaited without a thread.
pub struct Grab {
    /// Who to tell when the grab ends (taken by `drop`).
    hold: Option<Arc<CameraManager>>,
    role: Role,
    hub: Arc<Hub>,
    after: u64,
    timeout: Duration,
}

impl Grab {
    /// The first full-resolution frame after the grab began (and after the warm-up frames of a
    /// camera it started). Waits on the hub's channels: no thread is parked meanwhile.
    pub async fn frame(&self) -> Result<Frame> {
        let mut rx = self.hub.watch_full();
        let mut state_rx = self.hub.watch_state();
        let wait = async {
            loop {
                if let Some(f) = rx.borrow_and_update().as_ref() {
                    if f.seq > self.after {
                        return Ok(f.clone());
                    }
                }
                if *state_rx.borrow_and_update() != HubState::Running {
                    return Err(CamError::NotConnected(self.role));
                }
                // The senders live in the hub, which this holds: `changed` cannot fail.
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = state_rx.changed() => {}
                }
            }
        };
        tokio::time::timeout(self.timeout, wait)
            .await
            .unwrap_or(Err(CamError::NoFrames(self.role)))
    }
}

impl Drop for Grab {
    fn drop(&mut self) {
        let Some(m) = self.hold.take() else { return };
        let role = self.role;
        // The slot's lock may be held across a pipeline start: never wait for it on the runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(move || m.end_grab(role));
            }
            Err(_) => m.end_grab(role),
        }
    }
}

/// The frame rate to capture at, from the rates a size offers (highest first): the lowest one
/// that still reaches the preview cap, so frames the cap would drop are never captured (every
/// captured frame costs the camera's bandwidth and a buffer's trip through the pipeline); the
/// highest when none reaches it or there is no cap; 0 (the driver's choice) when none is listed.
/// Only whole rates are chosen below the highest (the pipeline's caps say `N/1`).
fn capture_rate(offered: &[f64], cap: u32) -> f64 {
    let highest = offered.first().copied().unwrap_or(0.0);
    if cap == 0 {
        return highest;
    }
    offered
        .iter()
        .copied()
        .filter(|&f| f + 0.01 >= cap as f64 && (f - f.round()).abs() < 1e-6)
        .fold(None, |best: Option<f64>, f| {
            Some(best.map_or(f, |b| b.min(f)))
        })
        .unwrap_or(highest)
}

/// The sizes a camera offers in a format, largest first.
fn sizes(dev: &dyn CameraDevice, format: PixelFormat) -> Vec<(u32, u32)> {
    dev.formats()
        .iter()
        .filter(|f| f.format == format)
        .flat_map(|f| f.sizes.iter().map(|s| (s.width, s.height)))
        .collect()
}

/// Sizes as the protocol writes them ("WxH").
fn size_names(sizes: &[(u32, u32)]) -> Vec<String> {
    sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect()
}

fn even(v: f64) -> u32 {
    ((v / 2.0).round() as u32 * 2).max(2)
}

impl CameraManager {
    /// Create the manager over a camera discovery backend and start the hotplug scanner.
    pub fn start(cfg: CameraConfig, discovery: Box<dyn Discovery>) -> Result<Arc<CameraManager>> {
        crate::pipeline::init()?;
        let slots = Role::ALL
            .iter()
            .map(|r| {
                (
                    *r,
                    Mutex::new(Slot {
                        device: None,
                        hub: Arc::new({
                            let h = Hub::new();
                            h.set_fps_cap(cfg.preview_fps);
                            h
                        }),
                        settings: Settings::default(),
                        opens: 0,
                        users: 0,
                        pipeline: None,
                        generation: 0,
                        started_seq: 0,
                        linger_until: None,
                    }),
                )
            })
            .collect();
        let mgr = Arc::new_cyclic(|me| CameraManager {
            cfg,
            slots,
            scanning: Mutex::new(()),
            discovery,
            me: me.clone(),
        });
        mgr.scan();
        let weak = Arc::downgrade(&mgr);
        let interval = mgr.cfg.scan_interval;
        std::thread::Builder::new()
            .name("camera-scan".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                let Some(m) = weak.upgrade() else { break };
                m.scan();
                m.expire_lingers();
            })
            .map_err(|e| CamError::Internal(format!("scanner: {e}")))?;
        Ok(mgr)
    }

    /// The slot of a role, locked.
    fn slot(&self, role: Role) -> MutexGuard<'_, Slot> {
        self.slots
            .get(&role)
            .expect("every role has a slot")
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Look for devices, assign them to roles, notice removals.
    pub fn scan(&self) {
        let scanned = self.discovery.scan();
        let fixed_roles: HashMap<String, Role> = scanned
            .iter()
            .filter_map(|f| f.role.map(|r| (f.device.identity().key.clone(), r)))
            .collect();
        let found: Vec<Arc<dyn CameraDevice>> = scanned.into_iter().map(|f| f.device).collect();
        let _scanning = self.scanning.lock().unwrap_or_else(|p| p.into_inner());
        // Every slot, locked in one order (the only place that holds more than one).
        let mut guards: Vec<(Role, MutexGuard<'_, Slot>)> =
            Role::ALL.iter().map(|r| (*r, self.slot(*r))).collect();
        // Pipelines of cameras that are gone: stopped once the locks are released.
        let mut stopped = Vec::new();
        // Drop assignments whose device is gone.
        for (role, slot) in guards.iter_mut() {
            if let Some(d) = &slot.device {
                let key = d.identity().key.clone();
                if !found.iter().any(|f| f.identity().key == key) {
                    tracing::warn!(%role, device = %key, "camera gone");
                    slot.device = None;
                    let running = slot.hub.state() == HubState::Running;
                    if let Some(p) = slot.pipeline.take() {
                        stopped.push(p);
                        slot.hub.set_state(HubState::Removed);
                    } else if running {
                        slot.hub.set_state(HubState::Removed);
                    }
                    slot.opens = 0;
                }
            }
        }
        let taken: Vec<String> = guards
            .iter()
            .filter_map(|(_, s)| s.device.as_ref().map(|d| d.identity().key.clone()))
            .collect();
        let mut free: Vec<Arc<dyn CameraDevice>> = found
            .into_iter()
            .filter(|d| !taken.contains(&d.identity().key))
            .collect();
        // Configured roles first, then automatic: the largest sensor is the document camera.
        for (role, slot) in guards.iter_mut() {
            let role = *role;
            if slot.device.is_some() {
                continue;
            }
            let pick = if let Some(pat) = self.cfg.roles.get(&role).filter(|p| !p.is_empty()) {
                free.iter().position(|d| d.identity().matches(pat))
            } else if let Some(i) = free
                .iter()
                .position(|d| fixed_roles.get(&d.identity().key) == Some(&role))
            {
                Some(i)
            } else if !fixed_roles.is_empty() {
                // Cameras built for roles (simulated ones) take no other role.
                None
            } else if matches!(role, Role::Ir1 | Role::Ir2) {
                None
            } else {
                let configured: Vec<&String> = self.cfg.roles.values().collect();
                free.iter()
                    .enumerate()
                    .filter(|(_, d)| !configured.iter().any(|p| d.identity().matches(p)))
                    .max_by_key(|(_, d)| max_area(d.formats()))
                    .map(|(i, _)| i)
            };
            if let Some(i) = pick {
                let d = free.remove(i);
                tracing::info!(%role, device = %d.identity().key, card = %d.identity().card, "camera assigned");
                if slot.hub.state() == HubState::Removed {
                    slot.hub.set_state(HubState::Idle);
                }
                slot.device = Some(d);
            }
        }
        drop(guards);
        drop(stopped);
    }

    fn expire_lingers(&self) {
        for role in Role::ALL {
            let mut slot = self.slot(role);
            if slot.linger_until.is_some_and(|t| t <= Instant::now()) {
                slot.linger_until = None;
                self.release_if_unused(&mut slot);
            }
        }
    }

    /// The capture mode a role uses now.
    fn mode_of(&self, slot: &Slot) -> Result<Mode> {
        let dev = slot
            .device
            .as_ref()
            .ok_or(CamError::Internal("no device".into()))?;
        let formats = dev.formats();
        let fmt = slot
            .settings
            .format
            .filter(|f| formats.iter().any(|i| i.format == *f))
            .or_else(|| {
                formats
                    .iter()
                    .find(|i| i.format == PixelFormat::Mjpg)
                    .map(|i| i.format)
            })
            .or_else(|| formats.first().map(|i| i.format))
            .ok_or_else(|| CamError::Device("no usable format".into()))?;
        let info = formats.iter().find(|i| i.format == fmt).expect("format");
        let size = slot
            .settings
            .size
            .and_then(|(w, h)| info.sizes.iter().find(|s| s.width == w && s.height == h))
            .or_else(|| info.sizes.first())
            .ok_or_else(|| CamError::Device("no frame size".into()))?;
        Ok(Mode {
            format: fmt,
            width: size.width,
            height: size.height,
            fps: capture_rate(&size.fps, slot.hub.fps_cap()),
        })
    }

    fn preview_of(&self, slot: &Slot, mode: &Mode) -> PreviewSpec {
        let want = slot
            .settings
            .preview_width
            .unwrap_or(self.cfg.preview_width);
        let w = want.min(mode.width).max(2);
        let h = even(w as f64 * mode.height as f64 / mode.width as f64);
        let w = w & !1;
        PreviewSpec {
            width: w,
            height: h,
            rotation: slot.settings.rotation,
        }
    }

    fn ensure_running(&self, role: Role, slot: &mut Slot) -> Result<()> {
        if slot.pipeline.is_some() {
            return Ok(());
        }
        let dev = slot.device.clone().ok_or(CamError::NotConnected(role))?;
        let mode = self.mode_of(slot)?;
        let preview = self.preview_of(slot, &mode);
        slot.generation += 1;
        let gen = slot.generation;
        let me = self.me.clone();
        let on_failure = Box::new(move |why: String| {
            // Not on the bus thread: stopping the pipeline joins that thread.
            std::thread::spawn(move || {
                if let Some(m) = me.upgrade() {
                    m.on_failure(role, gen, &why);
                }
            });
        });
        slot.started_seq = slot.hub.latest_full_seq();
        let p = Pipeline::start(dev.as_ref(), mode, preview, slot.hub.clone(), on_failure)?;
        tracing::info!(%role, format = mode.format.vendor_name(), width = mode.width, height = mode.height, preview_width = preview.width, "camera started");
        slot.pipeline = Some(p);
        let (pw, ph) = preview.shown();
        slot.hub.set_preview_size(pw, ph);
        slot.hub.set_state(HubState::Running);
        Ok(())
    }

    fn on_failure(&self, role: Role, gen: u64, why: &str) {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        if slot.generation != gen || slot.pipeline.is_none() {
            return;
        }
        tracing::warn!(%role, "camera failed: {why}");
        slot.pipeline = None;
        slot.opens = 0;
        slot.device = None;
        slot.hub.set_state(HubState::Removed);
        drop(guard);
        // Forget the device so the scanner probes it afresh (it may come back).
        self.discovery.forget_absent();
    }

    fn release_if_unused(&self, slot: &mut Slot) {
        let lingering = slot.linger_until.is_some_and(|t| t > Instant::now());
        if slot.opens == 0 && slot.users == 0 && !lingering && slot.pipeline.is_some() {
            slot.pipeline = None;
            slot.hub.set_state(HubState::Idle);
            tracing::info!("camera released: nobody uses it");
        }
    }

    /// "no" (not connected), "ok" (connected), "run" (capturing).
    pub fn status(&self, role: Role) -> &'static str {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        match (&slot.device, &slot.pipeline) {
            (None, _) => "no",
            (Some(_), Some(_)) => "run",
            (Some(_), None) => "ok",
        }
    }

    /// `video=open`: count + 1 and start capturing.
    pub fn open(&self, role: Role) -> Result<u32> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        if slot.device.is_none() {
            return Err(CamError::NotConnected(role));
        }
        self.ensure_running(role, slot)?;
        slot.opens += 1;
        Ok(slot.opens)
    }

    /// `video=close`: count - 1; at 0 the device is closed and streams end.
    pub fn close(&self, role: Role) -> Result<u32> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        if slot.device.is_none() {
            return Err(CamError::NotConnected(role));
        }
        slot.opens = slot.opens.saturating_sub(1);
        if slot.opens == 0 {
            slot.linger_until = None;
            if slot.pipeline.take().is_some() {
                tracing::info!(%role, "camera closed");
            }
            slot.hub.set_state(HubState::Closed);
        }
        Ok(slot.opens)
    }

    /// This manager (for what outlives the call and must hold it) and the locked slot of a
    /// connected camera.
    fn connected(&self, role: Role) -> Result<(Arc<CameraManager>, MutexGuard<'_, Slot>)> {
        let me = self.me.upgrade().ok_or(CamError::Internal("gone".into()))?;
        let guard = self.slot(role);
        if guard.device.is_none() {
            return Err(CamError::NotConnected(role));
        }
        Ok((me, guard))
    }

    /// Watch the preview of a camera (starts it if needed).
    pub fn watch(&self, role: Role) -> Result<Watch> {
        let (me, mut guard) = self.connected(role)?;
        let slot = &mut *guard;
        slot.users += 1;
        slot.hub.add_preview_user();
        if let Err(e) = self.ensure_running(role, slot) {
            slot.users -= 1;
            slot.hub.remove_preview_user();
            return Err(e);
        }
        if let Some(p) = &slot.pipeline {
            p.set_preview_enabled(true);
        }
        Ok(Watch {
            mgr: me,
            role,
            stops: slot.hub.watch_stops(),
            hub: slot.hub.clone(),
        })
    }

    /// Start a grab: the camera starts (if it was not running) and is held until the returned
    /// [`Grab`] is dropped; its `frame()` is the next full-resolution frame after this call.
    pub fn begin_grab(&self, role: Role) -> Result<Grab> {
        let (mgr, mut guard) = self.connected(role)?;
        let slot = &mut *guard;
        let was_running = slot.pipeline.is_some();
        self.ensure_running(role, slot)?;
        slot.users += 1;
        let mut after = slot.hub.latest_full_seq();
        if !was_running || after < slot.started_seq + self.cfg.warmup_frames as u64 {
            after = after.max(slot.started_seq + self.cfg.warmup_frames as u64);
        }
        Ok(Grab {
            hold: Some(mgr),
            role,
            hub: slot.hub.clone(),
            after,
            timeout: self.cfg.frame_timeout,
        })
    }

    /// A grab ended: the camera stays on for the linger time, then goes if nobody else uses it.
    fn end_grab(&self, role: Role) {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        slot.users = slot.users.saturating_sub(1);
        slot.linger_until = Some(Instant::now() + self.cfg.linger);
    }

    /// Apply a settings change; a running camera renegotiates (watching clients continue, the
    /// hub stays "running"). If the camera cannot run with the new settings, the old ones are
    /// restored and the error returned.
    fn change_settings(
        &self,
        role: Role,
        slot: &mut Slot,
        change: impl FnOnce(&mut Settings),
    ) -> Result<()> {
        let old = slot.settings.clone();
        change(&mut slot.settings);
        if slot.pipeline.take().is_none() {
            return Ok(());
        }
        match self.ensure_running(role, slot) {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(%role, "new camera settings failed ({e}); restoring the old ones");
                slot.settings = old;
                if let Err(e2) = self.ensure_running(role, slot) {
                    tracing::error!(%role, "camera does not restart: {e2}");
                    slot.hub.set_state(HubState::Removed);
                }
                Err(e)
            }
        }
    }

    fn device_of(slot: &Slot, role: Role) -> Result<Arc<dyn CameraDevice>> {
        slot.device.clone().ok_or(CamError::NotConnected(role))
    }

    /// "WxH" strings the current format offers, largest first.
    pub fn resolutions(&self, role: Role) -> Result<Vec<String>> {
        let guard = self.slot(role);
        let dev = Self::device_of(&guard, role)?;
        let format = self.mode_of(&guard)?.format;
        Ok(size_names(&sizes(dev.as_ref(), format)))
    }

    /// The sizes a format offers (largest first); empty when the camera lacks the format.
    pub fn sizes_of(&self, role: Role, format: PixelFormat) -> Result<Vec<(u32, u32)>> {
        let dev = Self::device_of(&self.slot(role), role)?;
        Ok(sizes(dev.as_ref(), format))
    }

    pub fn current_resolution(&self, role: Role) -> Result<(u32, u32)> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        Self::device_of(slot, role)?;
        let m = self.mode_of(slot)?;
        Ok((m.width, m.height))
    }

    /// Set the capture resolution; the pipeline renegotiates. Returns the applied size.
    pub fn set_resolution(&self, role: Role, width: u32, height: u32) -> Result<(u32, u32)> {
        self.set_mode(role, None, width, height)
    }

    /// Set the capture format (None: keep it) and size in one change, checked against what that
    /// format offers before anything changes; the pipeline renegotiates once. Returns the
    /// applied size.
    pub fn set_mode(
        &self,
        role: Role,
        format: Option<PixelFormat>,
        width: u32,
        height: u32,
    ) -> Result<(u32, u32)> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        let dev = Self::device_of(slot, role)?;
        let format = match format {
            Some(f) => f,
            None => self.mode_of(slot)?.format,
        };
        let offered = sizes(dev.as_ref(), format);
        if !offered.contains(&(width, height)) {
            return Err(CamError::BadResolution {
                valid: size_names(&offered),
            });
        }
        self.change_settings(role, slot, |s| {
            s.format = Some(format);
            s.size = Some((width, height));
        })?;
        let m = self.mode_of(slot)?;
        Ok((m.width, m.height))
    }

    pub fn video_types(&self, role: Role) -> Result<Vec<&'static str>> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        let dev = Self::device_of(slot, role)?;
        Ok(dev
            .formats()
            .iter()
            .map(|f| f.format.vendor_name())
            .collect())
    }

    pub fn video_type(&self, role: Role) -> Result<PixelFormat> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        Self::device_of(slot, role)?;
        Ok(self.mode_of(slot)?.format)
    }

    /// Switch MJPG/YUY2; keeps the resolution if the new format offers it, else its largest.
    pub fn set_video_type(&self, role: Role, format: PixelFormat) -> Result<()> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        let dev = Self::device_of(slot, role)?;
        if !dev.formats().iter().any(|f| f.format == format) {
            return Err(CamError::BadFormat {
                valid: dev
                    .formats()
                    .iter()
                    .map(|f| f.format.vendor_name())
                    .collect(),
            });
        }
        self.change_settings(role, slot, |s| s.format = Some(format))
    }

    /// The preview size in use (height follows the capture aspect ratio).
    pub fn preview_resolution(&self, role: Role) -> Result<(u32, u32)> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        Self::device_of(slot, role)?;
        let m = self.mode_of(slot)?;
        Ok(self.preview_of(slot, &m).shown())
    }

    /// Set the preview width (the height is derived from the capture aspect ratio).
    pub fn set_preview_resolution(&self, role: Role, width: u32) -> Result<(u32, u32)> {
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        Self::device_of(slot, role)?;
        self.change_settings(role, slot, |s| s.preview_width = Some(width.max(16)))?;
        let m = self.mode_of(slot)?;
        Ok(self.preview_of(slot, &m).shown())
    }

    /// Turn the preview by `degrees` counter-clockwise (a multiple of 90, negative = clockwise),
    /// added to its rotation so far; a running camera renegotiates (watching clients continue).
    /// Returns the rotation now in effect. Grabs are not rotated (`rotate` of grabimage is).
    pub fn rotate_preview(&self, role: Role, degrees: i64) -> Result<u32> {
        if degrees % 90 != 0 {
            return Err(CamError::BadRotation(degrees));
        }
        let mut guard = self.slot(role);
        let slot = &mut *guard;
        Self::device_of(slot, role)?;
        let turned = (slot.settings.rotation as i64 + degrees).rem_euclid(360) as u32;
        self.change_settings(role, slot, |s| s.rotation = turned)?;
        Ok(slot.settings.rotation)
    }

    /// Cap the frames a second sent to preview clients (the running pipeline reads the hub's
    /// cap on every frame, so it applies at once).
    pub fn set_fps_cap(&self, role: Role, fps: u32) -> Result<()> {
        let slot = self.slot(role);
        Self::device_of(&slot, role)?;
        slot.hub.set_fps_cap(fps);
        Ok(())
    }

    /// `video=getproperty`: `Ok(None)` when the camera lacks the property.
    pub fn get_property(&self, role: Role, name: &str) -> Result<Option<PropertyState>> {
        let prop =
            controls::property(name).ok_or_else(|| CamError::UnknownProperty(name.into()))?;
        let dev = {
            let slot = self.slot(role);
            Self::device_of(&slot, role)?
        };
        controls::get_property(dev.as_ref(), prop)
    }

    /// `video=setproperty` by the vendor's rule: `Ok(None)` when the camera lacks the property.
    pub fn set_property(&self, role: Role, name: &str, value: &str) -> Result<Option<SetOutcome>> {
        let prop =
            controls::property(name).ok_or_else(|| CamError::UnknownProperty(name.into()))?;
        let dev = {
            let slot = self.slot(role);
            Self::device_of(&slot, role)?
        };
        controls::set_property(dev.as_ref(), prop, value)
    }

    /// The hub of a role (for observers such as the legacy WebSocket stream).
    pub fn hub(&self, role: Role) -> Arc<Hub> {
        self.slot(role).hub.clone()
    }

    /// Stop every camera (daemon shutdown).
    pub fn shutdown(&self) {
        for role in Role::ALL {
            let mut slot = self.slot(role);
            if slot.pipeline.take().is_some() {
                slot.hub.set_state(HubState::Closed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::capture_rate;

    #[test]
    fn capture_rate_is_the_lowest_that_reaches_the_cap() {
        assert_eq!(capture_rate(&[60.0, 30.0, 15.0, 5.0], 15), 15.0);
        assert_eq!(capture_rate(&[60.0, 30.0, 25.0, 5.0], 15), 25.0);
        assert_eq!(capture_rate(&[30.0, 15.0, 12.5, 10.0], 12), 15.0);
        assert_eq!(capture_rate(&[10.0, 5.0], 15), 10.0);
        assert_eq!(capture_rate(&[30.0, 15.0], 0), 30.0);
        assert_eq!(capture_rate(&[], 15), 0.0);
    }
}
