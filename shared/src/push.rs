//! FortiToken Mobile push: the appliance's request to the push relay (push.fortinet.com), the encrypted
//! payload inside it, the phone's answer straight back to the appliance, and the relay's own API.
//!
//! The request is \[WIRE\] (FortiOS `diagnose debug application ftm-push -1`): `sender` is `FGT-<serial>-<vdom>`,
//! `message` is a JSON *string* holding `{ciphertext, sn, hmac, iv}` in Base64, written by json-c. What is
//! inside the ciphertext, how its keys are derived, the callback's fields and the relay's answers are
//! fortimock's model (DESIGN.md section 4), marked so and indexed in `modeled`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::{SealKey, Sealed, hmac_sha256, open, seal};
use crate::id::{ApplianceSerial, TokenSerial};
use crate::jsonc;
use crate::modeled;
use crate::time::UnixTime;

/// `app` in every FortiToken Mobile push.
pub const APP: &str = "FTM";

/// The appliance's request to the push relay, field for field as FortiOS sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushRequest {
    /// `FGT-<appliance serial>-<vdom>`.
    pub sender: String,
    /// The phone's push token (FortiOS `reg-id`).
    pub registration_id: String,
    /// Always `FTM`.
    pub app: String,
    /// `android` or `ios`.
    pub platform: String,
    /// A JSON string holding a `PushMessage`.
    pub message: String,
}

/// The `message` of a [`PushRequest`]: the encrypted payload, and `sn`, the token it is for, in the clear
/// so the phone knows which seed decrypts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushMessage {
    pub ciphertext: String,
    pub sn: String,
    pub hmac: String,
    pub iv: String,
}

/// Why a push cannot be taken apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("`sender` `{0}` is not of the form FGT-<serial>-<vdom>")]
    BadSender(String),
    #[error("`message` is not a JSON string holding {{ciphertext, sn, hmac, iv}}: {0}")]
    BadMessage(String),
    #[error("the push's HMAC does not match: it was altered or is for another seed")]
    BadMac,
    #[error("the push payload cannot be read: {0}")]
    BadPayload(String),
}

/// Builds `FGT-<serial>-<vdom>`.
pub fn sender(serial: &ApplianceSerial, vdom: &str) -> String {
    format!("FGT-{serial}-{vdom}")
}

/// Splits a `sender` into the appliance serial and the vdom (the vdom follows the last dash).
pub fn parse_sender(sender: &str) -> Result<(ApplianceSerial, String), PushError> {
    let bad = || PushError::BadSender(sender.chars().take(80).collect());
    let rest = sender.strip_prefix("FGT-").ok_or_else(bad)?;
    let (serial, vdom) = rest.rsplit_once('-').ok_or_else(bad)?;
    if vdom.is_empty() {
        return Err(bad());
    }
    Ok((serial.parse().map_err(|_| bad())?, vdom.to_owned()))
}

impl PushMessage {
    /// The `message` string as FortiOS writes it (json-c: `{ "ciphertext": "…", … }`, `/` as `\/`).
    pub fn to_wire(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        jsonc::to_string_spaced(&value)
    }

    /// Reads the `message` string of a push.
    pub fn from_wire(message: &str) -> Result<PushMessage, PushError> {
        serde_json::from_str(message).map_err(|e| PushError::BadMessage(e.to_string()))
    }
}

/// What a push says, once decrypted (modeled: the public sources only say it carries the recipient, the
/// session and the appliance's callback address and port, and that the app shows the user, the time and
/// the client application).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushPayload {
    /// The login waiting for an answer; 32 hex digits.
    pub session_id: String,
    pub user: String,
    /// The appliance asking.
    pub serial: ApplianceSerial,
    pub vdom: String,
    pub token: TokenSerial,
    /// Where the phone answers: `https://<host>:<port>` + [`crate::paths::PUSH_CALLBACK`].
    pub callback_host: String,
    pub callback_port: u16,
    /// The address the user is logging in from.
    pub client_ip: String,
    /// What the user is logging in to, e.g. `SSL VPN`.
    pub client_application: String,
    pub time: UnixTime,
    /// After this the appliance no longer waits for an answer.
    pub expires: UnixTime,
}

/// The keys of a token's pushes (modeled): AES-256-CBC and HMAC-SHA256 keys derived from the token's seed
/// with HMAC-SHA256 and fixed labels, so only the appliance and the phone holding the seed can read a push.
fn payload_key(seed: &[u8]) -> SealKey {
    SealKey::from_secret(seed, modeled::PUSH_PAYLOAD_KEY_LABEL)
}

