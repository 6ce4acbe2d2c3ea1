//! Harness methods for the simulators: the virtual appliance's and the virtual phone's HTTP APIs, one
//! method per endpoint, returning what came back. They go through the typed clients (`TestSuite::api`),
//! except `answer_push` and `activate`, which return the status and the body as sent: their tests check
//! refusals' statuses and bodies.

use protocol::appliance::{
    ApplianceView, FtmPushChange, FtmPushSettings, LoginOutcome, LoginRequest, NewAppliance,
    OperationFailure, ProvisionTokenRequest,
};
use protocol::paths;
use protocol::phone::{NewPhone, OtpView, PhoneChange, PhoneView};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::TestSuite;

/// A FortiGate with push on whose user alice has a token activated on a phone (see
/// [`TestSuite::push_ready`]).
pub struct PushReady {
    pub serial: String,
    /// The ftm-push listener's port.
    pub port: u16,
    pub phone: String,
    pub token: String,
}

impl TestSuite {
    /// A FortiGate with push on (`ftm_push` over `{"status": true, "server_port": 0}`: a listener on a free
    /// port) that imported the 5-seat license and assigned a token to alice, activated on a new Android phone
    /// (which answers pushes by hand), and polled, so the token is Assigned.
    pub async fn push_ready(&self, ftm_push: Value) -> PushReady {
        let mut settings = json!({"status": true, "server_port": 0});
        for (key, value) in ftm_push.as_object().into_iter().flatten() {
            settings[key] = value.clone();
        }
        let appliance = self.new_appliance(json!({"ftm_push": settings})).await;
        let serial = appliance.serial.to_string();
        self.appliance_import(&serial, "1111-2222-3333-4444-5555")
            .await;
        let (token, code) = self.appliance_provision(&serial, "any", "alice").await;
        let phone = self.new_phone(json!({})).await.id;
        assert_eq!(self.activate(&phone, &code).await.0, StatusCode::CREATED);
        let _: protocol::appliance::PollOutcome =
            self.appliance_op(&serial, "poll", json!({})).await.unwrap();
        PushReady {
            serial,
            port: appliance.ftm_push.listening_port.unwrap_or_default(),
            phone,
            token,
        }
    }

    /// `POST /appliances`.
    pub async fn new_appliance(&self, body: Value) -> ApplianceView {
        let spec: NewAppliance = serde_json::from_value(body).unwrap();
        self.api().appliances().create(&spec).await.unwrap()
    }

    /// `GET /appliances/{serial}`.
    pub async fn appliance(&self, serial: &str) -> ApplianceView {
        self.api().appliances().get(serial).await.unwrap()
    }

    /// `POST /appliances/{serial}/{operation}?debug=true`: the outcome, or the failure the cloud caused.
    pub async fn appliance_op<T: DeserializeOwned>(
        &self,
        serial: &str,
        operation: &str,
        body: Value,
    ) -> Result<T, OperationFailure> {
        let template = format!("{}/{operation}", paths::APPLIANCE);
        self.api()
            .appliances()
            .debug(true)
            .operation(&template, serial, &body)
            .await
            .unwrap_or_else(|e| panic!("{operation}: {e:#}"))
    }

    /// Imports `code` on appliance `serial` and returns the imported token serials.
    pub async fn appliance_import(&self, serial: &str, code: &str) -> Vec<String> {
        let outcome = self
            .api()
            .appliances()
            .import(serial, code)
            .await
            .unwrap()
            .unwrap();
        outcome.tokens.iter().map(ToString::to_string).collect()
    }

    /// Assigns `token` (or `any`) to `user` on `serial`; returns the token serial and its activation code.
    pub async fn appliance_provision(
        &self,
        serial: &str,
        token: &str,
        user: &str,
    ) -> (String, String) {
        let request = ProvisionTokenRequest {
            token: token.to_owned(),
            user: Some(user.to_owned()),
            expiry_minutes: None,
            email: None,
            sms_phone: None,
        };
        let outcome = self
            .api()
            .appliances()
            .provision(serial, &request)
            .await
            .unwrap()
            .unwrap();
        (
            outcome.token.serial.to_string(),
            outcome.token.activation_code.unwrap(),
        )
    }

    /// `POST /appliances/{serial}/login`: the status (200 or 401) and the outcome.
    pub async fn login(&self, serial: &str, user: &str, otp: &str) -> (StatusCode, LoginOutcome) {
        let body = LoginRequest {
            user: user.to_owned(),
            otp: otp.to_owned(),
            ..LoginRequest::default()
        };
        let (status, outcome) = self.api().appliances().login(serial, &body).await.unwrap();
        (StatusCode::from_u16(status).unwrap(), outcome)
    }

    /// `POST /appliances/{serial}/login` with `push: true` (and `?debug=true`): waits for the phone.
    pub async fn push_login(&self, serial: &str, user: &str) -> (StatusCode, LoginOutcome) {
        let body = LoginRequest {
            user: user.to_owned(),
            push: true,
            ..LoginRequest::default()
        };
        let (status, outcome) = self
            .api()
            .appliances()
            .debug(true)
            .login(serial, &body)
            .await
            .unwrap();
        (StatusCode::from_u16(status).unwrap(), outcome)
    }

    /// `PATCH /appliances/{serial}/ftm-push`.
    pub async fn ftm_push(&self, serial: &str, change: Value) -> FtmPushSettings {
        let change: FtmPushChange = serde_json::from_value(change).unwrap();
        self.api()
            .appliances()
            .ftm_push(serial, &change)
            .await
            .unwrap()
    }

    /// `PATCH /phones/{id}`: the phone after the change, as JSON.
    pub async fn change_phone(&self, phone: &str, change: Value) -> Value {
        let change: PhoneChange = serde_json::from_value(change).unwrap();
        let changed = self.api().phones().change(phone, &change).await.unwrap();
        serde_json::to_value(changed).unwrap()
    }

    /// `GET /phones/{id}/inbox`.
    pub async fn inbox(&self, phone: &str) -> protocol::phone::Inbox {
        self.api().phones().inbox(phone).await.unwrap()
    }

    /// `POST /phones/{id}/inbox/{push}/approve` or `…/deny`: the status and the answer.
    pub async fn answer_push(&self, phone: &str, push: &str, approve: bool) -> (StatusCode, Value) {
        let path = if approve {
            paths::PHONE_APPROVE
        } else {
            paths::PHONE_DENY
        };
        self.admin_post("phone", &paths::fill(path, &[phone, push]), &json!({}))
            .await
    }

    /// `POST /phones`.
    pub async fn new_phone(&self, body: Value) -> PhoneView {
        let spec: NewPhone = serde_json::from_value(body).unwrap();
        self.api().phones().create(&spec).await.unwrap()
    }

    /// `POST /phones/{id}/activate`: the status and the answer.
    pub async fn activate(&self, phone: &str, code: &str) -> (StatusCode, Value) {
        self.admin_post(
            "phone",
            &paths::fill(paths::PHONE_ACTIVATE, &[phone]),
            &json!({"code": code}),
        )
        .await
    }

    /// `GET /phones/{id}/otp?token=…`.
    pub async fn phone_otp(&self, phone: &str, token: &str) -> OtpView {
        self.api().phones().otp(phone, Some(token)).await.unwrap()
    }

    /// Stops the suite's shared clock where it is.
    pub async fn freeze_clock(&self) {
        self.api().control("ftm").freeze_clock().await.unwrap();
    }
}
