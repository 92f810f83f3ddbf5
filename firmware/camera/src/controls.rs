//! The vendor's 17 video properties (sections 3.7, 3.8) mapped to V4L2 controls, and the rules
//! for setting them: one property per call; a value outside the control's range switches the
//! control to automatic when it has an automatic mode, else sets its default.

use crate::types::{CamError, Result};

/// V4L2 control ids (linux/v4l2-controls.h).
pub mod cid {
    const USER: u32 = 0x0098_0900;
    const CAMERA: u32 = 0x009a_0900;
    pub const BRIGHTNESS: u32 = USER;
    pub const CONTRAST: u32 = USER + 1;
    pub const SATURATION: u32 = USER + 2;
    pub const HUE: u32 = USER + 3;
    pub const AUTO_WHITE_BALANCE: u32 = USER + 12;
    pub const GAMMA: u32 = USER + 16;
    pub const AUTOGAIN: u32 = USER + 18;
    pub const GAIN: u32 = USER + 19;
    pub const WHITE_BALANCE_TEMPERATURE: u32 = USER + 26;
    pub const SHARPNESS: u32 = USER + 27;
    pub const BACKLIGHT_COMPENSATION: u32 = USER + 28;
    pub const COLOR_KILLER: u32 = USER + 30;
    pub const ROTATE: u32 = USER + 34;
    pub const EXPOSURE_AUTO: u32 = CAMERA + 1;
    pub const EXPOSURE_ABSOLUTE: u32 = CAMERA + 2;
    pub const PAN_ABSOLUTE: u32 = CAMERA + 8;
    pub const TILT_ABSOLUTE: u32 = CAMERA + 9;
    pub const FOCUS_ABSOLUTE: u32 = CAMERA + 10;
    pub const FOCUS_AUTO: u32 = CAMERA + 12;
    pub const ZOOM_ABSOLUTE: u32 = CAMERA + 13;
    pub const IRIS_ABSOLUTE: u32 = CAMERA + 17;
}

/// V4L2_EXPOSURE_AUTO menu values.
const EXPOSURE_MANUAL: i64 = 1;
const EXPOSURE_APERTURE_PRIORITY: i64 = 3;

/// How a property's automatic mode is switched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoControl {
    pub id: u32,
    /// Value meaning "automatic".
    pub on: i64,
    /// Value meaning "manual".
    pub off: i64,
}

/// One vendor property.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Property {
    pub name: &'static str,
    pub id: u32,
    /// The value is the control's inverse (colorenable = not colour killer).
    pub inverted: bool,
    pub auto: Option<AutoControl>,
}

const fn p(name: &'static str, id: u32, auto: Option<AutoControl>) -> Property {
    Property {
        name,
        id,
        inverted: false,
        auto,
    }
}

/// The vendor's property names in document order.
pub const PROPERTIES: &[Property] = &[
    p("brightness", cid::BRIGHTNESS, None),
    p("contrast", cid::CONTRAST, None),
    p("hue", cid::HUE, None),
    p("saturation", cid::SATURATION, None),
    p("sharpness", cid::SHARPNESS, None),
    p("gamma", cid::GAMMA, None),
    Property {
        name: "colorenable",
        id: cid::COLOR_KILLER,
        inverted: true,
        auto: None,
    },
    p(
        "whitebalance",
        cid::WHITE_BALANCE_TEMPERATURE,
        Some(AutoControl {
            id: cid::AUTO_WHITE_BALANCE,
            on: 1,
            off: 0,
        }),
    ),
    p("backlightcompensation", cid::BACKLIGHT_COMPENSATION, None),
    p(
        "gain",
        cid::GAIN,
        Some(AutoControl {
            id: cid::AUTOGAIN,
            on: 1,
            off: 0,
        }),
    ),
    p("pan", cid::PAN_ABSOLUTE, None),
    p("tilt", cid::TILT_ABSOLUTE, None),
    p("roll", cid::ROTATE, None),
    p("zoom", cid::ZOOM_ABSOLUTE, None),
    p(
        "exposure",
        cid::EXPOSURE_ABSOLUTE,
        Some(AutoControl {
            id: cid::EXPOSURE_AUTO,
            on: EXPOSURE_APERTURE_PRIORITY,
            off: EXPOSURE_MANUAL,
        }),
    ),
    p("iris", cid::IRIS_ABSOLUTE, None),
    p(
        "focus",
        cid::FOCUS_ABSOLUTE,
        Some(AutoControl {
            id: cid::FOCUS_AUTO,
            on: 1,
            off: 0,
        }),
    ),
];

pub fn property(name: &str) -> Option<&'static Property> {
    PROPERTIES
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// A control's range as the device reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlInfo {
    pub id: u32,
    pub min: i64,
    pub max: i64,
    pub step: i64,
    pub default: i64,
    /// Present but not writable (read-only or inactive flags).
    pub read_only: bool,
}

impl ControlInfo {
    /// A writable control with step 1.
    pub const fn simple(id: u32, min: i64, max: i64, default: i64) -> ControlInfo {
        ControlInfo {
            id,
            min,
            max,
            step: 1,
            default,
            read_only: false,
        }
    }
}

/// Access to a device's controls (V4L2 ioctls, or the simulated camera's table).
pub trait ControlAccess: Send + Sync {
    fn query(&self, id: u32) -> Option<ControlInfo>;
    fn get(&self, id: u32) -> Result<i64>;
    fn set(&self, id: u32, value: i64) -> Result<()>;
}

