//! Simulated smart cards answering APDUs the way a social security card and a PBOC bank card do:
//! in-process as the smart card reader backend of `--sim` ([`SimSmartCards`]) and in tests, and
//! over vpcd to a real pcscd by `devsim vpcd`.

use std::sync::Mutex;

use cards::apdu::{CardError, Transport};
use cards::pcsc_reader::SmartCardReaders;
use cards::tlv::encode;

/// A card: an ATR and an APDU handler (answers include SW1 SW2).
pub trait SimCard: Send {
    fn atr(&self) -> Vec<u8>;
    fn apdu(&mut self, cmd: &[u8]) -> Vec<u8>;
}

fn sw(data: &[u8], sw: u16) -> Vec<u8> {
    let mut v = data.to_vec();
    v.extend_from_slice(&sw.to_be_bytes());
    v
}

/// Answer `data` the T=0 way (61xx, then GET RESPONSE) or directly.
struct Pending(Option<Vec<u8>>);

impl Pending {
    fn answer(&mut self, t0: bool, data: Vec<u8>) -> Vec<u8> {
        if t0 && !data.is_empty() {
            let n = data.len().min(255) as u8;
            self.0 = Some(data);
            vec![0x61, n]
        } else {
            sw(&data, 0x9000)
        }
    }
    fn get_response(&mut self, le: u8) -> Vec<u8> {
        match self.0.take() {
            Some(d) if le as usize == d.len() || le == 0 => sw(&d, 0x9000),
            Some(d) => {
                let n = d.len() as u8;
                self.0 = Some(d);
                vec![0x6C, n]
            }
            None => vec![0x69, 0x85],
        }
    }
}

/// A social security card (third generation layout).
pub struct SocialSim {
    pub t0: bool,
    selected_app: bool,
    ef: u16,
    pending: Pending,
    pub records: Vec<(u8, Vec<u8>)>,
}

impl SocialSim {
    pub fn sample() -> SocialSim {
        let gbk = |s: &str| encoding_rs::GBK.encode(s).0.into_owned();
        let mut name = gbk("王小明");
        name.resize(30, 0x00);
        SocialSim {
            t0: true,
            selected_app: false,
            ef: 0,
            pending: Pending(None),
            records: vec![
                (
                    1,
                    b"110000D15600000500A1B2C3D4E5F6A7".to_vec()[..16].to_vec(),
                ),
                (2, b"3".to_vec()),
                (3, b"3.00".to_vec()),
                (4, b"110000000000".to_vec()),
                (5, vec![0x20, 0x21, 0x06, 0x01]),
                (6, vec![0x20, 0x31, 0x06, 0x01]),
                (7, b"A12345678".to_vec()),
                (8, b"110101199003071234".to_vec()),
                (9, name),
                (10, b"1".to_vec()),
                (11, vec![0x01]),
                (12, vec![0x11, 0x01, 0x01]),
                (13, vec![0x19, 0x90, 0x03, 0x07]),
            ],
        }
    }
}

impl SimCard for SocialSim {
    fn atr(&self) -> Vec<u8> {
        vec![
            0x3B, 0x6C, 0x00, 0x00, 0x80, 0x86, 0x48, 0x53, 0x53, 0x43, 0x41, 0x52, 0x44, 0x01,
            0x00, 0x00, 0x00,
        ]
    }

    fn apdu(&mut self, c: &[u8]) -> Vec<u8> {
        if c.len() < 4 {
            return vec![0x67, 0x00];
        }
        match (c[0], c[1], c[2]) {
            (0x00, 0xC0, _) => self.pending.get_response(*c.get(4).unwrap_or(&0)),
            (0x00, 0xA4, 0x04) => {
                let name = c
                    .get(5..5 + *c.get(4).unwrap_or(&0) as usize)
                    .unwrap_or(&[]);
                if name == cards::social::DF_NAME {
                    self.selected_app = true;
                    let fci = encode(0x6F, &encode(0x84, name));
                    self.pending.answer(self.t0, fci)
                } else {
                    vec![0x6A, 0x82]
                }
            }
            (0x00, 0xA4, 0x02) | (0x00, 0xA4, 0x00) if self.selected_app && c.len() >= 7 => {
                let fid = u16::from_be_bytes([c[5], c[6]]);
                if fid == 0xEF05 || fid == 0xEF06 {
                    self.ef = fid;
                    vec![0x90, 0x00]
                } else {
                    vec![0x6A, 0x82]
                }
            }
            (0x00, 0xB2, rec) => {
                let ok = match self.ef {
                    0xEF05 => (1..=7).contains(&rec),
                    0xEF06 => (8..=13).contains(&rec),
                    _ => false,
                };
                let Some((_, v)) = self.records.iter().find(|(r, _)| *r == rec && ok) else {
                    return vec![0x6A, 0x83];
                };
                let data = encode(rec as u32, v);
                let le = *c.get(4).unwrap_or(&0);
                if le != 0 && le as usize != data.len() {
                    return vec![0x6C, data.len() as u8];
                }
                if le == 0 && self.t0 {
                    return vec![0x6C, data.len() as u8];
                }
                sw(&data, 0x9000)
            }
            _ => vec![0x6D, 0x00],
        }
    }
}

