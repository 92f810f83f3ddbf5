//! ONE dispatch table for HTTP and WebSocket: an endpoint key (`group=action`) maps to a handler,
//! and WebSocket function names (`grab_image` ...) map to endpoint keys.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::error::{ApiError, Text};
use crate::reply::Reply;
use crate::request::{ApiRequest, EndpointKey};

pub type HandlerResult = Result<Reply, ApiError>;
pub type Handler = Arc<dyn Fn(ApiRequest) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// Wrap an async function as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(ApiRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |req| Box::pin(f(req)))
}

/// Run blocking work (a device call, decoding, a file) off the async runtime. A panic in it
/// becomes an internal error (code `"13"`); crate errors convert with `?` inside `f`.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

// The endpoint catalogue: VENDOR_ENDPOINTS and OLDER_ENDPOINTS (HTTP, also reachable on the
// WebSocket as `group=action`), WS_ONLY, OLDER_WS_ONLY and WS_ALIASES. Nothing outside it can be
// registered, nothing in it can be registered twice, and what nobody registered answers "not
// available". An entry whose action is ANY_ACTION (`group=*`) takes every action of its group
// that has no entry of its own.

/// Every endpoint of the vendor document (sections 3-11), as (group, action).
pub const VENDOR_ENDPOINTS: &[(&str, &str)] = &[
    ("video", "stream"),
    ("video", "grabimage"),
    ("video", "status"),
    ("video", "detectdoc"),
    ("video", "record"),
    ("video", "setproperty"),
    ("video", "getproperty"),
    ("video", "open"),
    ("video", "close"),
    ("card", "idcard"),
    ("card", "getsamid"),
    ("card", "sociaseceritycard"),
    ("card", "iccard"),
    ("card", "init"),
    ("card", "release"),
    ("card", "magcard"),
    ("param", "set"),
    ("param", "get"),
    ("imagepro", "merge2pdf"),
    ("imagepro", "merge2tif"),
    ("imagepro", "merge2ofd"),
    ("imagepro", "merge_images"),
    ("imagepro", "barcode"),
    ("imagepro", "process"),
    ("imagepro", "storage_image"),
    ("imagepro", "file2base64"),
    ("imagepro", "copyfile"),
    ("imagepro", "start_editor"),
    ("imagepro", "get_editor_images"),
    ("face", "verifyidcard"),
    ("face", "verifybase64"),
    ("face", "startlivedetection"),
    ("face", "islive"),
    ("fp", "read"),
    ("fp", "verify"),
    ("sign", "start"),
    ("sign", "stop"),
    ("sign", "get"),
    ("sign", "status"),
    ("sign", "reset_status"),
    ("sign", "reset_sign_device"),
    ("sign", "browser"),
    ("sign", "closebrowser"),
    ("sign", "showevaluator"),
    ("sign", "closeevaluator"),
    ("sign", "getevaluatorresult"),
    ("sign", "showefloatingbuttongroup"),
    ("sign", "closefloatingbuttongroup"),
    ("sign", "getfloatingbuttongroupresult"),
    ("sign", "showadvertisingplayer"),
    ("sign", "closeadvertisingplayer"),
    ("sign", "stream"),
    ("sign", "set_recv_hwnd"),
    ("ocr", ""),
    ("barcode_scanner", "open"),
    ("barcode_scanner", "get"),
    ("barcode_scanner", "close"),
];

/// Functions that exist only on the WebSocket (section 9.6 and the legacy camera functions).
/// They live in the table under the pseudo group `ws`.
pub const WS_ONLY: &[&str] = &[
    "show_sign_pdf",
    "close_sign_pdf",
    "sign_pdf_info",
    "open_camera",
    "close_camera",
    "video_stream",
];

/// WebSocket names of HTTP endpoints.
pub const WS_ALIASES: &[(&str, (&str, &str))] = &[
    ("grab_image", ("video", "grabimage")),
    ("read_idcard", ("card", "idcard")),
    ("get_samid", ("card", "getsamid")),
    ("read_sociaseceritycard", ("card", "sociaseceritycard")),
    ("read_iccard", ("card", "iccard")),
    ("read_magcard", ("card", "magcard")),
];

