//! Fuzz target: a push arriving at a virtual phone (`phone::push_inbox::read`): the delivered push as the
//! relay posts it (or, when the input is not one, the input as its `message`), the token it names, the
//! HMAC, the payload; never a panic. A payload sealed with the token's seed opens back to itself.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use phone::app_data::{AppData, Delivered};
use phone::device::Identity;
use protocol::id::{MobileId, TokenSerial};
use protocol::otp::OtpKind;
use protocol::phone::NewPhone;
use protocol::push::{DeliveredPush, PushPayload, open_payload, seal_payload};
use protocol::seed::Seed;
use protocol::time::UnixTime;
use rand::SeedableRng;

const SEED_HEX: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";

/// A phone holding token FTKMOB028CA23F11 (the captured push's `sn`).
fn phone() -> &'static (Identity, AppData) {
    static PHONE: OnceLock<(Identity, AppData)> = OnceLock::new();
    PHONE.get_or_init(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mobile_id: MobileId = "e248e1e9527f20ff".parse().expect("a mobile_id");
        let request = NewPhone {
            mobile_id: Some(mobile_id.clone()),
            ..NewPhone::default()
        };
        let identity = phone::device::identity(&request, &mut rng).expect("an identity");
        let mut app = AppData::install(&mobile_id, &mut rng);
        let delivered = Delivered {
            serial: "FTKMOB028CA23F11".parse::<TokenSerial>().expect("a serial"),
            seed: Seed::from_hex(SEED_HEX).expect("a seed"),
            kind: OtpKind::Totp,
            period: 60,
            digits: 6,
            counter: 0,
            issuer: "FGVM32TM20000015".into(),
            image_file: String::new(),
            pin_required: "N".into(),
            pin_length: 0,
            pin_required_type: 0,
        };
        app.store(&mobile_id, &delivered, 0)
            .expect("the token stored");
        (identity, app)
    })
}

fuzz_target!(|data: &[u8]| {
    let (identity, app) = phone();
    let delivered =
        serde_json::from_slice::<DeliveredPush>(data).unwrap_or_else(|_| DeliveredPush {
            message_id: "0".repeat(32),
            seq: 1,
            received: UnixTime::from_secs(0),
            sender: "FGT-FGVM32TM20000015-root".into(),
            registration_id: identity.registration_id.clone(),
            platform: "android".into(),
            message: String::from_utf8_lossy(data).into_owned(),
        });
    let item = phone::push_inbox::read(app, identity, &delivered);
    let _ = item.entry();
    if let Ok(payload) = serde_json::from_slice::<PushPayload>(data) {
        let seed = Seed::from_hex(SEED_HEX).expect("a seed");
        let sealed = seal_payload(seed.as_bytes(), &payload, [7; 16]);
        assert_eq!(open_payload(seed.as_bytes(), &sealed).ok(), Some(payload));
    }
});
