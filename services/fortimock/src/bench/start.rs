//! Start: how long from spawning a server until it answers, as the median of `--starts` starts of each kind
//! (the kinds taking turns in each round):
//! the whole suite (`fortimock up`) until every service has answered `GET /__admin/health` and the SMTP sink
//! has greeted, on an existing data dir over HTTPS (the default, and the target), on a data dir over plain
//! HTTP and in memory (`--ephemeral`, plain HTTP); against the reference server until it answers and
//! `fortimock --version` until it exits. Also the default suite's resident memory once it has answered (the idle target).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use protocol::paths::ADMIN_HEALTH;
use serde::Serialize;

use super::Bench;
use super::latency::median;
use super::load::{self, Call, Trust};
use super::process::{SuiteOptions, start_suite};
use super::reference;

/// The start figures (milliseconds are medians).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StartFigures {
    pub(crate) starts: usize,
    pub(crate) version_spawn_ms: f64,
    pub(crate) reference_ms: f64,
    pub(crate) reference_rss_kib: u64,
    /// `fortimock up` on an existing data dir, HTTPS (the default).
    pub(crate) data_dir_https_ms: f64,
    /// Of which spawn to the suite saying it is up (its ready file written, every listener bound), before the
    /// bench's own connections and health checks.
    pub(crate) data_dir_https_up_ms: f64,
    pub(crate) data_dir_plain_ms: f64,
    pub(crate) in_memory_plain_ms: f64,
    /// The default suite's resident memory once every service has answered (median).
    pub(crate) idle_rss_kib: u64,
    /// Of which anonymous (heap, stacks) and file-backed (the binary's pages), in the last start.
    pub(crate) idle_rss_anon_kib: u64,
    pub(crate) idle_rss_file_kib: u64,
}

const PATIENCE: Duration = Duration::from_secs(30);

pub(crate) fn measure(bench: &Bench) -> anyhow::Result<StartFigures> {
    let starts = bench.args.starts.max(1);
    let https = SuiteOptions {
        plain_http: false,
        ephemeral: false,
        workers: None,
    };
    let plain = SuiteOptions {
        plain_http: true,
        ..https.clone()
    };
    let in_memory = SuiteOptions {
        ephemeral: true,
        ..plain.clone()
    };
    let mut kinds = Vec::new();
    for (name, options, what) in [
        ("start-https", https, "on a data dir, HTTPS"),
        ("start-plain", plain, "on a data dir, plain HTTP"),
        ("start-memory", in_memory, "in memory, plain HTTP"),
    ] {
        let dir = bench.work.join(name);
        // The first start makes the data dir (databases, lab CA) and is not counted.
        let first = start_suite(Command::new(&bench.exe), &dir, &options)?;
        let ca_pem = first.ca_pem.clone();
        first.stop();
        kinds.push(SuiteStarts {
            what,
            trust: Trust::new(ca_pem.as_deref())?,
            dir,
            options,
            answering: Vec::new(),
            up: Vec::new(),
            rss: Vec::new(),
        });
    }

    // Every kind of start takes its turn in each round, so a spell of the machine's weighs on all of them
    // alike, as the load measurements' rounds do.
    let mut version = Vec::new();
    let mut reference_ms = Vec::new();
    let mut reference_rss = Vec::new();
    let mut idle_split = (0, 0);
    for _ in 0..starts {
        version.push(time_version(bench)?);
        let (ms, rss) = time_reference(bench)?;
        reference_ms.push(ms);
        reference_rss.push(rss as f64);
        for (index, kind) in kinds.iter_mut().enumerate() {
            let (times, kib, split) = time_suite(bench, &kind.dir, &kind.options, &kind.trust)?;
            kind.answering.push(times.answering);
            kind.up.push(times.up);
            kind.rss.push(kib as f64);
            if index == 0 {
                idle_split = split;
            }
        }
    }
    println!("  `fortimock --version`: {:.1} ms", median(&version));
    println!(
        "  reference server, spawn to first answer: {:.1} ms",
        median(&reference_ms)
    );
    for kind in &kinds {
        println!(
            "  fortimock up {}, spawn to every service answering: {:.1} ms (of {}); to the suite saying it is up: {:.1} ms",
            kind.what,
            median(&kind.answering),
            kind.answering
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            median(&kind.up)
        );
    }
    let [https, plain, in_memory] = &kinds[..] else {
        unreachable!("three kinds of start are measured");
    };
    Ok(StartFigures {
        starts,
        version_spawn_ms: median(&version),
        reference_ms: median(&reference_ms),
        reference_rss_kib: median(&reference_rss) as u64,
        data_dir_https_ms: median(&https.answering),
        data_dir_https_up_ms: median(&https.up),
        idle_rss_kib: median(&https.rss) as u64,
        idle_rss_anon_kib: idle_split.0,
        idle_rss_file_kib: idle_split.1,
        data_dir_plain_ms: median(&plain.answering),
        in_memory_plain_ms: median(&in_memory.answering),
    })
}

