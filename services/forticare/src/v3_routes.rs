//! forticare's asset-management API (v3) over HTTP: the OAuth token endpoint (`POST /api/v1/oauth/token/`,
//! customerapiauth.fortinet.com) and the `POST` endpoints under `/ES/api/registration/v3/`
//! (support.fortinet.com), each answering the v3 envelope.
//!
//! Every call is read the same way ([`Call::begin`]): the body (journaled, secrets redacted), the bearer
//! token (401 without a live one), the rate limits (429 with `--forticare-rate-limits`), the scenarios, then
//! the body decoded (400 naming the field). Nothing is written before all of that passed. Tokens are
//! never logged: the log line names the API user.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use lab::api::Api;
use lab::scenario;
use lab::server::with_outcome;
use protocol::catalogue::{CatalogueEntry, V3_INVALID_CLOUD_KEY, V3_OPERATION_FAILED};
use protocol::forticare_v3::{
    self as v3, AssetDetails, AssetPage, Envelope, LicenseDownloadRequest, LicenseFile,
    LicenseList, LicenseListRequest, LicenseRegisterRequest, ProductDetailsRequest,
    ProductListRequest, ProductRegisterRequest, ProductTransferRequest, TokenAnswer, TokenRefusal,
    TokenRequest, UnitOutcomes,
};
use protocol::id::{ApplianceSerial, LicenseActivationCode};
use protocol::modeled;
use protocol::paths;
use protocol::scenario::{ScenarioAction, Trigger};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::accounts::{V3Refusal, unit_outcome};
use crate::error::{ForticareError, V3Failure};
use crate::ledger::License;
use crate::routes::Forticare;
use crate::v3::{self as rules, ApiUser};

/// The largest v3 request body forticare reads.
const MAX_BODY: usize = 64 * 1024;

/// The v3 API's bearer token, as its operations' security requirement names it.
pub(crate) const BEARER_SCHEME: &str = "v3_bearer";

/// Registers the token endpoint and the API's endpoints.
pub(crate) fn routes(api: &mut Api<'_>) {
    api.route(__path_token, token)
        .route(__path_licenses_register, licenses_register)
        .route(__path_licenses_list, licenses_list)
        .route(__path_licenses_download, licenses_download)
        .route(__path_products_list, products_list)
        .route(__path_products_details, products_details)
        .route(__path_products_register, products_register)
        .route(__path_products_transfer, products_transfer);
}

/// A refused call answered with `entry`: its HTTP status and envelope follow from the entry.
fn refused(
    entry: &'static CatalogueEntry,
    detail: impl Into<String>,
    token: &str,
) -> ForticareError {
    let (http, status, message) = match entry.id {
        "forticare.v3.unauthorized" => (
            StatusCode::UNAUTHORIZED,
            v3::STATUS_REJECTED,
            v3::MESSAGE_INVALID,
        ),
        "forticare.v3.rate-limit-minute"
        | "forticare.v3.rate-limit-hour"
        | "forticare.v3.error-limit" => (
            StatusCode::TOO_MANY_REQUESTS,
            v3::STATUS_REJECTED,
            v3::MESSAGE_FAILED,
        ),
        "forticare.v3.operation-failed" => (
            StatusCode::BAD_REQUEST,
            v3::STATUS_FAILED,
            v3::MESSAGE_FAILED,
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            v3::STATUS_REJECTED,
            v3::MESSAGE_INVALID,
        ),
    };
    let detail = detail.into();
    let message_text = if detail.is_empty() {
        entry.text.to_owned()
    } else if entry.text.ends_with(". ") {
        // The captured cloud-key text names the unit itself.
        detail
    } else {
        format!("{} {detail}", entry.text)
    };
    ForticareError::V3(Box::new(V3Failure {
        http,
        status,
        message,
        error: v3::ApiError {
            error_code: entry.code.unwrap_or_default(),
            message: message_text,
        },
        token: token.to_owned(),
        payload: serde_json::Map::new(),
    }))
}

