//! `fortimock fac …`: a virtual FortiAuthenticator's own features in a running suite (fortimock's API for
//! FACs under `/appliances/{serial}/…`): REST API keys, the host name, provisioning settings and token
//! policy, LDAP users, the outbox, offline activation pages and the virtual Windows agent.

use protocol::fac_admin::{AgentLoginResult, FacChange, FacView, NewLdapUser};
use protocol::fac_rest::{FtmProvisioningChange, TokenPolicyChange};
use protocol::paths;

use crate::cli::{FacCommand, FacSetArgs};
use crate::client::SuiteClient;

pub async fn run(command: FacCommand) -> anyhow::Result<()> {
    match command {
        FacCommand::ApiKey { target, fac, admin } => {
            let client = SuiteClient::connect(&target)?;
            let issued = client.fac(&fac).api_key(Some(admin.as_str())).await?;
            let port = client
                .url(appliance::NAME)?
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned();
            println!("admin:    {}", issued.admin);
            println!("api key:  {}", issued.api_key);
            println!(
                "REST API: https://{}:{port}{} (HTTP Basic, the admin and this key; the name must resolve to the suite and be covered by --tls-name)",
                issued.host_name,
                paths::FAC_API
            );
            Ok(())
        }
        FacCommand::Show { target, fac, json } => {
            let client = SuiteClient::connect(&target)?;
            let view = client.fac(&fac).view().await?;
            print_view(&view, json)
        }
        FacCommand::Set(args) => set(args).await,
        FacCommand::LdapUser {
            target,
            fac,
            username,
            dn,
            email,
            mobile,
            inactive,
        } => {
            let client = SuiteClient::connect(&target)?;
            let created = client
                .fac(&fac)
                .ldap_user(&NewLdapUser {
                    username,
                    dn,
                    active: Some(!inactive),
                    email,
                    mobile_number: mobile,
                    ..NewLdapUser::default()
                })
                .await?;
            println!(
                "LDAP user {} ({}) at {}",
                created.username, created.dn, created.resource_uri
            );
            Ok(())
        }
        FacCommand::LockToken {
            target,
            fac,
            token,
            unlock,
        } => {
            let client = SuiteClient::connect(&target)?;
            let view = client.fac(&fac).lock_token(&token, !unlock).await?;
            println!(
                "{} is {}",
                view.serial,
                if view.locked {
                    "locked: it cannot be assigned"
                } else {
                    "unlocked"
                }
            );
            Ok(())
        }
        FacCommand::Outbox { target, fac, json } => {
            let client = SuiteClient::connect(&target)?;
            let outbox = client.fac(&fac).outbox().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outbox)?);
                return Ok(());
            }
            for m in &outbox.messages {
                println!(
                    "#{} {} {:?} {:?} to {} <{}>: code {}",
                    m.seq,
                    m.at.rfc3339(),
                    m.kind,
                    m.channel,
                    m.user,
                    m.to,
                    m.code
                );
            }
            Ok(())
        }
        FacCommand::Activation {
            target,
            fac,
            token,
            png,
        } => {
            let client = SuiteClient::connect(&target)?;
            if let Some(file) = png {
                let bytes = client.fac(&fac).activation_png(&token).await?;
                std::fs::write(&file, bytes)?;
                println!("QR code written to {}", file.display());
                return Ok(());
            }
            let page = client.fac(&fac).activation(&token).await?;
            println!(
                "{} for {} (until {}): {}",
                page.token,
                page.user,
                page.expires.rfc3339(),
                page.payload
            );
            Ok(())
        }
        FacCommand::AgentSync {
            target,
            fac,
            agent,
            user,
        } => {
            let client = SuiteClient::connect(&target)?;
            let view = client.fac(&fac).agent_sync(&agent, &user).await?;
            println!(
                "agent {} cached {} {} codes of {} for {} and {} emergency codes",
                view.agent, view.codes, view.algorithm, view.token, view.user, view.emergency_codes
            );
            Ok(())
        }
        FacCommand::AgentLogin {
            target,
            fac,
            agent,
            user,
            code,
        } => {
            let client = SuiteClient::connect(&target)?;
            let (_, outcome) = client
                .fac(&fac)
                .agent_login(&agent, &protocol::fac_admin::AgentLogin { user, code })
                .await?;
            if outcome.result != AgentLoginResult::Success {
                anyhow::bail!("{:?}: {}", outcome.result, outcome.message);
            }
            println!("{:?}: {}", outcome.result, outcome.message);
            Ok(())
        }
    }
}

async fn set(args: FacSetArgs) -> anyhow::Result<()> {
    let client = SuiteClient::connect(&args.target)?;
    let provisioning = FtmProvisioningChange {
        token_algo: args.token_algo,
        provision_mode: args.provision_mode,
        ..FtmProvisioningChange::default()
    };
    let policy = TokenPolicyChange {
        totp_window: args.totp_window,
        hotp_window: args.hotp_window,
        totp_sync_window: args.totp_sync_window,
        hotp_sync_window: args.hotp_sync_window,
        email_sms_token_timeout: args.email_sms_timeout,
        ftm_transfer_enabled: args.transfer,
        offline_enabled: args.offline,
        offline_shared_secret: args.offline_secret,
        offline_totp_cache_days: args.offline_totp_days,
        offline_hotp_cache_counts: args.offline_hotp_counts,
        emergency_codes_enabled: args.emergency_codes,
        emergency_code_valid_days: args.emergency_days,
        ..TokenPolicyChange::default()
    };
    let change = FacChange {
        host_name: args.host_name,
        provisioning: (provisioning != FtmProvisioningChange::default()).then_some(provisioning),
        token_policy: (policy != TokenPolicyChange::default()).then_some(policy),
    };
    let view = client.fac(&args.fac).change(&change).await?;
    print_view(&view, args.json)
}

fn print_view(view: &FacView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(view)?);
        return Ok(());
    }
    let p = &view.provisioning;
    let t = &view.token_policy;
    println!("{} answers its REST API as {}", view.serial, view.host_name);
    println!(
        "provisioning: {} {} digits, {} s steps, activation timeout {} h, mode {}",
        p.token_algo, p.token_size, p.time_step, p.act_timeout, p.provision_mode
    );
    println!(
        "token policy: TOTP window {} min (sync {} min), HOTP window {} (sync {}), email/SMS codes {} s",
        t.totp_window,
        t.totp_sync_window,
        t.hotp_window,
        t.hotp_sync_window,
        t.email_sms_token_timeout
    );
    println!(
        "              transfer {}, agent offline {} ({} days TOTP, {} HOTP counts), emergency codes {} ({} days)",
        on_off(t.ftm_transfer_enabled),
        on_off(t.offline_enabled),
        t.offline_totp_cache_days,
        t.offline_hotp_cache_counts,
        on_off(t.emergency_codes_enabled),
        t.emergency_code_valid_days
    );
    println!("administrators with an API key: {}", view.admins.join(", "));
    Ok(())
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}
