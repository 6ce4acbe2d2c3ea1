//! Long mode's fuzzing: every cargo-fuzz target of the repository's `fuzz/` workspace, built once with
//! `cargo +nightly fuzz build` and run for a bounded time (libFuzzer's `-max_total_time=N`, as
//! `cargo +nightly fuzz run <target> -- -max_total_time=N` would), its output kept in a log, a crash reported
//! with the input libFuzzer saved.

use std::path::{Path, PathBuf};
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

/// Where `cargo fuzz build` puts the targets' binaries: `<target dir>/<host triple>/release/`, the target dir
/// being the one given (`--target-dir`) or else the one cargo metadata names for `fuzz/` (it follows
/// `CARGO_TARGET_DIR` and `.cargo/config.toml`, as the build does).
fn binaries_dir(repo: &Path, target_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let target_dir = match target_dir {
        Some(dir) => dir.to_path_buf(),
        None => metadata_target_dir(repo)?,
    };
    let rustc = Command::new("rustc")
        .args(["+nightly", "-vV"])
        .output()
        .context("running rustc -vV")?;
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")?;
    Ok(target_dir.join(host).join("release"))
}

/// The target dir cargo metadata names for the `fuzz/` workspace.
fn metadata_target_dir(repo: &Path) -> anyhow::Result<PathBuf> {
    let metadata = Command::new("cargo")
        .args(["+nightly", "metadata", "--format-version", "1", "--no-deps"])
        .arg("--manifest-path")
        .arg(repo.join("fuzz/Cargo.toml"))
        .output()
        .context("running cargo metadata on fuzz/")?;
    anyhow::ensure!(
        metadata.status.success(),
        "cargo metadata on fuzz/ failed: {}",
        String::from_utf8_lossy(&metadata.stderr).trim()
    );
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)?;
    let target_dir = metadata["target_directory"]
        .as_str()
        .context("cargo metadata gave no target_directory")?;
    Ok(PathBuf::from(target_dir))
}

/// Builds every target once (`cargo +nightly fuzz build`, into `target_dir` when given), then runs each
/// binary for `secs` seconds on its corpus and seeds, logging into `log_dir`. Running the binaries directly,
/// rather than through `cargo fuzz run`, builds once and leaves the target dir's lock alone while fuzzing.
pub async fn run(
    repo: &Path,
    target_dir: Option<&Path>,
    secs: u64,
    log_dir: &Path,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let repo = repo.to_path_buf();
    let target_dir = target_dir.map(Path::to_path_buf);
    let build_log = log_dir.join("fuzz-build.log");
    let (targets, binaries) = {
        let repo = repo.clone();
        let build_log = build_log.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<String>, PathBuf)> {
            let targets = targets(&repo)?;
            let log = std::fs::File::create(&build_log)?;
            let mut build = Command::new("cargo");
            build.args(["+nightly", "fuzz", "build"]);
            if let Some(dir) = &target_dir {
                build.arg("--target-dir").arg(dir);
            }
            let built = build
                .current_dir(&repo)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .status()
                .context("running cargo +nightly fuzz build")?;
            anyhow::ensure!(
                built.success(),
                "cargo +nightly fuzz build failed; see {}",
                build_log.display()
            );
            Ok((targets, binaries_dir(&repo, target_dir.as_deref())?))
        })
        .await??
    };
    for target in targets {
        let log_path = log_dir.join(format!("fuzz-{target}.log"));
        let corpus = repo.join("fuzz/corpus").join(&target);
        let seeds = repo.join("fuzz/seeds").join(&target);
        let artifacts = repo.join("fuzz/artifacts").join(&target);
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(binaries.join(&target));
        command
            .arg(format!("-max_total_time={secs}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg(&corpus)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if seeds.is_dir() {
            command.arg(&seeds);
        }
        let status = tokio::task::spawn_blocking(move || command.status())
            .await?
            .with_context(|| format!("running the fuzz target {target}"))?;
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
