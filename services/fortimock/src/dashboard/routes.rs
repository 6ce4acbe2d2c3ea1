//! The dashboard's handlers: the page (or the login form), login and logout, the live journal as
//! server-sent events, the page's own script and style, state export and import, and the pass-through the
//! page's actions call, which forwards to the services' guarded APIs with the browser's admin token.

use lab::api::Api;
use lab::flow::InFlow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION, SET_COOKIE,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use lab::http::{ApiError, read_body};
use protocol::paths;
use protocol::state::Bundle;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::DashboardError;
use super::lab_view::{self, CLOUD};
use super::session::{self, ACTION_HEADER};
use super::{Dashboard, page};
use crate::client::SuiteClient;

/// The page's script and style, compiled into the binary: the dashboard needs nothing from the internet.
const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");

/// What a page may load and where its forms may go: the dashboard itself, nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// The largest body an action forwards (state import has its own route and limit).
const PASS_THROUGH_LIMIT: usize = 1024 * 1024;

/// How often the live journal asks the services for new entries.
const JOURNAL_POLL: Duration = Duration::from_millis(500);

/// A comment line on the event stream after this many quiet polls, so a closed browser is noticed.
const KEEP_ALIVE_POLLS: u32 = 30;

pub(super) fn configure(api: &mut Api<'_>) {
    api.route(__path_home, home)
        .route(__path_login_form, login_form)
        .route(__path_login, login)
        .route(__path_logout, logout)
        .route(__path_events, events)
        .route(__path_timeline, timeline)
        .route(__path_script, script)
        .route(__path_style, style)
        .route(__path_export_state, export_state)
        .route(__path_import_state, import_state)
        .route(__path_pass_through, pass_through);
}

/// The client for this request (with the token the browser presented) and the lab clock, read through a
/// guarded route: the services' guard is the dashboard's only check.
pub(super) async fn session(
    dashboard: &Dashboard,
    request: &HttpRequest,
) -> Result<(SuiteClient, Value), DashboardError> {
    let token = session::presented_token(request);
    let client = dashboard.suite.clone().with_admin_token(token.as_deref());
    let url = format!(
        "{}{}",
        dashboard
            .suite
            .url(ftm::NAME)
            .map_err(|e| DashboardError::Unavailable(e.to_string()))?,
        paths::ADMIN_CLOCK
    );
    let probe = dashboard.http.get(&url);
    let probe = match &token {
        Some(token) => probe.bearer_auth(token),
        None => probe,
    };
    let response = probe
        .send()
        .await
        .map_err(|e| DashboardError::Unavailable(format!("cannot reach ftm at {url}: {e}")))?;
    match response.status().as_u16() {
        401 => Err(DashboardError::NeedsToken),
        200..=299 => {
            let clock = response
                .json::<Value>()
                .await
                .map_err(|e| DashboardError::Unavailable(format!("reading the lab clock: {e}")))?;
            Ok((client, clock))
        }
        status => Err(DashboardError::Unavailable(format!(
            "ftm answered {status} for the lab clock"
        ))),
    }
}

/// A page: HTML, never cached (it shows codes), loading nothing from elsewhere.
pub(super) fn html(status: StatusCode, markup: maud::Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("content-security-policy", CONTENT_SECURITY_POLICY))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        .body(markup.into_string())
}

#[utoipa::path(get, path = paths::UI_HOME, tag = "dashboard", responses((status = "2XX", description = "The dashboard page.")))]
async fn home(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
) -> Result<HttpResponse, DashboardError> {
    let (client, clock) = session(&dashboard, &request).await?;
    let view = lab_view::gather(&client, clock).await;
    Ok(html(StatusCode::OK, page::dashboard(&view)))
}

/// `GET /timeline?flow=`: which flow the timeline view draws (default: the newest).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TimelineChoice {
    flow: Option<String>,
}

