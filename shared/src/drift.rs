//! What fortimock knows of the SoftToken requests it receives, to notice what it does not: the `__type`s,
//! the `__version`s real appliances and apps send, and each message's fields. A request that carries
//! something else still gets the answer it always got (unknown fields are ignored, as the real service's
//! ASP.NET deserializer ignores them); the coverage report lists it as drift.
//!
//! Finding a message's unknown fields decodes it and serializes it again, so it is done once per distinct
//! set of keys ([`key_set`]), never per request.

use std::hash::{BuildHasher, Hash, Hasher};

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

/// A hash of every key of `body` at every depth, with its depth (values left out), in any order: two
/// bodies with the same fields in the same places have the same key set.
pub fn key_set(type_name: &str, body: &Map<String, Value>) -> u64 {
    let mut sum = key_hash(u32::MAX, type_name);
    hash_keys(body, 0, &mut sum);
    sum
}

/// One key's share of a key set; a key set is the wrapping sum of its keys' shares, so the order keys come
/// in does not matter (a document's may differ from the text's).
fn key_hash(depth: u32, key: &str) -> u64 {
    // A fixed seed: the same key set sums the same on every request (foldhash: SipHash was 2.5% of a 50-token
    // poll's instructions, for a sum nothing outside this process sees).
    let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
    depth.hash(&mut hasher);
    key.hash(&mut hasher);
    hasher.finish()
}

fn hash_keys(body: &Map<String, Value>, depth: u32, sum: &mut u64) {
    for (key, value) in body {
        *sum = sum.wrapping_add(key_hash(depth, key));
        match value {
            Value::Object(inner) => hash_keys(inner, depth + 1, sum),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        hash_keys(inner, depth + 1, sum);
                    }
                }
            }
            _ => {}
        }
    }
}

/// What the drift check needs of a body on every request: its [`key_set`] and its `__version` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub key_set: u64,
    pub version: Option<String>,
}

impl Shape {
    /// The shape of a decoded `d` (`__type` left out).
    pub fn of_document(type_name: &str, body: &Map<String, Value>) -> Shape {
        Shape {
            key_set: key_set(type_name, body),
            version: version_of(body).map(ToOwned::to_owned),
        }
    }

    /// The shape of `d`'s text, read in one pass without building a document: the same [`key_set`] as
    /// [`Shape::of_document`] gives (`__type` at the top left out). `None` for text it cannot read that way
    /// (a key written with escapes, or not a JSON object): decode it and use [`Shape::of_document`].
    pub fn of_text(type_name: &str, text: &str) -> Option<Shape> {
        let (sum, version) = walk(text, None)?;
        Some(Shape {
            key_set: sum.wrapping_add(key_hash(u32::MAX, type_name)),
            version,
        })
    }

    /// `d`'s `__type` and its shape, from `d`'s text in the same one pass (the envelope's check reads the
    /// type and the drift check the shape: one read of the body instead of two). `None` where
    /// [`Shape::of_text`] gives none, and when `d` has no `__type`, more than one, or one that is not a
    /// string: the caller reads the text the careful way.
    ///
    /// The answers for the last texts this thread read are kept (`RecentShapes`): an appliance sends the
    /// same PollingRequest, byte for byte, every time it polls until its tokens are activated, so most
    /// reads find their text there and skip the walk.
    pub fn typed_of_text(text: &str) -> Option<(String, Shape)> {
        if text.len() > RecentShapes::LONGEST {
            return Shape::typed_walk(text);
        }
        RECENT.with_borrow_mut(|recent| recent.typed_of_text(text))
    }

    fn typed_walk(text: &str) -> Option<(String, Shape)> {
        let mut type_name = None;
        let (sum, version) = walk(text, Some(&mut type_name))?;
        let type_name = type_name?;
        let key_set = sum.wrapping_add(key_hash(u32::MAX, &type_name));
        Some((type_name, Shape { key_set, version }))
    }
}

thread_local! {
    static RECENT: std::cell::RefCell<RecentShapes> = std::cell::RefCell::new(RecentShapes::default());
}

/// The type and shape of the texts [`Shape::typed_of_text`] read last on this thread, each kept with its
/// text in the slot its hash picks (a later text with the same slot replaces it). A text is found only
/// where it is kept byte for byte, so an answer from here is the walk's answer. At most [`Self::SLOTS`]
/// texts of at most [`Self::LONGEST`] bytes: 512 KiB per thread at worst, about 60 KiB for polls.
#[derive(Default)]
struct RecentShapes {
    slots: Vec<Option<RecentShape>>,
}

