//! Fuzz target: the phone's answer to a push as the appliance's listener reads it
//! (`protocol::push::PushCallback` from JSON, then its HMAC checked with the token's seed); never a panic,
//! and an answer signed with a seed checks with that seed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::push::PushCallback;

const SEED: &[u8] = b"12345678901234567890";

fuzz_target!(|data: &[u8]| {
    let Ok(answer) = serde_json::from_slice::<PushCallback>(data) else {
        return;
    };
    let _ = answer.signed_by(SEED);
    let detail = answer
        .token_code
        .as_deref()
        .or(answer.message.as_deref())
        .unwrap_or_default();
    assert!(PushCallback::approve(SEED, &answer.session_id, detail).signed_by(SEED));
    assert!(PushCallback::deny(SEED, &answer.session_id, detail).signed_by(SEED));
});