fn invalid(detail: impl Into<String>, token: &str) -> ForticareError {
    refused(&modeled::V3_INVALID_REQUEST, detail, token)
}

fn from_refusal(refusal: V3Refusal, token: &str) -> ForticareError {
    refused(refusal.entry, refusal.detail, token)
}

/// An authenticated, admitted v3 call, its body not decoded yet.
struct Call {
    endpoint: &'static str,
    user: ApiUser,
    token: String,
    body: Bytes,
}

impl Call {
    /// Reads and admits a call to `endpoint`; the error is the answer (counted against the user when it
    /// is one).
    async fn begin(
        state: &Forticare,
        request: &HttpRequest,
        payload: web::Payload,
        endpoint: &'static str,
    ) -> Result<Call, ForticareError> {
        let body = lab::http::read_body(request, payload.into_inner(), MAX_BODY)
            .await
            .map_err(|e| invalid(e.to_string(), ""))?;
        lab::journal::keep_request_body(request, &body);
        let token = bearer(request).unwrap_or_default();
        let now = state.clock.now();
        let user = match (!token.is_empty())
            .then(|| state.ledger.authenticate(&token, now))
            .transpose()?
            .flatten()
        {
            Some(user) => user,
            None => {
                let why = if token.is_empty() {
                    "The request has no bearer token."
                } else {
                    "The bearer token is unknown or has expired."
                };
                return Err(refused(&modeled::V3_UNAUTHORIZED, why, &token));
            }
        };
        if let Err(limit) = state.limits.admit(&user.username, now) {
            return Err(refused(limit, "", &token));
        }
        let serial = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("serialNumber")
                    .and_then(|s| s.as_str())
                    .map(str::to_owned)
            });
        let trigger = Trigger {
            serial: serial.as_deref(),
            ..Trigger::new(endpoint)
        };
        if let Some(fired) = scenario::fire(request, &trigger).await {
            match fired.action {
                ScenarioAction::Error(armed) => {
                    return Err(refused(
                        armed.error,
                        format!("({})", fired.outcome()),
                        &token,
                    ));
                }
                ScenarioAction::Status(status) => {
                    let http =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    return Err(ForticareError::V3(Box::new(V3Failure {
                        http,
                        status: v3::STATUS_REJECTED,
                        message: v3::MESSAGE_FAILED,
                        error: v3::ApiError {
                            error_code: i32::from(status),
                            message: fired.outcome(),
                        },
                        token,
                        payload: serde_json::Map::new(),
                    })));
                }
                ScenarioAction::Delay => {}
            }
        }
        Ok(Call {
            endpoint,
            user,
            token,
            body,
        })
    }

    /// The body as `T`; a 400 naming the field when it is not.
    fn decode<T: DeserializeOwned>(&self) -> Result<T, ForticareError> {
        let text = if self.body.iter().all(u8::is_ascii_whitespace) {
            &b"{}"[..]
        } else {
            &self.body[..]
        };
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                invalid(
                    format!("The body is not a JSON object: {inner}"),
                    &self.token,
                )
            } else {
                invalid(format!("{path}: {inner}"), &self.token)
            }
        })
    }

    /// A successful answer carrying `payload`.
    fn ok<T: Serialize>(&self, payload: T, result: String) -> HttpResponse {
        with_outcome(
            HttpResponse::Ok().json(Envelope::ok(&self.token, payload)),
            self.endpoint,
            format!("{} for API user {}", result, self.user.username),
        )
    }
}

/// The bearer token of `Authorization: Bearer <token>` (the scheme in any letter case).
fn bearer(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 512)
        .then(|| token.to_owned())
}

