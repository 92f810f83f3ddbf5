//! PBOC / EMV bank cards (UnionPay debit, credit, e-cash): application selection through PPSE
//! (contactless) or PSE (contact) or the known UnionPay AIDs, GET PROCESSING OPTIONS with the
//! card's PDOL filled with terminal defaults, READ RECORD per AFL, GET DATA for balances, limits,
//! PIN tries and ATC, and the newest entry of the transaction log.

use crate::apdu::{self, bcd, hex, CardError, Transport};
use crate::tlv;

pub const PPSE: &[u8] = b"2PAY.SYS.DDF01";
pub const PSE: &[u8] = b"1PAY.SYS.DDF01";
/// UnionPay debit, credit, quasi-credit, e-cash.
pub const UNIONPAY_AIDS: [[u8; 8]; 4] = [
    [0xA0, 0, 0, 0x03, 0x33, 0x01, 0x01, 0x01],
    [0xA0, 0, 0, 0x03, 0x33, 0x01, 0x01, 0x02],
    [0xA0, 0, 0, 0x03, 0x33, 0x01, 0x01, 0x03],
    [0xA0, 0, 0, 0x03, 0x33, 0x01, 0x01, 0x06],
];

/// Tag values read from the card (hex or text as the vendor's ICCardInfo wants them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankCard {
    pub aid: String,
    pub pan: String,
    pub name: String,
    pub name_ext: String,
    pub id_type: String,
    pub id_number: String,
    pub track1: String,
    pub track2: String,
    pub expiry: String,
    pub effective: String,
    pub pan_sequence: String,
    pub currency: String,
    /// GET DATA values by tag (hex digits of the value), e.g. 0x9F79 -> "000000010000".
    pub data: Vec<(u32, String)>,
    /// The newest log entry: (tag, hex value) per the log format.
    pub last_transaction: Vec<(u32, String)>,
}

