//! forticare as ftm sees it over HTTP: the ledger it asks who owns which token (when forticare runs in
//! another process; in one process ftm asks the ledger itself through the same `OwnershipLedger`), and the
//! service it forwards the appliance messages it does not handle itself to (so an appliance needs one
//! address). ftm never links the forticare crate.

use anyhow::Context;
use lab::flow::InFlow;
use protocol::ledger::{OwnershipAnswer, OwnershipLedger, OwnershipQuery};
use protocol::paths::{LEDGER_OWNERSHIP, PROCESS};

/// An HTTP client for one forticare service.
#[derive(Clone)]
pub struct ForticareClient {
    http: reqwest::Client,
    base_url: String,
}

/// forticare's answer to a forwarded SoftToken request, passed back to the appliance unchanged.
pub struct Forwarded {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ForticareClient {
    pub fn new(http: reqwest::Client, base_url: &str) -> ForticareClient {
        ForticareClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Which of `query.tokens` the querying cluster may use.
    pub async fn ask_ownership(&self, query: &OwnershipQuery) -> anyhow::Result<OwnershipAnswer> {
        let url = format!("{}{LEDGER_OWNERSHIP}", self.base_url);
        let response = self
            .http
            .post(&url)
            .in_flow()
            .json(query)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            anyhow::bail!("POST {url} answered {status}: {body}");
        }
        response
            .json()
            .await
            .with_context(|| format!("decoding the answer of {url}"))
    }

    /// Posts a SoftToken body to forticare's front door as it came.
    pub async fn forward(&self, body: Vec<u8>) -> anyhow::Result<Forwarded> {
        let url = format!("{}{PROCESS}", self.base_url);
        let response = self
            .http
            .post(&url)
            .in_flow()
            .header("content-type", "application/json;charset=utf-8")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| matches!(name.as_str(), "content-type" | "jsonerror"))
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer of {url}"))?
            .to_vec();
        Ok(Forwarded {
            status,
            headers,
            body,
        })
    }
}

/// forticare's ledger over HTTP, for an ftm that runs on its own (`ftm-mock`).
impl OwnershipLedger for ForticareClient {
    fn ownership<'a>(&'a self, query: &'a OwnershipQuery) -> protocol::ledger::OwnershipFuture<'a> {
        Box::pin(async move {
            self.ask_ownership(query)
                .await
                .map_err(|e| format!("{e:#}"))
        })
    }
}
