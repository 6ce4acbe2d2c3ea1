//! `fortimock transfer EFTM… --from A --to B [--rma] [--grace 24h]`: a Customer Service "License Transfer"
//! ticket on a running suite, printed as the customer reads it (and `--list`, `--show` for the tickets),
//! through the typed client `fortimock_testing::Transfers`. A ticket still in its grace period
//! speaks of the old unit in the present tense; a closed one in the past.

use anyhow::{Context, bail};
use protocol::ledger::{TransferRequest, TransferTicket};

use crate::cli::TransferArgs;
use crate::client::SuiteClient;

/// A ticket's `status` once the old unit's grace period is over.
const CLOSED: &str = "closed";

pub async fn run(args: TransferArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    let tickets = client.transfers();
    if args.list {
        let list = tickets.list().await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else {
            print!("{}", table(&list.transfers));
        }
        return Ok(());
    }
    if let Some(ticket) = &args.show {
        return print(&tickets.get(ticket).await?, args.json);
    }
    let (Some(license), Some(from), Some(to)) = (&args.license, &args.from, &args.to) else {
        bail!("give the license, --from and --to (or --list, or --show TICKET)");
    };
    let request = TransferRequest {
        license: license.trim().parse().context("the license id")?,
        from: from.parse().context("--from")?,
        to: to.parse().context("--to")?,
        rma: args.rma,
        grace_secs: args.grace.as_deref().map(parse_duration).transpose()?,
        note: args.note.clone(),
    };
    print(&tickets.open(&request).await?, args.json)
}

fn print(ticket: &TransferTicket, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(ticket)?);
    } else {
        print!("{}", describe(ticket));
    }
    Ok(())
}

