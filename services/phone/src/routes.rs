//! The virtual phones' HTTP API (`/phones`, types in `protocol::phone`): create and delete phones, change
//! their clock skew or push id, activate tokens on them against ftm, read and step their codes, and export
//! their app data. Errors are `ErrorBody` with a stable `phone.*` id (or the catalogue id of the
//! provisioning server's refusal).

use std::ops::ControlFlow;
use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::anyhow;
use lab::admin::{error, internal};
use lab::clock::Clock;
use lab::server::with_outcome;
use protocol::device_storage::DeviceStorageError;
use protocol::id::{IdError, TokenSerial};
use protocol::otp::OtpKind;
use protocol::phone::{
    Activate, Inbox, InboxEntry, NewPhone, PhoneChange, PhoneList, PushPolicy, PushStatus,
};
use protocol::push::{DeliveredPush, PushCallback};
use protocol::time::UnixTime;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::app_data::{AppData, PickError};
use crate::device::{self, IdentityError, Phone};
use crate::provisioning::{ActivationError, FtmClient, code_from_input};
use crate::push_inbox::{self, InboxItem, PushInbox, PushSettings};
use crate::relay::RelayClient;
use crate::store::{CreateError, Store};

/// What every phone handler shares.
pub(crate) struct Phones {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) ftm: FtmClient,
    /// The push relay phones register their push tokens with.
    pub(crate) relay: RelayClient,
    /// The client answers to pushes go out with (trusting the lab CA, as phones trust public CAs).
    pub(crate) callbacks: reqwest::Client,
    /// Whether appliances' ftm-push listeners speak TLS (they do unless the suite is plain HTTP).
    pub(crate) secure_callbacks: bool,
    /// This service's own base URL (the relay posts pushes to `<url>/phones/{id}/push-webhook`), set once
    /// the service listens.
    pub(crate) self_url: OnceLock<String>,
}

impl Phones {
    /// Where the relay delivers the pushes of phone `id`.
    pub(crate) fn webhook(&self, id: &str) -> String {
        format!(
            "{}/phones/{id}/push-webhook",
            self.self_url.get().map_or("", String::as_str)
        )
    }

    /// Registers a phone's push token with the relay; a failure is logged, as a phone whose push
    /// registration failed still works for OTPs.
    pub(crate) async fn register(&self, phone: &Phone) {
        let webhook = self.webhook(&phone.id);
        if let Err(e) = self
            .relay
            .register(
                &phone.identity.registration_id,
                phone.identity.platform,
                &webhook,
            )
            .await
        {
            tracing::warn!(
                phone = phone.id.as_str(),
                error = format!("{e:#}"),
                "push registration failed"
            );
        }
    }
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: web::Data<Phones>) {
    cfg.app_data(state)
        .route("/__admin/reset", web::post().to(reset))
        .service(lab::state::resource(export_state, import_state))
        .route("/phones", web::post().to(create))
        .route("/phones", web::get().to(list))
        .route("/phones/{id}", web::get().to(show))
        .route("/phones/{id}", web::patch().to(change))
        .route("/phones/{id}", web::delete().to(uninstall))
        .route("/phones/{id}/activate", web::post().to(activate))
        .route("/phones/{id}/otp", web::get().to(otp))
        .route("/phones/{id}/export", web::get().to(export))
        .route(
            "/phones/{id}/tokens/{serial}",
            web::delete().to(delete_token),
        )
        .route("/phones/{id}/tokens/{serial}/next", web::post().to(next))
        .route("/phones/{id}/inbox", web::get().to(inbox))
        .route("/phones/{id}/inbox/{push}/approve", web::post().to(approve))
        .route("/phones/{id}/inbox/{push}/deny", web::post().to(deny))
        .route("/phones/{id}/push-webhook", web::post().to(push_webhook));
}

fn not_found(id: &str) -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "phone.not-found",
        format!("no phone `{id}`: GET /phones lists them, POST /phones creates one"),
    )
}

fn refused(e: &IdentityError) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, e.id(), e.to_string())
}

fn token_not_found(phone: &str, serial: &TokenSerial) -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "phone.token-not-found",
        format!("phone {phone} has no token {serial}"),
    )
}

