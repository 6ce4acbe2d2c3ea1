//! The scale mode (`--lab-size N`): a lab of N appliances sharing `--tokens` tokens, built through the
//! public APIs by parallel clients (each appliance's license created by forticare's admin API with the
//! appliance as owner, imported by the appliance through ftm, its tokens provisioned), then, on that lab:
//! polls and durable provisions across many appliances (held against the small lab's latency), a
//! 10,000-seat import, each big service's state exported and imported again (`/__admin/state`), and its
//! reset (`POST /__admin/reset`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use bytes::Bytes;
use futures_util::StreamExt;
use protocol::id::ApplianceSerial;
use protocol::paths::{ADMIN_RESET, ADMIN_STATE, PROCESS};
use serde::Serialize;

use super::Bench;
use super::load::{self, Call, Trust};
use super::populate::{self, Cloud, PROVISION_BATCH};
use super::report::Measurement;

/// Clients building the lab side by side.
const BUILDERS: usize = 16;
/// Appliances the measurements spread their requests over.
const SPREAD: usize = 1_000;

/// One service's state and reset figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StateFigures {
    pub(crate) service: &'static str,
    pub(crate) export_bytes: Option<usize>,
    pub(crate) export_seconds: Option<f64>,
    pub(crate) export_note: Option<String>,
    pub(crate) import_seconds: Option<f64>,
    pub(crate) import_note: Option<String>,
    pub(crate) reset_seconds: Option<f64>,
    pub(crate) reset_note: Option<String>,
}

/// The scale figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScaleFigures {
    pub(crate) appliances: usize,
    pub(crate) tokens: usize,
    pub(crate) build_seconds: f64,
    pub(crate) data_dir_mib: f64,
    pub(crate) rss_kib: u64,
    pub(crate) poll_one: Measurement,
    pub(crate) provision: Measurement,
    /// A 10,000-seat license imported through ftm by a new appliance (median of 3).
    pub(crate) import_ms: f64,
    pub(crate) state: Vec<StateFigures>,
    /// The whole scale phase, building included.
    pub(crate) phase_seconds: f64,
}

/// What the builders keep of each appliance: its serial and its first two tokens.
struct Built {
    serial: ApplianceSerial,
    first: String,
    second: String,
}

