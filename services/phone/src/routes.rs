//! The virtual phones' HTTP API (`/phones`, types in `protocol::phone`): create and delete phones, change
//! their clock skew or push id, activate tokens on them against ftm, read and step their codes, answer
//! pushes, and export their app data. Errors are [`PhoneError`]s.
//!
//! The phones act for their users (they hold seeds, show codes, approve logins): with an admin token set,
//! their whole API needs it, but the webhook the relay delivers pushes to, which only carries pushes that
//! the phone's own seeds authenticate.

use lab::flow::InFlow;
use std::sync::OnceLock;

use actix_web::{HttpRequest, HttpResponse, web};
use lab::api::Api;
use lab::clock::Clock;
use lab::http::{ADMIN_JSON_LIMIT, ApiError, Query, read_body};
use lab::server::with_outcome;
use lab::service::{Reset, Service};
use lab::state::Prepared;
use lab::store::{Store, Table};
use protocol::admin::ErrorBody;
use protocol::id::TokenSerial;
use protocol::messages::ScanRequest;
use protocol::otp::OtpKind;
use protocol::paths;
use protocol::phone::{
    Activate, Inbox, InboxEntry, NewPhone, OtpView, PhoneChange, PhoneList, PhoneTokenView,
    PhoneView, PushPolicy, PushStatus,
};
use protocol::push::{DeliveredPush, PushCallback};
use protocol::state::StateImported;
use protocol::time::UnixTime;
use serde::Deserialize;

use crate::app_data::AppData;
use crate::device::{self, IdentityError, Phone};
use crate::error::PhoneError;
use crate::provisioning::{ActivationError, FtmClient, code_from_input};
use crate::push_inbox::{self, InboxItem, PushInbox, PushSettings};
use crate::relay::RelayClient;
use crate::store::{CreateError, Phones as PhoneStore};

/// What every phone handler shares.
pub(crate) struct Phones {
    pub(crate) phones: PhoneStore,
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
            "{}{}",
            self.self_url.get().map_or("", String::as_str),
            paths::fill(paths::PHONE_PUSH_WEBHOOK, &[id])
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

    /// Unregisters a phone's push token from the relay (the app is uninstalled); a failure is logged.
    async fn unregister(&self, phone: &str, registration_id: &str) {
        if let Err(e) = self.relay.unregister(registration_id).await {
            tracing::warn!(
                phone,
                error = format!("{e:#}"),
                "push unregistration failed"
            );
        }
    }
}

impl Service for Phones {
    const NAME: &'static str = crate::NAME;

    fn store(&self) -> &Store {
        self.phones.store()
    }

    const DESCRIPTION: &'static str = "Virtual FortiToken Mobile phones: create phones, activate tokens \
        on them against ftm with the request FortiToken Mobile 4.9.9 sends, read the codes the app would \
        show, and answer push logins.";

    fn routes(api: &mut Api<'_>) {
        // Registered before the guarded scope, so the relay reaches it without the admin token.
        api.route(__path_push_webhook, push_webhook)
            .guarded(paths::PHONES, |phones| {
                phones
                    .route(__path_create, create)
                    .route(__path_list, list)
                    .route(__path_show, show)
                    .route(__path_change, change)
                    .route(__path_uninstall, uninstall)
                    .route(__path_activate, activate)
                    .route(__path_otp, otp)
                    .route(__path_export, export)
                    .route(__path_delete_token, delete_token)
                    .route(__path_next, next)
                    .route(__path_inbox, inbox)
                    .route(__path_approve, approve)
                    .route(__path_deny, deny)
                    .route(__path_scan, scan)
                    .route(crate::transfer::__path_start, crate::transfer::start)
                    .route(crate::transfer::__path_check, crate::transfer::check)
                    .route(crate::transfer::__path_complete, crate::transfer::complete);
            });
    }

    fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        crate::store::check_record(table, key, value)
    }

    /// Every phone uninstalled (its push token unregistered from the relay, as `DELETE /phones/{id}`
    /// does) and the store emptied, so default names start at `phone-1` again.
    async fn reset(&self) -> Result<Reset, ApiError> {
        let (removed, phones) = self.phones.clear().await?;
        for phone in &phones {
            self.unregister(&phone.id, &phone.identity.registration_id)
                .await;
        }
        Ok(Reset {
            removed,
            fixtures: 0,
        })
    }

    /// The phones replaced; those gone are uninstalled (unregistered from the relay), the imported ones
    /// register their push tokens, with this service's webhook.
    async fn import(
        &self,
        control: &lab::admin::ControlPlane,
        prepared: Prepared,
    ) -> Result<StateImported, ApiError> {
        let before = self.phones.phones()?;
        let imported = prepared.apply(control, self.phones.store()).await?;
        let after = self.phones.phones()?;
        for gone in before.iter().filter(|old| {
            !after
                .iter()
                .any(|new| new.identity.registration_id == old.identity.registration_id)
        }) {
            self.unregister(&gone.id, &gone.identity.registration_id)
                .await;
        }
        for phone in &after {
            self.register(phone).await;
        }
        Ok(imported)
    }
}

/// A phone path inside the `/phones` scope.
/// A JSON request body, whatever its `Content-Type` says (so `curl -d` works), read with the one body
/// reader.
async fn json_body<T: serde::de::DeserializeOwned>(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<T, PhoneError> {
    let body = read_body(request, payload.into_inner(), ADMIN_JSON_LIMIT)
        .await
        .map_err(ApiError::from)?;
    protocol::strict::from_slice(&body)
        .map_err(|e| IdentityError::BadRequest(format!("the request body was refused: {e}")).into())
}

/// `POST /phones`: an empty body or `{}` gives an Android phone with every value made up.
#[utoipa::path(post, path = paths::PHONES, tag = "virtual phones", request_body(content = NewPhone, description = "Every field optional; an empty body gives an Android phone."),
    responses(
        (status = 201, description = "The new phone.", body = PhoneView),
        (status = 400, description = "`phone.bad-name`, `phone.bad-mobile-id`, …", body = ErrorBody),
        (status = 409, description = "`phone.name-taken`.", body = ErrorBody)))]
async fn create(
    state: web::Data<Phones>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PhoneError> {
    let body = read_body(&request, payload.into_inner(), ADMIN_JSON_LIMIT)
        .await
        .map_err(ApiError::from)?;
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        NewPhone::default()
    } else {
        let value = serde_json::from_slice(&body)
            .map_err(|e| IdentityError::BadRequest(format!("the request body was refused: {e}")))?;
        device::new_phone_from_json(value)?
    };
    if let Some(name) = &request.name {
        device::check_name(name)?;
    }
    let (identity, app) = {
        let mut rng = rand::thread_rng();
        let identity = device::identity(&request, &mut rng)?;
        let app = AppData::install(&identity.mobile_id, &mut rng);
        (identity, app)
    };
    let created = state.clock.now();
    let make = move |id: String| Phone {
        id,
        identity,
        created,
        app,
        push: PushSettings::default(),
        inbox: PushInbox::default(),
    };
    let phone = match state.phones.create(request.name.clone(), make).await {
        Ok(phone) => phone,
        Err(CreateError::NameTaken(name)) => {
            return Err(ApiError::conflict(
                "phone.name-taken",
                format!("there is already a phone named {name}"),
            )
            .into());
        }
        Err(CreateError::Storage(e)) => return Err(e.into()),
    };
    state.register(&phone).await;
    let result = format!("{} created ({})", phone.id, phone.identity.os_ver());
    Ok(with_outcome(
        HttpResponse::Created().json(phone.view()),
        "phone",
        result,
    ))
}

#[utoipa::path(get, path = paths::PHONES, tag = "virtual phones",
    responses((status = 200, description = "The phones with their tokens (never seeds).", body = PhoneList)))]
async fn list(state: web::Data<Phones>) -> Result<HttpResponse, PhoneError> {
    let phones = state.phones.phones()?;
    Ok(HttpResponse::Ok().json(PhoneList {
        phones: phones.iter().map(Phone::view).collect(),
    }))
}

/// The phone named `id`, or the error that says there is none.
pub(crate) fn find(state: &Phones, id: &str) -> Result<Phone, PhoneError> {
    state
        .phones
        .phone(id)?
        .ok_or_else(|| PhoneError::NotFound(id.to_owned()))
}

#[utoipa::path(get, path = paths::PHONE, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")),
    responses(
        (status = 200, description = "The phone with its tokens.", body = PhoneView),
        (status = 404, description = "`phone.not-found`.", body = ErrorBody)))]