/// Action of a catalogue entry that takes every action of its group without an entry of its own
/// (`serialport=*`). The handler reads the action asked for from `ApiRequest::endpoint`.
pub const ANY_ACTION: &str = "*";

/// The older vocabulary real pages still use (issue 18), outside the vendor document. Kept apart
/// from VENDOR_ENDPOINTS so it stays visible; the pages issue registers their handlers, until
/// then they answer "not available" (code "9") like every other placeholder. Spelt as the pages
/// spell them; keys are matched case-insensitively.
pub const OLDER_ENDPOINTS: &[(&str, &str)] = &[
    ("video", "rotate"),
    ("device", "isconnect"),
    ("pdf", "addimage"),
    ("pdf", "save"),
    ("pdf", "clear"),
    ("device", "getresolution"),
    ("device", "setresolution"),
    ("barcode", "get"),
    ("biokey", "get"),
    ("comparison", "imgdata"),
    ("faceLive", "start"),
    ("video", "autoflat"),
    ("device", "getequipmenttype"),
    ("device", "a3a4switch"),
    ("video", "ocr"),
    ("camera", "state"),
    ("serialport", ANY_ACTION),
];

/// WebSocket-only functions of the older vocabulary (issue 18); wired up by the pages issue.
pub const OLDER_WS_ONLY: &[&str] = &[
    "get_resolution",
    "set_resolution",
    "get_param",
    "set_cutpage",
];

/// The appliance's own endpoints, outside both vocabularies: diagnostics for the demo page and
/// the image editor page's session (the editor itself is the vendor's `imagepro=start_editor`).
pub const APPLIANCE_ENDPOINTS: &[(&str, &str)] = &[
    ("diag", "status"),
    ("diag", "log"),
    ("editor", "session"),
    ("editor", "save"),
];

/// Every HTTP entry of the catalogue: the vendor document's, the older vocabulary, the
/// appliance's own.
pub fn http_catalogue() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    VENDOR_ENDPOINTS
        .iter()
        .chain(OLDER_ENDPOINTS)
        .chain(APPLIANCE_ENDPOINTS)
}

/// Every WebSocket-only function of the catalogue.
pub fn ws_only_catalogue() -> impl Iterator<Item = &'static &'static str> {
    WS_ONLY.iter().chain(OLDER_WS_ONLY)
}

/// Group of the WebSocket-only functions.
pub const WS_GROUP: &str = "ws";

#[derive(Clone)]
struct Route {
    handler: Handler,
    /// Text of the "not available" answer while no capability has registered a handler.
    placeholder: bool,
}

/// The dispatch table.
#[derive(Clone)]
pub struct Table {
    routes: BTreeMap<EndpointKey, Route>,
    ws_names: HashMap<String, EndpointKey>,
    /// Plain URL prefixes outside the vendor grammar (file downloads), longest first.
    prefixes: Vec<(String, Handler)>,
    /// Plain paths outside the vendor grammar (`/openapi.json`; `/` when it names no endpoint).
    pages: HashMap<String, Handler>,
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

fn not_built(key: &EndpointKey) -> Handler {
    let name = key.to_string();
    let any_action = key.action == ANY_ACTION;
    handler(move |req| {
        // A `group=*` entry names the action that was asked for.
        let name = if any_action {
            req.endpoint.to_string()
        } else {
            name.clone()
        };
        async move {
            Err(ApiError::not_available(Text::new(
                format!("{name} 尚未在本设备固件中实现"),
                format!("{name} is not implemented in this firmware yet"),
            )))
        }
    })
}

impl Table {
    /// A table holding every endpoint and WebSocket function of the catalogue (the vendor
    /// document's and the older vocabulary), each answering "not available" until a capability
    /// registers its handler.
    pub fn new() -> Table {
        let mut t = Table {
            routes: BTreeMap::new(),
            ws_names: HashMap::new(),
            prefixes: Vec::new(),
            pages: HashMap::new(),
        };
        for (g, a) in http_catalogue() {
            let key = EndpointKey::new(g, a);
            let h = not_built(&key);
            t.add_placeholder(key, h);
        }
        for name in ws_only_catalogue() {
            let key = EndpointKey::new(WS_GROUP, name);
            let h = not_built(&EndpointKey::new(name, ""));
            t.add_placeholder(key.clone(), h);
            t.ws_names.insert(name.to_string(), key);
        }
        for (name, (g, a)) in WS_ALIASES {
            t.ws_names.insert(name.to_string(), EndpointKey::new(g, a));
        }
        t
    }

