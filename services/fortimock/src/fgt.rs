//! `fortimock fgt …`: drive a virtual FortiGate / FortiAuthenticator of a running suite, with output shaped
//! like FortiOS's (`show user fortitoken`, the `-7566` import error, "Please wait x seconds to login again").

use anyhow::bail;
use protocol::appliance::{
    ApplianceChange, ApplianceMode, ApplianceView, FortiTokenStatus, FortiTokenView, FtmPushChange,
    LoginOutcome, LoginRequest, LoginResult, NewAppliance, OperationFailure, ProvisionOutcome,
    ProvisionTokenRequest, ServerCert, SuiteSetting,
};
use protocol::hardware::HardwareTokenRow;
use protocol::time::UnixTime;

use crate::cli::{ApplianceKind, FgtCommand, FgtNewArgs};
use crate::client::SuiteClient;

pub async fn run(command: FgtCommand) -> anyhow::Result<()> {
    match command {
        FgtCommand::New(args) => new(args).await,
        FgtCommand::List(args) => {
            let client = SuiteClient::connect(&args.target)?;
            let list = client.appliances().list().await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<17} {:<18} {:<8} {:>6}  FTM SERVER",
                    "SERIAL", "MODE", "FORTIOS", "TOKENS"
                );
                for a in &list.appliances {
                    let mode = mode_name(a.mode);
                    println!(
                        "{:<17} {:<18} {:<8} {:>6}  {}",
                        a.serial,
                        mode,
                        format!("{} b{}", a.version, a.build),
                        a.tokens.len(),
                        a.ftm_url
                    );
                }
            }
            Ok(())
        }
        FgtCommand::Import {
            target,
            fgt,
            code,
            debug,
        } => {
            let client = SuiteClient::connect(&target)?;
            match client
                .appliances()
                .debug(debug)
                .import(&fgt.to_string(), &code)
                .await?
            {
                Ok(outcome) => {
                    print_debug(&outcome.debug);
                    println!(
                        "imported license {} with {} tokens: {}",
                        outcome.license,
                        outcome.tokens.len(),
                        join(&outcome.tokens)
                    );
                    Ok(())
                }
                Err(failure) => fail(failure),
            }
        }
        FgtCommand::Provision {
            target,
            fgt,
            token,
            user,
            expiry_minutes,
            email,
            sms_phone,
            debug,
        } => {
            let request = ProvisionTokenRequest {
                token,
                user: Some(user),
                expiry_minutes,
                email,
                sms_phone,
            };
            let client = SuiteClient::connect(&target)?;
            let outcome = client
                .appliances()
                .debug(debug)
                .provision(&fgt.to_string(), &request)
                .await?;
            provisioned(outcome)
        }
        FgtCommand::Renew {
            target,
            fgt,
            token,
            debug,
        } => {
            let request = ProvisionTokenRequest {
                token,
                user: None,
                expiry_minutes: None,
                email: None,
                sms_phone: None,
            };
            let client = SuiteClient::connect(&target)?;
            let outcome = client
                .appliances()
                .debug(debug)
                .renew(&fgt.to_string(), &request)
                .await?;
            provisioned(outcome)
        }
        FgtCommand::Poll { target, fgt, debug } => {
            let client = SuiteClient::connect(&target)?;
            match client
                .appliances()
                .debug(debug)
                .poll(&fgt.to_string())
                .await?
            {
                Ok(outcome) => {
                    print_debug(&outcome.debug);
                    if outcome.tokens.is_empty() {
                        println!("no token is waiting for activation");
                    }
                    for token in &outcome.tokens {
                        println!("{}", token_line(token));
                    }
                    Ok(())
                }
                Err(failure) => fail(failure),
            }
        }
        FgtCommand::Hardware(command) => crate::hardware::run_fgt(command).await,
        FgtCommand::Messaging(command) => crate::fgt_messaging::run(command).await,
        FgtCommand::Show { target, fgt, json } => {
            let client = SuiteClient::connect(&target)?;
            let appliance = client.appliances().get(&fgt.to_string()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&appliance)?);
            } else {
                print!("{}", show_user_fortitoken(&appliance));
            }
            Ok(())
        }
        FgtCommand::Login {
            target,
            fgt,
            user,
            otp,
            push,
            debug,
        } => {
            let client = SuiteClient::connect(&target)?;
            let outcome = match (push, otp) {
                (true, _) => push_login(&client, &fgt, &user, debug).await?,
                (false, Some(otp)) => login(&client, &fgt, &user, &otp).await?,
                (false, None) => {
                    bail!("give the OTP, or --push to log in by approving a push on the phone")
                }
            };
            print_debug(&outcome.debug);
            println!("{}", outcome.message);
            if outcome.result != LoginResult::Success {
                bail!("login refused ({})", result_name(outcome.result));
            }
            Ok(())
        }
        FgtCommand::FtmPush {
            target,
            fgt,
            status,
            server,
            server_port,
            server_cert,
            reachable,
            timeout_secs,
        } => {
            let client = SuiteClient::connect(&target)?;
            let server_cert = match server_cert.as_deref() {
                None => None,
                Some("lab") => Some(ServerCert::Lab),
                Some("untrusted") => Some(ServerCert::Untrusted),
                Some(other) => bail!("--server-cert {other}: use lab or untrusted"),
            };
            let change = FtmPushChange {
                status: status.map(|s| s == "enable"),
                server,
                server_port,
                server_cert,
                reachable,
                relay_url: None,
                timeout_secs,
            };
            let settings = client
                .appliances()
                .ftm_push(&fgt.to_string(), &change)
                .await?;
            println!("config system ftm-push");
            println!(
                "    set status {}",
                if settings.status { "enable" } else { "disable" }
            );
            println!("    set server \"{}\"", settings.server);
            println!("    set server-port {}", settings.server_port);
            println!(
                "    set server-cert {}",
                match settings.server_cert {
                    ServerCert::Lab => "lab",
                    ServerCert::Untrusted => "untrusted",
                }
            );
            println!("end");
            if let Some(port) = settings.listening_port {
                println!(
                    "# listening on port {port}; pushes go through {}",
                    settings.relay_url
                );
            }
            Ok(())
        }
        FgtCommand::Servers {
            target,
            fgt,
            server,
            fortiguard_url,
            follow_suite,
            json,
        } => {
            let client = SuiteClient::connect(&target)?;
            let change = ApplianceChange {
                ftm_url: server,
                fortiguard_url,
                follow_suite,
            };
            let appliance = if change == ApplianceChange::default() {
                client.appliances().get(&fgt).await?
            } else {
                client.appliances().change(&fgt, &change).await?
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&appliance)?);
            } else {
                print_servers(&appliance);
            }
            Ok(())
        }
        FgtCommand::Unlock { target, fgt, user } => {
            let client = SuiteClient::connect(&target)?;
            client
                .appliances()
                .unlock(&fgt.to_string(), &user.to_string())
                .await?;
            println!("{user} unlocked");
            Ok(())
        }
        FgtCommand::DeleteToken { target, fgt, token } => {
            let client = SuiteClient::connect(&target)?;
            client.appliances().delete_token(&fgt, token.trim()).await?;
            println!(
                "config user fortitoken\n    delete \"{}\"\nend",
                token.trim()
            );
            Ok(())
        }
        FgtCommand::Debug { target, fgt } => {
            let client = SuiteClient::connect(&target)?;
            let log = client.appliances().debug_log(&fgt.to_string()).await?;
            print_debug(&log.lines);
            Ok(())
        }
    }
}