/// Runs a call: the error is the answer, counted against the user (the error-per-hour limit), and the log
/// line says what became of it.
async fn serve<F, Fut>(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
    endpoint: &'static str,
    handler: F,
) -> HttpResponse
where
    F: FnOnce(web::Data<Forticare>, Call) -> Fut,
    Fut: Future<Output = Result<HttpResponse, ForticareError>>,
{
    let outcome = match Call::begin(&state, &request, payload, endpoint).await {
        Ok(call) => {
            let user = call.user.username.clone();
            let served = handler(state.clone(), call).await;
            if let Err(ForticareError::V3(failure)) = &served
                && failure.http == StatusCode::BAD_REQUEST
            {
                state.limits.count_error(&user, state.clock.now());
            }
            served
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(response) => response,
        Err(error) => {
            let result = match &error {
                ForticareError::V3(failure) => format!(
                    "refused: errorCode {} (HTTP {})",
                    failure.error.error_code,
                    failure.http.as_u16()
                ),
                other => format!("failed: {other}"),
            };
            with_outcome(error.error_response(), endpoint, result)
        }
    }
}

/// A serial number field, required.
fn serial_field(
    value: Option<&str>,
    field: &str,
    token: &str,
) -> Result<ApplianceSerial, ForticareError> {
    match value.map(str::trim) {
        None | Some("") => Err(invalid(format!("{field} is required."), token)),
        Some(text) => text
            .parse()
            .map_err(|e| invalid(format!("{field}: {e}"), token)),
    }
}

fn bounded(value: &Option<String>, field: &str, token: &str) -> Result<(), ForticareError> {
    match value {
        Some(text) if text.len() > rules::MAX_TEXT => Err(invalid(
            format!("{field}: longer than {} bytes", rules::MAX_TEXT),
            token,
        )),
        _ => Ok(()),
    }
}

/// The account a call acts in (`accountId`, or the user's own).
fn account(call: &Call, requested: Option<u64>) -> Result<u64, ForticareError> {
    call.user.account_for(requested).ok_or_else(|| {
        refused(
            &modeled::V3_ACCOUNT_NOT_ALLOWED,
            format!("({})", requested.unwrap_or_default()),
            &call.token,
        )
    })
}

#[utoipa::path(post, path = paths::V3_OAUTH_TOKEN, tag = "FortiCare v3 API", request_body = TokenRequest,
    responses(
        (status = 200, description = "A bearer token (and a refresh token) for the v3 API.", body = TokenAnswer),
        (status = 400, description = "A malformed request.", body = TokenRefusal),
        (status = 401, description = "Wrong user or password, or an unknown refresh token.", body = TokenRefusal)))]
async fn token(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    const TYPE: &str = v3::OAUTH_TOKEN;
    let answer = issue(&state, &request, payload).await;
    match answer {
        Ok((answer, user)) => with_outcome(
            HttpResponse::Ok().json(answer),
            TYPE,
            format!("token issued to API user {user}"),
        ),
        Err(error) => {
            let result = format!("refused: {error}");
            with_outcome(error.error_response(), TYPE, result)
        }
    }
}

fn oauth_refusal(entry: &'static CatalogueEntry, detail: &str) -> ForticareError {
    let (status, error) = if entry == &modeled::OAUTH_INVALID_GRANT {
        (StatusCode::UNAUTHORIZED, "invalid_grant")
    } else {
        (StatusCode::BAD_REQUEST, "invalid_request")
    };
    ForticareError::OAuth(
        status,
        Box::new(TokenRefusal {
            error: error.to_owned(),
            error_description: if detail.is_empty() {
                entry.text.to_owned()
            } else {
                format!("{} {detail}", entry.text)
            },
            status: "error".to_owned(),
            message: "authentication failed".to_owned(),
        }),
    )
}

