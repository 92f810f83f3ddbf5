//! The text block of a resident ID card (and of the two permit cards that share its reader):
//! 256 bytes of UCS-2LE in fixed fields, space padded. Byte 248 tells the kind: 'J' Hong Kong /
//! Macau / Taiwan residence permit, 'I' foreign permanent resident card, else a mainland card.

/// The kind of card, as the vendor's `cardType` letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Mainland resident card (B without fingerprint, C with).
    Resident,
    /// Hong Kong / Macau / Taiwan residence permit (J).
    Permit,
    /// Foreign permanent resident card (I).
    Foreign,
    /// A type letter this firmware does not know (A).
    Unknown(char),
}

/// Every field a card may hold; a field the card kind lacks is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdText {
    pub name: String,
    pub name_en: String,
    pub sex_code: String,
    pub nation_code: String,
    pub birthday: String,
    pub address: String,
    pub card_id: String,
    pub issue_organ: String,
    pub valid_start: String,
    pub valid_end: String,
    pub passport_id: String,
    pub sign_count: String,
    pub card_version: String,
    pub authority_code: String,
}

/// Fields as (offset, length in bytes).
mod layout {
    pub type F = (usize, usize);
    pub mod resident {
        use super::F;
        pub const NAME: F = (0, 30);
        pub const SEX: F = (30, 2);
        pub const NATION: F = (32, 4);
        pub const BIRTH: F = (36, 16);
        pub const ADDRESS: F = (52, 70);
        pub const ID: F = (122, 36);
        pub const AUTHORITY: F = (158, 30);
        pub const FROM: F = (188, 16);
        pub const TO: F = (204, 16);
    }
    pub mod permit {
        use super::F;
        pub const PASS: F = (220, 18);
        pub const ISSUES: F = (238, 4);
    }
    pub mod foreign {
        use super::F;
        pub const NAME_EN: F = (0, 120);
        pub const SEX: F = (120, 2);
        pub const NUMBER: F = (122, 30);
        pub const NATIONALITY: F = (152, 6);
        pub const NAME_CN: F = (158, 30);
        pub const ISSUE: F = (188, 16);
        pub const EXPIRY: F = (204, 16);
        pub const BIRTH: F = (220, 16);
        pub const VERSION: F = (236, 4);
        pub const AUTHORITY: F = (240, 8);
    }
    pub const TYPE: F = (248, 2);
}

/// The size of the text block.
pub const TEXT_LEN: usize = 256;

fn field(t: &[u8], (off, len): layout::F) -> String {
    let units = t[off..off + len]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let s: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    s.trim_end_matches([' ', '\0', '\u{3000}'])
        .trim_start()
        .to_string()
}

/// Which kind of card a text block belongs to.
pub fn kind(t: &[u8]) -> Kind {
    match field(t, layout::TYPE).chars().next() {
        Some('J') => Kind::Permit,
        Some('I') => Kind::Foreign,
        None => Kind::Resident,
        Some(c) => Kind::Unknown(c),
    }
}

/// Parse a text block (exactly [`TEXT_LEN`] bytes).
pub fn parse(t: &[u8]) -> Result<(Kind, IdText), String> {
    if t.len() != TEXT_LEN {
        return Err(format!(
            "text block of {} bytes, {TEXT_LEN} expected",
            t.len()
        ));
    }
    let k = kind(t);
    let mut x = IdText::default();
    use layout::*;
    match k {
        Kind::Foreign => {
            x.name_en = field(t, foreign::NAME_EN);
            x.name = field(t, foreign::NAME_CN);
            x.sex_code = field(t, foreign::SEX);
            x.card_id = field(t, foreign::NUMBER);
            x.nation_code = field(t, foreign::NATIONALITY);
            x.valid_start = field(t, foreign::ISSUE);
            x.valid_end = field(t, foreign::EXPIRY);
            x.birthday = field(t, foreign::BIRTH);
            x.card_version = field(t, foreign::VERSION);
            x.authority_code = field(t, foreign::AUTHORITY);
        }
        _ => {
            x.name = field(t, resident::NAME);
            x.sex_code = field(t, resident::SEX);
            x.birthday = field(t, resident::BIRTH);
            x.address = field(t, resident::ADDRESS);
            x.card_id = field(t, resident::ID);
            x.issue_organ = field(t, resident::AUTHORITY);
            x.valid_start = field(t, resident::FROM);
            x.valid_end = field(t, resident::TO);
            if k == Kind::Permit {
                x.passport_id = field(t, permit::PASS);
                x.sign_count = field(t, permit::ISSUES);
            } else {
                x.nation_code = field(t, resident::NATION);
            }
        }
    }
    Ok((k, x))
}

