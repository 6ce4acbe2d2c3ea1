//! Typed clients on [`SuiteClient`]: the control plane every service serves, forticare's licenses, and the
//! simulators' APIs (virtual appliances and phones), one method per endpoint, each answer decoded into its
//! `protocol` type. The e2e harness (`tests/src`, for most of its simulator calls), the crate's example and
//! other projects' tests call the suite through these; the CLI's subcommands do not yet (they build their
//! requests with [`SuiteClient`]'s `get`/`post` and `protocol::paths`).

use anyhow::{Context, bail};
use protocol::admin::{ClockChange, ClockView, ErrorBody, ResetView, ServiceStatus};
use protocol::appliance::{
    ApplianceList, ApplianceView, FtmPushChange, FtmPushSettings, ImportOutcome, ImportRequest,
    LoginOutcome, LoginRequest, NewAppliance, OperationFailure, PollOutcome, ProvisionOutcome,
    ProvisionTokenRequest,
};
use protocol::journal::JournalPage;
use protocol::ledger::{LicenseList, LicenseSpec, LicenseView};
use protocol::paths;
use protocol::phone::{
    Activate, Inbox, InboxEntry, NewPhone, OtpView, PhoneList, PhoneTokenView, PhoneView,
};
use protocol::scenario::{ScenarioList, ScenarioSpec, ScenarioView};
use protocol::state::ServiceState;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::SuiteClient;

/// Which journal entries to read (`GET /__admin/journal?…`); every field given must match.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JournalFilter {
    /// Only requests of this type (`SoftToken.ProvisionRequest`, …, or `push`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// Only requests whose path starts with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only answers with this HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Only entries after this `seq`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// The newest N.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl SuiteClient {
    /// The control plane of service `service` (`/__admin/…`).
    pub fn control<'a>(&'a self, service: &'a str) -> ControlPlane<'a> {
        ControlPlane {
            client: self,
            service,
        }
    }

    /// forticare's licenses (`/__admin/licenses`).
    pub fn licenses(&self) -> Licenses<'_> {
        Licenses { client: self }
    }

    /// The virtual FortiGates and FortiAuthenticators (`/appliances`).
    pub fn appliances(&self) -> Appliances<'_> {
        Appliances { client: self }
    }

    /// The virtual FortiToken Mobile phones (`/phones`).
    pub fn phones(&self) -> Phones<'_> {
        Phones { client: self }
    }

    /// Every service back to its start, callers first (`POST /__admin/reset` on each), then the clock back
    /// on real time: what `fortimock reset` does.
    pub async fn reset_all(&self) -> anyhow::Result<Vec<ResetView>> {
        let mut done = Vec::new();
        for service in crate::RESET_ORDER {
            if self.url(service).is_ok() {
                done.push(self.control(service).reset().await?);
            }
        }
        if let Some(service) = self.services().next().map(str::to_owned) {
            self.control(&service)
                .change_clock(&ClockChange {
                    real: Some(true),
                    ..ClockChange::default()
                })
                .await?;
        }
        Ok(done)
    }
}

/// The control plane of one service.
pub struct ControlPlane<'a> {
    client: &'a SuiteClient,
    service: &'a str,
}

