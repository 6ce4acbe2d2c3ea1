//! forticare as FortiGuard's hardware token service: `SoftToken.HardwareActivationRequest` on `/Process`
//! (modeled, `modeled::HARDWARE_ACTIVATION_ENVELOPE`), and the admin API for hardware token batches:
//! `/__admin/hardware-tokens` (create, list), one batch, its seed file (a password-protected zip, the
//! password shown once in a response header), and TAC's lock reset (`/__admin/hardware-lock-resets`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lab::api::Api;
use lab::http::{ApiError, Json, Query};
use lab::softtoken::{Fault, reply};
use protocol::catalogue::NO_VALID_TOKEN;
use protocol::envelope::Message;
use protocol::hardware::{
    ActivatedHardwareToken, HardwareActivationRequest, HardwareActivationResponse,
    HardwareBatchList, HardwareBatchView, MAX_BATCH_TOKENS, NewHardwareBatch, ResetLockOutcome,
    ResetLockRequest, SEED_FILE_PASSWORD_HEADER, SeedFileQuery,
};
use protocol::id::HardwareSerial;
use protocol::modeled::{self, HARDWARE_RESET_ASSIGNED};
use protocol::paths;

use crate::error::ForticareError;
use crate::hardware_store::{Activated, ResetRefusal};
use crate::hardware_tokens;
use crate::routes::Forticare;

/// The admin routes, inside forticare's guarded `/__admin` scope.
pub(crate) fn admin_routes(api: &mut Api<'_>) {
    api.route(__path_list_batches, list_batches)
        .route(__path_create_batch, create_batch)
        .route(__path_show_batch, show_batch)
        .route(__path_seed_file, seed_file)
        .route(__path_reset_lock, reset_lock);
}

/// An appliance activating hardware tokens by serial: per token the seed or the refusal, in one
/// transaction; top-level error 17 when none was activated.
pub(crate) async fn activate(
    state: &Forticare,
    request: HardwareActivationRequest,
) -> Result<HttpResponse, ForticareError> {
    const TYPE: &str = HardwareActivationRequest::TYPE;
    let cluster = request
        .header
        .cluster()
        .map_err(|e| Fault::invalid(TYPE, format!("serial_number: {e}")))?;
    if request.tokens.is_empty() || request.tokens.len() > MAX_BATCH_TOKENS as usize {
        return Err(Fault::invalid(
            TYPE,
            format!(
                "tokens: {} tokens; between 1 and {MAX_BATCH_TOKENS}",
                request.tokens.len()
            ),
        )
        .into());
    }
    let requester = cluster[0].clone();
    let serials: Vec<String> = request
        .tokens
        .iter()
        .map(|t| t.token.trim().to_owned())
        .collect();
    let answers = state
        .hardware
        .activate(requester.clone(), serials, state.clock.now())
        .await
        .map_err(Fault::storage(TYPE))?;
    let registered = state
        .ledger
        .registered(&cluster)
        .map_err(Fault::storage(TYPE))?;
    let header = request
        .header
        .reply(|member| modeled::member_error(member, &requester, |s| registered.contains(s)));
    let mut granted = 0;
    let tokens: Vec<ActivatedHardwareToken> = request
        .tokens
        .iter()
        .zip(answers)
        .map(|(wire, answer)| match answer {
            Activated::Seed(seed) => {
                granted += 1;
                ActivatedHardwareToken {
                    token: wire.token.clone(),
                    seed: Some(seed.to_hex_upper()),
                    error: None,
                }
            }
            Activated::Refused(entry) => ActivatedHardwareToken {
                token: wire.token.clone(),
                seed: None,
                error: Some(entry.wire_error()),
            },
        })
        .collect();
    let result = format!(
        "{granted} of {} hardware tokens activated for {requester}",
        tokens.len()
    );
    tracing::info!(appliance = %requester, granted, asked = tokens.len(), "hardware activation");
    let response = HardwareActivationResponse {
        header,
        error: (granted == 0).then(|| NO_VALID_TOKEN.wire_error()),
        tokens,
        result: 0,
    };
    Ok(reply(&response, TYPE, result))
}

#[utoipa::path(get, path = paths::ADMIN_HARDWARE_TOKENS, tag = "hardware tokens",
    responses((status = 200, description = "The hardware token batches, each with its tokens' lock states (never a seed).", body = HardwareBatchList)))]
