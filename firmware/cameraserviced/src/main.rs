//! `cameraserviced`: the appliance daemon. Reads the configuration, wires the capabilities into
//! the protocol table, serves HTTP and WebSocket, talks to systemd.

mod cards;
mod common;
mod config;
mod devices;
mod diag;
mod docs;
mod editor;
mod images;
mod legacy;
mod sign;
mod signpdf;
mod system;
mod ui;
mod video;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use api::{Language, ParamRoutes, Server, ServerOptions, Table};
use config::Config;
use tokio::net::TcpListener;

const USAGE: &str = "\
usage: cameraserviced [--config FILE] [--listen ADDR:PORT]... [--state-dir DIR] [--sim]

  --config FILE       TOML configuration (every key has a default; see README)
  --listen ADDR:PORT  listen address, repeatable (default 0.0.0.0:38088)
  --state-dir DIR     state and storage directory (default: storage.state_dir)
  --sim               simulated devices for every hardware class
  --health-check ADDR:PORT
                      ask a running daemon for app_version; exit 0 when it answers code \"0\"
  --version           print the version
";

#[derive(Debug, Default)]
struct Args {
    config: Option<PathBuf>,
    listen: Vec<SocketAddr>,
    state_dir: Option<PathBuf>,
    sim: bool,
    health_check: Option<SocketAddr>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "--config" => a.config = Some(PathBuf::from(value("a file")?)),
            "--listen" => {
                let v = value("ADDR:PORT")?;
                a.listen.push(
                    v.parse()
                        .map_err(|e| format!("--listen {v}: {e} (expected ADDR:PORT)"))?,
                );
            }
            "--state-dir" => a.state_dir = Some(PathBuf::from(value("a directory")?)),
            "--sim" => a.sim = true,
            "--health-check" => {
                let v = value("ADDR:PORT")?;
                a.health_check = Some(
                    v.parse()
                        .map_err(|e| format!("--health-check {v}: {e} (expected ADDR:PORT)"))?,
                );
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("cameraserviced {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Some(a))
}

fn init_logging(level: &str) {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("CAMERASERVICE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Started by systemd with its journal on stdout/stderr: log to journald natively.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        if let Ok(layer) = tracing_journald::layer() {
            tracing_subscriber::registry()
                .with(filter)
                .with(layer.with_syslog_identifier("cameraserviced".into()))
                .with(diag::RingLayer)
                .init();
            return;
        }
    }
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(true),
        )
        .with(diag::RingLayer)
        .init();
}

/// `--health-check`: one API call over plain HTTP; used before the boot slot is marked good.
fn health_check(addr: SocketAddr) -> Result<(), String> {
    use std::io::{Read, Write};
    let t = Duration::from_secs(5);
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, t).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(t)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(t)).map_err(|e| e.to_string())?;
    let req = format!(
        "GET /param=get&type=app_version HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.take(1 << 20)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    let v: serde_json::Value =
        serde_json::from_str(body.trim()).map_err(|e| format!("reply is not JSON: {e}"))?;
    match v.get("code").and_then(|c| c.as_str()) {
        Some("0") => Ok(()),
        other => Err(format!("reply code {other:?}")),
    }
}

/// Make freed memory go back to the system (README "Limits", memory): glibc's defaults keep up
/// to eight arenas per core and raise the mmap threshold after large frees, so the big
/// buffers of pictures end up in arenas that are never returned. Fewer arenas and a fixed
/// threshold (large buffers always mapped, so freeing unmaps them) keep RSS near idle after
/// load. `CAMERASERVICE_MALLOC=default` leaves glibc as it is (for measuring).
fn tune_allocator() -> bool {
    if std::env::var("CAMERASERVICE_MALLOC").as_deref() == Ok("default") {
        return false;
    }
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes the allocator's parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
    }
    true
}

