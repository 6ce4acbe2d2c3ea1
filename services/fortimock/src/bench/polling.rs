//! Polling, what every appliance does all day: ftm's `SoftToken.PollingRequest` for one provisioned and
//! activated token and for 50 tokens, at `--clients` keep-alive connections, plain HTTP, against the bare
//! actix-web reference server answering a canned PollingResponse on the same core; the same poll over HTTPS
//! for information; the generator's own ceiling (the reference's `GET /health`).
//!
//! Also the small lab every plain-HTTP figure is measured on ([`SmallLab`]): one suite, its licenses and
//! tokens put in through the public APIs before anything is timed.

use std::time::Duration;

use anyhow::ensure;
use protocol::id::ApplianceSerial;
use protocol::paths::{ADMIN_HEALTH, PROCESS};
use serde::Serialize;

use super::load::{self, Call, Trust, repeat};
use super::populate::{self, Cloud, PROVISION_BATCH};
use super::process::Suite;
use super::reference::{self, CANNED_SERIAL};
use super::report::Measurement;
use super::{Bench, Contender};

/// The reference server's figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReferenceFigures {
    /// `GET /health` on the reference: what this generator drives through one connection set on one core.
    pub(crate) generator_ceiling: Measurement,
    /// The canned poll: the baseline of fortimock's polling.
    pub(crate) poll: Measurement,
    /// The poll answered by building the answer from the request, for 1 and for 50 tokens: what 50 tokens
    /// cost against one in bare actix-web and serde_json, for the 50-token target's note.
    pub(crate) built_one: Measurement,
    pub(crate) built_fifty: Measurement,
    /// Its resident memory after the load.
    pub(crate) rss_kib: u64,
    /// The generator's CPU time per request against `/health`, and the rate one core of it would drive at
    /// that cost (what it can measure at most).
    pub(crate) generator_us_per_request: f64,
    pub(crate) generator_ceiling_rps: f64,
}

/// fortimock's plain-HTTP polling figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PollingFigures {
    /// `GET /__admin/health` on ftm: the framework and the control plane, no SoftToken work.
    pub(crate) health: Measurement,
    pub(crate) poll_one: Measurement,
    pub(crate) poll_fifty: Measurement,
    /// The suite's resident memory right after it started, and after the poll load.
    pub(crate) idle_rss_kib: u64,
    pub(crate) after_poll_rss_kib: u64,
}

/// The same poll over HTTPS (keep-alive: one handshake per connection).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TlsPollingFigures {
    pub(crate) health: Measurement,
    pub(crate) poll_one: Measurement,
}

/// The reference server, started and checked, left idle until the polls take turns with fortimock's.
pub(crate) struct ReferenceServer {
    server: reference::Reference,
    target: load::Server,
    poll: Call,
}

impl ReferenceServer {
    pub(crate) fn start(bench: &Bench) -> anyhow::Result<ReferenceServer> {
        let server = reference::start(bench.server_command(), &bench.work.join("reference.log"))?;
        let target = load::Server::new(&server.url, &Trust::default())?;
        let serial: ApplianceSerial = CANNED_SERIAL.parse()?;
        let poll = Call::post(
            PROCESS,
            populate::poll_body(&serial, &["FTKMOB00C82980A7".to_owned()]),
        );
        let answer = bench.block_on(load::until_answered(
            &target,
            &poll,
            Duration::from_secs(10),
        ))?;
        ensure!(
            answer.as_ref() == reference::canned_poll_response().as_slice(),
            "the reference server did not answer the canned PollingResponse"
        );
        let built = bench.block_on(load::until_answered(
            &target,
            &Call::post(reference::BUILT, poll.body().clone()),
            Duration::from_secs(10),
        ))?;
        ensure!(
            built == answer,
            "the reference server's built answer is not its canned one for the same poll"
        );
        Ok(ReferenceServer {
            server,
            target,
            poll,
        })
    }

    pub(crate) fn target(&self) -> &load::Server {
        &self.target
    }

    pub(crate) fn process(&self) -> &super::process::Process {
        &self.server.process
    }

