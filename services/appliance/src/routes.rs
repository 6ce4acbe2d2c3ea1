//! The virtual appliance's HTTP API: create appliances, then run FortiOS's FortiToken operations on them.
//! Every route is under `/appliances`; errors are `ErrorBody` (or `OperationFailure` when the cloud refused).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use lab::admin::error;
use lab::clock::Clock;
use protocol::appliance::{
    ApplianceList, ApplianceMode, ApplianceSettings, ApplianceView, DebugLog, FtmPushChange,
    FtmPushSettings, ImportOutcome, ImportRequest, LoginRequest, LoginResult, NewAppliance,
    OperationFailure, PollOutcome, ProvisionOutcome, ProvisionTokenRequest, ServerCert,
    SettingsChange,
};
use protocol::id::ApplianceSerial;
use rand::Rng;
use serde::Deserialize;

use crate::fortitoken::{Appliance, FtmPush};
use crate::ftm_push::{self, PushContext};
use crate::operations::{OpError, Ops};
use crate::store::Store;

/// What every handler shares.
pub(crate) struct Appliances {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) http: reqwest::Client,
    /// The FortiToken server new appliances talk to unless told otherwise.
    pub(crate) default_ftm_url: String,
    /// The push relay new appliances send pushes to unless told otherwise.
    pub(crate) default_push_url: String,
    /// The address pushes tell phones to answer at unless told otherwise (the service's own).
    pub(crate) default_push_server: String,
    /// Push sessions and ftm-push listeners.
    pub(crate) push: Arc<PushContext>,
    debug: Mutex<HashMap<ApplianceSerial, VecDeque<String>>>,
}

/// Debug lines kept per appliance for `GET /appliances/{serial}/debug`.
const DEBUG_LINES: usize = 2000;

impl Appliances {
    pub(crate) fn new(
        push: Arc<PushContext>,
        default_ftm_url: String,
        default_push_url: String,
    ) -> Appliances {
        let default_push_server = match push.bind {
            IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
            IpAddr::V6(ip) if ip.is_unspecified() => "::1".to_owned(),
            ip => ip.to_string(),
        };
        Appliances {
            store: push.store.clone(),
            clock: push.clock.clone(),
            http: push.http.clone(),
            default_ftm_url,
            default_push_url,
            default_push_server,
            push,
            debug: Mutex::new(HashMap::new()),
        }
    }

    fn ops(&self) -> Ops<'_> {
        Ops {
            store: &self.store,
            http: &self.http,
            clock: &self.clock,
        }
    }

    fn record_debug(&self, appliance: &ApplianceSerial, lines: &[String]) {
        let mut debug = self.debug.lock().unwrap_or_else(PoisonError::into_inner);
        let ring = debug.entry(appliance.clone()).or_default();
        ring.extend(lines.iter().cloned());
        while ring.len() > DEBUG_LINES {
            ring.pop_front();
        }
    }

    async fn view(&self, appliance: &Appliance) -> anyhow::Result<ApplianceView> {
        let now = self.clock.now();
        let push = &appliance.push;
        let ftm_push = FtmPushSettings {
            status: push.status,
            server: push.server.clone(),
            server_port: push.server_port,
            server_cert: push.server_cert,
            reachable: push.reachable,
            relay_url: push.relay_url.clone(),
            timeout_secs: push.timeout_secs,
            listening_port: self.push.listeners.port(&appliance.serial).await,
        };
        Ok(ApplianceView {
            ftm_push,
            serial: appliance.serial.clone(),
            peers: appliance.peers.clone(),
            vdom: appliance.vdom.clone(),
            mode: appliance.mode,
            version: appliance.version.clone(),
            build: appliance.build.clone(),
            ftm_url: appliance.ftm_url.clone(),
            settings: appliance.settings,
            tokens: self
                .store
                .tokens(&appliance.serial)?
                .iter()
                .map(|t| t.view(now))
                .collect(),
            users: self
                .store
                .users(&appliance.serial)?
                .iter()
                .map(|u| u.view(now))
                .collect(),
        })
    }
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: web::Data<Appliances>) {
    cfg.app_data(state)
        .route("/__admin/reset", web::post().to(reset))
        .service(lab::state::resource(export_state, import_state))
        .route("/appliances", web::post().to(create))
        .route("/appliances", web::get().to(list))
        .route("/appliances/{serial}", web::get().to(show))
        .route(
            "/appliances/{serial}/settings",
            web::patch().to(change_settings),
        )
        .route(
            "/appliances/{serial}/ftm-push",
            web::patch().to(change_ftm_push),
        )
        .route("/appliances/{serial}/import", web::post().to(import))
        .route("/appliances/{serial}/provision", web::post().to(provision))
        .route("/appliances/{serial}/renew", web::post().to(renew))
        .route("/appliances/{serial}/poll", web::post().to(poll))
        .route("/appliances/{serial}/login", web::post().to(login))
        .route(
            "/appliances/{serial}/users/{user}/unlock",
            web::post().to(unlock),
        )
        .route("/appliances/{serial}/debug", web::get().to(debug_log));
}

