//! The exactly-once race: one provisioned code, N phones redeeming it at the same instant (released together
//! from a barrier over connections opened beforehand). Exactly one gets the seed, every other one HTTP 200
//! with error 40, never a 5xx; with a kill in the middle, at most one success ever, before or after the
//! reopen, and a code whose success was acknowledged answers 40 after it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use protocol::id::MobileId;
use protocol::ledger::LicenseSpec;
use protocol::provision::ProvisionToken;
use rand::Rng;
use tokio::sync::Barrier;

use crate::suite_api::{Answer, SuiteApi};
use crate::suite_process::{Reopened, SuiteUnderTest};
use crate::tally::{Finding, Tally};

/// A code in escrow, and what it holds.
struct Provisioned {
    token: String,
    code: String,
    seed: String,
}

/// How one volley of downloads went.
#[derive(Debug, Default)]
struct Volley {
    /// From the barrier opening to the last answer.
    took: Duration,
    seeds: u64,
    refused_40: u64,
    unanswered: u64,
    /// Answers that are neither a seed nor error 40.
    wrong: Vec<String>,
}

impl Volley {
    fn summary(&self) -> String {
        let mut text = format!(
            "{} seed{}, {} × error 40",
            self.seeds,
            if self.seeds == 1 { "" } else { "s" },
            self.refused_40
        );
        if self.unanswered > 0 {
            text.push_str(&format!(", {} unanswered", self.unanswered));
        }
        if !self.wrong.is_empty() {
            text.push_str(&format!(", {} wrong answers", self.wrong.len()));
        }
        text
    }
}

