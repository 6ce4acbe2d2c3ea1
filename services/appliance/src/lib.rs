//! appliance: fortimock's virtual FortiGate / FortiAuthenticator. It plays the appliance side of every
//! FortiToken Mobile flow against any FortiToken server (fortimock's ftm by default): `import` a license,
//! assign (`provision`) a token to a user with a seed it generates, `poll`, `renew`, `show` its token table,
//! and check users' OTP logins with a window, a replay guard, resynchronization and lockout, printing
//! FortiOS-style debug lines on request so they can be compared with a customer's log.
//!
//! Modules: `fortitoken` (the token table and users, pure), `auth` (the OTP rules, pure), `cloud` (the
//! SoftToken exchange as FortiOS does it), `operations` (each FortiOS operation), `store` (the only module
//! that touches sled), `routes` (HTTP).

use std::path::PathBuf;

use actix_web::web;
use anyhow::Context;
use lab::server::{Listen, RunningService};

pub mod auth;
pub mod cloud;
pub mod fortitoken;
pub mod operations;
mod routes;
pub mod store;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "appliance";

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8446;

/// How to run the appliance service.
pub struct Config {
    pub listen: Listen,
    /// Where appliances, tokens and users live; `None` keeps them in temporary storage.
    pub service_dir: Option<PathBuf>,
    /// The FortiToken server appliances talk to unless created with another `ftm_url`.
    pub default_ftm_url: String,
    /// The client appliances reach the FortiToken server with (trusting the lab CA).
    pub http: reqwest::Client,
}

/// Opens the store and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let store =
        store::Store::open(config.service_dir.as_deref()).context("opening the appliance store")?;
    let state = web::Data::new(routes::Appliances::new(
        store,
        config.listen.clock.clone(),
        config.http,
        config.default_ftm_url,
    ));
    let served = state.clone();
    let service = lab::server::start(NAME, &config.listen, move |cfg| {
        routes::configure(cfg, served.clone())
    })?;
    Ok(service.releases(&state))
}
