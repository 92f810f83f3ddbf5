//! `card=idcard`, `card=getsamid`, `card=init`, `card=release` (vendor 4.1, 4.2, 4.5, 4.6): the ID
//! card reader. `card=sociaseceritycard` and `card=iccard` (4.3, 4.4): smart card readers.
//! `card=magcard` (4.7): the magnetic stripe reader. Each class is a backend chosen by
//! `devices`; these adapters turn its answers into the vendor's replies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::{ApiError, ErrorKind, Reply, Table, Text};
use base64::Engine;
use cards::idcard::{self, Kind};
use cards::magstripe::{MagError, StripeReader};
use cards::pcsc_reader::SmartCardReaders;
use cards::reader::{CardData, IdCardReader};
use cards::wlt::WltDecoder;
use cards::{emv, pcsc_reader, social};
use serde_json::{json, Map, Value};

use crate::common::{on, B64};

pub struct IdCards {
    reader: Box<dyn IdCardReader>,
    decoder: Option<WltDecoder>,
    /// The font the card pictures (`photoBase64_Z`, `photoBase64_F`) are drawn with.
    font: Option<ab_glyph::FontArc>,
}

impl IdCards {
    pub fn new(
        cfg: &crate::config::IdCardSection,
        reader: Box<dyn IdCardReader>,
        font: Option<ab_glyph::FontArc>,
    ) -> IdCards {
        let decoder = if cfg.wlt_decoder.as_os_str().is_empty() {
            None
        } else {
            match WltDecoder::load(&cfg.wlt_decoder) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!(lib = %cfg.wlt_decoder.display(), "WLT photo decoder not loaded: {e}");
                    None
                }
            }
        };
        IdCards {
            reader,
            decoder,
            font,
        }
    }

    /// Whether a photo decoder is loaded.
    pub fn has_decoder(&self) -> bool {
        self.decoder.is_some()
    }

    fn init(&self) -> Result<Reply, ApiError> {
        self.reader.init()?;
        Ok(Reply::ok())
    }

    fn release(&self) -> Result<Reply, ApiError> {
        self.reader.release();
        Ok(Reply::ok())
    }

    fn sam_id(&self) -> Result<Reply, ApiError> {
        let id = self.reader.sam_id()?;
        Ok(Reply::ok().with("samID", json!(id)))
    }

    fn read(&self) -> Result<Reply, ApiError> {
        let card = self.reader.read_card()?;
        Ok(self.card_reply(card))
    }

    fn card_reply(&self, c: CardData) -> Reply {
        let t = &c.text;
        let card_type = match c.kind {
            Kind::Resident if c.finger.is_some() => "C",
            Kind::Resident => "B",
            Kind::Permit => "J",
            Kind::Foreign => "I",
            Kind::Unknown(_) => "A",
        };
        let mut decoded = None;
        let (photo, photo_note) = match &self.decoder {
            Some(d) => match photo_image(d, &c.photo).and_then(|img| {
                let jpeg = photo_jpeg(&img)?;
                decoded = Some(img);
                Ok(jpeg)
            }) {
                Ok(jpeg) => (B64.encode(jpeg), None),
                Err(e) => (
                    String::new(),
                    Some(Text::new(
                        format!("照片解码失败：{e}；原始照片数据见 photoWlt"),
                        format!("the photo decoder failed: {e}; the raw photo is in photoWlt"),
                    )),
                ),
            },
            None => (
                String::new(),
                Some(Text::new(
                    "未安装授权的身份证照片解码库（idcard.wlt_decoder）：photoBase64 为空，原始照片数据见 photoWlt",
                    "no licensed ID photo decoder installed (idcard.wlt_decoder): photoBase64 is empty, the raw photo is in photoWlt",
                )),
            ),
        };
        let mut info = Map::new();
        let mut put = |k: &str, v: &str| {
            info.insert(k.into(), Value::String(v.to_string()));
        };
        put("name", &t.name);
        put("sex", idcard::sex_name(&t.sex_code));
        put("birthday", &t.birthday);
        put("address", &t.address);
        put("cardID", &t.card_id);
        put("issueOrgan", &t.issue_organ);
        put("validStart", &t.valid_start);
        put("validEnd", &t.valid_end);
        put("sexCode", &t.sex_code);
        put("nationCode", &t.nation_code);
        put(
            "nation",
            if c.kind == Kind::Resident {
                idcard::nation_name(&t.nation_code)
            } else {
                ""
            },
        );
        put("appendMsg", "");
        put(
            "fingerBase64",
            &c.finger
                .as_deref()
                .map(|f| B64.encode(f))
                .unwrap_or_default(),
        );
        put("photoBase64", &photo);
        put("photoWlt", &B64.encode(&c.photo));
        put("passportId", &t.passport_id);
        put("signCount", &t.sign_count);
        put("nameEn", &t.name_en);
        put("cardVersion", &t.card_version);
        put("admissibleInstitution", &t.authority_code);
        // The older vocabulary's pictures of the card's two sides, and its chip serial.
        let (front, back, faces_note) = self.faces(&c, decoded.as_ref());
        put("photoBase64_Z", &front);
        put("photoBase64_F", &back);
        put("strIDUID", &c.uid);
        let note = match (photo_note, faces_note) {
            (Some(a), Some(b)) => Some(Text::new(
                format!("{}；{}", a.zh, b.zh),
                format!("{}; {}", a.en, b.en),
            )),
            (a, b) => a.or(b),
        };
        // Code "0" with every text field; the message says what is missing.
        Reply::code("0", note)
            .with("cardType", json!(card_type))
            .with("IDCardInfo", Value::Object(info))
    }
}

