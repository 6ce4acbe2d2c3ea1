//! The phone service's one error type: every way a request to the virtual phones can fail, with its status
//! and `ErrorBody` (a stable `phone.*` id, or the catalogue id of the provisioning server's refusal)
//! decided here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use lab::http::ApiError;
use lab::store::StoreError;
use protocol::device_storage::DeviceStorageError;
use protocol::id::{IdError, TokenSerial};
use protocol::phone::PushStatus;

use crate::app_data::PickError;
use crate::device::IdentityError;

/// Why a request to the virtual phones was not served.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("no phone `{0}`")]
    NotFound(String),
    #[error("phone {phone} has no token {serial}")]
    TokenNotFound { phone: String, serial: TokenSerial },
    #[error("phone {phone}: {error}")]
    Pick { phone: String, error: PickError },
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("{0}")]
    BadToken(#[from] IdError),
    #[error("no push `{push}` waiting on {phone}")]
    NoPush { phone: String, push: String },
    #[error("that push is {0:?}, not pending")]
    NotPending(PushStatus),
    /// The app data of a phone could not be read (its encrypted storage).
    #[error("reading the app data of phone {phone}: {error}")]
    AppData {
        phone: String,
        error: DeviceStorageError,
    },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl PhoneError {
    fn api(&self) -> ApiError {
        match self {
            PhoneError::NotFound(id) => ApiError::not_found(
                "phone.not-found",
                format!("no phone `{id}`: GET /phones lists them, POST /phones creates one"),
            ),
            PhoneError::TokenNotFound { .. } => {
                ApiError::not_found("phone.token-not-found", self.to_string())
            }
            PhoneError::Pick { phone, error } => match error {
                PickError::NotFound(serial) => ApiError::not_found(
                    "phone.token-not-found",
                    format!("phone {phone} has no token {serial}"),
                ),
                PickError::NoTokens => ApiError::not_found(
                    "phone.token-not-found",
                    format!(
                        "phone {phone} has no tokens: activate one with POST /phones/{phone}/activate"
                    ),
                ),
                PickError::Ambiguous(_) => {
                    ApiError::bad_request("phone.token-ambiguous", self.to_string())
                }
            },
            PhoneError::Identity(error) => ApiError::bad_request(error.id(), error.to_string()),
            PhoneError::BadToken(error) => {
                ApiError::bad_request("phone.bad-token", error.to_string())
            }
            PhoneError::NoPush { phone, push } => ApiError::not_found(
                "phone.push-not-found",
                format!(
                    "no push `{push}` waiting on {phone}: GET /phones/{phone}/inbox lists them (`latest` is the newest pending one)"
                ),
            ),
            PhoneError::NotPending(_) => {
                ApiError::conflict("phone.push-answered", self.to_string())
            }
            PhoneError::AppData { .. } => ApiError::internal(self),
            PhoneError::Api(error) => error.clone(),
            PhoneError::Storage(error) => ApiError::storage(error),
        }
    }
}

impl ResponseError for PhoneError {
    fn status_code(&self) -> StatusCode {
        self.api().status()
    }

    fn error_response(&self) -> HttpResponse {
        self.api().response()
    }
}
