//! The one place where failures become a vendor `code` and a `message`.
//!
//! Every crate reports failures in its own typed errors and turns them into an [`ApiError`] with
//! `impl From<its error> for ApiError` (its kind and the particulars in zh and en); only this
//! crate knows the code and the words for each kind. It has no dependencies, so device crates
//! can implement that without knowing the protocol, and the protocol (`api`, which re-exports
//! everything here) without knowing the devices.

use std::borrow::Cow;
use std::fmt;

/// Language of the `message` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Zh,
    En,
}

impl Language {
    pub fn parse(s: &str) -> Option<Language> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "cn" | "chinese" => Some(Language::Zh),
            "en" | "en-us" | "en_us" | "english" => Some(Language::En),
            _ => None,
        }
    }
}

/// A text in both languages the daemon speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub zh: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Text {
    pub fn new(zh: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The same words in both languages (names, numbers, paths).
    pub fn same(s: impl Into<Cow<'static, str>>) -> Text {
        let s = s.into();
        Text {
            zh: s.clone(),
            en: s,
        }
    }

    pub fn get(&self, lang: Language) -> &str {
        match lang {
            Language::Zh => &self.zh,
            Language::En => &self.en,
        }
    }
}

/// The failure classes shared by every endpoint. Codes are documented in docs/protocol.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request JSON could not be parsed.
    Parse,
    /// The device is not connected or is busy.
    DeviceUnavailable,
    /// The device is open but delivers no data.
    NoData,
    /// A parameter is missing or invalid.
    InvalidParam,
    /// Unknown endpoint, function, file, uuid or key.
    NotFound,
    /// Not built on this firmware, hardware absent, or impossible on an appliance.
    NotAvailable,
    /// A request body, image, merge or document over one of the device's limits.
    TooLarge,
    /// Disk full, I/O error, quota.
    Storage,
    /// A client path outside the storage root.
    PathRefused,
    /// A bug or an unexpected failure inside the daemon.
    Internal,
    /// Host or Origin not allowed.
    Refused,
    /// The device's work memory or heavy-job slots stayed taken for longer than a request may
    /// wait, or the connection cap is reached: try again shortly.
    Busy,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Parse => "1",
            ErrorKind::DeviceUnavailable => "2",
            ErrorKind::NoData => "3",
            ErrorKind::InvalidParam => "4",
            ErrorKind::NotFound => "8",
            ErrorKind::NotAvailable => "9",
            ErrorKind::TooLarge => "10",
            ErrorKind::Storage => "11",
            ErrorKind::PathRefused => "12",
            ErrorKind::Internal => "13",
            ErrorKind::Refused => "14",
            ErrorKind::Busy => "15",
        }
    }

    pub fn text(self) -> Text {
        let (zh, en) = match self {
            ErrorKind::Parse => ("解析 JSON 参数失败", "failed to parse the request JSON"),
            ErrorKind::DeviceUnavailable => (
                "设备未连接，或者设备被占用，请检查",
                "the device is not connected or is busy",
            ),
            ErrorKind::NoData => (
                "设备打开后获取数据失败，请检查",
                "the device is open but delivers no data",
            ),
            ErrorKind::InvalidParam => ("参数错误", "invalid parameter"),
            ErrorKind::NotFound => ("未找到", "not found"),
            ErrorKind::NotAvailable => ("该功能不可用", "function not available"),
            ErrorKind::TooLarge => ("请求数据或图像过大", "request, image or document too large"),
            ErrorKind::Storage => ("存储失败", "storage error"),
            ErrorKind::PathRefused => (
                "路径不允许：只能访问设备存储区内的文件",
                "path refused: only files inside the device storage area are accessible",
            ),
            ErrorKind::Internal => ("内部错误", "internal error"),
            ErrorKind::Refused => ("请求被拒绝", "request refused"),
            ErrorKind::Busy => (
                "设备忙，请稍后重试",
                "the device is busy; try again shortly",
            ),
        };
        Text::new(zh, en)
    }
}

/// A failure with its class and, optionally, the particulars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub detail: Option<Text>,
}

impl ApiError {
    pub fn new(kind: ErrorKind) -> ApiError {
        ApiError { kind, detail: None }
    }

    pub fn with(kind: ErrorKind, detail: Text) -> ApiError {
        ApiError {
            kind,
            detail: Some(detail),
        }
    }

    pub fn parse(detail: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::with(ErrorKind::Parse, Text::same(detail))
    }

    /// Parameter `name` is missing.
    pub fn missing(name: &str) -> ApiError {
        ApiError::with(
            ErrorKind::InvalidParam,
            Text::new(
                format!("缺少参数 {name}"),
                format!("missing parameter {name}"),
            ),
        )
    }

    /// Parameter `name` has an unusable value; `why` says what is expected.
    pub fn invalid(name: &str, why: Text) -> ApiError {
        ApiError::with(
            ErrorKind::InvalidParam,
            Text::new(format!("{name}：{}", why.zh), format!("{name}: {}", why.en)),
        )
    }

    /// A function this firmware does not provide (yet), or hardware that is absent.
    pub fn not_available(what: Text) -> ApiError {
        ApiError::with(ErrorKind::NotAvailable, what)
    }

    /// A request, image or document over one of the device's size limits.
    pub fn too_large(detail: Text) -> ApiError {
        ApiError::with(ErrorKind::TooLarge, detail)
    }

    pub fn internal(detail: impl fmt::Display) -> ApiError {
        ApiError::with(ErrorKind::Internal, Text::same(detail.to_string()))
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The message in `lang`: the kind's words, then the particulars.
    pub fn message(&self, lang: Language) -> String {
        let base = self.kind.text();
        match &self.detail {
            None => base.get(lang).to_string(),
            Some(d) => match lang {
                Language::Zh => format!("{}：{}", base.zh, d.zh),
                Language::En => format!("{}: {}", base.en, d.en),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code(), self.message(Language::En))
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let kinds = [
            ErrorKind::Parse,
            ErrorKind::DeviceUnavailable,
            ErrorKind::NoData,
            ErrorKind::InvalidParam,
            ErrorKind::NotFound,
            ErrorKind::NotAvailable,
            ErrorKind::TooLarge,
            ErrorKind::Storage,
            ErrorKind::PathRefused,
            ErrorKind::Internal,
            ErrorKind::Refused,
            ErrorKind::Busy,
        ];
        let mut codes: Vec<_> = kinds.iter().map(|k| k.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&"0"));
    }

    #[test]
    fn messages_in_both_languages() {
        let e = ApiError::missing("camidx");
        assert!(e.message(Language::Zh).contains("camidx"));
        assert!(e.message(Language::Zh).contains("参数"));
        assert_eq!(
            e.message(Language::En),
            "invalid parameter: missing parameter camidx"
        );
    }
}
