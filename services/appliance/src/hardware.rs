//! Hardware FortiTokens in the appliance's token table, as FortiOS keeps them: their `diagnose fortitoken
//! info` statuses, where their seed came from (FortiGuard, or a seed file), assignment to a user with no user
//! activation step (Available → Assigned), and the `diagnose fortitoken info` output. Pure.

use protocol::hardware::{FortitokenInfo, FortitokenInfoRow, HardwareTokenRow};
use protocol::id::HardwareSerial;

use crate::auth::{OtpMemory, TokenTiming};

/// Hardware tokens compute TOTP codes, 6 digits, every 60 seconds (the FortiToken 200's display).
pub const HARDWARE_TIMING: TokenTiming = TokenTiming {
    period: 60,
    digits: 6,
};

/// A hardware token's `diagnose fortitoken info` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HardwareStatus {
    /// Added, with its seed, not assigned (`new`).
    New,
    /// Assigned to a user (`active`).
    Active,
    /// FortiGuard refused the seed: the token's one-time activation lock is taken.
    AlreadyActivated,
    /// FortiGuard does not know the serial, or holds no seed for it (a 200CD token).
    NotInFortiGuard,
    /// FortiOS bug 1218458 (7.4.10–7.4.11, 7.6.3–7.6.6): the seed was not saved.
    CmdbSaveError,
}

impl HardwareStatus {
    /// The status as `diagnose fortitoken info` prints it.
    pub fn diag(self) -> String {
        match self {
            HardwareStatus::New => "new".to_owned(),
            HardwareStatus::Active => "active".to_owned(),
            HardwareStatus::AlreadyActivated => protocol::modeled::HARDWARE_ALREADY_ACTIVATED
                .text
                .to_owned(),
            HardwareStatus::NotInFortiGuard => format!(
                "activation error ({})",
                protocol::modeled::HARDWARE_NOT_IN_FORTIGUARD.text
            ),
            HardwareStatus::CmdbSaveError => protocol::catalogue::CMDB_SAVE_ERROR.text.to_owned(),
        }
    }

    /// The name the store keeps.
    pub fn name(self) -> &'static str {
        match self {
            HardwareStatus::New => "new",
            HardwareStatus::Active => "active",
            HardwareStatus::AlreadyActivated => "already-activated",
            HardwareStatus::NotInFortiGuard => "not-in-fortiguard",
            HardwareStatus::CmdbSaveError => "cmdb-save-error",
        }
    }

    pub fn parse(name: &str) -> Option<HardwareStatus> {
        [
            HardwareStatus::New,
            HardwareStatus::Active,
            HardwareStatus::AlreadyActivated,
            HardwareStatus::NotInFortiGuard,
            HardwareStatus::CmdbSaveError,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Whether the token has a seed it can check codes with.
    pub fn usable(self) -> bool {
        matches!(self, HardwareStatus::New | HardwareStatus::Active)
    }
}

/// Where a hardware token's seed came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedSource {
    /// Activation by serial: FortiGuard returned it.
    FortiGuard,
    /// The seed file's offline import.
    SeedFile,
}

impl SeedSource {
    pub fn name(self) -> &'static str {
        match self {
            SeedSource::FortiGuard => "fortiguard",
            SeedSource::SeedFile => "seed-file",
        }
    }

    pub fn parse(name: &str) -> Option<SeedSource> {
        [SeedSource::FortiGuard, SeedSource::SeedFile]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// A hardware token in the appliance's table (its seed is kept apart, sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareToken {
    pub serial: HardwareSerial,
    pub status: HardwareStatus,
    pub user: Option<String>,
    pub source: Option<SeedSource>,
    pub memory: OtpMemory,
}

impl HardwareToken {
    /// A token whose seed just arrived: new, unassigned.
    pub fn seeded(serial: HardwareSerial, source: SeedSource) -> HardwareToken {
        HardwareToken {
            serial,
            status: HardwareStatus::New,
            user: None,
            source: Some(source),
            memory: OtpMemory::default(),
        }
    }

    /// A token FortiGuard refused, or FortiOS failed to save: in the table, with its error status and no seed.
    pub fn failed(serial: HardwareSerial, status: HardwareStatus) -> HardwareToken {
        HardwareToken {
            serial,
            status,
            user: None,
            source: None,
            memory: OtpMemory::default(),
        }
    }

    /// Assigned to `user`: active, with no user activation step.
    pub fn assigned(&self, user: &str) -> HardwareToken {
        HardwareToken {
            status: HardwareStatus::Active,
            user: Some(user.to_owned()),
            ..self.clone()
        }
    }

