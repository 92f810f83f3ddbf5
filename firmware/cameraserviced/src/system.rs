//! System parameters that need no hardware: version, serial number, device information
//! (vendor 5.5, 5.6, 5.13) and the cache data store (5.16, 5.17).

use std::sync::Arc;

use api::{blocking, handler, ApiError, ErrorKind, ParamRoutes, Reply, Text};
use serde_json::{json, Value};
use storage::KvStore;

use crate::config::DeviceConfig;

/// Device identity as reported to pages.
#[derive(Clone)]
pub struct Identity {
    pub app_version: String,
    pub serial_number: String,
    pub brand_name: String,
    pub device_type: String,
    pub company_name: String,
    pub credit_code: String,
}

impl Identity {
    pub fn from_config(c: &DeviceConfig) -> Identity {
        let serial_number = if c.serial_number.is_empty() {
            board_serial().unwrap_or_default()
        } else {
            c.serial_number.clone()
        };
        Identity {
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            serial_number,
            brand_name: c.brand_name.clone(),
            device_type: c.device_type.clone(),
            company_name: c.company_name.clone(),
            credit_code: c.credit_code.clone(),
        }
    }
}

/// The board's own serial number (Raspberry Pi and other device-tree boards).
fn board_serial() -> Option<String> {
    let raw = std::fs::read("/sys/firmware/devicetree/base/serial-number").ok()?;
    let s = String::from_utf8_lossy(&raw)
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string();
    (!s.is_empty()).then_some(s)
}

pub fn register(params: &mut ParamRoutes, id: Identity, cache: Arc<KvStore>) {
    let v = id.app_version.clone();
    params.on_get(
        "app_version",
        handler(move |_| {
            let v = v.clone();
            async move { Ok(Reply::ok().with("app_version", v)) }
        }),
    );
    let s = id.serial_number.clone();
    params.on_get(
        "serial_number",
        handler(move |_| {
            let s = s.clone();
            async move { Ok(Reply::ok().with("serial_number", s)) }
        }),
    );
    let info = json!({
        "serial_number": id.serial_number,
        "brand_name": id.brand_name,
        "device_type": id.device_type,
        "company_name": id.company_name,
        "credit_code": id.credit_code,
    });
    params.on_get(
        "device_info",
        handler(move |_| {
            let info = info.clone();
            async move { Ok(Reply::ok().with("device_info", info)) }
        }),
    );

    let c = cache.clone();
    params.on_set_type(
        "set_cache_data",
        handler(move |req| {
            let c = c.clone();
            async move {
                let f = req.fields();
                let key = f.str("key").ok_or_else(|| ApiError::missing("key"))?;
                if key.is_empty() {
                    return Err(ApiError::missing("key"));
                }
                let value = match f.get("value") {
                    None | Some(Value::Null) => String::new(),
                    Some(v) => api::request::scalar_string(v).ok_or_else(|| {
                        ApiError::invalid("value", Text::new("必须为字符串", "must be a string"))
                    })?,
                };
                // Keep the value exactly as sent (scalar_string trims; strings are stored as is).
                let value = match f.get("value") {
                    Some(Value::String(s)) => s.clone(),
                    _ => value,
                };
                blocking(move || Ok(c.set(&key, &value)?)).await?;
                Ok(Reply::ok())
            }
        }),
    );
    let c = cache.clone();
    params.on_set_type(
        "clean_cache_data",
        handler(move |_| {
            let c = c.clone();
            async move {
                blocking(move || Ok(c.clear()?)).await?;
                Ok(Reply::ok())
            }
        }),
    );
    let c = cache.clone();
    params.on_get(
        "get_cache_data",
        handler(move |req| {
            let c = c.clone();
            async move {
                let key = req
                    .fields()
                    .str("key")
                    .ok_or_else(|| ApiError::missing("key"))?;
                match c.get(&key) {
                    Some(value) => Ok(Reply::ok().with("key", key).with("value", value)),
                    None => Err(ApiError::with(
                        ErrorKind::NotFound,
                        Text::new(
                            format!("没有缓存数据 {key}"),
                            format!("no cache data {key}"),
                        ),
                    )),
                }
            }
        }),
    );
    let c = cache;
    params.on_get(
        "get_all_cache_data",
        handler(move |_| {
            let c = c.clone();
            async move {
                let all: Vec<Value> = c
                    .all()
                    .into_iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect();
                Ok(Reply::ok().with("all_cache_data", all))
            }
        }),
    );
}
