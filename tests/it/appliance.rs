//! The virtual appliance's own behaviour: FortiOS's error output and debug lines, the requests it puts on
//! the wire, token and user rules, settings, and bad input.

use e2e::TestSuite;
use protocol::appliance::{DebugLog, ImportOutcome, PollOutcome, ProvisionOutcome};
use protocol::paths;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn import_error_16_prints_what_fortios_prints() {
    let suite = TestSuite::start().await;
    let serial = suite
        .new_appliance(json!({"serial": "FGVM01TM00000001", "version": "7.0", "build": "0523"}))
        .await
        .serial
        .to_string();
    let failure = suite
        .appliance_op::<ImportOutcome>(&serial, "import", json!({"code": "BADLICBADLICXXX"}))
        .await
        .unwrap_err();
    assert_eq!(failure.message, "import fortitoken license error: -7566");
    assert_eq!(
        (failure.error_id.as_str(), failure.error_code),
        ("forticare.import.code-invalid", Some(16))
    );
    let debug = failure.debug.join("\n");
    for line in [
        "ftm_cfg_import_license[321]:import license BADLICBADLICXXX",
        "ftm_fc_comm_connect[55]:ftm TCPS connected.",
        "ftm_fc_comm_send_request[117]:send packet success.",
        "POST /SoftToken/Provisioning.asmx/Process HTTP/1.1",
        "Accept: application/json, text/javascript, */*, q=0.01",
        "ftm_fc_comm_recv_response[266]:receive packet success.",
        "ftm_fc_command[615]:received error from forticare [-7566]",
        "import fortitoken license error: -7566",
    ] {
        assert!(debug.contains(line), "missing `{line}` in\n{debug}");
    }
    // The request is written as FortiOS's json-c writes it, and the answer is the captured one.
    assert!(debug.contains(r#"{ "d": { "__type": "SoftToken.ActivationLicenseRequest", "__version": "4", "license_activation_code": "BADLICBADLICXXX", "serial_number": "FGVM01TM00000001", "__device_version": "7.0", "__device_build": "0523", "__clustered_sns": [ { "sn": "FGVM01TM00000001" } ] } }"#), "{debug}");
    assert!(debug.contains(
        r#""error":{"error_code":16,"error_message":"forticare license activation code invalid"}"#
    ));
    let log: DebugLog = suite
        .admin_get(
            "appliance",
            &paths::fill(paths::APPLIANCE_DEBUG, &[&serial]),
        )
        .await;
    assert!(
        log.lines
            .iter()
            .any(|l| l == "import fortitoken license error: -7566")
    );
    suite.stop().await;
}

#[tokio::test]
async fn provisioning_sends_a_fresh_seed_masked_in_debug_output() {
    let suite = TestSuite::start().await;
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    suite
        .appliance_import(&serial, "1111-2222-3333-4444-5555")
        .await;
    let outcome: ProvisionOutcome = suite
        .appliance_op(
            &serial,
            "provision",
            json!({"token": "any", "user": "alice", "expiry_minutes": 60}),
        )
        .await
        .unwrap();
    let debug = outcome.debug.join("\n");
    assert!(debug.contains(&format!(
        "ftm_cfg_provision_token[417]:provision token: {}",
        outcome.token.serial
    )));
    assert!(debug.contains(r#""seed": "********""#), "{debug}");
    assert!(
        debug.contains(r#""code_expire": 60, "type": "totp", "period": 60, "digits": 6"#),
        "{debug}"
    );
    assert!(
        outcome
            .qr_code
            .contains(outcome.token.activation_code.as_deref().unwrap())
    );
    // The seed went into ftm's escrow: it is pending there under this appliance.
    let escrow: protocol::admin::EscrowList = suite.admin_get("ftm", paths::ADMIN_ESCROW).await;
    assert_eq!(escrow.entries[0].appliance.as_str(), serial);
    // Renewing gives a new code; the old one is dead.
    let renewed: ProvisionOutcome = suite
        .appliance_op(&serial, "renew", json!({"token": outcome.token.serial}))
        .await
        .unwrap();
    assert_ne!(renewed.token.activation_code, outcome.token.activation_code);
    assert_eq!(renewed.token.user.as_deref(), Some("alice"));
    let phone = suite.new_phone(json!({})).await;
    assert_eq!(
        suite
            .activate(&phone.id, outcome.token.activation_code.as_deref().unwrap())
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        suite
            .activate(&phone.id, renewed.token.activation_code.as_deref().unwrap())
            .await
            .0,
        StatusCode::CREATED
    );
    suite.stop().await;
}

#[tokio::test]
async fn expired_activation_shows_provision_timed_out() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    suite
        .appliance_import(&serial, "1111-2222-3333-4444-5555")
        .await;
    let _: ProvisionOutcome = suite
        .appliance_op(
            &serial,
            "provision",
            json!({"token": "any", "user": "carol", "expiry_minutes": 60}),
        )
        .await
        .unwrap();
    suite.advance_clock(3600).await;
    let polled: PollOutcome = suite
        .appliance_op(&serial, "poll", json!({}))
        .await
        .unwrap();
    assert_eq!(
        polled.tokens[0].status,
        protocol::appliance::FortiTokenStatus::ProvisionTimeout
    );
    assert!(
        polled
            .debug
            .iter()
            .any(|l| l == "ftm_cfg_poll_token_states[405]:Poll token status!")
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_second_appliance_cannot_import_a_registered_license() {
    let suite = TestSuite::start().await;
    let first = suite.new_appliance(json!({})).await.serial.to_string();
    let second = suite.new_appliance(json!({})).await.serial.to_string();
    suite
        .appliance_import(&first, "1111-2222-3333-4444-5555")
        .await;
    let failure = suite
        .appliance_op::<ImportOutcome>(
            &second,
            "import",
            json!({"code": "1111-2222-3333-4444-5555"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (failure.error_id.as_str(), failure.error_code),
        ("forticare.import.registered-elsewhere", Some(18))
    );
    // An appliance that lists the owner as its HA peer may import it (and joins the registration).
    let clustered = suite
        .new_appliance(json!({"peers": [first]}))
        .await
        .serial
        .to_string();
    assert_eq!(
        suite
            .appliance_import(&clustered, "1111-2222-3333-4444-5555")
            .await
            .len(),
        5
    );
    suite.stop().await;
}

#[tokio::test]
async fn tokens_users_and_settings_follow_fortios_rules() {
    let suite = TestSuite::start().await;
    let serial = suite
        .new_appliance(json!({"settings": {"lockout_threshold": 5}}))
        .await
        .serial
        .to_string();
    let trial = suite
        .appliance_import(&serial, "0000-0000-0000-0000-0000")
        .await;
    assert_eq!(trial.len(), 2);
    let (first, _) = suite.appliance_provision(&serial, "any", "alice").await;
    let other = trial.iter().find(|t| **t != first).unwrap().clone();
    for (body, status, error_id) in [
        (
            json!({"token": first, "user": "bob"}),
            StatusCode::CONFLICT,
            "appliance.conflict",
        ),
        (
            json!({"token": other, "user": "alice"}),
            StatusCode::CONFLICT,
            "appliance.conflict",
        ),
        (
            json!({"token": "FTKMOB0000000000", "user": "bob"}),
            StatusCode::NOT_FOUND,
            "appliance.not-found",
        ),
        (
            json!({"token": "any", "user": "bad user"}),
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
        ),
        (
            json!({"token": "any"}),
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
        ),
        (
            json!({"token": "any", "user": "bob", "expiry_minutes": 0}),
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
        ),
    ] {
        let (got, answer) = suite
            .admin_post(
                "appliance",
                &paths::fill(paths::APPLIANCE_PROVISION, &[&serial]),
                &body,
            )
            .await;
        assert_eq!(
            (got, answer["error_id"].as_str()),
            (status, Some(error_id)),
            "{body}: {answer}"
        );
    }
    let (_, _) = suite.appliance_provision(&serial, "any", "bob").await;
    let (status, answer) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_PROVISION, &[&serial]),
            &json!({"token": "any", "user": "carol"}),
        )
        .await;
    assert_eq!(
        (status, answer["error_id"].as_str()),
        (StatusCode::NOT_FOUND, Some("appliance.not-found")),
        "no Available token left"
    );

    let view = suite.appliance(&serial).await;
    assert_eq!(view.settings.lockout_threshold, 5);
    assert_eq!(view.users.len(), 2);
    let response = suite
        .client
        .patch(format!(
            "{}{}",
            suite.url("appliance"),
            paths::fill(paths::APPLIANCE_SETTINGS, &[&serial])
        ))
        .json(&json!({"digits": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = suite
        .client
        .patch(format!(
            "{}{}",
            suite.url("appliance"),
            paths::fill(paths::APPLIANCE_SETTINGS, &[&serial])
        ))
        .json(&json!({"digits": 8, "period": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(suite.appliance(&serial).await.settings.digits, 8);

    // Unknown users are refused without saying so.
    let (status, unknown) = suite.login(&serial, "mallory", "123456").await;
    assert_eq!(
        (status, unknown.message.as_str()),
        (StatusCode::UNAUTHORIZED, "authentication failed")
    );
    suite.stop().await;
}

#[tokio::test]
async fn bad_requests_to_the_appliance_api_are_refused_cleanly() {
    let suite = TestSuite::start().await;
    let serial = suite
        .new_appliance(json!({"serial": "FGVM01TM00000042"}))
        .await
        .serial
        .to_string();
    for (body, error_id) in [
        (json!({"serial": "FGVM01TM00000042"}), "appliance.exists"),
        (json!({"serial": "not a serial"}), "admin.body.invalid"),
        (json!({"mode": "fortiswitch"}), "admin.body.invalid"),
        (json!({"vdom": "root; rm -rf"}), "appliance.bad-request"),
        (json!({"ftm_url": "ftp://example"}), "appliance.bad-request"),
        (json!({"settings": {"digits": 5}}), "appliance.bad-settings"),
        (json!({"settings": {"period": 0}}), "appliance.bad-settings"),
    ] {
        let (status, answer) = suite
            .admin_post("appliance", paths::APPLIANCES, &body)
            .await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert_eq!(answer["error_id"], error_id, "{body}: {answer}");
    }
    for path in [
        paths::fill(paths::APPLIANCE, &["FGVM01TM99999999"]),
        paths::fill(paths::APPLIANCE, &["bad serial"]),
    ] {
        let response = suite
            .client
            .get(format!("{}{path}", suite.url("appliance")))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
    }
    let (status, answer) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_LOGIN, &[&serial]),
            &json!({"user": "alice"}),
        )
        .await;
    assert_eq!(
        (status, answer["error_id"].as_str()),
        (StatusCode::BAD_REQUEST, Some("appliance.bad-request"))
    );
    let (status, answer) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_LOGIN, &[&serial]),
            &json!({"otp": "123456"}),
        )
        .await;
    assert_eq!(
        (status, answer["error_id"].as_str()),
        (StatusCode::BAD_REQUEST, Some("admin.body.invalid"))
    );
    let list: protocol::appliance::ApplianceList =
        suite.admin_get("appliance", paths::APPLIANCES).await;
    assert_eq!(list.appliances.len(), 1);
    suite.stop().await;
}

/// `PATCH /appliances/{serial}` refuses every bad change with its reason and changes nothing: not the
/// unit, not its profile, not even the part of the change that was good.
#[tokio::test]
async fn bad_changes_of_an_appliances_addresses_change_nothing() {
    let suite = TestSuite::start().await;
    let serial = suite
        .new_appliance(json!({"fortiguard_url": "https://127.0.0.1:2"}))
        .await
        .serial
        .to_string();
    let before = suite.appliance(&serial).await;
    let path = paths::fill(paths::APPLIANCE, &[&serial]);
    let long = format!("https://{}", "a".repeat(2100));
    for (body, status, error_id, says) in [
        (
            json!({"ftm_url": "ftp://example", "follow_suite": ["messaging"]}),
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "ftm_url `ftp://example` is not an http(s) URL",
        ),
        (
            json!({"fortiguard_url": long}),
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "fortiguard_url `https://aaaa",
        ),
        (
            json!({"ftm_url": "https://127.0.0.1:9", "follow_suite": ["ftm_url"]}),
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "ftm_url is both given and put back on the suite's",
        ),
        (
            json!({"follow_suite": ["messaging", "smtp_server"]}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "unknown variant `smtp_server`",
        ),
        (
            json!({"follow_suite": "messaging"}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "expected a sequence",
        ),
        (
            json!({"relay_url": "https://127.0.0.1:3"}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "relay_url",
        ),
        (
            json!(["ftm_url"]),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "",
        ),
    ] {
        let response = suite
            .client
            .patch(format!("{}{path}", suite.url("appliance")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let got = response.status();
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            (got, answer["error_id"].as_str()),
            (status, Some(error_id)),
            "{body}: {answer}"
        );
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
        assert!(message.len() < 600, "the answer does not echo a long value");
        assert_eq!(suite.appliance(&serial).await, before, "{body}");
    }
    for (target, status) in [
        ("FGVM01TM99999999", StatusCode::NOT_FOUND),
        ("bad serial", StatusCode::BAD_REQUEST),
    ] {
        let response = suite
            .client
            .patch(format!(
                "{}{}",
                suite.url("appliance"),
                paths::fill(paths::APPLIANCE, &[target])
            ))
            .json(&json!({"follow_suite": ["ftm_url"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{target}");
    }
    // A good change after the refusals does what it says, and only that.
    let changed = suite
        .api()
        .appliances()
        .change(
            &serial,
            &serde_json::from_value(json!({"follow_suite": ["fortiguard_url"]})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        changed.fortiguard_url.as_deref(),
        Some(suite.url("forticare").as_str())
    );
    assert_eq!(
        protocol::appliance::ApplianceView {
            fortiguard_url: before.fortiguard_url.clone(),
            follows_suite: before.follows_suite.clone(),
            ..changed.clone()
        },
        before
    );
    assert_eq!(
        changed.follows_suite,
        protocol::appliance::SuiteSetting::ALL
    );
    suite.stop().await;
}

#[tokio::test]
async fn an_unreachable_fortitoken_server_is_a_clear_502() {
    let suite = TestSuite::start().await;
    let serial = suite
        .new_appliance(json!({"ftm_url": "https://127.0.0.1:1"}))
        .await
        .serial
        .to_string();
    let failure = suite
        .appliance_op::<ImportOutcome>(
            &serial,
            "import",
            json!({"code": "1111-2222-3333-4444-5555"}),
        )
        .await
        .unwrap_err();
    assert_eq!(failure.error_id, "appliance.cloud.unreachable");
    assert!(
        failure
            .debug
            .iter()
            .any(|l| l.starts_with("ftm_fc_comm_connect[55]:ftm TCPS connect failed")),
        "{:?}",
        failure.debug
    );
    suite.stop().await;
}

#[tokio::test]
async fn concurrent_changes_to_one_appliance_lose_nothing() {
    let suite = TestSuite::start().await;
    let serial = "FGVM01TM00000301";
    suite.new_appliance(json!({"serial": serial})).await;
    let url = format!(
        "{}{}",
        suite.url("appliance"),
        paths::fill(paths::APPLIANCE_SETTINGS, &[serial])
    );
    // Pairs of PATCHes, each to another setting, at once: both must stay, every time.
    for round in 0..20u32 {
        let threshold = 1 + round;
        let expiry = 100 + round;
        let patch = |body: serde_json::Value| suite.client.patch(&url).json(&body).send();
        let (a, b) = tokio::join!(
            patch(json!({"lockout_threshold": threshold})),
            patch(json!({"activation_expiry_minutes": expiry}))
        );
        assert_eq!(
            (a.unwrap().status(), b.unwrap().status()),
            (StatusCode::OK, StatusCode::OK)
        );
        let settings = suite.appliance(serial).await.settings;
        assert_eq!(
            (
                settings.lockout_threshold,
                settings.activation_expiry_minutes
            ),
            (threshold, expiry),
            "round {round}"
        );
    }
    suite.stop().await;
}

#[tokio::test]
async fn an_appliance_whose_listener_cannot_start_is_not_created() {
    let suite = TestSuite::start().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let serial = "FGVM01TM00000302";
    let (status, answer) = suite
        .admin_post(
            "appliance",
            paths::APPLIANCES,
            &json!({"serial": serial, "ftm_push": {"status": true, "server_port": port}}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error_id"], "appliance.ftm-push");
    let missing = suite
        .client
        .get(format!(
            "{}{}",
            suite.url("appliance"),
            paths::fill(paths::APPLIANCE, &[serial])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Once the port is free, the same request creates it.
    drop(taken);
    let (status, answer) = suite
        .admin_post(
            "appliance",
            paths::APPLIANCES,
            &json!({"serial": serial, "ftm_push": {"status": true, "server_port": port}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    suite.stop().await;
}
