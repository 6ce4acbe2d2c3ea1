//! The options every fortimock binary shares (data dir, bind address, TLS, client certificates, workers,
//! journal size, admin token, connection limits), each a flag and a `FORTIMOCK_*` environment variable,
//! and the lab they prepare: the clock, the TLS material, the admin token, the connection limits and
//! where each service keeps its database.
//!
//! Secure by default: bound to loopback, the control plane is open; bound to anything else and given no
//! token, the lab generates one, keeps it in `<data-dir>/admin-token` (mode 0600) for the CLI and other
//! containers to read, and every guarded route needs it. Services that keep their data apart (one container
//! each) share one lab CA with `--tls-dir` and one token with `--admin-token-file`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use clap::builder::BoolishValueParser;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::clock::Clock;
use crate::flow::Recorders;
use crate::server::{BoundSocket, Connections, Limits, Listen, Transport};
use crate::tls::{ClientAuth, ClientIdentity, LabTls};

/// Flags shared by `fortimock up` and the standalone service binaries.
#[derive(clap::Args, Debug, Clone)]
pub struct LabOptions {
    /// Where the services keep their databases and the lab CA.
    #[arg(long, env = "FORTIMOCK_DATA_DIR", default_value = "./fortimock-data")]
    pub data_dir: PathBuf,
    /// Write nothing to disk: databases live in memory-backed temporary storage, the lab CA in memory.
    #[arg(long, env = "FORTIMOCK_EPHEMERAL", value_parser = BoolishValueParser::new(), num_args = 0, default_missing_value = "true", default_value = "false")]
    pub ephemeral: bool,
    /// Address every service binds to.
    #[arg(long, env = "FORTIMOCK_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long, env = "FORTIMOCK_PLAIN_HTTP", value_parser = BoolishValueParser::new(), num_args = 0, default_missing_value = "true", default_value = "false")]
    pub plain_http: bool,
    /// Extra host names or IP addresses the lab server certificate must cover (repeatable, or comma-separated).
    #[arg(long = "tls-name", env = "FORTIMOCK_TLS_NAMES", value_delimiter = ',')]
    pub tls_names: Vec<String>,
    /// Bring your own server certificate (PEM chain) instead of the lab CA's.
    #[arg(long, env = "FORTIMOCK_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The key of `--tls-cert` (PEM).
    #[arg(long, env = "FORTIMOCK_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The CA that issued `--tls-cert`, which fortimock's own clients trust (default: the chain's last certificate).
    #[arg(long, env = "FORTIMOCK_TLS_CA", requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
    /// Services that refuse TLS handshakes without a client certificate (e.g. `ftm`), comma-separated.
    #[arg(long, env = "FORTIMOCK_REQUIRE_CLIENT_CERT", value_delimiter = ',')]
    pub require_client_cert: Vec<String>,
    /// Client certificates must chain to a CA in this PEM file (default: any certificate is accepted and recorded).
    #[arg(long, env = "FORTIMOCK_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// HTTP worker threads per service. One starts the suite about 1 ms sooner and keeps about 1 MiB less;
    /// with two, a worker busy checking a large state import leaves the other answering its connections.
    #[arg(long, env = "FORTIMOCK_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// How many requests the request journal of forticare, ftm and the push relay keeps each (0: none), and
    /// how many exchanges the timeline keeps.
    #[arg(long, env = "FORTIMOCK_JOURNAL_SIZE", default_value_t = crate::journal::DEFAULT_CAPACITY)]
    pub journal_size: usize,
    /// Protect the control plane (all of `/__admin/*` but health, ready, ca.pem and the API documentation:
    /// openapi.json, docs, docs/{file}) and the simulators' APIs with `Authorization: Bearer <token>`. Bound to anything but loopback without one, fortimock
    /// generates one into `<data-dir>/admin-token`.
    #[arg(long, env = "FORTIMOCK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Open connections each service serves; past them a request is answered 503 (the SMTP listener's
    /// sessions: `421`; the appliances' ftm-push listeners share one such budget).
    #[arg(long, env = "FORTIMOCK_MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's head and body (a trickling body is cut off with 408).
    #[arg(long, env = "FORTIMOCK_REQUEST_TIMEOUT_SECS", default_value_t = 10)]
    pub request_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "FORTIMOCK_KEEP_ALIVE_SECS", default_value_t = 5)]
    pub keep_alive_secs: u64,
    /// Where the lab CA and the server certificate live (default `<data-dir>/tls`): services that keep
    /// their data apart share one lab CA by pointing here (the compose lab's read-only `/lab/tls`).
    #[arg(long, env = "FORTIMOCK_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
    /// Read the admin token from this file, generating it there (mode 0600) when it does not exist; the
    /// control plane is then guarded whatever the bind address. Services with separate data dirs share one
    /// token this way (the compose lab's `/lab/admin-token`).
    #[arg(
        long,
        env = "FORTIMOCK_ADMIN_TOKEN_FILE",
        conflicts_with = "admin_token"
    )]
    pub admin_token_file: Option<PathBuf>,
    /// Resolve the host names this service calls through this DNS server (`IP` or `IP:PORT`, port 53 by
    /// default) instead of the system's resolver, as an appliance's `config system dns` does.
    #[arg(long, env = "FORTIMOCK_RESOLVER", value_parser = parse_resolver)]
    pub resolver: Option<SocketAddr>,
}

