//! Magnetic stripe readers: the text they send for a swipe (`%track1?;track2?+track3?`, `E` for a
//! track that could not be read), and the two kinds of reader: HID keyboards (read through evdev
//! with an exclusive grab, so the swipe does not land in whatever has the keyboard focus) and
//! serial readers.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The three tracks; a track the card lacks or the reader could not read is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracks {
    pub track1: String,
    pub track2: String,
    pub track3: String,
    /// Tracks the reader reported as unreadable (`E`).
    pub bad: Vec<u8>,
}

/// Split a swipe's text into tracks. Track 1 starts with `%`; track 2 with `;`; track 3 with `+`,
/// `!`, `#`, `&` or a second `;`. Each ends with `?`. The sentinels are not part of the data.
pub fn parse_swipe(s: &str) -> Tracks {
    let mut t = Tracks::default();
    let mut rest = s.trim_matches(['\r', '\n', ' ']);
    while let Some(start) = rest.chars().next() {
        let body_and_more = &rest[start.len_utf8()..];
        let (body, next) = match body_and_more.find('?') {
            Some(i) => (&body_and_more[..i], &body_and_more[i + 1..]),
            None => (body_and_more, ""),
        };
        let slot = match start {
            '%' => Some(1),
            ';' if t.track2.is_empty() && !t.bad.contains(&2) => Some(2),
            ';' | '+' | '!' | '#' | '&' => Some(3),
            'E' | 'e' => {
                // A bad track without a start sentinel: the next one in order.
                let n = if t.track1.is_empty() && !t.bad.contains(&1) && t.track2.is_empty() {
                    1
                } else if t.track2.is_empty() && !t.bad.contains(&2) {
                    2
                } else {
                    3
                };
                t.bad.push(n);
                rest = body_and_more.trim_start_matches('?');
                continue;
            }
            _ => None,
        };
        if let Some(n) = slot {
            if body == "E" || body == "e" {
                t.bad.push(n);
            } else {
                let dst = match n {
                    1 => &mut t.track1,
                    2 => &mut t.track2,
                    _ => &mut t.track3,
                };
                *dst = body.to_string();
            }
            rest = next;
        } else {
            rest = body_and_more;
        }
    }
    t
}

/// The character of an evdev key code on a US keyboard (what magnetic stripe readers emulate),
/// plain and with shift.
pub fn key_char(code: u16, shift: bool) -> Option<char> {
    const ROW1: &str = "1234567890-=";
    const ROW1S: &str = "!@#$%^&*()_+";
    let pick = |plain: &str, shifted: &str, i: usize| {
        if shift {
            shifted.chars().nth(i)
        } else {
            plain.chars().nth(i)
        }
    };
    match code {
        2..=13 => pick(ROW1, ROW1S, (code - 2) as usize),
        16..=25 => pick("qwertyuiop", "QWERTYUIOP", (code - 16) as usize),
        26 => pick("[", "{", 0),
        27 => pick("]", "}", 0),
        30..=38 => pick("asdfghjkl", "ASDFGHJKL", (code - 30) as usize),
        39 => pick(";", ":", 0),
        40 => pick("'", "\"", 0),
        41 => pick("`", "~", 0),
        43 => pick("\\", "|", 0),
        44..=50 => pick("zxcvbnm", "ZXCVBNM", (code - 44) as usize),
        51 => pick(",", "<", 0),
        52 => pick(".", ">", 0),
        53 => pick("/", "?", 0),
        57 => Some(' '),
        // Keypad digits.
        71 => Some('7'),
        72 => Some('8'),
        73 => Some('9'),
        75 => Some('4'),
        76 => Some('5'),
        77 => Some('6'),
        79 => Some('1'),
        80 => Some('2'),
        81 => Some('3'),
        82 => Some('0'),
        _ => None,
    }
}

const KEY_ENTER: u16 = 28;
const KEY_KPENTER: u16 = 96;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_RIGHTSHIFT: u16 = 54;
const EV_KEY: u16 = 1;

/// Why no swipe was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MagError {
    /// No reader is configured: the configuration key that would name one.
    NotConfigured(String),
    /// The reader is absent or cannot be opened: the detail.
    NoDevice(String),
    /// Nobody swiped a card in time.
    Timeout,
    /// A swipe arrived but no track could be read.
    Unreadable,
}

impl std::fmt::Display for MagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MagError::NotConfigured(k) => write!(f, "no magnetic stripe reader configured ({k})"),
            MagError::NoDevice(d) => write!(f, "magnetic stripe reader unavailable: {d}"),
            MagError::Timeout => write!(f, "no card was swiped in time"),
            MagError::Unreadable => write!(f, "the swipe could not be read"),
        }
    }
}

