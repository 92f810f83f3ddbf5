//! A SAM ID card module on a serial port, and the ID card reader class: [`IdCardReader`] with a
//! real backend ([`SamModule`]: a module on a serial port, which is also how the simulated module
//! of `devsim` is reached, on a pseudo-terminal) and a disabled one ([`NoIdCardReader`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::idcard::{self, IdText, Kind};
use crate::sam::{self, cmd, sw3, FrameError};
use crate::serial::Port;

/// Why reading failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// No reader is configured: the configuration key that would name one.
    NotConfigured(String),
    /// The port cannot be opened (absent, no permission): the detail.
    NoDevice(String),
    /// The module does not answer (wrong port, unplugged, powered off).
    NoAnswer,
    /// No card on the reader.
    NoCard,
    /// The module reports a failure (SW3).
    Status(u8),
    /// The answer is not a valid frame or not the expected length.
    Garbled(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotConfigured(k) => write!(f, "no ID card reader configured ({k})"),
            ReadError::NoDevice(d) => write!(f, "ID card reader unavailable: {d}"),
            ReadError::NoAnswer => write!(f, "the ID card reader does not answer"),
            ReadError::NoCard => write!(f, "no card on the reader"),
            ReadError::Status(s) => {
                write!(f, "the reader reports: {} (SW3 {s:02X})", sam::sw3_text(*s))
            }
            ReadError::Garbled(d) => write!(f, "garbled answer from the reader: {d}"),
        }
    }
}

/// The one place ID card reader errors become vendor codes.
impl From<ReadError> for apierror::ApiError {
    fn from(e: ReadError) -> apierror::ApiError {
        use apierror::{ApiError, ErrorKind, Text};
        match e {
            ReadError::NotConfigured(key) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("未配置身份证阅读器（{key}）"),
                    format!("no ID card reader configured ({key})"),
                ),
            ),
            ReadError::NoCard => ApiError::with(
                ErrorKind::NoData,
                Text::new(
                    "未检测到身份证，请将证件放到读卡区",
                    "no ID card on the reader",
                ),
            ),
            ReadError::Status(s) => ApiError::with(
                ErrorKind::NoData,
                Text::new(
                    format!("读卡失败：{}（SW3 {s:02X}），请重新放卡", sam::sw3_text(s)),
                    format!(
                        "reading the card failed: {} (SW3 {s:02X}); place the card again",
                        sam::sw3_text(s)
                    ),
                ),
            ),
            ReadError::NoAnswer => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new("身份证阅读器无响应", "the ID card reader does not answer"),
            ),
            ReadError::NoDevice(d) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("身份证阅读器不可用：{d}"),
                    format!("ID card reader unavailable: {d}"),
                ),
            ),
            ReadError::Garbled(d) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("身份证阅读器通讯错误：{d}"),
                    format!("ID card reader communication error: {d}"),
                ),
            ),
        }
    }
}

/// Everything read from a card.
#[derive(Debug, Clone)]
pub struct CardData {
    pub kind: Kind,
    pub text: IdText,
    /// The 1024-byte WLT photo (needs a licensed decoder to become an image).
    pub photo: Vec<u8>,
    /// Fingerprint templates (1024 bytes: two 512-byte templates), when the card has them.
    pub finger: Option<Vec<u8>>,
    /// The 8 data bytes of the module's "select card" answer, as upper-case hex, when the module
    /// fills them (some modules put the card chip's serial number there; most send zeros: "").
    pub uid: String,
}

/// The ID card reader class.
pub trait IdCardReader: Send + Sync {
    /// Open the reader now (vendor `card=init`).
    fn init(&self) -> Result<(), ReadError>;
    /// Let go of the reader (vendor `card=release`); the next call opens it again.
    fn release(&self);
    /// The SAM module's identity.
    fn sam_id(&self) -> Result<String, ReadError>;
    /// Read the card on the reader.
    fn read_card(&self) -> Result<CardData, ReadError>;
}

/// A SAM module on a serial port: opened on first use, kept open, calls serialised, dropped
/// after a failure that may mean the device went away (the next call probes again).
pub struct SamModule {
    port: String,
    bauds: Vec<u32>,
    timeout: Duration,
    reader: Mutex<Option<SamReader>>,
}

