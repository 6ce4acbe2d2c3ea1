//! The appliance service's routes for what this issue added: hardware tokens (activation by serial, the
//! seed file's import, assignment, `diagnose fortitoken info`), local users with token authentication (a
//! FortiAuthenticator provisions them itself), sending activation codes and where they go, the SMS sink the
//! appliances post to, and the captured messages under `/__admin/messages`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use lab::api::Api;
use lab::http::{ApiError, Json, Query};
use protocol::admin::ErrorBody;
use protocol::appliance::{
    FortiTokenStatus, NewUser, OperationFailure, ProvisionOutcome, ProvisionTokenRequest,
};
use protocol::hardware::{
    FortitokenInfo, HardwareActivate, HardwareAssign, HardwareHolderQuery, HardwareHolders,
    HardwareOutcome, HardwareTokenRow, SeedFileImport,
};
use protocol::messages::{
    ClearQuery, Delivered, DeliveryMethod, MessageList, MessageQuery, MessageView, MessagesCleared,
    MessagingChange, MessagingSettings, SendActivation, SmsAccepted, SmsRefused, SmsSubmit,
};
use protocol::paths;
use protocol::scenario::{SMS_MESSAGE, ScenarioAction, Trigger};
use protocol::time::UnixTime;
use serde::Deserialize;

use crate::delivery::Recipient;
use crate::error::ApplianceError;
use crate::fortitoken::{Appliance, ServiceUrl, Token};
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
        .route(__path_delete_message, delete_message)
        .route(__path_message_eml, message_eml)
        .route(__path_message_qr, message_qr);
}

/// Which virtual appliance has each of the hardware tokens assigned, to which user (forticare, as TAC, asks
/// before it resets a token's activation lock).
#[utoipa::path(post, path = paths::LEDGER_HARDWARE_HOLDERS, tag = "hardware tokens",
    request_body = HardwareHolderQuery,
    responses(
        (status = 200, description = "The assignments found (a token nobody has is left out).", body = HardwareHolders),
        (status = 400, description = "Not a list of hardware serials.", body = ErrorBody)))]
async fn hardware_holders(
    state: web::Data<Appliances>,
    query: Json<HardwareHolderQuery>,
) -> Result<HttpResponse, ApplianceError> {
    let holders = state.store.hardware().holders(&query.serials)?;
    Ok(HttpResponse::Ok().json(HardwareHolders { holders }))
}

/// `?debug=true`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DebugQuery {
    /// Include the operation's FortiOS debug lines (`diagnose fortitoken debug enable`).
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

#[utoipa::path(post, path = paths::APPLIANCE_HARDWARE_ACTIVATE, tag = "hardware tokens",
    params(("serial" = String, Path, description = "The appliance's serial number."), DebugQuery),
    request_body = HardwareActivate,
    responses(
        (status = 200, description = "Hardware tokens activated by serial through FortiGuard: each token's row with its `diagnose fortitoken info` status (the seed, or FortiGuard's refusal), and the serials FortiOS dropped without a word.", body = HardwareOutcome),
        (status = 400, description = "`admin.body.invalid` (not the JSON asked for, an unknown field), `appliance.bad-request` (over 1000 serials, a malformed appliance serial).", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody),
        (status = 422, description = "FortiOS's `cmdb save error` (bug 1218458, on the firmware versions that carry it), with debug lines.", body = OperationFailure),
        (status = 502, description = "FortiGuard could not be reached.", body = OperationFailure)))]
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

#[utoipa::path(post, path = paths::APPLIANCE_HARDWARE_IMPORT, tag = "hardware tokens",
    params(("serial" = String, Path, description = "The appliance's serial number."), DebugQuery),
    request_body = SeedFileImport,
    responses(
        (status = 200, description = "A batch's seed file (password-protected zip, FTK200CD format) imported offline, with no FortiGuard contact: the rows added or changed.", body = HardwareOutcome),
        (status = 400, description = "`admin.body.invalid`, or a file that is not Base64, not a zip, the wrong password, or not in the FTK200CD format (never quoting a seed).", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody),
        (status = 413, description = "`admin.body.too-large`: over twice the largest seed file.", body = ErrorBody)))]
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

