//! The forticare ledger's own HTTP API (not Fortinet's wire): license administration under
//! `/__admin/licenses` and the lab fixtures format. These types are fortimock's contract with its users'
//! scripts: fields may be added, never renamed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::id::{ApplianceSerial, LicenseActivationCode, LicenseId, TokenSerial};
use crate::time::{CivilDate, UnixTime};

/// The largest license FortiToken Mobile is sold in (FTM-ELIC-10000).
pub const MAX_SEATS: u32 = 10_000;

/// A license to create: by the admin API, `fortimock license create` or a fixtures file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LicenseSpec {
    /// The `EFTM…` id; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<LicenseId>,
    /// The 20-hex-digit activation code printed on the certificate; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<LicenseActivationCode>,
    /// Number of tokens, 1 to 10000 (`MAX_SEATS`).
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
    /// The day the license shipped (default: the day it is created, on the lab clock). Licenses shipped on
    /// or after 2025-08-04 (`NO_TRANSFER_SINCE`) move only on an RMA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped: Option<CivilDate>,
}

/// The first shipping day of FortiToken Mobile licenses that cannot be transferred between appliances
/// except on an RMA, which requires provisioning every token again (dossier 2.8, KB 205363, \[DOC\]).
pub const NO_TRANSFER_SINCE: CivilDate = CivilDate {
    year: 2025,
    month: 8,
    day: 4,
};

/// A fixtures file: the licenses, the FortiCare API users, FortiGuard's hardware tokens and the virtual
/// FortiAuthenticators a lab starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabFixtures {
    pub licenses: Vec<LicenseSpec>,
    /// Users of the asset-management API (v3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_users: Vec<ApiUserSpec>,
    /// Hardware token batches FortiGuard holds (created when forticare starts with none, and again on
    /// reset; their seeds are new each time: read them from the seed file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hardware_tokens: Vec<crate::hardware::NewHardwareBatch>,
    /// Virtual FortiAuthenticators (with their administrators and LDAP users) the appliance service creates
    /// when it starts without them, and again on reset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fortiauthenticators: Vec<crate::fac_admin::FacFixture>,
}

impl From<Vec<LicenseSpec>> for LabFixtures {
    fn from(licenses: Vec<LicenseSpec>) -> LabFixtures {
        LabFixtures {
            licenses,
            api_users: Vec::new(),
            hardware_tokens: Vec::new(),
            fortiauthenticators: Vec::new(),
        }
    }
}

/// Whether a license was bought or is an appliance's free trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LicenseKind {
    Paid,
    Trial,
}

/// The appliance (and HA cluster) a license is registered to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnerView {
    /// The appliance that first redeemed the code.
    pub appliance: ApplianceSerial,
    /// Every serial that may import the license and provision its tokens: the appliance and its HA peers.
    pub cluster: Vec<ApplianceSerial>,
    pub registered: UnixTime,
}

/// One license as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The day it shipped (shipped on or after 2025-08-04, it moves only on an RMA).
    pub shipped: CivilDate,
    /// The SKU, `FTM-ELIC-<seats>` (`FTM-TRIAL` for a trial).
    pub sku: String,
    /// The Customer Service tickets that moved it, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<String>,
}

/// One license with its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LicenseView {
    #[serde(flatten)]
    pub summary: LicenseSummary,
    pub tokens: Vec<TokenSerial>,
}

/// The answer to `GET /__admin/licenses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LicenseList {
    pub licenses: Vec<LicenseSummary>,
}

/// ftm asking forticare which of an appliance's tokens it may use (`POST /__ledger/v1/ownership`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnershipQuery {
    /// The requesting appliance first, then its HA peers.
    pub appliances: Vec<ApplianceSerial>,
    pub tokens: Vec<TokenSerial>,
}

/// forticare's answer to an `OwnershipQuery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnershipAnswer {
    /// One entry per queried token, in query order.
    pub tokens: Vec<TokenOwnership>,
    /// The queried appliances the ledger has registered a license to.
    pub registered: Vec<ApplianceSerial>,
}