/// `--resolver`: an IP address, or an IP address and a port.
pub fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!(
            "`{text}` is not a DNS server address: give an IP address, or IP:PORT ([IPv6]:PORT)"
        )
    })
}

/// The file in the data dir that holds the generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Where the admin token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `--admin-token` or `FORTIMOCK_ADMIN_TOKEN`.
    Given,
    /// Read from, or generated into, this file.
    File(PathBuf),
    /// Generated for this run only (`--ephemeral`): shown in the banner, never written.
    Generated,
}

/// The admin token a lab guards its control plane with.
#[derive(Clone)]
pub struct AdminToken {
    pub value: String,
    pub source: TokenSource,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("value", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// A prepared lab: what the services of one process share.
pub struct Lab {
    options: LabOptions,
    data_dir: Option<PathBuf>,
    tls: Option<Arc<LabTls>>,
    client_cas: Vec<CertificateDer<'static>>,
    /// The certificate fortimock's own calls between services present when some service requires one.
    internal_identity: Option<ClientIdentity>,
    clock: Clock,
    /// The timeline and coverage recorders every service of the process shares.
    recorders: Recorders,
    admin_token: Option<AdminToken>,
    limits: Limits,
    /// [`Lab::http_client`]'s client, built once and shared (a client is a handle to one connection
    /// pool; building one reads the resolver's configuration and the lab CA).
    http_client: OnceLock<reqwest::Client>,
}

impl LabOptions {
    /// Loads or generates the TLS material and creates the data dir.
    pub fn prepare(&self) -> anyhow::Result<Lab> {
        let data_dir = if self.ephemeral {
            None
        } else {
            Some(self.data_dir.clone())
        };
        if let Some(dir) = &data_dir {
            // An earlier fortimock's data dir is refused before anything is created in it.
            crate::store::check_data_dir(dir)?;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data dir {}", dir.display()))?;
        }
        let tls = match (self.plain_http, &self.tls_cert, &self.tls_key) {
            (true, _, _) => None,
            (false, Some(cert), Some(key)) => {
                Some(LabTls::from_files(cert, key, self.tls_ca.as_deref())?)
            }
            _ => {
                let mut names = self.tls_names.clone();
                if !self.bind.is_unspecified() && !self.bind.is_loopback() {
                    names.push(self.bind.to_string());
                }
                let tls_dir = match (&self.tls_dir, &data_dir) {
                    (Some(dir), _) => Some(dir.clone()),
                    (None, Some(dir)) => Some(dir.join("tls")),
                    (None, None) => None,
                };
                Some(LabTls::load_or_generate_in(tls_dir.as_deref(), &names)?)
            }
        };
        let client_cas = match &self.client_ca {
            Some(path) => CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .with_context(|| format!("reading client CAs from {}", path.display()))?,
            None => Vec::new(),
        };
        let internal_identity = match &tls {
            Some(tls) if !self.require_client_cert.is_empty() => Some(
                tls.issue_client_identity("fortimock internal client")
                    .context("--require-client-cert needs the lab CA (or --client-ca with a brought-in certificate)")?,
            ),
            _ => None,
        };
        let admin_token = self.admin_token(data_dir.as_deref())?;
        let limits = self.limits();
        Ok(Lab {
            options: self.clone(),
            data_dir,
            tls: tls.map(Arc::new),
            client_cas,
            internal_identity,
            clock: Clock::default(),
            recorders: Recorders::new(self.journal_size),
            admin_token,
            limits,
            http_client: OnceLock::new(),
        })
    }

    /// The token guarding the control plane: the one given; else, when the lab is reachable from
    /// anything but loopback, the data dir's (created on first use; generated in memory when ephemeral).
    fn admin_token(&self, data_dir: Option<&Path>) -> anyhow::Result<Option<AdminToken>> {
        if let Some(value) = &self.admin_token {
            let value = value.trim();
            anyhow::ensure!(
                !value.is_empty() && value.chars().all(|c| c.is_ascii_graphic()),
                "--admin-token must be printable ASCII without spaces"
            );
            return Ok(Some(AdminToken {
                value: value.to_owned(),
                source: TokenSource::Given,
            }));
        }
        if let Some(path) = &self.admin_token_file {
            return Ok(Some(AdminToken {
                value: token_from_file(path)?,
                source: TokenSource::File(path.clone()),
            }));
        }
        if self.bind.is_loopback() {
            return Ok(None);
        }
        let Some(dir) = data_dir else {
            return Ok(Some(AdminToken {
                value: new_token(),
                source: TokenSource::Generated,
            }));
        };
        let path = dir.join(ADMIN_TOKEN_FILE);
        Ok(Some(AdminToken {
            value: token_from_file(&path)?,
            source: TokenSource::File(path),
        }))
    }

    /// The connection limits, with the process's file-descriptor limit raised to what they need (every
    /// listener of the process shares it).
    fn limits(&self) -> Limits {
        let wanted = self.max_connections.max(1);
        let available = raise_fd_limit();
        // Seven capped shares: the five services, the SMTP listener, and every appliance's ftm-push listener
        // together (they share one count); plus a reserve for files, the listeners' own sockets and
        // outgoing calls.
        let reserve = 256u64;
        let fit = available.saturating_sub(reserve) / (CAPPED_LISTENERS + 1);
        let max_connections = match usize::try_from(fit) {
            Ok(fit) if fit < wanted => {
                tracing::warn!(
                    wanted,
                    fit,
                    fd_limit = available,
                    "the file-descriptor limit is too low for --max-connections; serving fewer per service"
                );
                fit.max(16)
            }
            _ => wanted,
        };
        Limits {
            max_connections,
            request_timeout: Duration::from_secs(self.request_timeout_secs.clamp(1, 3600)),
            keep_alive: Duration::from_secs(self.keep_alive_secs.min(3600)),
        }
    }
}

/// The listeners of a lab whose open connections are each capped at `max_connections`: forticare, ftm,
/// push, phone and appliance, the SMTP listener, and the appliances' ftm-push listeners (one shared count).
const CAPPED_LISTENERS: u64 = 7;

/// The token in `path`; when there is no such file, a new one written there (mode 0600).
fn token_from_file(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) => anyhow::bail!(
            "{} is empty: delete it to have a new token generated",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let value = new_token();
            crate::store::write_private(path, value.as_bytes())?;
            Ok(value)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    }
}

/// A fresh admin token: 32 random bytes, hex.
fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Raises the soft limit on open files to the hard limit; returns the limit now in force.
fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

impl Lab {
    /// How service `name` listens on `port` (0 picks a free one); the socket is bound now, so its address
    /// (`Listen::url`) is known before the service starts.
    pub fn listen(&self, name: &str, port: u16) -> anyhow::Result<Listen> {
        let transport = match &self.tls {
            None => Transport::Plain,
            Some(tls) => {
                let auth = ClientAuth {
                    required: self
                        .options
                        .require_client_cert
                        .iter()
                        .any(|s| s.trim() == name),
                    trusted_cas: self.client_cas.clone(),
                };
                Transport::Https(tls.server_config(&auth)?)
            }
        };
        let wanted = SocketAddr::new(self.options.bind, port);
        let socket =
            BoundSocket::bind(wanted).with_context(|| format!("{name}: binding {wanted}"))?;
        let bind = socket_address(&socket, wanted);
        Ok(Listen {
            bind,
            socket: Some(socket),
            transport,
            clock: self.clock.clone(),
            workers: self.options.workers,
            admin_token: self.admin_token.as_ref().map(|t| t.value.clone()),
            ca_pem: self.ca_pem().map(str::to_owned),
            journal_size: self.options.journal_size,
            limits: self.limits,
            connections: Connections::default(),
            recorders: self.recorders.clone(),
        })
    }

