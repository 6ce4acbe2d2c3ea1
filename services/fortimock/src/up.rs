//! `fortimock up`: start the suite on its embedded default lab, wait until every service is ready, print
//! where each listens, write the ready file, and run until Ctrl-C or SIGTERM.

use std::time::Instant;

use anyhow::Context;
use protocol::ledger::LabFixtures;

use crate::cli::UpArgs;
use crate::client::SUITE_FILE;
use crate::suite::{Suite, write_urls};

/// The default lab's licenses (`fixtures/lab.json`), built into the binary.
pub const DEFAULT_FIXTURES: &str = fortimock_testing::DEFAULT_LAB;

/// What each service is, for the banner.
fn describe(service: &str) -> &'static str {
    match service {
        "forticare" => {
            "FortiCare license service: license import, transfer tickets, the v3 asset-management API"
        }
        "ftm" => "FTM provisioning: appliances' front door (/Process) and phones' (/Mobile)",
        "push" => "FortiGuard push relay (push.fortinet.com + APNs/FCM): /api/v1/push",
        "phone" => "virtual FortiToken Mobile phones: /phones",
        "appliance" => "virtual FortiGates / FortiAuthenticators: /appliances",
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
    let ready_in = started.elapsed();
    let urls = suite.urls();
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
    // A closed stdout (`fortimock up | head -1`, a parent that stopped reading) must not stop the suite.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), banner.as_bytes());

    wait_for_shutdown().await?;
    tracing::info!("stopping");
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

async fn wait_for_shutdown() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
