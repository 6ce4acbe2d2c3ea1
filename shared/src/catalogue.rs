//! The error catalogue: every error fortimock's services can answer with, under a stable id, with its
//! exact wire code and text, what the appliance or phone shows, and where the fact comes from.
//!
//! Services, the virtual appliance, docs and tests all read this one table. Entries whose code or text
//! no public source gives live in `modeled` and are tagged [`Provenance::Modeled`].

use serde::{Deserialize, Serialize};

use crate::modeled;

/// How fortimock knows an error's wire form (the dossier's confidence tags, plus `modeled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Captured bytes on the wire (FortiOS debug dumps, responses pasted from the live server).
    Wire,
    /// Behaviour of third-party clients that work against the live servers.
    Client,
    /// Fortinet documentation or staff KB articles.
    Doc,
    /// No public source: fortimock's own choice, kept in `modeled`.
    Modeled,
}

/// One error fortimock can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CatalogueEntry {
    /// Stable id to grep for and to arm in scenarios, e.g. `forticare.import.code-invalid`.
    pub id: &'static str,
    /// The numeric `error_code` on the wire; `None` for errors that are bare strings.
    pub code: Option<i32>,
    /// The exact `error_message` (or error string) on the wire.
    pub text: &'static str,
    pub provenance: Provenance,
    /// What the user sees on the appliance or phone when this error comes back.
    pub symptom: &'static str,
    /// The public source of the code and text.
    pub source: &'static str,
}

/// An `error` object on the wire: `{"error_code": 16, "error_message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WireError {
    pub error_code: i32,
    pub error_message: String,
}

impl CatalogueEntry {
    /// The wire `error` object for this entry (code 0 for string-only entries, which never use it).
    pub fn wire_error(&self) -> WireError {
        WireError {
            error_code: self.code.unwrap_or_default(),
            error_message: self.text.to_owned(),
        }
    }

    /// Whether `error` is this entry on the wire.
    pub fn matches(&self, error: &WireError) -> bool {
        self.code == Some(error.error_code) && self.text == error.error_message
    }
}

/// License import with an unknown or malformed activation code.
pub const LICENSE_CODE_INVALID: CatalogueEntry = CatalogueEntry {
    id: "forticare.import.code-invalid",
    code: Some(16),
    text: "forticare license activation code invalid",
    provenance: Provenance::Wire,
    symptom: "FortiOS logs `ftm_fc_command[615]:received error from forticare [-7566]` and the CLI prints \
              `import fortitoken license error: -7566`",
    source: "FortiOS 7.0 b0523 debug capture (seeds/ftm-license-transfer-between-fortigates.txt)",
};

/// The appliance-side code FortiOS prints when FortiCare answers an import with error 16.
pub const APPLIANCE_IMPORT_ERROR: CatalogueEntry = CatalogueEntry {
    id: "appliance.import.forticare-error",
    code: Some(-7566),
    text: "import fortitoken license error: -7566",
    provenance: Provenance::Wire,
    symptom: "printed by `execute fortitoken-mobile import` after `received error from forticare [-7566]`",
    source: "FortiOS 7.0 b0523 debug capture (seeds/ftm-license-transfer-between-fortigates.txt)",
};

/// A cluster member FortiCare has no registration for (a per-member string, not an object).
pub const PRODUCT_NOT_REGISTERED: CatalogueEntry = CatalogueEntry {
    id: "forticare.cluster.not-registered",
    code: None,
    text: "Product is not registered",
    provenance: Provenance::Wire,
    symptom: "shown against the HA member in `__clustered_sns` of the response",
    source: "KB 308115 ProvisionResponse (FortiOS 7.0 b2573)",
};

/// Provisioning a token the requesting appliance (or its cluster) does not own: per token.
pub const TOKEN_NOT_OWNED: CatalogueEntry = CatalogueEntry {
    id: "ftm.provision.not-owner",
    code: Some(31),
    text: "token does not belong to product",
    provenance: Provenance::Wire,
    symptom: "the token stays Available; FortiOS shows the provisioning as failed",
    source: "KB 308115 and KB 424201 ProvisionResponse captures",
};

/// Provisioning where no requested token could be provisioned: top level.
pub const NO_VALID_TOKEN: CatalogueEntry = CatalogueEntry {
    id: "ftm.provision.no-valid-token",
    code: Some(17),
    text: "no valid token found",
    provenance: Provenance::Wire,
    symptom: "FortiOS GUI error `no valid token found`",
    source: "KB 308115 and KB 424201 ProvisionResponse captures",
};

