//! `fortimock state export|import`: a running suite's state as one bundle file: every service's records
//! and armed scenarios, and the clock.

use anyhow::{Context, bail};
use protocol::admin::{ClockChange, ClockView};
use protocol::state::{BUNDLE_FORMAT, Bundle, ServiceState, StateImported};

use crate::cli::StateCommand;
use crate::client::SuiteClient;

/// The services in the order an import goes through them: those others call first, so that the phones
/// register with an imported relay and the appliances' listeners start last.
const IMPORT_ORDER: [&str; 5] = ["forticare", "ftm", "push", "phone", "appliance"];

pub async fn run(command: StateCommand) -> anyhow::Result<()> {
    match command {
        StateCommand::Export { target, output } => {
            let client = SuiteClient::connect(&target)?;
            let bundle = export_bundle(&client).await?;
            let text = serde_json::to_string_pretty(&bundle)?;
            match output {
                Some(path) => {
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, text + "\n")
                        .with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::rename(&tmp, &path)
                        .with_context(|| format!("writing {}", path.display()))?;
                    let records: usize = bundle
                        .services
                        .iter()
                        .flat_map(|s| s.trees.values())
                        .map(Vec::len)
                        .sum();
                    println!(
                        "exported {records} records of {} services, clock {}, to {}",
                        bundle.services.len(),
                        bundle.clock.now_rfc3339,
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
            Ok(())
        }
        StateCommand::Import { target, bundle } => {
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("reading {}", bundle.display()))?;
            let bundle: Bundle = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a fortimock bundle", bundle.display()))?;
            let client = SuiteClient::connect(&target)?;
            let (imported, clock) = import_bundle(&client, &bundle).await?;
            for imported in imported {
                println!(
                    "{:<10} {} records (replacing {}), {} scenarios",
                    imported.service, imported.records, imported.replaced, imported.scenarios
                );
            }
            println!(
                "{:<10} {}{}",
                "clock",
                clock.now_rfc3339,
                if clock.frozen { " (frozen)" } else { "" }
            );
            Ok(())
        }
    }
}

/// The running suite's state as one bundle: the clock, then every service's records and scenarios (what
/// `fortimock state export` writes and the dashboard's export downloads).
pub async fn export_bundle(client: &SuiteClient) -> anyhow::Result<Bundle> {
    let clock = client.control(ftm::NAME).clock().await?;
    let mut services = Vec::new();
    for service in IMPORT_ORDER {
        services.push(client.control(service).state().await?);
    }
    Ok(Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        clock,
        services,
    })
}

/// Imports `bundle` into the running suite: every service checks its part first (one refusal and nothing
/// changes anywhere), then each replaces its records, then the clock is set back to the bundle's. What each
/// service imported, and the clock after.
pub async fn import_bundle(
    client: &SuiteClient,
    bundle: &Bundle,
) -> anyhow::Result<(Vec<StateImported>, ClockView)> {
    if bundle.format != BUNDLE_FORMAT {
        bail!(
            "the bundle's format is `{}`, not `{BUNDLE_FORMAT}`",
            bundle.format
        );
    }
    let ordered: Vec<&ServiceState> = IMPORT_ORDER
        .iter()
        .filter_map(|name| bundle.services.iter().find(|s| s.service == *name))
        .collect();
    for state in &ordered {
        client
            .control(&state.service)
            .check_state(state)
            .await
            .with_context(|| format!("the {} service refused its state", state.service))?;
    }
    let mut imported = Vec::new();
    for state in &ordered {
        imported.push(client.control(&state.service).import_state(state).await?);
    }
    let change = ClockChange {
        freeze: Some(bundle.clock.frozen),
        set: Some(bundle.clock.now.secs().to_string()),
        ..ClockChange::default()
    };
    let clock = client.control(ftm::NAME).change_clock(&change).await?;
    Ok((imported, clock))
}
