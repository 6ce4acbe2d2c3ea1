//! A FortiAuthenticator's own configuration, as pure functions: its host name, the FortiToken Mobile
//! provisioning settings (`fortitokenmobileprovisioning/`) and the token policy (`userfortitokenpolicy/`,
//! seeds/fac-token-policy-settings.txt) with the ranges FAC allows, and the HOTP check with its
//! authentication and sync windows.
//!
//! Values a FortiGate has too (period, digits, activation expiry, the TOTP windows) stay in the appliance's
//! `ApplianceSettings`, so one value is never kept twice: the FAC's views read and change them there, in
//! the units FAC shows (hours, minutes). Everything else is FAC-only and lives in [`FacConfig`].

use protocol::appliance::ApplianceSettings;
use protocol::fac_rest::{FtmProvisioning, FtmProvisioningChange, TokenPolicy, TokenPolicyChange};
use protocol::id::ApplianceSerial;
use protocol::otp::{OtpKind, hotp};
use protocol::paths;
use subtle::ConstantTimeEq;

/// Online: tokens are provisioned through the FortiToken server; offline (FAC ≥ 6.6.1, after the one online
/// license activation): the activation page shows a QR code the phone activates from with no server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionMode {
    Online,
    Offline,
}

impl ProvisionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionMode::Online => "online",
            ProvisionMode::Offline => "offline",
        }
    }

    pub fn parse(text: &str) -> Option<ProvisionMode> {
        [ProvisionMode::Online, ProvisionMode::Offline]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// A FortiAuthenticator's configuration beyond `ApplianceSettings`. Secrets are held in the clear here and
/// sealed at rest by the store.
#[derive(Clone, PartialEq, Eq)]
pub struct FacConfig {
    /// The name its REST API answers to; `None`: [`protocol::modeled::fac_default_host_name`].
    pub host_name: Option<String>,
    pub token_algo: OtpKind,
    pub server_address: String,
    pub server_port: u16,
    pub require_pin: String,
    pub pin_length: u32,
    pub provision_mode: ProvisionMode,
    pub hotp_window: u32,
    pub hotp_sync_window: u32,
    pub email_sms_token_timeout: u32,
    pub offline_enabled: bool,
    pub offline_secret: Option<String>,
    pub offline_totp_cache_days: u32,
    pub offline_hotp_cache_counts: u32,
    pub emergency_enabled: bool,
    pub emergency_valid_days: u32,
    pub transfer_enabled: bool,
    pub seed_passphrase: Option<String>,
}

impl std::fmt::Debug for FacConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacConfig")
            .field("host_name", &self.host_name)
            .field("token_algo", &self.token_algo)
            .field("provision_mode", &self.provision_mode)
            .finish_non_exhaustive()
    }
}

impl Default for FacConfig {
    /// FAC's defaults (seeds/fac-token-policy-settings.txt, the REST reference).
    fn default() -> FacConfig {
        FacConfig {
            host_name: None,
            token_algo: OtpKind::Totp,
            server_address: "fortitokenmobile.fortinet.com".to_owned(),
            server_port: 443,
            require_pin: "not_requre".to_owned(),
            pin_length: 4,
            provision_mode: ProvisionMode::Online,
            hotp_window: 3,
            hotp_sync_window: 100,
            email_sms_token_timeout: 60,
            offline_enabled: false,
            offline_secret: None,
            offline_totp_cache_days: 7,
            offline_hotp_cache_counts: 10,
            emergency_enabled: false,
            emergency_valid_days: 7,
            transfer_enabled: false,
            seed_passphrase: None,
        }
    }
}

impl FacConfig {
    /// The host name the FAC answers to.
    pub fn host_name(&self, serial: &ApplianceSerial) -> String {
        self.host_name
            .clone()
            .unwrap_or_else(|| protocol::modeled::fac_default_host_name(serial))
    }
}

fn within(name: &str, value: u32, range: std::ops::RangeInclusive<u32>) -> Result<u32, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{name}: {value} is not between {} and {}",
            range.start(),
            range.end()
        ))
    }
}

/// Whole minutes of `secs`, rounded up (a window set in seconds through fortimock's own settings API).
fn minutes(secs: u32) -> u32 {
    secs.div_ceil(60)
}

