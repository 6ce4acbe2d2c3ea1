//! Typed clients on [`SuiteClient`] for activation messages: where a virtual appliance delivers them (its
//! messaging settings) and sending a Pending token's activation code again (`send-activation`); each answer
//! decoded into its `protocol::messages` type. The messages the suite captured are read through
//! [`crate::Messages`] (`SuiteClient::messages`).

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
        self.client
            .post_outcome(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_SEND_ACTIVATION, &[serial]),
                request,
            )
            .await
    }
}
