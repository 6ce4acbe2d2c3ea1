//! The mock servers people use instead, when installed: WireMock (npm package `wiremock`, which runs its
//! standalone jar on the JDK) and Mockoon CLI (npm `@mockoon/cli`), each given one stub answering the same
//! canned PollingResponse as the reference server, pinned to the servers' CPU and polled the same way in
//! the same run; their versions, spawn-to-first-answer and memory too. A peer that is not installed is one
//! line in the report (`npm install -g wiremock @mockoon/cli` installs both).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use protocol::id::ApplianceSerial;
use protocol::paths::PROCESS;
use serde::Serialize;
use serde_json::json;

use super::Bench;
use super::load::{self, Call, Trust, repeat};
use super::populate;
use super::process::Process;
use super::reference::{CANNED_SERIAL, canned_poll_response};
use super::report::Measurement;

/// One peer's figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PeerFigures {
    pub(crate) name: &'static str,
    pub(crate) installed: bool,
    pub(crate) version: Option<String>,
    /// Spawn until the stub answered.
    pub(crate) start_ms: Option<f64>,
    pub(crate) poll: Option<Measurement>,
    /// Resident memory after the load (the launcher and what it started).
    pub(crate) rss_kib: Option<u64>,
    /// Why it is missing, or what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// How long a JVM or Node may take to answer for the first time.
const PATIENCE: Duration = Duration::from_secs(120);

