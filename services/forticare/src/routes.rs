//! forticare's HTTP surface: the SoftToken front door (`POST /SoftToken/Provisioning.asmx/Process`, which
//! serves `SoftToken.ActivationLicenseRequest`) and the license admin API under `/__admin/licenses`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use lab::admin::{error, internal};
use lab::clock::Clock;
use lab::scenario;
use lab::softtoken::{fault, internal_error, read_message, reply, scenario_status};
use protocol::catalogue::{LICENSE_CODE_INVALID, PRODUCT_NOT_REGISTERED};
use protocol::envelope::{EnvelopeError, Message, PROCESS_PATH};
use protocol::id::{ApplianceSerial, LicenseActivationCode, LicenseId};
use protocol::ledger::{
    LicenseList, LicenseSpec, MAX_SEATS, OWNERSHIP_PATH, OwnershipAnswer, OwnershipQuery,
    TokenOwnership,
};
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse, LicensedToken};
use protocol::modeled;
use protocol::scenario::{ScenarioAction, Trigger};
use protocol::time::UnixTime;

use crate::ledger::Redemption;
use crate::store::{CreateError, Store};

/// What every forticare handler shares.
pub(crate) struct Forticare {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    /// The licenses a reset brings back.
    pub(crate) fixtures: Vec<LicenseSpec>,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: web::Data<Forticare>) {
    cfg.app_data(state)
        .route(PROCESS_PATH, web::post().to(process))
        .route("/__admin/reset", web::post().to(reset))
        .service(lab::state::resource(export_state, import_state))
        .route("/__admin/licenses", web::get().to(list_licenses))
        .route("/__admin/licenses", web::post().to(create_license))
        .route("/__admin/licenses/{id}", web::get().to(show_license))
        .service(
            web::resource(OWNERSHIP_PATH)
                .app_data(lab::admin::json_config_with_limit(
                    4 * lab::softtoken::MAX_BODY,
                ))
                .route(web::post().to(ownership)),
        );
}

async fn process(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    match read_message::<ActivationLicenseRequest>(&request, payload).await {
        Ok(message) => import(&state, &request, message).await,
        Err(e) => fault(&e),
    }
}

async fn import(
    state: &Forticare,
    http: &HttpRequest,
    request: ActivationLicenseRequest,
) -> HttpResponse {
    let cluster = match request.header.cluster() {
        Ok(cluster) => cluster,
        Err(e) => {
            let detail = format!("serial_number: {e}");
            return fault(&EnvelopeError::Invalid {
                type_name: ActivationLicenseRequest::TYPE,
                detail,
            });
        }
    };
    let trigger = Trigger {
        serial: Some(cluster[0].as_str()),
        license_code: Some(&request.license_activation_code),
        ..Trigger::new(ActivationLicenseRequest::TYPE)
    };
    let fired = scenario::fire(http, &trigger).await;
    let now = state.clock.now();
    let outcome = match fired.as_ref().map(|f| (f, f.action)) {
        // A scenario's answer touches nothing: the ledger is not read or written.
        Some((fired, ScenarioAction::Status(status))) => {
            return scenario_status(fired, ActivationLicenseRequest::TYPE, status);
        }
        Some((_, ScenarioAction::Error(armed))) => Ok(Redemption::Refused(armed.error)),
        _ => redeem(state, &request, &cluster, now).await,
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => return internal_error(ActivationLicenseRequest::TYPE, &e),
    };
    let requester = &cluster[0];
    let header = request.header.reply(|member| match member {
        Some(member)
            if modeled::member_is_registered(member, requester, |s| {
                state.store.is_registered_appliance(s).unwrap_or(false)
            }) =>
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
            match &fired {
                Some(fired) => fired.outcome(),
                None => format!("refused: {}", entry.id),
            },
        ),
    };
    reply(&response, ActivationLicenseRequest::TYPE, result)
}

