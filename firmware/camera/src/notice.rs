//! The pictures a stream ends with when its camera goes away ("设备已移除") or is closed
//! ("设备已关闭"): rendered once by GStreamer (textoverlay with the shipped CJK font) and cached.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

use crate::types::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    Removed,
    Closed,
}

impl Notice {
    pub fn text(self) -> (&'static str, &'static str) {
        match self {
            Notice::Removed => ("设备已移除", "device removed"),
            Notice::Closed => ("设备已关闭", "device closed"),
        }
    }
}

type Cache = HashMap<(Notice, u32, u32), Bytes>;

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// The notice as a JPEG of `width` x `height`.
pub fn picture(n: Notice, width: u32, height: u32) -> Result<Bytes> {
    let (w, h) = (width.clamp(160, 1920) & !1, height.clamp(120, 1080) & !1);
    if let Some(b) = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .get(&(n, w, h))
    {
        return Ok(b.clone());
    }
    let (zh, en) = n.text();
    let size = (h / 12).max(10);
    let desc = format!(
        "videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xff2b2b2b ! \
         video/x-raw,width={w},height={h},framerate=1/1 ! \
         textoverlay text=\"{zh}\n{en}\" font-desc=\"WenQuanYi Zen Hei, Sans {size}px\" \
         valignment=center halignment=center line-alignment=center color=0xffe0e0e0 shaded-background=false ! \
         videoconvert ! jpegenc quality=85 ! appsink name=out"
    );
    let jpeg = crate::pipeline::one_shot(&desc, None)?;
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert((n, w, h), jpeg.clone());
    Ok(jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_jpeg() {
        let j = picture(Notice::Removed, 640, 480).unwrap();
        assert_eq!(&j[..2], b"\xff\xd8");
        let again = picture(Notice::Removed, 640, 480).unwrap();
        assert_eq!(j.as_ptr(), again.as_ptr(), "cached");
    }
}
