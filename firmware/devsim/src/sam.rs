//! A simulated SAM ID card module. It answers the real frames on a pseudo-terminal, so the
//! daemon's reader code runs unchanged against it: cards (resident with or without fingerprint,
//! Hong Kong/Macau/Taiwan permit, foreign permanent resident), no card, and faults (garbled,
//! slow or missing answers, transmission errors, failed reads).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cards::idcard::{self, IdText, Kind};
use cards::sam::{self, cmd, sw3};

/// A card lying on the simulated reader.
#[derive(Debug, Clone)]
pub struct SimCard {
    pub kind: Kind,
    pub text: IdText,
    pub photo: Vec<u8>,
    pub finger: Option<Vec<u8>>,
    /// What the module answers to "select card" (8 bytes; zeros on most real modules).
    pub select: [u8; 8],
}

/// Misbehaviour to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Every answer has a wrong checksum.
    Garble,
    /// Answers come this late.
    Slow(Duration),
    /// No answers at all.
    Silent,
    /// The module reports a checksum error for the next command only.
    ChecksumOnce,
    /// Reading the card fails (SW3 41).
    ReadFails,
    /// The card is taken away between "find" and "select".
    RemovedAfterFind,
}

#[derive(Debug, Clone)]
pub struct SimSam {
    pub card: Option<SimCard>,
    pub sam_id: [u8; 16],
    pub fault: Fault,
    /// Whether the module knows command 30 10 (fingerprint).
    pub finger_support: bool,
}

impl Default for SimSam {
    fn default() -> Self {
        SimSam {
            card: Some(sample("resident-finger").expect("sample")),
            sam_id: [
                5, 0, 1, 0, 0x2D, 0xC0, 0x32, 0x01, 0x39, 0x30, 0, 0, 0xD2, 0x02, 0x96, 0x49,
            ],
            fault: Fault::None,
            finger_support: true,
        }
    }
}

/// A deterministic stand-in for the encrypted WLT photo.
fn fake_wlt() -> Vec<u8> {
    let mut v = b"WLT".to_vec();
    let mut x: u32 = 0x1234_5678;
    while v.len() < 1024 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        v.push((x >> 24) as u8);
    }
    v
}

fn fake_finger() -> Vec<u8> {
    let mut v = vec![0u8; 1024];
    for (i, b) in v.iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    // Byte 5 of each template: finger position (11 right thumb, 16 left thumb).
    v[5] = 11;
    v[512 + 5] = 16;
    v
}

/// The sample cards: `resident`, `resident-finger`, `permit`, `foreign`.
pub fn sample(name: &str) -> Option<SimCard> {
    let resident = IdText {
        name: "张三".into(),
        sex_code: "1".into(),
        nation_code: "01".into(),
        birthday: "19900101".into(),
        address: "北京市东城区景山前街4号".into(),
        card_id: "11010119900101001X".into(),
        issue_organ: "北京市公安局东城分局".into(),
        valid_start: "20200101".into(),
        valid_end: "20400101".into(),
        ..Default::default()
    };
    Some(match name {
        "resident" => SimCard {
            kind: Kind::Resident,
            text: resident,
            photo: fake_wlt(),
            finger: None,
            select: [0; 8],
        },
        "resident-finger" => SimCard {
            kind: Kind::Resident,
            text: IdText {
                name: "李四".into(),
                sex_code: "2".into(),
                nation_code: "03".into(),
                valid_end: "长期".into(),
                card_id: "110101198001010028".into(),
                birthday: "19800101".into(),
                ..resident
            },
            photo: fake_wlt(),
            finger: Some(fake_finger()),
            // A module that fills the select answer with the chip's serial number.
            select: [0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05],
        },
        "permit" => SimCard {
            kind: Kind::Permit,
            text: IdText {
                name: "陈大文".into(),
                sex_code: "1".into(),
                birthday: "19850505".into(),
                address: "香港特别行政区".into(),
                card_id: "810000198505050011".into(),
                issue_organ: "深圳市公安局".into(),
                valid_start: "20190101".into(),
                valid_end: "20240101".into(),
                passport_id: "H60123456".into(),
                sign_count: "02".into(),
                ..Default::default()
            },
            photo: fake_wlt(),
            finger: None,
            select: [0; 8],
        },
        "foreign" => SimCard {
            kind: Kind::Foreign,
            text: IdText {
                name_en: "SMITH, JOHN".into(),
                name: "史密斯".into(),
                sex_code: "1".into(),
                card_id: "USA110090010117".into(),
                nation_code: "USA".into(),
                valid_start: "20200101".into(),
                valid_end: "20300101".into(),
                birthday: "19900101".into(),
                card_version: "01".into(),
                authority_code: "1500".into(),
                ..Default::default()
            },
            photo: fake_wlt(),
            finger: None,
            select: [0; 8],
        },
        _ => return None,
    })
}

