//! The plumbing of a SoftToken `.asmx` endpoint, shared by forticare and ftm: read the body with the one
//! body reader (1 MiB limit), check the envelope, answer replies as the real service does
//! (`application/json; charset=utf-8`, protocol errors as HTTP 200 with `d.error`), and answer what
//! cannot be served as a [`Fault`] in the modeled ASP.NET shape.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use protocol::envelope::{Envelope, EnvelopeError, Inbound, Message};
use protocol::modeled::{PROTOCOL_FAULT_HEADER, ProtocolFault};

use crate::http::{BodyError, read_body};
use crate::journal::keep_request_body;
use crate::scenario::Fired;
use crate::server::with_outcome;
use crate::store::StoreError;

/// Largest SoftToken body accepted: a PollingRequest for every token of a 10,000-seat license fits easily.
pub const MAX_BODY: usize = 1024 * 1024;

/// Reads and checks a SoftToken request body (kept for the journal).
pub async fn read_inbound(request: &HttpRequest, payload: web::Payload) -> Result<Inbound, Fault> {
    let body = read_softtoken_body(request, payload.into_inner()).await?;
    parse_inbound(&body)
}

/// Checks a SoftToken body read with [`read_softtoken_body`] and notes its message type (and any drift)
/// for the coverage report.
pub fn parse_inbound(body: &[u8]) -> Result<Inbound, Fault> {
    let inbound = Inbound::parse(body).map_err(Fault::Refused)?;
    if let Some(flow) = crate::flow::current() {
        flow.recorders.coverage.message(flow.service, &inbound);
    }
    Ok(inbound)
}

/// Reads the one message type an endpoint serves: the body read and checked, its `__type` `M`'s (any other
/// is refused, naming the one accepted), and decoded.
pub async fn read_message<M: Message>(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<M, Fault> {
    let inbound = read_inbound(request, payload).await?;
    if inbound.type_name() != M::TYPE {
        return Err(Fault::Refused(EnvelopeError::unknown_type(
            inbound.type_name(),
            &[M::TYPE],
        )));
    }
    inbound.decode::<M>().map_err(Fault::Refused)
}

/// Reads a SoftToken body under [`MAX_BODY`] and keeps it for the journal.
pub async fn read_softtoken_body(
    request: &HttpRequest,
    payload: Payload,
) -> Result<web::Bytes, Fault> {
    let body = read_body(request, payload, MAX_BODY)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => Fault::Refused(EnvelopeError::TooLarge { limit }),
            BodyError::TimedOut => Fault::TimedOut,
            BodyError::Broken(detail) => Fault::Refused(EnvelopeError::NotJson(format!(
                "the body could not be read: {detail}"
            ))),
        })?;
    keep_request_body(request, &body);
    Ok(body)
}

/// A SoftToken reply: HTTP 200 with the enveloped message, as the real service answers errors too.
pub fn reply<T: Message>(
    message: &T,
    request_type: &str,
    result: impl Into<String>,
) -> HttpResponse {
    let body = Envelope::to_vec(message);
    let errors = crate::coverage::wire_errors_in(&body);
    let mut response = HttpResponse::Ok()
        .content_type(HeaderValue::from_static("application/json; charset=utf-8"))
        .body(body);
    for entry in errors {
        crate::coverage::mark_answered(&mut response, entry);
    }
    with_outcome(response, request_type, result)
}

/// A SoftToken request that is not served: answered in the modeled ASP.NET exception shape (`Message`,
/// `StackTrace`, `ExceptionType`, fortimock's `error_id`) with the `jsonerror: true` header.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// Not a usable SoftToken message: 400 (413 when too large).
    #[error("{0}")]
    Refused(EnvelopeError),
    /// The body trickled past the request's time limit: 408.
    #[error("the request body did not arrive in time")]
    TimedOut,
    /// A scenario's bare HTTP status.
    #[error("{status} answered by scenario {scenario}")]
    Scenario {
        status: StatusCode,
        scenario: String,
        request_type: String,
        outcome: String,
    },
    /// The service failed (its storage): logged in full, answered opaquely (503 when the data dir cannot
    /// be written now).
    #[error("{request_type}: {error}")]
    Storage {
        request_type: &'static str,
        error: StoreError,
    },
    /// The service failed otherwise: logged in full, answered with an opaque 500.
    #[error("{request_type}: {error:#}")]
    Internal {
        request_type: &'static str,
        error: anyhow::Error,
    },
    /// A peer service (forticare, for ftm) did not answer: 502, naming the peer.
    #[error("{peer} did not answer: {error:#}")]
    Upstream {
        request_type: &'static str,
        peer: &'static str,
        error: anyhow::Error,
    },
}

