//! State snapshots (`GET` and `PUT /__admin/state`, `fortimock state export|import`): a service's stored
//! records as readable JSON, and the bundle of every service's state with the clock that `fortimock state`
//! writes, so a support engineer can hand over a lab exactly as it stood. fortimock's own API: fields may be
//! added, never renamed.
//!
//! A snapshot is the service's storage, record by record: each key as text when it reads as text (else
//! hex), each value as the JSON record it is (else text or hex). Secrets stay as stored: sealed with the
//! data dir's key, which never leaves the data dir, so state holding sealed records only imports where that
//! key is (`key_id` says which key it was).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::admin::ClockView;
use crate::scenario::ScenarioSpec;
use crate::time::UnixTime;

/// `format` of one service's state.
pub const STATE_FORMAT: &str = "fortimock-state/1";

/// `format` of a bundle of every service's state.
pub const BUNDLE_FORMAT: &str = "fortimock-bundle/1";

/// One service's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceState {
    /// The export format, `fortimock-state/1` (`STATE_FORMAT`).
    pub format: String,
    pub service: String,
    /// The fortimock version that exported it.
    pub version: String,
    pub exported: UnixTime,
    /// Names the key the service seals secrets with (a fingerprint, not the key); absent for services that
    /// seal nothing. State with a `key_id` imports only into a service with the same key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Every tree of the service's database, by name: its records in key order.
    pub trees: BTreeMap<String, Vec<StateRecord>>,
    /// The scenarios armed when it was exported (with what is left of their `times`); armed again on import.
    #[serde(default)]
    pub scenarios: Vec<ScenarioSpec>,
}

/// One stored record: exactly one of `key` and `key_hex`, and one of `value`, `value_text` and `value_hex`.
///
/// A JSON record travels as its raw text, neither parsed into a tree on export nor rebuilt on import: a lab
/// of a million tokens exports and imports in seconds, and what is stored is what the snapshot says.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hex: Option<String>,
    /// A JSON record (an object or an array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_hex: Option<String>,
}

/// A [`StateRecord`] borrowed from the stored bytes it shows, written as the same JSON: an export writes
/// each record straight from the store's pages, with no copy of its key or value.
#[derive(Debug, Clone, Serialize)]
pub struct StateRecordRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    /// Hex is made for the rare key or value that is not text.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_hex: Option<String>,
}

impl<'a> StateRecordRef<'a> {
    /// A stored record as a snapshot shows it: the key as text when it reads as text (else hex), the value
    /// as the JSON document it is (else text without control characters, else hex).
    pub fn from_bytes(key: &'a [u8], value: &'a [u8]) -> StateRecordRef<'a> {
        let (key, key_hex) = match std::str::from_utf8(key) {
            Ok(text) if key_is_text(text) => (Some(text), None),
            _ => (None, Some(hex::encode(key))),
        };
        let mut record = StateRecordRef {
            key,
            key_hex,
            value: None,
            value_text: None,
            value_hex: None,
        };
        let text = std::str::from_utf8(value).ok();
        let json = text
            .filter(|text| is_document(text))
            .and_then(|text| serde_json::from_str::<&RawValue>(text).ok());
        match (json, text) {
            (Some(json), _) => record.value = Some(json),
            (None, Some(text)) if !text.chars().any(char::is_control) => {
                record.value_text = Some(text);
            }
            _ => record.value_hex = Some(hex::encode(value)),
        }
        record
    }
}

impl From<StateRecordRef<'_>> for StateRecord {
    fn from(record: StateRecordRef<'_>) -> StateRecord {
        StateRecord {
            key: record.key.map(str::to_owned),
            key_hex: record.key_hex,
            value: record.value.map(RawValue::to_owned),
            value_text: record.value_text.map(str::to_owned),
            value_hex: record.value_hex,
        }
    }
}

/// `PUT /__admin/state`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StateImported {
    pub service: String,
    /// Records now stored.
    pub records: u64,
    /// Records the state replaced.
    pub replaced: u64,
    /// Scenarios armed from the state.
    pub scenarios: u64,
}

/// What `fortimock state export` writes: every service's state and the clock, at one moment.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    pub version: String,
    /// The lab clock when it was taken; `fortimock state import` sets the clock back to it.
    pub clock: ClockView,
    #[schema(value_type = Vec<ServiceState>)]
    pub services: Vec<ServiceStateText>,
}

/// One service's state in a [`Bundle`], kept as the JSON text of its [`ServiceState`]: a bundle carries
/// each service's export to its import as it is, never parsed record by record on the way (a lab of a
/// million tokens is two million records). The service checks it whole when it is imported.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServiceStateText(Box<RawValue>);

impl ServiceStateText {
    /// The text of a [`ServiceState`] (JSON that does not parse is refused).
    pub fn new(text: String) -> serde_json::Result<ServiceStateText> {
        RawValue::from_string(text).map(ServiceStateText)
    }

    /// The state's `service`, read without reading its records into memory.
    pub fn service(&self) -> serde_json::Result<String> {
        #[derive(Deserialize)]
        struct Named {
            service: String,
        }
        serde_json::from_str::<Named>(self.0.get()).map(|named| named.service)
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.0.get()
    }
}

