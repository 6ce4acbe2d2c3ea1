//! forticare's HTTP surface: the SoftToken front door (`POST /SoftToken/Provisioning.asmx/Process`, which
//! serves `SoftToken.ActivationLicenseRequest`), the asset-management API (v3, in `v3_routes`), the license
//! admin API under `/__admin/licenses` (with each license's redemption certificate), Customer Service's
//! transfer tickets under `/__admin/transfers`, the API users under `/__admin/api-users`, and the ledger
//! API ftm asks about ownership. `lab` serves the rest of the control plane from [`Service`].

use actix_web::{HttpRequest, HttpResponse, web};
use lab::api::Api;
use lab::clock::Clock;
use lab::http::{ApiError, Json};
use lab::scenario;
use lab::service::{Reset, Service};
use lab::softtoken::{Fault, reply};
use lab::store::{Store, Table};
use protocol::admin::ErrorBody;
use protocol::catalogue::LICENSE_CODE_INVALID;
use protocol::envelope::Message;
use protocol::hardware::HardwareActivationRequest;
use protocol::id::{ApplianceSerial, LicenseActivationCode, LicenseId};
use protocol::ledger::{
    ApiUserList, ApiUserSpec, ApiUserView, LabFixtures, LicenseList, LicenseSpec, LicenseView,
    MAX_SEATS, OwnershipAnswer, OwnershipQuery, TransferList, TransferRequest, TransferTicket,
};
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse, LicensedToken};
use protocol::modeled;
use protocol::paths;
use protocol::scenario::{ScenarioAction, Trigger};
use protocol::time::UnixTime;

use crate::error::ForticareError;
use crate::ledger::Redemption;
use crate::rate_limits::RateLimits;
use crate::store::Ledger;
use crate::transfer::{self, Ticket};

/// What every forticare handler shares.
pub(crate) struct Forticare {
    pub(crate) ledger: Ledger,
    /// FortiGuard's hardware tokens (on the ledger's store).
    pub(crate) hardware: crate::hardware_store::HardwareVault,
    pub(crate) clock: Clock,
    /// The licenses and API users a reset brings back.
    pub(crate) fixtures: LabFixtures,
    /// The v3 API's per-user limits.
    pub(crate) limits: RateLimits,
    /// Who has a hardware token assigned (TAC asks before a lock reset).
    pub(crate) assignments: crate::assignments::AssignmentDesk,
    /// The service's base URL (`https://127.0.0.1:8440`), set once it listens: a ticket's `certificate`
    /// is the certificate's absolute URL on it.
    pub(crate) base_url: std::sync::OnceLock<String>,
}

impl Forticare {
    /// The absolute URL of `path` on this service.
    fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.get().map_or("", String::as_str))
    }
}

impl Service for Forticare {
    const NAME: &'static str = crate::NAME;
    const MESSAGE_TYPES: &'static [&'static str] = &[
        ActivationLicenseRequest::TYPE,
        HardwareActivationRequest::TYPE,
    ];

    fn store(&self) -> &Store {
        self.ledger.store()
    }

    const DESCRIPTION: &'static str = "The FortiCare license service (license import), Fortinet's \
        Customer Service (license transfer tickets, redemption certificates) and FortiCare's \
        asset-management API (v3): three faces of one ledger, with the ledger API ftm asks.";

    const BEARER_SCHEMES: &'static [(&'static str, &'static str)] = &[(
        crate::v3_routes::BEARER_SCHEME,
        "The `access_token` of `POST /api/v1/oauth/token/` (password grant with an API user).",
    )];

    fn routes(api: &mut Api<'_>) {
        api.route(__path_process, process).route_with_body_limit(
            __path_ownership,
            ownership,
            4 * lab::softtoken::MAX_BODY,
        );
        crate::v3_routes::routes(api);
    }

    fn admin_routes(api: &mut Api<'_>) {
        api.route(__path_list_licenses, list_licenses)
            .route(__path_create_license, create_license)
            .route(__path_show_license, show_license)
            .route(__path_certificate, certificate)
            .route(__path_list_transfers, list_transfers)
            .route(__path_open_transfer, open_transfer)
            .route(__path_show_transfer, show_transfer)
            .route(__path_list_api_users, list_api_users)
            .route(__path_create_api_user, create_api_user);
        crate::hardware_routes::admin_routes(api);
    }

    fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        if let Some(checked) = self.hardware.check_record(table, key, value) {
            return checked;
        }
        crate::store::check_record(table, key, value)
    }

    fn check_state(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        crate::hardware_store::HardwareVault::check_state(incoming)?;
        crate::store::check_state(incoming)
    }

    /// The ledger emptied and the fixture licenses and API users created again, as one change; the rate
    /// limits' counts forgotten.
    async fn reset(&self) -> Result<Reset, ApiError> {
        self.limits.clear();
        let (removed, fixtures) = self
            .ledger
            .reset(self.fixtures.clone(), self.clock.now())
            .await
            .map_err(|e| match e {
                ForticareError::Api(api) => api,
                ForticareError::Storage(storage) => ApiError::storage(&storage),
                other => ApiError::internal(&other),
            })?;
        let batches = self
            .hardware
            .load_fixtures(&self.fixtures.hardware_tokens, self.clock.now())
            .await
            .map_err(|e| ApiError::storage(&e))?;
        Ok(Reset {
            removed,
            fixtures: fixtures + batches,
        })
    }
}