async fn new(args: FgtNewArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    let request = NewAppliance {
        serial: args.serial.as_deref().map(str::parse).transpose()?,
        peers: args
            .peer
            .iter()
            .map(|p| p.parse())
            .collect::<Result<_, _>>()?,
        vdom: args.vdom,
        mode: Some(match (args.fac, args.kind) {
            (true, _) | (false, Some(ApplianceKind::Fortiauthenticator)) => {
                ApplianceMode::Fortiauthenticator
            }
            (false, None | Some(ApplianceKind::Fortigate)) => ApplianceMode::Fortigate,
            (false, Some(ApplianceKind::Fortipam)) => ApplianceMode::Fortipam,
            (false, Some(ApplianceKind::Fortiproxy)) => ApplianceMode::Fortiproxy,
        }),
        version: args.fortios,
        build: args.build,
        ftm_url: args.server,
        settings: None,
        ftm_push: None,
        firmware: args.firmware,
        fortiguard_url: None,
        messaging: None,
    };
    let appliance = client.appliances().create(&request).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&appliance)?);
    } else {
        println!(
            "{} ({}, {} {} build {}, {} s tokens) talks to {}",
            appliance.serial,
            mode_name(appliance.mode),
            firmware_name(appliance.mode),
            appliance.version,
            appliance.build,
            appliance.settings.period,
            appliance.ftm_url
        );
    }
    Ok(())
}

