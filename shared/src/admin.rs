//! The control plane every fortimock service serves under `/__admin/`: health, readiness, the clock,
//! recorded client certificates, the error body of every admin endpoint, and ftm's read-only escrow views. fortimock's own contract:
//! fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use crate::id::{ApplianceSerial, LicenseId, TokenSerial};
use crate::time::UnixTime;

/// The body of every admin API error: a stable id to match on and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error_id: String,
    pub message: String,
}

/// `GET /__admin/health` and `GET /__admin/ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceStatus {
    /// `ok` for health; `ready` once the service has loaded its store and fixtures and while its data dir
    /// can be written, `not-ready` (HTTP 503) otherwise.
    pub status: String,
    pub service: String,
    pub version: String,
    /// Why the service is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /__admin/clock`: the process clock every service of one `fortimock up` shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClockView {
    pub now: UnixTime,
    pub now_rfc3339: String,
    /// A frozen clock stands still until advanced or resumed.
    pub frozen: bool,
    /// How far the clock is from real time, in seconds.
    pub offset_secs: i64,
}

/// `POST /__admin/clock`: any combination, applied in this order: `real`, `freeze` or `resume`, `set`,
/// `advance_secs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClockChange {
    /// `true` puts the clock back on real time: running, no offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real: Option<bool>,
    /// `true` stops the clock, `false` lets it run again from where it stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<bool>,
    /// Jump to this time (RFC 3339 UTC, a date, or epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// Move the clock forward (or back, if negative) by this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance_secs: Option<i64>,
}

/// `POST /__admin/reset`: what a service's reset did. Everything it stored is gone (its fixtures are back),
/// its scenarios and journal are cleared; the clock, shared by the services of a process, is left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResetView {
    pub service: String,
    /// Stored records removed.
    pub removed: u64,
    /// Fixture records created again (forticare's licenses and API users).
    pub fixtures: u64,
    /// Scenarios cleared.
    pub scenarios: u64,
    /// Journal entries cleared.
    pub journal: u64,
}

/// A TLS client certificate a service has seen (`GET /__admin/client-certs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientCertView {
    /// Lowercase hex SHA-256 of the certificate's DER bytes: what `openssl x509 -fingerprint -sha256` shows.
    pub sha256: String,
    /// The subject's common name, when the certificate has one.
    pub subject_cn: Option<String>,
    pub first_seen: UnixTime,
    pub last_seen: UnixTime,
    /// How many requests arrived with this certificate.
    pub requests: u64,
}

/// The answer to `GET /__admin/client-certs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientCertList {
    pub client_certs: Vec<ClientCertView>,
}

/// One entry of ftm's seed escrow as `GET /__admin/escrow` shows it: never the seed itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscrowEntryView {
    /// The 16-character base32 code the user types.
    pub activation_code: String,
    /// The same code as the phone sends it (16 lowercase hex digits).
    pub wire_code: String,
    pub token: TokenSerial,
    pub license: LicenseId,
    /// The appliance that provisioned the token.
    pub appliance: ApplianceSerial,
    pub provisioned: UnixTime,
    pub expires: UnixTime,
    /// Whether a phone could still redeem it now.
    pub redeemable: bool,
}

/// The answer to `GET /__admin/escrow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscrowList {
    pub entries: Vec<EscrowEntryView>,
}

/// One seed download, as `GET /__admin/activations` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationView {
    pub token: TokenSerial,
    pub license: LicenseId,
    pub appliance: ApplianceSerial,
    /// Hex SHA-256 of the phone's `mobile_id`.
    pub mobile_id_hash: String,
    /// The phone's push registration id.
    pub reg_id: String,
    /// The app version and platform the phone reported.
    pub os_ver: String,
    pub activated: UnixTime,
}

/// The answer to `GET /__admin/activations`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationList {
    pub activations: Vec<ActivationView>,
}
