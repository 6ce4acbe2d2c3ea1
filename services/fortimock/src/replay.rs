//! `fortimock replay FILE [--arm] [--json]`: a customer's FortiOS debug log replayed against fortimock. Every
//! request `protocol::debug_log` finds is sent to the service that would answer it, and fortimock's answer is
//! put next to the captured one, field by field; `--arm` arms, for the appliance in the log, the scenario
//! behind each captured catalogue error, then replays again to show the captured answer comes back.
//!
//! The dashboard's replay page runs the same functions ([`replay_log`], [`arm`]) with the browser's token,
//! so there is one mechanism: requests go to the services' own endpoints as a device sends them, scenarios
//! through `/__admin/scenarios` as `fortimock scenario arm` arms them.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use protocol::catalogue::{
    CATALOGUE, CatalogueEntry, LICENSE_CODE_INVALID, TOKEN_NOT_OWNED, WireError,
};
use protocol::debug_log::{self, Captured, DebugLog, Difference, Exchange, ExchangeKind};
use protocol::envelope::Message;
use protocol::id::LicenseActivationCode;
use protocol::mobile::MobileProvisionRequest;
use protocol::modeled::looks_sanitized;
use protocol::paths;
use protocol::scenario::{ARMABLE, PUSH_MESSAGE, ScenarioMatch, ScenarioSpec, ScenarioView};
use serde::Serialize;
use serde_json::Value;

use crate::cli::ReplayArgs;
use crate::client::SuiteClient;

/// The largest log read (a day of `-1` debug output fits; a bigger file is refused before it is read whole).
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// How the note on armed scenarios starts.
const STAY_ARMED: &str = "the scenarios stay armed";

/// How long the CLI waits for a running suite to say it is healthy before it replays on an ephemeral lab.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a replay found and got.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// The lab replayed against, for people.
    pub lab: String,
    /// What the log held.
    pub log: LogSummary,
    /// Each exchange, replayed.
    pub exchanges: Vec<Replayed>,
    /// With `--arm`: what was armed and what not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub armed: Option<ArmReport>,
    /// With `--arm`: each exchange replayed again once the scenarios are armed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_arming: Option<Vec<Replayed>>,
}

/// The log's lines: how many, and which could not be used.
#[derive(Debug, Clone, Serialize)]
pub struct LogSummary {
    pub lines: usize,
    pub exchanges: usize,
    pub context_lines: usize,
    pub unused: debug_log::LineList,
    pub problems: Vec<debug_log::Problem>,
    pub problem_count: usize,
}

impl LogSummary {
    fn of(log: &DebugLog) -> LogSummary {
        LogSummary {
            lines: log.lines,
            exchanges: log.exchanges.len(),
            context_lines: log.context_lines,
            unused: log.unused.clone(),
            problems: log.problems.clone(),
            problem_count: log.problem_count,
        }
    }
}

/// How fortimock's answer compares with the captured one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The same JSON.
    Identical,
    /// The same error (or none), and every other difference is in a value the capture sanitized.
    Matches,
    /// The same error (or none); other fields differ.
    SameError,
    /// Another error, or another outcome.
    Differs,
    /// The log does not show the answer: nothing to compare.
    NotCaptured,
    /// Not sent: the log has no request for it, or the service could not be reached.
    NotReplayed,
}

impl Verdict {
    /// For people.
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::Identical => "identical to the captured answer",
            Verdict::Matches => {
                "matches the captured answer (same error; differences only where the capture was sanitized)"
            }
            Verdict::SameError => "same error as the captured answer; other fields differ",
            Verdict::Differs => "differs from the captured answer",
            Verdict::NotCaptured => "the log does not show the captured answer: nothing to compare",
            Verdict::NotReplayed => "not replayed",
        }
    }
}

/// One exchange of the log, replayed.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    /// 1, 2, … in the log's order.
    pub number: usize,
    pub kind: ExchangeKind,
    /// The request's (or the lone response's) message type.
    pub message_type: String,
    /// The appliance serial the log names.
    pub serial: Option<String>,
    /// The line the request starts on (or the lone response).
    pub line: usize,
    /// The captured request, secrets redacted.
    pub request: Option<Value>,
    /// The captured answer, secrets redacted.
    pub captured: Option<Value>,
    /// Where it was sent: `ftm POST /SoftToken/Provisioning.asmx/Process`.
    pub sent_to: Option<String>,
    /// fortimock's HTTP status.
    pub status: Option<u16>,
    /// fortimock's answer (JSON, or the text it answered), secrets redacted.
    pub answer: Option<Value>,
    /// The captured answer's error.
    pub captured_error: Option<WireError>,
    /// fortimock's error.
    pub answer_error: Option<WireError>,
    pub verdict: Verdict,
    /// Every field that differs.
    pub differences: Vec<Difference>,
    /// What the differences mean, and what to do about them, for people.
    pub notes: Vec<String>,
}