impl ControlPlane<'_> {
    /// `GET /__admin/health`.
    pub async fn health(&self) -> anyhow::Result<ServiceStatus> {
        self.client.get(self.service, paths::ADMIN_HEALTH).await
    }

    /// `GET /__admin/ready`: an error while the service is not ready.
    pub async fn ready(&self) -> anyhow::Result<ServiceStatus> {
        self.client.get(self.service, paths::ADMIN_READY).await
    }

    /// `GET /__admin/clock`.
    pub async fn clock(&self) -> anyhow::Result<ClockView> {
        self.client.get(self.service, paths::ADMIN_CLOCK).await
    }

    /// `POST /__admin/clock`: the clock every service of the process shares.
    pub async fn change_clock(&self, change: &ClockChange) -> anyhow::Result<ClockView> {
        self.client
            .post(self.service, paths::ADMIN_CLOCK, change)
            .await
    }

    /// Moves the shared clock forward by `secs` seconds (backward when negative).
    pub async fn advance_clock(&self, secs: i64) -> anyhow::Result<ClockView> {
        self.change_clock(&ClockChange {
            advance_secs: Some(secs),
            ..ClockChange::default()
        })
        .await
    }

    /// Stops the shared clock where it is.
    pub async fn freeze_clock(&self) -> anyhow::Result<ClockView> {
        self.change_clock(&ClockChange {
            freeze: Some(true),
            ..ClockChange::default()
        })
        .await
    }

    /// `POST /__admin/scenarios`: arms a scenario.
    pub async fn arm(&self, spec: &ScenarioSpec) -> anyhow::Result<ScenarioView> {
        self.client
            .post(self.service, paths::ADMIN_SCENARIOS, spec)
            .await
    }

    /// Arms catalogue error `error` (e.g. `forticare.license.code-invalid`) for every matching request.
    pub async fn arm_error(&self, error: &str) -> anyhow::Result<ScenarioView> {
        self.arm(&ScenarioSpec {
            error: Some(error.to_owned()),
            ..ScenarioSpec::default()
        })
        .await
    }

    /// `GET /__admin/scenarios`.
    pub async fn scenarios(&self) -> anyhow::Result<ScenarioList> {
        self.client.get(self.service, paths::ADMIN_SCENARIOS).await
    }

    /// `DELETE /__admin/scenarios`.
    pub async fn clear_scenarios(&self) -> anyhow::Result<()> {
        self.client
            .delete(self.service, paths::ADMIN_SCENARIOS)
            .await
    }

    /// `DELETE /__admin/scenarios/{id}`.
    pub async fn disarm(&self, id: &str) -> anyhow::Result<()> {
        self.client
            .delete(self.service, &paths::fill(paths::ADMIN_SCENARIO, &[id]))
            .await
    }

    /// `GET /__admin/journal`, filtered.
    pub async fn journal(&self, filter: &JournalFilter) -> anyhow::Result<JournalPage> {
        let query = serde_urlencoded::to_string(filter).context("encoding the journal filter")?;
        let path = match query.as_str() {
            "" => paths::ADMIN_JOURNAL.to_owned(),
            query => format!("{}?{query}", paths::ADMIN_JOURNAL),
        };
        self.client.get(self.service, &path).await
    }

    /// `DELETE /__admin/journal`.
    pub async fn clear_journal(&self) -> anyhow::Result<()> {
        self.client.delete(self.service, paths::ADMIN_JOURNAL).await
    }

    /// `POST /__admin/reset`.
    pub async fn reset(&self) -> anyhow::Result<ResetView> {
        self.client
            .post(self.service, paths::ADMIN_RESET, &serde_json::json!({}))
            .await
    }

    /// `GET /__admin/state`: the service's records.
    pub async fn state(&self) -> anyhow::Result<ServiceState> {
        self.client.get(self.service, paths::ADMIN_STATE).await
    }

    /// `PUT /__admin/state`: the service's records replaced with `state`, checked whole first.
    pub async fn import_state(
        &self,
        state: &ServiceState,
    ) -> anyhow::Result<protocol::state::StateImported> {
        self.client
            .put(self.service, paths::ADMIN_STATE, state)
            .await
    }
}

/// forticare's license admin API.
pub struct Licenses<'a> {
    client: &'a SuiteClient,
}

impl Licenses<'_> {
    /// `POST /__admin/licenses`: a new license (every field of `spec` but `seats` optional).
    pub async fn create(&self, spec: &LicenseSpec) -> anyhow::Result<LicenseView> {
        self.client
            .post(forticare::NAME, paths::ADMIN_LICENSES, spec)
            .await
    }

    /// A new license with `seats` tokens and everything else generated.
    pub async fn create_seats(&self, seats: u32) -> anyhow::Result<LicenseView> {
        self.create(&LicenseSpec {
            seats,
            ..LicenseSpec::default()
        })
        .await
    }

    /// `GET /__admin/licenses`.
    pub async fn list(&self) -> anyhow::Result<LicenseList> {
        self.client
            .get(forticare::NAME, paths::ADMIN_LICENSES)
            .await
    }

    /// `GET /__admin/licenses/{id}`.
    pub async fn get(&self, id: &str) -> anyhow::Result<LicenseView> {
        self.client
            .get(forticare::NAME, &paths::fill(paths::ADMIN_LICENSE, &[id]))
            .await
    }
}

/// The virtual appliances' API.
pub struct Appliances<'a> {
    client: &'a SuiteClient,
}

