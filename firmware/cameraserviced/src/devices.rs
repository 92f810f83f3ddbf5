//! The device registry: which backend serves each hardware class, chosen per section of the
//! configuration (`backend = "..."`). Every class has a real backend, a simulated one (the
//! `devsim` crate, in builds with the `sim` feature) and a disabled one.
//!
//! `backend = ""` (automatic): a section that names its device (`idcard.port`, `magcard.device`)
//! uses it; otherwise `--sim` picks the simulated backend; otherwise the real one where it needs
//! no naming (PC/SC), else none. `--sim` thus switches every class whose device is not named to
//! its simulator.

use std::sync::Mutex;
use std::time::Duration;

use cards::magstripe::{NoStripeReader, StripeReader};
use cards::pcsc_reader::{NoSmartCardReaders, Pcsc, SmartCardReaders};
use cards::reader::{IdCardReader, NoIdCardReader, SamModule};

use crate::config::{CameraSection, IdCardSection, MagcardSection, PcscSection, SignpadSection};

/// A section's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Real,
    #[cfg(feature = "sim")]
    Sim,
    None,
}

/// Resolve `backend` for a section: `real` is the section's own name for its real backend.
fn choose(
    section: &str,
    backend: &str,
    real: &str,
    device_named: bool,
    sim: bool,
    real_without_device: bool,
) -> Result<Backend, String> {
    let b = backend.trim().to_ascii_lowercase();
    #[cfg(not(feature = "sim"))]
    if sim && b.is_empty() && !device_named {
        return Err(format!(
            "--sim: simulated devices ({section}) are not in this build (cargo feature \"sim\")"
        ));
    }
    let chosen = match b.as_str() {
        "" if device_named => Backend::Real,
        #[cfg(feature = "sim")]
        "" if sim => Backend::Sim,
        "" if real_without_device => Backend::Real,
        "" => Backend::None,
        #[cfg(feature = "sim")]
        "sim" => Backend::Sim,
        #[cfg(not(feature = "sim"))]
        "sim" => {
            return Err(format!(
                "{section}: simulated devices are not in this build (cargo feature \"sim\")"
            ))
        }
        "none" => Backend::None,
        r if r == real => Backend::Real,
        other => {
            return Err(format!(
                "{section}.backend = {other:?}: expected \"{real}\", \"sim\", \"none\" or \"\" (automatic)"
            ))
        }
    };
    Ok(chosen)
}

/// What serves one hardware class, as the diagnostics page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassChoice {
    pub class: &'static str,
    /// The section's name for the backend: its real one ("v4l2", "serial" ...), "sim" or "none".
    pub backend: &'static str,
    pub detail: String,
}

static CHOSEN: Mutex<Vec<ClassChoice>> = Mutex::new(Vec::new());

fn record(class: &'static str, b: Backend, real: &'static str, detail: String) {
    let backend = match b {
        Backend::Real => real,
        #[cfg(feature = "sim")]
        Backend::Sim => "sim",
        Backend::None => "none",
    };
    let mut v = CHOSEN.lock().unwrap_or_else(|e| e.into_inner());
    v.retain(|c| c.class != class);
    v.push(ClassChoice {
        class,
        backend,
        detail,
    });
}

