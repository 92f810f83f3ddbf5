//! Decoding and encoding. JPEG goes through libjpeg-turbo (chosen by measurement against the
//! image crate: `examples/jpeg_codecs.rs`); PNG, BMP, TIFF, GIF and WebP through the image crate.
//! Encoded JPEGs carry the requested resolution (DPI) in their JFIF header.

use image::{GrayImage, RgbImage};

use crate::ImgError;

/// Image formats a client may send (`image_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Bmp,
    Tiff,
    Gif,
    Webp,
}

impl Format {
    /// From a vendor `image_type` ("jpg", "png" ...).
    pub fn from_name(s: &str) -> Option<Format> {
        match s
            .trim()
            .trim_start_matches('.')
            .to_ascii_lowercase()
            .as_str()
        {
            "jpg" | "jpeg" | "jpe" | "jfif" => Some(Format::Jpeg),
            "png" => Some(Format::Png),
            "bmp" => Some(Format::Bmp),
            "tif" | "tiff" => Some(Format::Tiff),
            "gif" => Some(Format::Gif),
            "webp" => Some(Format::Webp),
            _ => None,
        }
    }

    /// From the first bytes of a file.
    pub fn sniff(data: &[u8]) -> Option<Format> {
        if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if data.starts_with(b"BM") {
            Some(Format::Bmp)
        } else if data.starts_with(b"II*\0") || data.starts_with(b"MM\0*") {
            Some(Format::Tiff)
        } else if data.starts_with(b"GIF8") {
            Some(Format::Gif)
        } else if data.len() > 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
            Some(Format::Webp)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Bmp => "bmp",
            Format::Tiff => "tif",
            Format::Gif => "gif",
            Format::Webp => "webp",
        }
    }
}

/// The image crate's name of a format.
pub fn image_format(f: Format) -> image::ImageFormat {
    match f {
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Png => image::ImageFormat::Png,
        Format::Bmp => image::ImageFormat::Bmp,
        Format::Tiff => image::ImageFormat::Tiff,
        Format::Gif => image::ImageFormat::Gif,
        Format::Webp => image::ImageFormat::WebP,
    }
}

/// Format, width and height from an image's header, without decoding its pixels.
pub fn probe(data: &[u8]) -> Result<(Format, u32, u32), ImgError> {
    let f = Format::sniff(data)
        .ok_or_else(|| ImgError::Decode("not an image (unknown format)".into()))?;
    let (w, h) = if f == Format::Jpeg {
        jpeg_size(data).ok_or_else(|| ImgError::Decode("unreadable JPEG header".into()))?
    } else {
        image::ImageReader::with_format(std::io::Cursor::new(data), image_format(f))
            .into_dimensions()
            .map_err(|e| ImgError::Decode(e.to_string()))?
    };
    if w == 0 || h == 0 {
        return Err(ImgError::Decode("the image is empty".into()));
    }
    Ok((f, w, h))
}

/// Refuse a size over the pixel ceiling ([`crate::max_pixels`]).
pub fn check_pixels(w: u32, h: u32) -> Result<(), ImgError> {
    let max = crate::max_pixels();
    if w as u64 * h as u64 > max {
        return Err(ImgError::TooLarge(format!(
            "the image is {w}x{h} pixels, over the limit of {max} pixels"
        )));
    }
    Ok(())
}

/// Check an image's header against the pixel ceiling, then decode it to RGB.
pub fn decode(data: &[u8]) -> Result<RgbImage, ImgError> {
    let (_, w, h) = probe(data)?;
    check_pixels(w, h)?;
    decode_unchecked(data)
}

fn decode_unchecked(data: &[u8]) -> Result<RgbImage, ImgError> {
    match Format::sniff(data) {
        Some(Format::Jpeg) => decode_jpeg(data),
        Some(f) => {
            let mut r =
                image::ImageReader::with_format(std::io::Cursor::new(data), image_format(f));
            // The header was checked; this also bounds what a decoder may allocate on its own.
            let mut limits = image::Limits::default();
            limits.max_alloc = Some(crate::max_pixels() * 8);
            r.limits(limits);
            r.decode()
                .map(|i| i.to_rgb8())
                .map_err(|e| ImgError::Decode(e.to_string()))
        }
        None => Err(ImgError::Decode("not an image (unknown format)".into())),
    }
}