/// `GET /__admin/state`.
async fn export_state(state: web::Data<Appliances>, request: HttpRequest) -> HttpResponse {
    lab::state::export(&request, &state.store)
}

/// `PUT /__admin/state`: the appliances replaced, their ftm-push listeners started again.
async fn import_state(
    state: web::Data<Appliances>,
    request: HttpRequest,
    body: web::Json<protocol::state::ServiceState>,
) -> HttpResponse {
    let prepared = match lab::state::begin_import(&request, &state.store, body.into_inner()) {
        ControlFlow::Continue(prepared) => prepared,
        ControlFlow::Break(answer) => return answer,
    };
    match ftm_push::import_state(&state.push, prepared).await {
        Ok(imported) => {
            state
                .debug
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            HttpResponse::Ok().json(imported)
        }
        Err(refusal) => refusal.response(),
    }
}

/// `POST /__admin/reset`: every appliance gone, with its listener, push sessions and debug lines (the seal
/// key stays).
async fn reset(state: web::Data<Appliances>, request: HttpRequest) -> HttpResponse {
    match ftm_push::reset(&state.push).await {
        Ok(removed) => {
            state
                .debug
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            lab::admin::reset_done(&request, removed, 0)
        }
        Err(e) => lab::admin::internal(&e),
    }
}

/// `?debug=true`: include the operation's FortiOS debug lines in the answer.
#[derive(Deserialize)]
struct DebugQuery {
    #[serde(default)]
    debug: bool,
}

fn op_error(e: OpError) -> HttpResponse {
    match e {
        OpError::BadRequest(message) => {
            error(StatusCode::BAD_REQUEST, "appliance.bad-request", message)
        }
        OpError::NotFound(message) => error(StatusCode::NOT_FOUND, "appliance.not-found", message),
        OpError::Conflict(message) => error(StatusCode::CONFLICT, "appliance.conflict", message),
        OpError::Cloud { status, failure } => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY))
                .json(failure)
        }
        OpError::Internal(e) => lab::admin::internal(&e),
    }
}

/// The appliance a path names.
fn find(state: &Appliances, serial: &str) -> Result<Appliance, OpError> {
    let serial: ApplianceSerial = serial
        .parse()
        .map_err(|e: protocol::id::IdError| OpError::BadRequest(e.to_string()))?;
    state
        .store
        .appliance(&serial)?
        .ok_or_else(|| OpError::NotFound(format!("no appliance {serial}")))
}

/// Applies `change` to `settings`, checking each value against the range FortiOS / FortiAuthenticator allow.
fn apply_settings(
    mut settings: ApplianceSettings,
    change: &SettingsChange,
) -> Result<ApplianceSettings, String> {
    fn within(
        name: &str,
        value: Option<u32>,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Option<u32>, String> {
        match value {
            Some(v) if !range.contains(&v) => Err(format!(
                "{name} {v} is not between {} and {}",
                range.start(),
                range.end()
            )),
            other => Ok(other),
        }
    }
    if let Some(v) = within(
        "activation_expiry_minutes",
        change.activation_expiry_minutes,
        1..=10_080,
    )? {
        settings.activation_expiry_minutes = v;
    }
    if let Some(v) = within("period", change.period, 1..=3600)? {
        settings.period = v;
    }
    if let Some(v) = change.digits {
        if !matches!(v, 6 | 8) {
            return Err(format!("digits {v} is neither 6 nor 8"));
        }
        settings.digits = v;
    }
    if let Some(v) = within("totp_window_secs", change.totp_window_secs, 0..=3600)? {
        settings.totp_window_secs = v;
    }
    if let Some(v) = within(
        "totp_sync_window_secs",
        change.totp_sync_window_secs,
        0..=28_800,
    )? {
        settings.totp_sync_window_secs = v;
    }
    if let Some(v) = within("lockout_threshold", change.lockout_threshold, 0..=100)? {
        settings.lockout_threshold = v;
    }
    if let Some(v) = within("lockout_secs", change.lockout_secs, 0..=86_400)? {
        settings.lockout_secs = v;
    }
    Ok(settings)
}

/// A short identifier-like text (vdom, version, build), or why it is not one.
fn short_text(
    name: &str,
    value: Option<&String>,
    default: &str,
    max: usize,
) -> Result<String, String> {
    let value = value.map_or(default, |v| v.trim());
    if value.is_empty()
        || value.len() > max
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(format!(
            "{name} `{value}` must be 1 to {max} letters, digits, dots, dashes or underscores"
        ));
    }
    Ok(value.to_owned())
}

