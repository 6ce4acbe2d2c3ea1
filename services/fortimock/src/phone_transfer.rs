//! `fortimock phone transfer …`: token transfer between phones in a running suite (DESIGN flow 8), through
//! `fortimock-testing`'s typed clients (`typed_token_transfer`): `start` on the old phone (its tokens' data
//! to the transfer service, then the transfer code requested from its FortiAuthenticator, which sends it to
//! the user), `code` (the transfer code the FAC sent, as the user received it), `complete` on the new phone,
//! `check` on the old phone (which drops its tokens once the transfer completed).

use anyhow::{Context, bail};
use clap::Subcommand;
use protocol::admin::ErrorBody;
use protocol::id::TokenSerial;

use crate::client::{SuiteClient, Target};

/// `fortimock phone transfer …`.
#[derive(Subcommand, Debug)]
pub enum PhoneTransferCommand {
    /// "Transfer Tokens" on the old phone: the transfer service keeps the tokens' data, the FortiAuthenticator
    /// that issued them gets the transfer code and sends it to the user (its token policy must allow
    /// FortiToken Mobile transfer).
    Start {
        #[command(flatten)]
        target: Target,
        /// The old phone's id.
        phone: String,
        /// The FortiAuthenticator's serial (the phone reaches it by its REST API host name on the appliance
        /// service's port).
        #[arg(long, required_unless_present = "fac_address")]
        fac: Option<String>,
        /// Where the phone reaches the FAC's FortiToken Mobile API instead (`host:port`).
        #[arg(long, conflicts_with = "fac")]
        fac_address: Option<String>,
        /// A token to move (repeatable; default every token that FAC issued).
        #[arg(long = "token")]
        tokens: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// The newest transfer code a FortiAuthenticator sent (by email or SMS): what the user received.
    Code {
        #[command(flatten)]
        target: Target,
        /// The FortiAuthenticator's serial.
        fac: String,
        /// Print the message as JSON (channel, recipient, code).
        #[arg(long)]
        json: bool,
    },
    /// "Complete Token Transfer" on the new phone with the transfer code (or its QR string).
    Complete {
        #[command(flatten)]
        target: Target,
        /// The new phone's id.
        phone: String,
        /// The transfer code as typed, or the QR string (or none with --latest-from).
        #[arg(required_unless_present = "latest_from")]
        code: Option<String>,
        /// Use the newest transfer code this FortiAuthenticator sent.
        #[arg(long, conflicts_with = "code")]
        latest_from: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// How a transfer went, asked by the old phone; once another phone completed it, the old phone removes
    /// the tokens.
    Check {
        #[command(flatten)]
        target: Target,
        /// The old phone's id.
        phone: String,
        /// The transfer's id, as `start` printed it.
        transfer_id: String,
        /// A token the transfer moves (repeatable, as `start` printed them).
        #[arg(long = "token", required = true)]
        tokens: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

/// A phone's refusal, as the error the command ends with.
fn refused(what: &str, refusal: &ErrorBody) -> anyhow::Error {
    anyhow::anyhow!("{what} refused: {} ({})", refusal.message, refusal.error_id)
}

fn serials(tokens: &[String]) -> anyhow::Result<Vec<TokenSerial>> {
    tokens
        .iter()
        .map(|t| t.parse().map_err(|e| anyhow::anyhow!("--token {t}: {e}")))
        .collect()
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn run(command: PhoneTransferCommand) -> anyhow::Result<()> {
    match command {
        PhoneTransferCommand::Start {
            target,
            phone,
            fac,
            fac_address,
            tokens,
            json,
        } => {
            let client = SuiteClient::connect(&target)?;
            let transfers = client.token_transfers();
            let address = match (fac_address, fac) {
                (Some(address), _) => address,
                (None, Some(fac)) => transfers.fac_address(&fac).await?,
                (None, None) => bail!("name the FortiAuthenticator with --fac or --fac-address"),
            };
            let view = transfers
                .start(&phone, &address, &serials(&tokens)?)
                .await?
                .map_err(|r| refused("the transfer", &r))?;
            if json {
                return print_json(&view);
            }
            let moved: Vec<String> = view.tokens.iter().map(ToString::to_string).collect();
            println!(
                "transfer {} of {} from {phone}",
                view.transfer_id,
                moved.join(", ")
            );
            println!(
                "{} sent the transfer code to the user by {} (`fortimock phone transfer code {}` shows it)",
                view.issuer,
                view.method.as_deref().unwrap_or("?"),
                view.issuer
            );
            Ok(())
        }
        PhoneTransferCommand::Code { target, fac, json } => {
            let client = SuiteClient::connect(&target)?;
            let message = client
                .token_transfers()
                .latest_code(&fac)
                .await?
                .with_context(|| format!("{fac} has sent no transfer code"))?;
            if json {
                return print_json(&message);
            }
            println!(
                "{} (sent by {:?} to {} <{}> at {})",
                message.code,
                message.channel,
                message.user,
                message.to,
                message.at.rfc3339()
            );
            Ok(())
        }
        PhoneTransferCommand::Complete {
            target,
            phone,
            code,
            latest_from,
            json,
        } => {
            let client = SuiteClient::connect(&target)?;
            let transfers = client.token_transfers();
            let code = match (code, latest_from) {
                (Some(code), _) => code,
                (None, Some(fac)) => {
                    transfers
                        .latest_code(&fac)
                        .await?
                        .with_context(|| format!("{fac} has sent no transfer code"))?
                        .code
                }
                (None, None) => bail!("give the transfer code, or --latest-from <FAC serial>"),
            };
            let installed = transfers
                .complete(&phone, &code)
                .await?
                .map_err(|r| refused("completing the transfer", &r))?;
            if json {
                return print_json(&installed);
            }
            for token in &installed.tokens {
                println!("{phone} installed {} from {}", token.serial, token.issuer);
            }
            Ok(())
        }
        PhoneTransferCommand::Check {
            target,
            phone,
            transfer_id,
            tokens,
            json,
        } => {
            let client = SuiteClient::connect(&target)?;
            let view = client
                .token_transfers()
                .check(&phone, &transfer_id, &serials(&tokens)?)
                .await?
                .map_err(|r| refused("the check", &r))?;
            if json {
                return print_json(&view);
            }
            println!(
                "transfer {} is {}{}",
                view.transfer_id,
                view.status,
                if view.status == "completed" {
                    format!(": {phone} removed its copies")
                } else {
                    String::new()
                }
            );
            Ok(())
        }
    }
}
