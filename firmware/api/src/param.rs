//! `param=get` and `param=set` are one URL each, discriminated by the body: `get` by `type`,
//! `set` by `type` (cache data) or by which setting key is present (`framerate`, `resolution` ...).
//! Capabilities register sub-handlers here; every vendor sub-function exists from the start and
//! answers "not available" until one does.

use std::collections::HashMap;

use crate::error::{ApiError, ErrorKind, Text};
use crate::request::ApiRequest;
use crate::table::{handler, Handler, Table};

/// `param=get` types of the vendor document (section 5).
pub const GET_TYPES: &[&str] = &[
    "resolution",
    "current_resolution",
    "app_version",
    "serial_number",
    "screen_pos",
    "available_video_type",
    "video_type",
    "device_info",
    "preview_resolution",
    "get_cache_data",
    "get_all_cache_data",
];

/// `param=set` types (chosen by `type`).
pub const SET_TYPES: &[&str] = &["set_cache_data", "clean_cache_data"];

/// `param=set` settings (chosen by the key present), in the order they are looked for.
pub const SET_KEYS: &[&str] = &[
    "resolution",
    "preview_resolution",
    "video_type",
    "framerate",
    "enable_sign_screen_mouse",
    "cutpage",
];

fn not_built(what: String) -> Handler {
    handler(move |_req| {
        let what = what.clone();
        async move {
            Err(ApiError::not_available(Text::new(
                format!("{what} 尚未在本设备固件中实现"),
                format!("{what} is not implemented in this firmware yet"),
            )))
        }
    })
}

/// The sub-handlers of `param=get` / `param=set`.
#[derive(Clone)]
pub struct ParamRoutes {
    get: HashMap<&'static str, Handler>,
    set_types: HashMap<&'static str, Handler>,
    set_keys: HashMap<&'static str, Handler>,
    /// Sub-functions registered so far ("get resolution" ...), to refuse a second registration.
    registered: std::collections::HashSet<String>,
}

impl Default for ParamRoutes {
    fn default() -> Self {
        ParamRoutes::new()
    }
}

impl ParamRoutes {
    pub fn new() -> ParamRoutes {
        ParamRoutes {
            get: GET_TYPES
                .iter()
                .map(|t| (*t, not_built(format!("param=get type={t}"))))
                .collect(),
            set_types: SET_TYPES
                .iter()
                .map(|t| (*t, not_built(format!("param=set type={t}"))))
                .collect(),
            set_keys: SET_KEYS
                .iter()
                .map(|k| (*k, not_built(format!("param=set {k}"))))
                .collect(),
            registered: Default::default(),
        }
    }

    fn once(&mut self, what: &str, name: &str) {
        assert!(
            self.registered.insert(format!("{what} {name}")),
            "param {what} {name} is registered twice"
        );
    }

    /// Handle `param=get` with `type` = `ty`.
    pub fn on_get(&mut self, ty: &str, h: Handler) {
        let ty = known(GET_TYPES, ty);
        self.once("get", ty);
        self.get.insert(ty, h);
    }

    /// Handle `param=set` with `type` = `ty`.
    pub fn on_set_type(&mut self, ty: &str, h: Handler) {
        let ty = known(SET_TYPES, ty);
        self.once("set type", ty);
        self.set_types.insert(ty, h);
    }

    /// Handle `param=set` carrying the setting `key`.
    pub fn on_set_key(&mut self, key: &str, h: Handler) {
        let key = known(SET_KEYS, key);
        self.once("set key", key);
        self.set_keys.insert(key, h);
    }

    /// Install `param=get` and `param=set` in the table.
    pub fn install(self, table: &mut Table) {
        let get = self.get;
        table.register(
            "param",
            "get",
            handler(move |req: ApiRequest| {
                let get = get.clone();
                async move {
                    let ty = req.fields().str("type").unwrap_or_default();
                    let Some(h) = get.get(ty.to_ascii_lowercase().as_str()) else {
                        return Err(unknown_type(&ty, GET_TYPES));
                    };
                    h(req).await
                }
            }),
        );
        let set_types = self.set_types;
        let set_keys = self.set_keys;
        table.register(
            "param",
            "set",
            handler(move |req: ApiRequest| {
                let set_types = set_types.clone();
                let set_keys = set_keys.clone();
                async move {
                    let f = req.fields();
                    if let Some(ty) = f.str_nonempty("type") {
                        let Some(h) = set_types.get(ty.to_ascii_lowercase().as_str()) else {
                            return Err(unknown_type(&ty, SET_TYPES));
                        };
                        return h(req).await;
                    }
                    for key in SET_KEYS {
                        if f.has(key) {
                            return set_keys[key](req).await;
                        }
                    }
                    Err(ApiError::with(
                        ErrorKind::InvalidParam,
                        Text::new(
                            format!("缺少要设置的参数，可用：type、{}", SET_KEYS.join("、")),
                            format!(
                                "nothing to set; expected type or one of {}",
                                SET_KEYS.join(", ")
                            ),
                        ),
                    ))
                }
            }),
        );
    }
}

fn known(list: &[&'static str], name: &str) -> &'static str {
    list.iter()
        .find(|t| t.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or_else(|| panic!("{name} is not a vendor param name"))
}

fn unknown_type(ty: &str, valid: &[&str]) -> ApiError {
    ApiError::with(
        ErrorKind::InvalidParam,
        Text::new(
            format!("未知的 type \"{ty}\"，可用：{}", valid.join("、")),
            format!("unknown type \"{ty}\"; valid: {}", valid.join(", ")),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Reply;

    fn nothing() -> Handler {
        handler(|_req| async { Ok(Reply::ok()) })
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn sub_function_registered_twice() {
        let mut p = ParamRoutes::new();
        p.on_get("app_version", nothing());
        p.on_get("APP_VERSION", nothing());
    }

    #[test]
    #[should_panic(expected = "not a vendor param name")]
    fn unknown_sub_function() {
        ParamRoutes::new().on_set_key("framerat", nothing());
    }
}