async fn create(state: web::Data<Appliances>, new: web::Json<NewAppliance>) -> HttpResponse {
    let mode = new.mode.unwrap_or(ApplianceMode::Fortigate);
    let settings = match apply_settings(
        ApplianceSettings::defaults(mode),
        &new.settings.clone().unwrap_or_default(),
    ) {
        Ok(settings) => settings,
        Err(message) => return error(StatusCode::BAD_REQUEST, "appliance.bad-settings", message),
    };
    let fields = short_text("vdom", new.vdom.as_ref(), "root", 31).and_then(|vdom| {
        Ok((
            vdom,
            short_text("version", new.version.as_ref(), "7.4", 16)?,
            short_text("build", new.build.as_ref(), "2829", 16)?,
        ))
    });
    let (vdom, version, build) = match fields {
        Ok(fields) => fields,
        Err(message) => return error(StatusCode::BAD_REQUEST, "appliance.bad-request", message),
    };
    let ftm_url = new
        .ftm_url
        .clone()
        .unwrap_or_else(|| state.default_ftm_url.clone());
    if !(ftm_url.starts_with("https://") || ftm_url.starts_with("http://")) {
        return error(
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            format!("ftm_url `{ftm_url}` is not an http(s) URL"),
        );
    }
    let default_push = FtmPush {
        status: false,
        server: state.default_push_server.clone(),
        server_port: 4433,
        server_cert: ServerCert::Lab,
        reachable: true,
        relay_url: state.default_push_url.clone(),
        timeout_secs: 60,
    };
    let push = match apply_push_change(default_push, &new.ftm_push.clone().unwrap_or_default()) {
        Ok(push) => push,
        Err(message) => return error(StatusCode::BAD_REQUEST, "appliance.bad-ftm-push", message),
    };
    let serial = match new.serial.clone().map_or_else(|| random_serial(mode), Ok) {
        Ok(serial) => serial,
        Err(e) => return lab::admin::internal(&anyhow::anyhow!(e)),
    };
    let appliance = Appliance {
        peers: new
            .peers
            .iter()
            .filter(|p| **p != serial)
            .cloned()
            .collect(),
        serial,
        vdom,
        mode,
        version,
        build,
        ftm_url: ftm_url.trim_end_matches('/').to_owned(),
        settings,
        push,
    };
    match state.store.create(&appliance).await {
        Ok(true) => {
            tracing::info!(appliance = %appliance.serial, mode = ?appliance.mode, "appliance created");
            if let Err(e) = ftm_push::apply_listener(&state.push, &appliance).await {
                return error(StatusCode::CONFLICT, "appliance.ftm-push", format!("{e:#}"));
            }
            match state.view(&appliance).await {
                Ok(view) => HttpResponse::Created().json(view),
                Err(e) => lab::admin::internal(&e),
            }
        }
        Ok(false) => error(
            StatusCode::CONFLICT,
            "appliance.exists",
            format!("appliance {} already exists", appliance.serial),
        ),
        Err(e) => lab::admin::internal(&e),
    }
}

/// A serial in the shape of a FortiGate VM (`FGVM02TM` + 8 digits) or FortiAuthenticator VM (`FAC-VMTM` + 8).
fn random_serial(mode: ApplianceMode) -> Result<ApplianceSerial, protocol::id::IdError> {
    let prefix = match mode {
        ApplianceMode::Fortigate => "FGVM02TM",
        ApplianceMode::Fortiauthenticator => "FAC-VMTM",
    };
    let digits: u32 = rand::thread_rng().gen_range(0..100_000_000);
    format!("{prefix}{digits:08}").parse()
}

