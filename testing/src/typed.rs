//! Typed clients on [`SuiteClient`]: the control plane every service serves, forticare's licenses, transfer
//! tickets and hardware token batches, and the virtual phones' API, one method per endpoint, each answer
//! decoded into its `protocol` type (the virtual appliances', FortiAuthenticators' and captured messages'
//! clients are in `typed_appliance`). A refusal of fortimock's own API fails the call with a
//! [`Refusal`] (status and `ErrorBody`), which [`Refusable::refusal`] takes out.
//!
//! These are the clients the `fortimock` CLI's subcommands, the e2e harness (`tests/src`), the crate's
//! example and other projects' tests call the suite through: one copy. Raw calls stay only where a client is
//! emulated on purpose (the appliances' SoftToken requests, FortiAuthenticator REST scripts, FortiCare v3
//! customer scripts, `fortimock replay` sending recorded requests as the device sent them).

use anyhow::{Context, bail};
use protocol::admin::{ClockChange, ClockView, ErrorBody, ResetView, ServiceStatus};
use protocol::coverage::CoverageReport;
use protocol::hardware::{
    HardwareBatchList, HardwareBatchView, NewHardwareBatch, ResetLockOutcome, ResetLockRequest,
    SEED_FILE_PASSWORD_HEADER, SeedFileQuery,
};
use protocol::journal::JournalPage;
use protocol::ledger::{
    LicenseList, LicenseSpec, LicenseView, TransferList, TransferRequest, TransferTicket,
};
use protocol::messages::ScanRequest;
use protocol::paths;
use protocol::phone::{
    Activate, Inbox, InboxEntry, NewPhone, OtpView, PhoneChange, PhoneList, PhoneTokenView,
    PhoneView,
};
use protocol::scenario::{ScenarioList, ScenarioSpec, ScenarioView};
use protocol::state::{ServiceState, ServiceStateText, StateImported};
use protocol::timeline::TimelinePage;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::SuiteClient;
pub use crate::client::{Refusable, Refusal};

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

/// Which exchanges of the timeline to read (`GET /__admin/timeline?…`; it reads a query string too).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimelineFilter {
    /// Only the exchanges of this flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// Only exchanges answered at or after this time (RFC 3339 or Unix milliseconds, lab clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only exchanges answered at or before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Also list the flows among the exchanges.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub flows: bool,
    /// At most this many exchanges, the newest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// `path`, with `query` as its query string when it has one.
pub(crate) fn with_query<Q: Serialize>(path: &str, query: &Q) -> anyhow::Result<String> {
    let query = serde_urlencoded::to_string(query).context("encoding the query")?;
    Ok(match query.as_str() {
        "" => path.to_owned(),
        query => format!("{path}?{query}"),
    })
}

