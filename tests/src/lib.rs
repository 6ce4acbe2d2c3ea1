//! The end-to-end test harness: start the whole suite in this process on port 0 (HTTPS with a fresh lab
//! CA, ephemeral or in a temporary data dir), and talk to it over HTTP the way appliances, phones and
//! scripts do. One method per endpoint, returning what came back.
//!
//! fortimock's own APIs (control plane, simulators) are called through `fortimock_testing`'s typed clients
//! ([`TestSuite::api`]), the ones the CLI uses. Raw calls stay on purpose for: the appliances' SoftToken
//! requests (`post_process`, `post_mobile`: the wire protocol as FortiOS and the app send it), the FAC REST
//! script client (`fac_client`) and the FortiCare v3 customer script client (`forticare_api`), and the
//! helpers that return a status and the body as sent (`admin_get`, `admin_post`, `admin_bytes`,
//! `timeline_text`, and the simulator calls whose tests check refusal statuses and bodies), which tests
//! point at any path, bad input included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fac_client;
pub mod forticare_api;
pub mod hardware_api;

use std::path::{Path, PathBuf};

use fortimock_testing::{ForticareOptions, Suite, SuiteClient};
use lab::options::{Lab, LabOptions};
use protocol::envelope::Envelope;
use protocol::header::RequestHeader;
use protocol::id::ApplianceSerial;
use protocol::ledger::{LabFixtures, LicenseSpec};
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use protocol::mobile::{MobileProvisionRequest, MobileProvisionResponse};
use protocol::paths::{self, MOBILE, PROCESS};
use protocol::provision::{
    PolledTokenRef, PollingRequest, PollingResponse, ProvisionRequest, ProvisionResponse,
    ProvisionToken,
};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

mod simulators;

/// A wire capture from `fixtures/wire/`.
pub fn capture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wire")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lab options for a test: HTTPS, loopback, the defaults of `fortimock up` (ephemeral without a data dir).
pub fn test_options(data_dir: Option<&Path>) -> LabOptions {
    let mut options = fortimock_testing::default_options();
    if let Some(dir) = data_dir {
        options.ephemeral = false;
        options.data_dir = dir.to_path_buf();
    }
    options
}

/// The built-in default lab's licenses.
pub fn default_fixtures() -> Vec<LicenseSpec> {
    default_lab().licenses
}

/// The built-in default lab: its licenses and its FortiCare API user.
pub fn default_lab() -> LabFixtures {
    fortimock_testing::default_lab()
}

/// A running suite (`fortimock_testing::Suite`) and a client that trusts only its lab CA (and presents the
/// lab's internal client certificate when the suite requires one), with one method per endpoint.
pub struct TestSuite {
    suite: Suite,
    pub client: reqwest::Client,
    /// The typed clients, over `client` (so they present the lab's client certificate when the suite asks for
    /// one) with the suite's admin token.
    api: SuiteClient,
}

impl TestSuite {
    /// The default lab, ephemeral.
    pub async fn start() -> TestSuite {
        TestSuite::start_lab(
            test_options(None),
            default_lab(),
            ForticareOptions::default(),
        )
        .await
    }

    pub async fn start_with(options: LabOptions, fixtures: Vec<LicenseSpec>) -> TestSuite {
        let fixtures = LabFixtures {
            licenses: fixtures,
            api_users: default_lab().api_users,
            hardware_tokens: Vec::new(),
            fortiauthenticators: Vec::new(),
        };
        TestSuite::start_lab(options, fixtures, ForticareOptions::default()).await
    }

    /// A suite on `fixtures`, with forticare's `options` (the v3 API's rate limits).
    pub async fn start_lab(
        options: LabOptions,
        fixtures: LabFixtures,
        forticare: ForticareOptions,
    ) -> TestSuite {
        let suite = Suite::builder()
            .options(options)
            .fixtures(fixtures)
            .forticare(forticare)
            .start()
            .await
            .unwrap();
        let client = suite.lab().http_client().unwrap();
        let api = SuiteClient::with_http(client.clone(), suite.urls().clone())
            .with_admin_token(suite.client().admin_token());
        TestSuite { suite, client, api }
    }

    /// The suite's typed clients (control plane, forticare's admin APIs, appliances, FACs, messages, phones):
    /// `fortimock_testing`'s, which the CLI uses too.
    pub fn api(&self) -> &SuiteClient {
        &self.api
    }

    pub fn lab(&self) -> &Lab {
        self.suite.lab()
    }

    /// Starts the dashboard for this suite on a free port, as `fortimock up` does on `--ui-port` (stop it
    /// with `RunningService::stop`).
    pub fn start_dashboard(&self) -> lab::server::RunningService {
        fortimock::dashboard::start_for_suite(self.lab(), self.suite.urls().clone(), 0).unwrap()
    }

    /// Base URL of service `name`.
    pub fn url(&self, name: &str) -> String {
        self.suite.url(name).to_owned()
    }

