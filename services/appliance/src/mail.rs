//! The suite's SMTP listener (`fortimock up --smtp-port`, default 8025; the mail server
//! `notification.fortinet.net` stands for): the SMTP protocol is `mailin`'s state machine, the I/O is tokio's
//! and STARTTLS is tokio-rustls with the lab certificate (which covers `notification.fortinet.net`). Every
//! message accepted is stored in the appliance service's `messages` table before the `250` that acknowledges
//! it. Recipients can be refused on demand with the appliance service's scenarios (`appliance.mail.mailbox-full`,
//! or a bare status: 4xx answers `451`, 5xx `554`).
//!
//! Bounded like every listener of the lab: at most `--max-connections` sessions at once (a connection past
//! them is answered `421 4.3.2` and closed), a session closed (`421 4.4.2`) after 60 s of silence or 10
//! minutes in all, and a failed accept (the process out of open files) followed by a pause that doubles
//! up to a second, logged at most once every 10 s.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lab::clock::Clock;
use lab::scenario::Scenarios;
use mailin::{Action, Handler, Response, SessionBuilder};
use protocol::messages::DeliveryMethod;
use protocol::scenario::{EMAIL_MESSAGE, ScenarioAction, Trigger};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::messages::{Captured, Mailbox};

/// The largest message the listener takes (`552 5.3.4` past it).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// The longest line it reads (SMTP allows 1,000 octets; some clients send longer header lines): a longer
/// one is answered `500 5.5.2 Line too long` and the connection closed.
pub const MAX_LINE: u64 = 64 * 1024;
/// How long a client may stay silent before the session is closed (`421 4.4.2`).
const IDLE: Duration = Duration::from_secs(60);
/// How long one session may last in all, however busy the client keeps it (`421 4.4.2` past it).
const SESSION: Duration = Duration::from_secs(600);
/// The answer to a connection past the listener's cap, before it is closed.
const BUSY: &[u8] = b"421 4.3.2 Too many connections, try again later\r\n";
/// The first pause after a failed accept (the process out of open files, typically); each further failure
/// in a row doubles it, up to [`MAX_ACCEPT_PAUSE`].
const ACCEPT_PAUSE: Duration = Duration::from_millis(10);
const MAX_ACCEPT_PAUSE: Duration = Duration::from_secs(1);
/// At most one log line about failed accepts in this long (the others are counted in the next one).
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// How the listener is run.
pub struct MailConfig {
    /// The socket, bound ahead.
    pub listener: std::net::TcpListener,
    /// STARTTLS with this certificate (the lab's); `None`: no STARTTLS offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The name in the greeting.
    pub name: String,
    /// Sessions served at once (the lab's `--max-connections`); a connection past them is answered `421`
    /// and closed.
    pub max_sessions: usize,
}

/// A running SMTP listener.
pub struct MailListener {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl MailListener {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes every open session.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

struct Context {
    mailbox: Mailbox,
    clock: Clock,
    scenarios: Option<Scenarios>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    name: String,
}

/// Failed accepts in a row: how long to pause before the next, and when they were last logged.
#[derive(Default)]
struct AcceptFailures {
    pause: Option<Duration>,
    unlogged: u64,
    logged: Option<Instant>,
}

impl AcceptFailures {
    /// Counts a failure, logs it unless one was logged less than [`ACCEPT_LOG_EVERY`] ago, and says how long
    /// to pause before accepting again.
    fn failed(&mut self, error: &std::io::Error) -> Duration {
        let pause = self
            .pause
            .map_or(ACCEPT_PAUSE, |p| (p * 2).min(MAX_ACCEPT_PAUSE));
        self.pause = Some(pause);
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .logged
            .is_none_or(|at| now.duration_since(at) >= ACCEPT_LOG_EVERY)
        {
            tracing::warn!(
                error = %error,
                failures = self.unlogged,
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                "SMTP accept failed; pausing before accepting again"
            );
            self.unlogged = 0;
            self.logged = Some(now);
        }
        pause
    }

