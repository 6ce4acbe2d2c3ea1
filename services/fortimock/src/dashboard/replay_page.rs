//! The dashboard's replay page (`/replay`): paste a customer's FortiOS debug log, see each request it holds,
//! fortimock's answer next to the captured one and where they differ, and arm the captured errors as
//! scenarios. It runs `crate::replay` (what `fortimock replay` runs) with the browser's token: the requests
//! go to the services' own endpoints, the scenarios through their guarded `/__admin/scenarios`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use lab::api::Api;
use lab::http::{ApiError, read_body};
use maud::{Markup, html};
use protocol::debug_log::DebugLog;
use protocol::paths;
use serde::Deserialize;
use serde_json::Value;

use super::Dashboard;
use super::error::DashboardError;
use super::routes::{html as html_page, require_action_header, session};
use crate::replay::{self, ReplayReport, Replayed, Verdict};

/// The page's script, compiled into the binary.
const SCRIPT: &str = include_str!("assets/replay.js");

/// The largest log the page takes (a paste, not a day of debug output: `fortimock replay` takes more).
const MAX_PASTE_BYTES: usize = 8 * 1024 * 1024;

pub(super) fn configure(api: &mut Api<'_>) {
    api.route(__path_replay_form, replay_form)
        .route(__path_replay_run, replay_run)
        .route(__path_replay_script, replay_script);
}

/// The form, with nothing replayed yet.
#[utoipa::path(get, path = paths::UI_REPLAY, tag = "dashboard", responses((status = "2XX", description = "The replay page: a form to paste a FortiOS debug log.")))]
async fn replay_form(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
) -> Result<HttpResponse, DashboardError> {
    session(&dashboard, &request).await?;
    Ok(html_page(StatusCode::OK, page()))
}

/// What the page's script posts: the pasted log, and whether to arm its captured errors.
#[derive(Deserialize)]
struct ReplayForm {
    log: String,
    #[serde(default)]
    arm: bool,
}

/// Replays the pasted log (and arms with `arm`); answers the result section as HTML.
#[utoipa::path(post, path = paths::UI_REPLAY, tag = "dashboard", responses((status = "2XX", description = "Replays the pasted log (and arms its captured errors with `arm`); answers the result section as HTML.")))]
async fn replay_run(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, DashboardError> {
    require_action_header(&request)?;
    let body = read_body(&request, payload.into_inner(), MAX_PASTE_BYTES)
        .await
        .map_err(ApiError::from)?;
    let form: ReplayForm = protocol::strict::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "dashboard.replay.form",
            format!("expected {{\"log\": \"…\", \"arm\": false}}: {e}"),
        )
    })?;
    let (client, _) = session(&dashboard, &request).await?;
    let log = match replay::parse_or_explain("the pasted log", &form.log) {
        Ok(log) => log,
        Err(reason) => {
            return Ok(fragment(
                StatusCode::BAD_REQUEST,
                refused(&format!("{reason:#}")),
            ));
        }
    };
    match replay::replay_and_arm(&client, &log, "this lab".to_owned(), form.arm).await {
        Ok(report) => Ok(fragment(StatusCode::OK, result(&log, &report))),
        Err(e) => Ok(fragment(
            StatusCode::BAD_GATEWAY,
            refused(&format!("{e:#}")),
        )),
    }
}

#[utoipa::path(get, path = paths::UI_REPLAY_SCRIPT, tag = "dashboard", responses((status = "2XX", description = "The replay page's script.")))]
async fn replay_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(SCRIPT)
}

fn fragment(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(markup.into_string())
}

fn page() -> Markup {
    super::page::document_with_script(
        "fortimock: replay a debug log",
        paths::UI_REPLAY_SCRIPT,
        html! {
            header {
                h1 { "fortimock" }
                a class="button" href=(paths::UI_HOME) { "Back to the lab" }
            }
            main id="replay" data-url=(paths::UI_REPLAY) {
                h2 { "Replay a customer's debug log" }
                p {
                    "Paste FortiOS debug output (" code { "diag debug app forticldd -1" } ", "
                    code { "diag fortitoken debug enable" } ", " code { "diagnose debug application ftm-push -1" }
                    "). Each request in it is sent to this lab as the appliance sent it, and the lab's answer is shown next to the captured one. The same as "
                    code { "fortimock replay FILE" } "."
                }
                textarea id="log" name="log" rows="16" cols="120" spellcheck="false" aria-label="debug log" {}
                p {
                    button type="button" data-replay="replay" { "Replay" }
                }
                (empty_result())
            }
        },
    )
}

fn empty_result() -> Markup {
    html! {
        section id="replay-result" {
            p class="empty" { "Nothing replayed yet." }
        }
    }
}

fn refused(reason: &str) -> Markup {
    html! {
        section id="replay-result" data-outcome="refused" {
            p class="error" { (reason) }
            p class="muted" { "Nothing was sent and nothing was armed." }
        }
    }
}