impl BankCard {
    pub fn get(&self, tag: u32) -> &str {
        self.data
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    pub fn log(&self, tag: u32) -> &str {
        self.last_transaction
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// GET DATA tags read after the records.
pub const GET_DATA_TAGS: [u32; 16] = [
    0x9F79, 0x9F77, 0x9F78, 0x9F6D, 0x9F17, 0x9F36, 0x9F13, 0x9F51, 0x9F14, 0x9F23, 0x9F53, 0x9F72,
    0x9F54, 0x9F5C, 0x9F73, 0x9F75,
];

/// Terminal values for the PDOL (zeros for anything not listed).
fn pdol_value(tag: u32, len: usize, today: (u8, u8, u8), contactless: bool) -> Vec<u8> {
    let mut v = match tag {
        // Terminal transaction qualifiers: contactless qPBOC + contact.
        0x9F66 => vec![if contactless { 0x46 } else { 0x26 }, 0x00, 0x00, 0x80],
        0x9F02 | 0x9F03 => vec![0; 6],
        0x9F1A | 0x5F2A => vec![0x01, 0x56],
        0x9A => vec![today.0, today.1, today.2],
        0x9C => vec![0x00],
        0x9F37 => vec![0x12, 0x34, 0x56, 0x78],
        0x9F35 => vec![0x22],
        0x9F7A => vec![0x00],
        0xDF60 => vec![0x00],
        _ => vec![],
    };
    v.resize(len, 0);
    v
}

fn to_bcd(n: u32) -> u8 {
    (((n / 10) % 10) << 4 | (n % 10)) as u8
}

/// Today's date as BCD YY MM DD.
fn today() -> (u8, u8, u8) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + if m <= 2 { 1 } else { 0 }) as u32;
    (to_bcd(y % 100), to_bcd(m), to_bcd(d))
}

/// The AIDs a card offers, from PPSE (contactless) or PSE (contact); `contactless` tells which
/// answered.
fn directory(t: &mut dyn Transport) -> Result<(Vec<Vec<u8>>, bool), CardError> {
    if let (fci, 0x9000) = apdu::exchange(t, &apdu::select_name(PPSE))? {
        let aids: Vec<Vec<u8>> = tlv::find_all(&fci, 0x61)
            .into_iter()
            .filter_map(|e| tlv::find(e, 0x4F).map(|a| a.to_vec()))
            .collect();
        if !aids.is_empty() {
            return Ok((aids, true));
        }
    }
    if let (fci, 0x9000) = apdu::exchange(t, &apdu::select_name(PSE))? {
        if let Some(sfi) = tlv::find(&fci, 0x88).and_then(|v| v.first().copied()) {
            let mut aids = Vec::new();
            for rec in 1..=16u8 {
                match apdu::exchange(t, &apdu::read_record(rec, sfi))? {
                    (d, 0x9000) => aids.extend(
                        tlv::find_all(&d, 0x61)
                            .into_iter()
                            .filter_map(|e| tlv::find(e, 0x4F).map(|a| a.to_vec())),
                    ),
                    _ => break,
                }
            }
            if !aids.is_empty() {
                return Ok((aids, false));
            }
        }
    }
    Ok((Vec::new(), false))
}

/// Read a bank card.
pub fn read(t: &mut dyn Transport) -> Result<BankCard, CardError> {
    let (mut aids, contactless) = directory(t)?;
    // Cards without a directory: try the UnionPay applications directly.
    aids.extend(UNIONPAY_AIDS.iter().map(|a| a.to_vec()));
    let mut chosen = None;
    for aid in &aids {
        if let (fci, 0x9000) = apdu::exchange(t, &apdu::select_name(aid))? {
            chosen = Some((aid.clone(), fci));
            break;
        }
    }
    let Some((aid, fci)) = chosen else {
        return Err(CardError::Invalid(
            "no PBOC/EMV application on the card".into(),
        ));
    };
    let mut c = BankCard {
        aid: hex(&aid),
        ..Default::default()
    };

    // GET PROCESSING OPTIONS.
    let pdol = tlv::find(&fci, 0x9F38)
        .map(tlv::parse_dol)
        .unwrap_or_default();
    let date = today();
    let pdol_data: Vec<u8> = pdol
        .iter()
        .flat_map(|&(tag, len)| pdol_value(tag, len, date, contactless))
        .collect();
    let mut gpo = vec![
        0x80,
        0xA8,
        0x00,
        0x00,
        (pdol_data.len() + 2) as u8,
        0x83,
        pdol_data.len() as u8,
    ];
    gpo.extend_from_slice(&pdol_data);
    gpo.push(0x00);
    let resp = apdu::expect_ok(t, &gpo, "GET PROCESSING OPTIONS")?;
    let mut records_data: Vec<u8> = Vec::new();
    let afl: Vec<u8> = match tlv::parse(&resp).first() {
        Some(x) if x.tag == 0x80 && x.value.len() >= 2 => x.value[2..].to_vec(),
        Some(x) if x.tag == 0x77 => {
            // Format 2 may carry card data directly (qPBOC).
            records_data.extend_from_slice(x.value);
            tlv::find(x.value, 0x94)
                .map(|v| v.to_vec())
                .unwrap_or_default()
        }
        _ => return Err(CardError::Invalid("GET PROCESSING OPTIONS answer".into())),
    };
    for entry in afl.chunks_exact(4) {
        let sfi = entry[0] >> 3;
        for rec in entry[1]..=entry[2] {
            match apdu::exchange(t, &apdu::read_record(rec, sfi))? {
                (d, 0x9000) => records_data.extend_from_slice(&d),
                (_, sw) => return Err(CardError::Status("READ RECORD", sw)),
            }
        }
    }
    let all = [fci.as_slice(), records_data.as_slice()].concat();
    let text = |tag: u32| -> String {
        tlv::find(&all, tag)
            .map(|v| {
                let (s, _, _) = encoding_rs::GBK.decode(v);
                s.trim_matches([' ', '\0']).to_string()
            })
            .unwrap_or_default()
    };
    c.pan = tlv::find(&all, 0x5A).map(bcd).unwrap_or_default();
    c.track2 = tlv::find(&all, 0x57).map(bcd).unwrap_or_default();
    if c.pan.is_empty() {
        c.pan = c.track2.split('D').next().unwrap_or("").to_string();
    }
    c.name = text(0x5F20);
    c.name_ext = text(0x9F0B);
    c.id_number = text(0x9F61);
    c.id_type = tlv::find(&all, 0x9F62).map(hex).unwrap_or_default();
    c.track1 = text(0x9F1F);
    if c.track1.is_empty() {
        c.track1 = text(0x56);
    }
    c.expiry = tlv::find(&all, 0x5F24).map(hex).unwrap_or_default();
    c.effective = tlv::find(&all, 0x5F25).map(hex).unwrap_or_default();
    c.pan_sequence = tlv::find(&all, 0x5F34).map(hex).unwrap_or_default();
    c.currency = tlv::find(&all, 0x9F51)
        .or_else(|| tlv::find(&all, 0x9F42))
        .map(hex)
        .unwrap_or_default();

    for tag in GET_DATA_TAGS {
        let tb = tag.to_be_bytes();
        if let (d, 0x9000) = apdu::exchange(t, &[0x80, 0xCA, tb[2], tb[3], 0x00])? {
            let v = tlv::find(&d, tag).map(hex).unwrap_or_else(|| hex(&d));
            c.data.push((tag, v));
        }
    }
    if c.currency.is_empty() {
        c.currency = c.get(0x9F51).to_string();
    }

    // The transaction log: where (9F4D in the FCI) and how (9F4F by GET DATA).
    let log_entry = tlv::find(&fci, 0x9F4D).and_then(|v| <[u8; 2]>::try_from(v).ok());
    if let Some([sfi, count]) = log_entry {
        if count > 0 {
            if let (fmt, 0x9000) = apdu::exchange(t, &[0x80, 0xCA, 0x9F, 0x4F, 0x00])? {
                let dol = tlv::parse_dol(tlv::find(&fmt, 0x9F4F).unwrap_or(&fmt));
                if let (entry, 0x9000) = apdu::exchange(t, &apdu::read_record(1, sfi))? {
                    let mut off = 0;
                    for (tag, len) in dol {
                        if off + len > entry.len() {
                            break;
                        }
                        c.last_transaction.push((tag, hex(&entry[off..off + len])));
                        off += len;
                    }
                }
            }
        }
    }
    if c.pan.is_empty() {
        return Err(CardError::Invalid("the card gave no account number".into()));
    }
    Ok(c)
}

/// An amount n12 in fen as yuan ("000000012345" -> "123.45"); other input unchanged.
pub fn yuan(n12: &str) -> String {
    match n12.parse::<u64>() {
        Ok(fen) if n12.len() == 12 => format!("{}.{:02}", fen / 100, fen % 100),
        _ => n12.to_string(),
    }
}