/// Build a text block (the simulator's cards; the inverse of [`parse`]).
pub fn build(k: Kind, x: &IdText) -> Vec<u8> {
    let mut t = vec![0u8; TEXT_LEN];
    for c in t.chunks_exact_mut(2) {
        c.copy_from_slice(&[0x20, 0x00]);
    }
    let put = |t: &mut Vec<u8>, (off, len): layout::F, s: &str| {
        let units: Vec<u16> = s.encode_utf16().take(len / 2).collect();
        for (i, u) in units.iter().enumerate() {
            t[off + 2 * i..off + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
        }
    };
    use layout::*;
    match k {
        Kind::Foreign => {
            put(&mut t, foreign::NAME_EN, &x.name_en);
            put(&mut t, foreign::SEX, &x.sex_code);
            put(&mut t, foreign::NUMBER, &x.card_id);
            put(&mut t, foreign::NATIONALITY, &x.nation_code);
            put(&mut t, foreign::NAME_CN, &x.name);
            put(&mut t, foreign::ISSUE, &x.valid_start);
            put(&mut t, foreign::EXPIRY, &x.valid_end);
            put(&mut t, foreign::BIRTH, &x.birthday);
            put(&mut t, foreign::VERSION, &x.card_version);
            put(&mut t, foreign::AUTHORITY, &x.authority_code);
            put(&mut t, TYPE, "I");
        }
        _ => {
            put(&mut t, resident::NAME, &x.name);
            put(&mut t, resident::SEX, &x.sex_code);
            put(&mut t, resident::BIRTH, &x.birthday);
            put(&mut t, resident::ADDRESS, &x.address);
            put(&mut t, resident::ID, &x.card_id);
            put(&mut t, resident::AUTHORITY, &x.issue_organ);
            put(&mut t, resident::FROM, &x.valid_start);
            put(&mut t, resident::TO, &x.valid_end);
            if k == Kind::Permit {
                put(&mut t, permit::PASS, &x.passport_id);
                put(&mut t, permit::ISSUES, &x.sign_count);
                put(&mut t, TYPE, "J");
            } else {
                put(&mut t, resident::NATION, &x.nation_code);
            }
        }
    }
    t
}

/// Sex name from its GB/T 2261.1 code.
pub fn sex_name(code: &str) -> &'static str {
    match code {
        "1" => "男",
        "2" => "女",
        "0" => "未知的性别",
        "9" => "未说明的性别",
        _ => "",
    }
}

/// Nation names by GB 3304 code (01..56, 97, 98), as printed on the card (without 族).
const NATIONS: [&str; 56] = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
];

/// Nation name from its GB 3304 code ("" when unknown).
pub fn nation_name(code: &str) -> &'static str {
    match code.trim().parse::<usize>() {
        Ok(n @ 1..=56) => NATIONS[n - 1],
        Ok(97) => "其他",
        Ok(98) => "外国血统中国籍人士",
        _ => "",
    }
}

/// The SAM ID as modules print it: `AA.BB-YYYYMMDD-NNNNNNNNNN-NNNNNNNNNN` from the 16 data
/// bytes of command 12 FF (little-endian fields).
pub fn format_sam_id(d: &[u8]) -> Result<String, String> {
    if d.len() < 16 {
        return Err(format!("SAM ID of {} bytes, 16 expected", d.len()));
    }
    let u16le = |i: usize| u16::from_le_bytes([d[i], d[i + 1]]);
    let u32le = |i: usize| u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    Ok(format!(
        "{:02}.{:02}-{:08}-{:010}-{:010}",
        u16le(0),
        u16le(2),
        u32le(4),
        u32le(8),
        u32le(12)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resident() -> IdText {
        IdText {
            name: "张三".into(),
            sex_code: "1".into(),
            nation_code: "01".into(),
            birthday: "19900101".into(),
            address: "北京市东城区景山前街4号".into(),
            card_id: "11010119900101001X".into(),
            issue_organ: "北京市公安局东城分局".into(),
            valid_start: "20200101".into(),
            valid_end: "长期".into(),
            ..Default::default()
        }
    }

    #[test]
    fn resident_round_trip() {
        let t = build(Kind::Resident, &resident());
        assert_eq!(t.len(), TEXT_LEN);
        let (k, x) = parse(&t).unwrap();
        assert_eq!(k, Kind::Resident);
        assert_eq!(x, resident());
        assert_eq!(nation_name(&x.nation_code), "汉");
        assert_eq!(sex_name(&x.sex_code), "男");
    }

    #[test]
    fn names_and_sam_id() {
        assert_eq!(nation_name("56"), "基诺");
        assert_eq!(nation_name("98"), "外国血统中国籍人士");
        assert_eq!(nation_name("57"), "");
        let d = [
            5, 0, 1, 0, 0x2D, 0xC0, 0x32, 0x01, 0x39, 0x30, 0, 0, 0xD2, 0x02, 0x96, 0x49,
        ];
        assert_eq!(
            format_sam_id(&d).unwrap(),
            "05.01-20103213-0000012345-1234567890"
        );
        assert!(parse(&[0u8; 10]).is_err());
    }
}
