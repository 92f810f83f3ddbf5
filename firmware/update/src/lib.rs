//! Over-the-air updates: a signed RAUC bundle is uploaded over HTTP, written to the data
//! partition and handed to the RAUC service over D-Bus (through `busctl`); progress is followed
//! through RAUC's `Operation` / `Progress` / `LastError` properties, answered by
//! `/update=status` and pushed to WebSocket clients as `update_progress` events.
//!
//! Not part of the vendor API and not open like it: every call needs the device admin token from
//! `[update] admin_token`, a request carrying a browser `Origin` that `[update] allowed_origins`
//! does not list is refused, and the replies carry no CORS headers. RAUC itself checks the
//! bundle's signature against the device keyring and its compatible string.
//!
//! `POST /update=install[?reboot=1]`  body: the bundle (raw bytes)
//! `GET|POST /update=status`
//! `POST /update=reboot`              asks systemd (cameraservice-reboot.path) to restart the device

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::{ApiError, ErrorKind, Server, Text};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use serde::Deserialize;

/// Over-the-air updates (RAUC bundles uploaded to `/update=install`).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateConfig {
    /// The device admin token the update calls must carry (`X-Admin-Token` or
    /// `Authorization: Bearer`). Empty: the update API is off. At least 16 characters.
    pub admin_token: String,
    /// A file holding the admin token (first line), read at start when `admin_token` is empty:
    /// a token provisioned per device on the data partition rather than in the shared image.
    pub admin_token_file: PathBuf,
    /// Browser origins allowed to call the update API. A request that carries any other `Origin`
    /// is refused; the default (none) admits only clients that send no `Origin` (tools, scripts).
    pub allowed_origins: Vec<String>,
    /// Largest bundle accepted, in bytes.
    pub max_bundle_bytes: u64,
    /// Where an upload is written before RAUC installs it; empty = `<state_dir>/update`.
    pub spool_dir: PathBuf,
    /// The `busctl` program used to talk to RAUC over D-Bus.
    pub busctl: String,
    /// An upload that sends nothing for this long is abandoned (a pulled cable sends no FIN).
    pub receive_timeout_seconds: u64,
}

/// Never prints the token.
impl std::fmt::Debug for UpdateConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateConfig")
            .field(
                "admin_token",
                &if self.admin_token.is_empty() {
                    ""
                } else {
                    "<set>"
                },
            )
            .field("admin_token_file", &self.admin_token_file)
            .field("allowed_origins", &self.allowed_origins)
            .field("max_bundle_bytes", &self.max_bundle_bytes)
            .field("spool_dir", &self.spool_dir)
            .field("busctl", &self.busctl)
            .field("receive_timeout_seconds", &self.receive_timeout_seconds)
            .finish()
    }
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            admin_token: String::new(),
            admin_token_file: PathBuf::new(),
            allowed_origins: Vec::new(),
            max_bundle_bytes: 1024 * 1024 * 1024,
            spool_dir: PathBuf::new(),
            busctl: "busctl".into(),
            receive_timeout_seconds: 60,
        }
    }
}

const RAUC: [&str; 3] = ["de.pengutronix.rauc", "/", "de.pengutronix.rauc.Installer"];
const REBOOT_FLAG: &str = "reboot-requested";
const BUNDLE: &str = "bundle.raucb";
/// With `reboot=1`, how long `done` stays visible to pollers before the restart is asked for.
const DONE_BEFORE_REBOOT: Duration = Duration::from_secs(5);
/// An installation still running after this is reported failed (RAUC may be hung).
const INSTALL_DEADLINE: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, PartialEq)]
struct Status {
    /// idle, receiving, installing, done, failed
    state: &'static str,
    progress: i64,
    operation: String,
    error: String,
    bytes: u64,
    reboot: bool,
}

pub struct Ota {
    cfg: UpdateConfig,
    spool: PathBuf,
    server: Arc<Server>,
    status: Mutex<Status>,
    /// Token checks one at a time, with the recent failures (see [`Ota::admit`]).
    token_gate: tokio::sync::Mutex<TokenFailures>,
}

