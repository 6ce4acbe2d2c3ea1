//! Fuzz target: ftm's `/Process` dispatch without a server: bytes → `Inbound::parse` → the message type the
//! body names → its decode → every check ftm (and forticare, for a forwarded import) makes before touching a
//! store: the cluster, the token count, each token's serial and `ftm::escrow::validate`, the license code;
//! and `/Mobile`'s checks for a MobileProvisionRequest. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::activation::TokenActivationCode;
use protocol::envelope::{EnvelopeError, Inbound, Message};
use protocol::id::{LicenseActivationCode, MobileId, TokenSerial};
use protocol::license::ActivationLicenseRequest;
use protocol::mobile::MobileProvisionRequest;
use protocol::provision::{PollingRequest, ProvisionRequest};

/// ftm's limit on tokens in one ProvisionRequest or PollingRequest.
const MAX_TOKENS: usize = 10_000;

fn refuse(error: &EnvelopeError) {
    let _ = (error.id(), error.to_string());
}

fuzz_target!(|data: &[u8]| {
    let inbound = match Inbound::parse(data) {
        Ok(inbound) => inbound,
        Err(error) => return refuse(&error),
    };
    let type_name = inbound.type_name().to_owned();
    match type_name.as_str() {
        ProvisionRequest::TYPE => match inbound.decode::<ProvisionRequest>() {
            Ok(request) => {
                if request.header.cluster().is_err() || request.tokens.len() > MAX_TOKENS {
                    return;
                }
                for wire in &request.tokens {
                    if let Ok(serial) = wire.token.parse::<TokenSerial>() {
                        let _ = ftm::escrow::validate(&serial, wire);
                    }
                }
            }
            Err(error) => refuse(&error),
        },
        PollingRequest::TYPE => match inbound.decode::<PollingRequest>() {
            Ok(request) => {
                let _ = request.header.cluster();
                for token in &request.tokens {
                    let _ = token.token.parse::<TokenSerial>();
                }
            }
            Err(error) => refuse(&error),
        },
        ActivationLicenseRequest::TYPE => match inbound.decode::<ActivationLicenseRequest>() {
            Ok(request) => {
                let _ = request.header.cluster();
                let _ = request
                    .license_activation_code
                    .parse::<LicenseActivationCode>();
            }
            Err(error) => refuse(&error),
        },
        MobileProvisionRequest::TYPE => match inbound.decode::<MobileProvisionRequest>() {
            Ok(request) => {
                let _ = request.mobile_id.parse::<MobileId>();
                let _ = TokenActivationCode::payload_from_input(&request.token_activation_code);
            }
            Err(error) => refuse(&error),
        },
        other => refuse(&EnvelopeError::unknown_type(
            other,
            &[
                ProvisionRequest::TYPE,
                PollingRequest::TYPE,
                ActivationLicenseRequest::TYPE,
            ],
        )),
    }
});
