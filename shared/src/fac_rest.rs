//! FortiAuthenticator's REST API (`https://<fac>/api/v1/`), as scripts that automate a FAC send and read it
//! (shared/reference/fortiauthenticator-rest.md): Tastypie's list shape and paging, the resources' objects,
//! and the error bodies known exactly. This is Fortinet's API, not fortimock's: field names and texts follow
//! the reference; where it is silent the choice is fortimock's and lives in `modeled` (indexed there).

use serde::{Deserialize, Deserializer, Serialize};

/// A page's size when the request names none (Tastypie's `API_LIMIT_PER_PAGE`, 20 on FAC).
pub const DEFAULT_LIMIT: usize = 20;

/// The most objects a page holds; `?limit=0` gives this many too, never "all" (FAC 8.0.3 \[PRACTICE\]).
pub const MAX_LIMIT: usize = 1000;

/// Tastypie's `meta` of a list answer. `next` and `previous` are absolute paths with their query string
/// (`/api/v1/fortitokens/?limit=20&offset=20`), `null` at either end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub limit: usize,
    pub next: Option<String>,
    pub offset: usize,
    pub previous: Option<String>,
    pub total_count: usize,
}

/// A list answer: `{"meta": {…}, "objects": […]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub meta: Meta,
    pub objects: Vec<T>,
}

/// Every error body the FAC answers with content: `{"error": "<sentence>"}` (FAC 8.0.0 \[PRACTICE\]; Tastypie's
/// `error_response` for bad filters and paging too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacError {
    pub error: String,
}

/// `400`: assigning a token that is not available for use (locked, or held by someone else) \[PRACTICE\].
pub const SERIAL_NOT_AVAILABLE: &str = "This serial number is not available for use.";

/// `400`: the activation message could not be sent (FAC 8.0.0 answers it on a user's first creation even
/// though the message went out; a retry succeeds and sends it again) \[PRACTICE\].
pub const ACTIVATION_MESSAGE_FAILED: &str = "Failed to send FortiToken Mobile activation message";

/// Tastypie's answer to a body that is not JSON.
pub const INVALID_JSON: &str = "Request is not valid JSON.";

/// The realm of the `WWW-Authenticate: Basic` challenge a 401 carries (Tastypie's `BasicAuthentication`).
pub const BASIC_REALM: &str = "django-tastypie";

/// One entry of `GET /api/v1/`: where a resource's list and schema are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceEntry {
    pub list_endpoint: String,
    pub schema: String,
}

/// `GET /api/v1/<resource>/schema/`: what Tastypie's schema view says of a resource, the parts fortimock can
/// state truthfully (the methods it serves and the paging defaults); FAC's `fields` and `filtering` maps are
/// not public and are left out (`modeled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSchema {
    pub allowed_list_http_methods: Vec<String>,
    pub allowed_detail_http_methods: Vec<String>,
    pub default_format: String,
    pub default_limit: u32,
}

/// `fortitokens/` objects \[DOC\]: `type` `ftk` or `ftm`, `status` `new`, `available`, `pending` or
/// `assigned`, `last_used_at` ISO-8601 UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FortiTokenObject {
    pub id: u64,
    pub resource_uri: String,
    pub serial: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub locked: bool,
    pub license: String,
    pub last_used_at: Option<String>,
}

/// `GET fortitokenmobilelicenses/` \[DOC\].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FtmLicenseCounts {
    pub available_ftm: usize,
    pub total_ftm: usize,
    pub used_ftm: usize,
}

/// `POST fortitokenmobilelicenses/` \[DOC\]: the 20-character license code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FtmLicenseImport {
    pub license: String,
}

/// The answer to an import \[DOC\]: `{"license": …, "messages": {"success": "Successfully imported 10
/// FortiTokens"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FtmLicenseImported {
    pub license: String,
    pub messages: ImportMessages,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportMessages {
    pub success: String,
}

/// `fortitokenmobileprovisioning/` \[DOC\]: the FortiToken Mobile provisioning settings. `provision_mode` is
/// modeled (the GUI's "Provision mode: Online/Offline", FAC ≥ 6.6.1; its REST name is not public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FtmProvisioning {
    pub resource_uri: String,
    pub server_address: String,
    pub server_port: u16,
    /// Activation timeout, hours (1–168).
    pub act_timeout: u32,
    /// 6 or 8.
    pub token_size: u32,
    /// `totp` or `hotp`.
    pub token_algo: String,
    /// 30 or 60 seconds.
    pub time_step: u32,
    /// `require`, `not_requre` (sic) or `enforce`.
    pub require_pin: String,
    /// 4, 6 or 8.
    pub pin_length: u32,
    /// `online` or `offline` (modeled name).
    pub provision_mode: String,
}

