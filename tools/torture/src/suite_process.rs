//! The `fortimock up` process under torture: spawned on a data dir with every service on a free port, waited
//! for through its ready file, killed with SIGKILL, and reopened on the same data dir; a reopen that exits or
//! never becomes ready is a failed reopen, with the process's stderr kept to show why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// The `fortimock up` flag that sets each service's port, in [`SERVICES`] order.
const PORT_FLAGS: [&str; 5] = [
    "--forticare-port",
    "--ftm-port",
    "--push-port",
    "--phone-port",
    "--appliance-port",
];

/// The services `fortimock up` runs, by the name its ready file uses.
pub const SERVICES: [&str; 5] = ["forticare", "ftm", "push", "phone", "appliance"];

/// Base URL of each service, by name: the ready file's content.
pub type SuiteUrls = BTreeMap<String, String>;

/// Where one torture run keeps a suite: its binary, its data dir, the ready file, the stderr log, and the
/// ports its services listen on.
#[derive(Debug, Clone)]
pub struct SuiteHome {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    ready_file: PathBuf,
    stderr_file: PathBuf,
    ports: [u16; 5],
}

/// Five ports free now, below the range the kernel hands out to outgoing connections (so no client socket
/// takes one while the suite is down), for a data dir's whole life.
///
/// A data dir keeps its ports across restarts: a virtual appliance stores the FortiToken server's URL it was
/// created with (the suite's ftm, port included) and the relay stores each phone's webhook URL, so a suite
/// reopened on other ports would leave them calling a closed port.
fn free_ports() -> anyhow::Result<[u16; 5]> {
    use rand::Rng;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
        .clamp(12_000, 49152);
    let mut rng = rand::thread_rng();
    let mut ports = [0u16; 5];
    let mut found = 0;
    for _ in 0..1000 {
        let port = rng.gen_range(10_000..ephemeral_start);
        if ports[..found].contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports[found] = port;
            found += 1;
            if found == ports.len() {
                return Ok(ports);
            }
        }
    }
    anyhow::bail!("found no five free ports below {ephemeral_start}")
}

impl SuiteHome {
    /// A suite of `binary` whose data dir, ready file and stderr log live in `dir`, on five free ports.
    pub fn new(binary: &Path, dir: &Path) -> anyhow::Result<SuiteHome> {
        Ok(SuiteHome {
            binary: binary.to_path_buf(),
            data_dir: dir.join("data"),
            ready_file: dir.join("ready.json"),
            stderr_file: dir.join("stderr.log"),
            ports: free_ports()?,
        })
    }

    /// The lab CA the suite serves with (`<data-dir>/tls/ca.pem`), as it is on disk now.
    pub fn ca_pem(&self) -> anyhow::Result<String> {
        let path = self.data_dir.join("tls/ca.pem");
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }

    /// Starts `fortimock up` on the data dir (a stale ready file is removed first, so only this process's
    /// counts).
    pub fn spawn(&self) -> anyhow::Result<SuiteProcess> {
        match std::fs::remove_file(&self.ready_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", self.ready_file.display()));
            }
            _ => {}
        }
        let stderr = std::fs::File::create(&self.stderr_file)
            .with_context(|| format!("creating {}", self.stderr_file.display()))?;
        let child = Command::new(&self.binary)
            .arg("up")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--ready-file")
            .arg(&self.ready_file)
            // The exactly-once race opens up to 512 connections at once while the harness's earlier
            // keep-alive connections are still open: room above the default cap of 512, which answers the
            // excess 503 by design (tests/it/bounds.rs).
            .arg("--max-connections")
            .arg("1024")
            .args(
                PORT_FLAGS
                    .iter()
                    .zip(self.ports)
                    .flat_map(|(flag, port)| [flag.to_string(), port.to_string()]),
            )
            .args(["--no-ui"])
            // The SMTP listener is not tortured; a free port keeps parallel suites apart.
            .args(["--smtp-port", "0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {} up", self.binary.display()))?;
        Ok(SuiteProcess {
            child,
            spawned: Instant::now(),
            home: self.clone(),
        })
    }

    /// What the last process wrote to stderr (its last 4 KiB).
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read(&self.stderr_file).unwrap_or_default();
        let start = text.len().saturating_sub(4096);
        String::from_utf8_lossy(&text[start..])
            .trim_end()
            .to_owned()
    }

    fn read_ready(&self) -> Option<SuiteUrls> {
        let text = std::fs::read_to_string(&self.ready_file).ok()?;
        let urls: SuiteUrls = serde_json::from_str(&text).ok()?;
        SERVICES
            .iter()
            .all(|s| urls.contains_key(*s))
            .then_some(urls)
    }
}

/// Why a suite did not come up.
#[derive(Debug)]
pub enum NotReady {
    /// The process ended before it wrote its ready file.
    Exited { status: ExitStatus, stderr: String },
    /// The process still runs but never wrote its ready file.
    Timeout { after: Duration, stderr: String },
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Exited { status, stderr } => {
                write!(f, "fortimock up exited ({status}) before it was ready")?;
                write_stderr(f, stderr)
            }
            NotReady::Timeout { after, stderr } => {
                write!(f, "fortimock up was not ready after {after:?}")?;
                write_stderr(f, stderr)
            }
        }
    }
}

fn write_stderr(f: &mut std::fmt::Formatter<'_>, stderr: &str) -> std::fmt::Result {
    if stderr.is_empty() {
        return write!(f, "; its stderr is empty");
    }
    write!(f, "; its stderr:")?;
    for line in stderr.lines() {
        write!(f, "\n    | {line}")?;
    }
    Ok(())
}

/// A running (or dying) `fortimock up`.
pub struct SuiteProcess {
    child: Child,
    spawned: Instant,
    home: SuiteHome,
}