#[utoipa::path(get, path = paths::UI_TIMELINE, tag = "dashboard", params(TimelineChoice), responses((status = "2XX", description = "The timeline view: the flows, and one drawn as a sequence diagram.")))]
async fn timeline(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
    choice: lab::http::Query<TimelineChoice>,
) -> Result<HttpResponse, DashboardError> {
    let (client, clock) = session(&dashboard, &request).await?;
    let page = client
        .control(ftm::NAME)
        .timeline(&fortimock_testing::TimelineFilter {
            flows: true,
            ..fortimock_testing::TimelineFilter::default()
        })
        .await
        .map_err(|e| format!("{e:#}"));
    Ok(html(
        StatusCode::OK,
        page::timeline(&clock, &page, choice.flow.as_deref()),
    ))
}

#[utoipa::path(get, path = paths::UI_LOGIN, tag = "dashboard", responses((status = "2XX", description = "The login form (asks for the admin token).")))]
async fn login_form() -> HttpResponse {
    html(StatusCode::OK, page::login(None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

/// Keeps the token in a cookie once the services accept it.
#[utoipa::path(post, path = paths::UI_LOGIN, tag = "dashboard", responses((status = "2XX", description = "Keeps the token in a cookie once the services accept it.")))]
async fn login(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, DashboardError> {
    let body = read_body(&request, payload.into_inner(), 4096)
        .await
        .map_err(ApiError::from)?;
    let form: LoginForm = serde_urlencoded::from_bytes(&body).map_err(|e| {
        ApiError::bad_request("dashboard.login.form", format!("the login form: {e}"))
    })?;
    let token = form.token.trim().to_owned();
    let client = dashboard.suite.clone().with_admin_token(Some(&token));
    match client.control(ftm::NAME).clock().await {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((SET_COOKIE, session::set_cookie(&token, dashboard.secure)))
            .insert_header((LOCATION, paths::UI_HOME))
            .finish()),
        Err(_) => Ok(html(
            StatusCode::UNAUTHORIZED,
            page::login(Some("The services refused this token.")),
        )),
    }
}

#[utoipa::path(post, path = paths::UI_LOGOUT, tag = "dashboard", responses((status = "2XX", description = "Forgets the token's cookie.")))]
async fn logout(dashboard: web::Data<Dashboard>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((SET_COOKIE, session::clear_cookie(dashboard.secure)))
        .insert_header((LOCATION, paths::UI_LOGIN))
        .finish()
}

#[utoipa::path(get, path = paths::UI_SCRIPT, tag = "dashboard", responses((status = "2XX", description = "The dashboard's script.")))]
async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

#[utoipa::path(get, path = paths::UI_STYLE, tag = "dashboard", responses((status = "2XX", description = "The dashboard's style sheet.")))]
async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &str, text: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(text)
}

/// An action's request must carry [`ACTION_HEADER`] (only the page's own script sends it).
pub(super) fn require_action_header(request: &HttpRequest) -> Result<(), DashboardError> {
    if request.headers().contains_key(ACTION_HEADER) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "dashboard.not-from-the-page",
        format!("the dashboard's actions are sent by its page, with the `{ACTION_HEADER}` header"),
    )
    .into())
}

/// The state bundle `fortimock state export` writes, as a download.
#[utoipa::path(get, path = paths::UI_STATE_EXPORT, tag = "dashboard", responses((status = "2XX", description = "The state bundle `fortimock state export` writes, as a download.")))]
async fn export_state(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
) -> Result<HttpResponse, DashboardError> {
    let (client, _) = session(&dashboard, &request).await?;
    let bundle = crate::state::export_bundle(&client)
        .await
        .map_err(|e| DashboardError::Unavailable(format!("{e:#}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"fortimock-state.json\"",
        ))
        .json(bundle))
}

