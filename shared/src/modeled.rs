//! fortimock's answers where no public source speaks: every modeled wire decision lives here, in one
//! place, so a real capture that shows otherwise changes one file (DESIGN.md section 4).
//!
//! Anything in this module is a model, not a fact. Docs and the catalogue tag it [`Provenance::Modeled`].
//!
//! Modeled *fields* have to live on the message types that carry them; each is marked "modeled" in its doc
//! comment, and this list is the index of them:
//!
//! - `license::ActivationLicenseResponse` on success: the `license` and `tokens` values (the error shape is
//!   \[WIRE\]; `tokens` per seat from [`token_serials`]).
//! - `provision::ProvisionedToken` success values (`license`, `token_activation_code`, `qr_code` from
//!   [`qr_payload`], `code_expire`) and every `provision::PolledToken` field after `license` (`status`, see
//!   [`TokenStatus`], `reg_id`, `os_ver`, `activated`).
//! - `mobile::MobileProvisionResponse` success values: `mobile_id_hash` ([`mobile_id_hash`]), the PIN fields
//!   ([`MOBILE_PIN_REQUIRED`] and after it) and `counter` ([`otp_to_wire`]). The field set is \[WIRE\].
//! - The activation code's flag byte (`activation::TokenActivationCode::flag`) and the MobileProvisionResponse's
//!   `counter`: how a token's period, algorithm and length reach the phone ([`otp_to_wire`], read back by
//!   [`otp_from_wire`]; the bits are [`CODE_FLAG_60_SECONDS`], [`CODE_FLAG_HOTP`], [`CODE_FLAG_EIGHT_DIGITS`]).
//! - `push::PushPayload` (everything inside the ciphertext), `push::PushCallback`, `push::PushAccepted`,
//!   `push::PushRefused` and the relay's paths (`paths::RELAY_PUSH`, after FortiAuthenticator's
//!   `paths::PUSH_CALLBACK`).
//! - `appliance::FtmPushSettings::reachable`.
//! - Which service answers which real host name (`hosts::EMULATED_HOSTS`): the FortiGate's host for
//!   `/Process` is not public, so every FTM name a KB mentions (fortitokenmobile, globalftm,
//!   directregistration) goes to ftm, the appliances' one front door; `update.fortiguard.net` (FortiAuthenticator's
//!   hardware token activation) goes to forticare; `notification.fortinet.net` (FortiGate's mail server) to
//!   no service yet, resolving into the lab only so mail never leaves it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalogue::{CatalogueEntry, Provenance};
use crate::id::{ApplianceSerial, LicenseId, MobileId, TokenSerial};
use crate::otp::{OtpKind, OtpParams};

/// Importing a code whose license is already registered to an appliance outside the requester's
/// cluster. The real service's code and text are not public; the requester's own cluster may import again.
pub const LICENSE_REGISTERED_ELSEWHERE: CatalogueEntry = CatalogueEntry {
    id: "forticare.import.registered-elsewhere",
    code: Some(18),
    text: "forticare license activation code already registered to another product",
    provenance: Provenance::Modeled,
    symptom: "FortiOS reports the import as failed; a license transfer (Customer Service ticket) is the real-world fix",
    source: "fortimock model: no public capture of this case",
};

/// Importing a code past its redemption certificate's "Certificate Valid Until" date that was never
/// redeemed. The text is the one FortiAuthenticator shows (KB 197790, \[DOC\]); the code is fortimock's.
pub const LICENSE_EXPIRED: CatalogueEntry = CatalogueEntry {
    id: "forticare.import.license-expired",
    code: Some(19),
    text: "forticare license expired",
    provenance: Provenance::Modeled,
    symptom: "FortiAuthenticator shows `forticare license expired`; FortiGate may show `Internal Server Error`",
    source: "text: KB 197790 / 99299 [DOC]; code: fortimock model",
};

/// The push relay's answer for a registration id no installed app holds (an uninstalled app, a stale
/// `reg-id`): APNs's `Unregistered` (HTTP 410). The real relay's answer to FortiOS is not public.
pub const PUSH_UNREGISTERED: CatalogueEntry = CatalogueEntry {
    id: "push.relay.unregistered",
    code: None,
    text: "Unregistered",
    provenance: Provenance::Modeled,
    symptom: "the push login fails at once; the phone never shows a notification (re-activate the token to refresh reg-id)",
    source: "fortimock model, after APNs and FCM",
};

