//! Every fortimock service in one process, sharing one clock and one lab CA: what `fortimock up` runs, and
//! what [`crate::Suite`] starts on port 0 for tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use lab::options::Lab;
use lab::server::RunningService;
use protocol::admin::ServiceStatus;
use protocol::ledger::{LabFixtures, OwnershipLedger};

/// Per-service ports (0 picks a free one), each also an environment variable.
#[derive(clap::Args, Debug, Clone)]
pub struct PortOptions {
    /// Port of the FortiCare license service.
    #[arg(long, env = "FORTIMOCK_FORTICARE_PORT", default_value_t = forticare::DEFAULT_PORT)]
    pub forticare_port: u16,
    /// Port of the FTM provisioning server (the appliances' and phones' front door).
    #[arg(long, env = "FORTIMOCK_FTM_PORT", default_value_t = ftm::DEFAULT_PORT)]
    pub ftm_port: u16,
    /// Port of the FortiGuard push relay (push.fortinet.com).
    #[arg(long, env = "FORTIMOCK_PUSH_PORT", default_value_t = push::DEFAULT_PORT)]
    pub push_port: u16,
    /// Port of the virtual FortiToken Mobile phones.
    #[arg(long, env = "FORTIMOCK_PHONE_PORT", default_value_t = phone::DEFAULT_PORT)]
    pub phone_port: u16,
    /// Port of the virtual FortiGates / FortiAuthenticators.
    #[arg(long, env = "FORTIMOCK_APPLIANCE_PORT", default_value_t = appliance::DEFAULT_PORT)]
    pub appliance_port: u16,
    /// Port of the SMTP listener that captures the appliances' activation emails
    /// (`notification.fortinet.net`, STARTTLS with the lab certificate).
    #[arg(long, env = "FORTIMOCK_SMTP_PORT", default_value_t = appliance::DEFAULT_SMTP_PORT)]
    pub smtp_port: u16,
}

/// The `fortimock up` flags that put every service on a port the system picks (for tests and the bench).
pub const FREE_PORT_ARGS: [&str; 14] = [
    "--forticare-port",
    "0",
    "--ftm-port",
    "0",
    "--push-port",
    "0",
    "--phone-port",
    "0",
    "--appliance-port",
    "0",
    "--ui-port",
    "0",
    "--smtp-port",
    "0",
];

impl PortOptions {
    /// Every service on a free port, for tests.
    pub fn any_free() -> PortOptions {
        PortOptions {
            forticare_port: 0,
            ftm_port: 0,
            push_port: 0,
            phone_port: 0,
            appliance_port: 0,
            smtp_port: 0,
        }
    }
}

/// forticare's options in `fortimock up`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ForticareOptions {
    /// Enforce the FortiCare asset-management API's documented limits: per API user 100 calls a minute,
    /// 1,000 an hour and 10 errors an hour (HTTP 429 past them).
    #[arg(
        long = "forticare-rate-limits",
        env = "FORTIMOCK_FORTICARE_RATE_LIMITS"
    )]
    pub rate_limits: bool,
}

/// Base URL of each running service, by name: the `--ready-file` content. Besides the HTTPS services,
/// `fortimock up` writes the SMTP listener (`"smtp": "smtp://127.0.0.1:8025"`) and, with `--dns-port`, the
/// DNS responder (`"dns": "dns://127.0.0.1:8053"`, UDP and TCP); [`is_http`] tells the services apart.
pub type SuiteUrls = BTreeMap<String, String>;