/// A change of the FortiToken Mobile provisioning settings (POST or PATCH); absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FtmProvisioningChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_algo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_step: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_mode: Option<String>,
}

/// `userfortitokenpolicy/`: Authentication > User Account Policies > Tokens (seeds/fac-token-policy-settings.txt,
/// \[DOC\] for the settings and ranges; the field names are modeled). Secrets are write-only: a GET says only
/// whether they are set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPolicy {
    pub resource_uri: String,
    /// TOTP authentication window, minutes either side of now (1–60, default 1).
    pub totp_window: u32,
    /// HOTP authentication window, counts ahead (1–100, default 3).
    pub hotp_window: u32,
    /// TOTP sync window, minutes (5–480, default 60).
    pub totp_sync_window: u32,
    /// HOTP sync window, counts (5–500, default 100).
    pub hotp_sync_window: u32,
    pub seed_passphrase_set: bool,
    /// Windows agent offline FortiToken support (needs the shared secret).
    pub offline_enabled: bool,
    pub offline_shared_secret_set: bool,
    /// Days of TOTP codes cached after the last login (1–200, default 7).
    pub offline_totp_cache_days: u32,
    /// HOTP counts cached (1–4000, default 10).
    pub offline_hotp_cache_counts: u32,
    pub emergency_codes_enabled: bool,
    /// How long an emergency code is valid, days (1–30, default 7).
    pub emergency_code_valid_days: u32,
    /// FortiToken Mobile transfer between phones (off by default: FAC refuses transfer-code requests).
    pub ftm_transfer_enabled: bool,
    /// How long a token code sent by email or SMS is valid, seconds (10–3600, default 60).
    pub email_sms_token_timeout: u32,
}

/// A change of the token policy (POST or PATCH); absent fields stay. An empty secret clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPolicyChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_window: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotp_window: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_sync_window: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotp_sync_window: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_passphrase: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool_opt"
    )]
    pub offline_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_shared_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_totp_cache_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_hotp_cache_counts: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool_opt"
    )]
    pub emergency_codes_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_code_valid_days: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool_opt"
    )]
    pub ftm_transfer_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_sms_token_timeout: Option<u32>,
}

/// A `localusers/` object \[DOC, PRACTICE\]. The password is write-only and never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalUserObject {
    pub id: u64,
    pub resource_uri: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile_number: String,
    pub active: bool,
    pub token_auth: bool,
    /// `ftk`, `ftm`, `ftc`, `email` or `sms`; `null` without token authentication.
    pub token_type: Option<String>,
    pub token_serial: Option<String>,
    /// `email` or `sms`.
    pub ftm_act_method: String,
    pub custom1: String,
    pub custom2: String,
    pub custom3: String,
    /// Why the user was disabled: 5 = FTM activation expiry, 6 = revoked token.
    pub reason: Option<u32>,
    pub expires_at: Option<String>,
    /// `?returnseed=1|2` on the PATCH that assigns a token: the seed (modeled encoding, `modeled::returned_seed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
}

/// An `ldapusers/` object \[CLIENT\]: a user synchronised from a remote LDAP server, with the same token fields
/// as a local user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapUserObject {
    pub id: u64,
    pub resource_uri: String,
    pub username: String,
    pub dn: String,
    pub active: bool,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile_number: String,
    pub token_auth: bool,
    pub token_type: Option<String>,
    pub token_serial: Option<String>,
    pub ftm_act_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
}

/// What a script sends to create (POST) or change (PATCH) a local or LDAP user. Every field optional on a
/// PATCH; `username` needed on a POST. Booleans are taken as JSON booleans or as `"true"`/`"false"` strings,
/// as scripts send both (KB 395529 sends `"token_auth": "true"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_number: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool_opt"
    )]
    pub active: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool_opt"
    )]
    pub token_auth: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftm_act_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `usergroups/` objects: a local user group (what `localgroup-memberships/` names by `resource_uri`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserGroupObject {
    pub id: u64,
    pub resource_uri: String,
    pub name: String,
}

/// `POST usergroups/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUserGroup {
    pub name: String,
}

/// `localgroup-memberships/` objects and POST bodies: the user's and the group's `resource_uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMembershipObject {
    pub id: u64,
    pub resource_uri: String,
    pub user: String,
    pub group: String,
}

