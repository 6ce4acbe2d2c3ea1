//! `fortimock demo`: the whole FortiToken Mobile story against the running suite, narrated step by step,
//! through the same HTTP APIs a test suite would use: FortiCare issues a license, a virtual FortiGate imports
//! it and assigns a token to alice, her virtual phone activates it, the FortiGate polls, alice logs in with
//! her OTP, the same OTP is refused a second time, and then she logs in by approving a push (and denies one
//! she did not ask for). Then bob gets his activation code by email, captured by the suite's SMTP listener,
//! and his phone scans its QR code; and a hardware FortiToken is activated by serial, used by carol, and
//! refused to a second FortiGate.

use anyhow::{Context, bail};
use protocol::appliance::{
    FtmPushChange, LoginResult, NewAppliance, OperationFailure, ProvisionTokenRequest,
};
use protocol::hardware::NewHardwareBatch;
use protocol::id::HardwareModel;
use protocol::ledger::LicenseSpec;
use protocol::messages::MessageQuery;
use protocol::phone::{NewPhone, PhoneChange, PushPolicy};

use crate::cli::DemoArgs;
use crate::client::SuiteClient;
use crate::fgt::{login, push_login, status_name};

fn step(number: u32, title: &str) {
    println!();
    println!("{number}. {title}");
}