    fn accepted(&mut self) {
        self.pause = None;
    }
}

/// Starts the listener on `config.listener`.
pub fn start(
    config: MailConfig,
    mailbox: Mailbox,
    clock: Clock,
    scenarios: Option<Scenarios>,
) -> anyhow::Result<MailListener> {
    config.listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(config.listener)?;
    let addr = listener.local_addr()?;
    let tls = config.tls.map(|server| {
        let mut server = (*server).clone();
        server.alpn_protocols.clear();
        tokio_rustls::TlsAcceptor::from(Arc::new(server))
    });
    let context = Arc::new(Context {
        mailbox,
        clock,
        scenarios,
        tls,
        name: config.name,
    });
    let capacity = Arc::new(Semaphore::new(config.max_sessions.max(1)));
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut sessions = JoinSet::new();
        let mut failures = AcceptFailures::default();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        failures.accepted();
                        let Ok(permit) = capacity.clone().try_acquire_owned() else {
                            // Past the cap: say so without waiting on the client, and close.
                            let _ = stream.try_write(BUSY);
                            tracing::debug!(peer = %peer, "SMTP connection refused: too many sessions");
                            continue;
                        };
                        let context = context.clone();
                        sessions.spawn(async move {
                            let deadline = Instant::now() + SESSION;
                            // A client that stops reading our answers is cut off a little after the deadline.
                            let run = tokio::time::timeout_at(
                                deadline + Duration::from_secs(5),
                                session(stream, peer, context, deadline),
                            );
                            match run.await {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => tracing::debug!(peer = %peer, error = format!("{e:#}"), "SMTP session ended"),
                                Err(_) => tracing::debug!(peer = %peer, "SMTP session cut off at its deadline"),
                            }
                            drop(permit);
                        });
                    }
                    Err(e) => {
                        let pause = failures.failed(&e);
                        tokio::select! {
                            _ = &mut stopped => break,
                            () = tokio::time::sleep(pause) => {}
                        }
                    }
                },
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
        sessions.shutdown().await;
    });
    tracing::debug!(%addr, "SMTP listener accepting");
    Ok(MailListener { addr, stop, task })
}

