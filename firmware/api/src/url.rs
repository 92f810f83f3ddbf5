//! The vendor URL grammar: `/GROUP=ACTION&k=v...`, `/?GROUP=ACTION&k=v...` and `/ocr`, with the
//! junk real pages append (cache-busters after `?`, `&_=...`) and JSON in the query string.

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::request::{unwrap_double_encoded, EndpointKey};

/// The groups of the vendor API, then those of the older vocabulary real pages use
/// (`api::table::OLDER_ENDPOINTS`). Lower case: the key is lowered before it is looked up
/// (`faceLive=start` is group `facelive`). A group must equal the key, so `barcode` never takes
/// `barcode_scanner`.
pub const GROUPS: &[&str] = &[
    "video",
    "card",
    "param",
    "imagepro",
    "face",
    "fp",
    "sign",
    "barcode_scanner",
    // Older vocabulary.
    "device",
    "pdf",
    "barcode",
    "biokey",
    "comparison",
    "facelive",
    "camera",
    "serialport",
    // The appliance's own.
    "diag",
    "editor",
];

/// What the request target says.
#[derive(Debug, Default, PartialEq)]
pub struct Target {
    /// The endpoint, if the target names one of the vendor groups (or `ocr`).
    pub endpoint: Option<EndpointKey>,
    /// The first `k=v` pair when it does not name a known group (for the 404 message).
    pub unknown: Option<String>,
    /// The other parameters, decoded.
    pub params: Vec<(String, String)>,
    /// A JSON object or array found in the query string.
    pub json: Option<Value>,
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().trim().to_string()
}

fn is_sep(c: char) -> bool {
    matches!(c, '?' | '&' | ';')
}

/// Whether `raw` starts with a JSON object or array, raw or percent-encoded.
fn starts_json(raw: &str) -> bool {
    let t = raw.trim_start_matches(' ');
    let lower = t.get(..3).map(|p| p.to_ascii_lowercase());
    t.starts_with('{')
        || t.starts_with('[')
        || lower.as_deref() == Some("%7b")
        || lower.as_deref() == Some("%5b")
}

/// JSON values looked for in one target: real pages put one there; more attempts would only
/// let a long target of `{}` segments cost time quadratic in its length.
const MAX_JSON_ATTEMPTS: usize = 4;

/// Try to read one JSON value at the start of `text` (already percent-decoded). On success
/// return the value and how many bytes it took.
fn take_json(text: &str) -> Option<(Value, usize)> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) if v.is_object() || v.is_array() => {
            let used = stream.byte_offset();
            Some((unwrap_double_encoded(v), used))
        }
        _ => None,
    }
}

