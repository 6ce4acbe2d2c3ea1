//! `fortimock up`: start the suite on its embedded default lab, wait until every service is ready, print
//! where each listens, write the ready file, and run until Ctrl-C or SIGTERM.

use std::time::Instant;

use anyhow::Context;
use protocol::ledger::{LabFixtures, LicenseSpec};

use crate::cli::UpArgs;
use crate::client::SUITE_FILE;
use crate::suite::{Suite, write_urls};

/// The default lab's licenses (`fixtures/lab.json`), built into the binary.
pub const DEFAULT_FIXTURES: &str = include_str!("../../../fixtures/lab.json");

/// What each service is, for the banner.
fn describe(service: &str) -> &'static str {
    match service {
        "forticare" => {
            "FortiCare license service: license import (SoftToken.ActivationLicenseRequest)"
        }
        "ftm" => "FTM provisioning: appliances' front door (/Process) and phones' (/Mobile)",
        "phone" => "virtual FortiToken Mobile phones: /phones",
        "appliance" => "virtual FortiGates / FortiAuthenticators: /appliances",
        _ => "",
    }
}

pub async fn run(args: UpArgs, started: Instant) -> anyhow::Result<()> {
    let lab = args.lab.prepare()?;
    let fixtures = fixtures(&args)?;
    let suite = Suite::start(&lab, &args.ports, fixtures).await?;
    suite.wait_ready(&lab.http_client()?).await?;
    let ready_in = started.elapsed();
    let urls = suite.urls();
    if let Some(path) = &args.ready_file {
        write_urls(path, &urls)?;
    }
    if let Some(dir) = lab.data_dir() {
        write_urls(&dir.join(SUITE_FILE), &urls)?;
    }
    println!(
        "fortimock {} is up (ready in {:.1} ms)",
        env!("CARGO_PKG_VERSION"),
        ready_in.as_secs_f64() * 1000.0
    );
    for service in suite.services() {
        println!(
            "  {:<10} {:<26} {}",
            service.name(),
            service.url(),
            describe(service.name())
        );
    }
    match (lab.data_dir(), lab.tls()) {
        (Some(dir), Some(tls)) => {
            println!("data     {}", dir.display());
            if let Some(ca) = tls.ca_path() {
                println!("lab CA   {}   (curl --cacert {0} …)", ca.display());
            }
        }
        (Some(dir), None) => println!("data     {} (plain HTTP)", dir.display()),
        (None, Some(_)) => {
            println!("data     in memory (--ephemeral); lab CA at <service>/__admin/ca.pem")
        }
        (None, None) => println!("data     in memory (--ephemeral), plain HTTP"),
    }
    if let Some(path) = &args.ready_file {
        println!("ready    {}", path.display());
    }
    println!("Ctrl-C stops the suite.");

    wait_for_shutdown().await?;
    tracing::info!("stopping");
    suite.stop().await;
    if let Some(dir) = lab.data_dir() {
        let _ = std::fs::remove_file(dir.join(SUITE_FILE));
    }
    Ok(())
}

fn fixtures(args: &UpArgs) -> anyhow::Result<Vec<LicenseSpec>> {
    if args.no_fixtures {
        return Ok(Vec::new());
    }
    let (text, origin) = match &args.fixtures {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            DEFAULT_FIXTURES.to_owned(),
            "the built-in default lab".to_owned(),
        ),
    };
    let fixtures: LabFixtures =
        serde_json::from_str(&text).with_context(|| format!("parsing fixtures from {origin}"))?;
    Ok(fixtures.licenses)
}

async fn wait_for_shutdown() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