/// A UnionPay PBOC debit card with e-cash, contact (PSE) or contactless (PPSE).
pub struct PbocSim {
    pub contactless: bool,
    pub t0: bool,
    aid_selected: bool,
    atc: u16,
    pending: Pending,
}

pub const PBOC_AID: [u8; 8] = [0xA0, 0, 0, 0x03, 0x33, 0x01, 0x01, 0x01];
const PDOL: [u8; 27] = [
    0x9F, 0x66, 0x04, 0x9F, 0x02, 0x06, 0x9F, 0x03, 0x06, 0x9F, 0x1A, 0x02, 0x95, 0x05, 0x5F, 0x2A,
    0x02, 0x9A, 0x03, 0x9C, 0x01, 0x9F, 0x37, 0x04, 0xDF, 0x60, 0x01,
];
const LOG_FORMAT: [u8; 24] = [
    0x9A, 0x03, 0x9F, 0x21, 0x03, 0x9F, 0x02, 0x06, 0x9F, 0x03, 0x06, 0x9F, 0x1A, 0x02, 0x5F, 0x2A,
    0x02, 0x9F, 0x4E, 0x14, 0x9C, 0x01, 0x9F, 0x36,
];

impl PbocSim {
    pub fn sample(contactless: bool) -> PbocSim {
        PbocSim {
            contactless,
            t0: !contactless,
            aid_selected: false,
            atc: 0x0011,
            pending: Pending(None),
        }
    }

    fn record(&self, sfi: u8, rec: u8) -> Option<Vec<u8>> {
        let body = match (sfi, rec) {
            (1, 1) => [
                encode(
                    0x57,
                    &[
                        0x62, 0x22, 0x02, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x3D, 0x30, 0x12,
                        0x22, 0x01, 0x00, 0x00, 0x12, 0x34, 0x5F,
                    ],
                ),
                encode(0x5F20, b"ZHANG/SAN"),
                encode(0x9F1F, b"123456"),
            ]
            .concat(),
            (1, 2) => [
                encode(
                    0x5A,
                    &[0x62, 0x22, 0x02, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x3F],
                ),
                encode(0x5F24, &[0x30, 0x12, 0x31]),
                encode(0x5F25, &[0x20, 0x12, 0x01]),
                encode(0x5F34, &[0x01]),
                encode(0x9F61, b"110101199003071234"),
                encode(0x9F62, &[0x00]),
                encode(0x9F0B, &encoding_rs::GBK.encode("张三").0),
            ]
            .concat(),
            (2, 1) => [encode(0x5F28, &[0x01, 0x56]), encode(0x9F07, &[0xFF, 0x00])].concat(),
            (1, _) | (2, _) => return None,
            // The log, newest first.
            (11, 1) => {
                let mut e = vec![0x26, 0x11, 0x20, 0x10, 0x30, 0x00];
                e.extend_from_slice(&[0, 0, 0, 0, 0x25, 0x00]);
                e.extend_from_slice(&[0; 6]);
                e.extend_from_slice(&[0x01, 0x56, 0x01, 0x56]);
                let mut m = b"TEST MERCHANT".to_vec();
                m.resize(20, 0x20);
                e.extend_from_slice(&m);
                e.push(0x00);
                e.extend_from_slice(&[0x00, 0x10]);
                return Some(e);
            }
            _ => return None,
        };
        Some(encode(0x70, &body))
    }

    fn get_data(&self, tag: u16) -> Option<Vec<u8>> {
        let v: Vec<u8> = match tag {
            0x9F79 => vec![0, 0, 0, 0, 0x12, 0x34],
            0x9F77 => vec![0, 0, 0, 0x10, 0, 0],
            0x9F78 => vec![0, 0, 0, 0x05, 0, 0],
            0x9F6D => vec![0, 0, 0, 0x01, 0, 0],
            0x9F17 => vec![0x03],
            0x9F36 => self.atc.to_be_bytes().to_vec(),
            0x9F13 => vec![0x00, 0x0F],
            0x9F51 => vec![0x01, 0x56],
            0x9F4F => LOG_FORMAT.to_vec(),
            _ => return None,
        };
        Some(encode(tag as u32, &v))
    }
}

