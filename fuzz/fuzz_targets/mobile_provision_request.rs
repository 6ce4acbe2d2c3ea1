//! Fuzz target: `SoftToken.MobileProvisionRequest` as ftm's `/Mobile` reads it before it looks the code up:
//! the decode, the `mobile_id`, the code as typed or as its hex payload; never a panic, and a seed encrypted
//! for any accepted `mobile_id` decrypts back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::activation::TokenActivationCode;
use protocol::envelope::Inbound;
use protocol::id::MobileId;
use protocol::mobile::MobileProvisionRequest;
use protocol::seed::{Seed, decrypt_from_server, encrypt_for_phone};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Inbound::parse(data).and_then(Inbound::decode::<MobileProvisionRequest>)
    else {
        return;
    };
    let _ = TokenActivationCode::payload_from_input(&request.token_activation_code);
    let _ = protocol::modeled::code_from_qr(&request.token_activation_code);
    let Ok(mobile_id) = request.mobile_id.parse::<MobileId>() else {
        return;
    };
    let _ = protocol::modeled::mobile_id_hash(&mobile_id);
    let seed = Seed::from_hex("A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A").expect("a valid seed");
    let sealed = encrypt_for_phone(&seed, &mobile_id);
    assert_eq!(decrypt_from_server(&sealed, &mobile_id).ok(), Some(seed));
});
