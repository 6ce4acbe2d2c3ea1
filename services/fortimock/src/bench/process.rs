//! The servers the bench runs as child processes (`fortimock up`, the reference server, the peers): started
//! in their own process group so stopping one stops what it started (WireMock's launcher starts a JVM),
//! stopped gracefully (a suite killed hard would repair its databases on the next start), and measured from
//! /proc: resident memory and CPU time of the process and its descendants.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::suite::SuiteUrls;

/// A server the bench started; stopped (its whole process group) when dropped.
pub(crate) struct Process {
    child: Child,
    name: String,
    log: Option<PathBuf>,
}

impl Process {
    /// Starts `command` in its own process group, its stderr into `log` (if given), its stdout piped.
    pub(crate) fn spawn(
        name: &str,
        command: &mut Command,
        log: Option<&Path>,
    ) -> anyhow::Result<Process> {
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            ),
            None => Stdio::null(),
        };
        let child = command
            .process_group(0)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Process {
            child,
            name: name.to_owned(),
            log: log.map(Path::to_path_buf),
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its log is, for error messages.
    pub(crate) fn log_hint(&self) -> String {
        match &self.log {
            Some(path) => format!("{}'s log is in {}", self.name, path.display()),
            None => format!("{} logs nowhere", self.name),
        }
    }

    /// Its stdout, read line by line by the caller (once).
    pub(crate) fn stdout_lines(
        &mut self,
    ) -> anyhow::Result<std::io::Lines<BufReader<ChildStdout>>> {
        let stdout = self.child.stdout.take().context("the child's stdout")?;
        Ok(BufReader::new(stdout).lines())
    }

    /// Resident memory of the process and its descendants, in KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        tree(self.pid()).iter().map(|pid| rss_kib(*pid)).sum()
    }

    /// Resident memory of the process itself split into anonymous (heap, stacks) and file-backed (mostly
    /// its binary's pages), in KiB.
    pub(crate) fn rss_split_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        (field("RssAnon:"), field("RssFile:"))
    }

    /// CPU time (user and system) of the process and its descendants so far.
    pub(crate) fn cpu_time(&self) -> Duration {
        tree(self.pid()).iter().map(|pid| cpu_time(*pid)).sum()
    }

    /// Bytes the process and its descendants have caused to be written to storage so far: the pages they
    /// dirtied, counted by the kernel as they were dirtied (`write_bytes` of /proc/<pid>/io), so a commit
    /// counts each 4 KiB page it wrote, however few of its bytes changed.
    pub(crate) fn written_bytes(&self) -> u64 {
        tree(self.pid()).iter().map(|pid| written_bytes(*pid)).sum()
    }

    /// SIGTERM to the process group, then SIGKILL if it has not exited within `patience`.
    pub(crate) fn stop(mut self, patience: Duration) {
        self.stop_inner(patience);
    }

    fn stop_inner(&mut self, patience: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        signal_group(self.pid(), "TERM");
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                // Its group may still hold what it started (a JVM under its launcher).
                signal_group(self.pid(), "KILL");
                return;
            }
            // Polling for the child's exit; the bench measures nothing meanwhile.
            wait_a_little();
        }
        signal_group(self.pid(), "KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop_inner(Duration::from_secs(10));
    }
}

/// Waits a few milliseconds without `thread::sleep` (kept out of this workspace): a timed wait on a channel
/// nothing sends to.
pub(crate) fn wait_a_little() {
    let (_keep, never) = std::sync::mpsc::channel::<()>();
    let _ = never.recv_timeout(Duration::from_millis(5));
}

/// Sends `signal` to the process group `pgid` (the bench's own children only).
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `pid` and its descendants, from the parent pids in /proc.
fn tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(parent) = stat_fields(child).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                children.entry(parent).or_default().push(child);
            }
        }
    }
    let mut all = vec![pid];
    let mut next = 0;
    while let Some(&current) = all.get(next) {
        all.extend(children.get(&current).into_iter().flatten());
        next += 1;
    }
    all
}

