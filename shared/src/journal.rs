//! The request journal (`/__admin/journal`): what forticare, ftm and the push relay were asked and what they
//! answered, for tests to assert on and for support engineers to read. fortimock's own API: fields may be
//! added, never renamed.
//!
//! Bodies are kept as sent, except secrets. Every body is parsed as JSON and every non-empty value of a
//! [`SECRET_FIELDS`] key, at any depth (in objects and arrays), is replaced by [`REDACTED`] before the entry
//! is stored: the seed an appliance provisions, the encrypted seed a phone downloads, and any other secret a
//! client sends. Keys are compared as the services read them, after JSON escapes are decoded (`"se\u0065d"`
//! is `seed`), and in any ASCII letter case (`Seed`, `SEED`). An empty secret (`""` or `null`, a refused
//! phone's `seed`) is no secret and is shown as sent.
//!
//! - A JSON body with no secret field anywhere is kept byte for byte.
//! - A JSON body with one is kept as its redacted document, written again compactly as it is read (a key
//!   given twice is written twice, each checked, so a duplicate key cannot keep an earlier secret).
//! - A body that is not JSON is kept as text only when it cannot spell a secret field: it is UTF-8 without
//!   control characters (other than tabs and line breaks; so not UTF-16 or binary), names no secret field
//!   in any letter case, and holds no backslash or percent sign (with which a JSON or URL escape could
//!   spell one). Otherwise it is replaced by a note of its length.
//! - A body over [`MAX_BODY_KEPT`] bytes is replaced by a note of its length.
//!
//! A note is a JSON object `{"fortimock_note": "<what happened>"}`.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::UnixTime;

/// What a secret value reads as in the journal.
pub const REDACTED: &str = "<redacted>";

/// The JSON fields whose values never reach the journal, compared in any ASCII letter case: the seed
/// (provisioned and downloaded), the app's `encryption_key`, and the names secrets usually go by.
pub const SECRET_FIELDS: &[&str] = &[
    "seed",
    "encryption_key",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "api_key",
    "private_key",
    "access_token",
    "refresh_token",
];

/// Where, besides [`SECRET_FIELDS`], a field is secret: on FortiCare's v3 API every answer echoes the
/// caller's bearer token in `token` (elsewhere `token` is a token serial, no secret).
pub const PATH_SECRET_FIELDS: &[(&str, &str)] = &[(crate::paths::V3_BASE, "token")];

/// The secret field names of one place, with what finds each of them in a text, in any ASCII letter
/// case.
pub struct SecretFields {
    names: Vec<&'static str>,
    /// Every name, lowercased, in one searcher built once: a text is lowercased once and read once for all
    /// of them. Leftmost-first matching, so the searcher can use its vectorised packed search (Teddy);
    /// measured on a 50-token poll's 7 KB answer: 1.0 µs, against 3.5 µs for one `memchr` substring search
    /// per name and 51 µs for the standard-semantics automaton, whose rare-byte prefilter fires on every
    /// few bytes of JSON (0.08, 0.35 and 2.4 µs on a 1-token answer).
    searcher: AhoCorasick,
}

impl SecretFields {
    pub fn new(names: &[&'static str]) -> SecretFields {
        SecretFields {
            names: names.to_vec(),
            searcher: AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(names.iter().map(|name| name.to_ascii_lowercase()))
                .unwrap_or_else(|e| unreachable!("the secret field names make a searcher: {e}")),
        }
    }

    /// Whether `key` (a JSON key, as decoded) is one of these names, in any ASCII letter case.
    fn names(&self, key: &str) -> bool {
        self.names.iter().any(|name| key.eq_ignore_ascii_case(name))
    }

    /// Whether `text` holds one of these names somewhere, in any ASCII letter case (an empty name is in
    /// every text).
    fn found_in(&self, text: &[u8]) -> bool {
        // Lowercased into this thread's scratch buffer: no allocation per body on the hot path.
        crate::scratch::with_buffer(|lowered| {
            lowered.extend(text.iter().map(u8::to_ascii_lowercase));
            self.searcher.is_match(lowered.as_slice())
        })
    }
}

/// [`SECRET_FIELDS`], everywhere.
static EVERYWHERE: LazyLock<SecretFields> = LazyLock::new(|| SecretFields::new(SECRET_FIELDS));

/// Per [`PATH_SECRET_FIELDS`] prefix: [`SECRET_FIELDS`] and that prefix's field.
static BY_PATH: LazyLock<Vec<(&'static str, SecretFields)>> = LazyLock::new(|| {
    PATH_SECRET_FIELDS
        .iter()
        .map(|(prefix, field)| {
            let mut names = SECRET_FIELDS.to_vec();
            names.push(field);
            (*prefix, SecretFields::new(&names))
        })
        .collect()
});

