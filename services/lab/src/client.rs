//! How fortimock's parts call each other and how its CLI and tests call fortimock: an HTTP client that
//! trusts the lab CA (and may present a client certificate), with timeouts so a dead peer is an error,
//! not a hang. Names resolve in pure Rust, through the system's resolver configuration or one DNS server.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolveHosts, ResolverConfig,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::tls::{ClientIdentity, client_config_trusting};

/// A client trusting the CA certificates in `ca_pem` (none: plain HTTP only), presenting `identity` if given.
/// Host names resolve in pure Rust (hickory, from `/etc/hosts` and `/etc/resolv.conf`), never through
/// glibc's name-service modules, which a static binary cannot load.
pub fn http_client(
    ca_pem: Option<&str>,
    identity: Option<&ClientIdentity>,
) -> anyhow::Result<reqwest::Client> {
    http_client_resolving(ca_pem, identity, None)
}

/// [`http_client`], resolving host names through the DNS server at `resolver` when given (`--resolver`)
/// instead of the system's.
pub fn http_client_resolving(
    ca_pem: Option<&str>,
    identity: Option<&ClientIdentity>,
    resolver: Option<SocketAddr>,
) -> anyhow::Result<reqwest::Client> {
    // Without a CA, reqwest builds its own TLS config from the process default provider (and trusts nothing).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("fortimock/", env!("CARGO_PKG_VERSION")));
    let builder = match ca_pem {
        Some(pem) => builder.use_preconfigured_tls(client_config_trusting(pem, identity)?),
        None => builder,
    };
    builder
        .dns_resolver(Arc::new(LabResolver::new(resolver)))
        .build()
        .context("building the HTTP client")
}

/// Name resolution for fortimock's clients: through one DNS server (UDP, then TCP for truncated answers),
/// as an appliance whose `config system dns` names that server resolves, or the system's configuration;
/// either way a Fortinet name that resolves to a public address is refused before any connection
/// ([`protocol::hosts::real_fortinet_address`]): fortimock never contacts a real Fortinet host.
struct LabResolver {
    resolver: TokioResolver,
}

impl LabResolver {
    fn new(server: Option<SocketAddr>) -> LabResolver {
        LabResolver {
            resolver: match server {
                Some(server) => one_server(server),
                None => system_resolver(),
            },
        }
    }
}

/// The system's resolver configuration (`/etc/hosts`, `/etc/resolv.conf`); where it cannot be read, the hosts
/// file alone (never a public DNS server fortimock would pick itself).
fn system_resolver() -> TokioResolver {
    let builder = TokioResolver::builder_tokio().unwrap_or_else(|_| {
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, Vec::new(), NameServerConfigGroup::new()),
            TokioConnectionProvider::default(),
        );
        builder.options_mut().use_hosts_file = ResolveHosts::Always;
        builder
    });
    let mut builder = builder;
    builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
    builder.build()
}

/// Refuses `addresses` of `name` when they are the real Fortinet host's.
fn refuse_real_fortinet(name: &str, addresses: &[IpAddr]) -> anyhow::Result<()> {
    match protocol::hosts::real_fortinet_address(name, addresses) {
        Some(ip) => anyhow::bail!(
            "refusing to contact {name} at {ip}: that is the real Fortinet host, and fortimock only talks to \
             the lab (resolve the name into the lab: a hosts entry, --resolver with the DNS responder, or the \
             compose lab's network aliases)"
        ),
        None => Ok(()),
    }
}

/// A resolver asking only `server`.
fn one_server(server: SocketAddr) -> TokioResolver {
    let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
    let mut builder = TokioResolver::builder_with_config(
        ResolverConfig::from_parts(None, Vec::new(), servers),
        TokioConnectionProvider::default(),
    );
    // Only that server answers: the hosts file would answer names the appliance's DNS does not.
    builder.options_mut().use_hosts_file = ResolveHosts::Never;
    builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    builder.build()
}

/// Host-name resolution for what is not HTTP (an appliance's SMTP client), the way [`http_client_resolving`]
/// resolves: in pure Rust, through the DNS server `--resolver` names, else the system's configuration
/// (`/etc/hosts`, `/etc/resolv.conf`), never through glibc's getaddrinfo, which a static binary cannot use.
#[derive(Clone, Debug, Default)]
pub struct HostResolver {
    server: Option<SocketAddr>,
}

impl HostResolver {
    /// Resolves through `server` when given, else the system's configuration.
    pub fn new(server: Option<SocketAddr>) -> HostResolver {
        HostResolver { server }
    }

    /// The DNS server names go to, if one was given.
    pub fn server(&self) -> Option<SocketAddr> {
        self.server
    }

    /// `host`'s first address (IPv4 first); an IP address is its own answer.
    pub async fn lookup(&self, host: &str) -> anyhow::Result<IpAddr> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(ip);
        }
        let resolver = LabResolver::new(self.server).resolver;
        let lookup = resolver
            .lookup_ip(host)
            .await
            .with_context(|| match self.server {
                Some(server) => format!("resolving {host} through {server}"),
                None => format!("resolving {host}"),
            })?;
        let mut addresses: Vec<IpAddr> = lookup.iter().collect();
        refuse_real_fortinet(host, &addresses)?;
        addresses.sort_by_key(IpAddr::is_ipv6);
        addresses
            .first()
            .copied()
            .with_context(|| format!("{host} has no address"))
    }
}

impl Resolve for LabResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let lookup = resolver.lookup_ip(name.as_str()).await?;
            let addresses: Vec<IpAddr> = lookup.iter().collect();
            refuse_real_fortinet(name.as_str(), &addresses)
                .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
            let addrs: Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}