/// The push relay's answer for a registration id that is not a push token at all: APNs's `BadDeviceToken`
/// (HTTP 400).
pub const PUSH_BAD_DEVICE_TOKEN: CatalogueEntry = CatalogueEntry {
    id: "push.relay.bad-device-token",
    code: None,
    text: "BadDeviceToken",
    provenance: Provenance::Modeled,
    symptom: "the push login fails at once",
    source: "fortimock model, after APNs",
};

/// The answer to a SoftToken request that cannot be decoded at all (not JSON, no `d`, no `__type`, an
/// unknown `__type`, a field of the wrong type, too large).
///
/// The real endpoints are ASP.NET ScriptService methods, which answer such requests with a JSON
/// exception object (`Message`, `StackTrace`, `ExceptionType`) and a `jsonerror: true` header.
/// fortimock uses that shape with HTTP 400 (413 when too large) and adds `error_id`, a stable id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolFault {
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "StackTrace")]
    pub stack_trace: String,
    #[serde(rename = "ExceptionType")]
    pub exception_type: String,
    pub error_id: String,
}

/// The header ASP.NET sets on a [`ProtocolFault`].
pub const PROTOCOL_FAULT_HEADER: (&str, &str) = ("jsonerror", "true");

impl ProtocolFault {
    pub fn new(error_id: &str, message: String) -> ProtocolFault {
        ProtocolFault {
            message,
            stack_trace: String::new(),
            exception_type: "System.InvalidOperationException".to_owned(),
            error_id: error_id.to_owned(),
        }
    }
}

/// The number of tokens a trial import yields (\[DOC\] KB 190171, 193793: always two).
pub const TRIAL_SEATS: u32 = 2;

/// The token serials of a license. fortimock derives them from the license id, so a license created from
/// the same fixture always has the same tokens and docs can name them.
pub fn token_serials(license: &LicenseId, seats: u32) -> Vec<TokenSerial> {
    (0..seats)
        .map(|seat| {
            let digest = Sha256::new()
                .chain_update(b"fortimock token serial\0")
                .chain_update(license.as_str())
                .chain_update(seat.to_be_bytes())
                .finalize();
            let mut bytes = [0u8; 5];
            bytes.copy_from_slice(&digest[..5]);
            TokenSerial::from_bytes(bytes)
        })
        .collect()
}

/// The trial license of an appliance: derived from its serial (and a retry counter, should two
/// appliances ever collide), so a reset lab gives the same appliance the same trial license.
pub fn trial_license(appliance: &ApplianceSerial, attempt: u32) -> LicenseId {
    let digest = Sha256::new()
        .chain_update(b"fortimock trial license\0")
        .chain_update(appliance.as_str())
        .chain_update(attempt.to_be_bytes())
        .finalize();
    let mut number = [0u8; 8];
    number.copy_from_slice(&digest[..8]);
    LicenseId::trial(u64::from_be_bytes(number))
}

/// Whether a cluster member gets `"error": null` in a response header: the requesting appliance always
/// does (it is the one talking), and so does any serial the ledger has registered a license to. Any other
/// member gets `Product is not registered`. This reproduces KB 308115, where the requester is `null` and
/// its unregistered peer is not.
pub fn member_is_registered(
    member: &ApplianceSerial,
    requester: &ApplianceSerial,
    known: impl Fn(&ApplianceSerial) -> bool,
) -> bool {
    member == requester || known(member)
}

/// Whether an appliance may import a license again, or provision or poll its tokens: the license is
/// registered to the requester or to one of the HA peers it lists in `__clustered_sns` (KB 424201 reports
/// FortiOS 7.4.9 insisting on the primary, which fortimock does not model).
pub fn may_use_token(
    license_cluster: &[ApplianceSerial],
    request_cluster: &[ApplianceSerial],
) -> bool {
    request_cluster
        .iter()
        .any(|member| license_cluster.contains(member))
}

/// The bit of an activation code's flag byte (its second byte) that makes the token's TOTP step 60 seconds;
/// without it the step is 30 seconds. Public clients read the flag this way (one reads `0x10` as 60 s), every
/// FortiGate-issued code seen in public has `0x10` and FortiGate tokens are 60-second ones, while portal and
/// cloud codes have `0x00` and their tokens are 30-second ones (dossier 3.5).
pub const CODE_FLAG_60_SECONDS: u8 = 0x10;

