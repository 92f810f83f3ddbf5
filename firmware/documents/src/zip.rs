//! A minimal zip writer (stored and deflated entries, no Zip64): enough for an OFD container.

use std::io::Write;

use flate2::write::DeflateEncoder;

struct Entry {
    name: String,
    method: u16,
    crc: u32,
    size: u32,
    stored: u32,
    offset: u32,
}

pub struct ZipWriter {
    out: Vec<u8>,
    entries: Vec<Entry>,
}

/// 1980-01-01 00:00 in DOS format: the container's contents do not depend on the clock.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;

impl ZipWriter {
    pub fn new(capacity: usize) -> ZipWriter {
        ZipWriter {
            out: Vec::with_capacity(capacity),
            entries: Vec::new(),
        }
    }

    /// Add a file; `deflate` compresses it (text), else it is stored (images).
    pub fn add(&mut self, name: &str, data: &[u8], deflate: bool) -> Result<(), String> {
        let crc = crc32fast::hash(data);
        let packed;
        let (method, body): (u16, &[u8]) = if deflate {
            let mut e = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).map_err(|e| e.to_string())?;
            packed = e.finish().map_err(|e| e.to_string())?;
            (8, &packed)
        } else {
            (0, data)
        };
        let too_big = || format!("{name} is too large for the container");
        let size = u32::try_from(data.len()).map_err(|_| too_big())?;
        let stored = u32::try_from(body.len()).map_err(|_| too_big())?;
        let offset = u32::try_from(self.out.len()).map_err(|_| too_big())?;
        let o = &mut self.out;
        o.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        o.extend_from_slice(&20u16.to_le_bytes());
        o.extend_from_slice(&0u16.to_le_bytes());
        o.extend_from_slice(&method.to_le_bytes());
        o.extend_from_slice(&DOS_TIME.to_le_bytes());
        o.extend_from_slice(&DOS_DATE.to_le_bytes());
        o.extend_from_slice(&crc.to_le_bytes());
        o.extend_from_slice(&stored.to_le_bytes());
        o.extend_from_slice(&size.to_le_bytes());
        o.extend_from_slice(&(name.len() as u16).to_le_bytes());
        o.extend_from_slice(&0u16.to_le_bytes());
        o.extend_from_slice(name.as_bytes());
        o.extend_from_slice(body);
        self.entries.push(Entry {
            name: name.to_string(),
            method,
            crc,
            size,
            stored,
            offset,
        });
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        let cd_at = self.out.len();
        for e in &self.entries {
            let o = &mut self.out;
            o.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            o.extend_from_slice(&20u16.to_le_bytes());
            o.extend_from_slice(&20u16.to_le_bytes());
            o.extend_from_slice(&0u16.to_le_bytes());
            o.extend_from_slice(&e.method.to_le_bytes());
            o.extend_from_slice(&DOS_TIME.to_le_bytes());
            o.extend_from_slice(&DOS_DATE.to_le_bytes());
            o.extend_from_slice(&e.crc.to_le_bytes());
            o.extend_from_slice(&e.stored.to_le_bytes());
            o.extend_from_slice(&e.size.to_le_bytes());
            o.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            o.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
            o.extend_from_slice(&e.offset.to_le_bytes());
            o.extend_from_slice(e.name.as_bytes());
        }
        let cd_len = self.out.len() - cd_at;
        let (cd_at, cd_len) = match (u32::try_from(cd_at), u32::try_from(cd_len)) {
            (Ok(a), Ok(l)) if self.entries.len() < 0xFFFF => (a, l),
            _ => return Err("the document is too large for the container".into()),
        };
        let n = self.entries.len() as u16;
        let o = &mut self.out;
        o.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        o.extend_from_slice(&[0; 4]);
        o.extend_from_slice(&n.to_le_bytes());
        o.extend_from_slice(&n.to_le_bytes());
        o.extend_from_slice(&cd_len.to_le_bytes());
        o.extend_from_slice(&cd_at.to_le_bytes());
        o.extend_from_slice(&0u16.to_le_bytes());
        Ok(self.out)
    }
}
