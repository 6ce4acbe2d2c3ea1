//! Issue 10's targets, each judged from this run's figures against its baseline from the same run, and the
//! detail tables printed above them.

use std::fmt::Write;

use super::disk::FsyncFigures;
use super::endpoints::EndpointFigures;
use super::memory::MemoryFigures;
use super::peers::PeerFigures;
use super::polling::{PollingFigures, ReferenceFigures, TlsPollingFigures};
use super::report::{Goal, Measurement, TargetResult, measurements_table};
use super::scale::ScaleFigures;
use super::start::StartFigures;
use super::writes::WriteFigures;

/// The figures the targets are judged from; `None` where a phase could not measure.
pub(crate) struct Figures<'a> {
    pub(crate) start: Option<&'a StartFigures>,
    pub(crate) fsync: Option<&'a FsyncFigures>,
    pub(crate) reference: Option<&'a ReferenceFigures>,
    pub(crate) polling: Option<&'a PollingFigures>,
    pub(crate) writes: Option<&'a WriteFigures>,
    pub(crate) memory: Option<&'a MemoryFigures>,
    pub(crate) scale: Option<&'a ScaleFigures>,
    pub(crate) lab_size: Option<usize>,
}

/// p99 a poll may take, in ms.
const POLL_P99_MS: f64 = 5.0;
/// p99 a durable write may take under concurrency, in ms.
const WRITE_P99_MS: f64 = 10.0;
/// How much slower than the small lab a poll or provision may be at scale (p50), as a ratio: "keep their
/// latency", with room for run-to-run noise.
const SCALE_LATENCY_RATIO: f64 = 1.5;

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Every target, in the order.
pub(crate) fn judge<'a>(f: &Figures<'a>) -> Vec<TargetResult> {
    let reference_poll = f.reference.map(|r| &r.poll);
    let poll_one = f.polling.map(|p| &p.poll_one);
    let poll_fifty = f.polling.map(|p| &p.poll_fifty);
    let single = f.writes.map(|w| &w.single);
    let concurrent = f.writes.map(|w| &w.concurrent);
    // The figures judged: only from measurements that answered requests.
    let answered = |m: Option<&'a Measurement>| m.and_then(Measurement::answered);
    let (judged_poll_one, judged_poll_fifty) = (answered(poll_one), answered(poll_fifty));
    let (judged_single, judged_concurrent) = (answered(single), answered(concurrent));
    let clients = f
        .writes
        .map(|w| w.concurrent.connections)
        .or(poll_one.map(|p| p.connections))
        .unwrap_or_default();
    let mut targets = vec![
        TargetResult::new(
            format!("poll 1 token: req/s at {clients} conns"),
            "req/s",
            judged_poll_one.map(|m| m.rps),
            answered(reference_poll).map(|r| ("reference server".to_owned(), r.rps)),
            Goal::MinRatio(0.7),
        )
        .with_note(errors(&[poll_one, reference_poll]).or_else(|| {
            f.reference.map(|r| {
                format!(
                    "the reference building its answer instead: {:.2}x of canned",
                    r.built_one.rps / r.poll.rps.max(1.0)
                )
            })
        })),
        TargetResult::new(
            "poll 1 token: p99",
            "ms",
            judged_poll_one.map(|m| m.p99_ms),
            reference_poll.map(|r| ("reference server".to_owned(), r.p99_ms)),
            Goal::Max(POLL_P99_MS),
        ),
        TargetResult::new(
            "poll 50 tokens: req/s",
            "req/s",
            judged_poll_fifty.map(|m| m.rps),
            judged_poll_one.map(|p| ("poll 1 token".to_owned(), p.rps)),
            Goal::MinRatio(0.5),
        )
        .with_note(
            errors(&[poll_fifty]).or_else(|| built_fifty_note(f.reference, |m| m.rps.max(1.0))),
        ),
        TargetResult::new(
            "poll 50 tokens: p99",
            "ms",
            judged_poll_fifty.map(|m| m.p99_ms),
            judged_poll_one.map(|p| ("poll 1 token".to_owned(), p.p99_ms)),
            Goal::MaxRatio(2.0),
        )
        .with_note(built_fifty_note(f.reference, |m| m.p99_ms.max(0.001))),
        TargetResult::new(
            "durable provision, 1 client: p50",
            "ms",
            judged_single.map(|m| m.p50_ms),
            f.fsync
                .map(|d| ("raw write+fdatasync".to_owned(), d.p50_ms)),
            Goal::MaxRatio(1.5),
        )
        .with_note(errors(&[single]).or_else(|| one_client_floor(f.writes, f.fsync))),
        TargetResult::new(
            format!("durable provision, {clients} writers: rate"),
            "changes/s",
            judged_concurrent.map(|m| m.rps),
            judged_single.map(|m| ("1 client".to_owned(), m.rps)),
            Goal::MinRatio(5.0),
        )
        .with_note(errors(&[concurrent])),
        TargetResult::new(
            format!("durable provision, {clients} writers: p99"),
            "ms",
            judged_concurrent.map(|m| m.p99_ms),
            f.fsync
                .map(|d| ("raw write+fdatasync p99".to_owned(), d.p99_ms)),
            Goal::Max(WRITE_P99_MS),
        ),
        TargetResult::new(
            "start on a data dir, every service answering",
            "ms",
            f.start.map(|s| s.data_dir_https_ms),
            f.start
                .map(|s| ("reference server".to_owned(), s.reference_ms)),
            Goal::Max(8.0),
        ),
        TargetResult::new(
            "idle resident memory after start",
            "MiB",
            f.start.map(|s| mib(s.idle_rss_kib)),
            f.start
                .map(|s| ("reference server".to_owned(), mib(s.reference_rss_kib))),
            Goal::Max(10.0),
        ),
        TargetResult::new(
            "memory added per 100k tokens (ledger+escrow)",
            "MiB",
            f.memory.map(|m| m.added_per_100k_tokens_mib),
            f.memory.map(|m| ("idle".to_owned(), mib(m.idle_rss_kib))),
            Goal::Max(32.0),
        )
        .with_note(f.memory.and_then(|m| m.tuned.as_ref()).map(|t| {
            format!(
                "{:.1} MiB with GLIBC_TUNABLES={}, as the images run",
                t.added_per_100k_tokens_mib, t.tunables
            )
        })),
    ];
    if f.lab_size.is_some() {
        targets.extend(scale_targets(f));
    }
    targets
}

