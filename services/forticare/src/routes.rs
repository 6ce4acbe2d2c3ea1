//! forticare's HTTP surface: the SoftToken front door (`POST /SoftToken/Provisioning.asmx/Process`, which
//! serves `SoftToken.ActivationLicenseRequest`), the asset-management API (v3, in `v3_routes`), the license
//! admin API under `/__admin/licenses` (with each license's redemption certificate), Customer Service's
//! transfer tickets under `/__admin/transfers`, the API users under `/__admin/api-users`, and the ledger
//! API ftm asks about ownership. `lab` serves the rest of the control plane from [`Service`].

use actix_web::{HttpRequest, HttpResponse, web};
use lab::clock::Clock;
use lab::http::{ApiError, BodyLimit, Json};
use lab::scenario;
use lab::service::{Reset, Service};
use lab::softtoken::{Fault, reply};
use lab::store::{Store, Table};
use protocol::catalogue::{LICENSE_CODE_INVALID, PRODUCT_NOT_REGISTERED};
use protocol::envelope::Message;
use protocol::hardware::HardwareActivationRequest;
use protocol::id::{ApplianceSerial, LicenseActivationCode, LicenseId};
use protocol::ledger::{
    ApiUserList, ApiUserSpec, LabFixtures, LicenseList, LicenseSpec, MAX_SEATS, OwnershipQuery,
    TransferList, TransferRequest, TransferTicket,
};
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse, LicensedToken};
use protocol::modeled;
use protocol::paths::{self, admin_suffix};
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
}

impl Service for Forticare {
    const NAME: &'static str = crate::NAME;

    fn store(&self) -> &Store {
        self.ledger.store()
    }

    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.route(paths::PROCESS, web::post().to(process)).service(
            web::resource(paths::LEDGER_OWNERSHIP)
                .app_data(BodyLimit(4 * lab::softtoken::MAX_BODY))
                .route(web::post().to(ownership)),
        );
        crate::v3_routes::routes(cfg);
    }

    fn admin_routes(cfg: &mut web::ServiceConfig) {
        cfg.route(
            admin_suffix(paths::ADMIN_LICENSES),
            web::get().to(list_licenses),
        )
        .route(
            admin_suffix(paths::ADMIN_LICENSES),
            web::post().to(create_license),
        )
        .route(
            admin_suffix(paths::ADMIN_LICENSE),
            web::get().to(show_license),
        )
        .route(
            admin_suffix(paths::ADMIN_LICENSE_CERTIFICATE),
            web::get().to(certificate),
        )
        .route(
            admin_suffix(paths::ADMIN_TRANSFERS),
            web::get().to(list_transfers),
        )
        .route(
            admin_suffix(paths::ADMIN_TRANSFERS),
            web::post().to(open_transfer),
        )
        .route(
            admin_suffix(paths::ADMIN_TRANSFER),
            web::get().to(show_transfer),
        )
        .route(
            admin_suffix(paths::ADMIN_API_USERS),
            web::get().to(list_api_users),
        )
        .route(
            admin_suffix(paths::ADMIN_API_USERS),
            web::post().to(create_api_user),
        );
        crate::hardware_routes::admin_routes(cfg);
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
    let header = request.header.reply(|member| match member {
        Some(member)
            if modeled::member_is_registered(member, requester, |s| registered.contains(s)) =>
        {
            None
        }
        _ => Some(PRODUCT_NOT_REGISTERED.text.to_owned()),
    });
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

async fn list_licenses(state: web::Data<Forticare>) -> Result<HttpResponse, ForticareError> {
    let licenses = state.ledger.licenses()?;
    Ok(HttpResponse::Ok().json(LicenseList {
        licenses: licenses.iter().map(|l| l.summary()).collect(),
    }))
}

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

fn ticket_view(ticket: &Ticket, now: UnixTime) -> TransferTicket {
    TransferTicket {
        ticket: ticket.ticket.clone(),
        license: ticket.license.clone(),
        from: ticket.from.clone(),
        to: ticket.to.clone(),
        activation_code: ticket.new_code.clone(),
        grace_until: ticket.grace_until,
        certificate: paths::fill(paths::ADMIN_LICENSE_CERTIFICATE, &[ticket.license.as_str()]),
        rma: ticket.rma,
        status: ticket.status(now).to_owned(),
        completed: ticket.completed,
        from_cluster: ticket.from_cluster.clone(),
        note: ticket.note.clone(),
    }
}

/// Opens and completes a Customer Service "License Transfer" ticket.
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
    Ok(HttpResponse::Created().json(ticket_view(&ticket, now)))
}

async fn list_transfers(state: web::Data<Forticare>) -> Result<HttpResponse, ForticareError> {
    let now = state.clock.now();
    let transfers = state.ledger.transfers()?;
    Ok(HttpResponse::Ok().json(TransferList {
        transfers: transfers.iter().map(|t| ticket_view(t, now)).collect(),
    }))
}

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
    Ok(HttpResponse::Ok().json(ticket_view(&found, state.clock.now())))
}

async fn list_api_users(state: web::Data<Forticare>) -> Result<HttpResponse, ForticareError> {
    let users = state.ledger.api_users()?;
    Ok(HttpResponse::Ok().json(ApiUserList {
        api_users: users.iter().map(|u| u.view()).collect(),
    }))
}

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