/// The one place stripe reader errors become vendor codes. The reader does not know how long it
/// waited: an adapter that does says so in its own words for [`MagError::Timeout`].
impl From<MagError> for apierror::ApiError {
    fn from(e: MagError) -> apierror::ApiError {
        use apierror::{ApiError, ErrorKind, Text};
        match e {
            MagError::NotConfigured(key) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("未配置磁条卡阅读器（{key}）"),
                    format!("no magnetic stripe reader configured ({key})"),
                ),
            ),
            MagError::NoDevice(d) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("磁条卡阅读器不可用：{d}"),
                    format!("magnetic stripe reader unavailable: {d}"),
                ),
            ),
            MagError::Timeout => ApiError::with(
                ErrorKind::NoData,
                Text::new("等待刷卡超时", "no card swiped in time"),
            ),
            MagError::Unreadable => ApiError::with(
                ErrorKind::NoData,
                Text::new(
                    "磁条无法读取，请重新刷卡",
                    "the stripe could not be read; swipe again",
                ),
            ),
        }
    }
}

/// The magnetic stripe reader class.
pub trait StripeReader: Send + Sync {
    /// Wait up to `timeout` for a card swiped after the call.
    fn swipe(&self, timeout: Duration) -> Result<Tracks, MagError>;
}

/// A reader on a serial port.
pub struct SerialStripe {
    pub path: String,
    pub baud: u32,
}

impl StripeReader for SerialStripe {
    fn swipe(&self, timeout: Duration) -> Result<Tracks, MagError> {
        read_serial(&self.path, self.baud, timeout)
    }
}

/// An HID keyboard reader (evdev): a device path or a part of its name.
pub struct HidStripe {
    pub spec: String,
}

impl StripeReader for HidStripe {
    fn swipe(&self, timeout: Duration) -> Result<Tracks, MagError> {
        find_input(&self.spec).and_then(|p| read_hid(&p, timeout))
    }
}

/// The reader a `magcard.device` setting names: a serial port (`/dev/tty*`, a by-id serial
/// path) or an HID reader (an input device path or a part of its name).
pub fn reader_for(device: &str, baud: u32) -> Box<dyn StripeReader> {
    let d = device.trim();
    if ["/dev/tty", "/dev/serial/", "/dev/pts/"]
        .iter()
        .any(|p| d.starts_with(p))
    {
        Box::new(SerialStripe {
            path: d.to_string(),
            baud,
        })
    } else {
        Box::new(HidStripe {
            spec: d.to_string(),
        })
    }
}

/// No stripe reader (none configured): every call names the configuration key.
pub struct NoStripeReader(pub String);

impl StripeReader for NoStripeReader {
    fn swipe(&self, _timeout: Duration) -> Result<Tracks, MagError> {
        Err(MagError::NotConfigured(self.0.clone()))
    }
}

fn check_tracks(t: Tracks) -> Result<Tracks, MagError> {
    if t.track1.is_empty() && t.track2.is_empty() && t.track3.is_empty() {
        Err(MagError::Unreadable)
    } else {
        Ok(t)
    }
}

// linux/input.h ioctls.
const fn ioc(dir: u64, nr: u64, size: u64) -> u64 {
    (dir << 30) | (size << 16) | ((b'E' as u64) << 8) | nr
}
const EVIOCGRAB: u64 = ioc(1, 0x90, 4);
fn eviocgname(len: u64) -> u64 {
    ioc(2, 0x06, len)
}

/// The name an input device reports.
pub fn input_name(path: &str) -> Option<String> {
    let c = std::ffi::CString::new(path).ok()?;
    // SAFETY: open/ioctl/close on a descriptor we own, into a local buffer.
    unsafe {
        let fd = libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return None;
        }
        let mut buf = [0u8; 256];
        let n = libc::ioctl(fd, eviocgname(buf.len() as u64) as _, buf.as_mut_ptr());
        libc::close(fd);
        if n < 0 {
            return None;
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Some(String::from_utf8_lossy(&buf[..end]).into_owned())
    }
}

/// The input device for `spec`: a path (`/dev/input/eventN`, a by-id link) or a part of the
/// device name (case-insensitive).
pub fn find_input(spec: &str) -> Result<String, MagError> {
    if spec.starts_with('/') {
        return Ok(spec.to_string());
    }
    let want = spec.to_lowercase();
    // No /dev/input at all (no input devices): nothing matches.
    let mut nodes: Vec<String> = std::fs::read_dir("/dev/input")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().to_string_lossy().into_owned())
        .filter(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with("event")))
        .collect();
    nodes.sort();
    nodes
        .into_iter()
        .find(|p| input_name(p).is_some_and(|n| n.to_lowercase().contains(&want)))
        .ok_or_else(|| MagError::NoDevice(format!("no input device named like \"{spec}\"")))
}

