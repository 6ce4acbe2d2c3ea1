//! FortiToken Mobile Push on the virtual appliance (`config system ftm-push`): sending a login's push
//! through the relay, the ftm-push listener each appliance runs for phones to answer on (port 4433 by
//! default, TLS with its `server-cert`), and the push sessions waiting for those answers.
//!
//! A push login registers a session, sends the push, and waits (real time, up to the appliance's
//! `remoteauthtimeout`) for the phone to connect back. The phone's answer is accepted once: an unknown,
//! expired or already answered session is refused with 401, as is a callback whose HMAC the token's seed
//! does not give or whose OTP is wrong. Sessions expire on the lab clock, so moving it expires them.
//!
//! A listener serves only the callback: it has no control plane. Starting, stopping and restarting
//! listeners, and creating appliances, happen under one lock, so a listener and its appliance's record
//! never disagree for long, and an appliance whose listener cannot start is not created.

use lab::flow::InFlow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lab::clock::Clock;
use lab::http::{ADMIN_JSON_LIMIT, read_body};
use lab::server::{Limits, Listen, RunningService, Transport};
use protocol::appliance::{LoginOutcome, LoginResult, ServerCert};
use protocol::id::{ApplianceSerial, TokenSerial};
use protocol::paths::RELAY_PUSH;
use protocol::push::{
    self, ACTION_APPROVE, ACTION_DENY, APP, PushCallback, PushPayload, PushRefused, PushRequest,
};
use rand::Rng;

use crate::error::ApplianceError;
use crate::fortitoken::{self, Appliance, FtmPush};
use crate::store::Fleet;

/// The rustls configs an ftm-push listener can present; `None` when the suite speaks plain HTTP.
#[derive(Clone)]
pub struct ListenerTls {
    /// The lab CA's server certificate (`server-cert` usable).
    pub lab: Arc<rustls::ServerConfig>,
    /// A self-signed certificate phones cannot validate.
    pub untrusted: Arc<rustls::ServerConfig>,
}

impl ListenerTls {
    /// The listener certificates of a lab: its server certificate, and a fresh untrusted one. `None` for
    /// plain HTTP.
    pub fn for_lab(lab: &lab::options::Lab) -> anyhow::Result<Option<ListenerTls>> {
        let Some(tls) = lab.tls() else {
            return Ok(None);
        };
        Ok(Some(ListenerTls {
            lab: tls.server_config(&lab::tls::ClientAuth::default())?,
            untrusted: lab::tls::untrusted_server_config(&["localhost", "127.0.0.1"])?,
        }))
    }
}

/// How a push session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Approved,
    Denied(String),
}

struct Session {
    appliance: ApplianceSerial,
    user: String,
    token: TokenSerial,
    /// When it expires, in lab-clock milliseconds.
    expires_ms: i64,
    /// Taken by the first answer; `None` once answered or timed out.
    waiter: Option<tokio::sync::oneshot::Sender<Answer>>,
}

/// Push sessions of every appliance of the service, by session id, timed by the lab clock.
pub struct PushSessions {
    clock: Clock,
    sessions: Mutex<HashMap<String, Session>>,
}

/// What a claimed session is about.
struct Claimed {
    user: String,
    token: TokenSerial,
    waiter: tokio::sync::oneshot::Sender<Answer>,
}

/// Answered sessions are kept this long (lab time, in milliseconds) so a replayed callback is refused as
/// such.
const KEEP_ANSWERED_MS: i64 = 3_600_000;