/// The backend chosen for each class so far (in the order they were chosen).
pub fn chosen() -> Vec<ClassChoice> {
    CHOSEN.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Camera discovery: V4L2 video nodes, or the simulated cameras.
pub fn cameras(
    cfg: &CameraSection,
    sim: bool,
) -> Result<Box<dyn camera::discovery::Discovery>, String> {
    let b = choose("camera", &cfg.backend, "v4l2", false, sim, true)?;
    record("cameras", b, "v4l2", String::new());
    Ok(match b {
        Backend::Real => Box::new(camera::discovery::V4l2Discovery::new("/dev".into())),
        #[cfg(feature = "sim")]
        Backend::Sim => Box::new(devsim::camera::SimDiscovery::new(
            (!cfg.sim_document_image.is_empty())
                .then(|| std::path::PathBuf::from(&cfg.sim_document_image)),
            cfg.sim_all_roles,
        )),
        Backend::None => Box::new(camera::discovery::NoCameras),
    })
}

/// The ID card reader: a SAM module on a serial port (the simulated module sits on a
/// pseudo-terminal and is reached the same way).
pub fn id_card_reader(cfg: &IdCardSection, sim: bool) -> Result<Box<dyn IdCardReader>, String> {
    let port = cfg.port.trim();
    let timeout = Duration::from_millis(cfg.timeout_ms.clamp(50, 30_000));
    let b = choose(
        "idcard",
        &cfg.backend,
        "serial",
        !port.is_empty(),
        sim,
        false,
    )?;
    record(
        "idcard",
        b,
        "serial",
        match b {
            Backend::None => "no idcard.port configured".into(),
            _ => port.to_string(),
        },
    );
    Ok(match b {
        Backend::Real if port.is_empty() => {
            return Err("idcard.backend = \"serial\" needs idcard.port".into())
        }
        Backend::Real => Box::new(SamModule::new(port, &cfg.bauds, timeout)),
        #[cfg(feature = "sim")]
        Backend::Sim => {
            let state = std::sync::Arc::new(std::sync::Mutex::new(devsim::sam::SimSam::default()));
            let port =
                devsim::sam::start(state).map_err(|e| format!("simulated ID card module: {e}"))?;
            tracing::info!(%port, "ID card reader: simulated SAM module");
            Box::new(SamModule::new(&port, &cfg.bauds, timeout))
        }
        Backend::None => Box::new(NoIdCardReader("idcard.port".into())),
    })
}

/// The smart card readers: PC/SC, or the simulated social security and bank cards.
pub fn smart_card_readers(
    cfg: &PcscSection,
    sim: bool,
) -> Result<Box<dyn SmartCardReaders>, String> {
    let b = choose("pcsc", &cfg.backend, "pcsc", false, sim, true)?;
    record("smartcards", b, "pcsc", String::new());
    Ok(match b {
        Backend::Real => Box::new(Pcsc),
        #[cfg(feature = "sim")]
        Backend::Sim => Box::new(devsim::smartcards::SimSmartCards::default()),
        Backend::None => Box::new(NoSmartCardReaders(
            "smart card readers are off (pcsc.backend = \"none\")".into(),
        )),
    })
}

/// The magnetic stripe reader: serial or HID as `magcard.device` says, or simulated.
pub fn stripe_reader(cfg: &MagcardSection, sim: bool) -> Result<Box<dyn StripeReader>, String> {
    let device = cfg.device.trim();
    let b = choose(
        "magcard",
        &cfg.backend,
        "device",
        !device.is_empty(),
        sim,
        false,
    )?;
    record(
        "magcard",
        b,
        "device",
        match b {
            Backend::None => "no magcard.device configured".into(),
            _ => device.to_string(),
        },
    );
    Ok(match b {
        Backend::Real if device.is_empty() => {
            return Err("magcard.backend = \"device\" needs magcard.device".into())
        }
        Backend::Real => cards::magstripe::reader_for(device, cfg.baud),
        #[cfg(feature = "sim")]
        Backend::Sim => Box::new(devsim::stripe::SimStripe),
        Backend::None => Box::new(NoStripeReader("magcard.device".into())),
    })
}

/// The signing screen: a virtual screen (seen through `sign=stream`), with the simulated pen on
/// a Unix socket under `--sim`; none by default on a device until the DRM screen and evdev pen
/// exist.
pub fn signpad(
    cfg: &SignpadSection,
    sim: bool,
    state_dir: &std::path::Path,
    font: Option<ab_glyph::FontArc>,
    idle_title: &str,
) -> Result<Option<signpad::Pad>, String> {
    let (w, h) = (cfg.width.clamp(160, 3840), cfg.height.clamp(120, 2160));
    // The idle screen: the configured picture, else the device's name and address.
    let idle_picture = match cfg.idle_image.trim() {
        "" => None,
        path => match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|d| imaging::codec::decode(&d).map_err(|e| format!("{e:?}")))
        {
            Ok(img) => Some(img),
            Err(e) => {
                tracing::warn!(
                    path,
                    "signpad.idle_image unreadable ({e}); showing the device's name"
                );
                None
            }
        },
    };
    let start = |screen: Box<dyn signpad::screen::Screen>| match &idle_picture {
        Some(img) => signpad::Pad::start_with_idle(screen, font.clone(), img.clone()),
        None => signpad::Pad::start(screen, font.clone(), idle_title),
    };
    if cfg.backend.trim().eq_ignore_ascii_case("virtual") {
        record(
            "signpad",
            Backend::Real,
            "virtual",
            format!("{w}x{h}, no pen"),
        );
        return Ok(Some(start(Box::new(signpad::screen::VirtualScreen {
            width: w,
            height: h,
            hz: cfg.refresh_hz.clamp(1, 240),
        }))));
    }
    let b = choose(
        "signpad",
        &cfg.backend,
        "drm",
        !cfg.card.trim().is_empty(),
        sim,
        false,
    )?;
    let screen = || -> Box<dyn signpad::screen::Screen> {
        Box::new(signpad::screen::VirtualScreen {
            width: w,
            height: h,
            hz: cfg.refresh_hz.clamp(1, 240),
        })
    };
    Ok(match b {
        Backend::Real => {
            let mode = match cfg.mode.trim() {
                "" => None,
                m => Some(
                    m.split_once(['x', 'X'])
                        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
                        .ok_or_else(|| {
                            format!(
                                "signpad.mode: expected WIDTHxHEIGHT such as 800x600, got {m:?}"
                            )
                        })?,
                ),
            };
            let screen = signpad::drm_screen::DrmScreen::open(&cfg.card, mode)
                .map_err(|e| format!("signpad (drm): {e}"))?;
            let size = signpad::screen::Screen::size(&screen);
            let detail = format!(
                "{}, pen {}",
                signpad::screen::Screen::describe(&screen),
                if cfg.pen.is_empty() {
                    "(first found)"
                } else {
                    cfg.pen.as_str()
                }
            );
            let corners = match cfg.pen_calibration_file.trim() {
                "" => None,
                path => match std::fs::read_to_string(path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| signpad::evdev_pen::Homography::parse(&t))
                {
                    Ok(m) => {
                        tracing::info!(path, "signing screen: pen calibrated from four corners");
                        Some(m)
                    }
                    Err(e) => {
                        // A bad file must not keep the device from starting: the absinfo mapping.
                        tracing::error!(
                            path,
                            "signpad.pen_calibration_file: {e}; mapping the pen from its axes"
                        );
                        None
                    }
                },
            };
            let detail = if corners.is_some() {
                format!("{detail}, four-corner calibration")
            } else {
                detail
            };
            let pad = start(Box::new(screen));
            let p = pad.clone();
            signpad::evdev_pen::spawn(
                cfg.pen.clone(),
                signpad::evdev_pen::Calibration {
                    rotation: cfg.pen_rotation,
                    flip_x: cfg.pen_flip_x,
                    flip_y: cfg.pen_flip_y,
                    offset_x: cfg.pen_offset_x,
                    offset_y: cfg.pen_offset_y,
                    corners,
                },
                size,
                move |s| p.pen(s),
                pad.pen_shared(),
                std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            );
            record("signpad", b, "drm", detail);
            Some(pad)
        }
        #[cfg(feature = "sim")]
        Backend::Sim => {
            let path = if cfg.sim_pen_socket.trim().is_empty() {
                // A Unix socket's path holds at most 107 bytes: a deep state directory gives way
                // to an abstract socket (no file).
                let p = state_dir.join("sim-pen.sock");
                if p.as_os_str().len() < 100 {
                    p
                } else {
                    std::path::PathBuf::from(format!(
                        "@cameraservice-sim-pen-{}",
                        std::process::id()
                    ))
                }
            } else {
                std::path::PathBuf::from(cfg.sim_pen_socket.trim())
            };
            let pad = start(screen());
            let p = pad.clone();
            devsim::pen::serve(&path, move |s| p.pen(s))
                .map_err(|e| format!("simulated pen socket {}: {e}", path.display()))?;
            tracing::info!(socket = %path.display(), "signing screen: simulated pen");
            record(
                "signpad",
                b,
                "virtual",
                format!("{w}x{h}, pen {}", path.display()),
            );
            Some(pad)
        }
        Backend::None => {
            let _ = state_dir;
            record(
                "signpad",
                b,
                "virtual",
                "no signing screen configured".into(),
            );
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_choice() {
        // A named device wins, even with --sim.
        assert_eq!(
            choose("x", "", "serial", true, true, false),
            Ok(Backend::Real)
        );
        assert_eq!(
            choose("x", "", "serial", false, true, false),
            Ok(Backend::Sim)
        );
        assert_eq!(
            choose("x", "", "serial", false, false, false),
            Ok(Backend::None)
        );
        assert_eq!(
            choose("x", "", "pcsc", false, false, true),
            Ok(Backend::Real)
        );
        assert_eq!(
            choose("x", "PCSC", "pcsc", false, true, true),
            Ok(Backend::Real)
        );
        assert_eq!(
            choose("x", "none", "pcsc", false, true, true),
            Ok(Backend::None)
        );
        assert!(choose("x", "usb", "serial", false, false, false).is_err());
    }
}
