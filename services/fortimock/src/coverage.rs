//! `fortimock coverage`: the running suite's coverage report as tables (what was reached, how often, and
//! what was not), and `up --coverage-report FILE`'s writing of the JSON report when the suite stops.

use std::path::Path;

use anyhow::Context;
use protocol::coverage::{CoverageReport, CoverageSection, DriftKind};

use crate::cli::CoverageArgs;
use crate::client::SuiteClient;

pub async fn run(args: CoverageArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    // Every service answers the process's one report.
    let report = client.control(ftm::NAME).coverage().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print!("{}", table(&report, !args.reached));
    Ok(())
}

/// The report as text: one section a table, reached items with their counts, then (with `missed`) the
/// ones never reached.
pub fn table(report: &CoverageReport, missed: bool) -> String {
    let mut text = format!("coverage of {}\n", report.services.join(", "));
    for (title, section) in [
        ("catalogue errors answered", &report.catalogue),
        ("message types served", &report.message_types),
        ("routes served", &report.routes),
        ("scenarios fired", &report.scenarios),
        ("state transitions", &report.transitions),
    ] {
        text.push_str(&section_text(title, section, missed));
    }
    text.push_str(&format!(
        "\ndrift: {} unknowns received\n",
        report.drift.len()
    ));
    for item in &report.drift {
        let kind = match item.kind {
            DriftKind::UnknownType => "unknown __type",
            DriftKind::UnknownVersion => "unknown __version",
            DriftKind::UnknownField => "unknown field",
        };
        text.push_str(&format!(
            "  {:>6}  {:<10} {kind:<17} {} ({})\n",
            item.count, item.service, item.value, item.message_type
        ));
    }
    text
}

fn section_text(title: &str, section: &CoverageSection, missed: bool) -> String {
    let mut text = format!(
        "\n{title}: {} of {} reached\n",
        section.reached, section.known
    );
    for item in section.items.iter().filter(|i| i.count > 0) {
        text.push_str(&format!(
            "  {:>6}  {:<10} {}\n",
            item.count, item.service, item.name
        ));
    }
    if missed && section.missed().next().is_some() {
        text.push_str("  never reached:\n");
        for item in section.missed() {
            text.push_str(&format!(
                "  {:>6}  {:<10} {}\n",
                "-", item.service, item.name
            ));
        }
    }
    text
}

/// Writes `report` as JSON to `path`, atomically (a reader never sees half of it).
pub fn write_report(path: &Path, report: &CoverageReport) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(&tmp, json + "\n").with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::coverage::CoverageItem;

    #[test]
    fn the_table_lists_reached_then_missed() {
        let item = |name: &str, count| CoverageItem {
            service: "forticare".into(),
            name: name.into(),
            count,
        };
        let section = CoverageSection::of(vec![item("a", 0), item("b", 3)]);
        let report = CoverageReport {
            services: vec!["forticare".into()],
            catalogue: section.clone(),
            message_types: section.clone(),
            routes: section.clone(),
            scenarios: section.clone(),
            transitions: CoverageSection::default(),
            drift: Vec::new(),
        };
        let text = table(&report, true);
        assert!(text.contains("catalogue errors answered: 1 of 2 reached\n       3  forticare  b\n  never reached:\n       -  forticare  a\n"), "{text}");
        assert!(!table(&report, false).contains("never reached"));
    }
}
