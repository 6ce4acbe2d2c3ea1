//! Fuzz target: the modeled `SoftToken.HardwareActivationRequest` as forticare (FortiGuard's token service)
//! reads it on `/Process` before its vault is touched: the envelope, the decode, the requesting cluster, the
//! token count (1 to `MAX_BATCH_TOKENS`), each serial as a hardware serial and its model, the reply header;
//! never a panic, and a decoded request survives its own wire encoding unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::envelope::{Envelope, Inbound};
use protocol::hardware::{HardwareActivationRequest, MAX_BATCH_TOKENS};
use protocol::id::HardwareSerial;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Inbound::parse(data).and_then(Inbound::decode::<HardwareActivationRequest>)
    else {
        return;
    };
    let again = Inbound::parse(&Envelope::to_vec(&request))
        .and_then(Inbound::decode::<HardwareActivationRequest>)
        .expect("a decoded request re-encodes to a decodable one");
    assert_eq!(again, request);
    let Ok(cluster) = request.header.cluster() else {
        return;
    };
    assert!(!cluster.is_empty());
    if request.tokens.is_empty() || request.tokens.len() > MAX_BATCH_TOKENS as usize {
        return;
    }
    for token in &request.tokens {
        // forticare trims each serial and parses it inside the vault's one transaction; a serial that does
        // not parse is answered `token not exist` there.
        if let Ok(serial) = token.token.trim().parse::<HardwareSerial>() {
            let _ = serial.model();
            assert_eq!(
                serial.to_string().parse::<HardwareSerial>().ok(),
                Some(serial)
            );
        }
    }
    let requester = &cluster[0];
    let members = request.header.clustered_sns.len();
    let header = request.header.reply(|member| {
        protocol::modeled::member_error(member, requester, |s| cluster.contains(s))
    });
    assert_eq!(header.clustered_sns.len(), members);
});