async fn list_batches(state: web::Data<Forticare>) -> Result<HttpResponse, ForticareError> {
    Ok(HttpResponse::Ok().json(HardwareBatchList {
        batches: state.hardware.batches()?,
    }))
}

#[utoipa::path(post, path = paths::ADMIN_HARDWARE_TOKENS, tag = "hardware tokens",
    request_body = NewHardwareBatch,
    responses(
        (status = 201, description = "A new hardware token batch: serials in the real format, seeds FortiGuard keeps sealed (never shown).", body = HardwareBatchView),
        (status = 400, description = "`admin.body.invalid` (an unknown model or field, a wrong type), or `forticare.hardware.invalid` (a count outside 1 to 1000, a note over 1 KiB); nothing is created.", body = protocol::admin::ErrorBody)))]
async fn create_batch(
    state: web::Data<Forticare>,
    spec: Json<NewHardwareBatch>,
) -> Result<HttpResponse, ForticareError> {
    let spec = spec.into_inner();
    if !(1..=MAX_BATCH_TOKENS).contains(&spec.count) {
        return Err(ApiError::bad_request(
            "forticare.hardware.invalid",
            format!(
                "count must be between 1 and {MAX_BATCH_TOKENS}, not {}",
                spec.count
            ),
        )
        .into());
    }
    if spec.note.as_ref().is_some_and(|n| n.len() > 1024) {
        return Err(ApiError::bad_request(
            "forticare.hardware.invalid",
            "note is over 1 KiB".to_owned(),
        )
        .into());
    }
    let batch = state.hardware.create_batch(spec, state.clock.now()).await?;
    tracing::info!(batch = %batch.batch, model = %batch.model, count = batch.tokens.len(), demo = batch.demo, "hardware token batch created");
    Ok(HttpResponse::Created().json(batch))
}

fn no_batch(batch: &str) -> ForticareError {
    ApiError::not_found(
        "forticare.hardware.no-batch",
        format!(
            "no hardware token batch {}",
            batch.chars().take(40).collect::<String>()
        ),
    )
    .into()
}

#[utoipa::path(get, path = paths::ADMIN_HARDWARE_BATCH, tag = "hardware tokens",
    params(("batch" = String, Path, description = "The batch's id (`HW000001`).")),
    responses(
        (status = 200, description = "One hardware token batch with its tokens.", body = HardwareBatchView),
        (status = 404, description = "`forticare.hardware.no-batch`.", body = protocol::admin::ErrorBody)))]
async fn show_batch(
    state: web::Data<Forticare>,
    batch: web::Path<String>,
) -> Result<HttpResponse, ForticareError> {
    let found = state
        .hardware
        .batch(&batch)?
        .ok_or_else(|| no_batch(&batch))?;
    Ok(HttpResponse::Ok().json(found))
}

/// The batch's seed file: a password-protected zip, the password in [`SEED_FILE_PASSWORD_HEADER`], a new
/// one for every file (never logged, never kept).
#[utoipa::path(get, path = paths::ADMIN_HARDWARE_SEED_FILE, tag = "hardware tokens",
    params(
        ("batch" = String, Path, description = "The batch's id (`HW000001`)."),
        ("format" = Option<String>, Query, description = "`ftk200cd` (the FortiGate/FortiAuthenticator format, the default); `okta`, `duo`, `azure`, `centrify` answer 422, anything else 400.")),
    responses(
        (status = 200, description = "The batch's seed file: an AES-256 password-protected zip; the password is in the `x-fortimock-seed-file-password` header, a new one for every file (never logged, never kept).", content_type = "application/zip", body = Vec<u8>,
            headers(("x-fortimock-seed-file-password" = String, description = "The zip's password, shown with this file only."))),
        (status = 400, description = "Not a format Customer Service offers.", body = protocol::admin::ErrorBody),
        (status = 404, description = "No such batch.", body = protocol::admin::ErrorBody),
        (status = 422, description = "A third-party format fortimock does not write.", body = protocol::admin::ErrorBody)))]