impl Fault {
    /// A scenario's bare HTTP status, in the fault shape.
    pub fn scenario(fired: &Fired, request_type: &str, status: u16) -> Fault {
        Fault::Scenario {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            scenario: fired.id.clone(),
            request_type: request_type.to_owned(),
            outcome: fired.outcome(),
        }
    }

    /// A storage failure while serving `request_type`.
    pub fn storage(request_type: &'static str) -> impl FnOnce(StoreError) -> Fault {
        move |error| Fault::Storage {
            request_type,
            error,
        }
    }

    /// A request whose fields do not hold up: 400 naming the field.
    pub fn invalid(type_name: &'static str, detail: String) -> Fault {
        Fault::Refused(EnvelopeError::Invalid { type_name, detail })
    }
}

impl ResponseError for Fault {
    fn status_code(&self) -> StatusCode {
        match self {
            Fault::Refused(EnvelopeError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Fault::Refused(_) => StatusCode::BAD_REQUEST,
            Fault::TimedOut => StatusCode::REQUEST_TIMEOUT,
            Fault::Scenario { status, .. } => *status,
            Fault::Storage { error, .. } if error.is_unavailable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Fault::Storage { .. } | Fault::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Fault::Upstream { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (id, message, request_type, result) = match self {
            Fault::Refused(error) => (
                error.id().to_owned(),
                error.to_string(),
                "SoftToken".to_owned(),
                error.id().to_owned(),
            ),
            Fault::TimedOut => (
                "http.body.timeout".to_owned(),
                self.to_string(),
                "SoftToken".to_owned(),
                "body timed out".to_owned(),
            ),
            Fault::Scenario {
                status,
                scenario,
                request_type,
                outcome,
            } => (
                "scenario.status".to_owned(),
                format!(
                    "{} {}: answered by scenario {scenario}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("error")
                ),
                request_type.clone(),
                outcome.clone(),
            ),
            Fault::Storage {
                request_type,
                error,
            } => {
                tracing::error!(message_type = request_type, error = %error, "storage failed");
                let message = if error.is_unavailable() {
                    error.to_string()
                } else {
                    "internal error; see the fortimock log".to_owned()
                };
                let id = if error.is_unavailable() {
                    "storage.unavailable"
                } else {
                    "internal"
                };
                (
                    id.to_owned(),
                    message,
                    (*request_type).to_owned(),
                    "storage failed".to_owned(),
                )
            }
            Fault::Internal {
                request_type,
                error,
            } => {
                tracing::error!(
                    message_type = request_type,
                    error = format!("{error:#}"),
                    "internal error"
                );
                (
                    "internal".to_owned(),
                    "internal error; see the fortimock log".to_owned(),
                    (*request_type).to_owned(),
                    "internal error".to_owned(),
                )
            }
            Fault::Upstream {
                request_type,
                peer,
                error,
            } => {
                tracing::error!(
                    message_type = request_type,
                    peer,
                    error = format!("{error:#}"),
                    "peer service failed"
                );
                (
                    "upstream.unavailable".to_owned(),
                    self.to_string(),
                    (*request_type).to_owned(),
                    format!("{peer} unavailable"),
                )
            }
        };
        let response = HttpResponse::build(self.status_code())
            .insert_header(PROTOCOL_FAULT_HEADER)
            .content_type("application/json; charset=utf-8")
            .json(ProtocolFault::new(&id, message));
        with_outcome(response, &request_type, result)
    }
}
