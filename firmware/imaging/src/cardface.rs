//! Pictures of an ID card's two sides composed from the data read off its chip, laid out like
//! the printed card (ID-1 format, 85.6 x 54 mm, drawn at 10 px/mm: 856 x 540): the portrait
//! side (names, sex, nation, birth, address, number and the photo when one was decoded) and
//! the other side (the card's title, issuing authority, validity). Neither the national emblem
//! nor the printed security background is drawn: these pictures show the chip's data in the
//! card's arrangement; they are not a copy of the card.

use ab_glyph::FontArc;
use image::{imageops, Rgb, RgbImage};

use crate::watermark::{text, text_width};

pub const WIDTH: u32 = 856;
pub const HEIGHT: u32 = 540;

/// Which card: its layout and titles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    /// Resident identity card.
    Resident,
    /// Hong Kong, Macao and Taiwan residents' residence permit.
    Permit,
    /// Foreign permanent resident ID card.
    Foreign,
}

/// The chip's text, as read.
#[derive(Debug, Clone, Default)]
pub struct CardText {
    pub name: String,
    pub name_en: String,
    /// As printed ("男", "女").
    pub sex: String,
    /// As printed ("汉"); for a foreign card, the nationality code.
    pub nation: String,
    /// YYYYMMDD.
    pub birthday: String,
    pub address: String,
    pub number: String,
    pub issue_organ: String,
    /// YYYYMMDD.
    pub valid_start: String,
    /// YYYYMMDD or "长期".
    pub valid_end: String,
    pub pass_number: String,
    pub sign_count: String,
}

const LABEL: [u8; 3] = [0x2a, 0x5c, 0x9a];
const VALUE: [u8; 3] = [0x10, 0x10, 0x10];
const PAPER_TOP: [f32; 3] = [0xf4 as f32, 0xf7 as f32, 0xf5 as f32];
const PAPER_BOTTOM: [f32; 3] = [0xe3 as f32, 0xec as f32, 0xf2 as f32];

fn blank() -> RgbImage {
    let mut img = RgbImage::new(WIDTH, HEIGHT);
    for (_, y, p) in img.enumerate_pixels_mut() {
        let t = y as f32 / HEIGHT as f32;
        let c = |i: usize| (PAPER_TOP[i] * (1.0 - t) + PAPER_BOTTOM[i] * t).round() as u8;
        *p = Rgb([c(0), c(1), c(2)]);
    }
    // Rounded corners (radius 3 mm) outside the card are white.
    let r = 30.0f32;
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let cx = if (x as f32) < r {
                r
            } else if x as f32 > WIDTH as f32 - 1.0 - r {
                WIDTH as f32 - 1.0 - r
            } else {
                continue;
            };
            let cy = if (y as f32) < r {
                r
            } else if y as f32 > HEIGHT as f32 - 1.0 - r {
                HEIGHT as f32 - 1.0 - r
            } else {
                continue;
            };
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if d > r {
                img.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
    }
    img
}

/// "YYYYMMDD" -> ("YYYY", "M", "D") without leading zeros; None when it is not a date.
fn ymd(s: &str) -> Option<(String, String, String)> {
    let s = s.trim();
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let strip = |t: &str| t.trim_start_matches('0').to_string();
    Some((s[..4].to_string(), strip(&s[4..6]), strip(&s[6..8])))
}

/// "YYYYMMDD" -> "YYYY.MM.DD"; anything else as it is ("长期").
fn dotted(s: &str) -> String {
    let s = s.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}.{}.{}", &s[..4], &s[4..6], &s[6..8])
    } else {
        s.to_string()
    }
}

/// Break `s` into lines no wider than `width` px at `size`.
fn wrap(font: &FontArc, s: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    for ch in s.trim().chars() {
        let last = lines.last_mut().expect("one line");
        let mut next = last.clone();
        next.push(ch);
        if !last.is_empty() && text_width(font, &next, size) > width {
            lines.push(ch.to_string());
        } else {
            *last = next;
        }
    }
    lines
}

/// A label and its value on one line; gives the y of the next line.
fn field(img: &mut RgbImage, font: &FontArc, label: &str, value: &str, x: f32, y: f32) -> f32 {
    text(img, font, label, 24.0, (x, y + 4.0), LABEL);
    text(img, font, value, 30.0, (x + 96.0, y), VALUE);
    y + 52.0
}

/// The photo box: the decoded photo scaled into it, or an empty frame.
fn photo_box(img: &mut RgbImage, photo: Option<&RgbImage>) {
    let (x0, y0, w, h) = (560u32, 64u32, 255u32, 315u32);
    match photo {
        Some(p) if p.width() > 0 && p.height() > 0 => {
            let scaled = imageops::resize(p, w, h, imageops::FilterType::CatmullRom);
            imageops::replace(img, &scaled, x0 as i64, y0 as i64);
        }
        _ => {
            for x in x0..x0 + w {
                for y in [y0, y0 + h - 1] {
                    img.put_pixel(x, y, Rgb([0xb8, 0xc4, 0xd0]));
                }
            }
            for y in y0..y0 + h {
                for x in [x0, x0 + w - 1] {
                    img.put_pixel(x, y, Rgb([0xb8, 0xc4, 0xd0]));
                }
            }
        }
    }
}

