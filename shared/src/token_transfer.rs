//! Token transfer between phones (DESIGN flow 8, dossier §5, seeds/fac-token-policy-settings.txt): the wire
//! between the old phone, the token-transfer service, the FortiAuthenticator and the new phone.
//!
//! Every shape here is modeled: the only public template is FortiToken Cloud's
//! `POST /api/v1/token/transfer/start` (`sn`, `tokens`, `reg_id`, `hmac`, `transfer_code`, `msg_sn`), which the
//! first request follows. The nine steps of the FAC administration guide map onto them so:
//!
//! 1–4. the old phone posts [`TransferStart`] (its tokens' data) to the transfer service, which keeps it and
//!      answers [`TransferStarted`] ("Transfer Initialization complete") with a transfer id, never the code;
//! 5–6. the old phone posts [`TransferTokenRequest`] to its FortiAuthenticator (`transfertoken/`, the
//!      phone-facing resource), which checks its transfer policy and the phone's HMAC with its own copies of
//!      the seeds, then fetches the transfer activation code with [`TransferCodeRequest`];
//! 7.   the FortiAuthenticator mails (QR code attached) or texts the code to the token's user;
//! 8–9. the new phone redeems the code on the Mobile endpoint with [`MobileTransferRequest`] and installs the
//!      tokens of the [`MobileTransferResponse`]; the old phone learns the transfer completed
//!      ([`TransferStatusRequest`]) and removes its copies.
//!
//! Decisions (which service answers, the HMAC, the code's shape, the refusals and their codes) are in
//! `modeled` (section "Token transfer between phones").

use serde::{Deserialize, Serialize};

use crate::catalogue::WireError;
use crate::envelope::Message;

/// `msg_sn` of a transfer started by the FortiToken Mobile app (FortiToken Cloud's template sends
/// `FortiToken Cloud`).
pub const MSG_SN_MOBILE: &str = "FortiToken Mobile";

/// One token of a transfer: what the new phone needs to compute its codes. The seed travels as 40 hex
/// digits inside TLS, as appliances send it in a ProvisionRequest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferTokenData {
    pub token: String,
    pub seed: String,
    /// `totp` or `hotp`.
    #[serde(rename = "type")]
    pub kind: String,
    pub period: u32,
    pub digits: u32,
    /// The HOTP counter of the next code the old phone would have shown (TOTP: 1, unused).
    pub counter: u64,
}

impl std::fmt::Debug for TransferTokenData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferTokenData")
            .field("token", &self.token)
            .field("seed", &"<redacted>")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Steps 2–3: the old phone hands its tokens to the transfer service (`POST /api/v1/token/transfer/start`,
/// after FortiToken Cloud's template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferStart {
    /// The FortiAuthenticator that issued the tokens (their `issuer`).
    pub sn: String,
    pub tokens: Vec<TransferTokenData>,
    /// The old phone's push registration id.
    pub reg_id: String,
    /// `modeled::transfer_hmac` over the request, keyed by the tokens' seeds (hex).
    pub hmac: String,
    /// `FortiToken Mobile`.
    #[serde(default)]
    pub msg_sn: String,
}

/// Step 4: the transfer is initialised. `error` set (and the rest empty) when it is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferStarted {
    pub result: i32,
    pub transfer_id: Option<String>,
    pub message: String,
    /// Epoch seconds after which the transfer is void.
    pub expires: Option<i64>,
    pub error: Option<WireError>,
}

/// Step 5: the old phone asks its FortiAuthenticator for the transfer activation code (`POST
/// /api/v1/transfertoken/` on the FAC's FortiToken Mobile API address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferTokenRequest {
    /// The FortiAuthenticator's serial.
    pub sn: String,
    pub transfer_id: String,
    /// The serials being transferred, in the order of the transfer.
    pub tokens: Vec<String>,
    pub reg_id: String,
    /// The same HMAC as in [`TransferStart`]: the FAC checks it with its copies of the seeds.
    pub hmac: String,
}

/// Step 6: the FortiAuthenticator's answer to the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferTokenAccepted {
    pub status: String,
    pub message: String,
    /// `email` or `sms`: how the code went to the user.
    pub method: String,
}

/// Step 6: the FortiAuthenticator fetches the code (`POST /api/v1/token/transfer/code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferCodeRequest {
    pub sn: String,
    pub transfer_id: String,
}

/// The transfer activation code, for the FortiAuthenticator to send on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferCodeIssued {
    pub result: i32,
    pub transfer_code: Option<String>,
    pub expires: Option<i64>,
    pub error: Option<WireError>,
}

/// The old phone asks how its transfer went (`POST /api/v1/token/transfer/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferStatusRequest {
    pub transfer_id: String,
    pub reg_id: String,
}

/// `initialised`, `code-sent`, `completed` or `expired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferStatus {
    pub result: i32,
    pub status: String,
    pub error: Option<WireError>,
}

/// Steps 8–9: the new phone redeems the transfer code on `/SoftToken/Provisioning.asmx/Mobile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileTransferRequest {
    #[serde(rename = "__version", default)]
    pub version: String,
    #[serde(rename = "__device_version", default)]
    pub device_version: String,
    #[serde(rename = "__device_build", default)]
    pub device_build: String,
    pub mobile_id: String,
    #[serde(default)]
    pub registration_id: String,
    /// The code as typed (16 base32 characters) or its 16-hex-digit payload.
    pub transfer_code: String,
}

impl Message for MobileTransferRequest {
    const TYPE: &'static str = "SoftToken.MobileTransferRequest";
}

/// One transferred token as the new phone gets it: the seed encrypted for its `mobile_id`, as in a
/// MobileProvisionResponse, and how to compute its codes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferredToken {
    pub token: String,
    pub seed: String,
    pub issuer: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub period: u32,
    pub digits: u32,
    pub counter: u64,
}

impl std::fmt::Debug for TransferredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferredToken")
            .field("token", &self.token)
            .field("seed", &"<redacted>")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// The answer to a [`MobileTransferRequest`]: every token of the transfer, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileTransferResponse {
    #[serde(rename = "__version")]
    pub version: String,
    #[serde(rename = "__device_version")]
    pub device_version: String,
    #[serde(rename = "__device_build")]
    pub device_build: String,
    pub mobile_id_hash: String,
    pub tokens: Vec<TransferredToken>,
    pub result: i32,
    pub error: Option<WireError>,
}

impl Message for MobileTransferResponse {
    const TYPE: &'static str = "SoftToken.MobileTransferResponse";
}

impl MobileTransferResponse {
    /// A refusal: every value empty, `error` set, as ftm's other refusals to a phone.
    pub fn refused(error: WireError) -> MobileTransferResponse {
        MobileTransferResponse {
            version: String::new(),
            device_version: String::new(),
            device_build: String::new(),
            mobile_id_hash: String::new(),
            tokens: Vec::new(),
            result: 0,
            error: Some(error),
        }
    }
}
