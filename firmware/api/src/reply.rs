//! Replies: a JSON object with a string `code` and a localised `message`, or a raw HTTP response
//! (streams).

use std::borrow::Cow;

use axum::response::Response;
use serde_json::{Map, Value};

use crate::error::{ApiError, Language, Text};

/// A JSON reply before localisation.
#[derive(Debug, Clone)]
pub struct JsonReply {
    pub code: Cow<'static, str>,
    pub message: Option<Text>,
    pub fields: Map<String, Value>,
}

/// What a handler answers.
pub enum Reply {
    Json(JsonReply),
    /// A complete HTTP response (MJPEG streams). Over WebSocket this becomes an error.
    Http(Response),
}

impl Reply {
    /// `{"code":"0","message":""}`.
    pub fn ok() -> Reply {
        Reply::Json(JsonReply {
            code: Cow::Borrowed("0"),
            message: None,
            fields: Map::new(),
        })
    }

    /// An endpoint-specific code from the vendor document (e.g. detectdoc's "101").
    pub fn code(code: impl Into<Cow<'static, str>>, message: Option<Text>) -> Reply {
        Reply::Json(JsonReply {
            code: code.into(),
            message,
            fields: Map::new(),
        })
    }

    /// Add a field (JSON replies only; ignored on raw responses).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Reply {
        if let Reply::Json(j) = &mut self {
            j.fields.insert(key.to_string(), value.into());
        }
        self
    }

    pub fn from_error(e: &ApiError) -> Reply {
        Reply::Json(JsonReply {
            code: Cow::Borrowed(e.code()),
            message: None,
            fields: Map::new(),
        })
        .with_message_of(e)
    }

    fn with_message_of(self, e: &ApiError) -> Reply {
        match self {
            Reply::Json(mut j) => {
                let t = Text::new(e.message(Language::Zh), e.message(Language::En));
                j.message = Some(t);
                Reply::Json(j)
            }
            r => r,
        }
    }
}

impl JsonReply {
    /// The final object: `code`, `message`, then the fields.
    pub fn render(&self, lang: Language) -> Map<String, Value> {
        let mut m = Map::with_capacity(self.fields.len() + 2);
        m.insert("code".into(), Value::String(self.code.to_string()));
        m.insert(
            "message".into(),
            Value::String(
                self.message
                    .as_ref()
                    .map(|t| t.get(lang).to_string())
                    .unwrap_or_default(),
            ),
        );
        for (k, v) in &self.fields {
            if k != "code" && k != "message" {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }
}

/// Render an error as the final JSON object.
pub fn error_object(e: &ApiError, lang: Language) -> Map<String, Value> {
    match Reply::from_error(e) {
        Reply::Json(j) => j.render(lang),
        Reply::Http(_) => unreachable!(),
    }
}