fn result(log: &DebugLog, report: &ReplayReport) -> Markup {
    let plans: Vec<(usize, replay::Plan)> = log
        .exchanges
        .iter()
        .enumerate()
        .map(|(at, exchange)| (at + 1, replay::plan(exchange)))
        .collect();
    let armable = plans.iter().any(|(_, plan)| plan.is_ok());
    let summary = &report.log;
    html! {
        section id="replay-result" data-outcome="replayed" {
            p {
                (summary.lines) " lines: " (summary.exchanges) " exchange(s), "
                (summary.context_lines) " FortiOS debug lines around them, "
                (summary.unused.count) " not used"
                @if !summary.unused.lines.is_empty() {
                    " (lines " (summary.unused.lines.iter().take(20).map(usize::to_string).collect::<Vec<_>>().join(", "))
                    @if summary.unused.count > 20 { ", …" }
                    ")"
                }
                ", " (summary.problem_count) " unreadable JSON bodies."
            }
            @if !summary.problems.is_empty() {
                ul class="problems" {
                    @for problem in &summary.problems {
                        li class="error" { "Lines " (problem.line) "–" (problem.end_line) ": " (problem.reason) }
                    }
                }
            }
            @for replayed in &report.exchanges {
                (exchange(replayed))
            }
            @if let Some(armed) = &report.armed {
                h3 { "Armed" }
                ul id="armed" {
                    @for a in &armed.armed {
                        li data-scenario=(a.scenario.id) {
                            @if a.already { "Already armed: " } @else { "Armed " }
                            strong { (a.scenario.id) } " on " (a.service) " for exchange " (a.exchange) ": "
                            (crate::scenarios::describe(&a.scenario))
                            " (fired " (a.scenario.fired) " time(s) on the replay below)"
                        }
                    }
                    @for n in &armed.not_armable {
                        li class="muted" { "Not armable, exchange " (n.exchange) ": " (n.reason) }
                    }
                }
                @for note in &armed.notes { p class="muted" { (note) } }
            } @else {
                h3 { "Arm the captured answers" }
                ul {
                    @for (number, plan) in &plans {
                        @match plan {
                            Ok(specs) => @for (service, spec) in specs {
                                li { "Exchange " (number) ": " code { (spec.error.as_deref().unwrap_or_default()) } " on " (service)
                                    @if let Some(serial) = &spec.when.serial { " for serial " code { (serial) } } }
                            },
                            Err(reason) => li class="muted" { "Exchange " (number) ", not armable: " (reason) },
                        }
                    }
                }
                @if armable {
                    button type="button" data-replay="arm" { "Arm these, then replay again" }
                }
            }
            @if let Some(after) = &report.after_arming {
                h3 { "Replayed again with the scenarios armed" }
                @for replayed in after { (exchange(replayed)) }
            }
        }
    }
}

fn error_text(error: Option<&protocol::catalogue::WireError>) -> String {
    match error {
        Some(e) => format!("error {} `{}`", e.error_code, e.error_message),
        None => "no error".to_owned(),
    }
}

fn exchange(r: &Replayed) -> Markup {
    let verdict_class = match r.verdict {
        Verdict::Identical | Verdict::Matches => "ok",
        Verdict::Differs => "error",
        _ => "muted",
    };
    html! {
        article class="exchange" data-number=(r.number) data-verdict=(serde_json::to_value(r.verdict).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()) {
            h3 {
                (r.number) ". " (r.kind.describe()) " "
                span class="muted" { (r.message_type) ", line " (r.line) }
                @if let Some(serial) = &r.serial { " appliance " code { (serial) } }
            }
            @if let (Some(sent_to), Some(status)) = (&r.sent_to, r.status) {
                p { "Sent to " code { (sent_to) } ": HTTP " (status) }
            }
            table {
                tr { th { "" } th { "captured" } th { "fortimock" } }
                tr {
                    th { "error" }
                    td { @if r.captured.is_some() { (error_text(r.captured_error.as_ref())) } @else { span class="muted" { "not in the log" } } }
                    td { @if r.answer.is_some() { (error_text(r.answer_error.as_ref())) } @else { span class="muted" { "not sent" } } }
                }
            }
            p class=(verdict_class) { strong { (r.verdict.describe()) } }
            @if !r.differences.is_empty() {
                table class="differences" {
                    tr { th { "field" } th { "captured" } th { "fortimock" } th { "" } }
                    @for d in &r.differences {
                        tr {
                            td { code { (d.path) } }
                            td { code { (shown(d.captured.as_ref())) } }
                            td { code { (shown(d.fortimock.as_ref())) } }
                            td { @if d.sanitized { span class="badge" { "sanitized in the capture" } } }
                        }
                    }
                }
            }
            @if !r.notes.is_empty() {
                ul class="notes" { @for note in &r.notes { li { (note) } } }
            }
            details {
                summary { "Bodies (secrets redacted)" }
                @if let Some(request) = &r.request { h4 { "Captured request" } pre { (pretty(request)) } }
                @if let Some(captured) = &r.captured { h4 { "Captured answer" } pre { (pretty(captured)) } }
                @if let Some(answer) = &r.answer { h4 { "fortimock's answer" } pre { (pretty(answer)) } }
            }
        }
    }
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), Value::to_string)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
