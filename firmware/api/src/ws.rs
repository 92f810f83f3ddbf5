//! WebSocket connections: requests dispatched through the same table as HTTP, replies echoing
//! `function`, and server pushes (broadcast events and per-connection streams).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio::sync::{broadcast, mpsc, OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ErrorKind, Text};
use crate::reply::{error_object, Reply};
use crate::request::{unwrap_double_encoded, ApiRequest, Transport};
use crate::server::{Server, TOPICS};

/// Outgoing messages queued per connection before pushes are dropped.
const QUEUE: usize = 64;

/// An outgoing message; a reply carries its request's in-flight permit until it is written.
type Outgoing = (Utf8Bytes, Option<OwnedSemaphorePermit>);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A handle on one WebSocket connection, for handlers that push to it later
/// (the legacy `video_stream`).
#[derive(Clone)]
pub struct WsPeer {
    id: u64,
    tx: mpsc::Sender<Outgoing>,
}

impl WsPeer {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queue a JSON object for this client. Returns false when the client is gone; a full queue
    /// drops the message (a slow client skips pushes) and returns true.
    pub fn push(&self, v: &Value) -> bool {
        match self.tx.try_send((Utf8Bytes::from(v.to_string()), None)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queue a JSON object that must not be dropped (an end-of-session message), waiting up to
    /// `timeout` for room; from a thread outside the async runtime. False when the client is
    /// gone or took nothing for that long.
    pub fn push_wait(&self, v: &Value, timeout: Duration) -> bool {
        let mut msg = (Utf8Bytes::from(v.to_string()), None);
        let end = std::time::Instant::now() + timeout;
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(m)) => {
                    if std::time::Instant::now() >= end {
                        return false;
                    }
                    msg = m;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    /// Whether the queue has room (so a producer can skip encoding work for a slow client).
    pub fn has_room(&self) -> bool {
        self.tx.capacity() > 0
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves when the connection is gone.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

/// Serve one WebSocket connection until it closes or the server shuts down.
///
/// Back-pressure: at most `ws_in_flight` requests of a connection run at once, and a request's
/// permit is held until its reply has been written to the socket, so the daemon stops reading a
/// connection whose client does not read its replies. A client that takes nothing for
/// `send_timeout` is disconnected. Pushes to a client with a full queue are dropped.
pub(crate) async fn serve(server: Arc<Server>, socket: WebSocket, peer: Option<SocketAddr>) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Outgoing>(QUEUE);
    let me = WsPeer {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        tx,
    };
    let mut events = server.events();
    // The topics this connection subscribed to (shared with the reader, which handles
    // subscribe / unsubscribe).
    let topics = Arc::new(std::sync::Mutex::new(std::collections::HashSet::<
        &'static str,
    >::new()));
    let writer_topics = topics.clone();
    let mut shutdown = server.shutdown_signal();
    let send_timeout = server.options().send_timeout;
    let in_flight = Arc::new(Semaphore::new(server.options().ws_in_flight.max(1)));
    tracing::debug!(id = me.id, ?peer, "websocket open");

    let writer = tokio::spawn(async move {
        loop {
            let text = tokio::select! {
                m = rx.recv() => match m {
                    // The permit (if any) is released once the message is written.
                    Some((text, _permit)) => text,
                    None => break,
                },
                e = events.recv() => match e {
                    Ok((topic, text)) => {
                        let wanted = writer_topics
                            .lock()
                            .map(|t| t.contains(topic))
                            .unwrap_or(false);
                        if !wanted {
                            continue;
                        }
                        Utf8Bytes::from(text.as_ref())
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(n, "websocket client skipped events");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => continue,
                },
            };
            match tokio::time::timeout(send_timeout, sink.send(Message::Text(text))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::info!(?peer, "websocket client takes no data; disconnected");
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(None))).await;
    });

    loop {
        let permit = tokio::select! {
            p = in_flight.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
            _ = me.closed() => break,
        };
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = shutdown.changed() => break,
            _ = me.closed() => break,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(b))) => match std::str::from_utf8(&b) {
                Ok(t) => Utf8Bytes::from(t),
                Err(_) => Utf8Bytes::from(String::from_utf8_lossy(&b).into_owned()),
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
        };
        if is_client_ack(text.as_str()) {
            // A client's answer to a push (vendor 8.6.3): taken, never answered.
            tracing::debug!(id = me.id, "websocket client acknowledged a push");
            drop(permit);
            continue;
        }
        if let Some(reply) = subscription(&topics, text.as_str(), server.language()) {
            let out = Utf8Bytes::from(Value::Object(reply).to_string());
            let _ = me.tx.send((out, Some(permit))).await;
            continue;
        }
        let server = server.clone();
        let me2 = me.clone();
        tokio::spawn(async move {
            // A large message is counted against the work memory (the message and its tree)
            // before it is parsed; it was read whole already (the frame limit bounds that).
            let _memory = if text.len() > crate::server::FREE_BODY_BYTES {
                match server
                    .budget()
                    .memory(
                        text.len() as u64 * 2,
                        Text::new("WebSocket 消息", "the WebSocket message"),
                    )
                    .await
                {
                    Ok(r) => Some(r),
                    Err(e) => {
                        drop(text);
                        let out = with_function(error_object(&e, server.language()), "");
                        let out = Utf8Bytes::from(Value::Object(out).to_string());
                        let _ = me2.tx.send((out, Some(permit))).await;
                        return;
                    }
                }
            } else {
                None
            };
            let reply = handle_text(&server, &me2, peer, text.as_str()).await;
            drop(text);
            let out = Utf8Bytes::from(Value::Object(reply).to_string());
            let _ = me2.tx.send((out, Some(permit))).await;
        });
    }
    drop(me);
    writer.abort();
    tracing::debug!(?peer, "websocket closed");
}

/// Pushes a client may answer (vendor 8.6.3: `{"function":"sign_pdf_info","code":"0"}`).
pub const CLIENT_ACKS: &[&str] = &["sign_pdf_info"];

/// Whether a message is a client's answer to a push: one of [`CLIENT_ACKS`] carrying a `code`.
fn is_client_ack(text: &str) -> bool {
    if text.len() > 64 * 1024 || !CLIENT_ACKS.iter().any(|f| text.contains(f)) {
        return false;
    }
    let Ok(Some(Value::Object(o))) = crate::request::parse_body(text.as_bytes()) else {
        return false;
    };
    let function = o
        .get("function")
        .and_then(crate::request::scalar_string)
        .unwrap_or_default();
    CLIENT_ACKS.contains(&function.as_str()) && o.contains_key("code")
}

/// `subscribe` / `unsubscribe` messages change the connection's topics; the reply lists them.
/// Other messages: `None`.
fn subscription(
    topics: &std::sync::Mutex<std::collections::HashSet<&'static str>>,
    text: &str,
    lang: crate::error::Language,
) -> Option<Map<String, Value>> {
    // Cheap test first: most messages are calls.
    if !text.contains("subscribe") || text.len() > 64 * 1024 {
        return None;
    }
    let obj = match crate::request::parse_body(text.as_bytes()) {
        Ok(Some(Value::Object(o))) => o,
        _ => return None,
    };
    let function = obj
        .get("function")
        .and_then(crate::request::scalar_string)
        .unwrap_or_default();
    let subscribe = match function.as_str() {
        "subscribe" => true,
        "unsubscribe" => false,
        _ => return None,
    };
    let params = match obj.get("params").cloned().map(unwrap_double_encoded) {
        Some(Value::Object(p)) => p,
        _ => obj.clone(),
    };
    let named: Vec<String> = match params.get("topics").or_else(|| params.get("topic")) {
        Some(Value::Array(a)) => a.iter().filter_map(crate::request::scalar_string).collect(),
        Some(v) => crate::request::scalar_string(v).into_iter().collect(),
        None => Vec::new(),
    };
    let mut set = topics.lock().unwrap_or_else(|e| e.into_inner());
    let unknown: Vec<&String> = named
        .iter()
        .filter(|n| !TOPICS.contains(&n.as_str()))
        .collect();
    let mut out = if !unknown.is_empty() {
        let list = unknown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let e = ApiError::invalid(
            "topics",
            Text::new(
                format!("未知的主题 {list}（可用：{}）", TOPICS.join("、")),
                format!("unknown topic {list} (topics: {})", TOPICS.join(", ")),
            ),
        );
        error_object(&e, lang)
    } else {
        if subscribe && named.is_empty() {
            let e = ApiError::missing("topics");
            return Some(with_function(error_object(&e, lang), &function));
        }
        for t in TOPICS {
            if named.iter().any(|n| n == t) {
                if subscribe {
                    set.insert(t);
                } else {
                    set.remove(t);
                }
            }
        }
        if !subscribe && named.is_empty() {
            set.clear();
        }
        let mut ok = Map::new();
        ok.insert("code".into(), Value::String("0".into()));
        ok.insert("message".into(), Value::String(String::new()));
        ok
    };
    let mut now: Vec<&str> = set.iter().copied().collect();
    now.sort();
    out.insert("topics".into(), serde_json::json!(now));
    Some(with_function(out, &function))
}

/// Answer one WebSocket text message.
async fn handle_text(
    server: &Server,
    me: &WsPeer,
    peer: Option<SocketAddr>,
    text: &str,
) -> Map<String, Value> {
    let lang = server.language();
    let parsed = crate::request::parse_body(text.as_bytes()).and_then(|v| match v {
        Some(Value::Object(o)) => Ok(o),
        _ => Err(ApiError::parse(
            "a WebSocket request is a JSON object with \"function\"",
        )),
    });
    let mut obj = match parsed {
        Ok(o) => o,
        Err(e) => return with_function(error_object(&e, lang), ""),
    };
    let function = match obj
        .remove("function")
        .as_ref()
        .and_then(crate::request::scalar_string)
    {
        Some(f) if !f.is_empty() => f,
        _ => {
            let e = ApiError::parse("missing \"function\"");
            return with_function(error_object(&e, lang), "");
        }
    };
    let Some((endpoint, handler)) = server.table().ws(&function) else {
        let e = ApiError::with(
            ErrorKind::NotFound,
            Text::new(
                format!("未知的函数 {function}"),
                format!("unknown function {function}"),
            ),
        );
        return with_function(error_object(&e, lang), &function);
    };
    // Parameters: `params` (object, array or double-encoded), plus top-level fields.
    let params = obj.remove("params").map(unwrap_double_encoded);
    let (params, body) = match params {
        Some(Value::Object(mut p)) => {
            for (k, v) in obj {
                p.entry(k).or_insert(v);
            }
            (p, None)
        }
        Some(Value::Array(a)) => (obj, Some(Value::Array(a))),
        Some(Value::Null) | None => (obj, None),
        Some(other) => {
            let kind = match other {
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            };
            let e = ApiError::parse(format!("\"params\" must be an object, got {kind}"));
            return with_function(error_object(&e, lang), &function);
        }
    };
    let req = ApiRequest {
        endpoint: endpoint.clone(),
        params,
        body,
        transport: Transport::WebSocket {
            peer: me.clone(),
            function: function.clone(),
        },
        peer,
    };
    let out = match crate::server::run_handler(handler, req).await {
        Ok(Reply::Json(j)) => j.render(lang),
        Ok(Reply::Http(_)) => {
            let e = ApiError::not_available(Text::new(
                "该接口只能通过 HTTP 使用",
                "this endpoint is available over HTTP only",
            ));
            error_object(&e, lang)
        }
        Err(e) => error_object(&e, lang),
    };
    with_function(out, &function)
}

fn with_function(m: Map<String, Value>, function: &str) -> Map<String, Value> {
    let mut out = Map::with_capacity(m.len() + 1);
    out.insert("function".into(), Value::String(function.to_string()));
    for (k, v) in m {
        if k != "function" {
            out.insert(k, v);
        }
    }
    out
}