impl PushSessions {
    pub fn new(clock: Clock) -> PushSessions {
        PushSessions {
            clock,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn open(
        &self,
        id: &str,
        appliance: &ApplianceSerial,
        user: &str,
        token: &TokenSerial,
        timeout: Duration,
    ) -> tokio::sync::oneshot::Receiver<Answer> {
        let (waiter, answer) = tokio::sync::oneshot::channel();
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now_ms();
        sessions.retain(|_, s| {
            s.waiter.is_some() || now < s.expires_ms.saturating_add(KEEP_ANSWERED_MS)
        });
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        sessions.insert(
            id.to_owned(),
            Session {
                appliance: appliance.clone(),
                user: user.to_owned(),
                token: token.clone(),
                expires_ms: now.saturating_add(timeout_ms),
                waiter: Some(waiter),
            },
        );
        answer
    }

    /// Takes the session's waiter: the first answer wins, later ones are refused.
    fn claim(&self, id: &str, appliance: &ApplianceSerial) -> Result<Claimed, &'static str> {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let session = sessions
            .get_mut(id)
            .filter(|s| &s.appliance == appliance)
            .ok_or("unknown push session")?;
        if self.clock.now_ms() >= session.expires_ms {
            session.waiter = None;
            return Err("the push session expired");
        }
        let waiter = session
            .waiter
            .take()
            .ok_or("the push session was already answered")?;
        Ok(Claimed {
            user: session.user.clone(),
            token: session.token.clone(),
            waiter,
        })
    }

    /// Ends every session (a reset): waiting logins end as unanswered.
    fn clear(&self) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Ends a session nobody answered.
    fn close(&self, id: &str) {
        if let Some(session) = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
        {
            session.waiter = None;
        }
    }
}

/// The running ftm-push listeners, by appliance.
#[derive(Default)]
pub struct Listeners {
    running: tokio::sync::Mutex<HashMap<ApplianceSerial, RunningService>>,
}

/// Everything the push side needs from the appliance service.
pub struct PushContext {
    pub store: Fleet,
    pub clock: Clock,
    pub http: reqwest::Client,
    pub sessions: PushSessions,
    pub listeners: Listeners,
    pub tls: Option<ListenerTls>,
    /// The address listeners bind to (the service's).
    pub bind: IpAddr,
    /// The bounds listeners' connections live within (the service's).
    pub limits: Limits,
    /// The open connections of every listener together: they share one `limits.max_connections`, so many
    /// appliances' listeners cannot hold more of the process's open files than one service does.
    pub connections: lab::server::Connections,
    /// The process's timeline and coverage (the service's).
    pub recorders: lab::flow::Recorders,
    /// The suite's push relay, for appliances that follow the suite's (`fortitoken::ServiceUrl::Suite`).
    pub suite_relay_url: String,
}

impl Listeners {
    /// The port `appliance`'s listener is bound to, if it runs.
    pub async fn port(&self, appliance: &ApplianceSerial) -> Option<u16> {
        self.running
            .lock()
            .await
            .get(appliance)
            .map(RunningService::port)
    }

