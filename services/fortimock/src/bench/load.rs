//! The load generator: closed-loop HTTP/1.1 keep-alive connections on hyper's low-level client, each sending
//! its next request as soon as it has read the last answer, all on the bench's one thread, so a single core
//! drives the server under test (reqwest costs too much per request for that). Also one-shot requests, for
//! timing a start.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::latency::Latencies;

/// What the generator trusts: nothing (plain HTTP only), or one CA for HTTPS. Built once, before anything
/// is timed.
#[derive(Clone, Default)]
pub(crate) struct Trust(Option<TlsConnector>);

impl Trust {
    pub(crate) fn new(ca_pem: Option<&str>) -> anyhow::Result<Trust> {
        Ok(Trust(match ca_pem {
            Some(pem) => Some(TlsConnector::from(Arc::new(
                lab::tls::client_config_trusting(pem, None)?,
            ))),
            None => None,
        }))
    }
}

/// A server to load: its address, over plain HTTP or TLS.
#[derive(Clone)]
pub(crate) struct Server {
    addr: SocketAddr,
    host: HeaderValue,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Server {
    /// The server at `base_url` (`http://…` or `https://…`, an IP address or `localhost`).
    pub(crate) fn new(base_url: &str, trust: &Trust) -> anyhow::Result<Server> {
        let url = reqwest::Url::parse(base_url).with_context(|| format!("reading {base_url}"))?;
        let host = url.host_str().context("the URL has a host")?.to_owned();
        let port = url.port_or_known_default().context("the URL has a port")?;
        let addr = (host.as_str(), port)
            .to_socket_addrs()?
            .next()
            .with_context(|| format!("resolving {host}"))?;
        let tls = match url.scheme() {
            "http" => None,
            "https" => {
                let connector = trust
                    .0
                    .clone()
                    .context("an https server needs a CA to trust")?;
                let name = ServerName::try_from(host.clone())
                    .with_context(|| format!("{host} as a TLS server name"))?;
                Some((connector, name))
            }
            other => bail!("cannot load a {other}:// server"),
        };
        Ok(Server {
            addr,
            host: HeaderValue::from_str(&format!("{host}:{port}"))?,
            tls,
        })
    }

    /// Opens a connection: the handle requests are sent through, and the connection's own future, which
    /// must be polled alongside (the load polls it in the same task, saving a task switch per request).
    async fn connect(&self) -> anyhow::Result<(http1::SendRequest<Full<Bytes>>, Connection)> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        Ok(match &self.tls {
            None => {
                let (sender, connection) = http1::handshake(TokioIo::new(tcp)).await?;
                (sender, Box::pin(connection))
            }
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await?;
                let (sender, connection) = http1::handshake(TokioIo::new(tls)).await?;
                (sender, Box::pin(connection))
            }
        })
    }
}

/// A connection's own future: it does the reading and writing, and ends when the connection closes.
type Connection = std::pin::Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// One request the generator sends.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    method: Method,
    uri: Uri,
    body: Bytes,
    /// A status besides 2xx that counts as an answer (a refused login is the answer being measured).
    also_accepted: Option<StatusCode>,
}

impl Call {
    pub(crate) fn get(path: &str) -> Call {
        Call {
            method: Method::GET,
            uri: Uri::try_from(path).unwrap_or_else(|_| Uri::from_static("/")),
            body: Bytes::new(),
            also_accepted: None,
        }
    }

    /// A POST of a JSON body.
    pub(crate) fn post(path: &str, body: impl Into<Bytes>) -> Call {
        Call {
            method: Method::POST,
            body: body.into(),
            ..Call::get(path)
        }
    }

    /// What it sends.
    pub(crate) fn body(&self) -> &Bytes {
        &self.body
    }

    pub(crate) fn also_accepting(mut self, status: StatusCode) -> Call {
        self.also_accepted = Some(status);
        self
    }

    fn accepts(&self, status: StatusCode) -> bool {
        status.is_success() || Some(status) == self.also_accepted
    }

    fn request(&self, host: &HeaderValue) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .header(HOST, host.clone());
        if !self.body.is_empty() {
            request = request.header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        Ok(request.body(Full::new(self.body.clone()))?)
    }
}

/// The requests of a measurement: the `n`-th request sent (across all connections) is `calls(n)`; `None`
/// when there are no more to send (the measurement then ends early).
pub(crate) type Calls = Arc<dyn Fn(u64) -> Option<Call> + Send + Sync>;

/// The same request, every time.
pub(crate) fn repeat(call: Call) -> Calls {
    Arc::new(move |_| Some(call.clone()))
}

/// How a measurement runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) connections: usize,
    /// Load sent but not recorded first.
    pub(crate) warmup: Duration,
    /// Load recorded.
    pub(crate) recorded: Duration,
}

/// What one measurement got.
#[derive(Debug, Default)]
pub(crate) struct Run {
    /// Latencies of the requests sent in the recorded window and answered as expected.
    pub(crate) latencies: Latencies,
    /// Seconds the recorded window lasted (shorter than asked when the calls ran out).
    pub(crate) seconds: f64,
    /// Requests that failed or got an unexpected status, warm-up included.
    pub(crate) errors: u64,
    /// What the last failure was.
    pub(crate) last_error: Option<String>,
    /// The calls ran out before the window ended.
    pub(crate) ran_out: bool,
    /// What each meter's reading grew by over the recorded window, in its unit.
    pub(crate) metered: Vec<u64>,
}

