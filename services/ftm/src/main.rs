//! `ftm-mock`: the FortiToken Mobile provisioning server on its own, pointed at a forticare service.

use clap::Parser;
use lab::health::ServiceCommand;
use lab::options::LabOptions;

/// fortimock's FortiToken Mobile provisioning server.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<ServiceCommand>,
    #[command(flatten)]
    lab: LabOptions,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "FORTIMOCK_FTM_PORT", default_value_t = ftm::DEFAULT_PORT)]
    port: u16,
    /// The forticare service ftm asks about ownership and forwards license imports to.
    #[arg(
        long,
        env = "FORTIMOCK_FORTICARE_URL",
        default_value = "https://127.0.0.1:8440"
    )]
    forticare_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(ServiceCommand::Health(health)) = &args.command {
        return lab::health::run(&args.lab, ftm::NAME, args.port, health).await;
    }
    lab::telemetry::init();
    let lab = args.lab.prepare()?;
    let service = ftm::start(ftm::Config {
        listen: lab.listen(ftm::NAME, args.port)?,
        service_dir: lab.service_dir(ftm::NAME),
        forticare_url: args.forticare_url,
        http: lab.http_client()?,
        ledger: None,
    })
    .await?;
    tracing::info!(url = service.url(), "ftm listening");
    lab::server::shutdown_signal().await?;
    service.stop().await;
    Ok(())
}