    pub fn row(&self) -> HardwareTokenRow {
        HardwareTokenRow {
            serial: self.serial.clone(),
            model: self.serial.model(),
            status: self.status.diag(),
            gui_status: match self.status {
                HardwareStatus::New => "Available",
                HardwareStatus::Active => "Assigned",
                _ => "Error",
            }
            .to_owned(),
            user: self.user.clone(),
            source: self.source.map(|s| s.name().to_owned()),
            drift: self.memory.drift_steps,
        }
    }
}

/// Whether a stored row may be replaced by what an activation or a seed file brought: a row a user has keeps
/// its seed and its state (as a re-imported license leaves assigned tokens alone); every other row takes the
/// new one.
pub fn replaceable(current: Option<&HardwareToken>) -> bool {
    current.is_none_or(|t| t.user.is_none())
}

/// Which hardware token `wanted` names: a serial, or `any` for the first one that is new.
pub fn pick<'a>(tokens: &'a [HardwareToken], wanted: &str) -> Option<&'a HardwareToken> {
    if wanted.trim().eq_ignore_ascii_case("any") {
        return tokens.iter().find(|t| t.status == HardwareStatus::New);
    }
    let serial: HardwareSerial = wanted.parse().ok()?;
    tokens.iter().find(|t| t.serial == serial)
}

/// `diagnose fortitoken info` over the whole table: mobile tokens (`serial`, drift, status) and hardware
/// tokens, then the totals and the token server's status, as FortiOS prints them (FortiToken 8.0 guide).
pub fn fortitoken_info(
    mobile: &[(String, i64, String)],
    hardware: &[HardwareToken],
    server_reachable: bool,
) -> FortitokenInfo {
    let mut rows: Vec<FortitokenInfoRow> = hardware
        .iter()
        .map(|t| FortitokenInfoRow {
            serial: t.serial.to_string(),
            drift: t.memory.drift_steps,
            status: t.status.diag(),
        })
        .chain(
            mobile
                .iter()
                .map(|(serial, drift, status)| FortitokenInfoRow {
                    serial: serial.clone(),
                    drift: *drift,
                    status: status.clone(),
                }),
        )
        .collect();
    rows.sort_by(|a, b| a.serial.cmp(&b.serial));
    let activated = rows
        .iter()
        .filter(|r| matches!(r.status.as_str(), "new" | "active" | "provisioned"))
        .count();
    let server = if server_reachable {
        "reachable"
    } else {
        "unknown"
    };
    let mut text = String::from("FORTITOKEN DRIFT STATUS\n");
    for row in &rows {
        text.push_str(&format!("{} {} {}\n", row.serial, row.drift, row.status));
    }
    text.push_str(&format!(
        "\nTotal activated token: {activated}\nTotal global activated token: {activated}\n\nToken server status: {server}\n"
    ));
    FortitokenInfo {
        tokens: rows,
        total_activated: activated,
        total_global_activated: activated,
        token_server_status: server.to_owned(),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_fortios_prints_them() {
        let serial: HardwareSerial = "FTK200BAA0000000".parse().unwrap();
        let locked = HardwareToken::failed(
            "FTK200BAA0000001".parse().unwrap(),
            HardwareStatus::AlreadyActivated,
        );
        assert_eq!(
            locked.row().status,
            "token already activated, and seed won't be returned"
        );
        assert_eq!(
            HardwareStatus::NotInFortiGuard.diag(),
            "activation error (token not exist in FortiGuard)"
        );
        let new = HardwareToken::seeded(serial, SeedSource::FortiGuard);
        let active = new.assigned("alice");
        assert_eq!(
            (new.row().status.as_str(), new.row().gui_status.as_str()),
            ("new", "Available")
        );
        assert_eq!(
            (
                active.row().status.as_str(),
                active.row().gui_status.as_str()
            ),
            ("active", "Assigned")
        );
        assert!(replaceable(Some(&locked)) && replaceable(None) && !replaceable(Some(&active)));
        for status in [
            "new",
            "active",
            "already-activated",
            "not-in-fortiguard",
            "cmdb-save-error",
        ] {
            assert_eq!(HardwareStatus::parse(status).unwrap().name(), status);
        }
        let info = fortitoken_info(
            &[("FTKMOB0000000001".into(), 0, "new".into())],
            &[locked, active],
            true,
        );
        assert!(
            info.text
                .starts_with("FORTITOKEN DRIFT STATUS\nFTK200BAA0000000 0 active\n"),
            "{}",
            info.text
        );
        assert!(info.text.contains("Total activated token: 2\n"));
        assert!(info.text.ends_with("Token server status: reachable\n"));
    }
}
