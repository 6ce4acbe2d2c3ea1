//! The control plane every service serves under `/__admin/`, as one guarded scope.
//!
//! `health`, `ready` and `ca.pem` are public, and so is the API documentation (`openapi.json`, `docs`,
//! `docs/{file}`: it describes the routes and reveals no secret). Everything else (`clock`, `client-certs`, `catalogue`,
//! `scenarios`, `journal`, `timeline`, `coverage`, `reset`, `state`, and each service's own admin routes) lives in one
//! `/__admin` scope wrapped by [`require_admin_token`]: the router matches the percent-decoded path, and
//! whatever it routes into the scope passes the guard, so no spelling of a path gets around it. The same
//! guard protects the simulators' APIs, which act for users (`lab::service::Service::routes` wraps them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, PathError};
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use protocol::admin::{
    ClientCertList, ClientCertView, ClockChange, ClockView, ErrorBody, ResetView, ServiceStatus,
};
use protocol::catalogue::{CATALOGUE, CatalogueEntry};
use protocol::coverage::CoverageReport;
use protocol::journal::JournalPage;
use protocol::paths;
use protocol::scenario::{ScenarioList, ScenarioSpec, ScenarioView};
use protocol::state::{ServiceState, StateImported};
use protocol::time::UnixTime;
use protocol::timeline::TimelinePage;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::api::Api;
use crate::clock::Clock;
use crate::flow::Recorders;
use crate::http::{ApiError, Json, Query};
use crate::journal::{Journal, JournalQuery};
use crate::scenario::Scenarios;
use crate::service::Service;
use crate::state::MAX_STATE_BYTES;
use crate::store::Store;
use crate::timeline::TimelineQuery;
use crate::tls::{fingerprint, subject_common_name};

/// The tag of the control plane's operations in every service's document.
const TAG: &str = "control plane";

/// What the control plane of one service needs.
pub struct ControlPlane {
    pub service: &'static str,
    pub clock: Clock,
    pub(crate) certs: ClientCertLog,
    /// When set, the guarded routes need `Authorization: Bearer <token>`.
    pub(crate) admin_token: Option<String>,
    pub(crate) ca_pem: Option<String>,
    pub scenarios: Scenarios,
    /// The request journal; `None` on the simulators, which keep none.
    pub(crate) journal: Option<Journal>,
    /// The service's store, for readiness.
    pub(crate) store: Option<Store>,
    /// The service's OpenAPI document, made on the first request for it (most runs never ask; building it
    /// at start cost every start time and memory).
    pub(crate) openapi: OpenApiDocument,
    /// The process's timeline and coverage.
    pub(crate) recorders: Recorders,
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

/// Registers the control plane of service `S`: the public probes and documents, then the guarded scope.
pub(crate) fn configure<S: Service>(api: &mut Api<'_>) {
    public_routes(api);
    api.guarded(paths::ADMIN, |admin| {
        admin
            .route(__path_clock, clock)
            .route(__path_change_clock, change_clock)
            .route(__path_client_certs, client_certs)
            .route(__path_catalogue, catalogue)
            .route(__path_scenarios, scenarios)
            .route(__path_arm_scenario, arm_scenario)
            .route(__path_clear_scenarios, clear_scenarios)
            .route(__path_disarm_scenario, disarm_scenario)
            .route(__path_journal, journal)
            .route(__path_clear_journal, clear_journal)
            .route(__path_timeline, timeline)
            .route(__path_coverage, coverage)
            .route(__path_reset, reset::<S>)
            .route_with_body_limit(__path_export_state, export_state::<S>, MAX_STATE_BYTES)
            .route_with_body_limit(__path_import_state, import_state::<S>, MAX_STATE_BYTES);
        S::admin_routes(admin);
    });
}

/// The probes and documents every listener with a control plane answers without a token.
fn public_routes(api: &mut Api<'_>) {
    api.route(__path_health, health)
        .route(__path_ready, ready)
        .route(__path_ca_pem, ca_pem)
        .route(__path_openapi_json, openapi_json)
        .route(__path_docs, docs)
        .route(__path_docs_file, docs_file);
}

/// The guard of the control plane and of the simulators' APIs: with an admin token set, a request
/// without `Authorization: Bearer <token>` is refused with 401 before it reaches any handler.
pub async fn require_admin_token(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let expected = request
        .app_data::<web::Data<ControlPlane>>()
        .and_then(|c| c.admin_token.clone());
    if let Some(expected) = expected
        && !bearer_matches(&request, &expected)
    {
        let refusal = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "admin.unauthorized",
            "this endpoint needs `Authorization: Bearer <admin token>` (fortimock up prints where the \
             token is; the CLI reads it from the data dir)",
        );
        return Ok(request.into_response(refusal.response()));
    }
    Ok(next.call(request).await?.map_into_boxed_body())
}

