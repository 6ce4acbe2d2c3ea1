//! `fortimock demo --transfer`: an RMA told through the public HTTP APIs, step by step. A license on
//! FortiGate A, a token activated on alice's phone; the unit fails and Customer Service moves the license
//! to its replacement B (a ticket, a new code on a new certificate); A keeps working through the grace
//! period, then stops (the lab clock is moved past it); B imports the new code and alice logs in on B.

use anyhow::{Context, bail};
use protocol::appliance::{
    ImportOutcome, LoginResult, NewAppliance, PollOutcome, ProvisionTokenRequest,
};
use protocol::ledger::{LicenseSpec, TransferRequest};
use protocol::phone::NewPhone;

use crate::client::SuiteClient;
use crate::fgt::{login, status_name};

/// How long the old unit keeps working in the story.
const GRACE_SECS: i64 = 3600;

fn step(number: u32, title: &str) {
    println!();
    println!("{number}. {title}");
}

fn failed(f: protocol::appliance::OperationFailure) -> anyhow::Error {
    anyhow::anyhow!("{} ({})", f.message, f.error_id)
}

async fn new_fortigate(client: &SuiteClient) -> anyhow::Result<String> {
    let fgt = client
        .appliances()
        .create(&NewAppliance::default())
        .await
        .context("creating a FortiGate")?;
    Ok(fgt.serial.to_string())
}

async fn import(client: &SuiteClient, serial: &str, code: &str) -> anyhow::Result<ImportOutcome> {
    client
        .appliances()
        .debug(false)
        .import(serial, code)
        .await?
        .map_err(failed)
}

/// Assigns a token to alice on `serial` and activates it on `phone`: the token's serial.
async fn enroll(client: &SuiteClient, serial: &str, phone: &str) -> anyhow::Result<String> {
    let provisioned = client
        .appliances()
        .debug(false)
        .provision(
            serial,
            &ProvisionTokenRequest {
                token: "any".into(),
                user: Some("alice".into()),
                expiry_minutes: None,
                email: None,
                sms_phone: None,
            },
        )
        .await?
        .map_err(failed)?;
    let token = provisioned.token.serial.to_string();
    let code = provisioned
        .token
        .activation_code
        .context("a provisioned token has an activation code")?;
    client
        .phones()
        .activate(phone, &code)
        .await?
        .map_err(|refusal| anyhow::anyhow!("{} ({})", refusal.message, refusal.error_id))
        .context("activating the token on the phone")?;
    println!(
        "   {token} assigned to alice on {serial}; activation code {code} typed into her phone"
    );
    Ok(token)
}

async fn poll(client: &SuiteClient, serial: &str) -> anyhow::Result<PollOutcome> {
    client
        .appliances()
        .debug(false)
        .poll(serial)
        .await?
        .map_err(failed)
}

/// alice logs in on `serial` with what her phone shows for `token`: the result and the message.
async fn alice_logs_in(
    client: &SuiteClient,
    serial: &str,
    phone: &str,
    token: &str,
) -> anyhow::Result<(LoginResult, String)> {
    let otp = client
        .phones()
        .otp(phone, Some(token))
        .await
        .context("reading the OTP")?;
    let outcome = login(client, serial, "alice", &otp.otp).await?;
    println!(
        "   alice on {serial}, OTP {} → {}",
        otp.otp, outcome.message
    );
    Ok((outcome.result, outcome.message))
}