impl SimSam {
    /// The answer frame to a command frame body (None: stay silent).
    pub fn answer(&mut self, body: &[u8]) -> Option<Vec<u8>> {
        if self.fault == Fault::Silent {
            return None;
        }
        if self.fault == Fault::ChecksumOnce {
            self.fault = Fault::None;
            return Some(sam::response(sw3::CHECKSUM, &[]));
        }
        let c = (body.first().copied()?, body.get(1).copied()?);
        let reply = match c {
            cmd::RESET_SAM | cmd::SAM_STATUS => sam::response(sw3::OK, &[]),
            cmd::READ_SAM_ID => sam::response(sw3::OK, &self.sam_id),
            cmd::FIND_CARD => match &self.card {
                Some(_) => {
                    if self.fault == Fault::RemovedAfterFind {
                        self.card = None;
                    }
                    sam::response(sw3::FIND_OK, &[0, 0, 0, 0])
                }
                None => sam::response(sw3::FIND_FAILED, &[]),
            },
            cmd::SELECT_CARD => match &self.card {
                Some(c) => sam::response(sw3::OK, &c.select),
                None => sam::response(sw3::SELECT_FAILED, &[]),
            },
            cmd::READ_TEXT_PHOTO | cmd::READ_TEXT_PHOTO_FINGER => {
                let finger_cmd = c == cmd::READ_TEXT_PHOTO_FINGER;
                if finger_cmd && !self.finger_support {
                    sam::response(sw3::BAD_COMMAND, &[])
                } else if self.fault == Fault::ReadFails {
                    sam::response(sw3::READ_FAILED, &[])
                } else {
                    match &self.card {
                        None => sam::response(sw3::READ_FAILED, &[]),
                        Some(card) => {
                            let text = idcard::build(card.kind, &card.text);
                            let finger: &[u8] = match (&card.finger, finger_cmd) {
                                (Some(f), true) => f,
                                _ => &[],
                            };
                            let mut d = Vec::with_capacity(2400);
                            d.extend_from_slice(&(text.len() as u16).to_be_bytes());
                            d.extend_from_slice(&(card.photo.len() as u16).to_be_bytes());
                            if finger_cmd {
                                d.extend_from_slice(&(finger.len() as u16).to_be_bytes());
                            }
                            d.extend_from_slice(&text);
                            d.extend_from_slice(&card.photo);
                            d.extend_from_slice(finger);
                            sam::response(sw3::OK, &d)
                        }
                    }
                }
            }
            _ => sam::response(sw3::BAD_COMMAND, &[]),
        };
        Some(reply)
    }
}

/// Open a pseudo-terminal pair: (master, path of the slave side).
pub fn open_pty() -> std::io::Result<(OwnedFd, String)> {
    // SAFETY: posix_openpt/grantpt/unlockpt/ptsname_r on a descriptor we own.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let master = OwnedFd::from_raw_fd(fd);
        if libc::grantpt(fd) != 0 || libc::unlockpt(fd) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        if libc::ptsname_r(fd, name.as_mut_ptr(), name.len()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        // Raw mode on the master side too: no echo, no line discipline on our answers.
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd, libc::TCSANOW, &t);
        }
        Ok((master, path))
    }
}