impl Appliances<'_> {
    /// `POST /appliances`: a new virtual FortiGate (or FortiAuthenticator).
    pub async fn create(&self, spec: &NewAppliance) -> anyhow::Result<ApplianceView> {
        self.client
            .post(appliance::NAME, paths::APPLIANCES, spec)
            .await
    }

    /// `GET /appliances`.
    pub async fn list(&self) -> anyhow::Result<ApplianceList> {
        self.client.get(appliance::NAME, paths::APPLIANCES).await
    }

    /// `GET /appliances/{serial}`: the unit with its token table and users.
    pub async fn get(&self, serial: &str) -> anyhow::Result<ApplianceView> {
        self.client
            .get(appliance::NAME, &paths::fill(paths::APPLIANCE, &[serial]))
            .await
    }

    /// An operation (`POST /appliances/{serial}/<operation>?debug=true`): its outcome, or the failure the
    /// cloud caused (FortiOS's message and debug lines).
    pub async fn operation<B: Serialize, T: DeserializeOwned>(
        &self,
        template: &str,
        serial: &str,
        body: &B,
    ) -> anyhow::Result<Result<T, OperationFailure>> {
        let path = format!("{}?debug=true", paths::fill(template, &[serial]));
        self.client.post_outcome(appliance::NAME, &path, body).await
    }

    /// `execute fortitoken-mobile import <code>`.
    pub async fn import(
        &self,
        serial: &str,
        code: &str,
    ) -> anyhow::Result<Result<ImportOutcome, OperationFailure>> {
        let body = ImportRequest {
            code: code.to_owned(),
        };
        self.operation(paths::APPLIANCE_IMPORT, serial, &body).await
    }

    /// Assigning a token (a serial, or `any`) to a user: the appliance generates the seed and provisions it.
    pub async fn provision(
        &self,
        serial: &str,
        request: &ProvisionTokenRequest,
    ) -> anyhow::Result<Result<ProvisionOutcome, OperationFailure>> {
        self.operation(paths::APPLIANCE_PROVISION, serial, request)
            .await
    }

    /// `execute fortitoken-mobile poll`.
    pub async fn poll(
        &self,
        serial: &str,
    ) -> anyhow::Result<Result<PollOutcome, OperationFailure>> {
        self.operation(paths::APPLIANCE_POLL, serial, &serde_json::json!({}))
            .await
    }

    /// A user logging in (with an OTP, or a push): the HTTP status (200, or 401 when refused) and the
    /// outcome.
    pub async fn login(
        &self,
        serial: &str,
        request: &LoginRequest,
    ) -> anyhow::Result<(u16, LoginOutcome)> {
        let (status, bytes) = self
            .client
            .post_raw(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_LOGIN, &[serial]),
                request,
            )
            .await?;
        match serde_json::from_slice(&bytes) {
            Ok(outcome) => Ok((status, outcome)),
            Err(_) => bail!("login: HTTP {status}: {}", String::from_utf8_lossy(&bytes)),
        }
    }

    /// `config system ftm-push`.
    pub async fn ftm_push(
        &self,
        serial: &str,
        change: &FtmPushChange,
    ) -> anyhow::Result<FtmPushSettings> {
        self.client
            .patch(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_FTM_PUSH, &[serial]),
                change,
            )
            .await
    }
}

/// The virtual phones' API.
pub struct Phones<'a> {
    client: &'a SuiteClient,
}

impl Phones<'_> {
    /// `POST /phones`: a new phone with FortiToken Mobile installed.
    pub async fn create(&self, spec: &NewPhone) -> anyhow::Result<PhoneView> {
        self.client.post(phone::NAME, paths::PHONES, spec).await
    }

    /// `GET /phones`.
    pub async fn list(&self) -> anyhow::Result<PhoneList> {
        self.client.get(phone::NAME, paths::PHONES).await
    }

    /// `GET /phones/{id}`.
    pub async fn get(&self, id: &str) -> anyhow::Result<PhoneView> {
        self.client
            .get(phone::NAME, &paths::fill(paths::PHONE, &[id]))
            .await
    }

    /// `POST /phones/{id}/activate`: the token now on the phone, or ftm's refusal (422, with its catalogue
    /// id, e.g. `ftm.mobile.code-invalid`).
    pub async fn activate(
        &self,
        id: &str,
        code: &str,
    ) -> anyhow::Result<Result<PhoneTokenView, ErrorBody>> {
        let body = Activate {
            code: code.to_owned(),
        };
        let (status, bytes) = self
            .client
            .post_raw(
                phone::NAME,
                &paths::fill(paths::PHONE_ACTIVATE, &[id]),
                &body,
            )
            .await?;
        if (200..300).contains(&status) {
            return Ok(Ok(
                serde_json::from_slice(&bytes).context("decoding the token")?
            ));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(refusal) => Ok(Err(refusal)),
            Err(_) => bail!(
                "activate: HTTP {status}: {}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }

    /// `GET /phones/{id}/otp[?token=…]`: the code the app shows now.
    pub async fn otp(&self, id: &str, token: Option<&str>) -> anyhow::Result<OtpView> {
        let mut path = paths::fill(paths::PHONE_OTP, &[id]);
        if let Some(token) = token {
            path.push_str("?token=");
            path.push_str(&paths::fill("{token}", &[token]));
        }
        self.client.get(phone::NAME, &path).await
    }

    /// `GET /phones/{id}/inbox`.
    pub async fn inbox(&self, id: &str) -> anyhow::Result<Inbox> {
        self.client
            .get(phone::NAME, &paths::fill(paths::PHONE_INBOX, &[id]))
            .await
    }

    /// `POST /phones/{id}/inbox/{push}/approve` (`push`: the number in the inbox, or `latest`).
    pub async fn approve(&self, id: &str, push: &str) -> anyhow::Result<InboxEntry> {
        self.client
            .post(
                phone::NAME,
                &paths::fill(paths::PHONE_APPROVE, &[id, push]),
                &serde_json::json!({}),
            )
            .await
    }

    /// `POST /phones/{id}/inbox/{push}/deny`.
    pub async fn deny(&self, id: &str, push: &str) -> anyhow::Result<InboxEntry> {
        self.client
            .post(
                phone::NAME,
                &paths::fill(paths::PHONE_DENY, &[id, push]),
                &serde_json::json!({}),
            )
            .await
    }
}
