//! Tolerant reading of requests: the body as JSON whatever the Content-Type, parameters that
//! may be strings, numbers or booleans, nested objects that may arrive double-encoded.

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
    /// Query parameters merged into the body object (the body wins on conflicts).
    pub params: Map<String, Value>,
    /// The body as sent, after tolerant parsing (`None` when absent or empty).
    pub body: Option<Value>,
    pub transport: Transport,
    pub peer: Option<SocketAddr>,
}

impl ApiRequest {
    pub fn fields(&self) -> Fields<'_> {
        Fields(&self.params)
    }

    /// The body when the endpoint takes a JSON array (a lone object counts as one element).
    pub fn array(&self) -> Option<Vec<Value>> {
        match &self.body {
            Some(Value::Array(a)) => Some(a.clone()),
            Some(Value::Object(o)) if !o.is_empty() => Some(vec![Value::Object(o.clone())]),
            _ => None,
        }
    }

    pub fn is_websocket(&self) -> bool {
        matches!(self.transport, Transport::WebSocket { .. })
    }
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
    let v: Value = serde_json::from_str(text).map_err(|e| ApiError::parse(e.to_string()))?;
    Ok(Some(unwrap_double_encoded(v)))
}

/// A JSON string whose content is a JSON object or array is taken as that object or array.
pub fn unwrap_double_encoded(v: Value) -> Value {
    if let Value::String(s) = &v {
        let t = s.trim();
        if t.starts_with('{') || t.starts_with('[') {
            if let Ok(inner) = serde_json::from_str::<Value>(t) {
                if inner.is_object() || inner.is_array() {
                    return inner;
                }
            }
        }
    }
    v
}

/// Merge query parameters into the body: the body's keys win.
pub fn merge_params(body: Option<&Value>, query: Vec<(String, String)>) -> Map<String, Value> {
    let mut params = match body {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
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

    /// A nested object; a JSON string holding an object is accepted too.
    pub fn object(&self, key: &str) -> Option<Map<String, Value>> {
        match self.get(key)? {
            Value::Object(o) => Some(o.clone()),
            v @ Value::String(_) => match unwrap_double_encoded(v.clone()) {
                Value::Object(o) => Some(o),
                _ => None,
            },
            _ => None,
        }
    }

    /// A nested array; a JSON string holding an array is accepted, and a lone object counts as
    /// one element.
    pub fn array(&self, key: &str) -> Option<Vec<Value>> {
        match self.get(key)? {
            Value::Array(a) => Some(a.clone()),
            Value::Object(o) => Some(vec![Value::Object(o.clone())]),
            v @ Value::String(_) => match unwrap_double_encoded(v.clone()) {
                Value::Array(a) => Some(a),
                Value::Object(o) => Some(vec![Value::Object(o)]),
                _ => None,
            },
            _ => None,
        }
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
pub fn expect_object(v: &Value, name: &str) -> Result<Map<String, Value>, ApiError> {
    match unwrap_double_encoded(v.clone()) {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::with(
            ErrorKind::InvalidParam,
            Text::new(
                format!("{name} 应为 JSON 对象"),
                format!("{name} must be a JSON object"),
            ),
        )),
    }
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
        assert_eq!(
            parse_body(b"camidx=0&x=1").unwrap_err().kind,
            ErrorKind::Parse
        );
        assert_eq!(parse_body(b"\xff\xfe").unwrap_err().kind, ErrorKind::Parse);
    }

    #[test]
    fn merge_body_wins() {
        let body = json!({"type":"a"});
        let m = merge_params(
            Some(&body),
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