    /// Add a catalogue entry answering with `h` until it is filled.
    fn add_placeholder(&mut self, key: EndpointKey, h: Handler) {
        let route = Route {
            handler: h,
            placeholder: true,
        };
        if self.routes.insert(key.clone(), route).is_some() {
            panic!("endpoint {key} is in the endpoint catalogue twice");
        }
    }

    /// Put `h` in place of a catalogue entry's placeholder. Panics (at start-up, where handlers
    /// are registered) for a key outside the catalogue or one registered twice: a typo must not
    /// add a route and leave the real one a placeholder.
    fn fill(&mut self, key: EndpointKey, h: Handler) {
        match self.routes.get_mut(&key) {
            None => panic!("endpoint {key} is not in the endpoint catalogue (api::table)"),
            Some(r) if !r.placeholder => panic!("endpoint {key} is registered twice"),
            Some(r) => {
                r.handler = h;
                r.placeholder = false;
            }
        }
    }

    /// Register the handler of an HTTP endpoint (also reachable on the WebSocket as `group=action`
    /// and under its vendor WebSocket name, if any). `action` [`ANY_ACTION`] fills a `group=*`
    /// entry: its handler gets every action of the group that has no entry of its own.
    pub fn register(&mut self, group: &str, action: &str, h: Handler) {
        assert!(group != WS_GROUP, "{group}={action}: use register_ws");
        self.fill(EndpointKey::new(group, action), h);
    }

    /// Register a WebSocket-only function.
    pub fn register_ws(&mut self, name: &str, h: Handler) {
        self.fill(EndpointKey::new(WS_GROUP, name), h);
    }

    /// The route of a key: its own entry, else its group's `group=*` entry.
    fn route(&self, key: &EndpointKey) -> Option<&Route> {
        self.routes.get(key).or_else(|| {
            if key.group == WS_GROUP || key.action == ANY_ACTION {
                return None;
            }
            self.routes.get(&EndpointKey {
                group: key.group.clone(),
                action: ANY_ACTION.to_string(),
            })
        })
    }

    /// The handler of an endpoint reachable over HTTP.
    pub fn http(&self, key: &EndpointKey) -> Option<Handler> {
        if key.group == WS_GROUP {
            return None;
        }
        self.route(key).map(|r| r.handler.clone())
    }

    /// Resolve a WebSocket function name: a vendor WebSocket name or `group=action`. The key
    /// returned is the one asked for (`serialport=open`, not `serialport=*`).
    pub fn ws(&self, function: &str) -> Option<(EndpointKey, Handler)> {
        let f = function.trim();
        let key = if let Some(k) = self.ws_names.get(f) {
            k.clone()
        } else if let Some(k) = self.ws_names.get(&f.to_ascii_lowercase()) {
            k.clone()
        } else if let Some((g, a)) = f.split_once('=') {
            EndpointKey::new(g, a)
        } else {
            EndpointKey::new(f, "")
        };
        if key.group == WS_GROUP && !self.ws_names.values().any(|k| k == &key) {
            return None;
        }
        let h = self.route(&key)?.handler.clone();
        Some((key, h))
    }