/// What the handler hands the I/O loop.
#[derive(Default)]
struct Pending {
    /// A message whose data ended: store it before answering.
    captured: Option<Captured>,
    /// A scenario's delay: wait it out before answering.
    delay: Option<Duration>,
    /// A message whose data ended refused (too big): this reply instead of `mailin`'s, which was told OK so
    /// the session goes back to taking commands (after a refused `DATA` end it would keep reading data).
    refused: Option<(u16, &'static str)>,
    tls: bool,
}

struct Capture {
    shared: Arc<Mutex<Pending>>,
    scenarios: Option<Scenarios>,
    clock: Clock,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    too_big: bool,
}

impl Capture {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Handler for Capture {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        self.to.clear();
        self.data.clear();
        self.too_big = false;
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let to = to.trim().trim_start_matches('<').trim_end_matches('>');
        let valid = to.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && (domain.contains('.') || domain == "localhost")
        });
        if !valid || to.len() > 254 || to.chars().any(char::is_whitespace) {
            return Response::custom(553, "5.1.3 Bad recipient address syntax".to_owned());
        }
        let trigger = Trigger {
            recipient: Some(to),
            ..Trigger::new(EMAIL_MESSAGE)
        };
        if let Some(fired) = self.scenarios.as_ref().and_then(|s| s.check(&trigger)) {
            self.pending().delay = fired.delay;
            let answer = match fired.action {
                ScenarioAction::Error(armed) => Some(Response::custom(
                    u16::try_from(armed.error.code.unwrap_or(550)).unwrap_or(550),
                    armed.error.text.to_owned(),
                )),
                ScenarioAction::Status(status) if status < 500 => Some(Response::custom(
                    451,
                    format!("4.3.0 temporary failure (scenario {})", fired.id),
                )),
                ScenarioAction::Status(_) => Some(Response::custom(
                    554,
                    format!("5.3.0 transaction failed (scenario {})", fired.id),
                )),
                ScenarioAction::Delay => None,
            };
            if let Some(answer) = answer {
                tracing::info!(recipient = to, scenario = %fired.id, "SMTP recipient refused by a scenario");
                return answer;
            }
        }
        mailin::response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to
            .iter()
            .map(|t| {
                t.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
            .collect();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.data.len() + buf.len() > MAX_MESSAGE {
            self.too_big = true;
        } else {
            self.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if self.too_big {
            self.data.clear();
            self.too_big = false;
            self.pending().refused = Some((552, "5.3.4 Message too big"));
            return mailin::response::OK;
        }
        let tls = self.pending().tls;
        let captured = Captured {
            kind: DeliveryMethod::Email,
            received: self.clock.now(),
            from: self.from.clone(),
            to: self.to.clone(),
            raw: std::mem::take(&mut self.data),
            tls,
        };
        self.pending().captured = Some(captured);
        mailin::response::OK
    }
}

enum Next {
    Upgrade,
    Closed,
}

async fn session(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    context: Arc<Context>,
    deadline: Instant,
) -> anyhow::Result<()> {
    let shared = Arc::new(Mutex::new(Pending::default()));
    let mut builder = SessionBuilder::new(context.name.clone());
    if context.tls.is_some() {
        builder.enable_start_tls();
    }
    let mut session = builder.build(
        peer.ip(),
        Capture {
            shared: shared.clone(),
            scenarios: context.scenarios.clone(),
            clock: context.clock.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
            too_big: false,
        },
    );
    let mut plain = BufReader::new(stream);
    plain
        .get_mut()
        .write_all(&session.greeting().buffer()?)
        .await?;
    match converse(&mut plain, &mut session, &shared, &context, deadline).await? {
        Next::Closed => Ok(()),
        Next::Upgrade => {
            let Some(acceptor) = context.tls.clone() else {
                return Ok(());
            };
            let stream = plain.into_inner();
            let tls =
                tokio::time::timeout_at(next_deadline(deadline), acceptor.accept(stream)).await??;
            shared.lock().unwrap_or_else(PoisonError::into_inner).tls = true;
            session.tls_active();
            let mut secure = BufReader::new(tls);
            converse(&mut secure, &mut session, &shared, &context, deadline).await?;
            Ok(())
        }
    }
}

/// When the client's next line is due: [`IDLE`] from now, or the session's deadline if that comes first.
fn next_deadline(session: Instant) -> Instant {
    (Instant::now() + IDLE).min(session)
}

/// Reads lines and answers them until the client quits, asks for STARTTLS, goes silent for [`IDLE`] or
/// reaches the session's `deadline` (both answered `421 4.4.2` and closed).
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    session: &mut mailin::Session<Capture>,
    shared: &Arc<Mutex<Pending>>,
    context: &Context,
    deadline: Instant,
) -> anyhow::Result<Next> {
    loop {
        let mut line = Vec::new();
        let read = tokio::time::timeout_at(
            next_deadline(deadline),
            (&mut *reader).take(MAX_LINE).read_until(b'\n', &mut line),
        )
        .await;
        let Ok(read) = read else {
            let farewell = format!("421 4.4.2 {} timeout, closing connection\r\n", context.name);
            reader.get_mut().write_all(farewell.as_bytes()).await?;
            return Ok(Next::Closed);
        };
        let read = read?;
        if read == 0 {
            return Ok(Next::Closed);
        }
        if !line.ends_with(b"\n") {
            reader
                .get_mut()
                .write_all(b"500 5.5.2 Line too long\r\n")
                .await?;
            return Ok(Next::Closed);
        }
        let mut response = session.process(&line);
        let (captured, delay, refused) = {
            let mut pending = shared.lock().unwrap_or_else(PoisonError::into_inner);
            (
                pending.captured.take(),
                pending.delay.take(),
                pending.refused.take(),
            )
        };
        if let Some((code, text)) = refused {
            response = Response::custom(code, text.to_owned());
        }
        if let Some(message) = captured {
            let to = message.to.join(", ");
            match context.mailbox.capture(message).await {
                Ok(id) => {
                    tracing::info!(message = %id, to = %to, "email captured");
                    response = Response::custom(250, format!("2.0.0 OK queued as {id}"));
                }
                Err(e) => {
                    tracing::error!(error = %e, "storing an email failed");
                    response =
                        Response::custom(451, "4.3.0 the message could not be stored".to_owned());
                }
            }
        }
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        match response.action {
            Action::NoReply => continue,
            Action::Reply => reader.get_mut().write_all(&response.buffer()?).await?,
            Action::Close => {
                reader.get_mut().write_all(&response.buffer()?).await?;
                return Ok(Next::Closed);
            }
            Action::UpgradeTls => {
                reader.get_mut().write_all(&response.buffer()?).await?;
                return Ok(Next::Upgrade);
            }
        }
    }
}
