//! `fortimock journal`: what forticare, ftm and the push relay were asked and answered, for people.

use fortimock_testing::JournalFilter;
use protocol::journal::JournalEntry;

use crate::cli::JournalArgs;
use crate::client::SuiteClient;

pub async fn run(args: JournalArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    let services: Vec<&str> = match &args.service {
        Some(service) => vec![service.as_str()],
        None => protocol::scenario::JOURNALED.to_vec(),
    };
    if args.clear {
        for service in services {
            client.control(service).clear_journal().await?;
            println!("cleared the journal of {service}");
        }
        return Ok(());
    }
    let filter = JournalFilter {
        message_type: args.message_type.clone(),
        limit: Some(args.limit),
        ..JournalFilter::default()
    };
    let mut entries: Vec<(&str, JournalEntry)> = Vec::new();
    for service in services {
        let page = client.control(service).journal(&filter).await?;
        entries.extend(page.entries.into_iter().map(|e| (service, e)));
    }
    // One timeline: by time, then each service's own order.
    entries.sort_by(|(sa, a), (sb, b)| (a.time, *sa, a.seq).cmp(&(b.time, *sb, b.seq)));
    if args.json {
        let timeline: Vec<serde_json::Value> = entries
            .iter()
            .map(|(service, entry)| {
                let mut value = serde_json::to_value(entry).unwrap_or_default();
                value["service"] = (*service).into();
                value
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&timeline)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("nothing journaled");
    }
    for (service, entry) in &entries {
        println!("{}", line(service, entry));
        if args.bodies {
            for (label, body) in [("request", &entry.request), ("answer", &entry.response)] {
                if !body.is_null() {
                    println!("  {label}  {body}");
                }
            }
        }
    }
    Ok(())
}

/// `12:34:56 ftm       #3 POST /SoftToken/Provisioning.asmx/Process 200 0.8 ms SoftToken.ProvisionRequest: …`
fn line(service: &str, entry: &JournalEntry) -> String {
    let time = entry.time.rfc3339();
    let clock = time.get(11..19).unwrap_or(&time);
    let mut line = format!(
        "{clock} {service:<9} #{:<4} {} {} {} {:.1} ms",
        entry.seq,
        entry.method,
        entry.path,
        entry.status,
        entry.micros as f64 / 1000.0
    );
    if let Some(message_type) = &entry.message_type {
        line.push_str(&format!(" {message_type}"));
    }
    if let Some(result) = &entry.result {
        line.push_str(&format!(": {result}"));
    }
    line
}