#[utoipa::path(post, path = paths::APPLIANCE_HARDWARE_ASSIGN, tag = "hardware tokens",
    params(("serial" = String, Path, description = "The appliance's serial number.")),
    request_body = HardwareAssign,
    responses(
        (status = 200, description = "A hardware token assigned to a user (Available to Assigned; no user activation step).", body = HardwareTokenRow),
        (status = 400, description = "`admin.body.invalid`, or `appliance.bad-request` (a user name FortiOS refuses).", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`, or no such hardware token on the appliance (none Available for `any`).", body = ErrorBody),
        (status = 409, description = "The token is assigned to someone else or has no seed, or the user holds another token.", body = ErrorBody)))]
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

#[utoipa::path(get, path = paths::APPLIANCE_FORTITOKEN_INFO, tag = "hardware tokens",
    params(("serial" = String, Path, description = "The appliance's serial number.")),
    responses(
        (status = 200, description = "`diagnose fortitoken info`: every token the appliance holds, and the text as FortiOS prints it.", body = FortitokenInfo),
        (status = 400, description = "`appliance.bad-request`: a malformed appliance serial.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody)))]
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
) -> Result<Delivered, ApplianceError> {
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
#[utoipa::path(post, path = paths::APPLIANCE_SEND_ACTIVATION, tag = "activation messages",
    params(("serial" = String, Path, description = "The appliance's serial number.")),
    request_body = SendActivation,
    responses(
        (status = 200, description = "`user/fortitoken/send-activation`: the code of a Pending token sent (again); where it went and what the server answered.", body = Delivered),
        (status = 400, description = "`admin.body.invalid` (an unknown `method`, an unknown field), or `appliance.bad-request` (no `email` for email, no `sms_phone` for sms).", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`, or no such token on the appliance.", body = ErrorBody),
        (status = 409, description = "The token is not Pending: only a Pending token's code can be sent.", body = ErrorBody),
        (status = 502, description = "`appliance.delivery.failed`: FortiOS's `Failed to send activation code` (a bad address or number, a refusing mail server or SMS gateway); the token stays Pending.", body = ErrorBody)))]
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
#[utoipa::path(post, path = paths::APPLIANCE_USERS, tag = "virtual appliances",
    params(("serial" = String, Path, description = "The appliance's serial number.")),
    request_body = NewUser,
    responses(
        (status = 200, description = "A FortiAuthenticator's user with the next Available mobile token, provisioned (and its code sent when the request names an address or number).", body = ProvisionOutcome),
        (status = 201, description = "With no mobile token Available: the next new hardware token, assigned.", body = HardwareTokenRow),
        (status = 400, description = "`admin.body.invalid` (not JSON, an unknown field), or `appliance.bad-request` (a user name FortiOS refuses, no `token_auth`, an email address or mobile number that is not one).", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`, or no token left to give.", body = ErrorBody),
        (status = 409, description = "Not a FortiAuthenticator (the other kinds provision manually), or the user already holds a token.", body = ErrorBody),
        (status = 422, description = "The FortiToken server refused the provisioning.", body = OperationFailure),
        (status = 502, description = "The FortiToken server could not be reached, or `Failed to send activation code` (the token stays Pending).", body = OperationFailure)))]
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
    // FortiAuthenticator's user form checks these fields before it saves anything.
    if let Some(email) = &body.email
        && email.trim().parse::<lettre::Address>().is_err()
    {
        return Err(ApplianceError::BadRequest(format!(
            "email `{}` is not an email address",
            email.chars().take(80).collect::<String>()
        )));
    }
    if let Some(phone) = &body.sms_phone
        && !crate::delivery::valid_phone(phone.trim())
    {
        return Err(ApplianceError::BadRequest(format!(
            "sms_phone `{}` is not a mobile number in E.164 (+ and 8 to 15 digits)",
            phone.chars().take(32).collect::<String>()
        )));
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
        crate::routes::http_url("sms_gateway", url)?;
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
    if let Some(url) = fortiguard_url {
        crate::routes::http_url("fortiguard_url", url)?;
    }
    // Settings given make the appliance's own; none leave it on the suite's.
    let messaging = messaging
        .map(|change| apply_messaging(state.defaults.messaging.clone(), change))
        .transpose()?;
    Ok(Profile {
        firmware,
        fortiguard_url: ServiceUrl::given(fortiguard_url),
        messaging,
    })
}

#[utoipa::path(get, path = paths::APPLIANCE_MESSAGING, tag = "activation messages",
    params(("serial" = String, Path, description = "The appliance's serial number.")),
    responses(
        (status = 200, description = "Where activation emails and SMS go (`config system email-server`, the SMS gateway).", body = MessagingSettings),
        (status = 400, description = "`appliance.bad-request`: a malformed appliance serial.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody)))]
async fn messaging(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let appliance = find(&state, &serial)?;
    let profile = state.profile_of(&appliance)?;
    Ok(HttpResponse::Ok().json(state.messaging_of(&profile)))
}

#[utoipa::path(patch, path = paths::APPLIANCE_MESSAGING, tag = "activation messages",
    params(("serial" = String, Path, description = "The appliance's serial number.")),
    request_body = MessagingChange,
    responses(
        (status = 200, description = "Where activation emails and SMS go, changed (the fields given; all or none).", body = MessagingSettings),
        (status = 400, description = "`admin.body.invalid` (not JSON, a wrong type, an unknown field), or `appliance.bad-request` naming the bad value (a server that is not a host name or address, port 0, a security other than starttls or none, a sender that is not an email address, a gateway that is not an http(s) URL); nothing changes.", body = ErrorBody),
        (status = 404, description = "`appliance.not-found`.", body = ErrorBody)))]
async fn change_messaging(
    state: web::Data<Appliances>,
    serial: web::Path<String>,
    change: Json<MessagingChange>,
) -> Result<HttpResponse, ApplianceError> {
    let change = change.into_inner();
    let appliance = find(&state, &serial)?;
    let current = state.profile_of(&appliance)?;
    apply_messaging(state.messaging_of(&current).clone(), &change)
        .map_err(ApplianceError::BadRequest)?;
    // The change is applied to what the appliance uses now (the suite's, when it has none of its own),
    // and from then on the appliance keeps its own.
    let suite = state.defaults.messaging.clone();
    let profile = state
        .store
        .hardware()
        .update_profile(&appliance.serial, current, move |profile| {
            let now = profile.messaging.clone().unwrap_or(suite);
            profile.messaging = Some(apply_messaging(now, &change)?);
            Ok::<_, String>(())
        })
        .await?
        .map_err(ApplianceError::BadRequest)?;
    Ok(HttpResponse::Ok().json(state.messaging_of(&profile)))
}

/// The SMS sink: takes an SMS as a gateway would, stores it before answering.
#[utoipa::path(post, path = paths::SMS_GATEWAY, tag = "SMS gateway (appliances' wire)",
    request_body = SmsSubmit,
    responses(
        (status = 201, description = "The SMS sink took the SMS as a gateway would, stored before this answer.", body = SmsAccepted),
        (status = 400, description = "Not the JSON asked for (a missing or unknown field, a wrong type), `to` not in E.164, `text` empty or over 1600 characters, `from` over 64; nothing is stored.", body = SmsRefused),
        (status = 503, description = "A scenario armed on the appliance service refused it (or its bare status); nothing is stored.", body = SmsRefused)))]
async fn sms_sink(
    state: web::Data<Appliances>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApplianceError> {
    let refuse = |status: StatusCode, error: String| {
        HttpResponse::build(status).json(SmsRefused {
            status: "error".to_owned(),
            error,
        })
    };
    // Read here rather than by the `Json` extractor, so a body that is not an SMS is refused in the
    // gateway's own shape too.
    let bytes = lab::http::read_body(&http, payload.into_inner(), lab::http::ADMIN_JSON_LIMIT)
        .await
        .map_err(ApiError::from)?;
    let body: SmsSubmit = match protocol::strict::from_slice(&bytes) {
        Ok(body) => body,
        Err(e) => {
            return Ok(refuse(
                StatusCode::BAD_REQUEST,
                format!("the body is not an SMS (`from`, `to`, `text`): {e}"),
            ));
        }
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

#[utoipa::path(get, path = paths::ADMIN_MESSAGES, tag = "activation messages",
    params(MessageQuery),
    responses(
        (status = 200, description = "The captured activation messages (email and SMS), oldest first, filtered by recipient, kind and appliance.", body = MessageList),
        (status = 400, description = "`admin.query.invalid`: an unknown parameter, a kind other than email or sms, a blank or overlong filter, a limit that is not 1 to 10000.", body = ErrorBody)))]
async fn list_messages(
    state: web::Data<Appliances>,
    pairs: Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApplianceError> {
    // Read pair by pair rather than by serde, so the refusal names the parameter that is wrong.
    let query = MessageQuery::from_pairs(&pairs)
        .map_err(|why| ApiError::bad_request("admin.query.invalid", why))?;
    Ok(HttpResponse::Ok().json(MessageList {
        messages: state.mailbox.list(&query)?,
    }))
}

#[utoipa::path(delete, path = paths::ADMIN_MESSAGES, tag = "activation messages",
    responses(
        (status = 200, description = "Every captured message removed; how many (ids start at m1 again).", body = MessagesCleared),
        (status = 400, description = "`admin.query.invalid`: any query parameter (a filter is refused, never ignored: this removes every message).", body = ErrorBody)))]
async fn clear_messages(
    state: web::Data<Appliances>,
    _query: Query<ClearQuery>,
) -> Result<HttpResponse, ApplianceError> {
    let removed = state.mailbox.clear().await?;
    Ok(HttpResponse::Ok().json(MessagesCleared { removed }))
}

/// The sequence number of message id `id`: `appliance.message.bad-id` (400) for what is not an id the
/// mailbox gives (`m1`, `m2`, …).
fn message_seq(id: &str) -> Result<u64, ApplianceError> {
    crate::messages::sequence_of(id).ok_or_else(|| {
        ApplianceError::Api(ApiError::bad_request(
            "appliance.message.bad-id",
            format!(
                "`{}` is not a message id (m1, m2, …); GET /__admin/messages lists them",
                id.chars().take(40).collect::<String>()
            ),
        ))
    })
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

/// The message `id` names, with its raw bytes: 400 for a malformed id, 404 for one not captured.
fn captured(state: &Appliances, id: &str) -> Result<(MessageView, Vec<u8>), ApplianceError> {
    message_seq(id)?;
    state.mailbox.get(id)?.ok_or_else(|| no_message(id))
}

#[utoipa::path(get, path = paths::ADMIN_MESSAGE, tag = "activation messages",
    params(("id" = String, Path, description = "The message's id (`m1`, `m2`, …).")),
    responses(
        (status = 200, description = "One captured message, parsed (subject, text, activation code, expiry, links).", body = MessageView),
        (status = 400, description = "`appliance.message.bad-id`: not a message id.", body = ErrorBody),
        (status = 404, description = "`appliance.message.not-found`.", body = ErrorBody)))]
async fn show_message(
    state: web::Data<Appliances>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let (view, _) = captured(&state, &id)?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(delete, path = paths::ADMIN_MESSAGE, tag = "activation messages",
    params(("id" = String, Path, description = "The message's id (`m1`, `m2`, …).")),
    responses(
        (status = 200, description = "The message removed (the others keep their ids; a new message is numbered after the newest kept).", body = MessageView),
        (status = 400, description = "`appliance.message.bad-id`: not a message id.", body = ErrorBody),
        (status = 404, description = "`appliance.message.not-found`.", body = ErrorBody)))]
async fn delete_message(
    state: web::Data<Appliances>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let seq = message_seq(&id)?;
    let removed = state
        .mailbox
        .remove(seq)
        .await?
        .ok_or_else(|| no_message(&id))?;
    tracing::info!(message = %removed.id, "captured message removed");
    Ok(HttpResponse::Ok().json(removed))
}

#[utoipa::path(get, path = paths::ADMIN_MESSAGE_EML, tag = "activation messages",
    params(("id" = String, Path, description = "The message's id (`m1`, `m2`, …).")),
    responses(
        (status = 200, description = "One captured email as it was received (RFC 5322).", content_type = "message/rfc822", body = Vec<u8>),
        (status = 400, description = "`appliance.message.bad-id`: not a message id.", body = ErrorBody),
        (status = 404, description = "`appliance.message.not-found`.", body = ErrorBody),
        (status = 422, description = "`appliance.message.not-email`: an SMS has no .eml.", body = ErrorBody)))]
async fn message_eml(
    state: web::Data<Appliances>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let (view, raw) = captured(&state, &id)?;
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

#[utoipa::path(get, path = paths::ADMIN_MESSAGE_QR, tag = "activation messages",
    params(("id" = String, Path, description = "The message's id (`m1`, `m2`, …).")),
    responses(
        (status = 200, description = "The activation QR code of a captured email (PNG).", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "`appliance.message.bad-id`: not a message id.", body = ErrorBody),
        (status = 404, description = "`appliance.message.not-found`.", body = ErrorBody),
        (status = 422, description = "`appliance.message.no-qr`: the message carries no QR code image (an SMS, or an email without one).", body = ErrorBody)))]
async fn message_qr(
    state: web::Data<Appliances>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApplianceError> {
    let (view, raw) = captured(&state, &id)?;
    let png = crate::messages::qr_image(&raw).ok_or_else(|| {
        ApplianceError::Api(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "appliance.message.no-qr",
            format!("{} carries no QR code image", view.id),
        ))
    })?;
    Ok(HttpResponse::Ok().content_type("image/png").body(png))
}
