//! OFD (GB/T 33190-2016, the Chinese fixed-layout document format) from images: a zip container
//! with the entry file `OFD.xml`, one document `Doc_0/Document.xml`, its resource list
//! `Doc_0/DocumentRes.xml`, one `Doc_0/Pages/Page_N/Content.xml` per page holding an image object
//! that fills the page, and the images under `Doc_0/Res/`. Page boxes are in millimetres from
//! each image's resolution. JPEG sources are stored as they are; others as PNG (lossless).

use image::DynamicImage;

use crate::source::{Source, SourceKind};
use crate::zip::ZipWriter;
use crate::{inspect_all, DocError};

const NS: &str = "http://www.ofdspec.org/2016";

/// Document metadata written into `OFD.xml`.
#[derive(Debug, Clone)]
pub struct Meta {
    /// 32 hexadecimal digits (a UUID without dashes).
    pub doc_id: String,
    /// `YYYY-MM-DD`.
    pub creation_date: String,
}

/// Build an OFD document from image files (in page order).
pub fn merge(sources: &[Vec<u8>], meta: &Meta) -> Result<Vec<u8>, DocError> {
    let pages = inspect_all(sources)?;
    let build = |e: String| DocError::Build(e);
    // Page contents and images, written after the document files.
    let mut parts: Vec<(String, Vec<u8>, bool)> = Vec::with_capacity(2 * pages.len());
    let n = pages.len() as u32;
    // IDs: media 1..=n, then per page a layer and an image object.
    let media_id = |i: u32| i + 1;
    let layer_id = |i: u32| n + 1 + 2 * i;
    let object_id = |i: u32| n + 2 + 2 * i;
    let max_id = n + 2 * n;

    let mut media = String::new();
    let mut page_list = String::new();
    for (i, src) in pages.iter().enumerate() {
        let i32_ = i as u32;
        let (ext, format, data) =
            resource(src).map_err(|detail| DocError::BadSource { index: i, detail })?;
        let file = format!("Image_{i}.{ext}");
        parts.push((format!("Doc_0/Res/{file}"), data, false));
        media.push_str(&format!(
            "<ofd:MultiMedia ID=\"{}\" Type=\"Image\" Format=\"{format}\"><ofd:MediaFile>{file}</ofd:MediaFile></ofd:MultiMedia>",
            media_id(i32_)
        ));
        let (w, h) = src.size_mm();
        let (w, h) = (mm(w), mm(h));
        let content = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Page xmlns:ofd=\"{NS}\"><ofd:Area><ofd:PhysicalBox>0 0 {w} {h}</ofd:PhysicalBox></ofd:Area><ofd:Content><ofd:Layer ID=\"{}\"><ofd:ImageObject ID=\"{}\" ResourceID=\"{}\" Boundary=\"0 0 {w} {h}\" CTM=\"{w} 0 0 {h} 0 0\"/></ofd:Layer></ofd:Content></ofd:Page>",
            layer_id(i32_),
            object_id(i32_),
            media_id(i32_)
        );
        parts.push((
            format!("Doc_0/Pages/Page_{i}/Content.xml"),
            content.into_bytes(),
            true,
        ));
        page_list.push_str(&format!(
            "<ofd:Page ID=\"{}\" BaseLoc=\"Pages/Page_{i}/Content.xml\"/>",
            // Page IDs follow every other object.
            max_id + 1 + i32_
        ));
    }
    let max_id = max_id + n;
    let (w0, h0) = pages[0].size_mm();
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Document xmlns:ofd=\"{NS}\"><ofd:CommonData><ofd:MaxUnitID>{max_id}</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 {} {}</ofd:PhysicalBox></ofd:PageArea><ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes></ofd:CommonData><ofd:Pages>{page_list}</ofd:Pages></ofd:Document>",
        mm(w0),
        mm(h0)
    );
    let res = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Res xmlns:ofd=\"{NS}\" BaseLoc=\"Res\"><ofd:MultiMedias>{media}</ofd:MultiMedias></ofd:Res>"
    );
    let ofd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:OFD xmlns:ofd=\"{NS}\" Version=\"1.0\" DocType=\"OFD\"><ofd:DocBody><ofd:DocInfo><ofd:DocID>{}</ofd:DocID><ofd:CreationDate>{}</ofd:CreationDate><ofd:Creator>CameraService</ofd:Creator><ofd:CreatorVersion>{}</ofd:CreatorVersion></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
        xml_text(&meta.doc_id),
        xml_text(&meta.creation_date),
        env!("CARGO_PKG_VERSION")
    );
    // The entry file first, as readers expect.
    let mut zip = ZipWriter::new(sources.iter().map(|s| s.len()).sum::<usize>() + 8192);
    zip.add("OFD.xml", ofd.as_bytes(), true).map_err(build)?;
    zip.add("Doc_0/Document.xml", document.as_bytes(), true)
        .map_err(build)?;
    zip.add("Doc_0/DocumentRes.xml", res.as_bytes(), true)
        .map_err(build)?;
    for (name, data, deflate) in &parts {
        zip.add(name, data, *deflate).map_err(build)?;
    }
    zip.finish().map_err(build)
}

/// The stored resource of a page: file extension, OFD format name, bytes.
fn resource(src: &Source) -> Result<(String, &'static str, Vec<u8>), String> {
    match src.kind {
        SourceKind::Jpeg {
            has_huffman_tables: true,
            ..
        } => Ok(("jpg".into(), "JPEG", src.data.to_vec())),
        SourceKind::Jpeg { .. } => {
            let rgb = imaging::codec::decode_jpeg(src.data).map_err(|e| e.to_string())?;
            let j = imaging::codec::encode_jpeg(&rgb, 92, (72, 72)).map_err(|e| e.to_string())?;
            Ok(("jpg".into(), "JPEG", j))
        }
        SourceKind::Decode(imaging::codec::Format::Png) => {
            // Stored as it is, once it has been seen to decode completely.
            src.decode()?;
            Ok(("png".into(), "PNG", src.data.to_vec()))
        }
        SourceKind::Decode(_) => {
            let img: DynamicImage = src.decode()?;
            let mut png = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .map_err(|e| e.to_string())?;
            Ok(("png".into(), "PNG", png))
        }
    }
}

/// Millimetres with up to 3 decimals.
fn mm(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_lists_the_parts() {
        let img = image::RgbImage::from_pixel(200, 100, image::Rgb([9, 9, 9]));
        let j = imaging::codec::encode_jpeg(&img, 80, (100, 100)).unwrap();
        let meta = Meta {
            doc_id: "0123456789abcdef0123456789abcdef".into(),
            creation_date: "2026-11-28".into(),
        };
        let z = merge(&[j.clone(), j.clone()], &meta).unwrap();
        assert!(z.starts_with(b"PK\x03\x04"));
        assert_eq!(&z[30..37], b"OFD.xml");
        // The JPEG is stored as it is.
        assert_eq!(z.windows(j.len()).filter(|w| *w == &j[..]).count(), 2);
        assert!(merge(&[], &meta).is_err());
        assert_eq!(mm(200.0 / 100.0 * 25.4), "50.8");
    }
}
