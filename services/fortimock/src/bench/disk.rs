//! The durable-write floor of the disk the suites' data dirs are on: 150-byte records appended with `write`
//! and made durable with `fdatasync`, one after the other, timed one by one. A durable acknowledgement
//! cannot come faster than this on this disk.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use super::latency::Latencies;

/// The raw fsync figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FsyncFigures {
    pub(crate) writes: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// One writer's ceiling: writes per second at the p50.
    pub(crate) writes_per_second: f64,
}

pub(crate) fn probe(path: &Path, writes: usize) -> anyhow::Result<FsyncFigures> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let record = [b'x'; 150];
    let mut times = Vec::with_capacity(writes);
    for _ in 0..writes {
        let started = Instant::now();
        file.write_all(&record)?;
        file.sync_data()?;
        times.push(started.elapsed());
    }
    drop(file);
    let _ = std::fs::remove_file(path);
    let latencies = Latencies::from_durations(times);
    let p50_ms = latencies.p50_ms();
    Ok(FsyncFigures {
        writes,
        p50_ms,
        p99_ms: latencies.p99_ms(),
        writes_per_second: if p50_ms > 0.0 { 1000.0 / p50_ms } else { 0.0 },
    })
}