async fn show(state: web::Data<Phones>, id: web::Path<String>) -> Result<HttpResponse, PhoneError> {
    Ok(HttpResponse::Ok().json(find(&state, &id)?.view()))
}

/// `PATCH /phones/{id}`: the clock skew and the push registration id.
#[utoipa::path(patch, path = paths::PHONE, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")), request_body = PhoneChange,
    responses(
        (status = 200, description = "The phone after the change.", body = PhoneView),
        (status = 400, description = "A field out of range.", body = ErrorBody),
        (status = 404, description = "`phone.not-found`.", body = ErrorBody)))]
async fn change(
    state: web::Data<Phones>,
    id: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PhoneError> {
    let change: PhoneChange = json_body(&request, payload).await?;
    let outcome = state
        .phones
        .update(&id, move |phone| {
            let old_registration = phone.identity.registration_id.clone();
            phone.identity.apply(&change)?;
            phone
                .push
                .apply(&change)
                .map_err(IdentityError::BadRequest)?;
            Ok::<_, IdentityError>((old_registration, phone.clone()))
        })
        .await?;
    let (old_registration, phone) =
        outcome.ok_or_else(|| PhoneError::NotFound(id.to_string()))??;
    if old_registration != phone.identity.registration_id {
        state.unregister(&phone.id, &old_registration).await;
        state.register(&phone).await;
    }
    Ok(with_outcome(
        HttpResponse::Ok().json(phone.view()),
        "phone",
        "changed",
    ))
}

/// `DELETE /phones/{id}`: the app is uninstalled and its tokens are gone.
#[utoipa::path(delete, path = paths::PHONE, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")),
    responses(
        (status = 204, description = "The phone and its tokens are gone."),
        (status = 404, description = "`phone.not-found`.", body = ErrorBody)))]
async fn uninstall(
    state: web::Data<Phones>,
    id: web::Path<String>,
) -> Result<HttpResponse, PhoneError> {
    let phone = state
        .phones
        .delete(&id)
        .await?
        .ok_or_else(|| PhoneError::NotFound(id.to_string()))?;
    // The app is gone: the relay answers Unregistered for its push token from now on.
    state
        .unregister(&phone.id, &phone.identity.registration_id)
        .await;
    Ok(with_outcome(
        HttpResponse::NoContent().finish(),
        "phone",
        "deleted",
    ))
}

/// Why an activated token could not be stored.
enum StoreRefusal {
    /// The phone was deleted (or deleted and created again) while the server answered.
    Gone,
    Storage(protocol::device_storage::DeviceStorageError),
}

/// `POST /phones/{id}/activate`: redeem a code at ftm as the app does and store the token; a
/// FortiAuthenticator's offline activation QR string installs its token with no server asked.
#[utoipa::path(post, path = paths::PHONE_ACTIVATE, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")), request_body = Activate,
    responses(
        (status = 201, description = "The token, now on the phone.", body = PhoneTokenView),
        (status = 400, description = "`phone.bad-code`: not an activation code (ftm is not asked).", body = ErrorBody),
        (status = 404, description = "`phone.not-found`.", body = ErrorBody),
        (status = 422, description = "ftm's refusal with its catalogue id, e.g. `ftm.mobile.code-invalid`.", body = ErrorBody),
        (status = 502, description = "`phone.ftm-unreachable`.", body = ErrorBody)))]
async fn activate(
    state: web::Data<Phones>,
    id: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PhoneError> {
    let body: Activate = json_body(&request, payload).await?;
    activate_with(&state, &id, &body.code).await
}

/// `POST /phones/{id}/scan`: the phone's camera on a QR code image (the one in an activation email): the
/// QR code read, then the activation as if the user had scanned it on screen.
#[utoipa::path(post, path = paths::PHONE_SCAN, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")), request_body = ScanRequest,
    responses(
        (status = 201, description = "The phone's camera on a QR code image (the one in an activation email): the QR code read, then the activation as if the user had scanned it on screen; the token, now on the phone.", body = PhoneTokenView),
        (status = 400, description = "Not a PNG with a QR code, or not an activation code in it.", body = ErrorBody),
        (status = 404, description = "`phone.not-found`.", body = ErrorBody),
        (status = 422, description = "ftm's refusal with its catalogue id, e.g. `ftm.mobile.code-invalid`.", body = ErrorBody),
        (status = 502, description = "`phone.ftm-unreachable`.", body = ErrorBody)))]
