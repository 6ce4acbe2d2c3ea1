//! Bad and hostile input on the SoftToken front door: every kind gets its own clear error in the modeled
//! ASP.NET fault shape, the service stays healthy, and nothing in the ledger changes; and a JSON array where
//! fortimock's own API reads an object is refused by the one body reader, on every service.

use e2e::TestSuite;
use protocol::ledger::LicenseList;
use protocol::paths;
use reqwest::StatusCode;
use serde_json::json;

const FORTICARE: &str = "forticare";

#[track_caller]
fn check_fault(
    status: StatusCode,
    body: &serde_json::Value,
    expected_status: StatusCode,
    error_id: &str,
    mentions: &str,
) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error_id"], error_id, "{body}");
    let message = body["Message"].as_str().unwrap();
    assert!(
        message.contains(mentions),
        "`{message}` should mention `{mentions}`"
    );
    assert_eq!(body["ExceptionType"], "System.InvalidOperationException");
}

#[tokio::test]
async fn each_kind_of_bad_body_gets_a_clear_error_and_changes_nothing() {
    let suite = TestSuite::start().await;
    let before: LicenseList = suite.admin_get(FORTICARE, paths::ADMIN_LICENSES).await;
    let import = |fields: serde_json::Value| {
        let mut d = json!({
            "__type": "SoftToken.ActivationLicenseRequest", "__version": "4", "serial_number": "FGVM01TM00000001",
            "__device_version": "7.4", "__device_build": "2829", "__clustered_sns": [{"sn": "FGVM01TM00000001"}],
            "license_activation_code": "1111-2222-3333-4444-5555",
        });
        for (key, value) in fields.as_object().unwrap() {
            if value.is_null() {
                d.as_object_mut().unwrap().remove(key);
            } else {
                d[key] = value.clone();
            }
        }
        json!({ "d": d }).to_string()
    };
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(String, &str, &str)> = vec![
        ("this is not json".into(), "protocol.not-json", "not JSON"),
        (String::new(), "protocol.not-json", "not JSON"),
        (deep, "protocol.not-json", "recursion limit"),
        (
            "{\"d\": {\"__type\": \"SoftToken.ActivationLicenseRequest\"".into(),
            "protocol.not-json",
            "EOF",
        ),
        ("[1, 2, 3]".into(), "protocol.no-envelope", "\"d\""),
        (
            json!({"D": {}}).to_string(),
            "protocol.no-envelope",
            "\"d\"",
        ),
        (
            json!({"d": "SoftToken.ActivationLicenseRequest"}).to_string(),
            "protocol.no-envelope",
            "\"d\"",
        ),
        (
            json!({"d": {"serial_number": "FGVM01TM00000001"}}).to_string(),
            "protocol.no-type",
            "__type",
        ),
        (
            json!({"d": {"__type": ["SoftToken.ActivationLicenseRequest"]}}).to_string(),
            "protocol.no-type",
            "__type",
        ),
        (
            import(json!({"__type": "SoftToken.BogusRequest"})),
            "protocol.unknown-type",
            "SoftToken.ActivationLicenseRequest",
        ),
        (
            import(json!({"license_activation_code": 1111})),
            "protocol.invalid-message",
            "license_activation_code",
        ),
        (
            import(json!({"license_activation_code": null})),
            "protocol.invalid-message",
            "license_activation_code",
        ),
        (
            import(json!({"serial_number": null})),
            "protocol.invalid-message",
            "serial_number",
        ),
        (
            import(json!({"serial_number": 42})),
            "protocol.invalid-message",
            "serial_number",
        ),
        (
            import(json!({"serial_number": " "})),
            "protocol.invalid-message",
            "serial_number",
        ),
        (
            import(json!({"serial_number": "FG\"; DROP TABLE"})),
            "protocol.invalid-message",
            "serial_number",
        ),
        (
            import(json!({"__version": 4})),
            "protocol.invalid-message",
            "__version",
        ),
        (
            import(json!({"__clustered_sns": "FGVM01TM00000001"})),
            "protocol.invalid-message",
            "__clustered_sns",
        ),
        (
            import(json!({"__clustered_sns": [{"serial": "x"}]})),
            "protocol.invalid-message",
            "sn",
        ),
        // An array standing for an object inside the message: serde alone would read it positionally.
        (
            import(json!({"__clustered_sns": [["FGVM01TM00000001"]]})),
            "protocol.invalid-message",
            "invalid type: sequence",
        ),
    ];
    for (body, error_id, mentions) in cases {
        let (status, answer) = suite.post_process(FORTICARE, body.clone()).await;
        check_fault(status, &answer, StatusCode::BAD_REQUEST, error_id, mentions);
    }

    let huge = import(json!({"license_activation_code": "A".repeat(2 * 1024 * 1024)}));
    let (status, answer) = suite.post_process(FORTICARE, huge).await;
    check_fault(
        status,
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "protocol.too-large",
        "limit",
    );

    assert!(suite.healthy(FORTICARE).await);
    let after: LicenseList = suite.admin_get(FORTICARE, paths::ADMIN_LICENSES).await;
    assert_eq!(before, after);
    suite.stop().await;
}

