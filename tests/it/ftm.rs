//! The FTM provisioning server end to end: the captured not-owner exchange, provision → phone download →
//! poll, one download per code (also under 64 concurrent phones and across a restart), expiry through the
//! injected clock, re-provisioning, ownership, both license kinds through ftm's single front door, seeds
//! never at rest in the clear, and hostile input on both endpoints.

use e2e::{TestSuite, capture, default_fixtures, mobile_request, test_options, token};
use protocol::admin::{ActivationList, EscrowList};
use protocol::catalogue::{ACTIVATION_CODE_INVALID, NO_VALID_TOKEN, TOKEN_NOT_OWNED};
use protocol::envelope::Envelope;
use protocol::id::MobileId;
use protocol::mobile::MobileProvisionResponse;
use protocol::paths;
use protocol::paths::MOBILE;
use protocol::provision::ProvisionResponse;
use protocol::seed::{Seed, decrypt_from_server};
use reqwest::StatusCode;
use serde_json::{Value, json};

const FTM: &str = "ftm";
const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";
const ANDROID_ID: &str = "e248e1e9527f20ff";
const APNS_ID: &str = "966a674eda38db20c325a9dfd6a1242935114b94796423d34aa4170c8cf97819";
const FGT: &str = "FGVM01TM00000001";
const PAID: &str = "1111-2222-3333-4444-5555";

/// Imports the default lab's 5-seat license through ftm (forwarded to forticare); returns its tokens.
async fn import_paid(suite: &TestSuite, serial: &str, peers: &[&str]) -> Vec<String> {
    let response = suite.import(FTM, serial, peers, PAID).await;
    assert_eq!(response.error, None, "{response:?}");
    response
        .tokens
        .unwrap()
        .into_iter()
        .map(|t| t.token)
        .collect()
}

/// Provisions one token with `seed` and returns its activation code (base32).
async fn provision_one(suite: &TestSuite, serial: &str, token_serial: &str, seed: &str) -> String {
    let response = suite
        .provision(serial, &[], vec![token(token_serial, seed)])
        .await;
    assert_eq!(response.error, None, "{response:?}");
    response.tokens[0].token_activation_code.clone().unwrap()
}

#[track_caller]
fn check_refused_40(response: &MobileProvisionResponse) {
    assert_eq!(
        response,
        &MobileProvisionResponse::refused(ACTIVATION_CODE_INVALID.wire_error())
    );
}

/// The code as the real app sends it: 16 lowercase hex digits of the payload.
fn wire(code: &str) -> String {
    protocol::activation::TokenActivationCode::payload_from_input(code)
        .map(hex::encode)
        .unwrap()
}