/// A fresh one-seat license, imported and its token provisioned by a made-up appliance.
async fn provision_one(api: &SuiteApi, rng: &mut impl Rng, n: u64) -> anyhow::Result<Provisioned> {
    let serial = format!("FGVM03TM{n:08}");
    let code_digits = hex::encode_upper(rng.r#gen::<[u8; 10]>());
    let spec = LicenseSpec {
        shipped: None,
        id: Some(format!("EFTM{:06}{:06}", rng.gen_range(0..1_000_000), n % 1_000_000).parse()?),
        code: Some(code_digits.parse()?),
        seats: 1,
        valid_until: None,
        note: Some("fortimock-torture race".into()),
        owner: None,
        owner_peers: Vec::new(),
    };
    let Answer::Acked(license) = api.create_license(&spec).await else {
        anyhow::bail!("creating the race's license failed");
    };
    let code = license
        .summary
        .code
        .context("the race's license has no code")?
        .to_string();
    let Answer::Acked(_) = api.import_license("forticare", &serial, &code).await else {
        anyhow::bail!("importing the race's license failed");
    };
    let token = license.tokens.first().context("no token")?.to_string();
    let seed = hex::encode_upper(rng.r#gen::<[u8; 20]>());
    let provision = ProvisionToken {
        token: token.clone(),
        seed: seed.clone(),
        code_expire: 4320,
        kind: "totp".into(),
        period: 60,
        digits: 6,
    };
    let answer = api.provision(&serial, vec![provision]).await;
    let Answer::Acked(response) = answer else {
        anyhow::bail!("provisioning the race's token failed: {answer:?}");
    };
    let code = response
        .tokens
        .first()
        .and_then(|t| t.token_activation_code.clone())
        .context("the race's token got no activation code")?;
    Ok(Provisioned { token, code, seed })
}

/// Fires `n` downloads of `code` at once; with `kill_after`, the suite is killed that long after the barrier
/// opens.
async fn volley(
    suite: &mut SuiteUnderTest,
    target: &Provisioned,
    n: usize,
    kill_after: Option<Duration>,
    rng: &mut impl Rng,
) -> anyhow::Result<Volley> {
    let api = suite.api()?;
    let barrier = Arc::new(Barrier::new(n + 1));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let api = api.clone();
            let barrier = barrier.clone();
            let code = target.code.clone();
            let mobile_id = hex::encode(rng.r#gen::<[u8; 8]>());
            tokio::spawn(async move {
                // Opens (and leaves in the pool) a connection of this task's own, so the downloads below
                // start together instead of queueing behind TLS handshakes.
                let _ = api.health("ftm").await;
                barrier.wait().await;
                let answer = api.download(&mobile_id, "", &code).await;
                (mobile_id, answer)
            })
        })
        .collect();
    barrier.wait().await;
    let opened = std::time::Instant::now();
    if let Some(delay) = kill_after {
        tokio::time::sleep(delay).await;
        suite.kill9();
    }
    let mut outcome = Volley::default();
    for task in tasks {
        let (mobile_id, answer) = task.await.context("a download task panicked")?;
        match answer {
            Answer::Acked(response) => {
                outcome.seeds += 1;
                let seed = mobile_id
                    .parse::<MobileId>()
                    .ok()
                    .and_then(|id| protocol::seed::decrypt_from_server(&response.seed, &id).ok())
                    .map(|s| s.to_hex_upper());
                if response.token != target.token || seed.as_deref() != Some(&target.seed) {
                    outcome.wrong.push(format!(
                        "a seed for token {} that is not the provisioned one",
                        response.token
                    ));
                }
            }
            Answer::Refused {
                status: 200,
                code: Some(40),
                ..
            } => outcome.refused_40 += 1,
            Answer::NoAnswer(why) if kill_after.is_some() => {
                let _ = why;
                outcome.unanswered += 1;
            }
            other => outcome.wrong.push(format!("{other:?}")),
        }
    }
    outcome.took = opened.elapsed();
    Ok(outcome)
}

/// Runs the race for every size in `sizes`, without and with a kill, `repeats` times, on its own data dir.
pub async fn run(
    suite: &mut SuiteUnderTest,
    sizes: &[usize],
    repeats: u32,
    tally: &mut Tally,
    rng: &mut impl Rng,
) -> anyhow::Result<()> {
    if !suite.is_running() {
        suite.open().await?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut n_license = 0;
    for repeat in 1..=repeats {
        for &size in sizes {
            // The round without a kill goes first; how long its volley took bounds the kill moment of the
            // round with one, so the kill lands while downloads are answered.
            let mut span = Duration::from_millis(2);
            for kill in [false, true] {
                n_license += 1;
                let api = suite.api()?;
                let target = provision_one(&api, rng, n_license).await?;
                let kill_after = kill.then(|| {
                    let micros = u64::try_from(span.as_micros()).unwrap_or(u64::MAX);
                    Duration::from_micros(rng.gen_range(0..=micros))
                });
                let first = volley(suite, &target, size, kill_after, rng).await?;
                if !kill {
                    span = first.took.max(Duration::from_millis(1));
                }
                let mut failures = Vec::new();
                if first.seeds > 1 {
                    failures.push(format!("{} phones got the seed", first.seeds));
                }
                if !kill && first.seeds != 1 {
                    failures.push(format!("{} phones got the seed, not one", first.seeds));
                }
                failures.extend(first.wrong.iter().take(3).cloned());
                let mut line = format!(
                    "race {repeat}.{size:<3} {}: {}",
                    if kill { "with a kill" } else { "no kill    " },
                    first.summary()
                );
                if let Some(delay) = kill_after {
                    line.push_str(&format!(
                        " (killed {:.1} ms after the barrier)",
                        delay.as_secs_f64() * 1000.0
                    ));
                    if suite.reopen(tally).await? == Reopened::Fresh {
                        failures.push("the data dir did not reopen".into());
                    } else {
                        let api = suite.api()?;
                        let activated = api
                            .activations()
                            .await?
                            .activations
                            .iter()
                            .filter(|a| a.token.as_str() == target.token)
                            .count();
                        if first.seeds == 1 && activated != 1 {
                            failures.push(format!(
                                "the acknowledged download is recorded {activated} times after the reopen"
                            ));
                        }
                        let second = volley(suite, &target, size, None, rng).await?;
                        line.push_str(&format!("; after the reopen: {}", second.summary()));
                        if first.seeds + second.seeds > 1 {
                            failures.push(format!(
                                "{} seeds before the kill and {} after",
                                first.seeds, second.seeds
                            ));
                        }
                        failures.extend(second.wrong.iter().take(3).cloned());
                        let activated = api
                            .activations()
                            .await?
                            .activations
                            .iter()
                            .filter(|a| a.token.as_str() == target.token)
                            .count();
                        let in_escrow = api
                            .escrow()
                            .await?
                            .entries
                            .iter()
                            .any(|e| e.token.as_str() == target.token);
                        if activated != 1 || in_escrow {
                            failures.push(format!(
                                "after both volleys the token is activated {activated} times and {} in escrow",
                                if in_escrow { "still" } else { "not" }
                            ));
                        }
                    }
                }
                if !failures.is_empty() {
                    line.push_str(&format!(" FAILED: {}", failures.join("; ")));
                    tally.find(Finding::Race, line.clone());
                }
                println!("{line}");
                tally.race_rounds.push(line);
            }
        }
    }
    Ok(())
}
