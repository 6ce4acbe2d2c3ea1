//! The appliance's FortiToken table and users, as FortiOS keeps them (`config user fortitoken`,
//! `config user local`), with the state changes of each operation as pure functions.

use protocol::appliance::{
    ApplianceMode, ApplianceSettings, FortiTokenStatus, FortiTokenView, ServerCert, UserView,
};
use protocol::id::{ApplianceSerial, LicenseId, TokenSerial};
use protocol::time::UnixTime;

use crate::auth::{Lockout, OtpMemory, TokenTiming};

/// Where an appliance reaches one of the suite's services (the FortiToken server, the push relay,
/// FortiGuard's token service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceUrl {
    /// The running suite's own, looked up each time it is used: a data dir started again on other ports or
    /// with `--plain-http`, or a state imported into another suite, follows that suite. What an appliance
    /// created without an address gets.
    Suite,
    /// An address set for this appliance when it was created or changed, kept as it is.
    Set(String),
}

impl ServiceUrl {
    /// `Set` for an address given (without a trailing `/`), `Suite` for none.
    pub fn given(url: Option<&str>) -> ServiceUrl {
        url.map_or(ServiceUrl::Suite, |url| {
            ServiceUrl::Set(url.trim_end_matches('/').to_owned())
        })
    }

    /// The address to call, `suite` being the running suite's.
    pub fn resolve<'a>(&'a self, suite: &'a str) -> &'a str {
        match self {
            ServiceUrl::Suite => suite,
            ServiceUrl::Set(url) => url,
        }
    }

    /// Whether it is the running suite's, looked up each time.
    pub fn follows_suite(&self) -> bool {
        matches!(self, ServiceUrl::Suite)
    }

    /// As records keep it: absent for the suite's.
    pub fn stored(&self) -> Option<String> {
        match self {
            ServiceUrl::Suite => None,
            ServiceUrl::Set(url) => Some(url.clone()),
        }
    }
}

/// A virtual appliance's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appliance {
    pub serial: ApplianceSerial,
    pub peers: Vec<ApplianceSerial>,
    pub vdom: String,
    pub mode: ApplianceMode,
    pub version: String,
    pub build: String,
    /// The FortiToken server it sends its SoftToken requests to.
    pub ftm_url: ServiceUrl,
    pub settings: ApplianceSettings,
    pub push: FtmPush,
}

/// `config system ftm-push` (see `protocol::appliance::FtmPushSettings` for what each field means).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtmPush {
    pub status: bool,
    pub server: String,
    pub server_port: u16,
    pub server_cert: ServerCert,
    pub reachable: bool,
    pub relay_url: ServiceUrl,
    pub timeout_secs: u32,
}

/// One row of the appliance's FortiToken table (the seed is kept apart, sealed, by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub serial: TokenSerial,
    pub license: LicenseId,
    pub status: FortiTokenStatus,
    pub user: Option<String>,
    pub timing: TokenTiming,
    pub activation_code: Option<String>,
    pub activation_expire: Option<i64>,
    pub reg_id: Option<String>,
    pub os_ver: Option<String>,
    pub memory: OtpMemory,
}

/// What the poll reports, as a [`Token::polled`] status, for a token the server answered `31 token does
/// not belong to product`: its license moved away.
pub const MOVED: &str = "moved";

/// A local user with a FortiToken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub token: TokenSerial,
    pub lockout: Lockout,
}

impl Token {
    /// A token just imported: Available, unassigned.
    pub fn imported(
        serial: TokenSerial,
        license: LicenseId,
        settings: &ApplianceSettings,
    ) -> Token {
        Token {
            serial,
            license,
            status: FortiTokenStatus::Available,
            user: None,
            timing: TokenTiming {
                period: settings.period,
                digits: settings.digits,
            },
            activation_code: None,
            activation_expire: None,
            reg_id: None,
            os_ver: None,
            memory: OtpMemory::default(),
        }
    }

    /// After a successful ProvisionRequest: Pending, with the code mailed to `user`.
    pub fn provisioned(&self, user: &str, timing: TokenTiming, code: String, expire: i64) -> Token {
        Token {
            status: FortiTokenStatus::Pending,
            user: Some(user.to_owned()),
            timing,
            activation_code: Some(code),
            activation_expire: Some(expire),
            reg_id: None,
            os_ver: None,
            memory: OtpMemory::default(),
            ..self.clone()
        }
    }

    /// What a poll said about this token.
    pub fn polled(&self, status: &str, reg_id: Option<&str>, os_ver: Option<&str>) -> Token {
        let mut token = self.clone();
        match status {
            "activated" => {
                token.status = FortiTokenStatus::Assigned;
                token.activation_code = None;
                token.reg_id = reg_id.map(str::to_owned);
                token.os_ver = os_ver.map(str::to_owned);
            }
            "expired" if token.status == FortiTokenStatus::Pending => {
                token.status = FortiTokenStatus::ProvisionTimeout
            }
            MOVED => {
                token.status = FortiTokenStatus::Error;
                token.activation_code = None;
                token.activation_expire = None;
            }
            _ => {}
        }
        token
    }