/// Give free heap pages back to the system now and then (glibc keeps them otherwise).
fn start_trimmer() {
    #[cfg(target_env = "gnu")]
    tokio::spawn(async {
        let mut t = tokio::time::interval(Duration::from_secs(10));
        loop {
            t.tick().await;
            // SAFETY: malloc_trim is thread-safe.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    });
}

fn main() -> ExitCode {
    let tuned = tune_allocator();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cameraserviced: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(addr) = args.health_check {
        return match health_check(addr) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cameraserviced: health check failed: {e}");
                ExitCode::from(1)
            }
        };
    }
    let mut cfg = match &args.config {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("cameraserviced: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if !args.listen.is_empty() {
        cfg.server.listen = args.listen.clone();
    }
    if let Some(d) = &args.state_dir {
        cfg.storage.state_dir = d.clone();
    }
    init_logging(&cfg.log.level);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cameraserviced")
        // Heavy work is admitted a few jobs at a time; the rest (card reads, files) is bounded
        // by the connection cap, and this keeps a burst from starting hundreds of threads.
        .max_blocking_threads(64)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cfg, args.sim, tuned)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cfg: Config, sim: bool, tuned: bool) -> Result<(), String> {
    // Catch SIGTERM/SIGINT before anything can be served, so a stop request is never fatal.
    let signals = Signals::new().map_err(|e| format!("signal handlers: {e}"))?;
    let language = Language::parse(&cfg.server.language).ok_or_else(|| {
        format!(
            "server.language = {:?}: expected \"zh\" or \"en\"",
            cfg.server.language
        )
    })?;
    let state_dir = cfg.storage.state_dir.clone();
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| format!("cannot create state dir {}: {e}", state_dir.display()))?;
    storage::clean_temporaries(&state_dir);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        state_dir = %state_dir.display(),
        sim,
        "starting"
    );

    if tuned {
        start_trimmer();
    }
    // Limits on the work a request may cause: the pixel ceiling and the work-memory budget.
    imaging::set_max_pixels(cfg.limits.max_pixels);
    let budget = api::Budget::new(
        cfg.limits.work_memory_bytes(),
        cfg.limits.heavy_jobs(),
        Duration::from_millis(cfg.limits.busy_wait_ms),
    );
    tracing::info!(
        work_memory_mib = budget.memory_bytes() >> 20,
        heavy_jobs = budget.jobs(),
        max_pixels = cfg.limits.max_pixels,
        "limits"
    );

    // Capabilities register their handlers; everything else answers "not available".
    let mut table = Table::new();
    let mut params = ParamRoutes::new();
    let cache = Arc::new(storage::KvStore::open(
        &state_dir.join("cache-data.json"),
        cfg.cache.max_entries,
        cfg.cache.max_bytes,
    ));
    system::register(
        &mut params,
        system::Identity::from_config(&cfg.device),
        cache,
    );
    let cams =
        camera::CameraManager::start(camera_config(&cfg), devices::cameras(&cfg.camera, sim)?)
            .map_err(|e| format!("cameras: {e}"))?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    video::register(&mut table, &mut params, cams.clone(), stop_rx.clone());

    let root = if cfg.storage.root.as_os_str().is_empty() {
        state_dir.join("storage")
    } else {
        cfg.storage.root.clone()
    };
    let store = storage::sandbox::Storage::open(&root, cfg.storage.quota_bytes)
        .map_err(|e| format!("storage root {}: {e}", root.display()))?;
    let font = match std::fs::read(&cfg.imaging.font) {
        Ok(data) => match imaging::watermark::load_font(data) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(font = %cfg.imaging.font.display(), "watermark font unusable: {e}");
                None
            }
        },
        Err(e) => {
            tracing::warn!(font = %cfg.imaging.font.display(), "no watermark font: {e}");
            None
        }
    };
    let image_ctx = Arc::new(common::Images {
        cams: cams.clone(),
        store: Arc::new(store),
        font: font.clone(),
        budget: budget.clone(),
        request_pixels: cfg.limits.request_pixels,
    });
    images::register(&mut table, image_ctx.clone());
    docs::register(&mut table, image_ctx.clone());
    editor::register(&mut table, Arc::new(editor::Editor::new(image_ctx.clone())));
    let sign_images = image_ctx.clone();
    legacy::register(
        &mut table,
        Arc::new(legacy::Legacy::new(
            image_ctx,
            cfg.device.device_type.clone(),
        )),
    );
    let id_cards = Arc::new(cards::IdCards::new(
        &cfg.idcard,
        devices::id_card_reader(&cfg.idcard, sim)?,
        font.clone(),
    ));
    let wlt_decoder = id_cards.has_decoder();
    cards::register(
        &mut table,
        id_cards,
        Arc::new(cards::SmartCards::new(
            &cfg.pcsc,
            devices::smart_card_readers(&cfg.pcsc, sim)?,
        )),
        Arc::new(cards::MagCards::new(
            &cfg.magcard,
            devices::stripe_reader(&cfg.magcard, sim)?,
        )),
    );
    let idle_title = {
        let name = match cfg.device.brand_name.trim() {
            "" => "CameraService",
            n => n,
        };
        let port = cfg.server.listen.first().map_or(38088, |a| a.port());
        match cfg.device.hostname.trim() {
            "" => name.to_string(),
            h => format!("{name}\nhttp://{h}.local:{port}"),
        }
    };
    let pad = devices::signpad(&cfg.signpad, sim, &state_dir, font.clone(), &idle_title)?;
    let browser = pad
        .as_ref()
        .and_then(|p| sign::browser(&cfg.signpad, p, &state_dir));
    let sign = Arc::new(sign::Sign {
        pad: pad.clone(),
        images: sign_images,
        browser,
        cjk_font: cfg.imaging.font.clone(),
        pdf: Default::default(),
    });
    signpdf::register(&mut table, sign.clone());
    sign::register(&mut table, &mut params, sign, stop_rx.clone());
    let diag = Arc::new(diag::Diag {
        cams: cams.clone(),
        started: std::time::Instant::now(),
        serial_number: system::Identity::from_config(&cfg.device).serial_number,
        wlt_decoder,
        pad: pad.clone(),
        ota: std::sync::OnceLock::new(),
    });
    diag::register(&mut table, diag.clone());
    ui::register(&mut table);
    params.install(&mut table);
    legacy::register_ws_params(&mut table);
    let placeholders = table.placeholders();
    tracing::info!(
        count = placeholders.len(),
        endpoints = %placeholders.join(" "),
        "endpoints not available on this firmware yet (answer \"9\")"
    );

    let mut allowed_hosts = cfg.server.allowed_hosts.clone();
    let hostname = cfg.device.hostname.trim().to_string();
    if !hostname.is_empty() {
        allowed_hosts.push(hostname.clone());
        allowed_hosts.push(format!("{hostname}.local"));
    }
    let server = Server::new(
        ServerOptions {
            body_limit: cfg.server.body_limit_bytes,
            language,
            allowed_origins: cfg.server.allowed_origins.clone(),
            allowed_hosts,
            body_timeout: Duration::from_secs(cfg.server.body_timeout_seconds.max(1)),
            ws_in_flight: cfg.server.ws_in_flight.max(1),
            send_timeout: Duration::from_secs(cfg.server.send_timeout_seconds.max(1)),
            budget: budget.clone(),
        },
        table,
    );

    // Live pen events (vendor 9.13's purpose) to WebSocket subscribers of "sign_pen".
    if let Some(p) = &pad {
        let s = server.clone();
        p.on_pen(move |e| {
            s.publish(
                "sign_pen",
                &serde_json::json!({
                    "event": "sign_pen",
                    "type": e.kind,
                    "x": e.x.round() as i64,
                    "y": e.y.round() as i64,
                    "pressure": (e.pressure * 1000.0).round() / 1000.0,
                    "task_id": e.task_id,
                }),
            );
        });
    }

    let mut listeners = Vec::new();
    for addr in &cfg.server.listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        tracing::info!(%addr, "listening");
        listeners.push(l);
    }
    let max_connections = api::listen::effective_max_connections(cfg.server.max_connections);
    if max_connections < cfg.server.max_connections {
        tracing::warn!(
            configured = cfg.server.max_connections,
            max_connections,
            "server.max_connections lowered to fit the descriptor limit"
        );
    }
    let listen_opts = api::listen::ListenOptions {
        header_timeout: Duration::from_secs(cfg.server.header_timeout_seconds.max(1)),
        max_connections,
        language,
    };
    // One cap over every listening address.
    let connections = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let ota = update::Ota::new(&cfg.update, &state_dir, server.clone());
    let _ = diag.ota.set(ota.clone());
    let mut tasks = Vec::new();
    for l in listeners {
        let app = ota.router().merge(api::router(server.clone()));
        tasks.push(tokio::spawn(api::listen::serve(
            l,
            app,
            listen_opts.clone(),
            connections.clone(),
            server.shutdown_signal(),
        )));
    }

    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
        let period = Duration::from_micros(usec / 2);
        tracing::info!(?period, "systemd watchdog enabled");
        tokio::spawn(async move {
            let mut t = tokio::time::interval(period);
            loop {
                t.tick().await;
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        });
    }

    signals.wait().await;
    tracing::info!("shutting down");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    server.shutdown();
    let _ = stop_tx.send(true);
    if let Some(p) = &pad {
        p.shutdown();
    }
    let _ = tokio::task::spawn_blocking(move || cams.shutdown()).await;
    let all = futures_join(tasks);
    if tokio::time::timeout(Duration::from_secs(5), all)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 5 s; exiting anyway");
    }
    Ok(())
}