/// A cloud operation's failure as the story's error: FortiOS's message and the catalogue id.
fn failed(f: OperationFailure) -> anyhow::Error {
    anyhow::anyhow!("{} ({})", f.message, f.error_id)
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    if args.transfer {
        return crate::rma_story::run(&client).await;
    }
    if args.fac {
        return crate::fac_story::run(&client).await;
    }
    println!("fortimock demo: one FortiToken Mobile token from license to login");
    println!(
        "   FortiCare {}, FTM {}, push relay {}, phones {}, appliances {}",
        client.url("forticare")?,
        client.url("ftm")?,
        client.url("push")?,
        client.url("phone")?,
        client.url("appliance")?
    );

    step(1, "FortiCare issues a FortiToken Mobile license");
    let spec = LicenseSpec {
        id: None,
        code: None,
        seats: 2,
        valid_until: None,
        note: Some("fortimock demo".into()),
        owner: None,
        owner_peers: Vec::new(),
        shipped: None,
    };
    let license = client
        .licenses()
        .create(&spec)
        .await
        .context("creating the license")?;
    let code = license
        .summary
        .code
        .as_ref()
        .context("a purchased license has a code")?
        .to_string();
    println!(
        "   license {} ({} seats), activation code {code}",
        license.summary.id, license.summary.seats
    );

    step(
        2,
        "A FortiGate imports it (execute fortitoken-mobile import)",
    );
    let fgt = client
        .appliances()
        .create(&NewAppliance::default())
        .await
        .context("creating the FortiGate")?;
    let serial = fgt.serial.to_string();
    println!(
        "   virtual FortiGate {serial}, FortiOS {} build {}, talks to {}",
        fgt.version, fgt.build, fgt.ftm_url
    );
    let imported = client
        .appliances()
        .debug(false)
        .import(&serial, &code)
        .await?
        .map_err(failed)?;
    println!(
        "   SoftToken.ActivationLicenseRequest → license {}, tokens {}",
        imported.license,
        imported
            .tokens
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );

    step(
        3,
        "The admin assigns a token to alice; FortiOS generates the seed and provisions it",
    );
    let request = ProvisionTokenRequest {
        token: "any".into(),
        user: Some("alice".into()),
        expiry_minutes: None,
        email: None,
        sms_phone: None,
    };
    let provisioned = client
        .appliances()
        .debug(false)
        .provision(&serial, &request)
        .await?
        .map_err(failed)?;
    let token = provisioned.token.serial.to_string();
    let activation = provisioned
        .token
        .activation_code
        .clone()
        .context("a provisioned token has an activation code")?;
    println!(
        "   SoftToken.ProvisionRequest → {token} is {} for alice; activation code {activation} (mailed to alice)",
        status_name(provisioned.token.status)
    );

    step(
        4,
        "alice types the code into FortiToken Mobile on her phone",
    );
    let phone = client
        .phones()
        .create(&NewPhone::default())
        .await
        .context("creating the phone")?;
    println!(
        "   virtual phone {} ({}), mobile_id {}",
        phone.id, phone.os_ver, phone.mobile_id
    );
    let activated = client
        .phones()
        .activate(&phone.id, &activation)
        .await?
        .map_err(|refusal| anyhow::anyhow!("{} ({})", refusal.message, refusal.error_id))
        .context("activating the token on the phone")?;
    println!(
        "   SoftToken.MobileProvisionRequest → the seed, encrypted for this phone: account \"{}\" from {}",
        activated.name, activated.issuer
    );
    println!("   the server has now deleted the seed and the code: no other phone can download it");

    step(5, "The FortiGate polls (execute fortitoken-mobile poll)");
    let polled = client
        .appliances()
        .debug(false)
        .poll(&serial)
        .await?
        .map_err(failed)?;
    let state = polled
        .tokens
        .iter()
        .find(|t| t.serial.as_str() == token)
        .context("the poll names the token")?;
    println!(
        "   SoftToken.PollingRequest → {token} is {}, reg-id {}, os-ver {}",
        status_name(state.status),
        state.reg_id.as_deref().unwrap_or("-"),
        state.os_ver.as_deref().unwrap_or("-")
    );

    step(6, "alice logs in with the code her phone shows");
    let otp = client
        .phones()
        .otp(&phone.id, Some(&token))
        .await
        .context("reading the OTP")?;
    let first = login(&client, &serial, "alice", &otp.otp).await?;
    println!("   OTP {} → {}", otp.otp, first.message);
    if first.result != LoginResult::Success {
        bail!(
            "the login with the phone's OTP was refused: {}",
            first.message
        );
    }

    step(7, "Someone replays the same code");
    let replay = login(&client, &serial, "alice", &otp.otp).await?;
    println!("   OTP {} again → {}", otp.otp, replay.message);
    if replay.result != LoginResult::Replayed {
        bail!("the replayed OTP was not refused: {}", replay.message);
    }

    step(8, "A wrong code counts towards the lockout");
    let wrong = wrong_code(&otp.otp);
    let denied = login(&client, &serial, "alice", &wrong).await?;
    println!(
        "   OTP {wrong} → {} ({} failed attempt(s); locked after {})",
        denied.message, denied.failures, fgt.settings.lockout_threshold
    );

    step(
        9,
        "alice logs in with FortiToken Mobile Push instead (config system ftm-push)",
    );
    let settings = FtmPushChange {
        status: Some(true),
        server_port: Some(0),
        timeout_secs: Some(30),
        ..FtmPushChange::default()
    };
    let push = client
        .appliances()
        .ftm_push(&serial, &settings)
        .await
        .context("enabling ftm-push")?;
    println!(
        "   ftm-push listener on {}:{}, pushes go through {}",
        push.server,
        push.listening_port
            .map_or_else(|| "?".to_owned(), |p| p.to_string()),
        push.relay_url
    );
    let approve = PhoneChange {
        push_policy: Some(PushPolicy::Approve),
        ..PhoneChange::default()
    };
    client.phones().change(&phone.id, &approve).await?;
    let approved = push_login(&client, &serial, "alice", false).await?;
    let inbox = client.phones().inbox(&phone.id).await?;
    if let Some(entry) = inbox.pushes.last() {
        println!(
            "   the phone got the push through the relay, checked its HMAC and shows: {} on {} from {} ({})",
            entry.user.as_deref().unwrap_or("?"),
            entry.appliance.as_deref().unwrap_or("?"),
            entry.client_ip.as_deref().unwrap_or("?"),
            entry.client_application.as_deref().unwrap_or("?")
        );
    }
    println!(
        "   alice taps Approve; the phone connects straight back to the FortiGate → {}",
        approved.message
    );
    if approved.result != LoginResult::Success {
        bail!("the approved push login failed: {}", approved.message);
    }

    step(10, "A push alice did not ask for: she denies it");
    let deny = PhoneChange {
        push_policy: Some(PushPolicy::Deny),
        ..PhoneChange::default()
    };
    client.phones().change(&phone.id, &deny).await?;
    let denied = push_login(&client, &serial, "alice", false).await?;
    println!("   alice taps Deny → {}", denied.message);
    if denied.result != LoginResult::Denied {
        bail!("the denied push was not refused: {}", denied.message);
    }

    email_chapter(&client, &serial.to_string()).await?;
    hardware_chapter(&client, &serial.to_string()).await?;

    println!();
    println!(
        "Done. `fortimock fgt show {serial}` shows the FortiGate's token table; `fortimock phone otp {}` the phone's code; `fortimock messages` the activation email.",
        phone.id
    );
    Ok(())
}

