//! What a torture run counts (kills, acknowledged writes, checks, writes in doubt and how they settled) and
//! what it found (losses, resurrected deletes, corrupt or unexpected answers, failed reopens, race and fuzz
//! failures), and the final report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The kinds of finding that fail a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// An acknowledged write is missing after a reopen, or the suite refused something an acknowledged write
    /// allows (a provisioned code answering error 40, a created phone answering 404).
    Lost,
    /// An acknowledged delete came back: a consumed code redeemable again or still in escrow, a deleted phone
    /// or push device listed again.
    Resurrected,
    /// The suite holds something no write put there, or holds it changed: a seed that decrypts to another
    /// seed, a token activated twice, a push sequence number reused, the lab CA replaced.
    Corrupt,
    /// A 5xx answer.
    ServerError,
    /// A success status with a body the API does not promise, or a refusal the harness cannot explain.
    Unexpected,
    /// The exactly-once race broken: two seeds for one code, a loser answered with something else than
    /// error 40.
    Race,
    /// A fuzz target crashed (or could not run).
    Fuzz,
}

impl Finding {
    fn label(self) -> &'static str {
        match self {
            Finding::Lost => "lost",
            Finding::Resurrected => "resurrected deletes",
            Finding::Corrupt => "corrupt",
            Finding::ServerError => "5xx answers",
            Finding::Unexpected => "unexpected answers",
            Finding::Race => "exactly-once race failures",
            Finding::Fuzz => "fuzz crashes",
        }
    }
}

/// Every figure of a run.
#[derive(Debug, Default)]
pub struct Tally {
    pub cycles: u64,
    pub startup_kills: u64,
    /// Startup kills that came after the ready file was written.
    pub startup_kills_after_ready: u64,
    pub midload_kills: u64,
    /// Requests still unanswered at mid-load kills.
    pub in_flight_at_kills: u64,
    pub reopens: u64,
    pub reopen_time: Duration,
    /// Acknowledged writes, by kind.
    pub acked: BTreeMap<&'static str, u64>,
    /// Checks of acknowledged writes after reopens (each write is checked at every reopen).
    pub checks: u64,
    /// Writes left without an answer by a kill, then found committed or not after the reopen.
    pub in_doubt_committed: u64,
    pub in_doubt_not_committed: u64,
    pub failed_reopens: Vec<String>,
    /// Data dirs given up after a reopen failed twice (the run went on with a fresh one).
    pub abandoned_data_dirs: Vec<String>,
    pub findings: Vec<(Finding, String)>,
    pub race_rounds: Vec<String>,
    pub fuzz_runs: Vec<String>,
}

impl Tally {
    pub fn ack(&mut self, kind: &'static str) {
        *self.acked.entry(kind).or_default() += 1;
    }

    /// Records a finding; the same finding again (a loss seen at every later reopen) counts once.
    pub fn find(&mut self, finding: Finding, detail: impl Into<String>) {
        let found = (finding, detail.into());
        if !self.findings.contains(&found) {
            self.findings.push(found);
        }
    }

    pub fn count(&self, finding: Finding) -> usize {
        self.findings.iter().filter(|(f, _)| *f == finding).count()
    }

    /// Findings so far, for the per-cycle line.
    pub fn finding_count(&self) -> usize {
        self.findings.len()
    }

    pub fn failed(&self) -> bool {
        !self.findings.is_empty() || !self.failed_reopens.is_empty()
    }

    /// The final report.
    pub fn report(&self, seed: u64, elapsed: Duration, binary: &str, repeat: &str) -> String {
        let mut out = String::new();
        let acked: u64 = self.acked.values().sum();
        let kinds = self
            .acked
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let reopen_ms = if self.reopens == 0 {
            0.0
        } else {
            self.reopen_time.as_secs_f64() * 1000.0 / self.reopens as f64
        };
        let _ = writeln!(
            out,
            "fortimock-torture report: seed {seed}, {} cycles in {:.1} s against {binary}",
            self.cycles,
            elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "  kills during startup     {:>7}  ({} before the ready file, {} after)",
            self.startup_kills,
            self.startup_kills - self.startup_kills_after_ready,
            self.startup_kills_after_ready
        );
        let _ = writeln!(
            out,
            "  kills mid-load           {:>7}  ({} requests in flight at the kills)",
            self.midload_kills, self.in_flight_at_kills
        );
        let _ = writeln!(
            out,
            "  reopens                  {:>7}  (ready in {reopen_ms:.0} ms on average)",
            self.reopens
        );
        let _ = writeln!(out, "  acknowledged writes      {acked:>7}  ({kinds})");
        let _ = writeln!(
            out,
            "  acknowledged writes checked {:>4}  (each write at every reopen after it)",
            self.checks
        );
        let _ = writeln!(
            out,
            "  writes in doubt at kills {:>7}  ({} found committed, {} not)",
            self.in_doubt_committed + self.in_doubt_not_committed,
            self.in_doubt_committed,
            self.in_doubt_not_committed
        );
        for finding in [
            Finding::Lost,
            Finding::Resurrected,
            Finding::Corrupt,
            Finding::ServerError,
            Finding::Unexpected,
        ] {
            let _ = writeln!(out, "  {:<24} {:>7}", finding.label(), self.count(finding));
        }
        let _ = writeln!(
            out,
            "  failed reopens           {:>7}",
            self.failed_reopens.len()
        );
        if !self.abandoned_data_dirs.is_empty() {
            let _ = writeln!(
                out,
                "  data dirs given up       {:>7}  (kept: {})",
                self.abandoned_data_dirs.len(),
                self.abandoned_data_dirs.join(", ")
            );
        }
        if !self.race_rounds.is_empty() {
            let _ = writeln!(
                out,
                "  exactly-once race rounds {:>7}  ({} failed)",
                self.race_rounds.len(),
                self.count(Finding::Race)
            );
        }
        if !self.fuzz_runs.is_empty() {
            let _ = writeln!(
                out,
                "  fuzz targets run         {:>7}  ({} crashed)",
                self.fuzz_runs.len(),
                self.count(Finding::Fuzz)
            );
        }
        if !self.findings.is_empty() {
            let _ = writeln!(out, "findings (first 40):");
            for (finding, detail) in self.findings.iter().take(40) {
                let _ = writeln!(out, "  [{}] {detail}", finding.label());
            }
        }
        if !self.failed_reopens.is_empty() {
            let _ = writeln!(out, "failed reopens:");
            for failure in &self.failed_reopens {
                let _ = writeln!(out, "  {failure}");
            }
        }
        let verdict = if self.failed() { "FAIL" } else { "PASS" };
        let _ = writeln!(out, "result: {verdict}");
        if self.failed() {
            let _ = writeln!(out, "repeat with: {repeat}");
        }
        out
    }
}
