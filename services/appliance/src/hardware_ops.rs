//! The FortiOS operations on hardware tokens: `execute fortitoken activate <sn> [<sn> …]` (the exchange with
//! FortiGuard's token service through `cloud`, with the `cmdb save error` of bug 1218458 on the versions that
//! carry it, and FortiOS's silence on what is not a hardware serial), the seed file's offline import,
//! assignment to a user, a login with a hardware token's code, and `diagnose fortitoken info`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use protocol::appliance::{FortiTokenStatus, LoginOutcome, LoginResult, OperationFailure};
use protocol::catalogue::CMDB_SAVE_ERROR;
use protocol::hardware::{
    FortitokenInfo, HardwareActivationRequest, HardwareActivationResponse, HardwareOutcome,
    HardwareTokenRef, HardwareTokenRow, SeedFileImport,
};
use protocol::header::RequestHeader;
use protocol::id::HardwareSerial;
use protocol::modeled::{self, HARDWARE_ALREADY_ACTIVATED};
use protocol::seed::Seed;

use crate::auth::Verdict;
use crate::cloud::{self, HARDWARE_SITES};
use crate::error::ApplianceError;
use crate::fortitoken::Appliance;
use crate::hardware::{self, HardwareStatus, HardwareToken, SeedSource};
use crate::hardware_store::{AssignRefusal, HardwareLogin, Profile};
use crate::kinds;
use crate::operations::Ops;
use crate::seed_file::{self, SeedFileError};

/// The serials FortiOS keeps from what the admin typed (hardware serials, each once) and the ones it drops
/// without a word.
pub fn split_serials(typed: &[String]) -> (Vec<HardwareSerial>, Vec<String>) {
    let mut kept: Vec<HardwareSerial> = Vec::new();
    let mut dropped = Vec::new();
    for text in typed {
        match text.parse::<HardwareSerial>() {
            Ok(serial) if !kept.contains(&serial) => kept.push(serial),
            Ok(_) => {}
            Err(_) => dropped.push(text.chars().take(64).collect()),
        }
    }
    (kept, dropped)
}

fn rows(tokens: &[HardwareToken]) -> Vec<HardwareTokenRow> {
    tokens.iter().map(HardwareToken::row).collect()
}