/// Whether `name` is a host name FAC's REST API could answer to: a DNS name (letters, digits, dashes and
/// dots, labels of 1–63, 253 in all) or an IP address, lower-cased.
pub fn check_host_name(name: &str) -> Result<String, String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(name);
    }
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(name)
    } else {
        Err(format!(
            "host_name `{name}` is not a host name (letters, digits, dashes and dots) or an IP address"
        ))
    }
}

/// `fortitokenmobileprovisioning/` as the FAC shows it.
pub fn provisioning_view(settings: &ApplianceSettings, config: &FacConfig) -> FtmProvisioning {
    FtmProvisioning {
        resource_uri: paths::FAC_FTM_PROVISIONING.to_owned(),
        server_address: config.server_address.clone(),
        server_port: config.server_port,
        act_timeout: settings.activation_expiry_minutes.div_ceil(60),
        token_size: settings.digits,
        token_algo: config.token_algo.as_str().to_owned(),
        time_step: settings.period,
        require_pin: config.require_pin.clone(),
        pin_length: config.pin_length,
        provision_mode: config.provision_mode.as_str().to_owned(),
    }
}

/// Applies a provisioning change, checking every value against FAC's ranges; nothing changes on an error.
pub fn apply_provisioning(
    settings: &mut ApplianceSettings,
    config: &mut FacConfig,
    change: &FtmProvisioningChange,
) -> Result<(), String> {
    let mut s = *settings;
    let mut c = config.clone();
    if let Some(address) = &change.server_address {
        let address = address.trim();
        if address.is_empty() || address.len() > 255 || address.contains(char::is_whitespace) {
            return Err(format!("server_address: `{address}` is not a host name"));
        }
        c.server_address = address.to_owned();
    }
    if let Some(port) = change.server_port {
        if port == 0 {
            return Err("server_port: 0 is not a port".to_owned());
        }
        c.server_port = port;
    }
    if let Some(hours) = change.act_timeout {
        s.activation_expiry_minutes = within("act_timeout", hours, 1..=168)? * 60;
    }
    if let Some(size) = change.token_size {
        if !matches!(size, 6 | 8) {
            return Err(format!("token_size: {size} is neither 6 nor 8"));
        }
        s.digits = size;
    }
    if let Some(algo) = &change.token_algo {
        c.token_algo = OtpKind::parse(algo.trim())
            .ok_or(format!("token_algo: `{algo}` is neither totp nor hotp"))?;
    }
    if let Some(step) = change.time_step {
        if !matches!(step, 30 | 60) {
            return Err(format!("time_step: {step} is neither 30 nor 60"));
        }
        s.period = step;
    }
    if let Some(pin) = &change.require_pin {
        if !["require", "not_requre", "enforce"].contains(&pin.as_str()) {
            return Err(format!(
                "require_pin: `{pin}` is not require, not_requre or enforce"
            ));
        }
        c.require_pin = pin.clone();
    }
    if let Some(length) = change.pin_length {
        if !matches!(length, 4 | 6 | 8) {
            return Err(format!("pin_length: {length} is not 4, 6 or 8"));
        }
        c.pin_length = length;
    }
    if let Some(mode) = &change.provision_mode {
        c.provision_mode = ProvisionMode::parse(mode).ok_or(format!(
            "provision_mode: `{mode}` is neither online nor offline"
        ))?;
    }
    *settings = s;
    *config = c;
    Ok(())
}

/// `userfortitokenpolicy/` as the FAC shows it (secrets only as whether they are set).
pub fn policy_view(settings: &ApplianceSettings, config: &FacConfig) -> TokenPolicy {
    TokenPolicy {
        resource_uri: paths::FAC_TOKEN_POLICY.to_owned(),
        totp_window: minutes(settings.totp_window_secs),
        hotp_window: config.hotp_window,
        totp_sync_window: minutes(settings.totp_sync_window_secs),
        hotp_sync_window: config.hotp_sync_window,
        seed_passphrase_set: config.seed_passphrase.is_some(),
        offline_enabled: config.offline_enabled,
        offline_shared_secret_set: config.offline_secret.is_some(),
        offline_totp_cache_days: config.offline_totp_cache_days,
        offline_hotp_cache_counts: config.offline_hotp_cache_counts,
        emergency_codes_enabled: config.emergency_enabled,
        emergency_code_valid_days: config.emergency_valid_days,
        ftm_transfer_enabled: config.transfer_enabled,
        email_sms_token_timeout: config.email_sms_token_timeout,
    }
}

