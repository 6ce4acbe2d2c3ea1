//! Which appliance has a hardware token assigned, as forticare (playing TAC) learns it before a lock reset.
//! FortiGuard itself never learns assignments: TAC asks the customer. fortimock asks the virtual appliances
//! it runs, through `protocol::hardware::HardwareAssignments`: the appliance service's hardware table itself
//! in `fortimock up` (set once the appliance service has started, since the services start side by side), or
//! the appliance service's `POST /__ledger/v1/hardware-holders` for `forticare-mock --appliance-url`.

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use lab::flow::InFlow;
use protocol::hardware::{
    HardwareAssignments, HardwareHolder, HardwareHolderQuery, HardwareHolders, HoldersFuture,
};
use protocol::id::HardwareSerial;
use protocol::paths::LEDGER_HARDWARE_HOLDERS;

/// Where forticare asks who has a hardware token assigned; empty until the suite sets it (a forticare that
/// knows no appliance service resets locks without asking: it cannot see real appliances either).
#[derive(Clone, Default)]
pub struct AssignmentDesk(Arc<OnceLock<Arc<dyn HardwareAssignments>>>);

impl AssignmentDesk {
    /// A desk that asks `source` from the start.
    pub fn with(source: Arc<dyn HardwareAssignments>) -> AssignmentDesk {
        let desk = AssignmentDesk::default();
        desk.set(source);
        desk
    }

    /// Sets where to ask; the first source set stays.
    pub fn set(&self, source: Arc<dyn HardwareAssignments>) {
        if self.0.set(source).is_err() {
            tracing::warn!("the hardware assignment source was set twice; the first one stays");
        }
    }

    /// The assignments of `serials`; `Ok(None)` when no appliance service is known.
    pub async fn holders(
        &self,
        serials: &[HardwareSerial],
    ) -> Result<Option<Vec<HardwareHolder>>, String> {
        match self.0.get() {
            Some(source) => source.holders(serials).await.map(Some),
            None => Ok(None),
        }
    }
}

/// The appliance service over HTTP (`forticare-mock --appliance-url`), with the lab's admin token.
pub struct ApplianceLedgerClient {
    http: reqwest::Client,
    base_url: String,
    admin_token: Option<String>,
}

impl ApplianceLedgerClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        admin_token: Option<String>,
    ) -> ApplianceLedgerClient {
        ApplianceLedgerClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            admin_token,
        }
    }

    async fn ask(&self, serials: &[HardwareSerial]) -> anyhow::Result<Vec<HardwareHolder>> {
        let url = format!("{}{LEDGER_HARDWARE_HOLDERS}", self.base_url);
        let mut request = self.http.post(&url).in_flow().json(&HardwareHolderQuery {
            serials: serials.to_vec(),
        });
        if let Some(token) = &self.admin_token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            anyhow::bail!(
                "POST {url} answered {status}: {}",
                body.chars().take(200).collect::<String>()
            );
        }
        Ok(response
            .json::<HardwareHolders>()
            .await
            .with_context(|| format!("decoding the answer of {url}"))?
            .holders)
    }
}

impl HardwareAssignments for ApplianceLedgerClient {
    fn holders<'a>(&'a self, serials: &'a [HardwareSerial]) -> HoldersFuture<'a> {
        Box::pin(async move { self.ask(serials).await.map_err(|e| format!("{e:#}")) })
    }
}
