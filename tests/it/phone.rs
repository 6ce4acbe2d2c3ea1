//! The virtual FortiToken Mobile phones end to end: phones in each platform's real shape, a token from
//! license import through provisioning to a phone's codes (typed code and QR string), one activation per
//! code, the appliance's poll seeing the phone, clock skew and `at=`, 30- and 60-second tokens whose period
//! the phone reads from the code it was given, 30-second 8-digit and HOTP tokens,
//! deleting tokens and phones, the app-data export with encrypted seeds only, bad input that changes
//! nothing, concurrent changes to one phone, and a restart.

use e2e::{TestSuite, default_fixtures, test_options, token};
use protocol::activation::TokenActivationCode;
use protocol::admin::{ClientCertList, ClockView, EscrowList};
use protocol::device_storage::{self, SERIAL_PRE_ANDROID9};
use protocol::otp::{hotp, totp};
use protocol::paths;
use protocol::phone::{OtpView, PhoneList, PhoneTokenView, PhoneView, Platform};
use protocol::provision::ProvisionToken;
use protocol::seed::Seed;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const FTM: &str = "ftm";
const PHONE: &str = "phone";
const FGT: &str = "FGVM01TM00000001";
const PAID: &str = "1111-2222-3333-4444-5555";
const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";
const OTHER_SEED: &str = "00112233445566778899AABBCCDDEEFF00112233";

/// Sends a request to the phone service; returns the status and the JSON body (`null` when empty).
async fn call(
    suite: &TestSuite,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = suite
        .client
        .request(method, format!("{}{path}", suite.url(PHONE)));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, body)
}

