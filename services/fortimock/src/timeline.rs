//! `fortimock timeline`: the exchanges between the lab's parts by flow, for people: the flows (what
//! started each, how many exchanges, how many errors), or one flow or time range as indented calls, or as
//! the Mermaid diagram `GET /__admin/timeline?format=mermaid` draws.

use fortimock_testing::TimelineFilter;
use protocol::timeline::{StepKind, answer_note, steps};

use crate::cli::TimelineArgs;
use crate::client::SuiteClient;

pub async fn run(args: TimelineArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    let listing = args.flow.is_none() && args.since.is_none() && args.until.is_none();
    let filter = TimelineFilter {
        flow: args.flow.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        flows: listing && !args.mermaid,
        limit: None,
    };
    // Every service answers the process's one timeline; ftm is the front door.
    let front = client.control(ftm::NAME);
    if args.mermaid {
        print!("{}", front.timeline_mermaid(&filter).await?);
        return Ok(());
    }
    let page = front.timeline(&filter).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    if page.entries.is_empty() {
        println!("nothing on the timeline");
        return Ok(());
    }
    if let Some(flows) = page.flows.as_ref().filter(|_| listing) {
        println!(
            "{} flow{}, newest first (fortimock timeline --flow ID shows one):",
            flows.len(),
            if flows.len() == 1 { "" } else { "s" }
        );
        for flow in flows {
            let errors = match flow.errors {
                0 => String::new(),
                n => format!(", {n} with a catalogue error"),
            };
            println!(
                "  {}  {}  {} -> {}  {} {}  ({} exchanges{errors})",
                flow.flow,
                clock(flow.first_ms),
                flow.from,
                flow.to,
                flow.method,
                flow.path,
                flow.exchanges
            );
        }
        return Ok(());
    }
    for step in steps(&page.entries) {
        let entry = step.entry;
        let indent = "  ".repeat(step.depth);
        match step.kind {
            StepKind::Request => println!(
                "{} {}{indent}{} -> {}  {} {}",
                clock(entry.time_ms),
                entry.flow,
                entry.from,
                entry.to,
                entry.method,
                entry.path
            ),
            StepKind::Answer => println!(
                "{} {}{indent}{} <- {}  {}",
                clock(entry.time_ms),
                entry.flow,
                entry.from,
                entry.to,
                answer_note(entry)
            ),
        }
    }
    Ok(())
}

/// `12:34:56.789` of a lab-clock time in milliseconds.
fn clock(ms: i64) -> String {
    let time = protocol::time::UnixTime::from_secs(ms.div_euclid(1000)).rfc3339();
    format!(
        "{}.{:03}",
        time.get(11..19).unwrap_or(&time),
        ms.rem_euclid(1000)
    )
}