    /// The canned poll it answers.
    pub(crate) fn poll(&self) -> &Call {
        &self.poll
    }

    pub(crate) fn stop(self) {
        self.server.stop();
    }
}

/// The plain-HTTP suite every small-lab figure is measured on, and what was put in it.
pub(crate) struct SmallLab {
    pub(crate) suite: Suite,
    pub(crate) ftm: load::Server,
    pub(crate) appliances: load::Server,
    pub(crate) serial: ApplianceSerial,
    /// A provisioned token whose seed a phone downloaded (activated).
    pub(crate) activated: String,
    /// 50 provisioned tokens, the activated one first.
    pub(crate) fifty: Vec<String>,
    /// Tokens the durable-write measurements provision again and again.
    pub(crate) writer_tokens: Vec<String>,
    /// Activation codes waiting for a phone, for the download measurement.
    pub(crate) download_codes: Vec<String>,
    /// A 50-seat license's code `serial` has imported, for the import measurement.
    pub(crate) import_code: String,
    /// A virtual appliance with user `bench`, for the login measurement.
    pub(crate) login_appliance: String,
    pub(crate) idle_rss_kib: u64,
}

impl SmallLab {
    pub(crate) fn start(bench: &Bench) -> anyhow::Result<SmallLab> {
        let suite = bench.start_suite("small-lab", true)?;
        let idle_rss_kib = suite.process.rss_kib();
        let trust = Trust::default();
        let (ftm, appliances) = (
            load::Server::new(suite.url("ftm")?, &trust)?,
            load::Server::new(suite.url("appliance")?, &trust)?,
        );
        let cloud = Cloud::new(&suite)?;
        let serial = populate::appliance(1);
        let lab = bench.block_on(async {
            let first = cloud.create_license(10_000, None).await?;
            let tokens = cloud.import(&serial, &first.code).await?;
            let second = cloud.create_license(10_000, None).await?;
            let more = cloud.import(&serial, &second.code).await?;
            let fifty = tokens[..50].to_vec();
            let codes = cloud.provision(&serial, &fifty).await?;
            cloud.download(&codes[0]).await?;
            let polled = cloud.poll(&serial, &fifty[..1]).await?;
            ensure!(
                polled.tokens.first().map(|t| t.status.as_ref()) == Some("activated"),
                "the polled token is not activated: {polled:?}"
            );
            cloud.poll(&serial, &fifty).await?;
            let writer_tokens = tokens[100..1200].to_vec();
            let mut download_codes = Vec::new();
            for batch in tokens[1200..].chunks(PROVISION_BATCH) {
                download_codes.extend(cloud.provision(&serial, batch).await?);
            }
            for batch in more.chunks(PROVISION_BATCH) {
                download_codes.extend(cloud.provision(&serial, batch).await?);
            }
            let pack = cloud.create_license(50, None).await?;
            cloud.import(&serial, &pack.code).await?;
            let login_appliance = cloud.appliance_with_user().await?;
            anyhow::Ok((
                fifty,
                writer_tokens,
                download_codes,
                pack.code,
                login_appliance,
            ))
        });
        let (fifty, writer_tokens, download_codes, import_code, login_appliance) =
            lab.map_err(|e| e.context(suite.process.log_hint()))?;
        Ok(SmallLab {
            activated: fifty[0].clone(),
            suite,
            ftm,
            appliances,
            serial,
            fifty,
            writer_tokens,
            download_codes,
            import_code,
            login_appliance,
            idle_rss_kib,
        })
    }

    pub(crate) fn stop(self) {
        self.suite.stop();
    }
}

