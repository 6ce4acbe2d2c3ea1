//! The virtual phone's HTTP API (fortimock's own, served by the `phone` service): create FortiToken Mobile
//! devices, activate tokens on them, read their OTPs, export them. Test suites in any language drive
//! phones through these types; fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use crate::id::{MobileId, TokenSerial};
use crate::time::UnixTime;

/// The phone OS, which decides the `mobile_id` and registration id shapes and the `__device_version` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
}

impl Platform {
    /// The suffix the app appends to its version in `__device_version` (`4.9.9_Android`, `4.9.9_IOS`).
    pub fn version_suffix(self) -> &'static str {
        match self {
            Platform::Android => "Android",
            Platform::Ios => "IOS",
        }
    }
}

/// `POST /phones`: every field optional; fortimock fills in realistic values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewPhone {
    /// The device's id in fortimock's API (`[a-z0-9-]`, up to 32); default `phone-<n>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Default `android`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Default: a random 16-hex-digit Android ID, or a random UUID on iOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_id: Option<MobileId>,
    /// The FortiToken Mobile app version, default `4.9.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// The push registration id; default a random one in the platform's real shape (FCM `…:APA91b…`,
    /// APNs 64 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_id: Option<String>,
    /// How far the phone's clock is off, in seconds (positive: ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_secs: Option<i64>,
}

/// `PATCH /phones/{id}`: what may change on an existing phone; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneChange {
    /// How far the phone's clock is off, in seconds (positive: ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_secs: Option<i64>,
    /// A new push registration id, as when the OS rotates the app's push token. Later activations send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_id: Option<String>,
    /// What the phone does with pushes as they arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_policy: Option<PushPolicy>,
    /// With policy `approve_after_delay`: how long the user takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_delay_ms: Option<u64>,
}

/// A virtual phone (`GET /phones/{id}`). Never shows seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhoneView {
    pub id: String,
    pub platform: Platform,
    pub mobile_id: MobileId,
    pub app_version: String,
    /// What the app sends as `__device_version` and appliances store as `os-ver`, e.g. `4.9.9_Android`.
    pub os_ver: String,
    pub registration_id: String,
    pub clock_skew_secs: i64,
    pub created: UnixTime,
    pub tokens: Vec<PhoneTokenView>,
    /// What the phone does with pushes as they arrive.
    #[serde(default = "default_policy")]
    pub push_policy: PushPolicy,
    #[serde(default)]
    pub push_delay_ms: u64,
}

fn default_policy() -> PushPolicy {
    PushPolicy::Manual
}

/// One token on a phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhoneTokenView {
    pub serial: TokenSerial,
    /// The account name the app shows: `FortiToken` and the serial's last four characters.
    pub name: String,
    /// The provisioning appliance's serial, as the server sent it.
    pub issuer: String,
    /// `totp` or `hotp`.
    pub kind: String,
    pub period: u32,
    pub digits: u32,
    pub activated: UnixTime,
}

/// `GET /phones`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhoneList {
    pub phones: Vec<PhoneView>,
}

/// `POST /phones/{id}/activate`: the code as the user types it (16 base32 characters) or the QR string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activate {
    pub code: String,
}

/// `GET /phones/{id}/otp?token=…&at=…`: the code the app shows now (or at `at`, shifted by the phone's skew).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OtpView {
    pub token: TokenSerial,
    pub otp: String,
    pub kind: String,
    pub period: u32,
    pub digits: u32,
    /// The phone's own time the code is for (the lab clock plus the phone's skew).
    pub at: UnixTime,
    /// TOTP only: seconds until the code changes.
    pub valid_for_secs: Option<u32>,
}

/// What a phone does with a push as it arrives (for unattended tests), set with `PATCH /phones/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushPolicy {
    /// Keep it in the inbox until `POST …/approve` or `…/deny` (the default).
    Manual,
    /// Approve at once.
    Approve,
    /// Deny at once.
    Deny,
    /// Never answer: the user ignores the notification.
    Ignore,
    /// Approve after `push_delay_ms`.
    ApproveAfterDelay,
}

/// A push's state in a phone's inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// Shown, not answered yet.
    Pending,
    /// Approved: the appliance accepted the answer.
    Approved,
    /// Denied: the appliance accepted the denial.
    Denied,
    /// The answer could not be delivered or the appliance refused it (`detail` says why).
    Failed,
    /// Not shown: the HMAC did not match, or no token on the phone can read it.
    Rejected,
    /// Left unanswered on purpose (policy `ignore`).
    Ignored,
}

/// One push in a phone's inbox (`GET /phones/{id}/inbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxEntry {
    /// Position in this phone's inbox, from 1.
    pub id: u64,
    /// The relay's message id.
    pub message_id: String,
    pub received: UnixTime,
    /// `FGT-<serial>-<vdom>`.
    pub sender: String,
    /// The token the push names (`sn`).
    pub token: String,
    pub status: PushStatus,
    /// Why a push is failed or rejected, e.g. the certificate error the app shows.
    pub detail: Option<String>,
    /// What the app shows, once decrypted: the session, user, appliance, client and callback address.
    pub session_id: Option<String>,
    pub user: Option<String>,
    pub appliance: Option<String>,
    pub client_ip: Option<String>,
    pub client_application: Option<String>,
    /// `host:port` the answer goes to.
    pub callback: Option<String>,
}

/// `GET /phones/{id}/inbox`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Inbox {
    pub pushes: Vec<InboxEntry>,
}

/// `POST /phones/{id}/transfer`: the user picks "Transfer Tokens" on the old phone (token transfer between
/// phones, DESIGN flow 8, steps 1 to 7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StartTransfer {
    /// Where the issuing FortiAuthenticator's FortiToken Mobile API answers (its public FQDN or IP and port,
    /// `host:port`: the FAC's ftm-push `server` and port).
    pub fac: String,
    /// The tokens to move; default every token the FortiAuthenticator issued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenSerial>,
}

/// A phone's transfer (`POST /phones/{id}/transfer`, `…/transfer/check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferView {
    pub transfer_id: String,
    pub tokens: Vec<TokenSerial>,
    pub issuer: String,
    /// `code-sent` (the FAC sent the code to the user), `completed` (another phone installed the tokens and
    /// this one removed them) or `expired`.
    pub status: String,
    /// How the FAC sent the code: `email` or `sms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// `POST /phones/{id}/transfer/check`: the old phone asks how its transfer went (which transfer, and the tokens
/// it moves, as `POST /phones/{id}/transfer` answered them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckTransfer {
    pub transfer_id: String,
    pub tokens: Vec<TokenSerial>,
}

/// `POST /phones/{id}/transfer/complete`: the user picks "Complete Token Transfer" on the new phone and types
/// the transfer code (or scans its QR string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CompleteTransfer {
    pub code: String,
}

/// The tokens a completed transfer installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferInstalled {
    pub tokens: Vec<PhoneTokenView>,
}
