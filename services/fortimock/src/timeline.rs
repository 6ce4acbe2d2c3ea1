//! `fortimock timeline`: the exchanges between the lab's parts by flow, for people: the flows (what
//! started each, how many exchanges, how many errors), or one flow or time range as indented calls, or as
//! the Mermaid diagram `GET /__admin/timeline?format=mermaid` draws.

use protocol::paths;
use protocol::timeline::{StepKind, TimelinePage, answer_note, steps};

use crate::cli::TimelineArgs;
use crate::client::SuiteClient;

pub async fn run(args: TimelineArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(flow) = &args.flow {
        query.push(("flow", flow));
    }
    if let Some(since) = &args.since {
        query.push(("since", since));
    }
    if let Some(until) = &args.until {
        query.push(("until", until));
    }
    let listing = args.flow.is_none() && args.since.is_none() && args.until.is_none();
    if args.mermaid {
        query.push(("format", "mermaid"));
    } else if listing {
        query.push(("flows", "true"));
    }
    let path = format!(
        "{}?{}",
        paths::ADMIN_TIMELINE,
        serde_urlencoded::to_string(&query)?
    );
    // Every service answers the process's one timeline; ftm is the front door.
    if args.mermaid {
        let text = client.get_bytes("ftm", &path).await?;
        print!("{}", String::from_utf8_lossy(&text));
        return Ok(());
    }
    let page: TimelinePage = client.get("ftm", &path).await?;
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