/// The secret fields of a body exchanged on `path`: [`SECRET_FIELDS`] plus what [`PATH_SECRET_FIELDS`]
/// names for paths under it.
pub fn secret_fields_at(path: &str) -> &'static SecretFields {
    BY_PATH
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map_or(&*EVERYWHERE, |(_, fields)| fields)
}

/// The most bytes of one body the journal keeps; a longer body is kept as a note of its length.
pub const MAX_BODY_KEPT: usize = 16 * 1024;

/// One request and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JournalEntry {
    /// Numbers entries in arrival order, from 1; clearing the journal does not restart it.
    pub seq: u64,
    /// When the answer went out, on the lab clock.
    pub time: UnixTime,
    pub method: String,
    /// The path and query string.
    pub path: String,
    pub status: u16,
    /// How long the service took, in microseconds.
    pub micros: u64,
    /// The SoftToken `__type` (or `push`), when the service read one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// What became of it, as the log line says (`granted EFTM… (5 tokens) to FGVM…`, `scenario s1: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Lowercase hex SHA-256 of the client certificate presented, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// The request body: JSON as sent (secrets redacted), text, a note, or `null` when there was none or
    /// it was refused before being read.
    pub request: Value,
    /// The response body, the same way.
    pub response: Value,
}

/// `GET /__admin/journal`: the entries that match, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JournalPage {
    pub entries: Vec<JournalEntry>,
    /// How many entries matched before `limit` kept the newest.
    pub matched: u64,
    /// The journal's capacity (`--journal-size`); the oldest entries make room for new ones.
    pub capacity: usize,
    /// Entries dropped to stay within the capacity since the service started or the journal was cleared.
    pub dropped: u64,
}

/// Whether a JSON key (as decoded) names a secret field: one of [`SECRET_FIELDS`] in any ASCII letter case.
pub fn is_secret_field(key: &str) -> bool {
    SECRET_FIELDS
        .iter()
        .any(|field| key.eq_ignore_ascii_case(field))
}

/// Replaces the non-empty value of every secret field (see [`is_secret_field`]) in `value`, at any depth;
/// returns whether it did.
pub fn redact(value: &mut Value) -> bool {
    redact_document(value, &EVERYWHERE).redacted
}

/// What [`redact_document`] found.
#[derive(Clone, Copy, Default)]
struct Found {
    /// A secret field, empty or not, is somewhere in the document.
    named: bool,
    /// A non-empty secret was replaced.
    redacted: bool,
}

impl std::ops::BitOrAssign for Found {
    fn bitor_assign(&mut self, other: Found) {
        self.named |= other.named;
        self.redacted |= other.redacted;
    }
}

fn redact_document(value: &mut Value, fields: &SecretFields) -> Found {
    let mut found = Found::default();
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if fields.names(key) {
                    found.named = true;
                    let empty = inner.is_null() || inner.as_str() == Some("");
                    if !empty {
                        *inner = Value::String(REDACTED.to_owned());
                        found.redacted = true;
                    }
                } else {
                    found |= redact_document(inner, fields);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                found |= redact_document(item, fields);
            }
        }
        _ => {}
    }
    found
}

/// Whether a body could spell a secret field: it is not UTF-8 or holds control characters (UTF-16,
/// binary), names one in any ASCII letter case, or holds a backslash or a percent sign (a JSON or URL escape
/// can spell any name). A few passes the compiler and `memchr` vectorise, in the common case: one that
/// finds whether every byte is printable ASCII (nearly every body is: fortimock writes compact JSON, and
/// appliances send ASCII), a search for the two escape characters, and one search for every field's name
/// at once. Only a body with other bytes (line breaks, tabs, any non-ASCII character) has its characters
/// checked one by one: that check cost two instructions per byte of every request and answer.
fn text_may_hold_secret(body: &[u8], fields: &SecretFields) -> bool {
    let printable = !body
        .iter()
        .fold(false, |other, byte| other | !(0x20..0x7f).contains(byte));
    (!printable && holds_control_or_is_not_utf8(body))
        || memchr::memchr2(b'\\', b'%', body).is_some()
        || fields.found_in(body)
}

