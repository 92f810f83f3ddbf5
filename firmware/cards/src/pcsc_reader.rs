//! The smart card reader class ([`SmartCardReaders`]) and its real backend: PC/SC (pcscd),
//! finding a reader with a card, and the APDU transport. The simulated backend is
//! `simcard::SimSmartCards`; [`NoSmartCardReaders`] is the disabled one.

use std::ffi::CString;

use crate::apdu::{CardError, Transport};

/// The smart card reader class: the readers of a device and the cards in them.
pub trait SmartCardReaders: Send + Sync {
    /// Run `read` on the card in each reader whose name contains `pattern` (case-insensitive;
    /// empty: every reader) in turn until one succeeds; gives the reader's name. The error is the
    /// most telling one: a card's own failure before "no card".
    fn read_any(
        &self,
        pattern: &str,
        read: &mut dyn FnMut(&mut dyn Transport) -> Result<(), CardError>,
    ) -> Result<String, CardError>;
}

/// Readers through pcscd.
pub struct Pcsc;

impl SmartCardReaders for Pcsc {
    fn read_any(
        &self,
        pattern: &str,
        read: &mut dyn FnMut(&mut dyn Transport) -> Result<(), CardError>,
    ) -> Result<String, CardError> {
        read_any(pattern, |t| read(t)).map(|((), reader)| reader)
    }
}

/// No smart card readers (disabled in the configuration).
pub struct NoSmartCardReaders(pub String);

impl SmartCardReaders for NoSmartCardReaders {
    fn read_any(
        &self,
        _pattern: &str,
        _read: &mut dyn FnMut(&mut dyn Transport) -> Result<(), CardError>,
    ) -> Result<String, CardError> {
        Err(CardError::NoReader(self.0.clone()))
    }
}

/// Read one kind of card through a [`SmartCardReaders`] backend: the card's data and the reader.
pub fn read_with<T>(
    readers: &dyn SmartCardReaders,
    pattern: &str,
    mut read: impl FnMut(&mut dyn Transport) -> Result<T, CardError>,
) -> Result<(T, String), CardError> {
    let mut out = None;
    let reader = readers.read_any(pattern, &mut |t| {
        out = Some(read(t)?);
        Ok(())
    })?;
    out.map(|v| (v, reader))
        .ok_or_else(|| CardError::Io("the reader gave no data".into()))
}

pub struct PcscCard {
    card: pcsc::Card,
    pub reader: String,
}

fn io(e: pcsc::Error) -> CardError {
    match e {
        pcsc::Error::RemovedCard | pcsc::Error::ResetCard | pcsc::Error::NoSmartcard => {
            CardError::Removed
        }
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => {
            CardError::NoReader(format!("the PC/SC service is not running ({e})"))
        }
        pcsc::Error::ReaderUnavailable | pcsc::Error::UnknownReader => {
            CardError::NoReader(format!("the reader went away ({e})"))
        }
        e => CardError::Io(e.to_string()),
    }
}

impl Transport for PcscCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let r = self.card.transmit(apdu, &mut buf).map_err(io)?;
        if r.len() < 2 {
            // No status word: the card went away mid-exchange (vpcd answers this way).
            return Err(CardError::Removed);
        }
        Ok(r.to_vec())
    }
}

/// The readers whose name contains `pattern` (case-insensitive; empty: all), in PC/SC order.
pub fn readers(ctx: &pcsc::Context, pattern: &str) -> Result<Vec<CString>, CardError> {
    let all = match ctx.list_readers_owned() {
        Ok(r) => r,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(io(e)),
    };
    let p = pattern.trim().to_lowercase();
    let chosen: Vec<CString> = all
        .into_iter()
        .filter(|r| p.is_empty() || r.to_string_lossy().to_lowercase().contains(&p))
        .collect();
    if chosen.is_empty() {
        return Err(CardError::NoReader(if p.is_empty() {
            "no smart card reader is connected".into()
        } else {
            format!("no smart card reader matches \"{pattern}\"")
        }));
    }
    Ok(chosen)
}

/// Run `read` on the card in each matching reader in turn until one succeeds. The error is
/// the most telling one: a card's own failure before "no card".
pub fn read_any<T>(
    pattern: &str,
    mut read: impl FnMut(&mut dyn Transport) -> Result<T, CardError>,
) -> Result<(T, String), CardError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User)
        .map_err(|e| CardError::NoReader(format!("the PC/SC service is not running ({e})")))?;
    let mut best: Option<CardError> = None;
    for name in readers(&ctx, pattern)? {
        let reader = name.to_string_lossy().into_owned();
        let card = match ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(c) => c,
            Err(pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard) => continue,
            Err(e) => {
                best.get_or_insert(io(e));
                continue;
            }
        };
        let mut c = PcscCard {
            card,
            reader: reader.clone(),
        };
        match read(&mut c) {
            Ok(v) => {
                let _ = c.card.disconnect(pcsc::Disposition::LeaveCard);
                return Ok((v, reader));
            }
            Err(e) => {
                tracing::info!(reader = %reader, "card not read: {e}");
                // A card's answer matters more than "not this kind of card".
                let replace = matches!(best, None | Some(CardError::Invalid(_)))
                    && !matches!(e, CardError::Invalid(_))
                    || best.is_none();
                if replace {
                    best = Some(e);
                }
            }
        }
    }
    Err(best.unwrap_or(CardError::NoCard))
}