/// The token endpoint: the documented password grant, and the refresh grant.
async fn issue(
    state: &Forticare,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<(TokenAnswer, String), ForticareError> {
    let body = lab::http::read_body(request, payload.into_inner(), MAX_BODY)
        .await
        .map_err(|e| oauth_refusal(&modeled::OAUTH_INVALID_REQUEST, &e.to_string()))?;
    lab::journal::keep_request_body(request, &body);
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("x-www-form-urlencoded"));
    let form: TokenRequest = if is_form {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| oauth_refusal(&modeled::OAUTH_INVALID_REQUEST, &format!("({e})")))?
    } else {
        protocol::strict::from_slice(&body).map_err(|e| {
            oauth_refusal(
                &modeled::OAUTH_INVALID_REQUEST,
                &format!("(the body is not the JSON object documented: {e})"),
            )
        })?
    };
    let trigger = Trigger::new(v3::OAUTH_TOKEN);
    if let Some(fired) = scenario::fire(request, &trigger).await {
        match fired.action {
            ScenarioAction::Error(armed) => {
                return Err(oauth_refusal(
                    armed.error,
                    &format!("({})", fired.outcome()),
                ));
            }
            ScenarioAction::Status(status) => {
                let http = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                return Err(ForticareError::OAuth(
                    http,
                    Box::new(TokenRefusal {
                        error: "server_error".to_owned(),
                        error_description: fired.outcome(),
                        status: "error".to_owned(),
                        message: "authentication failed".to_owned(),
                    }),
                ));
            }
            ScenarioAction::Delay => {}
        }
    }
    if !form.client_id.is_empty() && form.client_id != v3::CLIENT_ID {
        return Err(oauth_refusal(
            &modeled::OAUTH_INVALID_REQUEST,
            &format!("(client_id must be `{}`)", v3::CLIENT_ID),
        ));
    }
    let now = state.clock.now();
    let (issued, user) = match form.grant_type.as_str() {
        v3::PASSWORD_GRANT => {
            for (field, value) in [("username", &form.username), ("password", &form.password)] {
                if value.is_empty() || value.len() > rules::MAX_TEXT {
                    return Err(oauth_refusal(
                        &modeled::OAUTH_INVALID_REQUEST,
                        &format!("({field} must be 1 to {} bytes)", rules::MAX_TEXT),
                    ));
                }
            }
            let Some(user) = state
                .ledger
                .check_password(&form.username, &form.password)?
            else {
                return Err(oauth_refusal(&modeled::OAUTH_INVALID_GRANT, ""));
            };
            let issued = state
                .ledger
                .issue_tokens(user.username.clone(), now)
                .await?
                .ok_or_else(|| oauth_refusal(&modeled::OAUTH_INVALID_GRANT, ""))?;
            (issued, user.username)
        }
        v3::REFRESH_GRANT => {
            let refresh = form.refresh_token.clone().unwrap_or_default();
            if refresh.is_empty() || refresh.len() > 512 {
                return Err(oauth_refusal(
                    &modeled::OAUTH_INVALID_REQUEST,
                    "(refresh_token is required)",
                ));
            }
            let issued = state
                .ledger
                .refresh_tokens(refresh, now)
                .await?
                .ok_or_else(|| oauth_refusal(&modeled::OAUTH_INVALID_GRANT, ""))?;
            (issued, "(refresh)".to_owned())
        }
        other => {
            return Err(oauth_refusal(
                &modeled::OAUTH_INVALID_REQUEST,
                &format!(
                    "(grant_type `{}` is neither `password` nor `refresh_token`)",
                    other.chars().take(32).collect::<String>()
                ),
            ));
        }
    };
    Ok((
        TokenAnswer {
            access_token: issued.access,
            expires_in: v3::ACCESS_TOKEN_SECS,
            message: "successfully authenticated".to_owned(),
            refresh_token: issued.refresh,
            scope: "read write".to_owned(),
            status: "success".to_owned(),
            token_type: "Bearer".to_owned(),
        },
        user,
    ))
}

#[utoipa::path(post, path = paths::V3_LICENSES_REGISTER, tag = "FortiCare v3 API", request_body = LicenseRegisterRequest,
    security(("v3_bearer" = [])),
    responses(
        (status = 200, description = "The license registered to the account (and to `serialNumber`, as after its first import).", body = Envelope<AssetDetails>),
        (status = 400, description = "`Invalid incoming request.` (status -1) naming the field, or a failed batch (errorCode 301).", body = Object),
        (status = 401, description = "A missing, unknown or expired bearer token (errorCode 401).", body = Object),
        (status = 429, description = "With `--forticare-rate-limits`: a documented limit (errorCode 601, 602, 603).", body = Object)))]
