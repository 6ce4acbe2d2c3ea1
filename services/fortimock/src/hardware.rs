//! `fortimock hardware` (FortiGuard's hardware token batches on forticare: create, list, show, TAC's lock
//! reset, the seed file) and `fortimock fgt hardware` (a virtual appliance's hardware tokens: activation by
//! serial, the seed file's offline import, assignment, `diagnose fortitoken info`).

use anyhow::Context;
use protocol::hardware::{HardwareBatchView, HardwareTokenRow, NewHardwareBatch, ResetLockRequest};
use protocol::id::HardwareModel;

use crate::cli::{FgtHardwareCommand, HardwareCommand};
use crate::client::SuiteClient;

pub async fn run(command: HardwareCommand) -> anyhow::Result<()> {
    match command {
        HardwareCommand::Create {
            target,
            model,
            count,
            demo,
            note,
            json,
        } => {
            let model = HardwareModel::from_prefix(model.trim()).with_context(|| {
                format!("--model {model} is none of FTK200, FTK210, FTK220, FTK211")
            })?;
            let client = SuiteClient::connect(&target)?;
            let batch = client
                .hardware_batches()
                .create(&NewHardwareBatch {
                    model,
                    count,
                    demo,
                    note,
                })
                .await?;
            print_batch(&batch, json)
        }
        HardwareCommand::List { target, json } => {
            let client = SuiteClient::connect(&target)?;
            let list = client.hardware_batches().list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            for batch in &list.batches {
                print_batch(batch, false)?;
            }
            Ok(())
        }
        HardwareCommand::Show {
            target,
            batch,
            json,
        } => {
            let client = SuiteClient::connect(&target)?;
            let batch = client.hardware_batches().get(&batch).await?;
            print_batch(&batch, json)
        }
        HardwareCommand::ResetLock { target, serials } => {
            let client = SuiteClient::connect(&target)?;
            let outcome = client
                .hardware_batches()
                .reset_lock(&ResetLockRequest {
                    serials,
                    note: None,
                })
                .await?;
            for token in &outcome.reset {
                println!("{}: lock reset, one more activation", token.serial);
            }
            Ok(())
        }
        HardwareCommand::SeedFile {
            target,
            batch,
            output,
            format,
        } => {
            let client = SuiteClient::connect(&target)?;
            let seed_file = client
                .hardware_batches()
                .seed_file(&batch, format.as_deref())
                .await?;
            std::fs::write(&output, seed_file.zip)
                .with_context(|| format!("writing {}", output.display()))?;
            println!("seed file written to {}", output.display());
            println!(
                "zip password (shown once): {}",
                seed_file.password.unwrap_or_default()
            );
            Ok(())
        }
    }
}

fn print_batch(batch: &HardwareBatchView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(batch)?);
        return Ok(());
    }
    println!(
        "{} {}{} ({} tokens)",
        batch.batch,
        batch.model,
        if batch.demo { " DEMO" } else { "" },
        batch.tokens.len()
    );
    for token in &batch.tokens {
        println!(
            "  {} {}{}",
            token.serial,
            token.state,
            token
                .locked_to
                .as_ref()
                .map(|a| format!(" to {a}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn print_rows(rows: &[HardwareTokenRow]) {
    for row in rows {
        println!(
            "{} {} ({}{})",
            row.serial,
            row.status,
            row.gui_status,
            row.user
                .as_ref()
                .map(|u| format!(", user {u}"))
                .unwrap_or_default()
        );
    }
}

pub async fn run_fgt(command: FgtHardwareCommand) -> anyhow::Result<()> {
    match command {
        FgtHardwareCommand::Activate {
            target,
            fgt,
            serials,
            debug,
        } => {
            let client = SuiteClient::connect(&target)?;
            let outcome = client
                .appliances()
                .debug(debug)
                .hardware_activate(&fgt, &serials)
                .await?;
            for line in &outcome.debug {
                println!("{line}");
            }
            print_rows(&outcome.tokens);
            Ok(())
        }
        FgtHardwareCommand::ImportSeedFile {
            target,
            fgt,
            file,
            password,
        } => {
            let zip =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let client = SuiteClient::connect(&target)?;
            let outcome = client
                .appliances()
                .import_seed_file(&fgt, &zip, &password)
                .await?;
            print_rows(&outcome.tokens);
            Ok(())
        }
        FgtHardwareCommand::Assign {
            target,
            fgt,
            token,
            user,
        } => {
            let client = SuiteClient::connect(&target)?;
            let row = client
                .appliances()
                .hardware_assign(&fgt, &token, &user)
                .await?;
            print_rows(std::slice::from_ref(&row));
            Ok(())
        }
        FgtHardwareCommand::Info { target, fgt } => {
            let client = SuiteClient::connect(&target)?;
            let info = client.appliances().fortitoken_info(&fgt).await?;
            println!("{}", info.text.trim_end());
            Ok(())
        }
    }
}