#[utoipa::path(post, path = paths::PROCESS, tag = "SoftToken (Fortinet's wire)",
    request_body(content = Object, content_type = "application/json", description = "A `SoftToken.ActivationLicenseRequest` (license import), or, as FortiGuard's token service (`update.fortiguard.net`), the modeled `SoftToken.HardwareActivationRequest` (hardware tokens by serial: `tokens: [{\"token\": \"FTK200…\"}]`), in its `{\"d\": {\"__type\": …}}` envelope (Fortinet's wire: see the README)."),
    responses(
        (status = 200, description = "The `SoftToken.ActivationLicenseResponse` (a refusal is `d.error` with its code: 16, 18, 19, as the real service answers), or the `SoftToken.HardwareActivationResponse`: per token its seed or its error (61 `token already activated, and seed won't be returned`, 62 `token not exist in FortiGuard`), `d.error` 17 when none was activated.", body = Object),
        (status = 400, description = "An undecodable body: the ASP.NET fault shape with a stable `error_id`.", body = Object),
        (status = 413, description = "A body over 1 MiB.", body = Object)))]
async fn process(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ForticareError> {
    let inbound = lab::softtoken::read_inbound(&request, payload).await?;
    match inbound.type_name() {
        ActivationLicenseRequest::TYPE => {
            let message = inbound
                .decode::<ActivationLicenseRequest>()
                .map_err(Fault::Refused)?;
            import(&state, &request, message).await
        }
        HardwareActivationRequest::TYPE => {
            let message = inbound
                .decode::<HardwareActivationRequest>()
                .map_err(Fault::Refused)?;
            crate::hardware_routes::activate(&state, message).await
        }
        other => Err(
            Fault::Refused(protocol::envelope::EnvelopeError::unknown_type(
                other,
                &[
                    ActivationLicenseRequest::TYPE,
                    HardwareActivationRequest::TYPE,
                ],
            ))
            .into(),
        ),
    }
}

async fn import(
    state: &Forticare,
    http: &HttpRequest,
    request: ActivationLicenseRequest,
) -> Result<HttpResponse, ForticareError> {
    const TYPE: &str = ActivationLicenseRequest::TYPE;
    let cluster = request
        .header
        .cluster()
        .map_err(|e| Fault::invalid(TYPE, format!("serial_number: {e}")))?;
    let trigger = Trigger {
        serial: Some(cluster[0].as_str()),
        license_code: Some(&request.license_activation_code),
        ..Trigger::new(TYPE)
    };
    let fired = scenario::fire(http, &trigger).await;
    let now = state.clock.now();
    let mut void_ticket = None;
    let outcome = match fired.as_ref().map(|f| (f, f.action)) {
        // A scenario's answer touches nothing: the ledger is not read or written.
        Some((fired, ScenarioAction::Status(status))) => {
            return Err(Fault::scenario(fired, TYPE, status).into());
        }
        Some((_, ScenarioAction::Error(armed))) => Redemption::Refused(armed.error),
        _ => {
            let (outcome, voided_by) = redeem(state, &request, &cluster, now)
                .await
                .map_err(Fault::storage(TYPE))?;
            void_ticket = voided_by;
            outcome
        }
    };
    let requester = &cluster[0];
    let registered = state
        .ledger
        .registered(&cluster)
        .map_err(Fault::storage(TYPE))?;
    // Answered from a copy: a refusal echoes the whole request (`ActivationLicenseResponse::refused`).
    let header = request
        .header
        .clone()
        .reply(|member| modeled::member_error(member, requester, |s| registered.contains(s)));
    let (response, result) = match outcome {
        Redemption::Granted { license, .. } => {
            let result = format!(
                "granted {} ({} tokens) to {requester}",
                license.id, license.seats
            );
            let response = ActivationLicenseResponse {
                header,
                license_activation_code: request.license_activation_code.clone(),
                license: license.id.to_string(),
                tokens: Some(
                    license
                        .token_serials()
                        .iter()
                        .map(|t| LicensedToken {
                            token: t.to_string(),
                        })
                        .collect(),
                ),
                result: 0,
                error: None,
            };
            (response, result)
        }
        Redemption::Refused(entry) => (
            ActivationLicenseResponse::refused(&request, header, entry.wire_error()),
            match (&fired, &void_ticket) {
                (Some(fired), _) => fired.outcome(),
                (None, Some(ticket)) => format!(
                    "refused: {} (the code was voided by transfer ticket {ticket})",
                    entry.id
                ),
                (None, None) => format!("refused: {}", entry.id),
            },
        ),
    };
    Ok(reply(&response, TYPE, result))
}

/// Redeems the request's code for `cluster` (the requester first); with the outcome, the transfer ticket
/// that voided the code, if one did.
async fn redeem(
    state: &Forticare,
    request: &ActivationLicenseRequest,
    cluster: &[ApplianceSerial],
    now: UnixTime,
) -> Result<(Redemption, Option<String>), lab::store::StoreError> {
    match request
        .license_activation_code
        .parse::<LicenseActivationCode>()
    {
        Err(_) => Ok((Redemption::Refused(&LICENSE_CODE_INVALID), None)),
        Ok(code) if code.is_trial() => Ok((
            state.ledger.redeem_trial(cluster.to_vec(), now).await?,
            None,
        )),
        Ok(code) => state.ledger.redeem(code, cluster.to_vec(), now).await,
    }
}

#[utoipa::path(get, path = paths::ADMIN_LICENSES, tag = "licenses",
    responses((status = 200, description = "Every license with its code, seats and owner.", body = LicenseList)))]