/// POSTs `body` to `path` of `service`, whose answer is a `T` whatever its status (an outcome such as a
/// refused login, HTTP 401): the status and the outcome.
pub(crate) async fn post_either<B: Serialize, T: DeserializeOwned>(
    client: &SuiteClient,
    service: &str,
    path: &str,
    body: &B,
) -> anyhow::Result<(u16, T)> {
    let (status, bytes) = client.post_raw(service, path, body).await?;
    match serde_json::from_slice(&bytes) {
        Ok(outcome) => Ok((status, outcome)),
        Err(_) => bail!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&bytes)),
    }
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

    /// forticare's license transfer tickets (`/__admin/transfers`).
    pub fn transfers(&self) -> Transfers<'_> {
        Transfers { client: self }
    }

    /// forticare's hardware token batches, as FortiGuard ships them (`/__admin/hardware-tokens`).
    pub fn hardware_batches(&self) -> HardwareBatches<'_> {
        HardwareBatches { client: self }
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
            self.control(&service).real_clock().await?;
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

    /// Puts the shared clock back on real time.
    pub async fn real_clock(&self) -> anyhow::Result<ClockView> {
        self.change_clock(&ClockChange {
            real: Some(true),
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
        let path = with_query(paths::ADMIN_JOURNAL, filter)?;
        self.client.get(self.service, &path).await
    }

    /// `GET /__admin/timeline`, filtered (every service answers the process's one timeline).
    pub async fn timeline(&self, filter: &TimelineFilter) -> anyhow::Result<TimelinePage> {
        let path = with_query(paths::ADMIN_TIMELINE, filter)?;
        self.client.get(self.service, &path).await
    }

    /// `GET /__admin/timeline?format=mermaid`: the selected exchanges as a Mermaid `sequenceDiagram`.
    pub async fn timeline_mermaid(&self, filter: &TimelineFilter) -> anyhow::Result<String> {
        let mut path = with_query(paths::ADMIN_TIMELINE, filter)?;
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str("format=mermaid");
        let bytes = self.client.get_bytes(self.service, &path).await?;
        String::from_utf8(bytes).context("the diagram is not UTF-8")
    }

    /// `GET /__admin/coverage` (every service answers the process's one report).
    pub async fn coverage(&self) -> anyhow::Result<CoverageReport> {
        self.client.get(self.service, paths::ADMIN_COVERAGE).await
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

    /// `GET /__admin/state`: the service's records as the text it sent, not read into records.
    pub async fn state_text(&self) -> anyhow::Result<ServiceStateText> {
        let bytes = self
            .client
            .get_bytes(self.service, paths::ADMIN_STATE)
            .await?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{}'s state is not UTF-8", self.service))?;
        ServiceStateText::new(text).with_context(|| format!("{}'s state is not JSON", self.service))
    }

    /// `PUT /__admin/state`: the service's records replaced with `state` (a [`ServiceState`] or its
    /// [`ServiceStateText`]), checked whole first.
    pub async fn import_state(&self, state: &impl Serialize) -> anyhow::Result<StateImported> {
        self.client
            .put(self.service, paths::ADMIN_STATE, state)
            .await
    }

    /// `PUT /__admin/state?dry_run=true`: every check of an import, nothing changed.
    pub async fn check_state(&self, state: &impl Serialize) -> anyhow::Result<StateImported> {
        self.client
            .put(
                self.service,
                &format!("{}?dry_run=true", paths::ADMIN_STATE),
                state,
            )
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

    /// `GET /__admin/licenses/{id}/certificate.pdf`: the redemption certificate's bytes.
    pub async fn certificate(&self, id: &str) -> anyhow::Result<Vec<u8>> {
        self.client
            .get_bytes(
                forticare::NAME,
                &paths::fill(paths::ADMIN_LICENSE_CERTIFICATE, &[id]),
            )
            .await
    }
}

/// forticare's license transfer tickets (Customer Service's "License Transfer").
pub struct Transfers<'a> {
    client: &'a SuiteClient,
}

impl Transfers<'_> {
    /// `POST /__admin/transfers`: a ticket that moves a license to another appliance.
    pub async fn open(&self, request: &TransferRequest) -> anyhow::Result<TransferTicket> {
        self.client
            .post(forticare::NAME, paths::ADMIN_TRANSFERS, request)
            .await
    }

    /// `GET /__admin/transfers`.
    pub async fn list(&self) -> anyhow::Result<TransferList> {
        self.client
            .get(forticare::NAME, paths::ADMIN_TRANSFERS)
            .await
    }

    /// `GET /__admin/transfers/{ticket}`.
    pub async fn get(&self, ticket: &str) -> anyhow::Result<TransferTicket> {
        self.client
            .get(
                forticare::NAME,
                &paths::fill(paths::ADMIN_TRANSFER, &[ticket.trim()]),
            )
            .await
    }

    /// The redemption certificate a ticket names (its `certificate` URL, absolute): the PDF's bytes.
    pub async fn certificate(&self, ticket: &TransferTicket) -> anyhow::Result<Vec<u8>> {
        let base = self.client.url(forticare::NAME)?;
        let path = ticket.certificate.strip_prefix(base).with_context(|| {
            format!(
                "the certificate {} is not on forticare ({base})",
                ticket.certificate
            )
        })?;
        self.client.get_bytes(forticare::NAME, path).await
    }
}

/// A batch's seed file: the zip and the password shown with it (once).
#[derive(Debug, Clone)]
pub struct SeedFile {
    pub zip: Vec<u8>,
    pub password: Option<String>,
}

/// forticare's hardware token batches.
pub struct HardwareBatches<'a> {
    client: &'a SuiteClient,
}

