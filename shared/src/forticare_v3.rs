//! FortiCare's asset-management REST API (v3), the API customers' scripts automate their FortiCare account
//! with: an OAuth password grant at `customerapiauth.fortinet.com`, then `POST`s with a bearer token under
//! `support.fortinet.com/ES/api/registration/v3/` (shared/reference/forticare-v3.md).
//!
//! Field names and the envelope are what public clients send and read (\[CLIENT\], the token endpoint
//! \[DOC\]); nothing here is captured from the wire. Every answer fortimock chose where no source speaks is
//! in `modeled` (the error codes and texts it adds, the page size, what an EFTM license looks like). Fields
//! may be added, never renamed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `client_id` of the documented password grant.
pub const CLIENT_ID: &str = "assetmanagement";
/// `grant_type` of the documented password grant.
pub const PASSWORD_GRANT: &str = "password";
/// `grant_type` that trades a refresh token for a new access token (OAuth 2.0, RFC 6749 §6).
pub const REFRESH_GRANT: &str = "refresh_token";
/// How long an access token lives, in seconds (\[DOC\]: `expires_in` 14400, four hours).
pub const ACCESS_TOKEN_SECS: i64 = 14_400;
/// `build` of every answer (\[CLIENT\]).
pub const BUILD: &str = "1.0.0";
/// `version` of every answer (\[CLIENT\]).
pub const VERSION: &str = "3.0";
/// `message` of a successful answer (\[CLIENT\]).
pub const MESSAGE_OK: &str = "Request processed successfully";
/// `message` of a rejected request (\[CLIENT\], with `status` -1).
pub const MESSAGE_INVALID: &str = "Invalid incoming request.";
/// `message` of a failed operation (\[CLIENT\], with `status` 2).
pub const MESSAGE_FAILED: &str = "Failed";
/// `status` of a successful answer.
pub const STATUS_OK: i32 = 0;
/// `status` of a rejected request.
pub const STATUS_REJECTED: i32 = -1;
/// `status` of a failed operation.
pub const STATUS_FAILED: i32 = 2;

/// The documented limits (a public client's docstrings, \[CLIENT\]): per API user, at most this many calls a
/// minute, ...
pub const CALLS_PER_MINUTE: usize = 100;
/// ... this many calls an hour, ...
pub const CALLS_PER_HOUR: usize = 1_000;
/// ... this many errors an hour; ...
pub const ERRORS_PER_HOUR: usize = 10;
/// ... a batch operation takes at most this many units, ...
pub const MAX_BATCH_UNITS: usize = 10;
/// ... and stops after this many of them fail.
pub const MAX_BATCH_ERRORS: usize = 5;

/// The endpoints under the API base, as scenario `message_type`s (`v3/licenses/register`, …) and for the
/// log line. The token endpoint is `v3/oauth/token`.
pub const OAUTH_TOKEN: &str = "v3/oauth/token";
pub const LICENSES_REGISTER: &str = "v3/licenses/register";
pub const LICENSES_LIST: &str = "v3/licenses/list";
pub const LICENSES_DOWNLOAD: &str = "v3/licenses/download";
pub const PRODUCTS_LIST: &str = "v3/products/list";
pub const PRODUCTS_DETAILS: &str = "v3/products/details";
pub const PRODUCTS_REGISTER: &str = "v3/products/register";
pub const PRODUCTS_TRANSFER: &str = "v3/products/transfer";

/// Every v3 endpoint but the token endpoint (the calls the rate limits count).
pub const API_CALLS: &[&str] = &[
    LICENSES_REGISTER,
    LICENSES_LIST,
    LICENSES_DOWNLOAD,
    PRODUCTS_LIST,
    PRODUCTS_DETAILS,
    PRODUCTS_REGISTER,
    PRODUCTS_TRANSFER,
];

/// Every v3 message type, the token endpoint included.
pub const MESSAGE_TYPES: &[&str] = &[
    OAUTH_TOKEN,
    LICENSES_REGISTER,
    LICENSES_LIST,
    LICENSES_DOWNLOAD,
    PRODUCTS_LIST,
    PRODUCTS_DETAILS,
    PRODUCTS_REGISTER,
    PRODUCTS_TRANSFER,
];

/// `POST /api/v1/oauth/token/` (\[DOC\], KB 194760). A secret: `Debug` hides the password and the refresh
/// token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub grant_type: String,
    /// With `grant_type` `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("grant_type", &self.grant_type)
            .finish()
    }
}

/// The token endpoint's answer (\[DOC\]): every field as documented.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenAnswer {
    pub access_token: String,
    pub expires_in: i64,
    pub message: String,
    pub refresh_token: String,
    pub scope: String,
    pub status: String,
    pub token_type: String,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

