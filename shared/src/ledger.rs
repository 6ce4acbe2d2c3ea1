//! The forticare ledger's own HTTP API (not Fortinet's wire): license administration under
//! `/__admin/licenses` and the lab fixtures format. These types are fortimock's contract with its users'
//! scripts: fields may be added, never renamed.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::id::{ApplianceSerial, LicenseActivationCode, LicenseId, TokenSerial};
use crate::time::{CivilDate, UnixTime};

/// The largest license FortiToken Mobile is sold in (FTM-ELIC-10000).
pub const MAX_SEATS: u32 = 10_000;

/// A license to create: by the admin API, `fortimock license create` or a fixtures file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseSpec {
    /// The `EFTM…` id; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<LicenseId>,
    /// The 20-hex-digit activation code printed on the certificate; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<LicenseActivationCode>,
    /// Number of tokens, 1 to [`MAX_SEATS`].
    pub seats: u32,
    /// "Certificate Valid Until": the code must be redeemed once before the end of this day (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<CivilDate>,
    /// Free text shown in listings, e.g. what a fixture license is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Register the license to this appliance up front, as if it had already imported the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<ApplianceSerial>,
    /// With `owner`: its HA peers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_peers: Vec<ApplianceSerial>,
}

/// A fixtures file: the licenses a lab starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabFixtures {
    pub licenses: Vec<LicenseSpec>,
}

/// Whether a license was bought or is an appliance's free trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenseKind {
    Paid,
    Trial,
}

/// The appliance (and HA cluster) a license is registered to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerView {
    /// The appliance that first redeemed the code.
    pub appliance: ApplianceSerial,
    /// Every serial that may import the license and provision its tokens: the appliance and its HA peers.
    pub cluster: Vec<ApplianceSerial>,
    pub registered: UnixTime,
}

/// One license as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseSummary {
    pub id: LicenseId,
    pub kind: LicenseKind,
    /// `None` for trial licenses, which are redeemed with the shared trial code.
    pub code: Option<LicenseActivationCode>,
    pub seats: u32,
    pub valid_until: Option<CivilDate>,
    pub note: Option<String>,
    pub created: UnixTime,
    pub owner: Option<OwnerView>,
}

/// One license with its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseView {
    #[serde(flatten)]
    pub summary: LicenseSummary,
    pub tokens: Vec<TokenSerial>,
}

/// The answer to `GET /__admin/licenses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseList {
    pub licenses: Vec<LicenseSummary>,
}

/// ftm asking forticare which of an appliance's tokens it may use (`POST /__ledger/v1/ownership`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipQuery {
    /// The requesting appliance first, then its HA peers.
    pub appliances: Vec<ApplianceSerial>,
    pub tokens: Vec<TokenSerial>,
}

/// forticare's answer to an [`OwnershipQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipAnswer {
    /// One entry per queried token, in query order.
    pub tokens: Vec<TokenOwnership>,
    /// The queried appliances the ledger has registered a license to.
    pub registered: Vec<ApplianceSerial>,
}

/// What answers ftm's ownership questions: forticare over HTTP (`POST /__ledger/v1/ownership`), or forticare's
/// ledger itself when both run in one process. ftm asks through this one interface either way.
pub trait OwnershipLedger: Send + Sync {
    /// Which of `query.tokens` the querying cluster may use; the error says why the ledger could not answer.
    fn ownership<'a>(&'a self, query: &'a OwnershipQuery) -> OwnershipFuture<'a>;
}

/// The answer an [`OwnershipLedger`] gives, when it has it.
pub type OwnershipFuture<'a> =
    Pin<Box<dyn Future<Output = Result<OwnershipAnswer, String>> + Send + 'a>>;

/// Whether the querying cluster may use one token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenOwnership {
    pub token: TokenSerial,
    /// The token's license, if the token exists.
    pub license: Option<LicenseId>,
    /// The license is registered to the requester or one of its HA peers.
    pub owned: bool,
}
