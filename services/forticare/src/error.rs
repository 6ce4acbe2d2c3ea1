//! forticare's one error type: every way a forticare request can fail, with its status and wire shape
//! decided here. SoftToken requests fail as `lab::softtoken::Fault`s (the modeled ASP.NET shape); the
//! admin and ledger APIs answer `ErrorBody`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use lab::http::ApiError;
use lab::softtoken::Fault;
use lab::store::StoreError;
use protocol::id::LicenseId;

/// Why a forticare request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ForticareError {
    /// A SoftToken request that cannot be served.
    #[error(transparent)]
    Fault(#[from] Fault),
    /// fortimock's own API refusing a request.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A license that cannot be created as asked (its id, code or tokens are taken).
    #[error("{0}")]
    LicenseConflict(String),
    #[error("no license {0}")]
    LicenseNotFound(LicenseId),
    /// The ledger's storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl ForticareError {
    /// The answer in fortimock's own API shape (every error but a SoftToken fault).
    fn api(&self) -> ApiError {
        match self {
            ForticareError::Fault(fault) => {
                ApiError::new(fault.status_code(), "softtoken.fault", fault.to_string())
            }
            ForticareError::Api(error) => error.clone(),
            ForticareError::LicenseConflict(message) => {
                ApiError::conflict("forticare.license.conflict", message.clone())
            }
            ForticareError::LicenseNotFound(id) => {
                ApiError::not_found("forticare.license.not-found", format!("no license {id}"))
            }
            ForticareError::Storage(error) => ApiError::storage(error),
        }
    }
}

impl ResponseError for ForticareError {
    fn status_code(&self) -> StatusCode {
        match self {
            ForticareError::Fault(fault) => fault.status_code(),
            other => other.api().status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ForticareError::Fault(fault) => fault.error_response(),
            other => other.api().response(),
        }
    }
}
