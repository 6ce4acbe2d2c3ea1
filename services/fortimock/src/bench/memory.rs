//! Memory with tokens in the ledger and the escrow: a fresh suite's resident memory right after it
//! started, then with `--memory-tokens` tokens imported by appliances (licenses of up to 10,000 seats, one
//! appliance each, through ftm) and provisioned (ProvisionRequests of 5,000 tokens). The imports are timed
//! too: the small lab's 10,000-seat import, which the scale mode holds its own against.
//!
//! On glibc the same is measured again with [`TUNABLES`] in the suite's environment, as fortimock's
//! container images run it: how much of the growth is the allocator keeping freed memory.

use std::time::Instant;

use serde::Serialize;

use super::Bench;
use super::latency::median;
use super::populate::{self, Cloud, PROVISION_BATCH};
use super::process::Suite;

/// glibc's allocator settings fortimock's images set (`docker/scratch.Dockerfile`, `Dockerfile`): two
/// arenas instead of eight per CPU, and large blocks always mapped on their own, so memory freed after a
/// large request goes back to the system.
pub(crate) const TUNABLES: &str = "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072";

/// The memory figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemoryFigures {
    pub(crate) tokens: usize,
    pub(crate) licenses: usize,
    pub(crate) idle_rss_kib: u64,
    pub(crate) with_tokens_rss_kib: u64,
    /// With tokens minus idle.
    pub(crate) added_kib: u64,
    /// What that is per 100,000 tokens, in MiB.
    pub(crate) added_per_100k_tokens_mib: f64,
    /// Median and slowest of the licenses' imports through ftm.
    pub(crate) import_median_ms: f64,
    pub(crate) import_max_ms: f64,
    /// Seats of the largest license imported (10,000 unless fewer tokens were asked for).
    pub(crate) import_seats: usize,
    /// How long putting the tokens in took.
    pub(crate) build_seconds: f64,
    /// The same with [`TUNABLES`] (glibc only).
    pub(crate) tuned: Option<TunedMemory>,
}

/// The memory figures of a suite run with [`TUNABLES`].
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TunedMemory {
    pub(crate) tunables: &'static str,
    pub(crate) idle_rss_kib: u64,
    pub(crate) with_tokens_rss_kib: u64,
    pub(crate) added_per_100k_tokens_mib: f64,
}

pub(crate) fn measure(bench: &Bench) -> anyhow::Result<MemoryFigures> {
    let suite = bench.start_suite("memory", true)?;
    let mut figures = fill(bench, suite)?;
    if cfg!(target_env = "gnu") {
        println!("  the same with GLIBC_TUNABLES={TUNABLES}, as the images run:");
        let mut command = bench.server_command();
        command.env("GLIBC_TUNABLES", TUNABLES);
        let suite = bench.start_suite_with(command, "memory-tuned", true)?;
        let tuned = fill(bench, suite)?;
        figures.tuned = Some(TunedMemory {
            tunables: TUNABLES,
            idle_rss_kib: tuned.idle_rss_kib,
            with_tokens_rss_kib: tuned.with_tokens_rss_kib,
            added_per_100k_tokens_mib: tuned.added_per_100k_tokens_mib,
        });
    }
    Ok(figures)
}

/// Puts the tokens into `suite` and measures it, then stops it.
fn fill(bench: &Bench, suite: Suite) -> anyhow::Result<MemoryFigures> {
    let idle_rss_kib = suite.process.rss_kib();
    let cloud = Cloud::new(&suite)?;
    let wanted = bench.args.memory_tokens.max(1);
    let began = Instant::now();
    let built = bench.block_on(async {
        let mut imports = Vec::new();
        let mut remaining = wanted;
        let mut licenses = 0;
        let mut largest = 0;
        while remaining > 0 {
            let seats = remaining.min(protocol::ledger::MAX_SEATS as usize);
            let serial = populate::appliance(100 + licenses);
            let license = cloud.create_license(seats, None).await?;
            let started = Instant::now();
            let tokens = cloud.import(&serial, &license.code).await?;
            imports.push(started.elapsed().as_secs_f64() * 1000.0);
            for batch in tokens.chunks(PROVISION_BATCH) {
                cloud.provision(&serial, batch).await?;
            }
            cloud.poll(&serial, &tokens[..1]).await?;
            remaining -= seats;
            licenses += 1;
            largest = largest.max(seats);
        }
        anyhow::Ok((imports, licenses, largest))
    });
    let (imports, licenses, import_seats) =
        built.map_err(|e| e.context(suite.process.log_hint()))?;
    let build_seconds = began.elapsed().as_secs_f64();
    let with_tokens_rss_kib = suite.process.rss_kib();
    suite.stop();
    let added_kib = with_tokens_rss_kib.saturating_sub(idle_rss_kib);
    let figures = MemoryFigures {
        tokens: wanted,
        licenses,
        idle_rss_kib,
        with_tokens_rss_kib,
        added_kib,
        added_per_100k_tokens_mib: added_kib as f64 / 1024.0 * 100_000.0 / wanted as f64,
        import_median_ms: median(&imports),
        import_max_ms: imports.iter().copied().fold(0.0, f64::max),
        import_seats,
        build_seconds,
        tuned: None,
    };
    println!(
        "  {} tokens in {} licenses, imported and provisioned in {:.1} s: resident {:.1} MiB idle, {:.1} MiB with them (+{:.1} MiB); {}-seat import p50 {:.1} ms, max {:.1} ms",
        figures.tokens,
        figures.licenses,
        figures.build_seconds,
        idle_rss_kib as f64 / 1024.0,
        with_tokens_rss_kib as f64 / 1024.0,
        added_kib as f64 / 1024.0,
        figures.import_seats,
        figures.import_median_ms,
        figures.import_max_ms,
    );
    Ok(figures)
}
