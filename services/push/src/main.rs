//! `push-mock`: the FortiGuard push relay on its own.

use clap::Parser;
use lab::health::ServiceCommand;
use lab::options::LabOptions;

/// fortimock's FortiGuard push relay (push.fortinet.com + APNs/FCM).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<ServiceCommand>,
    #[command(flatten)]
    lab: LabOptions,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "FORTIMOCK_PUSH_PORT", default_value_t = push::DEFAULT_PORT)]
    port: u16,
    /// How many push requests the journal (`/__admin/pushes`) keeps; older ones are dropped.
    #[arg(long, env = "FORTIMOCK_PUSH_JOURNAL_CAP", default_value_t = push::DEFAULT_JOURNAL_CAP)]
    journal_cap: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(ServiceCommand::Health(health)) = &args.command {
        return lab::health::run(&args.lab, push::NAME, args.port, health).await;
    }
    lab::telemetry::init();
    let lab = args.lab.prepare()?;
    let service = push::start(push::Config {
        listen: lab.listen(push::NAME, args.port)?,
        service_dir: lab.service_dir(push::NAME),
        http: lab.http_client()?,
        journal_cap: args.journal_cap,
    })
    .await?;
    tracing::info!(url = service.url(), "push relay listening");
    lab::server::shutdown_signal().await?;
    service.stop().await;
    Ok(())
}
