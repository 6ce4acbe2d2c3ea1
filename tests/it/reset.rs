//! `POST /__admin/reset` on every service: after a whole story (license, provisioning, a phone, a push
//! login, an armed scenario), each service is back to its start (forticare to its fixtures), its scenarios
//! are gone, an appliance's ftm-push listener is closed, and the same story runs again from scratch.

use e2e::TestSuite;
use protocol::admin::{ActivationList, EscrowList, ResetView};
use protocol::appliance::{ApplianceList, LoginResult};
use protocol::ledger::LicenseList;
use protocol::paths;
use protocol::phone::PhoneList;
use protocol::push::DeviceList;
use protocol::scenario::ScenarioList;
use reqwest::StatusCode;
use serde_json::json;

const SERVICES: [&str; 5] = ["appliance", "phone", "push", "ftm", "forticare"];

/// A FortiGate with push on whose user alice logs in by push, approved by her phone. Returns the appliance,
/// its listener's port and the phone.
async fn story(suite: &TestSuite) -> (String, u16, String) {
    let ready = suite.push_ready(json!({"timeout_secs": 10})).await;
    suite
        .change_phone(&ready.phone, json!({"push_policy": "approve"}))
        .await;
    let (status, login) = suite.push_login(&ready.serial, "alice").await;
    assert_eq!(
        (status, login.result),
        (StatusCode::OK, LoginResult::Success),
        "{login:?}"
    );
    (ready.serial, ready.port, ready.phone)
}

#[tokio::test]
async fn reset_brings_every_service_back_to_its_start() {
    let suite = TestSuite::start().await;
    let (serial, port, phone) = story(&suite).await;
    assert_eq!(phone, "phone-1");
    let (status, _) = suite
        .admin_post(
            "ftm",
            paths::ADMIN_SCENARIOS,
            &json!({"status": 503, "match": {"serial": "FGVM01TM00000009"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    for service in SERVICES {
        let (status, body) = suite
            .admin_post(service, paths::ADMIN_RESET, &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{service}: {body}");
        let view: ResetView = serde_json::from_value(body).unwrap();
        assert_eq!(view.service, service);
        assert!(view.removed > 0, "{service} removed nothing: {view:?}");
        assert_eq!(view.fixtures, if service == "forticare" { 5 } else { 0 });
        assert_eq!(view.scenarios, u64::from(service == "ftm"), "{view:?}");
    }

    let appliances: ApplianceList = suite.admin_get("appliance", paths::APPLIANCES).await;
    assert!(appliances.appliances.is_empty());
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the ftm-push listener of {serial} still listens on {port}"
    );
    let phones: PhoneList = suite.admin_get("phone", paths::PHONES).await;
    assert!(phones.phones.is_empty());
    let devices: DeviceList = suite.admin_get("push", paths::ADMIN_DEVICES).await;
    assert!(devices.devices.is_empty());
    let pushes: protocol::push::PushJournal = suite.admin_get("push", paths::ADMIN_PUSHES).await;
    assert!(pushes.pushes.is_empty());
    let escrow: EscrowList = suite.admin_get("ftm", paths::ADMIN_ESCROW).await;
    let activations: ActivationList = suite.admin_get("ftm", paths::ADMIN_ACTIVATIONS).await;
    assert!(escrow.entries.is_empty() && activations.activations.is_empty());
    let licenses: LicenseList = suite.admin_get("forticare", paths::ADMIN_LICENSES).await;
    assert_eq!(licenses.licenses.len(), 4);
    let paid = licenses
        .licenses
        .iter()
        .find(|l| l.id.as_str() == "EFTM000000000005")
        .unwrap();
    assert_eq!(paid.owner, None);
    // The fixture registered to FGT60FTK20000099 is registered again.
    assert!(licenses.licenses.iter().any(|l| l.owner.is_some()));
    for service in ["forticare", "ftm", "push"] {
        let scenarios: ScenarioList = suite.admin_get(service, paths::ADMIN_SCENARIOS).await;
        assert!(scenarios.scenarios.is_empty());
    }

    // The same story again, from scratch: another appliance may now import the license, and names restart.
    let (_, _, phone) = story(&suite).await;
    assert_eq!(phone, "phone-1");
    suite.stop().await;
}

#[tokio::test]
async fn reset_is_idempotent_and_needs_the_admin_token() {
    let mut options = e2e::test_options(None);
    options.admin_token = Some("s3cret".into());
    let suite = TestSuite::start_with(options, e2e::default_fixtures()).await;
    let url = suite.url("ftm");
    let refused = suite
        .client
        .post(format!("{url}{}", paths::ADMIN_RESET))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        let response = suite
            .client
            .post(format!("{url}{}", paths::ADMIN_RESET))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let view: ResetView = response.json().await.unwrap();
        assert_eq!(view.removed, 0);
    }
    suite.stop().await;
}
