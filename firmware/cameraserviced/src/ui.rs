//! The device's own pages: the demo and diagnostics page at `/` (when the request names no
//! endpoint), the image editor and their scripts under `/ui/`, and the OpenAPI document at
//! `/openapi.json`. Built into the binary: the device serves them with no file system access.

use api::{handler, ApiError, ApiRequest, ErrorKind, Reply, Table, Text};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// (name, content type, bytes) of every file under `/ui/`.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../ui/index.html"),
    ),
    (
        "editor.html",
        "text/html; charset=utf-8",
        include_bytes!("../ui/editor.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../ui/style.css"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/api.js"),
    ),
    (
        "demo.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/demo.js"),
    ),
    (
        "editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/editor.js"),
    ),
    (
        "openapi.json",
        "application/json",
        include_bytes!("../ui/openapi.json"),
    ),
];

/// The pages load only their own scripts; they may call and show a device at another address
/// (the demo page's address field), and no other site may frame them.
const CSP: &str = "default-src 'self'; img-src * data: blob:; connect-src *; \
                   style-src 'self'; script-src 'self'; frame-ancestors 'none'";

fn file(name: &str) -> Option<&'static (&'static str, &'static str, &'static [u8])> {
    FILES.iter().find(|(n, _, _)| *n == name)
}

fn respond(name: &str) -> Result<Reply, ApiError> {
    let Some((_, ty, bytes)) = file(name) else {
        return Err(ApiError::with(
            ErrorKind::NotFound,
            Text::new(format!("没有页面 {name}"), format!("no page {name}")),
        ));
    };
    let mut r = Response::new(Body::from(*bytes));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if ty.starts_with("text/html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    Ok(Reply::Http(r))
}

pub fn register(table: &mut Table) {
    table.register_page("/", handler(|_| async { respond("index.html") }));
    table.register_page(
        "/openapi.json",
        handler(|_| async { respond("openapi.json") }),
    );
    table.register_prefix(
        "/ui/",
        handler(|req: ApiRequest| async move {
            let name = req.fields().str("path").unwrap_or_default();
            respond(&name)
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_there_and_typed() {
        for (name, ty, bytes) in FILES {
            assert!(!bytes.is_empty(), "{name} is empty");
            let ext = name.rsplit('.').next().unwrap();
            assert!(
                matches!(
                    (ext, *ty),
                    ("html", "text/html; charset=utf-8")
                        | ("css", "text/css; charset=utf-8")
                        | ("js", "text/javascript; charset=utf-8")
                        | ("json", "application/json")
                ),
                "{name}: {ty}"
            );
        }
        assert!(file("../main.rs").is_none());
        let doc: serde_json::Value =
            serde_json::from_slice(file("openapi.json").unwrap().2).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    }
}