    /// Serve every GET under a plain path prefix (e.g. "/storage/"): the handler gets the rest of
    /// the path, percent-decoded, as the parameter `path`.
    pub fn register_prefix(&mut self, prefix: &str, h: Handler) {
        self.prefixes.push((prefix.to_string(), h));
        self.prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    /// Serve GET on one plain path. `/` is served only when the request names no endpoint (the
    /// vendor's query form `/?video=status` keeps working).
    pub fn register_page(&mut self, path: &str, h: Handler) {
        if self.pages.insert(path.to_string(), h).is_some() {
            panic!("page {path} registered twice");
        }
    }

    /// The handler of a plain path.
    pub fn page(&self, path: &str) -> Option<Handler> {
        self.pages.get(path).cloned()
    }

    /// The prefix handler for a request path, with the rest of the path.
    pub fn prefix(&self, path: &str) -> Option<(Handler, String)> {
        self.prefixes
            .iter()
            .find(|(p, _)| path.starts_with(p.as_str()))
            .map(|(p, h)| (h.clone(), path[p.len()..].to_string()))
    }

    /// Endpoints that still answer "not available".
    pub fn placeholders(&self) -> Vec<String> {
        self.routes
            .iter()
            .filter(|(_, r)| r.placeholder)
            .map(|(k, _)| k.to_string())
            .collect()
    }

    /// All keys in the table.
    pub fn keys(&self) -> Vec<EndpointKey> {
        self.routes.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing() -> Handler {
        handler(|_req| async { Ok(Reply::ok()) })
    }

    #[test]
    #[should_panic(expected = "not in the endpoint catalogue")]
    fn unknown_key_refused() {
        Table::new().register("video", "grabimgae", nothing());
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn duplicate_refused() {
        let mut t = Table::new();
        t.register("video", "status", nothing());
        t.register("Video", "STATUS", nothing());
    }

    #[test]
    #[should_panic(expected = "not in the endpoint catalogue")]
    fn unknown_ws_function_refused() {
        Table::new().register_ws("open_camra", nothing());
    }

    #[test]
    fn registering_replaces_the_placeholder() {
        let mut t = Table::new();
        assert!(t.placeholders().contains(&"video=status".to_string()));
        t.register("video", "status", nothing());
        t.register_ws("open_camera", nothing());
        assert!(!t.placeholders().contains(&"video=status".to_string()));
        assert!(!t.placeholders().contains(&"ws=open_camera".to_string()));
    }

    /// Call the handler the table gives `key` over HTTP and return its code ("0" on success).
    fn answer(t: &Table, key: &str) -> (String, String) {
        let (g, a) = key.split_once('=').unwrap_or((key, ""));
        let endpoint = EndpointKey::new(g, a);
        let h = t
            .http(&endpoint)
            .unwrap_or_else(|| panic!("{key} not routed"));
        let req = ApiRequest {
            endpoint,
            params: Default::default(),
            body: None,
            transport: crate::request::Transport::Http {
                method: axum::http::Method::POST,
            },
            peer: None,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        match rt.block_on(h(req)) {
            Ok(_) => ("0".to_string(), String::new()),
            Err(e) => (e.code().to_string(), e.to_string()),
        }
    }

    #[test]
    fn older_endpoints_are_placeholders_answering_9() {
        let t = Table::new();
        for key in [
            "device=isconnect",
            "faceLive=start",
            "video=ocr",
            "camera=state",
        ] {
            assert_eq!(answer(&t, key).0, "9", "{key}");
        }
        let p = t.placeholders();
        for key in [
            "device=a3a4switch",
            "facelive=start",
            "serialport=*",
            "ws=set_cutpage",
        ] {
            assert!(p.contains(&key.to_string()), "{key} not listed: {p:?}");
        }
        for name in OLDER_WS_ONLY {
            let (key, _) = t.ws(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(key, EndpointKey::new(WS_GROUP, name));
        }
        assert!(t.http(&EndpointKey::new("ws", "get_param")).is_none());
    }

    #[test]
    fn any_action_entry_takes_its_group() {
        let mut t = Table::new();
        // Any action of `serialport` resolves to `serialport=*`; the request keeps its action.
        let (code, message) = answer(&t, "serialport=anything");
        assert_eq!(code, "9");
        assert!(message.contains("serialport=anything"), "{message}");
        let (key, _) = t.ws("serialport=open").unwrap();
        assert_eq!(key, EndpointKey::new("serialport", "open"));
        // Other groups get no such fallback.
        assert!(t.http(&EndpointKey::new("device", "nosuch")).is_none());
        assert!(t.ws("device=nosuch").is_none());
        // Registering `serialport=*` fills it for every action.
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        t.register(
            "serialport",
            ANY_ACTION,
            handler(move |req| {
                s.lock().unwrap().push(req.endpoint.action.clone());
                async { Ok(Reply::ok()) }
            }),
        );
        assert!(!t.placeholders().contains(&"serialport=*".to_string()));
        assert_eq!(answer(&t, "SerialPort=Open").0, "0");
        assert_eq!(answer(&t, "serialport=write").0, "0");
        assert_eq!(*seen.lock().unwrap(), ["open", "write"]);
    }

    #[test]
    #[should_panic(expected = "not in the endpoint catalogue")]
    fn any_action_entry_is_not_a_registrable_action() {
        // A handler for the group goes through `serialport=*`, not a key of its own.
        Table::new().register("serialport", "open", nothing());
    }

    #[test]
    #[should_panic(expected = "not in the endpoint catalogue")]
    fn any_action_only_where_the_catalogue_has_it() {
        Table::new().register("device", ANY_ACTION, nothing());
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn older_duplicate_refused() {
        let mut t = Table::new();
        t.register("serialport", ANY_ACTION, nothing());
        t.register("SerialPort", "*", nothing());
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn older_ws_duplicate_refused() {
        let mut t = Table::new();
        t.register_ws("set_cutpage", nothing());
        t.register_ws("set_cutpage", nothing());
    }

    /// Every group of the HTTP catalogue is one the URL grammar knows.
    #[test]
    fn url_grammar_knows_every_group() {
        for (g, a) in http_catalogue() {
            let key = EndpointKey::new(g, a);
            if key.group != "ocr" {
                assert!(crate::url::GROUPS.contains(&key.group.as_str()), "{key}");
            }
        }
    }

    /// The catalogue and the black-box tests' list of endpoints are the same: the vendor
    /// endpoints before the "# Older vocabulary" header, OLDER_ENDPOINTS after it, then
    /// APPLIANCE_ENDPOINTS after "# Appliance".
    #[test]
    fn catalogue_matches_the_e2e_list() {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/e2e/endpoints.txt");
        let text = std::fs::read_to_string(p).unwrap();
        let (mut vendor, mut older, mut own) = (Vec::new(), Vec::new(), Vec::new());
        let mut section = 0;
        for l in text.lines().map(str::trim) {
            if l.starts_with("# Older vocabulary") {
                section = 1;
            }
            if l.starts_with("# Appliance") {
                section = 2;
            }
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let key = match l.split_once('=') {
                Some((g, a)) => EndpointKey::new(g, a),
                None => EndpointKey::new(l, ""),
            };
            [&mut vendor, &mut older, &mut own][section].push(key);
        }
        for (listed, catalogue, name) in [
            (vendor, VENDOR_ENDPOINTS, "VENDOR_ENDPOINTS"),
            (older, OLDER_ENDPOINTS, "OLDER_ENDPOINTS"),
            (own, APPLIANCE_ENDPOINTS, "APPLIANCE_ENDPOINTS"),
        ] {
            let mut listed = listed;
            let mut catalogue: Vec<EndpointKey> = catalogue
                .iter()
                .map(|(g, a)| EndpointKey::new(g, a))
                .collect();
            listed.sort();
            catalogue.sort();
            assert_eq!(listed, catalogue, "{name}");
            let mut dedup = catalogue.clone();
            dedup.dedup();
            assert_eq!(dedup.len(), catalogue.len(), "duplicate in {name}");
        }
        // No key in both lists (Table::new would panic too).
        Table::new();
    }

    #[test]
    fn every_vendor_endpoint_present() {
        let t = Table::new();
        for (g, a) in http_catalogue() {
            assert!(t.http(&EndpointKey::new(g, a)).is_some(), "{g}={a}");
        }
        assert!(t.ws("grab_image").is_some());
        assert!(t.ws("show_sign_pdf").is_some());
        assert!(t.ws("get_resolution").is_some());
        assert!(t.ws("video=status").is_some());
        assert!(t.ws("nosuch").is_none());
        assert!(t.http(&EndpointKey::new("ws", "show_sign_pdf")).is_none());
    }
}