/// A state bundle imported as `fortimock state import` does: every service checks its part first.
#[utoipa::path(post, path = paths::UI_STATE_IMPORT, tag = "dashboard", responses((status = "2XX", description = "A state bundle imported as `fortimock state import` does: every service checks its part first.")))]
async fn import_state(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, DashboardError> {
    require_action_header(&request)?;
    let body = read_body(&request, payload.into_inner(), lab::state::MAX_STATE_BYTES)
        .await
        .map_err(ApiError::from)?;
    let bundle: Bundle = protocol::strict::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "dashboard.state.not-a-bundle",
            format!("not a fortimock state bundle: {e}"),
        )
    })?;
    let (client, _) = session(&dashboard, &request).await.map_err(|e| match e {
        DashboardError::NeedsToken => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "admin.unauthorized",
            "the admin token is missing or refused",
        ),
        other => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "dashboard.unavailable",
            other.to_string(),
        ),
    })?;
    let (imported, clock) = crate::state::import_bundle(&client, &bundle)
        .await
        .map_err(|e| ApiError::bad_request("dashboard.state.refused", format!("{e:#}")))?;
    Ok(HttpResponse::Ok().json(json!({ "imported": imported, "clock": clock })))
}

/// The services' APIs the page's actions may reach: the control plane and the simulators' APIs, all of them
/// behind the services' admin-token guard.
fn may_pass(tail: &str) -> bool {
    let admin = paths::ADMIN.trim_start_matches('/');
    let phones = paths::PHONES.trim_start_matches('/');
    let appliances = paths::APPLIANCES.trim_start_matches('/');
    tail.starts_with(&format!("{admin}/"))
        || [phones, appliances]
            .iter()
            .any(|prefix| tail == *prefix || tail.starts_with(&format!("{prefix}/")))
}

/// Forwards an action to `service`'s API with the browser's admin token; the service's answer comes back
/// as it is (status, type and body).
#[utoipa::path(method(get, post, put, patch, delete), path = paths::UI_API, tag = "dashboard", params(("service" = String, Path, description = "The service the call goes to."), ("tail" = String, Path, description = "The path under it.")), responses((status = "2XX", description = "Forwards an action to `service`'s API with the browser's admin token; the service's answer comes back as it is (status, type and body).")))]
async fn pass_through(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
    payload: web::Payload,
    target: web::Path<(String, String)>,
) -> Result<HttpResponse, DashboardError> {
    let (service, tail) = target.into_inner();
    if request.method() != Method::GET && request.method() != Method::HEAD {
        require_action_header(&request)?;
    }
    let base = dashboard.suite.url(&service).map_err(|_| {
        ApiError::not_found(
            "dashboard.no-such-service",
            format!("there is no {service} service in this suite"),
        )
    })?;
    // Forwarded as it came, still percent-encoded; both spellings must be a path that may pass.
    let raw_tail = request
        .uri()
        .path()
        .splitn(4, '/')
        .nth(3)
        .unwrap_or_default()
        .to_owned();
    if !may_pass(&tail) || !may_pass(&raw_tail) {
        return Err(ApiError::not_found(
            "dashboard.not-passed",
            format!("the dashboard forwards only /__admin, /phones and /appliances, not /{tail}"),
        )
        .into());
    }
    let body = read_body(&request, payload.into_inner(), PASS_THROUGH_LIMIT)
        .await
        .map_err(ApiError::from)?;
    let mut url = format!("{base}/{raw_tail}");
    if !request.query_string().is_empty() {
        url.push('?');
        url.push_str(request.query_string());
    }
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
        .map_err(|e| ApiError::bad_request("dashboard.method", e.to_string()))?;
    let mut forwarded = dashboard
        .http
        .request(method, &url)
        .in_flow()
        .body(body.to_vec());
    if let Some(token) = session::presented_token(&request) {
        forwarded = forwarded.bearer_auth(token);
    }
    if let Some(content_type) = request.headers().get(CONTENT_TYPE) {
        forwarded = forwarded.header(reqwest::header::CONTENT_TYPE, content_type.as_bytes());
    }
    let answer = forwarded.send().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "dashboard.unreachable",
            format!("cannot reach {service}: {e}"),
        )
    })?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = answer.bytes().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "dashboard.unreachable",
            format!("reading {service}'s answer: {e}"),
        )
    })?;
    let mut response = HttpResponse::build(status);
    response.insert_header((CACHE_CONTROL, "no-store"));
    if let Some(content_type) = content_type {
        response.insert_header((CONTENT_TYPE, content_type));
    }
    Ok(response.body(bytes))
}