impl OwnershipAnswer {
    /// The answer's entry for each of `queried` (the query's tokens), in the query's order. The ledger
    /// answers in that order, so each entry is found where it stands; an answer in another order (or
    /// missing entries) is looked up by serial instead, so it is read right either way.
    pub fn in_query_order<'a>(
        &'a self,
        queried: &[TokenSerial],
    ) -> Vec<Option<&'a TokenOwnership>> {
        let aligned = self.tokens.len() == queried.len()
            && self
                .tokens
                .iter()
                .zip(queried)
                .all(|(entry, token)| entry.token == *token);
        if aligned {
            return self.tokens.iter().map(Some).collect();
        }
        let by_token = self.by_token();
        queried
            .iter()
            .map(|token| by_token.get(token).copied())
            .collect()
    }

    /// The answer for each token, looked up by serial (the first entry when a token was queried twice): a
    /// request naming thousands of tokens finds each in constant time.
    fn by_token(&self) -> HashMap<&TokenSerial, &TokenOwnership> {
        let mut by_token = HashMap::with_capacity(self.tokens.len());
        for entry in &self.tokens {
            by_token.entry(&entry.token).or_insert(entry);
        }
        by_token
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenOwnership {
    pub token: TokenSerial,
    /// The token's license, if the token exists.
    pub license: Option<LicenseId>,
    /// The license is registered to the requester or one of its HA peers, or was moved away from them by a
    /// transfer whose grace period runs until `grace_until`.
    pub owned: bool,
    /// A transfer ticket moved the license away from the querying cluster: its tokens are owned until
    /// `grace_until`, then not (provisioning gets 31/17, polling reports them as not its own, the codes it
    /// left in escrow get error 40).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moved: bool,
    /// With `moved`: when the grace period of the transfer ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<UnixTime>,
    /// The querying cluster owns the license since an RMA transfer at this instant: nothing another
    /// appliance provisioned or activated is carried over (every token must be provisioned again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<UnixTime>,
}

/// `POST /__admin/transfers`: a Customer Service "License Transfer" ticket, opened and completed at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The license (`EFTM…`): the whole license moves, never part of it.
    pub license: LicenseId,
    /// The appliance (or a member of the HA cluster) the license is registered to now.
    pub from: ApplianceSerial,
    /// The appliance that gets it.
    pub to: ApplianceSerial,
    /// A return-merchandise replacement: the only way a license shipped on or after 2025-08-04
    /// (`NO_TRANSFER_SINCE`) moves; every token must then be provisioned again on `to`.
    #[serde(default)]
    pub rma: bool,
    /// How long the old appliance keeps working, in seconds (default 86400 s, a day, `DEFAULT_GRACE_SECS`;
    /// at most 7776000 s, 90 days, `MAX_GRACE_SECS`; 0 stops it at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_secs: Option<i64>,
    /// What the customer wrote in the ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The grace period of a transfer when the ticket names none: a day, what practitioners saw (dossier 2.8).
pub const DEFAULT_GRACE_SECS: i64 = 86_400;
/// The longest grace period a ticket may give: 90 days.
pub const MAX_GRACE_SECS: i64 = 90 * 86_400;
/// The longest `note` a ticket takes, in bytes.
pub const MAX_NOTE_LEN: usize = 1_024;

/// A completed transfer ticket (`POST`/`GET /__admin/transfers`): what the customer reads in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferTicket {
    /// The ticket number.
    pub ticket: String,
    pub license: LicenseId,
    pub from: ApplianceSerial,
    pub to: ApplianceSerial,
    /// The new code, on the new redemption certificate (`XXXX-XXXX-XXXX-XXXX-XXXX`); the old one is void.
    pub activation_code: LicenseActivationCode,
    /// Until when (epoch seconds, lab clock) the old appliance's tokens keep working.
    pub grace_until: UnixTime,
    /// The absolute URL of the new redemption certificate, `<EFTM id>.pdf`: forticare's base URL and
    /// `/__admin/licenses/{id}/certificate.pdf` (`https://127.0.0.1:8440/__admin/licenses/EFTM…/certificate.pdf`).
    pub certificate: String,
    pub rma: bool,
    /// `grace` while the old appliance still works, `closed` after.
    pub status: String,
    /// When the ticket was completed.
    pub completed: UnixTime,
    /// The whole HA cluster that lost the license.
    pub from_cluster: Vec<ApplianceSerial>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `GET /__admin/transfers`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferList {
    pub transfers: Vec<TransferTicket>,
}

/// A user of FortiCare's asset-management API (`POST /__admin/api-users`, or `api_users` in fixtures).
/// The password is a secret: `Debug` hides it, and forticare keeps only a salted PBKDF2 hash of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiUserSpec {
    /// The API user id (`username` of the token request).
    pub username: String,
    /// The API password.
    pub password: String,
    /// The FortiCare account the user acts in (default 1000000, the lab's account, `modeled::V3_LAB_ACCOUNT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<u64>,
    /// Other accounts of the user's organization it may act on (`accountId`, `products/transfer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organization_accounts: Vec<u64>,
}

