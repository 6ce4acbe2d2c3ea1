//! Typed clients on [`SuiteClient`] for activation messages: where a virtual appliance delivers them (its
//! messaging settings) and sending a Pending token's activation code again (`send-activation`); each answer
//! decoded into its `protocol::messages` type. The messages the suite captured are read through
//! [`crate::Messages`] (`SuiteClient::messages`).

use anyhow::{Context, bail};
use protocol::admin::ErrorBody;
use protocol::appliance::OperationFailure;
use protocol::messages::{Delivered, MessagingChange, MessagingSettings, SendActivation};
use protocol::paths;

use crate::client::SuiteClient;

impl SuiteClient {
    /// Activation messages: the appliances' messaging settings and `send-activation`.
    pub fn messaging(&self) -> Messaging<'_> {
        Messaging { client: self }
    }
}

/// The activation-message API of the appliance service.
pub struct Messaging<'a> {
    client: &'a SuiteClient,
}

impl Messaging<'_> {
    /// `GET /appliances/{serial}/messaging`: where the appliance sends activation emails and SMS.
    pub async fn settings(&self, serial: &str) -> anyhow::Result<MessagingSettings> {
        self.client
            .get(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_MESSAGING, &[serial]),
            )
            .await
    }

    /// `PATCH /appliances/{serial}/messaging`: the fields `change` gives, all or none.
    pub async fn change_settings(
        &self,
        serial: &str,
        change: &MessagingChange,
    ) -> anyhow::Result<MessagingSettings> {
        self.client
            .patch(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_MESSAGING, &[serial]),
                change,
            )
            .await
    }

    /// `POST /appliances/{serial}/send-activation`: a Pending token's activation code sent (again); where
    /// it went, or the appliance's refusal (`Failed to send activation code` when the delivery failed, the
    /// token left Pending; a token that is not there or not Pending).
    pub async fn send_activation(
        &self,
        serial: &str,
        request: &SendActivation,
    ) -> anyhow::Result<Result<Delivered, OperationFailure>> {
        let path = paths::fill(paths::APPLIANCE_SEND_ACTIVATION, &[serial]);
        let (status, bytes) = self
            .client
            .post_raw(appliance::NAME, &path, request)
            .await?;
        if (200..300).contains(&status) {
            return Ok(Ok(serde_json::from_slice(&bytes)
                .with_context(|| format!("decoding the answer to {path}"))?));
        }
        if let Ok(failure) = serde_json::from_slice::<OperationFailure>(&bytes) {
            return Ok(Err(failure));
        }
        // The appliance's own refusals (no such token, not Pending, a bad request) are an ErrorBody.
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(refusal) => bail!("{path}: {} ({})", refusal.message, refusal.error_id),
            Err(_) => bail!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&bytes)),
        }
    }
}
