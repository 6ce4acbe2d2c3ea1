//! `fortimock bench`: every figure issue 10's targets name, each next to a baseline measured in the same run
//! on the same machine, with the ratio, the goal and whether it is met; `--json` writes the same for
//! machines. The suite runs as a separate `fortimock up` process and is talked to over HTTP only.
//!
//! - `start`: spawn until every service answers, on a data dir and in memory, against the reference server
//!   and `fortimock --version`; the default suite's idle memory.
//! - `disk`: raw `write` + `fdatasync` on the same disk, the floor of a durable write.
//! - `polling`: ftm's PollingRequest (1 and 50 tokens, plain HTTP and HTTPS) at `--clients` keep-alive
//!   connections, against the bare actix-web `reference` server on the same core; the generator's own
//!   ceiling.
//! - `writes`: a durable ProvisionRequest at one client and at `--clients` concurrent writers.
//! - `endpoints`: license import, phone download and appliance login against `GET /__admin/health`.
//! - `standalone`: the separate binaries (`forticare-mock` and `ftm-mock`, ownership over HTTP) polled on
//!   the small lab's data dir, against the suite's in-process poll.
//! - `memory`: resident memory idle, after the poll load, and with `--memory-tokens` tokens imported and
//!   provisioned.
//! - `peers`: WireMock and Mockoon CLI, when installed, polled the same way.
//! - `scale` (`--lab-size`): a lab of that many appliances built through the public APIs, and its figures.
//!
//! The bench's own parts: `load` (the closed-loop generator on hyper), `latency` (percentiles),
//! `process` (child servers and /proc), `machine` (the machine and CPU pinning), `populate` (licenses
//! and tokens through the public APIs), `targets` and `report` (judging and printing).
//!
//! Servers under load are pinned to one CPU (`taskset -c`), the bench to another, so the reference server,
//! fortimock and the peers each get one core and the generator the other.

pub mod reference;

mod disk;
mod endpoints;
mod latency;
mod load;
mod machine;
mod memory;
mod peers;
mod polling;
mod populate;
mod process;
mod report;
mod scale;
mod standalone;
mod start;
mod targets;
mod writes;

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::cli::BenchArgs;
use load::{Calls, Shape};
use machine::{Machine, Pinning};
use process::{Process, Suite, SuiteOptions};
use report::{Measurement, TargetResult};

/// What every part of a run shares.
pub(crate) struct Bench {
    pub(crate) args: BenchArgs,
    /// This binary: `fortimock up`, `fortimock bench-reference`.
    pub(crate) exe: PathBuf,
    /// Where the data dirs, logs and the disk probe go; removed at the end unless something failed.
    pub(crate) work: PathBuf,
    pub(crate) pinning: Pinning,
    runtime: tokio::runtime::Runtime,
}

impl Bench {
    /// Runs `future` on the bench's one thread.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// This binary, on the servers' CPU.
    pub(crate) fn server_command(&self) -> Command {
        self.pinning.server_command(&self.exe)
    }

    /// A suite under load: pinned, its data in `<work>/<name>`, `--server-workers` workers per service.
    pub(crate) fn start_suite(&self, name: &str, plain_http: bool) -> anyhow::Result<Suite> {
        self.start_suite_with(self.server_command(), name, plain_http)
    }

    /// [`Bench::start_suite`] with `command` (the pinned binary, its environment changed) as the program.
    pub(crate) fn start_suite_with(
        &self,
        command: Command,
        name: &str,
        plain_http: bool,
    ) -> anyhow::Result<Suite> {
        process::start_suite(
            command,
            &self.work.join(name),
            &SuiteOptions {
                plain_http,
                ephemeral: false,
                workers: Some(self.args.server_workers.max(1)),
            },
        )
    }

    pub(crate) fn shape(&self, connections: usize) -> Shape {
        Shape {
            connections,
            warmup: Duration::from_secs_f64(self.args.warmup.max(0.0)),
            recorded: Duration::from_secs_f64(self.args.seconds.max(0.1)),
        }
    }

    /// One load measurement of `server` (whose process, when given, is measured for CPU), printed as a
    /// progress line.
    pub(crate) fn measure(
        &self,
        name: &str,
        server: &load::Server,
        process: Option<&Process>,
        connections: usize,
        calls: Calls,
    ) -> Measurement {
        self.measure_shaped(name, server, process, self.shape(connections), calls)
    }

