//! The support engineer's dashboard (`fortimock up --ui-port`, default 8447): one server-rendered page of
//! the whole lab (licenses and owners, transfer tickets, each appliance's tokens, ftm's escrow, the phones
//! with their live codes, pushes, armed scenarios, the clock) and the journal live, and the timeline view
//! (`/timeline`: the flows, one drawn as a sequence diagram).
//!
//! The dashboard holds no privilege of its own. Every page is rendered from the services' guarded admin APIs
//! called with the admin token the browser presents (a cookie set by the login form, or
//! `Authorization: Bearer`), and every action the page takes is forwarded to the same APIs with that same
//! token (`/api/{service}/...`): the services' guard decides, exactly as for the CLI and scripts. Seeds never
//! reach a page: the APIs never show them, and whatever the dashboard renders is passed through the journal's
//! redaction first.
//!
//! - `routes.rs`: the handlers (page, login, events, assets, state export and import, the pass-through).
//! - `lab_view.rs`: what the page shows, gathered from the services' APIs in one go.
//! - `page.rs`: the HTML (maud: every value escaped); `sequence.rs`: the timeline view, one flow drawn as
//!   an SVG sequence diagram rendered on the server.
//! - `replay_page.rs`: the replay page (`/replay`): a pasted FortiOS debug log replayed against the lab, as
//!   `fortimock replay` does, and its captured errors armed.
//! - `session.rs`: the admin token the browser presents, and its cookie.
//! - `assets/`: the page's own script and style, compiled into the binary (no CDN, no internet).

mod error;
mod lab_view;
mod page;
mod replay_page;
mod routes;
mod sequence;
mod session;

use actix_web::web;
use lab::server::{Listen, RunningService};

use crate::client::SuiteClient;
use crate::suite::SuiteUrls;

/// The dashboard's default port.
pub const DEFAULT_PORT: u16 = 8447;

/// The dashboard's name in logs and the banner.
pub const NAME: &str = "dashboard";

/// What the dashboard needs: where to listen, and the services it shows.
pub struct Config {
    pub listen: Listen,
    /// Each service's base URL, by name (the suite's).
    pub urls: SuiteUrls,
    /// The client the dashboard calls the services with (trusting the lab CA).
    pub http: reqwest::Client,
}

/// The dashboard's shared state: a client for the suite, without a token (each request brings its own).
#[derive(Clone)]
struct Dashboard {
    suite: SuiteClient,
    http: reqwest::Client,
    /// Whether the dashboard is served over HTTPS (its cookie is then `Secure`).
    secure: bool,
}

/// Starts the dashboard on `config.listen`.
pub fn start(config: Config) -> anyhow::Result<RunningService> {
    let secure = config.listen.url().starts_with("https://");
    let dashboard = web::Data::new(Dashboard {
        suite: SuiteClient::with_http(config.http.clone(), config.urls),
        http: config.http,
        secure,
    });
    lab::server::start_endpoint(NAME, &config.listen, move |api| {
        api.app_data(dashboard.clone());
        routes::configure(api);
        replay_page::configure(api);
    })
}

/// Starts the dashboard for the suite at `urls` on `port` (0 picks a free one), on the lab's TLS and bind
/// address.
pub fn start_for_suite(
    lab: &lab::options::Lab,
    urls: SuiteUrls,
    port: u16,
) -> anyhow::Result<RunningService> {
    let mut listen = lab.listen(NAME, port)?;
    // The page's actions pass a flow on to the services, which record them; the page's own requests stay
    // off the timeline.
    listen.recorders = lab.recorders().unrecorded();
    // One person's browser: one worker (its handlers wait on the services, they do not compute), which is
    // one application fewer to build at every start.
    listen.workers = 1;
    start(Config {
        listen,
        urls,
        http: lab.http_client()?,
    })
}
