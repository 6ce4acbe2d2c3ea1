//! State export and import (`GET` and `PUT /__admin/state`) end to end: a whole story exported, the suite
//! reset, the state imported, and the story goes on (OTP and push logins, the armed scenario); every kind
//! of bad state refused with a sentence and no change; a dry run; sealed state refused by another data
//! dir; a state of the earlier escrow layout imported.

use e2e::{TestSuite, default_fixtures, test_options};
use protocol::activation::TokenActivationCode;
use protocol::appliance::LoginResult;
use protocol::paths;
use protocol::scenario::ScenarioList;
use protocol::state::{STATE_FORMAT, ServiceState, StateImported};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SERVICES: [&str; 5] = ["forticare", "ftm", "push", "phone", "appliance"];

async fn export(suite: &TestSuite, service: &str) -> ServiceState {
    suite.admin_get(service, paths::ADMIN_STATE).await
}

async fn put(suite: &TestSuite, service: &str, state: &Value, query: &str) -> (StatusCode, Value) {
    let response = suite
        .client
        .put(format!(
            "{}{}{query}",
            suite.url(service),
            paths::ADMIN_STATE
        ))
        .json(state)
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A FortiGate with push on whose user alice has a token on a phone that approves pushes.
/// The first record of ftm's `tokens` whose seed waits in escrow, in a state as JSON.
fn escrowed(state: &mut Value) -> &mut Value {
    state["trees"]["tokens"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|record| record["value"]["sealed_seed"].is_string())
        .expect("a token in escrow")
}

async fn story(suite: &TestSuite) -> (String, String, String) {
    let ready = suite.push_ready(json!({"timeout_secs": 10})).await;
    suite
        .change_phone(&ready.phone, json!({"push_policy": "approve"}))
        .await;
    (ready.serial, ready.phone, ready.token)
}

#[tokio::test]
async fn a_story_exported_reset_and_imported_goes_on() {
    let suite = TestSuite::start().await;
    let (serial, phone, token) = story(&suite).await;
    let (status, _) = suite
        .admin_post(
            "ftm",
            paths::ADMIN_SCENARIOS,
            &json!({"status": 503, "match": {"serial": "FGVM01TM00000009"}, "times": 4}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut states = Vec::new();
    for service in SERVICES {
        let state = export(&suite, service).await;
        assert_eq!(
            (state.format.as_str(), state.service.as_str()),
            (STATE_FORMAT, service)
        );
        states.push(state);
    }
    // Readable: the ledger's license record is JSON, the escrow's seed is sealed, never in the clear.
    let licenses = &states[0].trees["licenses"];
    assert!(
        licenses
            .iter()
            .any(|r| r.json().unwrap()["id"] == "EFTM000000000005")
    );
    assert!(states[1].key_id.is_some() && states[0].key_id.is_none());
    assert_eq!(states[1].scenarios.len(), 1);

    for service in SERVICES.iter().rev() {
        let (status, _) = suite
            .admin_post(service, paths::ADMIN_RESET, &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    for state in &states {
        let (status, body) = put(
            &suite,
            &state.service,
            &serde_json::to_value(state).unwrap(),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", state.service);
        let imported: StateImported = serde_json::from_value(body).unwrap();
        let records: usize = state.trees.values().map(Vec::len).sum();
        assert_eq!(imported.records, records as u64);
    }
    for (service, before) in SERVICES.iter().zip(&states) {
        let after = export(&suite, service).await;
        assert_eq!(after.trees, before.trees, "{service}");
    }
    let scenarios: ScenarioList = suite.admin_get("ftm", paths::ADMIN_SCENARIOS).await;
    assert_eq!(scenarios.scenarios[0].remaining, Some(4));

    // The story goes on: the phone's code logs alice in, and a push reaches the phone and is approved.
    let otp = suite.phone_otp(&phone, &token).await.otp;
    let (status, login) = suite.login(&serial, "alice", &otp).await;
    assert_eq!(
        (status, login.result),
        (StatusCode::OK, LoginResult::Success),
        "{login:?}"
    );
    suite.advance_clock(120).await;
    let (status, login) = suite.push_login(&serial, "alice").await;
    assert_eq!(
        (status, login.result),
        (StatusCode::OK, LoginResult::Success),
        "{login:?}"
    );
    suite.stop().await;
}

#[tokio::test]
async fn bad_state_is_refused_with_a_sentence_and_changes_nothing() {
    let suite = TestSuite::start().await;
    let (serial, _, _) = story(&suite).await;
    // A code waiting in escrow, so the escrow has a sealed seed to tamper with.
    suite.appliance_provision(&serial, "any", "bob").await;
    let forticare = serde_json::to_value(export(&suite, "forticare").await).unwrap();
    let ftm = serde_json::to_value(export(&suite, "ftm").await).unwrap();
    let appliance = serde_json::to_value(export(&suite, "appliance").await).unwrap();

    let edit = |state: &Value, change: &dyn Fn(&mut Value)| {
        let mut state = state.clone();
        change(&mut state);
        state
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "forticare",
            edit(&forticare, &|s| s["format"] = json!("fortimock-state/0")),
            "`format`",
        ),
        ("ftm", forticare.clone(), "forticare service's state"),
        (
            "forticare",
            edit(&forticare, &|s| s["trees"]["colours"] = json!([])),
            "no tree `colours`",
        ),
        (
            "forticare",
            edit(&forticare, &|s| {
                s["trees"]["licenses"][0]["value"]["seats"] = json!("many")
            }),
            "trees.licenses[0]",
        ),
        (
            "forticare",
            edit(&forticare, &|s| {
                s["trees"]["licenses"][0]["key"] = json!("EFTM999999999999")
            }),
            "is stored under EFTM999999999999",
        ),
        (
            "forticare",
            edit(&forticare, &|s| {
                s["trees"]["licenses"].as_array_mut().unwrap().clear();
            }),
            "which is not in the state",
        ),
        (
            "forticare",
            edit(&forticare, &|s| {
                s["trees"]["codes"][0] = json!({"key": "x", "value_text": "y", "value_hex": "00"})
            }),
            "exactly one of `value`",
        ),
        (
            "ftm",
            edit(&ftm, &|s| {
                let sealed = escrowed(s)["value"]["sealed_seed"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let flipped = if sealed.starts_with('A') { "B" } else { "A" };
                escrowed(s)["value"]["sealed_seed"] = json!(format!("{flipped}{}", &sealed[1..]));
            }),
            "sealed_seed",
        ),
        (
            "ftm",
            edit(&ftm, &|s| {
                escrowed(s)["value"]
                    .as_object_mut()
                    .unwrap()
                    .remove("sealed_seed");
            }),
            "in escrow but no `sealed_seed`",
        ),
        (
            "ftm",
            edit(&ftm, &|s| escrowed(s)["value"]["code"] = Value::Null),
            "a sealed seed without an activation code",
        ),
        (
            "ftm",
            edit(&ftm, &|s| {
                s["scenarios"] = json!([{"error": "push.relay.unregistered"}])
            }),
            "scenarios[0]",
        ),
        (
            "appliance",
            edit(&appliance, &|s| {
                s["trees"]["appliances"].as_array_mut().unwrap().clear()
            }),
            "which is not in `appliances`",
        ),
    ];
    for (service, state, says) in cases {
        let before = export(&suite, service).await;
        let (status, body) = put(&suite, service, &state, "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{service} {says}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{says}: {body}"
        );
        assert_eq!(export(&suite, service).await.trees, before.trees, "{says}");
    }

    // A dry run checks and changes nothing.
    let empty = edit(&forticare, &|s| {
        for records in s["trees"].as_object_mut().unwrap().values_mut() {
            records.as_array_mut().unwrap().clear();
        }
    });
    let before = export(&suite, "forticare").await;
    let (status, body) = put(&suite, "forticare", &empty, "?dry_run=true").await;
    assert_eq!(
        (status, body["records"].as_u64()),
        (StatusCode::OK, Some(0)),
        "{body}"
    );
    assert_eq!(export(&suite, "forticare").await.trees, before.trees);
    suite.stop().await;
}

#[tokio::test]
async fn sealed_state_only_imports_where_its_key_is() {
    let first = TestSuite::start().await;
    story(&first).await;
    let ftm = serde_json::to_value(export(&first, "ftm").await).unwrap();
    let phone = serde_json::to_value(export(&first, "phone").await).unwrap();
    first.stop().await;

    let second = TestSuite::start_with(test_options(None), default_fixtures()).await;
    let (status, body) = put(&second, "ftm", &ftm, "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error_id"], "admin.state.key");
    // Phones keep their seeds in the app's own encryption: they move anywhere.
    let (status, body) = put(&second, "phone", &phone, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let phones: protocol::phone::PhoneList = second.admin_get("phone", paths::PHONES).await;
    assert_eq!(phones.phones.len(), 1);
    second.stop().await;
}

/// A state exported before seeds moved into their tokens' records (each seed in `escrow`, under its code)
/// still imports: its seeds land in their tokens, and the codes work.
#[tokio::test]
async fn a_state_of_the_earlier_escrow_layout_imports_and_its_codes_work() {
    let suite = TestSuite::start().await;
    let (serial, _, _) = story(&suite).await;
    let (token, code) = suite.appliance_provision(&serial, "any", "bob").await;
    let current = serde_json::to_value(export(&suite, "ftm").await).unwrap();

    let mut earlier = current.clone();
    let mut entries = Vec::new();
    for record in earlier["trees"]["tokens"].as_array_mut().unwrap() {
        let value = record["value"].as_object_mut().unwrap();
        let Some(sealed_seed) = value.remove("sealed_seed") else {
            continue;
        };
        let code: TokenActivationCode = value["code"].as_str().unwrap().parse().unwrap();
        entries.push(json!({"key": code.wire_hex(), "value": {
            "v": 1, "token": value["token"], "sealed_seed": sealed_seed, "expires": value["expires"],
        }}));
    }
    assert!(
        entries.iter().any(|e| e["value"]["token"] == token),
        "bob's token is in escrow"
    );
    earlier["trees"]["escrow"] = json!(entries);

    let (status, _) = suite
        .admin_post("ftm", paths::ADMIN_RESET, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = put(&suite, "ftm", &earlier, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Stored as this version stores it: the same records as the state exported before the change.
    let after = serde_json::to_value(export(&suite, "ftm").await).unwrap();
    assert_eq!(after["trees"], current["trees"]);
    assert_eq!(after["trees"]["escrow"], json!([]));

    let phone = suite.new_phone(json!({})).await;
    let (status, body) = suite.activate(&phone.id, &code).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["serial"], token);
    let (status, body) = suite.activate(&phone.id, &code).await;
    assert!(!status.is_success(), "a code is taken once: {body}");
    suite.stop().await;
}