/// What one connection counted.
#[derive(Default)]
struct Tally {
    nanos: Vec<u64>,
    errors: u64,
    last_error: Option<String>,
    last_answer: Option<Instant>,
    ran_out: bool,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// Connection failures one connection tolerates before it gives up (a server that went away).
const MAX_CONNECT_FAILURES: u64 = 50;

/// A counter read when the recorded window opens and when it closes: the CPU time of the server or of the
/// bench itself (in nanoseconds), or the bytes the server wrote to its disk.
pub(crate) type Meter<'a> = &'a dyn Fn() -> u64;

/// Runs one measurement on the current thread's runtime: `shape.connections` connections, each sending
/// `calls` back to back until the window ends.
pub(crate) async fn run(server: &Server, shape: Shape, calls: Calls, meters: &[Meter<'_>]) -> Run {
    let counter = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let window = Window {
        start: began + shape.warmup,
        end: began + shape.warmup + shape.recorded,
    };
    let tasks: Vec<_> = (0..shape.connections.max(1))
        .map(|_| {
            let (server, calls, counter) = (server.clone(), calls.clone(), counter.clone());
            tokio::spawn(async move { connection(&server, &calls, &counter, window).await })
        })
        .collect();
    tokio::time::sleep_until(window.start.into()).await;
    let before: Vec<u64> = meters.iter().map(|meter| meter()).collect();
    tokio::time::sleep_until(window.end.into()).await;
    let after: Vec<u64> = meters.iter().map(|meter| meter()).collect();
    let mut run = Run {
        metered: after
            .iter()
            .zip(&before)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect(),
        ..Run::default()
    };
    let mut nanos = Vec::new();
    let mut last_answer = window.start;
    for task in tasks {
        let tally = match task.await {
            Ok(tally) => tally,
            Err(e) => Tally {
                errors: 1,
                last_error: Some(format!("a connection failed: {e}")),
                ..Tally::default()
            },
        };
        nanos.extend(tally.nanos);
        run.errors += tally.errors;
        run.last_error = tally.last_error.or(run.last_error);
        run.ran_out |= tally.ran_out;
        if let Some(at) = tally.last_answer {
            last_answer = last_answer.max(at);
        }
    }
    let end = if run.ran_out {
        last_answer.min(window.end)
    } else {
        window.end
    };
    run.seconds = end.saturating_duration_since(window.start).as_secs_f64();
    run.latencies = Latencies::new(nanos);
    run
}

async fn connection(server: &Server, calls: &Calls, counter: &AtomicU64, window: Window) -> Tally {
    let mut tally = Tally::default();
    let mut connect_failures = 0;
    'connect: while Instant::now() < window.end {
        let (mut sender, mut connection) = match server.connect().await {
            Ok(connected) => connected,
            Err(e) => {
                tally.errors += 1;
                tally.last_error = Some(format!("connecting: {e:#}"));
                connect_failures += 1;
                if connect_failures >= MAX_CONNECT_FAILURES {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        loop {
            let sent = Instant::now();
            if sent >= window.end {
                break 'connect;
            }
            let Some(call) = calls(counter.fetch_add(1, Ordering::Relaxed)) else {
                tally.ran_out = true;
                break 'connect;
            };
            let outcome = tokio::select! {
                biased;
                outcome = exchange(&mut sender, &call, &server.host) => outcome,
                closed = &mut connection => Err(match closed {
                    Ok(()) => anyhow::anyhow!("the server closed the connection"),
                    Err(e) => anyhow::Error::from(e),
                }),
            };
            let answered = Instant::now();
            match outcome {
                Ok(status) if call.accepts(status) => {
                    if sent >= window.start {
                        tally
                            .nanos
                            .push(u64::try_from((answered - sent).as_nanos()).unwrap_or(u64::MAX));
                        tally.last_answer = Some(answered);
                    }
                }
                Ok(status) => {
                    tally.errors += 1;
                    tally.last_error =
                        Some(format!("{} {} answered {status}", call.method, call.uri));
                }
                Err(e) => {
                    tally.errors += 1;
                    tally.last_error = Some(format!("{} {}: {e:#}", call.method, call.uri));
                    // The connection is gone or unusable: open another.
                    continue 'connect;
                }
            }
        }
    }
    tally
}

/// Sends `call` on an open connection and reads the whole answer.
async fn exchange(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    call: &Call,
    host: &HeaderValue,
) -> anyhow::Result<StatusCode> {
    sender.ready().await?;
    let response = sender.send_request(call.request(host)?).await?;
    let status = response.status();
    response.into_body().collect().await?;
    Ok(status)
}

/// Sends one request on a new connection and returns the status and the body.
pub(crate) async fn once(server: &Server, call: &Call) -> anyhow::Result<(StatusCode, Bytes)> {
    let (mut sender, connection) = server.connect().await?;
    tokio::spawn(connection);
    sender.ready().await?;
    let response = sender.send_request(call.request(&server.host)?).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Sends `call` until it is answered as expected (a server still starting refuses connections), for at
/// most `patience`.
pub(crate) async fn until_answered(
    server: &Server,
    call: &Call,
    patience: Duration,
) -> anyhow::Result<Bytes> {
    let deadline = Instant::now() + patience;
    loop {
        let failure = match once(server, call).await {
            Ok((status, body)) if call.accepts(status) => return Ok(body),
            Ok((status, _)) => anyhow::anyhow!("{} {} answered {status}", call.method, call.uri),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(failure.context(format!("no answer within {patience:?}")));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
