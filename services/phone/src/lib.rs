//! phone: fortimock's virtual FortiToken Mobile app. Test suites create virtual phones over HTTP, activate
//! tokens on them against fortimock's provisioning server (ftm) exactly as the real app does, and read the
//! codes the app would show.
//!
//! Each phone has the identity the app presents (platform, `mobile_id`, app version, push registration id)
//! and keeps its tokens the way the Android app keeps them: seeds encrypted under the phone's install UUID,
//! itself encrypted under the phone's id. Time comes from the lab clock, shifted by the phone's own skew.
//!
//! Modules: `device` (identity, defaults and checks, pure), `app_data` (the app's storage scheme, codes and
//! the export, pure), `provisioning` (the activation request to ftm and its answer), `store` (the only
//! module that touches sled), `routes` (HTTP).
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::path::PathBuf;

use actix_web::web;
use anyhow::Context;
use lab::server::{Listen, RunningService};
use lab::tls::{ClientIdentity, LabTls};

pub mod app_data;
pub mod device;
pub mod provisioning;
mod routes;
pub mod store;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "phone";

/// The default port in `fortimock up`.
pub const DEFAULT_PORT: u16 = 8445;

/// The common name of the client certificate virtual phones present to ftm, as the real app presents one.
pub const CLIENT_CERT_NAME: &str = "FortiToken Mobile (fortimock virtual phone)";

/// How to run the phone service.
pub struct Config {
    pub listen: Listen,
    /// Where the phones live; `None` keeps them in temporary storage.
    pub service_dir: Option<PathBuf>,
    /// ftm's base URL, e.g. `https://127.0.0.1:8443`: the phones' provisioning server.
    pub ftm_url: String,
    /// The client phones call ftm with (trusting the lab CA and, like the real app, presenting a client
    /// certificate).
    pub http: reqwest::Client,
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

/// Opens the phone database and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let store = store::Store::open(config.service_dir.as_deref())
        .context("opening the virtual phones' database")?;
    let state = web::Data::new(routes::Phones {
        store,
        clock: config.listen.clock.clone(),
        ftm: provisioning::FtmClient::new(config.http, &config.ftm_url),
    });
    let served = state.clone();
    let service = lab::server::start(NAME, &config.listen, move |cfg| {
        routes::configure(cfg, served.clone())
    })?;
    Ok(service.releases(&state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab::clock::Clock;
    use lab::server::Transport;
    use protocol::time::UnixTime;
    use serde_json::{Value, json};

    #[tokio::test]
    async fn an_unreachable_provisioning_server_is_a_502_and_stores_nothing() {
        // A port that was just free: nothing listens there.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let http = lab::client::http_client(None, None).unwrap();
        let service = start(Config {
            listen: Listen {
                bind: "127.0.0.1:0".parse().unwrap(),
                transport: Transport::Plain,
                clock: Clock::frozen_at(UnixTime::from_secs(1_700_000_000)),
                workers: 1,
                admin_token: None,
                ca_pem: None,
            },
            service_dir: None,
            ftm_url: format!("http://{closed}"),
            http: http.clone(),
        })
        .await
        .unwrap();
        let base = service.url().to_owned();
        let created = http
            .post(format!("{base}/phones"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let response = http
            .post(format!("{base}/phones/phone-1/activate"))
            .json(&json!({"code": "EEIOHIDHBXN5QLXV"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 502);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_id"], "phone.ftm-unreachable", "{body}");
        let phone: Value = http
            .get(format!("{base}/phones/phone-1"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(phone["tokens"], json!([]));
        service.stop().await;
    }
}
