//! Scenarios end to end: errors armed through `/__admin/scenarios` on forticare, ftm and the push relay
//! come back in the real services' shapes, fire only on the requests their `match` selects, count down
//! `times`, change no state, and reach the virtual appliance as FortiOS would print them. Bad specs get a
//! sentence naming the problem; the simulators refuse scenarios.

use protocol::paths;
use std::time::{Duration, Instant};

use e2e::{TestSuite, capture, token};
use protocol::admin::EscrowList;
use protocol::catalogue::{
    ACTIVATION_CODE_INVALID, LICENSE_CODE_INVALID, NO_VALID_TOKEN, TOKEN_NOT_OWNED,
};
use protocol::ledger::LicenseView;
use protocol::modeled::LICENSE_REGISTERED_ELSEWHERE;
use protocol::paths::RELAY_PUSH;
use protocol::push::{PushJournal, PushRequest};
use protocol::scenario::{ScenarioList, ScenarioView};
use reqwest::StatusCode;
use serde_json::{Value, json};

const FGT: &str = "FGVM01TM00000001";
const OTHER_FGT: &str = "FGVM01TM00000002";
const PAID: &str = "1111-2222-3333-4444-5555";
const PAID_LICENSE: &str = "EFTM000000000005";
const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";

/// `POST /__admin/scenarios` on `service`; returns the status and the body.
async fn arm(suite: &TestSuite, service: &str, spec: Value) -> (StatusCode, Value) {
    suite
        .admin_post(service, paths::ADMIN_SCENARIOS, &spec)
        .await
}

/// Arms `spec` on `service` and returns the armed scenario.
async fn armed(suite: &TestSuite, service: &str, spec: Value) -> ScenarioView {
    let (status, body) = arm(suite, service, spec).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_value(body).unwrap()
}

async fn scenarios(suite: &TestSuite, service: &str) -> Vec<ScenarioView> {
    suite
        .admin_get::<ScenarioList>(service, paths::ADMIN_SCENARIOS)
        .await
        .scenarios
}

#[tokio::test]
async fn an_armed_import_error_answers_in_the_captured_shape_then_is_spent() {
    let suite = TestSuite::start().await;
    let scenario = armed(
        &suite,
        "forticare",
        json!({"error": "forticare.import.code-invalid", "match": {"serial": FGT}, "times": 1}),
    )
    .await;
    assert_eq!(
        (scenario.id.as_str(), scenario.state.as_str()),
        ("s1", "armed")
    );

    // Another appliance is not selected: its import goes through.
    let other = suite
        .import("forticare", OTHER_FGT, &[], "5050-5050-5050-5050-5050")
        .await;
    assert_eq!(other.error, None, "{other:?}");
    assert_eq!(scenarios(&suite, "forticare").await[0].fired, 0);

    // The selected appliance, through ftm's front door, gets error 16 for a good code.
    let refused = suite.import("ftm", FGT, &[], PAID).await;
    assert!(
        LICENSE_CODE_INVALID.matches(refused.error.as_ref().unwrap()),
        "{refused:?}"
    );
    assert_eq!(
        (refused.license.as_str(), refused.tokens.as_ref()),
        ("", None)
    );
    assert_eq!(refused.header.serial_number, FGT);
    // Nothing changed: the license is still nobody's.
    let license: LicenseView = suite
        .admin_get(
            "forticare",
            &paths::fill(paths::ADMIN_LICENSE, &[PAID_LICENSE]),
        )
        .await;
    assert_eq!(license.summary.owner, None, "{license:?}");

    let listed = scenarios(&suite, "forticare").await;
    assert_eq!(
        (
            listed[0].fired,
            listed[0].remaining,
            listed[0].state.as_str()
        ),
        (1, Some(0), "spent")
    );
    let granted = suite.import("ftm", FGT, &[], PAID).await;
    assert_eq!(granted.error, None, "{granted:?}");
    assert_eq!(granted.tokens.unwrap().len(), 5);
    suite.stop().await;
}

