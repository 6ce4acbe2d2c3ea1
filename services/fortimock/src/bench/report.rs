//! What the bench reports: each load measurement, and each of issue 10's targets as a figure next to its
//! baseline from the same run, their ratio, the goal and whether it is met; printed as tables for people,
//! serialized the same for `--json`.

use std::fmt::Write;

use serde::Serialize;

/// One load measurement.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Measurement {
    pub(crate) name: String,
    pub(crate) connections: usize,
    /// Requests answered in the recorded window.
    pub(crate) requests: usize,
    pub(crate) seconds: f64,
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Server CPU time (user + system) per answered request, from /proc.
    pub(crate) server_cpu_us_per_request: Option<f64>,
    /// How busy the server was: its CPU time over the window's length (1.0 is one core saturated).
    pub(crate) server_busy: Option<f64>,
    /// What the server wrote to its disk per answered request, in KiB: the pages it dirtied (4 KiB each),
    /// from /proc; for a durable write, the pages its share of a commit wrote.
    pub(crate) server_written_kib_per_request: Option<f64>,
    /// How busy the load generator (the bench) was, the same way: well below 1.0 means it was not the
    /// bottleneck.
    pub(crate) generator_busy: f64,
    /// Failed requests and unexpected statuses, warm-up included.
    pub(crate) errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<String>,
}

impl Measurement {
    /// The measurement, if it answered any request in its window: one that answered none has no rate or
    /// latency to judge (its zeros would pass any "at most").
    pub(crate) fn answered(&self) -> Option<&Measurement> {
        (self.requests > 0).then_some(self)
    }
}

/// What a target asks of its figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Goal {
    /// figure / baseline at least this.
    MinRatio(f64),
    /// figure / baseline at most this.
    MaxRatio(f64),
    /// The figure itself at most this, in its unit.
    Max(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Verdict {
    #[serde(rename = "MET")]
    Met,
    #[serde(rename = "MISSED")]
    Missed,
    /// A figure or its baseline could not be measured in this run (the reason is in the note).
    #[serde(rename = "NOT MEASURED")]
    NotMeasured,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "MET",
            Verdict::Missed => "MISSED",
            Verdict::NotMeasured => "NOT MEASURED",
        }
    }
}

/// A baseline: what it is and its value, in the target's unit.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Baseline {
    pub(crate) what: String,
    pub(crate) value: f64,
}

/// One target, judged.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TargetResult {
    pub(crate) target: String,
    pub(crate) unit: &'static str,
    pub(crate) figure: Option<f64>,
    pub(crate) baseline: Option<Baseline>,
    /// figure / baseline.
    pub(crate) ratio: Option<f64>,
    pub(crate) goal: Goal,
    /// The goal as the table prints it.
    pub(crate) goal_text: String,
    pub(crate) verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

impl TargetResult {
    pub(crate) fn new(
        target: impl Into<String>,
        unit: &'static str,
        figure: Option<f64>,
        baseline: Option<(String, f64)>,
        goal: Goal,
    ) -> TargetResult {
        let baseline = baseline.map(|(what, value)| Baseline { what, value });
        let ratio = match (figure, &baseline) {
            (Some(figure), Some(baseline)) if baseline.value > 0.0 => Some(figure / baseline.value),
            _ => None,
        };
        let verdict = match (goal, figure, ratio) {
            (Goal::Max(limit), Some(figure), _) => met(figure <= limit),
            (Goal::MinRatio(times), _, Some(ratio)) => met(ratio >= times),
            (Goal::MaxRatio(times), _, Some(ratio)) => met(ratio <= times),
            _ => Verdict::NotMeasured,
        };
        let goal_text = match goal {
            Goal::MinRatio(times) => format!(">= {times}x"),
            Goal::MaxRatio(times) => format!("<= {times}x"),
            Goal::Max(limit) => format!("<= {}", value(limit, unit)),
        };
        TargetResult {
            target: target.into(),
            unit,
            figure,
            baseline,
            ratio,
            goal,
            goal_text,
            verdict,
            note: None,
        }
    }

    pub(crate) fn with_note(mut self, note: Option<String>) -> TargetResult {
        self.note = note;
        self
    }
}

fn met(yes: bool) -> Verdict {
    if yes { Verdict::Met } else { Verdict::Missed }
}

/// A value in its unit, as the tables print it.
pub(crate) fn value(v: f64, unit: &str) -> String {
    match unit {
        "req/s" | "changes/s" => format!("{}/s", thousands(v)),
        "ms" if v >= 100.0 => format!("{v:.0} ms"),
        "ms" if v >= 10.0 => format!("{v:.1} ms"),
        "ms" => format!("{v:.2} ms"),
        "s" => format!("{v:.2} s"),
        "MiB" => format!("{v:.1} MiB"),
        "x" => format!("{v:.2}x"),
        other => format!("{v:.2} {other}"),
    }
}

/// `v` rounded, with thousands separated by commas.
pub(crate) fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < -0.5 { format!("-{out}") } else { out }
}