/// The bit of the flag byte fortimock sets for a HOTP token. No code seen in public has it: FortiGate tokens
/// are all TOTP, and how a FortiAuthenticator's HOTP tokens (`token_algo` hotp) reach the app is not public.
pub const CODE_FLAG_HOTP: u8 = 0x01;

/// The bit of the flag byte fortimock sets for 8-digit codes (FortiAuthenticator's `token_size` 8). No code
/// seen in public has it.
pub const CODE_FLAG_EIGHT_DIGITS: u8 = 0x08;

const CODE_FLAG_BITS: u8 = CODE_FLAG_60_SECONDS | CODE_FLAG_HOTP | CODE_FLAG_EIGHT_DIGITS;

/// What a phone assumes when it has no flag byte to read (it was given the 16-hex-digit payload, not the
/// code): a FortiGate token, TOTP/SHA-1/6 digits/60 seconds, the only kind a FortiGate issues (dossier 3.5).
const FORTIGATE_OTP: OtpParams = OtpParams {
    kind: OtpKind::Totp,
    period: 60,
    digits: 6,
};

/// Whether `flag` is an activation code flag byte fortimock reads: `0x00` and `0x10`, as on every code seen
/// in public, with or without fortimock's [`CODE_FLAG_HOTP`] and [`CODE_FLAG_EIGHT_DIGITS`].
pub fn is_code_flag(flag: u8) -> bool {
    flag & !CODE_FLAG_BITS == 0
}

/// What ftm puts on the wire for a token's OTP parameters ([`otp_to_wire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpOnWire {
    /// The flag byte of the activation code ftm mints for the token.
    pub code_flag: u8,
    /// `counter` in the MobileProvisionResponse that delivers the token.
    pub counter: i64,
}

/// What a phone knows of a token's codes once it is activated ([`otp_from_wire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneOtp {
    pub params: OtpParams,
    /// The HOTP counter of the token's first code; a TOTP token keeps it unused, as the app does.
    pub counter: u64,
}

/// What ftm puts on the wire for a token provisioned with `params`. `SoftToken.MobileProvisionResponse` has
/// no field for the period, the algorithm or the length (its field list is the live server's, dossier 3.3;
/// open question 7), and the fields it has mean other things (`counter` is the HOTP counter, `pin_length`
/// the PIN's), so:
///
/// - The period is in the activation code's flag byte: [`CODE_FLAG_60_SECONDS`] for 60 s, nothing for
///   30 s, as public clients read it.
/// - HOTP and 8-digit codes, which FortiAuthenticator offers (dossier 6), are in the same byte:
///   [`CODE_FLAG_HOTP`] and [`CODE_FLAG_EIGHT_DIGITS`]. The byte is minted with the code at provisioning,
///   which is where the appliance states all three parameters, and the phone has it before it asks. A
///   TOTP/6-digit token's code (every FortiGate token's) has exactly the flag real codes have.
/// - `counter` is 1 for every token: the app stored 1 for TOTP tokens (dossier 3.3, from public app data),
///   and a HOTP token's first code is counter 1's.
///
/// A period other than 30 or 60 seconds, or a length other than 6 or 8, cannot travel this way and comes
/// out wrong: [`otp_wire_refusal`] says so, and ftm refuses to provision such a token.
pub fn otp_to_wire(params: &OtpParams) -> OtpOnWire {
    let mut code_flag = 0;
    if params.period == 60 {
        code_flag |= CODE_FLAG_60_SECONDS;
    }
    if params.kind == OtpKind::Hotp {
        code_flag |= CODE_FLAG_HOTP;
    }
    if params.digits == 8 {
        code_flag |= CODE_FLAG_EIGHT_DIGITS;
    }
    OtpOnWire {
        code_flag,
        counter: 1,
    }
}

