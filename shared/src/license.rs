//! License import: `SoftToken.ActivationLicenseRequest` / `SoftToken.ActivationLicenseResponse`, the
//! exchange FortiOS runs for `execute fortitoken-mobile import <code>` (dossier section 0.5, \[WIRE\]).
//!
//! Wire-compatible: field names and types are the captured ones. On error the response carries
//! `"license": ""`, `"tokens": null`, `"result": 0` and the `error` object; the success shape is fortimock's
//! model (see `modeled`).

use serde::{Deserialize, Serialize};

use crate::catalogue::WireError;
use crate::envelope::Message;
use crate::header::{RequestHeader, ResponseHeader};

/// An appliance redeeming a license activation code (or the trial code `0000-0000-0000-0000-0000`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationLicenseRequest {
    #[serde(flatten)]
    pub header: RequestHeader,
    /// The 20-character code as typed, possibly with stray spaces (`" BADLICBADLICXXX "` in the capture).
    pub license_activation_code: String,
}

impl Message for ActivationLicenseRequest {
    const TYPE: &'static str = "SoftToken.ActivationLicenseRequest";
    const APPLIANCE_HEADER: bool = true;

    fn decode_text(text: &str) -> Option<ActivationLicenseRequest> {
        /// The fields after the header, as the derive reads them.
        #[derive(Deserialize)]
        struct Fields {
            license_activation_code: String,
        }
        let (
            header,
            Fields {
                license_activation_code,
            },
        ) = crate::header::decode_headed(text)?;
        Some(ActivationLicenseRequest {
            header,
            license_activation_code,
        })
    }
}

/// The answer to an [`ActivationLicenseRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationLicenseResponse {
    #[serde(flatten)]
    pub header: ResponseHeader,
    /// Echoed verbatim from the request.
    pub license_activation_code: String,
    /// The license id (`EFTM…` or `FTMTRIAL…`); `""` on error.
    pub license: String,
    /// One entry per seat; `null` on error.
    pub tokens: Option<Vec<LicensedToken>>,
    /// Always 0 in every capture, error or not: clients check `error`.
    pub result: i32,
    pub error: Option<WireError>,
}

impl Message for ActivationLicenseResponse {
    const TYPE: &'static str = "SoftToken.ActivationLicenseResponse";
}

/// One token of an imported license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensedToken {
    /// The token serial, `FTKMOB…`.
    pub token: String,
}

impl ActivationLicenseResponse {
    /// The response for a refused import: `license` empty, `tokens` null, `error` set.
    pub fn refused(
        request: &ActivationLicenseRequest,
        header: ResponseHeader,
        error: WireError,
    ) -> ActivationLicenseResponse {
        ActivationLicenseResponse {
            header,
            license_activation_code: request.license_activation_code.clone(),
            license: String::new(),
            tokens: None,
            result: 0,
            error: Some(error),
        }
    }
}