struct RecentShape {
    text: Box<str>,
    type_name: String,
    shape: Shape,
}

impl RecentShapes {
    /// Enough for a lab's appliances polling by turns through one worker, small enough to stay in a cache.
    const SLOTS: usize = 256;
    /// A poll of a few tokens; longer texts (a 5,000-token provision) are walked every time.
    const LONGEST: usize = 2048;

    fn typed_of_text(&mut self, text: &str) -> Option<(String, Shape)> {
        if self.slots.is_empty() {
            self.slots.resize_with(Self::SLOTS, || None);
        }
        let hash = foldhash::fast::FixedState::with_seed(0).hash_one(text);
        // The low bits of a foldhash pick the slot: `SLOTS` is a power of two.
        let slot = usize::try_from(hash).unwrap_or_default() % Self::SLOTS;
        if let Some(Some(recent)) = self.slots.get(slot)
            && *recent.text == *text
        {
            return Some((recent.type_name.clone(), recent.shape.clone()));
        }
        let (type_name, shape) = Shape::typed_walk(text)?;
        if let Some(kept) = self.slots.get_mut(slot) {
            *kept = Some(RecentShape {
                text: text.into(),
                type_name: type_name.clone(),
                shape: shape.clone(),
            });
        }
        Some((type_name, shape))
    }
}

/// The sum of the keys' shares of `d`'s text (`__type` at the top left out) and its `__version`; with
/// `type_name`, the top's `__type` string goes there. `None` for text not read this way.
fn walk(text: &str, type_name: Option<&mut Option<String>>) -> Option<(u64, Option<String>)> {
    let mut sum = 0u64;
    let mut version = None;
    let mut reader = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(
        KeyWalk {
            depth: 0,
            in_array: false,
            sum: &mut sum,
            version: Some(&mut version),
            type_name,
        },
        &mut reader,
    )
    .ok()?;
    reader.end().ok()?;
    Some((sum, version))
}