fn bearer_matches(request: &ServiceRequest, expected: &str) -> bool {
    request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| bool::from(token.trim().as_bytes().ct_eq(expected.as_bytes())))
}

fn status(control: &ControlPlane, status: &str, reason: Option<String>) -> ServiceStatus {
    ServiceStatus {
        status: status.to_owned(),
        service: control.service.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        reason,
    }
}

#[utoipa::path(get, path = paths::ADMIN_HEALTH, tag = TAG,
    responses((status = 200, description = "The service answers.", body = ServiceStatus)))]
async fn health(control: web::Data<ControlPlane>) -> HttpResponse {
    HttpResponse::Ok().json(status(&control, "ok", None))
}

/// Ready once the store is open (the service only listens then) and while its data dir can be written: a
/// durable probe write says so; 503 with the reason otherwise.
#[utoipa::path(get, path = paths::ADMIN_READY, tag = TAG, responses(
    (status = 200, description = "Ready.", body = ServiceStatus),
    (status = 503, description = "Not ready, with the reason (e.g. the disk is full).", body = ServiceStatus)))]
async fn ready(control: web::Data<ControlPlane>) -> HttpResponse {
    let Some(store) = &control.store else {
        return HttpResponse::Ok().json(status(&control, "ready", None));
    };
    match store.check_writable().await {
        Ok(()) => HttpResponse::Ok().json(status(&control, "ready", None)),
        Err(e) => HttpResponse::ServiceUnavailable().json(status(
            &control,
            "not-ready",
            Some(e.to_string()),
        )),
    }
}

#[utoipa::path(get, path = paths::ADMIN_CA_PEM, tag = TAG, responses(
    (status = 200, description = "The lab CA certificate.", content_type = "application/x-pem-file", body = String),
    (status = 404, description = "Plain HTTP: no lab CA.", body = ErrorBody)))]
async fn ca_pem(control: web::Data<ControlPlane>) -> Result<HttpResponse, ApiError> {
    match &control.ca_pem {
        Some(pem) => Ok(HttpResponse::Ok()
            .content_type("application/x-pem-file")
            .body(pem.clone())),
        None => Err(ApiError::not_found(
            "admin.ca.none",
            "this service runs without a lab CA (plain HTTP)",
        )),
    }
}

#[utoipa::path(get, path = paths::ADMIN_CLOCK, tag = TAG,
    responses((status = 200, description = "The clock every service of the process shares.", body = ClockView)))]
async fn clock(control: web::Data<ControlPlane>) -> HttpResponse {
    HttpResponse::Ok().json(control.clock.view())
}

#[utoipa::path(post, path = paths::ADMIN_CLOCK, tag = TAG, request_body = ClockChange, responses(
    (status = 200, description = "The clock after the change.", body = ClockView),
    (status = 400, description = "`admin.clock.invalid`: the change would leave 1970..9999; nothing changed.", body = ErrorBody)))]
async fn change_clock(
    control: web::Data<ControlPlane>,
    change: Json<ClockChange>,
) -> Result<HttpResponse, ApiError> {
    let view = control
        .clock
        .apply(&change)
        .map_err(|message| ApiError::bad_request("admin.clock.invalid", message))?;
    tracing::info!(service = control.service, now = %view.now, frozen = view.frozen, "clock changed");
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(get, path = paths::ADMIN_CLIENT_CERTS, tag = TAG,
    responses((status = 200, description = "TLS client certificates seen.", body = ClientCertList)))]
async fn client_certs(control: web::Data<ControlPlane>) -> HttpResponse {
    HttpResponse::Ok().json(ClientCertList {
        client_certs: control.certs.list(),
    })
}

#[utoipa::path(get, path = paths::ADMIN_CATALOGUE, tag = TAG,
    responses((status = 200, description = "Every error fortimock can answer with.", body = Vec<CatalogueEntry>)))]
async fn catalogue() -> HttpResponse {
    HttpResponse::Ok().json(CATALOGUE)
}