async fn list(state: web::Data<Appliances>) -> HttpResponse {
    let all = match state.store.appliances() {
        Ok(all) => all,
        Err(e) => return lab::admin::internal(&e),
    };
    let mut appliances = Vec::with_capacity(all.len());
    for appliance in &all {
        match state.view(appliance).await {
            Ok(view) => appliances.push(view),
            Err(e) => return lab::admin::internal(&e),
        }
    }
    HttpResponse::Ok().json(ApplianceList { appliances })
}

async fn show(state: web::Data<Appliances>, serial: web::Path<String>) -> HttpResponse {
    let appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    match state.view(&appliance).await {
        Ok(view) => HttpResponse::Ok().json(view),
        Err(e) => lab::admin::internal(&e),
    }
}

/// `PATCH /appliances/{serial}/ftm-push`: `config system ftm-push`. The listener follows the new settings;
/// if it cannot (the port is taken), nothing changes and the answer is 409.
async fn change_ftm_push(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    change: web::Json<FtmPushChange>,
) -> HttpResponse {
    let mut appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    let before = appliance.clone();
    appliance.push = match apply_push_change(appliance.push.clone(), &change) {
        Ok(push) => push,
        Err(message) => return error(StatusCode::BAD_REQUEST, "appliance.bad-ftm-push", message),
    };
    if let Err(e) = ftm_push::apply_listener(&state.push, &appliance).await {
        let _ = ftm_push::apply_listener(&state.push, &before).await;
        return error(StatusCode::CONFLICT, "appliance.ftm-push", format!("{e:#}"));
    }
    if let Err(e) = state.store.save(&appliance).await {
        return lab::admin::internal(&e);
    }
    match state.view(&appliance).await {
        Ok(view) => HttpResponse::Ok().json(view.ftm_push),
        Err(e) => lab::admin::internal(&e),
    }
}

/// Applies `change` to `push`, checking each value.
fn apply_push_change(mut push: FtmPush, change: &FtmPushChange) -> Result<FtmPush, String> {
    if let Some(status) = change.status {
        push.status = status;
    }
    if let Some(server) = &change.server {
        let server = server.trim();
        if server.is_empty()
            || server.len() > 127
            || !server
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
        {
            return Err(format!(
                "server `{server}` must be an IP address or a host name (up to 127 characters)"
            ));
        }
        push.server = server.to_owned();
    }
    if let Some(port) = change.server_port {
        push.server_port = port;
    }
    if let Some(cert) = change.server_cert {
        push.server_cert = cert;
    }
    if let Some(reachable) = change.reachable {
        push.reachable = reachable;
    }
    if let Some(url) = &change.relay_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!("relay_url `{url}` is not an http(s) URL"));
        }
        push.relay_url = url.trim_end_matches('/').to_owned();
    }
    if let Some(secs) = change.timeout_secs {
        if !(1..=300).contains(&secs) {
            return Err(format!(
                "timeout_secs {secs} is not between 1 and 300 (FortiOS remoteauthtimeout)"
            ));
        }
        push.timeout_secs = secs;
    }
    Ok(push)
}

async fn change_settings(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    change: web::Json<SettingsChange>,
) -> HttpResponse {
    let mut appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    appliance.settings = match apply_settings(appliance.settings, &change) {
        Ok(settings) => settings,
        Err(message) => return error(StatusCode::BAD_REQUEST, "appliance.bad-settings", message),
    };
    match state.store.save(&appliance).await {
        Ok(()) => HttpResponse::Ok().json(appliance.settings),
        Err(e) => lab::admin::internal(&e),
    }
}

/// An operation's outcome that carries FortiOS debug lines.
trait WithDebug {
    fn debug_lines(&mut self) -> &mut Vec<String>;
}

impl WithDebug for ImportOutcome {
    fn debug_lines(&mut self) -> &mut Vec<String> {
        &mut self.debug
    }
}

impl WithDebug for ProvisionOutcome {
    fn debug_lines(&mut self) -> &mut Vec<String> {
        &mut self.debug
    }
}

impl WithDebug for PollOutcome {
    fn debug_lines(&mut self) -> &mut Vec<String> {
        &mut self.debug
    }
}

impl WithDebug for OperationFailure {
    fn debug_lines(&mut self) -> &mut Vec<String> {
        &mut self.debug
    }
}