async fn scan(
    state: web::Data<Phones>,
    id: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PhoneError> {
    use base64::Engine as _;
    let body: ScanRequest = json_body(&request, payload).await?;
    let image = base64::engine::general_purpose::STANDARD
        .decode(body.png.trim())
        .map_err(|e| {
            ApiError::bad_request("phone.bad-image", format!("`png` is not Base64: {e}"))
        })?;
    find(&state, &id)?;
    let text = crate::camera::read_qr(&image).map_err(|e| {
        ApiError::bad_request(
            "phone.no-qr-code",
            format!("{e}; the provisioning server was not asked"),
        )
    })?;
    activate_with(&state, &id, &text).await
}

/// Activates with `typed` (a code as typed, the QR string, or a FortiAuthenticator's offline activation QR
/// content) and stores the token.
async fn activate_with(state: &Phones, id: &str, typed: &str) -> Result<HttpResponse, PhoneError> {
    // A FortiAuthenticator's offline activation QR code carries the token itself: no server is asked.
    let offline = match protocol::modeled::parse_offline_activation(typed) {
        Some(Ok(offline)) => Some(offline),
        Some(Err(e)) => {
            return Err(ApiError::bad_request(
                "phone.bad-code",
                format!("{e}; the token was not installed"),
            )
            .into());
        }
        None => None,
    };
    let phone = find(state, id)?;
    let delivered = match offline {
        Some(offline) => Ok(offline_delivered(offline)),
        None => redeem(state, &phone, typed).await?,
    };
    let delivered = match delivered {
        Ok(delivered) => delivered,
        Err(response) => return Ok(response),
    };
    store_activated(state, id, &phone, delivered).await
}

/// The token an offline activation QR code carries, as the app stores it (FAC's provisioning settings give
/// no PIN requirement in the lab).
fn offline_delivered(offline: protocol::modeled::OfflineActivation) -> crate::app_data::Delivered {
    crate::app_data::Delivered {
        serial: offline.token,
        seed: offline.seed,
        kind: offline.params.kind,
        period: offline.params.period,
        digits: offline.params.digits,
        counter: offline.counter,
        issuer: offline.issuer,
        image_file: String::new(),
        pin_required: "N".to_owned(),
        pin_length: 0,
        pin_required_type: 0,
    }
}

/// Redeems an activation code at ftm; `Err(response)` is a refusal to answer as it is.
async fn redeem(
    state: &Phones,
    phone: &Phone,
    input: &str,
) -> Result<Result<crate::app_data::Delivered, HttpResponse>, PhoneError> {
    let code = code_from_input(input).map_err(|e| {
        ApiError::bad_request(
            "phone.bad-code",
            format!(
                "{e}, or the QR string fortitokenmobile://activate?code=…; the provisioning server was not asked"
            ),
        )
    })?;
    match state.ftm.activate(&phone.identity, code).await {
        Ok(delivered) => Ok(Ok(delivered)),
        Err(ActivationError::Refused { error_id, message }) => {
            let result = format!("refused: {error_id}");
            let response = ApiError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                error_id,
                message,
            )
            .response();
            Ok(Err(with_outcome(response, "phone activate", result)))
        }
        Err(e @ ActivationError::Unreachable(_)) => {
            tracing::warn!(phone = %phone.id, error = %e, "activation failed");
            Err(ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "phone.ftm-unreachable",
                e.to_string(),
            )
            .into())
        }
        Err(e @ ActivationError::BadAnswer(_)) => {
            tracing::warn!(phone = %phone.id, error = %e, "activation failed");
            Err(ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "phone.ftm-bad-answer",
                e.to_string(),
            )
            .into())
        }
    }
}