async fn licenses_register(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    serve(
        state,
        request,
        payload,
        v3::LICENSES_REGISTER,
        |state, call| async move {
            let body: LicenseRegisterRequest = call.decode()?;
            let code = match body.license_registration_code.as_deref().map(str::trim) {
                None | Some("") => {
                    return Err(invalid("licenseRegistrationCode is required.", &call.token));
                }
                Some(text) => text.parse::<LicenseActivationCode>().map_err(|_| {
                    refused(
                        &modeled::V3_LICENSE_CODE_INVALID,
                        format!("({})", text.chars().take(40).collect::<String>()),
                        &call.token,
                    )
                })?,
            };
            let serial = match body.serial_number.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(_) => Some(serial_field(
                    body.serial_number.as_deref(),
                    "serialNumber",
                    &call.token,
                )?),
            };
            bounded(&body.description, "description", &call.token)?;
            bounded(&body.additional_info, "additionalInfo", &call.token)?;
            let account = account(&call, body.account_id)?;
            let registered = state
                .ledger
                .register_license(
                    call.user.clone(),
                    account,
                    code,
                    serial,
                    body.description.clone(),
                    state.clock.now(),
                )
                .await?;
            let (license, product) = registered.map_err(|r| from_refusal(r, &call.token))?;
            let licenses = state.ledger.all_licenses()?;
            let refs: Vec<&License> = licenses.iter().collect();
            let mut asset = match &product {
                Some(product) => rules::asset(product, &refs),
                None => rules::pending_asset(&license),
            };
            asset.license = rules::license_asset(&license);
            let result = format!(
                "{} registered to {}",
                license.id,
                product
                    .as_ref()
                    .map_or("the account".to_owned(), |p| p.serial.to_string())
            );
            Ok(call.ok(
                AssetDetails {
                    asset_details: asset,
                },
                result,
            ))
        },
    )
    .await
}

#[utoipa::path(post, path = paths::V3_LICENSES_LIST, tag = "FortiCare v3 API", request_body = LicenseListRequest,
    security(("v3_bearer" = [])),
    responses(
        (status = 200, description = "The account's licenses matching the filters.", body = Envelope<LicenseList>),
        (status = 400, description = "`Invalid incoming request.` (status -1) naming the field, or a failed batch (errorCode 301).", body = Object),
        (status = 401, description = "A missing, unknown or expired bearer token (errorCode 401).", body = Object),
        (status = 429, description = "With `--forticare-rate-limits`: a documented limit (errorCode 601, 602, 603).", body = Object)))]
async fn licenses_list(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    serve(
        state,
        request,
        payload,
        v3::LICENSES_LIST,
        |state, call| async move {
            let body: LicenseListRequest = call.decode()?;
            if let Some(status) = &body.status
                && !matches!(
                    status.as_str(),
                    "Registered" | "Pending" | "Expired" | "Decommissioned"
                )
            {
                return Err(invalid(
                    "status must be Registered, Pending, Expired or Decommissioned.",
                    &call.token,
                ));
            }
            bounded(&body.license_number, "licenseNumber", &call.token)?;
            bounded(&body.license_sku, "licenseSKU", &call.token)?;
            let account = account(&call, body.account_id)?;
            let (licenses, _) = state.ledger.account_view(account)?;
            let listed: Vec<v3::LicenseAsset> = licenses
                .iter()
                .filter(|l| l.account == Some(account))
                .filter_map(rules::license_asset)
                .filter(|l| {
                    body.license_number
                        .as_deref()
                        .is_none_or(|n| l.license_number.eq_ignore_ascii_case(n.trim()))
                })
                .filter(|l| {
                    body.license_sku
                        .as_deref()
                        .is_none_or(|s| l.license_sku.eq_ignore_ascii_case(s.trim()))
                })
                .filter(|l| body.status.as_deref().is_none_or(|s| l.status == s))
                .collect();
            let result = format!("{} licenses listed", listed.len());
            Ok(call.ok(LicenseList { licenses: listed }, result))
        },
    )
    .await
}

