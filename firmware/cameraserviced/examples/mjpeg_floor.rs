//! Benchmark floor for MJPEG fan-out: serves the same multipart writer as `video=stream` with a
//! fixed JPEG at a fixed rate and no capture at all.
//!
//! usage: mjpeg_floor ADDR:PORT JPEG_FILE FPS

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().expect("ADDR:PORT");
    let jpeg = Bytes::from(std::fs::read(args.next().expect("JPEG_FILE")).expect("read JPEG"));
    let fps: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(15.0);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let app = axum::Router::new().fallback(move || {
        let (jpeg, rx) = (jpeg.clone(), rx.clone());
        async move {
            let period = Duration::from_secs_f64(1.0 / fps);
            let frames = stream::unfold(tokio::time::interval(period), move |mut t| {
                let jpeg = jpeg.clone();
                async move {
                    t.tick().await;
                    Some((jpeg, t))
                }
            });
            api::mjpeg::response(frames, rx)
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