impl SimCard for PbocSim {
    fn atr(&self) -> Vec<u8> {
        vec![
            0x3B, 0x8A, 0x80, 0x01, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x03, 0x00, 0xEF, 0x12,
            0x00, 0xF6,
        ]
    }

    fn apdu(&mut self, c: &[u8]) -> Vec<u8> {
        if c.len() < 4 {
            return vec![0x67, 0x00];
        }
        match (c[0], c[1]) {
            (0x00, 0xC0) => self.pending.get_response(*c.get(4).unwrap_or(&0)),
            (0x00, 0xA4) if c[2] == 0x04 => {
                let name = c
                    .get(5..5 + *c.get(4).unwrap_or(&0) as usize)
                    .unwrap_or(&[])
                    .to_vec();
                let fci = if name == cards::emv::PPSE && self.contactless {
                    let entry = [encode(0x4F, &PBOC_AID), encode(0x87, &[0x01])].concat();
                    encode(
                        0x6F,
                        &[
                            encode(0x84, &name),
                            encode(0xA5, &encode(0xBF0C, &encode(0x61, &entry))),
                        ]
                        .concat(),
                    )
                } else if name == cards::emv::PSE && !self.contactless {
                    encode(
                        0x6F,
                        &[encode(0x84, &name), encode(0xA5, &encode(0x88, &[0x01]))].concat(),
                    )
                } else if name == PBOC_AID {
                    self.aid_selected = true;
                    let a5 = [
                        encode(0x50, b"PBOC DEBIT"),
                        encode(0x9F38, &PDOL),
                        encode(0xBF0C, &encode(0x9F4D, &[0x0B, 0x0A])),
                    ]
                    .concat();
                    encode(0x6F, &[encode(0x84, &name), encode(0xA5, &a5)].concat())
                } else {
                    return vec![0x6A, 0x82];
                };
                self.pending.answer(self.t0, fci)
            }
            (0x00, 0xB2) if c.len() >= 4 => {
                let (rec, sfi) = (c[2], c[3] >> 3);
                // The PSE directory (SFI 1 before an application is selected).
                if sfi == 1 && !self.aid_selected && !self.contactless {
                    return if rec == 1 {
                        let entry = [encode(0x4F, &PBOC_AID), encode(0x50, b"PBOC DEBIT")].concat();
                        sw(&encode(0x70, &encode(0x61, &entry)), 0x9000)
                    } else {
                        vec![0x6A, 0x83]
                    };
                }
                match self.record(sfi, rec) {
                    Some(d) => sw(&d, 0x9000),
                    None => vec![0x6A, 0x83],
                }
            }
            (0x80, 0xA8) if self.aid_selected => {
                let pdol_len: usize = cards::tlv::parse_dol(&PDOL).iter().map(|&(_, l)| l).sum();
                if c.len() < 7 || c[5] != 0x83 || c[6] as usize != pdol_len {
                    return vec![0x67, 0x00];
                }
                self.atc += 1;
                let afl = [0x08, 0x01, 0x02, 0x00, 0x10, 0x01, 0x01, 0x00];
                let resp = encode(0x80, &[[0x7C, 0x00].as_slice(), &afl].concat());
                self.pending.answer(self.t0, resp)
            }
            (0x80, 0xCA) => match self.get_data(u16::from_be_bytes([c[2], c[3]])) {
                Some(d) => sw(&d, 0x9000),
                None => vec![0x6A, 0x88],
            },
            _ => vec![0x6D, 0x00],
        }
    }
}

/// A simulated card as a transport (in-process tests).
pub struct Direct<'a>(pub &'a mut dyn SimCard);

impl Transport for Direct<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        Ok(self.0.apdu(apdu))
    }
}

/// The smart card readers of `--sim`: a social security card and a PBOC bank card, each in a
/// reader of its own, read through the same card logic as real readers.
pub struct SimSmartCards {
    readers: Vec<(String, Mutex<Box<dyn SimCard>>)>,
}

/// Names of the simulated readers (what `pcsc.social_reader` / `bank_reader` patterns match).
pub const SIM_SOCIAL_READER: &str = "Simulated social security card reader 00 00";
pub const SIM_BANK_READER: &str = "Simulated bank card reader 01 00";

