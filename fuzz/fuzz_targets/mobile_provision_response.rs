//! Fuzz target: the virtual phone reading ftm's answer to its download (`phone::provisioning::delivered`
//! over a `SoftToken.MobileProvisionResponse`): the refusal and its catalogue id, or the token, its seed
//! decrypted with the phone's `mobile_id`, its OTP parameters; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::envelope::Envelope;
use protocol::id::MobileId;
use protocol::mobile::MobileProvisionResponse;

fuzz_target!(|data: &[u8]| {
    let Ok(Envelope(response)) = serde_json::from_slice::<Envelope<MobileProvisionResponse>>(data)
    else {
        return;
    };
    let mobile_id: MobileId = "e248e1e9527f20ff".parse().expect("a mobile_id");
    if let Ok(delivered) = phone::provisioning::delivered(response, &mobile_id) {
        assert!((1..=10).contains(&delivered.digits));
    }
});