#[utoipa::path(get, path = paths::ADMIN_SCENARIOS, tag = TAG,
    responses((status = 200, description = "The armed scenarios, in arming order.", body = ScenarioList)))]
async fn scenarios(control: web::Data<ControlPlane>) -> HttpResponse {
    HttpResponse::Ok().json(ScenarioList {
        scenarios: control.scenarios.list(),
    })
}

#[utoipa::path(post, path = paths::ADMIN_SCENARIOS, tag = TAG, request_body = ScenarioSpec, responses(
    (status = 201, description = "Armed.", body = ScenarioView),
    (status = 400, description = "`admin.scenario.invalid`: not a scenario this service can answer.", body = ErrorBody)))]
async fn arm_scenario(
    control: web::Data<ControlPlane>,
    spec: Json<ScenarioSpec>,
) -> Result<HttpResponse, ApiError> {
    let view = control
        .scenarios
        .arm(spec.into_inner(), control.clock.now())
        .map_err(|message| ApiError::bad_request("admin.scenario.invalid", message))?;
    Ok(HttpResponse::Created().json(view))
}

#[utoipa::path(delete, path = paths::ADMIN_SCENARIOS, tag = TAG,
    responses((status = 204, description = "Every scenario cleared.")))]
async fn clear_scenarios(control: web::Data<ControlPlane>) -> HttpResponse {
    let cleared = control.scenarios.clear();
    tracing::info!(service = control.service, cleared, "scenarios cleared");
    HttpResponse::NoContent().finish()
}

#[utoipa::path(delete, path = paths::ADMIN_SCENARIO, tag = TAG,
    params(("id" = String, Path, description = "The scenario's id (`s1`, …).")), responses(
    (status = 204, description = "Disarmed."),
    (status = 404, description = "`admin.scenario.not-found`.", body = ErrorBody)))]
async fn disarm_scenario(
    control: web::Data<ControlPlane>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if control.scenarios.disarm(&id) {
        tracing::info!(service = control.service, scenario = %id, "scenario disarmed");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(
            "admin.scenario.not-found",
            format!("no scenario {id} here; GET /__admin/scenarios lists them"),
        ))
    }
}

fn no_journal(control: &ControlPlane) -> ApiError {
    ApiError::not_found(
        "admin.journal.none",
        format!(
            "the {} service keeps no journal: it is a simulator; what it sends shows in the journals of \
             forticare, ftm and the push relay",
            control.service
        ),
    )
}

#[utoipa::path(get, path = paths::ADMIN_JOURNAL, tag = TAG, params(JournalQuery), responses(
    (status = 200, description = "Exchanges, oldest first, secrets redacted.", body = JournalPage),
    (status = 404, description = "`admin.journal.none`: a simulator keeps no journal.", body = ErrorBody)))]
async fn journal(
    control: web::Data<ControlPlane>,
    query: Query<JournalQuery>,
) -> Result<HttpResponse, ApiError> {
    let journal = control
        .journal
        .as_ref()
        .ok_or_else(|| no_journal(&control))?;
    Ok(HttpResponse::Ok().json(journal.page(&query)))
}

#[utoipa::path(delete, path = paths::ADMIN_JOURNAL, tag = TAG, responses(
    (status = 204, description = "Emptied."),
    (status = 404, description = "`admin.journal.none`: a simulator keeps no journal.", body = ErrorBody)))]
async fn clear_journal(control: web::Data<ControlPlane>) -> Result<HttpResponse, ApiError> {
    let journal = control
        .journal
        .as_ref()
        .ok_or_else(|| no_journal(&control))?;
    let cleared = journal.clear();
    tracing::info!(service = control.service, cleared, "journal cleared");
    Ok(HttpResponse::NoContent().finish())
}

/// The media type of a Mermaid diagram's text.
pub const MERMAID_TYPE: &str = "text/vnd.mermaid; charset=utf-8";

/// `GET /__admin/timeline`: the exchanges between the lab's parts (every service of the process), of one
/// flow or one time range, in the order they were answered; as JSON, or with `?format=mermaid` as a
/// Mermaid `sequenceDiagram`.
#[utoipa::path(get, path = paths::ADMIN_TIMELINE, tag = TAG, params(TimelineQuery), responses(
    (status = 200, description = "The exchanges, in the order they were answered (JSON), or the Mermaid \
        diagram (`text/vnd.mermaid`).", body = TimelinePage),
    (status = 400, description = "`admin.timeline.query`: a time that is not one, a range that ends before \
        it starts, a flow id that cannot be one, an unknown format.", body = ErrorBody),
    (status = 404, description = "`admin.timeline.unknown-flow`: no kept exchange belongs to that flow.", body = ErrorBody)))]