/// Where a unit reaches the cloud, each address marked as the suite's (followed) or the unit's own.
fn print_servers(appliance: &ApplianceView) {
    let whose = |setting: SuiteSetting| {
        if appliance.follows_suite.contains(&setting) {
            "the suite's"
        } else {
            "its own"
        }
    };
    let messaging = appliance.messaging.as_ref().map_or_else(String::new, |m| {
        format!(
            "smtp {}:{} ({}), sms {}",
            m.smtp_server, m.smtp_port, m.smtp_security, m.sms_gateway
        )
    });
    println!("{}", appliance.serial);
    for (setting, value) in [
        (SuiteSetting::FtmUrl, appliance.ftm_url.as_str()),
        (
            SuiteSetting::FortiguardUrl,
            appliance.fortiguard_url.as_deref().unwrap_or_default(),
        ),
        (
            SuiteSetting::RelayUrl,
            appliance.ftm_push.relay_url.as_str(),
        ),
        (SuiteSetting::Messaging, messaging.as_str()),
    ] {
        println!("    {:<19} {value}  ({})", setting.as_str(), whose(setting));
    }
}

/// Prints a provisioning's (or renewal's) outcome, or fails with FortiOS's message.
fn provisioned(outcome: Result<ProvisionOutcome, OperationFailure>) -> anyhow::Result<()> {
    match outcome {
        Ok(outcome) => {
            print_debug(&outcome.debug);
            let token = &outcome.token;
            println!(
                "{} assigned to {}: activation code {}",
                token.serial,
                token.user.as_deref().unwrap_or("?"),
                token.activation_code.as_deref().unwrap_or("?")
            );
            if let Some(expire) = token.activation_expire {
                println!("the code expires {}", UnixTime::from_secs(expire));
            }
            Ok(())
        }
        Err(failure) => fail(failure),
    }
}

/// Posts an OTP login; a refusal (HTTP 401) is an outcome, not an error.
pub async fn login(
    client: &SuiteClient,
    fgt: &str,
    user: &str,
    otp: &str,
) -> anyhow::Result<LoginOutcome> {
    let request = LoginRequest {
        user: user.to_owned(),
        otp: otp.to_owned(),
        ..LoginRequest::default()
    };
    send_login(client, fgt, &request, false).await
}

/// Posts a push login and waits for the phone's answer (or the appliance's timeout).
pub async fn push_login(
    client: &SuiteClient,
    fgt: &str,
    user: &str,
    debug: bool,
) -> anyhow::Result<LoginOutcome> {
    let request = LoginRequest {
        user: user.to_owned(),
        push: true,
        ..LoginRequest::default()
    };
    send_login(client, fgt, &request, debug).await
}

async fn send_login(
    client: &SuiteClient,
    fgt: &str,
    request: &LoginRequest,
    debug: bool,
) -> anyhow::Result<LoginOutcome> {
    let (_, outcome) = client.appliances().debug(debug).login(fgt, request).await?;
    Ok(outcome)
}

fn fail(failure: OperationFailure) -> anyhow::Result<()> {
    print_debug(&failure.debug);
    bail!("{} ({})", failure.message, failure.error_id)
}

fn print_debug(lines: &[String]) {
    for line in lines {
        println!("{line}");
    }
}

fn mode_name(mode: ApplianceMode) -> &'static str {
    match mode {
        ApplianceMode::Fortigate => "FortiGate",
        ApplianceMode::Fortiauthenticator => "FortiAuthenticator",
        ApplianceMode::Fortipam => "FortiPAM",
        ApplianceMode::Fortiproxy => "FortiProxy",
    }
}

/// The name of the firmware `mode` runs: FortiOS on a FortiGate, each other kind its own.
fn firmware_name(mode: ApplianceMode) -> &'static str {
    match mode {
        ApplianceMode::Fortigate => "FortiOS",
        other => mode_name(other),
    }
}

fn result_name(result: LoginResult) -> &'static str {
    match result {
        LoginResult::Success => "success",
        LoginResult::Denied => "denied",
        LoginResult::Replayed => "replayed",
        LoginResult::Locked => "locked",
        LoginResult::Resync => "resync",
        LoginResult::Timeout => "timeout",
        LoginResult::PushFailed => "push-failed",
    }
}

