//! The SoftToken envelope: every message is `{"d": {"__type": "SoftToken.<Name>", ...}}`, the ASP.NET
//! ScriptService convention the real `.asmx` endpoints use (dossier section 1, \[WIRE\]).
//!
//! Inbound bodies are decoded in two steps so each kind of bad input gets its own clear error:
//! [`Inbound::parse`] checks the JSON, the `d` object and the `__type` string; [`Inbound::decode`]
//! turns `d` into the message type the dispatcher picked, reporting the path of a bad field.

use std::borrow::Cow;

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::header::RequestHeader;
use crate::strict::Strict;

/// A SoftToken message type: its wire name and its fields.
pub trait Message: Serialize + DeserializeOwned {
    /// The `__type` value, e.g. `SoftToken.ActivationLicenseRequest`.
    const TYPE: &'static str;
    /// Whether the message starts with the appliance header (`serial_number`, `__version`, …). Decoding
    /// checks the header first, so a bad header field is reported by name.
    const APPLIANCE_HEADER: bool = false;

    /// `d`'s text, a JSON object, decoded in a way faster than the derived decode, where the message has
    /// one; `None` leaves the text to the derived decode, which also decides every error. A message that
    /// gives `Some` must give exactly what the derived decode gives (the headed messages read their header
    /// in one pass, see `header::decode_headed`).
    fn decode_text(_text: &str) -> Option<Self> {
        None
    }
}

/// A message wrapped for the wire. Serializes as `{"d": {"__type": T::TYPE, ...fields}}` with `__type`
/// first, as the captures show; deserializing checks that `__type` names `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<T>(pub T);

impl<T: Message> Envelope<T> {
    /// The wire bytes of `message`, in a buffer of exactly their length.
    ///
    /// They are written into this thread's scratch buffer (the crate's `scratch` module) and copied out
    /// once, at their exact size: writing into a fresh `Vec` grew it several times, each growth a copy. The
    /// journal keeps the bytes, so their size matters too.
    pub fn to_vec(message: &T) -> Vec<u8> {
        crate::scratch::with_buffer(|buffer| {
            write_message(buffer, message);
            buffer.to_vec()
        })
    }
}

/// `message` in its envelope, written at the end of `bytes` (left empty on the impossible failure:
/// serializing plain structs of strings and numbers into a `Vec` cannot fail).
fn write_message<T: Message>(bytes: &mut Vec<u8>, message: &T) {
    let outer = Outer {
        d: Tagged::new(message),
    };
    if serde_json::to_writer(&mut *bytes, &outer).is_err() {
        bytes.clear();
    }
}

#[derive(Serialize)]
struct Outer<'a, T> {
    d: Tagged<'a, T>,
}

#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "__type")]
    type_name: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

impl<'a, T: Message> Tagged<'a, T> {
    fn new(body: &'a T) -> Tagged<'a, T> {
        Tagged {
            type_name: T::TYPE,
            body,
        }
    }
}

impl<T: Message> Serialize for Envelope<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Outer {
            d: Tagged::new(&self.0),
        }
        .serialize(s)
    }
}

impl<'de, T: Message> Deserialize<'de> for Envelope<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let inbound = Inbound::from_value(value).map_err(serde::de::Error::custom)?;
        if inbound.type_name() != T::TYPE {
            return Err(serde::de::Error::custom(format!(
                "expected a {} message, got {}",
                T::TYPE,
                inbound.type_name()
            )));
        }
        inbound
            .decode()
            .map(Envelope)
            .map_err(serde::de::Error::custom)
    }
}

/// A request body that is a well-formed envelope whose message has not been decoded yet.
#[derive(Debug, Clone)]
pub struct Inbound {
    type_name: String,
    body: Body,
    /// The drift check's shape of `d`, when the read that found the type found it too.
    shape: Option<crate::drift::Shape>,
}

/// `d`, as [`Inbound::parse`] found it.
#[derive(Debug, Clone)]
enum Body {
    /// The text of `d`, a JSON object: the common case, checked in one pass without building a document,
    /// and decoded straight from the text.
    Text(String),
    /// `d` without `__type`, as a document: what the careful path built.
    Document(Map<String, Value>),
}

