//! The appliance service's routes for what this issue added: hardware tokens (activation by serial, the
//! seed file's import, assignment, `diagnose fortitoken info`), local users with token authentication (a
//! FortiAuthenticator provisions them itself), sending activation codes and where they go, the SMS sink the
//! appliances post to, and the captured messages under `/__admin/messages`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use lab::api::Api;
use lab::http::{ApiError, Json, Query};
use protocol::appliance::{FortiTokenStatus, NewUser, ProvisionTokenRequest};
use protocol::hardware::{
    HardwareActivate, HardwareAssign, HardwareHolderQuery, HardwareHolders, SeedFileImport,
};
use protocol::messages::{
    DeliveryMethod, MessageList, MessageQuery, MessagesCleared, MessagingChange, MessagingSettings,
    SendActivation, SmsAccepted, SmsRefused, SmsSubmit,
};
use protocol::paths;
use protocol::scenario::{SMS_MESSAGE, ScenarioAction, Trigger};
use protocol::time::UnixTime;
use serde::Deserialize;

use crate::delivery::Recipient;
use crate::error::ApplianceError;
use crate::fortitoken::{Appliance, Token};
use crate::hardware_store::Profile;
use crate::messages::Captured;
use crate::routes::{Appliances, find};
use crate::{hardware_ops, kinds};

/// The routes inside the guarded `/appliances` scope (paths relative to it).
pub(crate) fn appliance_routes(api: &mut Api<'_>) {
    api.route(__path_activate, activate)
        .route_with_body_limit(
            __path_import_seed_file,
            import_seed_file,
            crate::seed_file::MAX_SEED_FILE * 2,
        )
        .route(__path_assign, assign)
        .route(__path_fortitoken_info, fortitoken_info)
        .route(__path_create_user, create_user)
        .route(__path_send_activation, send_activation)
        .route(__path_messaging, messaging)
        .route(__path_change_messaging, change_messaging);
}

/// The routes outside the guarded scope: the SMS sink, which appliances post to as to a gateway.
pub(crate) fn device_routes(api: &mut Api<'_>) {
    api.route(__path_sms_sink, sms_sink);
}

/// The ledger route forticare asks before TAC resets a hardware token's lock (guarded: it names users).
pub(crate) fn ledger_routes(api: &mut Api<'_>) {
    api.guarded(LEDGER_SCOPE, |ledger| {
        ledger.route(__path_hardware_holders, hardware_holders);
    });
}

/// The scope of [`paths::LEDGER_HARDWARE_HOLDERS`].
const LEDGER_SCOPE: &str = paths::LEDGER;

/// The captured messages, inside the guarded `/__admin` scope.
pub(crate) fn admin_routes(api: &mut Api<'_>) {
    api.route(__path_list_messages, list_messages)
        .route(__path_clear_messages, clear_messages)
        .route(__path_show_message, show_message)
        .route(__path_message_eml, message_eml)
        .route(__path_message_qr, message_qr);
}

/// Which virtual appliance has each of the hardware tokens assigned, to which user (forticare, as TAC, asks
/// before it resets a token's activation lock).
#[utoipa::path(post, path = paths::LEDGER_HARDWARE_HOLDERS, tag = "hardware tokens",
    request_body = HardwareHolderQuery,
    responses(
        (status = 200, description = "The assignments found (a token nobody has is left out).", body = HardwareHolders),
        (status = 400, description = "Not a list of hardware serials.", body = protocol::admin::ErrorBody)))]
async fn hardware_holders(
    state: web::Data<Appliances>,
    query: Json<HardwareHolderQuery>,
) -> Result<HttpResponse, ApplianceError> {
    let holders = state.store.hardware().holders(&query.serials)?;
    Ok(HttpResponse::Ok().json(HardwareHolders { holders }))
}

/// `?debug=true`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DebugQuery {
    #[serde(default)]
    debug: bool,
}

fn with_debug<T: serde::Serialize>(
    state: &Appliances,
    appliance: &Appliance,
    debug: &mut Vec<String>,
    keep: bool,
    answer: &T,
) -> HttpResponse {
    state.record_debug(&appliance.serial, debug);
    if !keep {
        debug.clear();
    }
    HttpResponse::Ok().json(answer)
}

