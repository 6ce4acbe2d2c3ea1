//! appliance: fortimock's virtual FortiGate / FortiAuthenticator. It plays the appliance side of every
//! FortiToken Mobile flow against any FortiToken server (fortimock's ftm by default): `import` a license,
//! assign (`provision`) a token to a user with a seed it generates, `poll`, `renew`, `show` its token table,
//! and check users' OTP logins with a window, a replay guard, resynchronization and lockout, printing
//! FortiOS-style debug lines on request so they can be compared with a customer's log.
//!
//! Modules: `fortitoken` (the token table and users, pure), `auth` (the OTP rules, pure), `cloud` (the
//! SoftToken exchange as FortiOS does it), `operations` (each FortiOS operation), `store` (its tables on
//! the lab's storage toolkit), `error` (the service's one error type), `routes` (HTTP). A FortiAuthenticator
//! has more: `token_policy` (its configuration and HOTP windows, pure), `fac_store` (its tables), `offline`
//! (offline activation), `agent` (Windows agent offline support and emergency codes), `fac_messages` (the
//! outbox its emails and SMS go through) and `fac_api` (its REST API at `/api/v1/`, by host name).

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;
use lab::server::{Listen, RunningService};

pub mod agent;
pub mod auth;
pub mod cloud;
pub mod error;
pub mod fac_api;
pub mod fac_messages;
pub mod fac_store;
pub mod fortitoken;
pub mod ftm_push;
pub mod offline;
pub mod operations;
mod routes;
pub mod store;
pub mod token_policy;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "appliance";

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8446;

/// How to run the appliance service.
pub struct Config {
    pub listen: Listen,
    /// Where appliances, tokens and users live; `None` keeps them in memory.
    pub service_dir: Option<PathBuf>,
    /// The FortiToken server appliances talk to unless created with another `ftm_url`.
    pub default_ftm_url: String,
    /// The client appliances reach the FortiToken server and the push relay with (trusting the lab CA).
    pub http: reqwest::Client,
    /// The push relay appliances send pushes to unless created with another `relay_url`.
    pub default_push_url: String,
    /// The certificates ftm-push listeners present; `None` with plain HTTP.
    pub listener_tls: Option<ftm_push::ListenerTls>,
    /// The address pushes tell phones to answer at unless set per appliance (`config system ftm-push`
    /// `server`); `None`: the service's bind address, or loopback when it binds every address.
    pub default_push_server: Option<String>,
}

/// Opens the store, starts serving, and starts the ftm-push listener of every appliance that has push on.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let dir = config.service_dir.clone();
    let store = lab::store::open_blocking(move || store::Fleet::open(dir.as_deref())).await?;
    let push = Arc::new(ftm_push::PushContext {
        store,
        clock: config.listen.clock.clone(),
        http: config.http,
        sessions: ftm_push::PushSessions::new(config.listen.clock.clone()),
        listeners: ftm_push::Listeners::default(),
        tls: config.listener_tls,
        bind: config.listen.bind.ip(),
        limits: config.listen.limits,
    });
    let state = web::Data::new(routes::Appliances::new(
        push.clone(),
        config.default_ftm_url,
        config.default_push_url,
        config.default_push_server,
    ));
    let service = lab::server::start(&config.listen, state)?;
    for appliance in push.store.appliances()?.iter().filter(|a| a.push.status) {
        if let Err(e) = ftm_push::apply_listener(&push, appliance).await {
            tracing::warn!(appliance = %appliance.serial, error = format!("{e:#}"), "ftm-push listener not started");
        }
    }
    let listeners = Arc::downgrade(&push);
    let service = service.before_stop(Box::new(move || {
        Box::pin(async move {
            if let Some(push) = listeners.upgrade() {
                push.listeners.stop_all().await;
            }
        })
    }));
    Ok(service)
}