/// Encrypts `payload` for the phone holding `seed` (the caller passes a random IV).
pub fn seal_payload(seed: &[u8], payload: &PushPayload, iv: [u8; 16]) -> PushMessage {
    let plain = serde_json::to_vec(payload).unwrap_or_default();
    let sealed = seal(&payload_key(seed), iv, &plain);
    PushMessage {
        ciphertext: BASE64.encode(&sealed.ciphertext),
        sn: payload.token.to_string(),
        hmac: BASE64.encode(sealed.mac),
        iv: BASE64.encode(sealed.iv),
    }
}

/// Checks the HMAC (in constant time) and decrypts a push with the token's `seed`.
pub fn open_payload(seed: &[u8], message: &PushMessage) -> Result<PushPayload, PushError> {
    let decode = |field: &str, text: &str| {
        BASE64
            .decode(text)
            .map_err(|e| PushError::BadMessage(format!("{field}: {e}")))
    };
    let iv: [u8; 16] = decode("iv", &message.iv)?
        .try_into()
        .map_err(|_| PushError::BadMessage("iv: not 16 bytes".into()))?;
    let mac: [u8; 32] = decode("hmac", &message.hmac)?
        .try_into()
        .map_err(|_| PushError::BadMessage("hmac: not 32 bytes".into()))?;
    let sealed = Sealed {
        iv,
        ciphertext: decode("ciphertext", &message.ciphertext)?,
        mac,
    };
    let plain = open(&payload_key(seed), &sealed).map_err(|e| match e {
        crate::crypto::CryptoError::BadMac => PushError::BadMac,
        other => PushError::BadPayload(other.to_string()),
    })?;
    serde_json::from_slice(&plain).map_err(|e| PushError::BadPayload(e.to_string()))
}

/// The phone's answer, posted straight to the appliance's callback address (modeled on FortiAuthenticator's
/// documented `/api/v1/pushauthresp/`: `validate` approves with the current OTP, `alert` denies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushCallback {
    pub session_id: String,
    /// `validate` (approve) or `alert` (deny).
    pub action: String,
    /// `validate`: the OTP the phone shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_code: Option<String>,
    /// `alert`: why, e.g. `denied by user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Lowercase hex HMAC-SHA256 over the session id, the action and the code or message, keyed from the
    /// token's seed (see `protocol::push::callback_hmac`).
    pub hmac: String,
}

/// An approval.
pub const ACTION_APPROVE: &str = "validate";
/// A denial.
pub const ACTION_DENY: &str = "alert";

/// The callback's HMAC (modeled): HMAC-SHA256 keyed by HMAC-SHA256(seed, [`modeled::PUSH_CALLBACK_KEY_LABEL`])
/// over `session_id`, NUL, `action`, NUL, the token code or message.
pub fn callback_hmac(seed: &[u8], session_id: &str, action: &str, detail: &str) -> String {
    let key = hmac_sha256(seed, &[modeled::PUSH_CALLBACK_KEY_LABEL.as_bytes()]);
    hex::encode(hmac_sha256(
        &key,
        &[
            session_id.as_bytes(),
            b"\0",
            action.as_bytes(),
            b"\0",
            detail.as_bytes(),
        ],
    ))
}

impl PushCallback {
    /// Approving: the current OTP, signed.
    pub fn approve(seed: &[u8], session_id: &str, otp: &str) -> PushCallback {
        PushCallback {
            session_id: session_id.to_owned(),
            action: ACTION_APPROVE.to_owned(),
            token_code: Some(otp.to_owned()),
            message: None,
            hmac: callback_hmac(seed, session_id, ACTION_APPROVE, otp),
        }
    }

    /// Denying, with a reason, signed.
    pub fn deny(seed: &[u8], session_id: &str, message: &str) -> PushCallback {
        PushCallback {
            session_id: session_id.to_owned(),
            action: ACTION_DENY.to_owned(),
            token_code: None,
            message: Some(message.to_owned()),
            hmac: callback_hmac(seed, session_id, ACTION_DENY, message),
        }
    }

    /// Whether the HMAC is the one `seed` gives, compared in constant time.
    pub fn signed_by(&self, seed: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let detail = self
            .token_code
            .as_deref()
            .or(self.message.as_deref())
            .unwrap_or_default();
        let expected = callback_hmac(seed, &self.session_id, &self.action, detail);
        bool::from(
            expected
                .as_bytes()
                .ct_eq(self.hmac.to_ascii_lowercase().as_bytes()),
        )
    }
}