#[utoipa::path(post, path = paths::APPLIANCE_HARDWARE_ACTIVATE, tag = "hardware tokens", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = "2XX", description = "Hardware tokens activated by serial through FortiGuard: per token the seed or the refusal.")))]
async fn activate(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: Query<DebugQuery>,
    body: Json<HardwareActivate>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    if body.serials.len() > protocol::hardware::MAX_BATCH_TOKENS as usize {
        return Err(ApplianceError::BadRequest(format!(
            "at most {} serials at once",
            protocol::hardware::MAX_BATCH_TOKENS
        )));
    }
    let profile = state.profile_of(&appliance)?;
    match hardware_ops::activate(&state.ops(), &appliance, &profile, &body.serials).await {
        Ok(mut outcome) => {
            let mut debug = std::mem::take(&mut outcome.debug);
            let response = with_debug(&state, &appliance, &mut debug, query.debug, &());
            drop(response);
            outcome.debug = debug;
            Ok(HttpResponse::Ok().json(outcome))
        }
        Err(ApplianceError::Cloud {
            status,
            mut failure,
        }) => {
            state.record_debug(&appliance.serial, &failure.debug);
            if !query.debug {
                failure.debug.clear();
            }
            Err(ApplianceError::Cloud { status, failure })
        }
        Err(other) => Err(other),
    }
}

#[utoipa::path(post, path = paths::APPLIANCE_HARDWARE_IMPORT, tag = "hardware tokens", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = "2XX", description = "A 200CD batch's seed file (password-protected zip) imported offline.")))]
async fn import_seed_file(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    query: Query<DebugQuery>,
    body: Json<SeedFileImport>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let mut outcome = hardware_ops::import_seed_file(&state.ops(), &appliance, &body).await?;
    state.record_debug(&appliance.serial, &outcome.debug);
    if !query.debug {
        outcome.debug.clear();
    }
    Ok(HttpResponse::Ok().json(outcome))
}

#[utoipa::path(post, path = paths::APPLIANCE_HARDWARE_ASSIGN, tag = "hardware tokens", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = "2XX", description = "A hardware token assigned to a user.")))]
async fn assign(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    body: Json<HardwareAssign>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let row = hardware_ops::assign(&state.ops(), &appliance, &body.token, &body.user).await?;
    tracing::info!(appliance = %appliance.serial, token = %row.serial, user = ?row.user, "hardware token assigned");
    Ok(HttpResponse::Ok().json(row))
}

#[utoipa::path(get, path = paths::APPLIANCE_FORTITOKEN_INFO, tag = "hardware tokens", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = "2XX", description = "`diagnose fortitoken info`: every token the appliance holds.")))]
async fn fortitoken_info(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    Ok(HttpResponse::Ok().json(hardware_ops::fortitoken_info(&state.ops(), &appliance)?))
}

/// The recipient a request names, checked the way the appliance checks what an admin types: a bad address or
/// number is a delivery failure (`Failed to send activation code`), not a bad request.
fn recipient(
    method: DeliveryMethod,
    email: Option<&str>,
    sms_phone: Option<&str>,
) -> Result<Recipient, ApplianceError> {
    match (method, email, sms_phone) {
        (DeliveryMethod::Email, Some(email), _) => Ok(Recipient::Email(email.trim().to_owned())),
        (DeliveryMethod::Sms, _, Some(phone)) => Ok(Recipient::Sms(phone.trim().to_owned())),
        (DeliveryMethod::Email, None, _) => Err(ApplianceError::BadRequest(
            "method email needs `email`".to_owned(),
        )),
        (DeliveryMethod::Sms, _, None) => Err(ApplianceError::BadRequest(
            "method sms needs `sms_phone`".to_owned(),
        )),
    }
}

/// Sends `token`'s activation code to `to`; a failure is FortiOS's `Failed to send activation code` (502),
/// and the token stays Pending.
pub(crate) async fn deliver(
    state: &Appliances,
    appliance: &Appliance,
    token: &Token,
    to: &Recipient,
) -> Result<protocol::messages::Delivered, ApplianceError> {
    let (Some(code), Some(expire), Some(user)) =
        (&token.activation_code, token.activation_expire, &token.user)
    else {
        return Err(ApplianceError::Conflict(format!(
            "{} has no activation code to send: it is not Pending",
            token.serial
        )));
    };
    crate::delivery::send_activation(
        state,
        appliance,
        user,
        to,
        token.serial.as_str(),
        code,
        UnixTime::from_secs(expire),
    )
    .await
}