/// Records an operation's debug lines in the appliance's log and answers with its outcome, keeping the
/// lines in the answer only when asked (`?debug=true`).
fn answer<T: WithDebug + serde::Serialize>(
    state: &Appliances,
    appliance: &Appliance,
    query: &DebugQuery,
    result: Result<T, OpError>,
) -> HttpResponse {
    fn keep<D: WithDebug>(
        state: &Appliances,
        appliance: &Appliance,
        query: &DebugQuery,
        item: &mut D,
    ) {
        state.record_debug(&appliance.serial, item.debug_lines());
        if !query.debug {
            item.debug_lines().clear();
        }
    }
    match result {
        Ok(mut outcome) => {
            keep(state, appliance, query, &mut outcome);
            HttpResponse::Ok().json(outcome)
        }
        Err(OpError::Cloud {
            status,
            mut failure,
        }) => {
            keep(state, appliance, query, &mut failure);
            op_error(OpError::Cloud { status, failure })
        }
        Err(other) => op_error(other),
    }
}

async fn import(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: web::Query<DebugQuery>,
    body: web::Json<ImportRequest>,
) -> HttpResponse {
    let appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    let result = state.ops().import(&appliance, &body.code).await;
    answer(&state, &appliance, &query, result)
}

async fn provision(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: web::Query<DebugQuery>,
    body: web::Json<ProvisionTokenRequest>,
) -> HttpResponse {
    let appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    let Some(user) = body.user.as_deref() else {
        return error(
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "provisioning needs the user the token is assigned to".into(),
        );
    };
    let result = state
        .ops()
        .provision(&appliance, &body.token, Some(user), body.expiry_minutes)
        .await;
    answer(&state, &appliance, &query, result)
}

async fn renew(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: web::Query<DebugQuery>,
    body: web::Json<ProvisionTokenRequest>,
) -> HttpResponse {
    let appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    let result = state
        .ops()
        .provision(
            &appliance,
            &body.token,
            body.user.as_deref(),
            body.expiry_minutes,
        )
        .await;
    answer(&state, &appliance, &query, result)
}

async fn poll(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: web::Query<DebugQuery>,
) -> HttpResponse {
    let appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    let result = state.ops().poll(&appliance).await;
    answer(&state, &appliance, &query, result)
}

async fn login(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: web::Query<DebugQuery>,
    body: web::Json<LoginRequest>,
) -> HttpResponse {
    let appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    if !body.push && body.otp.trim().is_empty() {
        let message =
            "a login needs `otp`, or `push: true` to approve a push on the phone".to_owned();
        return error(StatusCode::BAD_REQUEST, "appliance.bad-request", message);
    }
    let result = if body.push {
        let client_ip = body.client_ip.as_deref().unwrap_or("203.0.113.10");
        match ftm_push::login(&state.push, &appliance, body.user.trim(), client_ip).await {
            Ok(mut outcome) => {
                state.record_debug(&appliance.serial, &outcome.debug);
                if !query.debug {
                    outcome.debug.clear();
                }
                Ok(outcome)
            }
            Err(e) => Err(OpError::Internal(e)),
        }
    } else {
        state.ops().login(&appliance, &body.user, &body.otp).await
    };
    match result {
        Ok(outcome) => {
            tracing::info!(appliance = %appliance.serial, user = body.user.as_str(), result = ?outcome.result, "login");
            let status = if outcome.result == LoginResult::Success {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            HttpResponse::build(status).json(outcome)
        }
        Err(e) => op_error(e),
    }
}

async fn unlock(state: web::Data<Appliances>, path: web::Path<(String, String)>) -> HttpResponse {
    let (serial, user) = path.into_inner();
    let appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    match state.store.unlock(&appliance.serial, &user).await {
        Ok(true) => match state.store.user(&appliance.serial, &user) {
            Ok(Some(user)) => HttpResponse::Ok().json(user.view(state.clock.now())),
            Ok(None) => error(
                StatusCode::NOT_FOUND,
                "appliance.no-user",
                format!("no user {user} on {}", appliance.serial),
            ),
            Err(e) => lab::admin::internal(&e),
        },
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            "appliance.no-user",
            format!("no user {user} on {}", appliance.serial),
        ),
        Err(e) => lab::admin::internal(&e),
    }
}

async fn debug_log(state: web::Data<Appliances>, serial: web::Path<String>) -> HttpResponse {
    let appliance = match find(&state, &serial) {
        Ok(appliance) => appliance,
        Err(e) => return op_error(e),
    };
    let debug = state.debug.lock().unwrap_or_else(PoisonError::into_inner);
    let lines = debug
        .get(&appliance.serial)
        .map(|ring| ring.iter().cloned().collect())
        .unwrap_or_default();
    HttpResponse::Ok().json(DebugLog { lines })
}
