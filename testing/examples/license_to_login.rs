//! How a Rust test suite uses `fortimock-testing`: start the whole suite in-process, drive one FortiToken
//! Mobile token from license import to login through the typed clients, then arm error 16 and watch the
//! next import fail as FortiOS reports it. Run with `cargo run -p fortimock-testing --example license_to_login`.
//!
//! In a project's own tests the same code sits in a `#[tokio::test]`, with `fortimock-testing` as a
//! dev-dependency.
#![allow(clippy::print_stdout)]

use anyhow::{Context, ensure};
use fortimock_testing::{FIVE_SEAT_CODE, Suite};
use protocol::appliance::{LoginRequest, LoginResult, NewAppliance, ProvisionTokenRequest};
use protocol::phone::NewPhone;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Every service on a free port, HTTPS with a fresh lab CA, nothing written to disk.
    let suite = Suite::start().await?;
    println!("ftm listens on {}", suite.url("ftm"));
    let api = suite.client();

    // A virtual FortiGate imports the default lab's 5-seat license (`execute fortitoken-mobile import`).
    let fortigate = api.appliances().create(&NewAppliance::default()).await?;
    let serial = fortigate.serial.to_string();
    let imported = api
        .appliances()
        .import(&serial, FIVE_SEAT_CODE)
        .await?
        .map_err(|failure| anyhow::anyhow!("import failed: {}", failure.message))?;
    println!("{serial} imported {} tokens", imported.tokens.len());

    // The admin assigns a token to alice: the appliance provisions it and gets an activation code.
    let provisioned = api
        .appliances()
        .provision(
            &serial,
            &ProvisionTokenRequest {
                token: "any".into(),
                user: Some("alice".into()),
                expiry_minutes: None,
                email: None,
                sms_phone: None,
            },
        )
        .await?
        .map_err(|failure| anyhow::anyhow!("provision failed: {}", failure.message))?;
    let code = provisioned
        .token
        .activation_code
        .context("a provisioned token has an activation code")?;

    // alice's phone downloads the seed, once; the appliance polls and sees the token activated.
    let phone = api.phones().create(&NewPhone::default()).await?;
    let token = api
        .phones()
        .activate(&phone.id, &code)
        .await?
        .map_err(|refusal| anyhow::anyhow!("activation refused: {}", refusal.message))?;
    let polled = api
        .appliances()
        .poll(&serial)
        .await?
        .map_err(|failure| anyhow::anyhow!("poll failed: {}", failure.message))?;
    println!(
        "token {} is {:?} on {serial}",
        token.serial, polled.tokens[0].status
    );

    // alice logs in with the code her phone shows.
    let otp = api
        .phones()
        .otp(&phone.id, Some(&token.serial.to_string()))
        .await?;
    let (status, login) = api
        .appliances()
        .login(
            &serial,
            &LoginRequest {
                user: "alice".into(),
                otp: otp.otp.clone(),
                ..LoginRequest::default()
            },
        )
        .await?;
    ensure!(
        status == 200 && login.result == LoginResult::Success,
        "{login:?}"
    );
    println!("alice logged in with {}", otp.otp);

    // Error 16 on demand: the next import from any appliance is refused as FortiOS shows it.
    suite
        .control("forticare")
        .arm_error("forticare.import.code-invalid")
        .await?;
    let refused = api
        .appliances()
        .import(&serial, FIVE_SEAT_CODE)
        .await?
        .err()
        .context("the armed scenario refuses the import")?;
    ensure!(refused.error_code == Some(16), "{refused:?}");
    println!("armed error 16: {}", refused.message);

    // Dropping the suite would stop it too; `stop` waits without blocking the runtime.
    suite.stop().await;
    Ok(())
}