async fn list_licenses(state: web::Data<Forticare>) -> Result<HttpResponse, ForticareError> {
    let licenses = state.ledger.licenses()?;
    Ok(HttpResponse::Ok().json(LicenseList {
        licenses: licenses.iter().map(|l| l.summary()).collect(),
    }))
}

#[utoipa::path(post, path = paths::ADMIN_LICENSES, tag = "licenses", request_body = LicenseSpec,
    responses(
        (status = 201, description = "The new license with its tokens.", body = LicenseView),
        (status = 400, description = "A field out of range or malformed.", body = ErrorBody),
        (status = 409, description = "The id or code is taken.", body = ErrorBody)))]
async fn create_license(
    state: web::Data<Forticare>,
    spec: Json<LicenseSpec>,
) -> Result<HttpResponse, ForticareError> {
    if !(1..=MAX_SEATS).contains(&spec.seats) {
        return Err(ApiError::bad_request(
            "forticare.license.seats",
            format!(
                "seats must be between 1 and {MAX_SEATS}, not {}",
                spec.seats
            ),
        )
        .into());
    }
    let license = state
        .ledger
        .create(spec.into_inner(), state.clock.now())
        .await?;
    tracing::info!(license = %license.id, seats = license.seats, "license created");
    Ok(HttpResponse::Created().json(license.view(license.token_serials())))
}

#[utoipa::path(get, path = paths::ADMIN_LICENSE, tag = "licenses",
    params(("id" = String, Path, description = "The license id (`EFTM…` or `FTMTRIAL…`).")),
    responses(
        (status = 200, description = "The license with its tokens, owner, SKU and transfer tickets.", body = LicenseView),
        (status = 400, description = "Not a license id.", body = ErrorBody),
        (status = 404, description = "No such license.", body = ErrorBody)))]