/// The journal live: every new entry of forticare, ftm and the relay as a server-sent `journal` event
/// (JSON, redacted as the journal keeps it, with its `service`).
#[utoipa::path(get, path = paths::UI_EVENTS, tag = "dashboard", responses((status = "2XX", description = "The journal live: every new entry of forticare, ftm and the relay as a server-sent `journal` event (JSON, redacted as the journal keeps it, with its `service`).")))]
async fn events(
    dashboard: web::Data<Dashboard>,
    request: HttpRequest,
) -> Result<HttpResponse, DashboardError> {
    let (client, _) = session(&dashboard, &request).await?;
    let mut after = [0u64; CLOUD.len()];
    for (at, service) in CLOUD.iter().enumerate() {
        let path = format!("{}?limit=1", paths::ADMIN_JOURNAL);
        if let Ok(Some(last)) = lab_view::list(&client, service, &path, "entries")
            .await
            .map(|entries| {
                entries
                    .last()
                    .and_then(|e| e.get("seq"))
                    .and_then(Value::as_u64)
            })
        {
            after[at] = last;
        }
    }
    let mut poll = tokio::time::interval(JOURNAL_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let follow = Follow {
        client,
        after,
        poll,
        pending: VecDeque::from([Bytes::from_static(b"retry: 2000\n\n")]),
        quiet: 0,
    };
    let stream = futures_util::stream::unfold(follow, |mut follow| async move {
        let next = follow.next().await;
        Some((Ok::<Bytes, Infallible>(next), follow))
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .streaming(stream))
}

/// Where the live journal stands: the last `seq` sent of each service, and events not yet sent.
struct Follow {
    client: SuiteClient,
    after: [u64; CLOUD.len()],
    poll: tokio::time::Interval,
    pending: VecDeque<Bytes>,
    quiet: u32,
}

impl Follow {
    /// The next chunk of the stream: an event, or a keep-alive comment after a quiet while.
    async fn next(&mut self) -> Bytes {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return chunk;
            }
            self.poll.tick().await;
            for (at, service) in CLOUD.iter().enumerate() {
                let path = format!("{}?after={}", paths::ADMIN_JOURNAL, self.after[at]);
                let Ok(entries) = lab_view::list(&self.client, service, &path, "entries").await
                else {
                    continue;
                };
                for entry in entries {
                    if let Some(seq) = entry.get("seq").and_then(Value::as_u64) {
                        self.after[at] = self.after[at].max(seq);
                    }
                    let entry = lab_view::with_service(entry, service);
                    self.pending
                        .push_back(Bytes::from(format!("event: journal\ndata: {entry}\n\n")));
                }
            }
            if self.pending.is_empty() {
                self.quiet += 1;
                if self.quiet >= KEEP_ALIVE_POLLS {
                    self.quiet = 0;
                    return Bytes::from_static(b": still here\n\n");
                }
            } else {
                self.quiet = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_guarded_apis_are_forwarded() {
        assert!(may_pass("__admin/scenarios"));
        assert!(may_pass("__admin/scenarios/s1"));
        assert!(may_pass("phones"));
        assert!(may_pass("phones/phone-1/otp"));
        assert!(may_pass("appliances/FGVM1/import"));
        assert!(!may_pass("__admin"));
        assert!(!may_pass("SoftToken/Provisioning.asmx/Process"));
        assert!(!may_pass("phonesx"));
        assert!(!may_pass("api/v1/push"));
    }
}