/// Whether `text` is a JSON object or array (by its first character; the parser checks the rest).
fn is_document(text: &str) -> bool {
    text.trim_start().starts_with(['{', '['])
}

impl PartialEq for StateRecord {
    fn eq(&self, other: &StateRecord) -> bool {
        self.key == other.key
            && self.key_hex == other.key_hex
            && self.value.as_ref().map(|v| v.get()) == other.value.as_ref().map(|v| v.get())
            && self.value_text == other.value_text
            && self.value_hex == other.value_hex
    }
}

/// Whether `key` reads as text in a snapshot: UTF-8 without control characters, NUL (the separator of
/// compound keys) aside.
fn key_is_text(key: &str) -> bool {
    key.chars().all(|c| c == '\0' || !c.is_control())
}

impl StateRecord {
    /// A stored record as a snapshot shows it.
    pub fn from_bytes(key: &[u8], value: &[u8]) -> StateRecord {
        StateRecordRef::from_bytes(key, value).into()
    }

    /// The JSON record, parsed (`None` for a text or binary value, or JSON that does not parse).
    pub fn json(&self) -> Option<Value> {
        self.value
            .as_ref()
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }
}

/// A [`StateRecord`] as read from a snapshot's text, borrowing from it: what an import turns into the
/// bytes a store keeps ([`StateRecordText::into_parts`]: a key without escapes and a JSON value are the
/// text's own bytes, so an import need not copy them). Accepts exactly what [`StateRecord`] accepts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateRecordText<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub key: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub key_hex: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub value: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub value_text: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub value_hex: Option<Cow<'a, str>>,
}

/// An optional string, borrowed from the text when it stands there as it is (no escapes): serde would
/// copy a `Cow<str>` inside an `Option` (see [`crate::strict::Text`]).
fn borrowed_text<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<crate::strict::Text<'de>>::deserialize(deserializer)?.map(|text| text.0))
}

/// A record's key and value bytes, each borrowed from a snapshot's text or decoded from it.
pub type RecordParts<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

