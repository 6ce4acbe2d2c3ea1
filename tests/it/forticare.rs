//! License import against the forticare service: the captured error-16 exchange, paid and trial licenses,
//! HA clusters, ownership, expiry, and the license admin API.

use e2e::{TestSuite, capture};
use protocol::catalogue::LICENSE_CODE_INVALID;
use protocol::ledger::{LicenseList, LicenseView};
use protocol::license::ActivationLicenseResponse;
use protocol::modeled::{LICENSE_EXPIRED, LICENSE_REGISTERED_ELSEWHERE};
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

const FORTICARE: &str = "forticare";

/// The capture's author masked the serials (`FGXXXXXXX`, once `FGXXXXXX`); compare them trimmed and
/// with the mask's length ignored. Every other field is compared exactly.
fn unmask_serials(value: &mut Value) {
    let unmask = |v: &mut Value| {
        if let Some(text) = v.as_str() {
            let trimmed = text.trim();
            let masked = trimmed.len() > 2
                && trimmed.starts_with("FG")
                && trimmed[2..].bytes().all(|b| b == b'X');
            *v = json!(if masked { "FG<masked>" } else { trimmed });
        }
    };
    let d = &mut value["d"];
    unmask(&mut d["serial_number"]);
    if let Some(members) = d["__clustered_sns"].as_array_mut() {
        members.iter_mut().for_each(|m| unmask(&mut m["sn"]));
    }
}

#[track_caller]
fn check_granted(response: &ActivationLicenseResponse, license: &str, seats: usize) -> Vec<String> {
    assert_eq!(response.error, None, "{response:?}");
    assert_eq!(response.license, license);
    let tokens: Vec<String> = response
        .tokens
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| t.token.clone())
        .collect();
    assert_eq!(tokens.len(), seats);
    assert!(
        tokens
            .iter()
            .all(|t| t.parse::<protocol::id::TokenSerial>().is_ok()),
        "{tokens:?}"
    );
    tokens
}

#[track_caller]
fn check_refused(
    response: &ActivationLicenseResponse,
    entry: &protocol::catalogue::CatalogueEntry,
) {
    assert_eq!(response.license, "");
    assert_eq!(response.tokens, None);
    assert_eq!(response.result, 0);
    assert!(
        entry.matches(response.error.as_ref().unwrap()),
        "{:?} is not {}",
        response.error,
        entry.id
    );
}