/// The envelope as the one-pass check reads it: a JSON object whose `d` is kept as text.
struct Peek<'a> {
    d: Option<&'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Peek<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Outer<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Outer<'a> {
            type Value = Peek<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            // Only a map: a struct derive would also take an array, which the careful path refuses.
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Peek<'a>, M::Error> {
                let mut d = None;
                // A key written with escapes cannot be borrowed: the careful path reads it.
                while let Some(key) = map.next_key::<&'de str>()? {
                    if key == "d" {
                        // A repeated `d`: the last one counts, as in a document.
                        d = Some(map.next_value::<&'a RawValue>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Peek { d })
            }
        }
        deserializer.deserialize_map(Outer(std::marker::PhantomData))
    }
}

/// `d`'s `__type`, read from `d`'s text (a JSON object) in one pass.
#[derive(Deserialize)]
struct PeekType<'a> {
    #[serde(rename = "__type", borrow)]
    type_name: Cow<'a, str>,
}

impl Inbound {
    /// Checks that `bytes` are JSON of the form `{"d": {"__type": "<string>", ...}}`.
    pub fn parse(bytes: &[u8]) -> Result<Inbound, EnvelopeError> {
        // A well-formed envelope is checked without building a document (what every appliance sends, on the
        // hot path); anything else takes the careful path, which decides the error.
        //
        // The compact envelope the appliances write, `{"d":{…}}`, needs no read of the outer object: its
        // bytes are checked, and the walk that reads the type and the shape reads `d` to its end, so what
        // it takes is one JSON object and the whole body one object with the one key `d`.
        if let Some(inner) = bytes
            .strip_prefix(br#"{"d":"#)
            .and_then(|rest| rest.strip_suffix(b"}"))
            && inner.starts_with(b"{")
            && inner.ends_with(b"}")
            && let Ok(text) = std::str::from_utf8(inner)
            && let Some(inbound) = Inbound::typed_text(text)
        {
            return Ok(inbound);
        }
        if let Ok(Peek { d: Some(d) }) = serde_json::from_slice::<Peek<'_>>(bytes) {
            let text = d.get();
            if text.starts_with('{') {
                // The type and the drift check's shape in one read; the type alone where that read
                // declines (a key written with escapes).
                if let Some(inbound) = Inbound::typed_text(text) {
                    return Ok(inbound);
                }
                if let Ok(peek) = serde_json::from_str::<PeekType<'_>>(text) {
                    return Ok(Inbound {
                        type_name: peek.type_name.into_owned(),
                        body: Body::Text(text.to_owned()),
                        shape: None,
                    });
                }
            }
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        Inbound::from_value(value)
    }

    /// `d`'s text (a JSON object) with its type and drift shape from one read of it, where that read takes
    /// it (`drift::Shape::typed_of_text`).
    fn typed_text(text: &str) -> Option<Inbound> {
        let (type_name, shape) = crate::drift::Shape::typed_of_text(text)?;
        Some(Inbound {
            type_name,
            body: Body::Text(text.to_owned()),
            shape: Some(shape),
        })
    }

    fn from_value(value: Value) -> Result<Inbound, EnvelopeError> {
        let Value::Object(mut outer) = value else {
            return Err(EnvelopeError::NoEnvelope);
        };
        let Some(Value::Object(body)) = outer.remove("d") else {
            return Err(EnvelopeError::NoEnvelope);
        };
        let (type_name, body) = without_type(body)?;
        Ok(Inbound {
            type_name,
            body: Body::Document(body),
            shape: None,
        })
    }

