//! forticare: fortimock's FortiCare license service. It keeps the license ledger (licenses, their
//! activation codes and tokens, and the appliance and HA cluster each is registered to) and answers
//! `SoftToken.ActivationLicenseRequest`, the message FortiOS sends for `execute fortitoken-mobile import`.
//!
//! It also plays FortiCare's Customer Service (license transfer tickets and the redemption certificate PDF)
//! and serves FortiCare's asset-management API (v3) customers' scripts use, on the same ledger.
//!
//! As FortiGuard's token service (`update.fortiguard.net`) it holds hardware token batches: their sealed
//! seeds, the one-time activation lock, TAC's reset, and their seed files.
//!
//! Modules: `hardware_tokens` (hardware token rules and seed files, pure), `hardware_store` (their tables),
//! `assignments` (which appliance has a hardware token assigned, asked before TAC's lock reset),
//! `ledger` (the rules, pure), `transfer` (transfer tickets' rules, pure), `v3` (the v3 API's
//! rules, pure), `store` (the tables on the lab's storage toolkit, the licenses and tickets), `accounts`
//! (API users, tokens and products), `certificate` (the PDF), `rate_limits` (the v3 API's limits), `error`
//! (the service's one error type), `routes` and `v3_routes` (HTTP). `start` opens the ledger, loads
//! fixtures and starts serving; the `forticare-mock` binary and `fortimock up` both call it.

use std::path::PathBuf;

use actix_web::web;
use anyhow::Context;
use lab::server::{Listen, RunningService};
use protocol::ledger::LabFixtures;

pub mod accounts;
pub mod assignments;
pub mod certificate;
pub mod error;
mod hardware_routes;
pub mod hardware_store;
pub mod hardware_tokens;
pub mod ledger;
pub mod rate_limits;
mod routes;
pub mod store;
pub mod transfer;
pub mod v3;
mod v3_routes;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "forticare";

/// Every route this service registers (method and path template), its own listeners' included: the
/// OpenAPI test (`tests/it/openapi.rs`) holds them against the service's document.
pub fn registered_routes() -> Vec<lab::api::RegisteredRoute> {
    lab::server::every_registered_route::<routes::Forticare>()
}

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8440;

/// How to run forticare.
pub struct Config {
    pub listen: Listen,
    /// Where the ledger lives; `None` keeps it in memory.
    pub service_dir: Option<PathBuf>,
    /// Licenses and API users to create at start if they do not exist yet.
    pub fixtures: LabFixtures,
    /// Enforce the v3 API's documented rate limits (`--forticare-rate-limits`).
    pub rate_limits: bool,
    /// Where TAC's lock reset asks which appliance has a hardware token assigned (`fortimock up` sets it to
    /// the appliance service once that has started; `forticare-mock --appliance-url` asks over HTTP).
    pub assignments: assignments::AssignmentDesk,
}

/// A running forticare: the service, and its ledger on the lab clock (which ftm may ask in-process).
pub struct Started {
    pub service: RunningService,
    pub ledger: store::LedgerOnClock,
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
        tracing::debug!(
            service = NAME,
            created,
            "fixture licenses and API users created"
        );
    }
    let on_clock = store::LedgerOnClock {
        ledger: ledger.clone(),
        clock: clock.clone(),
    };
    let hardware = hardware_store::HardwareVault::open(ledger.store().clone())?;
    if hardware.batches()?.is_empty() {
        let batches = hardware
            .load_fixtures(&config.fixtures.hardware_tokens, clock.now())
            .await
            .context("creating the fixture hardware token batches")?;
        if batches > 0 {
            tracing::info!(
                service = NAME,
                batches,
                "fixture hardware token batches created"
            );
        }
    }
    let state = web::Data::new(routes::Forticare {
        hardware,
        ledger,
        clock,
        fixtures: config.fixtures,
        limits: rate_limits::RateLimits::new(config.rate_limits),
        assignments: config.assignments,
        base_url: std::sync::OnceLock::new(),
    });
    let service = lab::server::start(&config.listen, state.clone())?;
    // Known once the socket is bound (port 0 included): transfer tickets name their certificate by it.
    let _ = state.base_url.set(service.url().to_owned());
    Ok(Started {
        service,
        ledger: on_clock,
    })
}