async fn show_license(
    state: web::Data<Forticare>,
    id: web::Path<String>,
) -> Result<HttpResponse, ForticareError> {
    let id = license_id(&id)?;
    let license = state
        .ledger
        .license(&id)?
        .ok_or(ForticareError::LicenseNotFound(id))?;
    Ok(HttpResponse::Ok().json(license.view(license.token_serials())))
}

/// Which of the queried tokens the querying cluster may use (ftm asks before provisioning or polling, and
/// before handing a phone a seed).
#[utoipa::path(post, path = paths::LEDGER_OWNERSHIP, tag = "ledger", request_body = OwnershipQuery,
    responses((status = 200, description = "Which tokens the cluster may use, with transfer answers.", body = OwnershipAnswer)))]
async fn ownership(
    state: web::Data<Forticare>,
    query: Json<OwnershipQuery>,
) -> Result<HttpResponse, ForticareError> {
    Ok(HttpResponse::Ok().json(state.ledger.ownership(&query, state.clock.now())?))
}

fn license_id(id: &str) -> Result<LicenseId, ForticareError> {
    id.parse().map_err(|e: protocol::id::IdError| {
        ApiError::bad_request("forticare.license.bad-id", e.to_string()).into()
    })
}

/// A license's redemption certificate, `<EFTM id>.pdf`.
#[utoipa::path(get, path = paths::ADMIN_LICENSE_CERTIFICATE, tag = "licenses",
    params(("id" = String, Path, description = "The license id (`EFTM…`).")),
    responses(
        (status = 200, description = "The redemption certificate, `<EFTM id>.pdf`.", content_type = "application/pdf", body = Vec<u8>),
        (status = 400, description = "Not a license id (`forticare.license.bad-id`).", body = ErrorBody),
        (status = 404, description = "No such license.", body = ErrorBody),
        (status = 422, description = "A trial license: its code is on no redemption certificate (`forticare.license.no-certificate`).", body = ErrorBody)))]
async fn certificate(
    state: web::Data<Forticare>,
    id: web::Path<String>,
) -> Result<HttpResponse, ForticareError> {
    let id = license_id(&id)?;
    let license = state
        .ledger
        .license(&id)?
        .ok_or(ForticareError::LicenseNotFound(id))?;
    let Some(pdf) = crate::certificate::render(&license) else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "forticare.license.no-certificate",
            format!(
                "{} is a trial license: the trial code is on no redemption certificate",
                license.id
            ),
        )
        .into());
    };
    Ok(HttpResponse::Ok()
        .content_type(crate::certificate::CONTENT_TYPE)
        .insert_header((
            "content-disposition",
            format!(
                "attachment; filename=\"{}\"",
                crate::certificate::file_name(&license)
            ),
        ))
        .body(pdf))
}

fn ticket_view(state: &Forticare, ticket: &Ticket, now: UnixTime) -> TransferTicket {
    TransferTicket {
        ticket: ticket.ticket.clone(),
        license: ticket.license.clone(),
        from: ticket.from.clone(),
        to: ticket.to.clone(),
        activation_code: ticket.new_code.clone(),
        grace_until: ticket.grace_until,
        certificate: state.url_of(&paths::fill(
            paths::ADMIN_LICENSE_CERTIFICATE,
            &[ticket.license.as_str()],
        )),
        rma: ticket.rma,
        status: ticket.status(now).to_owned(),
        completed: ticket.completed,
        from_cluster: ticket.from_cluster.clone(),
        note: ticket.note.clone(),
    }
}