/// The token endpoint refusing a request (fortimock's model: the OAuth 2.0 error shape, RFC 6749 §5.2,
/// plus the documented answer's `status` and `message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenRefusal {
    pub error: String,
    pub error_description: String,
    pub status: String,
    pub message: String,
}

/// `error` of a failed v3 answer (\[CLIENT\]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(rename = "errorCode")]
    pub error_code: i32,
    pub message: String,
}

/// Every v3 answer: the envelope (\[CLIENT\]) with the endpoint's payload beside its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    pub build: String,
    pub error: Option<ApiError>,
    pub message: String,
    pub status: i32,
    /// The bearer token the request carried, echoed (`""` when it had none). A secret: the journal redacts
    /// it on the v3 paths.
    pub token: String,
    pub version: String,
    #[serde(flatten)]
    pub payload: T,
}

impl<T> Envelope<T> {
    /// A successful answer carrying `payload`.
    pub fn ok(token: &str, payload: T) -> Envelope<T> {
        Envelope {
            build: BUILD.to_owned(),
            error: None,
            message: MESSAGE_OK.to_owned(),
            status: STATUS_OK,
            token: token.to_owned(),
            version: VERSION.to_owned(),
            payload,
        }
    }
}

/// `licenses/register` (\[CLIENT\]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRegisterRequest {
    /// The license registration code; for FortiToken Mobile, the 20-character code on the certificate.
    #[serde(default)]
    pub license_registration_code: Option<String>,
    /// The product the license is registered to.
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub account_id: Option<u64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub additional_info: Option<String>,
    #[serde(default)]
    pub is_government: Option<bool>,
}

/// `licenses/list` (\[CLIENT\]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseListRequest {
    #[serde(default)]
    pub license_number: Option<String>,
    #[serde(default)]
    pub account_id: Option<u64>,
    #[serde(rename = "licenseSKU", default)]
    pub license_sku: Option<String>,
    /// `Registered` or `Pending` (a public client also names `Expired` and `Decommissioned`).
    #[serde(default)]
    pub status: Option<String>,
}

/// `licenses/download` (\[CLIENT\]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseDownloadRequest {
    #[serde(default)]
    pub serial_number: Option<String>,
}

/// `products/list` (\[CLIENT\]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductListRequest {
    /// A serial, with SQL-LIKE `%` wildcards (`FGT%`), or a bare prefix.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Only products with an entitlement ending before this (`2040-01-01T00:00:00+0:00`).
    #[serde(default)]
    pub expire_before: Option<String>,
    /// 1 for the first page.
    #[serde(default)]
    pub page_number: Option<u32>,
    #[serde(default)]
    pub account_id: Option<u64>,
}

/// `products/details` (\[CLIENT\]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductDetailsRequest {
    #[serde(default)]
    pub serial_number: Option<String>,
}

/// `products/register` (\[CLIENT\]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductRegisterRequest {
    #[serde(default)]
    pub registration_units: Vec<RegistrationUnit>,
}

/// One product to register (\[CLIENT\]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationUnit {
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub cloud_key: Option<String>,
    #[serde(default)]
    pub contract_number: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub additional_info: Option<String>,
    #[serde(default)]
    pub is_government: Option<bool>,
}

/// `products/transfer` (\[CLIENT\]): products moved between accounts of one organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductTransferRequest {
    #[serde(default)]
    pub source_account_id: Option<u64>,
    #[serde(default)]
    pub target_account_id: Option<u64>,
    #[serde(default)]
    pub serial_numbers: Vec<String>,
}

/// A license as `licenses/list` lists it (\[CLIENT\]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseAsset {
    pub license_number: String,
    #[serde(rename = "licenseSKU")]
    pub license_sku: String,
    /// The product it is registered to; `""` while `Pending`.
    pub serial_number: String,
    /// `Registered` or `Pending`.
    pub status: String,
}

/// A support contract registered to a product (\[CLIENT\]: `contractNumber`, `sku`, `terms`; what fortimock
/// gives a product for the `contractNumber` of `products/register` is modeled, `modeled::V3_CONTRACT_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    pub contract_number: String,
    pub sku: String,
    pub terms: Vec<ContractTerm>,
}

/// One term of a contract (\[CLIENT\]): when its support starts and ends (`2027-12-01T00:00:00`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContractTerm {
    pub start_date: String,
    pub end_date: String,
    pub support_type: String,
}

/// An entitlement of a product (\[CLIENT\]; what a FortiToken Mobile license shows as is modeled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entitlement {
    #[serde(rename = "type")]
    pub kind: i32,
    pub type_desc: String,
    pub level: i32,
    pub level_desc: String,
    pub start_date: String,
    pub end_date: String,
}

