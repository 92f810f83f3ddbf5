//! Tolerant reading of requests: the body as JSON whatever the Content-Type, parameters that
//! may be strings, numbers or booleans, nested objects that may arrive double-encoded.

use std::borrow::Cow;
use std::net::SocketAddr;

use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorKind, Text};
use crate::ws::WsPeer;

/// (group, action) of an endpoint, lower case. `/ocr` is ("ocr", "").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointKey {
    pub group: String,
    pub action: String,
}

impl EndpointKey {
    pub fn new(group: &str, action: &str) -> EndpointKey {
        EndpointKey {
            group: group.trim().to_ascii_lowercase(),
            action: action.trim().to_ascii_lowercase(),
        }
    }
}

impl std::fmt::Display for EndpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.action.is_empty() {
            write!(f, "{}", self.group)
        } else {
            write!(f, "{}={}", self.group, self.action)
        }
    }
}

/// How a request arrived.
#[derive(Clone)]
pub enum Transport {
    Http { method: axum::http::Method },
    WebSocket { peer: WsPeer, function: String },
}

/// One call of an endpoint, from HTTP or WebSocket.
#[derive(Clone)]
pub struct ApiRequest {
    pub endpoint: EndpointKey,
    /// The body object's fields (moved, not copied) with the query parameters merged in (the
    /// body wins on conflicts).
    pub params: Map<String, Value>,
    /// A body that is not a JSON object (an array, a string ...), after tolerant parsing. `None`
    /// when the body is absent, empty or an object (whose fields are in `params`).
    pub body: Option<Value>,
    pub transport: Transport,
    pub peer: Option<SocketAddr>,
}

impl ApiRequest {
    pub fn fields(&self) -> Fields<'_> {
        Fields(&self.params)
    }

    /// The body when the endpoint takes a JSON array, taken out of the request (not copied).
    pub fn take_array(&mut self) -> Option<Vec<Value>> {
        match self.body.take() {
            Some(Value::Array(a)) => Some(a),
            other => {
                self.body = other;
                None
            }
        }
    }

    /// Build a request from a parsed body and the query parameters: an object body becomes the
    /// parameters (moved), anything else stays the body.
    pub fn split_body(
        body: Option<Value>,
        query: Vec<(String, String)>,
    ) -> (Map<String, Value>, Option<Value>) {
        match body {
            Some(Value::Object(o)) => (merge_params(o, query), None),
            other => (merge_params(Map::new(), query), other),
        }
    }

    pub fn is_websocket(&self) -> bool {
        matches!(self.transport, Transport::WebSocket { .. })
    }
}

/// Most values (objects, arrays, scalars) one JSON text may hold: no endpoint needs more, and
/// the tree of a body made of tiny values costs many times its size in memory.
pub const MAX_JSON_VALUES: usize = 100_000;
/// Deepest nesting of objects and arrays accepted.
pub const MAX_JSON_DEPTH: usize = 64;

/// Check the shape of a JSON text before a tree is built from it: at most [`MAX_JSON_VALUES`]
/// values and [`MAX_JSON_DEPTH`] levels. One pass over the bytes; strings are skipped (their
/// length is bounded by the body limit). Malformed text passes here and fails in the parser.
pub fn check_json_shape(text: &[u8]) -> Result<(), ApiError> {
    let (mut values, mut depth) = (1usize, 0usize);
    let mut in_string = false;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_JSON_DEPTH {
                        return Err(ApiError::too_large(Text::new(
                            format!("JSON 嵌套超过 {MAX_JSON_DEPTH} 层"),
                            format!("JSON nested deeper than {MAX_JSON_DEPTH} levels"),
                        )));
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b',' | b':' => {
                    values += 1;
                    if values > MAX_JSON_VALUES {
                        return Err(ApiError::too_large(Text::new(
                            format!("JSON 含有超过 {MAX_JSON_VALUES} 个值"),
                            format!("JSON holds more than {MAX_JSON_VALUES} values"),
                        )));
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    Ok(())
}

/// Parse a request body. `Ok(None)` for an absent or blank body.
pub fn parse_body(bytes: &[u8]) -> Result<Option<Value>, ApiError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::parse("body is not UTF-8 text"))?
        .trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if text.is_empty() {
        return Ok(None);
    }
    check_json_shape(text.as_bytes())?;
    // The first JSON value is the body; text after it is ignored (some pages post `{...}:""`,
    // what serialising `{<json>: ""}` as a form gives, and the vendor's service accepts it).
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let v = match values.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(ApiError::parse(e.to_string())),
        None => return Ok(None),
    };
    let rest = text[values.byte_offset()..].trim();
    if !rest.is_empty() {
        tracing::debug!(
            ignored = rest.len(),
            "text after the body's JSON value ignored"
        );
    }
    Ok(Some(unwrap_double_encoded(v)))
}

