//! Token activation from the phone's side: `SoftToken.MobileProvisionRequest` / `MobileProvisionResponse`
//! on `/SoftToken/Provisioning.asmx/Mobile` (dossier 3.2 and 3.3, \[CLIENT\] and \[WIRE\]).
//!
//! The phone sends the activation code (as 16 lowercase hex digits of its 8 payload bytes) and its
//! `mobile_id`; the server answers with the seed encrypted for that `mobile_id`, once. The response's field
//! list is the one a public client pasted from the live server, and it is the whole list: a success has
//! the same fields, in the same order (no field says the token's period, algorithm or length; the phone
//! reads them from the code, see `modeled::otp_from_wire`). On error every value is empty, as captured.
//! Wire-compatible: fields follow the live server's class, never renamed.

use serde::{Deserialize, Serialize};

use crate::catalogue::WireError;
use crate::envelope::Message;

/// A phone redeeming an activation code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileProvisionRequest {
    /// `"5"` from FortiToken Mobile 4.9.9; absent from minimal clients.
    #[serde(rename = "__version", default)]
    pub version: String,
    /// App version and platform, e.g. `4.9.9_IOS`, `4.9.9_Android`.
    #[serde(rename = "__device_version", default)]
    pub device_version: String,
    /// App build, e.g. `4.9.9.0009`.
    #[serde(rename = "__device_build", default)]
    pub device_build: String,
    /// Android: the 16-hex-digit SSAID; iOS: a UUID. The seed is encrypted with it.
    pub mobile_id: String,
    /// The phone's push token: APNs (64 hex) or FCM (`…:APA91b…`). Becomes the appliance's `reg-id`.
    #[serde(default)]
    pub registration_id: String,
    /// 16 lowercase hex digits of the code's 8 payload bytes (fortimock also accepts the 16-character base32 code).
    pub token_activation_code: String,
}

impl Message for MobileProvisionRequest {
    const TYPE: &'static str = "SoftToken.MobileProvisionRequest";
}

/// The answer to a [`MobileProvisionRequest`], field for field and in order as the live server sends it
/// (`fixtures/wire/mobile-error40.response.json`); fortimock's success answer has no other field
/// (`fixtures/wire/mobile-success.response.json`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileProvisionResponse {
    #[serde(rename = "__version")]
    pub version: String,
    #[serde(rename = "__device_version")]
    pub device_version: String,
    #[serde(rename = "__device_build")]
    pub device_build: String,
    /// Hex SHA-256 of the `mobile_id` (modeled).
    pub mobile_id_hash: String,
    /// Base64 of the seed encrypted for the `mobile_id` (see `seed`). A secret: `Debug` hides it.
    pub seed: String,
    /// The token serial, `FTKMOB…`.
    pub token: String,
    pub image_file: String,
    /// On success, modeled: no PIN (`modeled::MOBILE_PIN_REQUIRED`, and the two fields after it).
    pub pin_required: String,
    pub pin_require_type: String,
    pub pin_length: i32,
    /// The HOTP counter of the token's first code; on success, modeled: 1 (`modeled::otp_to_wire`).
    pub counter: i64,
    pub encryption_key: String,
    /// The provisioning appliance's serial; the app shows it as the account's issuer.
    pub issuer: String,
    pub result: i32,
    pub error: Option<WireError>,
}

impl Message for MobileProvisionResponse {
    const TYPE: &'static str = "SoftToken.MobileProvisionResponse";
}

impl MobileProvisionResponse {
    /// The error response: every field empty, `error` set, exactly as captured.
    pub fn refused(error: WireError) -> MobileProvisionResponse {
        MobileProvisionResponse {
            version: String::new(),
            device_version: String::new(),
            device_build: String::new(),
            mobile_id_hash: String::new(),
            seed: String::new(),
            token: String::new(),
            image_file: String::new(),
            pin_required: String::new(),
            pin_require_type: String::new(),
            pin_length: 0,
            counter: 0,
            encryption_key: String::new(),
            issuer: String::new(),
            result: 0,
            error: Some(error),
        }
    }
}

impl std::fmt::Debug for MobileProvisionResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MobileProvisionResponse")
            .field("token", &self.token)
            .field(
                "seed",
                &if self.seed.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("issuer", &self.issuer)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
