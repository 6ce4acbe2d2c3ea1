//! appliance: fortimock's virtual FortiGate / FortiAuthenticator. It plays the appliance side of every
//! FortiToken Mobile flow against any FortiToken server (fortimock's ftm by default): `import` a license,
//! assign (`provision`) a token to a user with a seed it generates, `poll`, `renew`, `show` its token table,
//! and check users' OTP logins with a window, a replay guard, resynchronization and lockout, printing
//! FortiOS-style debug lines on request so they can be compared with a customer's log.
//!
//! It also plays FortiPAM and FortiProxy (`kinds`), holds hardware FortiTokens (activated by serial against
//! FortiGuard's token service, or imported offline from a seed file), and delivers activation codes the way
//! users get them: email over SMTP to the suite's SMTP listener (`mail`), SMS to the SMS sink, both captured
//! under `/__admin/messages`.
//!
//! Modules: `fortitoken` (the token table and users, pure), `auth` (the OTP rules, pure), `cloud` (the
//! SoftToken exchange as FortiOS does it), `operations` (each FortiOS operation), `store` (its tables on
//! the lab's storage toolkit), `error` (the service's one error type), `routes` (HTTP). A FortiAuthenticator
//! has more: `token_policy` (its configuration and HOTP windows, pure), `fac_store` (its tables), `offline`
//! (offline activation), `agent` (Windows agent offline support and emergency codes), `fac_messages` (the
//! outbox its emails and SMS go through) and `fac_api` (its REST API at `/api/v1/`, by host name). Every
//! kind has `kinds` (the
//! appliance kinds' rules, pure), `hardware` (hardware tokens in the table, pure), `hardware_ops` (their
//! operations), `hardware_store` (their tables and the appliances' profiles), `seed_file` (the seed file's
//! offline import), `delivery` (sending an activation message: MIME email over SMTP, SMS), `qr_image` (the
//! email's QR code PNG), `mail` (the SMTP listener), `messages` (the captured messages), `hardware_routes`
//! (HTTP for all of these).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;
use lab::server::{Listen, RunningService};
use protocol::messages::MessagingSettings;

pub mod agent;
pub mod auth;
pub mod cloud;
pub mod delivery;
pub mod error;
pub mod fac_api;
pub mod fac_messages;
pub mod fac_store;
pub mod fortitoken;
pub mod ftm_push;
pub mod hardware;
pub mod hardware_ops;
mod hardware_routes;
pub mod hardware_store;
pub mod kinds;
pub mod mail;
pub mod messages;
pub mod offline;
pub mod operations;
pub mod qr_image;
mod routes;
pub mod seed_file;
pub mod store;
pub mod token_policy;

/// The service's name: its `--ready-file` key, its data-dir subfolder and its log tag.
pub const NAME: &str = "appliance";

/// Every route this service registers (method and path template), its own listeners' included: the
/// OpenAPI test (`tests/it/openapi.rs`) holds them against the service's document.
pub fn registered_routes() -> Vec<lab::api::RegisteredRoute> {
    lab::server::every_registered_route::<routes::Appliances>()
}

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
    /// FortiGuard's token service appliances activate hardware tokens with unless told otherwise (the
    /// suite's forticare, as `update.fortiguard.net`).
    pub default_fortiguard_url: String,
    /// The SMTP listener the service runs (`notification.fortinet.net`), its socket bound ahead; `None`
    /// runs none (the appliances then deliver to whatever their messaging settings name).
    pub smtp: Option<std::net::TcpListener>,
    /// The lab CA, which the appliances' SMTP client trusts for STARTTLS (`None`: plain SMTP).
    pub lab_ca_pem: Option<String>,
    /// How the appliances' SMTP client resolves its mail server's name (`--resolver`, as `http` does).
    pub resolver: lab::client::HostResolver,
    /// The FortiAuthenticators the lab declares (`LabFixtures::fortiauthenticators`): created at start when
    /// missing, and again on reset.
    pub fixtures: Vec<protocol::fac_admin::FacFixture>,
}

