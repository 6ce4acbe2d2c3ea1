//! Durable writes: a `SoftToken.ProvisionRequest` for one token (its seed sealed into escrow, committed with
//! an fsync before the answer) from one client, then from `--clients` concurrent writers, where group commit
//! lets concurrent changes share one fsync. Held against the raw fsync of [`super::disk`].

use std::sync::Arc;

use bytes::Bytes;
use protocol::paths::PROCESS;
use serde::Serialize;

use super::Bench;
use super::load::Call;
use super::polling::SmallLab;
use super::populate;
use super::report::Measurement;

/// The durable-write figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WriteFigures {
    /// One client, one request at a time.
    pub(crate) single: Measurement,
    /// `--clients` concurrent writers, each a different token.
    pub(crate) concurrent: Measurement,
}

/// Tokens the single writer cycles through; the concurrent writers take the rest.
const SINGLE_WRITER_TOKENS: usize = 100;

pub(crate) fn measure(bench: &Bench, lab: &SmallLab) -> anyhow::Result<WriteFigures> {
    anyhow::ensure!(
        lab.writer_tokens.len() > SINGLE_WRITER_TOKENS,
        "the small lab has too few tokens for the write measurements"
    );
    let (single_tokens, many_tokens) = lab.writer_tokens.split_at(SINGLE_WRITER_TOKENS);
    let process = Some(&lab.suite.process);
    let single = bench.measure(
        "ftm ProvisionRequest, 1 token, 1 client",
        &lab.ftm,
        process,
        1,
        cycle(&lab.serial, single_tokens),
    );
    let concurrent = bench.measure(
        &format!(
            "ftm ProvisionRequest, 1 token, {} writers",
            bench.args.clients
        ),
        &lab.ftm,
        process,
        bench.args.clients,
        cycle(&lab.serial, many_tokens),
    );
    Ok(WriteFigures { single, concurrent })
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
