//! `fortimock messages`: the activation messages the suite captured (emails its SMTP listener accepted, SMS
//! its SMS sink took), each with the activation code parsed from it; one message's raw `.eml`; clearing them.

use protocol::messages::{DeliveryMethod, MessageQuery, MessageView};

use crate::cli::{MessagesArgs, MessagesCommand};
use crate::client::SuiteClient;

pub async fn run(args: MessagesArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    match args.command {
        None => {
            let kind = match args.kind.as_deref() {
                None => None,
                Some("email") => Some(DeliveryMethod::Email),
                Some("sms") => Some(DeliveryMethod::Sms),
                Some(other) => anyhow::bail!("--kind {other} is neither email nor sms"),
            };
            let query = MessageQuery {
                recipient: args.recipient,
                kind,
                appliance: args.appliance,
                limit: args.limit,
            };
            let list = client.messages().list(&query).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if list.messages.is_empty() {
                println!("no messages captured");
            }
            for message in &list.messages {
                println!("{}", line(message));
            }
            Ok(())
        }
        Some(MessagesCommand::Show { id }) => {
            let message = client.messages().get(&id).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&message)?);
            } else {
                println!("{}", line(&message));
                if let Some(subject) = &message.subject {
                    println!("Subject: {subject}");
                }
                println!();
                println!("{}", message.text.trim_end());
            }
            Ok(())
        }
        Some(MessagesCommand::Eml { id, output }) => {
            let raw = client.messages().eml(&id).await?;
            std::fs::write(&output, raw)?;
            println!("{id} written to {}", output.display());
            Ok(())
        }
        Some(MessagesCommand::Clear) => {
            let cleared = client.messages().clear().await?;
            println!("{} messages removed", cleared.removed);
            Ok(())
        }
    }
}

fn line(message: &MessageView) -> String {
    let kind = match message.kind {
        DeliveryMethod::Email => "email",
        DeliveryMethod::Sms => "sms",
    };
    format!(
        "{:<6} {:<5} {} to {} from {}: code {}{}",
        message.id,
        kind,
        message.received,
        message.to.join(", "),
        message.appliance.as_deref().unwrap_or(&message.from),
        message.activation_code.as_deref().unwrap_or("(none)"),
        if message.has_qr { ", QR code" } else { "" }
    )
}
