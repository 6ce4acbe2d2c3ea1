//! The FortiOS operations of a FortiToken Mobile deployment, each one SoftToken exchange through `cloud`
//! (with FortiOS's debug lines) and the change it makes to the appliance's table: `execute fortitoken-mobile
//! import`, assigning a token to a user (provision) and `renew`, `poll`, and a user's login.

use lab::clock::Clock;
use protocol::appliance::{
    ApplianceMode, FortiTokenStatus, ImportOutcome, LoginOutcome, LoginResult, OperationFailure,
    PollOutcome, ProvisionOutcome,
};
use protocol::catalogue::{CATALOGUE, WireError};
use protocol::header::RequestHeader;
use protocol::id::{LicenseId, TokenSerial};
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use protocol::modeled;
use protocol::otp::OtpKind;
use protocol::provision::{
    PolledTokenRef, PollingRequest, PollingResponse, ProvisionRequest, ProvisionResponse,
    ProvisionToken,
};
use protocol::seed::Seed;
use rand::RngCore;

use crate::auth::{TokenTiming, Verdict};
use crate::cloud::{self, IMPORT_SITES, POLL_SITES, PROVISION_SITES};
use crate::error::ApplianceError;
use crate::fortitoken::{self, Appliance, Token};
use crate::store::{Fleet, LoginVerdict, Polled};
use crate::token_policy::ProvisionMode;

/// What the operations share.
pub struct Ops<'a> {
    pub store: &'a Fleet,
    pub http: &'a reqwest::Client,
    pub clock: &'a Clock,
    /// The suite's FortiToken server, for appliances that follow the suite's ([`fortitoken::ServiceUrl::Suite`]).
    pub suite_ftm_url: &'a str,
    /// The suite's FortiGuard token service, likewise.
    pub suite_fortiguard_url: &'a str,
}

fn header(appliance: &Appliance) -> RequestHeader {
    RequestHeader::new(
        &appliance.serial,
        &appliance.peers,
        &appliance.version,
        &appliance.build,
    )
}

/// The catalogue id of a wire error, for `OperationFailure::error_id`.
fn catalogue_id(error: &WireError) -> String {
    CATALOGUE.iter().find(|e| e.matches(error)).map_or_else(
        || format!("cloud.error-{}", error.error_code),
        |e| e.id.to_owned(),
    )
}

fn unreachable(error: cloud::CloudError, debug: Vec<String>) -> ApplianceError {
    ApplianceError::Cloud {
        status: 502,
        failure: OperationFailure {
            error_id: "appliance.cloud.unreachable".into(),
            message: format!("FortiToken server: {error}"),
            error_code: None,
            debug,
        },
    }
}

fn refused(error: &WireError, message: String, debug: Vec<String>) -> ApplianceError {
    ApplianceError::Cloud {
        status: 422,
        failure: OperationFailure {
            error_id: catalogue_id(error),
            message,
            error_code: Some(error.error_code),
            debug,
        },
    }
}