impl SuiteProcess {
    /// How long ago it was spawned.
    pub fn age(&self) -> Duration {
        self.spawned.elapsed()
    }

    /// Whether it has written its ready file.
    pub fn wrote_ready_file(&self) -> bool {
        self.home.read_ready().is_some()
    }

    /// Waits until the process has written its ready file (every service answered `/__admin/ready`), it
    /// exits, or `timeout` passes.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<SuiteUrls, NotReady> {
        let started = Instant::now();
        loop {
            if let Some(urls) = self.home.read_ready() {
                return Ok(urls);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // It may have written the file just before exiting; it is not running, so it is not ready.
                return Err(NotReady::Exited {
                    status,
                    stderr: self.home.stderr_tail(),
                });
            }
            if started.elapsed() >= timeout {
                return Err(NotReady::Timeout {
                    after: timeout,
                    stderr: self.home.stderr_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// `kill -9`, then reaps it. Returns whether it was still running (a process that already died is only
    /// reaped).
    pub fn kill9(&mut self) -> bool {
        let running = matches!(self.child.try_wait(), Ok(None));
        let _ = self.child.kill();
        let _ = self.child.wait();
        running
    }
}

impl Drop for SuiteProcess {
    fn drop(&mut self) {
        // Never leave a suite running behind the harness.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How an open went.
#[derive(Debug)]
pub struct Opened {
    /// From spawn to the ready file.
    pub took: Duration,
}

/// The suite one torture phase works on: its home, the process running now (if any), a client for it, and
/// the lab CA it served with once it was first ready (it must never change after that).
pub struct SuiteUnderTest {
    pub home: SuiteHome,
    process: Option<SuiteProcess>,
    api: Option<crate::suite_api::SuiteApi>,
    ca_pem: Option<String>,
    ready_timeout: Duration,
    abandoned: u32,
}

/// What a reopen came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Reopened {
    /// Running on the same data dir, ready.
    Same,
    /// The data dir would not reopen (twice): it was set aside and a fresh one started; what was written to
    /// the old one can no longer be checked.
    Fresh,
}

impl SuiteUnderTest {
    pub fn new(home: SuiteHome, ready_timeout: Duration) -> SuiteUnderTest {
        SuiteUnderTest {
            home,
            process: None,
            api: None,
            ca_pem: None,
            ready_timeout,
            abandoned: 0,
        }
    }

    /// The client for the running suite.
    pub fn api(&self) -> anyhow::Result<crate::suite_api::SuiteApi> {
        self.api.clone().context("no suite is running")
    }

    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// Starts a process (without waiting for it), for a kill during startup.
    pub fn spawn(&mut self) -> anyhow::Result<&mut SuiteProcess> {
        self.kill9();
        self.api = None;
        Ok(self.process.insert(self.home.spawn()?))
    }

    /// `kill -9` the running process, if any; whether one was still running.
    pub fn kill9(&mut self) -> bool {
        self.api = None;
        self.process.take().is_some_and(|mut p| p.kill9())
    }

    /// Starts a process on the data dir and waits until it is ready. `Ok(Err(_))` is a suite that did not
    /// come up; `Err(_)` a harness failure. A lab CA that changed since an earlier ready process is reported
    /// in `ca_changed`.
    pub async fn open(&mut self) -> anyhow::Result<Result<(Opened, bool), NotReady>> {
        self.kill9();
        let mut process = self.home.spawn()?;
        let ready = process.wait_ready(self.ready_timeout).await;
        let took = process.age();
        let urls = match ready {
            Ok(urls) => urls,
            Err(not_ready) => {
                process.kill9();
                return Ok(Err(not_ready));
            }
        };
        let ca = self.home.ca_pem()?;
        let ca_changed = self.ca_pem.as_ref().is_some_and(|before| *before != ca);
        self.api = Some(crate::suite_api::SuiteApi::connect(urls, &ca)?);
        self.ca_pem = Some(ca);
        self.process = Some(process);
        Ok(Ok((Opened { took }, ca_changed)))
    }

    /// Reopens the data dir after a kill. A process that exits or never becomes ready is a failed reopen:
    /// recorded with its stderr and printed; it is tried once more, and if that fails too the data dir is set
    /// aside (kept for inspection) and a fresh one started.
    pub async fn reopen(&mut self, tally: &mut crate::tally::Tally) -> anyhow::Result<Reopened> {
        for attempt in 1..=2 {
            match self.open().await? {
                Ok((opened, ca_changed)) => {
                    tally.reopens += 1;
                    tally.reopen_time += opened.took;
                    if ca_changed {
                        tally.find(
                            crate::tally::Finding::Corrupt,
                            "the lab CA changed on disk after a suite had served with it",
                        );
                    }
                    return Ok(Reopened::Same);
                }
                Err(not_ready) => {
                    let failure = format!(
                        "reopen of {} (attempt {attempt}): {not_ready}",
                        self.home.data_dir.display()
                    );
                    println!("FAILED REOPEN: {failure}");
                    tally.failed_reopens.push(failure);
                }
            }
        }
        self.abandoned += 1;
        let kept = self
            .home
            .data_dir
            .with_file_name(format!("data-abandoned-{}", self.abandoned));
        std::fs::rename(&self.home.data_dir, &kept)
            .with_context(|| format!("setting {} aside", self.home.data_dir.display()))?;
        tally.abandoned_data_dirs.push(kept.display().to_string());
        self.ca_pem = None;
        // Ports the old data dir could not bind may be the reason; the fresh one gets its own.
        self.home.ports = free_ports()?;
        match self.open().await? {
            Ok(_) => Ok(Reopened::Fresh),
            Err(not_ready) => anyhow::bail!("not even a fresh data dir comes up: {not_ready}"),
        }
    }
}