/// One kind of suite start: how it is started, and its starts' figures so far.
struct SuiteStarts {
    what: &'static str,
    dir: std::path::PathBuf,
    options: SuiteOptions,
    trust: Trust,
    /// Milliseconds from the spawn until every service had answered.
    answering: Vec<f64>,
    /// Milliseconds from the spawn until the suite said it was up.
    up: Vec<f64>,
    /// Resident KiB once every service had answered.
    rss: Vec<f64>,
}

fn time_version(bench: &Bench) -> anyhow::Result<f64> {
    let started = Instant::now();
    let status = Command::new(&bench.exe)
        .arg("--version")
        .stdout(Stdio::null())
        .status()?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("`fortimock --version` failed");
    }
    Ok(elapsed.as_secs_f64() * 1000.0)
}

/// Spawn to first answer of the reference server, and its memory then.
fn time_reference(bench: &Bench) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let server = reference::start(
        Command::new(&bench.exe),
        &bench.work.join("reference-start.log"),
    )?;
    let target = load::Server::new(&server.url, &Trust::default())?;
    bench.block_on(load::until_answered(
        &target,
        &Call::get(reference::HEALTH),
        PATIENCE,
    ))?;
    let elapsed = started.elapsed();
    let rss = server.process.rss_kib();
    server.stop();
    Ok((elapsed.as_secs_f64() * 1000.0, rss))
}

/// One start's times from the spawn, in milliseconds.
struct StartTimes {
    /// Until the suite printed that it is up.
    up: f64,
    /// Until every service had answered.
    answering: f64,
}

/// Spawn until every service of the suite has answered `GET /__admin/health`, and its memory then.
fn time_suite(
    bench: &Bench,
    dir: &std::path::Path,
    options: &SuiteOptions,
    trust: &Trust,
) -> anyhow::Result<(StartTimes, u64, (u64, u64))> {
    let started = Instant::now();
    let suite = start_suite(Command::new(&bench.exe), dir, options)?;
    let up = started.elapsed();
    // The HTTP services answer their health; the SMTP sink answers with its greeting.
    let (smtp, http): (Vec<&String>, Vec<&String>) = suite
        .urls
        .values()
        .partition(|url| url.starts_with("smtp://"));
    let servers = http
        .into_iter()
        .map(|url| load::Server::new(url, trust))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let health = Call::get(ADMIN_HEALTH);
    bench
        .block_on(async {
            let answered = futures_util::future::try_join_all(
                servers
                    .iter()
                    .map(|server| load::until_answered(server, &health, PATIENCE)),
            );
            let greeted =
                futures_util::future::try_join_all(smtp.iter().map(|url| until_greeted(url)));
            futures_util::future::try_join(answered, greeted).await
        })
        .with_context(|| suite.process.log_hint())?;
    let answering = started.elapsed();
    let rss = suite.process.rss_kib();
    let split = suite.process.rss_split_kib();
    suite.stop();
    let times = StartTimes {
        up: up.as_secs_f64() * 1000.0,
        answering: answering.as_secs_f64() * 1000.0,
    };
    Ok((times, rss, split))
}

/// Connects to the SMTP sink at `url` (`smtp://host:port`) until it greets with `220`.
async fn until_greeted(url: &str) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let address = url
        .strip_prefix("smtp://")
        .with_context(|| format!("{url} is not an smtp:// address"))?;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let failure = match tokio::net::TcpStream::connect(address).await {
            Ok(mut stream) => {
                let mut greeting = [0u8; 3];
                match stream.read_exact(&mut greeting).await {
                    Ok(_) if &greeting == b"220" => return Ok(()),
                    Ok(_) => anyhow::anyhow!(
                        "{url} greeted with {:?}",
                        String::from_utf8_lossy(&greeting)
                    ),
                    Err(e) => anyhow::Error::new(e),
                }
            }
            Err(e) => anyhow::Error::new(e),
        };
        if Instant::now() >= deadline {
            return Err(failure.context(format!("no greeting from {url} within {PATIENCE:?}")));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
