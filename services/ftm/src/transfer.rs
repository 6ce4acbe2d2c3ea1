//! The token-transfer service (`modeled::TRANSFER_SERVICE`: ftm answers it): token transfer between phones,
//! DESIGN flow 8. The old phone starts a transfer with its tokens' data (`token/transfer/start`); the issuing
//! FortiAuthenticator fetches the transfer code (`token/transfer/code`) and sends it to the user; the new
//! phone redeems the code once on the Mobile endpoint (`SoftToken.MobileTransferRequest`) and gets the tokens;
//! the old phone learns the transfer completed (`token/transfer/status`) and removes its copies. Shapes are
//! `protocol::token_transfer`'s (modeled after FortiToken Cloud's `/api/v1/token/transfer/start`).
//!
//! Table `transfers` (transfer id → `TransferRecord`): the tokens' seeds sealed with the escrow key, the
//! code kept only as its SHA-256. Redeeming is one transaction that marks the transfer completed, deletes the
//! sealed seeds and the HMAC it held (only the serials stay, for the old phone's status), and records the new
//! phone as the tokens' activation (so the issuing appliance's next poll learns its `reg_id`), so of any
//! number of phones redeeming one code exactly one gets the tokens. Bad input on the three JSON endpoints is
//! refused with 400 in the endpoint's own shape (`modeled::TRANSFER_BAD_REQUEST`) before anything is stored.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::softtoken::reply;
use lab::store::{Reader, Record, StoreError, Table, Version};
use protocol::activation::TokenActivationCode;
use protocol::catalogue::CatalogueEntry;
use protocol::crypto::{Sealed, open, seal};
use protocol::id::MobileId;
use protocol::modeled::{self, TRANSFER_CODE_FLAG, TRANSFER_VALID_SECS};
use protocol::seed::{Seed, encrypt_for_phone};
use protocol::token_transfer::{
    MobileTransferRequest, MobileTransferResponse, TransferCodeIssued, TransferCodeRequest,
    TransferStart, TransferStarted, TransferStatus, TransferStatusRequest, TransferredToken,
};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::FtmError;
use crate::routes::Ftm;

pub(crate) const TRANSFERS: Table = Table::new("transfers");

/// Which transfer an issued code belongs to: the code's SHA-256 (hex) → the transfer's id, so a redemption
/// finds its transfer without reading the others.
pub(crate) const TRANSFER_CODES: Table = Table::new("transfer-codes");

/// The most tokens one transfer moves.
const MAX_TOKENS: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TransferRecord {
    v: Version<1>,
    id: String,
    sn: String,
    reg_id: String,
    hmac: String,
    /// The tokens with their sealed seeds; emptied once the transfer completes.
    tokens: Vec<SealedToken>,
    /// The serials a completed transfer moved (its seeds are gone by then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    moved: Vec<String>,
    created: i64,
    /// `started`, `code-issued` or `completed`.
    status: String,
    code_sha256: Option<String>,
    code_expires: Option<i64>,
}

impl Record for TransferRecord {
    const KIND: &'static str = "a token transfer record";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SealedToken {
    token: String,
    /// Base64 of the seed sealed with the escrow key.
    sealed_seed: String,
    kind: String,
    period: u32,
    digits: u32,
    counter: u64,
}

fn unseal_seed(key: &protocol::crypto::SealKey, sealed: &str) -> anyhow::Result<Seed> {
    let bytes = BASE64.decode(sealed)?;
    let sealed = Sealed::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plain = open(key, &sealed).map_err(|e| anyhow::anyhow!("{e}"))?;
    Seed::from_bytes(&plain).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Checks one entry of the code index of an imported state: a SHA-256 in hex naming a transfer id.
pub(crate) fn check_code_entry(key: &[u8], value: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(
        key.len() == 64 && key.iter().all(u8::is_ascii_hexdigit),
        "a transfer code's key is its SHA-256 in hex"
    );
    anyhow::ensure!(
        !value.is_empty() && value.iter().all(u8::is_ascii_hexdigit),
        "a transfer code names its transfer's id in hex"
    );
    Ok(())
}

/// Checks one record of an imported state: its seeds open with this escrow's key.
pub(crate) fn check_record(key: &protocol::crypto::SealKey, value: &[u8]) -> anyhow::Result<()> {
    let record: TransferRecord = lab::store::decode(value)?;
    for token in &record.tokens {
        unseal_seed(key, &token.sealed_seed)?;
    }
    Ok(())
}

/// The most a request to the transfer service may carry: [`MAX_TOKENS`] tokens with room to spare.
const BODY_LIMIT: usize = 256 * 1024;

/// Which endpoint refuses bad input: its answer keeps the endpoint's own shape.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Start,
    Code,
    Status,
}