fn pick_refused(phone: &str, e: &PickError) -> HttpResponse {
    match e {
        PickError::NotFound(serial) => token_not_found(phone, serial),
        PickError::NoTokens => error(
            StatusCode::NOT_FOUND,
            "phone.token-not-found",
            format!("phone {phone} has no tokens: activate one with POST /phones/{phone}/activate"),
        ),
        PickError::Ambiguous(_) => error(
            StatusCode::BAD_REQUEST,
            "phone.token-ambiguous",
            format!("phone {phone}: {e}"),
        ),
    }
}

/// A JSON request body, whatever its `Content-Type` says (so `curl -d` works).
fn json_body<T: DeserializeOwned>(body: &web::Bytes) -> Result<T, IdentityError> {
    serde_json::from_slice(body)
        .map_err(|e| IdentityError::BadRequest(format!("the request body was refused: {e}")))
}

fn bad_token(e: &IdError) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, "phone.bad-token", e.to_string())
}

fn storage_failure(phone: &str, e: DeviceStorageError) -> HttpResponse {
    internal(&anyhow!(e).context(format!("reading the app data of phone {phone}")))
}

/// `POST /phones`: an empty body or `{}` gives an Android phone with every value made up.
async fn create(state: web::Data<Phones>, body: web::Bytes) -> HttpResponse {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        NewPhone::default()
    } else {
        let parsed = json_body(&body).and_then(device::new_phone_from_json);
        match parsed {
            Ok(request) => request,
            Err(e) => return refused(&e),
        }
    };
    if let Some(name) = &request.name
        && let Err(e) = device::check_name(name)
    {
        return refused(&e);
    }
    let made = {
        let mut rng = rand::thread_rng();
        device::identity(&request, &mut rng).map(|identity| {
            let app = AppData::install(&identity.mobile_id, &mut rng);
            (identity, app)
        })
    };
    let (identity, app) = match made {
        Ok(made) => made,
        Err(e) => return refused(&e),
    };
    let created = state.clock.now();
    let make = |id: String| Phone {
        id,
        identity: identity.clone(),
        created,
        app: app.clone(),
        push: PushSettings::default(),
        inbox: PushInbox::default(),
    };
    match state.store.create(request.name.as_deref(), make).await {
        Ok(phone) => {
            state.register(&phone).await;
            let result = format!("{} created ({})", phone.id, phone.identity.os_ver());
            with_outcome(HttpResponse::Created().json(phone.view()), "phone", result)
        }
        Err(CreateError::NameTaken(name)) => error(
            StatusCode::CONFLICT,
            "phone.name-taken",
            format!("there is already a phone named {name}"),
        ),
        Err(CreateError::Internal(e)) => internal(&e),
    }
}

async fn list(state: web::Data<Phones>) -> HttpResponse {
    match state.store.phones() {
        Ok(phones) => HttpResponse::Ok().json(PhoneList {
            phones: phones.iter().map(Phone::view).collect(),
        }),
        Err(e) => internal(&e),
    }
}

/// `GET /__admin/state`.
async fn export_state(state: web::Data<Phones>, request: HttpRequest) -> HttpResponse {
    lab::state::export(&request, &state.store)
}

/// `PUT /__admin/state`: the phones replaced; those gone are uninstalled (unregistered from the relay),
/// the imported ones register their push tokens, with this service's webhook.
async fn import_state(
    state: web::Data<Phones>,
    request: HttpRequest,
    body: web::Json<protocol::state::ServiceState>,
) -> HttpResponse {
    let prepared = match lab::state::begin_import(&request, &state.store, body.into_inner()) {
        ControlFlow::Continue(prepared) => prepared,
        ControlFlow::Break(answer) => return answer,
    };
    let before = match state.store.phones() {
        Ok(phones) => phones,
        Err(e) => return internal(&e),
    };
    let imported = match prepared.apply(&state.store).await {
        Ok(imported) => imported,
        Err(refusal) => return refusal.response(),
    };
    let after = match state.store.phones() {
        Ok(phones) => phones,
        Err(e) => return internal(&e),
    };
    for gone in before.iter().filter(|old| {
        !after
            .iter()
            .any(|new| new.identity.registration_id == old.identity.registration_id)
    }) {
        if let Err(e) = state.relay.unregister(&gone.identity.registration_id).await {
            tracing::warn!(
                phone = gone.id.as_str(),
                error = format!("{e:#}"),
                "push unregistration failed"
            );
        }
    }
    for phone in &after {
        state.register(phone).await;
    }
    HttpResponse::Ok().json(imported)
}