    /// The token guarding the control plane, if any.
    pub fn admin_token(&self) -> Option<&AdminToken> {
        self.admin_token.as_ref()
    }

    /// The connection limits every listener of the lab lives within.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The root data dir; `None` when ephemeral.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// Where service `name` keeps its files (its database `store.redb` and its key files); `None` when
    /// ephemeral.
    pub fn service_dir(&self, name: &str) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|dir| dir.join(name))
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The timeline and coverage recorders the lab's services share.
    pub fn recorders(&self) -> &Recorders {
        &self.recorders
    }

    pub fn tls(&self) -> Option<&LabTls> {
        self.tls.as_deref()
    }

    /// The CA certificate clients must trust, PEM; `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_deref().map(LabTls::ca_pem)
    }

    /// An HTTP client for calls between services: it trusts the lab CA and, when some service requires
    /// client certificates, presents the lab's internal client certificate; names resolve through
    /// `--resolver` when given. Every caller shares one client (and its connection pool).
    pub fn http_client(&self) -> anyhow::Result<reqwest::Client> {
        if let Some(client) = self.http_client.get() {
            return Ok(client.clone());
        }
        let client = self.http_client_presenting(self.internal_identity.as_ref())?;
        Ok(self.http_client.get_or_init(|| client).clone())
    }

    /// How names other than HTTP URLs' resolve (an appliance's SMTP server): through `--resolver` when
    /// given, as [`Lab::http_client`]'s do.
    pub fn host_resolver(&self) -> crate::client::HostResolver {
        crate::client::HostResolver::new(self.options.resolver)
    }

    /// An HTTP client like [`Lab::http_client`] that presents `identity` (a virtual phone's), or none.
    pub fn http_client_presenting(
        &self,
        identity: Option<&ClientIdentity>,
    ) -> anyhow::Result<reqwest::Client> {
        crate::client::http_client_resolving(self.ca_pem(), identity, self.options.resolver)
    }
}

/// The address a socket bound ahead ended up on (`wanted` with the port the system picked).
fn socket_address(socket: &BoundSocket, wanted: SocketAddr) -> SocketAddr {
    socket.local_addr().unwrap_or(wanted)
}