#[utoipa::path(post, path = paths::V3_LICENSES_DOWNLOAD, tag = "FortiCare v3 API", request_body = LicenseDownloadRequest,
    security(("v3_bearer" = [])),
    responses(
        (status = 200, description = "The product's license file.", body = Envelope<LicenseFile>),
        (status = 400, description = "`Invalid incoming request.` (status -1) naming the field, or a failed batch (errorCode 301).", body = Object),
        (status = 401, description = "A missing, unknown or expired bearer token (errorCode 401).", body = Object),
        (status = 429, description = "With `--forticare-rate-limits`: a documented limit (errorCode 601, 602, 603).", body = Object)))]
async fn licenses_download(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    serve(
        state,
        request,
        payload,
        v3::LICENSES_DOWNLOAD,
        |state, call| async move {
            let body: LicenseDownloadRequest = call.decode()?;
            let serial = serial_field(body.serial_number.as_deref(), "serialNumber", &call.token)?;
            let (product, licenses) = state.ledger.product_view(&serial)?;
            if !product.is_some_and(|p| call.user.may_act_on(p.account)) {
                return Err(refused(
                    &modeled::V3_PRODUCT_NOT_FOUND,
                    format!("({serial})"),
                    &call.token,
                ));
            }
            let mine: Vec<_> = licenses
                .iter()
                .filter(|l| {
                    !l.id.is_trial() && l.owner.as_ref().is_some_and(|o| o.appliance == serial)
                })
                .map(|l| (l.id.clone(), l.seats))
                .collect();
            let result = format!("license file of {serial} ({} licenses)", mine.len());
            Ok(call.ok(
                LicenseFile {
                    serial_number: serial.to_string(),
                    license_file: modeled::v3_license_file(&serial, &mine),
                },
                result,
            ))
        },
    )
    .await
}

#[utoipa::path(post, path = paths::V3_PRODUCTS_LIST, tag = "FortiCare v3 API", request_body = ProductListRequest,
    security(("v3_bearer" = [])),
    responses(
        (status = 200, description = "One page of the account's products (with `expireBefore`, those with an entitlement ending before that day: a support contract's; a FortiToken Mobile license never ends).", body = Envelope<AssetPage>),
        (status = 400, description = "`Invalid incoming request.` (status -1) naming the field, or a failed batch (errorCode 301).", body = Object),
        (status = 401, description = "A missing, unknown or expired bearer token (errorCode 401).", body = Object),
        (status = 429, description = "With `--forticare-rate-limits`: a documented limit (errorCode 601, 602, 603).", body = Object)))]
async fn products_list(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    serve(
        state,
        request,
        payload,
        v3::PRODUCTS_LIST,
        |state, call| async move {
            let body: ProductListRequest = call.decode()?;
            bounded(&body.serial_number, "serialNumber", &call.token)?;
            let before = match body.expire_before.as_deref() {
                None => None,
                Some(text) => Some(rules::expire_before(text).ok_or_else(|| {
                    invalid(
                        "expireBefore must be a date-time such as 2040-01-01T00:00:00+0:00.",
                        &call.token,
                    )
                })?),
            };
            let page_number = body.page_number.unwrap_or(1);
            if page_number == 0 {
                return Err(invalid("pageNumber starts at 1.", &call.token));
            }
            let account = account(&call, body.account_id)?;
            let (licenses, mut products) = state.ledger.account_view(account)?;
            products.sort_by(|a, b| a.serial.cmp(&b.serial));
            let refs: Vec<&License> = licenses.iter().collect();
            let assets: Vec<v3::Asset> = products
                .iter()
                .filter(|p| {
                    body.serial_number
                        .as_deref()
                        .is_none_or(|f| v3::serial_matches(f, p.serial.as_str()))
                })
                .map(|p| rules::asset(p, &refs))
                .filter(|a| before.is_none_or(|before| rules::expires_before(a, before)))
                .collect();
            let (assets, total_pages) = rules::page(assets, page_number);
            let result = format!("{} products listed (page {page_number})", assets.len());
            Ok(call.ok(
                AssetPage {
                    assets,
                    page_number,
                    total_pages,
                },
                result,
            ))
        },
    )
    .await
}