/// `POST localgroup-memberships/` \[CLIENT\].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGroupMembership {
    pub user: String,
    pub group: String,
}

/// `POST auth/` \[DOC\]: either secret may be left out; the password is checked first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST pushauth/` \[DOC S25, S11\]: sends a FortiToken Mobile push and answers once the user did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAuthRequest {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_message: Option<String>,
}

/// `500` of `pushauth/` \[DOC\].
pub const PUSH_SERVER_REFUSING: &str = "Push server is refusing to send the push notification";

/// `503` of `pushauth/` \[DOC\].
pub const PUSH_SERVER_UNREACHABLE: &str = "Push server is unreachable";

/// `POST offlineotp/`, `offlinehotpupdate/` and `emergencytoken/`: the user the Windows agent (or the admin)
/// asks for. `counter` is `offlinehotpupdate/`'s: the last HOTP counter the agent used offline, so the FAC
/// moves past it (modeled).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineRequest {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
}

/// What `offlineotp/` and `offlinehotpupdate/` give the Windows agent (modeled: the wire format is not
/// public; `modeled::seal_offline_cache` says what `cache` holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineCacheObject {
    pub username: String,
    pub token_serial: String,
    /// `totp` or `hotp`.
    pub algorithm: String,
    /// How many codes the cache holds.
    pub count: u64,
    /// TOTP: the first and last second the cached codes cover (ISO-8601 UTC); HOTP: absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// HOTP: the first counter the cache holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_counter: Option<u64>,
    /// How many emergency codes the cache holds.
    pub emergency_codes: usize,
    /// Base64 of the cache sealed with the offline shared secret.
    pub cache: String,
}

/// What `emergencytoken/` gives the admin: the user's new emergency codes, each usable once on the Windows
/// agent until `expires_at` (modeled: count and length in `modeled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyCodesObject {
    pub username: String,
    pub codes: Vec<String>,
    pub expires_at: String,
}

/// The answer to a successful `auth/` (modeled: the body of a 200 is not public) and `pushauth/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthAccepted {
    pub username: String,
    pub status: String,
}

/// `null`, a JSON boolean, `"true"`/`"false"` (any case) or `0`/`1`: scripts send all of these.
pub fn lenient_bool_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(D::Error::custom(format!(
            "expected true or false, got {other}"
        ))),
    }
}

/// Whether `number` looks like the mobile numbers FAC takes: `+<country code>-<number>`, such as
/// `+46-701234567` \[DOC\] (1–4 digits of country code, 4–15 of number).
pub fn valid_mobile_number(number: &str) -> bool {
    let Some(rest) = number.strip_prefix('+') else {
        return false;
    };
    let Some((country, local)) = rest.split_once('-') else {
        return false;
    };
    (1..=4).contains(&country.len())
        && country.bytes().all(|b| b.is_ascii_digit())
        && (4..=15).contains(&local.len())
        && local.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_come_in_every_shape_scripts_send() {
        for (text, expected) in [
            (r#"{"token_auth": true}"#, Some(true)),
            (r#"{"token_auth": "true"}"#, Some(true)),
            (r#"{"token_auth": "False"}"#, Some(false)),
            (r#"{"token_auth": 0}"#, Some(false)),
            (r#"{"token_auth": null}"#, None),
            (r#"{}"#, None),
        ] {
            let change: UserChange = serde_json::from_str(text).unwrap();
            assert_eq!(change.token_auth, expected, "{text}");
        }
        assert!(serde_json::from_str::<UserChange>(r#"{"token_auth": "yes"}"#).is_err());
    }

    #[test]
    fn mobile_numbers_follow_the_documented_shape() {
        assert!(valid_mobile_number("+46-701234567"));
        assert!(valid_mobile_number("+1-5551234"));
        for bad in [
            "46-701234567",
            "+46701234567",
            "+46-70 1234567",
            "+-701234567",
            "+12345-701234567",
            "+46-123",
            "",
        ] {
            assert!(!valid_mobile_number(bad), "{bad}");
        }
    }

    #[test]
    fn a_page_is_meta_then_objects() {
        let page = Page {
            meta: Meta {
                limit: 20,
                next: Some("/api/v1/fortitokens/?limit=20&offset=20".into()),
                offset: 0,
                previous: None,
                total_count: 21,
            },
            objects: vec![FacError { error: "x".into() }],
        };
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            r#"{"meta":{"limit":20,"next":"/api/v1/fortitokens/?limit=20&offset=20","offset":0,"previous":null,"total_count":21},"objects":[{"error":"x"}]}"#
        );
    }
}
