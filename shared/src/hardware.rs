//! Hardware FortiTokens (FortiToken 200, 210, 220 and the 200CD, serials `FTK211…`): the activation
//! exchange an appliance runs with FortiGuard's token service (`execute fortitoken activate <sn…>`,
//! FortiAuthenticator's import by serial; modeled, see `modeled::HARDWARE_ACTIVATION_ENVELOPE`), forticare's
//! admin API for hardware token batches (`/__admin/hardware-tokens`), and the virtual appliance's hardware
//! token API. Fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use crate::catalogue::WireError;
use crate::envelope::Message;
use crate::header::{RequestHeader, ResponseHeader, Tokens};
use crate::id::{ApplianceSerial, HardwareModel, HardwareSerial};
use crate::time::UnixTime;

// ---------------------------------------------------------------------------------------------------------
// The activation exchange (modeled: the real one is not public).
// ---------------------------------------------------------------------------------------------------------

/// An appliance activating hardware tokens by serial with FortiGuard (modeled message, see
/// `modeled::HARDWARE_ACTIVATION_ENVELOPE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareActivationRequest {
    #[serde(flatten)]
    pub header: RequestHeader,
    /// The serials, as the admin typed them.
    pub tokens: Vec<HardwareTokenRef>,
}

impl Message for HardwareActivationRequest {
    const TYPE: &'static str = "SoftToken.HardwareActivationRequest";
    const APPLIANCE_HEADER: bool = true;

    fn decode_text(text: &str) -> Option<HardwareActivationRequest> {
        let (header, Tokens { tokens }) = crate::header::decode_headed(text)?;
        Some(HardwareActivationRequest { header, tokens })
    }
}

/// One serial of a [`HardwareActivationRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareTokenRef {
    pub token: String,
}

/// FortiGuard's answer to a [`HardwareActivationRequest`] (modeled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareActivationResponse {
    #[serde(flatten)]
    pub header: ResponseHeader,
    /// One entry per requested serial, in the request's order.
    pub tokens: Vec<ActivatedHardwareToken>,
    /// Always 0, as in every SoftToken answer: clients check `error`.
    pub result: i32,
    /// Set when no token could be activated.
    pub error: Option<WireError>,
}

impl Message for HardwareActivationResponse {
    const TYPE: &'static str = "SoftToken.HardwareActivationResponse";
}

/// One token of a [`HardwareActivationResponse`]: its seed (40 uppercase hex digits, as the ProvisionRequest
/// carries seeds) on success, `null` with an `error` otherwise. The OTP parameters are the hardware's:
/// TOTP, 6 digits, 60 seconds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivatedHardwareToken {
    pub token: String,
    pub seed: Option<String>,
    pub error: Option<WireError>,
}

impl std::fmt::Debug for ActivatedHardwareToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivatedHardwareToken")
            .field("token", &self.token)
            .field("seed", &self.seed.as_ref().map(|_| "<redacted>"))
            .field("error", &self.error)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------------------
// forticare's admin API: hardware token batches.
// ---------------------------------------------------------------------------------------------------------

/// `POST /__admin/hardware-tokens`: a batch of hardware tokens as Fortinet ships them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHardwareBatch {
    pub model: HardwareModel,
    /// How many tokens, 1 to 1000.
    pub count: u32,
    /// DEMO tokens ("unlimited" in FortiGuard, KB 194435) never lock on activation.
    #[serde(default)]
    pub demo: bool,
    /// A note for people (the order, the customer), at most 1 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The most tokens one batch holds (FortiCare's serial files come in ranges of 200; a lab needs fewer).
pub const MAX_BATCH_TOKENS: u32 = 1000;

/// A batch (`GET /__admin/hardware-tokens/{batch}`); never shows seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HardwareBatchView {
    /// `HW` + 6 digits, e.g. `HW000001`.
    pub batch: String,
    pub model: HardwareModel,
    pub demo: bool,
    pub created: UnixTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub tokens: Vec<HardwareTokenView>,
}

/// One hardware token as FortiGuard knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HardwareTokenView {
    pub serial: HardwareSerial,
    /// `available` (never activated, or reset by TAC), `locked` (activated: the seed will not be returned
    /// again), `demo` (a DEMO token: never locks), `seed-file-only` (a 200CD token).
    pub state: String,
    /// The appliance the activation lock names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_to: Option<ApplianceSerial>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_at: Option<UnixTime>,
    /// How many times FortiGuard returned the seed.
    pub activations: u32,
    /// How many times TAC reset the lock.
    pub resets: u32,
}

/// `GET /__admin/hardware-tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HardwareBatchList {
    pub batches: Vec<HardwareBatchView>,
}

/// `POST /__admin/hardware-tokens/reset-lock`: what TAC does on a support ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetLockRequest {
    /// The serials to reset (at most 1000).
    pub serials: Vec<String>,
    /// The ticket's note, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The answer to a lock reset request: every serial reset (all or none are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResetLockOutcome {
    pub reset: Vec<HardwareTokenView>,
}