async fn create(suite: &TestSuite, body: Value) -> PhoneView {
    let (status, answer) = call(suite, Method::POST, paths::PHONES, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    serde_json::from_value(answer).unwrap()
}

async fn phone(suite: &TestSuite, id: &str) -> PhoneView {
    let (status, answer) = call(suite, Method::GET, &paths::fill(paths::PHONE, &[id]), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    serde_json::from_value(answer).unwrap()
}

async fn activate(suite: &TestSuite, id: &str, code: &str) -> (StatusCode, Value) {
    call(
        suite,
        Method::POST,
        &paths::fill(paths::PHONE_ACTIVATE, &[id]),
        Some(json!({"code": code})),
    )
    .await
}

async fn activated(suite: &TestSuite, id: &str, code: &str) -> PhoneTokenView {
    let (status, answer) = activate(suite, id, code).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    serde_json::from_value(answer).unwrap()
}

/// `GET /phones/{id}/otp` with `query` (e.g. `?token=…&at=…`), expecting a code.
async fn otp(suite: &TestSuite, id: &str, query: &str) -> OtpView {
    let (status, answer) = call(
        suite,
        Method::GET,
        &format!("{}{query}", paths::fill(paths::PHONE_OTP, &[id])),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    serde_json::from_value(answer).unwrap()
}

#[track_caller]
fn check_error(answer: &(StatusCode, Value), status: StatusCode, error_id: &str) {
    assert_eq!(
        (answer.0, answer.1["error_id"].as_str()),
        (status, Some(error_id)),
        "{}",
        answer.1
    );
    assert!(!answer.1["message"].as_str().unwrap().is_empty());
}

/// Stops the suite's clock and returns where it stands.
async fn freeze(suite: &TestSuite) -> i64 {
    let (status, view) = suite
        .admin_post(FTM, paths::ADMIN_CLOCK, &json!({"freeze": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let view: ClockView = serde_json::from_value(view).unwrap();
    view.now.secs()
}

/// Imports the default lab's 5-seat license through ftm; returns its token serials.
async fn import(suite: &TestSuite) -> Vec<String> {
    let response = suite.import(FTM, FGT, &[], PAID).await;
    assert_eq!(response.error, None, "{response:?}");
    response
        .tokens
        .unwrap()
        .into_iter()
        .map(|t| t.token)
        .collect()
}

/// Provisions one token as the FortiGate; returns its activation code and QR string.
async fn provision(suite: &TestSuite, wire: ProvisionToken) -> (String, String) {
    let response = suite.provision(FGT, &[], vec![wire]).await;
    assert_eq!(response.error, None, "{response:?}");
    let entry = &response.tokens[0];
    assert_eq!(entry.error, None, "{response:?}");
    (
        entry.token_activation_code.clone().unwrap(),
        entry.qr_code.clone().unwrap(),
    )
}

fn seed_bytes(hex: &str) -> Vec<u8> {
    Seed::from_hex(hex).unwrap().as_bytes().to_vec()
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[tokio::test]
async fn phones_have_each_platforms_real_shapes() {
    let suite = TestSuite::start().await;
    let android = create(&suite, json!({})).await;
    assert_eq!(android.id, "phone-1");
    assert_eq!(android.platform, Platform::Android);
    assert_eq!(android.mobile_id.as_str().len(), 16);
    assert!(is_lower_hex(android.mobile_id.as_str()));
    let (instance, token) = android.registration_id.split_once(":APA91b").unwrap();
    assert_eq!((instance.len(), token.len()), (11, 134));
    assert!(
        android
            .registration_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-:".contains(&b))
    );
    assert_eq!(
        (android.app_version.as_str(), android.os_ver.as_str()),
        ("4.9.9", "4.9.9_Android")
    );
    assert_eq!((android.clock_skew_secs, android.tokens.len()), (0, 0));

    let ios = create(&suite, json!({"platform": "ios", "name": "lab-iphone"})).await;
    assert_eq!(
        (ios.id.as_str(), ios.platform),
        ("lab-iphone", Platform::Ios)
    );
    let groups: Vec<usize> = ios.mobile_id.as_str().split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert_eq!(
        ios.mobile_id.as_str(),
        ios.mobile_id.as_str().to_ascii_uppercase()
    );
    assert_eq!(ios.registration_id.len(), 64);
    assert!(is_lower_hex(&ios.registration_id));
    assert_eq!(ios.os_ver, "4.9.9_IOS");

    // Given values are kept; an empty body is an Android phone with every value made up.
    let given = create(
        &suite,
        json!({"mobile_id": "e248e1e9527f20ff", "app_version": "5.4.2", "registration_id": "f6t6cMVZI5c:APA91bFzx", "clock_skew_secs": -7}),
    )
    .await;
    assert_eq!(
        (
            given.id.as_str(),
            given.mobile_id.as_str(),
            given.os_ver.as_str(),
            given.registration_id.as_str(),
            given.clock_skew_secs
        ),
        (
            "phone-3",
            "e248e1e9527f20ff",
            "5.4.2_Android",
            "f6t6cMVZI5c:APA91bFzx",
            -7
        )
    );
    let response = suite
        .client
        .post(format!("{}{}", suite.url(PHONE), paths::PHONES))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, list) = call(&suite, Method::GET, paths::PHONES, None).await;
    let list: PhoneList = serde_json::from_value(list).unwrap();
    let ids: Vec<&str> = list.phones.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["phone-1", "lab-iphone", "phone-3", "phone-4"]);
    assert_eq!(phone(&suite, "lab-iphone").await, ios);
    assert_ne!(android.mobile_id, phone(&suite, "phone-4").await.mobile_id);
    suite.stop().await;
}

#[tokio::test]
async fn a_token_goes_from_the_appliance_to_the_phone_once() {
    let suite = TestSuite::start().await;
    let now = freeze(&suite).await;
    let tokens = import(&suite).await;
    let (code, _) = provision(&suite, token(&tokens[0], SEED)).await;
    let android = create(&suite, json!({})).await;

    let view = activated(&suite, &android.id, &code).await;
    assert_eq!(view.serial.as_str(), tokens[0]);
    assert_eq!(view.name, format!("FortiToken {}", &tokens[0][12..]));
    assert_eq!(
        (
            view.issuer.as_str(),
            view.kind.as_str(),
            view.period,
            view.digits
        ),
        (FGT, "totp", 60, 6)
    );
    assert_eq!(view.activated.secs(), now);
    assert_eq!(
        phone(&suite, &android.id).await.tokens,
        std::slice::from_ref(&view)
    );

    let code_now = otp(&suite, &android.id, "").await;
    assert_eq!(code_now.otp, totp(&seed_bytes(SEED), now, 60, 6));
    assert_eq!(code_now.token.as_str(), tokens[0]);
    assert_eq!(code_now.at.secs(), now);
    assert_eq!(
        code_now.valid_for_secs,
        Some(u32::try_from(60 - now.rem_euclid(60)).unwrap())
    );
    assert_eq!(
        otp(
            &suite,
            &android.id,
            &format!("?token={}", tokens[0].to_lowercase())
        )
        .await,
        code_now
    );

    // The code is used up: ftm's error 40 comes back as 422 with its catalogue id, and nothing is stored.
    let again = activate(&suite, &android.id, &code).await;
    check_error(
        &again,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ftm.mobile.code-invalid",
    );
    assert_eq!(
        again.1["message"],
        "FTM token Activation Code is invalid (40)"
    );
    let ios = create(&suite, json!({"platform": "ios"})).await;
    check_error(
        &activate(&suite, &ios.id, &code).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ftm.mobile.code-invalid",
    );
    assert_eq!(phone(&suite, &android.id).await.tokens.len(), 1);
    assert!(phone(&suite, &ios.id).await.tokens.is_empty());

    // The appliance's poll shows the phone that activated the token.
    let polled = suite.poll(FGT, &[], &[&tokens[0]]).await;
    let state = &polled.tokens[0];
    assert_eq!(
        (
            state.status.as_ref(),
            state.reg_id.as_deref(),
            state.os_ver.as_deref(),
            state.activated
        ),
        (
            "activated",
            Some(android.registration_id.as_str()),
            Some("4.9.9_Android"),
            Some(now)
        )
    );
    // Like the real app, the phone presented a client certificate to the provisioning server.
    let certs: ClientCertList = suite.admin_get(FTM, paths::ADMIN_CLIENT_CERTS).await;
    assert!(
        certs
            .client_certs
            .iter()
            .any(|c| c.subject_cn.as_deref() == Some("FortiToken Mobile (fortimock virtual phone)")),
        "{certs:?}"
    );
    suite.stop().await;
}

#[tokio::test]
async fn qr_strings_and_codes_as_typed_work() {
    let suite = TestSuite::start().await;
    let now = freeze(&suite).await;
    let tokens = import(&suite).await;
    let (_, qr) = provision(&suite, token(&tokens[0], SEED)).await;
    let (code, _) = provision(&suite, token(&tokens[1], OTHER_SEED)).await;
    let ios = create(&suite, json!({"platform": "ios"})).await;

    assert_eq!(
        activated(&suite, &ios.id, &qr).await.serial.as_str(),
        tokens[0]
    );
    let typed = format!(
        " {}-{}-{}-{} ",
        &code[..4],
        &code[4..8],
        &code[8..12],
        &code[12..]
    )
    .to_lowercase();
    // Sent as `curl -d` sends it: JSON without a JSON content type.
    let response = suite
        .client
        .post(format!(
            "{}{}",
            suite.url(PHONE),
            paths::fill(paths::PHONE_ACTIVATE, &[&ios.id])
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(json!({"code": typed}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let view: PhoneTokenView = response.json().await.unwrap();
    assert_eq!(view.serial.as_str(), tokens[1]);

    // With two tokens the phone must be told which one.
    let ambiguous = call(
        &suite,
        Method::GET,
        &paths::fill(paths::PHONE_OTP, &[&ios.id]),
        None,
    )
    .await;
    check_error(&ambiguous, StatusCode::BAD_REQUEST, "phone.token-ambiguous");
    let message = ambiguous.1["message"].as_str().unwrap();
    assert!(
        message.contains(&tokens[0]) && message.contains(&tokens[1]),
        "{message}"
    );
    for (serial, seed) in [(&tokens[0], SEED), (&tokens[1], OTHER_SEED)] {
        let view = otp(&suite, &ios.id, &format!("?token={serial}")).await;
        assert_eq!(view.otp, totp(&seed_bytes(seed), now, 60, 6));
    }
    suite.stop().await;
}

#[tokio::test]
async fn clock_skew_and_at_move_the_phones_time() {
    let suite = TestSuite::start().await;
    let now = freeze(&suite).await;
    let tokens = import(&suite).await;
    let (code, _) = provision(&suite, token(&tokens[0], SEED)).await;
    let skewed = create(&suite, json!({"clock_skew_secs": 90})).await;
    activated(&suite, &skewed.id, &code).await;
    let seed = seed_bytes(SEED);

    let view = otp(&suite, &skewed.id, "").await;
    assert_eq!(view.at.secs(), now + 90);
    assert_eq!(view.otp, totp(&seed, now + 90, 60, 6));

    let (status, changed) = call(
        &suite,
        Method::PATCH,
        &paths::fill(paths::PHONE, &[&skewed.id]),
        Some(json!({"clock_skew_secs": -30})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["clock_skew_secs"], -30);
    assert_eq!(changed["registration_id"], skewed.registration_id.as_str());
    assert_eq!(
        otp(&suite, &skewed.id, "").await.otp,
        totp(&seed, now - 30, 60, 6)
    );

    // `at` is lab time in any form UnixTime takes; the phone's skew still applies.
    let new_year = 1_893_456_000;
    for at in ["2030-01-01T00:00:00Z", "2030-01-01", "1893456000"] {
        let view = otp(&suite, &skewed.id, &format!("?at={at}")).await;
        assert_eq!(view.at.secs(), new_year - 30, "{at}");
        assert_eq!(view.otp, totp(&seed, new_year - 30, 60, 6), "{at}");
        assert_eq!(view.valid_for_secs, Some(30));
    }
    check_error(
        &call(
            &suite,
            Method::GET,
            &format!("{}?at=soon", paths::fill(paths::PHONE_OTP, &[&skewed.id])),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "phone.bad-time",
    );
    suite.stop().await;
}

/// The flag byte of an activation code (its second byte).
fn flag(code: &str) -> u8 {
    code.parse::<TokenActivationCode>().unwrap().flag()
}

#[tokio::test]
async fn the_period_comes_from_the_code_the_phone_was_given() {
    let suite = TestSuite::start().await;
    let now = freeze(&suite).await;
    let tokens = import(&suite).await;
    let mut short = token(&tokens[0], SEED);
    short.period = 30;
    let (thirty, thirty_qr) = provision(&suite, short).await;
    let (sixty, _) = provision(&suite, token(&tokens[1], OTHER_SEED)).await;
    // ftm says the period in the code's flag byte, as public clients read it: 0x00 30 s, 0x10 60 s.
    assert_eq!((flag(&thirty), flag(&sixty)), (0x00, 0x10));
    assert!(thirty.starts_with("EEA") && sixty.starts_with("EEI"));

    // One token scanned, one typed; the answer does not say the period, the code does.
    let phone_id = create(&suite, json!({})).await.id;
    assert_eq!(activated(&suite, &phone_id, &thirty_qr).await.period, 30);
    let typed = activated(&suite, &phone_id, &sixty.to_lowercase()).await;
    assert_eq!(
        (typed.kind.as_str(), typed.period, typed.digits),
        ("totp", 60, 6)
    );

    // Two minutes from a minute boundary, ten seconds at a time: the codes follow each token's step.
    let start = now + 60 - now.rem_euclid(60);
    suite.advance_clock(start - now).await;
    for step in 0..12 {
        let at = start + step * 10;
        for (serial, seed, period) in [(&tokens[0], SEED, 30), (&tokens[1], OTHER_SEED, 60)] {
            let view = otp(&suite, &phone_id, &format!("?token={serial}")).await;
            assert_eq!(view.at.secs(), at);
            assert_eq!(
                view.otp,
                totp(&seed_bytes(seed), at, period, 6),
                "{period} s at {at}"
            );
            let left = u32::try_from(i64::from(period) - at.rem_euclid(i64::from(period))).unwrap();
            assert_eq!((view.period, view.valid_for_secs), (period, Some(left)));
        }
        suite.advance_clock(10).await;
    }
    suite.stop().await;
}

#[tokio::test]
async fn thirty_second_eight_digit_tokens() {
    let suite = TestSuite::start().await;
    let now = freeze(&suite).await;
    let tokens = import(&suite).await;
    let mut short = token(&tokens[0], SEED);
    short.period = 30;
    short.digits = 8;
    let (code, _) = provision(&suite, short).await;
    // The code's flag byte carries the length too (fortimock's 0x08 bit) and no 60-second bit.
    assert_eq!(flag(&code), 0x08);
    let phone_id = create(&suite, json!({})).await.id;
    let view = activated(&suite, &phone_id, &code).await;
    assert_eq!((view.period, view.digits), (30, 8));
    let seed = seed_bytes(SEED);

    // Step to the start of a 30-second step, then walk through two steps.
    suite.advance_clock(30 - now.rem_euclid(30)).await;
    let start = now + 30 - now.rem_euclid(30);
    let first = otp(&suite, &phone_id, "").await;
    assert_eq!(first.otp.len(), 8);
    assert_eq!(first.otp, totp(&seed, start, 30, 8));
    assert_eq!(
        (first.period, first.digits, first.valid_for_secs),
        (30, 8, Some(30))
    );
    suite.advance_clock(29).await;
    let late = otp(&suite, &phone_id, "").await;
    assert_eq!(
        (late.otp.as_str(), late.valid_for_secs),
        (first.otp.as_str(), Some(1))
    );
    suite.advance_clock(1).await;
    let next = otp(&suite, &phone_id, "").await;
    assert_eq!(next.otp, totp(&seed, start + 30, 30, 8));
    assert_ne!(next.otp, first.otp);
    assert_eq!(next.valid_for_secs, Some(30));
    suite.stop().await;
}

#[tokio::test]
async fn hotp_tokens_step_only_when_asked() {
    let suite = TestSuite::start().await;
    let tokens = import(&suite).await;
    let mut counter_based = token(&tokens[0], SEED);
    counter_based.kind = "hotp".into();
    let (hotp_code, _) = provision(&suite, counter_based).await;
    // The code's flag byte says HOTP (fortimock's 0x01 bit) next to the 60-second bit.
    assert_eq!(flag(&hotp_code), 0x11);
    let (totp_code, _) = provision(&suite, token(&tokens[1], OTHER_SEED)).await;
    let phone_id = create(&suite, json!({})).await.id;
    assert_eq!(activated(&suite, &phone_id, &hotp_code).await.kind, "hotp");
    activated(&suite, &phone_id, &totp_code).await;
    let seed = seed_bytes(SEED);
    let query = format!("?token={}", tokens[0]);

    // The app starts at the counter the server sent (1); reading the code does not use it up.
    let first = otp(&suite, &phone_id, &query).await;
    assert_eq!(
        (first.otp.clone(), first.kind.as_str(), first.valid_for_secs),
        (hotp(&seed, 1, 6), "hotp", None)
    );
    assert_eq!(otp(&suite, &phone_id, &query).await.otp, first.otp);
    let next_path = paths::fill(paths::PHONE_TOKEN_NEXT, &[&phone_id, &tokens[0]]);
    for counter in 2..=4 {
        let (status, stepped) = call(&suite, Method::POST, &next_path, None).await;
        assert_eq!(status, StatusCode::OK, "{stepped}");
        assert_eq!(stepped["otp"], hotp(&seed, counter, 6));
        assert_eq!(
            otp(&suite, &phone_id, &query).await.otp,
            hotp(&seed, counter, 6)
        );
    }
    // A TOTP token has no counter to step.
    check_error(
        &call(
            &suite,
            Method::POST,
            &paths::fill(paths::PHONE_TOKEN_NEXT, &[&phone_id, &tokens[1]]),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "phone.not-hotp",
    );
    let (_, export) = call(
        &suite,
        Method::GET,
        &paths::fill(paths::PHONE_EXPORT, &[&phone_id]),
        None,
    )
    .await;
    assert_eq!(export["accounts"][0]["counter"], 4);
    assert_eq!(export["accounts"][0]["type"], "hotp");
    suite.stop().await;
}

#[tokio::test]
async fn deleting_tokens_and_phones() {
    let suite = TestSuite::start().await;
    let tokens = import(&suite).await;
    let (first, _) = provision(&suite, token(&tokens[0], SEED)).await;
    let (second, _) = provision(&suite, token(&tokens[1], SEED)).await;
    let phone_id = create(&suite, json!({})).await.id;
    activated(&suite, &phone_id, &first).await;
    activated(&suite, &phone_id, &second).await;

    let token_path = paths::fill(paths::PHONE_TOKEN, &[&phone_id, &tokens[0]]);
    let (status, body) = call(&suite, Method::DELETE, &token_path, None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    check_error(
        &call(&suite, Method::DELETE, &token_path, None).await,
        StatusCode::NOT_FOUND,
        "phone.token-not-found",
    );
    check_error(
        &call(
            &suite,
            Method::GET,
            &format!(
                "{}?token={}",
                paths::fill(paths::PHONE_OTP, &[&phone_id]),
                tokens[0]
            ),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "phone.token-not-found",
    );
    // The one token left needs no `?token=`.
    assert_eq!(otp(&suite, &phone_id, "").await.token.as_str(), tokens[1]);

    let phone_path = paths::fill(paths::PHONE, &[&phone_id]);
    let (status, _) = call(&suite, Method::DELETE, &phone_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (method, path) in [
        (Method::GET, phone_path.clone()),
        (Method::DELETE, phone_path.clone()),
        (Method::GET, format!("{phone_path}/otp")),
        (Method::GET, format!("{phone_path}/export")),
    ] {
        check_error(
            &call(&suite, method, &path, None).await,
            StatusCode::NOT_FOUND,
            "phone.not-found",
        );
    }
    let (_, list) = call(&suite, Method::GET, paths::PHONES, None).await;
    assert_eq!(list, json!({"phones": []}));
    suite.stop().await;
}

#[tokio::test]
async fn the_export_holds_the_seed_only_encrypted() {
    let suite = TestSuite::start().await;
    let tokens = import(&suite).await;
    let (code, _) = provision(&suite, token(&tokens[0], SEED)).await;
    let android = create(&suite, json!({})).await;
    let view = activated(&suite, &android.id, &code).await;

    let (status, export) = call(
        &suite,
        Method::GET,
        &paths::fill(paths::PHONE_EXPORT, &[&android.id]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let prefs = &export["shared_prefs"];
    assert_eq!(prefs["SerialNumberPreAndroid9"], SERIAL_PRE_ANDROID9);
    assert_eq!(prefs["FirebaseId"], android.registration_id.as_str());
    assert_eq!(prefs["StoredVersionCode"], 409_090_009);
    let account = &export["accounts"][0];
    assert_eq!(account["comments"], tokens[0].as_str());
    assert_eq!(account["ftm_sn"], tokens[0].as_str());
    assert_eq!(account["name"], view.name.as_str());
    assert_eq!(account["type"], "totp");
    assert_eq!(account["otp_issuer"], FGT);
    assert_eq!(
        (account["otp_period"].as_u64(), account["digits"].as_u64()),
        (Some(60), Some(6))
    );
    assert_eq!(
        account["activation_timeStamp"].as_i64().unwrap() / 1000,
        view.activated.secs()
    );
    assert_eq!(export["device"]["id"], android.id.as_str());

    // Decrypting as the app does gives the provisioned seed.
    let key = device_storage::uuid_key(android.mobile_id.as_str(), SERIAL_PRE_ANDROID9);
    let uuid = device_storage::decrypt_uuid(&key, prefs["UUID"].as_str().unwrap()).unwrap();
    assert_eq!(uuid.len(), 32);
    let seed =
        device_storage::decrypt_seed(&key, &uuid, account["seed"].as_str().unwrap()).unwrap();
    assert_eq!(seed, Seed::from_hex(SEED).unwrap());
    let text = export.to_string();
    assert!(
        !text.contains(SEED) && !text.contains(&SEED.to_lowercase()),
        "{text}"
    );
    suite.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_changes_nothing() {
    let suite = TestSuite::start().await;
    let tokens = import(&suite).await;
    let (code, _) = provision(&suite, token(&tokens[0], SEED)).await;
    let taken = create(&suite, json!({"name": "taken"})).await;
    let escrow_before: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;

    for (body, status, error_id) in [
        (
            json!({"name": "taken"}),
            StatusCode::CONFLICT,
            "phone.name-taken",
        ),
        (
            json!({"name": "Phone_1"}),
            StatusCode::BAD_REQUEST,
            "phone.bad-name",
        ),
        (
            json!({"name": ""}),
            StatusCode::BAD_REQUEST,
            "phone.bad-name",
        ),
        (
            json!({"name": "x".repeat(33)}),
            StatusCode::BAD_REQUEST,
            "phone.bad-name",
        ),
        (
            json!({"mobile_id": "e248e1e9527f20f"}),
            StatusCode::BAD_REQUEST,
            "phone.bad-mobile-id",
        ),
        (
            json!({"mobile_id": 42}),
            StatusCode::BAD_REQUEST,
            "phone.bad-mobile-id",
        ),
        (
            json!({"platform": "android", "mobile_id": "00DAB39B-B920-463A-A099-44B6138A3C95"}),
            StatusCode::BAD_REQUEST,
            "phone.bad-mobile-id",
        ),
        (
            json!({"app_version": "4.9.x"}),
            StatusCode::BAD_REQUEST,
            "phone.bad-app-version",
        ),
        (
            json!({"registration_id": ""}),
            StatusCode::BAD_REQUEST,
            "phone.bad-registration-id",
        ),
        (
            json!({"registration_id": "x".repeat(257)}),
            StatusCode::BAD_REQUEST,
            "phone.bad-registration-id",
        ),
        (
            json!({"platform": "windows"}),
            StatusCode::BAD_REQUEST,
            "phone.bad-request",
        ),
        (
            json!({"nmae": "typo"}),
            StatusCode::BAD_REQUEST,
            "phone.bad-request",
        ),
        (
            json!({"clock_skew_secs": i64::MAX}),
            StatusCode::BAD_REQUEST,
            "phone.bad-clock-skew",
        ),
    ] {
        check_error(
            &call(&suite, Method::POST, paths::PHONES, Some(body)).await,
            status,
            error_id,
        );
    }

    // A malformed code is refused before ftm is asked, so the real code stays redeemable.
    for bad in [
        "",
        "EEIOHIDHBXN5QLX",
        "not a code",
        "fortitokenmobile://activate?code=nope",
    ] {
        check_error(
            &activate(&suite, &taken.id, bad).await,
            StatusCode::BAD_REQUEST,
            "phone.bad-code",
        );
    }
    check_error(
        &call(
            &suite,
            Method::POST,
            &paths::fill(paths::PHONE_ACTIVATE, &[&taken.id]),
            Some(json!({"cod": code})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "phone.bad-request",
    );
    check_error(
        &activate(&suite, "nobody", &code).await,
        StatusCode::NOT_FOUND,
        "phone.not-found",
    );
    let escrow_after: EscrowList = suite.admin_get(FTM, paths::ADMIN_ESCROW).await;
    assert_eq!(escrow_before, escrow_after);

    // Unknown phones and tokens, bad serials and bad changes.
    let unknown_token = "FTKMOB0000000000";
    for (method, path, body, status, error_id) in [
        (
            Method::GET,
            paths::fill(paths::PHONE, &["nobody"]),
            None,
            StatusCode::NOT_FOUND,
            "phone.not-found",
        ),
        (
            Method::PATCH,
            paths::fill(paths::PHONE, &["nobody"]),
            Some(json!({"clock_skew_secs": 1})),
            StatusCode::NOT_FOUND,
            "phone.not-found",
        ),
        (
            Method::GET,
            paths::fill(paths::PHONE_OTP, &["taken"]),
            None,
            StatusCode::NOT_FOUND,
            "phone.token-not-found",
        ),
        (
            Method::GET,
            format!(
                "{}?token={unknown_token}",
                paths::fill(paths::PHONE_OTP, &["taken"])
            ),
            None,
            StatusCode::NOT_FOUND,
            "phone.token-not-found",
        ),
        (
            Method::GET,
            format!(
                "{}?token=FTKMOB12",
                paths::fill(paths::PHONE_OTP, &["taken"])
            ),
            None,
            StatusCode::BAD_REQUEST,
            "phone.bad-token",
        ),
        (
            Method::GET,
            format!(
                "{}?serial=FTKMOB0000000000",
                paths::fill(paths::PHONE_OTP, &["taken"])
            ),
            None,
            StatusCode::BAD_REQUEST,
            "admin.query.invalid",
        ),
        (
            Method::DELETE,
            paths::fill(paths::PHONE_TOKEN, &["taken", unknown_token]),
            None,
            StatusCode::NOT_FOUND,
            "phone.token-not-found",
        ),
        (
            Method::DELETE,
            paths::fill(paths::PHONE_TOKEN, &["taken", "nope"]),
            None,
            StatusCode::BAD_REQUEST,
            "phone.bad-token",
        ),
        (
            Method::POST,
            paths::fill(paths::PHONE_TOKEN_NEXT, &["taken", unknown_token]),
            None,
            StatusCode::NOT_FOUND,
            "phone.token-not-found",
        ),
        (
            Method::POST,
            paths::fill(paths::PHONE_TOKEN_NEXT, &["nobody", unknown_token]),
            None,
            StatusCode::NOT_FOUND,
            "phone.not-found",
        ),
        (
            Method::PATCH,
            paths::fill(paths::PHONE, &["taken"]),
            Some(json!({"registration_id": ""})),
            StatusCode::BAD_REQUEST,
            "phone.bad-registration-id",
        ),
        (
            Method::PATCH,
            paths::fill(paths::PHONE, &["taken"]),
            Some(json!({"clock_skew_secs": 1, "registration_id": " "})),
            StatusCode::BAD_REQUEST,
            "phone.bad-registration-id",
        ),
        (
            Method::PATCH,
            paths::fill(paths::PHONE, &["taken"]),
            Some(json!({"clock_skew": 1})),
            StatusCode::BAD_REQUEST,
            "phone.bad-request",
        ),
    ] {
        check_error(
            &call(&suite, method.clone(), &path, body).await,
            status,
            error_id,
        );
    }
    let (_, list) = call(&suite, Method::GET, paths::PHONES, None).await;
    let list: PhoneList = serde_json::from_value(list).unwrap();
    assert_eq!(list.phones, std::slice::from_ref(&taken));

    // After all that, the code still activates, once.
    activated(&suite, &taken.id, &code).await;
    assert!(suite.healthy(PHONE).await);
    suite.stop().await;
}

#[tokio::test]
async fn concurrent_changes_to_one_phone_are_all_kept() {
    let suite = TestSuite::start().await;
    let tokens = import(&suite).await;
    let mut codes = Vec::new();
    for (i, serial) in tokens.iter().enumerate() {
        let mut wire = token(serial, SEED);
        if i == 0 {
            wire.kind = "hotp".into();
        }
        codes.push(provision(&suite, wire).await.0);
    }
    let phone_id = create(&suite, json!({})).await.id;
    activated(&suite, &phone_id, &codes[0]).await;

    // Four activations, ten HOTP steps and a skew change, all at once.
    let activations = codes[1..].iter().map(|code| {
        let (suite, phone_id) = (&suite, &phone_id);
        async move { activate(suite, phone_id, code).await.0 }
    });
    let next_path = paths::fill(paths::PHONE_TOKEN_NEXT, &[&phone_id, &tokens[0]]);
    let steps = (0..10).map(|_| {
        let (suite, path) = (&suite, &next_path);
        async move { call(suite, Method::POST, path, None).await.0 }
    });
    let phone_path = paths::fill(paths::PHONE, &[&phone_id]);
    let skew = call(
        &suite,
        Method::PATCH,
        &phone_path,
        Some(json!({"clock_skew_secs": 5})),
    );
    let (activated_all, stepped_all, (skew_status, _)) = tokio::join!(
        futures_util::future::join_all(activations),
        futures_util::future::join_all(steps),
        skew
    );
    assert!(
        activated_all.iter().all(|s| *s == StatusCode::CREATED),
        "{activated_all:?}"
    );
    assert!(
        stepped_all.iter().all(|s| *s == StatusCode::OK),
        "{stepped_all:?}"
    );
    assert_eq!(skew_status, StatusCode::OK);

    let after = phone(&suite, &phone_id).await;
    let mut serials: Vec<&str> = after.tokens.iter().map(|t| t.serial.as_str()).collect();
    serials.sort_unstable();
    let mut expected: Vec<&str> = tokens.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(serials, expected);
    assert_eq!(after.clock_skew_secs, 5);
    let hotp_now = otp(&suite, &phone_id, &format!("?token={}", tokens[0])).await;
    assert_eq!(hotp_now.otp, hotp(&seed_bytes(SEED), 11, 6));
    suite.stop().await;
}

#[tokio::test]
async fn a_restart_keeps_phones_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    let tokens = import(&suite).await;
    let (code, _) = provision(&suite, token(&tokens[0], SEED)).await;
    let before = create(&suite, json!({"platform": "ios", "clock_skew_secs": 12})).await;
    activated(&suite, &before.id, &code).await;
    let at = "?at=2031-05-06T07:08:09Z";
    let code_before = otp(&suite, &before.id, at).await;
    let before = phone(&suite, &before.id).await;
    let (_, export_before) = call(
        &suite,
        Method::GET,
        &paths::fill(paths::PHONE_EXPORT, &[&before.id]),
        None,
    )
    .await;
    suite.stop().await;

    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    assert_eq!(phone(&suite, &before.id).await, before);
    assert_eq!(otp(&suite, &before.id, at).await, code_before);
    assert_eq!(
        code_before.otp,
        totp(&seed_bytes(SEED), 1_935_817_689 + 12, 60, 6)
    );
    let (_, export_after) = call(
        &suite,
        Method::GET,
        &paths::fill(paths::PHONE_EXPORT, &[&before.id]),
        None,
    )
    .await;
    assert_eq!(export_before, export_after);
    // Default names keep counting.
    assert_eq!(create(&suite, json!({})).await.id, "phone-2");
    suite.stop().await;

    // The phone's data dir never holds the seed in the clear.
    let needles = [
        SEED.as_bytes().to_vec(),
        SEED.to_lowercase().into_bytes(),
        seed_bytes(SEED),
    ];
    let mut files = vec![dir.path().join(PHONE)];
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
