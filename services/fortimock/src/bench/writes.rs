//! Durable writes: a `SoftToken.ProvisionRequest` for one token (its seed sealed into escrow, committed with
//! an fsync before the answer) from one client, then from `--clients` concurrent writers, where group commit
//! lets concurrent changes share one durable commit. Held against the raw fsync of [`super::disk`], probed between
//! the rounds, and against the floor one client meets whatever the server does: an HTTP round trip to the
//! reference server (one client, a canned answer) plus that raw fsync. Then, for the cause of the gap, the
//! disk's own time for a commit the size of the one client's (the pages it wrote, from /proc, written at
//! scattered places and synced once: [`super::disk::CommitProbe`]).

use std::sync::Arc;

use bytes::Bytes;
use protocol::paths::PROCESS;
use serde::Serialize;

use super::disk::{CommitFloor, CommitProbe, FsyncFigures, PAGE_BYTES, Probe};
use super::load::{Call, repeat};
use super::polling::{ReferenceServer, SmallLab};
use super::populate;
use super::report::Measurement;
use super::{Bench, Contender};

/// The durable-write figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WriteFigures {
    /// One client, one request at a time.
    pub(crate) single: Measurement,
    /// `--clients` concurrent writers, each a different token.
    pub(crate) concurrent: Measurement,
    /// One client's round trips to the reference server's canned poll, taking turns with the writes: the
    /// HTTP part of a one-client durable write's floor.
    pub(crate) round_trip: Measurement,
    /// The disk's time for a commit of as many pages as one client's provision wrote; `None` when it wrote
    /// none (or /proc could not tell).
    pub(crate) commit_floor: Option<CommitFloor>,
}

/// Tokens the single writer cycles through; the concurrent writers take the rest.
const SINGLE_WRITER_TOKENS: usize = 100;

/// Writes of the raw fsync probe between two rounds of the write measurements.
const PROBE_WRITES_PER_ROUND: usize = 300;

/// The raw fsync floor and the durable writes, taking turns (probe, one writer, many writers, again).
pub(crate) fn measure(
    bench: &Bench,
    reference: &ReferenceServer,
    lab: &SmallLab,
) -> anyhow::Result<(FsyncFigures, WriteFigures)> {
    anyhow::ensure!(
        lab.writer_tokens.len() > SINGLE_WRITER_TOKENS,
        "the small lab has too few tokens for the write measurements"
    );
    let (single_tokens, many_tokens) = lab.writer_tokens.split_at(SINGLE_WRITER_TOKENS);
    let mut probe = Probe::open(&bench.work.join("small-lab").join("fsync-probe"))?;
    let contender = |name: String, connections, calls| Contender {
        name,
        server: &lab.ftm,
        process: Some(&lab.suite.process),
        connections,
        calls,
    };
    let measured = bench.measure_interleaved(
        &[
            contender(
                "ftm ProvisionRequest, 1 token, 1 client".to_owned(),
                1,
                cycle(&lab.serial, single_tokens),
            ),
            contender(
                format!(
                    "ftm ProvisionRequest, 1 token, {} writers",
                    bench.args.clients
                ),
                bench.args.clients,
                cycle(&lab.serial, many_tokens),
            ),
            Contender {
                name: "reference PollingRequest (canned answer), 1 client".to_owned(),
                server: reference.target(),
                process: Some(reference.process()),
                connections: 1,
                calls: repeat(reference.poll().clone()),
            },
        ],
        &mut || probe.run(PROBE_WRITES_PER_ROUND),
    )?;
    let fsync = probe.finish();
    println!(
        "  raw write+fdatasync on the same disk, between those: p50 {:.3} ms, p99 {:.3} ms",
        fsync.p50_ms, fsync.p99_ms
    );
    let [single, concurrent, round_trip]: [Measurement; 3] = measured
        .try_into()
        .map_err(|_| anyhow::anyhow!("three measurements were taken"))?;
    println!(
        "  one client's floor: an HTTP round trip ({:.3} ms) + a raw fsync ({:.3} ms) = {:.3} ms p50; the provision is {:.1}x that",
        round_trip.p50_ms,
        fsync.p50_ms,
        round_trip.p50_ms + fsync.p50_ms,
        single.p50_ms / (round_trip.p50_ms + fsync.p50_ms).max(0.001)
    );
    let commit_floor = match single.server_written_kib_per_request {
        Some(kib) if kib * 1024.0 >= PAGE_BYTES as f64 / 2.0 => {
            let pages = (kib * 1024.0 / PAGE_BYTES as f64).round() as u64;
            let mut probe = CommitProbe::open(&bench.work.join("small-lab").join("commit-probe"))?;
            probe.run(pages, PROBE_WRITES_PER_ROUND * bench.args.rounds.max(1))?;
            let floor = probe.finish();
            println!(
                "  one client's provision wrote {kib:.1} KiB to disk ({} pages of 4 KiB); {} pages at scattered places + fdatasync on the same disk: p50 {:.3} ms, p99 {:.3} ms; with the round trip {:.3} ms, the provision is {:.1}x that",
                floor.pages,
                floor.pages,
                floor.p50_ms,
                floor.p99_ms,
                round_trip.p50_ms + floor.p50_ms,
                single.p50_ms / (round_trip.p50_ms + floor.p50_ms).max(0.001)
            );
            Some(floor)
        }
        _ => None,
    };
    Ok((
        fsync,
        WriteFigures {
            single,
            concurrent,
            round_trip,
            commit_floor,
        },
    ))
}

/// One-token ProvisionRequests, the `n`-th for `tokens[n % len]`: each replaces that token's escrow entry.
fn cycle(serial: &protocol::id::ApplianceSerial, tokens: &[String]) -> super::load::Calls {
    let calls: Vec<Call> = tokens
        .iter()
        .map(|token| {
            Call::post(
                PROCESS,
                Bytes::from(populate::provision_body(
                    serial,
                    std::slice::from_ref(token),
                )),
            )
        })
        .collect();
    Arc::new(move |n| calls.get(n as usize % calls.len()).cloned())
}