/// The relay's answer to an accepted push (modeled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushAccepted {
    /// `ok`.
    pub status: String,
    /// 32 hex digits, like FortiAuthenticator's pushd logs show.
    pub message_id: String,
}

/// The relay's answer to a refused push (modeled on APNs and FCM): `reason` is `Unregistered` (HTTP 410: no
/// installed app holds the registration id) or `BadDeviceToken` (HTTP 400: it is not a push token at all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushRefused {
    /// `error`.
    pub status: String,
    pub reason: String,
    /// A sentence for people.
    pub message: String,
}

/// A relay refusal reason.
pub const UNREGISTERED: &str = "Unregistered";
/// A relay refusal reason.
pub const BAD_DEVICE_TOKEN: &str = "BadDeviceToken";
/// A relay refusal reason (HTTP 400): the request is not a well-formed push or device registration; the
/// `message` names the problem.
pub const BAD_REQUEST: &str = "BadRequest";
/// A relay refusal reason (HTTP 413): the body is larger than the relay reads.
pub const PAYLOAD_TOO_LARGE: &str = "PayloadTooLarge";
/// A relay refusal reason (HTTP 404) on the device API: no device is registered under the id.
pub const NOT_FOUND: &str = "NotFound";
/// A relay refusal reason (HTTP 500, as APNs names it): the relay failed; its log says why.
pub const INTERNAL_SERVER_ERROR: &str = "InternalServerError";

/// Whether `registration_id` has the shape of a push token: an APNs device token (64 hex digits) or an FCM
/// registration token (`<instance id>:APA91b<…>`).
pub fn is_push_token(registration_id: &str) -> bool {
    let apns =
        registration_id.len() == 64 && registration_id.bytes().all(|b| b.is_ascii_hexdigit());
    let fcm = registration_id
        .split_once(':')
        .is_some_and(|(instance, token)| {
            let url_safe = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            !instance.is_empty()
                && url_safe(instance)
                && token.starts_with("APA91b")
                && token.len() > 20
                && url_safe(token)
        });
    apns || fcm
}

/// A device registered with the relay (`PUT /api/v1/devices/{registration_id}`): the app installed on a
/// phone. Pushes wait in the device's queue; with a `webhook` the relay also posts each one there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceRegistration {
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

/// A device as the relay knows it: the answer to `PUT` and `GET /api/v1/devices/{registration_id}`, and
/// one entry of `GET /__admin/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub registration_id: String,
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// When the device was first registered (a `PUT` on a registered device keeps it).
    pub registered: UnixTime,
    /// How many pushes wait in its queue.
    pub queued: u64,
}

/// The answer to `GET /__admin/devices`, by registration id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

/// A push as delivered to a device and kept in the relay's journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveredPush {
    pub message_id: String,
    /// Order of arrival at the relay, per relay.
    pub seq: u64,
    pub received: UnixTime,
    pub sender: String,
    pub registration_id: String,
    pub platform: String,
    pub message: String,
}

/// `GET /api/v1/devices/{registration_id}/pushes?after=<seq>&wait=<secs>`: pushes after `after`, in arrival
/// order, waiting up to `wait` seconds for the first one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushBatch {
    pub pushes: Vec<DeliveredPush>,
    /// Pass as `after` next time.
    pub last_seq: u64,
}

/// One entry of the relay's journal (`GET /__admin/pushes`): every push it was sent, delivered or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JournalEntry {
    /// The delivered push's `seq` ([`DeliveredPush::seq`]); 0 for a refused push, which gets none.
    pub seq: u64,
    pub received: UnixTime,
    /// Set when delivered.
    pub message_id: Option<String>,
    pub sender: String,
    pub registration_id: String,
    pub platform: String,
    /// The token serial the message names, when it could be read.
    pub sn: Option<String>,
    /// `delivered`, `Unregistered`, `BadDeviceToken` or `BadRequest`.
    pub outcome: String,
}