/// Whether `body` is not UTF-8, or holds a control character other than tab, line feed and carriage
/// return (C1 controls included).
fn holds_control_or_is_not_utf8(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return true;
    };
    // ASCII controls: a fold over every byte, which the compiler turns into vector instructions.
    let ascii_control = body.iter().fold(false, |found, &byte| {
        found | matches!(byte, 0x00..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f | 0x7f)
    });
    // C1 controls are U+0080 to U+009F, 0xC2 0x80..=0x9F in UTF-8.
    ascii_control
        || (!text.is_ascii()
            && memchr::memchr_iter(0xc2, body)
                .any(|at| matches!(body.get(at + 1), Some(0x80..=0x9f))))
}

/// A body as the journal keeps it (see the module documentation): byte for byte (borrowed) when it holds
/// no secret field, its redacted document when it is JSON that does, a note when it is too long or is not
/// JSON and could spell one.
pub fn kept_body(body: &[u8]) -> Cow<'_, [u8]> {
    kept_body_with(body, &EVERYWHERE)
}

/// [`kept_body`] for a body exchanged on `path`, whose secret fields are [`secret_fields_at`] `path`.
pub fn kept_body_at<'b>(path: &str, body: &'b [u8]) -> Cow<'b, [u8]> {
    kept_body_with(body, secret_fields_at(path))
}

fn kept_body_with<'b>(body: &'b [u8], fields: &SecretFields) -> Cow<'b, [u8]> {
    if body.len() > MAX_BODY_KEPT {
        return note(&format!("{} bytes, not kept", body.len()));
    }
    // A body that cannot spell a secret field (no escape, no control character, no field's name in any
    // case) is kept as it is without being parsed: redaction could not change it. This is the common case
    // (a poll, a login) and what keeps the journal cheap.
    if !text_may_hold_secret(body, fields) {
        return Cow::Borrowed(body);
    }
    match redacted_text(body, fields) {
        Ok((text, found)) => {
            if found.named {
                Cow::Owned(text)
            } else {
                Cow::Borrowed(body)
            }
        }
        Err(_) => note(&format!(
            "{} bytes of something other than JSON that could name a secret field: not kept",
            body.len()
        )),
    }
}

/// `body` (one JSON document) written again compactly as it is read, each non-empty value of a secret
/// field replaced by [`REDACTED`]: what [`redact_document`] does to a parsed document, without building
/// one (a provision's body is read once and written once). Keys keep their order; a key given twice is
/// written twice, each checked.
fn redacted_text(body: &[u8], fields: &SecretFields) -> serde_json::Result<(Vec<u8>, Found)> {
    use serde::de::DeserializeSeed;
    let mut out = Vec::with_capacity(body.len());
    let mut found = Found::default();
    let mut reader = serde_json::Deserializer::from_slice(body);
    Rewrite {
        fields,
        out: &mut out,
        found: &mut found,
    }
    .deserialize(&mut reader)?;
    reader.end()?;
    Ok((out, found))
}

/// One value of [`redacted_text`]'s document, written to `out` as it is read.
struct Rewrite<'a> {
    fields: &'a SecretFields,
    out: &'a mut Vec<u8>,
    found: &'a mut Found,
}

impl Rewrite<'_> {
    fn again(&mut self) -> Rewrite<'_> {
        Rewrite {
            fields: self.fields,
            out: self.out,
            found: self.found,
        }
    }

    fn write<T: Serialize + ?Sized, E: serde::de::Error>(&mut self, value: &T) -> Result<(), E> {
        serde_json::to_writer(&mut *self.out, value).map_err(E::custom)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Rewrite<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Rewrite<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(mut self, v: bool) -> Result<(), E> {
        self.write(&v)
    }

    fn visit_i64<E: serde::de::Error>(mut self, v: i64) -> Result<(), E> {
        self.write(&v)
    }

    fn visit_u64<E: serde::de::Error>(mut self, v: u64) -> Result<(), E> {
        self.write(&v)
    }

    fn visit_f64<E: serde::de::Error>(mut self, v: f64) -> Result<(), E> {
        // As a parsed document writes it (a number that is no finite f64 cannot come from JSON text).
        self.write(&serde_json::Number::from_f64(v))
    }

    fn visit_str<E: serde::de::Error>(mut self, v: &str) -> Result<(), E> {
        self.write(v)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let at = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq.next_element_seed(self.again())?.is_none() {
                self.out.truncate(at);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let mut first = true;
        while let Some(key) = map.next_key::<crate::strict::Text<'de>>()? {
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.write(key.0.as_ref())?;
            self.out.push(b':');
            if self.fields.names(&key.0) {
                self.found.named = true;
                let value: Value = map.next_value()?;
                if value.is_null() || value.as_str() == Some("") {
                    self.write(&value)?;
                } else {
                    self.found.redacted = true;
                    self.write(REDACTED)?;
                }
            } else {
                map.next_value_seed(self.again())?;
            }
        }
        self.out.push(b'}');
        Ok(())
    }
}