/// Stores an activated token on the phone (unless the phone went away meanwhile).
async fn store_activated(
    state: &Phones,
    id: &str,
    phone: &Phone,
    delivered: crate::app_data::Delivered,
) -> Result<HttpResponse, PhoneError> {
    let lab_ms = state.clock.now_ms();
    let serial = delivered.serial.clone();
    let (mobile_id, uuid_pref) = (
        phone.identity.mobile_id.clone(),
        phone.app.uuid_pref.clone(),
    );
    let stored = state
        .phones
        .update(id, move |current| {
            if current.identity.mobile_id != mobile_id || current.app.uuid_pref != uuid_pref {
                return Err(StoreRefusal::Gone);
            }
            let activated_ms =
                lab_ms.saturating_add(current.identity.clock_skew_secs.saturating_mul(1000));
            current
                .app
                .store(&current.identity.mobile_id, &delivered, activated_ms)
                .map_err(StoreRefusal::Storage)
        })
        .await?;
    match stored {
        Some(Ok(account)) => {
            let result = format!("{} activated on {}", account.serial, phone.id);
            Ok(with_outcome(
                HttpResponse::Created().json(account.view()),
                "phone activate",
                result,
            ))
        }
        Some(Err(StoreRefusal::Gone)) | None => Err(ApiError::not_found(
            "phone.not-found",
            format!(
                "phone {id} was deleted while ftm delivered token {serial}; that code is used up"
            ),
        )
        .into()),
        Some(Err(StoreRefusal::Storage(error))) => Err(PhoneError::AppData {
            phone: id.to_string(),
            error,
        }),
    }
}

/// `GET /phones/{id}/otp` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OtpQuery {
    /// The token serial; optional when the phone has one token.
    token: Option<String>,
    /// The lab time to show the code for (RFC 3339, a date or epoch seconds); default now.
    at: Option<String>,
}

/// `GET /phones/{id}/otp`: the code the app shows, by the phone's own clock. Never advances a counter.
#[utoipa::path(get, path = paths::PHONE_OTP, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …)."), OtpQuery),
    responses(
        (status = 200, description = "The code the app shows.", body = OtpView),
        (status = 400, description = "A bad `at`, or `phone.token-ambiguous`.", body = ErrorBody),
        (status = 404, description = "`phone.not-found`, `phone.token-not-found`.", body = ErrorBody)))]
async fn otp(
    state: web::Data<Phones>,
    id: web::Path<String>,
    query: Query<OtpQuery>,
) -> Result<HttpResponse, PhoneError> {
    let serial = query
        .token
        .as_deref()
        .map(str::parse::<TokenSerial>)
        .transpose()?;
    let lab_time = match query.at.as_deref().map(UnixTime::parse).transpose() {
        Ok(at) => at.unwrap_or_else(|| state.clock.now()),
        Err(e) => return Err(ApiError::bad_request("phone.bad-time", format!("at: {e}")).into()),
    };
    let phone = find(&state, &id)?;
    let account = phone
        .app
        .pick(serial.as_ref())
        .map_err(|error| PhoneError::Pick {
            phone: phone.id.clone(),
            error,
        })?;
    let seed = phone
        .app
        .seed_of(&phone.identity.mobile_id, account)
        .map_err(|error| PhoneError::AppData {
            phone: phone.id.clone(),
            error,
        })?;
    Ok(HttpResponse::Ok().json(account.otp(&seed, phone.identity.phone_time(lab_time))))
}

/// Why a HOTP counter could not step.
enum StepRefusal {
    NotFound,
    NotHotp,
}

/// `POST /phones/{id}/tokens/{serial}/next`: the user asks a HOTP token for its next code.
#[utoipa::path(post, path = paths::PHONE_TOKEN_NEXT, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …)."), ("serial" = String, Path, description = "The token serial (`FTKMOB…`).")),
    responses(
        (status = 200, description = "The HOTP token's next code.", body = OtpView),
        (status = 400, description = "Not a HOTP token.", body = ErrorBody),
        (status = 404, description = "`phone.not-found`, `phone.token-not-found`.", body = ErrorBody)))]
