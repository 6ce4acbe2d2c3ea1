//! Typed client for Customer Service's license transfer on forticare: the tickets (`/__admin/transfers`)
//! and the redemption certificate each ticket names, one method per endpoint, each answer decoded into its
//! `protocol::ledger` type. `fortimock transfer` calls forticare through these, as other projects' tests
//! may.

use anyhow::Context;
use protocol::ledger::{TransferList, TransferRequest, TransferTicket};
use protocol::paths;

use crate::client::SuiteClient;

impl SuiteClient {
    /// forticare's transfer tickets (`/__admin/transfers`).
    pub fn transfer_tickets(&self) -> TransferTickets<'_> {
        TransferTickets { client: self }
    }
}

/// Customer Service's "License Transfer" tickets.
pub struct TransferTickets<'a> {
    client: &'a SuiteClient,
}

impl TransferTickets<'_> {
    /// `POST /__admin/transfers`: opens and completes a ticket; the refusal (`forticare.transfer.*`, with
    /// its sentence) is the error.
    pub async fn open(&self, request: &TransferRequest) -> anyhow::Result<TransferTicket> {
        self.client
            .post(forticare::NAME, paths::ADMIN_TRANSFERS, request)
            .await
    }

    /// `GET /__admin/transfers`: every ticket, oldest first.
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

    /// The redemption certificate a ticket names (its `certificate` URL): the PDF's bytes.
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
