//! Debug-log replay (`fortimock replay`, the dashboard's `/replay`): both seed captures replayed against a
//! real suite; the error-16 import matches the capture but for its sanitized serials; `--arm` arms the
//! scenario for the log's appliance, which then gives the captured answer (and turns a lab success into the
//! captured refusal); the push is recognized and sent to the relay; bad logs are refused, send nothing and
//! arm nothing; the dashboard page does the same over HTTP, behind the same token.

use e2e::{TestSuite, test_options};
use fortimock::replay::{self, Verdict};
use fortimock_testing::ForticareOptions;
use protocol::catalogue::LICENSE_CODE_INVALID;
use protocol::debug_log::{self, ExchangeKind};
use protocol::ledger::LabFixtures;
use protocol::paths;
use protocol::scenario::{ScenarioList, ScenarioMatch};
use reqwest::StatusCode;
use serde_json::{Value, json};

const LICENSE_LOG: &str = include_str!("../../fixtures/debug-logs/license-import-error16.txt");
const PUSH_LOG: &str = include_str!("../../fixtures/debug-logs/ftm-push-send.txt");
const CAPTURED_ANSWER: &str =
    include_str!("../../fixtures/wire/license-import-error16.response.json");
const ACTION_HEADER: &str = "x-fortimock-dashboard";

/// A suite with no licenses at all.
async fn empty_lab() -> TestSuite {
    TestSuite::start_lab(
        test_options(None),
        LabFixtures::default(),
        ForticareOptions::default(),
    )
    .await
}

async fn scenarios(suite: &TestSuite, service: &str) -> ScenarioList {
    suite
        .api()
        .get(service, paths::ADMIN_SCENARIOS)
        .await
        .unwrap()
}

async fn no_scenarios_anywhere(suite: &TestSuite) {
    for service in ["forticare", "ftm", "push", "appliance"] {
        assert!(
            scenarios(suite, service).await.scenarios.is_empty(),
            "{service} has a scenario"
        );
    }
}

