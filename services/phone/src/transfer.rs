//! Token transfer between phones, the phones' side (DESIGN flow 8): the old phone starts a transfer of the
//! tokens a FortiAuthenticator issued (its tokens' data to the transfer service, then the request for the
//! transfer code to the FAC, which sends the code to the user), later checks how it went and removes its
//! copies once another phone completed it; the new phone redeems the code on the Mobile endpoint and
//! installs the tokens. Wire shapes: `protocol::token_transfer` (modeled).

use actix_web::http::StatusCode;
use actix_web::http::uri::Authority;
use actix_web::{HttpResponse, web};
use lab::flow::InFlow;
use lab::http::{ApiError, Json};
use protocol::catalogue::CATALOGUE;
use protocol::envelope::Envelope;
use protocol::id::TokenSerial;
use protocol::modeled;
use protocol::paths;
use protocol::phone::{
    CheckTransfer, CompleteTransfer, StartTransfer, TransferInstalled, TransferView,
};
use protocol::seed::decrypt_from_server;
use protocol::token_transfer::{
    MobileTransferRequest, MobileTransferResponse, TransferStart, TransferStarted, TransferStatus,
    TransferStatusRequest, TransferTokenAccepted, TransferTokenData, TransferTokenRequest,
};

use crate::app_data::Delivered;
use crate::error::PhoneError;
use crate::routes::{Phones, find};

fn refused(status: StatusCode, id: &'static str, message: impl Into<String>) -> PhoneError {
    ApiError::new(status, id, message.into()).into()
}

/// A refusal on the wire as the catalogue names it.
fn wire_refusal(error: &protocol::catalogue::WireError) -> PhoneError {
    let id = CATALOGUE
        .iter()
        .find(|entry| entry.matches(error))
        .map_or("phone.transfer-refused", |entry| entry.id);
    refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        id,
        format!("{} ({})", error.error_message, error.error_code),
    )
}

fn unreachable(what: &str, e: impl std::fmt::Display) -> PhoneError {
    refused(
        StatusCode::BAD_GATEWAY,
        "phone.transfer-unreachable",
        format!("{what}: {e}"),
    )
}

/// The FortiAuthenticator's address a transfer names (`host` or `host:port`, as its ftm-push `server` and
/// port are set), checked before anything is sent: a transfer started at ftm for an address the phone then
/// cannot call would leave the tokens' data there for nothing.
fn fac_address(fac: &str) -> Result<Authority, PhoneError> {
    let bad = |why: &str| {
        refused(
            StatusCode::BAD_REQUEST,
            "phone.bad-fac",
            format!("fac: {why}; expected the FortiAuthenticator's host or host:port"),
        )
    };
    let fac = fac.trim();
    if fac.is_empty() {
        return Err(bad("empty"));
    }
    let authority: Authority = fac.parse().map_err(|_| bad("not a host or host:port"))?;
    if fac.contains('@') {
        return Err(bad("names a user"));
    }
    if authority.host().is_empty() {
        return Err(bad("no host"));
    }
    // What follows the host (past an IPv6 address's brackets) is the port, if anything.
    let after_host = fac.rsplit_once(']').map_or(fac, |(_, rest)| rest);
    if after_host.contains(':') && authority.port_u16().is_none_or(|port| port == 0) {
        return Err(bad("the port is not a number from 1 to 65535"));
    }
    Ok(authority)
}