/// A phone redeeming an activation code that is unknown, expired or already used.
pub const ACTIVATION_CODE_INVALID: CatalogueEntry = CatalogueEntry {
    id: "ftm.mobile.code-invalid",
    code: Some(40),
    text: "FTM token Activation Code is invalid",
    provenance: Provenance::Wire,
    symptom: "the FortiToken Mobile app shows `Failed. Forticare: FTM token Activation Code is invalid`",
    source: "MobileProvisionResponse pasted from the live server (SoildFaker/ohtotptoken); KB 241195",
};

/// A phone that cannot validate the certificate of the appliance's ftm-push listener when it answers a push.
pub const INVALID_SERVER_CERTIFICATE: CatalogueEntry = CatalogueEntry {
    id: "phone.push.invalid-server-certificate",
    code: None,
    text: "invalid server certificate: FortiToken Mobile cannot validate the server certificate",
    provenance: Provenance::Doc,
    symptom: "the app shows the error after Approve; the login times out (FortiOS `config system ftm-push` has no usable `server-cert`)",
    source: "Fortinet KB 277343, FortiGate admin guide \"FortiToken Mobile Push\"",
};

/// A transfer ticket for a trial license: trial tokens are tied to the unit through FortiGuard and cannot
/// move to another one (KB 190171, 193793).
pub const TRANSFER_TRIAL: CatalogueEntry = CatalogueEntry {
    id: "forticare.transfer.trial",
    code: None,
    text: "trial FortiToken Mobile tokens are tied to the unit and cannot be transferred",
    provenance: Provenance::Doc,
    symptom: "Customer Service declines the ticket; the replacement unit imports its own trial (0000-0000-0000-0000-0000)",
    source: "KB 190171 and 193793 (dossier 2.4)",
};

/// A transfer ticket for a license shipped on or after 2025-08-04 that is not an RMA (KB 205363).
pub const TRANSFER_NOT_ALLOWED_SINCE_2025: CatalogueEntry = CatalogueEntry {
    id: "forticare.transfer.shipped-since-2025-08-04",
    code: None,
    text: "FortiToken Mobile licenses shipped on or after 2025-08-04 can be transferred between devices only on an RMA",
    provenance: Provenance::Doc,
    symptom: "Customer Service declines the ticket unless it is an RMA; an RMA transfer requires every token to be provisioned again on the new unit",
    source: "KB 205363 and the FortiToken 8.0 guide (dossier 2.8)",
};

/// `products/register` for a unit whose cloud key is not valid (errorCode 102, `status` -1, message
/// `Invalid incoming request.`; the unit's index is the failing one's, the trailing space is captured).
pub const V3_INVALID_CLOUD_KEY: CatalogueEntry = CatalogueEntry {
    id: "forticare.v3.invalid-cloud-key",
    code: Some(102),
    text: "Invalid cloud key provided for registration units[0]. ",
    provenance: Provenance::Client,
    symptom: "the script gets HTTP 400 with `errorCode` 102; nothing is registered",
    source: "public FortiCare v3 clients (shared/reference/forticare-v3.md)",
};

/// A v3 batch operation that failed (errorCode 301, `status` 2); each unit says why in its own `message`.
pub const V3_OPERATION_FAILED: CatalogueEntry = CatalogueEntry {
    id: "forticare.v3.operation-failed",
    code: Some(301),
    text: "Failed",
    provenance: Provenance::Client,
    symptom: "the script gets HTTP 400 with `errorCode` 301 and a per-asset `message`",
    source: "public FortiCare v3 clients (shared/reference/forticare-v3.md)",
};

/// The per-asset message of `products/register` for a product already registered, sent without a contract.
pub const V3_PRODUCT_ALREADY_REGISTERED: CatalogueEntry = CatalogueEntry {
    id: "forticare.v3.product-registered",
    code: None,
    text: "Product-> Product already registered, but no contract associated with request. Please check again.",
    provenance: Provenance::Client,
    symptom: "the unit's `message` in an errorCode 301 answer",
    source: "public FortiCare v3 clients (shared/reference/forticare-v3.md)",
};

/// The per-asset message of `products/register` for a unit sent without a cloud key.
pub const V3_CLOUD_KEY_REQUIRED: CatalogueEntry = CatalogueEntry {
    id: "forticare.v3.cloud-key-required",
    code: None,
    text: "Product-> FortiCloud Key is Required.",
    provenance: Provenance::Client,
    symptom: "the unit's `message` in an errorCode 301 answer",
    source: "public FortiCare v3 clients (shared/reference/forticare-v3.md)",
};