async fn next(
    state: web::Data<Phones>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PhoneError> {
    let (id, serial) = path.into_inner();
    let serial = serial.parse::<TokenSerial>()?;
    let step = serial.clone();
    let stepped = state
        .phones
        .update(&id, move |phone| {
            let account = phone.app.account_mut(&step).ok_or(StepRefusal::NotFound)?;
            if account.kind != OtpKind::Hotp {
                return Err(StepRefusal::NotHotp);
            }
            account.counter = account.counter.saturating_add(1);
            Ok(phone.clone())
        })
        .await?;
    let phone = match stepped {
        Some(Ok(phone)) => phone,
        Some(Err(StepRefusal::NotFound)) => {
            return Err(PhoneError::TokenNotFound { phone: id, serial });
        }
        Some(Err(StepRefusal::NotHotp)) => {
            return Err(ApiError::conflict(
                "phone.not-hotp",
                format!("{serial} is a TOTP token: its code changes with time, not on demand"),
            )
            .into());
        }
        None => return Err(PhoneError::NotFound(id)),
    };
    let account = phone
        .app
        .pick(Some(&serial))
        .map_err(|error| PhoneError::Pick {
            phone: phone.id.clone(),
            error,
        })?;
    let seed = phone
        .app
        .seed_of(&phone.identity.mobile_id, account)
        .map_err(|error| PhoneError::AppData {
            phone: phone.id.clone(),
            error,
        })?;
    let view = account.otp(&seed, phone.identity.phone_time(state.clock.now()));
    let result = format!("{serial} at counter {}", account.counter);
    Ok(with_outcome(
        HttpResponse::Ok().json(view),
        "phone next",
        result,
    ))
}

/// `DELETE /phones/{id}/tokens/{serial}`: the user deletes the account from the app.
#[utoipa::path(delete, path = paths::PHONE_TOKEN, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …)."), ("serial" = String, Path, description = "The token serial (`FTKMOB…`).")),
    responses(
        (status = 204, description = "The token is gone from the app."),
        (status = 404, description = "`phone.not-found`, `phone.token-not-found`.", body = ErrorBody)))]
async fn delete_token(
    state: web::Data<Phones>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PhoneError> {
    let (id, serial) = path.into_inner();
    let serial = serial.parse::<TokenSerial>()?;
    let removing = serial.clone();
    let removed = state
        .phones
        .update(&id, move |phone| {
            if phone.app.remove(&removing) {
                Ok(())
            } else {
                Err(())
            }
        })
        .await?;
    match removed {
        Some(Ok(())) => Ok(with_outcome(
            HttpResponse::NoContent().finish(),
            "phone",
            format!("{serial} deleted from {id}"),
        )),
        Some(Err(())) => Err(PhoneError::TokenNotFound { phone: id, serial }),
        None => Err(PhoneError::NotFound(id)),
    }
}

/// `GET /phones/{id}/export`: the app's preferences and accounts as the Android app stores them.
#[utoipa::path(get, path = paths::PHONE_EXPORT, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")),
    responses(
        (status = 200, description = "The app data as the Android app stores it: `shared_prefs` and `accounts` (seeds encrypted).", body = Object),
        (status = 404, description = "`phone.not-found`.", body = ErrorBody)))]
async fn export(
    state: web::Data<Phones>,
    id: web::Path<String>,
) -> Result<HttpResponse, PhoneError> {
    let phone = find(&state, &id)?;
    Ok(HttpResponse::Ok().json(phone.app.export(&phone.identity, phone.view())))
}

/// `GET /phones/{id}/inbox`: the pushes the phone received, oldest first.
#[utoipa::path(get, path = paths::PHONE_INBOX, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")),
    responses(
        (status = 200, description = "The pushes the phone received, oldest first.", body = Inbox),
        (status = 404, description = "`phone.not-found`.", body = ErrorBody)))]
async fn inbox(
    state: web::Data<Phones>,
    id: web::Path<String>,
) -> Result<HttpResponse, PhoneError> {
    let phone = find(&state, &id)?;
    Ok(HttpResponse::Ok().json(Inbox {
        pushes: phone.inbox.items.iter().map(InboxItem::entry).collect(),
    }))
}

/// `POST /phones/{id}/push-webhook`: the relay delivering a push. The phone checks and stores it, answers the
/// relay at once, and then acts on it as its policy says.
#[utoipa::path(post, path = paths::PHONE_PUSH_WEBHOOK, tag = "push webhook", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")), request_body = DeliveredPush,
    responses(
        (status = 200, description = "Taken: the phone checked the push with its seeds and stored it."),
        (status = 400, description = "A push the phone cannot read.", body = ErrorBody),
        (status = 404, description = "`phone.not-found`.", body = ErrorBody)))]
