//! Fuzz target: the SoftToken front doors without a server, as they dispatch today. The same bytes go
//! through ftm's `/Process` (ProvisionRequest and PollingRequest served, ActivationLicenseRequest
//! forwarded, any other type refused naming those three), ftm's `/Mobile` (MobileProvisionRequest and
//! MobileTransferRequest) and forticare's `/Process` (ActivationLicenseRequest and the modeled
//! HardwareActivationRequest): `Inbound::parse`, the message type the body names, its decode, and every
//! check made before a store or a peer is asked (the cluster, the token counts, each serial and
//! `ftm::escrow::validate`, the license code, `registration_id` and `__device_version` lengths, the
//! `mobile_id`, the activation or transfer code). Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::activation::TokenActivationCode;
use protocol::envelope::{EnvelopeError, Inbound, Message};
use protocol::hardware::{HardwareActivationRequest, MAX_BATCH_TOKENS};
use protocol::id::{HardwareSerial, LicenseActivationCode, MobileId, TokenSerial};
use protocol::license::ActivationLicenseRequest;
use protocol::mobile::MobileProvisionRequest;
use protocol::modeled;
use protocol::provision::{PollingRequest, ProvisionRequest};
use protocol::token_transfer::MobileTransferRequest;

/// ftm's limit on tokens in one ProvisionRequest or PollingRequest.
const MAX_TOKENS: usize = 10_000;
/// ftm's limits on `/Mobile`'s `registration_id` and `__device_version`.
const MAX_REG_ID: usize = 256;
const MAX_OS_VER: usize = 64;

/// The types ftm's `/Process` serves itself and forwards, as its refusal names them.
const FTM_PROCESS_TYPES: [&str; 3] = [
    ProvisionRequest::TYPE,
    PollingRequest::TYPE,
    ActivationLicenseRequest::TYPE,
];
const FTM_MOBILE_TYPES: [&str; 2] = [
    MobileProvisionRequest::TYPE,
    <MobileTransferRequest as Message>::TYPE,
];
const FORTICARE_PROCESS_TYPES: [&str; 2] = [
    ActivationLicenseRequest::TYPE,
    HardwareActivationRequest::TYPE,
];

fn refuse(error: &EnvelopeError) {
    let _ = (error.id(), error.to_string());
}

fn import(inbound: &Inbound) {
    match inbound.clone().decode::<ActivationLicenseRequest>() {
        Ok(request) => {
            let _ = request.header.cluster();
            let _ = request
                .license_activation_code
                .parse::<LicenseActivationCode>();
        }
        Err(error) => refuse(&error),
    }
}

fn ftm_process(inbound: &Inbound) {
    match inbound.type_name() {
        ProvisionRequest::TYPE => match inbound.clone().decode::<ProvisionRequest>() {
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
        PollingRequest::TYPE => match inbound.clone().decode::<PollingRequest>() {
            Ok(request) => {
                if request.header.cluster().is_err() || request.tokens.len() > MAX_TOKENS {
                    return;
                }
                for token in &request.tokens {
                    let _ = token.token.parse::<TokenSerial>();
                }
            }
            Err(error) => refuse(&error),
        },
        ActivationLicenseRequest::TYPE => import(inbound),
        other => refuse(&EnvelopeError::unknown_type(other, &FTM_PROCESS_TYPES)),
    }
}

fn ftm_mobile(inbound: &Inbound) {
    match inbound.type_name() {
        MobileProvisionRequest::TYPE => match inbound.clone().decode::<MobileProvisionRequest>() {
            Ok(request) => {
                if request.registration_id.len() > MAX_REG_ID
                    || request.device_version.len() > MAX_OS_VER
                {
                    return;
                }
                let _ = TokenActivationCode::payload_from_input(&request.token_activation_code);
                if let Ok(mobile_id) = request.mobile_id.parse::<MobileId>() {
                    let _ = modeled::mobile_id_hash(&mobile_id);
                }
            }
            Err(error) => refuse(&error),
        },
        <MobileTransferRequest as Message>::TYPE => {
            match inbound.clone().decode::<MobileTransferRequest>() {
                Ok(request) => {
                    if request.mobile_id.parse::<MobileId>().is_err() {
                        return;
                    }
                    let code = modeled::transfer_code_from_input(&request.transfer_code)
                        .to_ascii_uppercase();
                    let _ = TokenActivationCode::payload_from_input(&code);
                }
                Err(error) => refuse(&error),
            }
        }
        other => refuse(&EnvelopeError::unknown_type(other, &FTM_MOBILE_TYPES)),
    }
}

fn forticare_process(inbound: &Inbound) {
    match inbound.type_name() {
        ActivationLicenseRequest::TYPE => import(inbound),
        HardwareActivationRequest::TYPE => {
            match inbound.clone().decode::<HardwareActivationRequest>() {
                Ok(request) => {
                    if request.header.cluster().is_err()
                        || request.tokens.is_empty()
                        || request.tokens.len() > MAX_BATCH_TOKENS as usize
                    {
                        return;
                    }
                    for token in &request.tokens {
                        let _ = token.token.trim().parse::<HardwareSerial>();
                    }
                }
                Err(error) => refuse(&error),
            }
        }
        other => refuse(&EnvelopeError::unknown_type(
            other,
            &FORTICARE_PROCESS_TYPES,
        )),
    }
}

fuzz_target!(|data: &[u8]| {
    let inbound = match Inbound::parse(data) {
        Ok(inbound) => inbound,
        Err(error) => return refuse(&error),
    };
    ftm_process(&inbound);
    ftm_mobile(&inbound);
    forticare_process(&inbound);
});
