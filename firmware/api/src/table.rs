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

// The endpoint catalogue: VENDOR_ENDPOINTS (HTTP, also reachable on the WebSocket as
// `group=action`), WS_ONLY and WS_ALIASES. Nothing outside it can be registered, nothing in it can
// be registered twice, and what nobody registered answers "not available".

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
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

fn not_built(key: &EndpointKey) -> Handler {
    let name = key.to_string();
    handler(move |_req| {
        let name = name.clone();
        async move {
            Err(ApiError::not_available(Text::new(
                format!("{name} 尚未在本设备固件中实现"),
                format!("{name} is not implemented in this firmware yet"),
            )))
        }
    })
}

impl Table {
    /// A table holding every vendor endpoint and WebSocket function, each answering
    /// "not available" until a capability registers its handler.
    pub fn new() -> Table {
        let mut t = Table {
            routes: BTreeMap::new(),
            ws_names: HashMap::new(),
            prefixes: Vec::new(),
        };
        for (g, a) in VENDOR_ENDPOINTS {
            let key = EndpointKey::new(g, a);
            let h = not_built(&key);
            t.routes.insert(
                key,
                Route {
                    handler: h,
                    placeholder: true,
                },
            );
        }
        for name in WS_ONLY {
            let key = EndpointKey::new(WS_GROUP, name);
            let h = not_built(&EndpointKey::new(name, ""));
            t.routes.insert(
                key.clone(),
                Route {
                    handler: h,
                    placeholder: true,
                },
            );
            t.ws_names.insert(name.to_string(), key);
        }
        for (name, (g, a)) in WS_ALIASES {
            t.ws_names.insert(name.to_string(), EndpointKey::new(g, a));
        }
        t
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
    /// and under its vendor WebSocket name, if any).
    pub fn register(&mut self, group: &str, action: &str, h: Handler) {
        assert!(group != WS_GROUP, "{group}={action}: use register_ws");
        self.fill(EndpointKey::new(group, action), h);
    }

    /// Register a WebSocket-only function.
    pub fn register_ws(&mut self, name: &str, h: Handler) {
        self.fill(EndpointKey::new(WS_GROUP, name), h);
    }

    /// The handler of an endpoint reachable over HTTP.
    pub fn http(&self, key: &EndpointKey) -> Option<Handler> {
        if key.group == WS_GROUP {
            return None;
        }
        self.routes.get(key).map(|r| r.handler.clone())
    }

    /// Resolve a WebSocket function name: a vendor WebSocket name or `group=action`.
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
        self.routes.get(&key).map(|r| (key, r.handler.clone()))
    }

    /// Serve every GET under a plain path prefix (e.g. "/storage/"): the handler gets the rest of
    /// the path, percent-decoded, as the parameter `path`.
    pub fn register_prefix(&mut self, prefix: &str, h: Handler) {
        self.prefixes.push((prefix.to_string(), h));
        self.prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
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

    /// The catalogue and the black-box tests' list of endpoints are the same.
    #[test]
    fn catalogue_matches_the_e2e_list() {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/e2e/endpoints.txt");
        let text = std::fs::read_to_string(p).unwrap();
        let mut listed: Vec<EndpointKey> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.split_once('=') {
                Some((g, a)) => EndpointKey::new(g, a),
                None => EndpointKey::new(l, ""),
            })
            .collect();
        let mut catalogue: Vec<EndpointKey> = VENDOR_ENDPOINTS
            .iter()
            .map(|(g, a)| EndpointKey::new(g, a))
            .collect();
        listed.sort();
        catalogue.sort();
        assert_eq!(listed, catalogue);
        let mut dedup = catalogue.clone();
        dedup.dedup();
        assert_eq!(
            dedup.len(),
            catalogue.len(),
            "duplicate in VENDOR_ENDPOINTS"
        );
    }

    #[test]
    fn every_vendor_endpoint_present() {
        let t = Table::new();
        for (g, a) in VENDOR_ENDPOINTS {
            assert!(t.http(&EndpointKey::new(g, a)).is_some(), "{g}={a}");
        }
        assert!(t.ws("grab_image").is_some());
        assert!(t.ws("show_sign_pdf").is_some());
        assert!(t.ws("video=status").is_some());
        assert!(t.ws("nosuch").is_none());
        assert!(t.http(&EndpointKey::new("ws", "show_sign_pdf")).is_none());
    }
}
