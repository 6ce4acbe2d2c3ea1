//! The control plane every service serves under `/__admin/`: `health`, `ready`, `clock`, `client-certs`,
//! `ca.pem`, `catalogue`, `scenarios` and `journal`, plus the JSON error bodies of fortimock's own API (extractor
//! errors and unknown endpoints) and the answer to `reset`, which each service serves itself (only it
//! knows its store). Services add their own admin routes (licenses, escrow, …) next to these.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web};
use protocol::admin::{
    ClientCertList, ClientCertView, ClockChange, ErrorBody, ResetView, ServiceStatus,
};
use protocol::catalogue::CATALOGUE;
use protocol::scenario::{ScenarioList, ScenarioSpec};
use protocol::time::UnixTime;

use crate::clock::Clock;
use crate::journal::{Journal, JournalQuery};
use crate::scenario::Scenarios;
use crate::tls::{fingerprint, subject_common_name};

/// Largest JSON body the admin API accepts.
pub const ADMIN_JSON_LIMIT: usize = 64 * 1024;

/// What the shared admin routes need; one per service.
pub(crate) struct ControlPlane {
    pub(crate) service: &'static str,
    pub(crate) clock: Clock,
    pub(crate) certs: ClientCertLog,
    pub(crate) admin_token: Option<String>,
    pub(crate) ca_pem: Option<String>,
    pub(crate) scenarios: Scenarios,
    /// The request journal; `None` on the simulators, which keep none.
    pub(crate) journal: Option<Journal>,
}

/// The client certificates a service has seen, by fingerprint.
#[derive(Clone, Default)]
pub struct ClientCertLog {
    seen: Arc<Mutex<HashMap<String, ClientCertView>>>,
}

impl ClientCertLog {
    /// Records one request made with the certificate `der`.
    pub fn record(&self, der: &[u8], now: UnixTime) {
        let sha256 = fingerprint(der);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = seen
            .entry(sha256.clone())
            .or_insert_with(|| ClientCertView {
                sha256,
                subject_cn: subject_common_name(der),
                first_seen: now,
                last_seen: now,
                requests: 0,
            });
        entry.last_seen = now;
        entry.requests += 1;
    }

    /// Every certificate seen, oldest first.
    pub fn list(&self) -> Vec<ClientCertView> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<ClientCertView> = seen.values().cloned().collect();
        list.sort_by(|a, b| (a.first_seen, &a.sha256).cmp(&(b.first_seen, &b.sha256)));
        list
    }
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/__admin/health", web::get().to(health))
        .route("/__admin/ready", web::get().to(ready))
        .route("/__admin/clock", web::get().to(clock))
        .route("/__admin/clock", web::post().to(change_clock))
        .route("/__admin/client-certs", web::get().to(client_certs))
        .route("/__admin/ca.pem", web::get().to(ca_pem))
        .route("/__admin/catalogue", web::get().to(catalogue))
        .route("/__admin/scenarios", web::get().to(scenarios))
        .route("/__admin/scenarios", web::post().to(arm_scenario))
        .route("/__admin/scenarios", web::delete().to(clear_scenarios))
        .route("/__admin/scenarios/{id}", web::delete().to(disarm_scenario))
        .route("/__admin/journal", web::get().to(journal))
        .route("/__admin/journal", web::delete().to(clear_journal));
}