    /// Stops every listener (when the service stops).
    pub async fn stop_all(&self) {
        let running: Vec<RunningService> = self
            .running
            .lock()
            .await
            .drain()
            .map(|(_, service)| service)
            .collect();
        for service in running {
            service.stop().await;
        }
    }
}

/// A reset of the appliance service: every listener stopped, every session ended, the store emptied; one
/// step for listeners (which `apply_listener` changes under the same lock), so none outlives the reset.
/// Returns how many records went.
pub async fn reset(context: &PushContext) -> Result<u64, lab::store::StoreError> {
    let mut running = context.listeners.running.lock().await;
    for (_, service) in running.drain() {
        service.stop().await;
    }
    context.sessions.clear();
    context.store.store().clear().await
}

/// A state import into the appliance service (`PUT /__admin/state`), checked already: every listener
/// stopped and every session ended, the records replaced, then the listeners of the imported appliances
/// with push on started.
pub async fn import_state(
    context: &Arc<PushContext>,
    control: &lab::admin::ControlPlane,
    prepared: lab::state::Prepared,
) -> Result<protocol::state::StateImported, lab::http::ApiError> {
    let mut running = context.listeners.running.lock().await;
    for (_, service) in running.drain() {
        service.stop().await;
    }
    context.sessions.clear();
    let imported = prepared.apply(control, context.store.store()).await?;
    let appliances = context.store.appliances()?;
    for appliance in appliances.iter().filter(|a| a.push.status) {
        if let Err(e) = start_listener(context, &mut running, appliance).await {
            tracing::warn!(appliance = %appliance.serial, error = format!("{e:#}"), "ftm-push listener not started");
        }
    }
    Ok(imported)
}

/// Creates `appliance`, all or nothing: its listener (when push is on) is started first, and the appliance
/// stored only if it started; `Exists` if one with its serial exists (its listener untouched).
pub async fn create(
    context: &Arc<PushContext>,
    appliance: &Appliance,
) -> Result<(), ApplianceError> {
    let mut running = context.listeners.running.lock().await;
    let exists =
        || ApplianceError::Exists(format!("appliance {} already exists", appliance.serial));
    if context.store.appliance(&appliance.serial)?.is_some() {
        return Err(exists());
    }
    start_listener(context, &mut running, appliance)
        .await
        .map_err(|e| ApplianceError::Listener(format!("{e:#}")))?;
    let created = context.store.create(appliance).await;
    if !matches!(created, Ok(true))
        && let Some(listener) = running.remove(&appliance.serial)
    {
        listener.stop().await;
    }
    match created {
        Ok(true) => Ok(()),
        Ok(false) => Err(exists()),
        Err(e) => Err(e.into()),
    }
}

/// `config system ftm-push` on `serial`: `change` applied to the appliance as it stands, its listener
/// restarted to match; if the listener cannot run as asked, the old one is restarted and nothing changes.
/// Returns the appliance as it now is.
pub async fn change(
    context: &Arc<PushContext>,
    serial: &ApplianceSerial,
    change: impl Fn(FtmPush) -> Result<FtmPush, String> + Send + Clone + 'static,
) -> Result<Appliance, ApplianceError> {
    let mut running = context.listeners.running.lock().await;
    let before = context
        .store
        .appliance(serial)?
        .ok_or_else(|| ApplianceError::NotFound(format!("no appliance {serial}")))?;
    let mut after = before.clone();
    after.push = change(after.push.clone()).map_err(ApplianceError::BadFtmPush)?;
    if let Err(e) = start_listener(context, &mut running, &after).await {
        let _ = start_listener(context, &mut running, &before).await;
        return Err(ApplianceError::Listener(format!("{e:#}")));
    }
    let stored = context
        .store
        .update(serial, move |appliance| {
            appliance.push = change(appliance.push.clone())?;
            Ok::<_, String>(appliance.clone())
        })
        .await;
    let failure = match stored {
        Ok(Some(Ok(appliance))) => return Ok(appliance),
        Ok(Some(Err(message))) => ApplianceError::BadFtmPush(message),
        Ok(None) => ApplianceError::NotFound(format!("no appliance {serial}")),
        Err(e) => e.into(),
    };
    let _ = start_listener(context, &mut running, &before).await;
    Err(failure)
}

/// Starts, restarts or stops `appliance`'s listener to match its ftm-push settings (at the service's start).
/// An error (the port is taken) leaves no listener running.
pub async fn apply_listener(
    context: &Arc<PushContext>,
    appliance: &Appliance,
) -> anyhow::Result<Option<u16>> {
    let mut running = context.listeners.running.lock().await;
    start_listener(context, &mut running, appliance).await
}

/// [`apply_listener`] for a caller that holds the listeners' lock.
async fn start_listener(
    context: &Arc<PushContext>,
    running: &mut HashMap<ApplianceSerial, RunningService>,
    appliance: &Appliance,
) -> anyhow::Result<Option<u16>> {
    if let Some(old) = running.remove(&appliance.serial) {
        old.stop().await;
    }
    if !(appliance.push.status && appliance.push.reachable) {
        return Ok(None);
    }
    let transport = match (&context.tls, appliance.push.server_cert) {
        (None, _) => Transport::Plain,
        (Some(tls), ServerCert::Lab) => Transport::Https(tls.lab.clone()),
        (Some(tls), ServerCert::Untrusted) => Transport::Https(tls.untrusted.clone()),
    };
    let listen = Listen {
        bind: SocketAddr::new(context.bind, appliance.push.server_port),
        socket: None,
        transport,
        clock: context.clock.clone(),
        workers: 1,
        admin_token: None,
        ca_pem: None,
        journal_size: 0,
        limits: context.limits,
        connections: context.connections.clone(),
        // Phones' answers reach the appliance itself: its serial is who serves them on the timeline.
        recorders: context.recorders.acting_as(appliance.serial.as_str()),
    };
    let endpoint = web::Data::new(CallbackEndpoint {
        appliance: appliance.serial.clone(),
        context: Arc::downgrade(context),
    });
    let service = lab::server::start_endpoint("ftm-push", &listen, move |api| {
        api.app_data(endpoint.clone());
        listener_routes(api);
    })
    .map_err(|e| anyhow::anyhow!("ftm-push listener of {}: {e:#}", appliance.serial))?;
    let port = service.port();
    tracing::info!(appliance = %appliance.serial, port, "ftm-push listener started");
    running.insert(appliance.serial.clone(), service);
    Ok(Some(port))
}

/// What a listener knows: whose it is, and the service (weakly, so stopping the service closes its store).
struct CallbackEndpoint {
    appliance: ApplianceSerial,
    context: Weak<PushContext>,
}

/// What an appliance's ftm-push listener serves: the phone's callback, nothing else.
pub(crate) fn listener_routes(api: &mut lab::api::Api<'_>) {
    api.route(__path_callback, callback);
}

/// `POST /api/v1/pushauthresp/` on an appliance's listener: a phone's approval or denial.
/// What the ftm-push listener answers a phone's push answer: `{"status": "ok"}`, or `{"status": "refused",
/// "message": why}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
struct CallbackAnswer {
    /// `ok` or `refused`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl CallbackAnswer {
    fn ok() -> CallbackAnswer {
        CallbackAnswer {
            status: "ok",
            message: None,
        }
    }
}

#[utoipa::path(post, path = protocol::paths::PUSH_CALLBACK, tag = "ftm-push listener",
    request_body(content = PushCallback, description = "The phone's signed answer: approve with its OTP, or deny."),
    responses(
        (status = 200, description = "Taken: the waiting push login gets its answer.", body = CallbackAnswer),
        (status = 400, description = "A body the listener cannot read.", body = CallbackAnswer),
        (status = 401, description = "A bad HMAC, a wrong OTP, or a push already answered or unknown.", body = CallbackAnswer),
        (status = 503, description = "The appliance service is stopping.", body = CallbackAnswer)))]
