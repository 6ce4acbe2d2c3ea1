//! The virtual FortiAuthenticator's appliance-level facts through its REST API and fortimock's API for FACs:
//! hardware tokens (type `ftk`) listed, filtered, assigned and deleted next to mobile ones; the administrator's
//! login password, which the REST API refuses; the default time step (60 s, dossier §6 [DOC]); FAC 8.0.0
//! answering a sent activation message as failed; and FACs declared in a lab's fixtures, with LDAP users,
//! there at start and again after a reset.

use e2e::TestSuite;
use e2e::fac_client::{FAC_HOST, FacClient, assert_not_available, local_user, outbox};
use fortimock_testing::ForticareOptions;
use protocol::ledger::LabFixtures;
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

const FIFTY_SEATS: &str = "5050-5050-5050-5050-5050";

async fn import(fac: &FacClient) {
    import_code(fac, FIFTY_SEATS).await;
}

async fn import_code(fac: &FacClient, code: &str) {
    let (status, imported) = fac
        .post("fortitokenmobilelicenses/", json!({"license": code}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
}

async fn appliance_records(suite: &TestSuite) -> Value {
    let state: Value = suite.admin_get("appliance", paths::ADMIN_STATE).await;
    state["trees"].clone()
}

#[tokio::test]
async fn fortitokens_lists_hardware_tokens_next_to_mobile_ones_and_assigns_them_as_ftk() {
    let suite = TestSuite::with_fac_host().await;
    suite.freeze_clock().await;
    let (serial, fac) = suite.new_fac(FAC_HOST).await;
    import(&fac).await;
    let batch = suite.hardware_batch("FTK200", 2, false).await;
    let hardware: Vec<String> = batch.tokens.iter().map(|t| t.serial.to_string()).collect();
    let (status, answer) = suite
        .hardware_activate(&serial, &[&hardware[0], &hardware[1]])
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Both kinds in one list, the hardware tokens after the 50 mobile ones, with their own type.
    let all = fac.all("fortitokens/").await;
    assert_eq!(all.len(), 52);
    let (status, ftk) = fac.get("fortitokens/?type=ftk").await;
    assert_eq!(status, StatusCode::OK, "{ftk}");
    assert_eq!(ftk["meta"]["total_count"], 2);
    let first = &ftk["objects"][0];
    assert_eq!(first["type"], "ftk");
    assert_eq!(first["serial"], hardware[0].as_str());
    assert_eq!(first["status"], "available");
    assert_eq!(first["license"], "");
    assert_eq!(first["id"], 51);
    assert_eq!(first["resource_uri"], "/api/v1/fortitokens/51/");
    let (_, ftm) = fac.get("fortitokens/?type=ftm&limit=1").await;
    assert_eq!(ftm["meta"]["total_count"], 50);
    let (_, found) = fac
        .get(&format!(
            "fortitokens/?serial__iexact={}",
            hardware[1].to_lowercase()
        ))
        .await;
    assert_eq!(found["meta"]["total_count"], 1);
    assert_eq!(found["objects"][0]["type"], "ftk");
    let (_, one) = fac.get("fortitokens/52/").await;
    assert_eq!(one["serial"], hardware[1].as_str());

    // A local user gets the hardware token by `token_type: ftk` and its serial, and logs in with its code.
    let id = local_user(&fac, "hugo").await;
    let (status, user) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "token_type": "ftk", "token_serial": hardware[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    assert_eq!(user["token_type"], "ftk");
    assert_eq!(user["token_serial"], hardware[0].as_str());
    let (_, listed) = fac
        .get(&format!("fortitokens/?serial={}", hardware[0]))
        .await;
    assert_eq!(listed["objects"][0]["status"], "assigned");
    assert!(outbox(&suite, &serial).await.is_empty(), "nothing to send");
    let seeds = suite.batch_seeds(&batch.batch).await;
    let code = suite.hardware_code(&seeds[0].1).await;
    let login = json!({"username": "hugo", "password": "Secret-123", "token_code": code});
    let (status, answer) = fac.post("auth/", login.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = fac.post("auth/", login).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replayed code");

    // Another user cannot have it, nor an unknown hardware serial; nothing changes.
    let other = local_user(&fac, "ines").await;
    let before = appliance_records(&suite).await;
    for wanted in [hardware[0].as_str(), "FTK200ZZZ0000000"] {
        let (status, answer) = fac
            .patch(
                &format!("localusers/{other}/"),
                json!({"token_auth": true, "token_type": "ftk", "token_serial": wanted}),
            )
            .await;
        assert_not_available(status, &answer);
    }
    assert_eq!(appliance_records(&suite).await, before);
    // With no serial, the next available hardware token.
    let (status, user) = fac
        .patch(
            &format!("localusers/{other}/"),
            json!({"token_auth": true, "token_type": "ftk"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    assert_eq!(user["token_serial"], hardware[1].as_str());

    // A hardware token a user holds is not deleted; once free it is.
    let (status, answer) = fac.delete("fortitokens/51/").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let batch2 = suite.hardware_batch("FTK200", 1, false).await;
    let spare = batch2.tokens[0].serial.to_string();
    suite.hardware_activate(&serial, &[&spare]).await;
    let (_, listed) = fac.get(&format!("fortitokens/?serial={spare}")).await;
    let spare_id = listed["objects"][0]["id"].as_u64().unwrap();
    assert_eq!(spare_id, 53);
    let (status, _) = fac.delete(&format!("fortitokens/{spare_id}/")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(fac.all("fortitokens/?type=ftk").await.len(), 2);
    suite.stop().await;
}

#[tokio::test]
async fn the_admins_login_password_is_refused_by_the_rest_api() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = suite.new_fac(FAC_HOST).await;
    let path = paths::fill(paths::APPLIANCE_ADMIN_PASSWORD, &[&serial, "admin"]);
    let response = suite
        .client
        .put(format!("{}{path}", suite.url("appliance")))
        .json(&json!({"password": "Admin-Login-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set: Value = response.json().await.unwrap();
    assert_eq!(set, json!({"admin": "admin", "password_set": true}));
    // The key opens the API; the administrator's own login password gets FAC's bodiless 401.
    assert_eq!(fac.get("fortitokens/").await.0, StatusCode::OK);
    let (status, body) = fac
        .with_credentials("admin", "Admin-Login-1")
        .get("fortitokens/")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, Value::Null);
    // The password rests only as a salted hash.
    assert!(
        !appliance_records(&suite)
            .await
            .to_string()
            .contains("Admin-Login-1")
    );
    // Bad input changes nothing: no such administrator, no password, an unknown field.
    let before = appliance_records(&suite).await;
    for (path, body, status) in [
        (
            paths::fill(paths::APPLIANCE_ADMIN_PASSWORD, &[&serial, "nobody"]),
            json!({"password": "x"}),
            StatusCode::NOT_FOUND,
        ),
        (
            path.clone(),
            json!({"password": ""}),
            StatusCode::BAD_REQUEST,
        ),
        (
            path.clone(),
            json!({"password": "x", "admin": "y"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = suite
            .client
            .put(format!("{}{path}", suite.url("appliance")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path} {body}");
        let answer: Value = response.json().await.unwrap();
        assert!(answer["error_id"].is_string(), "{answer}");
    }
    assert_eq!(appliance_records(&suite).await, before);
    suite.stop().await;
}

#[tokio::test]
async fn a_new_fac_provisions_60_second_tokens_unless_told_30() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = suite.new_fac(FAC_HOST).await;
    import(&fac).await;
    let (_, provisioning) = fac.get("fortitokenmobileprovisioning/").await;
    assert_eq!(
        provisioning["time_step"],
        protocol::modeled::FAC_DEFAULT_TIME_STEP
    );
    assert_eq!(provisioning["time_step"], 60);
    let mut periods = Vec::new();
    for (name, step) in [("jo", None), ("kai", Some(30))] {
        if let Some(step) = step {
            let (status, answer) = fac
                .patch("fortitokenmobileprovisioning/", json!({"time_step": step}))
                .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        let id = local_user(&fac, name).await;
        let (status, _) = fac
            .patch(
                &format!("localusers/{id}/"),
                json!({"token_auth": true, "token_type": "ftm"}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let code = outbox(&suite, &serial).await.last().unwrap()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let phone = suite.new_phone(json!({})).await.id;
        let (status, installed) = suite.activate(&phone, &code).await;
        assert_eq!(status, StatusCode::CREATED, "{installed}");
        periods.push(installed["period"].as_u64().unwrap());
    }
    assert_eq!(periods, [60, 30]);
    suite.stop().await;
}

#[tokio::test]
async fn fac_8_0_0_answers_a_sent_activation_message_as_failed_and_a_retry_sends_it_again() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = suite
        .new_fac_with(FAC_HOST, json!({"firmware": "8.0.0"}))
        .await;
    import(&fac).await;
    let new_user = |name: &str| json!({"username": name, "email": format!("{name}@example.test"), "token_auth": true, "token_type": "ftm"});
    let (status, answer) = fac.post("localusers/", new_user("lou")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer["error"],
        protocol::catalogue::FAC_ACTIVATION_MESSAGE_FAILED.text
    );
    // It was sent all the same, and the user has the token, pending.
    let messages = outbox(&suite, &serial).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["to"], "lou@example.test");
    let users = fac.all("localusers/").await;
    assert_eq!(users.len(), 1);
    let token = users[0]["token_serial"].as_str().unwrap().to_owned();
    let (_, listed) = fac.get(&format!("fortitokens/?serial={token}")).await;
    assert_eq!(listed["objects"][0]["status"], "pending");
    // The retry succeeds and sends it again; the new code activates the phone.
    let id = users[0]["id"].as_u64().unwrap();
    let (status, user) = fac
        .patch(&format!("localusers/{id}/"), json!({"token_auth": true}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    let messages = outbox(&suite, &serial).await;
    assert_eq!(messages.len(), 2);
    let phone = suite.new_phone(json!({})).await.id;
    let code = messages[1]["code"].as_str().unwrap();
    assert_eq!(suite.activate(&phone, code).await.0, StatusCode::CREATED);

    // Another firmware answers the same creation with 207.
    let (other, fac7) = suite
        .new_fac_with("localhost", json!({"firmware": "6.6.4"}))
        .await;
    import_code(&fac7, fortimock_testing::FIVE_SEAT_CODE).await;
    let (status, answer) = fac7.post("localusers/", new_user("max")).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{answer}");
    assert_eq!(outbox(&suite, &other).await.len(), 1);
    suite.stop().await;
}

/// A lab with a FortiAuthenticator declared in its fixtures, as a `lab.json` would have it.
const LAB_WITH_A_FAC: &str = r#"{
  "licenses": [],
  "fortiauthenticators": [
    {
      "serial": "FAC-VMTM00000077",
      "host_name": "fac.lab.test",
      "admins": [{"name": "admin", "api_key": "fixture-key-0123456789", "password": "Admin-Login-7"}],
      "ldap_users": [
        {"username": "gina", "dn": "CN=gina,OU=Staff,DC=lab,DC=test", "email": "gina@example.test"},
        {"username": "olaf", "dn": "CN=olaf,OU=Disabled,DC=lab,DC=test", "active": false}
      ]
    }
  ]
}"#;

#[tokio::test]
async fn facs_declared_in_the_fixtures_start_with_their_ldap_users_and_come_back_after_a_reset() {
    let declared: LabFixtures = serde_json::from_str(LAB_WITH_A_FAC).unwrap();
    let fixtures = LabFixtures {
        fortiauthenticators: declared.fortiauthenticators,
        ..e2e::default_lab()
    };
    let mut options = e2e::test_options(None);
    options.tls_names = vec![FAC_HOST.to_owned()];
    let suite = TestSuite::start_lab(options, fixtures, ForticareOptions::default()).await;
    let fac = FacClient::new(
        suite.lab().ca_pem().unwrap(),
        FAC_HOST,
        suite.appliance_addr(),
        "admin",
        "fixture-key-0123456789",
    );
    let check = |fac: FacClient| async move {
        let users = fac.all("ldapusers/").await;
        assert_eq!(users.len(), 2, "{users:?}");
        assert_eq!(users[0]["username"], "gina");
        assert_eq!(users[0]["dn"], "CN=gina,OU=Staff,DC=lab,DC=test");
        assert_eq!(users[0]["active"], true);
        let (_, disabled) = fac.get("ldapusers/?active=false").await;
        assert_eq!(disabled["meta"]["total_count"], 1);
        assert_eq!(disabled["objects"][0]["username"], "olaf");
        let (status, _) = fac
            .with_credentials("admin", "Admin-Login-7")
            .get("ldapusers/")
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    };
    check(fac.clone()).await;
    let view: Value = suite
        .admin_get(
            "appliance",
            &paths::fill(paths::APPLIANCE_FAC, &["FAC-VMTM00000077"]),
        )
        .await;
    assert_eq!(view["host_name"], FAC_HOST);
    assert_eq!(view["admins"], json!(["admin"]));

    // A reset empties the FAC and declares it again, as forticare's fixtures come back.
    import(&fac).await;
    let (status, reset) = suite
        .admin_post("appliance", paths::ADMIN_RESET, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_eq!(reset["fixtures"], 1);
    check(fac.clone()).await;
    let (_, counts) = fac.get("fortitokenmobilelicenses/").await;
    assert_eq!(counts["total_ftm"], 0);
    suite.stop().await;
}
