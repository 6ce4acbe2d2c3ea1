//! `fortimock state export|import`: a running suite's state as one bundle file: every service's records
//! and armed scenarios, and the clock.

use std::io::Write;

use anyhow::{Context, bail};
use protocol::admin::{ClockChange, ClockView};
use protocol::state::{BUNDLE_FORMAT, Bundle, ServiceStateText, StateImported};

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
            match output {
                Some(path) => {
                    let tmp = path.with_extension("tmp");
                    write_bundle(&bundle, &tmp)
                        .with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::rename(&tmp, &path)
                        .with_context(|| format!("writing {}", path.display()))?;
                    let bytes: usize = bundle.services.iter().map(|s| s.text().len()).sum();
                    println!(
                        "exported the state of {} services ({:.1} MiB), clock {}, to {}",
                        bundle.services.len(),
                        bytes as f64 / (1024.0 * 1024.0),
                        bundle.clock.now_rfc3339,
                        path.display()
                    );
                }
                None => println!("{}", serde_json::to_string_pretty(&bundle)?),
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

/// Writes `bundle` to the file at `path` as the text people read (indented), through a buffer: the states
/// inside are written as they are, never copied into one text first.
fn write_bundle(bundle: &Bundle, path: &std::path::Path) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer_pretty(&mut file, bundle)?;
    file.write_all(b"\n")?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// The running suite's state as one bundle: the clock, then every service's records and scenarios (what
/// `fortimock state export` writes and the dashboard's export downloads), each service's as the text it
/// sent.
pub async fn export_bundle(client: &SuiteClient) -> anyhow::Result<Bundle> {
    let clock = client.control(ftm::NAME).clock().await?;
    let mut services = Vec::new();
    for service in IMPORT_ORDER {
        services.push(client.control(service).state_text().await?);
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
/// service imported, and the clock after. Each part travels as the text it is in the bundle.
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
    let mut named = Vec::new();
    for (at, state) in bundle.services.iter().enumerate() {
        let service = state
            .service()
            .with_context(|| format!("the bundle's services[{at}] is not a service's state"))?;
        named.push((service, state));
    }
    let ordered: Vec<&(String, &ServiceStateText)> = IMPORT_ORDER
        .iter()
        .filter_map(|name| named.iter().find(|(service, _)| service == name))
        .collect();
    for (service, state) in &ordered {
        client
            .control(service)
            .check_state(state)
            .await
            .with_context(|| format!("the {service} service refused its state"))?;
    }
    let mut imported = Vec::new();
    for (service, state) in &ordered {
        imported.push(client.control(service).import_state(state).await?);
    }
    let change = ClockChange {
        freeze: Some(bundle.clock.frozen),
        set: Some(bundle.clock.now.secs().to_string()),
        ..ClockChange::default()
    };
    let clock = client.control(ftm::NAME).change_clock(&change).await?;
    Ok((imported, clock))
}