/// A product as `products/list` and `products/details` show it (\[CLIENT\]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    pub serial_number: String,
    pub product_model: String,
    pub description: String,
    pub is_decommissioned: bool,
    pub registration_date: String,
    pub status: String,
    pub folder_id: i64,
    pub folder_path: String,
    pub partner: String,
    pub location: String,
    pub asset_groups: Vec<Value>,
    #[serde(rename = "productModelEoR")]
    pub product_model_eor: String,
    #[serde(rename = "productModelEoS")]
    pub product_model_eos: String,
    pub warranty_supports: Vec<Entitlement>,
    /// The support contracts registered to the product (`products/register` with a `contractNumber`).
    pub contracts: Vec<Contract>,
    /// What the product is entitled to, each with its `endDate` (`products/list`'s `expireBefore` matches a
    /// product with one ending before the date): a contract's support, a FortiToken Mobile license (never
    /// ending).
    pub entitlements: Vec<Entitlement>,
    /// The licenses registered to the product.
    pub licenses: Vec<LicenseAsset>,
    /// With `licenses/register`: the license just registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<LicenseAsset>,
    /// The account the product is registered in.
    pub account_id: u64,
}

/// One unit's outcome in `products/register` and `products/transfer` (\[CLIENT\]: a per-asset `message`
/// and `status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnitOutcome {
    pub serial_number: String,
    pub status: i32,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<Box<Asset>>,
}

/// Payload of `licenses/list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LicenseList {
    pub licenses: Vec<LicenseAsset>,
}

/// Payload of `licenses/download`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseFile {
    pub serial_number: String,
    pub license_file: String,
}

/// Payload of `products/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetPage {
    pub assets: Vec<Asset>,
    pub page_number: u32,
    pub total_pages: u32,
}

/// Payload of `products/details` and `licenses/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetDetails {
    pub asset_details: Asset,
}

/// Payload of `products/register` and `products/transfer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnitOutcomes {
    pub assets: Vec<UnitOutcome>,
}

/// A date-time as the v3 API writes it: `2024-07-15T20:10:19` (UTC, no offset, \[CLIENT\]).
pub fn date_time(at: crate::time::UnixTime) -> String {
    at.rfc3339().trim_end_matches('Z').to_owned()
}

/// Whether `serial` matches a `products/list` `serialNumber` filter: SQL-LIKE with `%` for any run of
/// characters and `_` for one, letter case ignored; a filter without wildcards is a prefix (see
/// `modeled::V3_BARE_SERIAL_FILTER`).
pub fn serial_matches(filter: &str, serial: &str) -> bool {
    let filter = filter.trim().to_ascii_uppercase();
    let serial = serial.to_ascii_uppercase();
    if !filter.contains(['%', '_']) {
        return serial.starts_with(&filter);
    }
    like(filter.as_bytes(), serial.as_bytes())
}

/// SQL LIKE over bytes (`%` any run, `_` one byte), iteratively with backtracking to the last `%`.
fn like(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'%') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'_' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_filters_are_sql_like_or_prefixes() {
        assert!(serial_matches("FGT%", "FGT60FTK20000099"));
        assert!(serial_matches("fgt%", "FGT60FTK20000099"));
        assert!(serial_matches("%0099", "FGT60FTK20000099"));
        assert!(serial_matches("FG_60%99", "FGT60FTK20000099"));
        assert!(serial_matches("F", "FGVM01TM00000001"));
        assert!(serial_matches("FGVM01TM00000001", "FGVM01TM00000001"));
        assert!(!serial_matches("FGT%", "FGVM01TM00000001"));
        assert!(!serial_matches("%X%", "FGVM01TM00000001"));
        assert!(serial_matches("%", "FGVM01TM00000001"));
        assert!(serial_matches("%%1", "FGVM01TM00000001"));
    }

    #[test]
    fn the_envelope_has_the_clients_fields_in_order() {
        let json = serde_json::to_string(&Envelope::ok(
            "tok",
            LicenseList {
                licenses: Vec::new(),
            },
        ))
        .unwrap();
        assert_eq!(
            json,
            r#"{"build":"1.0.0","error":null,"message":"Request processed successfully","status":0,"token":"tok","version":"3.0","licenses":[]}"#
        );
        assert_eq!(
            date_time(crate::time::UnixTime::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let request = TokenRequest {
            username: "u".into(),
            password: "hunter2".into(),
            ..TokenRequest::default()
        };
        assert!(!format!("{request:?}").contains("hunter2"));
    }
}
