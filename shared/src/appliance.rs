//! The virtual appliance's HTTP API (fortimock's own, served by the `appliance` service): create virtual
//! FortiGates and FortiAuthenticators, and run the FortiOS operations of a FortiToken Mobile deployment on
//! them: import, provision, poll, renew, show, login. Fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use crate::hardware::HardwareTokenRow;
use crate::id::{ApplianceSerial, LicenseId, TokenSerial};
use crate::messages::{Delivered, MessagingChange, MessagingSettings};
use crate::time::UnixTime;

/// Which appliance a virtual appliance plays. The defaults of its settings follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApplianceMode {
    /// FortiGate: 60-second tokens.
    Fortigate,
    /// FortiAuthenticator: 60-second tokens (`time_step` 60, `modeled::FAC_DEFAULT_TIME_STEP`), a one-minute
    /// TOTP window and a one-hour sync window.
    Fortiauthenticator,
    /// FortiPAM (FortiOS-based): 60-second tokens, provisioned manually.
    Fortipam,
    /// FortiProxy (FortiOS-based): 60-second tokens, provisioned manually; no FortiToken Mobile license
    /// import, only its trial tokens.
    Fortiproxy,
}

/// How an appliance provisions tokens and checks OTPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplianceSettings {
    /// How long an activation code stays valid (FortiOS `two-factor-ftm-expiry`, default 72 h = 4320 min).
    pub activation_expiry_minutes: u32,
    /// TOTP time step of the tokens it provisions: 60 s on FortiGate and, by default, on FortiAuthenticator
    /// (its `time_step` takes 30 or 60).
    pub period: u32,
    /// OTP length, 6 or 8.
    pub digits: u32,
    /// Codes from this far before or after the appliance's time are accepted (FortiAuthenticator "TOTP
    /// authentication window size", default 1 minute).
    pub totp_window_secs: u32,
    /// A code outside the window but within this far starts a resynchronization (FortiAuthenticator "TOTP
    /// sync window size", default 60 minutes); 0 turns resynchronization off.
    pub totp_sync_window_secs: u32,
    /// Failed logins before a user is locked (FortiOS `auth-lockout-threshold`, default 3).
    pub lockout_threshold: u32,
    /// How long a lockout lasts; 0 keeps the user locked until an admin unlocks it.
    pub lockout_secs: u32,
}

impl ApplianceSettings {
    /// The defaults of a mode.
    pub fn defaults(mode: ApplianceMode) -> ApplianceSettings {
        let period = match mode {
            ApplianceMode::Fortiauthenticator => crate::modeled::FAC_DEFAULT_TIME_STEP,
            ApplianceMode::Fortigate | ApplianceMode::Fortipam | ApplianceMode::Fortiproxy => 60,
        };
        ApplianceSettings {
            activation_expiry_minutes: 4320,
            period,
            digits: 6,
            totp_window_secs: 60,
            totp_sync_window_secs: 3600,
            lockout_threshold: 3,
            lockout_secs: 0,
        }
    }
}

/// A partial change of `ApplianceSettings` (`PATCH /appliances/{serial}/settings`, or at creation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettingsChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_expiry_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_window_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_sync_window_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_secs: Option<u32>,
}

/// `POST /appliances`: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewAppliance {
    /// Default: a random serial with the kind's prefix: `FGVM02TM…` (FortiGate), `FAC-VMTM…`
    /// (FortiAuthenticator), `FPAVM0TM…` (FortiPAM), `FPXVM0TM…` (FortiProxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<ApplianceSerial>,
    /// HA peers, sent in `__clustered_sns` after the appliance itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<ApplianceSerial>,
    /// Default `root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdom: Option<String>,
    /// Default `fortigate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ApplianceMode>,
    /// `__device_version`, default `7.4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `__device_build`, default `2829` (7.4.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The FortiToken server it talks to; default the suite's ftm service. Any base URL works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftm_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<SettingsChange>,
    /// `config system ftm-push`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftm_push: Option<FtmPushChange>,
    /// The firmware's full version, e.g. `7.4.10` (default: `version` with patch 9). Hardware activation by
    /// serial fails with `cmdb save error` on FortiOS 7.4.10–7.4.11 and 7.6.3–7.6.6 (bug 1218458).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// FortiGuard's token service for hardware activation (update.fortiguard.net); default the suite's
    /// forticare service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fortiguard_url: Option<String>,
    /// Where activation messages go (`config system email-server`, the SMS gateway); default the suite's
    /// SMTP listener and SMS sink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging: Option<MessagingChange>,
}

