//! The device registry: which backend serves each hardware class, chosen per section of the
//! configuration (`backend = "..."`). Every class has a real backend, a simulated one (the
//! `devsim` crate, in builds with the `sim` feature) and a disabled one.
//!
//! `backend = ""` (automatic): a section that names its device (`idcard.port`, `magcard.device`)
//! uses it; otherwise `--sim` picks the simulated backend; otherwise the real one where it needs
//! no naming (PC/SC), else none. `--sim` thus switches every class whose device is not named to
//! its simulator.

use std::time::Duration;

use cards::magstripe::{NoStripeReader, StripeReader};
use cards::pcsc_reader::{NoSmartCardReaders, Pcsc, SmartCardReaders};
use cards::reader::{IdCardReader, NoIdCardReader, SamModule};

use crate::config::{CameraSection, IdCardSection, MagcardSection, PcscSection};

/// A section's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Real,
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
    let chosen = match b.as_str() {
        "" if device_named => Backend::Real,
        "" if sim => Backend::Sim,
        "" if real_without_device => Backend::Real,
        "" => Backend::None,
        "sim" => Backend::Sim,
        "none" => Backend::None,
        r if r == real => Backend::Real,
        other => {
            return Err(format!(
                "{section}.backend = {other:?}: expected \"{real}\", \"sim\", \"none\" or \"\" (automatic)"
            ))
        }
    };
    if chosen == Backend::Sim && !cfg!(feature = "sim") {
        return Err(format!(
            "{section}: simulated devices are not in this build (cargo feature \"sim\")"
        ));
    }
    Ok(chosen)
}

/// Camera discovery: V4L2 video nodes, or the simulated cameras.
pub fn cameras(
    cfg: &CameraSection,
    sim: bool,
) -> Result<Box<dyn camera::discovery::Discovery>, String> {
    Ok(
        match choose("camera", &cfg.backend, "v4l2", false, sim, true)? {
            Backend::Real => Box::new(camera::discovery::V4l2Discovery::new("/dev".into())),
            Backend::Sim => sim_cameras(cfg),
            Backend::None => Box::new(camera::discovery::NoCameras),
        },
    )
}

#[cfg(feature = "sim")]
fn sim_cameras(cfg: &CameraSection) -> Box<dyn camera::discovery::Discovery> {
    tracing::info!("cameras: simulated");
    let image = (!cfg.sim_document_image.is_empty())
        .then(|| std::path::PathBuf::from(&cfg.sim_document_image));
    Box::new(devsim::camera::SimDiscovery::new(image, cfg.sim_all_roles))
}

#[cfg(not(feature = "sim"))]
fn sim_cameras(_: &CameraSection) -> Box<dyn camera::discovery::Discovery> {
    unreachable!("checked by choose()")
}

/// The ID card reader: a SAM module on a serial port (the simulated module sits on a
/// pseudo-terminal and is reached the same way).
pub fn id_card_reader(cfg: &IdCardSection, sim: bool) -> Result<Box<dyn IdCardReader>, String> {
    let port = cfg.port.trim();
    let timeout = Duration::from_millis(cfg.timeout_ms.clamp(50, 30_000));
    Ok(
        match choose(
            "idcard",
            &cfg.backend,
            "serial",
            !port.is_empty(),
            sim,
            false,
        )? {
            Backend::Real if port.is_empty() => {
                return Err("idcard.backend = \"serial\" needs idcard.port".into())
            }
            Backend::Real => Box::new(SamModule::new(port, &cfg.bauds, timeout)),
            Backend::Sim => sim_id_card(&cfg.bauds, timeout)?,
            Backend::None => Box::new(NoIdCardReader("idcard.port".into())),
        },
    )
}

#[cfg(feature = "sim")]
fn sim_id_card(bauds: &[u32], timeout: Duration) -> Result<Box<dyn IdCardReader>, String> {
    let state = std::sync::Arc::new(std::sync::Mutex::new(devsim::sam::SimSam::default()));
    let port = devsim::sam::start(state).map_err(|e| format!("simulated ID card module: {e}"))?;
    tracing::info!(%port, "ID card reader: simulated SAM module");
    Ok(Box::new(SamModule::new(&port, bauds, timeout)))
}

#[cfg(not(feature = "sim"))]
fn sim_id_card(_: &[u32], _: Duration) -> Result<Box<dyn IdCardReader>, String> {
    unreachable!("checked by choose()")
}

/// The smart card readers: PC/SC, or the simulated social security and bank cards.
pub fn smart_card_readers(
    cfg: &PcscSection,
    sim: bool,
) -> Result<Box<dyn SmartCardReaders>, String> {
    Ok(
        match choose("pcsc", &cfg.backend, "pcsc", false, sim, true)? {
            Backend::Real => Box::new(Pcsc),
            Backend::Sim => sim_smart_cards(),
            Backend::None => Box::new(NoSmartCardReaders(
                "smart card readers are off (pcsc.backend = \"none\")".into(),
            )),
        },
    )
}

#[cfg(feature = "sim")]
fn sim_smart_cards() -> Box<dyn SmartCardReaders> {
    tracing::info!("smart card readers: simulated social security and bank cards");
    Box::new(devsim::smartcards::SimSmartCards::default())
}

#[cfg(not(feature = "sim"))]
fn sim_smart_cards() -> Box<dyn SmartCardReaders> {
    unreachable!("checked by choose()")
}

/// The magnetic stripe reader: serial or HID as `magcard.device` says, or simulated.
pub fn stripe_reader(cfg: &MagcardSection, sim: bool) -> Result<Box<dyn StripeReader>, String> {
    let device = cfg.device.trim();
    Ok(
        match choose(
            "magcard",
            &cfg.backend,
            "device",
            !device.is_empty(),
            sim,
            false,
        )? {
            Backend::Real if device.is_empty() => {
                return Err("magcard.backend = \"device\" needs magcard.device".into())
            }
            Backend::Real => cards::magstripe::reader_for(device, cfg.baud),
            Backend::Sim => sim_stripe(),
            Backend::None => Box::new(NoStripeReader("magcard.device".into())),
        },
    )
}

#[cfg(feature = "sim")]
fn sim_stripe() -> Box<dyn StripeReader> {
    tracing::info!("magnetic stripe reader: simulated (a card is swiped after each call)");
    Box::new(devsim::stripe::SimStripe)
}

#[cfg(not(feature = "sim"))]
fn sim_stripe() -> Box<dyn StripeReader> {
    unreachable!("checked by choose()")
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