#[tokio::test]
async fn captured_not_owner_exchange_is_reproduced() {
    let suite = TestSuite::start().await;
    let (status, body) = suite
        .post_process(FTM, capture("provision-not-owner.request.json"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let expected: Value =
        serde_json::from_str(&capture("provision-not-owner.response.json")).unwrap();
    assert_eq!(body, expected);
    suite.stop().await;
}

#[tokio::test]
async fn provision_download_and_poll() {
    let suite = TestSuite::start().await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    let unknown = suite.poll(FGT, &[], &[&tokens[0]]).await;
    assert_eq!(unknown.tokens[0].status, "unknown");

    let clock: protocol::admin::ClockView = suite.admin_get(FTM, paths::ADMIN_CLOCK).await;
    let provisioned = suite
        .provision(FGT, &[], vec![token(&tokens[0], SEED)])
        .await;
    let entry = &provisioned.tokens[0];
    assert_eq!(
        (entry.error.as_ref(), provisioned.error.as_ref()),
        (None, None)
    );
    assert_eq!(entry.license.as_deref(), Some("EFTM000000000005"));
    let code = entry.token_activation_code.clone().unwrap();
    assert_eq!(code.len(), 16);
    assert!(
        code.starts_with("EEI"),
        "an appliance-issued code starts 0x21 0x10: {code}"
    );
    assert!(entry.qr_code.as_ref().unwrap().contains(&code));
    let expires = entry.code_expire.unwrap();
    assert!(
        (expires - (clock.now.secs() + 4320 * 60)).abs() <= 2,
        "{expires}"
    );
    assert_eq!(
        suite.poll(FGT, &[], &[&tokens[0]]).await.tokens[0].status,
        "pending"
    );

    // The phone sends the code as the real app does (hex of the payload) and decrypts the seed.
    let downloaded = suite.download(ANDROID_ID, APNS_ID, &wire(&code)).await;
    assert_eq!(downloaded.error, None);
    let mobile_id: MobileId = ANDROID_ID.parse().unwrap();
    let seed = decrypt_from_server(&downloaded.seed, &mobile_id).unwrap();
    assert_eq!(seed, Seed::from_hex(SEED).unwrap());
    assert_eq!(downloaded.token, tokens[0]);
    assert_eq!(downloaded.issuer, FGT);
    assert_eq!(
        downloaded.mobile_id_hash,
        protocol::modeled::mobile_id_hash(&mobile_id)
    );
    assert_eq!(downloaded.version, "5");

    let polled = suite.poll(FGT, &[], &[&tokens[0]]).await;
    let state = &polled.tokens[0];
    assert_eq!(
        (
            state.status.as_ref(),
            state.reg_id.as_deref(),
            state.os_ver.as_deref()
        ),
        ("activated", Some(APNS_ID), Some("4.9.9_IOS"))
    );
    assert!(state.activated.is_some());
    assert_eq!(state.license.as_deref(), Some("EFTM000000000005"));

    // The seed is gone: a second download, from any phone, gets error 40 exactly as captured.
    let (_, second) = suite
        .post_mobile(Envelope::to_vec(&mobile_request(
            "0123456789abcdef",
            "x",
            &code,
        )))
        .await;
    let captured: Value = serde_json::from_str(&capture("mobile-error40.response.json")).unwrap();
    assert_eq!(second, captured);
    check_refused_40(&suite.download(ANDROID_ID, APNS_ID, &wire(&code)).await);

    let escrow: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;
    assert!(escrow.entries.is_empty(), "{escrow:?}");
    let log: ActivationList = suite.admin_get(FTM, paths::ADMIN_ACTIVATIONS).await;
    assert_eq!(log.activations.len(), 1);
    assert_eq!(log.activations[0].reg_id, APNS_ID);
    suite.stop().await;
}

#[tokio::test]
async fn the_success_answer_is_the_golden_one() {
    // The captured request, with a code ftm minted for the dossier's seed on the first token of the
    // default lab's 5-seat license.
    let suite = TestSuite::start().await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    assert_eq!(tokens[0], "FTKMOB00C82980A7");
    let code = provision_one(&suite, FGT, &tokens[0], SEED).await;
    let mut request: Value = serde_json::from_str(&capture("mobile.request.json")).unwrap();
    request["d"]["token_activation_code"] = wire(&code).into();
    let response = suite
        .client
        .post(format!("{}{MOBILE}", suite.url(FTM)))
        .body(request.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();

    // Exactly the fields of the real class, in the captured error answer's order, and nothing else.
    let keys = |text: &str| -> Vec<String> {
        let value: Value = serde_json::from_str(text).unwrap();
        value["d"].as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys(&body), keys(&capture("mobile-error40.response.json")));
    // And byte for byte the golden answer.
    assert_eq!(body, capture("mobile-success.response.json").trim_end());
    suite.stop().await;
}

#[tokio::test]
async fn ios_uuid_phones_and_base32_codes_work_too() {
    let suite = TestSuite::start().await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    let code = provision_one(&suite, FGT, &tokens[1], SEED).await;
    let uuid = "00DAB39B-B920-463A-A099-44B6138A3C95";
    let downloaded = suite.download(uuid, APNS_ID, &code.to_lowercase()).await;
    let seed = decrypt_from_server(&downloaded.seed, &uuid.parse().unwrap()).unwrap();
    assert_eq!(seed.to_hex_upper(), SEED);
    suite.stop().await;
}

/// A public client's `mobile_id`: 15 characters, not hex. The live server answered 40 to one like it.
const ODD_ID: &str = "pyftm-client-01";

#[tokio::test]
async fn the_code_is_judged_before_the_mobile_id() {
    let suite = TestSuite::start().await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    let used = provision_one(&suite, FGT, &tokens[0], SEED).await;
    assert_eq!(suite.download(ANDROID_ID, APNS_ID, &used).await.error, None);
    let mut short = token(&tokens[1], SEED);
    short.code_expire = 1;
    let expired = suite.provision(FGT, &[], vec![short]).await.tokens[0]
        .token_activation_code
        .clone()
        .unwrap();
    suite.advance_clock(60).await;
    let waiting = provision_one(&suite, FGT, &tokens[2], SEED).await;
    let escrow_before: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;

    // Unknown, used, expired and malformed codes get the captured error 40, whatever the mobile_id:
    // the app's shapes, a public client's, blank, far too long.
    let captured: Value = serde_json::from_str(&capture("mobile-error40.response.json")).unwrap();
    let too_long = "x".repeat(129);
    for code in [
        "4ad498cc89189c8c".to_owned(),
        wire(&used),
        used.clone(),
        wire(&expired),
        "not-a-code".to_owned(),
        String::new(),
    ] {
        for mobile_id in [
            ODD_ID,
            ANDROID_ID,
            "00DAB39B-B920-463A-A099-44B6138A3C95",
            "",
            "   ",
            &too_long,
        ] {
            let (status, answer) = suite
                .post_mobile(Envelope::to_vec(&mobile_request(mobile_id, APNS_ID, &code)))
                .await;
            assert_eq!(
                (status, &answer),
                (StatusCode::OK, &captured),
                "code {code:?}, mobile_id {mobile_id:?}"
            );
        }
    }

    // A redeemable code and a mobile_id nothing can be encrypted for: a fault naming it, the code kept.
    for mobile_id in ["", "   ", &too_long] {
        for code in [wire(&waiting), waiting.clone()] {
            let (status, answer) = suite
                .post_mobile(Envelope::to_vec(&mobile_request(mobile_id, APNS_ID, &code)))
                .await;
            assert_eq!(
                (status, answer["error_id"].as_str()),
                (StatusCode::BAD_REQUEST, Some("protocol.invalid-message")),
                "{answer}"
            );
            assert!(
                answer["Message"].as_str().unwrap().contains("mobile_id"),
                "{answer}"
            );
        }
    }
    let escrow_after: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;
    assert_eq!(escrow_before, escrow_after);
    assert_eq!(
        suite.poll(FGT, &[], &[&tokens[2]]).await.tokens[0].status,
        "pending"
    );

    // Any other mobile_id gets the seed, encrypted under its bytes zero-padded (or cut) to 16, once.
    let downloaded = suite.download(ODD_ID, APNS_ID, &wire(&waiting)).await;
    assert_eq!(downloaded.error, None, "{downloaded:?}");
    let odd: MobileId = ODD_ID.parse().unwrap();
    assert_eq!(
        decrypt_from_server(&downloaded.seed, &odd)
            .unwrap()
            .to_hex_upper(),
        SEED
    );
    assert_eq!(
        downloaded.mobile_id_hash,
        protocol::modeled::mobile_id_hash(&odd)
    );
    check_refused_40(&suite.download(ODD_ID, APNS_ID, &wire(&waiting)).await);
    let long_id = "a-public-client-may-send-a-40-char-id-xx";
    let code = provision_one(&suite, FGT, &tokens[3], SEED).await;
    let downloaded = suite.download(long_id, APNS_ID, &code).await;
    assert_eq!(
        decrypt_from_server(&downloaded.seed, &long_id.parse().unwrap())
            .unwrap()
            .to_hex_upper(),
        SEED
    );
    let polled = suite.poll(FGT, &[], &[&tokens[2], &tokens[3]]).await;
    assert!(
        polled.tokens.iter().all(|t| t.status == "activated"),
        "{polled:?}"
    );
    suite.stop().await;
}

#[tokio::test]
async fn expired_codes_get_40_through_the_injected_clock() {
    let suite = TestSuite::start().await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    let mut short = token(&tokens[0], SEED);
    short.code_expire = 60;
    let late = suite.provision(FGT, &[], vec![short.clone()]).await.tokens[0]
        .token_activation_code
        .clone()
        .unwrap();
    short.token = tokens[1].clone();
    let early = suite.provision(FGT, &[], vec![short]).await.tokens[0]
        .token_activation_code
        .clone()
        .unwrap();
    let (_, frozen) = suite
        .admin_post(FTM, paths::ADMIN_CLOCK, &json!({"freeze": true}))
        .await;
    assert_eq!(frozen["frozen"], true);
    suite.advance_clock(59 * 60).await;
    assert_eq!(
        suite.download(ANDROID_ID, APNS_ID, &early).await.error,
        None
    );
    suite.advance_clock(60).await;
    check_refused_40(&suite.download(ANDROID_ID, APNS_ID, &late).await);
    let polled = suite.poll(FGT, &[], &[&tokens[0], &tokens[1]]).await;
    assert_eq!(
        polled
            .tokens
            .iter()
            .map(|t| t.status.as_ref())
            .collect::<Vec<_>>(),
        ["expired", "activated"]
    );
    // Re-provisioning an expired token (FortiOS "renew") gives a fresh code that works.
    let renewed = provision_one(&suite, FGT, &tokens[0], SEED).await;
    assert_eq!(
        suite.download(ANDROID_ID, APNS_ID, &renewed).await.error,
        None
    );
    suite.stop().await;
}

#[tokio::test]
async fn reprovisioning_invalidates_the_old_code() {
    let suite = TestSuite::start().await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    let first = provision_one(&suite, FGT, &tokens[0], SEED).await;
    let other_seed = "00112233445566778899AABBCCDDEEFF00112233";
    let second = provision_one(&suite, FGT, &tokens[0], other_seed).await;
    assert_ne!(first, second);
    check_refused_40(&suite.download(ANDROID_ID, APNS_ID, &first).await);
    let downloaded = suite.download(ANDROID_ID, APNS_ID, &second).await;
    assert_eq!(
        decrypt_from_server(&downloaded.seed, &ANDROID_ID.parse().unwrap())
            .unwrap()
            .to_hex_upper(),
        other_seed
    );

    // An activated token provisioned again (a new phone) goes back to pending with a new code.
    let third = provision_one(&suite, FGT, &tokens[0], SEED).await;
    assert_eq!(
        suite.poll(FGT, &[], &[&tokens[0]]).await.tokens[0].status,
        "pending"
    );
    assert_eq!(
        suite
            .download("fedcba9876543210", "new-phone", &third)
            .await
            .error,
        None
    );
    let escrow: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;
    assert!(escrow.entries.is_empty());
    suite.stop().await;
}

#[tokio::test]
async fn only_the_owning_cluster_may_provision_and_poll() {
    let suite = TestSuite::start().await;
    let peer = "FGVM01TM00000002";
    let tokens = import_paid(&suite, FGT, &[peer]).await;

    let stranger = suite
        .provision("FGVM01TM00000099", &[], vec![token(&tokens[0], SEED)])
        .await;
    assert!(TOKEN_NOT_OWNED.matches(stranger.tokens[0].error.as_ref().unwrap()));
    assert!(NO_VALID_TOKEN.matches(stranger.error.as_ref().unwrap()));
    assert_eq!(stranger.tokens[0].token_activation_code, None);
    let polled = suite.poll("FGVM01TM00000099", &[], &[&tokens[0]]).await;
    assert!(TOKEN_NOT_OWNED.matches(polled.tokens[0].error.as_ref().unwrap()));

    // The HA peer may; a mixed request gets per-token answers and no top-level error.
    let mixed = suite
        .provision(
            peer,
            &[FGT],
            vec![
                token(&tokens[0], SEED),
                token("FTKMOB0000000000", SEED),
                token("not-a-token", SEED),
            ],
        )
        .await;
    assert_eq!(mixed.error, None);
    assert_eq!(mixed.tokens[0].error, None);
    assert!(TOKEN_NOT_OWNED.matches(mixed.tokens[1].error.as_ref().unwrap()));
    assert!(TOKEN_NOT_OWNED.matches(mixed.tokens[2].error.as_ref().unwrap()));
    assert_eq!(mixed.tokens[2].token, "not-a-token");
    let members: Vec<_> = mixed
        .header
        .clustered_sns
        .iter()
        .map(|m| m.error.clone())
        .collect();
    assert_eq!(members, [None, None]);
    // Nothing was escrowed for the refused requests.
    let escrow: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;
    assert_eq!(escrow.entries.len(), 1);
    suite.stop().await;
}

#[tokio::test]
async fn trial_and_paid_licenses_work_through_the_front_door() {
    let suite = TestSuite::start().await;
    let trial = suite
        .import(FTM, FGT, &[], "0000-0000-0000-0000-0000")
        .await;
    assert!(trial.license.starts_with("FTMTRIAL"));
    let trial_token = trial.tokens.unwrap()[1].token.clone();
    let paid_token = import_paid(&suite, FGT, &[]).await[4].clone();
    let response = suite
        .provision(
            FGT,
            &[],
            vec![token(&trial_token, SEED), token(&paid_token, SEED)],
        )
        .await;
    assert_eq!(
        response.tokens[0].license.as_deref(),
        Some(trial.license.as_str())
    );
    assert_eq!(
        response.tokens[1].license.as_deref(),
        Some("EFTM000000000005")
    );
    for entry in &response.tokens {
        let code = entry.token_activation_code.clone().unwrap();
        assert_eq!(suite.download(ANDROID_ID, APNS_ID, &code).await.error, None);
    }
    // A bad license code through ftm gets forticare's error 16, unchanged.
    let bad = suite
        .import(FTM, FGT, &[], "ABCD-ABCD-ABCD-ABCD-ABCD")
        .await;
    assert_eq!(bad.error.unwrap().error_code, 16);
    suite.stop().await;
}

#[tokio::test]
async fn of_64_concurrent_downloads_exactly_one_gets_the_seed_every_time() {
    let suite = TestSuite::start().await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    for round in 0..12 {
        let code = provision_one(&suite, FGT, &tokens[round % tokens.len()], SEED).await;
        let racers = (0..64).map(|i| {
            let suite = &suite;
            let code = if i % 2 == 0 {
                wire(&code)
            } else {
                code.clone()
            };
            async move { suite.download(&format!("{i:016x}"), "racer", &code).await }
        });
        let answers = futures_util::future::join_all(racers).await;
        let winners: Vec<_> = answers.iter().filter(|a| a.error.is_none()).collect();
        assert_eq!(winners.len(), 1, "round {round}");
        assert!(
            answers
                .iter()
                .filter(|a| a.error.is_some())
                .all(|a| a
                    == &MobileProvisionResponse::refused(ACTIVATION_CODE_INVALID.wire_error()))
        );
    }
    suite.stop().await;
}

#[tokio::test]
async fn a_download_acknowledged_before_a_restart_stays_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    let used = provision_one(&suite, FGT, &tokens[0], SEED).await;
    let waiting = provision_one(&suite, FGT, &tokens[1], SEED).await;
    assert_eq!(suite.download(ANDROID_ID, APNS_ID, &used).await.error, None);
    suite.stop().await;

    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    check_refused_40(&suite.download(ANDROID_ID, APNS_ID, &used).await);
    let polled = suite.poll(FGT, &[], &[&tokens[0], &tokens[1]]).await;
    assert_eq!(
        polled
            .tokens
            .iter()
            .map(|t| t.status.as_ref())
            .collect::<Vec<_>>(),
        ["activated", "pending"]
    );
    let downloaded = suite.download(ANDROID_ID, APNS_ID, &waiting).await;
    assert_eq!(
        decrypt_from_server(&downloaded.seed, &ANDROID_ID.parse().unwrap())
            .unwrap()
            .to_hex_upper(),
        SEED
    );
    suite.stop().await;
}

#[tokio::test]
async fn seeds_never_rest_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    let distinctive = "5EED5EED5EED5EED5EED5EED5EED5EED5EED5EED";
    provision_one(&suite, FGT, &tokens[0], distinctive).await;
    suite.stop().await;
    let needles: [Vec<u8>; 3] = [
        distinctive.as_bytes().to_vec(),
        distinctive.to_lowercase().into_bytes(),
        hex::decode(distinctive).unwrap(),
    ];
    let mut files = vec![dir.path().to_path_buf()];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            scanned += bytes.len();
            for needle in &needles {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "{} holds the seed",
                    path.display()
                );
            }
        }
    }
    assert!(scanned > 0);
}

