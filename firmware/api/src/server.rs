//! The HTTP front: Host and Origin checks, CORS and Private Network Access, tolerant body reading
//! with a size limit, dispatch through the table, WebSocket upgrade on any path.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{Map, Value};
use tokio::sync::{broadcast, watch};

use crate::budget::{Budget, Reservation};
use crate::error::{ApiError, ErrorKind, Language, Text};
use crate::reply::{error_object, Reply};
use crate::request::{parse_body, ApiRequest, Transport};
use crate::table::{Handler, HandlerResult, Table};
use crate::url::parse_target;

pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
const DEFAULT_ALLOW_HEADERS: &str = "Content-Type, X-Requested-With, Authorization, Cache-Control, Range, DNT, If-Modified-Since, User-Agent, Accept, Origin";
const EXPOSE_HEADERS: &str = "Content-Length, Content-Range, Content-Type";

/// Protocol settings (from the daemon's `[server]` and `[device]` configuration).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    pub language: Language,
    /// Allowed `Origin` values; `*` allows any.
    pub allowed_origins: Vec<String>,
    /// Host names allowed in the `Host` header besides IP literals and localhost.
    pub allowed_hosts: Vec<String>,
    /// Longest pause while a request body arrives.
    pub body_timeout: Duration,
    /// Requests in flight per WebSocket connection.
    pub ws_in_flight: usize,
    /// A WebSocket client that takes no data for this long is disconnected.
    pub send_timeout: Duration,
    /// Memory and job admission for bodies and heavy work.
    pub budget: Arc<Budget>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            body_limit: 48 * 1024 * 1024,
            language: Language::Zh,
            allowed_origins: vec!["*".into()],
            allowed_hosts: Vec::new(),
            body_timeout: Duration::from_secs(30),
            ws_in_flight: 4,
            send_timeout: Duration::from_secs(30),
            budget: Budget::unlimited(),
        }
    }
}

/// Bodies up to this size are read without a memory reservation.
pub(crate) const FREE_BODY_BYTES: usize = 256 * 1024;
/// Body memory is reserved in steps of this size as the body arrives.
const BODY_STEP: usize = 4 * 1024 * 1024;

/// Topics a WebSocket client can subscribe to (`{"function":"subscribe","params":{"topics":[...]}}`).
/// Events go only to the connections subscribed to their topic. Later capabilities add theirs
/// here (pen points, scans, document detection, OCR progress).
pub const TOPICS: &[&str] = &["update_progress", "sign_pen"];

/// An event on the push bus: its topic and its JSON text.
pub(crate) type Event = (&'static str, Arc<str>);

/// The protocol server: options, the dispatch table, the push bus and the shutdown signal.
pub struct Server {
    opts: ServerOptions,
    table: Table,
    events: broadcast::Sender<Event>,
    shutdown_tx: watch::Sender<bool>,
}

impl Server {
    pub fn new(opts: ServerOptions, table: Table) -> Arc<Server> {
        let (events, _) = broadcast::channel(256);
        let (shutdown_tx, _) = watch::channel(false);
        Arc::new(Server {
            opts,
            table,
            events,
            shutdown_tx,
        })
    }

    pub fn language(&self) -> Language {
        self.opts.language
    }

    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    pub fn budget(&self) -> &Arc<Budget> {
        &self.opts.budget
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Publish an event (a JSON object) on `topic` (one of [`TOPICS`]): it goes to the WebSocket
    /// connections subscribed to the topic, with `"topic": topic` added. A client that cannot
    /// keep up skips events.
    pub fn publish(&self, topic: &str, event: &Value) {
        let Some(topic) = TOPICS.iter().find(|t| **t == topic) else {
            panic!("event topic {topic} is not in api::server::TOPICS");
        };
        let mut obj = match event {
            Value::Object(o) => o.clone(),
            other => {
                let mut m = Map::new();
                m.insert("data".into(), other.clone());
                m
            }
        };
        obj.insert("topic".into(), Value::String(topic.to_string()));
        let _ = self
            .events
            .send((topic, Arc::from(Value::Object(obj).to_string())));
    }

    pub(crate) fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Tell long-lived responses (streams, WebSockets) to end.
    pub fn shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
    }

    /// A receiver that changes when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Whether the `Host` header names this device (IP literal, localhost or a configured name).
    pub fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST) else {
            return true;
        };
        let Ok(host) = host.to_str() else {
            return false;
        };
        let name = strip_port(host.trim())
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if name.is_empty() {
            return false;
        }
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        self.opts
            .allowed_hosts
            .iter()
            .any(|h| h.trim().trim_end_matches('.').eq_ignore_ascii_case(&name))
    }

    fn origin_allowed(&self, origin: Option<&str>) -> bool {
        if self.opts.allowed_origins.iter().any(|o| o.trim() == "*") {
            return true;
        }
        let Some(origin) = origin else {
            return true;
        };
        let o = origin.trim().trim_end_matches('/');
        self.opts
            .allowed_origins
            .iter()
            .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(o))
    }
}