#[tokio::test]
async fn the_virtual_appliance_prints_what_fortios_would_for_an_armed_error() {
    let suite = TestSuite::start().await;
    suite.new_appliance(json!({"serial": FGT})).await;
    armed(
        &suite,
        "forticare",
        json!({"error": "forticare.import.registered-elsewhere", "match": {"license_code": "11112222333344445555"}}),
    )
    .await;
    let failure = suite
        .appliance_op::<Value>(FGT, "import", json!({"code": PAID}))
        .await
        .unwrap_err();
    assert_eq!(failure.error_code, LICENSE_REGISTERED_ELSEWHERE.code);
    assert_eq!(
        failure.message,
        format!(
            "import fortitoken license error: {}",
            LICENSE_REGISTERED_ELSEWHERE.text
        )
    );
    // The trial code is not selected by the match and still imports.
    let trial = suite
        .appliance_import(FGT, "0000-0000-0000-0000-0000")
        .await;
    assert_eq!(trial.len(), 2);
    suite.stop().await;
}

#[tokio::test]
async fn token_scenarios_refuse_the_selected_tokens_and_escrow_nothing() {
    let suite = TestSuite::start().await;
    let tokens: Vec<String> = suite
        .import("ftm", FGT, &[], PAID)
        .await
        .tokens
        .unwrap()
        .into_iter()
        .map(|t| t.token)
        .collect();
    armed(
        &suite,
        "ftm",
        json!({"error": "ftm.provision.not-owner", "match": {"token": tokens[1].to_lowercase()}}),
    )
    .await;
    let response = suite
        .provision(
            FGT,
            &[],
            vec![token(&tokens[0], SEED), token(&tokens[1], SEED)],
        )
        .await;
    assert_eq!(response.error, None, "{response:?}");
    assert!(response.tokens[0].token_activation_code.is_some());
    assert_eq!(response.tokens[1].error, Some(TOKEN_NOT_OWNED.wire_error()));
    assert_eq!(response.tokens[1].token_activation_code, None);
    // Polling sees the same: the token left the appliance.
    let polled = suite.poll(FGT, &[], &[&tokens[0], &tokens[1]]).await;
    assert_eq!(polled.tokens[0].status, "pending");
    assert_eq!(
        (
            polled.tokens[1].status.as_ref(),
            polled.tokens[1].error.clone()
        ),
        ("unknown", Some(TOKEN_NOT_OWNED.wire_error()))
    );
    let escrow: EscrowList = suite.admin_get("ftm", paths::ADMIN_ESCROW).await;
    assert_eq!(escrow.entries.len(), 1, "{escrow:?}");

    // `no-valid-token` refuses everything, with the top-level error, and escrows nothing.
    armed(
        &suite,
        "ftm",
        json!({"error": "ftm.provision.no-valid-token", "times": 1}),
    )
    .await;
    let refused = suite
        .provision(FGT, &[], vec![token(&tokens[2], SEED)])
        .await;
    assert_eq!(refused.error, Some(NO_VALID_TOKEN.wire_error()));
    assert_eq!(refused.tokens[0].error, Some(TOKEN_NOT_OWNED.wire_error()));
    let escrow: EscrowList = suite.admin_get("ftm", paths::ADMIN_ESCROW).await;
    assert_eq!(escrow.entries.len(), 1);
    suite.stop().await;
}

#[tokio::test]
async fn an_armed_error_40_leaves_the_code_redeemable() {
    let suite = TestSuite::start().await;
    let tokens = suite.import("ftm", FGT, &[], PAID).await.tokens.unwrap();
    let provisioned = suite
        .provision(FGT, &[], vec![token(&tokens[0].token, SEED)])
        .await;
    let code = provisioned.tokens[0].token_activation_code.clone().unwrap();
    armed(
        &suite,
        "ftm",
        json!({"error": "ftm.mobile.code-invalid", "match": {"activation_code": code}, "times": 1}),
    )
    .await;
    let refused = suite.download("e248e1e9527f20ff", "", &code).await;
    assert_eq!(
        refused,
        protocol::mobile::MobileProvisionResponse::refused(ACTIVATION_CODE_INVALID.wire_error())
    );
    let downloaded = suite.download("e248e1e9527f20ff", "", &code).await;
    assert_eq!(downloaded.error, None, "{downloaded:?}");
    assert_eq!(downloaded.token, tokens[0].token);
    suite.stop().await;
}