#[tokio::test]
async fn hostile_input_on_both_endpoints_changes_nothing() {
    let suite = TestSuite::start().await;
    let tokens = import_paid(&suite, FGT, &[]).await;
    let code = provision_one(&suite, FGT, &tokens[0], SEED).await;
    let escrow_before: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;

    let provision = |tokens: Value| {
        json!({"d": {"__type": "SoftToken.ProvisionRequest", "__version": "4", "serial_number": FGT, "__device_version": "7.4", "__device_build": "2829", "__clustered_sns": [{"sn": FGT}], "tokens": tokens}}).to_string()
    };
    let one = |field: &str, value: Value| {
        let mut t = json!({"token": tokens[1], "seed": SEED, "code_expire": 4320, "type": "totp", "period": 60, "digits": 6});
        t[field] = value;
        provision(json!([t]))
    };
    for (body, error_id, mentions) in [
        (
            one("seed", json!("XYZ-not-hex")),
            "protocol.invalid-message",
            "tokens[0].seed",
        ),
        (
            one("seed", json!("ABCD")),
            "protocol.invalid-message",
            "tokens[0].seed",
        ),
        (
            one("seed", json!(12345)),
            "protocol.invalid-message",
            "seed",
        ),
        (
            one("period", json!(0)),
            "protocol.invalid-message",
            "tokens[0].period",
        ),
        (
            one("period", json!(45)),
            "protocol.invalid-message",
            "tokens[0].period",
        ),
        (
            one("digits", json!(7)),
            "protocol.invalid-message",
            "tokens[0].digits",
        ),
        (
            one("type", json!("sms")),
            "protocol.invalid-message",
            "tokens[0].type",
        ),
        (
            one("code_expire", json!(-5)),
            "protocol.invalid-message",
            "tokens[0].code_expire",
        ),
        (
            provision(json!("FTKMOB947FDC1754")),
            "protocol.invalid-message",
            "tokens",
        ),
        (
            provision(json!([{"seed": SEED}])),
            "protocol.invalid-message",
            "token",
        ),
        (
            json!({"d": {"__type": "SoftToken.ProvisionRequest", "serial_number": FGT}})
                .to_string(),
            "protocol.invalid-message",
            "tokens",
        ),
        (
            json!({"d": {"__type": "SoftToken.TransferRequest", "serial_number": FGT}}).to_string(),
            "protocol.unknown-type",
            "SoftToken.ProvisionRequest, SoftToken.PollingRequest, SoftToken.ActivationLicenseRequest",
        ),
        ("{\"d\":".to_owned(), "protocol.not-json", "not JSON"),
    ] {
        let (status, answer) = suite.post_process(FTM, body).await;
        assert_eq!(
            (status, answer["error_id"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error_id)),
            "{answer}"
        );
        assert!(
            answer["Message"].as_str().unwrap().contains(mentions),
            "{answer}"
        );
    }

    let mobile = |fields: Value| {
        let mut d = json!({"__type": "SoftToken.MobileProvisionRequest", "__version": "5", "__device_version": "4.9.9_IOS", "__device_build": "4.9.9.0009", "mobile_id": ANDROID_ID, "registration_id": APNS_ID, "token_activation_code": wire(&code)});
        for (k, v) in fields.as_object().unwrap() {
            if v.is_null() {
                d.as_object_mut().unwrap().remove(k);
            } else {
                d[k] = v.clone();
            }
        }
        json!({"d": d}).to_string()
    };
    // The code is redeemable, so a mobile_id nothing can be encrypted for is a fault (any other id would
    // take the seed; see the_code_is_judged_before_the_mobile_id).
    for (body, error_id, mentions) in [
        (
            mobile(json!({"mobile_id": "x".repeat(129)})),
            "protocol.invalid-message",
            "mobile_id",
        ),
        (
            mobile(json!({"mobile_id": ""})),
            "protocol.invalid-message",
            "mobile_id",
        ),
        (
            mobile(json!({"mobile_id": null})),
            "protocol.invalid-message",
            "mobile_id",
        ),
        (
            mobile(json!({"mobile_id": 42})),
            "protocol.invalid-message",
            "mobile_id",
        ),
        (
            mobile(json!({"token_activation_code": null})),
            "protocol.invalid-message",
            "token_activation_code",
        ),
        (
            mobile(json!({"token_activation_code": 1234})),
            "protocol.invalid-message",
            "token_activation_code",
        ),
        (
            mobile(json!({"registration_id": "x".repeat(300)})),
            "protocol.invalid-message",
            "registration_id",
        ),
        (
            mobile(json!({"__type": "SoftToken.ProvisionRequest"})),
            "protocol.unknown-type",
            "SoftToken.MobileProvisionRequest",
        ),
        ("[]".to_owned(), "protocol.no-envelope", "\"d\""),
    ] {
        let (status, answer) = suite.post_mobile(body).await;
        assert_eq!(
            (status, answer["error_id"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error_id)),
            "{answer}"
        );
        assert!(
            answer["Message"].as_str().unwrap().contains(mentions),
            "{answer}"
        );
    }
    // Codes that are not codes get the real service's answer, error 40.
    for bad_code in [
        "zz498cc89189c8c",
        "4ad498cc89189c8",
        "4ad498cc89189c8cc",
        "",
        "EEAEVVEYZSERRHE",
        "AAAAAAAAAAAAAAAA",
        "4ad498cc89189c8c",
    ] {
        let (status, answer) = suite
            .post_mobile(mobile(json!({"token_activation_code": bad_code})))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            answer["d"]["error"]["error_code"], 40,
            "{bad_code}: {answer}"
        );
    }
    let huge = mobile(json!({"registration_id": "A".repeat(2 * 1024 * 1024)}));
    let (status, answer) = suite.post_mobile(huge).await;
    assert_eq!(
        (status, answer["error_id"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("protocol.too-large"))
    );

    assert!(suite.healthy(FTM).await);
    let escrow_after: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;
    assert_eq!(escrow_before, escrow_after);
    // The code survived every attack and still works once.
    assert_eq!(suite.download(ANDROID_ID, APNS_ID, &code).await.error, None);
    let _: ProvisionResponse = suite
        .provision(FGT, &[], vec![token(&tokens[1], SEED)])
        .await;
    suite.stop().await;
}

#[tokio::test]
async fn the_clock_refuses_to_leave_its_range() {
    let suite = TestSuite::start().await;
    let (status, before) = suite
        .admin_post(FTM, paths::ADMIN_CLOCK, &json!({"freeze": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{before}");
    // The finding: this saturated, then wrapped the year negative.
    let (status, answer) = suite
        .admin_post(
            FTM,
            paths::ADMIN_CLOCK,
            &json!({"advance_secs": 9_223_372_036_854_775_807_i64}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error_id"], "admin.clock.invalid");
    let after: protocol::admin::ClockView = suite.admin_get(FTM, paths::ADMIN_CLOCK).await;
    assert_eq!(after.now.secs(), before["now"].as_i64().unwrap());
    suite.stop().await;
}
