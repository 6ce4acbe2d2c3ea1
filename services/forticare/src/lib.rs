//! forticare: fortimock's FortiCare license service. It keeps the license ledger (licenses, their
//! activation codes and tokens, and the appliance and HA cluster each is registered to) and answers
//! `SoftToken.ActivationLicenseRequest`, the message FortiOS sends for `execute fortitoken-mobile import`.
//!
//! Modules: `ledger` (the rules, pure), `store` (the only module that touches sled), `routes` (HTTP).
//! `start` opens the store, loads fixtures and starts serving; the `forticare-mock` binary and
//! `fortimock up` both call it.

use std::path::PathBuf;

use actix_web::web;
use anyhow::Context;
use lab::server::{Listen, RunningService};
use protocol::ledger::LicenseSpec;

pub mod ledger;
mod routes;
pub mod store;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "forticare";

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8440;

/// How to run forticare.
pub struct Config {
    pub listen: Listen,
    /// Where the ledger lives (`<dir>/db`); `None` keeps it in temporary storage.
    pub service_dir: Option<PathBuf>,
    /// Licenses to create at start if they do not exist yet.
    pub fixtures: Vec<LicenseSpec>,
}

/// Opens the ledger, loads the fixtures and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let store =
        store::Store::open(config.service_dir.as_deref()).context("opening the license ledger")?;
    let clock = config.listen.clock.clone();
    let created = store
        .load_fixtures(&config.fixtures, clock.now())
        .await
        .context("loading fixtures")?;
    if created > 0 {
        tracing::info!(service = NAME, created, "fixture licenses created");
    }
    let state = web::Data::new(routes::Forticare {
        store,
        clock,
        fixtures: config.fixtures,
    });
    let served = state.clone();
    let service = lab::server::start(NAME, &config.listen, move |cfg| {
        routes::configure(cfg, served.clone())
    })?;
    Ok(service.releases(&state))
}