/// `GET /__admin/hardware-tokens/{batch}/seed-file?format=ftk200cd`: the format of the seed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFileQuery {
    /// `ftk200cd` (the FortiGate/FortiAuthenticator FTK200CD format, the default); the other formats
    /// Customer Service offers (`okta`, `duo`, `azure`, `centrify`) are for third-party platforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Which appliance has a hardware token assigned (what TAC asks before a lock reset).
// ---------------------------------------------------------------------------------------------------------

/// `POST /__ledger/v1/hardware-holders` (the appliance service): which of these hardware tokens a virtual
/// appliance has assigned to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HardwareHolderQuery {
    pub serials: Vec<HardwareSerial>,
}

/// The answer to a hardware holders query: one entry per assignment found (none for a token no appliance
/// has assigned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HardwareHolders {
    pub holders: Vec<HardwareHolder>,
}

/// A hardware token a virtual appliance has assigned to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HardwareHolder {
    pub serial: HardwareSerial,
    pub appliance: ApplianceSerial,
    pub user: String,
}

/// What tells forticare (as TAC) whether a hardware token is assigned before it resets the token's lock: the
/// appliance service's hardware table itself when both run in one process (`fortimock up`), or the
/// appliance service over HTTP (`forticare-mock --appliance-url`). FortiGuard itself never learns
/// assignments: TAC asks the customer, and fortimock asks the appliances it runs.
pub trait HardwareAssignments: Send + Sync {
    /// The assignments of `serials` (none for a token nobody has); the error says why there is no answer.
    fn holders<'a>(&'a self, serials: &'a [HardwareSerial]) -> HoldersFuture<'a>;
}

/// The answer a [`HardwareAssignments`] gives, when it has it.
pub type HoldersFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<Vec<HardwareHolder>, String>> + Send + 'a>>;

/// The response header that carries a seed file's zip password: shown once, with that file only, as
/// Customer Service gives it by phone.
pub const SEED_FILE_PASSWORD_HEADER: &str = "x-fortimock-seed-file-password";

// ---------------------------------------------------------------------------------------------------------
// The virtual appliance's hardware tokens.
// ---------------------------------------------------------------------------------------------------------

/// `POST /appliances/{serial}/hardware/activate`: `execute fortitoken activate <sn> [<sn> …]` (FortiOS), the
/// import by serial (FortiAuthenticator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HardwareActivate {
    /// The serials as typed; FortiOS drops what is not a hardware serial without a word.
    pub serials: Vec<String>,
}

/// `POST /appliances/{serial}/hardware/import-seed-file`: the offline import of a seed file (FortiOS
/// `execute fortitoken import`, the GUI's "Seed File"), with no FortiGuard contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedFileImport {
    /// The zip file as Customer Service sent it, in Base64.
    pub file: String,
    /// The zip's password.
    pub password: String,
}

/// `POST /appliances/{serial}/hardware/assign`: a hardware token given to a user (Available → Assigned; there
/// is no user activation step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HardwareAssign {
    /// A hardware serial, or `any` for the first one not assigned.
    pub token: String,
    pub user: String,
}

/// A hardware token in the appliance's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HardwareTokenRow {
    pub serial: HardwareSerial,
    pub model: HardwareModel,
    /// The `diagnose fortitoken info` status: `new`, `active`, `token already activated, and seed won't be
    /// returned`, `activation error (token not exist in FortiGuard)`, or `cmdb save error`.
    pub status: String,
    /// The GUI status: `Available`, `Assigned`, or `Error` when the token has no seed.
    pub gui_status: String,
    pub user: Option<String>,
    /// Where the seed came from: `fortiguard` (activation by serial) or `seed-file`; absent without a seed.
    pub source: Option<String>,
    /// Clock drift learned by resynchronization, in time steps (`diagnose fortitoken info`'s DRIFT).
    pub drift: i64,
}

/// What an activation or a seed-file import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HardwareOutcome {
    /// The rows the operation added or changed.
    pub tokens: Vec<HardwareTokenRow>,
    /// Serials dropped without a word (FortiOS's silence on what is not a hardware serial).
    pub dropped: Vec<String>,
    /// FortiOS-style debug lines, when asked for with `?debug=true`.
    pub debug: Vec<String>,
}

/// `GET /appliances/{serial}/fortitoken-info`: `diagnose fortitoken info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FortitokenInfo {
    pub tokens: Vec<FortitokenInfoRow>,
    /// `Total activated token: N`.
    pub total_activated: usize,
    /// `Total global activated token: N`.
    pub total_global_activated: usize,
    /// `Token server status: reachable|unknown`.
    pub token_server_status: String,
    /// The whole output as FortiOS prints it.
    pub text: String,
}

/// One line of `diagnose fortitoken info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FortitokenInfoRow {
    pub serial: String,
    pub drift: i64,
    pub status: String,
}
