//! `fortimock license create|list|show|certificate`: the license admin API of a running suite, for people.

use anyhow::Context;
use protocol::ledger::{LicenseSpec, LicenseSummary, LicenseView};

use crate::cli::{LicenseCertificateArgs, LicenseCommand, LicenseCreateArgs};
use crate::client::SuiteClient;

pub async fn run(command: LicenseCommand) -> anyhow::Result<()> {
    match command {
        LicenseCommand::Create(args) => create(args).await,
        LicenseCommand::Certificate(args) => certificate(args).await,
        LicenseCommand::List(args) => {
            let client = SuiteClient::connect(&args.target)?;
            let list = client.licenses().list().await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&list.licenses);
            }
            Ok(())
        }
        LicenseCommand::Show(args) => {
            let client = SuiteClient::connect(&args.target)?;
            let license = client.licenses().get(args.id.trim()).await?;
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
        shipped: args
            .shipped
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("--shipped")?,
    };
    let client = SuiteClient::connect(&args.target)?;
    let license = client.licenses().create(&spec).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&license)?);
    } else {
        print_license(&license);
    }
    Ok(())
}

/// Saves a license's redemption certificate.
async fn certificate(args: LicenseCertificateArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    let id: protocol::id::LicenseId = args.id.trim().parse().context("the license id")?;
    let pdf = client.licenses().certificate(id.as_str()).await?;
    match args.output.as_deref() {
        Some(path) if path.as_os_str() == "-" => {
            std::io::Write::write_all(&mut std::io::stdout().lock(), &pdf)?;
        }
        output => {
            let path = output.map_or_else(|| format!("{id}.pdf").into(), ToOwned::to_owned);
            std::fs::write(&path, &pdf).with_context(|| format!("writing {}", path.display()))?;
            println!(
                "redemption certificate of {id} saved to {} ({} bytes)",
                path.display(),
                pdf.len()
            );
        }
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
    println!("seats        {} ({})", summary.seats, summary.sku);
    println!("shipped      {}", summary.shipped);
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
    if !summary.transfers.is_empty() {
        println!("transfers    tickets {}", summary.transfers.join(", "));
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