fn note(text: &str) -> Cow<'static, [u8]> {
    Cow::Owned(
        serde_json::to_vec(&serde_json::json!({ "fortimock_note": text })).unwrap_or_default(),
    )
}

/// A kept body as it is shown: JSON as JSON, other text as a string, nothing as `null`.
pub fn shown_body(kept: &[u8]) -> Value {
    if kept.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(kept)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(kept).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_redacted_at_any_depth_and_nothing_else() {
        let provision = br#"{"d":{"__type":"SoftToken.ProvisionRequest","tokens":[{"token":"FTKMOB0000000001","seed":"A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A","code_expire":4320}]}}"#;
        let kept = kept_body(provision);
        let text = String::from_utf8(kept.to_vec()).unwrap();
        assert!(!text.contains("A84E2CAAD3"), "{text}");
        let shown = shown_body(&kept);
        assert_eq!(shown["d"]["tokens"][0]["seed"], REDACTED);
        assert_eq!(shown["d"]["tokens"][0]["token"], "FTKMOB0000000001");
        assert_eq!(shown["d"]["tokens"][0]["code_expire"], 4320);

        // An empty seed (a refused phone) is no secret and is shown as sent.
        let mobile_error = br#"{"d":{"seed":"","error":{"error_code":40}}}"#;
        assert_eq!(shown_body(&kept_body(mobile_error))["d"]["seed"], "");
        let import = br#"{"d":{"license_activation_code":"1111-2222-3333-4444-5555"}}"#;
        assert_eq!(kept_body(import), import.to_vec(), "kept byte for byte");
    }

    #[test]
    fn odd_bodies_are_kept_safely() {
        assert_eq!(shown_body(b""), Value::Null);
        assert_eq!(shown_body(&kept_body(b"not json")), "not json");
        let secret_text = kept_body(b"\"seed\": 12 and junk");
        assert!(!String::from_utf8_lossy(&secret_text).contains("12 and junk"));
        let big = vec![b'x'; MAX_BODY_KEPT + 1];
        assert_eq!(
            shown_body(&kept_body(&big))["fortimock_note"],
            format!("{} bytes, not kept", MAX_BODY_KEPT + 1)
        );
    }

    /// The secret as the provisioning request carried it, for checking that it is nowhere in what is kept.
    const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";

    #[track_caller]
    fn assert_no_seed(kept: &[u8]) {
        let text = String::from_utf8_lossy(kept);
        assert!(!text.contains(SEED), "the seed was kept: {text}");
    }

    #[test]
    fn secret_keys_are_matched_as_decoded_in_any_case() {
        // serde decodes the escapes, so ftm reads these keys as `seed` and stores the seed they carry.
        for key in [
            r"se\u0065d",
            r"\u0073eed",
            r"\u0053\u0045\u0045\u0044",
            "Seed",
            "SEED",
        ] {
            let body = format!(
                r#"{{"d":{{"__type":"SoftToken.ProvisionRequest","tokens":[{{"token":"FTKMOB0000000001","{key}":"{SEED}","code_expire":4320}}]}}}}"#
            );
            let kept = kept_body(body.as_bytes());
            assert_no_seed(&kept);
            let shown = shown_body(&kept);
            let token = shown["d"]["tokens"][0].as_object().unwrap();
            assert_eq!(token.len(), 3, "{key}: {shown}");
            assert!(
                token
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case("seed") && v == REDACTED),
                "{key}: {shown}"
            );
            assert_eq!(token["token"], "FTKMOB0000000001");
        }
    }

    #[test]
    fn secrets_in_nested_arrays_and_every_secret_field_are_redacted() {
        let body = br#"[[{"seed":"s1"}],{"a":[[{"b":{"Encryption_Key":"k1","password":{"x":1}}}]]},[{"client_secret":"c1","api_key":7,"rng_seed":3}]]"#;
        let shown = shown_body(&kept_body(body));
        assert_eq!(shown[0][0]["seed"], REDACTED);
        assert_eq!(shown[1]["a"][0][0]["b"]["Encryption_Key"], REDACTED);
        assert_eq!(shown[1]["a"][0][0]["b"]["password"], REDACTED);
        assert_eq!(shown[2][0]["client_secret"], REDACTED);
        assert_eq!(shown[2][0]["api_key"], REDACTED);
        // A field whose name only contains a secret's name is not one.
        assert_eq!(shown[2][0]["rng_seed"], 3);
        // The app's empty `encryption_key` is shown as sent.
        let mobile = br#"{"d":{"seed":"wqU4","encryption_key":"","token":"FTKMOB0000000001"}}"#;
        let shown = shown_body(&kept_body(mobile));
        assert_eq!(shown["d"]["seed"], REDACTED);
        assert_eq!(shown["d"]["encryption_key"], "");
    }

    /// The body kept is what redacting the parsed document and writing it again gives, byte for byte (for
    /// documents without a duplicate key), without the document being built.
    #[test]
    fn the_rewritten_text_is_the_redacted_document_written_again() {
        let documents = [
            format!(
                r#"{{"d":{{"__type":"SoftToken.ProvisionRequest","tokens":[{{"token":"FTKMOB0000000001","seed":"{SEED}","code_expire":4320}}]}}}}"#
            ),
            r#" { "b" : [ 1 , -2 , 3.5 , 1e3 , -0.0 , 12345678901234567890 , true , false , null ] , "a" : { } , "c" : [ ] , "Seed" : "" } "#.to_owned(),
            r#"{"s\u00e9ed":"x","t\"q":"\u0000\n\u2028","seed":null,"password":{"nested":["a"]},"api_key":0}"#.to_owned(),
            r#"[[{"seed":"s1"}],{"a":[[{"b":{"Encryption_Key":"k1"}}]]},"plain",7]"#.to_owned(),
            r#""a string alone""#.to_owned(),
        ];
        for document in &documents {
            let mut value: Value = serde_json::from_str(document).unwrap();
            let expected = redact_document(&mut value, &EVERYWHERE);
            let (text, found) = redacted_text(document.as_bytes(), &EVERYWHERE).unwrap();
            assert_eq!(
                String::from_utf8(text).unwrap(),
                serde_json::to_string(&value).unwrap(),
                "{document}"
            );
            assert_eq!(
                (found.named, found.redacted),
                (expected.named, expected.redacted),
                "{document}"
            );
        }
        for broken in ["{\"seed\":", "[1,]", "{\"a\":1} trailing", "1e400"] {
            assert!(
                redacted_text(broken.as_bytes(), &EVERYWHERE).is_err(),
                "{broken}"
            );
        }
    }

    #[test]
    fn a_duplicate_key_cannot_keep_an_earlier_secret() {
        // The parsed document keeps the last value, an empty seed; the bytes also hold the first one.
        let body = format!(r#"{{"d":{{"seed":"{SEED}","se\u0065d":""}}}}"#);
        let kept = kept_body(body.as_bytes());
        assert_no_seed(&kept);
        assert_eq!(shown_body(&kept)["d"]["seed"], "");
    }

    #[test]
    fn bodies_that_are_not_json_are_kept_only_when_they_cannot_spell_a_secret() {
        for text in ["not json", "{\"token\": truncated", "a=1&b=2 (a form)"] {
            assert_eq!(kept_body(text.as_bytes()), text.as_bytes(), "{text}");
        }
        let spelled = [
            format!("seed={SEED}"),
            format!("PassWord: {SEED}"),
            // An escape spells the key, and a number serde_json's documents cannot hold makes it "not JSON".
            format!(r#"{{"d":{{"x":1e400,"se\u0065d":"{SEED}"}}}}"#),
            format!(r#"{{"\u0073eed":"{SEED}""#),
            format!("se%65d={SEED}"),
        ];
        for text in &spelled {
            let kept = kept_body(text.as_bytes());
            assert_no_seed(&kept);
            let note = shown_body(&kept)["fortimock_note"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(note.starts_with(&format!("{} bytes", text.len())), "{note}");
        }
        let utf16: Vec<u8> = "{\"seed\":\"1\"}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(shown_body(&kept_body(&utf16))["fortimock_note"].is_string());
    }

    #[test]
    fn the_one_pass_check_agrees_with_its_definition() {
        let definition = |body: &[u8], fields: &[&str]| match std::str::from_utf8(body) {
            Err(_) => true,
            Ok(text) => {
                let lower = text.to_ascii_lowercase();
                text.chars()
                    .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                    || text.contains(['\\', '%'])
                    || fields
                        .iter()
                        .any(|f| lower.contains(&f.to_ascii_lowercase()))
            }
        };
        let samples: [&[u8]; 16] = [
            b"",
            b"{\"d\":{\"token\":\"FTKMOB0000000001\"}}",
            b"{\"d\":{\"SEED\":\"x\"}}",
            b"se",
            b"trailing see",
            b"tab\tand\r\nlines",
            b"vertical\x0btab",
            b"del\x7f",
            "c1 \u{85} control".as_bytes(),
            "no control: \u{a0} \u{e9}".as_bytes(),
            b"100%",
            b"a\\b",
            b"\xff\xfe",
            b"passwd=1&PRIVATE_KEY=2",
            b"{\"d\":\"lone \xc2\"}",
            "ascii, then a C1 at the end \u{9f}".as_bytes(),
        ];
        for body in samples {
            for fields in [SECRET_FIELDS, &["seed"][..], &[][..]] {
                assert_eq!(
                    text_may_hold_secret(body, &SecretFields::new(fields)),
                    definition(body, fields),
                    "{:?} with {fields:?}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    #[test]
    fn bearer_tokens_are_redacted_and_the_v3_echo_only_on_v3_paths() {
        let answer = br#"{"access_token":"abc","expires_in":14400,"refresh_token":"def","token_type":"Bearer"}"#;
        let kept = shown_body(&kept_body_at(crate::paths::V3_OAUTH_TOKEN, answer));
        assert_eq!(kept["access_token"], REDACTED);
        assert_eq!(kept["refresh_token"], REDACTED);
        assert_eq!(kept["expires_in"], 14400);
        let echo = br#"{"build":"1.0.0","token":"abc","version":"3.0"}"#;
        let kept = shown_body(&kept_body_at(crate::paths::V3_LICENSES_LIST, echo));
        assert_eq!(kept["token"], REDACTED);
        // Elsewhere `token` is a token serial.
        let poll = br#"{"d":{"tokens":[{"token":"FTKMOB83F91CD33B"}]}}"#;
        assert_eq!(kept_body_at(crate::paths::PROCESS, poll), poll.to_vec());
    }

    /// The one-pass search finds exactly what comparing every field at every byte finds.
    #[test]
    fn the_quick_secret_check_agrees_with_the_plain_one() {
        fn plain(body: &[u8], fields: &[&str]) -> bool {
            (0..body.len()).any(|at| {
                fields.iter().any(|f| {
                    body.get(at..at + f.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(f.as_bytes()))
                })
            })
        }
        let pieces: [&[u8]; 14] = [
            b"se",
            b"ed",
            b"SEED",
            b"Seed",
            b"pass",
            b"word",
            b"PASSWD",
            b"_key",
            b"api",
            b"token",
            b"\"serial_number\":",
            b"status",
            b"x",
            b"client_se",
        ];
        let mut v3_fields = SECRET_FIELDS.to_vec();
        v3_fields.push("token");
        let v3 = secret_fields_at(crate::paths::V3_BASE);
        assert_eq!(v3.names, v3_fields);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            let mut body = Vec::new();
            for _ in 0..(state % 7) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                body.extend_from_slice(pieces[(state >> 33) as usize % pieces.len()]);
            }
            state = state.wrapping_add(0x632b_e59b_d9b4_e019);
            for (fields, names) in [(v3, &v3_fields[..]), (&*EVERYWHERE, SECRET_FIELDS)] {
                assert_eq!(
                    text_may_hold_secret(&body, fields),
                    plain(&body, names),
                    "{}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
    }
}