pub(crate) fn measure(bench: &Bench) -> Vec<PeerFigures> {
    [Peer::WireMock, Peer::Mockoon]
        .into_iter()
        .map(|peer| {
            let Some(program) = on_path(peer.program()) else {
                let figures = PeerFigures {
                    name: peer.name(),
                    installed: false,
                    version: None,
                    start_ms: None,
                    poll: None,
                    rss_kib: None,
                    note: Some(format!(
                        "not installed (`{}` is not on PATH; npm install -g {})",
                        peer.program(),
                        peer.package()
                    )),
                };
                println!(
                    "  {}: {}",
                    peer.name(),
                    figures.note.as_deref().unwrap_or("")
                );
                return figures;
            };
            match measure_peer(bench, peer, &program) {
                Ok(figures) => figures,
                Err(e) => {
                    println!("  {}: NOT MEASURED: {e:#}", peer.name());
                    PeerFigures {
                        name: peer.name(),
                        installed: true,
                        version: version(peer, &program).ok(),
                        start_ms: None,
                        poll: None,
                        rss_kib: None,
                        note: Some(format!("{e:#}")),
                    }
                }
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Peer {
    WireMock,
    Mockoon,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::WireMock => "WireMock",
            Peer::Mockoon => "Mockoon CLI",
        }
    }

    fn program(self) -> &'static str {
        match self {
            Peer::WireMock => "wiremock",
            Peer::Mockoon => "mockoon-cli",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Peer::WireMock => "wiremock",
            Peer::Mockoon => "@mockoon/cli",
        }
    }
}

fn measure_peer(bench: &Bench, peer: Peer, program: &Path) -> anyhow::Result<PeerFigures> {
    let version = version(peer, program)?;
    let dir = bench.work.join(peer.program());
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let mut command = bench.pinning.server_command(program);
    configure(peer, &mut command, &dir, port)?;
    let started = Instant::now();
    let mut process = Process::spawn(peer.name(), &mut command, Some(&dir.join("server.log")))?;
    let lines = process.stdout_lines()?;
    std::thread::spawn(move || lines.for_each(drop));
    let target = load::Server::new(&format!("http://127.0.0.1:{port}"), &Trust::default())?;
    let serial: ApplianceSerial = CANNED_SERIAL.parse()?;
    let poll = Call::post(
        PROCESS,
        populate::poll_body(&serial, &["FTKMOB00C82980A7".to_owned()]),
    );
    let answer = bench
        .block_on(load::until_answered(&target, &poll, PATIENCE))
        .with_context(|| process.log_hint())?;
    let start_ms = started.elapsed().as_secs_f64() * 1000.0;
    if answer.as_ref() != canned_poll_response().as_slice() {
        bail!("{} did not answer the canned PollingResponse", peer.name());
    }
    // A JIT (the JVM's, V8's) needs load before it runs at speed: one unrecorded round first.
    let warm = bench.shape(bench.args.clients);
    bench.block_on(load::run(
        &target,
        load::Shape {
            warmup: warm.recorded,
            recorded: Duration::from_millis(100),
            ..warm
        },
        repeat(poll.clone()),
        &[],
    ));
    let measurement = bench.measure(
        &format!("{} {version} canned PollingResponse", peer.name()),
        &target,
        Some(&process),
        bench.args.clients,
        repeat(poll),
    );
    let rss_kib = process.rss_kib();
    process.stop(Duration::from_secs(10));
    println!(
        "  {} {version}: first answer {start_ms:.0} ms after spawn, {:.0} MiB resident after the load",
        peer.name(),
        rss_kib as f64 / 1024.0
    );
    Ok(PeerFigures {
        name: peer.name(),
        installed: true,
        version: Some(version),
        start_ms: Some(start_ms),
        poll: Some(measurement),
        rss_kib: Some(rss_kib),
        note: None,
    })
}

/// Writes the peer's stub into `dir` and adds the flags that serve it on `port`.
fn configure(peer: Peer, command: &mut Command, dir: &Path, port: u16) -> anyhow::Result<()> {
    let body = String::from_utf8(canned_poll_response())?;
    match peer {
        Peer::WireMock => {
            let mappings = dir.join("mappings");
            std::fs::create_dir_all(&mappings)?;
            let stub = json!({
                "request": {"method": "POST", "url": PROCESS},
                "response": {
                    "status": 200,
                    "body": body,
                    "headers": {"Content-Type": "application/json; charset=utf-8"}
                }
            });
            std::fs::write(
                mappings.join("poll.json"),
                serde_json::to_vec_pretty(&stub)?,
            )?;
            // Its fastest configuration: no request journal, no request logging.
            command
                .arg("--port")
                .arg(port.to_string())
                .arg("--bind-address")
                .arg("127.0.0.1")
                .arg("--root-dir")
                .arg(dir)
                .args([
                    "--no-request-journal",
                    "--disable-request-logging",
                    "--disable-banner",
                ]);
        }
        Peer::Mockoon => {
            let environment = json!({
                "uuid": "6b0e9f3c-1d2a-4c5b-8e7f-0a1b2c3d4e5f",
                "lastMigration": 32,
                "name": "fortimock bench",
                "endpointPrefix": "",
                "latency": 0,
                "port": port,
                "hostname": "127.0.0.1",
                "routes": [{
                    "uuid": "0f1e2d3c-4b5a-4968-8776-655443322110",
                    "type": "http",
                    "documentation": "a canned SoftToken.PollingResponse",
                    "method": "post",
                    "endpoint": PROCESS.trim_start_matches('/'),
                    "responses": [{
                        "uuid": "1a2b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d",
                        "body": body,
                        "latency": 0,
                        "statusCode": 200,
                        "label": "",
                        "headers": [{"key": "Content-Type", "value": "application/json; charset=utf-8"}],
                        "bodyType": "INLINE",
                        "filePath": "",
                        "databucketID": "",
                        "sendFileAsBody": false,
                        "rules": [],
                        "rulesOperator": "OR",
                        "disableTemplating": true,
                        "fallbackTo404": false,
                        "default": true,
                        "crudKey": "id",
                        "callbacks": []
                    }],
                    "responseMode": null
                }],
                "rootChildren": [],
                "proxyMode": false,
                "proxyHost": "",
                "proxyRemovePrefix": false,
                "tlsOptions": {"enabled": false, "type": "CERT", "pfxPath": "", "certPath": "", "keyPath": "", "caPath": "", "passphrase": ""},
                "cors": false,
                "headers": [],
                "proxyReqHeaders": [],
                "proxyResHeaders": [],
                "data": [],
                "folders": [],
                "callbacks": []
            });
            let path = dir.join("environment.json");
            std::fs::write(&path, serde_json::to_vec_pretty(&environment)?)?;
            command
                .arg("start")
                .arg("--data")
                .arg(&path)
                .arg("--port")
                .arg(port.to_string())
                .args(["--disable-log-to-file", "--disable-admin-api"]);
        }
    }
    Ok(())
}

/// The peer's version, as it reports it (`3.13.2`; `9.9.0` from `@mockoon/cli/9.9.0 linux-x64 …`).
fn version(peer: Peer, program: &Path) -> anyhow::Result<String> {
    let output = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running {} --version", program.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .with_context(|| format!("{} --version printed nothing", peer.program()))?;
    Ok(match peer {
        Peer::WireMock => line.to_owned(),
        Peer::Mockoon => line
            .split_whitespace()
            .next()
            .and_then(|first| first.rsplit('/').next())
            .unwrap_or(line)
            .to_owned(),
    })
}

/// `program`'s path, if it is on PATH.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// A port nothing listens on now (the peer binds it a moment later).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}