    /// POSTs raw bytes to a service's SoftToken front door; returns the status and the JSON body.
    pub async fn post_process(
        &self,
        service: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{PROCESS}", self.url(service)))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
        )
    }

    /// Imports `code` as appliance `serial` with HA `peers`, the way FortiOS does.
    pub async fn import(
        &self,
        service: &str,
        serial: &str,
        peers: &[&str],
        code: &str,
    ) -> ActivationLicenseResponse {
        let request = ActivationLicenseRequest {
            header: header(serial, peers),
            license_activation_code: code.to_owned(),
        };
        let (status, body) = self.post_process(service, Envelope::to_vec(&request)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value::<Envelope<ActivationLicenseResponse>>(body)
            .unwrap()
            .0
    }

    /// POSTs raw bytes to ftm's phone endpoint; returns the status and the JSON body.
    pub async fn post_mobile(&self, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{MOBILE}", self.url("ftm")))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
        )
    }

    /// Provisions `tokens` (serial, seed) as appliance `serial` through ftm's front door, FortiOS defaults
    /// (72 h, TOTP, 60 s, 6 digits) unless `token` says otherwise.
    pub async fn provision(
        &self,
        serial: &str,
        peers: &[&str],
        tokens: Vec<ProvisionToken>,
    ) -> ProvisionResponse {
        let request = ProvisionRequest {
            header: header(serial, peers),
            tokens,
        };
        let (status, body) = self.post_process("ftm", Envelope::to_vec(&request)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value::<Envelope<ProvisionResponse>>(body)
            .unwrap()
            .0
    }

    /// Polls `tokens` as appliance `serial`.
    pub async fn poll(&self, serial: &str, peers: &[&str], tokens: &[&str]) -> PollingResponse {
        let tokens = tokens
            .iter()
            .map(|t| PolledTokenRef {
                token: (*t).to_owned(),
            })
            .collect();
        let request = PollingRequest {
            header: header(serial, peers),
            tokens,
        };
        let (status, body) = self.post_process("ftm", Envelope::to_vec(&request)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value::<Envelope<PollingResponse>>(body)
            .unwrap()
            .0
    }

    /// Redeems `code` as the FortiToken Mobile app 4.9.9 on iOS would, with this `mobile_id` and push id.
    pub async fn download(
        &self,
        mobile_id: &str,
        registration_id: &str,
        code: &str,
    ) -> MobileProvisionResponse {
        let (status, body) = self
            .post_mobile(Envelope::to_vec(&mobile_request(
                mobile_id,
                registration_id,
                code,
            )))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value::<Envelope<MobileProvisionResponse>>(body)
            .unwrap()
            .0
    }

    /// Moves the suite's clock (`POST /__admin/clock` on ftm).
    pub async fn advance_clock(&self, secs: i64) {
        self.api().control("ftm").advance_clock(secs).await.unwrap();
    }

    /// GET an admin endpoint and decode the 2xx answer (any path, raw: for tests of the answer's shape).
    pub async fn admin_get<T: DeserializeOwned>(&self, service: &str, path: &str) -> T {
        let response = self
            .client
            .get(format!("{}{path}", self.url(service)))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// POST JSON to an admin endpoint; returns the status and the JSON body.
    pub async fn admin_post(
        &self,
        service: &str,
        path: &str,
        body: &impl Serialize,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.url(service)))
            .json(body)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// `GET /__admin/timeline?{query}` on `service`: the status and the body as text (JSON, or the Mermaid
    /// diagram with `format=mermaid`).
    pub async fn timeline_text(&self, service: &str, query: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!(
                "{}{}?{query}",
                self.url(service),
                paths::ADMIN_TIMELINE
            ))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// `GET /__admin/timeline?{query}` on ftm (every service answers the same shared timeline), decoded.
    pub async fn timeline(&self, query: &str) -> protocol::timeline::TimelinePage {
        let filter: fortimock_testing::TimelineFilter = serde_urlencoded::from_str(query).unwrap();
        self.api().control("ftm").timeline(&filter).await.unwrap()
    }

    /// `GET /__admin/coverage` on `service`.
    pub async fn coverage(&self, service: &str) -> protocol::coverage::CoverageReport {
        self.api().control(service).coverage().await.unwrap()
    }

    /// Whether the service still answers its health check.
    pub async fn healthy(&self, service: &str) -> bool {
        self.api().control(service).health().await.is_ok()
    }

    /// Stops every service and closes their stores.
    pub async fn stop(self) {
        self.suite.stop().await;
    }
}

/// The appliance header FortiOS 7.4 build 2829 sends.
pub fn header(serial: &str, peers: &[&str]) -> RequestHeader {
    let serial: ApplianceSerial = serial.parse().unwrap();
    let peers: Vec<ApplianceSerial> = peers.iter().map(|p| p.parse().unwrap()).collect();
    RequestHeader::new(&serial, &peers, "7.4", "2829")
}

/// One token to provision with FortiOS's defaults.
pub fn token(serial: &str, seed: &str) -> ProvisionToken {
    ProvisionToken {
        token: serial.to_owned(),
        seed: seed.to_owned(),
        code_expire: 4320,
        kind: "totp".into(),
        period: 60,
        digits: 6,
    }
}

/// A MobileProvisionRequest as FortiToken Mobile 4.9.9 on iOS sends it.
pub fn mobile_request(
    mobile_id: &str,
    registration_id: &str,
    code: &str,
) -> MobileProvisionRequest {
    MobileProvisionRequest {
        version: "5".into(),
        device_version: "4.9.9_IOS".into(),
        device_build: "4.9.9.0009".into(),
        mobile_id: mobile_id.to_owned(),
        registration_id: registration_id.to_owned(),
        token_activation_code: code.to_owned(),
    }
}