    pub(crate) fn measure_shaped(
        &self,
        name: &str,
        server: &load::Server,
        process: Option<&Process>,
        shape: Shape,
        calls: Calls,
    ) -> Measurement {
        let run = self.run_slice(server, process, shape, calls);
        let measurement = summarize(name, shape, process.is_some(), vec![run]);
        print_progress(&measurement);
        measurement
    }

    /// Measures several servers or requests taking turns: `--rounds` rounds, in each one slice of every
    /// contender (`--seconds` and `--warmup` shared out over the rounds), `between` run before each round.
    /// Whatever else the machine does then weighs on all of them alike, so their ratios hold on a busy
    /// machine.
    pub(crate) fn measure_interleaved(
        &self,
        contenders: &[Contender<'_>],
        between: &mut dyn FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<Measurement>> {
        let rounds = self.args.rounds.max(1);
        let mut runs: Vec<Vec<load::Run>> = contenders.iter().map(|_| Vec::new()).collect();
        for _ in 0..rounds {
            between()?;
            for (contender, runs) in contenders.iter().zip(&mut runs) {
                let shape = self.slice(contender.connections, rounds);
                runs.push(self.run_slice(
                    contender.server,
                    contender.process,
                    shape,
                    contender.calls.clone(),
                ));
            }
        }
        Ok(contenders
            .iter()
            .zip(runs)
            .map(|(contender, runs)| {
                let measurement = summarize(
                    &contender.name,
                    self.slice(contender.connections, rounds),
                    contender.process.is_some(),
                    runs,
                );
                print_progress(&measurement);
                measurement
            })
            .collect())
    }

    /// One round's share of a measurement.
    fn slice(&self, connections: usize, rounds: usize) -> Shape {
        let whole = self.shape(connections);
        Shape {
            connections,
            warmup: whole.warmup / rounds as u32,
            recorded: whole.recorded / rounds as u32,
        }
    }

    /// Runs the generator once, reading the bench's CPU time, and the server's CPU time and bytes written
    /// (when the server is known), as the recorded window opens and closes.
    fn run_slice(
        &self,
        server: &load::Server,
        process: Option<&Process>,
        shape: Shape,
        calls: Calls,
    ) -> load::Run {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let own = || nanos(process::own_cpu_time());
        let server_cpu = || process.map_or(0, |p| nanos(p.cpu_time()));
        let server_written = || process.map_or(0, Process::written_bytes);
        self.block_on(load::run(
            server,
            shape,
            calls,
            &[&own, &server_cpu, &server_written],
        ))
    }
}

/// A server and the requests it gets, in an interleaved measurement.
pub(crate) struct Contender<'a> {
    pub(crate) name: String,
    pub(crate) server: &'a load::Server,
    pub(crate) process: Option<&'a Process>,
    pub(crate) connections: usize,
    pub(crate) calls: Calls,
}

/// One measurement from its runs (one, or one per round of `slice`'s shape).
fn summarize(name: &str, slice: Shape, server_known: bool, runs: Vec<load::Run>) -> Measurement {
    let window = slice.recorded.as_secs_f64() * runs.len() as f64;
    let seconds: f64 = runs.iter().map(|r| r.seconds).sum();
    let metered = |meter: usize| -> u64 { runs.iter().filter_map(|r| r.metered.get(meter)).sum() };
    let (generator_cpu, server_cpu) = (metered(0) as f64 / 1e9, metered(1) as f64 / 1e9);
    let server_written = metered(2) as f64;
    let errors = runs.iter().map(|r| r.errors).sum();
    let last_error = runs.iter().rev().find_map(|r| r.last_error.clone());
    let latencies = latency::Latencies::merge(runs.into_iter().map(|r| r.latencies));
    let answered = latencies.len();
    Measurement {
        name: name.to_owned(),
        connections: slice.connections,
        requests: answered,
        seconds,
        rps: if seconds > 0.0 {
            answered as f64 / seconds
        } else {
            0.0
        },
        p50_ms: latencies.p50_ms(),
        p99_ms: latencies.p99_ms(),
        server_cpu_us_per_request: server_known.then(|| server_cpu * 1e6 / answered.max(1) as f64),
        server_busy: server_known.then(|| server_cpu / window.max(1e-9)),
        server_written_kib_per_request: server_known
            .then(|| server_written / 1024.0 / answered.max(1) as f64),
        generator_busy: generator_cpu / window.max(1e-9),
        errors,
        last_error,
    }
}

fn print_progress(measurement: &Measurement) {
    println!(
        "  {:<50} {:>9} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms{}",
        measurement.name,
        report::thousands(measurement.rps),
        measurement.p50_ms,
        measurement.p99_ms,
        if measurement.errors > 0 {
            format!("  ({} errors)", measurement.errors)
        } else {
            String::new()
        }
    );
}

/// Everything one run measured; `--json` writes it.
#[derive(Debug, Serialize)]
struct Report {
    fortimock_version: &'static str,
    command: String,
    machine: Machine,
    pinning: Pinning,
    load_at_end: [f64; 3],
    run_seconds: f64,
    clients: usize,
    seconds: f64,
    warmup: f64,
    server_workers: usize,
    targets: Vec<TargetResult>,
    start: Option<start::StartFigures>,
    fsync: Option<disk::FsyncFigures>,
    reference: Option<polling::ReferenceFigures>,
    polling: Option<polling::PollingFigures>,
    https: Option<polling::TlsPollingFigures>,
    writes: Option<writes::WriteFigures>,
    endpoints: Option<endpoints::EndpointFigures>,
    standalone: Option<standalone::StandaloneFigures>,
    memory: Option<memory::MemoryFigures>,
    peers: Vec<peers::PeerFigures>,
    scale: Option<scale::ScaleFigures>,
    /// What could not be measured, and why.
    failures: Vec<String>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    // The bench runs on a thread of its own with a one-thread runtime: pinned to one CPU, it is the load
    // generator, and nothing else of this process competes with it.
    let thread = std::thread::Builder::new()
        .name("bench".to_owned())
        .spawn(move || bench(args))
        .context("starting the bench thread")?;
    tokio::task::spawn_blocking(move || thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the bench thread panicked"))?
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let began = Instant::now();
    let exe = std::env::current_exe().context("finding the fortimock binary")?;
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("fortimock-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let machine = Machine::describe();
    let pinning = Pinning::detect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bench = Bench {
        args,
        exe,
        work,
        pinning,
        runtime,
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    println!("fortimock bench ({command})");
    println!(
        "machine: {}, {} CPU(s) allowed ({}), {}, {} MiB; load average {:.2} {:.2} {:.2}",
        machine.cpu_model,
        machine.cpu_count,
        machine.cpus_allowed,
        machine.kernel,
        machine.memory_mib,
        machine.load_at_start[0],
        machine.load_at_start[1],
        machine.load_at_start[2],
    );
    println!("pinning: {}", bench.pinning.describe());
    println!(
        "load: {} connections, {} s warm-up + {} s recorded per measurement; suites under load with {} worker(s) per service",
        bench.args.clients, bench.args.warmup, bench.args.seconds, bench.args.server_workers
    );

    let mut failures = Vec::new();

    println!(
        "\nstart (median of {} each, every kind taking its turn in each round; unpinned)",
        bench.args.starts
    );
    let start = keep(&mut failures, "start", start::measure(&bench));

    // From here on the bench is the load generator, on its own CPU.
    keep(&mut failures, "pinning", bench.pinning.pin_self());

    println!(
        "\npolling: the reference server (bare actix-web, 1 worker) and fortimock (plain HTTP) taking turns"
    );
    let (mut reference, mut polling, mut fsync, mut writes, mut endpoints, mut standalone) =
        (None, None, None, None, None, None);
    match polling::ReferenceServer::start(&bench).and_then(|server| {
        let lab = polling::SmallLab::start(&bench);
        Ok((server, lab?))
    }) {
        Ok((server, small)) => {
            if let Some((r, p)) = keep(
                &mut failures,
                "polling",
                polling::measure(&bench, &server, &small),
            ) {
                reference = Some(r);
                polling = Some(p);
            }
            println!(
                "\ndurable writes, taking turns with a raw fsync probe on the same disk and one client's round trips to the reference server"
            );
            if let Some((f, w)) = keep(
                &mut failures,
                "durable writes",
                writes::measure(&bench, &server, &small),
            ) {
                fsync = Some(f);
                writes = Some(w);
            }
            server.stop();
            println!("\nother endpoints");
            endpoints = keep(
                &mut failures,
                "endpoints",
                endpoints::measure(&bench, &small),
            );
            let (serial, activated) = (small.serial.clone(), small.activated.clone());
            small.stop();
            println!("\nthe separate binaries (forticare-mock and ftm-mock, ownership over HTTP)");
            if bench.args.skip_standalone {
                println!("  skipped (--skip-standalone)");
            } else {
                standalone = keep(
                    &mut failures,
                    "separate binaries",
                    standalone::measure(&bench, &bench.work.join("small-lab"), &serial, &activated),
                );
            }
            if let (Some(figures), Some(suite)) = (&standalone, &polling) {
                println!(
                    "  {:.2}x the suite's in-process poll; forticare-mock spent {:.0} µs of CPU per poll; {:.1} MiB resident for the two",
                    figures.poll_one.rps / suite.poll_one.rps.max(1.0),
                    figures.forticare_cpu_us_per_request,
                    figures.rss_kib as f64 / 1024.0
                );
            }
        }
        Err(e) => failures.push(format!(
            "the reference server or the plain-HTTP suite: {e:#}"
        )),
    }

    println!("\nfortimock, HTTPS");
    let https = keep(
        &mut failures,
        "polling over HTTPS",
        polling::measure_tls(&bench),
    );

    println!("\nmemory with {} tokens", bench.args.memory_tokens);
    let memory = keep(&mut failures, "memory", memory::measure(&bench));

    let mut peer_figures = Vec::new();
    if bench.args.skip_peers {
        println!("\npeers: skipped (--skip-peers)");
    } else {
        println!("\npeers");
        peer_figures = peers::measure(&bench);
    }

    let mut scale = None;
    if let Some(appliances) = bench.args.lab_size {
        println!(
            "\nscale: {appliances} appliances, {} tokens",
            bench.args.tokens
        );
        scale = keep(&mut failures, "scale", scale::measure(&bench, appliances));
    }

    let targets = targets::judge(&targets::Figures {
        start: start.as_ref(),
        fsync: fsync.as_ref(),
        reference: reference.as_ref(),
        polling: polling.as_ref(),
        writes: writes.as_ref(),
        memory: memory.as_ref(),
        scale: scale.as_ref(),
        lab_size: bench.args.lab_size,
    });

    println!();
    print!(
        "{}",
        targets::details(&targets::Details {
            start: start.as_ref(),
            reference: reference.as_ref(),
            polling: polling.as_ref(),
            https: https.as_ref(),
            writes: writes.as_ref(),
            endpoints: endpoints.as_ref(),
            memory: memory.as_ref(),
            peers: &peer_figures,
        })
    );
    println!("targets (issue 10), each against its baseline from this run:");
    print!("{}", report::targets_table(&targets));
    let met = targets
        .iter()
        .filter(|t| t.verdict == report::Verdict::Met)
        .count();
    let run_seconds = began.elapsed().as_secs_f64();
    let load_at_end = machine::load_average();
    println!(
        "{met} of {} targets met; run took {run_seconds:.0} s; load average at the end {:.2} {:.2} {:.2}",
        targets.len(),
        load_at_end[0],
        load_at_end[1],
        load_at_end[2]
    );
    for failure in &failures {
        println!("not measured: {failure}");
    }

    let report = Report {
        fortimock_version: env!("CARGO_PKG_VERSION"),
        command,
        machine,
        pinning: bench.pinning.clone(),
        load_at_end,
        run_seconds,
        clients: bench.args.clients,
        seconds: bench.args.seconds,
        warmup: bench.args.warmup,
        server_workers: bench.args.server_workers,
        targets,
        start,
        fsync,
        reference,
        polling,
        https,
        writes,
        endpoints,
        standalone,
        memory,
        peers: peer_figures,
        scale,
        failures,
    };
    if let Some(path) = &bench.args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    if report.failures.is_empty() {
        let _ = std::fs::remove_dir_all(&bench.work);
        Ok(())
    } else {
        println!(
            "servers' data dirs and logs kept in {}",
            bench.work.display()
        );
        // Every figure that was measured is printed and written; the run still fails, so a script or a CI
        // job never takes a bench with a phase missing for a complete one.
        anyhow::bail!(
            "{} of the bench's phases not measured (see `not measured:` above)",
            report.failures.len()
        )
    }
}

/// A phase's figures, or `None` with why it has none, noted and printed.
fn keep<T>(failures: &mut Vec<String>, what: &str, result: anyhow::Result<T>) -> Option<T> {
    match result {
        Ok(figures) => Some(figures),
        Err(e) => {
            let line = format!("{what}: {e:#}");
            println!("  NOT MEASURED {line}");
            failures.push(line);
            None
        }
    }
}