async fn push_webhook(
    state: web::Data<Phones>,
    id: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PhoneError> {
    let body = read_body(&request, payload.into_inner(), ADMIN_JSON_LIMIT)
        .await
        .map_err(ApiError::from)?;
    let delivered = serde_json::from_slice::<DeliveredPush>(&body)
        .map_err(|_| ApiError::bad_request("phone.bad-push", "the body is not a delivered push"))?;
    let stored = state
        .phones
        .update(&id, move |phone| {
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
        .await?;
    let (push_id, pending, settings) =
        stored.ok_or_else(|| PhoneError::NotFound(id.to_string()))??;
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
            // The automatic answer belongs to the push's flow.
            lab::flow::spawn(async move {
                if delay_ms > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                }
                if let Err(e) = answer_push(&state, &id, &push_id.to_string(), approving).await {
                    tracing::warn!(phone = id.as_str(), push = push_id, error = %e, "automatic answer failed");
                }
            });
        }
    }
    Ok(with_outcome(
        HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        "phone push",
        format!("push {push_id} received"),
    ))
}

#[utoipa::path(post, path = paths::PHONE_APPROVE, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …)."), ("push" = String, Path, description = "The push's number in the inbox, or `latest`.")),
    responses(
        (status = 200, description = "The push, answered: the phone called the appliance back with its OTP.", body = InboxEntry),
        (status = 404, description = "No such phone or push.", body = ErrorBody),
        (status = 409, description = "Already answered.", body = ErrorBody)))]
async fn approve(
    state: web::Data<Phones>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PhoneError> {
    let (id, push) = path.into_inner();
    answered(answer_push(&state, &id, &push, true).await?)
}

#[utoipa::path(post, path = paths::PHONE_DENY, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …)."), ("push" = String, Path, description = "The push's number in the inbox, or `latest`.")),
    responses(
        (status = 200, description = "The push, denied.", body = InboxEntry),
        (status = 404, description = "No such phone or push.", body = ErrorBody),
        (status = 409, description = "Already answered.", body = ErrorBody)))]
async fn deny(
    state: web::Data<Phones>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PhoneError> {
    let (id, push) = path.into_inner();
    answered(answer_push(&state, &id, &push, false).await?)
}

fn answered(entry: InboxEntry) -> Result<HttpResponse, PhoneError> {
    let outcome = format!("push {} {:?}", entry.id, entry.status);
    Ok(with_outcome(
        HttpResponse::Ok().json(entry),
        "phone push",
        outcome,
    ))
}

/// Answers push `push` (an id or `latest`) on phone `id`: approve with the OTP the phone shows now, or deny,
/// connecting straight to the appliance's callback address over TLS as the app does; records the outcome.
async fn answer_push(
    state: &Phones,
    id: &str,
    push: &str,
    approving: bool,
) -> Result<InboxEntry, PhoneError> {
    let phone = find(state, id)?;
    let item = phone
        .inbox
        .find(push)
        .ok_or_else(|| PhoneError::NoPush {
            phone: id.to_owned(),
            push: push.to_owned(),
        })?
        .clone();
    if item.status != PushStatus::Pending {
        return Err(PhoneError::NotPending(item.status));
    }
    let payload = item
        .payload
        .clone()
        .ok_or(PhoneError::NotPending(item.status))?;
    let account = phone
        .app
        .pick(Some(&payload.token))
        .map_err(|error| PhoneError::Pick {
            phone: phone.id.clone(),
            error,
        })?;
    let seed = phone
        .app
        .seed_of(&phone.identity.mobile_id, account)
        .map_err(|error| PhoneError::AppData {
            phone: phone.id.clone(),
            error,
        })?;
    let callback = if approving {
        let otp = account.otp(&seed, phone.identity.phone_time(state.clock.now()));
        PushCallback::approve(seed.as_bytes(), &payload.session_id, &otp.otp)
    } else {
        PushCallback::deny(seed.as_bytes(), &payload.session_id, "denied by user")
    };
    let url = push_inbox::callback_url(&payload, state.secure_callbacks);
    let address = format!("{}:{}", payload.callback_host, payload.callback_port);
    let (status, detail) = match state
        .callbacks
        .post(&url)
        .in_flow()
        .json(&callback)
        .send()
        .await
    {
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
    let item_id = item.id;
    let recorded = state
        .phones
        .update(id, move |phone| {
            let item = phone
                .inbox
                .item_mut(item_id)
                .ok_or(IdentityError::BadRequest("the push is gone".into()))?;
            if item.status == PushStatus::Pending {
                item.status = status;
                item.detail = detail;
            }
            Ok::<_, IdentityError>(item.entry())
        })
        .await?;
    Ok(recorded.ok_or_else(|| PhoneError::NotFound(id.to_owned()))??)
}
