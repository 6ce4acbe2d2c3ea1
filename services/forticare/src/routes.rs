//! forticare's HTTP surface: the SoftToken front door (`POST /SoftToken/Provisioning.asmx/Process`, which
//! serves `SoftToken.ActivationLicenseRequest`), the license admin API under `/__admin/licenses`, and the
//! ledger API ftm asks about ownership. `lab` serves the rest of the control plane from [`Service`].

use actix_web::{HttpRequest, HttpResponse, web};
use lab::clock::Clock;
use lab::http::{ApiError, BodyLimit, Json};
use lab::scenario;
use lab::service::{Reset, Service};
use lab::softtoken::{Fault, read_message, reply};
use lab::store::{Store, Table};
use protocol::catalogue::{LICENSE_CODE_INVALID, PRODUCT_NOT_REGISTERED};
use protocol::envelope::Message;
use protocol::id::{ApplianceSerial, LicenseActivationCode, LicenseId};
use protocol::ledger::{LicenseList, LicenseSpec, MAX_SEATS, OwnershipQuery};
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse, LicensedToken};
use protocol::modeled;
use protocol::paths::{self, admin_suffix};
use protocol::scenario::{ScenarioAction, Trigger};
use protocol::time::UnixTime;

use crate::error::ForticareError;
use crate::ledger::Redemption;
use crate::store::Ledger;

/// What every forticare handler shares.
pub(crate) struct Forticare {
    pub(crate) ledger: Ledger,
    pub(crate) clock: Clock,
    /// The licenses a reset brings back.
    pub(crate) fixtures: Vec<LicenseSpec>,
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
        );
    }

    fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        crate::store::check_record(table, key, value)
    }

    fn check_state(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        crate::store::check_state(incoming)
    }

    /// The ledger emptied and the fixture licenses created again, as one change.
    async fn reset(&self) -> Result<Reset, ApiError> {
        let (removed, fixtures) = self
            .ledger
            .reset(self.fixtures.clone(), self.clock.now())
            .await
            .map_err(|e| match e {
                ForticareError::Api(api) => api,
                ForticareError::Storage(storage) => ApiError::storage(&storage),
                other => ApiError::internal(&other),
            })?;
        Ok(Reset { removed, fixtures })
    }
}

async fn process(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ForticareError> {
    let message = read_message::<ActivationLicenseRequest>(&request, payload).await?;
    import(&state, &request, message).await
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
    let outcome = match fired.as_ref().map(|f| (f, f.action)) {
        // A scenario's answer touches nothing: the ledger is not read or written.
        Some((fired, ScenarioAction::Status(status))) => {
            return Err(Fault::scenario(fired, TYPE, status).into());
        }
        Some((_, ScenarioAction::Error(armed))) => Redemption::Refused(armed.error),
        _ => redeem(state, &request, &cluster, now)
            .await
            .map_err(Fault::storage(TYPE))?,
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
            match &fired {
                Some(fired) => fired.outcome(),
                None => format!("refused: {}", entry.id),
            },
        ),
    };
    Ok(reply(&response, TYPE, result))
}

/// Redeems the request's code for `cluster` (the requester first).
async fn redeem(
    state: &Forticare,
    request: &ActivationLicenseRequest,
    cluster: &[ApplianceSerial],
    now: UnixTime,
) -> Result<Redemption, lab::store::StoreError> {
    match request
        .license_activation_code
        .parse::<LicenseActivationCode>()
    {
        Err(_) => Ok(Redemption::Refused(&LICENSE_CODE_INVALID)),
        Ok(code) if code.is_trial() => state.ledger.redeem_trial(cluster.to_vec(), now).await,
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
    let id: LicenseId = id.parse().map_err(|e: protocol::id::IdError| {
        ApiError::bad_request("forticare.license.bad-id", e.to_string())
    })?;
    let license = state
        .ledger
        .license(&id)?
        .ok_or(ForticareError::LicenseNotFound(id))?;
    Ok(HttpResponse::Ok().json(license.view(license.token_serials())))
}

/// Which of the queried tokens the querying cluster may use (ftm asks before provisioning or polling).
async fn ownership(
    state: web::Data<Forticare>,
    query: Json<OwnershipQuery>,
) -> Result<HttpResponse, ForticareError> {
    Ok(HttpResponse::Ok().json(state.ledger.ownership(&query)?))
}
