//! forticare's one error type: every way a forticare request can fail, with its status and wire shape
//! decided here. SoftToken requests fail as `lab::softtoken::Fault`s (the modeled ASP.NET shape); the
//! asset-management API (v3) answers its envelope, the token endpoint OAuth's error shape; the admin and
//! ledger APIs answer `ErrorBody`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use lab::http::ApiError;
use lab::softtoken::Fault;
use lab::store::StoreError;
use protocol::forticare_v3::{self as v3, Envelope, TokenRefusal};
use protocol::id::LicenseId;

use crate::transfer::Refusal;

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
    /// An API user of that name exists already.
    #[error("API user {0} exists already")]
    ApiUserConflict(String),
    /// A transfer ticket Customer Service declines.
    #[error("{}", .0.message())]
    Transfer(Refusal),
    /// The asset-management API (v3) refusing a call: its envelope.
    #[error("{0}")]
    V3(Box<V3Failure>),
    /// The token endpoint refusing a request.
    #[error("{}", .1.error_description)]
    OAuth(StatusCode, Box<TokenRefusal>),
    /// The ledger's storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// A refused v3 call: the HTTP status, the envelope's `status` and `message`, the `error`, and what the
/// payload fields hold (the per-unit outcomes of a failed batch).
#[derive(Debug, Clone)]
pub struct V3Failure {
    pub http: StatusCode,
    pub status: i32,
    pub message: &'static str,
    pub error: v3::ApiError,
    /// The bearer token the request carried, echoed.
    pub token: String,
    pub payload: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Display for V3Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} errorCode {}: {}",
            self.http.as_u16(),
            self.error.error_code,
            self.error.message
        )
    }
}

impl ForticareError {
    /// The answer in fortimock's own API shape (every error but a SoftToken fault, a v3 or OAuth refusal).
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
            ForticareError::ApiUserConflict(name) => ApiError::conflict(
                "forticare.api-user.conflict",
                format!("API user {name} exists already"),
            ),
            ForticareError::Transfer(refusal) => {
                let status = match refusal.entry.id {
                    "forticare.transfer.unknown-license" => StatusCode::NOT_FOUND,
                    "forticare.transfer.same-appliance" => StatusCode::BAD_REQUEST,
                    "forticare.transfer.trial" | "forticare.transfer.shipped-since-2025-08-04" => {
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                    _ => StatusCode::CONFLICT,
                };
                ApiError::new(status, refusal.entry.id, refusal.message())
            }
            ForticareError::V3(failure) => {
                ApiError::new(failure.http, "forticare.v3", failure.error.message.clone())
            }
            ForticareError::OAuth(status, refusal) => ApiError::new(
                *status,
                "forticare.oauth",
                refusal.error_description.clone(),
            ),
            ForticareError::Storage(error) => ApiError::storage(error),
        }
    }
}

impl ResponseError for ForticareError {
    fn status_code(&self) -> StatusCode {
        match self {
            ForticareError::Fault(fault) => fault.status_code(),
            ForticareError::V3(failure) => failure.http,
            ForticareError::OAuth(status, _) => *status,
            other => other.api().status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ForticareError::Fault(fault) => fault.error_response(),
            ForticareError::V3(failure) => HttpResponse::build(failure.http).json(Envelope {
                build: v3::BUILD.to_owned(),
                error: Some(failure.error.clone()),
                message: failure.message.to_owned(),
                status: failure.status,
                token: failure.token.clone(),
                version: v3::VERSION.to_owned(),
                payload: failure.payload.clone(),
            }),
            ForticareError::OAuth(status, refusal) => HttpResponse::build(*status).json(refusal),
            other => other.api().response(),
        }
    }
}
