//! Fuzz target: `SoftToken.PollingRequest` as ftm reads it: the decode, the requesting cluster and each
//! token's serial; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::envelope::Inbound;
use protocol::id::TokenSerial;
use protocol::provision::PollingRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Inbound::parse(data).and_then(Inbound::decode::<PollingRequest>) else {
        return;
    };
    if let Ok(cluster) = request.header.cluster() {
        assert!(!cluster.is_empty());
    }
    for token in &request.tokens {
        if let Ok(serial) = token.token.parse::<TokenSerial>() {
            let _ = serial.short();
        }
    }
});