fn status(control: &ControlPlane, status: &str) -> HttpResponse {
    HttpResponse::Ok().json(ServiceStatus {
        status: status.to_owned(),
        service: control.service.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

async fn health(control: web::Data<ControlPlane>) -> HttpResponse {
    status(&control, "ok")
}

/// A service only starts listening once its store is open and its fixtures are loaded, so answering at
/// all means ready.
async fn ready(control: web::Data<ControlPlane>) -> HttpResponse {
    status(&control, "ready")
}

async fn clock(control: web::Data<ControlPlane>) -> HttpResponse {
    HttpResponse::Ok().json(control.clock.view())
}

async fn change_clock(
    control: web::Data<ControlPlane>,
    change: web::Json<ClockChange>,
) -> HttpResponse {
    match control.clock.apply(&change) {
        Ok(view) => {
            tracing::info!(service = control.service, now = %view.now, frozen = view.frozen, "clock changed");
            HttpResponse::Ok().json(view)
        }
        Err(message) => error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "admin.clock.invalid",
            message,
        ),
    }
}

async fn client_certs(control: web::Data<ControlPlane>) -> HttpResponse {
    HttpResponse::Ok().json(ClientCertList {
        client_certs: control.certs.list(),
    })
}

async fn ca_pem(control: web::Data<ControlPlane>) -> HttpResponse {
    match &control.ca_pem {
        Some(pem) => HttpResponse::Ok()
            .content_type("application/x-pem-file")
            .body(pem.clone()),
        None => error(
            actix_web::http::StatusCode::NOT_FOUND,
            "admin.ca.none",
            "this service runs without a lab CA (plain HTTP)".into(),
        ),
    }
}

async fn catalogue() -> HttpResponse {
    HttpResponse::Ok().json(CATALOGUE)
}

async fn scenarios(control: web::Data<ControlPlane>) -> HttpResponse {
    HttpResponse::Ok().json(ScenarioList {
        scenarios: control.scenarios.list(),
    })
}

async fn arm_scenario(
    control: web::Data<ControlPlane>,
    spec: web::Json<ScenarioSpec>,
) -> HttpResponse {
    match control
        .scenarios
        .arm(spec.into_inner(), control.clock.now())
    {
        Ok(view) => HttpResponse::Created().json(view),
        Err(message) => error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "admin.scenario.invalid",
            message,
        ),
    }
}

async fn clear_scenarios(control: web::Data<ControlPlane>) -> HttpResponse {
    let cleared = control.scenarios.clear();
    tracing::info!(service = control.service, cleared, "scenarios cleared");
    HttpResponse::NoContent().finish()
}

async fn disarm_scenario(control: web::Data<ControlPlane>, id: web::Path<String>) -> HttpResponse {
    if control.scenarios.disarm(&id) {
        tracing::info!(service = control.service, scenario = %id, "scenario disarmed");
        HttpResponse::NoContent().finish()
    } else {
        error(
            actix_web::http::StatusCode::NOT_FOUND,
            "admin.scenario.not-found",
            format!("no scenario {id} here; GET /__admin/scenarios lists them"),
        )
    }
}

fn no_journal(control: &ControlPlane) -> HttpResponse {
    error(
        actix_web::http::StatusCode::NOT_FOUND,
        "admin.journal.none",
        format!(
            "the {} service keeps no journal: it is a simulator; what it sends shows in the journals of \
             forticare, ftm and the push relay",
            control.service
        ),
    )
}

async fn journal(
    control: web::Data<ControlPlane>,
    query: web::Query<JournalQuery>,
) -> HttpResponse {
    match &control.journal {
        Some(journal) => HttpResponse::Ok().json(journal.page(&query)),
        None => no_journal(&control),
    }
}

async fn clear_journal(control: web::Data<ControlPlane>) -> HttpResponse {
    match &control.journal {
        Some(journal) => {
            let cleared = journal.clear();
            tracing::info!(service = control.service, cleared, "journal cleared");
            HttpResponse::NoContent().finish()
        }
        None => no_journal(&control),
    }
}

/// The answer to a service's `POST /__admin/reset` once its store is empty (and its fixtures back): clears
/// the service's scenarios and journal too, and logs the reset.
pub fn reset_done(request: &HttpRequest, removed: u64, fixtures: u64) -> HttpResponse {
    let Some(control) = request.app_data::<web::Data<ControlPlane>>() else {
        return internal(&anyhow::anyhow!("reset outside a lab service"));
    };
    let scenarios = control.scenarios.clear() as u64;
    let journal = control.journal.as_ref().map_or(0, Journal::clear) as u64;
    tracing::info!(
        service = control.service,
        removed,
        fixtures,
        scenarios,
        journal,
        "reset"
    );
    HttpResponse::Ok().json(ResetView {
        service: control.service.to_owned(),
        removed,
        fixtures,
        scenarios,
        journal,
    })
}

/// An admin API error response.
pub fn error(status: actix_web::http::StatusCode, error_id: &str, message: String) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error_id: error_id.to_owned(),
        message,
    })
}

/// A failure inside the service: logged in full, answered with an opaque 500.
pub fn internal(error_detail: &anyhow::Error) -> HttpResponse {
    tracing::error!(error = format!("{error_detail:#}"), "internal error");
    error(
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; see the fortimock log".into(),
    )
}

pub(crate) async fn no_such_endpoint(request: HttpRequest) -> HttpResponse {
    error(
        actix_web::http::StatusCode::NOT_FOUND,
        "http.no-such-endpoint",
        format!(
            "no endpoint {} {} here: appliances post SoftToken messages to /SoftToken/Provisioning.asmx/Process, \
             phones to /SoftToken/Provisioning.asmx/Mobile; the control plane is under /__admin/",
            request.method(),
            request.path()
        ),
    )
}

pub(crate) fn json_config() -> web::JsonConfig {
    json_config_with_limit(ADMIN_JSON_LIMIT)
}

/// The JSON extractor config of the admin API with another body limit, for endpoints that take large bodies.
pub fn json_config_with_limit(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _| {
            let (status, id) = match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => (
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "admin.body.too-large",
                ),
                JsonPayloadError::ContentType => (
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "admin.body.not-json",
                ),
                _ => (
                    actix_web::http::StatusCode::BAD_REQUEST,
                    "admin.body.invalid",
                ),
            };
            let message = format!("the request body was refused: {err}");
            InternalError::from_response(err, error(status, id, message)).into()
        })
}

pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _| {
        let message = format!("bad query string: {err}");
        InternalError::from_response(
            err,
            error(
                actix_web::http::StatusCode::BAD_REQUEST,
                "admin.query.invalid",
                message,
            ),
        )
        .into()
    })
}

pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _| {
        let message = format!("bad path: {err}");
        InternalError::from_response(
            err,
            error(
                actix_web::http::StatusCode::BAD_REQUEST,
                "admin.path.invalid",
                message,
            ),
        )
        .into()
    })
}
