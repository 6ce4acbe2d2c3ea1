//! Fuzz target: the relay's device registration (`push::relay::decode_registration`): the registration id
//! (the input up to its first newline) and the `PUT` body (the rest); never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (id, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let id = String::from_utf8_lossy(id);
    if let Ok(registration) = push::relay::decode_registration(&id, body) {
        let _ = push::relay::platform_name(registration.platform);
    }
});
