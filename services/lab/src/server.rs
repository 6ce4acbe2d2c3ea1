//! Starting one service: bind the listener (port 0 picks a free port), serve HTTPS or plain HTTP, and wrap
//! the service's routes with what every fortimock service shares: the `/__admin` control plane, client
//! certificate recording, the optional admin token, JSON error bodies, and one log line per request.

use std::any::Any;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::rt::net::TcpStream;
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use anyhow::Context;
use protocol::admin::ErrorBody;
use subtle::ConstantTimeEq;

use crate::admin::{self, ClientCertLog, ControlPlane};
use crate::clock::Clock;
use crate::journal::{Exchange, Journal, RecordedBody};
use crate::scenario::Scenarios;

/// How a service listens.
#[derive(Clone)]
pub enum Transport {
    /// HTTPS with this rustls config (the default, as the real services speak it).
    Https(Arc<rustls::ServerConfig>),
    /// Plain HTTP, for quick local use (`--plain-http`).
    Plain,
}

/// How a service listens, besides its routes: everything `start` needs.
#[derive(Clone)]
pub struct Listen {
    pub bind: SocketAddr,
    pub transport: Transport,
    pub clock: Clock,
    /// actix worker threads.
    pub workers: usize,
    /// When set, `/__admin/*` (except health, ready and the CA certificate) needs `Authorization: Bearer <token>`.
    pub admin_token: Option<String>,
    /// The lab CA certificate, served at `/__admin/ca.pem`.
    pub ca_pem: Option<String>,
    /// How many exchanges the request journal keeps (0: none). Only the emulated Fortinet services
    /// (forticare, ftm, push) keep a journal.
    pub journal_size: usize,
}

/// A service that is accepting connections.
pub struct RunningService {
    name: &'static str,
    addr: SocketAddr,
    url: String,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    certs: ClientCertLog,
    /// The service's state, held so that `stop` drops it last: its database is closed when `stop` returns.
    state: Option<Arc<dyn Any + Send + Sync>>,
    /// Run first by `stop`: services that belong to this one (an appliance's ftm-push listeners).
    before_stop: Option<StopHook>,
}

/// Work `RunningService::stop` does before stopping the service itself.
pub type StopHook = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send>;

/// A note a handler attaches to its response so the request's log line says what happened,
/// e.g. `SoftToken.ActivationLicenseRequest` / `error 16`.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub message_type: String,
    pub result: String,
}

/// Attaches an [`Outcome`] to a response.
pub fn with_outcome(
    mut response: HttpResponse,
    message_type: &str,
    result: impl Into<String>,
) -> HttpResponse {
    response.extensions_mut().insert(Outcome {
        message_type: message_type.to_owned(),
        result: result.into(),
    });
    response
}

/// The DER bytes of the client certificate presented on this connection.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Arc<[u8]>);

/// Binds `options.bind` and starts serving `configure`'s routes next to the control plane, as service
/// `name` (`forticare`, `ftm`, …: the `--ready-file` key). Must be called inside a tokio runtime; the
/// server runs on its own worker threads.
pub fn start<F>(
    name: &'static str,
    options: &Listen,
    configure: F,
) -> anyhow::Result<RunningService>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = TcpListener::bind(options.bind)
        .with_context(|| format!("{name}: binding {}", options.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let scheme = match options.transport {
        Transport::Https(_) => "https",
        Transport::Plain => "http",
    };
    let url = format!("{scheme}://{}", advertised(addr));
    let certs = ClientCertLog::default();
    let control = web::Data::new(ControlPlane {
        service: name,
        clock: options.clock.clone(),
        certs: certs.clone(),
        admin_token: options.admin_token.clone(),
        ca_pem: options.ca_pem.clone(),
        scenarios: Scenarios::new(name),
        journal: protocol::scenario::service_messages(name)
            .map(|_| Journal::new(options.journal_size)),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(control.clone())
            .app_data(admin::json_config())
            .app_data(admin::query_config())
            .app_data(admin::path_config())
            .wrap(from_fn(around_request))
            .configure(admin::configure)
            .configure(configure.clone())
            .default_service(web::to(admin::no_such_endpoint))
    })
    .on_connect(on_connect)
    .workers(options.workers.max(1))
    .disable_signals()
    .shutdown_timeout(2);
    let server = match &options.transport {
        Transport::Https(config) => server.listen_rustls_0_23(listener, (**config).clone()),
        Transport::Plain => server.listen(listener),
    }
    .with_context(|| format!("{name}: listening on {addr}"))?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningService {
        name,
        addr,
        url,
        handle,
        task,
        certs,
        state: None,
        before_stop: None,
    })
}

impl RunningService {
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The base URL clients use, e.g. `https://127.0.0.1:8440`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Client certificates this service has seen.
    pub fn client_certs(&self) -> &ClientCertLog {
        &self.certs
    }

