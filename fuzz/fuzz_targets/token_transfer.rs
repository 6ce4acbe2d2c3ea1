//! Fuzz target: every request of token transfer between phones (`protocol::token_transfer`), as its server
//! reads it before touching a store. The first byte picks the request, the rest is its body:
//! ftm's `token/transfer/start` (`TransferStart`: the FortiAuthenticator serial, 1 to 100 tokens, `reg_id`,
//! each seed, the HMAC), `token/transfer/code` and `token/transfer/status`; the new phone's
//! `SoftToken.MobileTransferRequest` on `/Mobile` (the `mobile_id`, the code as typed or in its QR string);
//! the FortiAuthenticator's `transfertoken/` (`TransferTokenRequest`: its serials); and the virtual phone's
//! own transfer requests (`StartTransfer`, `CompleteTransfer`). Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::activation::TokenActivationCode;
use protocol::envelope::{Envelope, Inbound};
use protocol::id::{MobileId, TokenSerial};
use protocol::modeled;
use protocol::phone::{CompleteTransfer, StartTransfer};
use protocol::seed::Seed;
use protocol::token_transfer::{
    MobileTransferRequest, TransferCodeRequest, TransferStart, TransferStatusRequest,
    TransferTokenRequest,
};

/// ftm's limit on the tokens of one transfer.
const MAX_TOKENS: usize = 100;

fn start(body: &[u8]) {
    let Ok(request) = serde_json::from_slice::<TransferStart>(body) else {
        return;
    };
    let _ = format!("{request:?}");
    if !modeled::is_fortiauthenticator(&request.sn) {
        return;
    }
    if request.tokens.is_empty()
        || request.tokens.len() > MAX_TOKENS
        || request.reg_id.trim().is_empty()
    {
        return;
    }
    let Ok(seeds) = request
        .tokens
        .iter()
        .map(|t| Seed::from_hex(&t.seed))
        .collect::<Result<Vec<_>, _>>()
    else {
        return;
    };
    let pairs: Vec<(&str, &[u8])> = request
        .tokens
        .iter()
        .zip(&seeds)
        .map(|(t, s)| (t.token.as_str(), s.as_bytes()))
        .collect();
    let hmac = modeled::transfer_hmac(&request.sn, &request.reg_id, &pairs);
    assert_eq!(hmac.len(), 64);
    let _ = request.sn.trim().to_ascii_uppercase();
}

fn redeem(body: &[u8]) {
    let Ok(request) = Inbound::parse(body).and_then(Inbound::decode::<MobileTransferRequest>)
    else {
        return;
    };
    let again = Inbound::parse(&Envelope::to_vec(&request))
        .and_then(Inbound::decode::<MobileTransferRequest>)
        .expect("a decoded request re-encodes to a decodable one");
    assert_eq!(again, request);
    let Ok(mobile_id) = request.mobile_id.parse::<MobileId>() else {
        return;
    };
    let _ = modeled::mobile_id_hash(&mobile_id);
    let code = modeled::transfer_code_from_input(&request.transfer_code).to_ascii_uppercase();
    let _ = TokenActivationCode::payload_from_input(&code);
}

fn fac_transfer_token(body: &[u8]) {
    // The FortiAuthenticator reads its REST bodies as JSON whatever the content type says.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let Ok(request) = serde_json::from_value::<TransferTokenRequest>(value) else {
        return;
    };
    for token in &request.tokens {
        let _ = token.parse::<TokenSerial>();
    }
    let _ = request.sn.trim().eq_ignore_ascii_case("FAC-VMTM25000001");
}

fn phone_requests(body: &[u8]) {
    if let Ok(start) = serde_json::from_slice::<StartTransfer>(body) {
        let _ = (start.fac.trim(), start.tokens.len());
    }
    if let Ok(complete) = serde_json::from_slice::<CompleteTransfer>(body) {
        let code = modeled::transfer_code_from_input(&complete.code);
        let qr = modeled::transfer_qr_payload(&code);
        let _ = modeled::transfer_code_from_input(&qr);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 6 {
        0 => start(body),
        1 => {
            if let Ok(request) = serde_json::from_slice::<TransferCodeRequest>(body) {
                let _ = request.sn.trim().to_ascii_uppercase();
            }
        }
        2 => {
            let _ = serde_json::from_slice::<TransferStatusRequest>(body);
        }
        3 => redeem(body),
        4 => fac_transfer_token(body),
        _ => phone_requests(body),
    }
});