/// Recent wrong tokens, for throttling guesses across parallel requests.
#[derive(Default)]
struct TokenFailures {
    count: u32,
    last: Option<std::time::Instant>,
}

/// Failures are forgotten after this long without one.
const TOKEN_FAILURE_MEMORY: Duration = Duration::from_secs(300);

/// The pause after a wrong token: 0.5 s, doubled after every 10 failures in a row, at most 8 s.
fn token_delay(failures: u32) -> Duration {
    Duration::from_millis(500) * (1u32 << (failures.saturating_sub(1) / 10).min(4))
}

impl Ota {
    pub fn new(cfg: &UpdateConfig, state_dir: &Path, server: Arc<Server>) -> Arc<Ota> {
        let spool = if cfg.spool_dir.as_os_str().is_empty() {
            state_dir.join("update")
        } else {
            cfg.spool_dir.clone()
        };
        let mut cfg = cfg.clone();
        let mut token = cfg.admin_token.trim().to_string();
        if token.is_empty() && !cfg.admin_token_file.as_os_str().is_empty() {
            match std::fs::read_to_string(&cfg.admin_token_file) {
                Ok(t) => token = t.lines().next().unwrap_or("").trim().to_string(),
                Err(e) => tracing::warn!(
                    file = %cfg.admin_token_file.display(),
                    "no admin token: {e}; update API off"
                ),
            }
        }
        if !token.is_empty() && token.chars().count() < 16 {
            tracing::error!("update.admin_token is shorter than 16 characters: update API off");
            token.clear();
        }
        cfg.admin_token = token;
        // An upload that a power cut interrupted is useless; a finished install needs no bundle.
        let _ = std::fs::remove_file(spool.join(BUNDLE));
        let _ = std::fs::remove_file(spool.join(format!("{BUNDLE}.part")));
        Arc::new(Ota {
            cfg,
            spool,
            server,
            status: Mutex::new(Status {
                state: "idle",
                progress: 0,
                operation: String::new(),
                error: String::new(),
                bytes: 0,
                reboot: false,
            }),
            token_gate: tokio::sync::Mutex::new(TokenFailures::default()),
        })
    }

    /// The update's state and progress (idle, receiving, installing, done, failed; 0-100), for
    /// the diagnostics page: no token needed to see that an update is running.
    pub fn brief(&self) -> (&'static str, i64) {
        let s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        (s.state, s.progress)
    }

    pub fn router(self: &Arc<Ota>) -> Router {
        Router::new()
            .route("/update=install", post(install))
            .route("/update=status", get(status).post(status))
            .route("/update=reboot", post(reboot))
            .with_state(self.clone())
    }

    fn err(&self, status: StatusCode, kind: ErrorKind, zh: String, en: String) -> Response {
        let e = ApiError::with(kind, Text::new(zh, en));
        api::server::json_response(
            status,
            &api::reply::error_object(&e, self.server.language()),
        )
    }