/// The object or array a JSON string holds (double encoding), if it holds one of a bounded shape.
fn double_encoded(s: &str) -> Option<Value> {
    let t = s.trim();
    if !(t.starts_with('{') || t.starts_with('[')) || check_json_shape(t.as_bytes()).is_err() {
        return None;
    }
    serde_json::from_str::<Value>(t)
        .ok()
        .filter(|inner| inner.is_object() || inner.is_array())
}

/// A JSON string whose content is a JSON object or array is taken as that object or array.
pub fn unwrap_double_encoded(v: Value) -> Value {
    match &v {
        Value::String(s) => double_encoded(s).unwrap_or(v),
        _ => v,
    }
}

/// Merge query parameters into the body object: the body's keys win.
pub fn merge_params(body: Map<String, Value>, query: Vec<(String, String)>) -> Map<String, Value> {
    let mut params = body;
    for (k, v) in query {
        if !params.contains_key(&k) {
            params.insert(k, Value::String(v));
        }
    }
    params
}

/// Tolerant accessors over a JSON object (the request or a nested parameter object).
#[derive(Clone, Copy)]
pub struct Fields<'a>(pub &'a Map<String, Value>);

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Fields<'a> {
    pub fn empty() -> Fields<'static> {
        Fields(&EMPTY)
    }

    /// The raw value; keys match exactly first, then ignoring ASCII case.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        if let Some(v) = self.0.get(key) {
            return Some(v);
        }
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| !v.is_null())
    }

    /// A scalar as a string (numbers and booleans converted, surrounding spaces trimmed).
    /// `None` when absent or null; objects and arrays give `None` too.
    pub fn str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(scalar_string)
    }

    /// Like [`Fields::str`] but an empty string counts as absent.
    pub fn str_nonempty(&self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.is_empty())
    }

    /// A yes/no flag: "1", "true", "yes", "on", 1, true are yes; "0", "false", "", 0, false are no.
    /// Anything else is an invalid parameter.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        let Some(s) = self.str(key) else {
            return Ok(None);
        };
        match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" | "y" => Ok(Some(true)),
            "0" | "false" | "no" | "off" | "n" | "" => Ok(Some(false)),
            _ => Err(ApiError::invalid(
                key,
                Text::new("应为 \"0\" 或 \"1\"", "expected \"0\" or \"1\""),
            )),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    /// An integer; "12", 12, 12.0, " 12 " are accepted; an empty string counts as absent.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(s) = self.str_nonempty(key) else {
            return Ok(None);
        };
        parse_int(&s).map(Some).ok_or_else(|| {
            ApiError::invalid(
                key,
                Text::new(format!("不是整数：{s}"), format!("not an integer: {s}")),
            )
        })
    }

    /// A number that only tunes the output (quality, dpi, transparency, frame rate...): outside
    /// `lo..=hi` it is clamped into the range and the clamp is logged — a page asking for
    /// `quality: "3"` still gets its picture, as from the vendor's service. Decimals are rounded;
    /// what is not a number is an invalid parameter.
    pub fn tuning(&self, key: &str, lo: i64, hi: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.float(key)? else {
            return Ok(None);
        };
        let n = v.round().clamp(lo as f64, hi as f64) as i64;
        if n as f64 != v {
            tracing::info!(
                key,
                asked = v,
                used = n,
                "out-of-range tuning value clamped"
            );
        }
        Ok(Some(n))
    }

    pub fn int_or(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        Ok(self.int(key)?.unwrap_or(default))
    }

    /// A number (integer or decimal); an empty string counts as absent.
    pub fn float(&self, key: &str) -> Result<Option<f64>, ApiError> {
        let Some(s) = self.str_nonempty(key) else {
            return Ok(None);
        };
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(
                    key,
                    Text::new(format!("不是数字：{s}"), format!("not a number: {s}")),
                )
            })
    }

    /// A nested object (borrowed); a JSON string holding an object is accepted too.
    pub fn object(&self, key: &str) -> Option<Cow<'a, Map<String, Value>>> {
        match self.get(key)? {
            Value::Object(o) => Some(Cow::Borrowed(o)),
            Value::String(s) => match double_encoded(s) {
                Some(Value::Object(o)) => Some(Cow::Owned(o)),
                _ => None,
            },
            _ => None,
        }
    }

    /// A nested object, or an empty one when absent.
    pub fn object_or_empty(&self, key: &str) -> Cow<'a, Map<String, Value>> {
        self.object(key).unwrap_or(Cow::Borrowed(&EMPTY))
    }

    /// A nested array (borrowed); a JSON string holding an array is accepted, and a lone
    /// object counts as one element.
    pub fn array(&self, key: &str) -> Option<Cow<'a, [Value]>> {
        match self.get(key)? {
            Value::Array(a) => Some(Cow::Borrowed(a.as_slice())),
            v @ Value::Object(_) => Some(Cow::Borrowed(std::slice::from_ref(v))),
            Value::String(s) => match double_encoded(s) {
                Some(Value::Array(a)) => Some(Cow::Owned(a)),
                Some(o @ Value::Object(_)) => Some(Cow::Owned(vec![o])),
                _ => None,
            },
            _ => None,
        }
    }

    /// A string value borrowed as it is (not trimmed, no number conversion): for large payloads
    /// such as base64 images, which must not be copied.
    pub fn raw_str(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(Value::as_str)
    }

    /// Require a string parameter.
    pub fn required_str(&self, key: &str) -> Result<String, ApiError> {
        self.str(key).ok_or_else(|| ApiError::missing(key))
    }
}