    /// The `__type` value, e.g. `SoftToken.PollingRequest`.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// What the coverage report's drift check needs on every request: the shape [`Inbound::parse`] read
    /// with the type when `d` came in the common shape, else the document's (the text's one-pass read has
    /// declined it already).
    pub fn shape(&self) -> Cow<'_, crate::drift::Shape> {
        match &self.shape {
            Some(shape) => Cow::Borrowed(shape),
            None => Cow::Owned(crate::drift::Shape::of_document(
                &self.type_name,
                &self.fields(),
            )),
        }
    }

    /// The fields of `d` as a document, `__type` left out (the drift check's field comparison).
    pub fn fields(&self) -> Cow<'_, Map<String, Value>> {
        match &self.body {
            Body::Document(body) => Cow::Borrowed(body),
            Body::Text(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(mut body)) => {
                    body.remove("__type");
                    Cow::Owned(body)
                }
                _ => Cow::Owned(Map::new()),
            },
        }
    }

    /// Decodes `d` as `T`. A wrong or missing field is reported with its path (`tokens[0].seed`).
    pub fn decode<T: Message>(self) -> Result<T, EnvelopeError> {
        let body = match self.body {
            Body::Text(text) => {
                // The common case, a well-formed message, decodes from the text in one pass (`__type` is a
                // field no message has, so it is skipped); anything else is decoded again from a document.
                if let Some(message) = T::decode_text(&text) {
                    return Ok(message);
                }
                if let Ok(message) = crate::strict::from_str::<T>(&text) {
                    return Ok(message);
                }
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(body)) => without_type(body)?.1,
                    _ => return Err(EnvelopeError::NoEnvelope),
                }
            }
            Body::Document(body) => body,
        };
        let body = Value::Object(body);
        if let Ok(message) = T::deserialize(Strict(&body)) {
            return Ok(message);
        }
        if T::APPLIANCE_HEADER {
            // serde loses the path of fields in a flattened struct; checking the header on its own keeps it.
            decode_located::<RequestHeader, T>(&body)?;
        }
        decode_located::<T, T>(body)
    }
}

/// `d`'s `__type` string and the rest of `d`.
fn without_type(
    mut body: Map<String, Value>,
) -> Result<(String, Map<String, Value>), EnvelopeError> {
    match body.remove("__type") {
        Some(Value::String(name)) => Ok((name, body)),
        _ => Err(EnvelopeError::NoType),
    }
}

/// Decodes `body` as `D`, reporting errors with their path as errors of message `T`.
fn decode_located<'de, D: Deserialize<'de>, T: Message>(
    body: impl Deserializer<'de>,
) -> Result<D, EnvelopeError> {
    serde_path_to_error::deserialize(Strict(body)).map_err(|e| {
        let path = e.path().to_string();
        let detail = e.into_inner().to_string();
        let detail = if path == "." {
            detail
        } else {
            format!("{path}: {detail}")
        };
        EnvelopeError::Invalid {
            type_name: T::TYPE,
            detail,
        }
    })
}

/// Why a body is not a SoftToken message fortimock can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the request body is not JSON ({0})")]
    NotJson(String),
    #[error(r#"the request body must be a JSON object of the form {{"d": {{"__type": "SoftToken.<Name>", ...}}}}"#)]
    NoEnvelope,
    #[error(r#"the "d" object has no "__type" string naming the message, e.g. "SoftToken.ActivationLicenseRequest""#)]
    NoType,
    #[error("unknown message type `{name}`: this endpoint accepts {accepted}")]
    UnknownType { name: String, accepted: String },
    #[error("{type_name} is malformed: {detail}")]
    Invalid {
        type_name: &'static str,
        detail: String,
    },
    #[error("the request body is larger than the {limit}-byte limit")]
    TooLarge { limit: usize },
}