/// Redeems the request's code for `cluster` (the requester first).
async fn redeem(
    state: &Forticare,
    request: &ActivationLicenseRequest,
    cluster: &[ApplianceSerial],
    now: UnixTime,
) -> anyhow::Result<Redemption> {
    match request
        .license_activation_code
        .parse::<LicenseActivationCode>()
    {
        Err(_) => Ok(Redemption::Refused(&LICENSE_CODE_INVALID)),
        Ok(code) if code.is_trial() => state.store.redeem_trial(cluster, now).await,
        Ok(code) => state.store.redeem(&code, cluster, now).await,
    }
}

/// `GET /__admin/state`.
async fn export_state(state: web::Data<Forticare>, request: HttpRequest) -> HttpResponse {
    lab::state::export(&request, &state.store)
}

/// `PUT /__admin/state`.
async fn import_state(
    state: web::Data<Forticare>,
    request: HttpRequest,
    body: web::Json<protocol::state::ServiceState>,
) -> HttpResponse {
    match lab::state::import(&request, &state.store, body.into_inner()).await {
        Ok(imported) => HttpResponse::Ok().json(imported),
        Err(refusal) => refusal.response(),
    }
}

/// `POST /__admin/reset`: the ledger emptied, the fixture licenses created again.
async fn reset(state: web::Data<Forticare>, request: HttpRequest) -> HttpResponse {
    let removed = match state.store.reset().await {
        Ok(removed) => removed,
        Err(e) => return internal(&e),
    };
    match state
        .store
        .load_fixtures(&state.fixtures, state.clock.now())
        .await
    {
        Ok(created) => lab::admin::reset_done(&request, removed, created as u64),
        Err(e) => internal(&e),
    }
}

async fn list_licenses(state: web::Data<Forticare>) -> HttpResponse {
    match state.store.licenses() {
        Ok(licenses) => HttpResponse::Ok().json(LicenseList {
            licenses: licenses.iter().map(|l| l.summary()).collect(),
        }),
        Err(e) => internal(&e),
    }
}

async fn create_license(state: web::Data<Forticare>, spec: web::Json<LicenseSpec>) -> HttpResponse {
    if !(1..=MAX_SEATS).contains(&spec.seats) {
        let message = format!(
            "seats must be between 1 and {MAX_SEATS}, not {}",
            spec.seats
        );
        return error(StatusCode::BAD_REQUEST, "forticare.license.seats", message);
    }
    match state.store.create(&spec, state.clock.now()).await {
        Ok(license) => {
            tracing::info!(license = %license.id, seats = license.seats, "license created");
            HttpResponse::Created().json(license.view(license.token_serials()))
        }
        Err(CreateError::Conflict(message)) => {
            error(StatusCode::CONFLICT, "forticare.license.conflict", message)
        }
        Err(CreateError::Internal(e)) => internal(&e),
    }
}

async fn show_license(state: web::Data<Forticare>, id: web::Path<String>) -> HttpResponse {
    let id: LicenseId = match id.parse() {
        Ok(id) => id,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "forticare.license.bad-id",
                e.to_string(),
            );
        }
    };
    match state.store.license(&id) {
        Ok(Some(license)) => HttpResponse::Ok().json(license.view(license.token_serials())),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "forticare.license.not-found",
            format!("no license {id}"),
        ),
        Err(e) => internal(&e),
    }
}

/// Which of the queried tokens the querying cluster may use (ftm asks before provisioning or polling).
async fn ownership(state: web::Data<Forticare>, query: web::Json<OwnershipQuery>) -> HttpResponse {
    let mut tokens = Vec::with_capacity(query.tokens.len());
    for token in &query.tokens {
        let license = match state.store.license_of_token(token) {
            Ok(license) => license,
            Err(e) => return internal(&e),
        };
        let owned = license
            .as_ref()
            .is_some_and(|l| l.usable_by(&query.appliances));
        tokens.push(TokenOwnership {
            token: token.clone(),
            license: license.map(|l| l.id),
            owned,
        });
    }
    let mut registered = Vec::new();
    for appliance in &query.appliances {
        match state.store.is_registered_appliance(appliance) {
            Ok(true) => registered.push(appliance.clone()),
            Ok(false) => {}
            Err(e) => return internal(&e),
        }
    }
    HttpResponse::Ok().json(OwnershipAnswer { tokens, registered })
}
