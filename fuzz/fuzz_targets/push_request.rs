//! Fuzz target: the push relay's request decoding (`push::relay::decode_push`): every check before the
//! device is looked up; never a panic, a refusal always has a reason, a status and a sentence, and an
//! accepted push's sender and message parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::push::{PushMessage, parse_sender};

fuzz_target!(|data: &[u8]| {
    match push::relay::decode_push(data) {
        Ok(accepted) => {
            assert!(parse_sender(&accepted.sender).is_ok());
            assert!(PushMessage::from_wire(&accepted.message).is_ok());
            assert!(protocol::push::is_push_token(&accepted.registration_id));
        }
        Err(rejected) => {
            let reason = rejected.refusal.reason;
            let _ = (
                reason.as_str(),
                reason.status(),
                rejected.refusal.message.len(),
            );
            if let Some(journal) = rejected.journal {
                let _ = push::relay::quoted(&journal.registration_id);
            }
        }
    }
});