async fn callback(
    endpoint: web::Data<CallbackEndpoint>,
    request: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApplianceError> {
    let refused = |status: StatusCode, message: &str| ApplianceError::PushRefused {
        status,
        message: message.to_owned(),
    };
    let Some(context) = endpoint.context.upgrade() else {
        return Err(refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the appliance is stopping",
        ));
    };
    let Ok(body) = read_body(&request, payload.into_inner(), ADMIN_JSON_LIMIT).await else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "the body could not be read",
        ));
    };
    answer_push(&context, &endpoint.appliance, &body).await
}

/// A phone's answer to a push sent by `appliance`, read from `body`: what both the appliance's ftm-push
/// listener and a FortiAuthenticator's REST API (`POST /api/v1/pushauthresp/` on its host name) answer.
pub(crate) async fn answer_push(
    context: &PushContext,
    appliance: &ApplianceSerial,
    body: &[u8],
) -> Result<HttpResponse, ApplianceError> {
    let refused = |status: StatusCode, message: &str| ApplianceError::PushRefused {
        status,
        message: message.to_owned(),
    };
    let Ok(answer) = serde_json::from_slice::<PushCallback>(body) else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "the body is not a push answer {session_id, action, token_code | message, hmac}",
        ));
    };
    let refuse = |why: &str| {
        tracing::info!(appliance = %appliance, session = answer.session_id.as_str(), why, "push answer refused");
        refused(StatusCode::UNAUTHORIZED, why)
    };
    if answer.action != ACTION_APPROVE && answer.action != ACTION_DENY {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "action must be validate or alert",
        ));
    }
    let taken = || HttpResponse::Ok().json(CallbackAnswer::ok());
    let claimed = context
        .sessions
        .claim(&answer.session_id, appliance)
        .map_err(&refuse)?;
    let Some(seed) = context.store.seed_of(appliance, &claimed.token)? else {
        let _ = claimed
            .waiter
            .send(Answer::Denied("the token has no seed".into()));
        return Err(refuse("the token has no seed"));
    };
    if !answer.signed_by(seed.as_bytes()) {
        let _ = claimed
            .waiter
            .send(Answer::Denied("the answer's HMAC is wrong".into()));
        return Err(refuse("the answer's HMAC is wrong"));
    }
    if answer.action == ACTION_DENY {
        let why = answer.message.clone().unwrap_or_else(|| "denied".into());
        let _ = claimed.waiter.send(Answer::Denied(why));
        return Ok(taken());
    }
    let Ok(Some(appliance)) = context.store.appliance(appliance) else {
        return Err(refuse("unknown appliance"));
    };
    let otp = answer.token_code.clone().unwrap_or_default();
    let approved = context
        .store
        .approve_push(&appliance, &claimed.user, &otp, context.clock.now())
        .await?;
    if approved {
        let _ = claimed.waiter.send(Answer::Approved);
        Ok(taken())
    } else {
        let _ = claimed
            .waiter
            .send(Answer::Denied("the token code is wrong".into()));
        Err(refuse("the token code is wrong"))
    }
}