/// The 50-token target's note: the same ratio (of `figure`) for the reference server building its answer,
/// 50 tokens against 1.
fn built_fifty_note(
    reference: Option<&ReferenceFigures>,
    figure: impl Fn(&Measurement) -> f64,
) -> Option<String> {
    reference.map(|r| {
        format!(
            "the reference building its answer: 50 tokens at {:.2}x of 1",
            figure(&r.built_fifty) / figure(&r.built_one)
        )
    })
}

/// What one client's durable write cannot go below on this machine, whatever the server does: one HTTP
/// round trip (the reference server's canned answer, one client) plus one raw fsync; and, when measured,
/// the round trip plus the disk's time for a commit of as many pages as the provision wrote.
fn one_client_floor(writes: Option<&WriteFigures>, fsync: Option<&FsyncFigures>) -> Option<String> {
    let (writes, fsync) = (writes?, fsync?);
    let floor = writes.round_trip.p50_ms + fsync.p50_ms;
    let mut note = format!(
        "floor {floor:.3} ms = round trip {:.3} + fsync {:.3}: {:.1}x the floor",
        writes.round_trip.p50_ms,
        fsync.p50_ms,
        writes.single.p50_ms / floor.max(0.001)
    );
    if let Some(commit) = &writes.commit_floor {
        let floor = writes.round_trip.p50_ms + commit.p50_ms;
        let _ = write!(
            note,
            "; with its commit's {} pages synced instead ({:.3} ms): {:.1}x",
            commit.pages,
            commit.p50_ms,
            writes.single.p50_ms / floor.max(0.001)
        );
    }
    Some(note)
}