/// Which certificate the appliance's ftm-push listener presents to phones (FortiOS `server-cert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServerCert {
    /// The lab CA's server certificate, which fortimock's phones trust.
    Lab,
    /// A self-signed certificate no phone can validate: reproduces "invalid server certificate" (FortiOS
    /// with `server-cert` unset or unusable).
    Untrusted,
}

/// `config system ftm-push`: how the appliance sends pushes and where phones answer them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FtmPushSettings {
    /// `status`: with push disabled, users log in with OTPs only.
    pub status: bool,
    /// `server`: the address the push tells the phone to answer at (the appliance's public IP or FQDN).
    pub server: String,
    /// `server-port`: where the ftm-push listener listens and phones answer (default 4433; 0 picks a free
    /// port, shown in `listening_port`).
    pub server_port: u16,
    /// `server-cert`.
    pub server_cert: ServerCert,
    /// Whether phones can reach the listener (modeled: `false` keeps it closed, as a firewall or a NAT that
    /// does not forward the port would).
    pub reachable: bool,
    /// The push relay (push.fortinet.com); default the suite's push service.
    pub relay_url: String,
    /// How long a push login waits for the phone (FortiOS `remoteauthtimeout`), in seconds.
    pub timeout_secs: u32,
    /// The port the listener actually bound, while it runs.
    pub listening_port: Option<u16>,
}

/// A partial change of `FtmPushSettings` (`PATCH /appliances/{serial}/ftm-push`, or at creation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FtmPushChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cert: Option<ServerCert>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
}

/// A virtual appliance (`GET /appliances/{serial}`). Never shows seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplianceView {
    pub serial: ApplianceSerial,
    pub peers: Vec<ApplianceSerial>,
    pub vdom: String,
    pub mode: ApplianceMode,
    pub version: String,
    pub build: String,
    pub ftm_url: String,
    pub settings: ApplianceSettings,
    pub ftm_push: FtmPushSettings,
    pub tokens: Vec<FortiTokenView>,
    pub users: Vec<UserView>,
    /// Hardware tokens in the table (`diagnose fortitoken info`'s statuses).
    #[serde(default)]
    pub hardware_tokens: Vec<HardwareTokenRow>,
    /// The firmware's full version (`7.4.9`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// FortiGuard's token service this appliance activates hardware tokens with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fortiguard_url: Option<String>,
    /// Where its activation messages go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging: Option<MessagingSettings>,
    /// Which of its settings follow the running suite's, looked up each time rather than stored (so they
    /// move with the suite when its data dir is started on other ports or its state imported elsewhere),
    /// of `ftm_url`, `fortiguard_url`, `ftm_push.relay_url` and `messaging`; the others are the unit's own,
    /// as set or changed for it.
    #[serde(default)]
    pub follows_suite: Vec<SuiteSetting>,
}

/// A setting of a unit that either follows the running suite's or is the unit's own
/// (`ApplianceView::follows_suite`, `ApplianceChange::follow_suite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SuiteSetting {
    /// The FortiToken server (the suite's ftm).
    #[serde(rename = "ftm_url")]
    FtmUrl,
    /// FortiGuard's token service (the suite's forticare).
    #[serde(rename = "fortiguard_url")]
    FortiguardUrl,
    /// The push relay (the suite's push service).
    #[serde(rename = "ftm_push.relay_url")]
    RelayUrl,
    /// Where activation messages go (the suite's SMTP listener and SMS sink).
    #[serde(rename = "messaging")]
    Messaging,
}