/// The targets table.
pub(crate) fn targets_table(targets: &[TargetResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<50} {:>12}  {:<42} {:>7}  {:<12} result",
        "target", "figure", "baseline (same run)", "ratio", "goal"
    );
    for t in targets {
        let figure = t.figure.map_or("-".to_owned(), |f| value(f, t.unit));
        let baseline = t.baseline.as_ref().map_or("-".to_owned(), |b| {
            format!("{} {}", b.what, value(b.value, t.unit))
        });
        let ratio = t.ratio.map_or("-".to_owned(), |r| format!("{r:.2}x"));
        let _ = writeln!(
            out,
            "{:<50} {:>12}  {:<42} {:>7}  {:<12} {}",
            t.target,
            figure,
            baseline,
            ratio,
            t.goal_text,
            t.verdict.as_str()
        );
        if let Some(note) = &t.note {
            let _ = writeln!(out, "    {note}");
        }
    }
    out
}

/// A table of load measurements; `against` names the row the ratio column divides by.
pub(crate) fn measurements_table(rows: &[Measurement], against: Option<&Measurement>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<46} {:>5} {:>10} {:>9} {:>9} {:>11} {:>12} {:>6} {:>6} {:>8}",
        "measurement",
        "conns",
        "req/s",
        "p50 ms",
        "p99 ms",
        "cpu µs/req",
        "disk KiB/req",
        "server",
        "load",
        "ratio"
    );
    for m in rows {
        let cpu = m
            .server_cpu_us_per_request
            .map_or("-".to_owned(), |c| format!("{c:.0}"));
        let written = m
            .server_written_kib_per_request
            .map_or("-".to_owned(), |k| format!("{k:.1}"));
        let ratio = against
            .filter(|a| a.rps > 0.0)
            .map_or("-".to_owned(), |a| format!("{:.2}x", m.rps / a.rps));
        let server = m
            .server_busy
            .map_or("-".to_owned(), |b| format!("{:.0}%", b * 100.0));
        let _ = writeln!(
            out,
            "{:<46} {:>5} {:>10} {:>9.2} {:>9.2} {:>11} {:>12} {:>6} {:>6} {:>8}{}",
            m.name,
            m.connections,
            thousands(m.rps),
            m.p50_ms,
            m.p99_ms,
            cpu,
            written,
            server,
            format!("{:.0}%", m.generator_busy * 100.0),
            ratio,
            match (&m.errors, &m.last_error) {
                (0, _) => String::new(),
                (n, Some(last)) => format!("  ({n} errors; last: {last})"),
                (n, None) => format!("  ({n} errors)"),
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_judged_against_their_baselines() {
        let poll = TargetResult::new(
            "poll",
            "req/s",
            Some(56_000.0),
            Some(("reference".into(), 80_000.0)),
            Goal::MinRatio(0.7),
        );
        assert_eq!(poll.verdict, Verdict::Met);
        assert_eq!(poll.ratio, Some(0.7));
        let fsync = TargetResult::new(
            "provision p50",
            "ms",
            Some(0.5),
            Some(("fsync".into(), 0.2)),
            Goal::MaxRatio(1.5),
        );
        assert_eq!(fsync.verdict, Verdict::Missed);
        let p99 = TargetResult::new("p99", "ms", Some(5.0), None, Goal::Max(5.0));
        assert_eq!(p99.verdict, Verdict::Met);
        let unmeasured = TargetResult::new("peers", "req/s", Some(1.0), None, Goal::MinRatio(1.0));
        assert_eq!(unmeasured.verdict, Verdict::NotMeasured);
        let zero_baseline = TargetResult::new(
            "x",
            "ms",
            Some(1.0),
            Some(("nothing".into(), 0.0)),
            Goal::MaxRatio(1.0),
        );
        assert_eq!(zero_baseline.verdict, Verdict::NotMeasured);
    }

    #[test]
    fn values_print_in_their_units() {
        assert_eq!(thousands(79_712.4), "79,712");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
        assert_eq!(value(79_712.4, "req/s"), "79,712/s");
        assert_eq!(value(0.1234, "ms"), "0.12 ms");
        assert_eq!(value(12.34, "ms"), "12.3 ms");
        assert_eq!(value(1852.0, "ms"), "1852 ms");
        assert_eq!(value(9.96, "MiB"), "10.0 MiB");
    }

    #[test]
    fn the_targets_table_has_one_line_per_target_and_its_notes() {
        let table = targets_table(&[
            TargetResult::new(
                "polling rps",
                "req/s",
                Some(20_000.0),
                Some(("reference".into(), 80_000.0)),
                Goal::MinRatio(0.7),
            ),
            TargetResult::new("start", "ms", None, None, Goal::Max(8.0))
                .with_note(Some("the suite did not start".into())),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[1].contains("20,000/s") && lines[1].contains("reference 80,000/s"));
        assert!(lines[1].contains("0.25x") && lines[1].ends_with("MISSED"));
        assert!(lines[2].ends_with("NOT MEASURED") && lines[2].contains("<= 8.00 ms"));
        assert!(lines[3].contains("the suite did not start"));
    }
}