/// `host:port`, `[v6]:port`, `host` -> the name or address.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The axum router: every path and method goes to one entry point.
pub fn router(server: Arc<Server>) -> Router {
    Router::new().fallback(entry).with_state(server)
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, obj: &Map<String, Value>) -> Response {
    let body = serde_json::to_vec(obj).unwrap_or_else(|_| b"{\"code\":\"13\"}".to_vec());
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error_response(server: &Server, status: StatusCode, e: &ApiError) -> Response {
    json_response(status, &error_object(e, server.language()))
}

/// Add the CORS headers every reply carries.
/// An origin that is not allowed gets no `Access-Control-Allow-Origin`, so its page cannot read
/// the reply.
fn add_cors(server: &Server, headers_in: &HeaderMap, resp: &mut Response, preflight: bool) {
    let h = resp.headers_mut();
    let origin = headers_in.get(header::ORIGIN);
    match origin {
        None => {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        Some(o) if server.origin_allowed(o.to_str().ok()) => {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
        }
        Some(_) => {}
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    let allow_headers = headers_in
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_ALLOW_HEADERS));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    let pna = headers_in
        .get("access-control-request-private-network")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    if pna {
        h.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
    }
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
}

/// Run a handler on its own task, so a panic becomes an internal error and the daemon keeps serving,
/// and a client that goes away does not cut an operation (e.g. a file write) short.
pub(crate) async fn run_handler(h: Handler, req: ApiRequest) -> HandlerResult {
    let endpoint = req.endpoint.to_string();
    match tokio::spawn(h(req)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(%endpoint, "handler failed: {e}");
            Err(ApiError::internal(format!("{endpoint}: handler failed")))
        }
    }
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn entry(State(server): State<Arc<Server>>, req: Request) -> Response {
    let headers_in = req.headers().clone();
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = respond(&server, req).await;
    add_cors(&server, &headers_in, &mut resp, preflight);
    resp
}

async fn respond(server: &Arc<Server>, req: Request) -> Response {
    let lang = server.language();
    if !server.host_allowed(req.headers()) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string();
        tracing::warn!(%host, "request refused: Host not allowed");
        let e = ApiError::with(
            ErrorKind::Refused,
            Text::new(
                format!("不允许的主机名 {host}"),
                format!("Host {host} is not allowed"),
            ),
        );
        return error_response(server, StatusCode::FORBIDDEN, &e);
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    if !server.origin_allowed(origin.as_deref()) {
        let o = origin.unwrap_or_default();
        tracing::warn!(origin = %o, "request refused: Origin not allowed");
        let e = ApiError::with(
            ErrorKind::Refused,
            Text::new(
                format!("不允许的来源 {o}"),
                format!("Origin {o} is not allowed"),
            ),
        );
        return error_response(server, StatusCode::FORBIDDEN, &e);
    }
    if req.method() == Method::OPTIONS {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        return r;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);

    if is_websocket_upgrade(req.headers()) {
        let (mut parts, _body) = req.into_parts();
        return match WebSocketUpgrade::from_request_parts(&mut parts, server).await {
            Ok(ws) => {
                let server = server.clone();
                let limit = server.opts.body_limit;
                ws.max_message_size(limit)
                    .max_frame_size(limit)
                    .on_upgrade(move |socket| crate::ws::serve(server, socket, peer))
            }
            Err(rejection) => rejection.into_response(),
        };
    }

    let method = req.method().clone();
    if !matches!(method, Method::GET | Method::POST | Method::HEAD) {
        let e = ApiError::with(
            ErrorKind::InvalidParam,
            Text::new(
                format!("不支持的请求方法 {method}，请使用 GET 或 POST"),
                format!("method {method} is not supported; use GET or POST"),
            ),
        );
        return error_response(server, StatusCode::METHOD_NOT_ALLOWED, &e);
    }

    let uri_path = req.uri().path();
    if uri_path != "/" {
        if let Some(h) = server.table.page(uri_path) {
            return serve_plain(server, h, String::new(), method, peer).await;
        }
    }
    if let Some((h, rest)) = server.table.prefix(uri_path) {
        return serve_plain(server, h, rest, method, peer).await;
    }

    let target = parse_target(req.uri().path(), req.uri().query());
    if target.endpoint.is_none() && target.unknown.is_none() && uri_path == "/" {
        if let Some(h) = server.table.page("/") {
            return serve_plain(server, h, String::new(), method, peer).await;
        }
    }
    let Some(endpoint) = target.endpoint.clone() else {
        let what = target
            .unknown
            .clone()
            .unwrap_or_else(|| req.uri().path().to_string());
        let e = ApiError::with(
            ErrorKind::NotFound,
            Text::new(
                format!("未知的接口 {what}"),
                format!("unknown endpoint {what}"),
            ),
        );
        return error_response(server, StatusCode::NOT_FOUND, &e);
    };
    let Some(handler) = server.table.http(&endpoint) else {
        let e = ApiError::with(
            ErrorKind::NotFound,
            Text::new(
                format!("未知的接口 {endpoint}"),
                format!("unknown endpoint {endpoint}"),
            ),
        );
        return error_response(server, StatusCode::NOT_FOUND, &e);
    };

    // The body: JSON text whatever the Content-Type, within the size limit.
    let limit = server.opts.body_limit;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        tracing::warn!(%endpoint, ?declared, "request body too large");
        return close_connection(error_response(
            server,
            StatusCode::OK,
            &body_too_large(limit),
        ));
    }
    // Held until the reply is made: the body and its parsed tree live that long.
    let (bytes, _body_memory) = match read_body(server, req.into_body(), declared).await {
        Ok(b) => b,
        Err((e, status)) => {
            tracing::debug!(%endpoint, "body not read: {e}");
            return close_connection(error_response(server, status, &e));
        }
    };
    let body = match parse_body(&bytes) {
        Ok(Some(b)) => Some(b),
        Ok(None) => target.json.clone(),
        Err(e) => {
            tracing::debug!(%endpoint, "{e}");
            return json_response(StatusCode::OK, &error_object(&e, lang));
        }
    };
    drop(bytes);
    let (params, body) = ApiRequest::split_body(body, target.params);
    let request = ApiRequest {
        params,
        body,
        endpoint: endpoint.clone(),
        transport: Transport::Http { method },
        peer,
    };
    match run_handler(handler, request).await {
        Ok(Reply::Json(j)) => {
            let obj = j.render(lang);
            tracing::debug!(%endpoint, code = %j.code, "reply");
            json_response(StatusCode::OK, &obj)
        }
        Ok(Reply::Http(r)) => r,
        Err(e) => {
            tracing::debug!(%endpoint, code = e.code(), "{e}");
            json_response(StatusCode::OK, &error_object(&e, lang))
        }
    }
}

