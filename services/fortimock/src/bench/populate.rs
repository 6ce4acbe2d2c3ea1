//! Puts licenses and tokens into a running suite through its public APIs, as a lab would get them: licenses
//! created by forticare's admin API (with an owner, or imported by an appliance through ftm), tokens
//! provisioned by ProvisionRequests, seeds downloaded by a phone; and the SoftToken bodies the load sends.

use anyhow::{Context, bail, ensure};
use protocol::appliance::{NewAppliance, ProvisionTokenRequest};
use protocol::envelope::Envelope;
use protocol::header::RequestHeader;
use protocol::id::ApplianceSerial;
use protocol::ledger::LicenseSpec;
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use protocol::mobile::{MobileProvisionRequest, MobileProvisionResponse};
use protocol::paths::{MOBILE, PROCESS};
use protocol::provision::{
    PolledTokenRef, PollingRequest, PollingResponse, ProvisionRequest, ProvisionResponse,
    ProvisionToken,
};
use serde_json::json;

use super::process::Suite;

/// A seed as FortiOS sends it (40 hex digits): the same for every token the bench provisions.
const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";

/// The phone every download is for (an Android SSAID).
const MOBILE_ID: &str = "e248e1e9527f20ff";

/// The most tokens the bench puts in one ProvisionRequest: 10,000 would not fit ftm's 1 MiB body limit.
pub(crate) const PROVISION_BATCH: usize = 5_000;

/// The `n`-th appliance serial of the bench's labs.
pub(crate) fn appliance(n: usize) -> ApplianceSerial {
    format!("FGVM02TM{:08}", 10_000_000 + n % 90_000_000)
        .parse()
        .unwrap_or_else(|_| unreachable!("FGVM02TM and 8 digits is a serial"))
}

/// The header FortiOS 7.4 sends, for a lone appliance.
pub(crate) fn header(serial: &ApplianceSerial) -> RequestHeader {
    RequestHeader::new(serial, &[], "7.4", "2829")
}

pub(crate) fn import_body(serial: &ApplianceSerial, code: &str) -> Vec<u8> {
    Envelope::to_vec(&ActivationLicenseRequest {
        header: header(serial),
        license_activation_code: code.to_owned(),
    })
}

pub(crate) fn provision_body(serial: &ApplianceSerial, tokens: &[String]) -> Vec<u8> {
    Envelope::to_vec(&ProvisionRequest {
        header: header(serial),
        tokens: tokens
            .iter()
            .map(|token| ProvisionToken {
                token: token.clone(),
                seed: SEED.to_owned(),
                code_expire: 4320,
                kind: "totp".to_owned(),
                period: 60,
                digits: 6,
            })
            .collect(),
    })
}

pub(crate) fn poll_body(serial: &ApplianceSerial, tokens: &[String]) -> Vec<u8> {
    Envelope::to_vec(&PollingRequest {
        header: header(serial),
        tokens: tokens
            .iter()
            .map(|token| PolledTokenRef {
                token: token.clone(),
            })
            .collect(),
    })
}

pub(crate) fn download_body(code: &str) -> Vec<u8> {
    Envelope::to_vec(&MobileProvisionRequest {
        version: "5".to_owned(),
        device_version: "4.9.9_Android".to_owned(),
        device_build: "4.9.9.0009".to_owned(),
        mobile_id: MOBILE_ID.to_owned(),
        registration_id: "dzbg2OOiDYM:APA91bF7EP6PJ9".to_owned(),
        token_activation_code: code.to_owned(),
    })
}

/// A license as created: its code and its tokens.
#[derive(Debug, Clone)]
pub(crate) struct License {
    pub(crate) code: String,
    pub(crate) tokens: Vec<String>,
}

/// The suite's public APIs, through one client.
#[derive(Clone)]
pub(crate) struct Cloud {
    http: reqwest::Client,
    /// fortimock's own APIs (licenses, appliances), through the typed clients over `http`.
    api: fortimock_testing::SuiteClient,
    pub(crate) ftm: String,
}

impl Cloud {
    pub(crate) fn new(suite: &Suite) -> anyhow::Result<Cloud> {
        let http = lab::client::http_client(suite.ca_pem.as_deref(), None)?;
        Ok(Cloud {
            api: fortimock_testing::SuiteClient::with_http(http.clone(), suite.urls.clone()),
            http,
            ftm: suite.url("ftm")?.to_owned(),
        })
    }

