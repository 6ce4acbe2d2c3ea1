//! The appliance service's one error type: every way a request to the virtual appliances can fail, with its
//! status and wire shape decided here. A refusal or silence of the FortiToken cloud answers with the
//! `OperationFailure` FortiOS would show (422 or 502); everything else answers `ErrorBody`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use lab::http::ApiError;
use lab::store::StoreError;
use protocol::appliance::OperationFailure;

/// Why a request to the virtual appliances was not served.
#[derive(Debug, thiserror::Error)]
pub enum ApplianceError {
    /// 400: the request to the virtual appliance itself is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 400: a settings value out of FortiOS's range.
    #[error("{0}")]
    BadSettings(String),
    /// 400: an ftm-push value FortiOS would refuse.
    #[error("{0}")]
    BadFtmPush(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 404: no such user on the appliance.
    #[error("{0}")]
    NoUser(String),
    /// 409: the token or user is taken.
    #[error("{0}")]
    Conflict(String),
    /// 409: an appliance with that serial exists.
    #[error("{0}")]
    Exists(String),
    /// 409: the ftm-push listener cannot run as asked (its port is taken).
    #[error("{0}")]
    Listener(String),
    /// 422 (the cloud refused) or 502 (the cloud did not answer), with what FortiOS would print.
    #[error("{}", .failure.message)]
    Cloud {
        status: u16,
        failure: OperationFailure,
    },
    /// An appliance's ftm-push listener refusing a phone's answer (400 unreadable, 401 not accepted, 503
    /// stopping), in the listener's shape: `{"status": "refused", "message": …}`.
    #[error("{message}")]
    PushRefused { status: StatusCode, message: String },
    /// fortimock's own API refusing a request.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The appliances' storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// 500.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApplianceError {
    fn from(e: anyhow::Error) -> ApplianceError {
        match e.downcast::<StoreError>() {
            Ok(storage) => ApplianceError::Storage(storage),
            Err(other) => ApplianceError::Internal(other),
        }
    }
}

impl ApplianceError {
    fn api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            ApplianceError::BadRequest(_) => {
                ApiError::bad_request("appliance.bad-request", message)
            }
            ApplianceError::BadSettings(_) => {
                ApiError::bad_request("appliance.bad-settings", message)
            }
            ApplianceError::BadFtmPush(_) => {
                ApiError::bad_request("appliance.bad-ftm-push", message)
            }
            ApplianceError::NotFound(_) => ApiError::not_found("appliance.not-found", message),
            ApplianceError::NoUser(_) => ApiError::not_found("appliance.no-user", message),
            ApplianceError::Conflict(_) => ApiError::conflict("appliance.conflict", message),
            ApplianceError::Exists(_) => ApiError::conflict("appliance.exists", message),
            ApplianceError::Listener(_) => ApiError::conflict("appliance.ftm-push", message),
            ApplianceError::Cloud { status, .. } => ApiError::new(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
                "appliance.cloud",
                message,
            ),
            ApplianceError::PushRefused { status, .. } => {
                ApiError::new(*status, "appliance.push-refused", message)
            }
            ApplianceError::Api(error) => error.clone(),
            ApplianceError::Storage(error) => ApiError::storage(error),
            ApplianceError::Internal(error) => ApiError::internal(error),
        }
    }
}

impl ResponseError for ApplianceError {
    fn status_code(&self) -> StatusCode {
        self.api().status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApplianceError::Cloud { status, failure } => HttpResponse::build(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
            )
            .json(failure),
            ApplianceError::PushRefused { status, message } => HttpResponse::build(*status)
                .json(serde_json::json!({"status": "refused", "message": message})),
            other => other.api().response(),
        }
    }
}