    /// Makes [`RunningService::stop`] wait until every worker has dropped `state`, then drop it itself, so a
    /// store inside it is closed (and its file lock released) when `stop` returns.
    pub fn releases<T: Send + Sync + 'static>(mut self, state: &web::Data<T>) -> RunningService {
        self.state = Some(state.clone().into_inner());
        self
    }

    /// Makes [`RunningService::stop`] run `hook` first (e.g. stopping listeners the service started).
    pub fn before_stop(mut self, hook: StopHook) -> RunningService {
        self.before_stop = Some(hook);
        self
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the workers to exit and drop the
    /// service's state (see [`RunningService::releases`]), so the service's store is closed when this returns.
    pub async fn stop(self) {
        if let Some(hook) = self.before_stop {
            hook().await;
        }
        self.handle.stop(true).await;
        let _ = self.task.await;
        let Some(state) = self.state else {
            return;
        };
        // Worker threads drop their copies of the app state shortly after the server future ends. Dropping
        // the last copy here, rather than on a worker, means the drop (a sled database joins its flusher
        // thread and closes its files) has finished when this returns.
        for _ in 0..1000 {
            if Arc::strong_count(&state) == 1 {
                let _ = tokio::task::spawn_blocking(move || drop(state)).await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tracing::warn!(
            service = self.name,
            "the service's state was still in use 5 s after it stopped"
        );
    }
}

/// The address to print for a bound socket: loopback instead of the unspecified address.
fn advertised(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()).to_string()
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()).to_string()
        }
        _ => addr.to_string(),
    }
}

/// Per connection: turn off Nagle's algorithm (a response written in two TLS records would otherwise wait
/// for the client's delayed ACK, about 40 ms) and keep the client certificate for the request handlers.
fn on_connect(connection: &dyn Any, extensions: &mut Extensions) {
    if let Some(tls) = connection.downcast_ref::<TlsStream<TcpStream>>() {
        let (tcp, session) = tls.get_ref();
        let _ = tcp.set_nodelay(true);
        if let Some(cert) = session.peer_certificates().and_then(|chain| chain.first()) {
            extensions.insert(PeerCertificate(Arc::from(cert.as_ref())));
        }
    } else if let Some(tcp) = connection.downcast_ref::<TcpStream>() {
        let _ = tcp.set_nodelay(true);
    }
}

/// Records the client certificate, enforces the admin token, logs one line per request, and journals the
/// exchange on services that keep a journal.
async fn around_request(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let control = request.app_data::<web::Data<ControlPlane>>().cloned();
    let client_cert = request.conn_data::<PeerCertificate>().cloned();
    if let (Some(control), Some(cert)) = (&control, &client_cert) {
        control.certs.record(&cert.0, control.clock.now());
    }
    let expected_token = control.as_ref().and_then(|c| c.admin_token.as_deref());
    if let Some(expected) = expected_token
        && needs_admin_token(request.path())
        && !bearer_matches(&request, expected)
    {
        let body = ErrorBody {
            error_id: "admin.unauthorized".into(),
            message: "this admin endpoint needs `Authorization: Bearer <admin token>`".into(),
        };
        let response = HttpResponse::Unauthorized().json(body);
        return Ok(request.into_response(response));
    }
    let method = request.method().clone();
    let path = request.path().to_owned();
    let response = next.call(request).await?;
    let service = control.as_ref().map_or("fortimock", |c| c.service);
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros();
    let outcome = response.response().extensions().get::<Outcome>().cloned();
    match &outcome {
        Some(outcome) => tracing::info!(
            service, %method, path, status, micros, message_type = %outcome.message_type, result = %outcome.result, "request"
        ),
        // Health checks (a container's, every few seconds) would drown the log: they show at debug level.
        None if is_probe(&path) => {
            tracing::debug!(service, %method, path, status, micros, "request");
        }
        None => tracing::info!(service, %method, path, status, micros, "request"),
    }
    let journal = control
        .as_ref()
        .and_then(|c| c.journal.as_ref().map(|j| (c, j)))
        .filter(|_| Journal::covers(&path));
    let Some((control, journal)) = journal else {
        return Ok(response.map_into_boxed_body());
    };
    let recorded = response
        .request()
        .extensions()
        .get::<RecordedBody>()
        .cloned();
    let full_path = match response.request().query_string() {
        "" => path,
        query => format!("{path}?{query}"),
    };
    let (request, response) = response.into_parts();
    let (response, body) = response.into_parts();
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.into().to_string()))?;
    journal.record(Exchange {
        time: control.clock.now(),
        method: method.as_str(),
        path: &full_path,
        status,
        micros: u64::try_from(micros).unwrap_or(u64::MAX),
        message_type: outcome.as_ref().map(|o| o.message_type.as_str()),
        result: outcome.as_ref().map(|o| o.result.as_str()),
        client_cert: client_cert.map(|c| crate::tls::fingerprint(&c.0)),
        request: recorded.as_ref().map(|r| r.0.as_ref()),
        response: &body,
    });
    let response = response.set_body(BoxBody::new(body));
    Ok(ServiceResponse::new(request, response))
}

/// Liveness and readiness probes.
fn is_probe(path: &str) -> bool {
    matches!(path, "/__admin/health" | "/__admin/ready")
}

fn needs_admin_token(path: &str) -> bool {
    path.starts_with("/__admin/")
        && !matches!(
            path,
            "/__admin/health" | "/__admin/ready" | "/__admin/ca.pem"
        )
}

fn bearer_matches(request: &ServiceRequest, expected: &str) -> bool {
    request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| bool::from(token.trim().as_bytes().ct_eq(expected.as_bytes())))
}