/// What `--arm` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArmReport {
    pub armed: Vec<Armed>,
    pub not_armable: Vec<NotArmable>,
    /// What the armed scenarios mean, for people.
    pub notes: Vec<String>,
}

/// A scenario armed for an exchange (or found armed already).
#[derive(Debug, Clone, Serialize)]
pub struct Armed {
    /// The exchange's number.
    pub exchange: usize,
    pub service: String,
    pub scenario: ScenarioView,
    /// Whether the same scenario was armed already (it was not armed twice).
    pub already: bool,
}

/// An exchange whose captured answer no scenario gives.
#[derive(Debug, Clone, Serialize)]
pub struct NotArmable {
    pub exchange: usize,
    pub reason: String,
}

/// `fortimock replay`.
pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let (name, text) = read_input(&args.file)?;
    let log = parse_or_explain(&name, &text)?;
    let (client, lab, ephemeral) = choose_lab(&args).await?;
    let result = replay_and_arm(&client, &log, lab, args.arm).await;
    // The ephemeral lab (when there is one) stops here, with its scenarios.
    let stopped = ephemeral.is_some();
    if let Some(suite) = ephemeral {
        suite.stop().await;
    }
    let mut report = result?;
    if stopped && let Some(armed) = report.armed.as_mut().filter(|a| !a.armed.is_empty()) {
        armed.notes.retain(|note| !note.starts_with(STAY_ARMED));
        armed.notes.push(
            "the ephemeral lab has stopped, and its scenarios with it: to keep them, start `fortimock up` and \
             replay against it"
                .to_owned(),
        );
    }
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        render_text(&name, &report)
    };
    // A reader that stops early (`| head`) is no error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Replays `log`; with `arm`, arms the captured errors and replays again.
pub async fn replay_and_arm(
    client: &SuiteClient,
    log: &DebugLog,
    lab: String,
    arm_them: bool,
) -> anyhow::Result<ReplayReport> {
    let mut report = replay_log(client, log, lab).await;
    if arm_them {
        report.armed = Some(arm(client, log).await?);
        report.after_arming = Some(replay_log(client, log, String::new()).await.exchanges);
        // How often each scenario fired on the second replay: the proof the captured answer came from it.
        if let Some(armed) = report.armed.as_mut() {
            for entry in &mut armed.armed {
                let list = client
                    .control(&entry.service)
                    .scenarios()
                    .await
                    .with_context(|| format!("listing {}'s scenarios", entry.service))?;
                if let Some(now) = list
                    .scenarios
                    .into_iter()
                    .find(|s| s.id == entry.scenario.id)
                {
                    entry.scenario = now;
                }
            }
        }
    }
    Ok(report)
}

/// The log's text: the file, or stdin for `-`; a file that is not text is read lossily (the parser counts
/// what it cannot use).
fn read_input(file: &str) -> anyhow::Result<(String, String)> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin()
            .take(MAX_LOG_BYTES + 1)
            .read_to_end(&mut bytes)
            .context("reading the log from stdin")?;
    } else {
        std::fs::File::open(file)
            .with_context(|| format!("cannot open {file}"))?
            .take(MAX_LOG_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {file}"))?;
    }
    let name = if file == "-" { "stdin" } else { file }.to_owned();
    if bytes.len() as u64 > MAX_LOG_BYTES {
        bail!(
            "{name} is larger than {MAX_LOG_BYTES} bytes: cut it to the debug output around the problem"
        );
    }
    Ok((name, String::from_utf8_lossy(&bytes).into_owned()))
}

/// The parsed log, or why there is nothing in it to replay (nothing is sent or armed then).
pub fn parse_or_explain(name: &str, text: &str) -> anyhow::Result<DebugLog> {
    if text.trim().is_empty() {
        bail!(
            "{name} is empty: paste the FortiOS debug output (`diag debug app forticldd -1`, `diag fortitoken debug \
             enable`, `diagnose debug application ftm-push -1`, then `diag debug enable` and the command that fails)"
        );
    }
    let log = debug_log::parse(text);
    if log.exchanges.is_empty() {
        let mut why = format!(
            "no FortiToken cloud request or response in {name}: {} lines, {} of them FortiOS debug lines with no \
             message, {} not FortiOS's",
            log.lines, log.context_lines, log.unused.count
        );
        if log.problem_count > 0 {
            let first = &log.problems[0];
            why.push_str(&format!(
                ", {} JSON bodies that cannot be read (line {}: {})",
                log.problem_count, first.line, first.reason
            ));
        }
        why.push_str(
            ". The log needs the JSON bodies FortiOS prints with `diag fortitoken debug enable` or `diagnose debug \
             application ftm-push -1`",
        );
        bail!(why);
    }
    Ok(log)
}