async fn timeline(
    control: web::Data<ControlPlane>,
    query: Query<TimelineQuery>,
) -> Result<HttpResponse, ApiError> {
    let bad = |message: String| ApiError::bad_request("admin.timeline.query", message);
    let selection = query.selection().map_err(bad)?;
    let mermaid = match query.format.as_deref() {
        None | Some("json") => false,
        Some("mermaid") => true,
        Some(other) => {
            return Err(bad(format!(
                "format `{}` is not one the timeline answers in: json (the default) or mermaid",
                other.escape_debug()
            )));
        }
    };
    let timeline = &control.recorders.timeline;
    if let Some(flow) = &selection.flow
        && !timeline.knows_flow(flow)
    {
        return Err(ApiError::not_found(
            "admin.timeline.unknown-flow",
            format!(
                "no exchange of flow {flow} is on the timeline (it keeps the last {} exchanges; an answer's \
                 x-fortimock-flow header names its flow)",
                timeline.capacity()
            ),
        ));
    }
    if mermaid {
        let entries = timeline.select(&selection);
        return Ok(HttpResponse::Ok()
            .content_type(MERMAID_TYPE)
            .body(protocol::timeline::mermaid(&entries)));
    }
    Ok(HttpResponse::Ok().json(timeline.page(&selection, query.flows)))
}

/// `GET /__admin/coverage`: what the services of the process reached since they started, what they did
/// not, and the drift they saw.
#[utoipa::path(get, path = paths::ADMIN_COVERAGE, tag = TAG, responses(
    (status = 200, description = "The coverage report.", body = CoverageReport)))]
async fn coverage(control: web::Data<ControlPlane>) -> HttpResponse {
    HttpResponse::Ok().json(control.recorders.coverage.report())
}

/// `POST /__admin/reset`: the service's store emptied (its fixtures back), its scenarios and journal
/// cleared.
#[utoipa::path(post, path = paths::ADMIN_RESET, tag = TAG, responses(
    (status = 200, description = "What the reset removed and brought back.", body = ResetView),
    (status = 503, description = "The data dir cannot be written.", body = ErrorBody)))]
async fn reset<S: Service>(
    service: web::Data<S>,
    control: web::Data<ControlPlane>,
) -> Result<HttpResponse, ApiError> {
    let done = service.reset().await?;
    let scenarios = control.scenarios.clear() as u64;
    let journal = control.journal.as_ref().map_or(0, Journal::clear) as u64;
    tracing::info!(
        service = control.service,
        removed = done.removed,
        fixtures = done.fixtures,
        scenarios,
        journal,
        "reset"
    );
    Ok(HttpResponse::Ok().json(ResetView {
        service: control.service.to_owned(),
        removed: done.removed,
        fixtures: done.fixtures,
        scenarios,
        journal,
    }))
}

/// `GET /__admin/state`.
#[utoipa::path(get, path = paths::ADMIN_STATE, tag = TAG,
    responses((status = 200, description = "The service's records and armed scenarios.", body = ServiceState)))]
async fn export_state<S: Service>(
    service: web::Data<S>,
    control: web::Data<ControlPlane>,
) -> Result<HttpResponse, ApiError> {
    let chunks = crate::state::export(&control, service.store(), service.key_id()).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .streaming(chunks))
}

/// `PUT /__admin/state?dry_run=true`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// Only check the state; change nothing.
    #[serde(default)]
    dry_run: bool,
}

/// `PUT /__admin/state`: checked whole, then the store's records replaced in one transaction (with
/// `?dry_run=true`, only checked).
#[utoipa::path(put, path = paths::ADMIN_STATE, tag = TAG, params(ImportQuery), request_body = ServiceState, responses(
    (status = 200, description = "Imported (or, with `dry_run`, checked).", body = StateImported),
    (status = 400, description = "The state is refused whole, naming the record at fault; nothing changed.", body = ErrorBody),
    (status = 409, description = "Sealed records from a data dir with another key.", body = ErrorBody)))]
