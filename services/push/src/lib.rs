//! push: fortimock's FortiGuard push relay (push.fortinet.com, with APNs and FCM behind it).
//!
//! Appliances post a push for a phone's registration id; the relay delivers it, in arrival order, to the
//! device registered under that id, where the phone picks it up by long-poll (and, if it gave one, at its
//! webhook). A push for an id no device holds is `Unregistered`, as APNs and FCM answer once an app is
//! uninstalled. The relay never reads a push's payload: it has no seed.
//!
//! Modules: `relay` (the checks and refusals, pure), `store` (its tables on the lab's storage toolkit),
//! `webhook` (posting delivered pushes), `error` (the service's one error type), `routes` (HTTP).
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::path::PathBuf;

use actix_web::web;
use anyhow::Context;
use lab::server::{Listen, RunningService};

pub mod error;
pub mod relay;
mod routes;
pub mod store;
pub mod webhook;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "push";

/// Every route this service registers (method and path template), its own listeners' included: the
/// OpenAPI test (`tests/it/openapi.rs`) holds them against the service's document.
pub fn registered_routes() -> Vec<lab::api::RegisteredRoute> {
    lab::server::every_registered_route::<routes::Relay>()
}

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8444;

/// How many push requests the journal keeps by default.
pub const DEFAULT_JOURNAL_CAP: usize = 10_000;

/// How many pushes wait in one device's queue; older ones are dropped.
pub const QUEUE_CAP: usize = 1_000;

/// How to run the relay.
pub struct Config {
    pub listen: Listen,
    /// Where the devices, their queues and the journal live; `None` keeps them in memory.
    pub service_dir: Option<PathBuf>,
    /// The client the relay posts to devices' webhooks with (trusting the lab CA).
    pub http: reqwest::Client,
    /// How many push requests the journal (`/__admin/pushes`) keeps; [`DEFAULT_JOURNAL_CAP`] by default.
    pub journal_cap: usize,
}

/// Opens the relay's database and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let caps = store::Caps {
        journal: config.journal_cap,
        queue: QUEUE_CAP,
    };
    let relays = store::Relays::open(config.service_dir.as_deref(), caps)
        .await
        .context("opening the push relay's database")?;
    let state = web::Data::new(routes::Relay::new(
        relays,
        config.listen.clock.clone(),
        config.http,
    ));
    lab::server::start(&config.listen, state)
}