/// The answer to `GET /__admin/pushes`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushJournal {
    pub pushes: Vec<JournalEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &[u8] = b"12345678901234567890";

    fn payload() -> PushPayload {
        PushPayload {
            session_id: "9e270504412d414fa47c1dfaeea0c052".into(),
            user: "alice".into(),
            serial: "FGVM32TM20000015".parse().unwrap(),
            vdom: "root".into(),
            token: "FTKMOB028CA23F11".parse().unwrap(),
            callback_host: "127.0.0.1".into(),
            callback_port: 4433,
            client_ip: "203.0.113.7".into(),
            client_application: "SSL VPN".into(),
            time: UnixTime::from_secs(1_700_000_000),
            expires: UnixTime::from_secs(1_700_000_060),
        }
    }

    #[test]
    fn the_captured_push_request_parses() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/wire/push-send.request.json");
        let text = std::fs::read_to_string(path).unwrap();
        let request: PushRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (request.app.as_str(), request.platform.as_str()),
            ("FTM", "android")
        );
        let (serial, vdom) = parse_sender(&request.sender).unwrap();
        assert_eq!(
            (serial.as_str(), vdom.as_str()),
            ("FGVM32TM20000015", "root")
        );
        assert!(is_push_token(&request.registration_id));
        let message = PushMessage::from_wire(&request.message).unwrap();
        assert_eq!(message.sn, "FTKMOB028CA23F11");
        assert_eq!(BASE64.decode(&message.ciphertext).unwrap().len(), 128);
        assert_eq!(BASE64.decode(&message.hmac).unwrap().len(), 32);
        assert_eq!(BASE64.decode(&message.iv).unwrap().len(), 16);
        // Written back as FortiOS writes it, byte for byte.
        assert_eq!(message.to_wire(), request.message);
        let back: Value = serde_json::to_value(&request).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(&text).unwrap());
    }

    #[test]
    fn payloads_round_trip_and_tampering_is_caught() {
        let message = seal_payload(SEED, &payload(), [7; 16]);
        assert_eq!(open_payload(SEED, &message).unwrap(), payload());
        assert_eq!(
            open_payload(b"another seed of twenty", &message),
            Err(PushError::BadMac)
        );
        let mut ciphertext = BASE64.decode(&message.ciphertext).unwrap();
        ciphertext[3] ^= 1;
        let tampered = PushMessage {
            ciphertext: BASE64.encode(ciphertext),
            ..message.clone()
        };
        assert_eq!(open_payload(SEED, &tampered), Err(PushError::BadMac));
        let wire = PushMessage::from_wire(&message.to_wire()).unwrap();
        assert_eq!(wire, message);
        assert!(matches!(
            PushMessage::from_wire("{\"sn\": 1}"),
            Err(PushError::BadMessage(_))
        ));
    }

    #[test]
    fn callbacks_are_signed_by_the_seed() {
        let approve = PushCallback::approve(SEED, "abc", "123456");
        assert!(approve.signed_by(SEED));
        assert!(!approve.signed_by(b"another seed of twenty"));
        let forged = PushCallback {
            token_code: Some("654321".into()),
            ..approve.clone()
        };
        assert!(!forged.signed_by(SEED));
        let deny = PushCallback::deny(SEED, "abc", "denied by user");
        assert!(deny.signed_by(SEED));
        assert_eq!(serde_json::to_value(&deny).unwrap()["action"], "alert");
    }

    #[test]
    fn senders_and_push_tokens() {
        assert_eq!(
            sender(&"FGVM32TM20000015".parse().unwrap(), "root"),
            "FGT-FGVM32TM20000015-root"
        );
        let (serial, vdom) = parse_sender("FGT-FAC-VMTM18004378-vdom_2").unwrap();
        assert_eq!(
            (serial.as_str(), vdom.as_str()),
            ("FAC-VMTM18004378", "vdom_2")
        );
        for bad in [
            "FGVM32TM20000015-root",
            "FGT-",
            "FGT-FGVM32TM20000015",
            "FGT-FGVM32TM20000015-",
            "FGT-x-root",
        ] {
            assert!(parse_sender(bad).is_err(), "{bad}");
        }
        assert!(is_push_token(
            "fa0678e8f9e35f6a251cea691e4d56ed6fe9169ad03d2d26fe6dede6c8985a90"
        ));
        assert!(is_push_token("f6t6cMVZI5c:APA91bFzxAbCdEfGhIjKlMnOpQrStUv"));
        for bad in [
            "",
            "not-a-token",
            "fa0678e8f9e35f6a",
            "abc:XYZ",
            ":APA91bFzxAbCdEfGhIjKlMnOpQrStUv",
            "f6t6c:APA91b<script>xxxxxxxxxxxxx",
        ] {
            assert!(!is_push_token(bad), "{bad}");
        }
    }
}
