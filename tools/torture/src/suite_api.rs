//! The suite's public HTTP APIs as the harness calls them: one method per endpoint, each answer sorted into
//! acknowledged (the success answer, decoded), refused, a server error, or no answer at all (the process died
//! under the request: the write is in doubt).

use std::time::Duration;

use anyhow::{Context, bail};
use protocol::admin::{ActivationList, EscrowList};
use protocol::appliance::{
    ApplianceList, ApplianceView, ImportOutcome, ImportRequest, NewAppliance, ProvisionOutcome,
    ProvisionTokenRequest,
};
use protocol::envelope::{Envelope, Message};
use protocol::header::RequestHeader;
use protocol::id::ApplianceSerial;
use protocol::ledger::{LicenseList, LicenseSpec, LicenseView};
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use protocol::mobile::{MobileProvisionRequest, MobileProvisionResponse};
use protocol::paths::{self, MOBILE, PROCESS};
use protocol::phone::{Activate, NewPhone, PhoneList, PhoneTokenView, PhoneView};
use protocol::provision::{ProvisionRequest, ProvisionResponse, ProvisionToken};
use protocol::push::{
    DeviceList, DeviceRegistration, DeviceView, PushAccepted, PushBatch, PushRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::suite_process::SuiteUrls;

/// What came back for a write.
#[derive(Debug)]
pub enum Answer<T> {
    /// The success answer: the write is acknowledged.
    Acked(T),
    /// A definite no: a 4xx, or a SoftToken error (`code`) in an HTTP 200.
    Refused {
        status: u16,
        code: Option<i32>,
        detail: String,
    },
    /// A 5xx.
    ServerError { status: u16, detail: String },
    /// A success status whose body is not what the API promises.
    Garbled(String),
    /// No complete answer (connection refused or reset, timeout, body cut short): the write is in doubt.
    NoAnswer(String),
}

impl<T> Answer<T> {
    /// Keeps the answer, changing what an acknowledgement carries.
    pub fn map<U>(self, f: impl FnOnce(T) -> Answer<U>) -> Answer<U> {
        match self {
            Answer::Acked(value) => f(value),
            Answer::Refused {
                status,
                code,
                detail,
            } => Answer::Refused {
                status,
                code,
                detail,
            },
            Answer::ServerError { status, detail } => Answer::ServerError { status, detail },
            Answer::Garbled(detail) => Answer::Garbled(detail),
            Answer::NoAnswer(detail) => Answer::NoAnswer(detail),
        }
    }
}

/// The serial FortiOS 7.4 build 2829 sends in the appliance header, for a lone unit.
pub fn appliance_header(serial: &str) -> anyhow::Result<RequestHeader> {
    let serial: ApplianceSerial = serial.parse()?;
    Ok(RequestHeader::new(&serial, &[], "7.4", "2829"))
}

/// A client for one running suite, trusting its lab CA.
#[derive(Clone)]
pub struct SuiteApi {
    http: reqwest::Client,
    urls: SuiteUrls,
}

/// How long the harness waits for any one answer: a live suite answers in milliseconds, so a request this
/// slow is a hang worth reporting.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl SuiteApi {
    pub fn connect(urls: SuiteUrls, ca_pem: &str) -> anyhow::Result<SuiteApi> {
        Ok(SuiteApi {
            http: lab::client::http_client(Some(ca_pem), None)?,
            urls,
        })
    }

    /// `base URL of service` + `path`.
    pub fn url(&self, service: &str, path: &str) -> String {
        let base = self.urls.get(service).map(String::as_str).unwrap_or("");
        format!("{base}{path}")
    }

    /// Sends a request and reads the whole answer, or says why there is none.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), String> {
        let response = request
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| chain(&e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| chain(&e))?;
        Ok((status, body.to_vec()))
    }

    /// A write: `success` is the status that acknowledges it; its body decodes as `T`.
    async fn write<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        success: u16,
    ) -> Answer<T> {
        let (status, body) = match self.exchange(request).await {
            Ok(answer) => answer,
            Err(e) => return Answer::NoAnswer(e),
        };
        classify(status, &body, success)
    }

    async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        service: &str,
        path: &str,
        body: &B,
        success: u16,
    ) -> Answer<T> {
        let request = self.http.post(self.url(service, path)).json(body);
        self.write(request, success).await
    }

    /// A SoftToken message to `service`'s `path`; a `d.error` in the answer is a refusal with its code.
    async fn softtoken<M: Message, R: Message>(
        &self,
        service: &str,
        path: &str,
        message: &M,
        error_of: impl Fn(&R) -> Option<i32>,
    ) -> Answer<R> {
        let request = self
            .http
            .post(self.url(service, path))
            .header("Content-Type", "application/json;charset=utf-8")
            .body(Envelope::to_vec(message));
        self.write::<Envelope<R>>(request, 200)
            .await
            .map(|Envelope(answer)| match error_of(&answer) {
                Some(code) => Answer::Refused {
                    status: 200,
                    code: Some(code),
                    detail: format!("{} error {code}", R::TYPE),
                },
                None => Answer::Acked(answer),
            })
    }

    /// `POST /__admin/licenses` on forticare.
    pub async fn create_license(&self, spec: &LicenseSpec) -> Answer<LicenseView> {
        self.post_json("forticare", paths::ADMIN_LICENSES, spec, 201)
            .await
    }

    /// License import (`SoftToken.ActivationLicenseRequest`) by a lone appliance `serial`, sent to `service`
    /// (forticare itself, or ftm, which forwards it).
    pub async fn import_license(
        &self,
        service: &str,
        serial: &str,
        code: &str,
    ) -> Answer<ActivationLicenseResponse> {
        let header = match appliance_header(serial) {
            Ok(header) => header,
            Err(e) => return Answer::Garbled(e.to_string()),
        };
        let request = ActivationLicenseRequest {
            header,
            license_activation_code: code.to_owned(),
        };
        self.softtoken(
            service,
            PROCESS,
            &request,
            |a: &ActivationLicenseResponse| a.error.as_ref().map(|e| e.error_code),
        )
        .await
    }

    /// `SoftToken.ProvisionRequest` to ftm by appliance `serial`. Per-token errors are the caller's to read;
    /// only a top-level error is a refusal.
    pub async fn provision(
        &self,
        serial: &str,
        tokens: Vec<ProvisionToken>,
    ) -> Answer<ProvisionResponse> {
        let header = match appliance_header(serial) {
            Ok(header) => header,
            Err(e) => return Answer::Garbled(e.to_string()),
        };
        let request = ProvisionRequest { header, tokens };
        self.softtoken("ftm", PROCESS, &request, |a: &ProvisionResponse| {
            a.error.as_ref().map(|e| e.error_code)
        })
        .await
    }

    /// `SoftToken.MobileProvisionRequest` to ftm's `/Mobile`, as FortiToken Mobile 4.9.9 on Android sends it.
    pub async fn download(
        &self,
        mobile_id: &str,
        registration_id: &str,
        code: &str,
    ) -> Answer<MobileProvisionResponse> {
        self.softtoken(
            "ftm",
            MOBILE,
            &mobile_request(mobile_id, registration_id, code),
            |a: &MobileProvisionResponse| a.error.as_ref().map(|e| e.error_code),
        )
        .await
    }

    /// `POST /phones` with `name`.
    pub async fn create_phone(&self, name: &str) -> Answer<PhoneView> {
        let body = NewPhone {
            name: Some(name.to_owned()),
            ..NewPhone::default()
        };
        self.post_json("phone", paths::PHONES, &body, 201).await
    }

    /// `DELETE /phones/{name}`.
    pub async fn delete_phone(&self, name: &str) -> Answer<()> {
        let request = self
            .http
            .delete(self.url("phone", &paths::fill(paths::PHONE, &[name])));
        self.write::<serde_json::Value>(request, 204)
            .await
            .map(|_| Answer::Acked(()))
    }

    /// `POST /phones/{name}/activate`: the phone redeems `code` at ftm and stores the token.
    pub async fn activate_on_phone(&self, name: &str, code: &str) -> Answer<PhoneTokenView> {
        let body = Activate {
            code: code.to_owned(),
        };
        self.post_json(
            "phone",
            &paths::fill(paths::PHONE_ACTIVATE, &[name]),
            &body,
            201,
        )
        .await
    }

    /// `POST /appliances` with `serial`.
    pub async fn create_appliance(&self, serial: &str) -> Answer<ApplianceView> {
        let serial = match serial.parse() {
            Ok(serial) => serial,
            Err(e) => return Answer::Garbled(format!("{e}")),
        };
        let body = NewAppliance {
            serial: Some(serial),
            peers: Vec::new(),
            vdom: None,
            mode: None,
            version: None,
            build: None,
            ftm_url: None,
            settings: None,
            ftm_push: None,
            firmware: None,
            fortiguard_url: None,
            messaging: None,
        };
        self.post_json("appliance", paths::APPLIANCES, &body, 201)
            .await
    }

    /// `POST /appliances/{serial}/import`.
    pub async fn appliance_import(&self, serial: &str, code: &str) -> Answer<ImportOutcome> {
        let body = ImportRequest {
            code: code.to_owned(),
        };
        self.post_json(
            "appliance",
            &paths::fill(paths::APPLIANCE_IMPORT, &[serial]),
            &body,
            200,
        )
        .await
    }

    /// `POST /appliances/{serial}/provision`: `token` assigned to `user`, its seed made up by the appliance.
    pub async fn appliance_provision(
        &self,
        serial: &str,
        token: &str,
        user: &str,
    ) -> Answer<ProvisionOutcome> {
        let body = ProvisionTokenRequest {
            token: token.to_owned(),
            user: Some(user.to_owned()),
            expiry_minutes: None,
            email: None,
            sms_phone: None,
        };
        let path = paths::fill(paths::APPLIANCE_PROVISION, &[serial]);
        self.post_json("appliance", &path, &body, 200).await
    }

    /// `PUT /api/v1/devices/{registration_id}` on the relay (201 the first time, 200 after).
    pub async fn register_device(&self, registration_id: &str) -> Answer<DeviceView> {
        let body = DeviceRegistration {
            platform: "android".into(),
            webhook: None,
        };
        let request = self
            .http
            .put(self.url(
                "push",
                &paths::fill(paths::RELAY_DEVICE, &[registration_id]),
            ))
            .json(&body);
        match self.exchange(request).await {
            Ok((200, body)) => classify(200, &body, 200),
            Ok((status, body)) => classify(status, &body, 201),
            Err(e) => Answer::NoAnswer(e),
        }
    }

    /// `DELETE /api/v1/devices/{registration_id}`.
    pub async fn unregister_device(&self, registration_id: &str) -> Answer<()> {
        let request = self.http.delete(self.url(
            "push",
            &paths::fill(paths::RELAY_DEVICE, &[registration_id]),
        ));
        self.write::<serde_json::Value>(request, 204)
            .await
            .map(|_| Answer::Acked(()))
    }

    /// `POST /api/v1/push`.
    pub async fn push(&self, request: &PushRequest) -> Answer<PushAccepted> {
        self.post_json("push", paths::RELAY_PUSH, request, 200)
            .await
    }

    /// A read the checks depend on: anything but the success answer is an error.
    async fn read<T: DeserializeOwned>(&self, service: &str, path: &str) -> anyhow::Result<T> {
        let url = self.url(service, path);
        let (status, body) = self
            .exchange(self.http.get(&url))
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
        if status != 200 {
            bail!("GET {url}: HTTP {status}: {}", excerpt(&body));
        }
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: {}", excerpt(&body)))
    }

    /// `GET /__admin/licenses` on forticare.
    pub async fn licenses(&self) -> anyhow::Result<LicenseList> {
        self.read("forticare", paths::ADMIN_LICENSES).await
    }

    /// `GET /__admin/licenses/{id}` on forticare: the license with its tokens.
    pub async fn license(&self, id: &str) -> anyhow::Result<LicenseView> {
        self.read("forticare", &paths::fill(paths::ADMIN_LICENSE, &[id]))
            .await
    }

    /// `GET /__admin/escrow` on ftm.
    pub async fn escrow(&self) -> anyhow::Result<EscrowList> {
        self.read("ftm", paths::ADMIN_ESCROW).await
    }

    /// `GET /__admin/activations` on ftm.
    pub async fn activations(&self) -> anyhow::Result<ActivationList> {
        self.read("ftm", paths::ADMIN_ACTIVATIONS).await
    }

    /// `GET /phones`.
    pub async fn phones(&self) -> anyhow::Result<PhoneList> {
        self.read("phone", paths::PHONES).await
    }

    /// `GET /appliances`.
    pub async fn appliances(&self) -> anyhow::Result<ApplianceList> {
        self.read("appliance", paths::APPLIANCES).await
    }

    /// `GET /__admin/devices` on the relay.
    pub async fn devices(&self) -> anyhow::Result<DeviceList> {
        self.read("push", paths::ADMIN_DEVICES).await
    }

    /// `GET /api/v1/devices/{registration_id}`: the device, or `None` on 404.
    pub async fn device(&self, registration_id: &str) -> anyhow::Result<Option<DeviceView>> {
        let url = self.url(
            "push",
            &paths::fill(paths::RELAY_DEVICE, &[registration_id]),
        );
        let (status, body) = self
            .exchange(self.http.get(&url))
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
        match status {
            404 => Ok(None),
            200 => {
                Ok(Some(serde_json::from_slice(&body).with_context(|| {
                    format!("GET {url}: {}", excerpt(&body))
                })?))
            }
            _ => bail!("GET {url}: HTTP {status}: {}", excerpt(&body)),
        }
    }

    /// Every push queued for a device, in arrival order (the long-poll endpoint without waiting, page by page).
    pub async fn queued_pushes(
        &self,
        registration_id: &str,
    ) -> anyhow::Result<Vec<protocol::push::DeliveredPush>> {
        let mut pushes = Vec::new();
        let mut after = 0;
        loop {
            let path = format!(
                "{}?after={after}&wait=0",
                paths::fill(paths::RELAY_DEVICE_PUSHES, &[registration_id])
            );
            let batch: PushBatch = self.read("push", &path).await?;
            if batch.pushes.is_empty() {
                return Ok(pushes);
            }
            after = batch.last_seq;
            pushes.extend(batch.pushes);
        }
    }

    /// `GET /__admin/health` on `service`, to open a connection before a race.
    pub async fn health(&self, service: &str) -> anyhow::Result<()> {
        let _: serde_json::Value = self.read(service, paths::ADMIN_HEALTH).await?;
        Ok(())
    }
}