/// The suite to replay against: the running one (found like every subcommand finds it), or an ephemeral lab
/// started here, empty and in memory, when `--ephemeral` says so or no suite answers and none was named.
async fn choose_lab(
    args: &ReplayArgs,
) -> anyhow::Result<(SuiteClient, String, Option<fortimock_testing::Suite>)> {
    let named = args.target.forticare_url.is_some()
        || args.target.ftm_url.is_some()
        || args.target.push_url.is_some();
    if !args.ephemeral {
        let client = SuiteClient::connect(&args.target)?;
        let url = client.url(ftm::NAME)?.to_owned();
        // Raw on purpose: a probe with a short timeout (the typed `health` waits as long as any call).
        let health = client
            .http()
            .get(format!("{url}{}", paths::ADMIN_HEALTH))
            .timeout(PROBE_TIMEOUT)
            .send()
            .await;
        match health {
            Ok(response) if response.status().is_success() => {
                return Ok((client, format!("the running suite (ftm at {url})"), None));
            }
            _ if named => bail!(
                "no suite answers at {url}: is `fortimock up` running there? (--ephemeral replays on a lab of its own)"
            ),
            _ => {}
        }
    }
    let suite = fortimock_testing::Suite::builder()
        .fixtures(protocol::ledger::LabFixtures::default())
        .start()
        .await
        .context("starting an ephemeral lab to replay against")?;
    let client = suite.client().clone();
    let why = if args.ephemeral {
        "--ephemeral".to_owned()
    } else {
        format!("no suite answers at {}", args.target.data_dir.display())
    };
    Ok((
        client,
        format!("an ephemeral lab (no licenses, in memory, stopped when the replay ends; {why})"),
        Some(suite),
    ))
}

/// Replays every exchange of `log` in order against the suite `client` reaches.
pub async fn replay_log(client: &SuiteClient, log: &DebugLog, lab: String) -> ReplayReport {
    let mut exchanges = Vec::new();
    for (at, exchange) in log.exchanges.iter().enumerate() {
        let answer = match &exchange.request {
            Some(request) => Some(send(client, request).await),
            None => None,
        };
        exchanges.push(compare(at + 1, exchange, answer));
    }
    ReplayReport {
        lab,
        log: LogSummary::of(log),
        exchanges,
        armed: None,
        after_arming: None,
    }
}

/// What fortimock answered: where it was sent, the status and the body.
pub struct Answer {
    pub sent_to: String,
    pub status: u16,
    pub body: Value,
}

/// The service and path that answer a captured request, as a device sends it.
fn destination(request: &Captured) -> (&'static str, &'static str) {
    match request.message_type.as_str() {
        PUSH_MESSAGE => (push::NAME, paths::RELAY_PUSH),
        MobileProvisionRequest::TYPE => (ftm::NAME, paths::MOBILE),
        _ => (ftm::NAME, paths::PROCESS),
    }
}

/// Sends a captured request as the device did: its body as captured, FortiOS's content type, no admin token.
/// Raw on purpose: it replays a device's wire request byte for byte, which no typed client builds.
async fn send(client: &SuiteClient, request: &Captured) -> Result<Answer, String> {
    let (service, path) = destination(request);
    let sent_to = format!("{service} POST {path}");
    let base = client.url(service).map_err(|e| e.to_string())?;
    let content_type = if service == push::NAME {
        "application/json"
    } else {
        "application/json;charset=utf-8"
    };
    let response = client
        .http()
        .post(format!("{base}{path}"))
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(request.text.clone())
        .send()
        .await
        .map_err(|e| format!("{sent_to}: cannot reach {base}: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("{sent_to}: reading the answer: {e}"))?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Answer {
        sent_to,
        status,
        body,
    })
}

/// The `error` of a SoftToken answer.
fn wire_error(body: &Value) -> Option<WireError> {
    body.get("d")
        .and_then(|d| d.get("error"))
        .and_then(|e| serde_json::from_value(e.clone()).ok())
}

fn redacted(value: &Value) -> Value {
    let mut value = value.clone();
    protocol::journal::redact(&mut value);
    value
}