async fn seed_file(
    state: web::Data<Forticare>,
    batch: web::Path<String>,
    query: Query<SeedFileQuery>,
) -> Result<HttpResponse, ForticareError> {
    let format = query
        .format
        .as_deref()
        .unwrap_or("ftk200cd")
        .to_ascii_lowercase();
    if !hardware_tokens::SEED_FILE_FORMATS.contains(&format.as_str()) {
        return Err(ApiError::bad_request(
            "forticare.hardware.seed-file-format",
            format!(
                "format `{}` is not one Customer Service offers: {}",
                format.chars().take(40).collect::<String>(),
                hardware_tokens::SEED_FILE_FORMATS.join(", ")
            ),
        )
        .into());
    }
    if format != "ftk200cd" {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "forticare.hardware.seed-file-format",
            format!(
                "fortimock writes seed files in the FortiGate/FortiAuthenticator FTK200CD format only, not `{format}`"
            ),
        )
        .into());
    }
    let entries = state
        .hardware
        .seed_entries(&batch)?
        .ok_or_else(|| no_batch(&batch))?;
    let password = hardware_tokens::seed_file_password();
    let file = hardware_tokens::seed_file(&batch, &entries, &password)
        .map_err(|e| ForticareError::Api(ApiError::internal(&e)))?;
    tracing::info!(batch = %batch, tokens = entries.len(), "seed file issued");
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{}\"", file.file_name),
        ))
        .insert_header((SEED_FILE_PASSWORD_HEADER, password))
        .insert_header(("cache-control", "no-store"))
        .body(file.zip))
}

/// TAC resets the activation lock of the listed tokens (all or none).
#[utoipa::path(post, path = paths::ADMIN_HARDWARE_RESET_LOCK, tag = "hardware tokens",
    request_body = ResetLockRequest,
    responses(
        (status = 200, description = "Every listed token's lock reset (all or none).", body = ResetLockOutcome),
        (status = 400, description = "No serials, over 1000, or one that is not a hardware serial.", body = protocol::admin::ErrorBody),
        (status = 404, description = "A serial FortiGuard does not know.", body = protocol::admin::ErrorBody),
        (status = 409, description = "`forticare.hardware.reset-assigned`: a virtual appliance has a token assigned to a user (named, with the appliance).", body = protocol::admin::ErrorBody),
        (status = 422, description = "A 200CD (FTK211) or DEMO token, or one not locked.", body = protocol::admin::ErrorBody),
        (status = 503, description = "The appliance service could not say whether a token is assigned.", body = protocol::admin::ErrorBody)))]
async fn reset_lock(
    state: web::Data<Forticare>,
    request: Json<ResetLockRequest>,
) -> Result<HttpResponse, ForticareError> {
    let request = request.into_inner();
    if request.serials.is_empty() || request.serials.len() > MAX_BATCH_TOKENS as usize {
        return Err(ApiError::bad_request(
            "forticare.hardware.invalid",
            format!("serials: between 1 and {MAX_BATCH_TOKENS}"),
        )
        .into());
    }
    let serials = request
        .serials
        .iter()
        .map(|s| s.parse::<HardwareSerial>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::bad_request("forticare.hardware.invalid", e.to_string()))?;
    // TAC resets only tokens no user has: ask the appliances before anything is written.
    let holders = state.assignments.holders(&serials).await.map_err(|why| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "forticare.hardware.assignments-unknown",
            format!(
                "cannot tell whether the tokens are assigned, so no lock was reset: the appliance service did not answer ({why})"
            ),
        )
    })?;
    if let Some(holder) = holders.as_deref().and_then(<[_]>::first) {
        return Err(ApiError::conflict(
            HARDWARE_RESET_ASSIGNED.id,
            format!(
                "{} is assigned to user {} on {}: {}",
                holder.serial, holder.user, holder.appliance, HARDWARE_RESET_ASSIGNED.text
            ),
        )
        .into());
    }
    match state.hardware.reset_lock(serials).await? {
        Ok(reset) => {
            tracing::info!(tokens = reset.len(), "hardware token locks reset by TAC");
            Ok(HttpResponse::Ok().json(ResetLockOutcome {
                reset: reset.iter().map(|t| t.view()).collect(),
            }))
        }
        Err(ResetRefusal::Unknown(why)) => {
            Err(ApiError::not_found("forticare.hardware.unknown-token", why).into())
        }
        Err(ResetRefusal::Refused(why)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "forticare.hardware.reset-refused",
            why,
        )
        .into()),
    }
}