/// A secret from a change: trimmed, at most 128 characters; empty clears it.
fn secret(name: &str, value: &str) -> Result<Option<String>, String> {
    if value.len() > 128 {
        return Err(format!("{name}: longer than 128 characters"));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// Applies a token policy change, checking every value against FAC's ranges; nothing changes on an error.
/// Offline support needs the shared secret.
pub fn apply_policy(
    settings: &mut ApplianceSettings,
    config: &mut FacConfig,
    change: &TokenPolicyChange,
) -> Result<(), String> {
    let mut s = *settings;
    let mut c = config.clone();
    if let Some(v) = change.totp_window {
        s.totp_window_secs = within("totp_window", v, 1..=60)? * 60;
    }
    if let Some(v) = change.hotp_window {
        c.hotp_window = within("hotp_window", v, 1..=100)?;
    }
    if let Some(v) = change.totp_sync_window {
        s.totp_sync_window_secs = within("totp_sync_window", v, 5..=480)? * 60;
    }
    if let Some(v) = change.hotp_sync_window {
        c.hotp_sync_window = within("hotp_sync_window", v, 5..=500)?;
    }
    if let Some(v) = &change.seed_passphrase {
        c.seed_passphrase = secret("seed_passphrase", v)?;
    }
    if let Some(v) = &change.offline_shared_secret {
        c.offline_secret = secret("offline_shared_secret", v)?;
    }
    if let Some(v) = change.offline_enabled {
        c.offline_enabled = v;
    }
    if let Some(v) = change.offline_totp_cache_days {
        c.offline_totp_cache_days = within("offline_totp_cache_days", v, 1..=200)?;
    }
    if let Some(v) = change.offline_hotp_cache_counts {
        c.offline_hotp_cache_counts = within("offline_hotp_cache_counts", v, 1..=4000)?;
    }
    if let Some(v) = change.emergency_codes_enabled {
        c.emergency_enabled = v;
    }
    if let Some(v) = change.emergency_code_valid_days {
        c.emergency_valid_days = within("emergency_code_valid_days", v, 1..=30)?;
    }
    if let Some(v) = change.ftm_transfer_enabled {
        c.transfer_enabled = v;
    }
    if let Some(v) = change.email_sms_token_timeout {
        c.email_sms_token_timeout = within("email_sms_token_timeout", v, 10..=3600)?;
    }
    if c.offline_enabled && c.offline_secret.is_none() {
        return Err(
            "offline_enabled: Windows agent offline support needs offline_shared_secret".to_owned(),
        );
    }
    if c.emergency_enabled && !c.offline_enabled {
        return Err("emergency_codes_enabled: emergency codes need offline support on".to_owned());
    }
    *settings = s;
    *config = c;
    Ok(())
}

/// What the FAC remembers of a HOTP token between logins: the counter it expects next, and a
/// resynchronisation in progress (the counter of the far-off code; the next code must follow it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotpState {
    pub next: u64,
    pub sync: Option<u64>,
}

impl HotpState {
    /// A HOTP token just provisioned: the phone's first code is counter 1's (`modeled::otp_to_wire`).
    pub fn fresh() -> HotpState {
        HotpState {
            next: 1,
            sync: None,
        }
    }
}

/// How a HOTP code checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotpVerdict {
    /// Within the window (or the code right after a resync's): remember `state`.
    Accepted { state: HotpState },
    /// Past the window but within the sync window: remember `state` and ask for the next code.
    Resync { state: HotpState },
    /// Wrong, malformed, already used, or beyond the sync window.
    Denied,
}

fn code_is(seed: &[u8], counter: u64, code: &str, digits: u32) -> bool {
    hotp(seed, counter, digits)
        .as_bytes()
        .ct_eq(code.as_bytes())
        .into()
}

