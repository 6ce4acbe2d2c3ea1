//! Long mode's fuzzing: every cargo-fuzz target of the repository's `fuzz/` workspace run for a bounded time
//! (`cargo +nightly fuzz run <target> -- -max_total_time=N`), its output kept in a log, a crash reported with
//! the input libFuzzer saved.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::tally::{Finding, Tally};

/// The targets `cargo fuzz list` names.
fn targets(repo: &Path) -> anyhow::Result<Vec<String>> {
    let output = Command::new("cargo")
        .args(["+nightly", "fuzz", "list"])
        .current_dir(repo)
        .output()
        .context("running `cargo +nightly fuzz list` (is cargo-fuzz installed?)")?;
    anyhow::ensure!(
        output.status.success(),
        "`cargo +nightly fuzz list` failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// What libFuzzer's closing `Done 1234 runs in 20 second(s)` line says.
fn runs_done(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix("Done ").map(|rest| rest.trim().to_owned()))
}

/// Runs each target for `secs` seconds, logging into `log_dir`.
pub async fn run(repo: &Path, secs: u64, log_dir: &Path, tally: &mut Tally) -> anyhow::Result<()> {
    let repo = repo.to_path_buf();
    let log_dir = log_dir.to_path_buf();
    let targets = {
        let repo = repo.clone();
        tokio::task::spawn_blocking(move || targets(&repo)).await??
    };
    for target in targets {
        let log_path = log_dir.join(format!("fuzz-{target}.log"));
        let corpus = repo.join("fuzz/corpus").join(&target);
        let seeds = repo.join("fuzz/seeds").join(&target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("creating {}", corpus.display()))?;
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new("cargo");
        command
            .args(["+nightly", "fuzz", "run", &target])
            .arg(&corpus)
            .current_dir(&repo)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if seeds.is_dir() {
            command.arg(&seeds);
        }
        command.args(["--", &format!("-max_total_time={secs}")]);
        let status = tokio::task::spawn_blocking(move || command.status())
            .await?
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let line = if status.success() {
            format!(
                "fuzz {target:<28} {secs} s, {}, no crash",
                runs_done(&text).unwrap_or_else(|| "runs not reported".into())
            )
        } else {
            let artifact = text
                .lines()
                .find(|l| l.contains("Test unit written to"))
                .map(|l| l.trim().to_owned())
                .unwrap_or_else(|| "no input saved".into());
            let cause = text
                .lines()
                .find(|l| l.contains("panicked at") || l.contains("ERROR: libFuzzer"))
                .map(|l| l.trim().to_owned())
                .unwrap_or_else(|| format!("exit {status}"));
            let line = format!(
                "fuzz {target:<28} FAILED: {cause}; {artifact}; log {}",
                log_path.display()
            );
            tally.find(Finding::Fuzz, line.clone());
            line
        };
        println!("{line}");
        tally.fuzz_runs.push(line);
    }
    Ok(())
}
