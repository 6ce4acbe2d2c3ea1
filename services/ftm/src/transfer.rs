//! The token-transfer service (`modeled::TRANSFER_SERVICE`: ftm answers it): token transfer between phones,
//! DESIGN flow 8. The old phone starts a transfer with its tokens' data (`token/transfer/start`); the issuing
//! FortiAuthenticator fetches the transfer code (`token/transfer/code`) and sends it to the user; the new
//! phone redeems the code once on the Mobile endpoint (`SoftToken.MobileTransferRequest`) and gets the tokens;
//! the old phone learns the transfer completed (`token/transfer/status`) and removes its copies. Shapes are
//! `protocol::token_transfer`'s (modeled after FortiToken Cloud's `/api/v1/token/transfer/start`).
//!
//! Table `transfers` (transfer id → `TransferRecord`): the tokens' seeds sealed with the escrow key, the
//! code kept only as its SHA-256. Redeeming is one transaction that marks the transfer completed, so of any
//! number of phones redeeming one code exactly one gets the tokens.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lab::http::Json;
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
    tokens: Vec<SealedToken>,
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

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn refusal(entry: &CatalogueEntry) -> (i32, Option<protocol::catalogue::WireError>) {
    (entry.code.unwrap_or(1), Some(entry.wire_error()))
}

/// `POST token/transfer/start`: the old phone hands over its tokens' data.
#[utoipa::path(post, path = protocol::paths::TOKEN_TRANSFER_START, tag = "token transfer (Fortinet's wire)", request_body = TransferStart, responses((status = 200, description = "The old phone hands over its tokens' data: the transfer id, or `error` (and `result` non-zero) when refused.", body = TransferStarted)))]
pub(crate) async fn start(
    state: web::Data<Ftm>,
    Json(request): Json<TransferStart>,
) -> Result<HttpResponse, FtmError> {
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
    if !modeled::is_fortiauthenticator(&request.sn) {
        return Ok(refuse(&modeled::TRANSFER_NOT_TRANSFERABLE));
    }
    if request.tokens.is_empty()
        || request.tokens.len() > MAX_TOKENS
        || request.reg_id.trim().is_empty()
    {
        return Err(lab::http::ApiError::bad_request(
            "ftm.transfer.bad-request",
            format!("tokens: 1 to {MAX_TOKENS} tokens, and reg_id, are required"),
        )
        .into());
    }
    let mut seeds = Vec::new();
    for (i, token) in request.tokens.iter().enumerate() {
        let seed = Seed::from_hex(&token.seed).map_err(|e| {
            lab::http::ApiError::bad_request(
                "ftm.transfer.bad-request",
                format!("tokens[{i}].seed: {e}"),
            )
        })?;
        seeds.push(seed);
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
#[utoipa::path(post, path = protocol::paths::TOKEN_TRANSFER_CODE, tag = "token transfer (Fortinet's wire)", request_body = TransferCodeRequest, responses((status = 200, description = "The issuing FortiAuthenticator fetches the transfer code (a new one replaces an earlier one); `error` when refused.", body = TransferCodeIssued)))]
pub(crate) async fn code(
    state: web::Data<Ftm>,
    Json(request): Json<TransferCodeRequest>,
) -> Result<HttpResponse, FtmError> {
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
#[utoipa::path(post, path = protocol::paths::TOKEN_TRANSFER_STATUS, tag = "token transfer (Fortinet's wire)", request_body = TransferStatusRequest, responses((status = 200, description = "The old phone asks how its transfer went: `initialised`, `code-sent`, `completed` or `expired`.", body = TransferStatus)))]
pub(crate) async fn status(
    state: web::Data<Ftm>,
    Json(request): Json<TransferStatusRequest>,
) -> Result<HttpResponse, FtmError> {
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
            record.status = "completed".to_owned();
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
