//! `fortimock license create|list|show`: the license admin API of a running suite, for people.

use anyhow::Context;
use protocol::ledger::{LicenseList, LicenseSpec, LicenseSummary, LicenseView};
use protocol::paths;

use crate::cli::{LicenseCommand, LicenseCreateArgs};
use crate::client::SuiteClient;

pub async fn run(command: LicenseCommand) -> anyhow::Result<()> {
    match command {
        LicenseCommand::Create(args) => create(args).await,
        LicenseCommand::List(args) => {
            let client = SuiteClient::connect(&args.target)?;
            let list: LicenseList = client.get(forticare::NAME, paths::ADMIN_LICENSES).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&list.licenses);
            }
            Ok(())
        }
        LicenseCommand::Show(args) => {
            let client = SuiteClient::connect(&args.target)?;
            let license: LicenseView = client
                .get(
                    forticare::NAME,
                    &paths::fill(paths::ADMIN_LICENSE, &[args.id.trim()]),
                )
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&license)?);
            } else {
                print_license(&license);
            }
            Ok(())
        }
    }
}

async fn create(args: LicenseCreateArgs) -> anyhow::Result<()> {
    let spec = LicenseSpec {
        id: args
            .id
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--id")?,
        code: args
            .code
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--code")?,
        seats: args.seats,
        valid_until: args
            .valid_until
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--valid-until")?,
        note: args.note,
        owner: None,
        owner_peers: Vec::new(),
    };
    let client = SuiteClient::connect(&args.target)?;
    let license: LicenseView = client
        .post(forticare::NAME, paths::ADMIN_LICENSES, &spec)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&license)?);
    } else {
        print_license(&license);
    }
    Ok(())
}

fn print_license(license: &LicenseView) {
    let summary = &license.summary;
    println!("license      {}", summary.id);
    match &summary.code {
        Some(code) => println!("code         {code}"),
        None => println!("code         0000-0000-0000-0000-0000 (trial)"),
    }
    println!("seats        {}", summary.seats);
    if let Some(until) = summary.valid_until {
        println!("valid until  {until}");
    }
    match &summary.owner {
        Some(owner) => println!(
            "owner        {} (cluster: {})",
            owner.appliance,
            join(&owner.cluster)
        ),
        None => println!("owner        - (not redeemed yet)"),
    }
    if let Some(note) = &summary.note {
        println!("note         {note}");
    }
    println!("tokens       {}", join(&license.tokens));
}

fn print_table(licenses: &[LicenseSummary]) {
    println!(
        "{:<17} {:<5} {:>5}  {:<24}  {:<17} NOTE",
        "LICENSE", "KIND", "SEATS", "CODE", "OWNER"
    );
    for l in licenses {
        let code = l
            .code
            .as_ref()
            .map_or_else(|| "(trial)".to_owned(), ToString::to_string);
        let owner = l
            .owner
            .as_ref()
            .map_or_else(|| "-".to_owned(), |o| o.appliance.to_string());
        let kind = serde_json::to_value(l.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "{:<17} {:<5} {:>5}  {:<24}  {:<17} {}",
            l.id,
            kind,
            l.seats,
            code,
            owner,
            l.note.as_deref().unwrap_or("")
        );
    }
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
