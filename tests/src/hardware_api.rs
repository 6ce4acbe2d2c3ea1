//! The harness's calls for hardware FortiTokens and activation messages: forticare's batches and seed
//! files, the appliance's hardware operations, captured messages, and the phone's camera. They go through
//! the typed clients (`TestSuite::api`), except the appliance's hardware operations and the phone's scan,
//! which return the status and the body as sent: their tests check refusals' statuses and bodies (FortiOS's
//! failures with their debug lines, bad input).

use base64::Engine as _;
use protocol::hardware::{HardwareBatchView, NewHardwareBatch};
use protocol::id::{HardwareModel, HardwareSerial};
use protocol::messages::{MessageQuery, MessageView};
use protocol::paths;
use protocol::seed::Seed;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::TestSuite;

impl TestSuite {
    /// `POST /__admin/hardware-tokens` on forticare.
    pub async fn hardware_batch(&self, model: &str, count: u32, demo: bool) -> HardwareBatchView {
        let batch = NewHardwareBatch {
            model: HardwareModel::from_prefix(model).unwrap(),
            count,
            demo,
            note: None,
        };
        self.api().hardware_batches().create(&batch).await.unwrap()
    }

    /// `GET /__admin/hardware-tokens/{batch}/seed-file`: the zip and the password shown with it.
    pub async fn seed_file(&self, batch: &str) -> (Vec<u8>, String) {
        let file = self
            .api()
            .hardware_batches()
            .seed_file(batch, None)
            .await
            .unwrap();
        (file.zip, file.password.expect("the seed file's password"))
    }

    /// The seeds of a batch, read from its seed file as the appliance reads it (what the token's display
    /// computes its codes from).
    pub async fn batch_seeds(&self, batch: &str) -> Vec<(HardwareSerial, Seed)> {
        let (zip, password) = self.seed_file(batch).await;
        appliance::seed_file::open(&zip, &password).unwrap()
    }

    /// `POST /appliances/{serial}/hardware/activate?debug=true`.
    pub async fn hardware_activate(
        &self,
        appliance: &str,
        serials: &[&str],
    ) -> (StatusCode, Value) {
        self.admin_post(
            "appliance",
            &format!(
                "{}?debug=true",
                paths::fill(paths::APPLIANCE_HARDWARE_ACTIVATE, &[appliance])
            ),
            &json!({ "serials": serials }),
        )
        .await
    }

    /// `POST /appliances/{serial}/hardware/import-seed-file`.
    pub async fn import_seed_file(
        &self,
        appliance: &str,
        zip: &[u8],
        password: &str,
    ) -> (StatusCode, Value) {
        self.admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_HARDWARE_IMPORT, &[appliance]),
            &json!({
                "file": base64::engine::general_purpose::STANDARD.encode(zip),
                "password": password,
            }),
        )
        .await
    }

    /// `POST /appliances/{serial}/hardware/assign`.
    pub async fn hardware_assign(
        &self,
        appliance: &str,
        token: &str,
        user: &str,
    ) -> (StatusCode, Value) {
        self.admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_HARDWARE_ASSIGN, &[appliance]),
            &json!({"token": token, "user": user}),
        )
        .await
    }

    /// The lab clock's time, in Unix seconds.
    pub async fn lab_now(&self) -> i64 {
        self.api().control("ftm").clock().await.unwrap().now.secs()
    }

    /// The code a hardware token with `seed` shows now (TOTP, 60 s, 6 digits).
    pub async fn hardware_code(&self, seed: &Seed) -> String {
        protocol::otp::totp(seed.as_bytes(), self.lab_now().await, 60, 6)
    }

    /// `GET /__admin/messages?{query}` on the appliance service.
    pub async fn messages(&self, query: &str) -> Vec<MessageView> {
        let query: MessageQuery = serde_urlencoded::from_str(query).unwrap();
        self.api().messages().list(&query).await.unwrap().messages
    }

    /// GETs raw bytes from an admin endpoint (any path, raw: for tests of the answer): the status and the
    /// body.
    pub async fn admin_bytes(&self, service: &str, path: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .client
            .get(format!("{}{path}", self.url(service)))
            .send()
            .await
            .unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }

    /// `POST /phones/{id}/scan` with the QR code image of captured message `message`.
    pub async fn scan_message(&self, phone: &str, message: &str) -> (StatusCode, Value) {
        let png = self.api().messages().qr(message).await.unwrap();
        self.admin_post(
            "phone",
            &paths::fill(paths::PHONE_SCAN, &[phone]),
            &json!({"png": base64::engine::general_purpose::STANDARD.encode(png)}),
        )
        .await
    }
}