impl std::fmt::Debug for ApiUserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiUserSpec")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("account_id", &self.account_id)
            .field("organization_accounts", &self.organization_accounts)
            .finish()
    }
}

/// An API user as listed: never its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiUserView {
    pub username: String,
    pub account_id: u64,
    pub organization_accounts: Vec<u64>,
    pub created: UnixTime,
}

/// `GET /__admin/api-users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiUserList {
    pub api_users: Vec<ApiUserView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API types' doc comments (the OpenAPI document's descriptions) say these values in words.
    #[test]
    fn the_documented_values_are_the_constants() {
        assert_eq!(MAX_SEATS, 10000);
        assert_eq!(NO_TRANSFER_SINCE.to_string(), "2025-08-04");
        assert_eq!(DEFAULT_GRACE_SECS, 86400);
        assert_eq!(MAX_GRACE_SECS, 7_776_000);
        assert_eq!(crate::modeled::V3_LAB_ACCOUNT, 1_000_000);
        assert_eq!(crate::state::STATE_FORMAT, "fortimock-state/1");
        assert_eq!(crate::scenario::MAX_DELAY_MS, 120_000);
    }

    /// Each queried token gets its own entry, whether the answer keeps the query's order or not.
    #[test]
    fn an_answer_is_read_in_query_order_whatever_its_order() {
        let serial = |n: u8| TokenSerial::from_bytes([0, 0, 0, 0, n]);
        let entry = |n: u8, owned: bool| TokenOwnership {
            token: serial(n),
            license: Some(LicenseId::paid(u64::from(n))),
            owned,
            moved: false,
            grace_until: None,
            since: None,
        };
        let queried = [serial(1), serial(2), serial(3), serial(1)];
        let owned_of = |answer: &OwnershipAnswer| -> Vec<Option<(TokenSerial, bool)>> {
            answer
                .in_query_order(&queried)
                .into_iter()
                .map(|e| e.map(|e| (e.token.clone(), e.owned)))
                .collect()
        };
        let expected = vec![
            Some((serial(1), true)),
            Some((serial(2), false)),
            Some((serial(3), true)),
            Some((serial(1), true)),
        ];
        let in_order = OwnershipAnswer {
            tokens: vec![
                entry(1, true),
                entry(2, false),
                entry(3, true),
                entry(1, true),
            ],
            registered: Vec::new(),
        };
        assert_eq!(owned_of(&in_order), expected);
        let shuffled = OwnershipAnswer {
            tokens: vec![entry(3, true), entry(1, true), entry(2, false)],
            registered: Vec::new(),
        };
        assert_eq!(owned_of(&shuffled), expected);
        let missing = OwnershipAnswer {
            tokens: vec![entry(1, true), entry(3, true)],
            registered: Vec::new(),
        };
        assert_eq!(owned_of(&missing)[1], None);
    }
}