impl IdCards {
    /// JPEG pictures of the card's portrait side and other side (base64), drawn from its data;
    /// "" and a note when no font is loaded.
    fn faces(
        &self,
        c: &CardData,
        photo: Option<&imaging::RgbImage>,
    ) -> (String, String, Option<Text>) {
        use imaging::cardface::{self, CardKind, CardText};
        let Some(font) = &self.font else {
            return (
                String::new(),
                String::new(),
                Some(Text::new(
                    "没有可用字体（imaging.font）：photoBase64_Z、photoBase64_F 为空",
                    "no font loaded (imaging.font): photoBase64_Z and photoBase64_F are empty",
                )),
            );
        };
        let kind = match c.kind {
            Kind::Permit => CardKind::Permit,
            Kind::Foreign => CardKind::Foreign,
            _ => CardKind::Resident,
        };
        let t = &c.text;
        let text = CardText {
            name: t.name.clone(),
            name_en: t.name_en.clone(),
            sex: idcard::sex_name(&t.sex_code).to_string(),
            nation: if kind == CardKind::Foreign {
                t.nation_code.clone()
            } else {
                idcard::nation_name(&t.nation_code).to_string()
            },
            birthday: t.birthday.clone(),
            address: t.address.clone(),
            number: t.card_id.clone(),
            issue_organ: t.issue_organ.clone(),
            valid_start: t.valid_start.clone(),
            valid_end: t.valid_end.clone(),
            pass_number: t.passport_id.clone(),
            sign_count: t.sign_count.clone(),
        };
        let enc = |img: &imaging::RgbImage| {
            imaging::codec::encode_jpeg(img, 88, (254, 254))
                .map(|j| B64.encode(j))
                .unwrap_or_default()
        };
        let front = enc(&cardface::front(font, kind, &text, photo));
        let back = enc(&cardface::back(font, kind, &text));
        (front, back, None)
    }
}

/// The photo through the licensed decoder (a 102x126 BMP).
fn photo_image(d: &WltDecoder, wlt: &[u8]) -> Result<imaging::RgbImage, String> {
    let bmp = d.unpack(wlt)?;
    imaging::codec::decode(&bmp).map_err(|e| format!("the decoder's BMP: {e}"))
}

fn photo_jpeg(img: &imaging::RgbImage) -> Result<Vec<u8>, String> {
    imaging::codec::encode_jpeg(img, 90, (350, 350)).map_err(|e| e.to_string())
}

/// Smart card reads, one at a time.
pub struct SmartCards {
    readers: Box<dyn SmartCardReaders>,
    social_reader: String,
    bank_reader: String,
    lock: Mutex<()>,
}

impl SmartCards {
    pub fn new(cfg: &crate::config::PcscSection, readers: Box<dyn SmartCardReaders>) -> SmartCards {
        SmartCards {
            readers,
            social_reader: cfg.social_reader.clone(),
            bank_reader: cfg.bank_reader.clone(),
            lock: Mutex::new(()),
        }
    }

