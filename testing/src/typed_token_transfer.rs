//! Typed clients for token transfer between phones (DESIGN flow 8) on [`SuiteClient`]: the old phone starts
//! the transfer (its tokens' data to the transfer service, then the request for the transfer code to its
//! FortiAuthenticator, which sends the code to the user), the code the FAC sent (read from its outbox, where
//! the lab captures what the user would receive), the new phone completes it, and the old phone checks how
//! it went. One method per step, each answer decoded into its `protocol` type; refusals come back as the
//! phone's [`ErrorBody`] (with the catalogue id of the wire refusal, e.g. `ftm.transfer.code-used`).

use anyhow::Context;
use protocol::admin::ErrorBody;
use protocol::fac_admin::{FacView, MessageKind, Outbox, OutboxMessage};
use protocol::id::TokenSerial;
use protocol::paths;
use protocol::phone::{
    CheckTransfer, CompleteTransfer, StartTransfer, TransferInstalled, TransferView,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Refusable, SuiteClient};

impl SuiteClient {
    /// Token transfer between phones: the phones' steps and the FAC's transfer codes.
    pub fn token_transfers(&self) -> TokenTransfers<'_> {
        TokenTransfers { client: self }
    }
}

/// Token transfer between phones (`/phones/{id}/transfer…` and the FAC's outbox).
pub struct TokenTransfers<'a> {
    client: &'a SuiteClient,
}

impl TokenTransfers<'_> {
    /// Where a phone reaches FortiAuthenticator `fac`'s FortiToken Mobile API: its host name (the one its
    /// REST API answers to) and the appliance service's port, as `host:port`.
    pub async fn fac_address(&self, fac: &str) -> anyhow::Result<String> {
        let view: FacView = self
            .client
            .get(appliance::NAME, &paths::fill(paths::APPLIANCE_FAC, &[fac]))
            .await?;
        let url = self.client.url(appliance::NAME)?;
        let port = url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .filter(|port| port.bytes().all(|b| b.is_ascii_digit()))
            .with_context(|| format!("the appliance service's URL {url} names no port"))?;
        Ok(format!("{}:{port}", view.host_name))
    }

    /// `POST /phones/{id}/transfer` on the old phone ("Transfer Tokens"): the transfer, its code sent to the
    /// user by the FAC at `fac_address` (`host:port`, see [`TokenTransfers::fac_address`]); `tokens` empty
    /// moves every token that FAC issued.
    pub async fn start(
        &self,
        phone: &str,
        fac_address: &str,
        tokens: &[TokenSerial],
    ) -> anyhow::Result<Result<TransferView, ErrorBody>> {
        self.call(
            &paths::fill(paths::PHONE_TRANSFER, &[phone]),
            &StartTransfer {
                fac: fac_address.to_owned(),
                tokens: tokens.to_vec(),
            },
        )
        .await
    }

    /// The newest transfer code FAC `fac` sent (email or SMS), from its outbox: what the user received.
    pub async fn latest_code(&self, fac: &str) -> anyhow::Result<Option<OutboxMessage>> {
        let outbox: Outbox = self
            .client
            .get(
                appliance::NAME,
                &paths::fill(paths::APPLIANCE_OUTBOX, &[fac]),
            )
            .await?;
        Ok(outbox
            .messages
            .into_iter()
            .rev()
            .find(|m| m.kind == MessageKind::TransferCode))
    }

    /// `POST /phones/{id}/transfer/complete` on the new phone ("Complete Token Transfer") with the code as
    /// typed or its QR string: the tokens it installed.
    pub async fn complete(
        &self,
        phone: &str,
        code: &str,
    ) -> anyhow::Result<Result<TransferInstalled, ErrorBody>> {
        self.call(
            &paths::fill(paths::PHONE_TRANSFER_COMPLETE, &[phone]),
            &CompleteTransfer {
                code: code.to_owned(),
            },
        )
        .await
    }

    /// `POST /phones/{id}/transfer/check` on the old phone: how the transfer went; once another phone completed
    /// it, the old phone has removed the tokens.
    pub async fn check(
        &self,
        phone: &str,
        transfer_id: &str,
        tokens: &[TokenSerial],
    ) -> anyhow::Result<Result<TransferView, ErrorBody>> {
        self.call(
            &paths::fill(paths::PHONE_TRANSFER_CHECK, &[phone]),
            &CheckTransfer {
                transfer_id: transfer_id.to_owned(),
                tokens: tokens.to_vec(),
            },
        )
        .await
    }

    /// POSTs to the phone service: the answer decoded, or the phone's refusal.
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<Result<T, ErrorBody>> {
        Ok(self
            .client
            .post(phone::NAME, path, body)
            .await
            .refusal()?
            .map_err(|refusal| refusal.body))
    }
}