    /// Creates a license of `seats` seats, registered to `owner` up front when given.
    pub(crate) async fn create_license(
        &self,
        seats: usize,
        owner: Option<&ApplianceSerial>,
    ) -> anyhow::Result<License> {
        let spec = LicenseSpec {
            id: None,
            code: None,
            seats: u32::try_from(seats)?,
            valid_until: None,
            note: None,
            owner: owner.cloned(),
            owner_peers: Vec::new(),
            shipped: None,
        };
        let view = self
            .api
            .licenses()
            .create(&spec)
            .await
            .context("creating a license")?;
        Ok(License {
            code: view
                .summary
                .code
                .context("a paid license has a code")?
                .to_string(),
            tokens: view.tokens.iter().map(ToString::to_string).collect(),
        })
    }

    /// `serial` imports `code` through ftm, as FortiOS does; returns the license's tokens.
    pub(crate) async fn import(
        &self,
        serial: &ApplianceSerial,
        code: &str,
    ) -> anyhow::Result<Vec<String>> {
        let answer: Envelope<ActivationLicenseResponse> = self
            .softtoken(&self.ftm, PROCESS, import_body(serial, code))
            .await?;
        if let Some(error) = answer.0.error {
            bail!("importing {code}: {}", error.error_message);
        }
        Ok(answer
            .0
            .tokens
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.token)
            .collect())
    }

    /// `serial` provisions `tokens` (at most [`PROVISION_BATCH`]); returns their activation codes.
    pub(crate) async fn provision(
        &self,
        serial: &ApplianceSerial,
        tokens: &[String],
    ) -> anyhow::Result<Vec<String>> {
        let answer: Envelope<ProvisionResponse> = self
            .softtoken(&self.ftm, PROCESS, provision_body(serial, tokens))
            .await?;
        let codes: Vec<String> = answer
            .0
            .tokens
            .into_iter()
            .filter_map(|t| t.token_activation_code)
            .collect();
        ensure!(
            codes.len() == tokens.len(),
            "{serial} provisioned {} of {} tokens",
            codes.len(),
            tokens.len()
        );
        Ok(codes)
    }

    /// A phone downloads the seed of `code`: the token is activated.
    pub(crate) async fn download(&self, code: &str) -> anyhow::Result<()> {
        let answer: MobileProvisionResponse = self
            .http
            .post(format!("{}{MOBILE}", self.ftm))
            .body(download_body(code))
            .send()
            .await?
            .error_for_status()?
            .json::<Envelope<MobileProvisionResponse>>()
            .await?
            .0;
        if let Some(error) = answer.error {
            bail!("downloading {code}: {}", error.error_message);
        }
        Ok(())
    }

    /// `serial` polls `tokens`; the answer, checked to carry no error.
    pub(crate) async fn poll(
        &self,
        serial: &ApplianceSerial,
        tokens: &[String],
    ) -> anyhow::Result<PollingResponse> {
        let answer: Envelope<PollingResponse> = self
            .softtoken(&self.ftm, PROCESS, poll_body(serial, tokens))
            .await?;
        if let Some(error) = &answer.0.error {
            bail!("polling: {}", error.error_message);
        }
        if let Some(token) = answer.0.tokens.iter().find(|t| t.error.is_some()) {
            bail!("polling {}: {:?}", token.token, token.error);
        }
        Ok(answer.0)
    }

    /// A virtual FortiGate with the trial license and user `bench` holding a provisioned token; its logins
    /// are checked and counted but never lock the user out.
    pub(crate) async fn appliance_with_user(&self) -> anyhow::Result<String> {
        let spec: NewAppliance =
            serde_json::from_value(json!({"settings": {"lockout_threshold": 0}}))?;
        let appliances = self.api.appliances().debug(false);
        let serial = appliances.create(&spec).await?.serial.to_string();
        appliances
            .import(&serial, "0000-0000-0000-0000-0000")
            .await?
            .map_err(|f| anyhow::anyhow!("{} ({})", f.message, f.error_id))?;
        let request = ProvisionTokenRequest {
            token: "any".into(),
            user: Some("bench".into()),
            expiry_minutes: None,
            email: None,
            sms_phone: None,
        };
        appliances
            .provision(&serial, &request)
            .await?
            .map_err(|f| anyhow::anyhow!("{} ({})", f.message, f.error_id))?;
        Ok(serial)
    }

    async fn softtoken<T: protocol::envelope::Message>(
        &self,
        base: &str,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Envelope<T>> {
        let response = self
            .http
            .post(format!("{base}{path}"))
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.bytes().await?;
        ensure!(
            status.is_success(),
            "{base}{path} answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
        serde_json::from_slice(&text)
            .with_context(|| format!("reading {} from {base}{path}", T::TYPE))
    }
}
