//! `fortimock up`: start the suite on its embedded default lab, wait until every service is ready, print
//! where each listens (and, with `--dns-port`, the DNS responder), write the ready file, and run until
//! Ctrl-C or SIGTERM.

use std::time::Instant;

use anyhow::Context;
use protocol::ledger::LabFixtures;

use crate::cli::UpArgs;
use crate::client::SUITE_FILE;
use crate::suite::{Suite, write_urls};

/// The default lab's licenses (`fixtures/lab.json`), built into the binary.
pub const DEFAULT_FIXTURES: &str = fortimock_testing::DEFAULT_LAB;

/// The ready file's and suite.json's key for the SMTP listener (`smtp://ADDRESS:PORT`).
pub const SMTP: &str = "smtp";
/// Their key for the DNS responder (`dns://ADDRESS:PORT`, UDP and TCP), with `--dns-port`.
pub const DNS: &str = "dns";

/// What each service is, for the banner.
fn describe(service: &str) -> &'static str {
    match service {
        "forticare" => {
            "FortiCare license service: license import, transfer tickets, the v3 asset-management API"
        }
        "ftm" => "FTM provisioning: appliances' front door (/Process) and phones' (/Mobile)",
        "push" => "FortiGuard push relay (push.fortinet.com + APNs/FCM): /api/v1/push",
        "phone" => "virtual FortiToken Mobile phones: /phones",
        "appliance" => {
            "virtual FortiGates, FortiAuthenticators, FortiPAMs, FortiProxies: /appliances"
        }
        _ => "",
    }
}

pub async fn run(args: UpArgs, started: Instant) -> anyhow::Result<()> {
    let lab = args.lab.prepare()?;
    let fixtures = fixtures(&args)?;
    let api_users: Vec<(String, String)> = fixtures
        .api_users
        .iter()
        .map(|u| (u.username.clone(), u.password.clone()))
        .collect();
    // Every service is ready when `start` returns: its store is open and checked, its socket bound.
    let suite = Suite::start_with(&lab, &args.ports, fixtures, &args.forticare).await?;
    let dns = match args.dns.dns_port {
        Some(port) => {
            let answers = match crate::dns::Answers::from_options(&args.dns, args.lab.bind) {
                Ok(answers) => answers.with_lab_names(&args.lab.tls_names),
                Err(e) => {
                    suite.stop().await;
                    return Err(e);
                }
            };
            match crate::dns::start(args.lab.bind, port, answers.clone()).await {
                Ok(dns) => Some((dns, answers)),
                Err(e) => {
                    suite.stop().await;
                    return Err(e);
                }
            }
        }
        None => None,
    };
    let dashboard = if args.no_ui {
        None
    } else {
        match crate::dashboard::start_for_suite(&lab, suite.urls(), args.ui_port) {
            Ok(dashboard) => Some(dashboard),
            Err(e) => {
                if let Some((dns, _)) = dns {
                    dns.stop().await;
                }
                suite.stop().await;
                return Err(e);
            }
        }
    };
    let ready_in = started.elapsed();
    // The ready file and suite.json: every service's base URL, the SMTP listener, the DNS responder.
    let mut urls = suite.urls();
    if let Some(smtp) = suite.smtp_address() {
        urls.insert(SMTP.to_owned(), format!("smtp://{smtp}"));
    }
    if let Some((dns, _)) = &dns {
        urls.insert(DNS.to_owned(), format!("dns://{}", dns.address()));
    }
    if let Some(path) = &args.ready_file {
        write_urls(path, &urls)?;
    }
    if let Some(dir) = lab.data_dir() {
        write_urls(&dir.join(SUITE_FILE), &urls)?;
    }
    // The banner says it; the log line is for `RUST_LOG=debug`.
    tracing::debug!(ready_ms = ready_in.as_secs_f64() * 1000.0, "suite ready");
    let mut banner = banner(&suite, &lab, args.ready_file.as_deref(), ready_in);
    banner = with_api_users(banner, &suite, &api_users, args.forticare.rate_limits);
    if let Some(smtp) = suite.smtp_address() {
        let line = format!(
            "smtp     {smtp}   captures the appliances' activation email (notification.fortinet.net)\n"
        );
        let at = banner.rfind("Ctrl-C").unwrap_or(banner.len());
        banner.insert_str(at, &line);
    }
    if let Some((dns, answers)) = &dns {
        let mut lines = format!("dns      udp+tcp {} answers\n", dns.address());
        for line in answers.describe() {
            lines.push_str(&format!("           {line}\n"));
        }
        lines.push_str(match answers.forward() {
            Some(_) => "           and forwards every other name\n",
            None => "           and refuses every other name\n",
        });
        let at = banner.rfind("Ctrl-C").unwrap_or(banner.len());
        banner.insert_str(at, &lines);
    }
    if let Some(dashboard) = &dashboard {
        let line = format!(
            "  {:<10} {:<26} the lab in a browser (log in with the admin token)\n",
            crate::dashboard::NAME,
            dashboard.url()
        );
        let at = banner.find("\ndata ").map_or(banner.len(), |at| at + 1);
        banner.insert_str(at, &line);
    }
    // A closed stdout (`fortimock up | head -1`, a parent that stopped reading) must not stop the suite.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), banner.as_bytes());

    lab::server::shutdown_signal().await?;
    tracing::info!("stopping");
    if let Some(path) = &args.coverage_report {
        // Written before the services stop, so a failure to write it still stops them.
        if let Err(e) = crate::coverage::write_report(path, &lab.recorders().coverage.report()) {
            tracing::error!(
                error = format!("{e:#}"),
                "the coverage report was not written"
            );
        }
    }
    if let Some(dashboard) = dashboard {
        dashboard.stop().await;
    }
    if let Some((dns, _)) = dns {
        dns.stop().await;
    }
    suite.stop().await;
    if let Some(dir) = lab.data_dir() {
        let _ = std::fs::remove_file(dir.join(SUITE_FILE));
    }
    Ok(())
}