/// Checks a HOTP `code` as FAC does: the `window` counters from the expected one are valid; a code within
/// the `sync_window` counters beyond starts a resynchronisation that the next consecutive code completes.
/// Codes of counters already passed are refused (each HOTP code works once).
pub fn check_hotp(
    seed: &[u8],
    code: &str,
    digits: u32,
    state: HotpState,
    window: u32,
    sync_window: u32,
) -> HotpVerdict {
    let code = code.trim();
    if code.len() != digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return HotpVerdict::Denied;
    }
    if let Some(far) = state.sync
        && code_is(seed, far.saturating_add(1), code, digits)
    {
        return HotpVerdict::Accepted {
            state: HotpState {
                next: far.saturating_add(2),
                sync: None,
            },
        };
    }
    let window = u64::from(window.max(1));
    for counter in state.next..state.next.saturating_add(window) {
        if code_is(seed, counter, code, digits) {
            return HotpVerdict::Accepted {
                state: HotpState {
                    next: counter.saturating_add(1),
                    sync: None,
                },
            };
        }
    }
    let sync_end = state.next.saturating_add(u64::from(sync_window.max(1)));
    for counter in state.next.saturating_add(window)..sync_end {
        if code_is(seed, counter, code, digits) {
            return HotpVerdict::Resync {
                state: HotpState {
                    next: state.next,
                    sync: Some(counter),
                },
            };
        }
    }
    HotpVerdict::Denied
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::appliance::ApplianceMode;

    /// RFC 4226 appendix D: the secret `12345678901234567890` and its codes for counters 0 to 9.
    const RFC_SEED: &[u8] = b"12345678901234567890";
    const RFC_CODES: [&str; 10] = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];

    #[test]
    fn rfc4226_vectors_through_the_window() {
        for (counter, code) in RFC_CODES.iter().enumerate() {
            assert_eq!(hotp(RFC_SEED, counter as u64, 6), *code);
        }
        let mut state = HotpState::fresh();
        // Counters 1, 2, 3 in order.
        for code in &RFC_CODES[1..4] {
            let HotpVerdict::Accepted { state: next } =
                check_hotp(RFC_SEED, code, 6, state, 3, 100)
            else {
                panic!("{code} refused");
            };
            state = next;
        }
        assert_eq!(state.next, 4);
        // A used code is refused; skipping ahead within the window (counter 6 = 4 + 2) is fine.
        assert_eq!(
            check_hotp(RFC_SEED, RFC_CODES[3], 6, state, 3, 100),
            HotpVerdict::Denied
        );
        let HotpVerdict::Accepted { state } = check_hotp(RFC_SEED, RFC_CODES[6], 6, state, 3, 100)
        else {
            panic!()
        };
        assert_eq!(state.next, 7);
        assert_eq!(
            check_hotp(RFC_SEED, "12345", 6, state, 3, 100),
            HotpVerdict::Denied
        );
    }

    #[test]
    fn far_codes_resync_with_the_next_consecutive_code() {
        let state = HotpState::fresh();
        // Window 1: only counter 1 is valid; counter 8 is within the sync window.
        let HotpVerdict::Resync { state } = check_hotp(RFC_SEED, RFC_CODES[8], 6, state, 1, 100)
        else {
            panic!()
        };
        assert_eq!(state.sync, Some(8));
        // A code that does not follow does not complete it: another far code starts the resync over there.
        assert_eq!(
            check_hotp(RFC_SEED, RFC_CODES[5], 6, state, 1, 100),
            HotpVerdict::Resync {
                state: HotpState {
                    next: 1,
                    sync: Some(5)
                }
            }
        );
        let HotpVerdict::Accepted { state } = check_hotp(RFC_SEED, RFC_CODES[9], 6, state, 1, 100)
        else {
            panic!()
        };
        assert_eq!(
            state,
            HotpState {
                next: 10,
                sync: None
            }
        );
        // Beyond the sync window: denied.
        assert_eq!(
            check_hotp(RFC_SEED, RFC_CODES[9], 6, HotpState::fresh(), 1, 5),
            HotpVerdict::Denied
        );
    }

    #[test]
    fn policy_ranges_are_fac_s() {
        let mut settings = ApplianceSettings::defaults(ApplianceMode::Fortiauthenticator);
        let mut config = FacConfig::default();
        let view = policy_view(&settings, &config);
        assert_eq!(
            (
                view.totp_window,
                view.hotp_window,
                view.totp_sync_window,
                view.hotp_sync_window,
                view.email_sms_token_timeout
            ),
            (1, 3, 60, 100, 60)
        );
        for (change, field) in [
            (
                TokenPolicyChange {
                    totp_window: Some(61),
                    ..Default::default()
                },
                "totp_window",
            ),
            (
                TokenPolicyChange {
                    hotp_window: Some(0),
                    ..Default::default()
                },
                "hotp_window",
            ),
            (
                TokenPolicyChange {
                    totp_sync_window: Some(4),
                    ..Default::default()
                },
                "totp_sync_window",
            ),
            (
                TokenPolicyChange {
                    hotp_sync_window: Some(501),
                    ..Default::default()
                },
                "hotp_sync_window",
            ),
            (
                TokenPolicyChange {
                    email_sms_token_timeout: Some(9),
                    ..Default::default()
                },
                "email_sms_token_timeout",
            ),
            (
                TokenPolicyChange {
                    offline_totp_cache_days: Some(201),
                    ..Default::default()
                },
                "offline_totp_cache_days",
            ),
            (
                TokenPolicyChange {
                    offline_hotp_cache_counts: Some(4001),
                    ..Default::default()
                },
                "offline_hotp_cache_counts",
            ),
            (
                TokenPolicyChange {
                    emergency_code_valid_days: Some(31),
                    ..Default::default()
                },
                "emergency_code_valid_days",
            ),
            (
                TokenPolicyChange {
                    offline_enabled: Some(true),
                    ..Default::default()
                },
                "offline_enabled",
            ),
        ] {
            let error = apply_policy(&mut settings, &mut config, &change).unwrap_err();
            assert!(error.starts_with(field), "{error}");
        }
        assert_eq!(
            config,
            FacConfig::default(),
            "a refused change changes nothing"
        );
        apply_policy(
            &mut settings,
            &mut config,
            &TokenPolicyChange {
                totp_window: Some(2),
                totp_sync_window: Some(5),
                offline_shared_secret: Some("s3cret".into()),
                offline_enabled: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (settings.totp_window_secs, settings.totp_sync_window_secs),
            (120, 300)
        );
        assert!(policy_view(&settings, &config).offline_shared_secret_set);
    }

    #[test]
    fn provisioning_maps_onto_the_appliance_settings() {
        let mut settings = ApplianceSettings::defaults(ApplianceMode::Fortiauthenticator);
        // FAC's documented default time step (dossier §6 [DOC]).
        assert_eq!(settings.period, 60);
        let mut config = FacConfig::default();
        apply_provisioning(
            &mut settings,
            &mut config,
            &FtmProvisioningChange {
                act_timeout: Some(24),
                token_size: Some(8),
                token_algo: Some("hotp".into()),
                time_step: Some(30),
                provision_mode: Some("offline".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (
                settings.activation_expiry_minutes,
                settings.digits,
                settings.period
            ),
            (1440, 8, 30)
        );
        let view = provisioning_view(&settings, &config);
        assert_eq!(
            (
                view.token_algo.as_str(),
                view.provision_mode.as_str(),
                view.act_timeout
            ),
            ("hotp", "offline", 24)
        );
        for bad in [
            FtmProvisioningChange {
                act_timeout: Some(169),
                ..Default::default()
            },
            FtmProvisioningChange {
                token_size: Some(7),
                ..Default::default()
            },
            FtmProvisioningChange {
                time_step: Some(45),
                ..Default::default()
            },
            FtmProvisioningChange {
                token_algo: Some("sha1".into()),
                ..Default::default()
            },
            FtmProvisioningChange {
                pin_length: Some(5),
                ..Default::default()
            },
            FtmProvisioningChange {
                provision_mode: Some("air".into()),
                ..Default::default()
            },
        ] {
            assert!(
                apply_provisioning(&mut settings, &mut config, &bad).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_host_name("FAC1.Example.COM.").unwrap(),
            "fac1.example.com"
        );
        assert!(check_host_name("bad name").is_err() && check_host_name("-x").is_err());
    }
}
