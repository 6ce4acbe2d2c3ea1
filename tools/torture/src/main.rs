//! `fortimock-torture`: crash torture for `fortimock up`. Each cycle kills the real binary with SIGKILL, during
//! startup or under a mixed write load, reopens it on the same data dir and checks that every acknowledged
//! write is there and no acknowledged delete came back. Short mode (`--cycles N`) is CI's; long mode
//! (`--minutes N`) adds the exactly-once race and a bounded run of every fuzz target.
// A command-line tool: its output (a line per cycle, the report) is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use torture::acknowledged::Ledger;
use torture::suite_process::{Reopened, SuiteHome, SuiteUnderTest};
use torture::tally::{Finding, Tally};
use torture::write_load::{self, Shared};
use torture::{exactly_once, fuzz_runs};

/// Kill `fortimock up` with SIGKILL during startup and under a mixed write load, reopen it on the same data
/// dir, and check that every acknowledged write survived and no acknowledged delete came back.
#[derive(Parser, Debug)]
#[command(name = "fortimock-torture", version, about)]
struct Args {
    /// The `fortimock` binary to torture (default: the `fortimock` next to this executable).
    #[arg(long)]
    fortimock: Option<PathBuf>,
    /// Seed of every random choice: kill moments, writes, ids (default: a random one, shown in the report).
    #[arg(long)]
    seed: Option<u64>,
    /// Short mode: this many kill-and-reopen cycles; every fourth one, the first included, kills during
    /// startup (1 to 3 times, 0 to 80 ms after the spawn).
    #[arg(long, default_value_t = 40)]
    cycles: u64,
    /// Long mode: cycles until this many minutes have passed, then the exactly-once race and every fuzz
    /// target for --fuzz-secs.
    #[arg(long, conflicts_with = "cycles")]
    minutes: Option<f64>,
    /// Concurrent writers during the load.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Longest load before a mid-load kill, in milliseconds (default 1000 in short mode, 2000 in long mode).
    #[arg(long)]
    max_load_ms: Option<u64>,
    /// Run the exactly-once race in short mode too.
    #[arg(long)]
    race: bool,
    /// How many phones redeem one code at once in the race's rounds.
    #[arg(long, value_delimiter = ',', default_value = "2,8,64,512")]
    race_sizes: Vec<usize>,
    /// How many times the race goes through its sizes (each size without and with a kill).
    #[arg(long, default_value_t = 2)]
    race_repeats: u32,
    /// Seconds each fuzz target runs (default 30 in long mode, none in short mode; 0 turns fuzzing off).
    #[arg(long)]
    fuzz_secs: Option<u64>,
    /// The repository whose `fuzz/` targets are run (default: the one this harness was built from).
    #[arg(long)]
    repo: Option<PathBuf>,
    /// The cargo target dir of the fuzz build (`cargo fuzz build --target-dir`; default: what cargo
    /// metadata says for `fuzz/`, which follows `CARGO_TARGET_DIR`).
    #[arg(long)]
    fuzz_target_dir: Option<PathBuf>,
    /// Where the data dirs and logs go (default: a new dir under the system's temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the work dir even when the run passes (a failing run always keeps it).
    #[arg(long)]
    keep: bool,
    /// How long a start may take to become ready before it is a failed reopen, in seconds.
    #[arg(long, default_value_t = 60)]
    ready_timeout_secs: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("fortimock-torture: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// What a cycle works with.
struct Cycles {
    suite: SuiteUnderTest,
    ledger: Ledger,
    tally: Tally,
    rng: StdRng,
    workers: usize,
    max_load_ms: u64,
}

/// Runs everything `args` asks for; whether the run passed.
async fn run(args: Args) -> anyhow::Result<bool> {
    let started = Instant::now();
    let seed = args.seed.unwrap_or_else(rand::random);
    let binary = match &args.fortimock {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the harness's own directory")?
            .join("fortimock"),
    };
    anyhow::ensure!(
        binary.is_file(),
        "no fortimock binary at {} (build it with `cargo build -p fortimock`, or pass --fortimock)",
        binary.display()
    );
    let work_dir = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => {
            std::env::temp_dir().join(format!("fortimock-torture-{seed}-{}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let long = args.minutes.is_some();
    let ready_timeout = Duration::from_secs(args.ready_timeout_secs);
    let cycles_home = work_dir.join("cycles");
    anyhow::ensure!(
        !cycles_home.exists(),
        "{} exists: give a fresh --work-dir",
        cycles_home.display()
    );
    std::fs::create_dir_all(&cycles_home)?;
    let mut cycles = Cycles {
        suite: SuiteUnderTest::new(SuiteHome::new(&binary, &cycles_home)?, ready_timeout),
        ledger: Ledger::default(),
        tally: Tally::default(),
        rng: StdRng::seed_from_u64(seed),
        workers: args.workers.max(1),
        max_load_ms: args
            .max_load_ms
            .unwrap_or(if long { 2000 } else { 1000 })
            .max(10),
    };
    let deadline = args.minutes.map(|m| Duration::from_secs_f64(m * 60.0));
    let mut n = 0;
    loop {
        match deadline {
            Some(deadline) if started.elapsed() >= deadline => break,
            None if n >= args.cycles => break,
            _ => {}
        }
        n += 1;
        let of = if long {
            String::new()
        } else {
            format!("/{}", args.cycles)
        };
        let line = if n % 4 == 1 {
            cycles.startup_cycle().await?
        } else {
            cycles.midload_cycle().await?
        };
        cycles.tally.cycles += 1;
        println!("cycle {n:>4}{of} {line}");
    }
    cycles.suite.kill9();
    let Cycles {
        mut tally, mut rng, ..
    } = cycles;

    if long || args.race {
        let race_home = work_dir.join("race");
        std::fs::create_dir_all(&race_home)?;
        let mut suite = SuiteUnderTest::new(SuiteHome::new(&binary, &race_home)?, ready_timeout);
        let raced = exactly_once::run(
            &mut suite,
            &args.race_sizes,
            args.race_repeats,
            &mut tally,
            &mut rng,
        )
        .await;
        suite.kill9();
        if let Err(e) = raced {
            tally.find(Finding::Race, format!("the race could not run: {e:#}"));
        }
    }

    let fuzz_secs = args.fuzz_secs.unwrap_or(if long { 30 } else { 0 });
    if fuzz_secs > 0 {
        let repo = match &args.repo {
            Some(repo) => repo.clone(),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
        };
        if let Err(e) = fuzz_runs::run(
            &repo,
            args.fuzz_target_dir.as_deref(),
            fuzz_secs,
            &work_dir,
            &mut tally,
        )
        .await
        {
            tally.find(Finding::Fuzz, format!("fuzzing could not run: {e:#}"));
        }
    }

    let repeat = match args.minutes {
        Some(minutes) => format!(
            "fortimock-torture --seed {seed} --minutes {minutes} --fortimock {}",
            binary.display()
        ),
        None => format!(
            "fortimock-torture --seed {seed} --cycles {} --fortimock {}",
            args.cycles,
            binary.display()
        ),
    };
    print!(
        "{}",
        tally.report(
            seed,
            started.elapsed(),
            &binary.display().to_string(),
            &repeat
        )
    );
    let passed = !tally.failed();
    if passed && !args.keep {
        let _ = std::fs::remove_dir_all(&work_dir);
    } else {
        println!("work dir kept: {}", work_dir.display());
    }
    Ok(passed)
}

impl Cycles {
    /// Kills the suite 1 to 3 times, each 0 to 80 ms after its spawn (before or while the stores open, or just
    /// after it became ready), then reopens and checks.
    async fn startup_cycle(&mut self) -> anyhow::Result<String> {
        self.suite.kill9();
        let kills = self.rng.gen_range(1..=3);
        let mut moments = Vec::new();
        let mut after_ready = 0;
        for _ in 0..kills {
            let at = Duration::from_millis(self.rng.gen_range(0..=80));
            let process = self.suite.spawn()?;
            tokio::time::sleep(at.saturating_sub(process.age())).await;
            let ready = process.wrote_ready_file();
            let age = process.age();
            self.suite.kill9();
            self.tally.startup_kills += 1;
            if ready {
                after_ready += 1;
                self.tally.startup_kills_after_ready += 1;
            }
            moments.push(format!("{}", age.as_millis()));
        }
        let checked = self.reopen_and_check().await?;
        Ok(format!(
            "startup   {kills} kill{} at {} ms after spawn ({after_ready} after ready); {checked}",
            if kills == 1 { "" } else { "s" },
            moments.join(", ")
        ))
    }

    /// Runs the write load for a random time, kills the suite under it, then reopens and checks.
    async fn midload_cycle(&mut self) -> anyhow::Result<String> {
        if !self.suite.is_running() && self.suite.reopen(&mut self.tally).await? == Reopened::Fresh
        {
            self.ledger = Ledger::default();
        }
        let api = self.suite.api()?;
        let load_ms = self.rng.gen_range(self.max_load_ms / 10..=self.max_load_ms);
        let acked_before: u64 = self.tally.acked.values().sum();
        let shared = Arc::new(Shared::new(
            std::mem::take(&mut self.ledger),
            std::mem::take(&mut self.tally),
        ));
        let load = tokio::spawn(write_load::run(
            api,
            shared.clone(),
            self.workers,
            self.rng.r#gen(),
        ));
        tokio::time::sleep(Duration::from_millis(load_ms)).await;
        // Workers stop picking new writes first, so what the kill cuts is what was in flight at that moment.
        shared.stop.store(true, Ordering::SeqCst);
        let in_flight = shared.in_flight.load(Ordering::SeqCst);
        self.suite.kill9();
        load.await.context("the write load panicked")?;
        let shared = Arc::into_inner(shared).context("the write load still runs")?;
        (self.ledger, self.tally) = shared.into_parts();
        self.tally.midload_kills += 1;
        self.tally.in_flight_at_kills += in_flight;
        let acked = self.tally.acked.values().sum::<u64>() - acked_before;
        let checked = self.reopen_and_check().await?;
        Ok(format!(
            "mid-load  killed after {load_ms} ms with {in_flight} requests in flight, {acked} writes acknowledged; {checked}"
        ))
    }

    /// Reopens the data dir and checks the ledger against it; the cycle line's second half.
    async fn reopen_and_check(&mut self) -> anyhow::Result<String> {
        let reopen_time = self.tally.reopen_time;
        let failed_before = self.tally.failed_reopens.len();
        if self.suite.reopen(&mut self.tally).await? == Reopened::Fresh {
            self.ledger = Ledger::default();
            return Ok(format!(
                "FAILED REOPEN ({}): data dir set aside, a fresh one started",
                self.tally.failed_reopens.len() - failed_before
            ));
        }
        let took = self.tally.reopen_time.saturating_sub(reopen_time);
        let failed = self.tally.failed_reopens.len() - failed_before;
        let api = self.suite.api()?;
        let findings_before = self.tally.finding_count();
        let checked = match self
            .ledger
            .check(&api, &mut self.tally, &mut self.rng)
            .await
        {
            Ok(summary) => format!("{} acknowledged writes checked", summary.checks),
            Err(e) => {
                self.tally.find(
                    Finding::Unexpected,
                    format!("reading the reopened suite: {e:#}"),
                );
                "the reopened suite could not be read".to_owned()
            }
        };
        let findings = self.tally.finding_count() - findings_before;
        let failed = if failed > 0 {
            format!(
                " after {failed} FAILED REOPEN{}",
                if failed == 1 { "" } else { "S" }
            )
        } else {
            String::new()
        };
        Ok(format!(
            "reopened in {} ms{failed}; {checked}, {findings} finding{}",
            took.as_millis(),
            if findings == 1 { "" } else { "s" }
        ))
    }
}
