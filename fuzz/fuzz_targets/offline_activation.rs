//! Fuzz target: a FortiAuthenticator's offline activation QR code as the virtual phone reads what it scans
//! or is typed (`protocol::modeled::parse_offline_activation`): not one at all, one naming what is wrong, or
//! the token (serial, seed, algorithm, period, digits, counter) whose codes the phone then computes; never
//! a panic, and an accepted code's own payload reads back to the same token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::modeled::{offline_activation_payload, parse_offline_activation};
use protocol::otp::{OtpKind, hotp, totp};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(Ok(offline)) = parse_offline_activation(&text) else {
        return;
    };
    let secret = offline.seed.as_bytes();
    let _ = match offline.params.kind {
        OtpKind::Totp => totp(
            secret,
            1_700_000_000,
            offline.params.period,
            offline.params.digits,
        ),
        OtpKind::Hotp => hotp(secret, offline.counter, offline.params.digits),
    };
    let payload = offline_activation_payload(&offline);
    let again = parse_offline_activation(&payload);
    // The issuer is written as it is (FortiAuthenticator serials need no escaping): compare when it can be.
    if offline
        .issuer
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        let again = again
            .expect("a payload is an offline activation code")
            .expect("an accepted token's payload is accepted");
        assert_eq!(again.token, offline.token);
        assert_eq!(again.issuer, offline.issuer);
        assert_eq!(again.params, offline.params);
        assert_eq!(again.counter, offline.counter);
        assert!(again.seed == offline.seed);
    }
});