/// The fields of /proc/<pid>/stat after the command name (field 3, `state`, first).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user and system) of the bench itself so far.
pub(crate) fn own_cpu_time() -> Duration {
    cpu_time(std::process::id())
}

fn cpu_time(pid: u32) -> Duration {
    // utime and stime are fields 14 and 15, in clock ticks of 1/100 s (USER_HZ).
    let ticks = stat_fields(pid)
        .and_then(|f| Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn written_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| io_field(&io, "write_bytes"))
        .unwrap_or(0)
}

/// One counter of a /proc/<pid>/io text (`name: value` lines).
fn io_field(io: &str, name: &str) -> Option<u64> {
    io.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == name).then(|| value.trim().parse().ok())?
    })
}

/// How to start a suite.
#[derive(Debug, Clone)]
pub(crate) struct SuiteOptions {
    pub(crate) plain_http: bool,
    /// In memory (`--ephemeral`) instead of on the data dir.
    pub(crate) ephemeral: bool,
    /// `--workers`; `None` keeps the default.
    pub(crate) workers: Option<usize>,
}

/// A running `fortimock up`.
pub(crate) struct Suite {
    pub(crate) process: Process,
    pub(crate) urls: SuiteUrls,
    /// The lab CA, when it serves HTTPS from a data dir.
    pub(crate) ca_pem: Option<String>,
}

impl Suite {
    pub(crate) fn url(&self, service: &str) -> anyhow::Result<&str> {
        self.urls
            .get(service)
            .map(String::as_str)
            .with_context(|| format!("no {service} in the suite's ready file"))
    }

    pub(crate) fn stop(self) {
        self.process.stop(Duration::from_secs(10));
    }
}

/// Starts `fortimock up` on free ports with its data in `dir` (the ready file and the log go there even
/// when ephemeral), and returns once it has printed its banner (every service started).
/// `command` is the program to run (`fortimock`, maybe under `taskset`); this adds `up` and its flags.
pub(crate) fn start_suite(
    mut command: Command,
    dir: &Path,
    options: &SuiteOptions,
) -> anyhow::Result<Suite> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ready = dir.join("ready.json");
    let _ = std::fs::remove_file(&ready);
    command
        .arg("up")
        .args(crate::suite::FREE_PORT_ARGS)
        .arg("--data-dir")
        .arg(dir)
        .arg("--ready-file")
        .arg(&ready);
    if options.plain_http {
        command.arg("--plain-http");
    }
    if options.ephemeral {
        command.arg("--ephemeral");
    }
    if let Some(workers) = options.workers {
        command.arg("--workers").arg(workers.to_string());
    }
    let mut process = Process::spawn("fortimock up", &mut command, Some(&dir.join("server.log")))?;
    let mut lines = process.stdout_lines()?;
    loop {
        match lines.next() {
            Some(line) => {
                if line?.contains(" is up (ready in ") {
                    break;
                }
            }
            None => bail!(
                "fortimock up exited before it was up; {}",
                process.log_hint()
            ),
        }
    }
    // Keep reading what the suite prints, so it never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let urls: SuiteUrls = serde_json::from_str(
        &std::fs::read_to_string(&ready).with_context(|| format!("reading {}", ready.display()))?,
    )?;
    let ca_pem = if options.plain_http || options.ephemeral {
        None
    } else {
        Some(
            std::fs::read_to_string(dir.join("tls/ca.pem"))
                .context("reading the lab CA of the data dir")?,
        )
    };
    Ok(Suite {
        process,
        urls,
        ca_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_written_are_read_from_their_own_line() {
        let io = "rchar: 1000\nwchar: 200\nsyscr: 7\nsyscw: 3\nread_bytes: 4096\nwrite_bytes: 53248\ncancelled_write_bytes: 4096\n";
        assert_eq!(io_field(io, "write_bytes"), Some(53_248));
        assert_eq!(io_field(io, "cancelled_write_bytes"), Some(4096));
        assert_eq!(io_field(io, "written"), None);
        assert_eq!(io_field("write_bytes: many\n", "write_bytes"), None);
    }
}