/// `POST /__admin/reset`: every phone uninstalled (its push token unregistered from the relay, as
/// `DELETE /phones/{id}` does) and the store emptied, so default names start at `phone-1` again.
async fn reset(state: web::Data<Phones>, request: HttpRequest) -> HttpResponse {
    let phones = match state.store.phones() {
        Ok(phones) => phones,
        Err(e) => return internal(&e),
    };
    let removed = match state.store.reset().await {
        Ok(removed) => removed,
        Err(e) => return internal(&e),
    };
    for phone in &phones {
        if let Err(e) = state
            .relay
            .unregister(&phone.identity.registration_id)
            .await
        {
            tracing::warn!(
                phone = phone.id.as_str(),
                error = format!("{e:#}"),
                "push unregistration failed"
            );
        }
    }
    lab::admin::reset_done(&request, removed, 0)
}

async fn show(state: web::Data<Phones>, id: web::Path<String>) -> HttpResponse {
    match state.store.phone(&id) {
        Ok(Some(phone)) => HttpResponse::Ok().json(phone.view()),
        Ok(None) => not_found(&id),
        Err(e) => internal(&e),
    }
}

/// `PATCH /phones/{id}`: the clock skew and the push registration id.
async fn change(state: web::Data<Phones>, id: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let change: PhoneChange = match json_body(&body) {
        Ok(change) => change,
        Err(e) => return refused(&e),
    };
    let outcome = state
        .store
        .update(&id, |phone| {
            let old_registration = phone.identity.registration_id.clone();
            phone.identity.apply(&change)?;
            phone
                .push
                .apply(&change)
                .map_err(IdentityError::BadRequest)?;
            Ok::<_, IdentityError>((old_registration, phone.clone()))
        })
        .await;
    match outcome {
        Ok(Some(Ok((old_registration, phone)))) => {
            if old_registration != phone.identity.registration_id {
                if let Err(e) = state.relay.unregister(&old_registration).await {
                    tracing::warn!(
                        phone = phone.id.as_str(),
                        error = format!("{e:#}"),
                        "push unregistration failed"
                    );
                }
                state.register(&phone).await;
            }
            with_outcome(HttpResponse::Ok().json(phone.view()), "phone", "changed")
        }
        Ok(Some(Err(e))) => refused(&e),
        Ok(None) => not_found(&id),
        Err(e) => internal(&e),
    }
}

/// `DELETE /phones/{id}`: the app is uninstalled and its tokens are gone.
async fn uninstall(state: web::Data<Phones>, id: web::Path<String>) -> HttpResponse {
    let registration = match state.store.phone(&id) {
        Ok(phone) => phone.map(|p| p.identity.registration_id),
        Err(e) => return internal(&e),
    };
    match state.store.delete(&id).await {
        Ok(true) => {
            // The app is gone: the relay answers Unregistered for its push token from now on.
            if let Some(registration) = registration
                && let Err(e) = state.relay.unregister(&registration).await
            {
                tracing::warn!(
                    phone = id.as_str(),
                    error = format!("{e:#}"),
                    "push unregistration failed"
                );
            }
            with_outcome(HttpResponse::NoContent().finish(), "phone", "deleted")
        }
        Ok(false) => not_found(&id),
        Err(e) => internal(&e),
    }
}

/// Why an activated token could not be stored.
enum StoreRefusal {
    /// The phone was deleted (or deleted and created again) while the server answered.
    Gone,
    Storage(DeviceStorageError),
}

