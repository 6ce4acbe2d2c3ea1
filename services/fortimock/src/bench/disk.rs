//! The durable-write floor of the disk the suites' data dirs are on: 150-byte records appended with `write`
//! and made durable with `fdatasync`, one after the other, timed one by one. A durable acknowledgement
//! cannot come faster than this on this disk. The bench probes in slices between the durable-write
//! measurements ([`super::writes`]), so the floor and the writes see the same moments of a shared disk.
//!
//! A commit of a page store writes more than one record: [`CommitProbe`] times what the disk takes for as
//! many 4 KiB pages as a measured commit wrote, at scattered places of a file whose blocks are all written
//! already (so no block is allocated), made durable with one `fdatasync`.

use std::io::Write;
use std::os::unix::fs::FileExt;
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

/// A file on the disk under test and how long each durable write to it took; removed when finished.
struct TimedFile {
    file: std::fs::File,
    path: std::path::PathBuf,
    times: Vec<std::time::Duration>,
}

impl TimedFile {
    fn open(path: &Path, options: &std::fs::OpenOptions) -> anyhow::Result<TimedFile> {
        let file = options
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(TimedFile {
            file,
            path: path.to_path_buf(),
            times: Vec::new(),
        })
    }

    /// Times `write` and the `fdatasync` that makes it durable.
    fn time(
        &mut self,
        write: impl FnOnce(&std::fs::File) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        write(&self.file)?;
        self.file.sync_data()?;
        self.times.push(started.elapsed());
        Ok(())
    }

    /// How many writes were timed, and their latencies; the file is removed.
    fn finish(self) -> (usize, Latencies) {
        let _ = std::fs::remove_file(&self.path);
        (self.times.len(), Latencies::from_durations(self.times))
    }
}

/// A probe file on the disk under test; it times writes in as many rounds as asked, so a measurement can
/// take its baseline in slices between its own.
pub(crate) struct Probe(TimedFile);

impl Probe {
    pub(crate) fn open(path: &Path) -> anyhow::Result<Probe> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        Ok(Probe(TimedFile::open(path, &options)?))
    }

    /// Appends `writes` records, each made durable before the next.
    pub(crate) fn run(&mut self, writes: usize) -> anyhow::Result<()> {
        let record = [b'x'; 150];
        for _ in 0..writes {
            self.0.time(|mut file| file.write_all(&record))?;
        }
        Ok(())
    }

    /// The figures of every write so far; the probe file is removed.
    pub(crate) fn finish(self) -> FsyncFigures {
        let (writes, latencies) = self.0.finish();
        let p50_ms = latencies.p50_ms();
        FsyncFigures {
            writes,
            p50_ms,
            p99_ms: latencies.p99_ms(),
            writes_per_second: if p50_ms > 0.0 { 1000.0 / p50_ms } else { 0.0 },
        }
    }
}

/// Pages a [`CommitProbe`] file holds: its writes land at scattered places among them.
const PROBE_FILE_PAGES: u64 = 1024;

/// Bytes of a page, as a page store writes them.
pub(crate) const PAGE_BYTES: u64 = 4096;

/// Pages apart that a commit probe's consecutive pages land (prime to [`PROBE_FILE_PAGES`], so no page of
/// one commit repeats, and none lies next to the one written before it).
const PROBE_STRIDE: u64 = 37;

/// What the disk takes for a commit of some pages.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CommitFloor {
    /// Pages each commit wrote.
    pub(crate) pages: u64,
    pub(crate) commits: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

/// A probe file whose every block is written before the first timed commit.
pub(crate) struct CommitProbe {
    timed: TimedFile,
    /// Pages written so far (where the next lands follows from it).
    written: u64,
    /// Pages of each commit of the last run.
    pages: u64,
}

impl CommitProbe {
    pub(crate) fn open(path: &Path) -> anyhow::Result<CommitProbe> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(true).read(true).write(true);
        let timed = TimedFile::open(path, &options)?;
        let page = [b'p'; PAGE_BYTES as usize];
        for n in 0..PROBE_FILE_PAGES {
            timed.file.write_all_at(&page, n * PAGE_BYTES)?;
        }
        timed.file.sync_all()?;
        Ok(CommitProbe {
            timed,
            written: 0,
            pages: 0,
        })
    }

    /// `commits` commits of `pages` pages each, each made durable before the next.
    pub(crate) fn run(&mut self, pages: u64, commits: usize) -> anyhow::Result<()> {
        let pages = pages.clamp(1, PROBE_FILE_PAGES);
        self.pages = pages;
        let mut page = [0u8; PAGE_BYTES as usize];
        for _ in 0..commits {
            let first = self.written;
            self.timed.time(|file| {
                for n in first..first + pages {
                    page[..8].copy_from_slice(&n.to_le_bytes());
                    file.write_all_at(&page, (n * PROBE_STRIDE) % PROBE_FILE_PAGES * PAGE_BYTES)?;
                }
                Ok(())
            })?;
            self.written += pages;
        }
        Ok(())
    }

    /// The figures of every commit so far; the probe file is removed.
    pub(crate) fn finish(self) -> CommitFloor {
        let (commits, latencies) = self.timed.finish();
        CommitFloor {
            pages: self.pages,
            commits,
            p50_ms: latencies.p50_ms(),
            p99_ms: latencies.p99_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_probe_times_each_commit_of_the_pages_asked_for() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("commit-probe");
        let mut probe = CommitProbe::open(&path)?;
        assert_eq!(
            std::fs::metadata(&path)?.len(),
            PROBE_FILE_PAGES * PAGE_BYTES,
            "every page of the file is written before the first commit"
        );
        probe.run(13, 4)?;
        assert_eq!(
            std::fs::metadata(&path)?.len(),
            PROBE_FILE_PAGES * PAGE_BYTES,
            "commits overwrite pages, never grow the file"
        );
        let floor = probe.finish();
        assert_eq!((floor.pages, floor.commits), (13, 4));
        assert!(floor.p50_ms > 0.0 && floor.p99_ms >= floor.p50_ms);
        assert!(!path.exists(), "the probe file is removed");
        Ok(())
    }

    #[test]
    fn a_commit_probe_spreads_a_commits_pages_apart() {
        let places: Vec<u64> = (0..83)
            .map(|n| (n * PROBE_STRIDE) % PROBE_FILE_PAGES)
            .collect();
        let mut sorted = places.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            places.len(),
            "no page written twice in one commit"
        );
        assert!(
            sorted.windows(2).all(|w| w[1] - w[0] > 1),
            "no two pages of a commit next to each other"
        );
    }
}