impl Default for SimSmartCards {
    fn default() -> Self {
        SimSmartCards {
            readers: vec![
                (
                    SIM_SOCIAL_READER.to_string(),
                    Mutex::new(Box::new(SocialSim::sample()) as Box<dyn SimCard>),
                ),
                (
                    SIM_BANK_READER.to_string(),
                    Mutex::new(Box::new(PbocSim::sample(false)) as Box<dyn SimCard>),
                ),
            ],
        }
    }
}

impl SmartCardReaders for SimSmartCards {
    fn read_any(
        &self,
        pattern: &str,
        read: &mut dyn FnMut(&mut dyn Transport) -> Result<(), CardError>,
    ) -> Result<String, CardError> {
        let p = pattern.trim().to_lowercase();
        let mut best: Option<CardError> = None;
        let mut matched = false;
        for (name, card) in &self.readers {
            if !p.is_empty() && !name.to_lowercase().contains(&p) {
                continue;
            }
            matched = true;
            let mut card = card.lock().unwrap_or_else(|e| e.into_inner());
            match read(&mut Direct(card.as_mut())) {
                Ok(()) => return Ok(name.clone()),
                Err(e) => {
                    best.get_or_insert(e);
                }
            }
        }
        if !matched {
            return Err(CardError::NoReader(format!(
                "no smart card reader matches \"{pattern}\""
            )));
        }
        Err(best.unwrap_or(CardError::NoCard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_readers_find_each_card() {
        let r = SimSmartCards::default();
        let (c, reader) = cards::pcsc_reader::read_with(&r, "", cards::social::read).unwrap();
        assert_eq!(
            (c.name.as_str(), reader.as_str()),
            ("王小明", SIM_SOCIAL_READER)
        );
        let (c, reader) = cards::pcsc_reader::read_with(&r, "", cards::emv::read).unwrap();
        assert_eq!(reader, SIM_BANK_READER);
        assert_eq!(c.pan, "6222021234567890123");
        assert!(cards::pcsc_reader::read_with(&r, "bank", cards::social::read).is_err());
        assert!(matches!(
            cards::pcsc_reader::read_with(&r, "nosuch", cards::social::read),
            Err(CardError::NoReader(_))
        ));
    }

    #[test]
    fn social_card_read() {
        let mut card = SocialSim::sample();
        let c = cards::social::read(&mut Direct(&mut card)).unwrap();
        assert_eq!(c.name, "王小明");
        assert_eq!(c.social_security_number, "110101199003071234");
        assert_eq!(c.card_number, "A12345678");
        assert_eq!(c.valid_start, "20210601");
        assert_eq!(c.valid_end, "20310601");
        assert_eq!(c.sex_code, "1");
        assert_eq!(c.nation_code, "01");
        assert_eq!(c.birthplace, "110101");
        assert_eq!(c.birthday, "19900307");
        assert_eq!(c.card_norm_ver, "3.00");
        // Without T=0 answers too.
        let mut card = SocialSim::sample();
        card.t0 = false;
        assert_eq!(
            cards::social::read(&mut Direct(&mut card)).unwrap().name,
            "王小明"
        );
        // A bank card is not a social security card.
        let mut bank = PbocSim::sample(false);
        assert!(matches!(
            cards::social::read(&mut Direct(&mut bank)),
            Err(CardError::Invalid(_))
        ));
    }

    #[test]
    fn bank_card_read_contact_and_contactless() {
        for contactless in [false, true] {
            let mut card = PbocSim::sample(contactless);
            let c = cards::emv::read(&mut Direct(&mut card)).unwrap();
            assert_eq!(c.aid, "A000000333010101");
            assert_eq!(c.pan, "6222021234567890123");
            assert_eq!(c.track2, "6222021234567890123D30122201000012345");
            assert_eq!(c.name, "ZHANG/SAN");
            assert_eq!(c.name_ext, "张三");
            assert_eq!(c.id_number, "110101199003071234");
            assert_eq!(c.expiry, "301231");
            assert_eq!(cards::emv::yuan(c.get(0x9F79)), "12.34");
            assert_eq!(c.get(0x9F17), "03");
            assert_eq!(c.get(0x9F36), "0012");
            assert_eq!(c.log(0x9F02), "000000002500");
            assert_eq!(c.log(0x9A), "261120");
            assert_eq!(c.currency, "0156");
        }
        let mut social = SocialSim::sample();
        assert!(cards::emv::read(&mut Direct(&mut social)).is_err());
    }
}