    /// Host, Origin and token; `Err` is the reply.
    async fn admit(&self, headers: &HeaderMap) -> Result<(), Response> {
        if !self.server.host_allowed(headers) {
            return Err(self.err(
                StatusCode::FORBIDDEN,
                ErrorKind::Refused,
                "不允许的主机名".into(),
                "Host is not allowed".into(),
            ));
        }
        if let Some(o) = headers.get(header::ORIGIN) {
            let o = o.to_str().unwrap_or("").trim().trim_end_matches('/');
            let ok = self
                .cfg
                .allowed_origins
                .iter()
                .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(o));
            if !ok {
                tracing::warn!(origin = %o, "update call refused: origin not allowed");
                return Err(self.err(
                    StatusCode::FORBIDDEN,
                    ErrorKind::Refused,
                    format!("来源 {o} 不允许调用升级接口"),
                    format!("origin {o} may not call the update API"),
                ));
            }
        }
        if self.cfg.admin_token.is_empty() {
            return Err(self.err(
                StatusCode::OK,
                ErrorKind::NotAvailable,
                "升级接口未启用（未配置 update.admin_token）".into(),
                "the update API is off (no update.admin_token configured)".into(),
            ));
        }
        let given = headers
            .get("x-admin-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .or_else(|| {
                headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().strip_prefix("Bearer "))
                    .map(str::trim)
            })
            .unwrap_or("");
        // Token checks are serialised and a wrong one holds the gate for its pause, so parallel
        // requests cannot guess faster than one at a time; many failures lengthen the pause.
        let mut gate = self.token_gate.lock().await;
        if gate
            .last
            .is_some_and(|t| t.elapsed() > TOKEN_FAILURE_MEMORY)
        {
            gate.count = 0;
        }
        if !constant_time_eq(given.as_bytes(), self.cfg.admin_token.as_bytes()) {
            gate.count = gate.count.saturating_add(1);
            gate.last = Some(std::time::Instant::now());
            let delay = token_delay(gate.count);
            tracing::warn!(
                failures = gate.count,
                ?delay,
                "update call refused: wrong or missing admin token"
            );
            tokio::time::sleep(delay).await;
            drop(gate);
            return Err(self.err(
                StatusCode::FORBIDDEN,
                ErrorKind::Refused,
                "管理令牌错误或缺失".into(),
                "wrong or missing admin token".into(),
            ));
        }
        gate.count = 0;
        Ok(())
    }

    fn set(&self, f: impl FnOnce(&mut Status)) {
        let snapshot = {
            let mut s = self.status.lock().unwrap();
            let before = s.clone();
            f(&mut s);
            if *s == before {
                return;
            }
            s.clone()
        };
        self.publish(&snapshot);
    }

    /// Pushes a status to the WebSocket clients.
    fn publish(&self, s: &Status) {
        let mut ev = status_json(s);
        ev.insert("event".into(), json!("update_progress"));
        self.server.publish("update_progress", &Value::Object(ev));
    }

    async fn busctl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.cfg.busctl)
            .arg("--system")
            .args(args)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(30), out)
            .await
            .map_err(|_| "busctl did not answer within 30 s".to_string())?
            .map_err(|e| format!("{}: {e}", self.cfg.busctl))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let e = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(if e.is_empty() {
                format!("busctl exited with {}", out.status)
            } else {
                e
            })
        }
    }

    /// RAUC's properties, in the order asked; each a JSON value.
    async fn properties(&self, names: &[&str]) -> Result<Vec<Value>, String> {
        let mut args = vec!["--json=short", "get-property"];
        args.extend_from_slice(&RAUC);
        args.extend_from_slice(names);
        let out = self.busctl(&args).await?;
        let vals: Vec<Value> = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .map(|v| v.get("data").cloned().unwrap_or(Value::Null))
                    .map_err(|e| format!("busctl output: {e}"))
            })
            .collect::<Result<_, _>>()?;
        if vals.len() != names.len() {
            return Err(format!(
                "busctl gave {} of {} properties",
                vals.len(),
                names.len()
            ));
        }
        Ok(vals)
    }

    async fn run_install(self: Arc<Ota>, bundle: PathBuf) {
        let path = bundle.to_string_lossy().into_owned();
        let mut args = vec!["call"];
        args.extend_from_slice(&RAUC);
        args.extend_from_slice(&["InstallBundle", "sa{sv}", &path, "0"]);
        let started = self.busctl(&args).await;
        if let Err(e) = started {
            self.finish(&bundle, Err(format!("RAUC refused to start: {e}")))
                .await;
            return;
        }
        let t0 = std::time::Instant::now();
        let mut seen_busy = false;
        let mut misses = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if t0.elapsed() > INSTALL_DEADLINE {
                self.finish(
                    &bundle,
                    Err(format!(
                        "RAUC did not finish within {} minutes",
                        INSTALL_DEADLINE.as_secs() / 60
                    )),
                )
                .await;
                return;
            }
            let props = match self
                .properties(&["Operation", "Progress", "LastError"])
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    misses += 1;
                    if misses >= 20 {
                        self.finish(&bundle, Err(format!("lost RAUC: {e}"))).await;
                        return;
                    }
                    continue;
                }
            };
            misses = 0;
            let op = props[0].as_str().unwrap_or("").to_string();
            let (pct, msg) = match &props[1] {
                Value::Array(a) if a.len() >= 2 => (
                    a[0].as_i64().unwrap_or(0),
                    a[1].as_str().unwrap_or("").to_string(),
                ),
                _ => (0, String::new()),
            };
            let last_error = props[2].as_str().unwrap_or("").to_string();
            if op != "idle" {
                seen_busy = true;
            }
            self.set(|s| {
                s.progress = pct;
                s.operation = msg.clone();
            });
            let finished = op == "idle" && (seen_busy || t0.elapsed() > Duration::from_secs(5));
            if finished {
                // RAUC's last step reads "Installing done." or "Installing failed."
                // (RAUC clears LastError when an installation starts)
                let ok = last_error.is_empty() && msg.to_ascii_lowercase().contains("done");
                let r = if ok {
                    Ok(())
                } else if !last_error.is_empty() {
                    Err(last_error)
                } else {
                    Err(format!("installation failed: {msg}"))
                };
                self.finish(&bundle, r).await;
                return;
            }
        }
    }

    async fn finish(&self, bundle: &Path, r: Result<(), String>) {
        let _ = tokio::fs::remove_file(bundle).await;
        match r {
            Ok(()) => {
                tracing::info!("update installed; the next boot starts the new system");
                let reboot = self.status.lock().unwrap().reboot;
                self.set(|s| {
                    s.state = "done";
                    s.progress = 100;
                    s.error.clear();
                });
                if reboot {
                    // A page polling update=status sees "done" before the device goes away.
                    tokio::time::sleep(DONE_BEFORE_REBOOT).await;
                    if self.status.lock().unwrap().state != "done" {
                        tracing::warn!("another upload started meanwhile; its own reboot setting decides the restart");
                    } else if let Err(e) = self.request_reboot().await {
                        tracing::error!("reboot request: {e}");
                    }
                }
            }
            Err(e) => {
                tracing::error!("update failed: {e}");
                self.set(|s| {
                    s.state = "failed";
                    s.error = e;
                });
            }
        }
    }

    async fn request_reboot(&self) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.spool).await?;
        tokio::fs::write(self.spool.join(REBOOT_FLAG), b"update\n").await
    }
}