/// Puts fortimock's answer next to the captured one (pure).
pub fn compare(
    number: usize,
    exchange: &Exchange,
    answer: Option<Result<Answer, String>>,
) -> Replayed {
    let first = exchange.request.as_ref().or(exchange.response.as_ref());
    let mut replayed = Replayed {
        number,
        kind: exchange.kind,
        message_type: first.map(|m| m.message_type.clone()).unwrap_or_default(),
        serial: first.and_then(|m| m.serial.clone()),
        line: first.map_or(0, |m| m.line),
        request: exchange.request.as_ref().map(Captured::shown_body),
        captured: exchange.response.as_ref().map(Captured::shown_body),
        sent_to: None,
        status: None,
        answer: None,
        captured_error: exchange.response.as_ref().and_then(|r| r.error.clone()),
        answer_error: None,
        verdict: Verdict::NotReplayed,
        differences: Vec::new(),
        notes: Vec::new(),
    };
    if let Some(request) = &exchange.request
        && let Some(reason) = &request.decode_error
    {
        replayed.notes.push(format!(
            "the captured request is not a well-formed {} ({reason}): it was sent as captured, and the answer \
             is what fortimock makes of it",
            request.message_type
        ));
    }
    if let Some(serial) = first.and_then(|m| m.serial.as_ref())
        && looks_sanitized(serial)
    {
        replayed.notes.push(format!(
            "the serial `{serial}` was sanitized by whoever pasted the log: fortimock answered for that text; put \
             the appliance's real serial in the log to replay it as that appliance"
        ));
    }
    let answer = match answer {
        None => {
            replayed.notes.push(
                "the log starts after this request: only its answer is there, nothing to replay"
                    .to_owned(),
            );
            return replayed;
        }
        Some(Err(reason)) => {
            replayed.notes.push(reason);
            return replayed;
        }
        Some(Ok(answer)) => answer,
    };
    replayed.sent_to = Some(answer.sent_to.clone());
    replayed.status = Some(answer.status);
    replayed.answer_error = wire_error(&answer.body);
    replayed.answer = Some(redacted(&answer.body));
    explain(exchange, &answer, &mut replayed.notes);
    let Some(captured) = &exchange.response else {
        replayed.verdict = Verdict::NotCaptured;
        return replayed;
    };
    replayed.differences = debug_log::differences(&captured.body, &answer.body);
    let same_error = captured.error == replayed.answer_error;
    replayed.verdict = if replayed.differences.is_empty() {
        Verdict::Identical
    } else if same_error && replayed.differences.iter().all(|d| d.sanitized) {
        Verdict::Matches
    } else if same_error && answer.status == 200 {
        Verdict::SameError
    } else {
        Verdict::Differs
    };
    let sanitized = replayed.differences.iter().filter(|d| d.sanitized).count();
    if sanitized > 0 {
        replayed.notes.push(format!(
            "{sanitized} of the differences are in values the capture sanitized (marked `sanitized`): they say \
             nothing about the service"
        ));
    }
    replayed
}