fn birth_line(img: &mut RgbImage, font: &FontArc, birthday: &str, x: f32, y: f32) -> f32 {
    match ymd(birthday) {
        Some((yy, mm, dd)) => {
            text(img, font, "出生", 24.0, (x, y + 4.0), LABEL);
            let mut cx = x + 96.0;
            for (v, unit) in [(yy, "年"), (mm, "月"), (dd, "日")] {
                cx += text(img, font, &v, 30.0, (cx, y), VALUE) + 6.0;
                cx += text(img, font, unit, 24.0, (cx, y + 4.0), LABEL) + 14.0;
            }
            y + 52.0
        }
        None => field(img, font, "出生", birthday, x, y),
    }
}

/// The portrait side.
pub fn front(font: &FontArc, kind: CardKind, t: &CardText, photo: Option<&RgbImage>) -> RgbImage {
    let mut img = blank();
    let x = 56.0;
    let mut y = 60.0;
    if kind == CardKind::Foreign {
        y = field(&mut img, font, "Name", &t.name_en, x, y);
        y = field(&mut img, font, "中文姓名", &t.name, x, y);
        y = field(&mut img, font, "性别", &t.sex, x, y);
        y = birth_line(&mut img, font, &t.birthday, x, y);
        field(&mut img, font, "国籍", &t.nation, x, y);
    } else {
        y = field(&mut img, font, "姓名", &t.name, x, y);
        text(&mut img, font, "性别", 24.0, (x, y + 4.0), LABEL);
        text(&mut img, font, &t.sex, 30.0, (x + 96.0, y), VALUE);
        if kind == CardKind::Resident {
            text(&mut img, font, "民族", 24.0, (x + 220.0, y + 4.0), LABEL);
            text(&mut img, font, &t.nation, 30.0, (x + 300.0, y), VALUE);
        }
        y += 52.0;
        y = birth_line(&mut img, font, &t.birthday, x, y);
        text(&mut img, font, "住址", 24.0, (x, y + 4.0), LABEL);
        for line in wrap(font, &t.address, 30.0, 380.0).iter().take(4) {
            text(&mut img, font, line, 30.0, (x + 96.0, y), VALUE);
            y += 40.0;
        }
    }
    let label = if kind == CardKind::Foreign {
        "证件号码"
    } else {
        "公民身份号码"
    };
    text(&mut img, font, label, 24.0, (x, 450.0), LABEL);
    text(&mut img, font, &t.number, 36.0, (x + 190.0, 444.0), VALUE);
    photo_box(&mut img, photo);
    img
}

/// The other side: title, issuing authority, validity.
pub fn back(font: &FontArc, kind: CardKind, t: &CardText) -> RgbImage {
    let mut img = blank();
    let (country, title) = match kind {
        CardKind::Resident => ("中华人民共和国", "居民身份证"),
        CardKind::Permit => ("中华人民共和国", "港澳台居民居住证"),
        CardKind::Foreign => ("中华人民共和国", "外国人永久居留身份证"),
    };
    let w = text_width(font, country, 44.0);
    text(
        &mut img,
        font,
        country,
        44.0,
        ((WIDTH as f32 - w) / 2.0, 90.0),
        VALUE,
    );
    let w = text_width(font, title, 56.0);
    text(
        &mut img,
        font,
        title,
        56.0,
        ((WIDTH as f32 - w) / 2.0, 160.0),
        VALUE,
    );
    let x = 150.0;
    let mut y = 330.0;
    let organ = if kind == CardKind::Foreign && t.issue_organ.is_empty() {
        "中华人民共和国国家移民管理局"
    } else {
        t.issue_organ.as_str()
    };
    text(&mut img, font, "签发机关", 24.0, (x, y + 4.0), LABEL);
    text(&mut img, font, organ, 30.0, (x + 130.0, y), VALUE);
    y += 56.0;
    text(&mut img, font, "有效期限", 24.0, (x, y + 4.0), LABEL);
    let validity = format!("{}-{}", dotted(&t.valid_start), dotted(&t.valid_end));
    text(&mut img, font, &validity, 30.0, (x + 130.0, y), VALUE);
    if kind == CardKind::Permit {
        y += 56.0;
        text(&mut img, font, "通行证号码", 24.0, (x, y + 4.0), LABEL);
        let pass = format!("{}    签发次数 {}", t.pass_number, t.sign_count);
        text(&mut img, font, &pass, 30.0, (x + 130.0, y), VALUE);
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            ymd("19900105"),
            Some(("1990".into(), "1".into(), "5".into()))
        );
        assert_eq!(ymd("1990010"), None);
        assert_eq!(dotted("20400101"), "2040.01.01");
        assert_eq!(dotted("长期"), "长期");
    }

    #[test]
    fn blank_card_has_white_corners_and_paper_inside() {
        let img = blank();
        assert_eq!(img.get_pixel(0, 0), &Rgb([255, 255, 255]));
        assert_eq!(img.get_pixel(WIDTH - 1, HEIGHT - 1), &Rgb([255, 255, 255]));
        assert_ne!(img.get_pixel(WIDTH / 2, HEIGHT / 2), &Rgb([255, 255, 255]));
    }
}