/// FortiAuthenticator's REST API assigning a token that is not available for use (locked, or another
/// user's): `400 {"error": "This serial number is not available for use."}` (FAC 8.0.0 \[PRACTICE\]).
pub const FAC_SERIAL_NOT_AVAILABLE: CatalogueEntry = CatalogueEntry {
    id: "appliance.fac.serial-not-available",
    code: None,
    text: crate::fac_rest::SERIAL_NOT_AVAILABLE,
    provenance: Provenance::Client,
    symptom: "the script's user creation or token assignment fails with HTTP 400; pick an available token",
    source: "shared/reference/fortiauthenticator-rest.md, errors seen on FAC 8.0.0 [PRACTICE]",
};

/// FortiAuthenticator's REST API failing to send a FortiToken Mobile activation message: `400 {"error":
/// "Failed to send FortiToken Mobile activation message"}` (FAC 8.0.0 \[PRACTICE\]; fortimock answers it when
/// the message cannot go out: no address for the chosen method, or the delivery failed).
pub const FAC_ACTIVATION_MESSAGE_FAILED: CatalogueEntry = CatalogueEntry {
    id: "appliance.fac.activation-message-failed",
    code: None,
    text: crate::fac_rest::ACTIVATION_MESSAGE_FAILED,
    provenance: Provenance::Client,
    symptom: "HTTP 400 from localusers/; the token is provisioned and the message can be sent again with a retry",
    source: "shared/reference/fortiauthenticator-rest.md, errors seen on FAC 8.0.0 [PRACTICE]",
};

/// Hardware activation by serial on FortiOS 7.4.10–7.4.11 and 7.6.3–7.6.6 (bug 1218458, fixed in 7.4.12,
/// 7.6.7 and 8.0.0): the token is not saved; the seed-file import is the working path.
pub const CMDB_SAVE_ERROR: CatalogueEntry = CatalogueEntry {
    id: "appliance.hardware.cmdb-save-error",
    code: None,
    text: "cmdb save error",
    provenance: Provenance::Doc,
    symptom: "`execute fortitoken activate` returns `cmdb save error`; import the token's seed file instead",
    source: "KB 428366 and KB 119518 (bug 1218458)",
};

/// An activation code the appliance could not deliver by email or SMS: the token stays Pending and the code
/// can be sent again.
pub const ACTIVATION_NOT_SENT: CatalogueEntry = CatalogueEntry {
    id: "appliance.delivery.failed",
    code: None,
    text: "Failed to send activation code",
    provenance: Provenance::Doc,
    symptom: "the FortiOS GUI shows `Failed to send activation code`; the token stays Pending",
    source: "KB 312027 (dossier 2.6)",
};

/// A FortiToken Mobile license import on FortiProxy, which supports only its trial tokens (and FortiToken
/// Cloud).
pub const FORTIPROXY_NO_FTM_IMPORT: CatalogueEntry = CatalogueEntry {
    id: "appliance.fortiproxy.no-ftm-import",
    code: None,
    text: "FortiProxy does not support FortiToken Mobile license import",
    provenance: Provenance::Doc,
    symptom: "the import is refused on the FortiProxy; only its two trial tokens can be imported",
    source: "KB 425535 (seeds/fortitoken-activation-process.txt)",
};

/// Offline (QR) activation of a mobile token on an appliance other than FortiAuthenticator.
pub const OFFLINE_ACTIVATION_FAC_ONLY: CatalogueEntry = CatalogueEntry {
    id: "appliance.offline.fortiauthenticator-only",
    code: None,
    text: "The Offline Activation feature for mobile tokens is only available for FortiAuthenticator",
    provenance: Provenance::Doc,
    symptom: "FortiGate, FortiPAM and FortiProxy have no offline activation; their tokens activate online",
    source: "KB 425535 (seeds/fortitoken-activation-process.txt)",
};