impl SuiteSetting {
    /// Every one, in the order views list them.
    pub const ALL: [SuiteSetting; 4] = [
        SuiteSetting::FtmUrl,
        SuiteSetting::FortiguardUrl,
        SuiteSetting::RelayUrl,
        SuiteSetting::Messaging,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SuiteSetting::FtmUrl => "ftm_url",
            SuiteSetting::FortiguardUrl => "fortiguard_url",
            SuiteSetting::RelayUrl => "ftm_push.relay_url",
            SuiteSetting::Messaging => "messaging",
        }
    }
}

impl std::str::FromStr for SuiteSetting {
    type Err = String;

    /// A setting by its name on the wire.
    fn from_str(name: &str) -> Result<SuiteSetting, String> {
        SuiteSetting::ALL
            .into_iter()
            .find(|setting| setting.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = SuiteSetting::ALL.map(SuiteSetting::as_str).to_vec();
                format!("no setting `{name}`: one of {}", known.join(", "))
            })
    }
}

impl std::fmt::Display for SuiteSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `PATCH /appliances/{serial}`: where a unit reaches the cloud, changed after its creation. Each address
/// given becomes the unit's own; each setting in `follow_suite` goes back to following the running suite's.
/// Everything is checked before anything changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplianceChange {
    /// The FortiToken server it talks to from now on (any http(s) base URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftm_url: Option<String>,
    /// FortiGuard's token service it activates hardware tokens with from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fortiguard_url: Option<String>,
    /// Settings that follow the running suite's again (what `follows_suite` lists); a setting cannot be
    /// both given an address and put back on the suite's in one change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_suite: Vec<SuiteSetting>,
}

/// `GET /appliances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplianceList {
    pub appliances: Vec<ApplianceView>,
}

/// A token's state on the appliance (the FortiOS GUI's statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FortiTokenStatus {
    /// Imported, not assigned.
    Available,
    /// Assigned and provisioned; waiting for the phone to download the seed.
    Pending,
    /// Activated on a phone (a poll said so, or the user logged in with it).
    Assigned,
    /// Not activated before the activation code expired ("Provision Timed Out").
    ProvisionTimeout,
    /// The token's license moved to another appliance: the FortiToken server answered `31 token does not
    /// belong to product` (FortiOS's `Error` status; see `modeled::MOVED_TOKEN_STATUS`). Logins with it fail;
    /// importing the license's code again on this unit makes it Available.
    Error,
}

/// One token as `show user fortitoken` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FortiTokenView {
    pub serial: TokenSerial,
    pub status: FortiTokenStatus,
    pub license: LicenseId,
    /// The user the token is assigned to.
    pub user: Option<String>,
    /// `activation-code`: the code mailed to the user while pending.
    pub activation_code: Option<String>,
    /// `activation-expire`, epoch seconds.
    pub activation_expire: Option<i64>,
    /// `reg-id`: the phone's push registration id, once activated.
    pub reg_id: Option<String>,
    /// `os-ver`: the phone's app version and platform, once activated.
    pub os_ver: Option<String>,
    /// Clock drift learned by resynchronization, in time steps.
    pub drift_steps: i64,
}

/// A user with a FortiToken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub name: String,
    pub token: TokenSerial,
    /// Failed logins since the last success.
    pub failures: u32,
    pub locked: bool,
    /// When a timed lockout ends.
    pub locked_until: Option<UnixTime>,
}

/// `POST /appliances/{serial}/import` (`execute fortitoken-mobile import <code>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportRequest {
    /// The 20-character license code, or `0000-0000-0000-0000-0000` for the trial.
    pub code: String,
}

/// A successful import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    pub license: LicenseId,
    pub tokens: Vec<TokenSerial>,
    /// FortiOS-style debug lines, when asked for with `?debug=true`.
    pub debug: Vec<String>,
}