/// `POST /phones/{id}/activate`: redeem a code at ftm as the app does and store the token.
async fn activate(
    state: web::Data<Phones>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let body: Activate = match json_body(&body) {
        Ok(body) => body,
        Err(e) => return refused(&e),
    };
    let code = match code_from_input(&body.code) {
        Ok(code) => code,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "phone.bad-code",
                format!(
                    "{e}, or the QR string fortitokenmobile://activate?code=…; the provisioning server was not asked"
                ),
            );
        }
    };
    let phone = match state.store.phone(&id) {
        Ok(Some(phone)) => phone,
        Ok(None) => return not_found(&id),
        Err(e) => return internal(&e),
    };
    let delivered = match state.ftm.activate(&phone.identity, code).await {
        Ok(delivered) => delivered,
        Err(ActivationError::Refused { error_id, message }) => {
            let result = format!("refused: {error_id}");
            let response = error(StatusCode::UNPROCESSABLE_ENTITY, &error_id, message);
            return with_outcome(response, "phone activate", result);
        }
        Err(e @ ActivationError::Unreachable(_)) => {
            tracing::warn!(phone = %phone.id, error = %e, "activation failed");
            return error(
                StatusCode::BAD_GATEWAY,
                "phone.ftm-unreachable",
                e.to_string(),
            );
        }
        Err(e @ ActivationError::BadAnswer(_)) => {
            tracing::warn!(phone = %phone.id, error = %e, "activation failed");
            return error(
                StatusCode::BAD_GATEWAY,
                "phone.ftm-bad-answer",
                e.to_string(),
            );
        }
    };
    let lab_ms = state.clock.now_ms();
    let stored = state
        .store
        .update(&id, |current| {
            if current.identity.mobile_id != phone.identity.mobile_id
                || current.app.uuid_pref != phone.app.uuid_pref
            {
                return Err(StoreRefusal::Gone);
            }
            let activated_ms =
                lab_ms.saturating_add(current.identity.clock_skew_secs.saturating_mul(1000));
            current
                .app
                .store(&current.identity.mobile_id, &delivered, activated_ms)
                .map_err(StoreRefusal::Storage)
        })
        .await;
    let gone = || {
        error(
            StatusCode::NOT_FOUND,
            "phone.not-found",
            format!(
                "phone {id} was deleted while ftm delivered token {}; that code is used up",
                delivered.serial
            ),
        )
    };
    match stored {
        Ok(Some(Ok(account))) => {
            let result = format!("{} activated on {}", account.serial, phone.id);
            with_outcome(
                HttpResponse::Created().json(account.view()),
                "phone activate",
                result,
            )
        }
        Ok(Some(Err(StoreRefusal::Gone))) | Ok(None) => gone(),
        Ok(Some(Err(StoreRefusal::Storage(e)))) => storage_failure(&id, e),
        Err(e) => internal(&e),
    }
}

/// `GET /phones/{id}/otp` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OtpQuery {
    /// The token serial; optional when the phone has one token.
    token: Option<String>,
    /// The lab time to show the code for (RFC 3339, a date or epoch seconds); default now.
    at: Option<String>,
}

/// `GET /phones/{id}/otp`: the code the app shows, by the phone's own clock. Never advances a counter.
async fn otp(
    state: web::Data<Phones>,
    id: web::Path<String>,
    query: web::Query<OtpQuery>,
) -> HttpResponse {
    let serial = match query
        .token
        .as_deref()
        .map(str::parse::<TokenSerial>)
        .transpose()
    {
        Ok(serial) => serial,
        Err(e) => return bad_token(&e),
    };
    let lab_time = match query.at.as_deref().map(UnixTime::parse).transpose() {
        Ok(at) => at.unwrap_or_else(|| state.clock.now()),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "phone.bad-time",
                format!("at: {e}"),
            );
        }
    };
    let phone = match state.store.phone(&id) {
        Ok(Some(phone)) => phone,
        Ok(None) => return not_found(&id),
        Err(e) => return internal(&e),
    };
    let account = match phone.app.pick(serial.as_ref()) {
        Ok(account) => account,
        Err(e) => return pick_refused(&phone.id, &e),
    };
    match phone.app.seed_of(&phone.identity.mobile_id, account) {
        Ok(seed) => {
            HttpResponse::Ok().json(account.otp(&seed, phone.identity.phone_time(lab_time)))
        }
        Err(e) => storage_failure(&phone.id, e),
    }
}

/// Why a HOTP counter could not step.
enum StepRefusal {
    NotFound,
    NotHotp,
}

/// `POST /phones/{id}/tokens/{serial}/next`: the user asks a HOTP token for its next code.
async fn next(state: web::Data<Phones>, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, serial) = path.into_inner();
    let serial = match serial.parse::<TokenSerial>() {
        Ok(serial) => serial,
        Err(e) => return bad_token(&e),
    };
    let stepped = state
        .store
        .update(&id, |phone| {
            let account = phone
                .app
                .account_mut(&serial)
                .ok_or(StepRefusal::NotFound)?;
            if account.kind != OtpKind::Hotp {
                return Err(StepRefusal::NotHotp);
            }
            account.counter = account.counter.saturating_add(1);
            Ok(phone.clone())
        })
        .await;
    let phone = match stepped {
        Ok(Some(Ok(phone))) => phone,
        Ok(Some(Err(StepRefusal::NotFound))) => return token_not_found(&id, &serial),
        Ok(Some(Err(StepRefusal::NotHotp))) => {
            return error(
                StatusCode::CONFLICT,
                "phone.not-hotp",
                format!("{serial} is a TOTP token: its code changes with time, not on demand"),
            );
        }
        Ok(None) => return not_found(&id),
        Err(e) => return internal(&e),
    };
    let account = match phone.app.pick(Some(&serial)) {
        Ok(account) => account,
        Err(e) => return pick_refused(&phone.id, &e),
    };
    match phone.app.seed_of(&phone.identity.mobile_id, account) {
        Ok(seed) => {
            let view = account.otp(&seed, phone.identity.phone_time(state.clock.now()));
            let result = format!("{serial} at counter {}", account.counter);
            with_outcome(HttpResponse::Ok().json(view), "phone next", result)
        }
        Err(e) => storage_failure(&phone.id, e),
    }
}