#[utoipa::path(post, path = paths::V3_PRODUCTS_DETAILS, tag = "FortiCare v3 API", request_body = ProductDetailsRequest,
    security(("v3_bearer" = [])),
    responses(
        (status = 200, description = "The product with its licenses and entitlements.", body = Envelope<AssetDetails>),
        (status = 400, description = "`Invalid incoming request.` (status -1) naming the field, or a failed batch (errorCode 301).", body = Object),
        (status = 401, description = "A missing, unknown or expired bearer token (errorCode 401).", body = Object),
        (status = 429, description = "With `--forticare-rate-limits`: a documented limit (errorCode 601, 602, 603).", body = Object)))]
async fn products_details(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    serve(
        state,
        request,
        payload,
        v3::PRODUCTS_DETAILS,
        |state, call| async move {
            let body: ProductDetailsRequest = call.decode()?;
            let serial = serial_field(body.serial_number.as_deref(), "serialNumber", &call.token)?;
            let (product, licenses) = state.ledger.product_view(&serial)?;
            let Some(product) = product.filter(|p| call.user.may_act_on(p.account)) else {
                return Err(refused(
                    &modeled::V3_PRODUCT_NOT_FOUND,
                    format!("({serial})"),
                    &call.token,
                ));
            };
            let refs: Vec<&License> = licenses.iter().collect();
            let result = format!("details of {serial}");
            Ok(call.ok(
                AssetDetails {
                    asset_details: rules::asset(&product, &refs),
                },
                result,
            ))
        },
    )
    .await
}

/// The answer of a batch: 200 when every unit succeeded, else 400 with errorCode 301 and the units.
fn batch_answer(
    call: &Call,
    outcomes: &[(
        ApplianceSerial,
        Result<rules::Product, &'static CatalogueEntry>,
    )],
    licenses: &[License],
    verb: &str,
) -> Result<HttpResponse, ForticareError> {
    let assets: Vec<v3::UnitOutcome> = outcomes
        .iter()
        .map(|(serial, outcome)| unit_outcome(serial, outcome, licenses))
        .collect();
    let failed = outcomes.iter().filter(|(_, o)| o.is_err()).count();
    if failed == 0 {
        let result = format!("{} products {verb}", outcomes.len());
        return Ok(call.ok(UnitOutcomes { assets }, result));
    }
    let mut error = refused(&V3_OPERATION_FAILED, "", &call.token);
    if let ForticareError::V3(failure) = &mut error {
        failure.payload.insert(
            "assets".to_owned(),
            serde_json::to_value(&assets).unwrap_or_default(),
        );
    }
    Err(error)
}

#[utoipa::path(post, path = paths::V3_PRODUCTS_REGISTER, tag = "FortiCare v3 API", request_body = ProductRegisterRequest,
    security(("v3_bearer" = [])),
    responses(
        (status = 200, description = "Each unit's outcome; a unit with a `contractNumber` gets that support contract (a term of a year, with its entitlement).", body = Envelope<UnitOutcomes>),
        (status = 400, description = "`Invalid incoming request.` (status -1) naming the field, or a failed batch (errorCode 301: each unit's `message`; after 5 failed units the rest are not processed).", body = Object),
        (status = 401, description = "A missing, unknown or expired bearer token (errorCode 401).", body = Object),
        (status = 429, description = "With `--forticare-rate-limits`: a documented limit (errorCode 601, 602, 603).", body = Object)))]
