//! fortimock for Rust test suites: the whole suite (forticare, ftm, the push relay, virtual phones and
//! appliances) started in-process on free ports, with typed clients for its control plane and simulators.
//!
//! Add it as a dev-dependency (`fortimock-testing = { git = "…", package = "fortimock-testing" }`, or a
//! path), then:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let suite = fortimock_testing::Suite::start().await?;
//! // Point the code under test at these, trusting `suite.ca_pem()`.
//! let ftm = suite.url("ftm");
//! let appliance = suite.client().appliances().create(&Default::default()).await?;
//! let imported = suite
//!     .client()
//!     .appliances()
//!     .import(&appliance.serial.to_string(), "1111-2222-3333-4444-5555")
//!     .await?;
//! assert_eq!(imported.map(|i| i.tokens.len()).ok(), Some(5));
//! # let _ = ftm;
//! # Ok(())
//! # }
//! ```
//!
//! The suite runs on its own thread with its own runtime, so it works under any test runtime; dropping the
//! [`Suite`] stops every service and waits until their stores are closed ([`Suite::stop`] does the same
//! without blocking).
//!
//! Modules: `services` (starting the services together: what `fortimock up` runs), `client` (finding and
//! calling a running suite: [`SuiteClient`]), `typed` (one method per endpoint of the control plane,
//! forticare's licenses, the virtual appliances and phones), `typed_transfer` (forticare's transfer
//! tickets and the certificates they name).

pub mod client;
pub mod services;
pub mod typed;
pub mod typed_transfer;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};
use lab::options::{Lab, LabOptions};
use protocol::ledger::LabFixtures;

pub use client::{Connect, SUITE_FILE, SuiteClient};
pub use services::{ForticareOptions, PortOptions, Services, SuiteUrls};
pub use typed::{Appliances, ControlPlane, JournalFilter, Licenses, Phones};
pub use typed_transfer::TransferTickets;

/// The default lab (`fixtures/lab.json`): its licenses and FortiCare API user, as `fortimock up` loads it.
pub const DEFAULT_LAB: &str = include_str!("../../fixtures/lab.json");

/// The default lab's 5-seat license code, which any appliance may import first.
pub const FIVE_SEAT_CODE: &str = "1111-2222-3333-4444-5555";

/// Every service of the suite, in the order a reset goes through them (the callers first).
pub const RESET_ORDER: [&str; 5] = ["appliance", "phone", "push", "ftm", "forticare"];

/// The default lab, parsed.
pub fn default_lab() -> LabFixtures {
    serde_json::from_str(DEFAULT_LAB).unwrap_or_default()
}

/// The lab options of `fortimock up` at their defaults, whatever `FORTIMOCK_*` variables the test process
/// has (flags added later get their defaults here too), made ephemeral: nothing written to disk.
pub fn default_options() -> LabOptions {
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        lab: LabOptions,
    }
    let command = Defaults::command().mut_args(|arg| arg.env(None));
    let matches = command.get_matches_from(["fortimock-testing"]);
    let mut options = Defaults::from_arg_matches(&matches)
        .expect("clap's defaults of the lab options parse (the CLI test runs clap's debug_assert)")
        .lab;
    options.ephemeral = true;
    options.bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    options
}

/// Where a suite keeps its data.
enum DataDir {
    /// Nothing on disk (`--ephemeral`).
    Ephemeral,
    /// A temporary directory, removed with the suite.
    Temporary,
    /// This directory, kept.
    At(PathBuf),
}

/// How to start a [`Suite`]: `Suite::builder().plain_http().start().await`.
pub struct SuiteBuilder {
    options: LabOptions,
    fixtures: LabFixtures,
    forticare: ForticareOptions,
    data_dir: DataDir,
}

impl SuiteBuilder {
    /// These lab options instead of [`default_options`] (their `data_dir` and `ephemeral` are used unless
    /// [`SuiteBuilder::temporary_data_dir`] or [`SuiteBuilder::data_dir`] is called after).
    pub fn options(mut self, options: LabOptions) -> SuiteBuilder {
        self.data_dir = if options.ephemeral {
            DataDir::Ephemeral
        } else {
            DataDir::At(options.data_dir.clone())
        };
        self.options = options;
        self
    }

    /// Changes the lab options in place.
    pub fn configure(mut self, change: impl FnOnce(&mut LabOptions)) -> SuiteBuilder {
        change(&mut self.options);
        self
    }

    /// Start on these fixtures instead of the default lab.
    pub fn fixtures(mut self, fixtures: LabFixtures) -> SuiteBuilder {
        self.fixtures = fixtures;
        self
    }

    /// forticare's options (the v3 API's rate limits).
    pub fn forticare(mut self, options: ForticareOptions) -> SuiteBuilder {
        self.forticare = options;
        self
    }

    /// Plain HTTP instead of HTTPS.
    pub fn plain_http(self) -> SuiteBuilder {
        self.configure(|options| options.plain_http = true)
    }

    /// Keep the databases, keys and lab CA in a temporary directory (removed when the suite is dropped),
    /// so the CA is a file (`Suite::ca_path`).
    pub fn temporary_data_dir(mut self) -> SuiteBuilder {
        self.data_dir = DataDir::Temporary;
        self
    }