/// Decode a JPEG with libjpeg-turbo (after checking its size against the pixel ceiling).
pub fn decode_jpeg(data: &[u8]) -> Result<RgbImage, ImgError> {
    let (w, h) =
        jpeg_size(data).ok_or_else(|| ImgError::Decode("unreadable JPEG header".into()))?;
    check_pixels(w, h)?;
    let img = turbojpeg::decompress(data, turbojpeg::PixelFormat::RGB)
        .map_err(|e| ImgError::Decode(e.to_string()))?;
    let (w, h) = (img.width as u32, img.height as u32);
    let pixels = if img.pitch == img.width * 3 {
        img.pixels
    } else {
        let mut out = Vec::with_capacity(img.width * img.height * 3);
        for row in img.pixels.chunks(img.pitch).take(img.height) {
            out.extend_from_slice(&row[..img.width * 3]);
        }
        out
    };
    RgbImage::from_raw(w, h, pixels).ok_or_else(|| ImgError::Decode("bad JPEG size".into()))
}

/// Width and height from a JPEG's header (None when it is not a JPEG libjpeg-turbo reads).
pub fn jpeg_size(data: &[u8]) -> Option<(u32, u32)> {
    let h = turbojpeg::read_header(data).ok()?;
    Some((h.width as u32, h.height as u32))
}

/// Decode a JPEG reduced by `scale` (1, 2, 4 or 8) in the DCT domain, much faster than a full
/// decode; each side is rounded up (libjpeg-turbo's scaled sizes).
pub fn decode_jpeg_scaled(data: &[u8], scale: usize) -> Result<RgbImage, ImgError> {
    if !matches!(scale, 1 | 2 | 4 | 8) {
        return Err(ImgError::Invalid(format!(
            "JPEG scale 1/{scale} is not supported"
        )));
    }
    let err = |e: turbojpeg::Error| ImgError::Decode(e.to_string());
    let mut d = turbojpeg::Decompressor::new().map_err(err)?;
    let head = d.read_header(data).map_err(err)?;
    check_pixels(head.width as u32, head.height as u32)?;
    let (w, h) = (head.width.div_ceil(scale), head.height.div_ceil(scale));
    let mut pixels = vec![0u8; w * h * 3];
    // A destination smaller than the picture selects libjpeg-turbo's scaled decode.
    let out = turbojpeg::Image {
        pixels: &mut pixels[..],
        width: w,
        pitch: w * 3,
        height: h,
        format: turbojpeg::PixelFormat::RGB,
    };
    d.decompress(data, out).map_err(err)?;
    RgbImage::from_raw(w as u32, h as u32, pixels)
        .ok_or_else(|| ImgError::Decode("bad JPEG size".into()))
}

/// Packed YUYV 4:2:2 (a camera frame) to RGB (BT.601, limited range as UVC cameras send it).
pub fn yuy2_to_rgb(
    data: &[u8],
    width: u32,
    height: u32,
    stride: u32,
) -> Result<RgbImage, ImgError> {
    let (w, h, stride) = (width as usize, height as usize, stride as usize);
    if w < 2 || h == 0 || stride < w * 2 || data.len() < stride * (h - 1) + w * 2 {
        return Err(ImgError::Decode("YUY2 frame too short".into()));
    }
    let mut out = vec![0u8; w * h * 3];
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    for y in 0..h {
        let row = &data[y * stride..y * stride + w * 2];
        let o = &mut out[y * w * 3..(y + 1) * w * 3];
        for x in (0..w - 1).step_by(2) {
            let i = x * 2;
            let (y0, u, y1, v) = (
                row[i] as i32 - 16,
                row[i + 1] as i32 - 128,
                row[i + 2] as i32 - 16,
                row[i + 3] as i32 - 128,
            );
            for (k, yy) in [(0, y0), (1, y1)] {
                let c = 298 * yy;
                let p = (x + k) * 3;
                o[p] = clamp((c + 409 * v + 128) >> 8);
                o[p + 1] = clamp((c - 100 * u - 208 * v + 128) >> 8);
                o[p + 2] = clamp((c + 516 * u + 128) >> 8);
            }
        }
    }
    RgbImage::from_raw(width, height, out).ok_or_else(|| ImgError::Decode("YUY2 size".into()))
}