/// Free bytes on the file system of `dir` (or of its nearest existing parent).
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let mut p = dir;
    while !p.exists() {
        p = p.parent()?;
    }
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and st a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn status_json(s: &Status) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("state".into(), json!(s.state));
    m.insert("progress".into(), json!(s.progress));
    m.insert("operation".into(), json!(s.operation));
    m.insert("error".into(), json!(s.error));
    m.insert("bytes".into(), json!(s.bytes));
    m
}

fn ok_reply(mut m: Map<String, Value>) -> Response {
    let mut out = Map::new();
    out.insert("code".into(), json!("0"));
    out.insert("message".into(), json!(""));
    out.append(&mut m);
    api::server::json_response(StatusCode::OK, &out)
}

async fn status(State(ota): State<Arc<Ota>>, headers: HeaderMap) -> Response {
    if let Err(r) = ota.admit(&headers).await {
        return r;
    }
    let s = ota.status.lock().unwrap().clone();
    let mut m = status_json(&s);
    match ota
        .properties(&["BootSlot", "Compatible", "Operation"])
        .await
    {
        Ok(p) => {
            m.insert("booted_slot".into(), p[0].clone());
            m.insert("compatible".into(), p[1].clone());
            m.insert("rauc".into(), p[2].clone());
        }
        Err(e) => {
            m.insert("booted_slot".into(), json!(""));
            m.insert("compatible".into(), json!(""));
            m.insert("rauc".into(), json!(format!("unavailable: {e}")));
        }
    }
    ok_reply(m)
}