/// What a provision at scale cost the server against one in the small lab: the disk pages it wrote (its
/// share of a group commit: the leaves and branches a B-tree copies on write) and the CPU it took.
fn commit_share_note(
    at_scale: Option<&Measurement>,
    small: Option<&Measurement>,
) -> Option<String> {
    let (at_scale, small) = (at_scale?, small?);
    let kib = |m: &Measurement| m.server_written_kib_per_request;
    let cpu = |m: &Measurement| m.server_cpu_us_per_request;
    Some(format!(
        "each wrote {:.0} KiB to disk (small lab {:.0} KiB) and took {:.0} µs of the server's CPU (small lab {:.0} µs)",
        kib(at_scale)?,
        kib(small)?,
        cpu(at_scale)?,
        cpu(small)?
    ))
}

fn scale_targets<'a>(f: &Figures<'a>) -> Vec<TargetResult> {
    let s = f.scale;
    let answered = |m: Option<&'a Measurement>| m.and_then(Measurement::answered);
    let small_poll = answered(f.polling.map(|p| &p.poll_one));
    let small_write = answered(f.writes.map(|w| &w.concurrent));
    let scale_poll = answered(s.map(|s| &s.poll_one));
    let scale_provision = answered(s.map(|s| &s.provision));
    let mut targets = vec![
        TargetResult::new(
            "scale: poll 1 token p50",
            "ms",
            scale_poll.map(|m| m.p50_ms),
            small_poll.map(|m| ("small lab".to_owned(), m.p50_ms)),
            Goal::MaxRatio(SCALE_LATENCY_RATIO),
        )
        .with_note(errors(&[s.map(|s| &s.poll_one)])),
        TargetResult::new(
            "scale: poll 1 token p99",
            "ms",
            scale_poll.map(|m| m.p99_ms),
            small_poll.map(|m| ("small lab".to_owned(), m.p99_ms)),
            Goal::Max(POLL_P99_MS),
        ),
        TargetResult::new(
            "scale: durable provision p50",
            "ms",
            scale_provision.map(|m| m.p50_ms),
            small_write.map(|m| ("small lab".to_owned(), m.p50_ms)),
            Goal::MaxRatio(SCALE_LATENCY_RATIO),
        )
        .with_note(
            errors(&[s.map(|s| &s.provision)])
                .or_else(|| commit_share_note(s.map(|s| &s.provision), small_write)),
        ),
        TargetResult::new(
            "scale: durable provision p99",
            "ms",
            scale_provision.map(|m| m.p99_ms),
            small_write.map(|m| ("small lab".to_owned(), m.p99_ms)),
            Goal::Max(WRITE_P99_MS),
        ),
        TargetResult::new(
            "scale: import a 10,000-seat license",
            "ms",
            s.map(|s| s.import_ms),
            f.memory
                .map(|m| ("small lab".to_owned(), m.import_median_ms)),
            Goal::Max(200.0),
        ),
    ];
    for service in ["forticare", "ftm"] {
        let state = s.and_then(|s| s.state.iter().find(|st| st.service == service));
        targets.push(
            TargetResult::new(
                format!("scale: {service} state export"),
                "s",
                state.and_then(|st| st.export_seconds),
                None,
                Goal::Max(10.0),
            )
            .with_note(state.and_then(|st| st.export_note.clone())),
        );
        targets.push(
            TargetResult::new(
                format!("scale: {service} state import"),
                "s",
                state.and_then(|st| st.import_seconds),
                None,
                Goal::Max(10.0),
            )
            .with_note(state.and_then(|st| st.import_note.clone())),
        );
        targets.push(
            TargetResult::new(
                format!("scale: {service} reset"),
                "s",
                state.and_then(|st| st.reset_seconds),
                None,
                Goal::Max(2.0),
            )
            .with_note(state.and_then(|st| st.reset_note.clone())),
        );
    }
    targets
}