/// Every entry, in the order a reader meets them in the flows.
pub const CATALOGUE: &[&CatalogueEntry] = &[
    &LICENSE_CODE_INVALID,
    &APPLIANCE_IMPORT_ERROR,
    &modeled::LICENSE_REGISTERED_ELSEWHERE,
    &modeled::LICENSE_EXPIRED,
    &PRODUCT_NOT_REGISTERED,
    &TOKEN_NOT_OWNED,
    &NO_VALID_TOKEN,
    &ACTIVATION_CODE_INVALID,
    &modeled::PUSH_UNREGISTERED,
    &modeled::PUSH_BAD_DEVICE_TOKEN,
    &INVALID_SERVER_CERTIFICATE,
    &modeled::TRANSFER_UNKNOWN_LICENSE,
    &modeled::TRANSFER_NOT_OWNER,
    &modeled::TRANSFER_SAME_APPLIANCE,
    &TRANSFER_TRIAL,
    &TRANSFER_NOT_ALLOWED_SINCE_2025,
    &modeled::TRANSFER_OPEN_TICKET,
    &modeled::OAUTH_INVALID_GRANT,
    &modeled::OAUTH_INVALID_REQUEST,
    &modeled::V3_UNAUTHORIZED,
    &modeled::V3_INVALID_REQUEST,
    &V3_INVALID_CLOUD_KEY,
    &V3_OPERATION_FAILED,
    &V3_PRODUCT_ALREADY_REGISTERED,
    &V3_CLOUD_KEY_REQUIRED,
    &modeled::V3_BATCH_TOO_LARGE,
    &modeled::V3_BATCH_STOPPED,
    &modeled::V3_LICENSE_CODE_INVALID,
    &modeled::V3_LICENSE_REGISTERED_ELSEWHERE,
    &modeled::V3_LICENSE_EXPIRED,
    &modeled::V3_PRODUCT_OTHER_ACCOUNT,
    &modeled::V3_PRODUCT_NOT_FOUND,
    &modeled::V3_ACCOUNT_NOT_ALLOWED,
    &modeled::V3_RATE_LIMIT_MINUTE,
    &modeled::V3_RATE_LIMIT_HOUR,
    &modeled::V3_ERROR_LIMIT,
    &FAC_SERIAL_NOT_AVAILABLE,
    &FAC_ACTIVATION_MESSAGE_FAILED,
    &modeled::FAC_BAD_MOBILE_NUMBER,
    &modeled::FAC_TRANSFER_DISABLED,
    &modeled::FAC_PUSH_NO_USER,
    &modeled::FAC_TRANSFER_NOT_HOLDER,
    &modeled::TRANSFER_NOT_TRANSFERABLE,
    &modeled::TRANSFER_UNKNOWN_TOKEN,
    &modeled::TRANSFER_UNKNOWN,
    &modeled::TRANSFER_CODE_INVALID,
    &modeled::TRANSFER_CODE_USED,
    &modeled::TRANSFER_CODE_EXPIRED,
    &modeled::TRANSFER_BAD_REQUEST,
    &modeled::HARDWARE_ALREADY_ACTIVATED,
    &modeled::HARDWARE_NOT_IN_FORTIGUARD,
    &modeled::HARDWARE_RESET_ASSIGNED,
    &CMDB_SAVE_ERROR,
    &ACTIVATION_NOT_SENT,
    &modeled::MAILBOX_FULL,
    &modeled::SMS_GATEWAY_REFUSED,
    &FORTIPROXY_NO_FTM_IMPORT,
    &OFFLINE_ACTIVATION_FAC_ONLY,
];

/// The entry with this id.
pub fn lookup(id: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().copied().find(|entry| entry.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_dotted() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            assert_eq!(
                a.id.split('.').count(),
                3,
                "{} should be service.area.error",
                a.id
            );
            for b in &CATALOGUE[i + 1..] {
                assert_ne!(a.id, b.id);
                if a.code.is_some() && a.code == b.code {
                    panic!("{} and {} share code {:?}", a.id, b.id, a.code);
                }
            }
        }
    }

    #[test]
    fn wire_texts_are_exact() {
        // Pinned against the captures: a typo here would break every appliance that matches on text.
        assert_eq!(
            serde_json::to_string(&LICENSE_CODE_INVALID.wire_error()).unwrap(),
            r#"{"error_code":16,"error_message":"forticare license activation code invalid"}"#
        );
        assert_eq!(
            serde_json::to_string(&ACTIVATION_CODE_INVALID.wire_error()).unwrap(),
            r#"{"error_code":40,"error_message":"FTM token Activation Code is invalid"}"#
        );
        assert_eq!(lookup("ftm.provision.not-owner"), Some(&TOKEN_NOT_OWNED));
        assert!(LICENSE_CODE_INVALID.matches(&LICENSE_CODE_INVALID.wire_error()));
        assert!(!LICENSE_CODE_INVALID.matches(&NO_VALID_TOKEN.wire_error()));
    }

    #[test]
    fn modeled_entries_say_so() {
        for entry in CATALOGUE {
            let says_model = entry.source.contains("fortimock model");
            assert_eq!(
                entry.provenance == Provenance::Modeled,
                says_model,
                "{}: {}",
                entry.id,
                entry.source
            );
        }
    }
}
