//! The `multipart/x-mixed-replace` MJPEG writer behind `video=stream` and `sign=stream`: works in
//! `<img src>` and CSS backgrounds. Frames are shared `Bytes` written without copying; the
//! producer decides which frames a client gets (a slow client skips frames there).
//!
//! Each part is followed at once by the next boundary, so a browser shows a frame as soon as it
//! has arrived instead of when the next frame starts; the body closes with the final boundary
//! (`--cameraserviceframe--`).

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::watch;

pub const BOUNDARY: &str = "cameraserviceframe";

/// The part header preceding a JPEG of `len` bytes (it ends the boundary line before it).
pub fn part_header(len: usize) -> Bytes {
    Bytes::from(format!(
        "\r\nContent-Type: image/jpeg\r\nContent-Length: {len}\r\n\r\n"
    ))
}

const OPENING: &str = "--cameraserviceframe";
const AFTER_PART: &str = "\r\n--cameraserviceframe";
const CLOSING: &str = "--\r\n";

/// A streaming response of JPEG frames. The response ends when `frames` ends or when `shutdown`
/// becomes true (daemon stopping).
pub fn response<S>(frames: S, mut shutdown: watch::Receiver<bool>) -> Response
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    let frames = frames.take_until(Box::pin(stop));
    let parts = frames.flat_map(|jpeg| {
        stream::iter([
            Ok::<_, Infallible>(part_header(jpeg.len())),
            Ok(jpeg),
            Ok(Bytes::from_static(AFTER_PART.as_bytes())),
        ])
    });
    let body = stream::once(async { Ok(Bytes::from_static(OPENING.as_bytes())) })
        .chain(parts)
        .chain(stream::once(async {
            Ok(Bytes::from_static(CLOSING.as_bytes()))
        }));
    let mut r = Response::new(Body::from_stream(body));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/x-mixed-replace; boundary={BOUNDARY}"))
            .expect("static header"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate, max-age=0"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn writes_parts() {
        let (_tx, rx) = watch::channel(false);
        let frames = stream::iter([
            Bytes::from_static(b"\xff\xd8one\xff\xd9"),
            Bytes::from_static(b"\xff\xd8two\xff\xd9"),
        ]);
        let r = response(frames, rx);
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("multipart/x-mixed-replace; boundary="));
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(text.matches("--cameraserviceframe\r\n").count(), 2);
        assert!(text.starts_with("--cameraserviceframe\r\nContent-Type: image/jpeg\r\n"));
        assert!(text.contains("Content-Length: 7\r\n\r\n\u{fffd}\u{fffd}one"));
        assert!(text.ends_with("\u{fffd}\u{fffd}\r\n--cameraserviceframe--\r\n"));
    }

    #[tokio::test]
    async fn ends_on_shutdown() {
        let (tx, rx) = watch::channel(false);
        let frames = stream::pending::<Bytes>();
        let r = response(frames, rx);
        tx.send(true).unwrap();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"--cameraserviceframe--\r\n");
    }
}
