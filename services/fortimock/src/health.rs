//! `fortimock health`: whether every service of a running suite answers `/__admin/ready`, as an exit
//! status, for scripts (`fortimock up & fortimock health --wait 30`) and container health checks.

use std::time::{Duration, Instant};

use anyhow::bail;
use protocol::admin::ServiceStatus;

use crate::cli::HealthArgs;
use crate::client::SuiteClient;

pub async fn run(args: HealthArgs) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs_f64(args.wait.clamp(0.0, 3600.0));
    loop {
        // Connecting again each time reads `suite.json` and the lab CA again: both appear once `up` is ready.
        let attempt = match SuiteClient::connect(&args.target) {
            Ok(client) => check(&client).await,
            Err(e) => Err(e),
        };
        match attempt {
            Ok(ready) => {
                if !args.quiet {
                    for (status, url) in ready {
                        println!("{:<10} {:<6} {url}", status.service, status.status);
                    }
                }
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Every service's readiness, or the first that is not ready.
async fn check(client: &SuiteClient) -> anyhow::Result<Vec<(ServiceStatus, String)>> {
    let mut ready = Vec::new();
    for service in client.services() {
        let status = client.control(service).ready().await?;
        if status.status != "ready" {
            bail!("{service} is {}", status.status);
        }
        ready.push((status, client.url(service)?.to_owned()));
    }
    Ok(ready)
}