pub async fn run(client: &SuiteClient) -> anyhow::Result<()> {
    println!("fortimock demo --transfer: an RMA, from the old FortiGate to its replacement");
    println!("   (the story moves the suite's lab clock forward by {GRACE_SECS} s)");

    step(1, "FortiCare issues a license; FortiGate A imports it");
    let spec = LicenseSpec {
        id: None,
        code: None,
        seats: 2,
        valid_until: None,
        note: Some("fortimock demo --transfer".into()),
        owner: None,
        owner_peers: Vec::new(),
        shipped: None,
    };
    let license = client
        .licenses()
        .create(&spec)
        .await
        .context("creating the license")?;
    let old_code = license
        .summary
        .code
        .as_ref()
        .context("a purchased license has a code")?
        .to_string();
    let a = new_fortigate(client).await?;
    let imported = import(client, &a, &old_code).await?;
    println!(
        "   license {} ({}, shipped {}), code {old_code}: {} tokens on {a}",
        license.summary.id,
        license.summary.sku,
        license.summary.shipped,
        imported.tokens.len()
    );

    step(
        2,
        "alice's token is activated on her phone; A polls and she logs in",
    );
    let phone = client
        .phones()
        .create(&NewPhone::default())
        .await
        .context("creating the phone")?;
    let token = enroll(client, &a, &phone.id).await?;
    poll(client, &a).await?;
    alice_logs_in(client, &a, &phone.id, &token).await?;

    step(
        3,
        "A fails; Customer Service moves the license to the replacement B (an RMA ticket)",
    );
    let b = new_fortigate(client).await?;
    let request = TransferRequest {
        license: license.summary.id.clone(),
        from: a.parse()?,
        to: b.parse()?,
        rma: true,
        grace_secs: Some(GRACE_SECS),
        note: Some(format!("RMA: replace {a} by {b}")),
    };
    let ticket = client
        .transfers()
        .open(&request)
        .await
        .context("opening the transfer ticket")?;
    println!(
        "   ticket {}: {} moved from {a} to {b}; new activation code {} on {}.pdf",
        ticket.ticket, ticket.license, ticket.activation_code, ticket.license
    );
    println!(
        "   the old code {old_code} is void; {a} keeps working until {}",
        ticket.grace_until
    );
    println!(
        "   (licenses shipped on or after 2025-08-04 move only on an RMA, and every token is provisioned again)"
    );

    step(4, "During the grace period, A still works");
    advance(client, 60).await?;
    let (result, message) = alice_logs_in(client, &a, &phone.id, &token).await?;
    if result != LoginResult::Success {
        bail!("A stopped working during the grace period: {message}");
    }

    step(5, "After the grace period, A's tokens stop working");
    advance(client, GRACE_SECS).await?;
    let polled = poll(client, &a).await?;
    for line in polled.debug.iter().filter(|l| l.contains("error 31")) {
        println!("   {line}");
    }
    if let Some(state) = polled.tokens.iter().find(|t| t.serial.as_str() == token) {
        println!(
            "   `fortimock fgt show {a}`: {token} is {}",
            status_name(state.status)
        );
    }
    let (result, _) = alice_logs_in(client, &a, &phone.id, &token).await?;
    if result == LoginResult::Success {
        bail!("A still logs alice in after the grace period");
    }

    step(
        6,
        "B imports the new code; alice's token is provisioned again and she logs in on B",
    );
    let imported = import(client, &b, &ticket.activation_code.to_string()).await?;
    println!(
        "   execute fortitoken-mobile import {} → {} Available tokens on {b}",
        ticket.activation_code,
        imported.tokens.len()
    );
    let token = enroll(client, &b, &phone.id).await?;
    poll(client, &b).await?;
    let (result, message) = alice_logs_in(client, &b, &phone.id, &token).await?;
    if result != LoginResult::Success {
        bail!("alice could not log in on the replacement: {message}");
    }

    println!();
    println!(
        "Done. `fortimock transfer --show {}` shows the ticket; `fortimock license certificate {}` saves the new certificate.",
        ticket.ticket, ticket.license
    );
    Ok(())
}

/// Moves the suite's lab clock forward.
async fn advance(client: &SuiteClient, secs: i64) -> anyhow::Result<()> {
    let clock = client
        .control(forticare::NAME)
        .advance_clock(secs)
        .await
        .context("moving the lab clock")?;
    println!("   (lab clock moved {secs} s forward, to {})", clock.now);
    Ok(())
}