/// `DELETE /phones/{id}/tokens/{serial}`: the user deletes the account from the app.
async fn delete_token(state: web::Data<Phones>, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, serial) = path.into_inner();
    let serial = match serial.parse::<TokenSerial>() {
        Ok(serial) => serial,
        Err(e) => return bad_token(&e),
    };
    let removed = state
        .store
        .update(&id, |phone| {
            if phone.app.remove(&serial) {
                Ok(())
            } else {
                Err(())
            }
        })
        .await;
    match removed {
        Ok(Some(Ok(()))) => with_outcome(
            HttpResponse::NoContent().finish(),
            "phone",
            format!("{serial} deleted from {id}"),
        ),
        Ok(Some(Err(()))) => token_not_found(&id, &serial),
        Ok(None) => not_found(&id),
        Err(e) => internal(&e),
    }
}

/// `GET /phones/{id}/export`: the app's preferences and accounts as the Android app stores them.
async fn export(state: web::Data<Phones>, id: web::Path<String>) -> HttpResponse {
    match state.store.phone(&id) {
        Ok(Some(phone)) => HttpResponse::Ok().json(phone.app.export(&phone.identity, phone.view())),
        Ok(None) => not_found(&id),
        Err(e) => internal(&e),
    }
}

/// `GET /phones/{id}/inbox`: the pushes the phone received, oldest first.
async fn inbox(state: web::Data<Phones>, id: web::Path<String>) -> HttpResponse {
    match state.store.phone(&id) {
        Ok(Some(phone)) => HttpResponse::Ok().json(Inbox {
            pushes: phone.inbox.items.iter().map(InboxItem::entry).collect(),
        }),
        Ok(None) => not_found(&id),
        Err(e) => internal(&e),
    }
}

/// `POST /phones/{id}/push-webhook`: the relay delivering a push. The phone checks and stores it, answers the
/// relay at once, and then acts on it as its policy says.
async fn push_webhook(
    state: web::Data<Phones>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Ok(delivered) = serde_json::from_slice::<DeliveredPush>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "phone.bad-push",
            "the body is not a delivered push".into(),
        );
    };
    let stored = state
        .store
        .update(&id, |phone| {
            let item = push_inbox::read(&phone.app, &phone.identity, &delivered);
            let pending = item.status == PushStatus::Pending;
            let push_id = phone.inbox.add(item);
            if pending
                && phone.push.policy == PushPolicy::Ignore
                && let Some(item) = phone.inbox.item_mut(push_id)
            {
                item.status = PushStatus::Ignored;
            }
            Ok::<_, IdentityError>((push_id, pending, phone.push))
        })
        .await;
    let (push_id, pending, settings) = match stored {
        Ok(Some(Ok(stored))) => stored,
        Ok(Some(Err(e))) => return refused(&e),
        Ok(None) => return not_found(&id),
        Err(e) => return internal(&e),
    };
    let id = id.into_inner();
    if pending {
        let answer = match settings.policy {
            PushPolicy::Approve => Some((true, 0)),
            PushPolicy::Deny => Some((false, 0)),
            PushPolicy::ApproveAfterDelay => Some((true, settings.delay_ms)),
            PushPolicy::Manual | PushPolicy::Ignore => None,
        };
        if let Some((approving, delay_ms)) = answer {
            let state = state.clone();
            tokio::spawn(async move {
                if delay_ms > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                }
                if let Err(e) = answer_push(&state, &id, &push_id.to_string(), approving).await {
                    tracing::warn!(phone = id.as_str(), push = push_id, error = ?e, "automatic answer failed");
                }
            });
        }
    }
    with_outcome(
        HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        "phone push",
        format!("push {push_id} received"),
    )
}