async fn reboot(State(ota): State<Arc<Ota>>, headers: HeaderMap) -> Response {
    if let Err(r) = ota.admit(&headers).await {
        return r;
    }
    if ota.status.lock().unwrap().state == "installing" {
        return ota.err(
            StatusCode::OK,
            ErrorKind::NotAvailable,
            "正在安装升级，暂不能重启".into(),
            "an update is being installed; not restarting now".into(),
        );
    }
    match ota.request_reboot().await {
        Ok(()) => ok_reply(Map::new()),
        Err(e) => ota.err(
            StatusCode::OK,
            ErrorKind::Storage,
            format!("无法请求重启: {e}"),
            format!("cannot request the restart: {e}"),
        ),
    }
}

async fn install(
    State(ota): State<Arc<Ota>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(r) = ota.admit(&headers).await {
        return r;
    }
    let reboot = matches!(
        q.get("reboot").map(String::as_str),
        Some("1" | "true" | "yes")
    );
    let max = ota.cfg.max_bundle_bytes;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > max {
            return ota.err(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorKind::TooLarge,
                format!("升级包 {len} 字节，超过上限 {max} 字节"),
                format!("bundle of {len} bytes is over the limit of {max} bytes"),
            );
        }
        if len == 0 {
            return ota.err(
                StatusCode::OK,
                ErrorKind::InvalidParam,
                "升级包为空".into(),
                "the bundle is empty".into(),
            );
        }
        if let Some(free) = free_bytes(&ota.spool) {
            // keep some room for RAUC's status and the daemon's own files
            if len + 8 * 1024 * 1024 > free {
                return ota.err(
                    StatusCode::OK,
                    ErrorKind::Storage,
                    format!("数据分区空间不足：升级包 {len} 字节，可用 {free} 字节"),
                    format!("not enough space on the data partition: bundle {len} bytes, {free} bytes free"),
                );
            }
        }
    }
    // One update at a time (checked and claimed under one lock), and only when RAUC is there
    // and idle.
    let claimed = {
        let mut s = ota.status.lock().unwrap();
        if matches!(s.state, "receiving" | "installing") {
            None
        } else {
            s.state = "receiving";
            s.progress = 0;
            s.operation.clear();
            s.error.clear();
            s.bytes = 0;
            s.reboot = reboot;
            Some(s.clone())
        }
    };
    match claimed {
        Some(s) => ota.publish(&s),
        None => {
            return ota.err(
                StatusCode::OK,
                ErrorKind::NotAvailable,
                "已有升级正在进行".into(),
                "another update is in progress".into(),
            )
        }
    }
    let part = ota.spool.join(format!("{BUNDLE}.part"));
    let dest = ota.spool.join(BUNDLE);
    // The server drops this handler when the client goes away: the guard then gives the API back
    // and removes what was received.
    let mut guard = Receiving {
        ota: ota.clone(),
        part: part.clone(),
        armed: true,
    };
    let reset = |ota: &Ota| ota.set(|s| s.state = "idle");
    match ota.properties(&["Operation"]).await {
        Ok(p) if p[0].as_str() == Some("idle") => {}
        Ok(p) => {
            guard.armed = false;
            reset(&ota);
            return ota.err(
                StatusCode::OK,
                ErrorKind::NotAvailable,
                format!("RAUC 正忙（{}）", p[0]),
                format!("RAUC is busy ({})", p[0]),
            );
        }
        Err(e) => {
            guard.armed = false;
            reset(&ota);
            return ota.err(
                StatusCode::OK,
                ErrorKind::NotAvailable,
                format!("升级服务（RAUC）不可用: {e}"),
                format!("the update service (RAUC) is not available: {e}"),
            );
        }
    }

    let received = receive(&ota, body, &part, max).await;
    let n = match received {
        Ok(n) => n,
        Err((kind, zh, en)) => {
            guard.armed = false;
            let _ = tokio::fs::remove_file(&part).await;
            ota.set(|s| {
                s.state = "failed";
                s.error = en.clone();
            });
            let status = if kind == ErrorKind::TooLarge {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::OK
            };
            return ota.err(status, kind, zh, en);
        }
    };
    // No await from here on: the install starts even if the client is gone by now.
    guard.armed = false;
    if let Err(e) = std::fs::rename(&part, &dest) {
        let _ = std::fs::remove_file(&part);
        ota.set(|s| {
            s.state = "failed";
            s.error = e.to_string();
        });
        return ota.err(
            StatusCode::OK,
            ErrorKind::Storage,
            format!("无法保存升级包: {e}"),
            format!("cannot store the bundle: {e}"),
        );
    }
    tracing::info!(bytes = n, reboot, "update bundle received; installing");
    ota.set(|s| {
        s.state = "installing";
        s.bytes = n;
    });
    tokio::spawn(ota.clone().run_install(dest));
    let s = ota.status.lock().unwrap().clone();
    ok_reply(status_json(&s))
}

