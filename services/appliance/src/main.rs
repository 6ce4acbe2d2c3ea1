//! `appliance-mock`: the virtual FortiGate / FortiAuthenticator service on its own, pointed at a FortiToken server.

use clap::Parser;
use lab::health::ServiceCommand;
use lab::options::LabOptions;

/// fortimock's virtual FortiGate / FortiAuthenticator.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<ServiceCommand>,
    #[command(flatten)]
    lab: LabOptions,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "FORTIMOCK_APPLIANCE_PORT", default_value_t = appliance::DEFAULT_PORT)]
    port: u16,
    /// The FortiToken server appliances talk to by default.
    #[arg(
        long,
        env = "FORTIMOCK_FTM_URL",
        default_value = "https://127.0.0.1:8443"
    )]
    ftm_url: String,
    /// The push relay appliances send pushes to by default.
    #[arg(
        long,
        env = "FORTIMOCK_PUSH_URL",
        default_value = "https://127.0.0.1:8444"
    )]
    push_url: String,
    /// The address pushes tell phones to answer at (`config system ftm-push` `server`) unless set per
    /// appliance; default: the bind address, or 127.0.0.1 when binding every address. In a container,
    /// the name other containers reach it by.
    #[arg(long, env = "FORTIMOCK_FTM_PUSH_SERVER")]
    ftm_push_server: Option<String>,
    /// FortiGuard's token service (`update.fortiguard.net`: forticare) appliances activate hardware
    /// tokens with by default.
    #[arg(
        long,
        env = "FORTIMOCK_FORTIGUARD_URL",
        default_value = "https://127.0.0.1:8440"
    )]
    fortiguard_url: String,
    /// Port of the SMTP listener that captures activation emails (`notification.fortinet.net`).
    #[arg(long, env = "FORTIMOCK_SMTP_PORT", default_value_t = appliance::DEFAULT_SMTP_PORT)]
    smtp_port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(ServiceCommand::Health(health)) = &args.command {
        return lab::health::run(&args.lab, appliance::NAME, args.port, health).await;
    }
    lab::telemetry::init();
    let lab = args.lab.prepare()?;
    let listen = lab.listen(appliance::NAME, args.port)?;
    let smtp = std::net::TcpListener::bind((listen.bind.ip(), args.smtp_port))?;
    let service = appliance::start(appliance::Config {
        listen,
        service_dir: lab.service_dir(appliance::NAME),
        default_ftm_url: args.ftm_url,
        http: lab.http_client()?,
        default_push_url: args.push_url,
        listener_tls: appliance::ftm_push::ListenerTls::for_lab(&lab)?,
        default_push_server: args.ftm_push_server,
        default_fortiguard_url: args.fortiguard_url,
        smtp: Some(smtp),
        lab_ca_pem: lab.ca_pem().map(str::to_owned),
        resolver: lab.host_resolver(),
        fixtures: Vec::new(),
    })
    .await?
    .service;
    tracing::info!(url = service.url(), "appliance listening");
    lab::server::shutdown_signal().await?;
    service.stop().await;
    Ok(())
}
