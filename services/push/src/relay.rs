//! The relay's rules, pure: taking an appliance's push request apart (every check that happens before the
//! store is touched), the refusals in the relay's own words, device registrations, and the journal's
//! view of a request the relay refused.
//!
//! The relay never reads a push's payload: it checks that `message` is a JSON string holding
//! `{ciphertext, sn, hmac, iv}` and keeps `sn`, the token serial sent in the clear, for the journal.

use protocol::phone::Platform;
use protocol::push::{
    APP, BAD_DEVICE_TOKEN, BAD_REQUEST, DeviceRegistration, INTERNAL_SERVER_ERROR, NOT_FOUND,
    PAYLOAD_TOO_LARGE, PushMessage, UNREGISTERED, is_push_token, parse_sender,
};
use serde_json::{Map, Value};

/// The largest body the relay reads (a FortiOS push is about 600 bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// How many characters of a refused request's values the journal keeps and a refusal quotes (FortiOS's
/// `reg-id` holds 256).
pub const QUOTED_MAX: usize = 256;

/// The journal outcome of a push delivered to a device.
pub const DELIVERED: &str = "delivered";

/// Why the relay refuses a request; each is a `reason` of `protocol::push::PushRefused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// HTTP 400: not a well-formed push or registration.
    BadRequest,
    /// HTTP 400: the registration id is not a push token, or is registered for the other platform.
    BadDeviceToken,
    /// HTTP 410: no device is registered under the id.
    Unregistered,
    /// HTTP 413.
    PayloadTooLarge,
    /// HTTP 404 on the device API.
    NotFound,
    /// HTTP 500: the relay failed (its storage); the log says why.
    InternalServerError,
}

impl Reason {
    /// The `reason` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadRequest => BAD_REQUEST,
            Reason::BadDeviceToken => BAD_DEVICE_TOKEN,
            Reason::Unregistered => UNREGISTERED,
            Reason::PayloadTooLarge => PAYLOAD_TOO_LARGE,
            Reason::NotFound => NOT_FOUND,
            Reason::InternalServerError => INTERNAL_SERVER_ERROR,
        }
    }

    /// The HTTP status the relay answers with.
    pub fn status(self) -> u16 {
        match self {
            Reason::BadRequest | Reason::BadDeviceToken => 400,
            Reason::Unregistered => 410,
            Reason::PayloadTooLarge => 413,
            Reason::NotFound => 404,
            Reason::InternalServerError => 500,
        }
    }
}

/// The `reason` for an HTTP status a scenario answers with: APNs's names (`Unregistered` for 410, otherwise
/// the status's reason phrase without spaces: `TooManyRequests`, `ServiceUnavailable`, …).
pub fn reason_for_status(status: u16) -> String {
    if status == Reason::Unregistered.status() {
        return UNREGISTERED.to_owned();
    }
    actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|phrase| {
            phrase
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect()
        })
        .unwrap_or_else(|| format!("Status{status}"))
}

/// A refusal: its reason and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
}

impl Refusal {
    pub fn new(reason: Reason, message: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::new(Reason::BadRequest, message)
    }

    /// The answer to a body over [`MAX_BODY`].
    pub fn too_large() -> Refusal {
        Refusal::new(
            Reason::PayloadTooLarge,
            format!("the body is larger than the relay reads ({MAX_BODY} bytes)"),
        )
    }

    /// The answer to a push for a registration id no device holds.
    pub fn unregistered(registration_id: &str) -> Refusal {
        Refusal::new(
            Reason::Unregistered,
            format!(
                "no device is registered under `{}`: the app was uninstalled or never registered",
                quoted(registration_id)
            ),
        )
    }

    /// The answer to a push whose platform is not the one the device registered with.
    pub fn wrong_platform(registration_id: &str, sent: Platform, registered: Platform) -> Refusal {
        Refusal::new(
            Reason::BadDeviceToken,
            format!(
                "`{}` is registered as an {} device, not {}",
                quoted(registration_id),
                platform_name(registered),
                platform_name(sent)
            ),
        )
    }

    /// The answer to the device API for an id no device holds.
    pub fn not_found(registration_id: &str) -> Refusal {
        Refusal::new(
            Reason::NotFound,
            format!(
                "no device is registered under `{}`",
                quoted(registration_id)
            ),
        )
    }
}