/// `execute fortitoken activate <sn…>`: FortiGuard returns each seed once and locks the token. Tokens it
/// refuses go into the table with the refusal as their status; so do all of them when FortiGuard cannot be
/// reached (`activation error (token not exist in FortiGuard)`: "There is no contact to the FortiGuard
/// server", FortiToken 8.0 guide). On the versions with bug 1218458 the seeds arrive and are not saved:
/// `cmdb save error`, and the locks are taken (`modeled::CMDB_SAVE_ERROR_BURNS_THE_LOCK`).
pub async fn activate(
    ops: &Ops<'_>,
    appliance: &Appliance,
    profile: &Profile,
    typed: &[String],
) -> Result<HardwareOutcome, ApplianceError> {
    let (serials, dropped) = split_serials(typed);
    let mut debug = Vec::new();
    if serials.is_empty() {
        return Ok(HardwareOutcome {
            tokens: Vec::new(),
            dropped,
            debug,
        });
    }
    debug.push(format!(
        "fortitoken_activate:activate {} token(s): {}",
        serials.len(),
        serials
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let request = HardwareActivationRequest {
        header: RequestHeader::new(
            &appliance.serial,
            &appliance.peers,
            &appliance.version,
            &appliance.build,
        ),
        tokens: serials
            .iter()
            .map(|s| HardwareTokenRef {
                token: s.to_string(),
            })
            .collect(),
    };
    let answer: Result<HardwareActivationResponse, _> = cloud::exchange(
        ops.http,
        profile.fortiguard_url.resolve(ops.suite_fortiguard_url),
        &request,
        HARDWARE_SITES,
        &mut debug,
    )
    .await;
    let mut seeded: Vec<(HardwareToken, Option<Seed>)> = Vec::with_capacity(serials.len());
    match answer {
        Err(e) => {
            debug.push(format!("fortitoken_activate:FortiGuard not reached: {e}"));
            for serial in &serials {
                seeded.push((
                    HardwareToken::failed(serial.clone(), HardwareStatus::NotInFortiGuard),
                    None,
                ));
            }
        }
        Ok(response) => {
            for serial in &serials {
                let entry = response
                    .tokens
                    .iter()
                    .find(|t| t.token.trim().eq_ignore_ascii_case(serial.as_str()));
                let row = match entry.map(|e| (&e.seed, &e.error)) {
                    Some((Some(seed), None)) => match Seed::from_hex(seed.trim()) {
                        Ok(seed) => (
                            HardwareToken::seeded(serial.clone(), SeedSource::FortiGuard),
                            Some(seed),
                        ),
                        Err(_) => (
                            HardwareToken::failed(serial.clone(), HardwareStatus::NotInFortiGuard),
                            None,
                        ),
                    },
                    Some((_, Some(error))) if HARDWARE_ALREADY_ACTIVATED.matches(error) => (
                        HardwareToken::failed(serial.clone(), HardwareStatus::AlreadyActivated),
                        None,
                    ),
                    _ => (
                        HardwareToken::failed(serial.clone(), HardwareStatus::NotInFortiGuard),
                        None,
                    ),
                };
                debug.push(format!(
                    "fortitoken_activate:{} {}",
                    serial,
                    row.0.status.diag()
                ));
                seeded.push(row);
            }
        }
    }
    let firmware = &profile.firmware;
    if kinds::has_cmdb_save_bug(appliance.mode, firmware)
        && seeded.iter().any(|(_, seed)| seed.is_some())
    {
        debug.push(format!(
            "fortitoken_activate:{} (FortiOS {firmware}, bug 1218458; import the seed file instead)",
            CMDB_SAVE_ERROR.text
        ));
        return Err(ApplianceError::Cloud {
            status: 422,
            failure: OperationFailure {
                error_id: CMDB_SAVE_ERROR.id.to_owned(),
                message: CMDB_SAVE_ERROR.text.to_owned(),
                error_code: None,
                debug,
            },
        });
    }
    let saved = ops.store.hardware().save(&appliance.serial, seeded).await?;
    tracing::info!(appliance = %appliance.serial, tokens = saved.len(), "hardware tokens activated");
    Ok(HardwareOutcome {
        tokens: rows(&saved),
        dropped,
        debug,
    })
}

/// The seed file's offline import: no FortiGuard contact; each token arrives new (tokens a user has keep
/// their seed).
pub async fn import_seed_file(
    ops: &Ops<'_>,
    appliance: &Appliance,
    file: &SeedFileImport,
) -> Result<HardwareOutcome, ApplianceError> {
    let zip = BASE64
        .decode(file.file.trim())
        .map_err(|_| ApplianceError::BadRequest("file: not Base64".to_owned()))?;
    let entries = seed_file::open(&zip, &file.password).map_err(|e| match e {
        SeedFileError::WrongPassword => ApplianceError::Cloud {
            status: 422,
            failure: OperationFailure {
                error_id: "appliance.seed-file.wrong-password".to_owned(),
                message: e.to_string(),
                error_code: None,
                debug: Vec::new(),
            },
        },
        other => ApplianceError::BadRequest(other.to_string()),
    })?;
    let count = entries.len();
    let seeded = entries
        .into_iter()
        .map(|(serial, seed)| {
            (
                HardwareToken::seeded(serial, SeedSource::SeedFile),
                Some(seed),
            )
        })
        .collect();
    let saved = ops.store.hardware().save(&appliance.serial, seeded).await?;
    tracing::info!(appliance = %appliance.serial, tokens = count, "seed file imported");
    Ok(HardwareOutcome {
        tokens: rows(&saved),
        dropped: Vec::new(),
        debug: vec![format!(
            "fortitoken_import:seed file imported, {count} token(s), no FortiGuard contact"
        )],
    })
}

/// A hardware token given to a user: Available → Assigned.
pub async fn assign(
    ops: &Ops<'_>,
    appliance: &Appliance,
    wanted: &str,
    user: &str,
) -> Result<HardwareTokenRow, ApplianceError> {
    let user = user.trim();
    if !crate::fortitoken::valid_user_name(user) {
        return Err(ApplianceError::BadRequest(format!(
            "`{}` is not a valid user name (1 to 64 printable characters, no spaces)",
            user.chars().take(64).collect::<String>()
        )));
    }
    match ops
        .store
        .hardware()
        .assign(&appliance.serial, wanted.to_owned(), user.to_owned())
        .await?
    {
        Ok(token) => Ok(token.row()),
        Err(AssignRefusal::NoToken(why)) => Err(ApplianceError::NotFound(why)),
        Err(AssignRefusal::Unusable(why) | AssignRefusal::Taken(why)) => {
            Err(ApplianceError::Conflict(why))
        }
    }
}

/// A login with a hardware token's code; `None` when the user has no hardware token.
pub async fn login(
    ops: &Ops<'_>,
    appliance: &Appliance,
    user: &str,
    otp: &str,
) -> Result<Option<LoginOutcome>, ApplianceError> {
    let now = ops.clock.now();
    let Some(checked) = ops
        .store
        .hardware()
        .login(
            &appliance.serial,
            appliance.settings,
            user.trim(),
            otp.trim(),
            now,
        )
        .await?
    else {
        return Ok(None);
    };
    let outcome = |result, message: String, wait_secs, failures, locked| LoginOutcome {
        result,
        message,
        wait_secs,
        failures,
        locked,
        session_id: None,
        debug: Vec::new(),
    };
    Ok(Some(match checked {
        HardwareLogin::Locked(user) => outcome(
            LoginResult::Locked,
            format!("user {} is locked out", user.name),
            None,
            user.lockout.failures,
            true,
        ),
        HardwareLogin::Checked { verdict, user } => {
            let locked = user.lockout.is_locked(now);
            let failures = user.lockout.failures;
            match verdict {
                Verdict::Accepted { .. } => outcome(
                    LoginResult::Success,
                    "authentication successful".to_owned(),
                    None,
                    failures,
                    locked,
                ),
                Verdict::Replayed { wait_secs } => outcome(
                    LoginResult::Replayed,
                    format!("Please wait {wait_secs} seconds to login again"),
                    Some(wait_secs),
                    failures,
                    locked,
                ),
                Verdict::Resync { .. } => outcome(
                    LoginResult::Resync,
                    modeled::RESYNC_MESSAGE.to_owned(),
                    None,
                    failures,
                    locked,
                ),
                Verdict::Denied if locked => outcome(
                    LoginResult::Locked,
                    format!(
                        "authentication failed; user {} is now locked out",
                        user.name
                    ),
                    None,
                    failures,
                    true,
                ),
                Verdict::Denied => outcome(
                    LoginResult::Denied,
                    "authentication failed".to_owned(),
                    None,
                    failures,
                    false,
                ),
            }
        }
    }))
}

/// `diagnose fortitoken info`: mobile and hardware tokens with their drift and status.
pub fn fortitoken_info(
    ops: &Ops<'_>,
    appliance: &Appliance,
) -> Result<FortitokenInfo, ApplianceError> {
    let now = ops.clock.now();
    let mobile: Vec<(String, i64, String)> = ops
        .store
        .tokens(&appliance.serial)?
        .iter()
        .map(|t| {
            let status = match t.status_at(now) {
                FortiTokenStatus::Available => "new",
                FortiTokenStatus::Pending => "pending",
                FortiTokenStatus::Assigned => "provisioned",
                FortiTokenStatus::ProvisionTimeout => "provision timeout",
                FortiTokenStatus::Error => "error",
            };
            (
                t.serial.to_string(),
                t.memory.drift_steps,
                status.to_owned(),
            )
        })
        .collect();
    let hardware = ops.store.hardware().tokens(&appliance.serial)?;
    Ok(hardware::fortitoken_info(&mobile, &hardware, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortios_drops_what_is_not_a_hardware_serial_without_a_word() {
        let typed: Vec<String> = [
            "FTK200BAA0000000",
            "nonsense",
            "ftk200baa0000000",
            "FTKMOB947FDC1754",
            "FTK220BAA0000001",
        ]
        .map(String::from)
        .to_vec();
        let (kept, dropped) = split_serials(&typed);
        assert_eq!(
            kept.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["FTK200BAA0000000", "FTK220BAA0000001"]
        );
        assert_eq!(dropped, ["nonsense", "FTKMOB947FDC1754"]);
    }
}
