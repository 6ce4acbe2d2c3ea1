//! The suite's SMTP listener (`fortimock up --smtp-port`, default 8025; the mail server
//! `notification.fortinet.net` stands for): the SMTP protocol is `mailin`'s state machine, the I/O is tokio's
//! and STARTTLS is tokio-rustls with the lab certificate (which covers `notification.fortinet.net`). Every
//! message accepted is stored in the appliance service's `messages` table before the `250` that acknowledges
//! it. Recipients can be refused on demand with the appliance service's scenarios (`appliance.mail.mailbox-full`,
//! or a bare status: 4xx answers `451`, 5xx `554`).

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
use tokio::task::JoinSet;

use crate::messages::{Captured, Mailbox};

/// The largest message the listener takes (`552 5.3.4` past it).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// The longest line it reads (SMTP allows 1,000 octets; some clients send longer header lines).
const MAX_LINE: u64 = 64 * 1024;
/// How long a client may stay silent.
const IDLE: Duration = Duration::from_secs(60);

/// How the listener is run.
pub struct MailConfig {
    /// The socket, bound ahead.
    pub listener: std::net::TcpListener,
    /// STARTTLS with this certificate (the lab's); `None`: no STARTTLS offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The name in the greeting.
    pub name: String,
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
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut sessions = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let context = context.clone();
                        sessions.spawn(async move {
                            if let Err(e) = session(stream, peer, context).await {
                                tracing::debug!(peer = %peer, error = format!("{e:#}"), "SMTP session ended");
                            }
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "SMTP accept failed"),
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
            return Response::custom(552, "5.3.4 Message too big".to_owned());
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
    match converse(&mut plain, &mut session, &shared, &context).await? {
        Next::Closed => Ok(()),
        Next::Upgrade => {
            let Some(acceptor) = context.tls.clone() else {
                return Ok(());
            };
            let stream = plain.into_inner();
            let tls = tokio::time::timeout(IDLE, acceptor.accept(stream)).await??;
            shared.lock().unwrap_or_else(PoisonError::into_inner).tls = true;
            session.tls_active();
            let mut secure = BufReader::new(tls);
            converse(&mut secure, &mut session, &shared, &context).await?;
            Ok(())
        }
    }
}

/// Reads lines and answers them until the client quits, asks for STARTTLS, or goes silent.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    session: &mut mailin::Session<Capture>,
    shared: &Arc<Mutex<Pending>>,
    context: &Context,
) -> anyhow::Result<Next> {
    loop {
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            IDLE,
            (&mut *reader).take(MAX_LINE).read_until(b'\n', &mut line),
        )
        .await??;
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
        let (captured, delay) = {
            let mut pending = shared.lock().unwrap_or_else(PoisonError::into_inner);
            (pending.captured.take(), pending.delay.take())
        };
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
