//! `DashboardError`, the dashboard's one error type: a page that needs the admin token gets the login form
//! (401), a page the services could not give gets a page saying why (502), and the dashboard's own API
//! (actions, state import) answers fortimock's `ErrorBody` through `lab::http::ApiError`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, ResponseError};
use lab::http::ApiError;

use super::page;

#[derive(Debug, thiserror::Error)]
pub(super) enum DashboardError {
    /// The services refused the token the browser presented (or it presented none where one is needed).
    #[error("the admin token is missing or refused")]
    NeedsToken,
    /// A page could not be rendered: the services could not be reached or answered something else.
    #[error("{0}")]
    Unavailable(String),
    /// The dashboard's API refused a request.
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl ResponseError for DashboardError {
    fn status_code(&self) -> StatusCode {
        match self {
            DashboardError::NeedsToken => StatusCode::UNAUTHORIZED,
            DashboardError::Unavailable(_) => StatusCode::BAD_GATEWAY,
            DashboardError::Api(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let markup = match self {
            DashboardError::NeedsToken => page::login(None),
            DashboardError::Unavailable(reason) => page::failure(reason),
            DashboardError::Api(error) => return error.error_response(),
        };
        HttpResponse::build(self.status_code())
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(markup.into_string())
    }
}
