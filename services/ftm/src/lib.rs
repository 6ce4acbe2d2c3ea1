//! ftm: fortimock's FortiToken Mobile provisioning server (fortitokenmobile.fortinet.com for appliances,
//! globalftm.fortinet.net for phones).
//!
//! Appliances provision tokens by uploading the seeds they generate; ftm escrows each seed under a new
//! activation code and hands it, encrypted for the phone, to the first phone that redeems the code, then
//! forgets it. Appliances poll for activation. ftm is the appliance's single front door: it forwards license
//! import to forticare and asks forticare, over HTTP, which tokens an appliance owns.
//!
//! Modules: `escrow` (the rules, pure), `store` (its tables on the lab's storage toolkit), `codes` (which
//! token each code in escrow belongs to, in memory), `forticare` (the HTTP client to forticare), `error`
//! (the service's one error type), `routes` (HTTP).

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;
use lab::server::{Listen, RunningService};
use protocol::ledger::OwnershipLedger;

mod codes;
pub mod error;
pub mod escrow;
pub mod forticare;
mod routes;
pub mod store;
pub(crate) mod transfer;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "ftm";

/// Every route this service registers (method and path template), its own listeners' included: the
/// OpenAPI test (`tests/it/openapi.rs`) holds them against the service's document.
pub fn registered_routes() -> Vec<lab::api::RegisteredRoute> {
    lab::server::every_registered_route::<routes::Ftm>()
}

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8443;

/// How to run ftm.
pub struct Config {
    pub listen: Listen,
    /// Where the escrow and its key live; `None` keeps both in memory.
    pub service_dir: Option<PathBuf>,
    /// forticare's base URL, e.g. `https://127.0.0.1:8440`.
    pub forticare_url: String,
    /// The client ftm calls forticare with (trusting the lab CA).
    pub http: reqwest::Client,
    /// forticare's ledger in this process, if it runs here (`fortimock up`): ownership questions go to it
    /// directly; `None` asks forticare over HTTP.
    pub ledger: Option<Arc<dyn OwnershipLedger>>,
}

/// Opens the escrow and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let escrow = open_escrow(config.service_dir.clone()).await?;
    serve(config, escrow)
}

/// Opens the escrow in `service_dir` (in memory when `None`), on a blocking thread: a suite opens it while
/// forticare's ledger opens, since neither waits for the other.
pub async fn open_escrow(service_dir: Option<PathBuf>) -> anyhow::Result<store::Escrow> {
    store::Escrow::open(service_dir).await
}

/// Serves ftm on an escrow already open.
pub fn serve(config: Config, escrow: store::Escrow) -> anyhow::Result<RunningService> {
    let forticare = forticare::ForticareClient::new(config.http, &config.forticare_url);
    let ledger = config
        .ledger
        .unwrap_or_else(|| Arc::new(forticare.clone()) as Arc<dyn OwnershipLedger>);
    let state = web::Data::new(routes::Ftm {
        escrow,
        clock: config.listen.clock.clone(),
        forticare,
        ledger,
    });
    lab::server::start(&config.listen, state)
}
