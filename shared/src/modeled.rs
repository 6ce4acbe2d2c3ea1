//! fortimock's answers where no public source speaks: every modeled wire decision lives here, in one
//! place, so a real capture that shows otherwise changes one file (DESIGN.md section 4).
//!
//! Anything in this module is a model, not a fact. Docs and the catalogue tag it [`Provenance::Modeled`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalogue::{CatalogueEntry, Provenance};
use crate::id::{ApplianceSerial, LicenseId, TokenSerial};

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
/// redeemed. The text is the one FortiAuthenticator shows (KB 197790, [DOC]); the code is fortimock's.
pub const LICENSE_EXPIRED: CatalogueEntry = CatalogueEntry {
    id: "forticare.import.license-expired",
    code: Some(19),
    text: "forticare license expired",
    provenance: Provenance::Modeled,
    symptom: "FortiAuthenticator shows `forticare license expired`; FortiGate may show `Internal Server Error`",
    source: "text: KB 197790 / 99299 [DOC]; code: fortimock model",
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

/// The number of tokens a trial import yields ([DOC] KB 190171, 193793: always two).
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
    fn trial_license_depends_on_serial_and_attempt() {
        let a: ApplianceSerial = "FGVM01TM00000001".parse().unwrap();
        let b: ApplianceSerial = "FGVM01TM00000002".parse().unwrap();
        assert!(trial_license(&a, 0).is_trial());
        assert_eq!(trial_license(&a, 0), trial_license(&a, 0));
        assert_ne!(trial_license(&a, 0), trial_license(&b, 0));
        assert_ne!(trial_license(&a, 0), trial_license(&a, 1));
    }
}