/// The request FortiToken Mobile 4.9.9 on Android sends to redeem `code`.
pub fn mobile_request(
    mobile_id: &str,
    registration_id: &str,
    code: &str,
) -> MobileProvisionRequest {
    MobileProvisionRequest {
        version: "5".into(),
        device_version: "4.9.9_Android".into(),
        device_build: "4.9.9.0009".into(),
        mobile_id: mobile_id.to_owned(),
        registration_id: registration_id.to_owned(),
        token_activation_code: code.to_owned(),
    }
}

fn classify<T: DeserializeOwned>(status: u16, body: &[u8], success: u16) -> Answer<T> {
    if status == success {
        // An empty success body (204) decodes as JSON null.
        let body = if body.is_empty() { &b"null"[..] } else { body };
        return match serde_json::from_slice(body) {
            Ok(value) => Answer::Acked(value),
            Err(e) => Answer::Garbled(format!("HTTP {status}: {e}: {}", excerpt(body))),
        };
    }
    if status >= 500 {
        return Answer::ServerError {
            status,
            detail: excerpt(body),
        };
    }
    Answer::Refused {
        status,
        code: None,
        detail: excerpt(body),
    }
}

/// The start of a body, for a message.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(300).collect();
    if text.chars().nth(300).is_some() {
        out.push('…');
    }
    out
}

/// An error and its causes on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