/// Plain sentences for what the lab does not know that the customer's cloud did.
fn explain(exchange: &Exchange, answer: &Answer, notes: &mut Vec<String>) {
    let Some(request) = &exchange.request else {
        return;
    };
    let fortimock_error = wire_error(&answer.body);
    let captured_error = exchange.response.as_ref().and_then(|r| r.error.clone());
    match exchange.kind {
        ExchangeKind::LicenseImport => {
            let code = request
                .body
                .pointer("/d/license_activation_code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_owned();
            if fortimock_error
                .as_ref()
                .is_some_and(|e| LICENSE_CODE_INVALID.matches(e))
            {
                if code.parse::<LicenseActivationCode>().is_ok() {
                    notes.push(format!(
                        "fortimock does not know license code `{code}`: create it with `fortimock license create \
                         --seats <N> --code {code}` to replay this as the customer's state"
                    ));
                } else {
                    let sanitized = if looks_sanitized(&code) {
                        " (it looks sanitized)"
                    } else {
                        ""
                    };
                    notes.push(format!(
                        "`{code}`{sanitized} is not a 20-character license activation code, so no license can have \
                         it: FortiCare refuses it with error 16, as fortimock does"
                    ));
                }
            } else if fortimock_error.is_none() && captured_error.is_some() {
                notes.push(format!(
                    "fortimock's lab knows code `{code}` and imports it; the customer's FortiCare refused it: \
                     `--arm` answers the captured error instead"
                ));
            }
        }
        ExchangeKind::Provision | ExchangeKind::Polling => {
            let serial = request.serial.clone().unwrap_or_default();
            // The tokens an answer refuses with error 31.
            let not_owned = |body: &Value| -> Vec<String> {
                body.pointer("/d/tokens")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|token| {
                        token
                            .get("error")
                            .and_then(|e| serde_json::from_value::<WireError>(e.clone()).ok())
                            .is_some_and(|e| TOKEN_NOT_OWNED.matches(&e))
                    })
                    .filter_map(|token| {
                        token
                            .get("token")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            };
            let also_captured = exchange
                .response
                .as_ref()
                .map(|r| not_owned(&r.body))
                .unwrap_or_default();
            // Only where the customer's cloud served a token this lab refuses is the lab missing something.
            let refused: Vec<String> = not_owned(&answer.body)
                .into_iter()
                .filter(|token| !also_captured.contains(token))
                .collect();
            if !refused.is_empty() {
                notes.push(format!(
                    "fortimock's lab does not have {} on appliance `{serial}`: the customer's license is not in \
                     this lab (create it with `fortimock license create` and import it as that appliance) to replay \
                     this as the customer's state",
                    refused
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        ExchangeKind::Push => {
            if answer.body.get("reason").and_then(Value::as_str)
                == Some(protocol::push::UNREGISTERED)
            {
                notes.push(
                    "no phone is registered with fortimock's relay under this registration id (the customer's \
                     phone registered with the real one): a virtual phone registers its own \
                     (`fortimock phone new`)"
                        .to_owned(),
                );
            }
            if exchange.response.is_none() {
                notes.push(
                    "FortiOS's ftm-push debug does not print the relay's answer, so there is none to compare"
                        .to_owned(),
                );
            }
        }
        ExchangeKind::MobileProvision | ExchangeKind::OtherSoftToken => {}
    }
}

/// The scenarios that give an exchange's captured answer (each with the service to arm it on), or why none
/// does.
pub type Plan = Result<Vec<(&'static str, ScenarioSpec)>, String>;

/// The scenarios that would give an exchange's captured answer, by service; or why none does (pure).
pub fn plan(exchange: &Exchange) -> Plan {
    let Some(request) = &exchange.request else {
        return Err(
            "the log starts after its request: there is no request to match a scenario on"
                .to_owned(),
        );
    };
    let Some(response) = &exchange.response else {
        return Err("the log does not show its answer".to_owned());
    };
    let mut when = ScenarioMatch {
        message_type: Some(request.message_type.clone()),
        serial: request.serial.clone(),
        ..ScenarioMatch::default()
    };
    let armable_for = |entry: &CatalogueEntry| {
        ARMABLE.iter().find(|a| {
            a.error.id == entry.id && a.message_types.contains(&request.message_type.as_str())
        })
    };
    let spec = |error: &str, when: ScenarioMatch| ScenarioSpec {
        error: Some(error.to_owned()),
        when,
        ..ScenarioSpec::default()
    };
    if exchange.kind == ExchangeKind::Push {
        let reason = response.body.get("reason").and_then(Value::as_str);
        let Some(reason) = reason else {
            return Err("a captured success: the relay took the push".to_owned());
        };
        let Some(entry) = CATALOGUE
            .iter()
            .find(|e| e.code.is_none() && e.text == reason)
        else {
            return Err(format!(
                "the relay's `{reason}` is not in fortimock's catalogue"
            ));
        };
        let Some(armable) = armable_for(entry) else {
            return Err(format!("`{}` is not armable", entry.id));
        };
        when.registration_id = request
            .body
            .get("registration_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        when.serial = None;
        return Ok(vec![(armable.service, spec(armable.error.id, when))]);
    }
    if exchange.kind == ExchangeKind::MobileProvision {
        when.serial = None;
        when.activation_code = request
            .body
            .pointer("/d/token_activation_code")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    if let Some(error) = &response.error {
        let Some(entry) = CATALOGUE.iter().find(|e| e.matches(error)) else {
            return Err(format!(
                "error {} `{}` is not in fortimock's catalogue (`fortimock scenario errors` lists it): no scenario \
                 answers it",
                error.error_code, error.error_message
            ));
        };
        let Some(armable) = armable_for(entry) else {
            return Err(format!(
                "`{}` (error {}) follows from the lab's state, not from a scenario: it is not armable on {}",
                entry.id, error.error_code, request.message_type
            ));
        };
        return Ok(vec![(armable.service, spec(armable.error.id, when))]);
    }
    // No top-level error: tokens refused one by one.
    let mut specs = Vec::new();
    for token in response
        .body
        .pointer("/d/tokens")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(error) = token
            .get("error")
            .and_then(|e| serde_json::from_value::<WireError>(e.clone()).ok())
        else {
            continue;
        };
        let serial = token
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match CATALOGUE
            .iter()
            .find(|e| e.matches(&error))
            .and_then(|e| armable_for(e))
        {
            Some(armable) => specs.push((
                armable.service,
                spec(
                    armable.error.id,
                    ScenarioMatch {
                        token: Some(serial.to_owned()),
                        ..when.clone()
                    },
                ),
            )),
            None => {
                return Err(format!(
                    "token `{serial}`'s error {} `{}` is not armable",
                    error.error_code, error.error_message
                ));
            }
        }
    }
    if specs.is_empty() {
        return Err(
            "a captured success: fortimock answers successes from its lab's state (licenses, tokens, escrow), not \
             from scenarios"
                .to_owned(),
        );
    }
    Ok(specs)
}

/// Arms, through each service's `/__admin/scenarios`, the scenario behind every captured catalogue error of
/// `log` (one already armed with the same spec is not armed twice).
pub async fn arm(client: &SuiteClient, log: &DebugLog) -> anyhow::Result<ArmReport> {
    let mut report = ArmReport::default();
    for (at, exchange) in log.exchanges.iter().enumerate() {
        let number = at + 1;
        let specs = match plan(exchange) {
            Ok(specs) => specs,
            Err(reason) => {
                report.not_armable.push(NotArmable {
                    exchange: number,
                    reason,
                });
                continue;
            }
        };
        for (service, spec) in specs {
            let armed = client
                .control(service)
                .scenarios()
                .await
                .with_context(|| format!("listing {service}'s scenarios"))?;
            let existing = armed
                .scenarios
                .into_iter()
                .find(|s| s.state == "armed" && s.spec == spec);
            let (scenario, already) = match existing {
                Some(scenario) => (scenario, true),
                None => (
                    client
                        .control(service)
                        .arm(&spec)
                        .await
                        .with_context(|| format!("arming {:?} on {service}", spec.error))?,
                    false,
                ),
            };
            if let Some(serial) = &spec.when.serial
                && looks_sanitized(serial)
                && !report.notes.iter().any(|n| n.contains(serial.as_str()))
            {
                report.notes.push(format!(
                    "armed for serial `{serial}` as the log spells it, which was sanitized: a real appliance's requests \
                     will not match; arm for the real serial with `fortimock scenario arm {} --serial <serial>`",
                    spec.error.as_deref().unwrap_or_default()
                ));
            }
            report.armed.push(Armed {
                exchange: number,
                service: service.to_owned(),
                scenario,
                already,
            });
        }
    }
    if !report.armed.is_empty() {
        report.notes.push(format!(
            "{STAY_ARMED} until cleared (`fortimock scenario clear`) or the lab is reset"
        ));
    }
    Ok(report)
}

/// The report as the CLI prints it.
pub fn render_text(name: &str, report: &ReplayReport) -> String {
    let mut out = String::new();
    let log = &report.log;
    out.push_str(&format!("Replaying {name} against {}.\n", report.lab));
    out.push_str(&format!(
        "Read {} lines: {} exchange{}, {} FortiOS debug lines around them, {}, {}.\n",
        log.lines,
        log.exchanges,
        if log.exchanges == 1 { "" } else { "s" },
        log.context_lines,
        match log.unused.count {
            0 => "every other line used".to_owned(),
            n => format!(
                "{n} line{} not used ({})",
                if n == 1 { "" } else { "s" },
                line_list(&log.unused)
            ),
        },
        match log.problem_count {
            0 => "no unreadable JSON".to_owned(),
            n => format!(
                "{n} unreadable JSON bod{} ({})",
                if n == 1 { "y" } else { "ies" },
                log.problems
                    .iter()
                    .take(5)
                    .map(|p| format!("line {}: {}", p.line, p.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        },
    ));
    for replayed in &report.exchanges {
        out.push('\n');
        render_exchange(&mut out, replayed);
    }
    if let Some(armed) = &report.armed {
        out.push_str("\nArming the captured answers:\n");
        for a in &armed.armed {
            out.push_str(&format!(
                "  {} {} on {} for exchange {}: {}\n",
                if a.already { "already armed:" } else { "armed" },
                a.scenario.id,
                a.service,
                a.exchange,
                crate::scenarios::describe(&a.scenario)
            ));
            if report.after_arming.is_some() {
                out.push_str(&format!(
                    "    fired {} time{} so far\n",
                    a.scenario.fired,
                    if a.scenario.fired == 1 { "" } else { "s" }
                ));
            }
        }
        for n in &armed.not_armable {
            out.push_str(&format!(
                "  not armable, exchange {}: {}\n",
                n.exchange, n.reason
            ));
        }
        for note in &armed.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
    }
    if let Some(after) = &report.after_arming {
        out.push_str("\nReplaying again with the scenarios armed:\n");
        for replayed in after {
            out.push_str(&format!(
                "  {}. {}: {}{}\n",
                replayed.number,
                replayed.kind.describe(),
                error_text(replayed.answer_error.as_ref()),
                match replayed.verdict {
                    Verdict::NotCaptured | Verdict::NotReplayed => String::new(),
                    verdict => format!(", {}", verdict.describe()),
                }
            ));
        }
    }
    out
}

fn line_list(list: &debug_log::LineList) -> String {
    let mut shown: Vec<String> = list.lines.iter().take(20).map(usize::to_string).collect();
    if list.count > shown.len() {
        shown.push("…".to_owned());
    }
    format!(
        "line{} {}",
        if list.count == 1 { "" } else { "s" },
        shown.join(", ")
    )
}

fn error_text(error: Option<&WireError>) -> String {
    match error {
        Some(e) => format!("error {} `{}`", e.error_code, e.error_message),
        None => "no error".to_owned(),
    }
}

fn render_exchange(out: &mut String, r: &Replayed) {
    out.push_str(&format!(
        "{}. {} ({}, line {}){}\n",
        r.number,
        r.kind.describe(),
        r.message_type,
        r.line,
        r.serial
            .as_ref()
            .map(|s| format!(", appliance {s}"))
            .unwrap_or_default()
    ));
    if let (Some(sent_to), Some(status)) = (&r.sent_to, r.status) {
        out.push_str(&format!("   sent to {sent_to}: HTTP {status}\n"));
    }
    if r.captured.is_some() {
        out.push_str(&format!(
            "   captured:  {}\n",
            error_text(r.captured_error.as_ref())
        ));
    }
    if let Some(answer) = &r.answer {
        let summary = match (
            &r.answer_error,
            answer.get("reason").and_then(Value::as_str),
        ) {
            (Some(e), _) => error_text(Some(e)),
            (None, Some(reason)) => format!("`{reason}`"),
            (None, None) => "no error".to_owned(),
        };
        out.push_str(&format!("   fortimock: {summary}\n"));
    }
    out.push_str(&format!("   verdict:   {}\n", r.verdict.describe()));
    if !r.differences.is_empty() {
        out.push_str("   differences (captured → fortimock):\n");
        for d in &r.differences {
            let shown = |v: &Option<Value>| {
                v.as_ref()
                    .map_or_else(|| "(absent)".to_owned(), Value::to_string)
            };
            out.push_str(&format!(
                "     {}: {} → {}{}\n",
                d.path,
                shown(&d.captured),
                shown(&d.fortimock),
                if d.sanitized { "  (sanitized)" } else { "" }
            ));
        }
    }
    for note in &r.notes {
        out.push_str(&format!("   note: {note}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVISION_REQUEST: &str =
        include_str!("../../../fixtures/wire/provision-not-owner.request.json");
    const PROVISION_RESPONSE: &str =
        include_str!("../../../fixtures/wire/provision-not-owner.response.json");
    const MOBILE_REQUEST: &str = include_str!("../../../fixtures/wire/mobile.request.json");
    const MOBILE_RESPONSE: &str =
        include_str!("../../../fixtures/wire/mobile-error40.response.json");
    const LICENSE_LOG: &str =
        include_str!("../../../fixtures/debug-logs/license-import-error16.txt");

    /// A log of one exchange, in the debug sequence dossier 2.2 quotes.
    fn log(request: &str, response: &str) -> DebugLog {
        debug_log::parse(&format!(
            "ftm_fc_comm_send_request[128]:send packet success.\nPOST /SoftToken/Provisioning.asmx/Process HTTP/1.1\n\
             {request}\nftm_fc_comm_recv_response[277]:receive packet success.\n{response}\n"
        ))
    }

    fn one_plan(log: &DebugLog) -> Plan {
        assert_eq!(log.exchanges.len(), 1, "{log:?}");
        plan(&log.exchanges[0])
    }

    #[test]
    fn a_captured_error_17_arms_no_valid_token_for_the_serial() {
        let specs = one_plan(&log(PROVISION_REQUEST, PROVISION_RESPONSE)).unwrap();
        assert_eq!(specs.len(), 1);
        let (service, spec) = &specs[0];
        assert_eq!(*service, "ftm");
        assert_eq!(spec.error.as_deref(), Some("ftm.provision.no-valid-token"));
        assert_eq!(spec.when.serial.as_deref(), Some("FG140E4Q17000494"));
        assert_eq!(
            spec.when.message_type.as_deref(),
            Some("SoftToken.ProvisionRequest")
        );
        assert!(spec.validate(service).is_ok());
    }

    #[test]
    fn a_token_refused_alone_arms_not_owner_for_that_token() {
        let mut response: Value = serde_json::from_str(PROVISION_RESPONSE).unwrap();
        response["d"]["error"] = Value::Null;
        let specs = one_plan(&log(PROVISION_REQUEST, &response.to_string())).unwrap();
        let (service, spec) = &specs[0];
        assert_eq!(spec.error.as_deref(), Some("ftm.provision.not-owner"));
        assert_eq!(spec.when.token.as_deref(), Some("FTKMOB947FDC1754"));
        assert!(spec.validate(service).is_ok());
    }

    #[test]
    fn a_phone_refused_with_error_40_arms_it_for_its_activation_code() {
        let specs = one_plan(&log(MOBILE_REQUEST, MOBILE_RESPONSE)).unwrap();
        let (service, spec) = &specs[0];
        assert_eq!(*service, "ftm");
        assert_eq!(spec.error.as_deref(), Some("ftm.mobile.code-invalid"));
        assert_eq!(
            spec.when.activation_code.as_deref(),
            Some("4ad498cc89189c8c")
        );
        assert_eq!(spec.when.serial, None);
        assert!(spec.validate(service).is_ok());
    }

    #[test]
    fn successes_unknown_errors_and_missing_answers_are_not_armable() {
        let mut success: Value = serde_json::from_str(PROVISION_RESPONSE).unwrap();
        success["d"]["error"] = Value::Null;
        success["d"]["tokens"][0]["error"] = Value::Null;
        let reason = one_plan(&log(PROVISION_REQUEST, &success.to_string())).unwrap_err();
        assert!(reason.contains("a captured success"), "{reason}");

        let mut unknown: Value = serde_json::from_str(PROVISION_RESPONSE).unwrap();
        unknown["d"]["error"] = serde_json::json!({"error_code": 99, "error_message": "what"});
        let reason = one_plan(&log(PROVISION_REQUEST, &unknown.to_string())).unwrap_err();
        assert!(reason.contains("not in fortimock's catalogue"), "{reason}");

        // Error 16's code with another text is not the catalogue's entry.
        let reworded = LICENSE_LOG.replace("activation code invalid", "activation code bad");
        let reason = one_plan(&debug_log::parse(&reworded)).unwrap_err();
        assert!(reason.contains("error 16"), "{reason}");

        let no_answer = debug_log::parse(PROVISION_REQUEST);
        assert!(
            one_plan(&no_answer)
                .unwrap_err()
                .contains("does not show its answer")
        );
    }

    #[test]
    fn a_token_the_customer_was_served_and_the_lab_refuses_is_explained() {
        let mut served: Value = serde_json::from_str(PROVISION_RESPONSE).unwrap();
        served["d"]["error"] = Value::Null;
        served["d"]["tokens"][0]["error"] = Value::Null;
        let log = log(PROVISION_REQUEST, &served.to_string());
        let answer = Answer {
            sent_to: "ftm POST /SoftToken/Provisioning.asmx/Process".into(),
            status: 200,
            body: serde_json::from_str(PROVISION_RESPONSE).unwrap(),
        };
        let replayed = compare(1, &log.exchanges[0], Some(Ok(answer)));
        assert_eq!(replayed.verdict, Verdict::Differs);
        assert!(
            replayed.notes.iter().any(|n| n.contains(
                "fortimock's lab does not have `FTKMOB947FDC1754` on appliance `FG140E4Q17000494`"
            )),
            "{:?}",
            replayed.notes
        );
    }

    #[test]
    fn output_never_shows_a_captured_seed() {
        let log = log(PROVISION_REQUEST, PROVISION_RESPONSE);
        let exchange = &log.exchanges[0];
        let answer = Answer {
            sent_to: "ftm POST /SoftToken/Provisioning.asmx/Process".into(),
            status: 200,
            body: serde_json::from_str(PROVISION_RESPONSE).unwrap(),
        };
        let replayed = compare(1, exchange, Some(Ok(answer)));
        assert_eq!(replayed.verdict, Verdict::Identical);
        let report = ReplayReport {
            lab: "test".into(),
            log: LogSummary::of(&log),
            exchanges: vec![replayed],
            armed: None,
            after_arming: None,
        };
        let seed = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";
        assert!(PROVISION_REQUEST.contains(seed));
        assert!(!render_text("log", &report).contains(seed));
        assert!(!serde_json::to_string(&report).unwrap().contains(seed));
        assert!(!format!("{log:?}").contains(seed));
    }
}