fn camera_config(cfg: &Config) -> camera::CameraConfig {
    use camera::Role;
    let c = &cfg.camera;
    let roles = [
        (Role::Document, &c.document),
        (Role::Portrait, &c.portrait),
        (Role::Portrait2, &c.portrait2),
        (Role::Ir1, &c.ir1),
        (Role::Ir2, &c.ir2),
    ]
    .into_iter()
    .filter(|(_, p)| !p.trim().is_empty())
    .map(|(r, p)| (r, p.trim().to_string()))
    .collect();
    camera::CameraConfig {
        roles,
        preview_width: c.preview_width.max(16),
        preview_fps: c.preview_fps,
        linger: Duration::from_secs(c.linger_seconds),
        warmup_frames: c.warmup_frames,
        scan_interval: Duration::from_secs_f64(c.scan_interval_seconds.clamp(0.1, 60.0)),
        ..Default::default()
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.int.recv() => {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Option<Args>, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn args() {
        let a = p(&[
            "--sim",
            "--listen",
            "127.0.0.1:1",
            "--listen=127.0.0.1:2",
            "--state-dir",
            "/x",
        ])
        .unwrap()
        .unwrap();
        assert!(a.sim);
        assert_eq!(a.listen.len(), 2);
        assert_eq!(a.state_dir, Some(PathBuf::from("/x")));
        assert!(p(&["--bogus"]).is_err());
        assert!(p(&["--listen", "nope"]).is_err());
        assert!(p(&["--config"]).is_err());
    }
}
