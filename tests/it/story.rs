//! The whole FortiToken Mobile story through the public HTTP APIs only: a virtual appliance imports a
//! license, provisions a token to a user, a virtual phone activates it, the appliance polls and sees the
//! phone's reg-id and os-ver, the user logs in with the phone's OTP, a replay is refused, wrong codes count,
//! and the user is locked out at the limit; for FortiGate (60 s) and FortiAuthenticator (its default 60 s,
//! and 30 s set at creation) tokens.

use e2e::TestSuite;
use protocol::appliance::{FortiTokenStatus, LoginResult, PollOutcome};
use protocol::paths;
use reqwest::StatusCode;
use serde_json::json;

async fn story(mode: &str, period: u32) {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let fgt = suite
        .new_appliance(json!({"mode": mode, "settings": {"period": period}}))
        .await;
    let serial = fgt.serial.to_string();
    assert_eq!(fgt.settings.period, period);
    let tokens = suite
        .appliance_import(&serial, "1111-2222-3333-4444-5555")
        .await;
    assert_eq!(tokens.len(), 5);
    let (token, code) = suite.appliance_provision(&serial, "any", "alice").await;
    assert_eq!(token, tokens[0]);

    let phone = suite.new_phone(json!({"platform": "ios"})).await;
    let (status, activated) = suite.activate(&phone.id, &code).await;
    assert_eq!(status, StatusCode::CREATED, "{activated}");
    assert_eq!(activated["serial"], token.as_str());
    assert_eq!(activated["period"], period);

    let polled: PollOutcome = suite
        .appliance_op(&serial, "poll", json!({}))
        .await
        .unwrap();
    let state = polled
        .tokens
        .iter()
        .find(|t| t.serial.as_str() == token)
        .unwrap();
    assert_eq!(state.status, FortiTokenStatus::Assigned);
    assert_eq!(
        state.reg_id.as_deref(),
        Some(phone.registration_id.as_str())
    );
    assert_eq!(state.os_ver.as_deref(), Some(phone.os_ver.as_str()));
    assert!(phone.os_ver.ends_with("_IOS"));

    let otp = suite.phone_otp(&phone.id, &token).await;
    assert_eq!(otp.period, period);
    let (status, ok) = suite.login(&serial, "alice", &otp.otp).await;
    assert_eq!(
        (status, ok.result),
        (StatusCode::OK, LoginResult::Success),
        "{ok:?}"
    );

    let (status, replay) = suite.login(&serial, "alice", &otp.otp).await;
    assert_eq!(
        (status, replay.result),
        (StatusCode::UNAUTHORIZED, LoginResult::Replayed)
    );
    let wait = replay.wait_secs.unwrap();
    assert!((1..=i64::from(period)).contains(&wait), "{wait}");
    assert_eq!(
        replay.message,
        format!("Please wait {wait} seconds to login again")
    );
    assert_eq!(replay.failures, 0, "a replay is not a failed login");

    let wrong: String = otp
        .otp
        .chars()
        .map(|c| char::from_digit((c.to_digit(10).unwrap() + 5) % 10, 10).unwrap())
        .collect();
    for attempt in 1..=2 {
        let (status, denied) = suite.login(&serial, "alice", &wrong).await;
        assert_eq!(
            (status, denied.result, denied.failures, denied.locked),
            (
                StatusCode::UNAUTHORIZED,
                LoginResult::Denied,
                attempt,
                false
            )
        );
    }
    let (_, locked) = suite.login(&serial, "alice", &wrong).await;
    assert_eq!(
        (locked.result, locked.failures, locked.locked),
        (LoginResult::Locked, 3, true)
    );

    // Locked: even the phone's next good code is refused until an admin unlocks the user.
    suite.advance_clock(i64::from(period)).await;
    let next = suite.phone_otp(&phone.id, &token).await;
    assert_ne!(next.otp, otp.otp);
    let (_, still) = suite.login(&serial, "alice", &next.otp).await;
    assert_eq!(still.result, LoginResult::Locked);
    let (status, _) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_UNLOCK, &[&serial, "alice"]),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = suite.login(&serial, "alice", &next.otp).await;
    assert_eq!(
        (status, again.result, again.failures),
        (StatusCode::OK, LoginResult::Success, 0)
    );

    let view = suite.appliance(&serial).await;
    let user = view.users.iter().find(|u| u.name == "alice").unwrap();
    assert_eq!((user.token.as_str(), user.locked), (token.as_str(), false));
    suite.stop().await;
}

