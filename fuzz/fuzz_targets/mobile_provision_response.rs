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
    // The code the user entered, in its 16-hex-digit wire form (no flag): the answer's own flag decides.
    let code = phone::provisioning::EnteredCode {
        payload: [0x4f, 0x1d, 0x9a, 0x20, 0x73, 0x0c, 0xe5, 0x18],
        flag: None,
    };
    if let Ok(delivered) = phone::provisioning::delivered(response, &mobile_id, &code) {
        assert!((1..=10).contains(&delivered.digits));
    }
});