/// Bad input on `endpoint`: 400 with the endpoint's answer refused by [`modeled::TRANSFER_BAD_REQUEST`], and
/// `detail` saying what was wrong (never a value from the request: it may hold a seed).
fn bad_request(endpoint: Endpoint, detail: impl Into<String>) -> FtmError {
    let entry = &modeled::TRANSFER_BAD_REQUEST;
    let (result, error) = refusal(entry);
    let answer = match endpoint {
        Endpoint::Start => serde_json::to_value(TransferStarted {
            result,
            transfer_id: None,
            message: entry.text.to_owned(),
            expires: None,
            error,
        }),
        Endpoint::Code => serde_json::to_value(TransferCodeIssued {
            result,
            transfer_code: None,
            expires: None,
            error,
        }),
        Endpoint::Status => serde_json::to_value(TransferStatus {
            result,
            status: String::new(),
            error,
        }),
    };
    let mut answer = answer.unwrap_or_default();
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("detail".to_owned(), detail.into().into());
    }
    FtmError::TransferBadRequest(answer)
}

/// A serde error without the values it quotes (`invalid type: string "…", expected u32` → `invalid type:
/// string, expected u32`): a quoted value may be a seed or an HMAC.
fn without_values(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let mut kept = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '"' | '`') => {
                quote = Some(c);
                while kept.ends_with(' ') {
                    kept.pop();
                }
            }
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, c) => kept.push(c),
        }
    }
    kept
}

/// A request to the transfer service: JSON whatever the content type, decoded into `T`; anything else is
/// [`bad_request`] in `endpoint`'s shape.
async fn read_request<T: DeserializeOwned>(
    http: &HttpRequest,
    payload: web::Payload,
    endpoint: Endpoint,
) -> Result<T, FtmError> {
    let body = lab::http::read_body(http, payload.into_inner(), BODY_LIMIT)
        .await
        .map_err(|e| bad_request(endpoint, e.to_string()))?;
    let document: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        bad_request(
            endpoint,
            format!("the body is not JSON: {}", without_values(&e)),
        )
    })?;
    if !document.is_object() {
        return Err(bad_request(endpoint, "the body is not a JSON object"));
    }
    T::deserialize(protocol::strict::Strict(document))
        .map_err(|e| bad_request(endpoint, without_values(&e)))
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn refusal(entry: &CatalogueEntry) -> (i32, Option<protocol::catalogue::WireError>) {
    (entry.code.unwrap_or(1), Some(entry.wire_error()))
}

