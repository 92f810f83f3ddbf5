//! `imagepro=merge_images` (vendor 6.2): several images side by side or stacked, with a margin
//! between them and an alignment across, on white.

use image::{Rgb, RgbImage};

use crate::ImgError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    Start,
    #[default]
    Center,
    End,
}

impl Align {
    pub fn from_code(c: i64) -> Option<Align> {
        Some(match c {
            0 => Align::Start,
            1 => Align::Center,
            2 => Align::End,
            _ => return None,
        })
    }
}

pub fn merge(
    images: &[RgbImage],
    horizontal: bool,
    margin: u32,
    align: Align,
) -> Result<RgbImage, ImgError> {
    if images.is_empty() {
        return Err(ImgError::Invalid("no images to merge".into()));
    }
    let n = images.len() as u64;
    let along: u64 = images
        .iter()
        .map(|i| if horizontal { i.width() } else { i.height() } as u64)
        .sum::<u64>()
        + margin as u64 * (n - 1);
    let across: u64 = images
        .iter()
        .map(|i| if horizontal { i.height() } else { i.width() } as u64)
        .max()
        .unwrap_or(1);
    let max = crate::max_pixels();
    if along * across > max || along > u32::MAX as u64 {
        return Err(ImgError::TooLarge(format!(
            "merged image would be {along}x{across} pixels, over the limit of {max}"
        )));
    }
    let (w, h) = if horizontal {
        (along as u32, across as u32)
    } else {
        (across as u32, along as u32)
    };
    let mut out = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let mut pos = 0u32;
    for img in images {
        let (iw, ih) = img.dimensions();
        let size_across = if horizontal { ih } else { iw };
        let offset = match align {
            Align::Start => 0,
            Align::Center => (across as u32 - size_across) / 2,
            Align::End => across as u32 - size_across,
        };
        let (x, y) = if horizontal {
            (pos, offset)
        } else {
            (offset, pos)
        };
        image::imageops::replace(&mut out, img, x as i64, y as i64);
        pos += if horizontal { iw } else { ih } + margin;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertical_centered() {
        let a = RgbImage::from_pixel(10, 4, Rgb([0, 0, 0]));
        let b = RgbImage::from_pixel(20, 6, Rgb([0, 0, 0]));
        let m = merge(&[a, b], false, 5, Align::Center).unwrap();
        assert_eq!(m.dimensions(), (20, 15));
        assert_eq!(
            m.get_pixel(0, 0)[0],
            255,
            "left of the narrow image is white"
        );
        assert_eq!(m.get_pixel(5, 0)[0], 0);
        assert_eq!(m.get_pixel(5, 6)[0], 255, "margin");
    }

    #[test]
    fn horizontal_end_aligned() {
        let a = RgbImage::from_pixel(3, 3, Rgb([0, 0, 0]));
        let b = RgbImage::from_pixel(3, 9, Rgb([0, 0, 0]));
        let m = merge(&[a, b], true, 0, Align::End).unwrap();
        assert_eq!(m.dimensions(), (6, 9));
        assert_eq!(m.get_pixel(0, 8)[0], 0);
        assert_eq!(m.get_pixel(0, 0)[0], 255);
        assert!(merge(&[], true, 0, Align::Start).is_err());
    }
}