/// What a phone reads back from [`otp_to_wire`]: the parameters from the flag byte of the code the user
/// typed or scanned, the first HOTP counter from the answer's `counter`. A phone given only the code's
/// 16-hex-digit payload (`code_flag` `None`; the app's users type the 16-character code, but fortimock's
/// phone takes either) assumes a FortiGate token, TOTP/SHA-1/6 digits/60 s. The error, for an unusable
/// answer, is a sentence naming what is wrong: a flag byte with bits fortimock does not know, or a negative
/// counter.
pub fn otp_from_wire(code_flag: Option<u8>, counter: i64) -> Result<PhoneOtp, String> {
    let counter = u64::try_from(counter).map_err(|_| format!("counter: {counter} is negative"))?;
    let Some(flag) = code_flag else {
        return Ok(PhoneOtp {
            params: FORTIGATE_OTP,
            counter,
        });
    };
    if !is_code_flag(flag) {
        return Err(format!(
            "the activation code's flag byte {flag:#04x} is not one fortimock knows"
        ));
    }
    let has = |bit: u8| flag & bit != 0;
    let params = OtpParams {
        kind: if has(CODE_FLAG_HOTP) {
            OtpKind::Hotp
        } else {
            OtpKind::Totp
        },
        period: if has(CODE_FLAG_60_SECONDS) { 60 } else { 30 },
        digits: if has(CODE_FLAG_EIGHT_DIGITS) { 8 } else { 6 },
    };
    Ok(PhoneOtp { params, counter })
}

/// Why a token with `params` cannot be delivered as provisioned ([`otp_to_wire`] carries only 30- and
/// 60-second steps and 6 or 8 digits, which is what FortiGate and FortiAuthenticator offer); `None` when it
/// can. The sentence starts with the field's name, for a protocol fault.
pub fn otp_wire_refusal(params: &OtpParams) -> Option<String> {
    if !matches!(params.period, 30 | 60) {
        return Some(format!(
            "period: {} seconds; the activation code carries only 30 or 60",
            params.period
        ));
    }
    if !matches!(params.digits, 6 | 8) {
        return Some(format!("digits: {} is neither 6 nor 8", params.digits));
    }
    None
}

/// The longest `mobile_id` ftm accepts, in bytes. The live server judges the activation code first and
/// answered a public client's 15-character non-hex id with error 40 like any other, so fortimock accepts
/// any id that is not blank ([`crate::id::MobileId`]); how long an id the real server takes is not public.
/// 128 bytes holds the app's longest (a 36-character iOS UUID) several times over and keeps hostile input
/// out of the journal and the scenario matcher.
///
/// What a blank or longer id gets is modeled too. With an unknown, used, expired or malformed code: error
/// 40, as any id does (that much the live server showed). With a code that could be redeemed: a
/// [`ProtocolFault`] naming `mobile_id`, and the code stays redeemable. Not error 40, because that says the
/// code is invalid when it is not, and would send the user or the client's author after the wrong problem;
/// a fault names what is wrong, is what fortimock answers every other unusable request with, and a public
/// client reports a non-200 answer as an error too.
pub const MOBILE_ID_MAX_LEN: usize = 128;

/// The AES-128 key for a phone's seed: the `mobile_id`'s bytes, zero-padded or truncated to 16. Android IDs
/// are exactly 16 bytes (\[CLIENT\]); how the real server keys a 36-character iOS UUID, or any other id a
/// client sends, is not public. Public clients pad and truncate the same way.
pub fn mobile_key(mobile_id: &MobileId) -> [u8; 16] {
    let mut key = [0u8; 16];
    let bytes = mobile_id.as_str().as_bytes();
    let n = bytes.len().min(16);
    key[..n].copy_from_slice(&bytes[..n]);
    key
}

/// `mobile_id_hash` in a MobileProvisionResponse: lowercase hex SHA-256 of the `mobile_id` as sent (its UTF-8
/// bytes, whatever its shape).
pub fn mobile_id_hash(mobile_id: &MobileId) -> String {
    hex::encode(Sha256::digest(mobile_id.as_str().as_bytes()))
}

/// `qr_code` in a ProvisionResponse: the string a phone scans. Its real format is not public; fortimock uses
/// a URI carrying the base32 activation code, which the virtual phone accepts as well as the bare code.
pub fn qr_payload(activation_code: &str) -> String {
    format!("fortitokenmobile://activate?code={activation_code}&server=globalftm.fortinet.net")
}

/// The activation code inside a string from [`qr_payload`]; `None` when `text` is not such a string.
pub fn code_from_qr(text: &str) -> Option<&str> {
    let query = text.trim().strip_prefix("fortitokenmobile://activate?")?;
    query.split('&').find_map(|pair| pair.strip_prefix("code="))
}

