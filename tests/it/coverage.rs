//! The coverage report (`/__admin/coverage`): a run that reaches error 16 (an armed scenario) and a poll
//! shows them as reached, with what it missed; the state transitions of a token's story; and drift (an
//! extra field, an unknown `__type`, a `__version` fortimock does not know) listed without changing any
//! answer.

use e2e::TestSuite;
use protocol::catalogue::{ACTIVATION_CODE_INVALID, LICENSE_CODE_INVALID};
use protocol::coverage::{CoverageReport, DriftKind};
use protocol::envelope::{Envelope, Message};
use protocol::license::ActivationLicenseRequest;
use protocol::mobile::MobileProvisionRequest;
use protocol::paths;
use protocol::provision::{PolledTokenRef, PollingRequest};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn drift(report: &CoverageReport, kind: DriftKind, value: &str) -> u64 {
    report
        .drift
        .iter()
        .filter(|d| d.kind == kind && d.value == value)
        .map(|d| d.count)
        .sum()
}

#[tokio::test]
async fn a_run_shows_what_it_reached_and_what_it_missed() {
    let suite = TestSuite::start().await;
    let (status, _) = suite
        .admin_post(
            "forticare",
            paths::ADMIN_SCENARIOS,
            &json!({"error": LICENSE_CODE_INVALID.id, "times": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let refused = suite
        .import("ftm", "FGVM01TM00000042", &[], "1111-2222-3333-4444-5555")
        .await;
    assert_eq!(refused.error.unwrap().error_code, 16);
    suite
        .poll("FGVM01TM00000042", &[], &["FTKMOB0000000001"])
        .await;

    // Every service answers the process's one report.
    let report = suite.coverage("push").await;
    assert_eq!(
        report.services,
        ["appliance", "forticare", "ftm", "phone", "push"]
    );
    assert!(report.catalogue.count(LICENSE_CODE_INVALID.id) >= 1);
    assert!(
        report
            .catalogue
            .missed()
            .any(|i| i.name == ACTIVATION_CODE_INVALID.id)
    );
    assert_eq!(report.scenarios.count(LICENSE_CODE_INVALID.id), 1);
    assert!(report.scenarios.missed().any(|i| i.service == "ftm"));
    assert_eq!(report.message_types.count(PollingRequest::TYPE), 1);
    assert!(
        report
            .message_types
            .missed()
            .any(|i| i.name == MobileProvisionRequest::TYPE)
    );
    let process = format!("POST {}", paths::PROCESS);
    let ftm_process = report
        .routes
        .items
        .iter()
        .find(|i| i.service == "ftm" && i.name == process)
        .unwrap();
    assert_eq!(ftm_process.count, 2);
    assert!(report.routes.missed().any(|i| i.service == "phone"));
    assert!(report.routes.known > report.routes.reached);
    // The control plane is not part of it.
    assert!(
        !report
            .routes
            .items
            .iter()
            .any(|i| i.name.contains(paths::ADMIN))
    );
    assert!(report.drift.is_empty(), "{:?}", report.drift);
    suite.stop().await;
}

#[tokio::test]
async fn the_token_story_shows_its_state_transitions() {
    let suite = TestSuite::start().await;
    suite
        .push_ready(json!({"status": true, "server_port": 0}))
        .await;
    let report = suite.coverage("appliance").await;
    let transitions: Vec<(&str, &str)> = report
        .transitions
        .items
        .iter()
        .map(|i| (i.service.as_str(), i.name.as_str()))
        .collect();
    for expected in [
        ("token", "absent -> available"),
        ("token", "available -> pending"),
        ("token", "pending -> assigned"),
        ("escrow", "absent -> stored"),
        ("escrow", "stored -> downloaded"),
        ("license", "redeemable -> redeemed"),
    ] {
        assert!(
            transitions.contains(&expected),
            "{expected:?} not in {transitions:?}"
        );
    }
    suite.stop().await;
}

#[tokio::test]
async fn drift_is_listed_and_answers_do_not_change() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let poll = serde_json::to_value(Envelope(PollingRequest {
        header: e2e::header("FGVM01TM00000042", &[]),
        tokens: vec![PolledTokenRef {
            token: "FTKMOB0000000001".into(),
        }],
    }))
    .unwrap();
    let (status, plain) = suite.post_process("ftm", poll.to_string()).await;
    assert_eq!(status, StatusCode::OK);

    let mut extra = poll.clone();
    extra["d"]["x_new"] = json!(1);
    let (status, answer) = suite.post_process("ftm", extra.to_string()).await;
    assert_eq!((status, &answer), (StatusCode::OK, &plain));

    let mut version = poll.clone();
    version["d"]["__version"] = json!("99");
    let (status, mut answer) = suite.post_process("ftm", version.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    // The header is echoed as sent, as ever; the rest is the same answer.
    assert_eq!(answer["d"]["__version"], "99");
    answer["d"]["__version"] = plain["d"]["__version"].clone();
    assert_eq!(answer, plain);

    let mut unknown = poll.clone();
    unknown["d"]["__type"] = json!("SoftToken.FutureRequest");
    let (status, refused) = suite.post_process("ftm", unknown.to_string()).await;
    assert_eq!(
        (status, refused["error_id"].as_str()),
        (StatusCode::BAD_REQUEST, Some("protocol.unknown-type"))
    );
    // A known message with an extra field on forticare's front door too.
    let mut import = serde_json::to_value(Envelope(ActivationLicenseRequest {
        header: e2e::header("FGVM01TM00000042", &[]),
        license_activation_code: "1111-2222-3333-4444-5555".into(),
    }))
    .unwrap();
    import["d"]["x_new"] = json!(true);
    let (status, granted) = suite.post_process("forticare", import.to_string()).await;
    assert_eq!(
        (status, &granted["d"]["error"]),
        (StatusCode::OK, &Value::Null)
    );

    let report = suite.coverage("ftm").await;
    assert_eq!(drift(&report, DriftKind::UnknownField, "x_new"), 2);
    assert_eq!(drift(&report, DriftKind::UnknownVersion, "99"), 1);
    assert_eq!(
        drift(&report, DriftKind::UnknownType, "SoftToken.FutureRequest"),
        1
    );
    let fields: Vec<(&str, &str)> = report
        .drift
        .iter()
        .filter(|d| d.kind == DriftKind::UnknownField)
        .map(|d| (d.service.as_str(), d.message_type.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("forticare", ActivationLicenseRequest::TYPE),
            ("ftm", PollingRequest::TYPE)
        ]
    );
    suite.stop().await;
}