/// A well-formed push for a push token: what the store needs to deliver it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub sender: String,
    pub registration_id: String,
    pub platform: Platform,
    /// The `message` string exactly as sent; the relay passes it on unread.
    pub message: String,
    /// The token serial the message names, in the clear.
    pub sn: String,
}

/// What the journal keeps of a refused request: the values that could be read, cut to [`QUOTED_MAX`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedPush {
    pub registration_id: String,
    /// Empty when the request had none (or not a string).
    pub sender: String,
    /// Empty when the request had none (or not a string).
    pub platform: String,
    pub sn: Option<String>,
}

/// A push request the relay refuses before looking up the device. `journal` is `None` when the request
/// is so malformed that it names no registration id; such requests are not journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub refusal: Refusal,
    pub journal: Option<Box<RefusedPush>>,
}

/// The name of a platform on the wire.
pub fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Android => "android",
        Platform::Ios => "ios",
    }
}

/// A platform from its wire name (`android` or `ios`, exactly).
pub fn parse_platform(name: &str) -> Option<Platform> {
    match name {
        "android" => Some(Platform::Android),
        "ios" => Some(Platform::Ios),
        _ => None,
    }
}

/// `text` cut to [`QUOTED_MAX`] characters with control characters replaced, safe to quote in an answer
/// or a log line and to keep in the journal.
pub fn quoted(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(QUOTED_MAX)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text.chars().nth(QUOTED_MAX).is_some() {
        out.push('…');
    }
    out
}

/// What a JSON value is, for a sentence: `an object`, `a number`, ….
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The string field `name` of a push request, or the sentence saying what is wrong with it.
fn string_field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, Refusal> {
    match object.get(name) {
        Some(Value::String(text)) => Ok(text),
        None => Err(Refusal::bad_request(format!("`{name}` is missing"))),
        Some(other) if name == "message" => Err(Refusal::bad_request(format!(
            "`message` must be a JSON string holding {{ciphertext, sn, hmac, iv}}, not {}",
            kind_of(other)
        ))),
        Some(other) => Err(Refusal::bad_request(format!(
            "`{name}` must be a string, not {}",
            kind_of(other)
        ))),
    }
}

/// Takes a push request body apart, checking everything the relay checks before it looks up the
/// device: the request's shape, `app`, `platform`, `sender`, `message`, then that the registration id is a
/// push token.
pub fn decode_push(body: &[u8]) -> Result<Push, Rejected> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Rejected {
        refusal: Refusal::bad_request(format!("the body is not JSON: {e}")),
        journal: None,
    })?;
    let Value::Object(object) = value else {
        return Err(Rejected {
            refusal: Refusal::bad_request(format!(
                "the body is {}, not an object with sender, registration_id, app, platform and message",
                kind_of(&value)
            )),
            journal: None,
        });
    };
    let text = |name: &str| match object.get(name) {
        Some(Value::String(text)) => quoted(text),
        _ => String::new(),
    };
    let journal = match object.get("registration_id") {
        Some(Value::String(registration_id)) => Some(Box::new(RefusedPush {
            registration_id: quoted(registration_id),
            sender: text("sender"),
            platform: text("platform"),
            sn: match object.get("message") {
                Some(Value::String(message)) => {
                    PushMessage::from_wire(message).ok().map(|m| quoted(&m.sn))
                }
                _ => None,
            },
        })),
        _ => None,
    };
    let reject = |refusal: Refusal| Rejected {
        refusal,
        journal: journal.clone(),
    };
    let checked = || -> Result<Push, Refusal> {
        let sender = string_field(&object, "sender")?;
        let registration_id = string_field(&object, "registration_id")?;
        let app = string_field(&object, "app")?;
        let platform = string_field(&object, "platform")?;
        let message = string_field(&object, "message")?;
        if app != APP {
            return Err(Refusal::bad_request(format!(
                "`app` is `{}`; the relay carries FortiToken Mobile pushes only (`{APP}`)",
                quoted(app)
            )));
        }
        let platform = parse_platform(platform).ok_or_else(|| {
            Refusal::bad_request(format!(
                "`platform` is `{}`; it must be `android` or `ios`",
                quoted(platform)
            ))
        })?;
        parse_sender(sender).map_err(|e| Refusal::bad_request(e.to_string()))?;
        let parsed =
            PushMessage::from_wire(message).map_err(|e| Refusal::bad_request(e.to_string()))?;
        if !is_push_token(registration_id) {
            return Err(Refusal::new(
                Reason::BadDeviceToken,
                format!(
                    "`{}` is not a push token: neither an APNs device token (64 hex digits) nor an FCM \
                     registration token (`<instance id>:APA91b…`)",
                    quoted(registration_id)
                ),
            ));
        }
        Ok(Push {
            sender: sender.to_owned(),
            registration_id: registration_id.to_owned(),
            platform,
            message: message.to_owned(),
            sn: parsed.sn,
        })
    };
    checked().map_err(reject)
}