/// Encode RGB as JPEG at `quality` (10-100) with `dpi` in the JFIF header.
pub fn encode_jpeg(img: &RgbImage, quality: u8, dpi: (u16, u16)) -> Result<Vec<u8>, ImgError> {
    let image = turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: img.width() as usize,
        pitch: img.width() as usize * 3,
        height: img.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    let mut c = turbojpeg::Compressor::new().map_err(|e| ImgError::Encode(e.to_string()))?;
    c.set_quality(quality.clamp(1, 100) as i32);
    c.set_subsamp(turbojpeg::Subsamp::Sub2x2);
    let mut jpeg = c
        .compress_to_vec(image)
        .map_err(|e| ImgError::Encode(e.to_string()))?;
    set_density(&mut jpeg, dpi);
    Ok(jpeg)
}

/// Encode a grey image as a single-channel JPEG.
pub fn encode_gray_jpeg(
    img: &GrayImage,
    quality: u8,
    dpi: (u16, u16),
) -> Result<Vec<u8>, ImgError> {
    let image = turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: img.width() as usize,
        pitch: img.width() as usize,
        height: img.height() as usize,
        format: turbojpeg::PixelFormat::GRAY,
    };
    let mut c = turbojpeg::Compressor::new().map_err(|e| ImgError::Encode(e.to_string()))?;
    c.set_quality(quality.clamp(1, 100) as i32);
    c.set_subsamp(turbojpeg::Subsamp::Gray);
    let mut jpeg = c
        .compress_to_vec(image)
        .map_err(|e| ImgError::Encode(e.to_string()))?;
    set_density(&mut jpeg, dpi);
    Ok(jpeg)
}

/// Write the resolution into a JPEG's JFIF APP0 segment (inserting one if there is none).
pub fn set_density(jpeg: &mut Vec<u8>, dpi: (u16, u16)) {
    let (x, y) = (dpi.0.max(1), dpi.1.max(1));
    if jpeg.len() > 20 && jpeg[2] == 0xFF && jpeg[3] == 0xE0 && &jpeg[6..11] == b"JFIF\0" {
        jpeg[13] = 1; // dots per inch
        jpeg[14..16].copy_from_slice(&x.to_be_bytes());
        jpeg[16..18].copy_from_slice(&y.to_be_bytes());
        return;
    }
    if jpeg.len() < 2 {
        return;
    }
    let mut app0 = vec![0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 1];
    app0.extend_from_slice(&x.to_be_bytes());
    app0.extend_from_slice(&y.to_be_bytes());
    app0.extend_from_slice(&[0, 0]);
    jpeg.splice(2..2, app0);
}

/// Whether a JPEG carries its own Huffman tables (UVC cameras may leave them out, which some
/// decoders do not accept).
pub fn has_huffman_tables(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if marker == 0xC4 {
            return true;
        }
        if marker == 0xDA {
            return false;
        }
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        i += 2 + len;
    }
    false
}

/// Whether a JFIF header may describe this JPEG: not when an Adobe APP14 marker says its
/// components are RGB (transform 0), since JFIF implies YCbCr and decoders would believe it.
pub fn jfif_compatible(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if marker == 0xDA || len < 2 {
            break;
        }
        let seg = &jpeg[(i + 4).min(jpeg.len())..(i + 2 + len).min(jpeg.len())];
        if marker == 0xEE && seg.len() >= 12 && seg.starts_with(b"Adobe") {
            return seg[11] != 0;
        }
        i += 2 + len;
    }
    true
}