async fn approve(state: web::Data<Phones>, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, push) = path.into_inner();
    answer_response(answer_push(&state, &id, &push, true).await, &id)
}

async fn deny(state: web::Data<Phones>, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, push) = path.into_inner();
    answer_response(answer_push(&state, &id, &push, false).await, &id)
}

/// Why a push could not be answered.
#[derive(Debug)]
enum AnswerError {
    NoPhone,
    NoPush(String),
    NotPending(PushStatus),
    Internal(anyhow::Error),
}

fn answer_response(result: Result<InboxEntry, AnswerError>, id: &str) -> HttpResponse {
    match result {
        Ok(entry) => {
            let outcome = format!("push {} {:?}", entry.id, entry.status);
            with_outcome(HttpResponse::Ok().json(entry), "phone push", outcome)
        }
        Err(AnswerError::NoPhone) => not_found(id),
        Err(AnswerError::NoPush(push)) => error(
            StatusCode::NOT_FOUND,
            "phone.push-not-found",
            format!(
                "no push `{push}` waiting on {id}: GET /phones/{id}/inbox lists them (`latest` is the newest pending one)"
            ),
        ),
        Err(AnswerError::NotPending(status)) => error(
            StatusCode::CONFLICT,
            "phone.push-answered",
            format!("that push is {status:?}, not pending"),
        ),
        Err(AnswerError::Internal(e)) => internal(&e),
    }
}

/// Answers push `push` (an id or `latest`) on phone `id`: approve with the OTP the phone shows now, or deny,
/// connecting straight to the appliance's callback address over TLS as the app does; records the outcome.
async fn answer_push(
    state: &Phones,
    id: &str,
    push: &str,
    approving: bool,
) -> Result<InboxEntry, AnswerError> {
    let phone = state
        .store
        .phone(id)
        .map_err(AnswerError::Internal)?
        .ok_or(AnswerError::NoPhone)?;
    let item = phone
        .inbox
        .find(push)
        .ok_or_else(|| AnswerError::NoPush(push.to_owned()))?
        .clone();
    if item.status != PushStatus::Pending {
        return Err(AnswerError::NotPending(item.status));
    }
    let payload = item
        .payload
        .clone()
        .ok_or(AnswerError::NotPending(item.status))?;
    let account = phone
        .app
        .pick(Some(&payload.token))
        .map_err(|e| AnswerError::Internal(anyhow!(e.to_string())))?;
    let seed = phone
        .app
        .seed_of(&phone.identity.mobile_id, account)
        .map_err(|e| AnswerError::Internal(anyhow!(e)))?;
    let callback = if approving {
        let otp = account.otp(&seed, phone.identity.phone_time(state.clock.now()));
        PushCallback::approve(seed.as_bytes(), &payload.session_id, &otp.otp)
    } else {
        PushCallback::deny(seed.as_bytes(), &payload.session_id, "denied by user")
    };
    let url = push_inbox::callback_url(&payload, state.secure_callbacks);
    let address = format!("{}:{}", payload.callback_host, payload.callback_port);
    let (status, detail) = match state.callbacks.post(&url).json(&callback).send().await {
        Ok(response) if response.status().is_success() => (
            if approving {
                PushStatus::Approved
            } else {
                PushStatus::Denied
            },
            None,
        ),
        Ok(response) => {
            let code = response.status();
            let text = response.text().await.unwrap_or_default();
            (
                PushStatus::Failed,
                Some(format!("the appliance refused the answer ({code}): {text}")),
            )
        }
        Err(e) => (
            PushStatus::Failed,
            Some(push_inbox::delivery_failure(&e, &address)),
        ),
    };
    let recorded = state
        .store
        .update(id, |phone| {
            let item = phone
                .inbox
                .item_mut(item.id)
                .ok_or(IdentityError::BadRequest("the push is gone".into()))?;
            if item.status == PushStatus::Pending {
                item.status = status;
                item.detail = detail.clone();
            }
            Ok::<_, IdentityError>(item.entry())
        })
        .await
        .map_err(AnswerError::Internal)?;
    match recorded {
        Some(Ok(entry)) => Ok(entry),
        Some(Err(e)) => Err(AnswerError::Internal(anyhow!(e.to_string()))),
        None => Err(AnswerError::NoPhone),
    }
}
