//! BER-TLV as smart cards use it (EMV, PBOC, social security records): multi-byte tags, short
//! and long lengths, constructed tags searched recursively. Malformed input ends the parse; it
//! never panics.

/// One element: tag (up to 4 bytes, big-endian in a u32), value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

impl Tlv<'_> {
    /// Whether the tag is constructed (holds more TLVs).
    pub fn constructed(&self) -> bool {
        let first = if self.tag > 0xFFFFFF {
            self.tag >> 24
        } else if self.tag > 0xFFFF {
            self.tag >> 16
        } else if self.tag > 0xFF {
            self.tag >> 8
        } else {
            self.tag
        };
        first & 0x20 != 0
    }
}

/// A tag at the start of `data` (one byte, or more when the low five bits are all set): the tag
/// and its length in bytes.
fn read_tag(data: &[u8]) -> Option<(u32, usize)> {
    let b = *data.first()?;
    let mut tag = b as u32;
    let mut i = 1;
    if b & 0x1F == 0x1F {
        loop {
            let n = *data.get(i)?;
            tag = (tag << 8) | n as u32;
            i += 1;
            if n & 0x80 == 0 || i > 4 {
                break;
            }
        }
    }
    Some((tag, i))
}

/// The elements at the top level of `data` (padding bytes 00 and FF between elements skipped).
pub fn parse(mut data: &[u8]) -> Vec<Tlv<'_>> {
    let mut out = Vec::new();
    while let Some(&b) = data.first() {
        if b == 0x00 || b == 0xFF {
            data = &data[1..];
            continue;
        }
        let Some((tag, mut i)) = read_tag(data) else {
            return out;
        };
        let Some(&l0) = data.get(i) else { return out };
        i += 1;
        let len = if l0 & 0x80 == 0 {
            l0 as usize
        } else {
            let n = (l0 & 0x7F) as usize;
            if n == 0 || n > 3 || data.len() < i + n {
                return out;
            }
            let mut l = 0usize;
            for k in 0..n {
                l = (l << 8) | data[i + k] as usize;
            }
            i += n;
            l
        };
        if data.len() < i + len {
            return out;
        }
        out.push(Tlv {
            tag,
            value: &data[i..i + len],
        });
        data = &data[i + len..];
    }
    out
}

/// The first element with `tag`, anywhere in the tree (depth-first).
pub fn find(data: &[u8], tag: u32) -> Option<&[u8]> {
    find_depth(data, tag, 0)
}

fn find_depth(data: &[u8], tag: u32, depth: usize) -> Option<&[u8]> {
    if depth > 8 {
        return None;
    }
    for t in parse(data) {
        if t.tag == tag {
            return Some(t.value);
        }
        if t.constructed() {
            if let Some(v) = find_depth(t.value, tag, depth + 1) {
                return Some(v);
            }
        }
    }
    None
}

/// Every element with `tag` anywhere in the tree.
pub fn find_all(data: &[u8], tag: u32) -> Vec<&[u8]> {
    let mut out = Vec::new();
    collect(data, tag, 0, &mut out);
    out
}

fn collect<'a>(data: &'a [u8], tag: u32, depth: usize, out: &mut Vec<&'a [u8]>) {
    if depth > 8 {
        return;
    }
    for t in parse(data) {
        if t.tag == tag {
            out.push(t.value);
        } else if t.constructed() {
            collect(t.value, tag, depth + 1, out);
        }
    }
}

/// A data object list (PDOL, log format): (tag, length) pairs without values.
pub fn parse_dol(mut data: &[u8]) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let Some((tag, i)) = read_tag(data) else {
            return out;
        };
        let Some(&l) = data.get(i) else { return out };
        out.push((tag, l as usize));
        data = &data[i + 1..];
    }
    out
}

/// Encode one element (the simulator's cards).
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 6);
    let tb = tag.to_be_bytes();
    let skip = tb.iter().take_while(|&&b| b == 0).count().min(3);
    v.extend_from_slice(&tb[skip..]);
    match value.len() {
        n if n < 0x80 => v.push(n as u8),
        n if n < 0x100 => v.extend_from_slice(&[0x81, n as u8]),
        n => v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(value);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_long_forms() {
        let inner = [
            encode(0x5A, &[0x62, 0x22, 0x12]),
            encode(0x9F79, &[0, 0, 0, 0, 0x10, 0]),
        ]
        .concat();
        let long = vec![0xAB; 300];
        let data = [encode(0x70, &inner), encode(0xDF01, &long)].concat();
        assert_eq!(find(&data, 0x5A), Some(&[0x62, 0x22, 0x12][..]));
        assert_eq!(find(&data, 0x9F79).map(|v| v.len()), Some(6));
        assert_eq!(find(&data, 0xDF01).map(|v| v.len()), Some(300));
        assert_eq!(find(&data, 0x57), None);
        assert_eq!(
            parse_dol(&[0x9F, 0x66, 0x04, 0x9F, 0x02, 0x06, 0x5F, 0x2A, 0x02]),
            vec![(0x9F66, 4), (0x9F02, 6), (0x5F2A, 2)]
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u32 = 99;
        for n in 0..20000 {
            let v: Vec<u8> = (0..n % 80)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = find(&v, 0x5A);
            let _ = find_all(&v, 0x61);
            let _ = parse_dol(&v);
        }
    }
}