    /// Keep the data in `dir` (created if missing; kept afterwards, so a second suite can start on it).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> SuiteBuilder {
        self.data_dir = DataDir::At(dir.into());
        self
    }

    /// Starts every service on a free port and waits until each answers `/__admin/ready`.
    pub async fn start(self) -> anyhow::Result<Suite> {
        lab::telemetry::init_for_tests();
        let mut options = self.options;
        let temporary = match self.data_dir {
            DataDir::Ephemeral => {
                options.ephemeral = true;
                None
            }
            DataDir::Temporary => {
                let dir = tempfile::tempdir().context("creating a temporary data dir")?;
                options.ephemeral = false;
                options.data_dir = dir.path().to_path_buf();
                Some(dir)
            }
            DataDir::At(dir) => {
                options.ephemeral = false;
                options.data_dir = dir;
                None
            }
        };
        let lab = Arc::new(options.prepare()?);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let runner_lab = lab.clone();
        let (fixtures, forticare) = (self.fixtures, self.forticare);
        let thread = std::thread::Builder::new()
            .name("fortimock-suite".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started_tx.send(Err(anyhow::Error::new(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let lab = runner_lab;
                    let started =
                        Services::start_with(&lab, &PortOptions::any_free(), fixtures, &forticare)
                            .await;
                    let services = match started {
                        Ok(services) => services,
                        Err(e) => {
                            let _ = started_tx.send(Err(e));
                            return;
                        }
                    };
                    let ready = match lab.http_client() {
                        Ok(http) => services.wait_ready(&http).await,
                        Err(e) => Err(e),
                    };
                    let failed = ready.is_err();
                    let _ = started_tx.send(ready.map(|()| services.urls()));
                    if !failed {
                        // Until `stop` or drop (a dropped sender also ends the wait).
                        let _ = stop_rx.await;
                    }
                    services.stop().await;
                    let _ = stopped_tx.send(());
                });
            })
            .context("starting the suite's thread")?;
        let runner = Runner {
            stop: Some(stop_tx),
            stopped: Some(stopped_rx),
            thread: Some(thread),
        };
        let urls = match started_rx.await {
            Ok(Ok(urls)) => urls,
            Ok(Err(e)) => return Err(e),
            Err(_) => anyhow::bail!("the suite's thread ended before the suite started"),
        };
        let client = SuiteClient::new(urls.clone(), lab.ca_pem())?
            .with_admin_token(lab.admin_token().map(|t| t.value.as_str()));
        Ok(Suite {
            lab,
            urls,
            client,
            runner,
            _temporary: temporary,
        })
    }
}

/// A running suite: every service on a free port, in this process. Dropping it stops everything.
pub struct Suite {
    lab: Arc<Lab>,
    urls: SuiteUrls,
    client: SuiteClient,
    runner: Runner,
    /// Declared last: removed after the services stopped.
    _temporary: Option<tempfile::TempDir>,
}

/// The suite's thread: told to stop, it stops every service and says so.
struct Runner {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Option<tokio::sync::oneshot::Receiver<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Suite {
    /// The default lab, HTTPS with a fresh lab CA, nothing on disk, every service on a free port.
    pub async fn start() -> anyhow::Result<Suite> {
        Suite::builder().start().await
    }

    /// A suite to configure before it starts.
    pub fn builder() -> SuiteBuilder {
        SuiteBuilder {
            options: default_options(),
            fixtures: default_lab(),
            forticare: ForticareOptions::default(),
            data_dir: DataDir::Ephemeral,
        }
    }

    /// The base URL of service `name` (`forticare`, `ftm`, `push`, `phone`, `appliance`); panics on an
    /// unknown name.
    pub fn url(&self, name: &str) -> &str {
        self.urls
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no service {name} in the suite"))
    }

    /// Every service's base URL, by name.
    pub fn urls(&self) -> &SuiteUrls {
        &self.urls
    }

    /// The client for the suite's APIs (it trusts the lab CA and sends the admin token).
    pub fn client(&self) -> &SuiteClient {
        &self.client
    }

    /// The plain HTTP client underneath, for requests the typed clients do not make.
    pub fn http(&self) -> &reqwest::Client {
        self.client.http()
    }

    /// The lab the services share (TLS, clock, admin token).
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The lab CA certificate (PEM) a client must trust; `None` over plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.lab.ca_pem()
    }

    /// The lab CA certificate's file, when the suite keeps a data dir.
    pub fn ca_path(&self) -> Option<PathBuf> {
        self.lab
            .tls()
            .and_then(lab::tls::LabTls::ca_path)
            .map(Path::to_path_buf)
    }

    /// The control plane of service `service`.
    pub fn control<'a>(&'a self, service: &'a str) -> ControlPlane<'a> {
        self.client.control(service)
    }

    /// Stops every service and waits until their stores are closed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.runner.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.runner.stopped.take() {
            let _ = stopped.await;
        }
        // The thread ends right after it said so.
        if let Some(thread) = self.runner.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Suite {
    /// Stops every service, blocking until their stores are closed (the suite's own thread does the work).
    fn drop(&mut self) {
        if let Some(stop) = self.runner.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.runner.thread.take() {
            let _ = thread.join();
        }
    }
}
