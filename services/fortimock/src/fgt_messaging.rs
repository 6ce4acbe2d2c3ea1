//! `fortimock fgt send-activation` and `fortimock fgt messaging show|set`: a virtual appliance's activation
//! messages from the command line. `send-activation` is FortiOS's `user/fortitoken/send-activation` (a
//! Pending token's code sent again, by email through the suite's SMTP listener or by SMS to its sink);
//! `messaging` is `config system email-server` and the SMS gateway: where the appliance delivers them. Both
//! go through the typed client `fortimock_testing::typed_messaging`.

use anyhow::bail;
use clap::Subcommand;
use protocol::messages::{DeliveryMethod, MessagingChange, MessagingSettings, SendActivation};

use crate::client::{SuiteClient, Target};

/// The subcommands this module adds to `fortimock fgt` (flattened into `fgt`'s own).
#[derive(Subcommand, Debug)]
pub enum FgtMessagingCommand {
    /// `user/fortitoken/send-activation`: send a Pending token's activation code (again) by email (with its
    /// QR code) or SMS; a failed delivery leaves the token Pending, so this can be run again.
    SendActivation {
        #[command(flatten)]
        target: Target,
        /// The appliance's serial.
        fgt: String,
        /// The token's serial (a Pending token: provisioned, not yet activated on a phone).
        token: String,
        /// Email the code to this address.
        #[arg(
            long,
            required_unless_present = "sms_phone",
            conflicts_with = "sms_phone"
        )]
        email: Option<String>,
        /// Send the code by SMS to this number (E.164, `+15551234567`).
        #[arg(long)]
        sms_phone: Option<String>,
        /// Print where it went as JSON.
        #[arg(long)]
        json: bool,
    },
    /// `config system email-server` and the SMS gateway: where the appliance sends activation messages
    /// (show them, or set some).
    #[command(subcommand)]
    Messaging(MessagingCommand),
}

/// `fortimock fgt messaging …`.
#[derive(Subcommand, Debug)]
pub enum MessagingCommand {
    /// The appliance's mail server, STARTTLS, sender and SMS gateway.
    Show {
        #[command(flatten)]
        target: Target,
        /// The appliance's serial.
        fgt: String,
        #[arg(long)]
        json: bool,
    },
    /// Change some of them (the others stay as they are; a bad value changes nothing).
    Set {
        #[command(flatten)]
        target: Target,
        /// The appliance's serial.
        fgt: String,
        /// `set server`: the mail server's address or host name (the suite's SMTP listener by default).
        #[arg(long)]
        smtp_server: Option<String>,
        /// `set port`.
        #[arg(long)]
        smtp_port: Option<u16>,
        /// `set security`: starttls (verified against the lab CA) or none (plain SMTP).
        #[arg(long, value_parser = ["starttls", "none"])]
        smtp_security: Option<String>,
        /// `set reply-to`: the sender of activation emails.
        #[arg(long)]
        sender: Option<String>,
        /// The SMS gateway's URL (the suite's SMS sink by default).
        #[arg(long)]
        sms_gateway: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: FgtMessagingCommand) -> anyhow::Result<()> {
    match command {
        FgtMessagingCommand::SendActivation {
            target,
            fgt,
            token,
            email,
            sms_phone,
            json,
        } => {
            let method = if email.is_some() {
                DeliveryMethod::Email
            } else {
                DeliveryMethod::Sms
            };
            let request = SendActivation {
                token,
                method,
                email,
                sms_phone,
            };
            let client = SuiteClient::connect(&target)?;
            match client.messaging().send_activation(&fgt, &request).await? {
                Ok(delivered) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&delivered)?);
                    } else {
                        let how = match delivered.method {
                            DeliveryMethod::Email => "email",
                            DeliveryMethod::Sms => "SMS",
                        };
                        println!(
                            "activation code of {} sent by {how} to {}: {}",
                            request.token.trim(),
                            delivered.recipient,
                            delivered.server_reply
                        );
                    }
                    Ok(())
                }
                Err(failure) => {
                    for line in &failure.debug {
                        println!("{line}");
                    }
                    bail!("{} ({})", failure.message, failure.error_id)
                }
            }
        }
        FgtMessagingCommand::Messaging(MessagingCommand::Show { target, fgt, json }) => {
            let client = SuiteClient::connect(&target)?;
            let settings = client.messaging().settings(&fgt).await?;
            print_settings(&fgt, &settings, json)
        }
        FgtMessagingCommand::Messaging(MessagingCommand::Set {
            target,
            fgt,
            smtp_server,
            smtp_port,
            smtp_security,
            sender,
            sms_gateway,
            json,
        }) => {
            let change = MessagingChange {
                smtp_server,
                smtp_port,
                smtp_security,
                sender,
                sms_gateway,
            };
            if change == MessagingChange::default() {
                bail!(
                    "nothing to set: give --smtp-server, --smtp-port, --smtp-security, --sender or --sms-gateway"
                );
            }
            let client = SuiteClient::connect(&target)?;
            let settings = client.messaging().change_settings(&fgt, &change).await?;
            print_settings(&fgt, &settings, json)
        }
    }
}

/// The settings as JSON, or as FortiOS shows `config system email-server` (with the SMS gateway after it).
fn print_settings(fgt: &str, settings: &MessagingSettings, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(settings)?);
        return Ok(());
    }
    println!("# {fgt}");
    println!("config system email-server");
    println!("    set reply-to \"{}\"", settings.sender);
    println!("    set server \"{}\"", settings.smtp_server);
    println!("    set port {}", settings.smtp_port);
    println!("    set security {}", settings.smtp_security);
    println!("end");
    println!("# SMS gateway: {}", settings.sms_gateway);
    Ok(())
}