#[tokio::test]
async fn a_scenario_selects_a_public_clients_mobile_id() {
    // Public clients send ids that are neither an Android ID nor a UUID; `match.mobile_id` selects them.
    let odd_id = "pyftm-client-01";
    let suite = TestSuite::start().await;
    let tokens = suite.import("ftm", FGT, &[], PAID).await.tokens.unwrap();
    let provisioned = suite
        .provision(FGT, &[], vec![token(&tokens[0].token, SEED)])
        .await;
    let code = provisioned.tokens[0].token_activation_code.clone().unwrap();
    let elsewhere = armed(
        &suite,
        "ftm",
        json!({"error": "ftm.mobile.code-invalid", "match": {"mobile_id": "someone-else-99"}}),
    )
    .await;
    let selected = armed(
        &suite,
        "ftm",
        json!({"error": "ftm.mobile.code-invalid", "match": {"mobile_id": odd_id}, "times": 1}),
    )
    .await;
    let refused = suite.download(odd_id, "", &code).await;
    assert_eq!(
        refused,
        protocol::mobile::MobileProvisionResponse::refused(ACTIVATION_CODE_INVALID.wire_error())
    );
    let after = scenarios(&suite, "ftm").await;
    let state = |id: &str| {
        let view = after.iter().find(|s| s.id == id).unwrap();
        (view.fired, view.state.clone())
    };
    assert_eq!(state(&elsewhere.id), (0, "armed".to_owned()));
    assert_eq!(state(&selected.id), (1, "spent".to_owned()));
    // The scenario's answer changed nothing: the same phone now gets the seed.
    let downloaded = suite.download(odd_id, "", &code).await;
    assert_eq!(downloaded.error, None, "{downloaded:?}");
    assert_eq!(
        protocol::seed::decrypt_from_server(&downloaded.seed, &odd_id.parse().unwrap())
            .unwrap()
            .to_hex_upper(),
        SEED
    );
    suite.stop().await;
}

#[tokio::test]
async fn statuses_and_delays_apply_to_the_selected_message_type() {
    let suite = TestSuite::start().await;
    armed(
        &suite,
        "ftm",
        json!({"status": 503, "match": {"message_type": "SoftToken.PollingRequest"}, "times": 1}),
    )
    .await;
    let polling = e2e::header(FGT, &[]);
    let body = json!({"d": {
        "__type": "SoftToken.PollingRequest",
        "__version": polling.version, "serial_number": polling.serial_number,
        "__device_version": polling.device_version, "__device_build": polling.device_build,
        "__clustered_sns": [], "tokens": [{"token": "FTKMOB0000000001"}]
    }});
    let response = suite
        .client
        .post(format!("{}{}", suite.url("ftm"), paths::PROCESS))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["jsonerror"], "true");
    let fault: Value = response.json().await.unwrap();
    assert_eq!(fault["error_id"], "scenario.status");
    assert!(
        fault["Message"].as_str().unwrap().contains("scenario s1"),
        "{fault}"
    );
    // An import through the same front door was not selected.
    let granted = suite.import("ftm", FGT, &[], PAID).await;
    assert_eq!(granted.error, None);

    // A delay alone holds the answer, then serves the request as usual.
    armed(&suite, "forticare", json!({"delay_ms": 300})).await;
    let started = Instant::now();
    let again = suite.import("forticare", FGT, &[], PAID).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(again.error, None);
    suite.stop().await;
}

