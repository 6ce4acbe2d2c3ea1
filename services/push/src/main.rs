//! `push-mock`: the FortiGuard push relay on its own.

use clap::Parser;
use lab::options::LabOptions;

/// fortimock's FortiGuard push relay (push.fortinet.com + APNs/FCM).
#[derive(Parser)]
#[command(version, about)]
struct Args {
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
    lab::telemetry::init();
    let args = Args::parse();
    let lab = args.lab.prepare()?;
    let service = push::start(push::Config {
        listen: lab.listen(push::NAME, args.port)?,
        service_dir: lab.service_dir(push::NAME),
        http: lab.http_client()?,
        journal_cap: args.journal_cap,
    })
    .await?;
    tracing::info!(url = service.url(), "push relay listening");
    tokio::signal::ctrl_c().await?;
    service.stop().await;
    Ok(())
}