/// What `up` prints once every service is ready: the suite's first line, where each service listens, where
/// the data and the lab CA are.
fn banner(
    suite: &Suite,
    lab: &lab::options::Lab,
    ready_file: Option<&std::path::Path>,
    ready_in: std::time::Duration,
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fortimock {} is up (ready in {:.1} ms)",
        env!("CARGO_PKG_VERSION"),
        ready_in.as_secs_f64() * 1000.0
    );
    for service in suite.services() {
        let _ = writeln!(
            out,
            "  {:<10} {:<26} {}",
            service.name(),
            service.url(),
            describe(service.name())
        );
    }
    let _ = match (lab.data_dir(), lab.tls()) {
        (Some(dir), Some(tls)) => {
            let _ = writeln!(out, "data     {}", dir.display());
            match tls.ca_path() {
                Some(ca) => writeln!(out, "lab CA   {}   (curl --cacert {0} …)", ca.display()),
                None => Ok(()),
            }
        }
        (Some(dir), None) => writeln!(out, "data     {} (plain HTTP)", dir.display()),
        (None, Some(_)) => writeln!(
            out,
            "data     in memory (--ephemeral); lab CA at <service>/__admin/ca.pem"
        ),
        (None, None) => writeln!(out, "data     in memory (--ephemeral), plain HTTP"),
    };
    if let Some(path) = ready_file {
        let _ = writeln!(out, "ready    {}", path.display());
    }
    if let Some(token) = lab.admin_token() {
        use lab::options::TokenSource;
        let _ = match &token.source {
            TokenSource::File(path) => writeln!(
                out,
                "admin    token in {} (the CLI reads it; scripts send `Authorization: Bearer <token>`)",
                path.display()
            ),
            TokenSource::Generated => writeln!(
                out,
                "admin    token {} (generated for this run: send `Authorization: Bearer <token>`)",
                token.value
            ),
            TokenSource::Given => writeln!(out, "admin    token from --admin-token"),
        };
    }
    let _ = writeln!(out, "Ctrl-C stops the suite.");
    out
}

/// The banner with the lab's FortiCare API users inserted before its last line: where scripts get a token,
/// and with which user and password (lab fixtures, printed so scripts can be pointed at the lab at once).
fn with_api_users(
    banner: String,
    suite: &Suite,
    users: &[(String, String)],
    rate_limits: bool,
) -> String {
    use std::fmt::Write;
    let Some(url) = suite.url("forticare") else {
        return banner;
    };
    let mut out = String::new();
    let mut lines: Vec<&str> = banner.lines().collect();
    let last = lines.pop().unwrap_or_default();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    for (user, password) in users {
        let _ = writeln!(
            out,
            "v3 API   user {user} password {password}   (token: POST {url}{}, API: {url}{})",
            protocol::paths::V3_OAUTH_TOKEN,
            protocol::paths::V3_BASE
        );
    }
    if rate_limits {
        let _ = writeln!(
            out,
            "v3 API   rate limits on: 100 calls a minute, 1,000 an hour, 10 errors an hour per API user"
        );
    }
    let _ = writeln!(out, "{last}");
    out
}

fn fixtures(args: &UpArgs) -> anyhow::Result<LabFixtures> {
    if args.no_fixtures {
        return Ok(LabFixtures::default());
    }
    let (text, origin) = match &args.fixtures {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            DEFAULT_FIXTURES.to_owned(),
            "the built-in default lab".to_owned(),
        ),
    };
    let fixtures: LabFixtures =
        serde_json::from_str(&text).with_context(|| format!("parsing fixtures from {origin}"))?;
    Ok(fixtures)
}
