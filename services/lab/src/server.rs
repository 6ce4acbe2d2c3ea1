//! Starting a listener: bind (port 0 picks a free port), serve HTTPS or plain HTTP, and wrap the routes
//! with what every fortimock listener shares.
//!
//! [`start`] serves a [`Service`] with its control plane (the public probes and the guarded `/__admin`
//! scope), client-certificate recording, the request journal and one log line per request (handlers
//! attach an [`Outcome`]); [`start_endpoint`] serves bare routes (an appliance's ftm-push listener, which
//! serves only the callback phones call).
//!
//! Every listener is bounded, so one service's load cannot starve the others of the process: the request
//! head and body must arrive within [`Limits::request_timeout`] (a trickling body is cut off and answered
//! 408), idle keep-alive connections close after [`Limits::keep_alive`], and past
//! [`Limits::max_connections`] open connections a request is answered 503 and its connection closed.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::rt::net::TcpStream;
use actix_web::web::Bytes;
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use futures_util::Stream;

use actix_web::http::header::{HeaderName, HeaderValue};
use protocol::modeled::{FLOW_HEADER, FROM_HEADER};

use crate::admin::{self, ClientCertLog, ControlPlane};
use crate::api::Api;
use crate::clock::Clock;
use crate::coverage::AnsweredErrors;
use crate::flow::{self, Flow, Recorders};
use crate::http::ApiError;
use crate::journal::{Exchange, Journal, RecordedBody};
use crate::scenario::Scenarios;
use crate::service::Service;
use crate::timeline::{Answered, Sender};

/// How a service listens.
#[derive(Clone)]
pub enum Transport {
    /// HTTPS with this rustls config (the default, as the real services speak it).
    Https(Arc<rustls::ServerConfig>),
    /// Plain HTTP, for quick local use (`--plain-http`).
    Plain,
}

/// The bounds every connection lives within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections a listener serves; past them a request is answered 503 and its connection closed.
    pub max_connections: usize,
    /// Time a client has to send a request's head and its body.
    pub request_timeout: Duration,
    /// Time an idle keep-alive connection stays open.
    pub keep_alive: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 512,
            request_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
        }
    }
}

/// A socket bound ahead of the server that will serve it (so its address is known first), taken once.
#[derive(Clone, Default)]
pub struct BoundSocket(Arc<std::sync::Mutex<Option<TcpListener>>>);

impl BoundSocket {
    /// Binds `address` now.
    pub fn bind(address: SocketAddr) -> std::io::Result<BoundSocket> {
        let listener = TcpListener::bind(address)?;
        Ok(BoundSocket(Arc::new(std::sync::Mutex::new(Some(listener)))))
    }

    /// Where it is bound.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    fn take(&self) -> Option<TcpListener> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// How a service listens, besides its routes: everything `start` needs.
#[derive(Clone)]
pub struct Listen {
    /// The address to serve on (the bound address when `socket` is set).
    pub bind: SocketAddr,
    /// The socket already bound to `bind`, if it was bound ahead (`Lab::listen` does).
    pub socket: Option<BoundSocket>,
    pub transport: Transport,
    pub clock: Clock,
    /// actix worker threads.
    pub workers: usize,
    /// When set, the control plane (but its public probes) and the simulators' APIs need
    /// `Authorization: Bearer <token>`.
    pub admin_token: Option<String>,
    /// The lab CA certificate, served at `/__admin/ca.pem`.
    pub ca_pem: Option<String>,
    /// How many exchanges the request journal keeps (0: none). Only the emulated Fortinet services
    /// (forticare, ftm, push) keep a journal.
    pub journal_size: usize,
    pub limits: Limits,
    /// The count of open connections `limits.max_connections` caps: a fresh one per listener, or one shared
    /// by listeners that share a budget.
    pub connections: Connections,
    /// The timeline and coverage recorders (the lab's, shared by every service of the process).
    pub recorders: Recorders,
}

/// A listener that is accepting connections.
pub struct RunningService {
    name: &'static str,
    addr: SocketAddr,
    url: String,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    certs: ClientCertLog,
    /// The service's state, held so that `stop` drops it last: its database is closed when `stop` returns.
    state: Option<Arc<dyn Any + Send + Sync>>,
    /// Run first by `stop`: listeners that belong to this one (an appliance's ftm-push listeners).
    before_stop: Option<StopHook>,
    /// The service's armed scenarios, for listeners of its own that are not HTTP (the appliance service's
    /// SMTP listener).
    scenarios: Option<Scenarios>,
}

/// Work `RunningService::stop` does before stopping the service itself.
pub type StopHook = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send>;

/// A note a handler attaches to its response so the request's log line says what happened,
/// e.g. `SoftToken.ActivationLicenseRequest` / `error 16`.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub message_type: Arc<str>,
    pub result: Arc<str>,
}

