//! The relay's one error type: every way a relay request can fail, with its status and wire shape decided
//! here. The relay's own endpoints answer in its JSON (`PushRefused`, with APNs/FCM-style reasons); the
//! admin views answer `ErrorBody`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use lab::http::ApiError;
use lab::store::StoreError;
use protocol::push::PushRefused;

use crate::relay::{Reason, Refusal};

/// Why a relay request was not served.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The relay refusing a push or a device request, in its own JSON.
    #[error("{}: {}", .0.reason.as_str(), .0.message)]
    Refused(Refusal),
    /// fortimock's own API refusing a request.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The relay's storage failed while serving a push or a device (answered in the relay's JSON).
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl From<Refusal> for PushError {
    fn from(refusal: Refusal) -> PushError {
        PushError::Refused(refusal)
    }
}

/// A refusal in the relay's JSON.
pub fn refused(refusal: &Refusal) -> HttpResponse {
    let status =
        StatusCode::from_u16(refusal.reason.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(PushRefused {
        status: "error".to_owned(),
        reason: refusal.reason.as_str().to_owned(),
        message: refusal.message.clone(),
    })
}

impl ResponseError for PushError {
    fn status_code(&self) -> StatusCode {
        match self {
            PushError::Refused(refusal) => StatusCode::from_u16(refusal.reason.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            PushError::Api(error) => error.status(),
            PushError::Storage(error) if error.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            PushError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PushError::Refused(refusal) => refused(refusal),
            PushError::Api(error) => error.response(),
            PushError::Storage(error) => {
                tracing::error!(error = %error, "the relay's storage failed");
                let message = if error.is_unavailable() {
                    error.to_string()
                } else {
                    "internal error; see the fortimock log".to_owned()
                };
                let mut response = refused(&Refusal::new(Reason::InternalServerError, message));
                *response.status_mut() = self.status_code();
                response
            }
        }
    }
}