/// The recipient of a provisioning request, if it asks for one.
pub(crate) fn provision_recipient(request: &ProvisionTokenRequest) -> Option<Recipient> {
    match (&request.email, &request.sms_phone) {
        (Some(email), _) => Some(Recipient::Email(email.trim().to_owned())),
        (None, Some(phone)) => Some(Recipient::Sms(phone.trim().to_owned())),
        (None, None) => None,
    }
}

/// `user/fortitoken/send-activation`: the code of a Pending token sent (again).
#[utoipa::path(post, path = paths::APPLIANCE_SEND_ACTIVATION, tag = "activation messages", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = "2XX", description = "`user/fortitoken/send-activation`: the code of a Pending token sent (again).")))]
async fn send_activation(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    body: Json<SendActivation>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let to = recipient(
        body.method,
        body.email.as_deref(),
        body.sms_phone.as_deref(),
    )?;
    let token = state
        .store
        .tokens(&appliance.serial)?
        .into_iter()
        .find(|t| t.serial.as_str().eq_ignore_ascii_case(body.token.trim()))
        .ok_or_else(|| {
            ApplianceError::NotFound(format!(
                "no token `{}` on {}",
                body.token.trim().chars().take(40).collect::<String>(),
                appliance.serial
            ))
        })?;
    if token.status_at(state.clock.now()) != FortiTokenStatus::Pending {
        return Err(ApplianceError::Conflict(format!(
            "{} is not Pending: only a Pending token's activation code can be sent",
            token.serial
        )));
    }
    let delivered = deliver(&state, &appliance, &token, &to).await?;
    Ok(HttpResponse::Ok().json(delivered))
}

/// `POST /appliances/{serial}/users`: a user with token authentication. A FortiAuthenticator gives it the
/// next Available mobile token (provisioned, and sent when the request names an address or number) or, with
/// none left, the next new hardware token; the other kinds provision manually.
#[utoipa::path(post, path = paths::APPLIANCE_USERS, tag = "virtual appliances", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = "2XX", description = "A user with token authentication.")))]
async fn create_user(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    body: Json<NewUser>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let body = body.into_inner();
    if !crate::fortitoken::valid_user_name(body.name.trim()) {
        return Err(ApplianceError::BadRequest(format!(
            "`{}` is not a valid user name (1 to 64 printable characters, no spaces)",
            body.name.chars().take(64).collect::<String>()
        )));
    }
    if !body.token_auth {
        return Err(ApplianceError::BadRequest(
            "fortimock keeps only users with token authentication: set `token_auth`".to_owned(),
        ));
    }
    if !kinds::provisions_automatically(appliance.mode) {
        return Err(ApplianceError::Conflict(format!(
            "{} provisions FortiTokens manually: assign a token to {} with provision (mobile) or hardware/assign",
            kinds::product(appliance.mode),
            body.name.trim()
        )));
    }
    let has_available_mobile = state
        .store
        .tokens(&appliance.serial)?
        .iter()
        .any(|t| t.status == FortiTokenStatus::Available);
    if !has_available_mobile {
        let row = hardware_ops::assign(&state.ops(), &appliance, "any", &body.name).await?;
        return Ok(HttpResponse::Created().json(row));
    }
    let request = ProvisionTokenRequest {
        token: "any".to_owned(),
        user: Some(body.name.trim().to_owned()),
        expiry_minutes: None,
        email: body.email.clone(),
        sms_phone: body.sms_phone.clone(),
    };
    crate::routes::provision_and_deliver(&state, &appliance, &request, false).await
}