/// Attaches an [`Outcome`] to a response.
pub fn with_outcome(
    mut response: HttpResponse,
    message_type: &str,
    result: impl Into<String>,
) -> HttpResponse {
    response.extensions_mut().insert(Outcome {
        message_type: message_type.into(),
        result: Arc::from(result.into()),
    });
    response
}

/// The DER bytes of the client certificate presented on this connection.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Arc<[u8]>);

/// The open connections of a listener, counted as each connection opens: each listener has its own, and
/// listeners that share one budget (every appliance's ftm-push listener) share one count, so together they
/// serve at most [`Limits::max_connections`].
#[derive(Clone, Default)]
pub struct Connections {
    open: Arc<AtomicUsize>,
}

/// Held by a connection while it is open.
struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the shared middleware needs of its listener.
#[derive(Clone)]
struct Bounds {
    /// The listener's service (`ftm`, …, `ftm-push`, `dashboard`).
    name: &'static str,
    /// The service's name as the timeline's receiver of requests whose path names no device.
    actor: Arc<str>,
    connections: Connections,
    limits: Limits,
    recorders: Recorders,
    clock: Clock,
}

/// Binds `options.bind` and serves service `service` with its control plane. Must be called inside a
/// tokio runtime; the server runs on its own worker threads.
pub fn start<S: Service>(
    options: &Listen,
    service: web::Data<S>,
) -> anyhow::Result<RunningService> {
    let certs = ClientCertLog::default();
    let scenarios = Scenarios::new(S::NAME);
    let control = web::Data::new(ControlPlane {
        service: S::NAME,
        clock: options.clock.clone(),
        certs: certs.clone(),
        admin_token: options.admin_token.clone(),
        ca_pem: options.ca_pem.clone(),
        scenarios: scenarios.clone(),
        journal: protocol::scenario::JOURNALED
            .contains(&S::NAME)
            .then(|| Journal::new(options.journal_size)),
        store: Some(service.store().clone()),
        openapi: admin::OpenApiDocument::new(openapi::<S>),
        recorders: options.recorders.clone(),
    });
    options
        .recorders
        .coverage
        .register(S::NAME, S::MESSAGE_TYPES, coverage_routes::<S>);
    let served = service.clone();
    let running = serve(S::NAME, options, certs, move |api| {
        api.app_data(control.clone()).app_data(served.clone());
        served_routes::<S>(api);
    })?;
    let mut running = running.releases(service);
    running.scenarios = Some(scenarios);
    Ok(running)
}

/// Every route a listener of service `S` serves: the service's own, then the control plane.
///
/// actix tries a listener's routes in the order they are registered, and a route with a parameter costs a
/// pattern match to pass: the control plane's public `/__admin/docs/{file}` cost every appliance request
/// about 1,500 instructions (2% of a one-token poll) when it came first. No path of a service's own is
/// under `/__admin`, where the control plane's scope answers everything.
fn served_routes<S: Service>(api: &mut Api<'_>) {
    S::routes(api);
    admin::configure::<S>(api);
}

