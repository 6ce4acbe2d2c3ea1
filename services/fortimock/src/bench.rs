//! `fortimock bench`: performance measured the same way every time, each figure next to a baseline taken in
//! the same run on the same machine, so results compare across machines as ratios.
//!
//! - Cold start: `fortimock up` until every service answers ready, against spawning `fortimock --version`.
//! - Durable writes: a raw `write` + `fdatasync` probe on the data dir's disk, against the p50 of the
//!   endpoints that flush before answering.
//! - Endpoints: requests per second, p50 / p99 latency and server CPU per request of each SoftToken
//!   operation and of a login, against `GET /__admin/health` on the same server over the same TLS.
//! - Memory: the server's resident set after start, and after the load.
//!
//! The suite runs as a separate process (this binary's `up`, on a temporary data dir, HTTPS), and the load
//! comes from this process with a fixed number of concurrent keep-alive clients (closed loop).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use protocol::envelope::Envelope;
use protocol::header::RequestHeader;
use protocol::license::ActivationLicenseRequest;
use protocol::paths::{MOBILE, PROCESS};
use protocol::provision::{
    PolledTokenRef, PollingRequest, ProvisionRequest, ProvisionResponse, ProvisionToken,
};
use serde::Serialize;
use serde_json::json;

use crate::cli::BenchArgs;
use crate::suite::SuiteUrls;

/// One measured endpoint.
#[derive(Debug, Serialize)]
struct EndpointResult {
    name: &'static str,
    requests: usize,
    errors: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_us_per_request: f64,
}

/// Everything one run measured.
#[derive(Debug, Serialize)]
struct Report {
    cpus: usize,
    clients: usize,
    seconds: u64,
    version_spawn_ms: f64,
    cold_start_ms: f64,
    fdatasync_p50_ms: f64,
    fdatasync_p99_ms: f64,
    endpoints: Vec<EndpointResult>,
    rss_idle_kib: u64,
    rss_after_load_kib: u64,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the fortimock binary")?;
    let work = tempfile_dir()?;
    println!(
        "fortimock bench: {} clients, {} s per endpoint, {} CPUs",
        args.clients,
        args.seconds,
        cpus()
    );

    let version_spawn_ms = median(
        (0..args.starts)
            .map(|_| time_version(&exe))
            .collect::<anyhow::Result<_>>()?,
    );
    let mut starts = Vec::new();
    for i in 0..args.starts {
        let dir = work.join(format!("start-{i}"));
        let (mut child, elapsed, _) = start_suite(&exe, &dir)?;
        starts.push(elapsed);
        stop(&mut child);
    }
    let cold_start_ms = median(starts);
    println!(
        "cold start to ready   {cold_start_ms:>8.1} ms   baseline: spawn `fortimock --version` {version_spawn_ms:.1} ms   ratio {:.1}x",
        cold_start_ms / version_spawn_ms
    );

    let (fsync_p50, fsync_p99) = fdatasync_probe(&work.join("fsync-probe"), 400)?;
    println!("raw write+fdatasync   p50 {fsync_p50:.3} ms   p99 {fsync_p99:.3} ms");

    let dir = work.join("load");
    let (mut child, _, urls) = start_suite(&exe, &dir)?;
    let result = load(&args, &child, &dir, &urls).await;
    stop(&mut child);
    let (endpoints, rss_idle_kib, rss_after_load_kib) = result.with_context(|| {
        format!(
            "the server's log is in {}",
            dir.join("server.log").display()
        )
    })?;
    let _ = std::fs::remove_dir_all(&work);