/// A profile's messaging settings after `change`, or the sentence naming a bad value.
fn apply_messaging(
    mut settings: MessagingSettings,
    change: &MessagingChange,
) -> Result<MessagingSettings, String> {
    if let Some(server) = &change.smtp_server {
        let server = server.trim();
        if server.is_empty()
            || server.len() > 253
            || !server
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
        {
            return Err(format!(
                "smtp_server `{}` must be an IP address or a host name",
                server.chars().take(64).collect::<String>()
            ));
        }
        settings.smtp_server = server.to_owned();
    }
    if let Some(port) = change.smtp_port {
        if port == 0 {
            return Err("smtp_port must not be 0".to_owned());
        }
        settings.smtp_port = port;
    }
    if let Some(security) = &change.smtp_security {
        if !matches!(security.as_str(), "starttls" | "none") {
            return Err(format!(
                "smtp_security `{}` is neither starttls nor none",
                security.chars().take(32).collect::<String>()
            ));
        }
        settings.smtp_security = security.clone();
    }
    if let Some(sender) = &change.sender {
        if sender.parse::<lettre::Address>().is_err() {
            return Err(format!(
                "sender `{}` is not an email address",
                sender.chars().take(80).collect::<String>()
            ));
        }
        settings.sender = sender.clone();
    }
    if let Some(url) = &change.sms_gateway {
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
            return Err(format!(
                "sms_gateway `{}` is not an http(s) URL",
                url.chars().take(80).collect::<String>()
            ));
        }
        settings.sms_gateway = url.clone();
    }
    Ok(settings)
}

/// The profile a new appliance gets from its creation request; the error names a bad value.
pub(crate) fn new_profile(
    state: &Appliances,
    version: &str,
    firmware: Option<&str>,
    fortiguard_url: Option<&str>,
    messaging: Option<&MessagingChange>,
) -> Result<Profile, String> {
    let firmware = match firmware {
        Some(text) => {
            let parsed = kinds::Firmware::parse(text).ok_or_else(|| {
                format!(
                    "firmware `{}` is not a version such as 7.4.10",
                    text.chars().take(32).collect::<String>()
                )
            })?;
            parsed.to_string()
        }
        None => kinds::default_firmware(version),
    };
    let fortiguard_url = fortiguard_url.unwrap_or(&state.defaults.fortiguard_url);
    if !(fortiguard_url.starts_with("https://") || fortiguard_url.starts_with("http://")) {
        return Err(format!(
            "fortiguard_url `{fortiguard_url}` is not an http(s) URL"
        ));
    }
    let messaging = apply_messaging(
        state.defaults.messaging.clone(),
        &messaging.cloned().unwrap_or_default(),
    )?;
    Ok(Profile {
        firmware,
        fortiguard_url: fortiguard_url.trim_end_matches('/').to_owned(),
        messaging,
    })
}

#[utoipa::path(get, path = paths::APPLIANCE_MESSAGING, tag = "activation messages", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = "2XX", description = "Where activation emails and SMS go (SMTP server, SMS gateway).")))]
async fn messaging(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    Ok(HttpResponse::Ok().json(state.profile_of(&appliance)?.messaging))
}

#[utoipa::path(patch, path = paths::APPLIANCE_MESSAGING, tag = "activation messages", params(("serial" = String, Path, description = "The appliance's serial number.")), responses((status = "2XX", description = "Where activation emails and SMS go, changed.")))]
async fn change_messaging(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    change: Json<MessagingChange>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let change = change.into_inner();
    let current = state.profile_of(&appliance)?;
    apply_messaging(current.messaging.clone(), &change).map_err(ApplianceError::BadRequest)?;
    let profile = state
        .store
        .hardware()
        .update_profile(&appliance.serial, current, move |profile| {
            profile.messaging = apply_messaging(profile.messaging.clone(), &change)?;
            Ok::<_, String>(())
        })
        .await?
        .map_err(ApplianceError::BadRequest)?;
    Ok(HttpResponse::Ok().json(profile.messaging))
}