/// The reference server's and fortimock's polls, taking turns.
pub(crate) fn measure(
    bench: &Bench,
    reference: &ReferenceServer,
    lab: &SmallLab,
) -> anyhow::Result<(ReferenceFigures, PollingFigures)> {
    let clients = bench.args.clients;
    let on_reference = |name: &str, calls| Contender {
        name: name.to_owned(),
        server: &reference.target,
        process: Some(&reference.server.process),
        connections: clients,
        calls,
    };
    let on_ftm = |name: &str, calls| Contender {
        name: name.to_owned(),
        server: &lab.ftm,
        process: Some(&lab.suite.process),
        connections: clients,
        calls,
    };
    let measured = bench.measure_interleaved(
        &[
            on_reference(
                "reference GET /health (generator ceiling)",
                repeat(Call::get(reference::HEALTH)),
            ),
            on_reference(
                "reference PollingRequest (canned answer)",
                repeat(reference.poll.clone()),
            ),
            on_reference(
                "reference PollingRequest, 1 token, answer built",
                repeat(Call::post(reference::BUILT, reference.poll.body().clone())),
            ),
            on_reference(
                "reference PollingRequest, 50 tokens, answer built",
                repeat(Call::post(
                    reference::BUILT,
                    populate::poll_body(&CANNED_SERIAL.parse()?, &lab.fifty),
                )),
            ),
            on_ftm("ftm GET /__admin/health", repeat(Call::get(ADMIN_HEALTH))),
            on_ftm(
                "ftm PollingRequest, 1 token",
                repeat(Call::post(
                    PROCESS,
                    populate::poll_body(&lab.serial, std::slice::from_ref(&lab.activated)),
                )),
            ),
            on_ftm(
                "ftm PollingRequest, 50 tokens",
                repeat(Call::post(
                    PROCESS,
                    populate::poll_body(&lab.serial, &lab.fifty),
                )),
            ),
        ],
        &mut || Ok(()),
    )?;
    let [
        generator_ceiling,
        poll,
        built_one,
        built_fifty,
        health,
        poll_one,
        poll_fifty,
    ]: [Measurement; 7] = measured
        .try_into()
        .map_err(|_| anyhow::anyhow!("seven measurements were taken"))?;
    let generator_us_per_request =
        generator_ceiling.generator_busy * 1e6 / generator_ceiling.rps.max(1.0);
    let generator_ceiling_rps = 1e6 / generator_us_per_request.max(0.001);
    println!(
        "  the generator spends {generator_us_per_request:.1} µs of CPU per request: one core drives up to {} req/s",
        super::report::thousands(generator_ceiling_rps)
    );
    let reference_figures = ReferenceFigures {
        generator_ceiling,
        poll,
        built_one,
        built_fifty,
        rss_kib: reference.server.process.rss_kib(),
        generator_us_per_request,
        generator_ceiling_rps,
    };
    let polling = PollingFigures {
        health,
        poll_one,
        poll_fifty,
        idle_rss_kib: lab.idle_rss_kib,
        after_poll_rss_kib: lab.suite.process.rss_kib(),
    };
    Ok((reference_figures, polling))
}

pub(crate) fn measure_tls(bench: &Bench) -> anyhow::Result<TlsPollingFigures> {
    let suite = bench.start_suite("https", false)?;
    let trust = Trust::new(suite.ca_pem.as_deref())?;
    let ftm = load::Server::new(suite.url("ftm")?, &trust)?;
    let cloud = Cloud::new(&suite)?;
    let serial = populate::appliance(2);
    let token = bench.block_on(async {
        let license = cloud.create_license(5, None).await?;
        let tokens = cloud.import(&serial, &license.code).await?;
        let codes = cloud.provision(&serial, &tokens[..1]).await?;
        cloud.download(&codes[0]).await?;
        cloud.poll(&serial, &tokens[..1]).await?;
        anyhow::Ok(tokens[0].clone())
    })?;
    let clients = bench.args.clients;
    let health = bench.measure(
        "ftm GET /__admin/health over HTTPS",
        &ftm,
        Some(&suite.process),
        clients,
        repeat(Call::get(ADMIN_HEALTH)),
    );
    let poll_one = bench.measure(
        "ftm PollingRequest, 1 token, over HTTPS",
        &ftm,
        Some(&suite.process),
        clients,
        repeat(Call::post(PROCESS, populate::poll_body(&serial, &[token]))),
    );
    suite.stop();
    Ok(TlsPollingFigures { health, poll_one })
}
