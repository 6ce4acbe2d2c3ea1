//! The request journal (`/__admin/journal`): what forticare, ftm and the push relay were asked and what they
//! answered, for tests to assert on and for support engineers to read. fortimock's own API: fields may be
//! added, never renamed.
//!
//! Bodies are kept as sent, except secrets: every non-empty `seed` value, at any depth, is replaced by
//! [`REDACTED`] before the entry is stored (the seed an appliance provisions, the encrypted seed a phone
//! downloads).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::UnixTime;

/// What a secret value reads as in the journal.
pub const REDACTED: &str = "<redacted>";

/// The JSON fields whose values never reach the journal.
pub const SECRET_FIELDS: &[&str] = &["seed"];

/// The most bytes of one body the journal keeps; a longer body is kept as a note of its length.
pub const MAX_BODY_KEPT: usize = 16 * 1024;

/// One request and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalPage {
    pub entries: Vec<JournalEntry>,
    /// How many entries matched before `limit` kept the newest.
    pub matched: u64,
    /// The journal's capacity (`--journal-size`); the oldest entries make room for new ones.
    pub capacity: usize,
    /// Entries dropped to stay within the capacity since the service started or the journal was cleared.
    pub dropped: u64,
}

/// Replaces the value of every [`SECRET_FIELDS`] key in `value`, at any depth; returns whether it did.
pub fn redact(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for (key, inner) in map.iter_mut() {
                let empty = inner.is_null() || inner.as_str() == Some("");
                if SECRET_FIELDS.contains(&key.as_str()) && !empty {
                    *inner = Value::String(REDACTED.to_owned());
                    changed = true;
                } else {
                    changed |= redact(inner);
                }
            }
            changed
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| redact(v) | changed),
        _ => false,
    }
}

/// Whether `body` may hold a secret field, so that it must be parsed and redacted before it is kept (a
/// quick byte search: most bodies do not mention one).
pub fn may_hold_secret(body: &[u8]) -> bool {
    SECRET_FIELDS.iter().any(|field| {
        let quoted = format!("\"{field}\"");
        body.windows(quoted.len()).any(|w| w == quoted.as_bytes())
    })
}

/// A body as the journal keeps it: redacted when it may hold a secret, a note when it is too long. A body
/// that may hold a secret but is not JSON is not kept at all.
pub fn kept_body(body: &[u8]) -> Vec<u8> {
    if body.len() > MAX_BODY_KEPT {
        return note(&format!("{} bytes, not kept", body.len()));
    }
    if !may_hold_secret(body) {
        return body.to_vec();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact(&mut value);
            serde_json::to_vec(&value).unwrap_or_default()
        }
        Err(_) => note(&format!(
            "{} bytes naming a secret field, not JSON: not kept",
            body.len()
        )),
    }
}

fn note(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "fortimock_note": text })).unwrap_or_default()
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
        let text = String::from_utf8(kept.clone()).unwrap();
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
}