impl HardwareBatches<'_> {
    /// `POST /__admin/hardware-tokens`: a new batch, as FortiGuard ships it.
    pub async fn create(&self, batch: &NewHardwareBatch) -> anyhow::Result<HardwareBatchView> {
        self.client
            .post(forticare::NAME, paths::ADMIN_HARDWARE_TOKENS, batch)
            .await
    }

    /// `GET /__admin/hardware-tokens`.
    pub async fn list(&self) -> anyhow::Result<HardwareBatchList> {
        self.client
            .get(forticare::NAME, paths::ADMIN_HARDWARE_TOKENS)
            .await
    }

    /// `GET /__admin/hardware-tokens/{batch}`.
    pub async fn get(&self, batch: &str) -> anyhow::Result<HardwareBatchView> {
        self.client
            .get(
                forticare::NAME,
                &paths::fill(paths::ADMIN_HARDWARE_BATCH, &[batch]),
            )
            .await
    }

    /// `POST /__admin/hardware-lock-resets`: TAC resets the activation lock of tokens no user has.
    pub async fn reset_lock(&self, request: &ResetLockRequest) -> anyhow::Result<ResetLockOutcome> {
        self.client
            .post(forticare::NAME, paths::ADMIN_HARDWARE_RESET_LOCK, request)
            .await
    }

    /// `GET /__admin/hardware-tokens/{batch}/seed-file[?format=…]`: the zip and its password.
    pub async fn seed_file(&self, batch: &str, format: Option<&str>) -> anyhow::Result<SeedFile> {
        let path = with_query(
            &paths::fill(paths::ADMIN_HARDWARE_SEED_FILE, &[batch]),
            &SeedFileQuery {
                format: format.map(str::to_owned),
            },
        )?;
        let (zip, password) = self
            .client
            .get_bytes_with_header(forticare::NAME, &path, SEED_FILE_PASSWORD_HEADER)
            .await?;
        Ok(SeedFile { zip, password })
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
        self.otp_at(id, token, None).await
    }

    /// `GET /phones/{id}/otp[?token=…][&at=…]`: the code the app shows now, or at time `at` (RFC 3339 or Unix
    /// seconds).
    pub async fn otp_at(
        &self,
        id: &str,
        token: Option<&str>,
        at: Option<&str>,
    ) -> anyhow::Result<OtpView> {
        #[derive(Serialize)]
        struct Query<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            token: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            at: Option<&'a str>,
        }
        let path = with_query(&paths::fill(paths::PHONE_OTP, &[id]), &Query { token, at })?;
        self.client.get(phone::NAME, &path).await
    }

    /// `PATCH /phones/{id}`: the push policy, the clock skew, ….
    pub async fn change(&self, id: &str, change: &PhoneChange) -> anyhow::Result<PhoneView> {
        self.client
            .patch(phone::NAME, &paths::fill(paths::PHONE, &[id]), change)
            .await
    }

    /// `GET /phones/{id}/export`: what the app keeps on the phone, under the app's own names (its shape is
    /// the app's, so it stays JSON).
    pub async fn export(&self, id: &str) -> anyhow::Result<serde_json::Value> {
        self.client
            .get(phone::NAME, &paths::fill(paths::PHONE_EXPORT, &[id]))
            .await
    }

    /// `POST /phones/{id}/scan`: the phone's camera reads the QR code in `png` and activates it.
    pub async fn scan(&self, id: &str, png: &[u8]) -> anyhow::Result<PhoneTokenView> {
        use base64::Engine as _;
        let scan = ScanRequest {
            png: base64::engine::general_purpose::STANDARD.encode(png),
        };
        self.client
            .post(phone::NAME, &paths::fill(paths::PHONE_SCAN, &[id]), &scan)
            .await
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