impl Ops<'_> {
    /// `execute fortitoken-mobile import <code>`.
    pub async fn import(
        &self,
        appliance: &Appliance,
        code: &str,
    ) -> Result<ImportOutcome, ApplianceError> {
        let mut debug = vec![format!(
            "ftm_cfg_import_license[321]:import license {}",
            code.trim()
        )];
        let request = ActivationLicenseRequest {
            header: header(appliance),
            license_activation_code: code.to_owned(),
        };
        let response: ActivationLicenseResponse = match cloud::exchange(
            self.http,
            appliance.ftm_url.resolve(self.suite_ftm_url),
            &request,
            IMPORT_SITES,
            &mut debug,
        )
        .await
        {
            Ok(response) => response,
            Err(e) => return Err(unreachable(e, debug)),
        };
        if let Some(error) = &response.error {
            if protocol::catalogue::LICENSE_CODE_INVALID.matches(error) {
                debug.push("ftm_fc_command[615]:received error from forticare [-7566]".to_owned());
            }
            let message = modeled::fortios_import_error(error);
            debug.push(message.clone());
            return Err(refused(error, message, debug));
        }
        let license: LicenseId = response
            .license
            .parse()
            .map_err(|e| unreachable(answer_error(&e), debug.clone()))?;
        let mut tokens = Vec::new();
        for entry in response.tokens.unwrap_or_default() {
            tokens.push(
                entry
                    .token
                    .parse::<TokenSerial>()
                    .map_err(|e| unreachable(answer_error(&e), debug.clone()))?,
            );
        }
        let imported: Vec<Token> = tokens
            .iter()
            .map(|t| Token::imported(t.clone(), license.clone(), &appliance.settings))
            .collect();
        self.store.add_imported(&appliance.serial, imported).await?;
        debug.push(format!(
            "ftm_cfg_import_license[345]:{} tokens imported from license {license}",
            tokens.len()
        ));
        Ok(ImportOutcome {
            license,
            tokens,
            debug,
        })
    }

    /// Assigns `wanted` (a serial or `any`) to `user` and provisions it; with `user` `None` (renew), the token
    /// keeps its user. A new seed every time, as FortiOS generates one per provisioning.
    pub async fn provision(
        &self,
        appliance: &Appliance,
        wanted: &str,
        user: Option<&str>,
        expiry_minutes: Option<u32>,
    ) -> Result<ProvisionOutcome, ApplianceError> {
        let tokens = self.store.tokens(&appliance.serial)?;
        let token = fortitoken::pick_token(&tokens, wanted)
            .ok_or_else(|| {
                ApplianceError::NotFound(format!(
                    "no token `{}` on {} (import a license first?)",
                    wanted.trim(),
                    appliance.serial
                ))
            })?
            .clone();
        let user = match (user, &token.user) {
            (Some(user), _) => user.trim().to_owned(),
            (None, Some(current)) => current.clone(),
            (None, None) => {
                return Err(ApplianceError::BadRequest(format!(
                    "{} has no user yet: say which user to assign it to",
                    token.serial
                )));
            }
        };
        if !fortitoken::valid_user_name(&user) {
            return Err(ApplianceError::BadRequest(format!(
                "`{user}` is not a valid user name (1 to 64 printable characters, no spaces)"
            )));
        }
        if let Some(other) = token.user.as_ref().filter(|u| **u != user) {
            return Err(ApplianceError::Conflict(format!(
                "{} is assigned to {other}",
                token.serial
            )));
        }
        if let Some(held) = self
            .store
            .user(&appliance.serial, &user)?
            .filter(|u| u.token != token.serial)
        {
            return Err(ApplianceError::Conflict(format!(
                "{user} already has token {}",
                held.token
            )));
        }
        // Checked again inside the transaction that records the token; checked here so the FortiToken
        // server is not asked for a token the appliance cannot give.
        if let Some(held) = self.store.hardware().user(&appliance.serial, &user)? {
            return Err(ApplianceError::Conflict(crate::store::hardware_holder(
                &user,
                &held.token,
            )));
        }
        let minutes = expiry_minutes.unwrap_or(appliance.settings.activation_expiry_minutes);
        if !(1..=10_080).contains(&minutes) {
            return Err(ApplianceError::BadRequest(format!(
                "expiry_minutes {minutes} is not between 1 and 10080 (168 hours)"
            )));
        }
        let mut bytes = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut bytes);
        let seed =
            Seed::from_bytes(&bytes).map_err(|e| ApplianceError::Internal(anyhow::anyhow!(e)))?;
        let timing = TokenTiming {
            period: appliance.settings.period,
            digits: appliance.settings.digits,
        };
        // A FortiAuthenticator provisions the algorithm of its provisioning settings, and in offline
        // provision mode does not ask the FortiToken server at all.
        let (kind, offline) = if appliance.mode == ApplianceMode::Fortiauthenticator {
            let config = self.store.fac_config(&appliance.serial)?;
            (
                config.token_algo,
                config.provision_mode == ProvisionMode::Offline,
            )
        } else {
            (OtpKind::Totp, false)
        };
        if offline {
            return crate::offline::provision(
                self, appliance, &token, &user, seed, timing, kind, minutes,
            )
            .await;
        }
        let mut debug = vec![
            format!(
                "ftm_cfg_provision_token[417]:provision token: {}",
                token.serial
            ),
            format!(
                "ftm_fc_provision_token[810]:Provision token:{}",
                token.serial
            ),
        ];
        let request = ProvisionRequest {
            header: header(appliance),
            tokens: vec![ProvisionToken {
                token: token.serial.to_string(),
                seed: seed.to_hex_upper(),
                code_expire: i64::from(minutes),
                kind: kind.as_str().to_owned(),
                period: timing.period,
                digits: timing.digits,
            }],
        };
        let response: ProvisionResponse = match cloud::exchange(
            self.http,
            appliance.ftm_url.resolve(self.suite_ftm_url),
            &request,
            PROVISION_SITES,
            &mut debug,
        )
        .await
        {
            Ok(response) => response,
            Err(e) => return Err(unreachable(e, debug)),
        };
        let entry = response
            .tokens
            .iter()
            .find(|t| t.token.trim() == token.serial.as_str());
        let error = entry
            .and_then(|t| t.error.clone())
            .or(response.error.clone());
        let (Some(entry), None) = (entry, &error) else {
            let error = error.unwrap_or_else(|| protocol::catalogue::NO_VALID_TOKEN.wire_error());
            let message = response.error.as_ref().map_or_else(
                || error.error_message.clone(),
                |top| top.error_message.clone(),
            );
            debug.push(format!(
                "ftm_fc_provision_token[835]:provision token {} failed: {message}",
                token.serial
            ));
            return Err(refused(&error, message, debug));
        };
        let (Some(code), Some(expire)) = (entry.token_activation_code.clone(), entry.code_expire)
        else {
            let detail = "the ProvisionResponse has no activation code or expiry".to_owned();
            return Err(unreachable(
                cloud::CloudError::Answer {
                    expected: "ProvisionResponse",
                    detail,
                },
                debug,
            ));
        };
        let provisioned = token.provisioned(&user, timing, code, expire);
        self.store
            .save_provisioned(&appliance.serial, &provisioned, &seed, kind, false)
            .await?
            .map_err(ApplianceError::Conflict)?;
        let qr_code = entry.qr_code.clone().unwrap_or_default();
        Ok(ProvisionOutcome {
            token: provisioned.view(self.clock.now()),
            qr_code,
            debug,
            delivered: None,
        })
    }

    /// `execute fortitoken-mobile poll`: asks about every token assigned to a user (those not yet
    /// activated, and the activated ones, whose license may have moved away).
    pub async fn poll(&self, appliance: &Appliance) -> Result<PollOutcome, ApplianceError> {
        let mut debug = vec!["ftm_cfg_poll_token_states[405]:Poll token status!".to_owned()];
        let waiting: Vec<Token> = self
            .store
            .tokens(&appliance.serial)?
            .into_iter()
            .filter(|t| {
                matches!(
                    t.status,
                    FortiTokenStatus::Pending
                        | FortiTokenStatus::ProvisionTimeout
                        | FortiTokenStatus::Assigned
                )
            })
            .collect();
        if waiting.is_empty() {
            debug.push("ftm_cfg_poll_token_states[411]:no pending token".to_owned());
            return Ok(PollOutcome {
                tokens: Vec::new(),
                debug,
            });
        }
        let request = PollingRequest {
            header: header(appliance),
            tokens: waiting
                .iter()
                .map(|t| PolledTokenRef {
                    token: t.serial.to_string(),
                })
                .collect(),
        };
        let response: PollingResponse = match cloud::exchange(
            self.http,
            appliance.ftm_url.resolve(self.suite_ftm_url),
            &request,
            POLL_SITES,
            &mut debug,
        )
        .await
        {
            Ok(response) => response,
            Err(e) => return Err(unreachable(e, debug)),
        };
        let answers: Vec<Polled> = waiting
            .iter()
            .filter_map(|token| {
                let answer = response
                    .tokens
                    .iter()
                    .find(|p| p.token.trim() == token.serial.as_str())?;
                let status = match &answer.error {
                    None => answer.status.to_string(),
                    Some(error) if protocol::catalogue::TOKEN_NOT_OWNED.matches(error) => {
                        debug.push(format!(
                            "ftm_cfg_poll_token_states[431]:token {} error {}: {}",
                            token.serial, error.error_code, error.error_message
                        ));
                        fortitoken::MOVED.to_owned()
                    }
                    Some(_) => return None,
                };
                Some(Polled {
                    serial: token.serial.clone(),
                    activation_code: token.activation_code.clone(),
                    status,
                    reg_id: answer.reg_id.clone(),
                    os_ver: answer.os_ver.clone(),
                })
            })
            .collect();
        let mut polled = self.store.save_polled(&appliance.serial, answers).await?;
        // Tokens the answer said nothing about are shown as they were.
        for token in &waiting {
            if !polled.iter().any(|p| p.serial == token.serial) {
                polled.push(token.clone());
            }
        }
        polled.sort_by(|a, b| a.serial.cmp(&b.serial));
        let now = self.clock.now();
        Ok(PollOutcome {
            tokens: polled.iter().map(|t| t.view(now)).collect(),
            debug,
        })
    }

    /// A user logging in with an OTP. A user whose token is in Error status (its license moved away) is
    /// refused before the code is checked, and the refusal does not count towards the lockout.
    pub async fn login(
        &self,
        appliance: &Appliance,
        user: &str,
        otp: &str,
    ) -> Result<LoginOutcome, ApplianceError> {
        let now = self.clock.now();
        if let Some(holder) = self.store.user(&appliance.serial, user.trim())?
            && let Some(token) = self
                .store
                .tokens(&appliance.serial)?
                .into_iter()
                .find(|t| t.serial == holder.token && t.status == FortiTokenStatus::Error)
        {
            return Ok(LoginOutcome {
                result: LoginResult::Denied,
                message: format!(
                    "authentication failed: FortiToken {} is in {} status ({})",
                    token.serial,
                    modeled::MOVED_TOKEN_STATUS,
                    protocol::catalogue::TOKEN_NOT_OWNED.text
                ),
                wait_secs: None,
                failures: 0,
                locked: false,
                session_id: None,
                debug: Vec::new(),
            });
        }
        let outcome = match self
            .store
            .login(appliance, user.trim(), otp.trim(), now)
            .await?
        {
            LoginVerdict::UnknownUser => LoginOutcome {
                result: LoginResult::Denied,
                message: "authentication failed".to_owned(),
                wait_secs: None,
                failures: 0,
                locked: false,
                session_id: None,
                debug: Vec::new(),
            },
            LoginVerdict::Locked { user } => {
                let view = user.view(now);
                let message = match view.locked_until {
                    Some(until) => format!("user {} is locked out until {until}", user.name),
                    None => format!(
                        "user {} is locked out until an administrator unlocks it",
                        user.name
                    ),
                };
                LoginOutcome {
                    result: LoginResult::Locked,
                    message,
                    wait_secs: None,
                    failures: view.failures,
                    locked: true,
                    session_id: None,
                    debug: Vec::new(),
                }
            }
            LoginVerdict::Checked { verdict, user } => {
                let view = user.view(now);
                let (result, message, wait_secs) = match verdict {
                    Verdict::Accepted { .. } => (
                        LoginResult::Success,
                        "authentication successful".to_owned(),
                        None,
                    ),
                    Verdict::Replayed { wait_secs } => (
                        LoginResult::Replayed,
                        format!("Please wait {wait_secs} seconds to login again"),
                        Some(wait_secs),
                    ),
                    Verdict::Resync { .. } => (
                        LoginResult::Resync,
                        modeled::RESYNC_MESSAGE.to_owned(),
                        None,
                    ),
                    Verdict::Denied if view.locked => (
                        LoginResult::Locked,
                        format!(
                            "authentication failed; user {} is now locked out",
                            user.name
                        ),
                        None,
                    ),
                    Verdict::Denied => (
                        LoginResult::Denied,
                        "authentication failed".to_owned(),
                        None,
                    ),
                };
                LoginOutcome {
                    result,
                    message,
                    wait_secs,
                    failures: view.failures,
                    locked: view.locked,
                    session_id: None,
                    debug: Vec::new(),
                }
            }
        };
        Ok(outcome)
    }
}

fn answer_error(e: &protocol::id::IdError) -> cloud::CloudError {
    cloud::CloudError::Answer {
        expected: "ActivationLicenseResponse",
        detail: e.to_string(),
    }
}
