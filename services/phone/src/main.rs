//! `phone-mock`: the virtual FortiToken Mobile phones on their own, pointed at an ftm service.

use clap::Parser;
use lab::health::ServiceCommand;
use lab::options::LabOptions;

/// fortimock's virtual FortiToken Mobile phones.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<ServiceCommand>,
    #[command(flatten)]
    lab: LabOptions,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "FORTIMOCK_PHONE_PORT", default_value_t = phone::DEFAULT_PORT)]
    port: u16,
    /// The provisioning server phones activate tokens against.
    #[arg(
        long,
        env = "FORTIMOCK_FTM_URL",
        default_value = "https://127.0.0.1:8443"
    )]
    ftm_url: String,
    /// The push relay phones register their push tokens with.
    #[arg(long, env = "FORTIMOCK_PUSH_URL")]
    push_url: Option<String>,
    /// The base URL the push relay reaches this service at, for the phones' push webhooks (default: the
    /// URL it listens on). In a container, the name other containers reach it by: `https://phone:8445`.
    #[arg(long, env = "FORTIMOCK_PHONE_PUBLIC_URL")]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(ServiceCommand::Health(health)) = &args.command {
        return lab::health::run(&args.lab, phone::NAME, args.port, health).await;
    }
    lab::telemetry::init();
    let lab = args.lab.prepare()?;
    let identity = phone::client_identity(lab.tls());
    let service = phone::start(phone::Config {
        listen: lab.listen(phone::NAME, args.port)?,
        service_dir: lab.service_dir(phone::NAME),
        ftm_url: args.ftm_url,
        http: lab.http_client_presenting(identity.as_ref())?,
        push_url: args.push_url,
        callbacks: lab.http_client_presenting(None)?,
        secure_callbacks: lab.tls().is_some(),
        public_url: args.public_url,
    })
    .await?;
    tracing::info!(url = service.url(), "phone listening");
    lab::server::shutdown_signal().await?;
    service.stop().await;
    Ok(())
}