#[tokio::test]
async fn fortigate_story_with_60_second_tokens() {
    story("fortigate", 60).await;
}

#[tokio::test]
async fn fortiauthenticator_story_with_30_second_tokens() {
    story("fortiauthenticator", 30).await;
}

#[tokio::test]
async fn fortiauthenticator_story_with_its_default_60_second_tokens() {
    story(
        "fortiauthenticator",
        protocol::modeled::FAC_DEFAULT_TIME_STEP,
    )
    .await;
}

#[tokio::test]
async fn the_same_otp_from_many_clients_at_once_succeeds_exactly_once() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    suite
        .appliance_import(&serial, "1111-2222-3333-4444-5555")
        .await;
    let phone = suite.new_phone(json!({})).await;
    for round in 0..5 {
        let user = format!("user{round}");
        let (token, code) = suite.appliance_provision(&serial, "any", &user).await;
        assert_eq!(
            suite.activate(&phone.id, &code).await.0,
            StatusCode::CREATED
        );
        let otp = suite.phone_otp(&phone.id, &token).await.otp;
        let attempts = (0..32).map(|_| {
            let (suite, serial, user, otp) = (&suite, &serial, &user, &otp);
            async move { suite.login(serial, user, otp).await.1.result }
        });
        let results = futures_util::future::join_all(attempts).await;
        assert_eq!(
            results
                .iter()
                .filter(|r| **r == LoginResult::Success)
                .count(),
            1,
            "round {round}: {results:?}"
        );
        assert!(
            results
                .iter()
                .all(|r| matches!(r, LoginResult::Success | LoginResult::Replayed)),
            "{results:?}"
        );
    }
    suite.stop().await;
}

#[tokio::test]
async fn a_phone_whose_clock_drifts_is_resynchronized_by_its_next_code() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let fac = suite
        .new_appliance(json!({"mode": "fortiauthenticator"}))
        .await;
    let serial = fac.serial.to_string();
    // FAC's default time step, 60 s (`modeled::FAC_DEFAULT_TIME_STEP`).
    let period = i64::from(fac.settings.period);
    suite
        .appliance_import(&serial, "5050-5050-5050-5050-5050")
        .await;
    let (token, code) = suite.appliance_provision(&serial, "any", "bob").await;
    // Ten minutes fast: outside the one-minute window, inside the one-hour sync window.
    let phone = suite.new_phone(json!({"clock_skew_secs": 600})).await;
    assert_eq!(
        suite.activate(&phone.id, &code).await.0,
        StatusCode::CREATED
    );
    let far = suite.phone_otp(&phone.id, &token).await;
    let (status, resync) = suite.login(&serial, "bob", &far.otp).await;
    assert_eq!(
        (status, resync.result, resync.failures),
        (StatusCode::UNAUTHORIZED, LoginResult::Resync, 0)
    );
    suite.advance_clock(period).await;
    let next = suite.phone_otp(&phone.id, &token).await;
    let (status, ok) = suite.login(&serial, "bob", &next.otp).await;
    assert_eq!(
        (status, ok.result),
        (StatusCode::OK, LoginResult::Success),
        "{ok:?}"
    );
    let view = suite.appliance(&serial).await;
    assert_eq!(
        view.tokens
            .iter()
            .find(|t| t.serial.as_str() == token)
            .unwrap()
            .drift_steps,
        600 / period
    );
    // From now on the drifting phone's codes are accepted directly.
    suite.advance_clock(300).await;
    let later = suite.phone_otp(&phone.id, &token).await;
    assert_eq!(
        suite.login(&serial, "bob", &later.otp).await.1.result,
        LoginResult::Success
    );
    suite.stop().await;
}
