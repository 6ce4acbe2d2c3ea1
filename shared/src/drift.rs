//! What fortimock knows of the SoftToken requests it receives, to notice what it does not: the `__type`s,
//! the `__version`s real appliances and apps send, and each message's fields. A request that carries
//! something else still gets the answer it always got (unknown fields are ignored, as the real service's
//! ASP.NET deserializer ignores them); the coverage report lists it as drift.
//!
//! Finding a message's unknown fields decodes it and serializes it again, so it is done once per distinct
//! set of keys ([`key_set`]), never per request.

use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

use crate::envelope::Message;
use crate::hardware::HardwareActivationRequest;
use crate::license::ActivationLicenseRequest;
use crate::mobile::MobileProvisionRequest;
use crate::provision::{PollingRequest, ProvisionRequest};
use crate::token_transfer::MobileTransferRequest;

/// A request message type fortimock serves.
pub struct KnownRequest {
    pub type_name: &'static str,
    /// The `__version` values seen from real senders (absent and empty are always known).
    pub versions: &'static [&'static str],
    /// The fields of a decoded body that the message type does not have.
    pub unknown_fields: fn(&Map<String, Value>) -> Vec<String>,
}

/// FortiOS 6.0 and 7.0 send `"4"` (every appliance capture).
const APPLIANCE_VERSIONS: &[&str] = &["4"];
/// FortiToken Mobile 4.9.9 sends `"5"` (the app capture).
const APP_VERSIONS: &[&str] = &["5"];

/// Every SoftToken request type a fortimock service serves.
pub const KNOWN_REQUESTS: &[KnownRequest] = &[
    known::<ActivationLicenseRequest>(APPLIANCE_VERSIONS),
    known::<HardwareActivationRequest>(APPLIANCE_VERSIONS),
    known::<ProvisionRequest>(APPLIANCE_VERSIONS),
    known::<PollingRequest>(APPLIANCE_VERSIONS),
    known::<MobileProvisionRequest>(APP_VERSIONS),
    known::<MobileTransferRequest>(APP_VERSIONS),
];

const fn known<T: Message>(versions: &'static [&'static str]) -> KnownRequest {
    KnownRequest {
        type_name: T::TYPE,
        versions,
        unknown_fields: unknown_fields_of::<T>,
    }
}

/// The request type named `type_name`, if fortimock serves it.
pub fn known_request(type_name: &str) -> Option<&'static KnownRequest> {
    KNOWN_REQUESTS.iter().find(|k| k.type_name == type_name)
}

impl KnownRequest {
    /// Whether `version` (a body's `__version`) is one fortimock knows.
    pub fn knows_version(&self, version: &str) -> bool {
        version.is_empty() || self.versions.contains(&version)
    }
}

/// The `__version` of a decoded body, when it is a string.
pub fn version_of(body: &Map<String, Value>) -> Option<&str> {
    body.get("__version").and_then(Value::as_str)
}

/// A hash of every key of `body` at every depth, with where it is (values left out): two bodies with the
/// same fields in the same places have the same key set.
pub fn key_set(type_name: &str, body: &Map<String, Value>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    type_name.hash(&mut hasher);
    hash_keys(body, 0, &mut hasher);
    hasher.finish()
}

fn hash_keys(body: &Map<String, Value>, depth: u32, hasher: &mut impl Hasher) {
    for (key, value) in body {
        depth.hash(hasher);
        key.hash(hasher);
        match value {
            Value::Object(inner) => hash_keys(inner, depth + 1, hasher),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        hash_keys(inner, depth + 1, hasher);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The fields of `body` that `T` does not have: `body` decoded as `T` and serialized again, every key of
/// `body` missing from the result is unknown (`tokens[].x_new` inside arrays). A body that does not decode
/// has none (the service refuses it, naming the field at fault).
pub fn unknown_fields_of<T: Message>(body: &Map<String, Value>) -> Vec<String> {
    let decoded = Value::Object(body.clone());
    let Ok(message) = T::deserialize(&decoded) else {
        return Vec::new();
    };
    let Ok(Value::Object(known)) = serde_json::to_value(&message) else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    compare(body, &known, "", &mut unknown);
    unknown.sort();
    unknown.dedup();
    unknown
}

fn compare(
    body: &Map<String, Value>,
    known: &Map<String, Value>,
    at: &str,
    unknown: &mut Vec<String>,
) {
    for (key, value) in body {
        // The envelope's own keys are not fields of the message.
        if at.is_empty() && key == "__type" {
            continue;
        }
        let path = format!("{at}{key}");
        let Some(echo) = known.get(key) else {
            unknown.push(path);
            continue;
        };
        match (value, echo) {
            (Value::Object(inner), Value::Object(known_inner)) => {
                compare(inner, known_inner, &format!("{path}."), unknown);
            }
            (Value::Array(items), Value::Array(known_items)) => {
                for (item, known_item) in items.iter().zip(known_items) {
                    if let (Value::Object(inner), Value::Object(known_inner)) = (item, known_item) {
                        compare(inner, known_inner, &format!("{path}[]."), unknown);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn captured_requests_have_no_unknown_fields() {
        for (file, type_name) in [
            ("polling.request.json", PollingRequest::TYPE),
            ("mobile.request.json", MobileProvisionRequest::TYPE),
            (
                "license-import-error16.request.json",
                ActivationLicenseRequest::TYPE,
            ),
            ("provision-not-owner.request.json", ProvisionRequest::TYPE),
        ] {
            let path = format!("{}/../fixtures/wire/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(path).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            let d = value["d"].as_object().unwrap();
            let known = known_request(type_name).unwrap();
            assert_eq!((known.unknown_fields)(d), Vec::<String>::new(), "{file}");
            assert!(known.knows_version(version_of(d).unwrap()), "{file}");
        }
    }

    #[test]
    fn new_fields_are_found_at_any_depth() {
        let d = body(
            r#"{"__type": "SoftToken.PollingRequest", "__version": "9", "serial_number": "FGVM01TM00000001",
                "x_new": 1, "tokens": [{"token": "FTKMOB0000000001", "x_inner": true}]}"#,
        );
        let known = known_request(PollingRequest::TYPE).unwrap();
        assert_eq!((known.unknown_fields)(&d), ["tokens[].x_inner", "x_new"]);
        assert!(!known.knows_version("9"));
        let same_keys = body(
            r#"{"__type": "SoftToken.PollingRequest", "__version": "4", "serial_number": "FGVM01TM00000002",
                "x_new": 2, "tokens": [{"token": "FTKMOB0000000002", "x_inner": false}]}"#,
        );
        assert_eq!(key_set("t", &d), key_set("t", &same_keys));
        assert_ne!(key_set("t", &d), key_set("t", &body(r#"{"x_new": 1}"#)));
    }
}
