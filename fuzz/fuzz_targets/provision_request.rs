//! Fuzz target: `SoftToken.ProvisionRequest` as ftm reads it before it asks forticare anything: the decode,
//! the requesting cluster, each token's serial and `ftm::escrow::validate` (seed, type, period, digits,
//! expiry); never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::envelope::Inbound;
use protocol::id::TokenSerial;
use protocol::provision::ProvisionRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Inbound::parse(data).and_then(Inbound::decode::<ProvisionRequest>) else {
        return;
    };
    let _ = format!("{request:?}");
    if request.header.cluster().is_err() {
        return;
    }
    for wire in &request.tokens {
        if let Ok(serial) = wire.token.parse::<TokenSerial>() {
            if let Ok(spec) = ftm::escrow::validate(&serial, wire) {
                assert!((1..=ftm::escrow::MAX_CODE_MINUTES).contains(&spec.valid_minutes));
                assert!(matches!(spec.params.digits, 6 | 8));
            }
        }
    }
});