    fn social(&self) -> Result<Reply, ApiError> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let (c, reader) =
            pcsc_reader::read_with(self.readers.as_ref(), &self.social_reader, social::read)?;
        tracing::info!(%reader, "social security card read");
        let nation = idcard::nation_name(&c.nation_code);
        let info = json!({
            "SocialSecurityNumber": c.social_security_number,
            "CardNumber": c.card_number,
            "Name": c.name,
            "Sex": idcard::sex_name(&c.sex_code),
            "Nation": if nation.is_empty() { c.nation_code.as_str() } else { nation },
            "Birthday": c.birthday,
            "Birthplace": c.birthplace,
            "CardDistinguishCode": c.card_distinguish_code,
            "SocialSecurityCardType": c.card_type,
            "CardNormVer": c.card_norm_ver,
            "VisaInstitution": c.visa_institution,
            "ValidStart": c.valid_start,
            "ValidEnd": c.valid_end,
        });
        Ok(Reply::ok().with("SocialCardInfo", info))
    }

    fn bank(&self) -> Result<Reply, ApiError> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let (c, reader) =
            pcsc_reader::read_with(self.readers.as_ref(), &self.bank_reader, emv::read)?;
        tracing::info!(%reader, "bank card read");
        let amount = |tag: u32| emv::yuan(c.get(tag));
        let info = json!({
            "CardNumber": c.pan,
            "AccountNumber": c.pan,
            "Name": c.name,
            "CertificatesType": c.id_type,
            "CertificatesNo": c.id_number,
            "Track1": c.track1,
            "Track2": c.track2,
            "Track3": "",
            "Balance": amount(0x9F79),
            "BalanceLimit": amount(0x9F77),
            "EffectiveDate": c.effective,
            "SerialNumber": c.pan_sequence,
            "CurrencyCode": c.currency,
            "PinRetryTime": hex_number(c.get(0x9F17)),
            "ExpiryDate": c.expiry,
            "Atc": hex_number(c.get(0x9F36)),
            "NameExtend": c.name_ext,
            "SingleTradingLimit": amount(0x9F78),
            "ResetThreshold": amount(0x9F6D),
            "TransactionLimitNumber_I_N": c.get(0x9F72),
            "TransactionLimitNumber_I_C": c.get(0x9F53),
            "TradingLimitNumber": amount(0x9F54),
            "TradingLimitNumber_Double": amount(0x9F75),
            "TransactionAmountUpperLimit": amount(0x9F5C),
            "CurrencyConversionFactor": c.get(0x9F73),
            "TradingFloor": c.get(0x9F14),
            "TradingCeiling": c.get(0x9F23),
            "AppLock": "",
            "IcCardAID": c.aid,
            "AuthorizedAmount": emv::yuan(c.log(0x9F02)),
            "OtherAmount": emv::yuan(c.log(0x9F03)),
            "TransactionCurrencyCode": c.log(0x5F2A),
            "TransactionDate": c.log(0x9A),
            "TransactionTime": c.log(0x9F21),
            "MerchantNumber": merchant(c.log(0x9F4E)),
        });
        Ok(Reply::ok().with("ICCardInfo", info))
    }
}

/// A binary counter (hex digits) as a decimal number; empty when the card did not give it.
fn hex_number(hex: &str) -> String {
    u64::from_str_radix(hex, 16)
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// The merchant name of a log entry (hex of its bytes) as text.
fn merchant(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    let (s, _, _) = encoding_rs::GBK.decode(&bytes);
    s.trim_matches([' ', '\0']).to_string()
}

/// Magnetic stripe reader: one swipe wait at a time.
pub struct MagCards {
    reader: Box<dyn StripeReader>,
    timeout: Duration,
    lock: Mutex<()>,
}

impl MagCards {
    pub fn new(cfg: &crate::config::MagcardSection, reader: Box<dyn StripeReader>) -> MagCards {
        MagCards {
            reader,
            timeout: Duration::from_millis(cfg.timeout_ms.clamp(100, 600_000)),
            lock: Mutex::new(()),
        }
    }

    fn read(&self) -> Result<Reply, ApiError> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let timeout = self.timeout;
        let t = self.reader.swipe(timeout).map_err(|e| match e {
            // The reader does not know how long it waited: say it here.
            MagError::Timeout => ApiError::with(
                ErrorKind::NoData,
                Text::new(
                    format!("等待刷卡超时（{} 秒）", timeout.as_secs_f32()),
                    format!("no card swiped within {} s", timeout.as_secs_f32()),
                ),
            ),
            e => e.into(),
        })?;
        let note = (!t.bad.is_empty()).then(|| {
            let list: Vec<String> = t.bad.iter().map(|n| n.to_string()).collect();
            Text::new(
                format!("磁道 {} 读取失败", list.join("、")),
                format!("track {} could not be read", list.join(", ")),
            )
        });
        Ok(Reply::code("0", note).with(
            "MagCardInfo",
            json!({"Track1": t.track1, "Track2": t.track2, "Track3": t.track3}),
        ))
    }
}

/// Register every card endpoint.
pub fn register(table: &mut Table, ids: Arc<IdCards>, smart: Arc<SmartCards>, mag: Arc<MagCards>) {
    on(table, "card", "idcard", &ids, |c, _| c.read());
    on(table, "card", "getsamid", &ids, |c, _| c.sam_id());
    on(table, "card", "init", &ids, |c, _| c.init());
    on(table, "card", "release", &ids, |c, _| c.release());
    on(table, "card", "sociaseceritycard", &smart, |c, _| {
        c.social()
    });
    on(table, "card", "iccard", &smart, |c, _| c.bank());
    on(table, "card", "magcard", &mag, |c, _| c.read());
}