/// Parse a request target: the path and, if any, the query (without the `?`).
///
/// Linear in the target's length: the text after the first JSON value is percent-decoded once
/// (a JSON value may hold encoded separators), and at most [`MAX_JSON_ATTEMPTS`] values are tried.
pub fn parse_target(path: &str, query: Option<&str>) -> Target {
    let mut raw = path.trim_start_matches('/').to_string();
    if let Some(q) = query {
        raw.push('?');
        raw.push_str(q);
    }
    let mut t = Target::default();
    let mut first = true;
    // The text being read and the position in it; once a JSON value has been read, the rest
    // of the target is decoded text.
    let mut text: std::borrow::Cow<str> = std::borrow::Cow::Borrowed(&raw);
    let mut pos = 0usize;
    let mut decoded = false;
    let mut attempts = 0usize;
    // Read a JSON value at `at` (in `text`): on success move past it.
    let mut try_json = |text: &mut std::borrow::Cow<str>,
                        at: usize,
                        decoded: &mut bool,
                        t: &mut Target|
     -> Option<usize> {
        if attempts >= MAX_JSON_ATTEMPTS {
            return None;
        }
        attempts += 1;
        let (v, used, base) = if *decoded {
            let (v, used) = take_json(&text[at..])?;
            (v, used, at)
        } else {
            let d = percent_decode_str(&text[at..])
                .decode_utf8_lossy()
                .into_owned();
            let (v, used) = take_json(&d)?;
            *text = std::borrow::Cow::Owned(d);
            *decoded = true;
            (v, used, 0)
        };
        if t.json.is_none() {
            t.json = Some(v);
        }
        Some(base + used)
    };
    loop {
        let rest = &text[pos..];
        let trimmed = rest.trim_start_matches(is_sep);
        pos += rest.len() - trimmed.len();
        if pos >= text.len() {
            break;
        }
        // A JSON value as a bare segment.
        if starts_json(&text[pos..]) {
            if let Some(next) = try_json(&mut text, pos, &mut decoded, &mut t) {
                pos = next;
                continue;
            }
        }
        let rest = &text[pos..];
        let end = rest.find(is_sep).unwrap_or(rest.len());
        let seg = &rest[..end];
        if let Some(eq) = seg.find('=') {
            // A JSON value given as a parameter's value may contain separators.
            let value_at = pos + eq + 1;
            if starts_json(&text[value_at..]) {
                if let Some(next) = try_json(&mut text, value_at, &mut decoded, &mut t) {
                    pos = next;
                    first = false;
                    continue;
                }
            }
            let rest = &text[pos..];
            let seg = &rest[..end];
            let key = decode(&seg[..eq]);
            let value = decode(&seg[eq + 1..]);
            let lower = key.to_ascii_lowercase();
            if t.endpoint.is_none() && GROUPS.contains(&lower.as_str()) {
                t.endpoint = Some(EndpointKey::new(&lower, &value));
            } else if first && t.endpoint.is_none() {
                t.unknown = Some(format!("{key}={value}"));
            } else if !key.is_empty() {
                t.params.push((key, value));
            }
        } else if first && decode(seg).eq_ignore_ascii_case("ocr") {
            t.endpoint = Some(EndpointKey::new("ocr", ""));
        } else if first && t.endpoint.is_none() && !decode(seg).is_empty() {
            t.unknown = Some(decode(seg));
        }
        first = false;
        pos += end;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(t: &Target) -> String {
        t.endpoint
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_default()
    }

    fn param<'a>(t: &'a Target, k: &str) -> Option<&'a str> {
        t.params
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn path_form() {
        let t = parse_target("/video=stream&camidx=0&tid=12345", None);
        assert_eq!(key(&t), "video=stream");
        assert_eq!(param(&t, "camidx"), Some("0"));
        assert_eq!(param(&t, "tid"), Some("12345"));
    }

    #[test]
    fn query_form() {
        let t = parse_target("/", Some("video=stream&camidx=1"));
        assert_eq!(key(&t), "video=stream");
        assert_eq!(param(&t, "camidx"), Some("1"));
    }

    #[test]
    fn case_and_spaces() {
        let t = parse_target("/Card=%20getsamid", None);
        assert_eq!(key(&t), "card=getsamid");
    }

    #[test]
    fn ocr() {
        assert_eq!(key(&parse_target("/ocr", None)), "ocr");
        assert_eq!(key(&parse_target("/", Some("ocr"))), "ocr");
        assert_eq!(key(&parse_target("/ocr", Some("t=1"))), "ocr");
    }

    #[test]
    fn older_groups() {
        assert_eq!(
            key(&parse_target("/device=isconnect", None)),
            "device=isconnect"
        );
        assert_eq!(
            key(&parse_target("/", Some("faceLive=start"))),
            "facelive=start"
        );
        assert_eq!(
            key(&parse_target("/FACELIVE=Start", None)),
            "facelive=start"
        );
        assert_eq!(
            key(&parse_target("/serialport=open&port=1", None)),
            "serialport=open"
        );
        assert_eq!(key(&parse_target("/video=ocr", None)), "video=ocr");
        // `barcode` and `barcode_scanner` are distinct groups.
        assert_eq!(key(&parse_target("/barcode=get", None)), "barcode=get");
        let t = parse_target("/barcode_scanner=get&barcode=1", None);
        assert_eq!(key(&t), "barcode_scanner=get");
        assert_eq!(param(&t, "barcode"), Some("1"));
        assert_eq!(key(&parse_target("/barcode_scan=get", None)), "");
        // A later group-named parameter stays a parameter.
        let t = parse_target("/video=grabimage&camera=1&device=x", None);
        assert_eq!(key(&t), "video=grabimage");
        assert_eq!(param(&t, "camera"), Some("1"));
        assert_eq!(param(&t, "device"), Some("x"));
    }

    #[test]
    fn cache_busters() {
        let t = parse_target("/video=stream&camidx=0", Some("0.123"));
        assert_eq!(param(&t, "camidx"), Some("0"));
        let t = parse_target("/video=stream&camidx=0", Some("tid=5&_=17"));
        assert_eq!(param(&t, "camidx"), Some("0"));
        assert_eq!(param(&t, "tid"), Some("5"));
        let t = parse_target("/", Some("param=get&type=app_version?0.5"));
        assert_eq!(param(&t, "type"), Some("app_version"));
    }

    #[test]
    fn plus_survives() {
        let t = parse_target("/param=get&key=a+b%2Fc%3D%3D", None);
        assert_eq!(param(&t, "key"), Some("a+b/c=="));
    }

    #[test]
    fn json_in_query() {
        let t = parse_target("/", Some(r#"param=get&{"type":"app_version"}"#));
        assert_eq!(key(&t), "param=get");
        assert_eq!(t.json, Some(json!({"type":"app_version"})));
        let t = parse_target(
            "/param=get",
            Some("%7B%22type%22%3A%22a%26b%3Fc%22%7D&tid=1"),
        );
        assert_eq!(t.json, Some(json!({"type":"a&b?c"})));
        assert_eq!(param(&t, "tid"), Some("1"));
        let t = parse_target("/imagepro=merge2pdf&data=[{\"uuid\":\"x\"}]&tid=2", None);
        assert_eq!(t.json, Some(json!([{"uuid":"x"}])));
        assert_eq!(param(&t, "tid"), Some("2"));
    }

    #[test]
    fn many_json_segments_are_cheap() {
        // 64 KB of `{}` segments: parsed in linear time; only the first value is kept.
        let path = format!("/param=get&type=app_version&{}", "{}&".repeat(20_000));
        let t = parse_target(&path, None);
        assert_eq!(key(&t), "param=get");
        assert_eq!(param(&t, "type"), Some("app_version"));
        assert_eq!(t.json, Some(json!({})));
        let enc = format!("/param=get&{}", "%7B%7D&".repeat(10_000));
        assert_eq!(key(&parse_target(&enc, None)), "param=get");
    }

    #[test]
    fn unknown() {
        let t = parse_target("/nosuch=thing&a=1", None);
        assert_eq!(t.endpoint, None);
        assert_eq!(t.unknown.as_deref(), Some("nosuch=thing"));
        let t = parse_target("/favicon.ico", None);
        assert_eq!(t.endpoint, None);
        assert_eq!(t.unknown.as_deref(), Some("favicon.ico"));
        let t = parse_target("/", None);
        assert_eq!(t, Target::default());
    }
}