async fn journal_len(suite: &TestSuite, service: &str) -> usize {
    let journal: Value = suite
        .api()
        .get(service, paths::ADMIN_JOURNAL)
        .await
        .unwrap();
    journal["entries"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn the_license_seed_replays_to_error_16_differing_only_where_it_was_sanitized() {
    let suite = empty_lab().await;
    let log = debug_log::parse(LICENSE_LOG);
    let report = replay::replay_and_arm(suite.api(), &log, "test".into(), false)
        .await
        .unwrap();
    assert_eq!(report.exchanges.len(), 1);
    let replayed = &report.exchanges[0];
    assert_eq!(replayed.kind, ExchangeKind::LicenseImport);
    assert_eq!(replayed.serial.as_deref(), Some("FGXXXXXXX"));
    assert_eq!(
        replayed.sent_to,
        Some(format!("ftm POST {}", paths::PROCESS))
    );
    assert_eq!(replayed.status, Some(200));
    assert_eq!(
        replayed.captured_error,
        Some(LICENSE_CODE_INVALID.wire_error())
    );
    assert_eq!(replayed.answer_error, replayed.captured_error);
    // The capture's echo differs where its author sanitized it: the response's serial and the second HA
    // member (`FGXXXXXX`, one X short); every other field is fortimock's exactly.
    let paths: Vec<&str> = replayed
        .differences
        .iter()
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(paths, ["d.serial_number", "d.__clustered_sns[1].sn"]);
    assert!(replayed.differences.iter().all(|d| d.sanitized));
    assert_eq!(replayed.differences[0].captured, Some(json!(" FGXXXXXXX")));
    assert_eq!(replayed.differences[0].fortimock, Some(json!("FGXXXXXXX")));
    assert_eq!(replayed.verdict, Verdict::Matches);
    let notes = replayed.notes.join("\n");
    assert!(notes.contains("`FGXXXXXXX` was sanitized"), "{notes}");
    assert!(
        notes.contains(
            "`BADLICBADLICXXX` (it looks sanitized) is not a 20-character license activation code"
        ),
        "{notes}"
    );
    // A replay arms nothing; the request reached ftm and forticare.
    no_scenarios_anywhere(&suite).await;
    assert!(journal_len(&suite, "ftm").await >= 1);
    let text = replay::render_text("license-import-error16.txt", &report);
    assert!(
        text.contains("verdict:   matches the captured answer"),
        "{text}"
    );
}

#[tokio::test]
async fn arming_the_license_seed_gives_the_captured_answer_from_the_scenario() {
    let suite = empty_lab().await;
    let log = debug_log::parse(LICENSE_LOG);
    let report = replay::replay_and_arm(suite.api(), &log, "test".into(), true)
        .await
        .unwrap();
    let armed = report.armed.as_ref().unwrap();
    assert_eq!(armed.armed.len(), 1, "{armed:?}");
    assert!(armed.not_armable.is_empty());
    let scenario = &armed.armed[0];
    assert_eq!(scenario.service, "forticare");
    assert!(!scenario.already);
    assert_eq!(
        scenario.scenario.spec.error.as_deref(),
        Some(LICENSE_CODE_INVALID.id)
    );
    assert_eq!(
        scenario.scenario.spec.when,
        ScenarioMatch {
            message_type: Some("SoftToken.ActivationLicenseRequest".into()),
            serial: Some("FGXXXXXXX".into()),
            ..ScenarioMatch::default()
        }
    );
    // The second replay was answered by the scenario, with the captured error exactly.
    assert_eq!(scenario.scenario.fired, 1);
    let after = &report.after_arming.as_ref().unwrap()[0];
    assert_eq!(after.answer_error, Some(LICENSE_CODE_INVALID.wire_error()));
    assert_eq!(after.verdict, Verdict::Matches);
    let captured: Value = serde_json::from_str(CAPTURED_ANSWER).unwrap();
    let mut answer = after.answer.clone().unwrap();
    // Put back the two values the capture's author sanitized: what is left is the capture, byte for byte.
    answer["d"]["serial_number"] = captured["d"]["serial_number"].clone();
    answer["d"]["__clustered_sns"][1]["sn"] = captured["d"]["__clustered_sns"][1]["sn"].clone();
    assert_eq!(
        serde_json::to_string(&answer).unwrap(),
        serde_json::to_string(&captured).unwrap()
    );
    assert!(
        armed.notes.iter().any(|n| n.contains("sanitized")),
        "{:?}",
        armed.notes
    );

    // Arming again arms nothing new.
    let again = replay::replay_and_arm(suite.api(), &log, "test".into(), true)
        .await
        .unwrap();
    assert!(again.armed.unwrap().armed[0].already);
    assert_eq!(scenarios(&suite, "forticare").await.scenarios.len(), 1);
}

#[tokio::test]
async fn arming_turns_a_lab_success_into_the_captured_refusal() {
    // The customer's FortiCare refused a code this lab knows (the default lab's 5-seat code).
    let suite = TestSuite::start().await;
    let text = LICENSE_LOG.replace("BADLICBADLICXXX", "1111-2222-3333-4444-5555");
    let log = debug_log::parse(&text);
    let before = replay::replay_and_arm(suite.api(), &log, "test".into(), true)
        .await
        .unwrap();
    let first = &before.exchanges[0];
    assert_eq!(first.answer_error, None);
    assert_eq!(first.verdict, Verdict::Differs);
    assert!(
        first
            .notes
            .iter()
            .any(|n| n.contains("fortimock's lab knows code")),
        "{:?}",
        first.notes
    );
    let after = &before.after_arming.unwrap()[0];
    assert_eq!(after.answer_error, Some(LICENSE_CODE_INVALID.wire_error()));
    assert_eq!(after.verdict, Verdict::Matches);
}

#[tokio::test]
async fn the_push_seed_is_recognized_and_sent_to_the_relay() {
    let suite = empty_lab().await;
    let log = debug_log::parse(PUSH_LOG);
    let report = replay::replay_and_arm(suite.api(), &log, "test".into(), true)
        .await
        .unwrap();
    assert_eq!(report.exchanges.len(), 1);
    let push = &report.exchanges[0];
    assert_eq!(push.kind, ExchangeKind::Push);
    assert_eq!(push.message_type, "push");
    assert_eq!(push.serial.as_deref(), Some("FGVM32TM20000015"));
    assert_eq!(
        push.sent_to,
        Some(format!("push POST {}", paths::RELAY_PUSH))
    );
    // No phone holds that registration id in this lab: the relay says so (HTTP 410, `Unregistered`).
    assert_eq!(push.status, Some(410));
    assert_eq!(push.answer.as_ref().unwrap()["reason"], "Unregistered");
    assert_eq!(push.verdict, Verdict::NotCaptured);
    assert!(push.captured.is_none());
    let armed = report.armed.unwrap();
    assert!(armed.armed.is_empty());
    assert!(
        armed.not_armable[0]
            .reason
            .contains("does not show its answer")
    );
    no_scenarios_anywhere(&suite).await;
}

#[tokio::test]
async fn bad_logs_are_refused_send_nothing_and_arm_nothing() {
    let suite = empty_lab().await;
    let binary =
        String::from_utf8_lossy(&(0..=255u8).cycle().take(5000).collect::<Vec<_>>()).into_owned();
    let cut = &LICENSE_LOG[..LICENSE_LOG.find("\"__device_version\": \"7.0\"").unwrap()];
    let cases = [
        ("", "is empty"),
        ("  \n\r\n", "is empty"),
        ("hello\nworld\n", "no FortiToken cloud request or response"),
        ("{\"a\": 1}", "neither a SoftToken message"),
        (cut, "never closes"),
        (binary.as_str(), "no FortiToken cloud request or response"),
    ];
    let journal_before = journal_len(&suite, "ftm").await;
    for (text, expected) in cases {
        let refused = replay::parse_or_explain("the log", text).unwrap_err();
        let message = format!("{refused:#}");
        assert!(message.contains(expected), "{text:?}: {message}");
    }
    assert_eq!(journal_len(&suite, "ftm").await, journal_before);
    no_scenarios_anywhere(&suite).await;
}

#[tokio::test]
async fn the_dashboard_replays_a_pasted_log_and_arms_it() {
    let suite = empty_lab().await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();

    // The page: the form, and the home page links to it.
    let page = suite
        .client
        .get(format!("{ui}{}", paths::UI_REPLAY))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("<textarea id=\"log\""), "{page}");
    let home = suite
        .client
        .get(&ui)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains(&format!("href=\"{}\"", paths::UI_REPLAY)));
    let script = suite
        .client
        .get(format!("{ui}{}", paths::UI_REPLAY_SCRIPT))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);

    let post = |body: Value, header: bool| {
        let request = suite
            .client
            .post(format!("{ui}{}", paths::UI_REPLAY))
            .json(&body);
        let request = if header {
            request.header(ACTION_HEADER, "1")
        } else {
            request
        };
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };

    // Not from the page: refused, nothing armed.
    let (status, _) = post(json!({"log": LICENSE_LOG, "arm": true}), false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Garbage: a clear refusal, nothing armed.
    let (status, html) = post(json!({"log": "no json here", "arm": true}), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("no FortiToken cloud request or response"),
        "{html}"
    );
    assert!(html.contains("Nothing was sent and nothing was armed"));
    let (status, _) = post(json!({"nolog": 1}), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    no_scenarios_anywhere(&suite).await;

    // The seed: the exchange, both errors, the sanitized differences, and the offer to arm.
    let (status, html) = post(json!({"log": LICENSE_LOG}), true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("data-verdict=\"matches\""), "{html}");
    assert!(html.contains("forticare license activation code invalid"));
    assert!(html.contains("d.__clustered_sns[1].sn"));
    assert!(html.contains("sanitized in the capture"));
    assert!(html.contains("data-replay=\"arm\""));
    no_scenarios_anywhere(&suite).await;

    // "Arm these": armed through forticare's admin API, and the replay after it fired it.
    let (status, html) = post(json!({"log": LICENSE_LOG, "arm": true}), true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("data-scenario=\"s1\""), "{html}");
    assert!(html.contains("fired 1 time(s)"), "{html}");
    let armed = scenarios(&suite, "forticare").await;
    assert_eq!(armed.scenarios.len(), 1);
    assert_eq!(armed.scenarios[0].fired, 1);

    // The push seed: recognized, the relay's answer shown.
    let (status, html) = post(json!({"log": PUSH_LOG}), true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("push to the relay"));
    assert!(html.contains("Unregistered"));
    dashboard.stop().await;
}

#[tokio::test]
async fn the_replay_page_needs_the_admin_token() {
    let mut options = test_options(None);
    options.admin_token = Some("s3cret".into());
    let suite =
        TestSuite::start_lab(options, LabFixtures::default(), ForticareOptions::default()).await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();
    let page = suite
        .client
        .get(format!("{ui}{}", paths::UI_REPLAY))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    let run = suite
        .client
        .post(format!("{ui}{}", paths::UI_REPLAY))
        .header(ACTION_HEADER, "1")
        .json(&json!({"log": LICENSE_LOG, "arm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), StatusCode::UNAUTHORIZED);
    no_scenarios_anywhere(&suite).await;
    let page = suite
        .client
        .get(format!("{ui}{}", paths::UI_REPLAY))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    dashboard.stop().await;
}

#[tokio::test]
async fn a_provisioning_log_replays_identically_and_never_shows_its_seed() {
    // KB 308115's refused provisioning (dossier 2.2), in the debug sequence FortiOS prints around it.
    let request = include_str!("../../fixtures/wire/provision-not-owner.request.json");
    let response = include_str!("../../fixtures/wire/provision-not-owner.response.json");
    let seed = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";
    assert!(request.contains(seed));
    let text = format!(
        "ftm_cfg_provision_token[417]:provision token: FTKMOB947FDC1754\n\
         ftm_fc_provision_token[810]:Provision token:FTKMOB947FDC1754\n\
         ftm_fc_comm_connect[66]:ftm TCPS connected.\n\
         ftm_fc_comm_send_request[128]:send packet success.\n\
         POST /SoftToken/Provisioning.asmx/Process HTTP/1.1\n{request}\n\
         ftm_fc_comm_recv_response[277]:receive packet success.\n{response}\n"
    );
    let suite = empty_lab().await;
    let log = debug_log::parse(&text);
    assert_eq!(log.unused.count, 0);
    let report = replay::replay_and_arm(suite.api(), &log, "test".into(), true)
        .await
        .unwrap();
    let replayed = &report.exchanges[0];
    assert_eq!(replayed.kind, ExchangeKind::Provision);
    // This lab does not know the token either: fortimock's answer is the capture, byte for byte.
    assert_eq!(
        replayed.verdict,
        Verdict::Identical,
        "{:?}",
        replayed.differences
    );
    // The customer's cloud refused the token too: nothing is missing from this lab.
    assert!(
        !replayed
            .notes
            .iter()
            .any(|n| n.contains("FTKMOB947FDC1754")),
        "{:?}",
        replayed.notes
    );
    let armed = report.armed.as_ref().unwrap();
    assert_eq!(
        armed.armed[0].scenario.spec.error.as_deref(),
        Some("ftm.provision.no-valid-token")
    );
    assert_eq!(armed.armed[0].scenario.fired, 1);
    assert_eq!(
        report.after_arming.as_ref().unwrap()[0].verdict,
        Verdict::Identical
    );
    let shown = format!(
        "{}{}",
        replay::render_text("log", &report),
        serde_json::to_string(&report).unwrap()
    );
    assert!(!shown.contains(seed), "the captured seed is shown");
    assert!(shown.contains("<redacted>"));
}