/// The FortiOS GUI name of a token status.
pub fn status_name(status: FortiTokenStatus) -> &'static str {
    match status {
        FortiTokenStatus::Available => "Available",
        FortiTokenStatus::Pending => "Pending",
        FortiTokenStatus::Assigned => "Assigned",
        FortiTokenStatus::ProvisionTimeout => "Provision Timed Out",
        FortiTokenStatus::Error => protocol::modeled::MOVED_TOKEN_STATUS,
    }
}

fn token_line(token: &FortiTokenView) -> String {
    let mut line = format!("{}  {}", token.serial, status_name(token.status));
    if token.status == FortiTokenStatus::Error {
        line.push_str(&format!(" ({})", protocol::catalogue::TOKEN_NOT_OWNED.text));
    }
    if let Some(user) = &token.user {
        line.push_str(&format!("  user {user}"));
    }
    if let (Some(reg_id), Some(os_ver)) = (&token.reg_id, &token.os_ver) {
        line.push_str(&format!("  reg-id {reg_id}  os-ver {os_ver}"));
    }
    line
}

/// The appliance's token table as FortiOS's `show user fortitoken` prints it, preceded by the GUI's status
/// column and followed by the users (`show user local`).
pub fn show_user_fortitoken(appliance: &ApplianceView) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# {} {} ({} {} build {})\n",
        mode_name(appliance.mode),
        appliance.serial,
        firmware_name(appliance.mode),
        appliance.version,
        appliance.build
    ));
    for token in &appliance.tokens {
        out.push_str(&format!("# {}\n", token_line(token)));
    }
    for token in &appliance.hardware_tokens {
        out.push_str(&format!("# {}\n", hardware_line(token)));
    }
    out.push_str("config user fortitoken\n");
    for token in &appliance.tokens {
        out.push_str(&format!("    edit \"{}\"\n", token.serial));
        out.push_str(&format!("        set license \"{}\"\n", token.license));
        if let Some(code) = &token.activation_code {
            out.push_str(&format!("        set activation-code \"{code}\"\n"));
        }
        if let Some(expire) = token.activation_expire {
            out.push_str(&format!("        set activation-expire {expire}\n"));
        }
        if let Some(reg_id) = &token.reg_id {
            out.push_str(&format!("        set reg-id \"{reg_id}\"\n"));
        }
        if let Some(os_ver) = &token.os_ver {
            out.push_str(&format!("        set os-ver \"{os_ver}\"\n"));
        }
        out.push_str("    next\n");
    }
    // A hardware token has no license, and its seed is hidden: `show` prints its serial only (its `status`
    // is the default, `active`).
    for token in &appliance.hardware_tokens {
        out.push_str(&format!("    edit \"{}\"\n    next\n", token.serial));
    }
    out.push_str("end\n");
    let hardware_users = appliance
        .hardware_tokens
        .iter()
        .filter_map(|t| t.user.as_ref().map(|user| (user, t)));
    if !appliance.users.is_empty() || appliance.hardware_tokens.iter().any(|t| t.user.is_some()) {
        out.push_str("config user local\n");
        for user in &appliance.users {
            out.push_str(&format!("    edit \"{}\"\n", user.name));
            out.push_str("        set type password\n        set two-factor fortitoken\n");
            out.push_str(&format!("        set fortitoken \"{}\"\n", user.token));
            if user.locked {
                out.push_str(&format!(
                    "        # locked after {} failed logins\n",
                    user.failures
                ));
            }
            out.push_str("    next\n");
        }
        for (user, token) in hardware_users {
            out.push_str(&format!("    edit \"{user}\"\n"));
            out.push_str("        set type password\n        set two-factor fortitoken\n");
            out.push_str(&format!("        set fortitoken \"{}\"\n", token.serial));
            out.push_str("    next\n");
        }
        out.push_str("end\n");
    }
    out
}

/// A hardware token's comment line: serial, GUI status, user, model and `diagnose fortitoken info`'s status.
fn hardware_line(token: &HardwareTokenRow) -> String {
    let mut line = format!("{}  {}", token.serial, token.gui_status);
    if let Some(user) = &token.user {
        line.push_str(&format!("  user {user}"));
    }
    line.push_str(&format!(
        "  (hardware {}; diagnose fortitoken info: {})",
        token.model, token.status
    ));
    line
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
