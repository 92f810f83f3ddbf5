//! The daemon's configuration (TOML). Every key has a default; `README.md` documents them all and
//! `board/rootfs-overlay/etc/cameraservice/cameraservice.toml` is the device's copy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub device: DeviceConfig,
    pub storage: StorageConfig,
    pub cache: CacheConfig,
    pub log: LogConfig,
    pub camera: CameraSection,
    pub imaging: ImagingSection,
    pub idcard: IdCardSection,
    pub pcsc: PcscSection,
    pub magcard: MagcardSection,
    pub signpad: SignpadSection,
    pub update: update::UpdateConfig,
    pub limits: LimitsSection,
}

/// Limits on the work one request may cause (documented in README "Limits").
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Largest image decoded or produced, in pixels; a source over it is refused from its header.
    pub max_pixels: u64,
    /// Most decoded pixels of all sources of one request (merges, barcode, processing).
    pub request_pixels: u64,
    /// Memory for heavy work (bodies, decoding, processing, merges), in MiB; 0 = a quarter of
    /// the board's memory, between 128 and 512 MiB.
    pub work_memory_mb: u64,
    /// Heavy jobs at once; 0 = the number of cores, at least 2.
    pub heavy_jobs: usize,
    /// How long a request waits for work memory or a job slot before it is answered "busy" ("15").
    pub busy_wait_ms: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_pixels: 40_000_000,
            request_pixels: 400_000_000,
            work_memory_mb: 0,
            heavy_jobs: 0,
            busy_wait_ms: 5000,
        }
    }
}

