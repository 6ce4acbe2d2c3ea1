//! The FortiAuthenticator REST API's one error type: how the FAC face of the appliance service refuses a
//! request, with its status and wire shape decided here. The FAC answers `{"error": "<sentence>"}`
//! (`fac_rest::FacError`) except where Tastypie answers with no body: 401 (with `WWW-Authenticate: Basic`)
//! and 405 (with `Allow`). fortimock's own API for FACs maps these onto its `ErrorBody` instead
//! ([`FacApiError::api`]).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use lab::http::ApiError;
use lab::store::StoreError;
use protocol::fac_rest::{ACTIVATION_MESSAGE_FAILED, BASIC_REALM, FacError, SERIAL_NOT_AVAILABLE};

use crate::error::ApplianceError;

/// Why the FAC's REST API refused a request.
#[derive(Debug, thiserror::Error)]
pub enum FacApiError {
    /// 400 with the sentence.
    #[error("{0}")]
    BadRequest(String),
    /// 400 `This serial number is not available for use.`
    #[error("{SERIAL_NOT_AVAILABLE}")]
    SerialNotAvailable,
    /// 400 `Failed to send FortiToken Mobile activation message` (the token stays provisioned).
    #[error("{ACTIVATION_MESSAGE_FAILED}")]
    ActivationMessageFailed,
    /// 401, no body: no credentials, or not an administrator's API key.
    #[error("the request is not authenticated with an administrator's API key")]
    Unauthenticated,
    /// 401 with the sentence (`auth/`, `pushauth/`: the user's credentials were refused).
    #[error("{0}")]
    Refused(String),
    /// 403 with the sentence.
    #[error("{0}")]
    Forbidden(String),
    /// 404 with the sentence.
    #[error("{0}")]
    NotFound(String),
    /// 405, no body, with the methods the resource allows.
    #[error("method not allowed (allowed: {})", .0.join(", "))]
    MethodNotAllowed(&'static [&'static str]),
    /// Any other status with its sentence (`pushauth/`'s 500 and 503, a FortiToken server that did not answer).
    #[error("{1}")]
    Status(StatusCode, String),
    /// The appliances' storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// 500.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for FacApiError {
    fn from(e: anyhow::Error) -> FacApiError {
        match e.downcast::<StoreError>() {
            Ok(storage) => FacApiError::Storage(storage),
            Err(other) => FacApiError::Internal(other),
        }
    }
}

impl From<ApplianceError> for FacApiError {
    /// How a virtual appliance operation's failure reads on the FAC's API.
    fn from(e: ApplianceError) -> FacApiError {
        match e {
            ApplianceError::BadRequest(m)
            | ApplianceError::BadSettings(m)
            | ApplianceError::BadFtmPush(m) => FacApiError::BadRequest(m),
            ApplianceError::NotFound(_) | ApplianceError::Conflict(_) => {
                FacApiError::SerialNotAvailable
            }
            ApplianceError::NoUser(m) => FacApiError::NotFound(m),
            ApplianceError::Exists(m) | ApplianceError::Listener(m) => FacApiError::BadRequest(m),
            ApplianceError::Cloud {
                status: 422,
                failure,
            } => FacApiError::BadRequest(failure.message),
            ApplianceError::Cloud { failure, .. } => {
                FacApiError::Status(StatusCode::BAD_GATEWAY, failure.message)
            }
            ApplianceError::PushRefused { status, message } => FacApiError::Status(status, message),
            ApplianceError::Api(api) => FacApiError::Status(api.status(), api.message().to_owned()),
            ApplianceError::Storage(e) => FacApiError::Storage(e),
            ApplianceError::Internal(e) => FacApiError::Internal(e),
        }
    }
}

impl FacApiError {
    fn status(&self) -> StatusCode {
        match self {
            FacApiError::BadRequest(_)
            | FacApiError::SerialNotAvailable
            | FacApiError::ActivationMessageFailed => StatusCode::BAD_REQUEST,
            FacApiError::Unauthenticated | FacApiError::Refused(_) => StatusCode::UNAUTHORIZED,
            FacApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            FacApiError::NotFound(_) => StatusCode::NOT_FOUND,
            FacApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            FacApiError::Status(status, _) => *status,
            FacApiError::Storage(e) => ApiError::storage(e).status(),
            FacApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The same refusal in fortimock's own `ErrorBody` shape, for its API for FACs.
    pub fn api(&self) -> ApiError {
        match self {
            FacApiError::Storage(e) => ApiError::storage(e),
            FacApiError::Internal(e) => ApiError::internal(e),
            FacApiError::SerialNotAvailable => ApiError::new(
                self.status(),
                protocol::catalogue::FAC_SERIAL_NOT_AVAILABLE.id,
                self.to_string(),
            ),
            FacApiError::ActivationMessageFailed => ApiError::new(
                self.status(),
                protocol::catalogue::FAC_ACTIVATION_MESSAGE_FAILED.id,
                self.to_string(),
            ),
            other => ApiError::new(other.status(), "appliance.fac", other.to_string()),
        }
    }
}

impl From<FacApiError> for ApplianceError {
    fn from(e: FacApiError) -> ApplianceError {
        match e {
            FacApiError::Storage(e) => ApplianceError::Storage(e),
            FacApiError::Internal(e) => ApplianceError::Internal(e),
            other => ApplianceError::Api(other.api()),
        }
    }
}

impl ResponseError for FacApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            FacApiError::Unauthenticated => HttpResponse::Unauthorized()
                .insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Basic Realm=\"{BASIC_REALM}\""),
                ))
                .finish(),
            FacApiError::MethodNotAllowed(allowed) => HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allowed.join(", ")))
                .finish(),
            FacApiError::Storage(_) | FacApiError::Internal(_) => {
                // Logged inside, answered in the FAC's shape without the detail.
                let api = self.api();
                if let FacApiError::Internal(e) = self {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "FortiAuthenticator API request failed"
                    );
                }
                HttpResponse::build(api.status()).json(FacError {
                    error: api.message().to_owned(),
                })
            }
            other => HttpResponse::build(other.status()).json(FacError {
                error: other.to_string(),
            }),
        }
    }
}
