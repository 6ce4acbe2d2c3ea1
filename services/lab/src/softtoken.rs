//! The plumbing of a SoftToken `.asmx` endpoint, shared by forticare and ftm: read the body under a size
//! limit, check the envelope, answer protocol faults in the modeled ASP.NET shape, and send replies as the
//! real service does (`application/json; charset=utf-8`).

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use protocol::envelope::{Envelope, EnvelopeError, Inbound, Message};
use protocol::modeled::{PROTOCOL_FAULT_HEADER, ProtocolFault};

use crate::journal::keep_request_body;
use crate::scenario::Fired;
use crate::server::with_outcome;

/// Largest SoftToken body accepted: a PollingRequest for every token of a 10,000-seat license fits easily.
pub const MAX_BODY: usize = 1024 * 1024;

/// Reads and checks a SoftToken request body.
pub async fn read_inbound(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Inbound, EnvelopeError> {
    Inbound::parse(&read_body(request, payload).await?)
}

/// Reads the one message type an endpoint serves: the body read and checked, its `__type` `M`'s (any other
/// is refused, naming the one accepted), and decoded.
pub async fn read_message<M: Message>(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<M, EnvelopeError> {
    let inbound = read_inbound(request, payload).await?;
    if inbound.type_name() != M::TYPE {
        return Err(EnvelopeError::unknown_type(inbound.type_name(), &[M::TYPE]));
    }
    inbound.decode::<M>()
}

/// Reads a SoftToken request body, refusing it past [`MAX_BODY`] (checked against `Content-Length` first).
pub async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
) -> Result<web::Bytes, EnvelopeError> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY) {
        return Err(EnvelopeError::TooLarge { limit: MAX_BODY });
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(MAX_BODY));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| EnvelopeError::NotJson(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(EnvelopeError::TooLarge { limit: MAX_BODY });
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    keep_request_body(request, &body);
    Ok(body)
}

/// The answer to a body that is not a usable SoftToken message: 400 (413 when too large) with the modeled
/// ASP.NET exception object.
pub fn fault(error: &EnvelopeError) -> HttpResponse {
    let status = match error {
        EnvelopeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    let response = HttpResponse::build(status)
        .insert_header(PROTOCOL_FAULT_HEADER)
        .content_type("application/json; charset=utf-8")
        .json(ProtocolFault::new(error.id(), error.to_string()));
    with_outcome(response, "SoftToken", error.id())
}

/// A SoftToken reply: HTTP 200 with the enveloped message, as the real service answers errors too.
pub fn reply<T: Message>(
    message: &T,
    request_type: &str,
    result: impl Into<String>,
) -> HttpResponse {
    let response = HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(Envelope::to_vec(message));
    with_outcome(response, request_type, result)
}

/// A scenario's bare HTTP status, in the fault shape.
pub fn scenario_status(fired: &Fired, request_type: &str, status: u16) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let response = HttpResponse::build(status)
        .insert_header(PROTOCOL_FAULT_HEADER)
        .content_type("application/json; charset=utf-8")
        .json(ProtocolFault::new(
            "scenario.status",
            format!(
                "{} {}: answered by scenario {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("error"),
                fired.id
            ),
        ));
    with_outcome(response, request_type, fired.outcome())
}

/// A failure inside the service (storage, a peer service): logged in full, answered with an opaque 500
/// in the same fault shape.
pub fn internal_error(request_type: &str, error: &anyhow::Error) -> HttpResponse {
    tracing::error!(
        message_type = request_type,
        error = format!("{error:#}"),
        "internal error"
    );
    let response = HttpResponse::InternalServerError()
        .insert_header(PROTOCOL_FAULT_HEADER)
        .content_type("application/json; charset=utf-8")
        .json(ProtocolFault::new(
            "internal",
            "internal error; see the fortimock log".to_owned(),
        ));
    with_outcome(response, request_type, "internal error")
}

/// A peer service (forticare, for ftm) did not answer: 502 in the fault shape, naming the peer.
pub fn upstream_error(request_type: &str, peer: &str, error: &anyhow::Error) -> HttpResponse {
    tracing::error!(
        message_type = request_type,
        peer,
        error = format!("{error:#}"),
        "peer service failed"
    );
    let response = HttpResponse::BadGateway()
        .insert_header(PROTOCOL_FAULT_HEADER)
        .content_type("application/json; charset=utf-8")
        .json(ProtocolFault::new(
            "upstream.unavailable",
            format!("{peer} did not answer: {error:#}"),
        ));
    with_outcome(response, request_type, format!("{peer} unavailable"))
}