/// Whether `url` is an HTTP(S) service's (not the SMTP listener's or the DNS responder's).
pub fn is_http(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// The running services, in start order.
pub struct Services {
    services: Vec<RunningService>,
    /// Where the appliance service's SMTP listener (`notification.fortinet.net`) accepts mail.
    smtp: Option<std::net::SocketAddr>,
}

impl Services {
    /// Starts every service. If one fails, the ones already started are stopped again.
    pub async fn start(
        lab: &Lab,
        ports: &PortOptions,
        fixtures: impl Into<LabFixtures>,
    ) -> anyhow::Result<Services> {
        Services::start_with(lab, ports, fixtures.into(), &ForticareOptions::default()).await
    }

    /// [`Services::start`] with forticare's options.
    pub async fn start_with(
        lab: &Lab,
        ports: &PortOptions,
        fixtures: LabFixtures,
        forticare: &ForticareOptions,
    ) -> anyhow::Result<Services> {
        let mut suite = Services {
            services: Vec::new(),
            smtp: None,
        };
        match suite.start_services(lab, ports, fixtures, forticare).await {
            Ok(()) => Ok(suite),
            Err(e) => {
                suite.stop().await;
                Err(e)
            }
        }
    }

    async fn start_services(
        &mut self,
        lab: &Lab,
        ports: &PortOptions,
        fixtures: LabFixtures,
        options: &ForticareOptions,
    ) -> anyhow::Result<()> {
        // Every socket is bound first, so every service's address is known before any starts; then the
        // services start side by side (their stores open on blocking threads), ftm serving once forticare's
        // ledger is open, since ftm asks it in-process.
        let forticare_listen = lab.listen(forticare::NAME, ports.forticare_port)?;
        let ftm_listen = lab.listen(ftm::NAME, ports.ftm_port)?;
        let push_listen = lab.listen(push::NAME, ports.push_port)?;
        let phone_listen = lab.listen(phone::NAME, ports.phone_port)?;
        let appliance_listen = lab.listen(appliance::NAME, ports.appliance_port)?;
        let smtp_wanted = std::net::SocketAddr::new(appliance_listen.bind.ip(), ports.smtp_port);
        let smtp = std::net::TcpListener::bind(smtp_wanted)
            .with_context(|| format!("SMTP listener: binding {smtp_wanted}"))?;
        self.smtp = Some(smtp.local_addr()?);
        let (forticare_url, ftm_url, push_url) =
            (forticare_listen.url(), ftm_listen.url(), push_listen.url());
        let fortiguard_url = forticare_url.clone();
        // The FortiAuthenticators the lab declares are the appliance service's to create.
        let fac_fixtures = fixtures.fortiauthenticators.clone();
        // TAC's lock reset asks the appliance service in-process, once it has started.
        let assignments = forticare::assignments::AssignmentDesk::default();
        let cloud = async {
            // ftm's escrow opens while forticare's ledger does; ftm serves once both are open.
            let (forticare, escrow) = tokio::join!(
                forticare::start(forticare::Config {
                    listen: forticare_listen,
                    service_dir: lab.service_dir(forticare::NAME),
                    fixtures,
                    rate_limits: options.rate_limits,
                    assignments: assignments.clone(),
                }),
                ftm::open_escrow(lab.service_dir(ftm::NAME)),
            );
            let forticare = forticare?;
            let ledger: Arc<dyn OwnershipLedger> = Arc::new(forticare.ledger);
            let ftm = escrow.and_then(|escrow| {
                ftm::serve(
                    ftm::Config {
                        listen: ftm_listen,
                        service_dir: lab.service_dir(ftm::NAME),
                        forticare_url,
                        http: lab.http_client()?,
                        ledger: Some(ledger),
                    },
                    escrow,
                )
            });
            match ftm {
                Ok(ftm) => Ok((forticare.service, ftm)),
                Err(e) => {
                    forticare.service.stop().await;
                    Err(e)
                }
            }
        };
        let relay = async {
            push::start(push::Config {
                listen: push_listen,
                service_dir: lab.service_dir(push::NAME),
                http: lab.http_client()?,
                journal_cap: push::DEFAULT_JOURNAL_CAP,
            })
            .await
        };
        // Like the real app, the virtual phones present a client certificate to the provisioning server.
        let identity = phone::client_identity(lab.tls());
        let phones = async {
            phone::start(phone::Config {
                listen: phone_listen,
                service_dir: lab.service_dir(phone::NAME),
                ftm_url: ftm_url.clone(),
                http: lab.http_client_presenting(identity.as_ref())?,
                push_url: Some(push_url.clone()),
                callbacks: lab.http_client_presenting(None)?,
                secure_callbacks: lab.tls().is_some(),
                public_url: None,
            })
            .await
        };
        let appliances = async {
            appliance::start(appliance::Config {
                listen: appliance_listen,
                service_dir: lab.service_dir(appliance::NAME),
                default_ftm_url: ftm_url.clone(),
                http: lab.http_client()?,
                default_push_url: push_url.clone(),
                listener_tls: appliance::ftm_push::ListenerTls::for_lab(lab)?,
                default_push_server: None,
                default_fortiguard_url: fortiguard_url,
                smtp: Some(smtp),
                lab_ca_pem: lab.ca_pem().map(str::to_owned),
                resolver: lab.host_resolver(),
                fixtures: fac_fixtures,
            })
            .await
            .map(|started| {
                assignments.set(started.assignments);
                started.service
            })
        };
        let (cloud, relay, phones, appliances) = tokio::join!(cloud, relay, phones, appliances);
        // Whatever started is kept for `stop`, in start order, so a failure stops it again.
        let mut failure = None;
        match cloud {
            Ok((forticare, ftm)) => {
                self.services.push(forticare);
                self.services.push(ftm);
            }
            Err(e) => failure = Some(e),
        }
        for started in [relay, phones, appliances] {
            match started {
                Ok(service) => self.services.push(service),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub fn services(&self) -> &[RunningService] {
        &self.services
    }

    /// Where the SMTP listener that captures the appliances' activation email accepts mail.
    pub fn smtp_address(&self) -> Option<std::net::SocketAddr> {
        self.smtp
    }

    /// The base URL of service `name`.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.services
            .iter()
            .find(|s| s.name() == name)
            .map(RunningService::url)
    }

    pub fn urls(&self) -> SuiteUrls {
        self.services
            .iter()
            .map(|s| (s.name().to_owned(), s.url().to_owned()))
            .collect()
    }

    /// Waits until every service answers `GET /__admin/ready` (over TLS, trusting the lab CA).
    pub async fn wait_ready(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let checks = self.services.iter().map(|service| async move {
            let url = format!("{}{}", service.url(), protocol::paths::ADMIN_READY);
            let mut attempts = 0;
            loop {
                attempts += 1;
                let outcome = match client.get(&url).send().await {
                    Ok(response) if response.status().is_success() => response
                        .json::<ServiceStatus>()
                        .await
                        .map(|_| ())
                        .map_err(anyhow::Error::from),
                    Ok(response) => Err(anyhow::anyhow!("{url} answered {}", response.status())),
                    Err(e) => Err(anyhow::Error::from(e)),
                };
                match outcome {
                    Ok(()) => return Ok::<(), anyhow::Error>(()),
                    Err(e) if attempts >= 300 => {
                        return Err(e.context(format!("{} never became ready", service.name())));
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                }
            }
        });
        futures_util::future::try_join_all(checks).await?;
        Ok(())
    }

    /// Stops every service and waits for their stores to close.
    pub async fn stop(self) {
        for service in self.services.into_iter().rev() {
            service.stop().await;
        }
    }
}

/// Writes the suite's URLs as JSON to `path`, atomically (scripts polling for the file never see half of it).
pub fn write_urls(path: &Path, urls: &SuiteUrls) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let json = serde_json::to_string_pretty(urls)?;
    std::fs::write(&tmp, json + "\n").with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