async fn import_state<S: Service>(
    service: web::Data<S>,
    control: web::Data<ControlPlane>,
    query: Query<ImportQuery>,
    state: crate::state::StateUpload,
) -> Result<HttpResponse, ApiError> {
    let prepared = crate::state::prepare(&control, &**service, state)?;
    if query.dry_run {
        return Ok(HttpResponse::Ok().json(prepared.checked(control.service)));
    }
    let imported = service.import(&control, prepared).await?;
    Ok(HttpResponse::Ok().json(imported))
}

/// `GET /__admin/openapi.json`: this service's OpenAPI document, generated from its routes and API types.
#[utoipa::path(get, path = paths::ADMIN_OPENAPI, tag = TAG,
    responses((status = 200, description = "The OpenAPI 3.1 document of this service.", content_type = "application/json")))]
async fn openapi_json(control: web::Data<ControlPlane>) -> Result<HttpResponse, ApiError> {
    let document = control
        .openapi
        .json()
        .map_err(|detail| ApiError::internal(&format!("writing the OpenAPI document: {detail}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(document.to_string()))
}

/// A service's OpenAPI document as JSON, made once, when first asked for.
pub(crate) struct OpenApiDocument {
    make: fn() -> utoipa::openapi::OpenApi,
    made: std::sync::OnceLock<Result<Arc<str>, String>>,
}

impl OpenApiDocument {
    pub(crate) fn new(make: fn() -> utoipa::openapi::OpenApi) -> OpenApiDocument {
        OpenApiDocument {
            make,
            made: std::sync::OnceLock::new(),
        }
    }

    fn json(&self) -> Result<Arc<str>, String> {
        self.made
            .get_or_init(|| {
                (self.make)()
                    .to_json()
                    .map(Arc::from)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

/// `GET /__admin/docs`: the browsable documentation (Swagger UI, served from the binary).
#[utoipa::path(get, path = paths::ADMIN_DOCS, tag = TAG,
    responses((status = 302, description = "To the documentation page, `/__admin/docs/index.html`.")))]
async fn docs() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("{}/index.html", paths::ADMIN_DOCS),
        ))
        .finish()
}

/// `GET /__admin/docs/{file}`: the documentation page's files, built into the binary.
#[utoipa::path(get, path = paths::ADMIN_DOCS_FILE, tag = TAG,
    params(("file" = String, Path, description = "`index.html`, or one of the page's scripts and styles.")),
    responses(
        (status = 200, description = "The file."),
        (status = 404, description = "`admin.docs.not-found`.", body = ErrorBody)))]
async fn docs_file(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let config = utoipa_swagger_ui::Config::from(paths::ADMIN_OPENAPI)
        .validator_url("none")
        .try_it_out_enabled(true)
        .persist_authorization(true);
    match utoipa_swagger_ui::serve(&file, Arc::new(config)) {
        Ok(Some(served)) => Ok(HttpResponse::Ok()
            .content_type(served.content_type)
            .body(served.bytes.into_owned())),
        Ok(None) => Err(ApiError::not_found(
            "admin.docs.not-found",
            format!(
                "no file {file} in the documentation page; it starts at {}",
                paths::ADMIN_DOCS
            ),
        )),
        Err(e) => Err(ApiError::internal(&format!(
            "serving the documentation page: {e}"
        ))),
    }
}

/// The answer to a request no route takes.
pub(crate) async fn no_such_endpoint(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "http.no-such-endpoint",
        format!(
            "no endpoint {} {} here: appliances post SoftToken messages to {}, phones to {}; the \
             control plane is under {}/",
            request.method(),
            request.path(),
            paths::PROCESS,
            paths::MOBILE,
            paths::ADMIN
        ),
    ))
}