#[tokio::test]
async fn captured_bad_code_exchange_is_reproduced() {
    let suite = TestSuite::start().await;
    let (status, mut body) = suite
        .post_process(FORTICARE, capture("license-import-error16.request.json"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut expected: Value =
        serde_json::from_str(&capture("license-import-error16.response.json")).unwrap();
    unmask_serials(&mut body);
    unmask_serials(&mut expected);
    assert_eq!(body, expected);
    suite.stop().await;
}

#[tokio::test]
async fn captured_exchange_echoes_values_verbatim() {
    let suite = TestSuite::start().await;
    let (_, body) = suite
        .post_process(FORTICARE, capture("license-import-error16.request.json"))
        .await;
    // The code and the serials come back exactly as sent, stray spaces included, as in the capture.
    assert_eq!(body["d"]["license_activation_code"], " BADLICBADLICXXX ");
    assert_eq!(body["d"]["serial_number"], "FGXXXXXXX");
    assert_eq!(
        body["d"]["__clustered_sns"][0],
        json!({"sn": " FGXXXXXXX ", "error": null})
    );
    suite.stop().await;
}

#[tokio::test]
async fn valid_code_registers_license_to_appliance_and_cluster() {
    let suite = TestSuite::start().await;
    let first = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &["FGVM01TM00000002"],
            "1111-2222-3333-4444-5555",
        )
        .await;
    let tokens = check_granted(&first, "EFTM000000000005", 5);
    assert_eq!(
        first
            .header
            .clustered_sns
            .iter()
            .map(|m| m.error.clone())
            .collect::<Vec<_>>(),
        vec![None, None]
    );

    // The same appliance, and its HA peer, get the same tokens; lowercase and dashless input is the same code.
    let again = suite
        .import(FORTICARE, "FGVM01TM00000001", &[], "11112222333344445555")
        .await;
    assert_eq!(check_granted(&again, "EFTM000000000005", 5), tokens);
    let peer = suite
        .import(
            FORTICARE,
            "FGVM01TM00000002",
            &["FGVM01TM00000001"],
            " 1111-2222-3333-4444-5555 ",
        )
        .await;
    assert_eq!(check_granted(&peer, "EFTM000000000005", 5), tokens);

    let view: LicenseView = suite
        .admin_get(
            FORTICARE,
            &paths::fill(paths::ADMIN_LICENSE, &["EFTM000000000005"]),
        )
        .await;
    let owner = view.summary.owner.unwrap();
    assert_eq!(owner.appliance.as_str(), "FGVM01TM00000001");
    assert_eq!(
        owner
            .cluster
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        ["FGVM01TM00000001", "FGVM01TM00000002"]
    );
    assert_eq!(
        view.tokens
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>(),
        tokens
    );
    suite.stop().await;
}

#[tokio::test]
async fn unrelated_appliance_is_refused_and_changes_nothing() {
    let suite = TestSuite::start().await;
    suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &[],
            "5050-5050-5050-5050-5050",
        )
        .await;
    let before: LicenseView = suite
        .admin_get(
            FORTICARE,
            &paths::fill(paths::ADMIN_LICENSE, &["EFTM000000000050"]),
        )
        .await;
    let other = suite
        .import(
            FORTICARE,
            "FGT60FTK20001234",
            &[],
            "5050-5050-5050-5050-5050",
        )
        .await;
    check_refused(&other, &LICENSE_REGISTERED_ELSEWHERE);
    let after: LicenseView = suite
        .admin_get(
            FORTICARE,
            &paths::fill(paths::ADMIN_LICENSE, &["EFTM000000000050"]),
        )
        .await;
    assert_eq!(before, after);

    // The fixture license registered up front behaves the same.
    let fixture = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &[],
            "B0B0-B0B0-B0B0-B0B0-B0B0",
        )
        .await;
    check_refused(&fixture, &LICENSE_REGISTERED_ELSEWHERE);
    let owner = suite
        .import(
            FORTICARE,
            "FGT60FTK20000099",
            &[],
            "B0B0-B0B0-B0B0-B0B0-B0B0",
        )
        .await;
    check_granted(&owner, "EFTM000000000099", 10);
    suite.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_codes_get_error_16() {
    let suite = TestSuite::start().await;
    for code in [
        "ABCD-ABCD-ABCD-ABCD-ABCD",
        "BADLICBADLICXXX",
        "",
        "1111-2222-3333-4444-555",
        "1111-2222-3333-4444-5555-6",
    ] {
        let response = suite.import(FORTICARE, "FGVM01TM00000001", &[], code).await;
        check_refused(&response, &LICENSE_CODE_INVALID);
        assert_eq!(response.license_activation_code, code);
    }
    suite.stop().await;
}

#[tokio::test]
async fn unknown_cluster_member_is_not_registered() {
    let suite = TestSuite::start().await;
    let response = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &["FGVM01TM00000777"],
            "ABCD-ABCD-ABCD-ABCD-ABCD",
        )
        .await;
    check_refused(&response, &LICENSE_CODE_INVALID);
    let errors: Vec<_> = response
        .header
        .clustered_sns
        .iter()
        .map(|m| (m.sn.as_str(), m.error.as_deref()))
        .collect();
    assert_eq!(
        errors,
        [
            ("FGVM01TM00000001", None),
            ("FGVM01TM00000777", Some("Product is not registered"))
        ]
    );
    suite.stop().await;
}

#[tokio::test]
async fn trial_gives_two_stable_tokens_per_cluster() {
    let suite = TestSuite::start().await;
    let trial = "0000-0000-0000-0000-0000";
    let first = suite
        .import(FORTICARE, "FGVM01TM00000001", &["FGVM01TM00000002"], trial)
        .await;
    assert!(
        first.license.starts_with("FTMTRIAL") && first.license.len() == 16,
        "{}",
        first.license
    );
    let tokens = check_granted(&first, &first.license, 2);
    let again = suite
        .import(FORTICARE, "FGVM01TM00000001", &[], trial)
        .await;
    assert_eq!(check_granted(&again, &first.license, 2), tokens);
    let peer = suite
        .import(FORTICARE, "FGVM01TM00000002", &[], "00000000000000000000")
        .await;
    assert_eq!(check_granted(&peer, &first.license, 2), tokens);

    let other = suite
        .import(FORTICARE, "FGVM01TM00000003", &[], trial)
        .await;
    assert_ne!(other.license, first.license);
    assert_eq!(
        check_granted(&other, &other.license, 2)
            .iter()
            .filter(|t| tokens.contains(t))
            .count(),
        0
    );
    suite.stop().await;
}