/// Opens and completes a Customer Service "License Transfer" ticket.
#[utoipa::path(post, path = paths::ADMIN_TRANSFERS, tag = "transfers", request_body = TransferRequest,
    responses(
        (status = 201, description = "The completed ticket.", body = TransferTicket),
        (status = 400, description = "A malformed request (`admin.body.invalid`, `forticare.transfer.invalid`), or `to` already holds the license (`forticare.transfer.same-appliance`).", body = ErrorBody),
        (status = 404, description = "No such license (`forticare.transfer.unknown-license`).", body = ErrorBody),
        (status = 409, description = "`from` is not the license's owner (`forticare.transfer.not-owner`), or the license's previous ticket is still in its grace period (`forticare.transfer.open-ticket`).", body = ErrorBody),
        (status = 422, description = "The license may not move: a trial (`forticare.transfer.trial`), or shipped on or after 2025-08-04 without `\"rma\": true` (`forticare.transfer.shipped-since-2025-08-04`).", body = ErrorBody)))]
async fn open_transfer(
    state: web::Data<Forticare>,
    request: Json<TransferRequest>,
) -> Result<HttpResponse, ForticareError> {
    let request = request.into_inner();
    let grace = transfer::check_request(&request)
        .map_err(|e| ApiError::bad_request("forticare.transfer.invalid", e))?;
    let now = state.clock.now();
    let ticket = state
        .ledger
        .transfer(request, grace, now)
        .await?
        .map_err(ForticareError::Transfer)?;
    tracing::info!(
        ticket = %ticket.ticket,
        license = %ticket.license,
        from = %ticket.from,
        to = %ticket.to,
        rma = ticket.rma,
        "license transferred"
    );
    Ok(HttpResponse::Created().json(ticket_view(&state, &ticket, now)))
}

#[utoipa::path(get, path = paths::ADMIN_TRANSFERS, tag = "transfers",
    responses((status = 200, description = "Every ticket, oldest first.", body = TransferList)))]
async fn list_transfers(state: web::Data<Forticare>) -> Result<HttpResponse, ForticareError> {
    let now = state.clock.now();
    let transfers = state.ledger.transfers()?;
    Ok(HttpResponse::Ok().json(TransferList {
        transfers: transfers
            .iter()
            .map(|t| ticket_view(&state, t, now))
            .collect(),
    }))
}

#[utoipa::path(get, path = paths::ADMIN_TRANSFER, tag = "transfers",
    params(("ticket" = String, Path, description = "The ticket number.")),
    responses(
        (status = 200, description = "The ticket.", body = TransferTicket),
        (status = 404, description = "No such ticket.", body = ErrorBody)))]
async fn show_transfer(
    state: web::Data<Forticare>,
    ticket: web::Path<String>,
) -> Result<HttpResponse, ForticareError> {
    let found = if ticket.len() <= 20 && ticket.bytes().all(|b| b.is_ascii_digit()) {
        state.ledger.ticket(&ticket)?
    } else {
        None
    };
    let Some(found) = found else {
        return Err(ApiError::not_found(
            "forticare.transfer.not-found",
            format!(
                "no transfer ticket {}",
                ticket.chars().take(40).collect::<String>()
            ),
        )
        .into());
    };
    Ok(HttpResponse::Ok().json(ticket_view(&state, &found, state.clock.now())))
}

#[utoipa::path(get, path = paths::ADMIN_API_USERS, tag = "api users",
    responses((status = 200, description = "The asset-management API's users (never passwords).", body = ApiUserList)))]
async fn list_api_users(state: web::Data<Forticare>) -> Result<HttpResponse, ForticareError> {
    let users = state.ledger.api_users()?;
    Ok(HttpResponse::Ok().json(ApiUserList {
        api_users: users.iter().map(|u| u.view()).collect(),
    }))
}

#[utoipa::path(post, path = paths::ADMIN_API_USERS, tag = "api users", request_body = ApiUserSpec,
    responses(
        (status = 201, description = "The new user.", body = ApiUserView),
        (status = 400, description = "A malformed user.", body = ErrorBody),
        (status = 409, description = "The username is taken.", body = ErrorBody)))]
async fn create_api_user(
    state: web::Data<Forticare>,
    spec: Json<ApiUserSpec>,
) -> Result<HttpResponse, ForticareError> {
    let spec = spec.into_inner();
    crate::accounts::check_user(&spec)
        .map_err(|e| ApiError::bad_request("forticare.api-user.invalid", e))?;
    let user = state
        .ledger
        .create_api_user(spec, state.clock.now())
        .await?;
    tracing::info!(user = %user.username, account = user.account_id, "API user created");
    Ok(HttpResponse::Created().json(user.view()))
}