/// A plain path (a page, a download): the handler gets the rest of the path, percent-decoded, as
/// the parameter `path`; its errors become HTTP statuses.
async fn serve_plain(
    server: &Server,
    h: Handler,
    rest: String,
    method: Method,
    peer: Option<SocketAddr>,
) -> Response {
    let path = percent_encoding::percent_decode_str(&rest)
        .decode_utf8_lossy()
        .into_owned();
    let mut params = serde_json::Map::new();
    params.insert("path".into(), Value::String(path));
    let request = ApiRequest {
        endpoint: crate::request::EndpointKey::new("prefix", ""),
        params,
        body: None,
        transport: Transport::Http { method },
        peer,
    };
    match run_handler(h, request).await {
        Ok(Reply::Http(r)) => r,
        Ok(Reply::Json(j)) => json_response(StatusCode::OK, &j.render(server.language())),
        Err(e) => {
            let status = match e.kind {
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::PathRefused => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            error_response(server, status, &e)
        }
    }
}

fn body_too_large(limit: usize) -> ApiError {
    ApiError::too_large(Text::new(
        format!("请求数据超过 {limit} 字节的限制"),
        format!("the request body exceeds the limit of {limit} bytes"),
    ))
}

/// Ask hyper to close the connection after this reply (the rest of a body is not read).
fn close_connection(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Read a body within the size limit, reserving its memory (raw bytes and the parsed tree) in
/// steps as it arrives, and giving up when it pauses longer than the body time-out.
async fn read_body(
    server: &Server,
    body: Body,
    declared: Option<u64>,
) -> Result<(bytes::Bytes, Reservation), (ApiError, StatusCode)> {
    let limit = server.opts.body_limit;
    let budget = &server.opts.budget;
    let what = || Text::new("请求数据", "the request body");
    let mut held = Reservation::default();
    let reserve_upto = |held: &Reservation, len: usize| -> Option<u64> {
        // Twice the body: the bytes and what is parsed from them.
        let need = (len.div_ceil(BODY_STEP) * BODY_STEP) as u64 * 2;
        (len > FREE_BODY_BYTES && need > held.bytes()).then(|| need - held.bytes())
    };
    if let Some(n) = declared {
        if let Some(more) = reserve_upto(&held, n as usize) {
            held.merge(
                budget
                    .memory(more, what())
                    .await
                    .map_err(|e| (e, StatusCode::OK))?,
            );
        }
    }
    let mut buf = bytes::BytesMut::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    let mut body = body.into_data_stream();
    use futures_util::StreamExt;
    loop {
        let next = match tokio::time::timeout(server.opts.body_timeout, body.next()).await {
            Ok(n) => n,
            Err(_) => {
                let secs = server.opts.body_timeout.as_secs();
                return Err((
                    ApiError::parse(format!(
                        "the request body stopped arriving ({secs} s without data)"
                    )),
                    StatusCode::REQUEST_TIMEOUT,
                ));
            }
        };
        match next {
            None => break,
            Some(Ok(chunk)) => {
                if buf.len() + chunk.len() > limit {
                    return Err((body_too_large(limit), StatusCode::OK));
                }
                if let Some(more) = reserve_upto(&held, buf.len() + chunk.len()) {
                    held.merge(
                        budget
                            .memory(more, what())
                            .await
                            .map_err(|e| (e, StatusCode::OK))?,
                    );
                }
                buf.extend_from_slice(&chunk);
            }
            Some(Err(e)) => {
                return Err((
                    ApiError::parse(format!("reading the body failed: {e}")),
                    StatusCode::BAD_REQUEST,
                ))
            }
        }
    }
    Ok((buf.freeze(), held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_stripped() {
        assert_eq!(strip_port("127.0.0.1:38088"), "127.0.0.1");
        assert_eq!(strip_port("[::1]:38088"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("device.local"), "device.local");
    }

    #[test]
    fn hosts() {
        let s = Server::new(
            ServerOptions {
                allowed_hosts: vec!["kiosk.lan".into()],
                ..Default::default()
            },
            Table::new(),
        );
        let ok = |h: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
            s.host_allowed(&m)
        };
        assert!(ok("127.0.0.1:1"));
        assert!(ok("[::1]:1"));
        assert!(ok("localhost"));
        assert!(ok("Kiosk.LAN:38088"));
        assert!(!ok("evil.example.com"));
        assert!(!ok("127.0.0.1.evil.example"));
    }
}