/// The tickets as a table, each column as wide as its widest cell.
fn table(tickets: &[TransferTicket]) -> String {
    if tickets.is_empty() {
        return "no transfer tickets\n".to_owned();
    }
    let header = [
        "TICKET",
        "LICENSE",
        "FROM",
        "TO",
        "RMA",
        "STATUS",
        "GRACE UNTIL",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 7]> = tickets
        .iter()
        .map(|t| {
            [
                t.ticket.clone(),
                t.license.to_string(),
                t.from.to_string(),
                t.to.to_string(),
                if t.rma { "yes" } else { "no" }.to_owned(),
                t.status.clone(),
                t.grace_until.to_string(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The ticket as Customer Service's update reads: while the old unit's grace period runs, what the
/// customer does now; once it is closed, what happened.
fn describe(ticket: &TransferTicket) -> String {
    let closed = ticket.status == CLOSED;
    let old_cluster = ticket
        .from_cluster
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut lines = vec![format!(
        "Ticket {} (License Transfer{}): {}",
        ticket.ticket,
        if ticket.rma { ", RMA" } else { "" },
        ticket.status
    )];
    if closed {
        lines.push(format!(
            "  License {} was transferred from {} to {} on {}.",
            ticket.license, ticket.from, ticket.to, ticket.completed
        ));
        lines.push(format!(
            "  New activation code: {} (on the attached redemption certificate, {}.pdf: {})",
            ticket.activation_code, ticket.license, ticket.certificate
        ));
        lines.push(
            "  The previous activation code was voided when the license was transferred."
                .to_owned(),
        );
        lines.push(format!(
            "  FortiTokens on {old_cluster} stopped working at {} ({}); any left there were to be deleted, and on {} the new code imported:",
            ticket.grace_until,
            ticket.grace_until.secs(),
            ticket.to
        ));
        lines.push(format!(
            "    execute fortitoken-mobile import {}",
            ticket.activation_code
        ));
        if ticket.rma {
            lines.push(format!(
                "  RMA: no activation was carried over; every token was to be provisioned again on {}.",
                ticket.to
            ));
        }
        if let Some(note) = &ticket.note {
            lines.push(format!("  Customer's note: {note}"));
        }
        lines.push(format!(
            "  Completed {}; closed at the end of the grace period, {}.",
            ticket.completed, ticket.grace_until
        ));
    } else {
        lines.push(format!(
            "  License {} has been transferred from {} to {}.",
            ticket.license, ticket.from, ticket.to
        ));
        lines.push(format!(
            "  New activation code: {} (on the attached redemption certificate, {}.pdf: {})",
            ticket.activation_code, ticket.license, ticket.certificate
        ));
        lines.push("  The previous activation code is no longer valid.".to_owned());
        lines.push(format!(
            "  FortiTokens on {old_cluster} keep working until {} ({}); delete them there, then run on {}:",
            ticket.grace_until,
            ticket.grace_until.secs(),
            ticket.to
        ));
        lines.push(format!(
            "    execute fortitoken-mobile import {}",
            ticket.activation_code
        ));
        if ticket.rma {
            lines.push(format!(
                "  RMA: every token must be provisioned again on {}.",
                ticket.to
            ));
        }
        if let Some(note) = &ticket.note {
            lines.push(format!("  Customer's note: {note}"));
        }
        lines.push(format!("  Completed {}.", ticket.completed));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Seconds from `90`, `90s`, `30m`, `24h` or `2d`.
fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let number: i64 = number.parse().with_context(|| {
        format!("--grace {text}: not a number of seconds, minutes, hours or days")
    })?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => bail!("--grace {text}: unknown unit `{other}` (use s, m, h or d)"),
    };
    number
        .checked_mul(scale)
        .with_context(|| format!("--grace {text}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::time::UnixTime;

    #[test]
    fn grace_durations_take_units() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("24h").unwrap(), 86_400);
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    fn ticket(number: &str, status: &str, rma: bool) -> TransferTicket {
        TransferTicket {
            ticket: number.to_owned(),
            license: "EFTM000000000005".parse().unwrap(),
            from: "FGVM01TM00000001".parse().unwrap(),
            to: "FGVM01TM00000002".parse().unwrap(),
            activation_code: "3F0A-91C2-7B44-0E1D-A5C8".parse().unwrap(),
            grace_until: UnixTime::from_secs(1_796_144_400),
            certificate: format!(
                "https://127.0.0.1:8440{}",
                protocol::paths::fill(
                    protocol::paths::ADMIN_LICENSE_CERTIFICATE,
                    &["EFTM000000000005"]
                )
            ),
            rma,
            status: status.to_owned(),
            completed: UnixTime::from_secs(1_796_058_000),
            from_cluster: vec!["FGVM01TM00000001".parse().unwrap()],
            note: None,
        }
    }

    #[test]
    fn the_list_is_aligned_whatever_the_widths() {
        let listed = table(&[
            ticket("7000001", "closed", true),
            ticket("10000000", "grace", false),
        ]);
        let lines: Vec<&str> = listed.lines().collect();
        assert_eq!(lines.len(), 3);
        for column in ["LICENSE", "FROM", "TO ", "RMA", "STATUS", "GRACE UNTIL"] {
            let at = lines[0].find(column).unwrap();
            for line in &lines[1..] {
                assert_ne!(line.as_bytes()[at], b' ', "{column} in {line:?}");
                assert_eq!(line.as_bytes()[at - 1], b' ', "{column} in {line:?}");
            }
        }
        assert_eq!(table(&[]), "no transfer tickets\n");
    }

    #[test]
    fn a_closed_ticket_is_told_in_the_past_tense() {
        let open = describe(&ticket("7000001", "grace", true));
        assert!(open.contains("has been transferred"), "{open}");
        assert!(open.contains("keep working until"), "{open}");
        assert!(open.contains("must be provisioned again"), "{open}");
        let closed = describe(&ticket("7000001", "closed", true));
        for present in ["has been", "keep working", " is no longer", "must be"] {
            assert!(!closed.contains(present), "{present:?} in {closed}");
        }
        for past in [
            "was transferred from FGVM01TM00000001 to FGVM01TM00000002 on",
            "was voided",
            "stopped working at",
            "was to be provisioned again",
            "closed at the end of the grace period",
        ] {
            assert!(closed.contains(past), "{past:?} missing from {closed}");
        }
    }
}