/// Walks a JSON value adding up its keys' shares as [`hash_keys`] does: an object's keys at `depth`, its values one
/// deeper; the objects of an array at the array's depth; arrays inside arrays and scalars add nothing.
struct KeyWalk<'w> {
    depth: u32,
    in_array: bool,
    sum: &'w mut u64,
    /// At the top: where `__version` goes (and `__type` is left out).
    version: Option<&'w mut Option<String>>,
    /// At the top, when asked for: where the `__type` string goes (a second one is an error).
    type_name: Option<&'w mut Option<String>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeyWalk<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyWalk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let KeyWalk {
            depth,
            sum,
            mut version,
            mut type_name,
            ..
        } = self;
        // A key written with escapes cannot be borrowed: the caller decodes the body instead.
        while let Some(key) = map.next_key::<&'de str>()? {
            if let Some(version) = version.as_deref_mut() {
                if key == "__type" {
                    match type_name.as_deref_mut() {
                        Some(Some(_)) => return Err(serde::de::Error::duplicate_field("__type")),
                        Some(slot) => *slot = Some(map.next_value::<String>()?),
                        None => drop(map.next_value::<serde::de::IgnoredAny>()?),
                    }
                    continue;
                }
                if key == "__version" {
                    *sum = sum.wrapping_add(key_hash(depth, key));
                    // A later `__version` replaces an earlier one, as in a document.
                    *version = match map.next_value::<Value>()? {
                        Value::String(text) => Some(text),
                        // Hashed as a document's would be.
                        Value::Object(inner) => {
                            hash_keys(&inner, depth + 1, sum);
                            None
                        }
                        Value::Array(items) => {
                            for item in &items {
                                if let Value::Object(inner) = item {
                                    hash_keys(inner, depth + 1, sum);
                                }
                            }
                            None
                        }
                        _ => None,
                    };
                    continue;
                }
            }
            *sum = sum.wrapping_add(key_hash(depth, key));
            map.next_value_seed(KeyWalk {
                depth: depth + 1,
                in_array: false,
                sum: &mut *sum,
                version: None,
                type_name: None,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.in_array {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        let depth = self.depth;
        while seq
            .next_element_seed(KeyWalk {
                depth,
                in_array: true,
                sum: &mut *self.sum,
                version: None,
                type_name: None,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
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

#[cfg(test)]
mod shape_tests {
    use super::*;

    /// Reading the text in one pass gives the shape a document gives, whatever the body holds.
    #[test]
    fn a_texts_shape_is_its_documents() {
        for text in [
            r#"{"__type":"T","__version":"4","serial_number":"FGT1","tokens":[{"token":"A","x":1},{"token":"B"}]}"#,
            r#"{"serial_number":"FGT1","__version":"9","x_new":{"a":[1,{"b":2}],"c":null},"tokens":[[{"z":1}],2,"s"]}"#,
            r#"{"__version":{"odd":1},"tokens":[]}"#,
            r#"{"__version":[{"odd":1}],"n":1.5,"t":true,"f":false,"u":null,"neg":-3}"#,
            r#"{}"#,
        ] {
            let Value::Object(mut document) = serde_json::from_str(text).unwrap() else {
                unreachable!()
            };
            document.remove("__type");
            assert_eq!(
                Shape::of_text("T", text),
                Some(Shape::of_document("T", &document)),
                "{text}"
            );
        }
        assert_ne!(
            Shape::of_text("T", r#"{"a":1}"#),
            Shape::of_text("T", r#"{"b":1}"#)
        );
        // Text it cannot read in one pass is left to the document.
        assert_eq!(Shape::of_text("T", r#"{"\u0061":1}"#), None);
        assert_eq!(Shape::of_text("T", r#"{"a":1} x"#), None);
    }

    /// Read with its type in one pass, a text gives the type as written (escapes decoded) and the shape
    /// [`Shape::of_text`] gives for that type; without exactly one string `__type` it gives nothing.
    #[test]
    fn a_texts_type_and_shape_come_in_one_read() {
        for (text, type_name) in [
            (
                r#"{"__version":"4","__type":"SoftToken.PollingRequest","tokens":[{"token":"A"}]}"#,
                "SoftToken.PollingRequest",
            ),
            (r#"{"__type":"T\u0031","x":{"y":1}}"#, "T1"),
        ] {
            assert_eq!(
                Shape::typed_of_text(text),
                Some((
                    type_name.to_owned(),
                    Shape::of_text(type_name, text).unwrap()
                )),
                "{text}"
            );
        }
        for text in [
            r#"{"tokens":[]}"#,
            r#"{"__type":1}"#,
            r#"{"__type":"A","__type":"A"}"#,
            r#"{"__type":"A","\u0061":1}"#,
            r#"["__type"]"#,
        ] {
            assert_eq!(Shape::typed_of_text(text), None, "{text}");
            // Declined texts are not kept: the second read declines too.
            assert_eq!(Shape::typed_of_text(text), None, "{text}");
        }
    }

    /// Texts read again (from the slots of [`RecentShapes`], many sharing a slot) give what the walk gives;
    /// a text too long to keep is walked every time.
    #[test]
    fn texts_read_again_give_the_walks_answer() {
        let texts: Vec<String> = (0..3 * RecentShapes::SLOTS)
            .map(|n| {
                let extra = if n % 3 == 0 { r#","x_new":{"y":1}"# } else { "" };
                format!(
                    r#"{{"__type":"SoftToken.PollingRequest","__version":"{}","serial_number":"FGVM01TM{n:08}"{extra},"tokens":[{{"token":"FTKMOB{n:010}"}}]}}"#,
                    n % 5
                )
            })
            .chain(std::iter::once(format!(
                r#"{{"__type":"T","pad":"{}"}}"#,
                "p".repeat(RecentShapes::LONGEST)
            )))
            .collect();
        for round in 0..3 {
            for text in texts.iter().chain(texts.iter().rev()) {
                assert_eq!(
                    Shape::typed_of_text(text),
                    Shape::typed_walk(text),
                    "round {round}: {text}"
                );
            }
        }
        let (type_name, shape) = Shape::typed_of_text(&texts[0]).unwrap();
        assert_eq!(type_name, "SoftToken.PollingRequest");
        assert_eq!(shape.version.as_deref(), Some("0"));
        assert_ne!(
            Shape::typed_of_text(&texts[0]),
            Shape::typed_of_text(&texts[1])
        );
    }
}