impl LimitsSection {
    /// The work memory in bytes (the automatic default from /proc/meminfo).
    pub fn work_memory_bytes(&self) -> u64 {
        if self.work_memory_mb > 0 {
            return self.work_memory_mb << 20;
        }
        let total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| kb * 1024)
            .unwrap_or(2 << 30);
        (total / 4).clamp(128 << 20, 512 << 20)
    }

    pub fn heavy_jobs(&self) -> usize {
        if self.heavy_jobs > 0 {
            return self.heavy_jobs;
        }
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MagcardSection {
    /// "device" (the reader `device` names), "sim", "none"; "" = automatic (see `devices`).
    pub backend: String,
    /// The magnetic stripe reader: a serial port (`/dev/ttyUSB1`, `/dev/serial/by-id/...`), or an
    /// HID keyboard reader by input device path (`/dev/input/by-id/...-event-kbd`) or by a part of
    /// its name. Empty: none.
    pub device: String,
    /// Baud rate of a serial reader.
    pub baud: u32,
    /// How long `card=magcard` waits for a swipe, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for MagcardSection {
    fn default() -> Self {
        MagcardSection {
            backend: String::new(),
            device: String::new(),
            baud: 9600,
            timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignpadSection {
    /// "drm" (the panel through DRM/KMS and the pen through evdev), "virtual" (a screen in
    /// memory, seen through sign=stream), "sim" (virtual with a simulated pen), "none";
    /// "" = automatic: drm when `card` is set, else sim with --sim, else none.
    pub backend: String,
    /// DRM device (`/dev/dri/card0`); empty with backend "drm": the first with a display.
    pub card: String,
    /// The pen: an input device path, a part of its name, or "" for the first pen-like device.
    pub pen: String,
    /// Clockwise degrees the digitiser is turned against the screen (0, 90, 180, 270).
    pub pen_rotation: u32,
    pub pen_flip_x: bool,
    pub pen_flip_y: bool,
    /// Added to mapped pen positions, in screen pixels.
    pub pen_offset_x: f32,
    pub pen_offset_y: f32,
    /// A four-corner calibration file (four lines `screen_x screen_y raw_x raw_y`); when it
    /// reads, it replaces the absinfo mapping, rotation, flips and offsets. "" = none.
    pub pen_calibration_file: String,
    /// The kiosk browser for `sign=browser`, `{url}` `{width}` `{height}` replaced, "double
    /// quotes" keep words together; "" = `cog --platform=drm {url}` with backend "drm", none
    /// on a virtual screen.
    pub browser_command: String,
    /// The idle screen's picture (fitted to the screen); "" = the device's name and address.
    pub idle_image: String,
    /// The DRM display's mode as "WIDTHxHEIGHT" (one the display offers); "" = its preferred mode.
    pub mode: String,
    /// Size of a virtual screen, in pixels.
    pub width: u32,
    pub height: u32,
    /// Refresh rate of a virtual screen: the compositor presents at most this often.
    pub refresh_hz: u32,
    /// The simulated pen's socket (a Unix socket taking lines `down X Y [P] [T]`, `move ...`,
    /// `up`); empty = `<state_dir>/sim-pen.sock`.
    pub sim_pen_socket: String,
}

impl Default for SignpadSection {
    fn default() -> Self {
        SignpadSection {
            backend: String::new(),
            card: String::new(),
            pen: String::new(),
            pen_rotation: 0,
            pen_flip_x: false,
            pen_flip_y: false,
            pen_offset_x: 0.0,
            pen_offset_y: 0.0,
            pen_calibration_file: String::new(),
            browser_command: String::new(),
            idle_image: String::new(),
            mode: String::new(),
            width: 1280,
            height: 800,
            refresh_hz: 60,
            sim_pen_socket: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PcscSection {
    /// "pcsc", "sim", "none"; "" = automatic (see `devices`).
    pub backend: String,
    /// Readers tried for social security cards: a part of the PC/SC reader name (case-insensitive);
    /// empty: every reader, in PC/SC order.
    pub social_reader: String,
    /// Readers tried for bank IC cards (contact or contactless), the same way.
    pub bank_reader: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdCardSection {
    /// "serial" (the module on `port`), "sim", "none"; "" = automatic (see `devices`).
    pub backend: String,
    /// Serial port of the SAM ID card module (`/dev/ttyUSB0`, a by-id path ...); empty: none
    /// (with `--sim`, a simulated module on a pseudo-terminal).
    pub port: String,
    /// Baud rates tried in order until the module answers.
    pub bauds: Vec<u32>,
    /// Time-out for one answer of the module, in milliseconds (reading text + photo +
    /// fingerprint gets three times this).
    pub timeout_ms: u64,
    /// A licensed WLT photo decoder library (exporting `int unpack(char *wlt, char *bmp, int)`),
    /// loaded at run time; empty: photos are returned undecoded.
    pub wlt_decoder: PathBuf,
}

impl Default for IdCardSection {
    fn default() -> Self {
        IdCardSection {
            backend: String::new(),
            port: String::new(),
            bauds: vec![115200, 9600],
            timeout_ms: 1000,
            wlt_decoder: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImagingSection {
    /// Font for watermarks (TrueType/OpenType, or the first face of a .ttc); must have Chinese
    /// glyphs. The device ships WenQuanYi Zen Hei.
    pub font: PathBuf,
}

impl Default for ImagingSection {
    fn default() -> Self {
        ImagingSection {
            font: PathBuf::from("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CameraSection {
    /// "v4l2", "sim", "none"; "" = automatic (see `devices`).
    pub backend: String,
    /// Device of each role: a substring of a /dev/v4l/by-id or by-path name, a device path, the
    /// card name or a USB "VID:PID". Empty = automatic (largest sensor = document camera, next =
    /// portrait camera; the infrared cameras only by configuration).
    pub document: String,
    pub portrait: String,
    pub portrait2: String,
    pub ir1: String,
    pub ir2: String,
    /// Default preview width in pixels (height follows the camera's aspect ratio).
    pub preview_width: u32,
    /// Default cap on preview frames a second sent to each client.
    pub preview_fps: u32,
    /// Seconds a camera stays open after a grab when nothing else holds it.
    pub linger_seconds: u64,
    /// Frames dropped after a camera starts before a grab takes one (exposure settling).
    pub warmup_frames: u32,
    /// Seconds between device scans (hotplug).
    pub scan_interval_seconds: f64,
    /// Simulated document camera: show this image instead of the generated page.
    pub sim_document_image: String,
    /// Simulated cameras for every role (second portrait and infrared pair too).
    pub sim_all_roles: bool,
}

impl Default for CameraSection {
    fn default() -> Self {
        CameraSection {
            backend: String::new(),
            document: String::new(),
            portrait: String::new(),
            portrait2: String::new(),
            ir1: String::new(),
            ir2: String::new(),
            preview_width: 640,
            preview_fps: 15,
            linger_seconds: 10,
            warmup_frames: 3,
            scan_interval_seconds: 1.0,
            sim_document_image: String::new(),
            sim_all_roles: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Addresses to listen on; `--listen` replaces them.
    pub listen: Vec<SocketAddr>,
    /// Largest request body in bytes (default 48 MiB: a 30 MB image in base64 plus JSON).
    pub body_limit_bytes: usize,
    /// Language of `message`: "zh" (zh-CN) or "en".
    pub language: String,
    /// Origins allowed to call the API; "*" = any (the vendor's behaviour).
    pub allowed_origins: Vec<String>,
    /// Host names accepted in the Host header besides IP literals, localhost and the device's
    /// own names (`device.hostname`, `device.hostname.local`).
    pub allowed_hosts: Vec<String>,
    /// Time for a request's line and headers to arrive, and the idle time allowed on a
    /// keep-alive connection before its next request.
    pub header_timeout_seconds: u64,
    /// Longest pause while a request body arrives; then the connection is closed.
    pub body_timeout_seconds: u64,
    /// Most open connections (kept below the descriptor limit); past it: HTTP 503, code "15".
    pub max_connections: usize,
    /// Requests in flight per WebSocket connection; its further messages wait unread.
    pub ws_in_flight: usize,
    /// A WebSocket client that takes no data for this long is disconnected.
    pub send_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceConfig {
    /// The device's host name (mDNS name is `<hostname>.local`).
    pub hostname: String,
    /// Reported by `param=get type=serial_number`; empty = the board's serial number if the
    /// board has one (device tree), else empty.
    pub serial_number: String,
    pub brand_name: String,
    pub device_type: String,
    pub company_name: String,
    pub credit_code: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// State and storage directory; `--state-dir` overrides it.
    pub state_dir: PathBuf,
    /// Root of the client file namespace (images, documents); empty = `<state_dir>/storage`.
    pub root: PathBuf,
    /// Most bytes kept under the root; over it the oldest generated images are removed first
    /// (0 = no limit).
    pub quota_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Most keys `set_cache_data` keeps.
    pub max_entries: usize,
    /// Most bytes (keys plus values) `set_cache_data` keeps.
    pub max_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: "info", "debug", "api=debug,info" ... The environment variable
    /// CAMERASERVICE_LOG (or RUST_LOG) overrides it.
    pub level: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 38088))],
            body_limit_bytes: 48 * 1024 * 1024,
            language: "zh".into(),
            allowed_origins: vec!["*".into()],
            allowed_hosts: Vec::new(),
            header_timeout_seconds: 15,
            body_timeout_seconds: 30,
            max_connections: 512,
            ws_in_flight: 4,
            send_timeout_seconds: 30,
        }
    }
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            hostname: "cameraservice".into(),
            serial_number: String::new(),
            brand_name: String::new(),
            device_type: String::new(),
            company_name: String::new(),
            credit_code: String::new(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            state_dir: PathBuf::from("/var/lib/cameraservice"),
            root: PathBuf::new(),
            quota_bytes: 1 << 30,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: 1024,
            max_bytes: 1024 * 1024,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_all_defaults() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.server.listen[0].port(), 38088);
        assert_eq!(c.server.body_limit_bytes, 48 * 1024 * 1024);
        assert_eq!(c.cache.max_entries, 1024);
    }

    #[test]
    fn unknown_keys_rejected() {
        assert!(toml::from_str::<Config>("[server]\nlisten_typo = []").is_err());
    }

    #[test]
    fn shipped_config_parses() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../board/rootfs-overlay/etc/cameraservice/cameraservice.toml"
        );
        Config::load(Path::new(p)).unwrap();
    }
}