/// Parse an integer the way sloppy pages write them: "12", "12.0", "+12", " 12 ".
pub fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(i);
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
        _ => None,
    }
}

/// A JSON scalar as text.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

/// Reject a value that is not an object where an object is required.
pub fn expect_object<'v>(
    v: &'v Value,
    name: &str,
) -> Result<Cow<'v, Map<String, Value>>, ApiError> {
    match v {
        Value::Object(o) => Ok(Cow::Borrowed(o)),
        Value::String(s) => match double_encoded(s) {
            Some(Value::Object(o)) => Ok(Cow::Owned(o)),
            _ => Err(not_object(name)),
        },
        _ => Err(not_object(name)),
    }
}

fn not_object(name: &str) -> ApiError {
    ApiError::with(
        ErrorKind::InvalidParam,
        Text::new(
            format!("{name} 应为 JSON 对象"),
            format!("{name} must be a JSON object"),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_variants() {
        assert_eq!(parse_body(b"").unwrap(), None);
        assert_eq!(parse_body(b"  \r\n ").unwrap(), None);
        assert_eq!(
            parse_body(b"\xEF\xBB\xBF{\"a\":1}").unwrap(),
            Some(json!({"a":1}))
        );
        assert_eq!(
            parse_body(br#""{\"a\":\"b\"}""#).unwrap(),
            Some(json!({"a":"b"}))
        );
        assert_eq!(
            parse_body(br#"{"b64":"a+b/c=="}"#).unwrap(),
            Some(json!({"b64":"a+b/c=="}))
        );
        assert_eq!(parse_body(b"{\"a\":").unwrap_err().kind, ErrorKind::Parse);
        // Text after the first JSON value is ignored.
        assert_eq!(
            parse_body(br#"{"camidx":"0","rotate":"90"}:"""#).unwrap(),
            Some(json!({"camidx":"0","rotate":"90"}))
        );
        assert_eq!(
            parse_body(b"{\"a\":1}\n{\"b\":2} trailing").unwrap(),
            Some(json!({"a":1}))
        );
        assert_eq!(
            parse_body(b"camidx=0&x=1").unwrap_err().kind,
            ErrorKind::Parse
        );
        assert_eq!(parse_body(b"\xff\xfe").unwrap_err().kind, ErrorKind::Parse);
    }

    #[test]
    fn json_shape_bounded() {
        assert!(check_json_shape(br#"{"a":[1,2,{"b":"x,y:[[[["}]}"#).is_ok());
        let wide = format!("[{}0]", "0,".repeat(MAX_JSON_VALUES));
        assert_eq!(
            parse_body(wide.as_bytes()).unwrap_err().kind,
            ErrorKind::TooLarge
        );
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH + 1),
            "]".repeat(MAX_JSON_DEPTH + 1)
        );
        assert_eq!(
            parse_body(deep.as_bytes()).unwrap_err().kind,
            ErrorKind::TooLarge
        );
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse_body(ok.as_bytes()).is_ok());
        // Escaped quotes do not end a string.
        assert!(check_json_shape(br#"["a\",[[[[[[,,,,"]"#).is_ok());
        // A double-encoded body over the bounds stays a string.
        let s = Value::String(wide);
        assert!(unwrap_double_encoded(s).is_string());
    }

    #[test]
    fn merge_body_wins() {
        let body = json!({"type":"a"});
        let m = merge_params(
            body.as_object().unwrap().clone(),
            vec![("type".into(), "b".into()), ("camidx".into(), "1".into())],
        );
        assert_eq!(m["type"], "a");
        assert_eq!(m["camidx"], "1");
    }

    #[test]
    fn tolerant_fields() {
        let v = json!({"camidx": 1, "flag": "true", "off": 0, "n": "12.0", "bad": "x",
                       "nested": "{\"k\":\"v\"}", "CamIdx2": "3", "empty": ""});
        let f = Fields(v.as_object().unwrap());
        assert_eq!(f.str("camidx").as_deref(), Some("1"));
        assert_eq!(f.bool("flag").unwrap(), Some(true));
        assert_eq!(f.bool("off").unwrap(), Some(false));
        assert_eq!(f.int("n").unwrap(), Some(12));
        assert!(f.int("bad").is_err());
        assert_eq!(f.int("empty").unwrap(), None);
        assert_eq!(f.object("nested").unwrap()["k"], "v");
        assert_eq!(f.str("camidx2").as_deref(), Some("3"));
        assert_eq!(f.str("absent"), None);
    }
}