impl<'a> StateRecordText<'a> {
    /// The key and value bytes to store, borrowed from the text where they stand in it as they are
    /// (decoded from hex or escapes otherwise); the error says what is wrong.
    pub fn into_parts(self) -> Result<RecordParts<'a>, String> {
        fn bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
            match text {
                Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
                Cow::Owned(text) => Cow::Owned(text.into_bytes()),
            }
        }
        let key = match (self.key, self.key_hex) {
            (Some(text), None) => bytes(text),
            (None, Some(hex_text)) => Cow::Owned(
                hex::decode(hex_text.as_bytes()).map_err(|e| format!("key_hex is not hex: {e}"))?,
            ),
            _ => return Err("give exactly one of `key` and `key_hex`".to_owned()),
        };
        let value = match (self.value, self.value_text, self.value_hex) {
            (Some(json), None, None) if is_document(json.get()) => {
                Cow::Borrowed(json.get().as_bytes())
            }
            (Some(_), None, None) => return Err("value: a JSON object or array".to_owned()),
            (None, Some(text), None) => bytes(text),
            (None, None, Some(hex_text)) => Cow::Owned(
                hex::decode(hex_text.as_bytes())
                    .map_err(|e| format!("value_hex is not hex: {e}"))?,
            ),
            _ => {
                return Err("give exactly one of `value`, `value_text` and `value_hex`".to_owned());
            }
        };
        Ok((key, value))
    }

    /// [`StateRecordText::into_parts`], owned.
    pub fn to_bytes(self) -> Result<(Vec<u8>, Vec<u8>), String> {
        self.into_parts()
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an import stores for `record`: its snapshot text read back as [`StateRecordText`].
    fn stored(record: &StateRecord) -> Result<(Vec<u8>, Vec<u8>), String> {
        let text = serde_json::to_string(record).unwrap();
        serde_json::from_str::<StateRecordText>(&text)
            .unwrap()
            .to_bytes()
    }

    #[test]
    fn records_round_trip_and_read_as_what_they_are() {
        let cases: [(&[u8], &[u8]); 5] = [
            (
                b"EFTM000000000005",
                br#"{"v":2,"id":"EFTM000000000005","seats":5}"#,
            ),
            (b"11112222333344445555", b"EFTM000000000005"),
            (b"FGVM01TM00000001\0FTKMOB0000000001", br#"{"v":1}"#),
            (&7u64.to_be_bytes(), &42u64.to_be_bytes()),
            (b"FGT60FTK20000099", b""),
        ];
        for (key, value) in cases {
            let record = StateRecord::from_bytes(key, value);
            assert_eq!(stored(&record).unwrap(), (key.to_vec(), value.to_vec()));
            // The borrowed record an export writes is the same JSON.
            assert_eq!(
                serde_json::to_string(&StateRecordRef::from_bytes(key, value)).unwrap(),
                serde_json::to_string(&record).unwrap()
            );
        }
        assert_eq!(
            serde_json::to_string(&StateRecordRef::from_bytes(&[0, 255], &[1, 0x7f])).unwrap(),
            r#"{"key_hex":"00ff","value_hex":"017f"}"#
        );
        assert_eq!(
            serde_json::to_string(&StateRecordRef::from_bytes(b"k", b"{not json")).unwrap(),
            r#"{"key":"k","value_text":"{not json"}"#
        );
        let license = StateRecord::from_bytes(b"EFTM000000000005", br#"{"v":2,"seats":5}"#);
        assert_eq!(license.json().unwrap()["seats"], 5);
        let code = StateRecord::from_bytes(b"11112222333344445555", b"EFTM000000000005");
        assert_eq!(code.value_text.as_deref(), Some("EFTM000000000005"));
        let counter = StateRecord::from_bytes(b"seq", &42u64.to_be_bytes());
        assert_eq!(counter.value_hex.as_deref(), Some("000000000000002a"));
        let compound = StateRecord::from_bytes(b"FGVM01TM00000001\0alice", b"{}");
        assert_eq!(compound.key.as_deref(), Some("FGVM01TM00000001\0alice"));
    }

    #[test]
    fn plain_keys_and_json_values_are_the_texts_own_bytes() {
        let text =
            r#"[{"key":"FTKMOB0000000001","value":{"v":1}},{"key":"a\u0000b","value_hex":"00ff"}]"#;
        let records: Vec<StateRecordText> = serde_json::from_str(text).unwrap();
        let parts: Vec<_> = records
            .into_iter()
            .map(|r| r.into_parts().unwrap())
            .collect();
        assert!(matches!(
            parts[0],
            (
                Cow::Borrowed(b"FTKMOB0000000001"),
                Cow::Borrowed(br#"{"v":1}"#)
            )
        ));
        assert!(
            matches!(&parts[1], (Cow::Owned(key), Cow::Owned(value)) if key == b"a\0b" && value == &[0, 255])
        );
    }

    #[test]
    fn malformed_records_say_what_is_wrong() {
        let both = StateRecord {
            key: Some("a".into()),
            key_hex: Some("00".into()),
            value_text: Some("x".into()),
            ..StateRecord::default()
        };
        assert!(stored(&both).unwrap_err().contains("exactly one of `key`"));
        let no_value = StateRecord {
            key: Some("a".into()),
            ..StateRecord::default()
        };
        assert!(stored(&no_value).unwrap_err().contains("`value`"));
        let bad_hex = StateRecord {
            key_hex: Some("zz".into()),
            value_text: Some("x".into()),
            ..StateRecord::default()
        };
        assert!(stored(&bad_hex).unwrap_err().contains("key_hex"));
        assert!(serde_json::from_str::<StateRecord>(r#"{"key": "a", "valeu": 1}"#).is_err());
        let scalar: StateRecord = serde_json::from_str(r#"{"key": "a", "value": 5}"#).unwrap();
        assert!(stored(&scalar).unwrap_err().contains("object or array"));
        assert!(serde_json::from_str::<StateRecord>(r#"{"key": "a", "value": {"v": }}"#).is_err());
    }

    #[test]
    fn a_bundle_carries_each_service_state_as_its_text() {
        let state = r#"{"format":"fortimock-state/1","service":"ftm","version":"0.1.0","exported":5,"trees":{"t":[{"key":"a","value":{"v":1}}]}}"#;
        let text = ServiceStateText::new(state.to_owned()).unwrap();
        assert_eq!(text.service().unwrap(), "ftm");
        let bundle = Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            version: "0.1.0".to_owned(),
            clock: ClockView {
                now: UnixTime::from_secs(5),
                now_rfc3339: "1970-01-01T00:00:05Z".to_owned(),
                frozen: true,
                offset_secs: 0,
            },
            services: vec![text],
        };
        // The bundle is written for people (indented); each state inside it stays the text it was.
        let written = serde_json::to_string_pretty(&bundle).unwrap();
        assert!(
            written.contains(&format!("\"services\": [\n    {state}\n  ]")),
            "{written}"
        );
        let read: Bundle = serde_json::from_str(&written).unwrap();
        assert_eq!(read.services[0].text(), state);
        let typed: ServiceState = serde_json::from_str(read.services[0].text()).unwrap();
        assert_eq!(typed.trees["t"][0].json().unwrap()["v"], 1);
        assert!(ServiceStateText::new("{\"service\": ".to_owned()).is_err());
        let nameless = ServiceStateText::new(r#"{"trees":{}}"#.to_owned()).unwrap();
        assert!(nameless.service().is_err());
    }

    #[test]
    fn json_records_travel_as_their_text() {
        let text = r#"{"v":1,"token":"FTKMOB0000000001","nested":{"a":[1,2]}}"#;
        let record = StateRecord::from_bytes(b"FTKMOB0000000001", text.as_bytes());
        let document = serde_json::to_string(&record).unwrap();
        assert!(document.contains(text), "{document}");
        let back: StateRecord = serde_json::from_str(&document).unwrap();
        assert_eq!(back, record);
        assert_eq!(stored(&back).unwrap().1, text.as_bytes());
    }
}