/// Wait for one swipe on a HID keyboard reader, holding it grabbed meanwhile.
pub fn read_hid(path: &str, timeout: Duration) -> Result<Tracks, MagError> {
    let c = std::ffi::CString::new(path).map_err(|_| MagError::NoDevice(path.into()))?;
    // SAFETY: a valid C string; the descriptor is owned from here on.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(MagError::NoDevice(format!(
            "{path}: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: fd was just opened.
    let dev = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: EVIOCGRAB with an int argument on our descriptor; released when it closes.
    if unsafe { libc::ioctl(dev.as_raw_fd(), EVIOCGRAB as _, 1 as libc::c_int) } < 0 {
        return Err(MagError::NoDevice(format!(
            "{path}: cannot take the reader exclusively: {}",
            std::io::Error::last_os_error()
        )));
    }
    let mut deadline = Instant::now() + timeout;
    let mut text = String::new();
    let mut shift = false;
    // After the Enter press, the grab is kept until its release (or a moment), so that no stray
    // key-up reaches whoever gets the keyboard next.
    let mut done: Option<Tracks> = None;
    let ev_size = std::mem::size_of::<libc::input_event>();
    let mut buf = vec![0u8; ev_size * 64];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return match done {
                Some(t) => check_tracks(t),
                None => Err(MagError::Timeout),
            };
        }
        let mut p = libc::pollfd {
            fd: dev.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = (deadline - now).as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one pollfd; read into our buffer.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r <= 0 {
            continue;
        }
        if p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return Err(MagError::NoDevice(format!("{path}: the reader went away")));
        }
        let n = unsafe { libc::read(dev.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            continue;
        }
        for ev in buf[..n as usize].chunks_exact(ev_size) {
            // SAFETY: the kernel writes whole input_event structs.
            let e: libc::input_event = unsafe { std::ptr::read_unaligned(ev.as_ptr().cast()) };
            if e.type_ != EV_KEY {
                continue;
            }
            match (e.code, e.value) {
                (KEY_ENTER | KEY_KPENTER, 0) if done.is_some() => {
                    return check_tracks(done.take().unwrap_or_default());
                }
                _ if done.is_some() => {}
                (KEY_LEFTSHIFT | KEY_RIGHTSHIFT, v) => shift = v != 0,
                (KEY_ENTER | KEY_KPENTER, 1) if !text.is_empty() => {
                    done = Some(parse_swipe(&text));
                    deadline = Instant::now() + Duration::from_millis(200);
                }
                (code, 1) => {
                    if let Some(ch) = key_char(code, shift) {
                        text.push(ch);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Wait for one swipe on a serial reader (the text ends with CR or LF).
pub fn read_serial(path: &str, baud: u32, timeout: Duration) -> Result<Tracks, MagError> {
    let port = crate::serial::Port::open(path, baud)
        .map_err(|e| MagError::NoDevice(format!("{path}: {e}")))?;
    let deadline = Instant::now() + timeout;
    let mut text = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(MagError::Timeout);
        }
        let n = port
            .read_some(&mut chunk, deadline - now)
            .map_err(|e| MagError::NoDevice(format!("{path}: {e}")))?;
        for &b in &chunk[..n] {
            if (b == b'\r' || b == b'\n') && !text.is_empty() {
                return check_tracks(parse_swipe(&String::from_utf8_lossy(&text)));
            }
            if b != b'\r' && b != b'\n' {
                text.push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swipes() {
        let t = parse_swipe(
            "%B6222021234567890^ZHANG/SAN^3012101?;6222021234567890=30121010000?+0123456789?\r",
        );
        assert_eq!(t.track1, "B6222021234567890^ZHANG/SAN^3012101");
        assert_eq!(t.track2, "6222021234567890=30121010000");
        assert_eq!(t.track3, "0123456789");
        assert!(t.bad.is_empty());
        let t = parse_swipe("%E?;6222021234567890=3012?;E?");
        assert_eq!(
            (t.track1.as_str(), t.track2.as_str(), t.track3.as_str()),
            ("", "6222021234567890=3012", "")
        );
        assert_eq!(t.bad, vec![1, 3]);
        let t = parse_swipe(";1234=5678?");
        assert_eq!(t.track2, "1234=5678");
        assert!(check_tracks(parse_swipe("%E?;E?+E?")).is_err());
        // Junk never panics.
        for s in ["", "?", "%", ";;;", "??%?", "中文%?;", "E", "EEE?"] {
            let _ = parse_swipe(s);
        }
    }

    #[test]
    fn keys() {
        assert_eq!(key_char(2, false), Some('1'));
        assert_eq!(key_char(6, true), Some('%'));
        assert_eq!(key_char(39, false), Some(';'));
        assert_eq!(key_char(53, true), Some('?'));
        assert_eq!(key_char(13, false), Some('='));
        assert_eq!(key_char(7, true), Some('^'));
        assert_eq!(key_char(48, true), Some('B'));
        assert_eq!(key_char(13, true), Some('+'));
    }
}