/// Answer frames arriving on `master` until it fails (the process ends). Runs on its own thread.
pub fn serve(master: OwnedFd, state: Arc<Mutex<SimSam>>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("sim-sam".into())
        .spawn(move || {
            let fd = master.as_raw_fd();
            let mut buf: Vec<u8> = Vec::new();
            let mut chunk = [0u8; 1024];
            loop {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd; read into a live buffer.
                let r = unsafe { libc::poll(&mut p, 1, 500) };
                if r <= 0 {
                    continue;
                }
                if p.revents & libc::POLLIN == 0 {
                    // No reader on the slave side yet (POLLHUP): wait for one.
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
                if n <= 0 {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                buf.extend_from_slice(&chunk[..n as usize]);
                loop {
                    match sam::parse(&buf) {
                        Ok((body, used)) => {
                            buf.drain(..used);
                            let (reply, fault) = {
                                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                                (s.answer(&body), s.fault)
                            };
                            let Some(mut reply) = reply else { continue };
                            if let Fault::Slow(d) = fault {
                                std::thread::sleep(d);
                            }
                            if fault == Fault::Garble {
                                if let Some(last) = reply.last_mut() {
                                    *last ^= 0x5A;
                                }
                            }
                            write_all(fd, &reply);
                        }
                        Err(sam::FrameError::Incomplete) => break,
                        Err(sam::FrameError::Bad(_)) => {
                            // A module answers a frame it cannot read with a checksum error.
                            buf.clear();
                            write_all(fd, &sam::response(sw3::CHECKSUM, &[]));
                            break;
                        }
                    }
                }
            }
        })
        .expect("spawn simulator thread")
}

fn write_all(fd: libc::c_int, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        data = &data[n as usize..];
    }
}

/// Start a simulated module on a new pseudo-terminal; returns the port path to open.
pub fn start(state: Arc<Mutex<SimSam>>) -> std::io::Result<String> {
    let (master, path) = open_pty()?;
    serve(master, state);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_cards_round_trip() {
        // The simulator's permit and foreign cards (every field of their layouts filled).
        for name in ["permit", "foreign", "resident-finger"] {
            let c = sample(name).expect("sample");
            let (k, x) = idcard::parse(&idcard::build(c.kind, &c.text)).unwrap();
            assert_eq!(k, c.kind, "{name}");
            assert_eq!(x, c.text, "{name}");
        }
    }

    use cards::reader::{ReadError, SamReader};

    #[test]
    fn reader_against_the_simulator() {
        let state = Arc::new(Mutex::new(SimSam::default()));
        let path = start(state.clone()).unwrap();
        let t = Duration::from_millis(800);
        let mut r = SamReader::open(&path, &[115200, 9600], t).unwrap();
        assert_eq!(r.sam_id().unwrap(), "05.01-20103213-0000012345-1234567890");
        let c = r.read_card().unwrap();
        assert_eq!(c.text.name, "李四");
        assert_eq!(c.text.valid_end, "长期");
        assert_eq!(c.finger.as_ref().map(|f| f.len()), Some(1024));
        assert_eq!(c.photo.len(), 1024);

        for (name, kind) in [
            ("permit", Kind::Permit),
            ("foreign", Kind::Foreign),
            ("resident", Kind::Resident),
        ] {
            state.lock().unwrap().card = sample(name);
            let c = r.read_card().unwrap();
            assert_eq!(c.kind, kind);
            assert!(c.finger.is_none());
        }
        // A module without the fingerprint command: falls back to 30 01.
        state.lock().unwrap().finger_support = false;
        state.lock().unwrap().card = sample("resident-finger");
        assert!(r.read_card().unwrap().finger.is_none());
        state.lock().unwrap().finger_support = true;

        state.lock().unwrap().card = None;
        assert_eq!(r.read_card().unwrap_err(), ReadError::NoCard);
        state.lock().unwrap().card = sample("resident");
        state.lock().unwrap().fault = Fault::RemovedAfterFind;
        assert_eq!(r.read_card().unwrap_err(), ReadError::NoCard);
        state.lock().unwrap().card = sample("resident");
        state.lock().unwrap().fault = Fault::ReadFails;
        assert_eq!(
            r.read_card().unwrap_err(),
            ReadError::Status(sw3::READ_FAILED)
        );
        // One transmission error is retried.
        state.lock().unwrap().fault = Fault::ChecksumOnce;
        assert!(r.read_card().is_ok());
        state.lock().unwrap().fault = Fault::Garble;
        assert!(matches!(r.read_card().unwrap_err(), ReadError::Garbled(_)));
        state.lock().unwrap().fault = Fault::Silent;
        assert_eq!(r.read_card().unwrap_err(), ReadError::NoAnswer);
        state.lock().unwrap().fault = Fault::None;
        assert!(r.read_card().is_ok());
    }
}
