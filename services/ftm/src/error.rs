//! ftm's one error type: every way an ftm request can fail, with its status and wire shape decided here.
//! SoftToken requests (appliances' and phones') fail as `lab::softtoken::Fault`s (the modeled ASP.NET
//! shape); the admin views answer `ErrorBody`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use lab::http::ApiError;
use lab::softtoken::Fault;
use lab::store::StoreError;

/// Why an ftm request was not served.
#[derive(Debug, thiserror::Error)]
pub enum FtmError {
    /// A SoftToken request that cannot be served.
    #[error(transparent)]
    Fault(#[from] Fault),
    /// fortimock's own API refusing a request.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The escrow's storage failed (on the admin views).
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// Bad input to the token-transfer service: HTTP 400 with the endpoint's own answer, refused
    /// (`modeled::TRANSFER_BAD_REQUEST`).
    #[error("bad token-transfer request")]
    TransferBadRequest(serde_json::Value),
}

impl ResponseError for FtmError {
    fn status_code(&self) -> StatusCode {
        match self {
            FtmError::Fault(fault) => fault.status_code(),
            FtmError::Api(error) => error.status(),
            FtmError::Storage(error) => ApiError::storage(error).status(),
            FtmError::TransferBadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            FtmError::Fault(fault) => fault.error_response(),
            FtmError::Api(error) => error.response(),
            FtmError::Storage(error) => ApiError::storage(error).response(),
            FtmError::TransferBadRequest(body) => HttpResponse::BadRequest().json(body),
        }
    }
}
