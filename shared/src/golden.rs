//! Golden tests: every public wire capture in `fixtures/wire/` parses into the protocol types and
//! serializes back to the same JSON, field for field; so does fortimock's own success answer to a phone,
//! whose fields are exactly the captured error answer's, in its order.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::envelope::{Envelope, Message};
use crate::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use crate::mobile::{MobileProvisionRequest, MobileProvisionResponse};
use crate::provision::{PollingRequest, ProvisionRequest, ProvisionResponse};

fn capture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wire")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses the capture as `T`, serializes it again and compares the two as JSON values.
#[track_caller]
fn check_round_trip<T: Message + std::fmt::Debug>(name: &str) -> T
where
    Envelope<T>: Serialize + DeserializeOwned,
{
    let text = capture(name);
    let original: Value = serde_json::from_str(&text).unwrap();
    let parsed: Envelope<T> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: Value = serde_json::from_slice(&Envelope::to_vec(&parsed.0)).unwrap();
    assert_eq!(again, original, "{name} does not survive a round trip");
    parsed.0
}

#[test]
fn license_import_request_round_trips() {
    let request: ActivationLicenseRequest = check_round_trip("license-import-error16.request.json");
    // The stray spaces are kept for the echo and trimmed when parsed.
    assert_eq!(request.license_activation_code, " BADLICBADLICXXX ");
    assert_eq!(request.header.serial().unwrap().as_str(), "FGXXXXXXX");
    assert_eq!(request.header.clustered_sns[0].sn, " FGXXXXXXX ");
}

#[test]
fn license_import_error_response_round_trips() {
    let response: ActivationLicenseResponse =
        check_round_trip("license-import-error16.response.json");
    assert_eq!(response.tokens, None);
    assert_eq!(response.license, "");
    assert!(crate::catalogue::LICENSE_CODE_INVALID.matches(response.error.as_ref().unwrap()));
}

#[test]
fn provision_not_owner_exchange_round_trips() {
    let request: ProvisionRequest = check_round_trip("provision-not-owner.request.json");
    assert_eq!(
        request.tokens[0].seed,
        "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A"
    );
    assert_eq!(
        (
            request.tokens[0].code_expire,
            request.tokens[0].period,
            request.tokens[0].digits
        ),
        (4320, 60, 6)
    );
    let response: ProvisionResponse = check_round_trip("provision-not-owner.response.json");
    assert!(crate::catalogue::NO_VALID_TOKEN.matches(response.error.as_ref().unwrap()));
    assert!(crate::catalogue::TOKEN_NOT_OWNED.matches(response.tokens[0].error.as_ref().unwrap()));
    assert_eq!(
        response.header.clustered_sns[0].error.as_deref(),
        Some("Product is not registered")
    );
    // Debug never shows the seed.
    assert!(!format!("{request:?}").contains("A84E2CAA"));
}

#[test]
fn polling_request_round_trips() {
    let request: PollingRequest = check_round_trip("polling.request.json");
    assert_eq!(request.tokens[0].token, "FTKMOB83F91CD33B");
}

#[test]
fn mobile_exchange_round_trips() {
    let request: MobileProvisionRequest = check_round_trip("mobile.request.json");
    assert_eq!(request.token_activation_code, "4ad498cc89189c8c");
    let response: MobileProvisionResponse = check_round_trip("mobile-error40.response.json");
    assert_eq!(
        response,
        MobileProvisionResponse::refused(crate::catalogue::ACTIVATION_CODE_INVALID.wire_error())
    );
}

/// The keys of `d` in a capture, in the order they appear.
fn keys_of_d(name: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(&capture(name)).unwrap();
    value["d"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn mobile_success_answer_has_exactly_the_captured_fields_in_order() {
    // No public source shows a success, but the live error answer lists every field of the class
    // `SoftToken.MobileProvisionResponse`: a success has those, in that order, and nothing else.
    let success: MobileProvisionResponse = check_round_trip("mobile-success.response.json");
    assert_eq!(
        keys_of_d("mobile-success.response.json"),
        keys_of_d("mobile-error40.response.json")
    );
    assert_eq!(success.error, None);
    assert_eq!(success.counter, 1);
    // Serialized, it is the golden file byte for byte (ftm's end-to-end test checks ftm sends it).
    assert_eq!(
        String::from_utf8(Envelope::to_vec(&success)).unwrap(),
        capture("mobile-success.response.json").trim_end()
    );
    // Fields the real class does not have are not kept: fortimock once added `type`, `period`, `digits`.
    let mut extended: Value =
        serde_json::from_str(&capture("mobile-success.response.json")).unwrap();
    extended["d"]["type"] = "totp".into();
    extended["d"]["period"] = 60.into();
    extended["d"]["digits"] = 6.into();
    let parsed: Envelope<MobileProvisionResponse> = serde_json::from_value(extended).unwrap();
    let again: Value = serde_json::from_slice(&Envelope::to_vec(&parsed.0)).unwrap();
    let original: Value = serde_json::from_str(&capture("mobile-success.response.json")).unwrap();
    assert_eq!(again, original);
}

/// The modeled hardware activation exchange (no capture exists): pinned byte for byte, both ways, so a change
/// to its shape is a decision, not an accident.
#[test]
fn modeled_hardware_activation_exchange_is_pinned() {
    use crate::hardware::{
        ActivatedHardwareToken, HardwareActivationRequest, HardwareActivationResponse,
        HardwareTokenRef,
    };
    use crate::header::RequestHeader;
    use crate::modeled::HARDWARE_ALREADY_ACTIVATED;

    let serial = "FGVM02TM00000001".parse().unwrap();
    let header = RequestHeader::new(&serial, &[], "7.4", "2829");
    let request = HardwareActivationRequest {
        header: header.clone(),
        tokens: ["FTK200BAA0000000", "FTK200BAA0000001"]
            .map(|token| HardwareTokenRef {
                token: token.to_owned(),
            })
            .to_vec(),
    };
    let name = "hardware-activation.request.json";
    assert_eq!(
        String::from_utf8(Envelope::to_vec(&request)).unwrap(),
        capture(name).trim_end()
    );
    assert_eq!(check_round_trip::<HardwareActivationRequest>(name), request);

    let response = HardwareActivationResponse {
        header: header.reply(|_| None),
        tokens: vec![
            ActivatedHardwareToken {
                token: "FTK200BAA0000000".to_owned(),
                seed: Some("A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A".to_owned()),
                error: None,
            },
            ActivatedHardwareToken {
                token: "FTK200BAA0000001".to_owned(),
                seed: None,
                error: Some(HARDWARE_ALREADY_ACTIVATED.wire_error()),
            },
        ],
        result: 0,
        error: None,
    };
    let name = "hardware-activation.response.json";
    assert_eq!(
        String::from_utf8(Envelope::to_vec(&response)).unwrap(),
        capture(name).trim_end()
    );
    assert_eq!(
        check_round_trip::<HardwareActivationResponse>(name),
        response
    );
}