/// The default SMTP port of `fortimock up` (`--smtp-port`).
pub const DEFAULT_SMTP_PORT: u16 = 8025;

/// A running appliance service: the service, and its hardware table as forticare (TAC) may ask it
/// in-process which appliance has a hardware token assigned.
pub struct Started {
    pub service: RunningService,
    pub assignments: Arc<dyn protocol::hardware::HardwareAssignments>,
}

/// Opens the store, starts serving, and starts the ftm-push listener of every appliance that has push on.
pub async fn start(config: Config) -> anyhow::Result<Started> {
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
        connections: lab::server::Connections::default(),
        recorders: config.listen.recorders.clone(),
        suite_relay_url: config.default_push_url,
    });
    let loopback = |ip: IpAddr| match ip {
        IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(ip) if ip.is_unspecified() => "::1".to_owned(),
        ip => ip.to_string(),
    };
    let smtp_addr = match &config.smtp {
        Some(listener) => Some(listener.local_addr()?),
        None => None,
    };
    let tls = match &config.listen.transport {
        lab::server::Transport::Https(server) => Some(server.clone()),
        lab::server::Transport::Plain => None,
    };
    let messaging = MessagingSettings {
        smtp_server: smtp_addr.map_or_else(|| "127.0.0.1".to_owned(), |a| loopback(a.ip())),
        smtp_port: smtp_addr.map_or(DEFAULT_SMTP_PORT, |a| a.port()),
        smtp_security: if tls.is_some() { "starttls" } else { "none" }.to_owned(),
        sender: protocol::modeled::ACTIVATION_SENDER.to_owned(),
        sms_gateway: format!("{}{}", config.listen.url(), protocol::paths::SMS_GATEWAY),
    };
    let outbox = delivery::Outbox {
        http: push.http.clone(),
        lab_ca_pem: config.lab_ca_pem.map(Arc::new),
        resolver: config.resolver,
    };
    let mut appliances = routes::Appliances::new(
        push.clone(),
        config.default_ftm_url,
        config.default_push_server,
        routes::ProfileDefaults {
            fortiguard_url: config.default_fortiguard_url,
            messaging,
        },
        outbox,
    );
    appliances.fixtures = config.fixtures;
    fac_api::fixtures::load(&appliances)
        .await
        .map_err(|e| anyhow::anyhow!("the lab's FortiAuthenticator fixtures: {e}"))?;
    let state = web::Data::new(appliances);
    let mailbox = state.mailbox.clone();
    let assignments = Arc::new(push.store.hardware());
    let service = lab::server::start(&config.listen, state)?;
    let mail = match config.smtp {
        Some(listener) => {
            let started = mail::start(
                mail::MailConfig {
                    listener,
                    tls,
                    name: "notification.fortinet.net".to_owned(),
                    max_sessions: config.listen.limits.max_connections,
                },
                mailbox,
                config.listen.clock.clone(),
                service.scenarios().cloned(),
            );
            match started {
                Ok(mail) => Some(mail),
                Err(e) => {
                    service.stop().await;
                    return Err(e.context("starting the SMTP listener"));
                }
            }
        }
        None => None,
    };
    for appliance in push.store.appliances()?.iter().filter(|a| a.push.status) {
        if let Err(e) = ftm_push::apply_listener(&push, appliance).await {
            tracing::warn!(appliance = %appliance.serial, error = format!("{e:#}"), "ftm-push listener not started");
        }
    }
    let listeners = Arc::downgrade(&push);
    let service = service.before_stop(Box::new(move || {
        Box::pin(async move {
            if let Some(mail) = mail {
                mail.stop().await;
            }
            if let Some(push) = listeners.upgrade() {
                push.listeners.stop_all().await;
            }
        })
    }));
    Ok(Started {
        service,
        assignments,
    })
}