/// A registration's checked values: the platform and the webhook, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub platform: Platform,
    pub webhook: Option<String>,
}

/// Checks `PUT /api/v1/devices/{registration_id}`: the id must be a push token, the body a
/// [`DeviceRegistration`] with a known platform and, if given, an http(s) webhook URL.
pub fn decode_registration(registration_id: &str, body: &[u8]) -> Result<Registration, Refusal> {
    if !is_push_token(registration_id) {
        return Err(Refusal::new(
            Reason::BadDeviceToken,
            format!(
                "`{}` is not a push token: neither an APNs device token (64 hex digits) nor an FCM \
                 registration token (`<instance id>:APA91b…`)",
                quoted(registration_id)
            ),
        ));
    }
    let registration: DeviceRegistration = protocol::strict::from_slice(body).map_err(|e| {
        Refusal::bad_request(format!(
            "the body is not a device registration {{\"platform\": \"android\" or \"ios\", \
             \"webhook\": optional URL}}: {e}"
        ))
    })?;
    let platform = parse_platform(&registration.platform).ok_or_else(|| {
        Refusal::bad_request(format!(
            "`platform` is `{}`; it must be `android` or `ios`",
            quoted(&registration.platform)
        ))
    })?;
    if let Some(webhook) = &registration.webhook {
        let usable = reqwest::Url::parse(webhook).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty())
        });
        if !usable {
            return Err(Refusal::bad_request(format!(
                "`webhook` `{}` is not an http or https URL",
                quoted(webhook)
            )));
        }
    }
    Ok(Registration {
        platform,
        webhook: registration.webhook,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_statuses_get_apns_reasons() {
        assert_eq!(reason_for_status(410), "Unregistered");
        assert_eq!(reason_for_status(429), "TooManyRequests");
        assert_eq!(reason_for_status(500), "InternalServerError");
        assert_eq!(reason_for_status(503), "ServiceUnavailable");
        assert_eq!(reason_for_status(599), "Status599");
    }

    fn captured() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/wire/push-send.request.json");
        std::fs::read_to_string(path).unwrap()
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
        let mut value: Value = serde_json::from_str(&captured()).unwrap();
        change(value.as_object_mut().unwrap());
        serde_json::to_vec(&value).unwrap()
    }

    fn refusal(body: &[u8]) -> Rejected {
        decode_push(body).unwrap_err()
    }

    #[test]
    fn the_captured_push_is_well_formed() {
        let push = decode_push(captured().as_bytes()).unwrap();
        assert_eq!(push.sender, "FGT-FGVM32TM20000015-root");
        assert_eq!(push.platform, Platform::Android);
        assert_eq!(push.sn, "FTKMOB028CA23F11");
        assert!(push.registration_id.starts_with("cycl4mTqH7Y:APA91b"));
        // The message is passed on exactly as sent.
        let original: Value = serde_json::from_str(&captured()).unwrap();
        assert_eq!(push.message, original["message"].as_str().unwrap());
    }

    #[test]
    fn bodies_without_a_registration_id_are_refused_unjournaled() {
        for (body, says) in [
            (&b"not json"[..], "the body is not JSON"),
            (b"[1, 2]", "the body is an array, not an object"),
            (b"\"text\"", "the body is a string, not an object"),
            (b"{}", "`sender` is missing"),
        ] {
            let rejected = refusal(body);
            assert_eq!(rejected.refusal.reason, Reason::BadRequest);
            assert!(rejected.refusal.message.starts_with(says), "{rejected:?}");
            assert_eq!(rejected.journal, None);
        }
        let rejected = refusal(&with(|o| {
            o.insert("registration_id".into(), Value::from(7));
        }));
        assert_eq!(
            rejected.refusal.message,
            "`registration_id` must be a string, not a number"
        );
        assert_eq!(rejected.journal, None);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                with(|o| {
                    o.remove("app");
                }),
                "`app` is missing",
            ),
            (
                with(|o| {
                    o.insert("sender".into(), Value::Null);
                }),
                "`sender` must be a string, not null",
            ),
            (
                with(|o| {
                    o.insert(
                        "message".into(),
                        serde_json::json!({"sn": "FTKMOB028CA23F11"}),
                    );
                }),
                "`message` must be a JSON string holding {ciphertext, sn, hmac, iv}, not an object",
            ),
            (
                with(|o| {
                    o.insert("message".into(), Value::from("{\"sn\": \"x\"}"));
                }),
                "`message` is not a JSON string holding {ciphertext, sn, hmac, iv}",
            ),
            (
                with(|o| {
                    o.insert("app".into(), Value::from("FAC"));
                }),
                "`app` is `FAC`; the relay carries FortiToken Mobile pushes only (`FTM`)",
            ),
            (
                with(|o| {
                    o.insert("platform".into(), Value::from("windows"));
                }),
                "`platform` is `windows`; it must be `android` or `ios`",
            ),
            (
                with(|o| {
                    o.insert("sender".into(), Value::from("FGVM32TM20000015"));
                }),
                "`sender` `FGVM32TM20000015` is not of the form FGT-<serial>-<vdom>",
            ),
        ];
        for (body, says) in cases {
            let rejected = refusal(&body);
            assert_eq!(rejected.refusal.reason, Reason::BadRequest, "{says}");
            assert!(
                rejected.refusal.message.starts_with(says),
                "{} does not start with {says}",
                rejected.refusal.message
            );
            let journal = rejected.journal.unwrap();
            assert!(journal.registration_id.starts_with("cycl4mTqH7Y:APA91b"));
        }
    }

    #[test]
    fn a_registration_id_that_is_no_push_token_is_a_bad_device_token() {
        let rejected = refusal(&with(|o| {
            o.insert("registration_id".into(), Value::from("not-a-token"));
        }));
        assert_eq!(rejected.refusal.reason, Reason::BadDeviceToken);
        let journal = rejected.journal.unwrap();
        assert_eq!(journal.registration_id, "not-a-token");
        assert_eq!(journal.sender, "FGT-FGVM32TM20000015-root");
        assert_eq!(journal.platform, "android");
        assert_eq!(journal.sn.as_deref(), Some("FTKMOB028CA23F11"));
    }

    #[test]
    fn quoted_values_are_cut_and_cleaned() {
        assert_eq!(quoted("a\nb"), "a\u{fffd}b");
        let long = "x".repeat(QUOTED_MAX + 10);
        assert_eq!(quoted(&long).chars().count(), QUOTED_MAX + 1);
        assert_eq!(quoted("short"), "short");
    }

    #[test]
    fn registrations_are_checked() {
        let android = "f6t6cMVZI5c:APA91bFzxAbCdEfGhIjKlMnOpQrStUv";
        let ok = decode_registration(
            android,
            br#"{"platform": "android", "webhook": "http://127.0.0.1:9/hook"}"#,
        )
        .unwrap();
        assert_eq!(ok.platform, Platform::Android);
        assert_eq!(ok.webhook.as_deref(), Some("http://127.0.0.1:9/hook"));
        let refused = |id: &str, body: &[u8]| decode_registration(id, body).unwrap_err();
        assert_eq!(
            refused("nope", br#"{"platform": "ios"}"#).reason,
            Reason::BadDeviceToken
        );
        for body in [
            &br#"{"platform": "symbian"}"#[..],
            br#"{"platform": "ios", "webhook": "ftp://example.com/x"}"#,
            br#"{"platform": "ios", "webhook": "not a url"}"#,
            br#"{"webhook": "https://example.com/x"}"#,
            b"[]",
        ] {
            assert_eq!(refused(android, body).reason, Reason::BadRequest);
        }
    }

    #[test]
    fn reasons_have_their_statuses() {
        assert_eq!(Reason::Unregistered.status(), 410);
        assert_eq!(Reason::BadDeviceToken.as_str(), "BadDeviceToken");
        assert_eq!(Reason::PayloadTooLarge.status(), 413);
    }
}
