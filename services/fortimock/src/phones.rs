//! `fortimock phone …`: drive the virtual FortiToken Mobile phones of a running suite.

use anyhow::{Context, bail};
use protocol::phone::{
    InboxEntry, NewPhone, PhoneChange, PhoneTokenView, Platform, PushPolicy, PushStatus,
};

use crate::cli::PhoneCommand;
use crate::client::{SuiteClient, Target};

pub async fn run(command: PhoneCommand) -> anyhow::Result<()> {
    match command {
        PhoneCommand::New {
            target,
            name,
            platform,
            skew,
            json,
        } => {
            let platform = match platform.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("android") => Platform::Android,
                Some("ios") => Platform::Ios,
                Some(other) => bail!("--platform {other}: use android or ios"),
            };
            let request = NewPhone {
                name,
                platform: Some(platform),
                clock_skew_secs: skew,
                ..NewPhone::default()
            };
            let client = SuiteClient::connect(&target)?;
            let phone = client.phones().create(&request).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&phone)?);
            } else {
                println!(
                    "{} ({}), mobile_id {}, push registration id {}",
                    phone.id, phone.os_ver, phone.mobile_id, phone.registration_id
                );
            }
            Ok(())
        }
        PhoneCommand::List(args) => {
            let client = SuiteClient::connect(&args.target)?;
            let list = client.phones().list().await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!("{:<12} {:<16} {:<38} TOKENS", "PHONE", "APP", "MOBILE ID");
            for phone in &list.phones {
                let tokens: Vec<String> = phone
                    .tokens
                    .iter()
                    .map(|t| format!("{} ({})", t.serial, t.issuer))
                    .collect();
                println!(
                    "{:<12} {:<16} {:<38} {}",
                    phone.id,
                    phone.os_ver,
                    phone.mobile_id.as_str(),
                    tokens.join(", ")
                );
            }
            Ok(())
        }
        PhoneCommand::Activate {
            target,
            device,
            code,
            from_message,
            latest_for,
        } => {
            let client = SuiteClient::connect(&target)?;
            let token: PhoneTokenView = match (code, from_message, latest_for) {
                (Some(code), _, _) => client
                    .phones()
                    .activate(&device.to_string(), &code)
                    .await?
                    .map_err(|refusal| {
                        anyhow::anyhow!("{} ({})", refusal.message, refusal.error_id)
                    })?,
                (None, message, latest_for) => {
                    let id = match (message, latest_for) {
                        (Some(id), _) => id,
                        (None, Some(address)) => latest_email_for(&client, &address).await?,
                        (None, None) => {
                            anyhow::bail!("give a code, --from-message or --latest-for")
                        }
                    };
                    let png = client.messages().qr(&id).await?;
                    client.phones().scan(&device.to_string(), &png).await?
                }
            };
            // A HOTP token's codes come one per request, not per period.
            let pace = if token.kind.eq_ignore_ascii_case("hotp") {
                "a new code on request".to_owned()
            } else {
                format!("a new code every {} s", token.period)
            };
            println!(
                "{} ({}) from {} activated: {}, {pace}, {} digits",
                token.name,
                token.serial,
                token.issuer,
                token.kind.to_uppercase(),
                token.digits
            );
            Ok(())
        }
        PhoneCommand::Otp {
            target,
            device,
            token,
            at,
            json,
        } => {
            let client = SuiteClient::connect(&target)?;
            let otp = client
                .phones()
                .otp_at(&device, token.as_deref().map(str::trim), at.as_deref())
                .await
                .context("reading the OTP")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&otp)?);
            } else {
                println!("{}", otp.otp);
            }
            Ok(())
        }
        PhoneCommand::Inbox {
            target,
            device,
            json,
        } => {
            let client = SuiteClient::connect(&target)?;
            let inbox = client.phones().inbox(&device.to_string()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&inbox)?);
                return Ok(());
            }
            if inbox.pushes.is_empty() {
                println!("no push yet");
            }
            for push in &inbox.pushes {
                println!("{}", describe(push));
            }
            Ok(())
        }
        PhoneCommand::Approve {
            target,
            device,
            push,
        } => answer(&target, &device, &push, true).await,
        PhoneCommand::Deny {
            target,
            device,
            push,
        } => answer(&target, &device, &push, false).await,
        PhoneCommand::Policy {
            target,
            device,
            policy,
            delay_ms,
        } => {
            let client = SuiteClient::connect(&target)?;
            let policy: PushPolicy = serde_json::from_value(serde_json::Value::String(policy))?;
            let change = PhoneChange {
                push_policy: Some(policy),
                push_delay_ms: delay_ms,
                ..PhoneChange::default()
            };
            let phone = client.phones().change(&device.to_string(), &change).await?;
            println!(
                "{} now answers pushes: {:?} (delay {} ms)",
                phone.id, phone.push_policy, phone.push_delay_ms
            );
            Ok(())
        }
        PhoneCommand::Export { target, device } => {
            let client = SuiteClient::connect(&target)?;
            let export = client.phones().export(&device.to_string()).await?;
            println!("{}", serde_json::to_string_pretty(&export)?);
            Ok(())
        }
        PhoneCommand::Transfer(command) => crate::phone_transfer::run(command).await,
    }
}

/// One inbox line: number, state, and what the app shows.
pub fn describe(push: &InboxEntry) -> String {
    let status = match push.status {
        PushStatus::Pending => "pending",
        PushStatus::Approved => "approved",
        PushStatus::Denied => "denied",
        PushStatus::Failed => "failed",
        PushStatus::Rejected => "rejected",
        PushStatus::Ignored => "ignored",
    };
    let mut line = format!("#{} {status:<8} {}", push.id, push.received);
    if let (Some(user), Some(appliance)) = (&push.user, &push.appliance) {
        line.push_str(&format!(
            "  {user} on {appliance} from {} ({})",
            push.client_ip.as_deref().unwrap_or("?"),
            push.client_application.as_deref().unwrap_or("?")
        ));
    } else {
        line.push_str(&format!("  {} for {}", push.sender, push.token));
    }
    if let Some(detail) = &push.detail {
        line.push_str(&format!("  [{detail}]"));
    }
    line
}

/// Approves (or denies) push `push` on `device`.
async fn answer(target: &Target, device: &str, push: &str, approve: bool) -> anyhow::Result<()> {
    let client = SuiteClient::connect(target)?;
    let entry = if approve {
        client.phones().approve(device, push).await?
    } else {
        client.phones().deny(device, push).await?
    };
    println!("{}", describe(&entry));
    if entry.status == PushStatus::Failed {
        bail!("the answer did not reach the appliance");
    }
    Ok(())
}

/// The newest captured email to `address` that carries a QR code.
async fn latest_email_for(client: &SuiteClient, address: &str) -> anyhow::Result<String> {
    let list = client
        .messages()
        .list(&protocol::messages::MessageQuery {
            recipient: Some(address.to_owned()),
            kind: Some(protocol::messages::DeliveryMethod::Email),
            appliance: None,
            limit: None,
        })
        .await?;
    list.messages
        .iter()
        .rev()
        .find(|m| m.has_qr)
        .map(|m| m.id.clone())
        .ok_or_else(|| anyhow::anyhow!("no activation email to {address} has been captured"))
}