/// The resolution in a JPEG's JFIF header, if it states one in dots per inch (or per cm).
pub fn density(jpeg: &[u8]) -> Option<(u16, u16)> {
    if jpeg.len() > 20 && jpeg[2] == 0xFF && jpeg[3] == 0xE0 && &jpeg[6..11] == b"JFIF\0" {
        let x = u16::from_be_bytes([jpeg[14], jpeg[15]]);
        let y = u16::from_be_bytes([jpeg[16], jpeg[17]]);
        return match jpeg[13] {
            1 => Some((x, y)),
            2 => Some((
                (x as f32 * 2.54).round() as u16,
                (y as f32 * 2.54).round() as u16,
            )),
            _ => None,
        };
    }
    None
}

/// Encode as PNG (for lossless outputs such as signatures).
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, ImgError> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| ImgError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_round_trip_with_dpi() {
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 128]));
        let j = encode_jpeg(&img, 90, (300, 200)).unwrap();
        assert_eq!(density(&j), Some((300, 200)));
        let back = decode(&j).unwrap();
        assert_eq!(back.dimensions(), (64, 48));
        let p = back.get_pixel(32, 24);
        assert!(
            (p[0] as i32 - 128).abs() < 8 && (p[1] as i32 - 120).abs() < 8,
            "{p:?}"
        );
    }

    #[test]
    fn huffman_tables_found() {
        let img = RgbImage::from_pixel(16, 16, image::Rgb([9, 9, 9]));
        assert!(has_huffman_tables(
            &encode_jpeg(&img, 80, (72, 72)).unwrap()
        ));
        // SOI, DQT, SOS without a DHT (what some UVC cameras send).
        let j = [0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x02, 0xFF, 0xDA, 0x00, 0x02];
        assert!(!has_huffman_tables(&j));
    }

    #[test]
    fn rgb_jpegs_take_no_jfif() {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xEE, 0x00, 0x0E];
        j.extend_from_slice(b"Adobe\x00\x64\x00\x00\x00\x00\x00");
        j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02]);
        assert!(!jfif_compatible(&j));
        j[17] = 1;
        assert!(jfif_compatible(&j));
    }

    #[test]
    fn density_inserted_without_jfif() {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xDB, 0, 2, 0xFF, 0xD9];
        set_density(&mut j, (150, 150));
        assert_eq!(density(&j), Some((150, 150)));
    }

    #[test]
    fn yuy2_grey() {
        // Y=126 (mid grey), U=V=128.
        let data: Vec<u8> = [126u8, 128, 126, 128].repeat(8);
        let rgb = yuy2_to_rgb(&data, 4, 4, 8).unwrap();
        let p = rgb.get_pixel(1, 1);
        assert!(
            p[0] == p[1] && p[1] == p[2] && (p[0] as i32 - 128).abs() < 3,
            "{p:?}"
        );
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn headers_checked_before_decoding() {
        let img = RgbImage::from_pixel(40, 30, image::Rgb([1, 2, 3]));
        let j = encode_jpeg(&img, 90, (72, 72)).unwrap();
        assert_eq!(probe(&j).unwrap(), (Format::Jpeg, 40, 30));
        let p = encode_png(&img).unwrap();
        assert_eq!(probe(&p).unwrap(), (Format::Png, 40, 30));
        // A PNG header claiming 100000 x 100000 pixels: refused before any pixel is decoded.
        let mut big = p.clone();
        big[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        big[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&big[12..29]);
        big[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(decode(&big), Err(ImgError::TooLarge(_))));
        // The same for a JPEG whose frame header says 60000 x 60000.
        let mut bigj = j.clone();
        let sof = bigj.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bigj[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
        bigj[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
        assert!(matches!(decode(&bigj), Err(ImgError::TooLarge(_))));
        assert!(matches!(decode_jpeg(&bigj), Err(ImgError::TooLarge(_))));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(b"hello").is_err());
        assert!(decode(&[0xFF, 0xD8, 0xFF, 0x00, 0x01]).is_err());
        assert_eq!(Format::from_name("JPG"), Some(Format::Jpeg));
        assert_eq!(Format::from_name("heic"), None);
    }
}