impl EnvelopeError {
    /// A stable id a test can match on.
    pub fn id(&self) -> &'static str {
        match self {
            EnvelopeError::NotJson(_) => "protocol.not-json",
            EnvelopeError::NoEnvelope => "protocol.no-envelope",
            EnvelopeError::NoType => "protocol.no-type",
            EnvelopeError::UnknownType { .. } => "protocol.unknown-type",
            EnvelopeError::Invalid { .. } => "protocol.invalid-message",
            EnvelopeError::TooLarge { .. } => "protocol.too-large",
        }
    }

    /// The error for a `__type` an endpoint does not serve.
    pub fn unknown_type(name: &str, accepted: &[&str]) -> EnvelopeError {
        let name: String = name.chars().take(80).collect();
        EnvelopeError::UnknownType {
            name,
            accepted: accepted.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Ping {
        serial_number: String,
        #[serde(default)]
        count: u32,
    }

    impl Message for Ping {
        const TYPE: &'static str = "SoftToken.Ping";
    }

    #[track_caller]
    fn check_error(body: &str, id: &str, text: &str) {
        let err = Inbound::parse(body.as_bytes())
            .and_then(Inbound::decode::<Ping>)
            .unwrap_err();
        assert_eq!(err.id(), id);
        assert!(
            err.to_string().contains(text),
            "{err} should mention {text}"
        );
    }

    #[test]
    fn type_comes_first_on_the_wire() {
        let bytes = Envelope::to_vec(&Ping {
            serial_number: "FGT1".into(),
            count: 2,
        });
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"d":{"__type":"SoftToken.Ping","serial_number":"FGT1","count":2}}"#
        );
    }

    /// The thread's scratch buffer is reused: a short answer after a long one holds only its own bytes,
    /// in a buffer of exactly their length (the journal keeps it), and one past the size the buffer keeps
    /// comes out whole too.
    #[test]
    fn each_answer_is_its_own_bytes_sized_exactly() {
        let ping = |serial: String| Ping {
            serial_number: serial,
            count: 1,
        };
        for serial in [
            "L".repeat(5_000),
            "FGT1".to_owned(),
            "H".repeat(crate::scratch::MAX_KEPT + 1),
            "FGT2".to_owned(),
        ] {
            let bytes = Envelope::to_vec(&ping(serial.clone()));
            assert_eq!(
                bytes,
                format!(
                    r#"{{"d":{{"__type":"SoftToken.Ping","serial_number":"{serial}","count":1}}}}"#
                )
                .into_bytes()
            );
            assert_eq!(bytes.capacity(), bytes.len());
        }
    }

    #[test]
    fn round_trips_through_envelope() {
        let ping = Ping {
            serial_number: "FGT1".into(),
            count: 7,
        };
        let back: Envelope<Ping> = serde_json::from_slice(&Envelope::to_vec(&ping)).unwrap();
        assert_eq!(back.0, ping);
        let wrong = r#"{"d":{"__type":"SoftToken.Pong","serial_number":"x"}}"#;
        assert!(serde_json::from_str::<Envelope<Ping>>(wrong).is_err());
    }

    #[test]
    fn each_kind_of_bad_body_has_its_own_error() {
        check_error("not json", "protocol.not-json", "not JSON");
        check_error("[1,2]", "protocol.no-envelope", r#"{"d""#);
        check_error(r#"{"x": {}}"#, "protocol.no-envelope", r#"{"d""#);
        check_error(r#"{"d": "text"}"#, "protocol.no-envelope", r#"{"d""#);
        check_error(
            r#"{"d": {"serial_number": "a"}}"#,
            "protocol.no-type",
            "__type",
        );
        check_error(r#"{"d": {"__type": 5}}"#, "protocol.no-type", "__type");
        check_error(
            r#"{"d": {"__type": "SoftToken.Ping"}}"#,
            "protocol.invalid-message",
            "serial_number",
        );
        check_error(
            r#"{"d": {"__type": "SoftToken.Ping", "serial_number": "a", "count": "many"}}"#,
            "protocol.invalid-message",
            "count: invalid type",
        );
    }
}

#[cfg(test)]
mod one_pass_tests {
    //! The one-pass check and decode must answer exactly what the careful, document-built path answers.
    use super::*;
    use crate::provision::PollingRequest;

    /// What the careful path alone answers for `bytes`.
    fn careful<T: Message + std::fmt::Debug>(bytes: &[u8]) -> Result<(String, T), EnvelopeError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        let inbound = Inbound::from_value(value)?;
        let name = inbound.type_name().to_owned();
        inbound.decode::<T>().map(|m| (name, m))
    }

    fn both<T: Message + std::fmt::Debug + PartialEq>(bytes: &str) {
        let fast = Inbound::parse(bytes.as_bytes()).and_then(|inbound| {
            let name = inbound.type_name().to_owned();
            inbound.decode::<T>().map(|m| (name, m))
        });
        assert_eq!(fast, careful::<T>(bytes.as_bytes()), "for {bytes}");
    }

    #[test]
    fn odd_envelopes_get_the_careful_paths_answer() {
        let poll = r#""serial_number":"FGT60E0000000001","__version":"4","tokens":[{"token":"FTKMOB0000000001"}]"#;
        for body in [
            format!(r#"{{"d":{{"__type":"SoftToken.PollingRequest",{poll}}}}}"#),
            // `__type` last, other keys around `d`, `d` twice (the last counts), keys with escapes.
            format!(
                r#"{{"x":[1,{{"d":2}}],"d":{{{poll},"__type":"SoftToken.PollingRequest"}},"y":null}}"#
            ),
            format!(
                r#"{{"d":{{"__type":"A"}},"d":{{"__type":"SoftToken.PollingRequest",{poll}}}}}"#
            ),
            format!(r#"{{"\u0064":{{"__type":"SoftToken.PollingRequest",{poll}}}}}"#),
            format!(r#"{{"d":{{"\u005f_type":"SoftToken.PollingRequest",{poll}}}}}"#),
            // A field twice, `__type` twice: a document keeps the last.
            format!(
                r#"{{"d":{{"__type":"X","__type":"SoftToken.PollingRequest",{poll},"serial_number":"FGT2"}}}}"#
            ),
            // Arrays where objects belong: a struct derive would take them positionally.
            r#"[{"__type":"SoftToken.PollingRequest"}]"#.to_owned(),
            r#"{"d":["SoftToken.PollingRequest","4","FGT1",[]]}"#.to_owned(),
            r#"{"d":{"__type":["SoftToken.PollingRequest"]}}"#.to_owned(),
            r#"{"d":{"__type":null}}"#.to_owned(),
            r#"{"d":"text"}"#.to_owned(),
            r#"{"e":{}}"#.to_owned(),
            r#"{"d":{"__type":"SoftToken.PollingRequest","tokens":"no"}}"#.to_owned(),
            format!(r#"{{"d":{{"__type":"SoftToken.PollingRequest",{poll}}}}} trailing"#),
            // Compact at both ends but not one object with one key `d`, or not JSON inside.
            format!(r#"{{"d":{{"__type":"SoftToken.PollingRequest",{poll}}},"e":{{}}}}"#),
            format!(r#"{{"d":{{"__type":"SoftToken.PollingRequest",{poll}}}}}}}"#),
            format!(r#"{{"d":{{"__type":"SoftToken.PollingRequest",{poll}}},"d":{{}}}}"#),
            format!(r#"{{"d":{{"__type":"SoftToken.PollingRequest",{poll}}} }}"#),
            format!(r#"{{"d":{{"__type":"SoftToken.PollingRequest",{poll}}}{{}}}}"#),
            r#"{"d":{}}"#.to_owned(),
            r#"{"d":}"#.to_owned(),
            "".to_owned(),
        ] {
            both::<PollingRequest>(&body);
        }
        // And the common case takes the one pass.
        let common = format!(r#"{{"d":{{"__type":"SoftToken.PollingRequest",{poll}}}}}"#);
        assert!(Inbound::parse(common.as_bytes()).is_ok());
        // An array standing for an object inside the message is refused on both paths, with its place.
        for (body, place) in [
            (
                r#"{"d":{"__type":"SoftToken.PollingRequest","serial_number":"FGT60E0000000001","tokens":[["FTKMOB0000000001"]]}}"#,
                "tokens[0]",
            ),
            (
                r#"{"d":{"__type":"SoftToken.PollingRequest","serial_number":"FGT60E0000000001","__clustered_sns":[["FGT60E0000000002"]],"tokens":[]}}"#,
                "__clustered_sns[0]",
            ),
        ] {
            let error = Inbound::parse(body.as_bytes())
                .and_then(Inbound::decode::<PollingRequest>)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(place) && error.contains("invalid type: sequence"),
                "{body}: {error}"
            );
            both::<PollingRequest>(body);
        }
        let inbound = Inbound::parse(common.as_bytes()).unwrap();
        assert!(matches!(inbound.body, Body::Text(_)), "{inbound:?}");
        assert!(inbound.shape.is_some(), "{inbound:?}");
        // Bytes that are not UTF-8 inside a compact envelope are not JSON, on both paths.
        let not_utf8 =
            b"{\"d\":{\"__type\":\"SoftToken.PollingRequest\",\"serial_number\":\"\xff\"}}";
        let error = Inbound::parse(not_utf8).unwrap_err();
        assert_eq!(error.id(), "protocol.not-json", "{error}");
        assert_eq!(careful::<PollingRequest>(not_utf8).unwrap_err(), error);
    }

    /// `d`'s text through the headed messages' one-pass read and through the derive: where the one pass
    /// answers, it answers what the derive does; where it declines, the whole decode still answers what the
    /// careful path does.
    fn headed<T: Message + std::fmt::Debug + PartialEq>(d: &str, one_pass: bool) {
        let quick = T::decode_text(d);
        assert_eq!(quick.is_some(), one_pass, "one pass for {d}: {quick:?}");
        if let Some(message) = quick {
            assert_eq!(crate::strict::from_str::<T>(d).ok(), Some(message), "{d}");
        }
        let type_name = T::TYPE;
        let typed = d.replacen('{', &format!(r#"{{"__type":"{type_name}","#), 1);
        both::<T>(&format!(r#"{{"d":{typed}}}"#));
    }

    #[test]
    fn headed_messages_read_in_one_pass_what_the_derive_reads() {
        use crate::hardware::HardwareActivationRequest;
        use crate::license::ActivationLicenseRequest;
        use crate::provision::ProvisionRequest;
        let header = r#""__version":"4","serial_number":"FGT60E0000000001","__device_version":"7.0","__device_build":"0523","__clustered_sns":[{"sn":"FGT60E0000000001"},{"sn":"FGT60E0000000002","x":1}]"#;
        let poll = r#""tokens":[{"token":"FTKMOB0000000001"},{"token":"FTKMOB0000000002"}]"#;
        for (d, one_pass) in [
            (format!("{{{header},{poll}}}"), true),
            // The message's own field first, the header's keys anywhere, unknown keys skipped.
            (
                format!(r#"{{{poll},"extra":[1,{{"a":null}}],{header}}}"#),
                true,
            ),
            // The header at its least, and `null` members.
            (
                format!(r#"{{"serial_number":"FGT60E0000000001",{poll}}}"#),
                true,
            ),
            (
                format!(r#"{{"serial_number":"FGT1","__clustered_sns":null,{poll}}}"#),
                true,
            ),
            // What declines: no serial, a header field twice or of the wrong type, the message's field
            // twice or missing, an escaped key, an array where an object belongs, not an object.
            (format!(r#"{{"__version":"4",{poll}}}"#), false),
            (
                format!(r#"{{"serial_number":"A","serial_number":"B",{poll}}}"#),
                false,
            ),
            (format!(r#"{{"serial_number":7,{poll}}}"#), false),
            (
                format!(r#"{{"serial_number":"A","__clustered_sns":[["A"]],{poll}}}"#),
                false,
            ),
            (
                format!(
                    r#"{{"serial_number":"A","__clustered_sns":[],"__clustered_sns":[],{poll}}}"#
                ),
                false,
            ),
            (format!(r#"{{"serial_number":"A",{poll},{poll}}}"#), false),
            (r#"{"serial_number":"A"}"#.to_owned(), false),
            (
                format!(r#"{{"serial\u005fnumber":"FGT60E0000000001",{poll}}}"#),
                false,
            ),
            (
                r#"{"serial_number":"A","tokens":[["FTKMOB0000000001"]]}"#.to_owned(),
                false,
            ),
            (r#"["A",[]]"#.to_owned(), false),
        ] {
            headed::<PollingRequest>(&d, one_pass);
        }
        let provision = r#""tokens":[{"token":"FTKMOB0000000001","seed":"00112233445566778899AABBCCDDEEFF00112233","code_expire":4320,"type":"totp","period":60,"digits":6},{"token":"FTKMOB0000000002","seed":"00112233445566778899AABBCCDDEEFF00112233"}]"#;
        headed::<ProvisionRequest>(&format!("{{{header},{provision}}}"), true);
        headed::<ProvisionRequest>(
            &format!(r#"{{{header},"tokens":[{{"token":"FTKMOB1","seed":"00","digits":"six"}}]}}"#),
            false,
        );
        headed::<ActivationLicenseRequest>(
            &format!(r#"{{{header},"license_activation_code":" BADLICBADLICXXX "}}"#),
            true,
        );
        headed::<ActivationLicenseRequest>(&format!("{{{header}}}"), false);
        headed::<HardwareActivationRequest>(
            &format!(r#"{{{header},"tokens":[{{"token":"FTK2110000000001"}}]}}"#),
            true,
        );
    }
}
