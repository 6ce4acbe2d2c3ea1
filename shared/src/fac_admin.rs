//! fortimock's own HTTP API for virtual FortiAuthenticators (served by the `appliance` service under
//! `/appliances/{serial}/…`, behind the admin token like the rest of the simulators' API): the REST API's
//! admin keys and host name, the provisioning settings and token policy, LDAP users for a lab without an
//! LDAP server, the messages the FAC sent, the offline activation page and the virtual Windows agent.
//! Fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use crate::fac_rest::{FtmProvisioning, FtmProvisioningChange, TokenPolicy, TokenPolicyChange};
use crate::id::{ApplianceSerial, TokenSerial};
use crate::time::UnixTime;

/// `POST /appliances/{serial}/api-keys`: issue (or reissue: the old key stops working) the REST API key of
/// an administrator, as ticking "Web service access" does. Default administrator `admin`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
}

/// `PUT /appliances/{serial}/admins/{admin}/password`: an administrator's login password (GUI and SSH), kept
/// only as a salted hash. It is not an API credential: the REST API takes only the administrator's API key,
/// and HTTP Basic with the password gets 401, as on a real FAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminPassword {
    /// 1 to 128 characters.
    pub password: String,
}

/// The answer to `AdminPassword`: whose password was set (never the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdminPasswordSet {
    pub admin: String,
    pub password_set: bool,
}

/// The key, shown once (FAC mails it to the administrator; fortimock keeps only its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyIssued {
    pub admin: String,
    pub api_key: String,
    /// The name the FAC's REST API answers to (`https://<host_name>/api/v1/`).
    pub host_name: String,
}

/// `GET /appliances/{serial}/fac`: a FortiAuthenticator's own configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FacView {
    pub serial: ApplianceSerial,
    pub host_name: String,
    pub provisioning: FtmProvisioning,
    pub token_policy: TokenPolicy,
    /// Administrators with an API key.
    pub admins: Vec<String>,
}

/// `PATCH /appliances/{serial}/fac`: absent parts stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FacChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<FtmProvisioningChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_policy: Option<TokenPolicyChange>,
}

/// `PATCH /appliances/{serial}/fac/tokens/{token}`: lock a token for assignment (FAC's token list, "Lock"), or
/// unlock it. Assigning a locked token is refused with `This serial number is not available for use.`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenLockChange {
    pub locked: bool,
}

/// The token after a lock change (`PATCH /appliances/{serial}/fac/tokens/{token}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenLockView {
    pub serial: TokenSerial,
    pub locked: bool,
}

/// `POST /appliances/{serial}/ldap-users`: a user as the FAC's LDAP synchronisation would bring it (the lab
/// has no LDAP server). `password` is what the directory would accept for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewLdapUser {
    pub username: String,
    pub dn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A FortiAuthenticator a lab starts with (`LabFixtures::fortiauthenticators`, e.g. in `fixtures/lab.json`):
/// created when the appliance service starts without it and again on every reset, with its REST API host
/// name, administrators (each with a known API key, so a script's configuration can name it) and the users
/// its LDAP synchronisation would bring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacFixture {
    pub serial: ApplianceSerial,
    /// The name its REST API answers to (default: the serial in lower case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// The firmware's full version (default: the service's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<FacAdminFixture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ldap_users: Vec<NewLdapUser>,
}

/// An administrator of a `FacFixture`: its REST API key as given (kept only as its SHA-256, like an issued
/// one) and, optionally, its login password (never an API credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacAdminFixture {
    pub name: String,
    pub api_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// How a message left the FAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

/// What a message was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    /// A FortiToken Mobile activation message (code and QR).
    Activation,
    /// A token code for a user with email or SMS tokens.
    TokenCode,
    /// A FortiToken Mobile transfer activation code (QR in the email).
    TransferCode,
}

/// A file attached to an email (the QR code of an activation or transfer code, as PNG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    /// Base64 of the file.
    pub data: String,
}

/// One message the FAC sent (`GET /appliances/{serial}/outbox`). The suite captures them: fortimock never
/// sends mail or SMS outside the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutboxMessage {
    /// Counts up across the service.
    pub seq: u64,
    pub at: UnixTime,
    pub appliance: ApplianceSerial,
    pub kind: MessageKind,
    pub channel: Channel,
    /// The user it was for.
    pub user: String,
    /// The email address or mobile number.
    pub to: String,
    /// Email only.
    pub subject: String,
    pub body: String,
    /// The code the message carries (activation, token or transfer code), for tests and support work.
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// `GET /appliances/{serial}/outbox`: oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outbox {
    pub messages: Vec<OutboxMessage>,
}

/// `GET /appliances/{serial}/activation/{token}`: what a FortiAuthenticator in offline provision mode shows on
/// a token's activation page. `?format=png` (or `Accept: image/png`) gives the QR code itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationPage {
    pub token: TokenSerial,
    pub user: String,
    /// The QR code's content (`modeled::offline_activation_payload`): a phone scanning it activates the token
    /// with no call to any server.
    pub payload: String,
    /// When the page stops showing the code (the provisioning settings' activation timeout).
    pub expires: UnixTime,
}

/// `POST /appliances/{serial}/agents/{agent}/sync`: the virtual Windows agent `agent` (a PC with the
/// FortiAuthenticator agent installed, configured with the FAC's offline shared secret) caches `user`'s
/// offline codes and emergency codes, as after the user's last online login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentSync {
    pub user: String,
}

/// What an agent holds for a user (never the codes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentCacheView {
    pub agent: String,
    pub user: String,
    pub token: TokenSerial,
    /// `totp` or `hotp`.
    pub algorithm: String,
    pub codes: u64,
    /// TOTP: until when cached codes cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<UnixTime>,
    /// HOTP: the first cached counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_counter: Option<u64>,
    pub emergency_codes: usize,
    pub fetched: UnixTime,
    /// Codes used offline since the cache was fetched.
    pub used: usize,
}

/// `POST /appliances/{serial}/agents/{agent}/login`: the user logs in on the agent's PC while it is offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentLogin {
    pub user: String,
    pub code: String,
}

/// How an offline login on the agent went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AgentLoginResult {
    Success,
    /// No cached code matches (wrong, or outside the cached period).
    Denied,
    /// A cached code or emergency code already used.
    Replayed,
    /// An emergency code past its validity.
    Expired,
}

/// The answer to an agent login (200 on success, 401 otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentLoginOutcome {
    pub result: AgentLoginResult,
    /// `totp`, `hotp` or `emergency` on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    pub message: String,
}

/// The answer to `POST /appliances/{serial}/ldap-users`: the user as the FAC's REST API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LdapUserCreated {
    pub id: u64,
    /// The user's `/api/v1/ldapusers/{id}/`.
    pub resource_uri: String,
    pub username: String,
    pub dn: String,
}