/// `POST /appliances/{serial}/provision` (assign a token to a user) and `…/renew`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProvisionTokenRequest {
    /// A token serial, or `any` for the first Available one.
    pub token: String,
    /// The user the token is assigned to; `renew` may leave it out (the token's user stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Overrides the appliance's activation expiry for this token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_minutes: Option<u32>,
    /// Email the activation code to this address (the user's `email-to`), as FortiOS does on assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Send the activation code by SMS to this number (the user's `sms-phone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_phone: Option<String>,
}

/// A provisioned token: what the appliance mails to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProvisionOutcome {
    pub token: FortiTokenView,
    /// The string a phone scans.
    pub qr_code: String,
    pub debug: Vec<String>,
    /// Where the activation message went, when one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Delivered>,
}

/// `POST /appliances/{serial}/poll` (`execute fortitoken-mobile poll`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PollOutcome {
    /// Every token that was polled, after the poll.
    pub tokens: Vec<FortiTokenView>,
    pub debug: Vec<String>,
}

/// A failed cloud operation (import, provision, poll): HTTP 422 or 502, an `ErrorBody`
/// plus the wire error code and the debug lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OperationFailure {
    pub error_id: String,
    /// What FortiOS prints, e.g. `import fortitoken license error: -7566`.
    pub message: String,
    /// The server's `error_code`, when it answered with one.
    pub error_code: Option<i32>,
    pub debug: Vec<String>,
}

/// `POST /appliances/{serial}/login`: a user authenticating with an OTP, or (`push: true`) by approving a
/// push on the phone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub user: String,
    /// The OTP; ignored for a push login.
    #[serde(default)]
    pub otp: String,
    /// Send a push (FortiToken Mobile Push) and wait for the phone's answer instead of checking `otp`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub push: bool,
    /// The address the user logs in from, shown on the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// How a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LoginResult {
    Success,
    /// Wrong, malformed or expired code; counted towards the lockout.
    Denied,
    /// A valid code that was already used; FortiOS asks the user to wait for the next one.
    Replayed,
    /// The user is locked out.
    Locked,
    /// A code far outside the window but inside the sync window: the next code completes the resync.
    Resync,
    /// Push login: the phone did not answer within the timeout.
    Timeout,
    /// Push login: the push could not be sent (the relay refused it or did not answer).
    PushFailed,
}

/// The answer to a `LoginRequest` (HTTP 200 on success, 401 otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginOutcome {
    pub result: LoginResult,
    /// What the user is told, e.g. `Please wait 41 seconds to login again`.
    pub message: String,
    /// Replayed: seconds until the next code.
    pub wait_secs: Option<i64>,
    /// Failed logins since the last success.
    pub failures: u32,
    pub locked: bool,
    /// Push login: the session the push carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Push login: FortiOS-style debug lines, when asked for with `?debug=true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub debug: Vec<String>,
}

/// `GET /appliances/{serial}/debug`: the appliance's recent FortiOS-style debug lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DebugLog {
    pub lines: Vec<String>,
}

/// `POST /appliances/{serial}/users`: a local user created with token authentication. FortiAuthenticator
/// gives it the next Available token (mobile tokens first, provisioned and sent as the request says); the
/// other kinds provision tokens manually and refuse `token_auth` without a `token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    /// Two-factor authentication with a FortiToken.
    #[serde(default)]
    pub token_auth: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_phone: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each setting's name is the same on the wire, in `as_str` and for `FromStr`; anything else is
    /// refused with the names there are.
    #[test]
    fn a_suite_setting_has_one_name() {
        for setting in SuiteSetting::ALL {
            let wire = serde_json::to_value(setting).expect("serialized");
            assert_eq!(wire, setting.as_str());
            assert_eq!(setting.as_str().parse::<SuiteSetting>(), Ok(setting));
            assert_eq!(
                serde_json::from_value::<SuiteSetting>(wire).expect("read"),
                setting
            );
        }
        let refused = "smtp_server".parse::<SuiteSetting>().unwrap_err();
        assert!(
            refused.contains("no setting `smtp_server`: one of ftm_url, fortiguard_url"),
            "{refused}"
        );
    }
}