/// `POST /phones/{id}/transfer`: "Transfer Tokens" on the old phone.
#[utoipa::path(post, path = paths::PHONE_TRANSFER, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")), request_body = StartTransfer, responses((status = 201, description = "\"Transfer Tokens\" on the old phone: the transfer, its code sent to the user by the FortiAuthenticator.", body = TransferView), (status = 400, description = "`phone.bad-fac` (not a host or host:port), `phone.transfer-mixed-issuers`, or a body that does not parse; nothing is sent.", body = protocol::admin::ErrorBody), (status = 404, description = "`phone.not-found`.", body = protocol::admin::ErrorBody), (status = 422, description = "The refusal on the wire, with its catalogue id.", body = protocol::admin::ErrorBody), (status = 502, description = "`phone.transfer-unreachable`.", body = protocol::admin::ErrorBody)))]
pub(crate) async fn start(
    state: web::Data<Phones>,
    id: web::Path<String>,
    Json(request): Json<StartTransfer>,
) -> Result<HttpResponse, PhoneError> {
    let phone = find(&state, &id)?;
    let fac = fac_address(&request.fac)?;
    let accounts: Vec<_> = phone
        .app
        .accounts
        .iter()
        .filter(|a| request.tokens.is_empty() || request.tokens.contains(&a.serial))
        .cloned()
        .collect();
    if accounts.is_empty() {
        return Err(refused(
            StatusCode::NOT_FOUND,
            "phone.token-not-found",
            format!("phone {id} has none of the tokens to transfer"),
        ));
    }
    let issuer = accounts[0].issuer.clone();
    if accounts.iter().any(|a| a.issuer != issuer) {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "phone.transfer-mixed-issuers",
            "a transfer moves the tokens of one FortiAuthenticator: name them in `tokens`",
        ));
    }
    let mut data = Vec::new();
    let mut seeds = Vec::new();
    for account in &accounts {
        let seed = phone
            .app
            .seed_of(&phone.identity.mobile_id, account)
            .map_err(|error| PhoneError::AppData {
                phone: id.to_string(),
                error,
            })?;
        data.push(TransferTokenData {
            token: account.serial.to_string(),
            seed: seed.to_hex_upper(),
            kind: account.kind.as_str().to_owned(),
            period: account.period,
            digits: account.digits,
            counter: account.counter,
        });
        seeds.push(seed);
    }
    let reg_id = phone.identity.registration_id.clone();
    let pairs: Vec<(&str, &[u8])> = data
        .iter()
        .zip(&seeds)
        .map(|(d, s)| (d.token.as_str(), s.as_bytes()))
        .collect();
    let hmac = modeled::transfer_hmac(&issuer, &reg_id, &pairs);
    // Steps 1–4: the transfer service keeps the tokens' data.
    let url = format!("{}{}", state.ftm.base_url, paths::TOKEN_TRANSFER_START);
    let started: TransferStarted = state
        .ftm
        .http
        .post(&url)
        .in_flow()
        .json(&TransferStart {
            sn: issuer.clone(),
            tokens: data,
            reg_id: reg_id.clone(),
            hmac: hmac.clone(),
            msg_sn: protocol::token_transfer::MSG_SN_MOBILE.to_owned(),
        })
        .send()
        .await
        .map_err(|e| unreachable(&url, e))?
        .json()
        .await
        .map_err(|e| unreachable(&url, e))?;
    if let Some(error) = &started.error {
        return Err(wire_refusal(error));
    }
    let transfer_id = started.transfer_id.unwrap_or_default();
    // Steps 5–7: the FAC gets the transfer code and sends it to the user.
    let scheme = if state.secure_callbacks {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{fac}{}", paths::FAC_TRANSFERTOKEN);
    let tokens: Vec<TokenSerial> = accounts.iter().map(|a| a.serial.clone()).collect();
    let response = state
        .callbacks
        .post(&url)
        .in_flow()
        .json(&TransferTokenRequest {
            sn: issuer.clone(),
            transfer_id: transfer_id.clone(),
            tokens: tokens.iter().map(ToString::to_string).collect(),
            reg_id,
            hmac,
        })
        .send()
        .await
        .map_err(|e| unreachable(&url, e))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone.transfer-refused-by-fac",
            format!(
                "the FortiAuthenticator refused the transfer (HTTP {status}): {}",
                body["error"].as_str().unwrap_or_default()
            ),
        ));
    }
    let accepted: TransferTokenAccepted =
        serde_json::from_value(body).map_err(|e| unreachable(&url, e))?;
    Ok(HttpResponse::Created().json(TransferView {
        transfer_id,
        tokens,
        issuer,
        status: "code-sent".to_owned(),
        method: Some(accepted.method),
    }))
}

/// `POST /phones/{id}/transfer/check`: the old phone asks how the transfer went; once another phone completed
/// it, this one removes the tokens.
#[utoipa::path(post, path = paths::PHONE_TRANSFER_CHECK, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")), request_body = CheckTransfer, responses((status = 200, description = "The old phone asks how the transfer went; once another phone completed it, this one removes the tokens.", body = TransferView), (status = 404, description = "`phone.not-found`.", body = protocol::admin::ErrorBody), (status = 422, description = "The refusal on the wire, with its catalogue id.", body = protocol::admin::ErrorBody), (status = 502, description = "`phone.transfer-unreachable`.", body = protocol::admin::ErrorBody)))]
pub(crate) async fn check(
    state: web::Data<Phones>,
    id: web::Path<String>,
    Json(request): Json<CheckTransfer>,
) -> Result<HttpResponse, PhoneError> {
    let phone = find(&state, &id)?;
    let url = format!("{}{}", state.ftm.base_url, paths::TOKEN_TRANSFER_STATUS);
    let status: TransferStatus = state
        .ftm
        .http
        .post(&url)
        .in_flow()
        .json(&TransferStatusRequest {
            transfer_id: request.transfer_id.clone(),
            reg_id: phone.identity.registration_id.clone(),
        })
        .send()
        .await
        .map_err(|e| unreachable(&url, e))?
        .json()
        .await
        .map_err(|e| unreachable(&url, e))?;
    if let Some(error) = &status.error {
        return Err(wire_refusal(error));
    }
    let issuer = phone
        .app
        .accounts
        .iter()
        .find(|a| request.tokens.contains(&a.serial))
        .map(|a| a.issuer.clone())
        .unwrap_or_default();
    if status.status == "completed" {
        let tokens = request.tokens.clone();
        state
            .phones
            .update(&id, move |phone| {
                for token in &tokens {
                    phone.app.remove(token);
                }
                Ok::<(), ()>(())
            })
            .await?;
    }
    Ok(HttpResponse::Ok().json(TransferView {
        transfer_id: request.transfer_id,
        tokens: request.tokens,
        issuer,
        status: status.status,
        method: None,
    }))
}