/// The routes of service `S` the coverage report counts (`METHOD /path`): its listener's, not the
/// control plane's.
fn coverage_routes<S: Service>() -> Vec<String> {
    registered_routes::<S>()
        .into_iter()
        .filter(|r| !r.path.starts_with(protocol::paths::ADMIN))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Service `S`'s OpenAPI document: every route its listener serves (the control plane and
/// [`Service::routes`]) and those of the listeners it opens itself ([`Service::listener_routes`]).
pub fn openapi<S: Service>() -> utoipa::openapi::OpenApi {
    let collected = crate::api::collect(|api| {
        served_routes::<S>(api);
        S::listener_routes(api);
    });
    crate::api::document(
        &crate::api::Described {
            service: S::NAME,
            description: S::DESCRIPTION,
            bearer_schemes: S::BEARER_SCHEMES,
        },
        collected,
    )
}

/// The routes a listener of service `S` registers (not those of listeners it opens itself), for tests.
pub fn registered_routes<S: Service>() -> Vec<crate::api::RegisteredRoute> {
    crate::api::collect_routes(served_routes::<S>)
}

/// Every route service `S` registers: its listener's ([`registered_routes`]) and those of the listeners it
/// opens itself ([`Service::listener_routes`]); the OpenAPI test holds them against the document.
pub fn every_registered_route<S: Service>() -> Vec<crate::api::RegisteredRoute> {
    let mut routes = registered_routes::<S>();
    routes.extend(crate::api::collect_routes(S::listener_routes));
    routes
}

/// Binds `options.bind` and serves only `configure`'s routes, with the shared bounds and logging but no
/// control plane (an appliance's ftm-push listener).
pub fn start_endpoint<F>(
    name: &'static str,
    options: &Listen,
    configure: F,
) -> anyhow::Result<RunningService>
where
    F: Fn(&mut Api<'_>) + Send + Clone + 'static,
{
    serve(name, options, ClientCertLog::default(), configure)
}

fn serve<F>(
    name: &'static str,
    options: &Listen,
    certs: ClientCertLog,
    configure: F,
) -> anyhow::Result<RunningService>
where
    F: Fn(&mut Api<'_>) + Send + Clone + 'static,
{
    let listener = match options.socket.as_ref().and_then(BoundSocket::take) {
        Some(listener) => listener,
        None => TcpListener::bind(options.bind)
            .with_context(|| format!("{name}: binding {}", options.bind))?,
    };
    let addr = listener.local_addr().context("reading the bound address")?;
    let url = url_of(&options.transport, addr);
    let bounds = Bounds {
        name,
        actor: name.into(),
        connections: options.connections.clone(),
        limits: options.limits,
        recorders: options.recorders.clone(),
        clock: options.clock.clone(),
    };
    let counted = bounds.connections.clone();
    let workers = options.workers.max(1);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(bounds.clone()))
            .app_data(admin::path_config())
            .wrap(from_fn(around_request))
            .configure(|cfg| {
                // The routes' documentation is made only by `openapi`, when asked for; here only the routes count.
                let mut collected = crate::api::Collected::default();
                configure(&mut Api::new(cfg, &mut collected));
            })
            .default_service(web::to(admin::no_such_endpoint))
    })
    .on_connect(move |connection, extensions| on_connect(&counted, connection, extensions))
    .workers(workers)
    .max_connections(options.limits.max_connections.saturating_add(64))
    .client_request_timeout(options.limits.request_timeout)
    .keep_alive(options.limits.keep_alive)
    .client_disconnect_timeout(Duration::from_secs(1))
    .disable_signals()
    .shutdown_timeout(2);
    let server = match &options.transport {
        Transport::Https(config) => server
            .tls_handshake_timeout(options.limits.request_timeout)
            .listen_rustls_0_23(listener, (**config).clone()),
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
        scenarios: None,
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

    /// The scenarios armed on this service (`None` for a bare endpoint).
    pub fn scenarios(&self) -> Option<&Scenarios> {
        self.scenarios.as_ref()
    }

    /// Client certificates this service has seen.
    pub fn client_certs(&self) -> &ClientCertLog {
        &self.certs
    }

    /// Makes [`RunningService::stop`] wait until every worker has dropped `state`, then drop it itself, so a
    /// store inside it is closed (and its file lock released) when `stop` returns.
    pub fn releases<T: Send + Sync + 'static>(mut self, state: web::Data<T>) -> RunningService {
        self.state = Some(state.into_inner());
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
        // the last copy here, rather than on a worker, means the drop (the store's writer thread finishing
        // and the database file closing) has finished when this returns.
        for _ in 0..1000 {
            if Arc::strong_count(&state) == 1 {
                let _ = tokio::task::spawn_blocking(move || drop(state)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tracing::warn!(
            service = self.name,
            "the service's state was still in use 5 s after it stopped"
        );
    }
}

impl Listen {
    /// The base URL clients will use, e.g. `https://127.0.0.1:8440` (known before the server starts when
    /// the socket was bound ahead).
    pub fn url(&self) -> String {
        url_of(&self.transport, self.bind)
    }
}

fn url_of(transport: &Transport, addr: SocketAddr) -> String {
    let scheme = match transport {
        Transport::Https(_) => "https",
        Transport::Plain => "http",
    };
    format!("{scheme}://{}", advertised(addr))
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

/// Per connection: count it, turn off Nagle's algorithm (a response written in two TLS records would
/// otherwise wait for the client's delayed ACK, about 40 ms) and keep the client certificate for the
/// request handlers.
fn on_connect(connections: &Connections, connection: &dyn Any, extensions: &mut Extensions) {
    connections.open.fetch_add(1, Ordering::Relaxed);
    extensions.insert(ConnectionSlot(connections.open.clone()));
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

/// What every request goes through: the connection cap, the body's deadline, client-certificate recording,
/// one log line, and the journal on services that keep one.
async fn around_request(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let declared_body = crate::http::declared_length(request.headers());
    if let Some(bounds) = request.app_data::<web::Data<Bounds>>().cloned() {
        let open = bounds.connections.open.load(Ordering::Relaxed);
        if open > bounds.limits.max_connections {
            let refusal = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "http.busy",
                format!(
                    "this service has {open} connections open, more than the {} it serves \
                     (--max-connections): try again later",
                    bounds.limits.max_connections
                ),
            );
            let mut response = refusal.response();
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
            return Ok(request.into_response(response));
        }
        let deadline = started + bounds.limits.request_timeout;
        let payload = request.take_payload();
        let bounded: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(Deadline::new(payload, deadline));
        request.set_payload(Payload::from(bounded));
    }
    let control = request.app_data::<web::Data<ControlPlane>>().cloned();
    let client_cert = request.conn_data::<PeerCertificate>().cloned();
    if let (Some(control), Some(cert)) = (&control, &client_cert) {
        control.certs.record(&cert.0, control.clock.now());
    }
    let method = request.method().clone();
    // The path as the router matches it (percent-decoded), for the log line, the timeline and the journal.
    let path: Arc<str> = request.match_info().as_str().into();
    // Control-plane requests run in a flow too (a transfer ticket's state change is noted for the
    // coverage report) but stay off the timeline.
    let observed = request
        .app_data::<web::Data<Bounds>>()
        .map(|bounds| Observed::arrived(bounds, &request, &path));
    let mut response = match &observed {
        Some(observed) => flow::scope(observed.flow.clone(), next.call(request)).await?,
        None => next.call(request).await?,
    };
    crate::memory::after_exchange(declared_body, response.response().body().size());
    let service = control.as_ref().map_or("fortimock", |c| c.service);
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros();
    let outcome = response.response().extensions().get::<Outcome>().cloned();
    if let Some(observed) = observed {
        observed.answered(&mut response, &method, &path, outcome.as_ref());
    }
    // One line per request, at debug level (`RUST_LOG=debug`): the journal is where exchanges are read.
    match &outcome {
        Some(outcome) => tracing::debug!(
            service, %method, path = &*path, status, micros, message_type = %outcome.message_type, result = %outcome.result, "request"
        ),
        None => tracing::debug!(service, %method, path = &*path, status, micros, "request"),
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
        query => format!("{path}?{query}").into(),
    };
    let (request, response) = response.into_parts();
    let (response, body) = response.into_parts();
    // An answer held whole (every answer fortimock makes) is taken as it is; `to_bytes` would copy it.
    let body = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => actix_web::body::to_bytes(body)
            .await
            .map_err(|e| actix_web::error::ErrorInternalServerError(e.into().to_string()))?,
    };
    let (message_type, result) = outcome.map(|o| (o.message_type, o.result)).unzip();
    journal.record(Exchange {
        time: control.clock.now(),
        method,
        path: full_path,
        status,
        micros: u64::try_from(micros).unwrap_or(u64::MAX),
        message_type,
        result,
        client_cert: client_cert.map(|c| crate::tls::fingerprint(&c.0)),
        request: recorded.as_ref().map(|r| &r.0),
        response: &body,
    });
    let response = response.set_body(BoxBody::new(body));
    Ok(ServiceResponse::new(request, response))
}

/// A request on its way through a listener: its flow, and when it arrived.
struct Observed {
    flow: Flow,
    clock: Clock,
    opened: u64,
    from: Sender,
}

impl Observed {
    /// The flow of an arriving request: its `x-fortimock-flow`, or a fresh id (the front door); its sender:
    /// its `x-fortimock-from`, or its address.
    fn arrived(bounds: &Bounds, request: &ServiceRequest, path: &str) -> Observed {
        // Looked up by `HeaderName` made at compile time: a `&str` name is parsed on every lookup.
        static FLOW: HeaderName = HeaderName::from_static(FLOW_HEADER);
        static FROM: HeaderName = HeaderName::from_static(FROM_HEADER);
        let header = |name: &HeaderName| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(flow::accepted)
        };
        let id = header(&FLOW)
            .filter(|id| !id.contains(' '))
            .map_or_else(flow::new_id, Arc::from);
        let from = match header(&FROM) {
            Some(from) => Sender::Named(from.into()),
            None => request
                .peer_addr()
                .map_or(Sender::Client, |peer| Sender::Address(peer.ip())),
        };
        let recorders = bounds.recorders.clone();
        let actor = match &recorders.actor {
            Some(actor) => actor.clone(),
            None => match flow::actor_of(bounds.name, path) {
                Cow::Borrowed(_) => bounds.actor.clone(),
                Cow::Owned(device) => device.into(),
            },
        };
        Observed {
            clock: bounds.clock.clone(),
            opened: recorders.timeline.open(),
            flow: Flow {
                id,
                actor,
                service: bounds.name,
                recorders,
            },
            from,
        }
    }

    /// Echoes the flow id on the answer and records the exchange on the timeline and in the coverage.
    fn answered(
        self,
        response: &mut ServiceResponse<impl MessageBody>,
        method: &actix_web::http::Method,
        path: &Arc<str>,
        outcome: Option<&Outcome>,
    ) {
        if path.starts_with(protocol::paths::ADMIN) {
            return;
        }
        if let Ok(value) = HeaderValue::from_str(&self.flow.id) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(FLOW_HEADER), value);
        }
        let recorders = &self.flow.recorders;
        if !recorders.records {
            return;
        }
        let errors = response
            .response()
            .extensions()
            .get::<AnsweredErrors>()
            .map(|e| e.0.clone())
            .unwrap_or_default();
        // The serving resource's template, kept with it; matching the path again allocates it.
        let request = response.request();
        let pattern = match request.app_data::<crate::api::RoutePattern>() {
            Some(pattern) => Some(Cow::Borrowed(&*pattern.0)),
            None => request.match_pattern().map(Cow::Owned),
        };
        recorders
            .coverage
            .exchange(self.flow.service, method, pattern, &errors);
        if !recorders.timeline.keeps() {
            return;
        }
        recorders.timeline.record(Answered {
            opened: self.opened,
            time_ms: self.clock.now_ms(),
            flow: self.flow.id,
            from: self.from,
            to: self.flow.actor,
            method: method.clone(),
            path: path.clone(),
            message_type: outcome.map(|o| o.message_type.clone()),
            status: response.status().as_u16(),
            error: errors.first().map(|e| e.id),
        });
    }
}

/// A request body that must have arrived by a deadline: past it, reading fails with `TimedOut`. The timer
/// is set only when the body is not all there yet: most bodies arrive with their request's head.
struct Deadline {
    inner: Payload,
    deadline: Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Deadline {
    fn new(inner: Payload, deadline: Instant) -> Deadline {
        Deadline {
            inner,
            deadline,
            timer: None,
        }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Waits for Ctrl-C or SIGTERM, which `docker stop` sends (a container's first process ignores signals it
/// does not handle, so every binary that may run as one waits for both).
pub async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