async fn products_register(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    serve(
        state,
        request,
        payload,
        v3::PRODUCTS_REGISTER,
        |state, call| async move {
            let body: ProductRegisterRequest = call.decode()?;
            if body.registration_units.is_empty() {
                return Err(invalid("registrationUnits is required.", &call.token));
            }
            if body.registration_units.len() > v3::MAX_BATCH_UNITS {
                return Err(refused(
                    &modeled::V3_BATCH_TOO_LARGE,
                    format!("({} units)", body.registration_units.len()),
                    &call.token,
                ));
            }
            let mut units = Vec::with_capacity(body.registration_units.len());
            for (i, unit) in body.registration_units.iter().enumerate() {
                let serial = serial_field(
                    unit.serial_number.as_deref(),
                    &format!("registrationUnits[{i}].serialNumber"),
                    &call.token,
                )?;
                if let Some(key) = &unit.cloud_key
                    && !modeled::v3_cloud_key_is_valid(key.trim())
                {
                    return Err(refused(
                        &V3_INVALID_CLOUD_KEY,
                        format!("Invalid cloud key provided for registration units[{i}]. "),
                        &call.token,
                    ));
                }
                for (field, value) in [
                    ("description", &unit.description),
                    ("additionalInfo", &unit.additional_info),
                    ("contractNumber", &unit.contract_number),
                ] {
                    bounded(
                        value,
                        &format!("registrationUnits[{i}].{field}"),
                        &call.token,
                    )?;
                }
                units.push((serial, unit.clone()));
            }
            let outcomes = state
                .ledger
                .register_products(call.user.clone(), units, state.clock.now())
                .await?;
            let licenses = state.ledger.all_licenses()?;
            batch_answer(&call, &outcomes, &licenses, "registered")
        },
    )
    .await
}

#[utoipa::path(post, path = paths::V3_PRODUCTS_TRANSFER, tag = "FortiCare v3 API", request_body = ProductTransferRequest,
    security(("v3_bearer" = [])),
    responses(
        (status = 200, description = "Each unit's outcome.", body = Envelope<UnitOutcomes>),
        (status = 400, description = "`Invalid incoming request.` (status -1) naming the field, or a failed batch (errorCode 301).", body = Object),
        (status = 401, description = "A missing, unknown or expired bearer token (errorCode 401).", body = Object),
        (status = 429, description = "With `--forticare-rate-limits`: a documented limit (errorCode 601, 602, 603).", body = Object)))]
async fn products_transfer(
    state: web::Data<Forticare>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    serve(
        state,
        request,
        payload,
        v3::PRODUCTS_TRANSFER,
        |state, call| async move {
            let body: ProductTransferRequest = call.decode()?;
            let (Some(source), Some(target)) = (body.source_account_id, body.target_account_id)
            else {
                return Err(invalid(
                    "sourceAccountId and targetAccountId are required.",
                    &call.token,
                ));
            };
            if source == target {
                return Err(invalid(
                    "sourceAccountId and targetAccountId are the same account.",
                    &call.token,
                ));
            }
            for account in [source, target] {
                if !call.user.may_act_on(account) {
                    return Err(refused(
                        &modeled::V3_ACCOUNT_NOT_ALLOWED,
                        format!("({account})"),
                        &call.token,
                    ));
                }
            }
            if body.serial_numbers.is_empty() {
                return Err(invalid("serialNumbers is required.", &call.token));
            }
            if body.serial_numbers.len() > v3::MAX_BATCH_UNITS {
                return Err(refused(
                    &modeled::V3_BATCH_TOO_LARGE,
                    format!("({} serial numbers)", body.serial_numbers.len()),
                    &call.token,
                ));
            }
            let mut serials = Vec::with_capacity(body.serial_numbers.len());
            for (i, serial) in body.serial_numbers.iter().enumerate() {
                serials.push(serial_field(
                    Some(serial),
                    &format!("serialNumbers[{i}]"),
                    &call.token,
                )?);
            }
            let outcomes = state
                .ledger
                .transfer_products(source, target, serials)
                .await?;
            let licenses = state.ledger.all_licenses()?;
            batch_answer(&call, &outcomes, &licenses, "transferred")
        },
    )
    .await
}