/// `POST /phones/{id}/transfer/complete`: "Complete Token Transfer" on the new phone.
#[utoipa::path(post, path = paths::PHONE_TRANSFER_COMPLETE, tag = "virtual phones", params(("id" = String, Path, description = "The phone's id (`phone-1`, …).")), request_body = CompleteTransfer, responses((status = 201, description = "\"Complete Token Transfer\" on the new phone: the tokens it installed.", body = TransferInstalled), (status = 404, description = "`phone.not-found`.", body = protocol::admin::ErrorBody), (status = 422, description = "The refusal on the wire, with its catalogue id.", body = protocol::admin::ErrorBody), (status = 502, description = "`phone.transfer-unreachable`.", body = protocol::admin::ErrorBody)))]
pub(crate) async fn complete(
    state: web::Data<Phones>,
    id: web::Path<String>,
    Json(body): Json<CompleteTransfer>,
) -> Result<HttpResponse, PhoneError> {
    let phone = find(&state, &id)?;
    let code = modeled::transfer_code_from_input(&body.code);
    let message = MobileTransferRequest {
        version: crate::provisioning::MESSAGE_VERSION.to_owned(),
        device_version: phone.identity.os_ver(),
        device_build: phone.identity.build.clone(),
        mobile_id: phone.identity.mobile_id.to_string(),
        registration_id: phone.identity.registration_id.clone(),
        transfer_code: code,
    };
    let url = format!("{}{}", state.ftm.base_url, paths::MOBILE);
    let bytes = state
        .ftm
        .http
        .post(&url)
        .in_flow()
        .header("content-type", "application/json;charset=utf-8")
        .body(Envelope::to_vec(&message))
        .send()
        .await
        .map_err(|e| unreachable(&url, e))?
        .bytes()
        .await
        .map_err(|e| unreachable(&url, e))?;
    let Envelope(answer) = serde_json::from_slice::<Envelope<MobileTransferResponse>>(&bytes)
        .map_err(|e| unreachable(&url, format!("not a MobileTransferResponse: {e}")))?;
    if let Some(error) = &answer.error {
        return Err(wire_refusal(error));
    }
    let mut delivered = Vec::new();
    for token in &answer.tokens {
        let seed = decrypt_from_server(&token.seed, &phone.identity.mobile_id)
            .map_err(|e| unreachable(&url, format!("seed of {}: {e}", token.token)))?;
        delivered.push(Delivered {
            serial: token
                .token
                .parse()
                .map_err(|e| unreachable(&url, format!("token: {e}")))?,
            seed,
            kind: protocol::otp::OtpKind::parse(&token.kind)
                .unwrap_or(protocol::otp::OtpKind::Totp),
            period: token.period,
            digits: token.digits,
            counter: token.counter,
            issuer: token.issuer.clone(),
            image_file: String::new(),
            pin_required: "N".to_owned(),
            pin_length: 0,
            pin_required_type: 0,
        });
    }
    let lab_ms = state.clock.now_ms();
    let stored = state
        .phones
        .update(&id, move |current| {
            let activated_ms =
                lab_ms.saturating_add(current.identity.clock_skew_secs.saturating_mul(1000));
            delivered
                .iter()
                .map(|d| {
                    current
                        .app
                        .store(&current.identity.mobile_id, d, activated_ms)
                        .map(|account| account.view())
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    match stored {
        Some(Ok(tokens)) => Ok(HttpResponse::Created().json(TransferInstalled { tokens })),
        Some(Err(error)) => Err(PhoneError::AppData {
            phone: id.to_string(),
            error,
        }),
        None => Err(PhoneError::NotFound(id.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fac_address_is_a_host_with_or_without_its_port() {
        for (given, address) in [
            ("fac.lab.example:443", "fac.lab.example:443"),
            (" 10.0.0.5:8443 ", "10.0.0.5:8443"),
            ("fac.lab.example", "fac.lab.example"),
            ("[::1]:8443", "[::1]:8443"),
        ] {
            assert_eq!(fac_address(given).unwrap().as_str(), address, "{given}");
        }
        for given in [
            "",
            "  ",
            "fac.lab.example/api",
            "admin@fac.lab.example",
            "fac.lab.example:https",
            "fac.lab.example:0",
            "fac.lab.example:",
            "fac.lab.example:70000",
            "fac lab",
            "https://fac.lab.example",
        ] {
            assert!(fac_address(given).is_err(), "{given:?}");
        }
    }
}