    let health = endpoints.first().context("the health baseline ran")?;
    println!();
    println!(
        "{:<34} {:>9} {:>8} {:>8} {:>9} {:>9} {:>10}",
        "endpoint", "req/s", "p50 ms", "p99 ms", "cpu µs/req", "rps ratio", "p50/fsync"
    );
    for e in &endpoints {
        println!(
            "{:<34} {:>9.0} {:>8.2} {:>8.2} {:>9.0} {:>9.2} {:>10.1}{}",
            e.name,
            e.rps,
            e.p50_ms,
            e.p99_ms,
            e.server_cpu_us_per_request,
            e.rps / health.rps,
            e.p50_ms / fsync_p50,
            if e.errors > 0 {
                format!("  ({} errors)", e.errors)
            } else {
                String::new()
            }
        );
    }
    println!();
    println!(
        "server memory: {} MiB resident after start, {} MiB after the load",
        rss_idle_kib / 1024,
        rss_after_load_kib / 1024
    );
    let report = Report {
        cpus: cpus(),
        clients: args.clients,
        seconds: args.seconds,
        version_spawn_ms,
        cold_start_ms,
        fdatasync_p50_ms: fsync_p50,
        fdatasync_p99_ms: fsync_p99,
        endpoints,
        rss_idle_kib,
        rss_after_load_kib,
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("fortimock-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn time_version(exe: &Path) -> anyhow::Result<f64> {
    let started = Instant::now();
    let status = Command::new(exe)
        .arg("--version")
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("`fortimock --version` failed");
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Starts `fortimock up` on free ports in `dir`; returns once it prints its banner (every service ready).
fn start_suite(exe: &Path, dir: &Path) -> anyhow::Result<(Child, f64, SuiteUrls)> {
    let ready = dir.join("ready.json");
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("up")
        .args(crate::suite::FREE_PORT_ARGS)
        .arg("--data-dir")
        .arg(dir)
        .arg("--ready-file")
        .arg(&ready)
        .env("RUST_LOG", "info,actix_server=warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir_log(dir)?)?)
        .spawn()
        .context("starting fortimock up")?;
    let stdout = child.stdout.take().context("fortimock up's output")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next() {
        if line?.contains(" is up (ready in ") {
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            // Keep reading what the suite prints, so it never writes into a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            let urls: SuiteUrls = serde_json::from_str(&std::fs::read_to_string(&ready)?)?;
            return Ok((child, elapsed, urls));
        }
    }
    stop(&mut child);
    bail!("fortimock up exited before it was ready")
}

/// Where a suite started by the bench logs (kept when the bench fails).
fn dir_log(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.join("server.log"))
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Appends 150-byte records with `write` + `fdatasync`: the floor any durable acknowledgement sits on.
fn fdatasync_probe(path: &Path, count: usize) -> anyhow::Result<(f64, f64)> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let record = [b'x'; 150];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        file.write_all(&record)?;
        file.sync_data()?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[count / 2], times[count * 99 / 100]))
}

/// The server's resident set (VmRSS) and its CPU time so far, from /proc.
fn process_stats(pid: u32) -> (u64, Duration) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // Linux reports CPU time in clock ticks of 1/100 s (USER_HZ).
    (rss, Duration::from_millis(ticks * 10))
}

/// A request the load loop sends, built per call (downloads need a fresh code each time).
type MakeRequest = Box<dyn Fn(usize) -> Option<reqwest::RequestBuilder> + Send + Sync>;

