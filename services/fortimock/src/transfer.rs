//! `fortimock transfer EFTM… --from A --to B [--rma] [--grace 24h]`: a Customer Service "License Transfer"
//! ticket on a running suite, printed as the customer reads it (and `--list`, `--show` for the tickets).

use anyhow::{Context, bail};
use protocol::ledger::{TransferList, TransferRequest, TransferTicket};
use protocol::paths;
use protocol::time::UnixTime;

use crate::cli::TransferArgs;
use crate::client::SuiteClient;

pub async fn run(args: TransferArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    if args.list {
        let list: TransferList = client.get(forticare::NAME, paths::ADMIN_TRANSFERS).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else {
            println!(
                "{:<8} {:<17} {:<17} {:<17} {:<4} {:<7} GRACE UNTIL",
                "TICKET", "LICENSE", "FROM", "TO", "RMA", "STATUS"
            );
            for t in &list.transfers {
                println!(
                    "{:<8} {:<17} {:<17} {:<17} {:<4} {:<7} {}",
                    t.ticket,
                    t.license,
                    t.from,
                    t.to,
                    if t.rma { "yes" } else { "no" },
                    t.status,
                    t.grace_until
                );
            }
        }
        return Ok(());
    }
    if let Some(ticket) = &args.show {
        let ticket: TransferTicket = client
            .get(
                forticare::NAME,
                &paths::fill(paths::ADMIN_TRANSFER, &[ticket.trim()]),
            )
            .await?;
        return print(&ticket, args.json);
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
    let ticket: TransferTicket = client
        .post(forticare::NAME, paths::ADMIN_TRANSFERS, &request)
        .await?;
    print(&ticket, args.json)
}

/// The ticket as Customer Service's update reads.
fn print(ticket: &TransferTicket, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(ticket)?);
        return Ok(());
    }
    println!(
        "Ticket {} (License Transfer{}): {}",
        ticket.ticket,
        if ticket.rma { ", RMA" } else { "" },
        ticket.status
    );
    println!(
        "  License {} has been transferred from {} to {}.",
        ticket.license, ticket.from, ticket.to
    );
    println!(
        "  New activation code: {} (on the attached redemption certificate, {}.pdf: {})",
        ticket.activation_code, ticket.license, ticket.certificate
    );
    println!("  The previous activation code is no longer valid.");
    println!(
        "  FortiTokens on {} keep working until {} ({}); delete them there, then run on {}:",
        ticket
            .from_cluster
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        ticket.grace_until,
        ticket.grace_until.secs(),
        ticket.to
    );
    println!(
        "    execute fortitoken-mobile import {}",
        ticket.activation_code
    );
    if ticket.rma {
        println!(
            "  RMA: every token must be provisioned again on {}.",
            ticket.to
        );
    }
    if let Some(note) = &ticket.note {
        println!("  Customer's note: {note}");
    }
    println!(
        "  Completed {}.",
        UnixTime::from_secs(ticket.completed.secs())
    );
    Ok(())
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

    #[test]
    fn grace_durations_take_units() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("24h").unwrap(), 86_400);
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