/// The SMS sink: takes an SMS as a gateway would, stores it before answering.
#[utoipa::path(post, path = paths::SMS_GATEWAY, tag = "SMS gateway (appliances' wire)", responses((status = "2XX", description = "The SMS sink: takes an SMS as a gateway would, stores it before answering.")))]
async fn sms_sink(
    state: web::Data<Appliances>,
    http: HttpRequest,
    body: Json<SmsSubmit>,
) -> Result<HttpResponse, ApplianceError> {
    let body = body.into_inner();
    let refuse = |status: StatusCode, error: String| {
        HttpResponse::build(status).json(SmsRefused {
            status: "error".to_owned(),
            error,
        })
    };
    if !crate::delivery::valid_phone(body.to.trim()) {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            "`to` is not a phone number in E.164 (+ and 8 to 15 digits)".to_owned(),
        ));
    }
    if body.text.is_empty() || body.text.chars().count() > 1600 || body.from.len() > 64 {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            "`text` must be 1 to 1600 characters and `from` at most 64".to_owned(),
        ));
    }
    let trigger = Trigger {
        recipient: Some(body.to.trim()),
        ..Trigger::new(SMS_MESSAGE)
    };
    if let Some(fired) = lab::scenario::fire(&http, &trigger).await {
        match fired.action {
            ScenarioAction::Error(armed) => {
                return Ok(refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    armed.error.text.to_owned(),
                ));
            }
            ScenarioAction::Status(status) => {
                return Ok(refuse(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                    format!("answered by scenario {}", fired.id),
                ));
            }
            ScenarioAction::Delay => {}
        }
    }
    let id = state
        .mailbox
        .capture(Captured {
            kind: DeliveryMethod::Sms,
            received: state.clock.now(),
            from: body.from.trim().to_owned(),
            to: vec![body.to.trim().to_owned()],
            raw: body.text.into_bytes(),
            tls: false,
        })
        .await?;
    tracing::info!(message = %id, "SMS captured");
    Ok(HttpResponse::Created().json(SmsAccepted {
        status: "accepted".to_owned(),
        id,
    }))
}

#[utoipa::path(get, path = paths::ADMIN_MESSAGES, tag = "activation messages", responses((status = "2XX", description = "The captured activation messages (email and SMS), filtered by recipient.")))]
async fn list_messages(
    state: web::Data<Appliances>,
    query: Query<MessageQuery>,
) -> Result<HttpResponse, ApplianceError> {
    Ok(HttpResponse::Ok().json(MessageList {
        messages: state.mailbox.list(&query)?,
    }))
}

#[utoipa::path(delete, path = paths::ADMIN_MESSAGES, tag = "activation messages", responses((status = "2XX", description = "Every captured message removed.")))]
async fn clear_messages(state: web::Data<Appliances>) -> Result<HttpResponse, ApplianceError> {
    let removed = state.mailbox.clear().await?;
    Ok(HttpResponse::Ok().json(MessagesCleared { removed }))
}

fn no_message(id: &str) -> ApplianceError {
    ApplianceError::Api(ApiError::not_found(
        "appliance.message.not-found",
        format!(
            "no message {}; GET /__admin/messages lists them",
            id.chars().take(40).collect::<String>()
        ),
    ))
}

#[utoipa::path(get, path = paths::ADMIN_MESSAGE, tag = "activation messages", params(("id" = String, Path, description = "The message's id.")), responses((status = "2XX", description = "One captured message.")))]
async fn show_message(
    state: web::Data<Appliances>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let (view, _) = state.mailbox.get(&id)?.ok_or_else(|| no_message(&id))?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(get, path = paths::ADMIN_MESSAGE_EML, tag = "activation messages", params(("id" = String, Path, description = "The message's id.")), responses((status = "2XX", description = "One captured email as it was received (RFC 5322).")))]
async fn message_eml(
    state: web::Data<Appliances>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let (view, raw) = state.mailbox.get(&id)?.ok_or_else(|| no_message(&id))?;
    if view.kind != DeliveryMethod::Email {
        return Err(ApplianceError::Api(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "appliance.message.not-email",
            format!("{} is an SMS: it has no .eml", view.id),
        )));
    }
    Ok(HttpResponse::Ok()
        .content_type("message/rfc822")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{}.eml\"", view.id),
        ))
        .body(raw))
}

#[utoipa::path(get, path = paths::ADMIN_MESSAGE_QR, tag = "activation messages", params(("id" = String, Path, description = "The message's id.")), responses((status = "2XX", description = "The activation QR code of a captured email (PNG).")))]
async fn message_qr(
    state: web::Data<Appliances>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let (view, raw) = state.mailbox.get(&id)?.ok_or_else(|| no_message(&id))?;
    let png = crate::messages::qr_image(&raw).ok_or_else(|| {
        ApplianceError::Api(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "appliance.message.no-qr",
            format!("{} carries no QR code image", view.id),
        ))
    })?;
    Ok(HttpResponse::Ok().content_type("image/png").body(png))
}
