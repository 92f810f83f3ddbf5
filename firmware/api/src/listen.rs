//! The accept loop: HTTP/1.1 connections with a header and keep-alive time-out, a cap on open
//! connections below the process's descriptor limit, WebSocket upgrades, graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use crate::error::{ApiError, ErrorKind, Language};
use crate::reply::error_object;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// Time allowed for a request's line and headers, and for an idle keep-alive connection
    /// before its next request.
    pub header_timeout: Duration,
    /// Most connections open at once (clamped below the descriptor limit).
    pub max_connections: usize,
    pub language: Language,
}

/// Descriptors kept free for files, devices and pipelines.
const RESERVED_FDS: u64 = 64;
/// Connections over the cap being answered with 503 at once (each holds its descriptor briefly).
const MAX_REFUSING: usize = 32;

/// The connection cap: the configured one, but below the soft descriptor limit (less the
/// descriptors kept for the daemon's own use and for answering refusals).
pub fn effective_max_connections(configured: usize) -> usize {
    let mut lim = libc_rlimit_nofile();
    if lim == 0 {
        lim = u64::MAX;
    }
    let fit = lim
        .saturating_sub(RESERVED_FDS + MAX_REFUSING as u64)
        .max(8);
    (configured as u64).min(fit).max(1) as usize
}

fn libc_rlimit_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0 {
        r.rlim_cur
    } else {
        0
    }
}

/// Serve `app` on `listener` until `stop` becomes true; then open connections are asked to
/// finish (streams and WebSockets end through the server's own shutdown signal).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    opts: ListenOptions,
    connections: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors or similar: do not spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = wait_true(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            // Answered with 503 while few refusals are under way; in a flood the rest are closed
            // at once, so refusing cannot itself use up descriptors.
            match refusing.clone().try_acquire_owned() {
                Ok(r) => {
                    tracing::warn!(%peer, "connection refused: too many open connections");
                    tokio::spawn(async move {
                        refuse(stream, opts.language).await;
                        drop(r);
                    });
                }
                Err(_) => drop(stream),
            }
            continue;
        };
        let app = app.clone();
        let opts = opts.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move {
                    let r = app.oneshot(req.map(axum::body::Body::new)).await;
                    Ok::<_, Infallible>(r.unwrap_or_else(|e| match e {}))
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(opts.header_timeout)
                .keep_alive(true);
            let conn = builder
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, "connection: {e}");
                    }
                }
                _ = wait_true(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

async fn wait_true(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Answer a connection over the cap with 503 and close it. The request is read briefly first,
/// so the client sees the answer instead of a reset.
async fn refuse(mut stream: TcpStream, lang: Language) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await;
    let e = ApiError::new(ErrorKind::Busy);
    let body = serde_json::to_vec(&error_object(&e, lang)).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nRetry-After: 1\r\n\
         Access-Control-Allow-Origin: *\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_below_descriptor_limit() {
        let lim = libc_rlimit_nofile();
        let cap = effective_max_connections(usize::MAX);
        assert!(
            cap as u64
                <= lim
                    .saturating_sub(RESERVED_FDS + MAX_REFUSING as u64)
                    .max(8)
        );
        assert_eq!(effective_max_connections(3), 3.min(cap));
    }
}
