//! `fortimock phone …`: drive the virtual FortiToken Mobile phones of a running suite.

use anyhow::{Context, bail};
use protocol::phone::{
    Activate, NewPhone, OtpView, PhoneList, PhoneTokenView, PhoneView, Platform,
};

use crate::cli::PhoneCommand;
use crate::client::SuiteClient;

const PHONE: &str = "phone";

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
            let phone: PhoneView = client.post(PHONE, "/phones", &request).await?;
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
            let list: PhoneList = client.get(PHONE, "/phones").await?;
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
        } => {
            let client = SuiteClient::connect(&target)?;
            let token: PhoneTokenView = client
                .post(
                    PHONE,
                    &format!("/phones/{device}/activate"),
                    &Activate { code },
                )
                .await?;
            println!(
                "{} ({}) from {} activated: {} every {} s, {} digits",
                token.name,
                token.serial,
                token.issuer,
                token.kind.to_uppercase(),
                token.period,
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
            let mut query: Vec<String> = Vec::new();
            if let Some(token) = &token {
                query.push(format!("token={}", token.trim()));
            }
            if let Some(at) = &at {
                query.push(format!("at={}", url_encode(at)));
            }
            let path = format!(
                "/phones/{device}/otp{}{}",
                if query.is_empty() { "" } else { "?" },
                query.join("&")
            );
            let otp: OtpView = client.get(PHONE, &path).await.context("reading the OTP")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&otp)?);
            } else {
                println!("{}", otp.otp);
            }
            Ok(())
        }
        PhoneCommand::Export { target, device } => {
            let client = SuiteClient::connect(&target)?;
            let export: serde_json::Value = client
                .get(PHONE, &format!("/phones/{device}/export"))
                .await?;
            println!("{}", serde_json::to_string_pretty(&export)?);
            Ok(())
        }
    }
}

/// Percent-encodes everything but unreserved characters (a time's `+` and `:` among them).
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