/// Resets the status and removes the partial upload if the install handler is dropped early.
struct Receiving {
    ota: Arc<Ota>,
    part: PathBuf,
    armed: bool,
}

impl Drop for Receiving {
    fn drop(&mut self) {
        if self.armed {
            tracing::warn!("update upload abandoned by the client");
            let _ = std::fs::remove_file(&self.part);
            self.ota.set(|s| {
                s.state = "failed";
                s.error = "the upload broke off".into();
            });
        }
    }
}

type RecvError = (ErrorKind, String, String);

async fn receive(ota: &Ota, body: Body, part: &Path, max: u64) -> Result<u64, RecvError> {
    let io = |e: std::io::Error| -> RecvError {
        (
            ErrorKind::Storage,
            format!("无法写入升级包: {e}"),
            format!("cannot write the bundle: {e}"),
        )
    };
    tokio::fs::create_dir_all(&ota.spool).await.map_err(io)?;
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(part)
        .await
        .map_err(io)?;
    let mut stream = body.into_data_stream();
    let mut n: u64 = 0;
    let mut last_event = 0u64;
    let stall = Duration::from_secs(ota.cfg.receive_timeout_seconds.max(1));
    loop {
        // A client that goes silent (a pulled cable sends nothing) must not hold the API.
        let next = tokio::time::timeout(stall, stream.next())
            .await
            .map_err(|_| {
                (
                    ErrorKind::Parse,
                    format!("升级包传输中断（{} 秒无数据）", stall.as_secs()),
                    format!("the upload stalled (no data for {} s)", stall.as_secs()),
                )
            })?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            (
                ErrorKind::Parse,
                format!("升级包未传完: {e}"),
                format!("the upload broke off: {e}"),
            )
        })?;
        n += chunk.len() as u64;
        if n > max {
            return Err((
                ErrorKind::TooLarge,
                format!("升级包超过上限 {max} 字节"),
                format!("bundle over the limit of {max} bytes"),
            ));
        }
        f.write_all(&chunk).await.map_err(io)?;
        if n - last_event >= 8 * 1024 * 1024 {
            last_event = n;
            ota.set(|s| s.bytes = n);
        }
    }
    if n == 0 {
        return Err((
            ErrorKind::InvalidParam,
            "升级包为空".into(),
            "the bundle is empty".into(),
        ));
    }
    f.flush().await.map_err(io)?;
    f.sync_all().await.map_err(io)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_of_a_missing_directory_is_its_parents() {
        let d = std::env::temp_dir().join("cameraservice-ota-test-missing/update");
        assert!(free_bytes(&d).unwrap_or(0) > 0);
    }

    #[test]
    fn token_delay_grows() {
        assert_eq!(token_delay(1), Duration::from_millis(500));
        assert_eq!(token_delay(10), Duration::from_millis(500));
        assert_eq!(token_delay(11), Duration::from_secs(1));
        assert_eq!(token_delay(45), Duration::from_secs(8));
        assert_eq!(token_delay(1000), Duration::from_secs(8));
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abcdefghijklmnop", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"abcdefghijklmnop", b"abcdefghijklmnoq"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
