//! Social security cards (人社部 specification): the application "sx1.sh.社会保障", file EF05
//! (card data) and EF06 (holder data), records holding one TLV each (tag = record number).

use crate::apdu::{self, CardError, Transport};

/// DF name: "sx1.sh." followed by 社会保障 in GBK.
pub const DF_NAME: [u8; 15] = [
    0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];

/// The vendor's SocialCardInfo fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocialCard {
    pub card_distinguish_code: String,
    pub card_type: String,
    pub card_norm_ver: String,
    pub visa_institution: String,
    pub valid_start: String,
    pub valid_end: String,
    pub card_number: String,
    pub social_security_number: String,
    pub name: String,
    pub sex_code: String,
    pub nation_code: String,
    pub birthplace: String,
    pub birthday: String,
}

fn text(v: &[u8]) -> String {
    let end = v
        .iter()
        .rposition(|&b| b != 0x00 && b != 0x20 && b != 0xFF)
        .map_or(0, |i| i + 1);
    let (s, _, _) = encoding_rs::GBK.decode(&v[..end]);
    s.trim().to_string()
}

/// Select EF `fid` (P1 02 as the specification says, 00 as some cards want).
fn select_ef(t: &mut dyn Transport, fid: [u8; 2]) -> Result<(), CardError> {
    let mut last = 0;
    for p1 in [0x02, 0x00] {
        match apdu::exchange(t, &[0x00, 0xA4, p1, 0x00, 0x02, fid[0], fid[1]])? {
            (_, 0x9000) => return Ok(()),
            (_, sw) => last = sw,
        }
    }
    Err(CardError::Status(
        if fid == [0xEF, 0x05] {
            "SELECT EF05"
        } else {
            "SELECT EF06"
        },
        last,
    ))
}

/// A record's value (its TLV tag is the record number); None when the card lacks it.
fn record(t: &mut dyn Transport, rec: u8) -> Result<Option<Vec<u8>>, CardError> {
    match apdu::exchange(t, &apdu::read_record(rec, 0))? {
        (d, 0x9000) => Ok(crate::tlv::parse(&d)
            .into_iter()
            .find(|x| x.tag == rec as u32)
            .map(|x| x.value.to_vec())),
        (_, 0x6A83) | (_, 0x6A82) => Ok(None),
        (_, sw) => Err(CardError::Status("READ RECORD", sw)),
    }
}

/// Read a social security card.
pub fn read(t: &mut dyn Transport) -> Result<SocialCard, CardError> {
    match apdu::exchange(t, &apdu::select_name(&DF_NAME))? {
        (_, 0x9000) => {}
        (_, 0x6A82) => {
            return Err(CardError::Invalid(
                "not a social security card (no 社会保障 application)".into(),
            ))
        }
        (_, sw) => return Err(CardError::Status("SELECT 社会保障", sw)),
    }
    let mut c = SocialCard::default();
    select_ef(t, [0xEF, 0x05])?;
    for rec in 1..=7u8 {
        let Some(v) = record(t, rec)? else { continue };
        match rec {
            1 => c.card_distinguish_code = text(&v),
            2 => c.card_type = text(&v),
            3 => c.card_norm_ver = text(&v),
            4 => c.visa_institution = text(&v),
            5 => c.valid_start = apdu::bcd(&v),
            6 => c.valid_end = apdu::bcd(&v),
            _ => c.card_number = text(&v),
        }
    }
    select_ef(t, [0xEF, 0x06])?;
    for rec in 8..=13u8 {
        let Some(v) = record(t, rec)? else { continue };
        match rec {
            8 => c.social_security_number = text(&v),
            9 => c.name = text(&v),
            10 => {
                // '1' / '2' as a character, or as a number on some cards.
                c.sex_code = match v.first() {
                    Some(&b) if b.is_ascii_digit() => (b as char).to_string(),
                    Some(&b) => b.to_string(),
                    None => String::new(),
                }
            }
            11 => c.nation_code = apdu::bcd(&v),
            12 => c.birthplace = apdu::bcd(&v),
            _ => c.birthday = apdu::bcd(&v),
        }
    }
    if c.social_security_number.is_empty() && c.card_number.is_empty() {
        return Err(CardError::Invalid(
            "the card holds neither a card number nor a social security number".into(),
        ));
    }
    Ok(c)
}