/// A note naming the measurements that had errors.
fn errors(measurements: &[Option<&Measurement>]) -> Option<String> {
    let with_errors: Vec<String> = measurements
        .iter()
        .flatten()
        .filter(|m| m.errors > 0)
        .map(|m| {
            format!(
                "{}: {} errors{}",
                m.name,
                m.errors,
                m.last_error
                    .as_ref()
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    (!with_errors.is_empty()).then(|| with_errors.join("; "))
}

/// What the detail tables show.
pub(crate) struct Details<'a> {
    pub(crate) start: Option<&'a StartFigures>,
    pub(crate) reference: Option<&'a ReferenceFigures>,
    pub(crate) polling: Option<&'a PollingFigures>,
    pub(crate) https: Option<&'a TlsPollingFigures>,
    pub(crate) writes: Option<&'a WriteFigures>,
    pub(crate) endpoints: Option<&'a EndpointFigures>,
    pub(crate) memory: Option<&'a MemoryFigures>,
    pub(crate) peers: &'a [PeerFigures],
}

/// The detail tables: every measurement, grouped, with the ratio to its baseline.
pub(crate) fn details(d: &Details<'_>) -> String {
    let mut out = String::new();
    let mut polls: Vec<Measurement> = Vec::new();
    if let Some(r) = d.reference {
        polls.push(r.generator_ceiling.clone());
        polls.push(r.poll.clone());
        polls.push(r.built_one.clone());
        polls.push(r.built_fifty.clone());
    }
    if let Some(p) = d.polling {
        polls.extend([p.health.clone(), p.poll_one.clone(), p.poll_fifty.clone()]);
    }
    if let Some(h) = d.https {
        polls.extend([h.health.clone(), h.poll_one.clone()]);
    }
    polls.extend(d.peers.iter().filter_map(|p| p.poll.clone()));
    let _ = writeln!(
        out,
        "polling (ratio: req/s over the reference server's canned poll; server/load: CPU busy of the server and of the generator)"
    );
    out.push_str(&measurements_table(&polls, d.reference.map(|r| &r.poll)));
    if let Some(r) = d.reference {
        let _ = writeln!(
            out,
            "the load generator: {:.1} µs of CPU per request, so one core of it drives up to {} req/s",
            r.generator_us_per_request,
            super::report::thousands(r.generator_ceiling_rps)
        );
    }
    for peer in d.peers.iter().filter(|p| p.poll.is_none()) {
        let _ = writeln!(
            out,
            "{}: {}",
            peer.name,
            peer.note.as_deref().unwrap_or("not measured")
        );
    }

    let mut others: Vec<Measurement> = Vec::new();
    if let Some(p) = d.polling {
        others.push(p.health.clone());
    }
    if let Some(w) = d.writes {
        others.extend([w.single.clone(), w.concurrent.clone()]);
    }
    if let Some(e) = d.endpoints {
        others.extend([e.import.clone(), e.download.clone(), e.login.clone()]);
    }
    let _ = writeln!(
        out,
        "\ndurable writes and other endpoints (ratio: req/s over ftm's GET /__admin/health, same process; disk: what the server wrote per request, the pages it dirtied, from /proc)"
    );
    out.push_str(&measurements_table(&others, d.polling.map(|p| &p.health)));

    if let Some(s) = d.start {
        let _ = writeln!(
            out,
            "\nstart, spawn to every service answering (median of {}): data dir HTTPS {:.1} ms ({:.1} ms until the suite said it was up), data dir plain HTTP {:.1} ms, in memory plain HTTP {:.1} ms; reference server {:.1} ms; `fortimock --version` {:.1} ms",
            s.starts,
            s.data_dir_https_ms,
            s.data_dir_https_up_ms,
            s.data_dir_plain_ms,
            s.in_memory_plain_ms,
            s.reference_ms,
            s.version_spawn_ms
        );
    }
    let _ = write!(out, "memory (resident):");
    if let Some(s) = d.start {
        let _ = write!(
            out,
            " `fortimock up` idle {:.1} MiB ({:.1} MiB anonymous, {:.1} MiB file-backed: the binary's pages) (reference server {:.1} MiB);",
            mib(s.idle_rss_kib),
            mib(s.idle_rss_anon_kib),
            mib(s.idle_rss_file_kib),
            mib(s.reference_rss_kib)
        );
    }
    if let Some(p) = d.polling {
        let _ = write!(
            out,
            " the plain-HTTP suite under load {:.1} MiB idle, {:.1} MiB after the polls;",
            mib(p.idle_rss_kib),
            mib(p.after_poll_rss_kib)
        );
    }
    if let Some(m) = d.memory {
        let _ = write!(
            out,
            " {} tokens: {:.1} MiB idle, {:.1} MiB with them",
            m.tokens,
            mib(m.idle_rss_kib),
            mib(m.with_tokens_rss_kib)
        );
        if let Some(t) = &m.tuned {
            let _ = write!(
                out,
                " ({:.1} and {:.1} MiB with GLIBC_TUNABLES)",
                mib(t.idle_rss_kib),
                mib(t.with_tokens_rss_kib)
            );
        }
    }
    for peer in d.peers {
        if let Some(rss) = peer.rss_kib {
            let _ = write!(out, "; {} {:.0} MiB", peer.name, mib(rss));
        }
    }
    let _ = writeln!(out);
    for peer in d.peers {
        if let (Some(version), Some(start)) = (&peer.version, peer.start_ms) {
            let _ = writeln!(
                out,
                "{} {version}: first answer {start:.0} ms after spawn",
                peer.name
            );
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::super::report::Verdict;
    use super::*;

    fn measurement(requests: usize, p99_ms: f64) -> Measurement {
        Measurement {
            name: "m".to_owned(),
            connections: 64,
            requests,
            seconds: 3.0,
            rps: requests as f64 / 3.0,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            server_cpu_us_per_request: None,
            server_busy: None,
            server_written_kib_per_request: None,
            generator_busy: 0.5,
            errors: 0,
            last_error: None,
        }
    }

    /// A measurement that answered nothing (its generator stalled, its server hung) has zeros for its
    /// latencies: they must not pass an "at most".
    #[test]
    fn a_measurement_that_answered_nothing_meets_no_target() {
        let polling = PollingFigures {
            health: measurement(300_000, 1.0),
            poll_one: measurement(0, 0.0),
            poll_fifty: measurement(60_000, 6.0),
            idle_rss_kib: 16_000,
            after_poll_rss_kib: 40_000,
        };
        let figures = Figures {
            start: None,
            fsync: None,
            reference: None,
            polling: Some(&polling),
            writes: None,
            memory: None,
            scale: None,
            lab_size: None,
        };
        let targets = judge(&figures);
        let p99 = targets
            .iter()
            .find(|t| t.target == "poll 1 token: p99")
            .expect("the target");
        assert_eq!((p99.figure, p99.verdict), (None, Verdict::NotMeasured));
        let answered = PollingFigures {
            poll_one: measurement(150_000, 2.0),
            ..polling.clone()
        };
        let targets = judge(&Figures {
            polling: Some(&answered),
            ..figures
        });
        let p99 = targets
            .iter()
            .find(|t| t.target == "poll 1 token: p99")
            .expect("the target");
        assert_eq!((p99.figure, p99.verdict), (Some(2.0), Verdict::Met));
    }
}