    /// The status as shown now: a Pending token past its activation expiry is timed out.
    pub fn status_at(&self, now: UnixTime) -> FortiTokenStatus {
        match (self.status, self.activation_expire) {
            (FortiTokenStatus::Pending, Some(expire)) if now.secs() >= expire => {
                FortiTokenStatus::ProvisionTimeout
            }
            (status, _) => status,
        }
    }

    pub fn view(&self, now: UnixTime) -> FortiTokenView {
        FortiTokenView {
            serial: self.serial.clone(),
            status: self.status_at(now),
            license: self.license.clone(),
            user: self.user.clone(),
            activation_code: self.activation_code.clone(),
            activation_expire: self.activation_expire,
            reg_id: self.reg_id.clone(),
            os_ver: self.os_ver.clone(),
            drift_steps: self.memory.drift_steps,
        }
    }
}

impl User {
    pub fn view(&self, now: UnixTime) -> UserView {
        let locked = self.lockout.is_locked(now);
        UserView {
            name: self.name.clone(),
            token: self.token.clone(),
            failures: self.lockout.failures,
            locked,
            locked_until: self
                .lockout
                .locked_until
                .filter(|until| locked && *until != i64::MAX)
                .map(UnixTime::from_secs),
        }
    }
}

/// The phone platform a token's `os-ver` names (`4.9.9_IOS`, `4.7.1.0100_AND`, `4.9.9_Android`).
pub fn platform_of(os_ver: &str) -> Option<&'static str> {
    let suffix = os_ver.rsplit('_').next()?.to_ascii_lowercase();
    match suffix.as_str() {
        "ios" => Some("ios"),
        "and" | "android" => Some("android"),
        _ => None,
    }
}

/// Which token `wanted` names: a serial, or `any` for the first Available token.
pub fn pick_token<'a>(tokens: &'a [Token], wanted: &str) -> Option<&'a Token> {
    if wanted.trim().eq_ignore_ascii_case("any") {
        return tokens
            .iter()
            .find(|t| t.status == FortiTokenStatus::Available);
    }
    let serial: TokenSerial = wanted.parse().ok()?;
    tokens.iter().find(|t| t.serial == serial)
}

/// Whether a user name is one FortiOS would take (`config user local`: up to 64 printable characters).
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(serial: &str, status: FortiTokenStatus) -> Token {
        let settings = ApplianceSettings::defaults(ApplianceMode::Fortigate);
        let mut token = Token::imported(
            serial.parse().unwrap(),
            "EFTM000000000005".parse().unwrap(),
            &settings,
        );
        token.status = status;
        token
    }

    #[test]
    fn picks_the_named_or_first_available_token() {
        let tokens = [
            token("FTKMOB0000000001", FortiTokenStatus::Assigned),
            token("FTKMOB0000000002", FortiTokenStatus::Available),
        ];
        assert_eq!(
            pick_token(&tokens, "any").unwrap().serial.as_str(),
            "FTKMOB0000000002"
        );
        assert_eq!(
            pick_token(&tokens, "ftkmob0000000001")
                .unwrap()
                .serial
                .as_str(),
            "FTKMOB0000000001"
        );
        assert!(pick_token(&tokens, "FTKMOB0000000009").is_none());
        assert!(pick_token(&tokens[..1], "any").is_none());
    }

    #[test]
    fn lifecycle_follows_fortios() {
        let available = token("FTKMOB0000000001", FortiTokenStatus::Available);
        let timing = TokenTiming {
            period: 60,
            digits: 6,
        };
        let pending = available.provisioned("alice", timing, "EEIOHIDHBXN5QLXV".into(), 1_000);
        assert_eq!(
            pending.status_at(UnixTime::from_secs(999)),
            FortiTokenStatus::Pending
        );
        assert_eq!(
            pending.status_at(UnixTime::from_secs(1_000)),
            FortiTokenStatus::ProvisionTimeout
        );
        let assigned = pending.polled("activated", Some("reg"), Some("4.9.9_IOS"));
        assert_eq!(assigned.status, FortiTokenStatus::Assigned);
        assert_eq!(
            (
                assigned.reg_id.as_deref(),
                assigned.activation_code.as_deref()
            ),
            (Some("reg"), None)
        );
        assert_eq!(
            pending.polled("expired", None, None).status,
            FortiTokenStatus::ProvisionTimeout
        );
        assert_eq!(
            assigned.polled("expired", None, None).status,
            FortiTokenStatus::Assigned
        );
        let moved = assigned.polled(MOVED, None, None);
        assert_eq!(moved.status, FortiTokenStatus::Error);
        assert_eq!(
            moved.user.as_deref(),
            Some("alice"),
            "the configuration stays"
        );
        assert!(valid_user_name("alice") && !valid_user_name("") && !valid_user_name("a b"));
        assert_eq!(platform_of("5.4.2_IOS"), Some("ios"));
        assert_eq!(platform_of("4.7.1.0100_AND"), Some("android"));
        assert_eq!(platform_of("4.9.9_Android"), Some("android"));
        assert_eq!(platform_of("4.9.9"), None);
    }
}
