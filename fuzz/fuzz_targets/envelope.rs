//! Fuzz target: the SoftToken envelope, the first thing every endpoint does with a body
//! (`protocol::envelope::Inbound::parse`) and the typed `Envelope<T>` decoding clients use; never a panic,
//! and every error has its stable id and sentence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::envelope::{Envelope, EnvelopeError, Inbound};
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use protocol::mobile::{MobileProvisionRequest, MobileProvisionResponse};
use protocol::provision::{PollingRequest, PollingResponse, ProvisionRequest, ProvisionResponse};

fn explain(error: &EnvelopeError) {
    let _ = (error.id(), error.to_string());
}

fuzz_target!(|data: &[u8]| {
    match Inbound::parse(data) {
        Ok(inbound) => {
            let _ = EnvelopeError::unknown_type(inbound.type_name(), &["SoftToken.X"]).to_string();
        }
        Err(error) => explain(&error),
    }
    let _ = serde_json::from_slice::<Envelope<ActivationLicenseRequest>>(data);
    let _ = serde_json::from_slice::<Envelope<ActivationLicenseResponse>>(data);
    let _ = serde_json::from_slice::<Envelope<ProvisionRequest>>(data);
    let _ = serde_json::from_slice::<Envelope<ProvisionResponse>>(data);
    let _ = serde_json::from_slice::<Envelope<PollingRequest>>(data);
    let _ = serde_json::from_slice::<Envelope<PollingResponse>>(data);
    let _ = serde_json::from_slice::<Envelope<MobileProvisionRequest>>(data);
    let _ = serde_json::from_slice::<Envelope<MobileProvisionResponse>>(data);
});
