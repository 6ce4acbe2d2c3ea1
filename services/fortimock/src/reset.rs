//! `fortimock reset`: a running suite back to its start without restarting it.

use crate::cli::{ResetArgs, SERVICES};
use crate::client::SuiteClient;

pub async fn run(args: ResetArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    let services: Vec<&str> = match &args.service {
        Some(service) => vec![service.as_str()],
        None => SERVICES.to_vec(),
    };
    for service in &services {
        let view = client.control(service).reset().await?;
        let mut line = format!(
            "{:<10} {} removed",
            view.service,
            count(view.removed, "record")
        );
        if view.fixtures > 0 {
            line.push_str(&format!(
                ", {} back (licenses and API users)",
                count(view.fixtures, "fixture")
            ));
        }
        if view.scenarios > 0 {
            line.push_str(&format!(", {} cleared", count(view.scenarios, "scenario")));
        }
        println!("{line}");
    }
    if args.service.is_none() && !args.keep_clock {
        let clock = client.control(ftm::NAME).real_clock().await?;
        println!("{:<10} back on real time ({})", "clock", clock.now_rfc3339);
    }
    Ok(())
}

/// `1 record`, `3 records`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
