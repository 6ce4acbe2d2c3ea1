//! The appliance kinds of the seeds (KB 425535): FortiGate, FortiAuthenticator, FortiPAM and FortiProxy, each
//! with its serial prefix, default OTP period and wording, and the rules that differ between them: who
//! provisions automatically, who imports FortiToken Mobile licenses, who activates offline, and which
//! FortiOS versions carry the hardware activation bug 1218458. Pure.

use protocol::appliance::ApplianceMode;
use protocol::catalogue::{FORTIPROXY_NO_FTM_IMPORT, OFFLINE_ACTIVATION_FAC_ONLY};
use protocol::id::LicenseActivationCode;

/// The product name FortiOS-style messages use for `kind`.
pub fn product(kind: ApplianceMode) -> &'static str {
    match kind {
        ApplianceMode::Fortigate => "FortiGate",
        ApplianceMode::Fortiauthenticator => "FortiAuthenticator",
        ApplianceMode::Fortipam => "FortiPAM",
        ApplianceMode::Fortiproxy => "FortiProxy",
    }
}

/// Whether `kind` assigns a token to a user created with token authentication by itself: FortiAuthenticator
/// only; FortiGate, FortiPAM and FortiProxy provision tokens manually (KB 425535).
pub fn provisions_automatically(kind: ApplianceMode) -> bool {
    kind == ApplianceMode::Fortiauthenticator
}

/// Whether `kind` may import the FortiToken Mobile license `code`: every kind may import the trial; FortiProxy
/// supports no other FortiToken Mobile license (KB 425535). The error is the appliance's message.
pub fn may_import_license(kind: ApplianceMode, code: &str) -> Result<(), &'static str> {
    let trial = code
        .parse::<LicenseActivationCode>()
        .is_ok_and(|c| c.is_trial());
    if kind == ApplianceMode::Fortiproxy && !trial {
        return Err(FORTIPROXY_NO_FTM_IMPORT.text);
    }
    Ok(())
}

/// Whether `kind` activates mobile tokens offline (by QR code, with no internet access): FortiAuthenticator
/// only (KB 425535). The error is the appliance's message. The offline import of hardware tokens' seed files
/// is every kind's.
pub fn may_activate_offline(kind: ApplianceMode) -> Result<(), &'static str> {
    if kind == ApplianceMode::Fortiauthenticator {
        Ok(())
    } else {
        Err(OFFLINE_ACTIVATION_FAC_ONLY.text)
    }
}

/// A firmware version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Firmware {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Firmware {
    /// Reads `7.4.10` (or `7.4`, patch 0); `None` for anything else.
    pub fn parse(text: &str) -> Option<Firmware> {
        let mut parts = text.trim().trim_start_matches(['v', 'V']).split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(patch) => patch.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Firmware {
            major,
            minor,
            patch,
        })
    }
}

impl std::fmt::Display for Firmware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The firmware a virtual appliance runs unless told: its `version` with patch 9 (7.4 → 7.4.9, the build
/// 2829 the default appliance sends).
pub fn default_firmware(version: &str) -> String {
    match Firmware::parse(version) {
        Some(f) => format!("{}.{}.9", f.major, f.minor),
        None => "7.4.9".to_owned(),
    }
}

/// Whether hardware activation by serial fails with `cmdb save error` on `kind` at `firmware`: FortiOS bug
/// 1218458, on 7.4.10–7.4.11 and 7.6.3–7.6.6, fixed in 7.4.12, 7.6.7 and 8.0.0 (KB 428366, KB 119518). The
/// FortiOS-based kinds (FortiGate, FortiPAM, FortiProxy) carry it; FortiAuthenticator does not run FortiOS.
pub fn has_cmdb_save_bug(kind: ApplianceMode, firmware: &str) -> bool {
    if kind == ApplianceMode::Fortiauthenticator {
        return false;
    }
    let Some(f) = Firmware::parse(firmware) else {
        return false;
    };
    matches!((f.major, f.minor, f.patch), (7, 4, 10..=11) | (7, 6, 3..=6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cmdb_save_bug_is_on_the_versions_the_kb_names() {
        let fgt = ApplianceMode::Fortigate;
        for bad in ["7.4.10", "7.4.11", "7.6.3", "7.6.6", "v7.6.4"] {
            assert!(has_cmdb_save_bug(fgt, bad), "{bad}");
            assert!(has_cmdb_save_bug(ApplianceMode::Fortiproxy, bad), "{bad}");
        }
        for good in [
            "7.4.9", "7.4.12", "7.6.2", "7.6.7", "8.0.0", "7.2.10", "nonsense",
        ] {
            assert!(!has_cmdb_save_bug(fgt, good), "{good}");
        }
        assert!(!has_cmdb_save_bug(
            ApplianceMode::Fortiauthenticator,
            "7.4.10"
        ));
        assert_eq!(default_firmware("7.4"), "7.4.9");
    }

    #[test]
    fn each_kind_follows_its_rules() {
        assert!(provisions_automatically(ApplianceMode::Fortiauthenticator));
        for manual in [
            ApplianceMode::Fortigate,
            ApplianceMode::Fortipam,
            ApplianceMode::Fortiproxy,
        ] {
            assert!(!provisions_automatically(manual));
            assert_eq!(
                may_activate_offline(manual),
                Err(OFFLINE_ACTIVATION_FAC_ONLY.text)
            );
        }
        assert!(may_activate_offline(ApplianceMode::Fortiauthenticator).is_ok());
        let proxy = ApplianceMode::Fortiproxy;
        assert_eq!(
            may_import_license(proxy, "1111-2222-3333-4444-5555"),
            Err(FORTIPROXY_NO_FTM_IMPORT.text)
        );
        assert!(may_import_license(proxy, "0000-0000-0000-0000-0000").is_ok());
        assert!(may_import_license(ApplianceMode::Fortipam, "1111-2222-3333-4444-5555").is_ok());
        assert_eq!(product(ApplianceMode::Fortipam), "FortiPAM");
    }
}