/// Chapter: the activation code by email over SMTP, its QR code scanned by bob's phone.
async fn email_chapter(client: &SuiteClient, serial: &str) -> anyhow::Result<()> {
    step(
        11,
        "The admin assigns the second seat to bob and the FortiGate emails him the code",
    );
    let request = ProvisionTokenRequest {
        token: "any".into(),
        user: Some("bob".into()),
        expiry_minutes: None,
        email: Some("bob@example.com".into()),
        sms_phone: None,
    };
    let provisioned = client
        .appliances()
        .debug(false)
        .provision(serial, &request)
        .await?
        .map_err(failed)?;
    let token = provisioned.token.serial.to_string();
    if let Some(delivered) = &provisioned.delivered {
        println!(
            "   SMTP (STARTTLS) → the mail server answered {}",
            delivered.server_reply
        );
    }
    let list = client
        .messages()
        .list(&MessageQuery {
            recipient: Some("bob@example.com".into()),
            ..MessageQuery::default()
        })
        .await?;
    let email = list
        .messages
        .last()
        .context("the suite's SMTP listener captured the email")?;
    println!(
        "   {} \"{}\" to bob@example.com: code {}, expires {}, QR code {}",
        email.id,
        email.subject.as_deref().unwrap_or_default(),
        email.activation_code.as_deref().unwrap_or("-"),
        email.expires.as_deref().unwrap_or("-"),
        if email.has_qr { "inline" } else { "missing" }
    );

    step(12, "bob scans the QR code in the email with his phone");
    let phone = client.phones().create(&NewPhone::default()).await?;
    let png = client.messages().qr(&email.id).await?;
    let activated = client
        .phones()
        .scan(&phone.id, &png)
        .await
        .context("scanning the QR code")?;
    println!(
        "   the camera read the code; phone {} holds {}",
        phone.id, activated.serial
    );
    client
        .appliances()
        .debug(false)
        .poll(serial)
        .await?
        .map_err(failed)?;
    let otp = client.phones().otp(&phone.id, Some(&token)).await?;
    let outcome = login(client, serial, "bob", &otp.otp).await?;
    println!("   bob logs in with OTP {} → {}", otp.otp, outcome.message);
    if outcome.result != LoginResult::Success {
        bail!("bob's login was refused: {}", outcome.message);
    }
    Ok(())
}

/// Chapter: a hardware FortiToken activated once by serial, assigned, used; a second activation refused.
async fn hardware_chapter(client: &SuiteClient, serial: &str) -> anyhow::Result<()> {
    step(
        13,
        "FortiGuard ships a FortiToken 200; the FortiGate activates it by serial",
    );
    let batch = client
        .hardware_batches()
        .create(&NewHardwareBatch {
            model: HardwareModel::Ftk200,
            count: 1,
            demo: false,
            note: Some("fortimock demo".into()),
        })
        .await?;
    let hardware = batch
        .tokens
        .first()
        .context("a batch has a token")?
        .serial
        .to_string();
    let activated = client
        .appliances()
        .debug(false)
        .hardware_activate(serial, std::slice::from_ref(&hardware))
        .await?;
    let row = activated
        .tokens
        .first()
        .context("the token is in the table")?;
    println!(
        "   execute fortitoken activate {hardware} → {} ({}); FortiGuard locked it to {serial}",
        row.status, row.gui_status
    );
    client
        .appliances()
        .hardware_assign(serial, &hardware, "carol")
        .await?;
    let seed_file = client
        .hardware_batches()
        .seed_file(&batch.batch, None)
        .await?;
    let seeds =
        appliance::seed_file::open(&seed_file.zip, &seed_file.password.unwrap_or_default())?;
    let seed = &seeds.first().context("the seed file holds the token")?.1;
    let clock = client.control(ftm::NAME).clock().await?;
    let code = protocol::otp::totp(seed.as_bytes(), clock.now.secs(), 60, 6);
    let outcome = login(client, serial, "carol", &code).await?;
    println!(
        "   carol, assigned the token with no activation step, types {code} from its display → {}",
        outcome.message
    );
    if outcome.result != LoginResult::Success {
        bail!("carol's login was refused: {}", outcome.message);
    }

    step(14, "Another FortiGate tries to activate the same token");
    let other = client.appliances().create(&NewAppliance::default()).await?;
    let refused = client
        .appliances()
        .debug(false)
        .hardware_activate(&other.serial.to_string(), std::slice::from_ref(&hardware))
        .await?;
    let row = refused
        .tokens
        .first()
        .context("the token is in the table")?;
    println!(
        "   {} → {} (TAC resets the lock of a token no user has: while carol has it, `fortimock hardware reset-lock {hardware}` is refused)",
        other.serial, row.status
    );
    Ok(())
}

/// A code of the same length that is not `otp`.
fn wrong_code(otp: &str) -> String {
    otp.chars()
        .map(|c| {
            c.to_digit(10)
                .map_or('0', |d| char::from_digit((d + 5) % 10, 10).unwrap_or('0'))
        })
        .collect()
}
