//! `forticare-mock`: the FortiCare license service on its own. `fortimock up` runs it together with the
//! rest of the suite; this binary is for labs that want one container per service.

use clap::Parser;
use lab::health::ServiceCommand;
use lab::options::LabOptions;
use protocol::ledger::LabFixtures;

/// fortimock's FortiCare license service.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<ServiceCommand>,
    #[command(flatten)]
    lab: LabOptions,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "FORTIMOCK_FORTICARE_PORT", default_value_t = forticare::DEFAULT_PORT)]
    port: u16,
    /// A fixtures file (JSON, `{"licenses": [...], "api_users": [...]}`) to load at start.
    #[arg(long, env = "FORTIMOCK_FIXTURES")]
    fixtures: Option<std::path::PathBuf>,
    /// Enforce the asset-management API's documented limits: per API user 100 calls a minute, 1,000 an
    /// hour and 10 errors an hour (HTTP 429 past them).
    #[arg(long, env = "FORTIMOCK_FORTICARE_RATE_LIMITS")]
    rate_limits: bool,
    /// Load `fortimock up`'s built-in default lab (fixtures/lab.json) when no --fixtures is given.
    #[arg(long, env = "FORTIMOCK_DEFAULT_LAB", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0, default_missing_value = "true", default_value = "false", conflicts_with = "fixtures")]
    default_lab: bool,
    /// The appliance service (`appliance-mock`) TAC's hardware lock reset asks whether a token is assigned
    /// (with the lab's admin token); without it, locks are reset without asking.
    #[arg(long, env = "FORTIMOCK_APPLIANCE_URL")]
    appliance_url: Option<String>,
}

/// The default lab's licenses, as `fortimock up` loads them.
const DEFAULT_LAB: &str = include_str!("../../../fixtures/lab.json");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(ServiceCommand::Health(health)) = &args.command {
        return lab::health::run(&args.lab, forticare::NAME, args.port, health).await;
    }
    lab::telemetry::init();
    let lab = args.lab.prepare()?;
    let fixtures = match &args.fixtures {
        Some(path) => {
            let text = std::fs::read_to_string(path)?;
            serde_json::from_str::<LabFixtures>(&text)?
        }
        None if args.default_lab => serde_json::from_str::<LabFixtures>(DEFAULT_LAB)?,
        None => LabFixtures::default(),
    };
    let assignments = match &args.appliance_url {
        Some(url) => forticare::assignments::AssignmentDesk::with(std::sync::Arc::new(
            forticare::assignments::ApplianceLedgerClient::new(
                lab.http_client()?,
                url,
                lab.admin_token().map(|t| t.value.clone()),
            ),
        )),
        None => forticare::assignments::AssignmentDesk::default(),
    };
    let service = forticare::start(forticare::Config {
        listen: lab.listen(forticare::NAME, args.port)?,
        service_dir: lab.service_dir(forticare::NAME),
        fixtures,
        rate_limits: args.rate_limits,
        assignments,
    })
    .await?
    .service;
    tracing::info!(url = service.url(), "forticare listening");
    lab::server::shutdown_signal().await?;
    service.stop().await;
    Ok(())
}