pub(crate) fn measure(bench: &Bench, appliances: usize) -> anyhow::Result<ScaleFigures> {
    let phase = Instant::now();
    ensure!(appliances > 0, "--lab-size needs at least one appliance");
    let tokens = bench.args.tokens;
    let seats = tokens / appliances;
    ensure!(
        (2..=protocol::ledger::MAX_SEATS as usize).contains(&seats),
        "--tokens / --lab-size must be between 2 and 10,000 tokens per appliance, not {seats}"
    );
    let suite = bench.start_suite("scale", true)?;
    let cloud = Cloud::new(&suite)?;
    let began = Instant::now();
    let built = bench
        .block_on(build(&cloud, appliances, seats))
        .map_err(|e| e.context(suite.process.log_hint()))?;
    let build_seconds = began.elapsed().as_secs_f64();
    let rss_kib = suite.process.rss_kib();
    let data_dir_mib = dir_size(&bench.work.join("scale")) as f64 / 1024.0 / 1024.0;
    println!(
        "  built {appliances} appliances and {} tokens in {build_seconds:.1} s ({:.0} tokens/s); data dir {data_dir_mib:.0} MiB, resident {:.0} MiB",
        appliances * seats,
        (appliances * seats) as f64 / build_seconds,
        rss_kib as f64 / 1024.0
    );

    let ftm = load::Server::new(suite.url("ftm")?, &Trust::default())?;
    let spread: Vec<&Built> = built
        .iter()
        .step_by((built.len() / SPREAD).max(1))
        .collect();
    let polls: Vec<Call> = spread
        .iter()
        .map(|b| {
            Call::post(
                PROCESS,
                Bytes::from(populate::poll_body(
                    &b.serial,
                    std::slice::from_ref(&b.first),
                )),
            )
        })
        .collect();
    let poll_one = bench.measure(
        &format!(
            "scale: ftm PollingRequest, 1 token, {} appliances",
            polls.len()
        ),
        &ftm,
        Some(&suite.process),
        bench.args.clients,
        Arc::new(move |n| polls.get(n as usize % polls.len()).cloned()),
    );
    let provisions: Vec<Call> = spread
        .iter()
        .map(|b| {
            Call::post(
                PROCESS,
                Bytes::from(populate::provision_body(
                    &b.serial,
                    std::slice::from_ref(&b.second),
                )),
            )
        })
        .collect();
    let provision = bench.measure(
        &format!(
            "scale: ftm ProvisionRequest, 1 token, {} writers",
            bench.args.clients
        ),
        &ftm,
        Some(&suite.process),
        bench.args.clients,
        Arc::new(move |n| provisions.get(n as usize % provisions.len()).cloned()),
    );
    if let (Some(kib), Some(cpu)) = (
        provision.server_written_kib_per_request,
        provision.server_cpu_us_per_request,
    ) {
        println!(
            "    each provision wrote {kib:.1} KiB to disk (its share of a group commit) and took {cpu:.0} µs of the server's CPU"
        );
    }

    let imports = bench.block_on(async {
        let mut times = Vec::new();
        for i in 0..3 {
            let serial = populate::appliance(50_000_000 + i);
            let license = cloud
                .create_license(protocol::ledger::MAX_SEATS as usize, None)
                .await?;
            let started = Instant::now();
            cloud.import(&serial, &license.code).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        anyhow::Ok(times)
    })?;
    let import_ms = super::latency::median(&imports);
    println!("  10,000-seat import: median {import_ms:.1} ms of {imports:.1?}");

    // State export and import can be large: a client without the usual 30 s timeout.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let mut state = Vec::new();
    for service in ["forticare", "ftm"] {
        let figures = bench.block_on(state_round_trip(&http, service, suite.url(service)?));
        println!(
            "  {service}: state export {} ({}), import {}, reset {}",
            seconds(figures.export_seconds, figures.export_note.as_deref()),
            figures.export_bytes.map_or("-".to_owned(), |b| format!(
                "{:.0} MiB",
                b as f64 / 1024.0 / 1024.0
            )),
            seconds(figures.import_seconds, figures.import_note.as_deref()),
            seconds(figures.reset_seconds, figures.reset_note.as_deref()),
        );
        state.push(figures);
    }
    suite.stop();
    let phase_seconds = phase.elapsed().as_secs_f64();
    println!("  the scale phase took {phase_seconds:.0} s");
    Ok(ScaleFigures {
        appliances,
        tokens: appliances * seats,
        build_seconds,
        data_dir_mib,
        rss_kib,
        poll_one,
        provision,
        import_ms,
        state,
        phase_seconds,
    })
}

fn seconds(value: Option<f64>, note: Option<&str>) -> String {
    match (value, note) {
        (Some(s), _) => format!("{s:.2} s"),
        (None, Some(note)) => format!("failed: {note}"),
        (None, None) => "-".to_owned(),
    }
}

/// Builds the lab: per appliance, its license created with it as owner, imported by it through ftm, its
/// tokens provisioned.
async fn build(cloud: &Cloud, appliances: usize, seats: usize) -> anyhow::Result<Vec<Built>> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let began = Instant::now();
    let results: Vec<anyhow::Result<Built>> = futures_util::stream::iter(0..appliances)
        .map(|i| {
            let done = &done;
            async move {
                let serial = populate::appliance(1_000 + i);
                let license = cloud.create_license(seats, Some(&serial)).await?;
                let tokens = cloud.import(&serial, &license.code).await?;
                ensure!(
                    tokens == license.tokens,
                    "{serial} imported other tokens than its license's"
                );
                for batch in tokens.chunks(PROVISION_BATCH) {
                    cloud.provision(&serial, batch).await?;
                }
                let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if finished.is_multiple_of((appliances / 10).max(1)) {
                    println!(
                        "    {finished} appliances built ({:.0} s)",
                        began.elapsed().as_secs_f64()
                    );
                }
                Ok(Built {
                    serial,
                    first: tokens[0].clone(),
                    second: tokens[1].clone(),
                })
            }
        })
        .buffer_unordered(BUILDERS)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Exports a service's state, imports it back, then resets the service; each timed.
async fn state_round_trip(
    http: &reqwest::Client,
    service: &'static str,
    base: &str,
) -> StateFigures {
    let mut figures = StateFigures {
        service,
        export_bytes: None,
        export_seconds: None,
        export_note: None,
        import_seconds: None,
        import_note: None,
        reset_seconds: None,
        reset_note: None,
    };
    let url = format!("{base}{ADMIN_STATE}");
    let started = Instant::now();
    let exported = async {
        let response = http.get(&url).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        ensure!(status.is_success(), "GET {ADMIN_STATE} answered {status}");
        anyhow::Ok(body)
    }
    .await;
    match exported {
        Ok(body) => {
            figures.export_seconds = Some(started.elapsed().as_secs_f64());
            figures.export_bytes = Some(body.len());
            let started = Instant::now();
            let imported = async {
                let response = http
                    .put(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                ensure!(
                    status.is_success(),
                    "PUT {ADMIN_STATE} answered {status}: {}",
                    text.chars().take(300).collect::<String>()
                );
                anyhow::Ok(())
            }
            .await;
            match imported {
                Ok(()) => figures.import_seconds = Some(started.elapsed().as_secs_f64()),
                Err(e) => figures.import_note = Some(format!("{e:#}")),
            }
        }
        Err(e) => figures.export_note = Some(format!("{e:#}")),
    }
    let started = Instant::now();
    let reset = async {
        let response = http.post(format!("{base}{ADMIN_RESET}")).send().await?;
        let status = response.status();
        ensure!(status.is_success(), "POST {ADMIN_RESET} answered {status}");
        anyhow::Ok(())
    }
    .await;
    match reset {
        Ok(()) => figures.reset_seconds = Some(started.elapsed().as_secs_f64()),
        Err(e) => figures.reset_note = Some(format!("{e:#}")),
    }
    figures
}

/// Bytes in the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_size(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}
