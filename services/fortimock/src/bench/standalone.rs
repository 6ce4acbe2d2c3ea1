//! The separate binaries, measured too: `forticare-mock` and `ftm-mock` as two processes on the small lab's
//! data dir (ftm asking forticare about ownership over HTTP, as in the compose lab), polled the way the
//! suite was, and held against the suite's in-process poll of the same run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use protocol::id::ApplianceSerial;
use protocol::paths::{ADMIN_HEALTH, PROCESS};
use serde::Serialize;

use super::Bench;
use super::load::{self, Call, Trust, repeat};
use super::populate;
use super::process::Process;
use super::report::Measurement;

/// What the separate binaries did.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StandaloneFigures {
    /// ftm-mock's PollingRequest for the small lab's activated token (ftm-mock's own CPU per request).
    pub(crate) poll_one: Measurement,
    /// forticare-mock's CPU time over the whole measurement (warm-up included), per recorded request.
    pub(crate) forticare_cpu_us_per_request: f64,
    /// Resident memory of the two processes after the load, in KiB.
    pub(crate) rss_kib: u64,
}

/// Starts both binaries on `data_dir` (the stopped small lab's) and polls `token` of `serial` on ftm-mock.
pub(crate) fn measure(
    bench: &Bench,
    data_dir: &Path,
    serial: &ApplianceSerial,
    token: &str,
) -> anyhow::Result<StandaloneFigures> {
    let forticare_exe = sibling(&bench.exe, "forticare-mock")?;
    let ftm_exe = sibling(&bench.exe, "ftm-mock")?;
    let (forticare_port, ftm_port) = (free_port()?, free_port()?);
    let forticare_url = format!("http://127.0.0.1:{forticare_port}");
    let ftm_url = format!("http://127.0.0.1:{ftm_port}");
    let workers = bench.args.server_workers.max(1).to_string();
    let common = |command: &mut std::process::Command, port: u16| {
        command
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--plain-http")
            .arg("--workers")
            .arg(&workers)
            .arg("--port")
            .arg(port.to_string());
    };
    let mut command = bench.pinning.server_command(&forticare_exe);
    common(&mut command, forticare_port);
    let forticare = Process::spawn(
        "forticare-mock",
        &mut command,
        Some(&data_dir.join("forticare-mock.log")),
    )?;
    let mut command = bench.pinning.server_command(&ftm_exe);
    common(&mut command, ftm_port);
    command.arg("--forticare-url").arg(&forticare_url);
    let ftm = Process::spawn(
        "ftm-mock",
        &mut command,
        Some(&data_dir.join("ftm-mock.log")),
    )?;

    let trust = Trust::default();
    let forticare_server = load::Server::new(&forticare_url, &trust)?;
    let ftm_server = load::Server::new(&ftm_url, &trust)?;
    let patience = Duration::from_secs(10);
    let health = Call::get(ADMIN_HEALTH);
    bench
        .block_on(load::until_answered(&forticare_server, &health, patience))
        .with_context(|| forticare.log_hint())?;
    bench
        .block_on(load::until_answered(&ftm_server, &health, patience))
        .with_context(|| ftm.log_hint())?;
    let poll = Call::post(
        PROCESS,
        populate::poll_body(serial, std::slice::from_ref(&token.to_owned())),
    );
    let answer = bench
        .block_on(load::until_answered(&ftm_server, &poll, patience))
        .with_context(|| ftm.log_hint())?;
    ensure!(
        String::from_utf8_lossy(&answer).contains("\"activated\""),
        "ftm-mock does not see the small lab's token as activated: {}",
        String::from_utf8_lossy(&answer)
    );

    let forticare_before = forticare.cpu_time();
    let poll_one = bench.measure(
        "ftm-mock PollingRequest, 1 token (ownership over HTTP)",
        &ftm_server,
        Some(&ftm),
        bench.args.clients,
        repeat(poll),
    );
    let forticare_cpu = forticare.cpu_time().saturating_sub(forticare_before);
    let forticare_cpu_us_per_request =
        forticare_cpu.as_secs_f64() * 1e6 / poll_one.requests.max(1) as f64;
    let rss_kib = forticare.rss_kib() + ftm.rss_kib();
    ftm.stop(Duration::from_secs(10));
    forticare.stop(Duration::from_secs(10));
    Ok(StandaloneFigures {
        poll_one,
        forticare_cpu_us_per_request,
        rss_kib,
    })
}

/// A binary next to `exe`, or why the measurement cannot run.
fn sibling(exe: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let path = exe.with_file_name(name);
    if !path.is_file() {
        bail!(
            "{name} is not next to {} (build the separate binaries with `cargo build --release -p forticare -p ftm`)",
            exe.display()
        );
    }
    Ok(path)
}

/// A port nothing listens on now (the binaries are given ports, and print no ready file).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