#[tokio::test]
async fn faults_carry_the_asp_net_marker_header() {
    let suite = TestSuite::start().await;
    let url = format!("{}{}", suite.url(FORTICARE), paths::PROCESS);
    let response = suite.client.post(&url).body("nope").send().await.unwrap();
    assert_eq!(response.headers()["jsonerror"], "true");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    suite.stop().await;
}

#[tokio::test]
async fn wrong_method_or_path_is_a_json_404_not_a_page() {
    let suite = TestSuite::start().await;
    for (method, path) in [
        ("GET", paths::PROCESS),
        ("POST", "/SoftToken/Provisioning.asmx/Nope"),
        ("GET", "/"),
    ] {
        let request = suite.client.request(
            method.parse().unwrap(),
            format!("{}{path}", suite.url(FORTICARE)),
        );
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error_id"], "http.no-such-endpoint");
        assert!(body["message"].as_str().unwrap().contains(path));
    }
    suite.stop().await;
}

/// serde would read a JSON array as a struct's fields in order; the one body reader (`lab::http::Json`)
/// refuses an array on every endpoint of fortimock's own API, before any handler runs, and one standing
/// for an object deeper in the body, and nothing changes.
#[tokio::test]
async fn an_array_where_an_object_belongs_is_refused_on_every_service_and_changes_nothing() {
    let suite = TestSuite::start().await;
    let services = ["forticare", "ftm", "push", "phone", "appliance"];
    let mut before = Vec::new();
    for service in services {
        before.push(suite.api().control(service).state().await.unwrap());
    }
    let top_level = "expected a JSON object, not an array";
    // An array standing for an object anywhere inside the body is refused as well.
    let nested = "invalid type: sequence, expected struct ScenarioMatch";
    let attempts = [
        (
            "forticare",
            paths::ADMIN_LICENSES,
            json!([5, "FTM-ELIC-5"]),
            top_level,
        ),
        (
            "appliance",
            paths::APPLIANCES,
            json!(["FGVM01TM00000009", "fortigate"]),
            top_level,
        ),
        (
            "ftm",
            paths::ADMIN_SCENARIOS,
            json!(["error", 16]),
            top_level,
        ),
        ("push", paths::ADMIN_CLOCK, json!([3600]), top_level),
        ("forticare", paths::ADMIN_CLOCK, json!([]), top_level),
        (
            "ftm",
            paths::ADMIN_SCENARIOS,
            json!({"status": 503, "match": ["SoftToken.PollingRequest", "FGVM01TM00000009"]}),
            nested,
        ),
        (
            "forticare",
            paths::ADMIN_SCENARIOS,
            json!({"error": "forticare.import.code-invalid", "match": [["x"]]}),
            nested,
        ),
    ];
    for (service, path, body, mentions) in attempts {
        let (status, answer) = suite.admin_post(service, path, &body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{service} {path}: {answer}"
        );
        assert_eq!(answer["error_id"], "admin.body.invalid", "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(mentions),
            "{answer}"
        );
    }
    // Everything but the export's own time, which moves when a second passes between the two exports.
    for (service, mut before) in services.into_iter().zip(before) {
        let after = suite.api().control(service).state().await.unwrap();
        assert!(after.exported >= before.exported, "{service}");
        before.exported = after.exported;
        assert_eq!(
            serde_json::to_value(&after).unwrap(),
            serde_json::to_value(&before).unwrap(),
            "{service} changed"
        );
    }
    suite.stop().await;
}