/// A token's state in a PollingResponse (`status`). The truncated captures stop before this field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// Provisioned; the phone has not downloaded the seed yet and the code is still valid.
    Pending,
    /// The phone downloaded the seed; `reg_id`, `os_ver` and `activated` are set.
    Activated,
    /// Provisioned but not activated before the code expired (FortiOS: "Provision Timed Out").
    Expired,
    /// Never provisioned.
    Unknown,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Pending => "pending",
            TokenStatus::Activated => "activated",
            TokenStatus::Expired => "expired",
            TokenStatus::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<TokenStatus> {
        [
            TokenStatus::Pending,
            TokenStatus::Activated,
            TokenStatus::Expired,
            TokenStatus::Unknown,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The PIN and branding fields of a successful MobileProvisionResponse: no PIN, no logo (`counter` is
/// [`otp_to_wire`]'s).
pub const MOBILE_PIN_REQUIRED: &str = "N";
pub const MOBILE_PIN_REQUIRE_TYPE: &str = "0";
pub const MOBILE_PIN_LENGTH: i32 = 0;

/// What FortiOS prints when an import fails. Error 16 gives `import fortitoken license error: -7566` (\[WIRE\]);
/// what it prints for the other errors is not public, so fortimock prints the server's text.
pub fn fortios_import_error(error: &crate::catalogue::WireError) -> String {
    if crate::catalogue::LICENSE_CODE_INVALID.matches(error) {
        crate::catalogue::APPLIANCE_IMPORT_ERROR.text.to_owned()
    } else {
        format!("import fortitoken license error: {}", error.error_message)
    }
}

/// The label that derives a token's push payload keys (AES-256-CBC + HMAC-SHA256) from its seed
/// (`push::seal_payload`): only the appliance and the phone holding the seed can read a push.
pub const PUSH_PAYLOAD_KEY_LABEL: &str = "fortimock ftm push payload v1";

/// The label that derives a token's push callback HMAC key from its seed (`push::callback_hmac`).
pub const PUSH_CALLBACK_KEY_LABEL: &str = "fortimock ftm push callback v1";

/// What the virtual appliance tells a user whose code started a resynchronization (FortiAuthenticator's
/// wording is not public).
pub const RESYNC_MESSAGE: &str = "token clock drift detected: enter the next code to resynchronize";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_serials_are_stable_and_distinct() {
        let license: LicenseId = "EFTM010130823929".parse().unwrap();
        let tokens = token_serials(&license, 50);
        assert_eq!(tokens, token_serials(&license, 50));
        let mut unique = tokens.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 50);
        assert!(
            tokens
                .iter()
                .all(|t| t.as_str().starts_with("FTKMOB") && t.as_str().len() == 16)
        );
    }

    #[test]
    fn mobile_keys_pad_or_truncate_to_16_bytes() {
        let android: MobileId = "e248e1e9527f20ff".parse().unwrap();
        assert_eq!(&mobile_key(&android), b"e248e1e9527f20ff");
        let ios: MobileId = "00DAB39B-B920-463A-A099-44B6138A3C95".parse().unwrap();
        assert_eq!(&mobile_key(&ios), b"00DAB39B-B920-46");
        // A public client's odd ids: shorter (zero-padded), non-hex, multi-byte characters cut mid-way.
        let short: MobileId = "public-client-1".parse().unwrap();
        assert_eq!(&mobile_key(&short), b"public-client-1\0");
        let one: MobileId = "x".parse().unwrap();
        assert_eq!(&mobile_key(&one), b"x\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let accented: MobileId = "aéééééééé".parse().unwrap();
        assert_eq!(accented.as_str().len(), 17);
        assert_eq!(&mobile_key(&accented), &"aéééééééé".as_bytes()[..16]);
    }

    #[test]
    fn mobile_id_hashes_cover_any_id() {
        // SHA-256 of the id's bytes, for the app's shapes and for anything else a client sends.
        let android: MobileId = "e248e1e9527f20ff".parse().unwrap();
        assert_eq!(
            mobile_id_hash(&android),
            hex::encode(Sha256::digest(b"e248e1e9527f20ff"))
        );
        let mut seen = Vec::new();
        for text in [
            "e248e1e9527f20ff",
            "E248E1E9527F20FF",
            "00DAB39B-B920-463A-A099-44B6138A3C95",
            "public-client-1",
            "x",
            "téléphone",
            &"z".repeat(MOBILE_ID_MAX_LEN),
        ] {
            let id: MobileId = text.parse().unwrap();
            let hash = mobile_id_hash(&id);
            assert_eq!(hash, hex::encode(Sha256::digest(text.as_bytes())), "{text}");
            assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
            seen.push(hash);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 7);
    }

    fn params(kind: OtpKind, period: u32, digits: u32) -> OtpParams {
        OtpParams {
            kind,
            period,
            digits,
        }
    }

    #[test]
    fn otp_parameters_travel_in_the_code_flag_and_the_counter() {
        // FortiGate's and the portal's TOTP/6-digit tokens get exactly the flags real codes have.
        for (period, flag) in [(60, 0x10), (30, 0x00)] {
            let wire = otp_to_wire(&params(OtpKind::Totp, period, 6));
            assert_eq!(
                wire,
                OtpOnWire {
                    code_flag: flag,
                    counter: 1
                }
            );
        }
        // Every combination FortiGate and FortiAuthenticator offer comes back as it went.
        for kind in [OtpKind::Totp, OtpKind::Hotp] {
            for period in [30, 60] {
                for digits in [6, 8] {
                    let sent = params(kind, period, digits);
                    assert_eq!(otp_wire_refusal(&sent), None);
                    let wire = otp_to_wire(&sent);
                    assert!(is_code_flag(wire.code_flag));
                    let read = otp_from_wire(Some(wire.code_flag), wire.counter).unwrap();
                    assert_eq!(
                        read,
                        PhoneOtp {
                            params: sent,
                            counter: 1
                        },
                        "{sent:?}"
                    );
                }
            }
        }
        assert_eq!(
            otp_to_wire(&params(OtpKind::Hotp, 60, 8)).code_flag,
            CODE_FLAG_60_SECONDS | CODE_FLAG_HOTP | CODE_FLAG_EIGHT_DIGITS
        );
        // Given only the payload, a phone assumes a FortiGate token.
        assert_eq!(
            otp_from_wire(None, 1).unwrap().params,
            params(OtpKind::Totp, 60, 6)
        );
        assert_eq!(otp_from_wire(Some(0x01), 7).unwrap().counter, 7);
    }

    #[test]
    fn otp_parameters_the_wire_cannot_carry_are_named() {
        for (bad, field) in [
            (params(OtpKind::Totp, 45, 6), "period"),
            (params(OtpKind::Hotp, 1, 6), "period"),
            (params(OtpKind::Totp, 60, 7), "digits"),
            (params(OtpKind::Totp, 30, 10), "digits"),
        ] {
            let refusal = otp_wire_refusal(&bad).unwrap();
            assert!(refusal.starts_with(field), "{refusal}");
            // Sent anyway, they would not come back as they went.
            let wire = otp_to_wire(&bad);
            assert_ne!(
                otp_from_wire(Some(wire.code_flag), wire.counter)
                    .unwrap()
                    .params,
                bad
            );
        }
        for flag in [0x20, 0x80, 0x12, 0x04] {
            assert!(!is_code_flag(flag));
            assert!(otp_from_wire(Some(flag), 1).unwrap_err().contains("flag"));
        }
        assert!(
            otp_from_wire(Some(0x10), -1)
                .unwrap_err()
                .starts_with("counter")
        );
    }

    #[test]
    fn qr_payload_carries_the_code() {
        let qr = qr_payload("EEIOHIDHBXN5QLXV");
        assert_eq!(code_from_qr(&qr), Some("EEIOHIDHBXN5QLXV"));
        assert_eq!(code_from_qr("EEIOHIDHBXN5QLXV"), None);
        for status in ["pending", "activated", "expired", "unknown"] {
            assert_eq!(TokenStatus::parse(status).unwrap().as_str(), status);
        }
    }

    #[test]
    fn trial_license_depends_on_serial_and_attempt() {
        let a: ApplianceSerial = "FGVM01TM00000001".parse().unwrap();
        let b: ApplianceSerial = "FGVM01TM00000002".parse().unwrap();
        assert!(trial_license(&a, 0).is_trial());
        assert_eq!(trial_license(&a, 0), trial_license(&a, 0));
        assert_ne!(trial_license(&a, 0), trial_license(&b, 0));
        assert_ne!(trial_license(&a, 0), trial_license(&a, 1));
    }
}
