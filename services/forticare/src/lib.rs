//! forticare: fortimock's FortiCare license service. It keeps the license ledger (licenses, their
//! activation codes and tokens, and the appliance and HA cluster each is registered to) and answers
//! `SoftToken.ActivationLicenseRequest`, the message FortiOS sends for `execute fortitoken-mobile import`.
//!
//! Modules: `ledger` (the rules, pure), `store` (its tables on the lab's storage toolkit), `error` (the
//! service's one error type), `routes` (HTTP). `start` opens the ledger, loads fixtures and starts
//! serving; the `forticare-mock` binary and `fortimock up` both call it.

use std::path::PathBuf;

use actix_web::web;
use anyhow::Context;
use lab::server::{Listen, RunningService};
use protocol::ledger::LicenseSpec;

pub mod error;
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
    /// Where the ledger lives; `None` keeps it in memory.
    pub service_dir: Option<PathBuf>,
    /// Licenses to create at start if they do not exist yet.
    pub fixtures: Vec<LicenseSpec>,
}

/// A running forticare: the service, and its ledger (which ftm may ask in-process).
pub struct Started {
    pub service: RunningService,
    pub ledger: store::Ledger,
}

/// Opens the ledger, loads the fixtures and starts serving.
pub async fn start(config: Config) -> anyhow::Result<Started> {
    let dir = config.service_dir.clone();
    let ledger = lab::store::open_blocking(move || store::Ledger::open(dir.as_deref())).await?;
    let clock = config.listen.clock.clone();
    let created = ledger
        .load_fixtures(config.fixtures.clone(), clock.now())
        .await
        .context("loading fixtures")?;
    if created > 0 {
        tracing::info!(service = NAME, created, "fixture licenses created");
    }
    let state = web::Data::new(routes::Forticare {
        ledger: ledger.clone(),
        clock,
        fixtures: config.fixtures,
    });
    let service = lab::server::start(&config.listen, state)?;
    Ok(Started { service, ledger })
}