impl SamModule {
    pub fn new(port: &str, bauds: &[u32], timeout: Duration) -> SamModule {
        SamModule {
            port: port.to_string(),
            bauds: if bauds.is_empty() {
                vec![115200, 9600]
            } else {
                bauds.to_vec()
            },
            timeout,
            reader: Mutex::new(None),
        }
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut SamReader) -> Result<T, ReadError>,
    ) -> Result<T, ReadError> {
        let mut slot = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(SamReader::open(&self.port, &self.bauds, self.timeout)?);
        }
        let r = f(slot.as_mut().expect("just opened"));
        if matches!(
            r,
            Err(ReadError::NoAnswer | ReadError::NoDevice(_) | ReadError::Garbled(_))
        ) {
            *slot = None;
        }
        r
    }
}

impl IdCardReader for SamModule {
    fn init(&self) -> Result<(), ReadError> {
        self.with_reader(|_| Ok(()))
    }

    fn release(&self) {
        *self.reader.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn sam_id(&self) -> Result<String, ReadError> {
        self.with_reader(|r| r.sam_id())
    }

    fn read_card(&self) -> Result<CardData, ReadError> {
        self.with_reader(|r| r.read_card())
    }
}

/// No ID card reader (none configured): every call names the configuration key.
pub struct NoIdCardReader(pub String);

impl IdCardReader for NoIdCardReader {
    fn init(&self) -> Result<(), ReadError> {
        Err(ReadError::NotConfigured(self.0.clone()))
    }
    fn release(&self) {}
    fn sam_id(&self) -> Result<String, ReadError> {
        Err(ReadError::NotConfigured(self.0.clone()))
    }
    fn read_card(&self) -> Result<CardData, ReadError> {
        Err(ReadError::NotConfigured(self.0.clone()))
    }
}

pub struct SamReader {
    port: Port,
    timeout: Duration,
}

impl SamReader {
    /// Open the port and find the module's baud rate (the first of `bauds` at which it answers
    /// a status command).
    pub fn open(path: &str, bauds: &[u32], timeout: Duration) -> Result<SamReader, ReadError> {
        let port = Port::open(path, bauds.first().copied().unwrap_or(115200))
            .map_err(|e| ReadError::NoDevice(format!("{path}: {e}")))?;
        let mut r = SamReader { port, timeout };
        let mut last = ReadError::NoAnswer;
        for &b in bauds {
            r.port
                .set_baud(b)
                .map_err(|e| ReadError::NoDevice(format!("{path}: {e}")))?;
            match r.transact(cmd::SAM_STATUS, Duration::from_millis(600).min(timeout)) {
                Ok((s, _)) if s == sw3::OK => {
                    tracing::info!(port = path, baud = b, "ID card SAM module found");
                    return Ok(r);
                }
                Ok((s, _)) => last = ReadError::Status(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Send a command, wait for its answer: (SW3, data).
    fn transact(&mut self, c: (u8, u8), timeout: Duration) -> Result<(u8, Vec<u8>), ReadError> {
        self.port.discard_input();
        self.port
            .write_all(&sam::command(c, &[]))
            .map_err(|e| ReadError::NoDevice(e.to_string()))?;
        let deadline = Instant::now() + timeout;
        let mut buf = Vec::with_capacity(2400);
        let mut chunk = [0u8; 4096];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(if buf.is_empty() {
                    ReadError::NoAnswer
                } else {
                    ReadError::Garbled(format!("incomplete answer ({} bytes)", buf.len()))
                });
            }
            let n = self
                .port
                .read_some(&mut chunk, deadline - now)
                .map_err(|e| ReadError::NoDevice(e.to_string()))?;
            buf.extend_from_slice(&chunk[..n]);
            match sam::parse(&buf) {
                Ok((body, _)) => {
                    let (s, data) = sam::status(&body).map_err(|e| ReadError::Garbled(e.into()))?;
                    return Ok((s, data.to_vec()));
                }
                Err(FrameError::Incomplete) => {}
                Err(FrameError::Bad(why)) => return Err(ReadError::Garbled(why.into())),
            }
        }
    }

    /// A command retried once when the answer was garbled or the module saw a transmission
    /// error (checksum or length).
    fn command(&mut self, c: (u8, u8), timeout: Duration) -> Result<(u8, Vec<u8>), ReadError> {
        match self.transact(c, timeout) {
            Err(ReadError::Garbled(_)) | Ok((sw3::CHECKSUM | sw3::LENGTH, _)) => {
                std::thread::sleep(Duration::from_millis(50));
                self.transact(c, timeout)
            }
            r => r,
        }
    }

    /// The module's SAM ID (`05.01-20101027-...`).
    pub fn sam_id(&mut self) -> Result<String, ReadError> {
        match self.command(cmd::READ_SAM_ID, self.timeout)? {
            (sw3::OK, d) => idcard::format_sam_id(&d).map_err(ReadError::Garbled),
            (s, _) => Err(ReadError::Status(s)),
        }
    }

    /// Find, select and read the card on the reader (text, photo and fingerprint when the
    /// module supports it).
    pub fn read_card(&mut self) -> Result<CardData, ReadError> {
        match self.command(cmd::FIND_CARD, self.timeout)? {
            (sw3::FIND_OK, _) => {}
            (sw3::FIND_FAILED, _) => return Err(ReadError::NoCard),
            (s, _) => return Err(ReadError::Status(s)),
        }
        let uid = match self.command(cmd::SELECT_CARD, self.timeout)? {
            (sw3::OK, d) => select_uid(&d),
            // Found a moment ago, gone now: taken off the reader.
            (sw3::SELECT_FAILED, _) => return Err(ReadError::NoCard),
            (s, _) => return Err(ReadError::Status(s)),
        };
        let long = self.timeout * 3;
        let (s, data, with_finger) = match self.command(cmd::READ_TEXT_PHOTO_FINGER, long)? {
            (sw3::BAD_COMMAND, _) => {
                let (s, d) = self.command(cmd::READ_TEXT_PHOTO, long)?;
                (s, d, false)
            }
            (s, d) => (s, d, true),
        };
        if s != sw3::OK {
            return Err(ReadError::Status(s));
        }
        let mut card = parse_card(&data, with_finger).map_err(ReadError::Garbled)?;
        card.uid = uid;
        Ok(card)
    }
}

/// The card serial of a "select card" answer: its 8 data bytes as hex, "" when they are zeros or
/// missing.
pub fn select_uid(d: &[u8]) -> String {
    if d.len() < 8 || d[..8].iter().all(|&b| b == 0) {
        return String::new();
    }
    d[..8].iter().map(|b| format!("{b:02X}")).collect()
}

/// The data of a 30 01 / 30 10 answer: text, photo (and fingerprint) lengths, then the blocks.
pub fn parse_card(d: &[u8], with_finger: bool) -> Result<CardData, String> {
    let head = if with_finger { 6 } else { 4 };
    if d.len() < head {
        return Err("card data shorter than its length fields".into());
    }
    let text_len = u16::from_be_bytes([d[0], d[1]]) as usize;
    let photo_len = u16::from_be_bytes([d[2], d[3]]) as usize;
    let finger_len = if with_finger {
        u16::from_be_bytes([d[4], d[5]]) as usize
    } else {
        0
    };
    if text_len != idcard::TEXT_LEN {
        return Err(format!("text block of {text_len} bytes"));
    }
    if d.len() != head + text_len + photo_len + finger_len {
        return Err(format!(
            "card data of {} bytes, {} announced",
            d.len(),
            head + text_len + photo_len + finger_len
        ));
    }
    let text = &d[head..head + text_len];
    let photo = d[head + text_len..head + text_len + photo_len].to_vec();
    let finger = d[head + text_len + photo_len..].to_vec();
    let (kind, text) = idcard::parse(text)?;
    Ok(CardData {
        kind,
        text,
        photo,
        finger: (!finger.is_empty()).then_some(finger),
        uid: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_data_lengths_checked() {
        let text = idcard::build(
            Kind::Resident,
            &IdText {
                name: "李四".into(),
                ..Default::default()
            },
        );
        let mut d = vec![0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
        d.extend_from_slice(&text);
        d.extend_from_slice(&[7u8; 1024]);
        d.extend_from_slice(&[9u8; 1024]);
        let c = parse_card(&d, true).unwrap();
        assert_eq!(c.text.name, "李四");
        assert_eq!(c.finger.as_deref().map(|f| f.len()), Some(1024));
        assert!(parse_card(&d[..d.len() - 1], true).is_err());
        assert!(parse_card(&d[..3], true).is_err());
        // No fingerprint: length 0.
        let mut n = vec![0x01, 0x00, 0x04, 0x00, 0x00, 0x00];
        n.extend_from_slice(&text);
        n.extend_from_slice(&[7u8; 1024]);
        assert!(parse_card(&n, true).unwrap().finger.is_none());
        // Random bytes never panic.
        let mut x: u32 = 7;
        for len in 0..3000 {
            let v: Vec<u8> = (0..len % 300)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = parse_card(&v, len % 2 == 0);
        }
    }
}