/// FortiOS's headers on the request to the push relay (the ftm-push debug capture).
const PUSH_HEADERS: [(&str, &str); 4] = [
    ("Connection", "keep-alive"),
    ("Accept", "*/*"),
    ("User-Agent", "fortinet/c"),
    ("Content-Type", "application/json"),
];

fn outcome(
    result: LoginResult,
    message: String,
    session_id: &str,
    debug: Vec<String>,
) -> LoginOutcome {
    LoginOutcome {
        result,
        message,
        wait_secs: None,
        failures: 0,
        locked: false,
        session_id: Some(session_id.to_owned()),
        debug,
    }
}

/// A push login of `user` on `appliance`: send the push, wait for the phone's answer.
pub async fn login(
    context: &Arc<PushContext>,
    appliance: &Appliance,
    user: &str,
    client_ip: &str,
) -> anyhow::Result<LoginOutcome> {
    let now = context.clock.now();
    let Some(holder) = context.store.user(&appliance.serial, user)? else {
        return Ok(LoginOutcome {
            result: LoginResult::Denied,
            message: "authentication failed".into(),
            wait_secs: None,
            failures: 0,
            locked: false,
            session_id: None,
            debug: Vec::new(),
        });
    };
    if holder.lockout.is_locked(now) {
        let view = holder.view(now);
        return Ok(LoginOutcome {
            result: LoginResult::Locked,
            message: format!("user {user} is locked out"),
            wait_secs: None,
            failures: view.failures,
            locked: true,
            session_id: None,
            debug: Vec::new(),
        });
    }
    let session_id = hex_id();
    let failed = |message: String, debug: Vec<String>| {
        Ok(outcome(
            LoginResult::PushFailed,
            message,
            &session_id,
            debug,
        ))
    };
    if !appliance.push.status {
        return failed(
            format!(
                "FortiToken Mobile push is disabled on {} (config system ftm-push)",
                appliance.serial
            ),
            Vec::new(),
        );
    }
    let token = context
        .store
        .tokens(&appliance.serial)?
        .into_iter()
        .find(|t| t.serial == holder.token);
    let Some((token, reg_id, os_ver)) =
        token.and_then(|t| Some((t.serial.clone(), t.reg_id.clone()?, t.os_ver.clone()?)))
    else {
        return failed(
            format!(
                "{} has no reg-id yet: the phone has not activated it, or the appliance has not polled since",
                holder.token
            ),
            Vec::new(),
        );
    };
    let Some(platform) = fortitoken::platform_of(&os_ver) else {
        return failed(format!("os-ver {os_ver} names no platform"), Vec::new());
    };
    let Some(seed) = context.store.seed_of(&appliance.serial, &token)? else {
        return failed(format!("{token} has no seed"), Vec::new());
    };
    let port = match context.listeners.port(&appliance.serial).await {
        Some(port) => port,
        None => appliance.push.server_port,
    };
    let timeout = Duration::from_secs(u64::from(appliance.push.timeout_secs.max(1)));
    let payload = PushPayload {
        session_id: session_id.clone(),
        user: user.to_owned(),
        serial: appliance.serial.clone(),
        vdom: appliance.vdom.clone(),
        token: token.clone(),
        callback_host: appliance.push.server.clone(),
        callback_port: port,
        client_ip: client_ip.to_owned(),
        client_application: "SSL VPN".to_owned(),
        time: now,
        expires: now.plus_secs(i64::from(appliance.push.timeout_secs)),
    };
    let message = push::seal_payload(seed.as_bytes(), &payload, rand::thread_rng().r#gen());
    let request = PushRequest {
        sender: push::sender(&appliance.serial, &appliance.vdom),
        registration_id: reg_id,
        app: APP.to_owned(),
        platform: platform.to_owned(),
        message: message.to_wire(),
    };
    let body = serde_json::to_vec(&request)?;
    let mut debug: Vec<String> = PUSH_HEADERS
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    debug.push(format!("Content-Length: {}", body.len()));
    debug.push(String::new());
    debug.push(String::from_utf8_lossy(&body).into_owned());
    let answer = context
        .sessions
        .open(&session_id, &appliance.serial, user, &token, timeout);
    let url = format!(
        "{}{RELAY_PUSH}",
        appliance
            .push
            .relay_url
            .resolve(&context.suite_relay_url)
            .trim_end_matches('/')
    );
    let mut call = context.http.post(&url).in_flow();
    for (name, value) in PUSH_HEADERS {
        call = call.header(name, value);
    }
    let sent = match call.body(body).send().await {
        Ok(response) => response,
        Err(e) => {
            context.sessions.close(&session_id);
            debug.push(format!("ftm-push: cannot reach the push server {url}: {e}"));
            return failed(format!("the push server {url} did not answer"), debug);
        }
    };
    let status = sent.status();
    let text = sent.text().await.unwrap_or_default();
    debug.push(format!("ftm-push: push server answered {status}: {text}"));
    if status != reqwest::StatusCode::OK {
        context.sessions.close(&session_id);
        let reason = serde_json::from_str::<PushRefused>(&text)
            .map_or_else(|_| format!("HTTP {status}"), |r| r.reason);
        return failed(format!("push notification failed: {reason}"), debug);
    }
    tracing::debug!(appliance = %appliance.serial, user, session = session_id.as_str(), "push sent, waiting for the phone");
    let result = match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(Answer::Approved)) => outcome(
            LoginResult::Success,
            "authentication successful (push approved)".into(),
            &session_id,
            debug,
        ),
        Ok(Ok(Answer::Denied(why))) => outcome(
            LoginResult::Denied,
            format!("authentication failed: {why}"),
            &session_id,
            debug,
        ),
        Ok(Err(_)) | Err(_) => {
            context.sessions.close(&session_id);
            outcome(
                LoginResult::Timeout,
                format!("no answer from the phone within {} s", timeout.as_secs()),
                &session_id,
                debug,
            )
        }
    };
    let mut result = result;
    if let Some(user) = context.store.user(&appliance.serial, user)? {
        let view = user.view(context.clock.now());
        result.failures = view.failures;
        result.locked = view.locked;
    }
    Ok(result)
}

/// 32 lowercase hex digits, like the session and message ids in FortiAuthenticator's pushd logs.
fn hex_id() -> String {
    hex::encode(rand::thread_rng().r#gen::<[u8; 16]>())
}
