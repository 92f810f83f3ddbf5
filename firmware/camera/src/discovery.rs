//! The camera class: how cameras are found. [`Discovery`] has a real backend
//! ([`V4l2Discovery`]: the kernel's video nodes), a simulated one (`devsim::camera`) and a
//! disabled one ([`NoCameras`]); the daemon picks one per its configuration (`camera.backend`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::device::CameraDevice;
use crate::types::Role;
use crate::v4l2::{video_nodes, V4l2Camera};

/// A camera that is present, with the role it is built for if it has one (a simulated camera
/// is made for a role; real ones are assigned by configuration or size).
pub struct Found {
    pub device: Arc<dyn CameraDevice>,
    pub role: Option<Role>,
}

/// Camera discovery, called on every hotplug scan.
pub trait Discovery: Send + Sync {
    /// The cameras present now.
    fn scan(&self) -> Vec<Found>;
    /// A camera failed: forget devices that are gone, so they are probed afresh when they
    /// come back.
    fn forget_absent(&self) {}
}

/// How long a node that is not a camera is left alone before it is probed again.
const REPROBE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Cache {
    /// Devices seen by the last scan, by key.
    known: HashMap<String, Arc<dyn CameraDevice>>,
    /// Nodes that are not cameras (metadata nodes ...): the node's modification time and when it
    /// was probed, so they are not opened on every scan (re-probed after `REPROBE`, or when the
    /// node is created anew).
    rejected: HashMap<String, (SystemTime, Instant)>,
}

/// V4L2 video nodes under a device directory.
pub struct V4l2Discovery {
    dev_dir: PathBuf,
    cache: Mutex<Cache>,
}

impl V4l2Discovery {
    pub fn new(dev_dir: PathBuf) -> V4l2Discovery {
        V4l2Discovery {
            dev_dir,
            cache: Mutex::new(Cache::default()),
        }
    }
}

impl Discovery for V4l2Discovery {
    fn scan(&self) -> Vec<Found> {
        let (known, mut rejected) = {
            let c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            (c.known.clone(), c.rejected.clone())
        };
        let nodes = video_nodes(&self.dev_dir);
        rejected.retain(|k, _| nodes.iter().any(|n| n.display().to_string() == *k));
        let mut found: Vec<Arc<dyn CameraDevice>> = Vec::new();
        for node in nodes {
            let key = node.display().to_string();
            let changed = std::fs::metadata(&node).and_then(|m| m.modified()).ok();
            match known.get(&key) {
                Some(d) if d.present() => found.push(d.clone()),
                _ if rejected.get(&key).is_some_and(|(t, at)| {
                    Some(t) == changed.as_ref() && at.elapsed() < REPROBE
                }) => {}
                _ => {
                    if let Some(c) = V4l2Camera::probe(&node) {
                        tracing::info!(device = %key, card = %c.identity().card, "camera found");
                        rejected.remove(&key);
                        found.push(Arc::new(c));
                    } else if let Some(t) = changed {
                        rejected.insert(key, (t, Instant::now()));
                    }
                }
            }
        }
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        c.rejected = rejected;
        c.known = found
            .iter()
            .map(|d| (d.identity().key.clone(), d.clone()))
            .collect();
        found
            .into_iter()
            .map(|device| Found { device, role: None })
            .collect()
    }

    fn forget_absent(&self) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .known
            .retain(|_, d| d.present());
    }
}

/// No cameras (disabled in the configuration).
pub struct NoCameras;

impl Discovery for NoCameras {
    fn scan(&self) -> Vec<Found> {
        Vec::new()
    }
}
