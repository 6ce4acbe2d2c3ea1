//! fortimock's own HTTP API, as every service shares it: [`ApiError`], the error every admin and
//! simulator endpoint answers with (status and `ErrorBody` decided here), and the one body reader every
//! endpoint uses ([`read_body`], and the [`Json`] extractor built on it): a size limit checked against
//! `Content-Length` first, and the request's time limit (`lab::server` closes a body that trickles).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use protocol::admin::ErrorBody;
use serde::de::DeserializeOwned;

use crate::store::StoreError;

/// Largest JSON body fortimock's own API accepts unless an endpoint says otherwise ([`BodyLimit`]).
pub const ADMIN_JSON_LIMIT: usize = 64 * 1024;

/// An error of fortimock's own API: an HTTP status, a stable id to match on, and a sentence for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    id: Cow<'static, str>,
    message: String,
    /// What went wrong inside, logged when the error is answered (never sent).
    detail: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.id, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(
        status: StatusCode,
        id: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            id: id.into(),
            message: message.into(),
            detail: None,
        }
    }

    pub fn bad_request(id: impl Into<Cow<'static, str>>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, id, message)
    }

    pub fn not_found(id: impl Into<Cow<'static, str>>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, id, message)
    }

    pub fn conflict(id: impl Into<Cow<'static, str>>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, id, message)
    }

    /// A failure inside the service: logged in full when answered, answered with an opaque 500.
    pub fn internal(error: &dyn std::fmt::Display) -> ApiError {
        ApiError {
            detail: Some(format!("{error:#}")),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the fortimock log",
            )
        }
    }

    /// A storage failure: 503 when the data dir cannot be written now (a full disk, permissions), saying
    /// so; otherwise answered as an internal error. Logged either way.
    pub fn storage(error: &StoreError) -> ApiError {
        if error.is_unavailable() {
            ApiError {
                detail: Some(error.to_string()),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage.unavailable",
                    error.to_string(),
                )
            }
        } else {
            ApiError::internal(error)
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error's answer (logging what went wrong inside, if anything).
    pub fn response(&self) -> HttpResponse {
        if let Some(detail) = &self.detail {
            tracing::error!(error_id = %self.id, error = %detail, "request failed inside the service");
        }
        HttpResponse::build(self.status).json(ErrorBody {
            error_id: self.id.clone().into_owned(),
            message: self.message.clone(),
        })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::storage(&error)
    }
}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> ApiError {
        let (status, id) = match &error {
            BodyError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "admin.body.too-large"),
            BodyError::TimedOut => (StatusCode::REQUEST_TIMEOUT, "admin.body.timeout"),
            BodyError::Broken(_) => (StatusCode::BAD_REQUEST, "admin.body.broken"),
        };
        ApiError::new(status, id, error.to_string())
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than the {limit} bytes this endpoint accepts")]
    TooLarge { limit: usize },
    #[error("the body did not arrive in time")]
    TimedOut,
    #[error("the body could not be read: {0}")]
    Broken(String),
}

/// Reads a request body of at most `limit` bytes, refusing it at once when `Content-Length` says it is
/// larger. A body that trickles past the request's time limit is cut off by the server (`TimedOut`).
pub async fn read_body(
    request: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<web::Bytes, BodyError> {
    let declared = declared_length(request.headers());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let expected = declared.map_or(1024, |len| usize::try_from(len).unwrap_or(limit));
    let mut body = web::BytesMut::with_capacity(expected.min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                BodyError::TimedOut
            }
            other => BodyError::Broken(other.to_string()),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The length of a request's body as its `Content-Length` says (`None` without one, or when it is not a
/// number).
pub(crate) fn declared_length(headers: &actix_web::http::header::HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// The body limit of one endpoint's [`Json`] extractor, set with `app_data` on its resource.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON request body of fortimock's own API, read with [`read_body`] under the endpoint's
/// [`BodyLimit`] (default [`ADMIN_JSON_LIMIT`]). A body that is not the expected JSON object (an array
/// included) is a 400 that names the problem; the content type is not checked (scripts often send none).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Json<T>, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            let body = read_api_body(&request, payload).await?;
            decode_api_body(&body).map(Json)
        })
    }
}

/// Reads the body of a request to fortimock's own API, within its endpoint's [`BodyLimit`] (default
/// [`ADMIN_JSON_LIMIT`]).
pub async fn read_api_body(
    request: &HttpRequest,
    payload: Payload,
) -> Result<web::Bytes, ApiError> {
    let limit = request
        .app_data::<BodyLimit>()
        .map_or(ADMIN_JSON_LIMIT, |limit| limit.0);
    Ok(read_body(request, payload, limit).await?)
}

/// A body of fortimock's own API decoded into `T`, as [`Json`] decodes it: a body that is not the
/// expected JSON object is a 400 that names the problem.
pub fn decode_api_body<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    decode_api_body_with(body, std::marker::PhantomData::<T>)
}

/// What `seed` reads from a body of fortimock's own API, checked as [`decode_api_body`] checks it.
pub fn decode_api_body_with<'a, S: serde::de::DeserializeSeed<'a>>(
    body: &'a [u8],
    seed: S,
) -> Result<S::Value, ApiError> {
    // Every body of fortimock's own API is an object; serde would take an array as a struct's fields in
    // order (`["mail", 25]`), so one is refused here, for every endpoint, and one standing for an object
    // anywhere inside is refused by the strict reading.
    if body.trim_ascii_start().first() == Some(&b'[') {
        return Err(ApiError::bad_request(
            "admin.body.invalid",
            "the request body was refused: expected a JSON object, not an array",
        ));
    }
    protocol::strict::from_slice_seed(body, seed).map_err(|e| {
        ApiError::bad_request(
            "admin.body.invalid",
            format!("the request body was refused: {e}"),
        )
    })
}

/// A query string decoded into `T` (serde), with fortimock's error shape.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Query<T>, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            serde_urlencoded::from_str(request.query_string())
                .map(Query)
                .map_err(|e| {
                    ApiError::bad_request("admin.query.invalid", format!("bad query string: {e}"))
                }),
        )
    }
}