/// Path parameters that do not parse answer in fortimock's error shape.
pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _| {
        let refusal = ApiError::bad_request("admin.path.invalid", format!("bad path: {err}"));
        InternalError::from_response(err, refusal.response()).into()
    })
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use super::*;
    use crate::server::{Limits, Listen, Transport};
    use crate::store::{Reader, Schema, SimulatedDisk, StoreError, Table};
    use protocol::state::StateRecord;

    static SCHEMA: Schema = Schema {
        service: "probe",
        tables: &[Table::new("things")],
    };

    /// A service with nothing but a store, on a simulated disk.
    struct Probe {
        store: Store,
    }

    impl Service for Probe {
        const NAME: &'static str = "probe";

        fn store(&self) -> &Store {
            &self.store
        }

        fn routes(_: &mut Api<'_>) {}

        fn check_record(&self, _: Table, _: &[u8], _: &[u8]) -> anyhow::Result<()> {
            Ok(())
        }
    }

    fn listen(admin_token: Option<&str>) -> Listen {
        Listen {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            socket: None,
            transport: Transport::Plain,
            clock: Clock::default(),
            workers: 1,
            admin_token: admin_token.map(str::to_owned),
            ca_pem: None,
            journal_size: 0,
            recorders: Recorders::new(0),
            limits: Limits::default(),
            connections: crate::server::Connections::default(),
        }
    }

    /// Stores `count` records of every kind a snapshot shows (text and binary keys; JSON, text and binary
    /// values), about 200 bytes each.
    async fn fill(store: &Store, count: u32) {
        store
            .write(move |tx| {
                for n in 0..count {
                    let value = match n % 3 {
                        0 => {
                            format!(r#"{{"v":1,"n":{n},"pad":"{}"}}"#, "x".repeat(160)).into_bytes()
                        }
                        1 => format!("text {n} {}", "y".repeat(180)).into_bytes(),
                        _ => [&n.to_be_bytes()[..], &[0u8; 90]].concat(),
                    };
                    let key = match n % 5 {
                        0 => [&[0xffu8][..], &n.to_be_bytes()].concat(),
                        _ => format!("thing-{n:06}").into_bytes(),
                    };
                    tx.insert(SCHEMA.tables[0], &key, &value)?;
                }
                Ok::<(), StoreError>(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_state_export_is_streamed_as_the_document_of_every_record() {
        let store = Store::open(None, &SCHEMA).unwrap();
        // About 800 KiB of state: several of the export's chunks.
        fill(&store, 4_000).await;
        let entries = store.read(|r| r.all(SCHEMA.tables[0])).unwrap();
        let running = crate::server::start(&listen(None), web::Data::new(Probe { store })).unwrap();
        let http = crate::client::http_client(None, None).unwrap();
        let url = format!("{}{}", running.url(), paths::ADMIN_STATE);
        let answer = http.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(
            answer.headers()["content-type"],
            "application/json",
            "{:?}",
            answer.headers()
        );
        let body = answer.bytes().await.unwrap();
        assert!(body.len() > 600 * 1024, "{} bytes", body.len());
        let exported: ServiceState = serde_json::from_slice(&body).unwrap();
        // The very bytes of the whole document serialized at once, as the export was before it streamed.
        let expected = ServiceState {
            format: protocol::state::STATE_FORMAT.to_owned(),
            service: "probe".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            exported: exported.exported,
            key_id: None,
            trees: [(
                "things".to_owned(),
                entries
                    .iter()
                    .map(|(key, value)| StateRecord::from_bytes(key, value))
                    .collect(),
            )]
            .into(),
            scenarios: vec![],
        };
        assert_eq!(body, serde_json::to_vec(&expected).unwrap());
        assert_eq!(exported.trees["things"].len(), 4_000);

        // A client that goes away after the first chunk stops the export; the next one is whole.
        let mut cut = http.get(&url).send().await.unwrap();
        assert!(!cut.chunk().await.unwrap().unwrap().is_empty());
        drop(cut);
        let again = http.get(&url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(
            serde_json::from_slice::<ServiceState>(&again)
                .unwrap()
                .trees,
            expected.trees
        );
        running.stop().await;
    }

    #[tokio::test]
    async fn ready_says_not_ready_with_the_reason_while_the_disk_is_full() {
        let disk = SimulatedDisk::new();
        let store = Store::open_simulated(&disk, &SCHEMA).unwrap();
        let running = crate::server::start(&listen(None), web::Data::new(Probe { store })).unwrap();
        let http = crate::client::http_client(None, None).unwrap();
        let ready = format!("{}{}", running.url(), paths::ADMIN_READY);
        let answer = http.get(&ready).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        disk.fail_writes(Some(std::io::ErrorKind::StorageFull));
        let answer = http.get(&ready).send().await.unwrap();
        assert_eq!(answer.status(), 503);
        let status: ServiceStatus = answer.json().await.unwrap();
        assert_eq!(status.status, "not-ready");
        assert!(status.reason.unwrap().contains("is full"));
        let health = format!("{}{}", running.url(), paths::ADMIN_HEALTH);
        assert_eq!(http.get(&health).send().await.unwrap().status(), 200);
        disk.fail_writes(None);
        assert_eq!(http.get(&ready).send().await.unwrap().status(), 200);
        running.stop().await;
    }
}