#[tokio::test]
async fn relay_scenarios_refuse_pushes_like_apns_and_journal_them() {
    let suite = TestSuite::start().await;
    let request: PushRequest = serde_json::from_str(&capture("push-send.request.json")).unwrap();
    let relay = suite.url("push");
    let device = suite
        .client
        .put(format!(
            "{relay}{}",
            paths::fill(paths::RELAY_DEVICE, &[&request.registration_id])
        ))
        .json(&json!({"platform": request.platform}))
        .send()
        .await
        .unwrap();
    assert_eq!(device.status(), StatusCode::CREATED);
    let send = || async {
        let response = suite
            .client
            .post(format!("{relay}{RELAY_PUSH}"))
            .json(&request)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    armed(
        &suite,
        "push",
        json!({"error": "push.relay.unregistered", "match": {"registration_id": request.registration_id}, "times": 1}),
    )
    .await;
    armed(&suite, "push", json!({"status": 429, "times": 1})).await;
    let (status, body) = send().await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["reason"].as_str()),
        (Some("error"), Some("Unregistered"))
    );
    assert!(
        body["message"].as_str().unwrap().ends_with("(scenario s1)"),
        "{body}"
    );
    let (status, body) = send().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["reason"], "TooManyRequests");
    let (status, body) = send().await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let journal: PushJournal = suite.admin_get("push", paths::ADMIN_PUSHES).await;
    let outcomes: Vec<&str> = journal.pushes.iter().map(|p| p.outcome.as_str()).collect();
    assert_eq!(outcomes, ["Unregistered", "TooManyRequests", "delivered"]);
    suite.stop().await;
}

#[tokio::test]
async fn bad_specs_are_refused_with_a_sentence_and_arm_nothing() {
    let suite = TestSuite::start().await;
    for (service, spec, says) in [
        (
            "ftm",
            json!({"error": "forticare.import.code-invalid"}),
            "forticare service",
        ),
        (
            "forticare",
            json!({"error": "no.such.error"}),
            "forticare.import.code-invalid",
        ),
        ("ftm", json!({}), "give `error`, `status` or `delay_ms`"),
        ("push", json!({"status": 200}), "not an error status"),
        (
            "push",
            json!({"status": 500, "probability": 2}),
            "probability",
        ),
        (
            "ftm",
            json!({"status": 500, "match": {"colour": "red"}}),
            "unknown field",
        ),
        ("ftm", json!({"delay_ms": 1_000_000}), "over 120000"),
        ("phone", json!({"status": 500}), "simulator"),
        // The appliance service takes scenarios on its SMTP listener and SMS sink only.
        (
            "appliance",
            json!({"error": "forticare.import.code-invalid"}),
            "forticare service",
        ),
    ] {
        let (status, body) = arm(&suite, service, spec.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{service} {spec}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{service} {spec}: {body}"
        );
    }
    for service in ["forticare", "ftm", "push"] {
        assert!(scenarios(&suite, service).await.is_empty());
    }
    // Disarming: one by id, then all.
    let first = armed(&suite, "ftm", json!({"status": 500})).await;
    armed(&suite, "ftm", json!({"status": 502})).await;
    let url = suite.url("ftm");
    let gone = suite
        .client
        .delete(format!(
            "{url}{}",
            paths::fill(paths::ADMIN_SCENARIO, &[&first.id])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let again = suite
        .client
        .delete(format!(
            "{url}{}",
            paths::fill(paths::ADMIN_SCENARIO, &[&first.id])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(scenarios(&suite, "ftm").await.len(), 1);
    let cleared = suite
        .client
        .delete(format!("{url}{}", paths::ADMIN_SCENARIOS))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert!(scenarios(&suite, "ftm").await.is_empty());
    let granted = suite.import("ftm", FGT, &[OTHER_FGT], PAID).await;
    assert_eq!(granted.error, None);
    suite.stop().await;
}

#[tokio::test]
async fn a_malformed_request_does_not_use_up_a_scenario() {
    let suite = TestSuite::start().await;
    armed(
        &suite,
        "ftm",
        json!({"error": "ftm.provision.no-valid-token", "times": 1}),
    )
    .await;
    let mut bad = token("FTKMOB0000000001", SEED);
    bad.seed = "not hex".into();
    let request = protocol::provision::ProvisionRequest {
        header: e2e::header(FGT, &[]),
        tokens: vec![bad],
    };
    let (status, body) = suite
        .post_process("ftm", protocol::envelope::Envelope::to_vec(&request))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let listed = scenarios(&suite, "ftm").await;
    assert_eq!((listed[0].fired, listed[0].remaining), (0, Some(1)));
    suite.stop().await;
}