#[tokio::test]
async fn expiry_binds_only_unredeemed_codes() {
    let suite = TestSuite::start().await;
    // The default lab's certificate ended 2020-12-31 and was never redeemed.
    let expired = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &[],
            "DEAD-0000-0000-0000-2020",
        )
        .await;
    check_refused(&expired, &LICENSE_EXPIRED);

    // A code redeemed before its date keeps working after it: drive the clock through the admin API.
    let (status, _) = suite
        .admin_post(
            FORTICARE,
            paths::ADMIN_LICENSES,
            &json!({"code": "C0DE-0000-0000-0000-2030", "seats": 3, "valid_until": "2030-06-30"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = suite
        .admin_post(
            FORTICARE,
            paths::ADMIN_CLOCK,
            &json!({"freeze": true, "set": "2030-06-30T23:59:59Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let granted = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &[],
            "C0DE-0000-0000-0000-2030",
        )
        .await;
    let license = granted.license.clone();
    check_granted(&granted, &license, 3);
    suite
        .admin_post(
            FORTICARE,
            paths::ADMIN_CLOCK,
            &json!({"advance_secs": 400 * 86_400}),
        )
        .await;
    check_granted(
        &suite
            .import(
                FORTICARE,
                "FGVM01TM00000001",
                &[],
                "C0DE-0000-0000-0000-2030",
            )
            .await,
        &license,
        3,
    );

    // An unredeemed one past its date is expired.
    suite
        .admin_post(
            FORTICARE,
            paths::ADMIN_LICENSES,
            &json!({"code": "C0DE-0000-0000-0000-2031", "seats": 3, "valid_until": "2031-01-01"}),
        )
        .await;
    check_refused(
        &suite
            .import(
                FORTICARE,
                "FGVM01TM00000001",
                &[],
                "C0DE-0000-0000-0000-2031",
            )
            .await,
        &LICENSE_EXPIRED,
    );
    suite.stop().await;
}

#[tokio::test]
async fn racing_appliances_for_one_code_exactly_one_wins() {
    let suite = TestSuite::start().await;
    let imports = (0..16).map(|i| {
        let serial = format!("FGVM01TM100000{i:02}");
        let suite = &suite;
        async move {
            suite
                .import(FORTICARE, &serial, &[], "5050-5050-5050-5050-5050")
                .await
        }
    });
    let responses = futures_util::future::join_all(imports).await;
    let winners = responses.iter().filter(|r| r.error.is_none()).count();
    assert_eq!(winners, 1);
    assert!(
        responses
            .iter()
            .filter(|r| r.error.is_some())
            .all(|r| LICENSE_REGISTERED_ELSEWHERE.matches(r.error.as_ref().unwrap()))
    );
    suite.stop().await;
}

#[tokio::test]
async fn admin_api_creates_lists_and_refuses_bad_input() {
    let suite = TestSuite::start().await;
    let (status, created) = suite
        .admin_post(
            FORTICARE,
            paths::ADMIN_LICENSES,
            &json!({"seats": 7, "note": "from a test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["code"].as_str().unwrap().to_owned();
    assert_eq!(created["tokens"].as_array().unwrap().len(), 7);
    check_granted(
        &suite
            .import(FORTICARE, "FGVM01TM00000009", &[], &code)
            .await,
        &id,
        7,
    );

    let list: LicenseList = suite.admin_get(FORTICARE, paths::ADMIN_LICENSES).await;
    assert!(
        list.licenses
            .iter()
            .any(|l| l.id.as_str() == id && l.seats == 7)
    );

    for (body, status, error_id) in [
        (
            json!({"seats": 0}),
            StatusCode::BAD_REQUEST,
            "forticare.license.seats",
        ),
        (
            json!({"seats": 10_001}),
            StatusCode::BAD_REQUEST,
            "forticare.license.seats",
        ),
        (
            json!({"seats": "five"}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            json!({"seats": 1, "code": "not a code"}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            json!({"seats": 1, "code": code}),
            StatusCode::CONFLICT,
            "forticare.license.conflict",
        ),
        (
            json!({"seats": 1, "id": id}),
            StatusCode::CONFLICT,
            "forticare.license.conflict",
        ),
        (
            json!({"seats": 1, "code": "0000-0000-0000-0000-0000"}),
            StatusCode::CONFLICT,
            "forticare.license.conflict",
        ),
    ] {
        let (got, answer) = suite
            .admin_post(FORTICARE, paths::ADMIN_LICENSES, &body)
            .await;
        assert_eq!(
            (got, answer["error_id"].as_str()),
            (status, Some(error_id)),
            "{body} → {answer}"
        );
    }
    let response = suite
        .client
        .get(format!(
            "{}{}",
            suite.url(FORTICARE),
            paths::fill(paths::ADMIN_LICENSE, &["EFTM999999999999"])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = suite
        .client
        .get(format!(
            "{}{}",
            suite.url(FORTICARE),
            paths::fill(paths::ADMIN_LICENSE, &["nonsense"])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    suite.stop().await;
}
