//! Sending APDUs: the transport (a PC/SC card or a simulated card), status words, and the T=0
//! conventions (61xx: fetch the rest with GET RESPONSE; 6Cxx: resend with the right Le).

/// Why a card could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardError {
    /// No PC/SC service or no matching reader: the detail.
    NoReader(String),
    /// The reader has no card.
    NoCard,
    /// The card went away during the read.
    Removed,
    /// Reader or transport failure: the detail.
    Io(String),
    /// The card refused a step: what was asked, the status word.
    Status(&'static str, u16),
    /// The card's answer is not what the specification says: the detail.
    Invalid(String),
}

impl std::fmt::Display for CardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CardError::NoReader(d) => write!(f, "no card reader: {d}"),
            CardError::NoCard => write!(f, "no card in the reader"),
            CardError::Removed => write!(f, "the card was removed during the read"),
            CardError::Io(d) => write!(f, "card reader error: {d}"),
            CardError::Status(what, sw) => write!(f, "the card refused {what} (SW {sw:04X})"),
            CardError::Invalid(d) => write!(f, "unexpected card data: {d}"),
        }
    }
}

/// The one place smart card errors become vendor codes.
impl From<CardError> for apierror::ApiError {
    fn from(e: CardError) -> apierror::ApiError {
        use apierror::{ApiError, ErrorKind, Text};
        match e {
            CardError::NoReader(d) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("读卡器不可用：{d}"),
                    format!("card reader unavailable: {d}"),
                ),
            ),
            CardError::NoCard => ApiError::with(
                ErrorKind::NoData,
                Text::new("未检测到卡片，请插卡或放卡", "no card in the reader"),
            ),
            CardError::Removed => ApiError::with(
                ErrorKind::NoData,
                Text::new(
                    "读卡过程中卡片被移走，请重新放卡",
                    "the card was removed during the read",
                ),
            ),
            CardError::Io(d) => ApiError::with(
                ErrorKind::DeviceUnavailable,
                Text::new(
                    format!("读卡器通讯错误：{d}"),
                    format!("card reader error: {d}"),
                ),
            ),
            e @ (CardError::Status(..) | CardError::Invalid(_)) => ApiError::with(
                ErrorKind::NoData,
                Text::new(
                    format!("卡片无法读取：{e}"),
                    format!("the card cannot be read: {e}"),
                ),
            ),
        }
    }
}

/// Something that carries APDUs to a card and back (the answer includes SW1 SW2).
pub trait Transport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError>;
}

/// Send a command; returns (data, SW). Follows 61xx and 6Cxx.
pub fn exchange(t: &mut dyn Transport, apdu: &[u8]) -> Result<(Vec<u8>, u16), CardError> {
    let mut r = t.transmit(apdu)?;
    let mut data = Vec::new();
    for _ in 0..32 {
        if r.len() < 2 {
            return Err(CardError::Invalid(
                "answer shorter than a status word".into(),
            ));
        }
        let (sw1, sw2) = (r[r.len() - 2], r[r.len() - 1]);
        data.extend_from_slice(&r[..r.len() - 2]);
        match sw1 {
            0x61 => r = t.transmit(&[0x00, 0xC0, 0x00, 0x00, sw2])?,
            0x6C if apdu.len() >= 4 => {
                let mut again = apdu[..4].to_vec();
                if apdu.len() > 5 {
                    // Case 4: keep the data, fix Le.
                    let lc = apdu[4] as usize;
                    again.extend_from_slice(&apdu[4..(5 + lc).min(apdu.len())]);
                }
                again.push(sw2);
                data.clear();
                r = t.transmit(&again)?;
            }
            _ => return Ok((data, u16::from_be_bytes([sw1, sw2]))),
        }
    }
    Err(CardError::Invalid("endless chain of answers".into()))
}

/// `exchange` that requires 9000.
pub fn expect_ok(
    t: &mut dyn Transport,
    apdu: &[u8],
    what: &'static str,
) -> Result<Vec<u8>, CardError> {
    match exchange(t, apdu)? {
        (d, 0x9000) => Ok(d),
        (_, sw) => Err(CardError::Status(what, sw)),
    }
}

/// SELECT by name (DF name / AID).
pub fn select_name(name: &[u8]) -> Vec<u8> {
    let mut a = vec![0x00, 0xA4, 0x04, 0x00, name.len() as u8];
    a.extend_from_slice(name);
    a.push(0x00);
    a
}

/// READ RECORD `rec` of the file with short identifier `sfi` (0: the current file).
pub fn read_record(rec: u8, sfi: u8) -> Vec<u8> {
    let p2 = if sfi == 0 { 0x04 } else { (sfi << 3) | 0x04 };
    vec![0x00, 0xB2, rec, p2, 0x00]
}

/// Upper-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// BCD digits (as hex, 'F' padding removed).
pub fn bcd(b: &[u8]) -> String {
    hex(b).trim_end_matches('F').to_string()
}
