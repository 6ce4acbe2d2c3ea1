//! ftm: fortimock's FortiToken Mobile provisioning server (fortitokenmobile.fortinet.com for appliances,
//! globalftm.fortinet.net for phones).
//!
//! Appliances provision tokens by uploading the seeds they generate; ftm escrows each seed under a new
//! activation code and hands it, encrypted for the phone, to the first phone that redeems the code, then
//! forgets it. Appliances poll for activation. ftm is the appliance's single front door: it forwards license
//! import to forticare and asks forticare, over HTTP, which tokens an appliance owns.
//!
//! Modules: `escrow` (the rules, pure), `store` (the only module that touches sled), `forticare` (the HTTP
//! client to forticare), `routes` (HTTP).

use std::path::PathBuf;

use actix_web::web;
use anyhow::Context;
use lab::server::{Listen, RunningService};

pub mod escrow;
pub mod forticare;
mod routes;
pub mod store;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "ftm";

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8443;

/// How to run ftm.
pub struct Config {
    pub listen: Listen,
    /// Where the escrow and its key live; `None` keeps both in temporary storage.
    pub service_dir: Option<PathBuf>,
    /// forticare's base URL, e.g. `https://127.0.0.1:8440`.
    pub forticare_url: String,
    /// The client ftm calls forticare with (trusting the lab CA).
    pub http: reqwest::Client,
}

/// Opens the escrow and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let store =
        store::Store::open(config.service_dir.as_deref()).context("opening the seed escrow")?;
    let state = web::Data::new(routes::Ftm {
        store,
        clock: config.listen.clock.clone(),
        forticare: forticare::ForticareClient::new(config.http, &config.forticare_url),
    });
    let served = state.clone();
    let service = lab::server::start(NAME, &config.listen, move |cfg| {
        routes::configure(cfg, served.clone())
    })?;
    Ok(service.releases(&state))
}
