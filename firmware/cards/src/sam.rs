//! SAM module frames: `AA AA AA 96 69 | LEN (2, big-endian) | body | CHK`. LEN counts the bytes
//! after itself (body and checksum); CHK is the XOR of LEN and body. A command body is
//! `CMD PARA [data]`; a response body is `SW1 SW2 SW3 [data]` with SW1 SW2 = 00 00.

/// The frame preamble.
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// The longest frame body accepted (text + photo + fingerprint is 2316 bytes).
pub const MAX_BODY: usize = 4096;

/// Commands (CMD, PARA).
pub mod cmd {
    pub const RESET_SAM: (u8, u8) = (0x10, 0xFF);
    pub const SAM_STATUS: (u8, u8) = (0x11, 0xFF);
    pub const READ_SAM_ID: (u8, u8) = (0x12, 0xFF);
    pub const FIND_CARD: (u8, u8) = (0x20, 0x01);
    pub const SELECT_CARD: (u8, u8) = (0x20, 0x02);
    pub const READ_TEXT_PHOTO: (u8, u8) = (0x30, 0x01);
    pub const READ_TEXT_PHOTO_FINGER: (u8, u8) = (0x30, 0x10);
}

/// SW3 values.
pub mod sw3 {
    pub const OK: u8 = 0x90;
    pub const NOT_ON_CARD: u8 = 0x91;
    pub const FIND_OK: u8 = 0x9F;
    pub const CHECKSUM: u8 = 0x10;
    pub const LENGTH: u8 = 0x11;
    pub const BAD_COMMAND: u8 = 0x21;
    pub const CARD_AUTH_FAILED: u8 = 0x31;
    pub const READ_FAILED: u8 = 0x41;
    pub const SAM_SELF_TEST: u8 = 0x60;
    pub const FIND_FAILED: u8 = 0x80;
    pub const SELECT_FAILED: u8 = 0x81;
}

/// What an SW3 means, in English (for logs and messages).
pub fn sw3_text(s: u8) -> &'static str {
    match s {
        0x90 => "ok",
        0x91 => "item not on the card",
        0x9F => "card found",
        0x10 => "checksum error",
        0x11 => "length error",
        0x21 => "unknown command",
        0x23 => "command not permitted",
        0x24 => "unknown error",
        0x31 => "card failed to authenticate the SAM",
        0x32 => "SAM failed to authenticate the card",
        0x33 => "verification failed",
        0x37 => "fingerprint data error",
        0x3F => "information length error",
        0x40 => "unknown card type",
        0x41 => "reading the card failed",
        0x47 => "random number failed",
        0x60 => "SAM self-test failed",
        0x66 => "SAM not authorised",
        0x80 => "no card found",
        0x81 => "selecting the card failed",
        _ => "unknown status",
    }
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

/// Build a frame around a body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let len = (body.len() + 1) as u16;
    let mut f = Vec::with_capacity(body.len() + 8);
    f.extend_from_slice(&PREAMBLE);
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(body);
    let chk = checksum(&f[5..]);
    f.push(chk);
    f
}

/// A command frame.
pub fn command(c: (u8, u8), data: &[u8]) -> Vec<u8> {
    let mut body = vec![c.0, c.1];
    body.extend_from_slice(data);
    frame(&body)
}

/// A response frame (simulator side).
pub fn response(sw3: u8, data: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, sw3];
    body.extend_from_slice(data);
    frame(&body)
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// More bytes are needed.
    Incomplete,
    /// Not a frame: the reason.
    Bad(&'static str),
}

/// Find the first complete frame in `buf`. Returns the body and the number of bytes consumed
/// (garbage before the preamble included).
pub fn parse(buf: &[u8]) -> Result<(Vec<u8>, usize), FrameError> {
    let start = buf
        .windows(PREAMBLE.len())
        .position(|w| w == PREAMBLE)
        .ok_or(if buf.len() > 2 * MAX_BODY {
            FrameError::Bad("no frame preamble")
        } else {
            FrameError::Incomplete
        })?;
    let rest = &buf[start + PREAMBLE.len()..];
    if rest.len() < 2 {
        return Err(FrameError::Incomplete);
    }
    let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
    if !(2..=MAX_BODY + 1).contains(&len) {
        return Err(FrameError::Bad("frame length out of range"));
    }
    if rest.len() < 2 + len {
        return Err(FrameError::Incomplete);
    }
    let covered = &rest[..2 + len - 1];
    let chk = rest[2 + len - 1];
    if checksum(covered) != chk {
        return Err(FrameError::Bad("frame checksum mismatch"));
    }
    Ok((
        rest[2..2 + len - 1].to_vec(),
        start + PREAMBLE.len() + 2 + len,
    ))
}

/// A response body split into SW3 and data.
pub fn status(body: &[u8]) -> Result<(u8, &[u8]), &'static str> {
    if body.len() < 3 {
        return Err("response shorter than its status words");
    }
    if body[0] != 0 || body[1] != 0 {
        return Err("response status words SW1 SW2 are not 00 00");
    }
    Ok((body[2], &body[3..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_frames() {
        // Find card, and the module's "card found" answer from public captures.
        assert_eq!(
            command(cmd::FIND_CARD, &[]),
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22]
        );
        let found = [
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x08, 0x00, 0x00, 0x9F, 0, 0, 0, 0, 0x97,
        ];
        let (body, used) = parse(&found).unwrap();
        assert_eq!(used, found.len());
        assert_eq!(status(&body).unwrap(), (0x9F, &[0u8, 0, 0, 0][..]));
        assert_eq!(response(0x9F, &[0, 0, 0, 0]), found);
        let failed = [
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84,
        ];
        assert_eq!(
            status(&parse(&failed).unwrap().0).unwrap().0,
            sw3::FIND_FAILED
        );
    }

    #[test]
    fn garbage_incomplete_and_bad_checksum() {
        let f = response(0x90, b"hello");
        let mut g = vec![0x00, 0x13, 0xAA];
        g.extend_from_slice(&f);
        let (body, used) = parse(&g).unwrap();
        assert_eq!(used, g.len());
        assert_eq!(&body[3..], b"hello");
        assert_eq!(parse(&f[..f.len() - 1]), Err(FrameError::Incomplete));
        let mut bad = f.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(parse(&bad), Err(FrameError::Bad("frame checksum mismatch")));
        assert!(matches!(
            parse(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF]),
            Err(FrameError::Bad(_))
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small deterministic fuzz of the frame parser.
        let mut x: u32 = 12345;
        for n in 0..20000 {
            let len = n % 64;
            let mut v = Vec::with_capacity(len + 7);
            if n % 3 == 0 {
                v.extend_from_slice(&PREAMBLE);
            }
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.push((x >> 16) as u8);
            }
            if let Ok((body, used)) = parse(&v) {
                assert!(used <= v.len());
                let _ = status(&body);
            }
        }
    }
}
