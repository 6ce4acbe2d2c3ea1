//! Seed escrow from the appliance's side: `SoftToken.ProvisionRequest` / `ProvisionResponse` (dossier 2.2,
//! \[WIRE\]) and `SoftToken.PollingRequest` / `PollingResponse` (dossier 2.3, \[WIRE\] request, response
//! truncated in every public copy).
//!
//! The appliance generates each token's seed and uploads it; the server escrows it and answers with the
//! activation code the user types into the phone. Error shapes are the captured ones (`null` per-token
//! fields, per-token error 31, top-level error 17); success values and the polling fields after `license`
//! are fortimock's model (see `modeled`). Wire-compatible: fields may be added, never renamed.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::catalogue::WireError;
use crate::envelope::Message;
use crate::header::{RequestHeader, ResponseHeader, Tokens};

/// An appliance assigning tokens to users: one entry per token, each with the seed the appliance generated.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionRequest {
    #[serde(flatten)]
    pub header: RequestHeader,
    pub tokens: Vec<ProvisionToken>,
}

impl Message for ProvisionRequest {
    const TYPE: &'static str = "SoftToken.ProvisionRequest";
    const APPLIANCE_HEADER: bool = true;

    fn decode_text(text: &str) -> Option<ProvisionRequest> {
        let (header, Tokens { tokens }) = crate::header::decode_headed(text)?;
        Some(ProvisionRequest { header, tokens })
    }
}

/// One token to provision. FortiOS sends every field; the defaults are FortiOS's.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionToken {
    /// `FTKMOB…`.
    pub token: String,
    /// 40 hex digits (uppercase from FortiOS): the 20-byte HMAC-SHA1 key. A secret: `Debug` hides it.
    pub seed: String,
    /// How long the activation code stays valid, in minutes (4320 = 72 h, the FortiOS default).
    #[serde(default = "default_code_expire")]
    pub code_expire: i64,
    /// `totp` or `hotp`.
    #[serde(rename = "type", default = "default_kind")]
    pub kind: String,
    /// TOTP time step in seconds: 60 on FortiGate, 30 on FortiAuthenticator's cloud-style tokens.
    #[serde(default = "default_period")]
    pub period: u32,
    /// OTP length, 6 or 8.
    #[serde(default = "default_digits")]
    pub digits: u32,
}

fn default_code_expire() -> i64 {
    4320
}

fn default_kind() -> String {
    "totp".to_owned()
}

fn default_period() -> u32 {
    60
}

fn default_digits() -> u32 {
    6
}

impl std::fmt::Debug for ProvisionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionToken")
            .field("token", &self.token)
            .field("seed", &"<redacted>")
            .field("code_expire", &self.code_expire)
            .field("kind", &self.kind)
            .field("period", &self.period)
            .field("digits", &self.digits)
            .finish()
    }
}

impl std::fmt::Debug for ProvisionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionRequest")
            .field("header", &self.header)
            .field("tokens", &self.tokens)
            .finish()
    }
}

/// The answer to a [`ProvisionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionResponse {
    #[serde(flatten)]
    pub header: ResponseHeader,
    pub tokens: Vec<ProvisionedToken>,
    pub result: i32,
    /// `no valid token found` (17) when no token could be provisioned.
    pub error: Option<WireError>,
}

impl Message for ProvisionResponse {
    const TYPE: &'static str = "SoftToken.ProvisionResponse";
}

/// One token's provisioning outcome; every field but `token` is `null` on error, as captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedToken {
    pub token: String,
    /// The license the token belongs to (`EFTM…` / `FTMTRIAL…`).
    pub license: Option<String>,
    /// The 16-character base32 code the user types into the app (`EEIMCUO6X6DF4BL3`).
    pub token_activation_code: Option<String>,
    /// The string a phone scans (see `modeled::qr_payload`).
    pub qr_code: Option<String>,
    /// When the activation code expires, in epoch seconds (FortiOS stores it as `activation-expire`).
    pub code_expire: Option<i64>,
    pub error: Option<WireError>,
}

impl ProvisionedToken {
    /// A token that could not be provisioned.
    pub fn refused(token: &str, error: WireError) -> ProvisionedToken {
        ProvisionedToken {
            token: token.to_owned(),
            license: None,
            token_activation_code: None,
            qr_code: None,
            code_expire: None,
            error: Some(error),
        }
    }
}

/// An appliance asking how its Pending tokens are doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollingRequest {
    #[serde(flatten)]
    pub header: RequestHeader,
    pub tokens: Vec<PolledTokenRef>,
}

impl Message for PollingRequest {
    const TYPE: &'static str = "SoftToken.PollingRequest";
    const APPLIANCE_HEADER: bool = true;

    fn decode_text(text: &str) -> Option<PollingRequest> {
        let (header, Tokens { tokens }) = crate::header::decode_headed(text)?;
        Some(PollingRequest { header, tokens })
    }
}

/// One token of a [`PollingRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolledTokenRef {
    pub token: String,
}

/// The answer to a [`PollingRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollingResponse {
    #[serde(flatten)]
    pub header: ResponseHeader,
    pub tokens: Vec<PolledToken>,
    pub result: i32,
    pub error: Option<WireError>,
}

impl Message for PollingResponse {
    const TYPE: &'static str = "SoftToken.PollingResponse";
}

/// One token's state. `token` and `license` are \[WIRE\]; the rest is fortimock's model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolledToken {
    pub token: String,
    pub license: Option<String>,
    /// `pending`, `activated`, `expired` or `unknown` (see `modeled::TokenStatus`): one of those names
    /// when fortimock answers (no allocation per token), owned when read from a body.
    pub status: Cow<'static, str>,
    /// Once activated: the phone's push registration id (FortiOS `reg-id`).
    pub reg_id: Option<String>,
    /// Once activated: the app version and platform (FortiOS `os-ver`), e.g. `4.9.9_IOS`.
    pub os_ver: Option<String>,
    /// Once activated: when, in epoch seconds.
    pub activated: Option<i64>,
    pub error: Option<WireError>,
}