/// What `video=getproperty` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyState {
    pub min: i64,
    pub max: i64,
    pub step: i64,
    pub default: i64,
    pub current: i64,
    pub is_auto: bool,
}

fn invert(info: &ControlInfo, v: i64) -> i64 {
    info.max + info.min - v
}

/// Read a property. `Ok(None)` when the device lacks it (settable "1").
pub fn get_property(dev: &dyn ControlAccess, prop: &Property) -> Result<Option<PropertyState>> {
    let Some(info) = dev.query(prop.id) else {
        return Ok(None);
    };
    let raw = dev.get(prop.id)?;
    let is_auto = match prop.auto {
        Some(a) if dev.query(a.id).is_some() => dev.get(a.id)? == a.on,
        _ => false,
    };
    let (current, default) = if prop.inverted {
        (invert(&info, raw), invert(&info, info.default))
    } else {
        (raw, info.default)
    };
    Ok(Some(PropertyState {
        min: info.min,
        max: info.max,
        step: info.step.max(1),
        default,
        current,
        is_auto,
    }))
}

/// What a set did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SetOutcome {
    Set(i64),
    Auto,
    Default(i64),
}

/// Set a property by the vendor's rule. `Ok(None)` when the device lacks it.
pub fn set_property(
    dev: &dyn ControlAccess,
    prop: &Property,
    value: &str,
) -> Result<Option<SetOutcome>> {
    let v: i64 = match crate::parse_number(value) {
        Some(v) => v,
        None => return Err(CamError::BadValue(value.to_string())),
    };
    let Some(info) = dev.query(prop.id) else {
        return Ok(None);
    };
    let auto = prop.auto.filter(|a| dev.query(a.id).is_some());
    if v < info.min || v > info.max {
        if let Some(a) = auto {
            dev.set(a.id, a.on)?;
            return Ok(Some(SetOutcome::Auto));
        }
        dev.set(prop.id, info.default)?;
        return Ok(Some(SetOutcome::Default(info.default)));
    }
    if let Some(a) = auto {
        if dev.get(a.id)? != a.off {
            dev.set(a.id, a.off)?;
        }
    }
    let raw = if prop.inverted { invert(&info, v) } else { v };
    // Snap to the control's step.
    let step = info.step.max(1);
    let raw = info.min + ((raw - info.min) / step) * step;
    dev.set(prop.id, raw)?;
    Ok(Some(SetOutcome::Set(if prop.inverted {
        invert(&info, raw)
    } else {
        raw
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    struct Fake {
        info: HashMap<u32, ControlInfo>,
        values: Mutex<HashMap<u32, i64>>,
    }

    impl ControlAccess for Fake {
        fn query(&self, id: u32) -> Option<ControlInfo> {
            self.info.get(&id).copied()
        }
        fn get(&self, id: u32) -> Result<i64> {
            Ok(*self.values.lock().unwrap().get(&id).unwrap())
        }
        fn set(&self, id: u32, value: i64) -> Result<()> {
            self.values.lock().unwrap().insert(id, value);
            Ok(())
        }
    }

    fn fake() -> Fake {
        let mut info = HashMap::new();
        info.insert(cid::CONTRAST, ControlInfo::simple(cid::CONTRAST, 0, 64, 32));
        info.insert(
            cid::EXPOSURE_ABSOLUTE,
            ControlInfo::simple(cid::EXPOSURE_ABSOLUTE, 3, 2047, 250),
        );
        info.insert(
            cid::EXPOSURE_AUTO,
            ControlInfo::simple(cid::EXPOSURE_AUTO, 0, 3, 3),
        );
        let values = [
            (cid::CONTRAST, 10),
            (cid::EXPOSURE_ABSOLUTE, 100),
            (cid::EXPOSURE_AUTO, 1),
        ]
        .into_iter()
        .collect();
        Fake {
            info,
            values: Mutex::new(values),
        }
    }

    #[test]
    fn out_of_range_goes_auto_or_default() {
        let f = fake();
        let exp = property("exposure").unwrap();
        assert_eq!(
            set_property(&f, exp, "999999").unwrap(),
            Some(SetOutcome::Auto)
        );
        assert!(get_property(&f, exp).unwrap().unwrap().is_auto);
        let con = property("contrast").unwrap();
        assert_eq!(
            set_property(&f, con, "999").unwrap(),
            Some(SetOutcome::Default(32))
        );
        assert_eq!(get_property(&f, con).unwrap().unwrap().current, 32);
    }

    #[test]
    fn in_range_turns_auto_off() {
        let f = fake();
        let exp = property("exposure").unwrap();
        set_property(&f, exp, "999999").unwrap();
        assert_eq!(
            set_property(&f, exp, "500").unwrap(),
            Some(SetOutcome::Set(500))
        );
        let st = get_property(&f, exp).unwrap().unwrap();
        assert!(!st.is_auto);
        assert_eq!(st.current, 500);
    }

    #[test]
    fn missing_property() {
        let f = fake();
        assert_eq!(get_property(&f, property("zoom").unwrap()).unwrap(), None);
        assert_eq!(
            set_property(&f, property("zoom").unwrap(), "1").unwrap(),
            None
        );
        assert!(set_property(&f, property("contrast").unwrap(), "abc").is_err());
    }

    #[test]
    fn seventeen_properties() {
        assert_eq!(PROPERTIES.len(), 17);
    }
}
