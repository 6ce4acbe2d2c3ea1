//! phone: fortimock's virtual FortiToken Mobile app. Test suites create virtual phones over HTTP, activate
//! tokens on them against fortimock's provisioning server (ftm) exactly as the real app does, and read the
//! codes the app would show.
//!
//! Each phone has the identity the app presents (platform, `mobile_id`, app version, push registration id)
//! and keeps its tokens the way the Android app keeps them: seeds encrypted under the phone's install UUID,
//! itself encrypted under the phone's id. Time comes from the lab clock, shifted by the phone's own skew.
//!
//! Phones also receive FortiToken Mobile pushes: each registers its push token with the relay, which
//! delivers pushes to the phone's webhook; the phone checks each push's HMAC with the token's seed, keeps
//! it in its inbox, and approves (with the current OTP) or denies it by connecting straight to the
//! appliance's callback address, by hand or by policy.
//!
//! Modules: `device` (identity, defaults and checks, pure), `app_data` (the app's storage scheme, codes and
//! the export, pure), `push_inbox` (reading pushes, the inbox, pure), `provisioning` (the activation
//! request to ftm and its answer), `relay` (push token registration), `store` (its tables on the lab's
//! storage toolkit), `error` (the service's one error type), `routes` (HTTP).
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::path::PathBuf;

use actix_web::web;
use lab::server::{Listen, RunningService};
use lab::tls::{ClientIdentity, LabTls};

pub mod app_data;
pub mod camera;
pub mod device;
pub mod error;
pub mod provisioning;
pub mod push_inbox;
pub mod relay;
mod routes;
pub mod store;
mod transfer;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "phone";

/// Every route this service registers (method and path template), its own listeners' included: the
/// OpenAPI test (`tests/it/openapi.rs`) holds them against the service's document.
pub fn registered_routes() -> Vec<lab::api::RegisteredRoute> {
    lab::server::every_registered_route::<routes::Phones>()
}

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8445;

/// The common name of the client certificate virtual phones present to ftm, as the real app presents one.
pub const CLIENT_CERT_NAME: &str = "FortiToken Mobile (fortimock virtual phone)";

/// How to run the phone service.
pub struct Config {
    pub listen: Listen,
    /// Where the phones live; `None` keeps them in memory.
    pub service_dir: Option<PathBuf>,
    /// ftm's base URL, e.g. `https://127.0.0.1:8443`: the phones' provisioning server.
    pub ftm_url: String,
    /// The client phones call ftm with (trusting the lab CA and, like the real app, presenting a client
    /// certificate).
    pub http: reqwest::Client,
    /// The push relay phones register their push tokens with; `None` for a suite without one.
    pub push_url: Option<String>,
    /// The client phones answer pushes with, straight to appliances' ftm-push listeners (trusting the lab
    /// CA, as the app trusts public CAs).
    pub callbacks: reqwest::Client,
    /// Whether ftm-push listeners speak TLS (they do unless the suite is plain HTTP).
    pub secure_callbacks: bool,
    /// The base URL the push relay reaches this service at, for the phones' webhooks; `None`: the URL it
    /// listens on (which another container cannot reach when it binds every address).
    pub public_url: Option<String>,
}

/// The client certificate virtual phones present to ftm, issued by the lab CA. `None` with plain HTTP, and
/// with a brought-in server certificate, whose CA key fortimock does not have (the phones then present none).
pub fn client_identity(tls: Option<&LabTls>) -> Option<ClientIdentity> {
    match tls?.issue_client_identity(CLIENT_CERT_NAME) {
        Ok(identity) => Some(identity),
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "virtual phones present no client certificate"
            );
            None
        }
    }
}

/// Opens the phone database, starts serving, and registers every phone's push token with the relay (its
/// webhook address changes when the service's port does).
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let dir = config.service_dir.clone();
    let phones = lab::store::open_blocking(move || store::Phones::open(dir.as_deref())).await?;
    let relay = relay::RelayClient::new(config.http.clone(), config.push_url.as_deref());
    let state = web::Data::new(routes::Phones {
        phones,
        clock: config.listen.clock.clone(),
        ftm: provisioning::FtmClient::new(config.http, &config.ftm_url),
        relay,
        callbacks: config.callbacks,
        secure_callbacks: config.secure_callbacks,
        self_url: std::sync::OnceLock::new(),
    });
    let service = lab::server::start(&config.listen, state.clone())?;
    let self_url = config.public_url.map_or_else(
        || service.url().to_owned(),
        |url| url.trim_end_matches('/').to_owned(),
    );
    let _ = state.self_url.set(self_url);
    for phone in state.phones.phones()? {
        state.register(&phone).await;
    }
    Ok(service)
}