/// `POST token/transfer/start`: the old phone hands over its tokens' data.
#[utoipa::path(post, path = protocol::paths::TOKEN_TRANSFER_START, tag = "token transfer (Fortinet's wire)", request_body = TransferStart, responses((status = 200, description = "The old phone hands over its tokens' data: the transfer id, or `error` (and `result` non-zero) when refused.", body = TransferStarted), (status = 400, description = "Bad input (not JSON, a field missing or of the wrong type): the answer refused with `ftm.transfer.bad-request` (56) and a `detail`; nothing is stored.", body = TransferStarted)))]
pub(crate) async fn start(
    state: web::Data<Ftm>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, FtmError> {
    let request: TransferStart = read_request(&http, payload, Endpoint::Start).await?;
    let refuse = |entry: &CatalogueEntry| {
        let (result, error) = refusal(entry);
        HttpResponse::Ok().json(TransferStarted {
            result,
            transfer_id: None,
            message: entry.text.to_owned(),
            expires: None,
            error,
        })
    };
    if request.tokens.is_empty() || request.tokens.len() > MAX_TOKENS {
        return Err(bad_request(
            Endpoint::Start,
            format!("tokens: 1 to {MAX_TOKENS} tokens are required"),
        ));
    }
    if request.reg_id.trim().is_empty() || request.sn.trim().is_empty() {
        return Err(bad_request(
            Endpoint::Start,
            "sn and reg_id must not be blank",
        ));
    }
    let mut seeds = Vec::new();
    for (i, token) in request.tokens.iter().enumerate() {
        if token.token.parse::<protocol::id::TokenSerial>().is_err() {
            return Err(bad_request(
                Endpoint::Start,
                format!("tokens[{i}].token: not a token serial"),
            ));
        }
        let seed = Seed::from_hex(&token.seed)
            .map_err(|e| bad_request(Endpoint::Start, format!("tokens[{i}].seed: {e}")))?;
        seeds.push(seed);
    }
    if !modeled::is_fortiauthenticator(&request.sn) {
        return Ok(refuse(&modeled::TRANSFER_NOT_TRANSFERABLE));
    }
    let pairs: Vec<(&str, &[u8])> = request
        .tokens
        .iter()
        .zip(&seeds)
        .map(|(t, s)| (t.token.as_str(), s.as_bytes()))
        .collect();
    let expected = modeled::transfer_hmac(&request.sn, &request.reg_id, &pairs);
    if !bool::from(expected.as_bytes().ct_eq(request.hmac.as_bytes())) {
        return Ok(refuse(&modeled::TRANSFER_UNKNOWN_TOKEN));
    }
    let now = state.clock.now();
    let id = hex::encode(rand::thread_rng().r#gen::<[u8; 8]>());
    let key = state.escrow.key.clone();
    let tokens = request
        .tokens
        .iter()
        .zip(&seeds)
        .map(|(t, seed)| SealedToken {
            token: t.token.clone(),
            sealed_seed: BASE64
                .encode(seal(&key, rand::thread_rng().r#gen(), seed.as_bytes()).to_bytes()),
            kind: t.kind.clone(),
            period: t.period,
            digits: t.digits,
            counter: t.counter,
        })
        .collect();
    let record = TransferRecord {
        v: Version,
        id: id.clone(),
        sn: request.sn.trim().to_ascii_uppercase(),
        reg_id: request.reg_id.clone(),
        hmac: request.hmac.clone(),
        tokens,
        moved: Vec::new(),
        created: now.secs(),
        status: "started".to_owned(),
        code_sha256: None,
        code_expires: None,
    };
    let stored = record.clone();
    state
        .escrow
        .store
        .write(move |tx| tx.put(TRANSFERS, stored.id.as_bytes(), &stored))
        .await
        .map_err(storage)?;
    Ok(HttpResponse::Ok().json(TransferStarted {
        result: 0,
        transfer_id: Some(id),
        message: "Transfer Initialization complete".to_owned(),
        expires: Some(now.secs() + TRANSFER_VALID_SECS),
        error: None,
    }))
}

fn storage(e: StoreError) -> FtmError {
    FtmError::Storage(e)
}

/// `POST token/transfer/code`: the issuing FortiAuthenticator fetches the transfer code (a new one replaces
/// an earlier one).
#[utoipa::path(post, path = protocol::paths::TOKEN_TRANSFER_CODE, tag = "token transfer (Fortinet's wire)", request_body = TransferCodeRequest, responses((status = 200, description = "The issuing FortiAuthenticator fetches the transfer code (a new one replaces an earlier one); `error` when refused.", body = TransferCodeIssued), (status = 400, description = "Bad input (not JSON, a field missing or of the wrong type): the answer refused with `ftm.transfer.bad-request` (56) and a `detail`; nothing is stored.", body = TransferCodeIssued)))]
pub(crate) async fn code(
    state: web::Data<Ftm>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, FtmError> {
    let request: TransferCodeRequest = read_request(&http, payload, Endpoint::Code).await?;
    if request.transfer_id.trim().is_empty() || request.sn.trim().is_empty() {
        return Err(bad_request(
            Endpoint::Code,
            "sn and transfer_id must not be blank",
        ));
    }
    let now = state.clock.now();
    let code = TokenActivationCode::new(TRANSFER_CODE_FLAG, rand::thread_rng().r#gen()).to_base32();
    let digest = sha256_hex(&code);
    let (id, sn) = (
        request.transfer_id.clone(),
        request.sn.trim().to_ascii_uppercase(),
    );
    let issued = state
        .escrow
        .store
        .write(move |tx| {
            let Some(mut record) = tx.record::<TransferRecord>(TRANSFERS, id.as_bytes())? else {
                return Ok(false);
            };
            if record.sn != sn
                || record.status == "completed"
                || now.secs() >= record.created + TRANSFER_VALID_SECS
            {
                return Ok(false);
            }
            if let Some(earlier) = &record.code_sha256 {
                tx.remove(TRANSFER_CODES, earlier.as_bytes())?;
            }
            tx.insert(TRANSFER_CODES, digest.as_bytes(), id.as_bytes())?;
            record.status = "code-issued".to_owned();
            record.code_sha256 = Some(digest);
            record.code_expires = Some(now.secs() + TRANSFER_VALID_SECS);
            tx.put(TRANSFERS, id.as_bytes(), &record)?;
            Ok(true)
        })
        .await
        .map_err(storage)?;
    if !issued {
        let (result, error) = refusal(&modeled::TRANSFER_UNKNOWN);
        return Ok(HttpResponse::Ok().json(TransferCodeIssued {
            result,
            transfer_code: None,
            expires: None,
            error,
        }));
    }
    Ok(HttpResponse::Ok().json(TransferCodeIssued {
        result: 0,
        transfer_code: Some(code),
        expires: Some(now.secs() + TRANSFER_VALID_SECS),
        error: None,
    }))
}

/// `POST token/transfer/status`: the old phone asks how its transfer went.
#[utoipa::path(post, path = protocol::paths::TOKEN_TRANSFER_STATUS, tag = "token transfer (Fortinet's wire)", request_body = TransferStatusRequest, responses((status = 200, description = "The old phone asks how its transfer went: `initialised`, `code-sent`, `completed` or `expired`.", body = TransferStatus), (status = 400, description = "Bad input (not JSON, a field missing or of the wrong type): the answer refused with `ftm.transfer.bad-request` (56) and a `detail`; nothing is stored.", body = TransferStatus)))]
pub(crate) async fn status(
    state: web::Data<Ftm>,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, FtmError> {
    let request: TransferStatusRequest = read_request(&http, payload, Endpoint::Status).await?;
    if request.transfer_id.trim().is_empty() || request.reg_id.trim().is_empty() {
        return Err(bad_request(
            Endpoint::Status,
            "transfer_id and reg_id must not be blank",
        ));
    }
    let record = state
        .escrow
        .store
        .read(|r| r.record::<TransferRecord>(TRANSFERS, request.transfer_id.as_bytes()))
        .map_err(storage)?;
    let now = state.clock.now().secs();
    Ok(HttpResponse::Ok().json(match record {
        Some(record) if record.reg_id == request.reg_id => {
            let expired = record.status != "completed"
                && now
                    >= record
                        .code_expires
                        .unwrap_or(record.created + TRANSFER_VALID_SECS);
            TransferStatus {
                result: 0,
                status: if expired {
                    "expired".to_owned()
                } else {
                    record.status
                },
                error: None,
            }
        }
        _ => {
            let (result, error) = refusal(&modeled::TRANSFER_UNKNOWN);
            TransferStatus {
                result,
                status: String::new(),
                error,
            }
        }
    }))
}

/// How a redemption went.
enum Redeemed {
    Tokens(Vec<(SealedToken, Seed)>, String),
    Refused(&'static CatalogueEntry),
}

/// The new phone redeems a transfer code on the Mobile endpoint: exactly once.
pub(crate) async fn redeem(
    state: &Ftm,
    _http: &HttpRequest,
    request: MobileTransferRequest,
) -> Result<HttpResponse, FtmError> {
    const TYPE: &str = <MobileTransferRequest as protocol::envelope::Message>::TYPE;
    let refused = |entry: &'static CatalogueEntry| {
        reply(
            &MobileTransferResponse::refused(entry.wire_error()),
            TYPE,
            format!("refused: {}", entry.id),
        )
    };
    let mobile_id: MobileId = match request.mobile_id.parse() {
        Ok(id) => id,
        Err(e) => {
            return Err(lab::softtoken::Fault::invalid(TYPE, format!("mobile_id: {e}")).into());
        }
    };
    let code = modeled::transfer_code_from_input(&request.transfer_code).to_ascii_uppercase();
    if TokenActivationCode::payload_from_input(&code).is_err() {
        return Ok(refused(&modeled::TRANSFER_CODE_INVALID));
    }
    let digest = sha256_hex(&code);
    let now = state.clock.now();
    let key = state.escrow.key.clone();
    let activation = crate::escrow::Activation {
        mobile_id_hash: modeled::mobile_id_hash(&mobile_id),
        reg_id: request.registration_id.trim().to_owned(),
        os_ver: request.device_version.trim().to_owned(),
        at: now,
    };
    let outcome = state
        .escrow
        .store
        .write(move |tx| {
            let found = match tx.get(TRANSFER_CODES, digest.as_bytes())? {
                Some(id) => tx
                    .record::<TransferRecord>(TRANSFERS, &id)?
                    .filter(|record| record.code_sha256.as_deref() == Some(digest.as_str()))
                    .map(|record| (id, record)),
                None => None,
            };
            let Some((id, mut record)) = found else {
                return Ok(Redeemed::Refused(&modeled::TRANSFER_CODE_INVALID));
            };
            if record.status == "completed" {
                return Ok(Redeemed::Refused(&modeled::TRANSFER_CODE_USED));
            }
            if now.secs() >= record.code_expires.unwrap_or_default() {
                return Ok(Redeemed::Refused(&modeled::TRANSFER_CODE_EXPIRED));
            }
            let mut tokens = Vec::new();
            for token in &record.tokens {
                let seed = unseal_seed(&key, &token.sealed_seed)
                    .map_err(|e| StoreError::corrupt(format!("a transfer's seed: {e:#}")))?;
                tokens.push((token.clone(), seed));
            }
            // The seeds leave with the new phone: nothing of the transfer's key material stays behind.
            for (token, _) in &tokens {
                crate::store::note_transferred(tx, &token.token, &activation)?;
            }
            record.status = "completed".to_owned();
            record.moved = record.tokens.drain(..).map(|t| t.token).collect();
            record.hmac.clear();
            tx.put(TRANSFERS, &id, &record)?;
            Ok(Redeemed::Tokens(tokens, record.sn))
        })
        .await
        .map_err(storage)?;
    let (tokens, issuer) = match outcome {
        Redeemed::Refused(entry) => return Ok(refused(entry)),
        Redeemed::Tokens(tokens, issuer) => (tokens, issuer),
    };
    let response = MobileTransferResponse {
        version: request.version.clone(),
        device_version: request.device_version.clone(),
        device_build: request.device_build.clone(),
        mobile_id_hash: modeled::mobile_id_hash(&mobile_id),
        tokens: tokens
            .iter()
            .map(|(token, seed)| TransferredToken {
                token: token.token.clone(),
                seed: encrypt_for_phone(seed, &mobile_id),
                issuer: issuer.clone(),
                kind: token.kind.clone(),
                period: token.period,
                digits: token.digits,
                counter: token.counter,
            })
            .collect(),
        result: 0,
        error: None,
    };
    let count = response.tokens.len();
    Ok(reply(
        &response,
        TYPE,
        format!("{count} tokens transferred"),
    ))
}