async fn measure(
    name: &'static str,
    pid: u32,
    args: &BenchArgs,
    make: MakeRequest,
) -> EndpointResult {
    let make = std::sync::Arc::new(make);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let (_, cpu_before) = process_stats(pid);
    let started = Instant::now();
    let clients = (0..args.clients).map(|_| {
        let (make, counter) = (make.clone(), counter.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(request) = make(n) else { break };
                let sent = Instant::now();
                match request.send().await {
                    Ok(response)
                        if response.status().is_success()
                            || response.status() == reqwest::StatusCode::UNAUTHORIZED =>
                    {
                        let _ = response.bytes().await;
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        })
    });
    let mut latencies = Vec::new();
    let mut errors = 0;
    for (l, e) in futures_util::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
    {
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (_, cpu_after) = process_stats(pid);
    latencies.sort_by(f64::total_cmp);
    let n = latencies.len();
    let pick = |q: usize| {
        latencies
            .get((n * q / 100).min(n.saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    EndpointResult {
        name,
        requests: n,
        errors,
        rps: n as f64 / elapsed,
        p50_ms: pick(50),
        p99_ms: pick(99),
        server_cpu_us_per_request: (cpu_after - cpu_before).as_secs_f64() * 1e6 / n.max(1) as f64,
    }
}

async fn load(
    args: &BenchArgs,
    child: &Child,
    dir: &Path,
    urls: &SuiteUrls,
) -> anyhow::Result<(Vec<EndpointResult>, u64, u64)> {
    let pid = child.id();
    let ca = std::fs::read_to_string(dir.join("tls/ca.pem")).context("reading the lab CA")?;
    let http = lab::client::http_client(Some(&ca), None)?;
    let url = |service: &str| {
        urls.get(service)
            .cloned()
            .with_context(|| format!("no {service} in the ready file"))
    };
    let (forticare, ftm, appliance) = (url("forticare")?, url("ftm")?, url("appliance")?);
    let (rss_idle_kib, _) = process_stats(pid);

    // A license for the load, imported by one appliance serial, its tokens provisioned for the downloads.
    let seats = 10_000;
    let license: serde_json::Value = http
        .post(format!("{forticare}/__admin/licenses"))
        .json(&json!({"seats": seats}))
        .send()
        .await?
        .json()
        .await?;
    let code = license["code"]
        .as_str()
        .context("the license has a code")?
        .to_owned();
    let tokens: Vec<String> = license["tokens"]
        .as_array()
        .context("tokens")?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    let serial = "FGVM02TM10000001".parse()?;
    let header = RequestHeader::new(&serial, &[], "7.4", "2829");
    let big_import = Envelope::to_vec(&ActivationLicenseRequest {
        header: header.clone(),
        license_activation_code: code,
    });
    http.post(format!("{ftm}{PROCESS}"))
        .body(big_import)
        .send()
        .await?
        .error_for_status()?;
    // Re-imports are measured with a license of a common size, 50 seats.
    let pack: serde_json::Value = http
        .post(format!("{forticare}/__admin/licenses"))
        .json(&json!({"seats": 50}))
        .send()
        .await?
        .json()
        .await?;
    let pack_code = pack["code"]
        .as_str()
        .context("the license has a code")?
        .to_owned();
    let import = Envelope::to_vec(&ActivationLicenseRequest {
        header: header.clone(),
        license_activation_code: pack_code,
    });
    http.post(format!("{ftm}{PROCESS}"))
        .body(import.clone())
        .send()
        .await?
        .error_for_status()?;
    let seed = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";
    let provision_body = |batch: &[String]| {
        let tokens = batch
            .iter()
            .map(|t| ProvisionToken {
                token: t.clone(),
                seed: seed.into(),
                code_expire: 4320,
                kind: "totp".into(),
                period: 60,
                digits: 6,
            })
            .collect();
        Envelope::to_vec(&ProvisionRequest {
            header: header.clone(),
            tokens,
        })
    };
    let mut codes = Vec::with_capacity(seats);
    for batch in tokens[100..].chunks(500) {
        let answer: Envelope<ProvisionResponse> = http
            .post(format!("{ftm}{PROCESS}"))
            .body(provision_body(batch))
            .send()
            .await?
            .json()
            .await?;
        codes.extend(
            answer
                .0
                .tokens
                .into_iter()
                .filter_map(|t| t.token_activation_code),
        );
    }
    let codes = std::sync::Arc::new(codes);

    // A virtual FortiGate with a user whose logins are checked (and counted) but never lock.
    let fgt: serde_json::Value = http
        .post(format!("{appliance}/appliances"))
        .json(&json!({"settings": {"lockout_threshold": 0}}))
        .send()
        .await?
        .json()
        .await?;
    let fgt = fgt["serial"]
        .as_str()
        .context("the appliance's serial")?
        .to_owned();
    http.post(format!("{appliance}/appliances/{fgt}/import"))
        .json(&json!({"code": "0000-0000-0000-0000-0000"}))
        .send()
        .await?
        .error_for_status()?;
    http.post(format!("{appliance}/appliances/{fgt}/provision"))
        .json(&json!({"token": "any", "user": "bench"}))
        .send()
        .await?
        .error_for_status()?;

    let mut results = Vec::new();
    let (h, u) = (http.clone(), format!("{forticare}/__admin/health"));
    results.push(
        measure(
            "GET /__admin/health (baseline)",
            pid,
            args,
            Box::new(move |_| Some(h.get(&u))),
        )
        .await,
    );
    let (h, u, body) = (http.clone(), format!("{ftm}{PROCESS}"), import.clone());
    results.push(
        measure(
            "50-seat license import via ftm",
            pid,
            args,
            Box::new(move |_| Some(h.post(&u).body(body.clone()))),
        )
        .await,
    );
    let poll = Envelope::to_vec(&PollingRequest {
        header: header.clone(),
        tokens: vec![PolledTokenRef {
            token: tokens[0].clone(),
        }],
    });
    let (h, u) = (http.clone(), format!("{ftm}{PROCESS}"));
    results.push(
        measure(
            "poll one token",
            pid,
            args,
            Box::new(move |_| Some(h.post(&u).body(poll.clone()))),
        )
        .await,
    );
    let bodies: Vec<Vec<u8>> = tokens[..100]
        .iter()
        .map(|t| provision_body(std::slice::from_ref(t)))
        .collect();
    let (h, u) = (http.clone(), format!("{ftm}{PROCESS}"));
    results.push(
        measure(
            "provision one token (escrow, flush)",
            pid,
            args,
            Box::new(move |n| Some(h.post(&u).body(bodies[n % bodies.len()].clone()))),
        )
        .await,
    );
    let (h, u, codes2) = (http.clone(), format!("{ftm}{MOBILE}"), codes.clone());
    results.push(
        measure(
            "phone download (take seed, flush)",
            pid,
            args,
            Box::new(move |n| {
                let code = codes2.get(n)?;
                let body = json!({"d": {"__type": "SoftToken.MobileProvisionRequest", "mobile_id": "e248e1e9527f20ff", "token_activation_code": code}});
                Some(h.post(&u).json(&body))
            }),
        )
        .await,
    );
    let (h, u) = (http.clone(), format!("{appliance}/appliances/{fgt}/login"));
    results.push(
        measure(
            "appliance login (checked, counted)",
            pid,
            args,
            Box::new(move |_| Some(h.post(&u).json(&json!({"user": "bench", "otp": "000000"})))),
        )
        .await,
    );
    let (rss_after_load_kib, _) = process_stats(pid);
    Ok((results, rss_idle_kib, rss_after_load_kib))
}
