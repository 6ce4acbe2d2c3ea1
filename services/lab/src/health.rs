//! `<service binary> health` (`forticare-mock health`, `ftm-mock health`, …): whether the standalone
//! service answers `/__admin/ready`, as an exit status, for container health checks and scripts. It reads
//! the same flags and `FORTIMOCK_*` variables as the service, so in a container it finds the service, and
//! the lab CA to trust it with, with no arguments; it only reads, never generates anything.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use protocol::admin::ServiceStatus;
use protocol::paths;

use crate::options::LabOptions;

/// The subcommands every standalone service binary has besides running the service.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ServiceCommand {
    /// Whether the service (started with the same flags and FORTIMOCK_* variables) is ready: exit status
    /// 0 once it answers /__admin/ready; the container health check.
    Health(HealthArgs),
}

/// `health`'s own flags.
#[derive(clap::Args, Debug, Clone)]
pub struct HealthArgs {
    /// Keep asking for up to this many seconds until the service is ready.
    #[arg(long, default_value_t = 0.0)]
    pub wait: f64,
    /// Print nothing; the exit status says it all.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Asks the service `service` listening on `port` (as `options` configure it) whether it is ready.
pub async fn run(
    options: &LabOptions,
    service: &str,
    port: u16,
    args: &HealthArgs,
) -> anyhow::Result<()> {
    if port == 0 {
        bail!("{service} listens on a port the system picks (0): give health the port it bound");
    }
    let url = format!("{}{}", base_url(options, port), paths::ADMIN_READY);
    let deadline = Instant::now() + Duration::from_secs_f64(args.wait.clamp(0.0, 3600.0));
    loop {
        // The CA is read again on each try: a service starting for the first time writes it.
        let attempt = match trusted_ca(options) {
            Ok(ca) => probe(&url, ca.as_deref(), service).await,
            Err(e) => Err(e),
        };
        match attempt {
            Ok(()) => {
                if !args.quiet {
                    #[allow(clippy::print_stdout)]
                    {
                        println!("{service:<10} ready  {url}");
                    }
                }
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Where the service answers on this machine: its bind address, or loopback when it binds every address.
fn base_url(options: &LabOptions, port: u16) -> String {
    let host = match options.bind {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if options.plain_http { "http" } else { "https" };
    match host {
        IpAddr::V4(ip) => format!("{scheme}://{ip}:{port}"),
        IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{port}"),
    }
}

/// The CA the service's certificate chains to, PEM; `None` for plain HTTP.
fn trusted_ca(options: &LabOptions) -> anyhow::Result<Option<String>> {
    if options.plain_http {
        return Ok(None);
    }
    let path = match (&options.tls_ca, &options.tls_cert, &options.tls_dir) {
        (Some(ca), _, _) => ca.clone(),
        // A brought-in chain without --tls-ca: its last certificate, which the service trusts too.
        (None, Some(chain), _) => chain.clone(),
        (None, None, Some(dir)) => dir.join("ca.pem"),
        (None, None, None) if options.ephemeral => bail!(
            "an --ephemeral service keeps its lab CA in memory: health cannot check its certificate (use \
             --tls-dir, or --plain-http)"
        ),
        (None, None, None) => options.data_dir.join("tls/ca.pem"),
    };
    let pem = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the lab CA {}", path.display()))?;
    Ok(Some(pem))
}

async fn probe(url: &str, ca_pem: Option<&str>, service: &str) -> anyhow::Result<()> {
    let client = crate::client::http_client(ca_pem, None)?;
    let response = client
        .get(url)
        .timeout(Duration::from_secs(4))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let code = response.status();
    let status: ServiceStatus = response
        .json()
        .await
        .with_context(|| format!("{url} answered {code} with no status"))?;
    if status.service != service {
        bail!("{url} is {}, not {service}", status.service);
    }
    if status.status != "ready" {
        bail!(
            "{service} is {}: {}",
            status.status,
            status.reason.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(())
}
