//! The durable-write floor of the disk the suites' data dirs are on: 150-byte records appended with `write`
//! and made durable with `fdatasync`, one after the other, timed one by one. A durable acknowledgement
//! cannot come faster than this on this disk. The bench probes in slices between the durable-write
//! measurements ([`super::writes`]), so the floor and the writes see the same moments of a shared disk.

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

/// A probe file on the disk under test; it times writes in as many rounds as asked, so a measurement can
/// take its baseline in slices between its own.
pub(crate) struct Probe {
    file: std::fs::File,
    path: std::path::PathBuf,
    times: Vec<std::time::Duration>,
}

impl Probe {
    pub(crate) fn open(path: &Path) -> anyhow::Result<Probe> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Probe {
            file,
            path: path.to_path_buf(),
            times: Vec::new(),
        })
    }

    /// Appends `writes` records, each made durable before the next.
    pub(crate) fn run(&mut self, writes: usize) -> anyhow::Result<()> {
        let record = [b'x'; 150];
        for _ in 0..writes {
            let started = Instant::now();
            self.file.write_all(&record)?;
            self.file.sync_data()?;
            self.times.push(started.elapsed());
        }
        Ok(())
    }

    /// The figures of every write so far; the probe file is removed.
    pub(crate) fn finish(self) -> FsyncFigures {
        let _ = std::fs::remove_file(&self.path);
        let writes = self.times.len();
        let latencies = Latencies::from_durations(self.times);
        let p50_ms = latencies.p50_ms();
        FsyncFigures {
            writes,
            p50_ms,
            p99_ms: latencies.p99_ms(),
            writes_per_second: if p50_ms > 0.0 { 1000.0 / p50_ms } else { 0.0 },
        }
    }
}
