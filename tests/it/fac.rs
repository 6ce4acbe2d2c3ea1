//! The virtual FortiAuthenticator through its REST API, as an automation script uses it (`e2e::fac_client`):
//! host-name dispatch over HTTPS, API-key auth, Tastypie paging and filters, token assignment with the
//! activation message, automatic provisioning, the token policy's windows and resynchronisation for TOTP
//! and HOTP, `?returnseed=`, LDAP users, offline activation's page, and bad input changing nothing.

use e2e::TestSuite;
use e2e::fac_client::{FAC_HOST, FacClient, assert_not_available, local_user, outbox};
use protocol::otp;
use protocol::paths;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const FIFTY_SEATS: &str = "5050-5050-5050-5050-5050";

/// A FAC named [`FAC_HOST`] that imported the 50-seat license over its REST API.
async fn fac_with_tokens() -> (TestSuite, String, FacClient) {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = suite.new_fac(FAC_HOST).await;
    let (status, imported) = fac
        .post("fortitokenmobilelicenses/", json!({"license": FIFTY_SEATS}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    assert_eq!(
        imported["messages"]["success"],
        "Successfully imported 50 FortiTokens"
    );
    (suite, serial, fac)
}

#[tokio::test]
async fn rest_api_pages_filters_and_authenticates_like_tastypie() {
    let (suite, _, fac) = fac_with_tokens().await;

    // The license counts, and the token list in pages of 20 whose `next` is an absolute path.
    let (status, counts) = fac.get("fortitokenmobilelicenses/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        counts,
        json!({"available_ftm": 50, "total_ftm": 50, "used_ftm": 0})
    );
    let (status, first) = fac.get("fortitokens/").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["meta"]["limit"], 20);
    assert_eq!(first["meta"]["offset"], 0);
    assert_eq!(first["meta"]["total_count"], 50);
    assert_eq!(first["meta"]["previous"], Value::Null);
    assert_eq!(
        first["meta"]["next"],
        format!("{}?limit=20&offset=20", paths::FAC_FORTITOKENS)
    );
    let object = &first["objects"][0];
    assert_eq!(
        object["resource_uri"],
        paths::fill(paths::FAC_FORTITOKEN, &["1"])
    );
    assert_eq!(object["type"], "ftm");
    assert_eq!(object["status"], "available");
    assert_eq!(object["locked"], false);
    assert_eq!(object["license"], "EFTM000000000050");
    assert_eq!(object["last_used_at"], Value::Null);
    let all = fac.all("fortitokens/").await;
    assert_eq!(all.len(), 50);
    let (_, everything) = fac.get("fortitokens/?limit=0&format=json").await;
    assert_eq!(everything["meta"]["limit"], 1000);
    assert_eq!(everything["objects"].as_array().unwrap().len(), 50);

    // Django-style filters, on the serial in any case.
    let serial = all[7]["serial"].as_str().unwrap().to_owned();
    let (status, found) = fac
        .get(&format!(
            "fortitokens/?serial__iexact={}",
            serial.to_lowercase()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["meta"]["total_count"], 1);
    assert_eq!(found["objects"][0]["serial"], serial.as_str());
    let (_, one) = fac.get("fortitokens/8/").await;
    assert_eq!(one["serial"], serial.as_str());

    // Tastypie's refusals.
    for (path, status) in [
        ("fortitokens/?limit=x", StatusCode::BAD_REQUEST),
        ("fortitokens/?offset=-1", StatusCode::BAD_REQUEST),
        ("fortitokens/?format=xml", StatusCode::BAD_REQUEST),
        ("fortitokens/?locked__gt=1", StatusCode::BAD_REQUEST),
        ("fortitokens/999/", StatusCode::NOT_FOUND),
        ("nosuchresource/", StatusCode::NOT_FOUND),
    ] {
        let (got, body) = fac.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    let (status, _) = fac.post("fortitokens/", json!({})).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    // The resource listing.
    let (_, root) = fac.get("").await;
    assert_eq!(root["fortitokens"]["list_endpoint"], paths::FAC_FORTITOKENS);

    // Only an administrator's API key opens it: no credentials, the wrong key, a password, another admin.
    for client in [
        fac.with_credentials("admin", "not-the-key"),
        fac.with_credentials("admin", "Secret-123"),
        fac.with_credentials("someone", "x"),
    ] {
        let (status, body) = client.get("fortitokens/").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, Value::Null);
    }
    let (status, _) = fac.send_raw(Method::GET, "fortitokens/", None, false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Phone-facing resources refuse an admin key.
    for path in ["pushpoll/", "transfertoken/"] {
        let (status, body) = fac.post(path, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(body["error"].is_string());
    }

    // Deleting a token.
    let (status, _) = fac.delete("fortitokens/50/").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(fac.all("fortitokens/").await.len(), 49);
    suite.stop().await;
}

#[tokio::test]
async fn rest_api_picks_the_fac_by_host_name() {
    let suite = TestSuite::with_fac_host().await;
    let (_, first) = suite.new_fac(FAC_HOST).await;
    // A second FAC answers on its own name; the lab certificate covers localhost.
    let (_, second) = suite.new_fac("localhost").await;
    let (status, _) = second
        .post("fortitokenmobilelicenses/", json!({"license": FIFTY_SEATS}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, counts) = first.get("fortitokenmobilelicenses/").await;
    assert_eq!(counts["total_ftm"], 0);
    let (_, counts) = second.get("fortitokenmobilelicenses/").await;
    assert_eq!(counts["total_ftm"], 50);
    // One FAC's key does not open the other.
    let (status, _) = first
        .with_credentials("admin", "x")
        .get("localusers/")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    suite.stop().await;
}

#[tokio::test]
async fn assigning_a_token_provisions_it_and_sends_the_activation_message() {
    let (suite, serial, fac) = fac_with_tokens().await;
    let id = local_user(&fac, "alice").await;
    let (status, created) = fac
        .post(
            "localusers/",
            json!({"username": "bob", "email": "bob@example.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(created[0]["statue"], 201);
    assert_eq!(
        created[0]["resource_uri"],
        paths::fill(paths::FAC_LOCALUSER, &["2"])
    );
    assert!(created[0].get("password").is_none());

    // Bad input changes nothing.
    let before = fac.all("localusers/").await;
    for body in [
        json!({"username": "carol", "mobile_number": "0701234567"}),
        json!({"username": "alice"}),
        json!({"username": "has space"}),
        json!({"username": "dave", "ftm_act_method": "pigeon"}),
    ] {
        let (status, answer) = fac.post("localusers/", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["error"].is_string());
    }
    let (status, answer) = fac
        .send_raw(
            Method::POST,
            "localusers/",
            Some("{not json".to_owned()),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "Request is not valid JSON.");
    let (status, answer) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"mobile_number": "+46 70 123"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"],
        protocol::modeled::FAC_BAD_MOBILE_NUMBER.text
    );
    assert_eq!(fac.all("localusers/").await, before);

    // Assign a token by serial: it is provisioned and the message goes out with the code and its QR code.
    let token = fac.all("fortitokens/").await[3]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, user) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "token_type": "ftm", "token_serial": token, "ftm_act_method": "email"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    assert_eq!(user["token_serial"], token.as_str());
    assert_eq!(user["token_auth"], true);
    let messages = outbox(&suite, &serial).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["kind"], "activation");
    assert_eq!(message["channel"], "email");
    assert_eq!(message["to"], "alice@example.test");
    assert_eq!(message["attachments"][0]["content_type"], "image/png");
    let code = message["code"].as_str().unwrap().to_owned();
    assert!(message["body"].as_str().unwrap().contains(&code));
    // It also went out over SMTP, as every appliance's activation message does: captured with its code.
    let captured = suite.messages("recipient=alice@example.test").await;
    assert_eq!(captured.len(), 1, "{captured:?}");
    assert_eq!(captured[0].activation_code.as_deref(), Some(code.as_str()));
    let (_, listed) = fac.get(&format!("fortitokens/?serial={token}")).await;
    assert_eq!(listed["objects"][0]["status"], "pending");

    // The same token for another user: not available.
    let (status, answer) = fac
        .patch(
            "localusers/2/",
            json!({"token_auth": true, "token_type": "ftm", "token_serial": token}),
        )
        .await;
    assert_not_available(status, &answer);

    // A user with no address for the activation method: the message cannot be sent.
    let (_, created) = fac.post("localusers/", json!({"username": "erin"})).await;
    let erin = created[0]["id"].as_u64().unwrap();
    let (status, answer) = fac
        .patch(
            &format!("localusers/{erin}/"),
            json!({"token_auth": true, "token_type": "ftm", "ftm_act_method": "sms"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"],
        "Failed to send FortiToken Mobile activation message"
    );

    // The phone activates with the mailed code; auth/ takes its codes (password checked first).
    let phone = suite.new_phone(json!({})).await.id;
    assert_eq!(suite.activate(&phone, &code).await.0, StatusCode::CREATED);
    let otp = suite.phone_otp(&phone, &token).await.otp;
    let (status, answer) = fac
        .post(
            "auth/",
            json!({"username": "alice", "password": "wrong", "token_code": otp}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let (status, answer) = fac
        .post(
            "auth/",
            json!({"username": "alice", "password": "Secret-123", "token_code": otp}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "authenticated");
    let (_, listed) = fac.get(&format!("fortitokens/?serial={token}")).await;
    assert_eq!(listed["objects"][0]["status"], "assigned");
    assert!(listed["objects"][0]["last_used_at"].is_string());
    let (status, _) = fac
        .post(
            "auth/",
            json!({"username": "nobody", "token_code": "123456"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    suite.stop().await;
}

#[tokio::test]
async fn a_user_created_with_fortitoken_mobile_gets_the_next_available_token() {
    let (suite, serial, fac) = fac_with_tokens().await;
    let (status, created) = fac
        .post(
            "localusers/",
            json!({"username": "frank", "email": "frank@example.test", "token_auth": "true", "token_type": "ftm"}),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{created}");
    let token = created[0]["token_serial"].as_str().unwrap().to_owned();
    let first = fac.all("fortitokens/").await[0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(token, first);
    let messages = outbox(&suite, &serial).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["user"], "frank");
    let (_, counts) = fac.get("fortitokenmobilelicenses/").await;
    assert_eq!(counts["used_ftm"], 1);
    // Group membership by resource_uri.
    let (status, group) = fac.post("usergroups/", json!({"name": "vpn"})).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let (status, membership) = fac
        .post(
            "localgroup-memberships/",
            json!({"user": created[0]["resource_uri"], "group": group["resource_uri"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{membership}");
    let (status, _) = fac
        .post(
            "localgroup-memberships/",
            json!({"user": paths::fill(paths::FAC_LOCALUSER, &["99"]), "group": group["resource_uri"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fac.all("localgroup-memberships/").await.len(), 1);
    suite.stop().await;
}

#[tokio::test]
async fn token_policy_checks_ranges_and_bad_values_change_nothing() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = suite.new_fac(FAC_HOST).await;
    let (status, policy) = fac.get("userfortitokenpolicy/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            &policy["totp_window"],
            &policy["hotp_window"],
            &policy["totp_sync_window"],
            &policy["hotp_sync_window"],
            &policy["email_sms_token_timeout"],
            &policy["ftm_transfer_enabled"],
        ),
        (
            &json!(1),
            &json!(3),
            &json!(60),
            &json!(100),
            &json!(60),
            &json!(false)
        )
    );
    for bad in [
        json!({"totp_window": 0}),
        json!({"totp_window": 61}),
        json!({"hotp_window": 101}),
        json!({"totp_sync_window": 4}),
        json!({"hotp_sync_window": 501}),
        json!({"email_sms_token_timeout": 9}),
        json!({"offline_enabled": true}),
        json!({"hotp_window": "many"}),
    ] {
        let (status, answer) = fac.patch("userfortitokenpolicy/", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
        assert!(answer["error"].is_string());
        assert_eq!(fac.get("userfortitokenpolicy/").await.1, policy, "{bad}");
    }
    let (status, changed) = fac
        .patch(
            "userfortitokenpolicy/",
            json!({"totp_window": 2, "hotp_window": 5, "hotp_sync_window": 20}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["totp_window"], 2);
    assert_eq!(changed["hotp_window"], 5);
    // fortimock's own API shows the same policy.
    let view: Value = suite
        .admin_get("appliance", &paths::fill(paths::APPLIANCE_FAC, &[&serial]))
        .await;
    assert_eq!(view["token_policy"], changed);
    assert_eq!(view["host_name"], FAC_HOST);
    // Provisioning settings.
    for bad in [
        json!({"token_algo": "sha1"}),
        json!({"time_step": 45}),
        json!({"token_size": 7}),
        json!({"act_timeout": 169}),
    ] {
        let (status, _) = fac
            .patch("fortitokenmobileprovisioning/", bad.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (_, provisioning) = fac.get("fortitokenmobileprovisioning/").await;
    assert_eq!(provisioning["token_algo"], "totp");
    assert_eq!(
        provisioning["server_address"],
        "fortitokenmobile.fortinet.com"
    );
    suite.stop().await;
}

/// Assigns a token to a new user with `?returnseed=2`; answers the user's token and its seed.
async fn user_with_seed(fac: &FacClient, name: &str) -> (String, Vec<u8>) {
    let id = local_user(fac, name).await;
    let (status, user) = fac
        .patch(
            &format!("localusers/{id}/?returnseed=2"),
            json!({"token_auth": true, "token_type": "ftm"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    let seed = data_encoding::BASE32_NOPAD
        .decode(user["seed"].as_str().unwrap().as_bytes())
        .unwrap();
    (user["token_serial"].as_str().unwrap().to_owned(), seed)
}

async fn auth(fac: &FacClient, user: &str, code: &str) -> StatusCode {
    fac.post(
        "auth/",
        json!({"username": user, "password": "Secret-123", "token_code": code}),
    )
    .await
    .0
}

#[tokio::test]
async fn hotp_tokens_follow_the_window_and_the_sync_window() {
    let (suite, _, fac) = fac_with_tokens().await;
    let (status, _) = fac
        .patch(
            "fortitokenmobileprovisioning/",
            json!({"token_algo": "hotp"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = fac
        .patch(
            "userfortitokenpolicy/",
            json!({"hotp_window": 3, "hotp_sync_window": 20, "totp_window": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, seed) = user_with_seed(&fac, "hank").await;
    assert_eq!(seed.len(), 20);
    let code = |counter: u64| otp::hotp(&seed, counter, 6);
    // Counter 1 is the first code; 3 is within the window of 3 from 2.
    assert_eq!(auth(&fac, "hank", &code(1)).await, StatusCode::OK);
    assert_eq!(auth(&fac, "hank", &code(1)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(auth(&fac, "hank", &code(3)).await, StatusCode::OK);
    // 10 is past the window (4..7) but inside the sync window: a resync the next code (11) completes.
    let (status, answer) = fac
        .post(
            "auth/",
            json!({"username": "hank", "password": "Secret-123", "token_code": code(10)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"], protocol::modeled::RESYNC_MESSAGE);
    assert_eq!(auth(&fac, "hank", &code(11)).await, StatusCode::OK);
    assert_eq!(auth(&fac, "hank", &code(12)).await, StatusCode::OK);
    // Beyond the sync window: refused outright.
    assert_eq!(
        auth(&fac, "hank", &code(60)).await,
        StatusCode::UNAUTHORIZED
    );
    suite.stop().await;
}

#[tokio::test]
async fn totp_codes_outside_the_window_resynchronise_within_the_sync_window() {
    let (suite, _, fac) = fac_with_tokens().await;
    suite.freeze_clock().await;
    let (_, seed) = user_with_seed(&fac, "ivy").await;
    let clock: Value = suite.admin_get("ftm", paths::ADMIN_CLOCK).await;
    let now = clock["now"].as_i64().unwrap();
    let (_, provisioning) = fac.get("fortitokenmobileprovisioning/").await;
    let period = u32::try_from(provisioning["time_step"].as_u64().unwrap()).unwrap();
    let at = |secs: i64| otp::totp(&seed, secs, period, 6);
    // 10 minutes ahead: past the 1-minute window, inside the 60-minute sync window.
    let ahead = now + 600;
    let (status, answer) = fac
        .post(
            "auth/",
            json!({"username": "ivy", "password": "Secret-123", "token_code": at(ahead)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error"], protocol::modeled::RESYNC_MESSAGE);
    assert_eq!(
        auth(&fac, "ivy", &at(ahead + i64::from(period))).await,
        StatusCode::OK
    );
    // Two hours ahead is beyond the sync window.
    assert_eq!(
        auth(&fac, "ivy", &at(now + 7200)).await,
        StatusCode::UNAUTHORIZED
    );
    suite.stop().await;
}

#[tokio::test]
async fn ldap_users_get_tokens_like_local_users() {
    let (suite, serial, fac) = fac_with_tokens().await;
    for (name, dn, active) in [
        ("gina", "CN=gina,OU=Staff,DC=lab,DC=test", true),
        ("olaf", "CN=olaf,OU=Disabled,DC=lab,DC=test", false),
    ] {
        let (status, answer) = suite
            .admin_post(
                "appliance",
                &paths::fill(paths::APPLIANCE_LDAP_USERS, &[&serial]),
                &json!({"username": name, "dn": dn, "active": active, "email": format!("{name}@example.test")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let (status, answer) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_LDAP_USERS, &[&serial]),
            &json!({"username": "bad", "dn": "nodn"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (_, inactive) = fac.get("ldapusers/?active=false").await;
    assert_eq!(inactive["meta"]["total_count"], 1);
    assert_eq!(inactive["objects"][0]["username"], "olaf");
    assert_eq!(
        inactive["objects"][0]["dn"],
        "CN=olaf,OU=Disabled,DC=lab,DC=test"
    );
    let all = fac.all("ldapusers/").await;
    let gina = all.iter().find(|u| u["username"] == "gina").unwrap();
    let (status, patched) = fac
        .patch(
            gina["resource_uri"].as_str().unwrap(),
            json!({"active": true, "token_auth": true, "token_type": "ftm"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{patched}");
    assert!(patched["token_serial"].is_string());
    assert_eq!(outbox(&suite, &serial).await.len(), 1);
    let (status, _) = fac.post("ldapusers/", json!({"username": "x"})).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    suite.stop().await;
}

#[tokio::test]
async fn offline_provisioning_shows_the_qr_code_on_the_activation_page() {
    let (suite, serial, fac) = fac_with_tokens().await;
    let (status, _) = fac
        .patch(
            "fortitokenmobileprovisioning/",
            json!({"provision_mode": "offline"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = local_user(&fac, "kim").await;
    let (status, user) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "token_type": "ftm"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    let token = user["token_serial"].as_str().unwrap().to_owned();
    // Nothing went through the mail: the activation page carries the QR code.
    assert!(outbox(&suite, &serial).await.is_empty());
    let page: Value = suite
        .admin_get(
            "appliance",
            &paths::fill(paths::APPLIANCE_ACTIVATION, &[&serial, &token]),
        )
        .await;
    let payload = page["payload"].as_str().unwrap();
    let offline = protocol::modeled::parse_offline_activation(payload)
        .unwrap()
        .unwrap();
    assert_eq!(offline.token.as_str(), token);
    let response = suite
        .client
        .get(format!(
            "{}{}?format=png",
            suite.url("appliance"),
            paths::fill(paths::APPLIANCE_ACTIVATION, &[&serial, &token])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let png = response.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The phone scans it and installs the token with no call to ftm; its codes open the FAC, and the token
    // becomes Assigned without a poll.
    let phone = suite.new_phone(json!({})).await.id;
    let (status, installed) = suite.activate(&phone, payload).await;
    assert_eq!(status, StatusCode::CREATED, "{installed}");
    let journal: Value = suite.admin_get("ftm", paths::ADMIN_JOURNAL).await;
    let entries = journal["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e["message_type"] == "SoftToken.ActivationLicenseRequest"),
        "ftm heard more than the license import: {journal}"
    );
    let code = suite.phone_otp(&phone, &token).await.otp;
    assert_eq!(auth(&fac, "kim", &code).await, StatusCode::OK);
    let (status, answer) = suite
        .activate(&phone, "fortitokenmobile://offline?sn=FTKMOB0000000001")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (_, listed) = fac.get(&format!("fortitokens/?serial={token}")).await;
    assert_eq!(listed["objects"][0]["status"], "assigned");
    suite.stop().await;
}

#[tokio::test]
async fn reset_and_state_cover_the_fac() {
    let (suite, _, fac) = fac_with_tokens().await;
    local_user(&fac, "lena").await;
    let (status, _) = fac
        .patch("userfortitokenpolicy/", json!({"hotp_window": 9}))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Export, reset (everything gone: the API finds no FAC), import (everything back, the key still works).
    let state: Value = suite.admin_get("appliance", paths::ADMIN_STATE).await;
    let (status, _) = suite
        .admin_post("appliance", paths::ADMIN_RESET, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = fac.get("localusers/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = suite
        .client
        .put(format!("{}{}", suite.url("appliance"), paths::ADMIN_STATE))
        .json(&state)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let users = fac.all("localusers/").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["username"], "lena");
    assert_eq!(fac.get("userfortitokenpolicy/").await.1["hotp_window"], 9);
    assert_eq!(fac.all("fortitokens/").await.len(), 50);
    suite.stop().await;
}

async fn agent_login(
    suite: &TestSuite,
    serial: &str,
    user: &str,
    code: &str,
) -> (StatusCode, Value) {
    suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_AGENT_LOGIN, &[serial, "pc1"]),
            &json!({"user": user, "code": code}),
        )
        .await
}

#[tokio::test]
async fn the_windows_agent_logs_in_offline_with_cached_and_emergency_codes() {
    let (suite, serial, fac) = fac_with_tokens().await;
    suite.freeze_clock().await;
    let (_, seed) = user_with_seed(&fac, "max").await;
    // Off by default.
    let (status, answer) = fac.post("offlineotp/", json!({"username": "max"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, _) = fac
        .post("emergencytoken/", json!({"username": "max"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, policy) = fac
        .patch(
            "userfortitokenpolicy/",
            json!({"offline_shared_secret": "agent-secret", "offline_enabled": true,
                   "offline_totp_cache_days": 2, "emergency_codes_enabled": true,
                   "emergency_code_valid_days": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(policy["offline_shared_secret_set"], true);
    assert!(policy.get("offline_shared_secret").is_none());

    // The cache the agent gets: two days of 60-second codes (FAC's default time step) and the emergency codes,
    // sealed.
    let (status, cache) = fac.post("offlineotp/", json!({"username": "max"})).await;
    assert_eq!(status, StatusCode::OK, "{cache}");
    assert_eq!(cache["algorithm"], "totp");
    assert_eq!(cache["count"], 2 * 86_400 / 60);
    assert_eq!(cache["emergency_codes"], 5);
    let sealed = cache["cache"].as_str().unwrap();
    let opened = protocol::modeled::open_offline_cache("agent-secret", sealed).unwrap();
    assert_eq!(opened.username, "max");
    assert!(protocol::modeled::open_offline_cache("other", sealed).is_err());
    let (status, emergency) = fac
        .post("emergencytoken/", json!({"username": "max"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<String> = emergency["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 5);

    // Bad input changes nothing.
    for (path, body, status) in [
        (
            "offlineotp/",
            json!({"username": "nobody"}),
            StatusCode::NOT_FOUND,
        ),
        (
            "offlinehotpupdate/",
            json!({"username": "max"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "offlinehotpupdate/",
            json!({"username": "max", "counter": 3}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "offlineotp/",
            json!({"user": "max"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, answer) = fac.post(path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert!(answer["error"].is_string());
    }

    // The agent syncs, then the PC goes offline: half a day later, the cached code of the moment works once.
    let (status, view) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_AGENT_SYNC, &[&serial, "pc1"]),
            &json!({"user": "max"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let (status, _) = agent_login(&suite, &serial, "nobody", "123456").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    suite.advance_clock(43_200).await;
    let clock: Value = suite.admin_get("ftm", paths::ADMIN_CLOCK).await;
    let now = clock["now"].as_i64().unwrap();
    let code = otp::totp(&seed, now, 60, 6);
    let (status, outcome) = agent_login(&suite, &serial, "max", &code).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["via"], "totp");
    let (status, outcome) = agent_login(&suite, &serial, "max", &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(outcome["result"], "replayed");
    let (status, outcome) = agent_login(&suite, &serial, "max", &codes[0]).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["via"], "emergency");
    let (_, outcome) = agent_login(&suite, &serial, "max", &codes[0]).await;
    assert_eq!(outcome["result"], "replayed");
    // Past the emergency codes' day: refused as expired; past the cache's two days: nothing matches.
    suite.advance_clock(13 * 3_600).await;
    let (status, outcome) = agent_login(&suite, &serial, "max", &codes[1]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(outcome["result"], "expired");
    suite.advance_clock(2 * 86_400).await;
    let code = otp::totp(&seed, now + 13 * 3_600 + 2 * 86_400, 60, 6);
    let (_, outcome) = agent_login(&suite, &serial, "max", &code).await;
    assert_eq!(outcome["result"], "denied");
    suite.stop().await;
}

#[tokio::test]
async fn the_windows_agent_caches_hotp_counts_and_moves_past_used_ones() {
    let (suite, serial, fac) = fac_with_tokens().await;
    fac.patch(
        "fortitokenmobileprovisioning/",
        json!({"token_algo": "hotp"}),
    )
    .await;
    fac.patch(
        "userfortitokenpolicy/",
        json!({"offline_shared_secret": "s", "offline_enabled": true, "offline_hotp_cache_counts": 5}),
    )
    .await;
    let (_, seed) = user_with_seed(&fac, "nina").await;
    let (status, cache) = fac.post("offlineotp/", json!({"username": "nina"})).await;
    assert_eq!(status, StatusCode::OK, "{cache}");
    assert_eq!(
        (
            &cache["algorithm"],
            &cache["count"],
            &cache["first_counter"]
        ),
        (&json!("hotp"), &json!(5), &json!(1))
    );
    suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_AGENT_SYNC, &[&serial, "pc1"]),
            &json!({"user": "nina"}),
        )
        .await;
    let code = |counter| otp::hotp(&seed, counter, 6);
    assert_eq!(
        agent_login(&suite, &serial, "nina", &code(3)).await.0,
        StatusCode::OK
    );
    let (_, outcome) = agent_login(&suite, &serial, "nina", &code(2)).await;
    assert_eq!(outcome["result"], "replayed");
    let (_, outcome) = agent_login(&suite, &serial, "nina", &code(7)).await;
    assert_eq!(outcome["result"], "denied");
    // Back online, the agent reports counter 3: the FAC moves past it.
    let (status, update) = fac
        .post(
            "offlinehotpupdate/",
            json!({"username": "nina", "counter": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{update}");
    assert_eq!(update["first_counter"], 4);
    assert_eq!(auth(&fac, "nina", &code(3)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(auth(&fac, "nina", &code(4)).await, StatusCode::OK);
    suite.stop().await;
}

#[tokio::test]
async fn email_and_sms_token_codes_work_once_within_their_timeout() {
    let (suite, serial, fac) = fac_with_tokens().await;
    suite.freeze_clock().await;
    let (status, _) = fac
        .patch(
            "userfortitokenpolicy/",
            json!({"email_sms_token_timeout": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, created) = fac
        .post(
            "localusers/",
            json!({"username": "otto", "password": "Secret-123", "mobile_number": "+46-701234567",
                   "token_auth": true, "token_type": "sms"}),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{created}");
    let ask = json!({"username": "otto", "password": "Secret-123"});
    let (status, answer) = fac.post("auth/", ask.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer["error"],
        protocol::modeled::fac_token_code_sent("sms")
    );
    let messages = outbox(&suite, &serial).await;
    let sms = messages.last().unwrap();
    assert_eq!(
        (&sms["kind"], &sms["channel"], &sms["to"]),
        (&json!("token-code"), &json!("sms"), &json!("+46-701234567"))
    );
    let code = sms["code"].as_str().unwrap().to_owned();
    assert_eq!(auth(&fac, "otto", &code).await, StatusCode::OK);
    assert_eq!(auth(&fac, "otto", &code).await, StatusCode::UNAUTHORIZED);
    // A code past the timeout on the lab clock is refused.
    fac.post("auth/", ask).await;
    let code = outbox(&suite, &serial).await.last().unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    suite.advance_clock(31).await;
    assert_eq!(auth(&fac, "otto", &code).await, StatusCode::UNAUTHORIZED);
    suite.stop().await;
}

/// A FAC answering to `localhost` (where the virtual phones reach it) with transfer `enabled` or not, whose
/// user alice holds a token activated on a new phone; answers the FAC's serial and client, alice's token and
/// the phone.
async fn transfer_ready(suite: &TestSuite, enabled: bool) -> (String, FacClient, String, String) {
    let (serial, fac) = suite.new_fac("localhost").await;
    fac.post("fortitokenmobilelicenses/", json!({"license": FIFTY_SEATS}))
        .await;
    let (status, _) = fac
        .patch(
            "userfortitokenpolicy/",
            json!({"ftm_transfer_enabled": enabled}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = local_user(&fac, "alice").await;
    let (_, user) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "token_type": "ftm"}),
        )
        .await;
    let token = user["token_serial"].as_str().unwrap().to_owned();
    let code = outbox(suite, &serial).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = suite.new_phone(json!({})).await.id;
    assert_eq!(suite.activate(&phone, &code).await.0, StatusCode::CREATED);
    (serial, fac, token, phone)
}

async fn start_transfer(suite: &TestSuite, phone: &str, fac: &FacClient) -> (StatusCode, Value) {
    let host = fac.origin.trim_start_matches("https://").to_owned();
    suite
        .admin_post(
            "phone",
            &paths::fill(paths::PHONE_TRANSFER, &[phone]),
            &json!({"fac": host}),
        )
        .await
}

async fn complete_transfer(suite: &TestSuite, phone: &str, code: &str) -> (StatusCode, Value) {
    suite
        .admin_post(
            "phone",
            &paths::fill(paths::PHONE_TRANSFER_COMPLETE, &[phone]),
            &json!({"code": code}),
        )
        .await
}

#[tokio::test]
async fn tokens_move_between_phones_once_under_64_concurrent_redeemers() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac, token, old_phone) = transfer_ready(&suite, true).await;
    let (status, started) = start_transfer(&suite, &old_phone, &fac).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "code-sent");
    assert_eq!(started["method"], "email");
    assert_eq!(started["tokens"], json!([token]));
    let transfer_id = started["transfer_id"].as_str().unwrap().to_owned();
    let messages = outbox(&suite, &serial).await;
    let mail = messages.last().unwrap();
    assert_eq!(mail["kind"], "transfer-code");
    assert_eq!(mail["to"], "alice@example.test");
    assert_eq!(mail["attachments"][0]["content_type"], "image/png");
    let code = mail["code"].as_str().unwrap().to_owned();
    // Not completed yet: the old phone keeps its token.
    let check = json!({"transfer_id": transfer_id, "tokens": [token]});
    let (status, view) = suite
        .admin_post(
            "phone",
            &paths::fill(paths::PHONE_TRANSFER_CHECK, &[&old_phone]),
            &check,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "code-issued");

    // 64 new phones race for the code: exactly one installs the token.
    let mut phones = Vec::new();
    for _ in 0..64 {
        phones.push(suite.new_phone(json!({})).await.id);
    }
    let results = futures_util::future::join_all(
        phones
            .iter()
            .map(|phone| complete_transfer(&suite, phone, &code)),
    )
    .await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, (status, _))| *status == StatusCode::CREATED)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (status, answer) in results.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer["error_id"], "ftm.transfer.code-used", "{answer}");
    }
    let new_phone = &phones[winners[0]];
    assert_eq!(results[winners[0]].1["tokens"][0]["serial"], token.as_str());

    // The new phone's codes open the FAC; the old phone learns the transfer completed and drops the token.
    let otp = suite.phone_otp(new_phone, &token).await.otp;
    assert_eq!(auth(&fac, "alice", &otp).await, StatusCode::OK);
    let (_, view) = suite
        .admin_post(
            "phone",
            &paths::fill(paths::PHONE_TRANSFER_CHECK, &[&old_phone]),
            &check,
        )
        .await;
    assert_eq!(view["status"], "completed");
    let old: Value = suite
        .admin_get("phone", &paths::fill(paths::PHONE, &[&old_phone]))
        .await;
    assert_eq!(old["tokens"], json!([]), "{old}");
    // The code works once.
    let (status, answer) = complete_transfer(&suite, &phones[(winners[0] + 1) % 64], &code).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error_id"], "ftm.transfer.code-used");
    suite.stop().await;
}

#[tokio::test]
async fn token_transfer_refusals() {
    let suite = TestSuite::with_fac_host().await;
    // Off by default on the FAC: the request for the code is refused, nothing is sent.
    let (serial, fac, _, phone) = transfer_ready(&suite, false).await;
    let before = outbox(&suite, &serial).await.len();
    let (status, answer) = start_transfer(&suite, &phone, &fac).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains(protocol::modeled::FAC_TRANSFER_DISABLED.text),
        "{answer}"
    );
    assert_eq!(outbox(&suite, &serial).await.len(), before);
    // An admin key on transfertoken/ is refused; a phone without the seeds is refused.
    let (status, _) = fac.post("transfertoken/", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    fac.patch(
        "userfortitokenpolicy/",
        json!({"ftm_transfer_enabled": true}),
    )
    .await;
    let forged = json!({"sn": serial, "transfer_id": "x", "tokens": [fac.all("fortitokens/").await[0]["serial"]],
                        "reg_id": "r", "hmac": "00"});
    let (status, answer) = fac
        .send_raw(
            Method::POST,
            "transfertoken/",
            Some(forged.to_string()),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(
        answer["error"],
        protocol::modeled::FAC_TRANSFER_NOT_HOLDER.text
    );
    assert_eq!(outbox(&suite, &serial).await.len(), before);

    // Expired: a code not redeemed within its validity on the lab clock.
    let (status, _) = start_transfer(&suite, &phone, &fac).await;
    assert_eq!(status, StatusCode::CREATED);
    let code = outbox(&suite, &serial).await.last().unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = suite.new_phone(json!({})).await.id;
    let (status, answer) = complete_transfer(&suite, &other, "AAAAAAAAAAAAAAAA").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error_id"], "ftm.transfer.code-invalid", "{answer}");
    suite
        .advance_clock(protocol::modeled::TRANSFER_VALID_SECS + 1)
        .await;
    let (status, answer) = complete_transfer(&suite, &other, &code).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error_id"], "ftm.transfer.code-expired", "{answer}");

    // A FortiGate's token is not transferable.
    let fortigate = suite.new_appliance(json!({})).await.serial.to_string();
    suite
        .appliance_import(&fortigate, "1111-2222-3333-4444-5555")
        .await;
    let (_, code) = suite.appliance_provision(&fortigate, "any", "bob").await;
    let fgt_phone = suite.new_phone(json!({})).await.id;
    assert_eq!(
        suite.activate(&fgt_phone, &code).await.0,
        StatusCode::CREATED
    );
    let (status, answer) = start_transfer(&suite, &fgt_phone, &fac).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer["error_id"], "ftm.transfer.not-transferable",
        "{answer}"
    );
    suite.stop().await;
}

#[tokio::test]
async fn pushauth_sends_a_push_the_phone_answers() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = suite
        .new_fac_with(
            FAC_HOST,
            json!({"ftm_push": {"status": true, "server_port": 0}}),
        )
        .await;
    fac.post("fortitokenmobilelicenses/", json!({"license": FIFTY_SEATS}))
        .await;
    let id = local_user(&fac, "pia").await;
    let (_, user) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "token_type": "ftm"}),
        )
        .await;
    assert!(user["token_serial"].is_string(), "{user}");
    let code = outbox(&suite, &serial).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = suite.new_phone(json!({})).await.id;
    assert_eq!(suite.activate(&phone, &code).await.0, StatusCode::CREATED);
    let _: protocol::appliance::PollOutcome = suite
        .appliance_op(&serial, "poll", json!({}))
        .await
        .unwrap();
    suite
        .change_phone(&phone, json!({"push_policy": "approve"}))
        .await;
    let (status, answer) = fac
        .post(
            "pushauth/",
            json!({"username": "pia", "user_ip": "198.51.100.7"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "authenticated");
    suite
        .change_phone(&phone, json!({"push_policy": "deny"}))
        .await;
    let (status, _) = fac.post("pushauth/", json!({"username": "pia"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // No such user, or a user with no FortiToken Mobile: 404, as the FAC REST API guide says.
    local_user(&fac, "quinn").await;
    for name in ["nobody", "quinn"] {
        let (status, answer) = fac.post("pushauth/", json!({"username": name})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {answer}");
        assert_eq!(
            answer["error"],
            protocol::modeled::FAC_PUSH_NO_USER.text,
            "{name}"
        );
    }

    // The phone's answer resource is on the FAC's REST host too (no administrator key: the answer is
    // signed), listed at the root; an answer to no push is refused, a body that is no answer is a 400.
    let (_, root) = fac.get("").await;
    assert_eq!(
        root["pushauthresp"]["list_endpoint"],
        paths::FAC_PUSHAUTHRESP
    );
    // Every schema the root advertises answers.
    for (name, entry) in root.as_object().unwrap() {
        let (status, schema) = fac.get(entry["schema"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{name}: {schema}");
        assert!(schema["allowed_list_http_methods"].is_array(), "{name}");
    }
    let (status, _) = fac.get("nothing/schema/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let anonymous = fac.with_credentials("nobody", "nothing");
    let (status, answer) = anonymous
        .post(
            "pushauthresp/",
            json!({"session_id": "9e270504412d414fa47c1dfaeea0c052", "action": "validate", "token_code": "947943", "hmac": "00"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["status"], "refused");
    let (status, answer) = anonymous
        .post("pushauthresp/", json!({"session_id": 7}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    suite.stop().await;
}

#[tokio::test]
async fn fortimocks_fac_api_refuses_bad_input_and_changes_nothing() {
    let (suite, serial, fac) = fac_with_tokens().await;
    let view_path = paths::fill(paths::APPLIANCE_FAC, &[&serial]);
    let before: Value = suite.admin_get("appliance", &view_path).await;
    for change in [
        json!({"host_name": "not a host"}),
        json!({"token_policy": {"hotp_sync_window": 4}}),
        json!({"provisioning": {"time_step": 45}, "host_name": "ok.lab.test"}),
        json!({"token_policy": {"emergency_codes_enabled": true}}),
        json!({"host_name": 7}),
    ] {
        let (status, answer) = suite.admin_patch("appliance", &view_path, &change).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}: {answer}");
        assert!(answer["error_id"].is_string(), "{answer}");
        let after: Value = suite.admin_get("appliance", &view_path).await;
        assert_eq!(after, before, "{change}");
    }
    // Another FAC cannot take this one's host name.
    let (other, _) = suite.new_fac("other.lab.test").await;
    let (status, _) = suite
        .admin_patch(
            "appliance",
            &paths::fill(paths::APPLIANCE_FAC, &[&other]),
            &json!({"host_name": FAC_HOST}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A bad administrator name; a FortiGate has none of this.
    let keys = paths::fill(paths::APPLIANCE_API_KEYS, &[&serial]);
    let (status, _) = suite
        .admin_post("appliance", &keys, &json!({"admin": "two words"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fortigate = suite.new_appliance(json!({})).await.serial.to_string();
    let (status, _) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_API_KEYS, &[&fortigate]),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The old key still opens the API.
    let (status, _) = fac.get("fortitokens/").await;
    assert_eq!(status, StatusCode::OK);
    // No activation page for a token that was not provisioned offline, nor for a malformed serial.
    let token = fac.all("fortitokens/").await[0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    for (token, wanted) in [
        (token.as_str(), StatusCode::CONFLICT),
        ("nonsense", StatusCode::BAD_REQUEST),
    ] {
        let response = suite
            .client
            .get(format!(
                "{}{}",
                suite.url("appliance"),
                paths::fill(paths::APPLIANCE_ACTIVATION, &[&serial, token])
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), wanted, "{token}");
    }
    // The agent: a user without a token, a bad agent name.
    let (status, _) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_AGENT_SYNC, &[&serial, "pc1"]),
            &json!({"user": "nobody"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let agents: Value = suite
        .admin_get(
            "appliance",
            &paths::fill(paths::APPLIANCE_AGENTS, &[&serial]),
        )
        .await;
    assert_eq!(agents, json!([]));
    suite.stop().await;
}

/// A FAC automation script in Python as public ones are written (`tests/python/fac_script.py`), pointed at
/// the virtual FAC by host name (`localhost`, which the lab certificate covers). Skipped (saying so) where
/// Python or `requests` is missing, unless `FORTIMOCK_REQUIRE_PYTHON` is set, as CI sets it.
#[tokio::test]
async fn a_python_fac_script_runs_unmodified() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let available = std::process::Command::new(&python)
        .args(["-c", "import requests"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var_os("FORTIMOCK_REQUIRE_PYTHON").is_none(),
            "{python} with `requests` is required (FORTIMOCK_REQUIRE_PYTHON is set)"
        );
        eprintln!(
            "a_python_fac_script_runs_unmodified: skipped, {python} with `requests` is not available"
        );
        return;
    }
    let suite = TestSuite::with_fac_host().await;
    let (serial, _) = suite.new_fac("localhost").await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, suite.lab().ca_pem().unwrap()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/fac_script.py");
    let issued: Value = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_API_KEYS, &[&serial]),
            &json!({"admin": "automation"}),
        )
        .await
        .1;
    let mut command = std::process::Command::new(&python);
    command
        .arg(&script)
        .env(
            "FAC_HOST",
            format!("localhost:{}", suite.appliance_addr().port()),
        )
        .env("FAC_ADMIN", "automation")
        .env("FAC_API_KEY", issued["api_key"].as_str().unwrap())
        .env("REQUESTS_CA_BUNDLE", &ca);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");
    suite.stop().await;
}

/// A user and the token table as the REST API shows them: what a refused request must leave as it was.
async fn users_and_tokens(fac: &FacClient) -> (Vec<Value>, Vec<Value>) {
    (fac.all("localusers/").await, fac.all("fortitokens/").await)
}

#[tokio::test]
async fn refused_token_requests_leave_no_user_and_change_nothing() {
    let (suite, serial, fac) = fac_with_tokens().await;
    let tokens = fac.all("fortitokens/").await;
    let taken = tokens[0]["serial"].as_str().unwrap().to_owned();
    let (status, created) = fac
        .post(
            "localusers/",
            json!({"username": "alice", "email": "alice@example.test", "token_auth": true, "token_type": "ftm", "token_serial": taken}),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{created}");
    let before = users_and_tokens(&fac).await;
    let messages = outbox(&suite, &serial).await.len();

    // POST with a taken or unknown serial: refused, and no user is left behind.
    for wanted in [taken.as_str(), "FTKMOB0000000000", "not-a-serial"] {
        let (status, answer) = fac
            .post(
                "localusers/",
                json!({"username": "bob", "email": "bob@example.test", "token_auth": true, "token_type": "ftm", "token_serial": wanted}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{wanted}: {answer}");
        assert_eq!(
            answer["error"], "This serial number is not available for use.",
            "{wanted}"
        );
        assert_eq!(users_and_tokens(&fac).await, before, "{wanted}");
    }
    // The retry without the bad serial is not told the user "already exists".
    let (status, created) = fac
        .post(
            "localusers/",
            json!({"username": "bob", "email": "bob@example.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{created}");
    let bob = created[0]["id"].as_u64().unwrap();
    let before = users_and_tokens(&fac).await;

    // PATCH with another user's serial: refused before the other fields are saved.
    let (status, answer) = fac
        .patch(
            &format!("localusers/{bob}/"),
            json!({"token_auth": true, "token_type": "ftm", "token_serial": taken, "first_name": "Changed"}),
        )
        .await;
    assert_not_available(status, &answer);
    assert_eq!(users_and_tokens(&fac).await, before);
    assert_eq!(outbox(&suite, &serial).await.len(), messages);
    suite.stop().await;

    // A FAC with no free token: asking for "any" is refused, and nothing is written.
    let suite = TestSuite::with_fac_host().await;
    let (_, fac) = suite.new_fac(FAC_HOST).await;
    let id = local_user(&fac, "carol").await;
    let before = users_and_tokens(&fac).await;
    let (status, answer) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "first_name": "Changed"}),
        )
        .await;
    assert_not_available(status, &answer);
    let (status, answer) = fac
        .post(
            "localusers/",
            json!({"username": "dave", "token_auth": true, "token_type": "ftm"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(users_and_tokens(&fac).await, before);
    assert_eq!(before.0[0]["first_name"], "");
    assert_eq!(before.0[0]["token_auth"], false);
    suite.stop().await;
}

#[tokio::test]
async fn a_locked_token_is_not_available_for_use() {
    let (suite, serial, fac) = fac_with_tokens().await;
    let first = fac.all("fortitokens/").await[0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let lock = |token: &str| paths::fill(paths::APPLIANCE_FAC_TOKEN, &[&serial, token]);
    let (status, answer) = suite
        .admin_patch("appliance", &lock(&first), &json!({"locked": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["locked"], true);
    let (_, listed) = fac.get(&format!("fortitokens/?serial={first}")).await;
    assert_eq!(listed["objects"][0]["locked"], true);

    // Bad lock requests change nothing.
    let before = users_and_tokens(&fac).await;
    for (path, body, expected) in [
        (
            lock("FTKMOB0000000000"),
            json!({"locked": true}),
            StatusCode::NOT_FOUND,
        ),
        (
            lock("nonsense"),
            json!({"locked": true}),
            StatusCode::BAD_REQUEST,
        ),
        (
            lock(&first),
            json!({"locked": "yes"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            lock(&first),
            json!({"locked": false, "extra": 1}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = suite.admin_patch("appliance", &path, &body).await;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        assert!(answer["error_id"].is_string(), "{answer}");
    }
    assert_eq!(users_and_tokens(&fac).await, before);

    // Assigning it by serial is refused with FAC's words, and nothing changes.
    let id = local_user(&fac, "alice").await;
    let before = users_and_tokens(&fac).await;
    let (status, answer) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "token_type": "ftm", "token_serial": first, "last_name": "Locked"}),
        )
        .await;
    assert_not_available(status, &answer);
    assert_eq!(users_and_tokens(&fac).await, before);
    assert!(outbox(&suite, &serial).await.is_empty());

    // Automatic provisioning passes it over; unlocked, it can be assigned again.
    let (status, user) = fac
        .patch(&format!("localusers/{id}/"), json!({"token_auth": true}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    assert_ne!(user["token_serial"], first.as_str());
    let (status, _) = suite
        .admin_patch("appliance", &lock(&first), &json!({"locked": false}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let bob = local_user(&fac, "bob").await;
    let (status, user) = fac
        .patch(
            &format!("localusers/{bob}/"),
            json!({"token_auth": true, "token_serial": first}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    assert_eq!(user["token_serial"], first.as_str());
    suite.stop().await;
}

#[tokio::test]
async fn a_retry_after_a_failed_activation_message_sends_it_again() {
    let (suite, serial, fac) = fac_with_tokens().await;
    // No mobile number for the SMS: the token is provisioned, the message cannot go out.
    let (status, answer) = fac
        .post(
            "localusers/",
            json!({"username": "erin", "token_auth": true, "token_type": "ftm", "ftm_act_method": "sms"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer["error"],
        "Failed to send FortiToken Mobile activation message"
    );
    assert!(outbox(&suite, &serial).await.is_empty());
    let users = fac.all("localusers/").await;
    assert_eq!(users.len(), 1);
    let id = users[0]["id"].as_u64().unwrap();
    let token = users[0]["token_serial"].as_str().unwrap().to_owned();
    let (_, listed) = fac.get(&format!("fortitokens/?serial={token}")).await;
    assert_eq!(listed["objects"][0]["status"], "pending");

    // The retry, with a number now: the same token, provisioned again, and the message goes out.
    let (status, user) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "mobile_number": "+46-701234567"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    assert_eq!(user["token_serial"], token.as_str());
    let messages = outbox(&suite, &serial).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["channel"], "sms");
    assert_eq!(messages[0]["to"], "+46-701234567");
    let code = messages[0]["code"].as_str().unwrap().to_owned();

    // Past the activation expiry the token shows as assigned and the user's reason says why (5); a retry
    // provisions it again.
    let (_, provisioning) = fac.get("fortitokenmobileprovisioning/").await;
    let hours = provisioning["act_timeout"].as_i64().unwrap();
    suite.advance_clock(hours * 3600 + 60).await;
    let (_, user) = fac.get(&format!("localusers/{id}/")).await;
    assert_eq!(user["reason"], 5, "{user}");
    let (_, listed) = fac.get(&format!("fortitokens/?serial={token}")).await;
    assert_eq!(listed["objects"][0]["status"], "assigned");
    let (status, user) = fac
        .patch(&format!("localusers/{id}/"), json!({"token_auth": true}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    assert!(user["reason"].is_null(), "{user}");
    let messages = outbox(&suite, &serial).await;
    assert_eq!(messages.len(), 2);
    let fresh = messages[1]["code"].as_str().unwrap();
    assert_ne!(fresh, code);
    let (_, listed) = fac.get(&format!("fortitokens/?serial={token}")).await;
    assert_eq!(listed["objects"][0]["status"], "pending");

    // Once activated, asking again sends nothing.
    let phone = suite.new_phone(json!({})).await.id;
    assert_eq!(suite.activate(&phone, fresh).await.0, StatusCode::CREATED);
    let _: protocol::appliance::PollOutcome = suite
        .appliance_op(&serial, "poll", json!({}))
        .await
        .unwrap();
    let (status, _) = fac
        .patch(&format!("localusers/{id}/"), json!({"token_auth": true}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(outbox(&suite, &serial).await.len(), 2);
    suite.stop().await;
}

#[tokio::test]
async fn only_a_fortiauthenticator_activates_offline() {
    let suite = TestSuite::start().await;
    let fortigate = suite.new_appliance(json!({})).await.serial.to_string();
    let before = suite.appliance(&fortigate).await;
    let (status, answer) = suite
        .admin_patch(
            "appliance",
            &paths::fill(paths::APPLIANCE_FAC, &[&fortigate]),
            &json!({"provisioning": {"provision_mode": "offline"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error_id"].is_string(), "{answer}");
    let response = suite
        .client
        .get(format!(
            "{}{}",
            suite.url("appliance"),
            paths::fill(
                paths::APPLIANCE_ACTIVATION,
                &[&fortigate, "FTKMOB0000000000"]
            )
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(suite.appliance(&fortigate).await, before);
    suite.stop().await;
}

#[tokio::test]
async fn the_rest_api_refuses_bad_values_and_changes_nothing() {
    let (suite, serial, fac) = fac_with_tokens().await;
    // A JSON content type is read as well as none.
    let (status, created) = fac
        .post_json(
            "localusers/",
            json!({"username": "alice", "email": "alice@example.test", "password": "Secret-123", "token_auth": true, "token_type": "ftm"}),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{created}");
    let alice = created[0]["id"].as_u64().unwrap();
    let token = created[0]["token_serial"].as_str().unwrap().to_owned();
    let token_id = fac.all(&format!("fortitokens/?serial={token}")).await[0]["id"]
        .as_u64()
        .unwrap();
    let bob = local_user(&fac, "bob").await;
    let before = users_and_tokens(&fac).await;
    let groups = fac.all("usergroups/").await;
    let provisioning = fac.get("fortitokenmobileprovisioning/").await.1;

    let refusals: Vec<(Method, String, Option<Value>)> = vec![
        // An assigned token cannot be deleted.
        (Method::DELETE, format!("fortitokens/{token_id}/"), None),
        // A license that is no license.
        (
            Method::POST,
            "fortitokenmobilelicenses/".to_owned(),
            Some(json!({"license": "nonsense"})),
        ),
        (
            Method::POST,
            "fortitokenmobilelicenses/".to_owned(),
            Some(json!({"licence": FIFTY_SEATS})),
        ),
        // Provisioning values outside FAC's.
        (
            Method::PATCH,
            "fortitokenmobileprovisioning/".to_owned(),
            Some(json!({"time_step": 45})),
        ),
        (
            Method::PATCH,
            "fortitokenmobileprovisioning/".to_owned(),
            Some(json!({"token_size": 7})),
        ),
        (
            Method::PATCH,
            "fortitokenmobileprovisioning/".to_owned(),
            Some(json!({"act_timeout": 169})),
        ),
        (
            Method::PATCH,
            "fortitokenmobileprovisioning/".to_owned(),
            Some(json!({"token_algo": "sha1"})),
        ),
        // Bad groups.
        (
            Method::POST,
            "usergroups/".to_owned(),
            Some(json!({"name": ""})),
        ),
        (Method::POST, "usergroups/".to_owned(), Some(json!({}))),
        // Another user's serial, by PATCH.
        (
            Method::PATCH,
            format!("localusers/{bob}/"),
            Some(json!({"token_auth": true, "token_serial": token, "first_name": "B"})),
        ),
        // returnseed: an unknown mode, and =1 without the seed passphrase.
        (
            Method::PATCH,
            format!("localusers/{bob}/?returnseed=3"),
            Some(json!({"token_auth": true})),
        ),
        (
            Method::PATCH,
            format!("localusers/{bob}/?returnseed=1"),
            Some(json!({"token_auth": true})),
        ),
        // The agent's resources: no user, a HOTP update without its counter.
        (Method::POST, "offlineotp/".to_owned(), Some(json!({}))),
        (
            Method::POST,
            "offlinehotpupdate/".to_owned(),
            Some(json!({"username": "alice"})),
        ),
        (
            Method::POST,
            "emergencytoken/".to_owned(),
            Some(json!({"username": 7})),
        ),
    ];
    for (method, path, body) in refusals {
        let (status, answer) = fac.send(method.clone(), &path, body.as_ref()).await;
        assert!(
            status.is_client_error(),
            "{method} {path}: {status} {answer}"
        );
        assert!(answer["error"].is_string(), "{method} {path}: {answer}");
        assert_eq!(users_and_tokens(&fac).await, before, "{method} {path}");
    }
    assert_eq!(fac.all("usergroups/").await, groups);
    assert_eq!(
        fac.get("fortitokenmobileprovisioning/").await.1,
        provisioning
    );
    assert_eq!(outbox(&suite, &serial).await.len(), 1);

    // returnseed=1 with the passphrase set: the seed comes back sealed, not as the plain base32.
    let (status, _) = fac
        .patch(
            "userfortitokenpolicy/",
            json!({"seed_passphrase": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, user) = fac
        .patch(
            &format!("localusers/{bob}/?returnseed=1"),
            json!({"token_auth": true}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    let sealed = user["seed"].as_str().unwrap();
    assert!(
        data_encoding::BASE32_NOPAD
            .decode(sealed.as_bytes())
            .map_or(true, |s| s.len() != 20),
        "{sealed}"
    );

    // Lockout through auth/: three wrong codes lock the user, and then the right code is refused too.
    let code = outbox(&suite, &serial).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = suite.new_phone(json!({})).await.id;
    assert_eq!(suite.activate(&phone, &code).await.0, StatusCode::CREATED);
    for _ in 0..2 {
        assert_eq!(
            auth(&fac, "alice", "000000").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // The third failure locks the user: that answer already says so.
    assert_eq!(auth(&fac, "alice", "000000").await, StatusCode::FORBIDDEN);
    let otp = suite.phone_otp(&phone, &token).await.otp;
    let (status, answer) = fac
        .post(
            "auth/",
            json!({"username": "alice", "password": "Secret-123", "token_code": otp}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"], protocol::modeled::FAC_USER_LOCKED);
    let (_, user) = fac.get(&format!("localusers/{alice}/")).await;
    assert_eq!(user["token_serial"], token.as_str());
    suite.stop().await;
}

#[tokio::test]
async fn a_hotp_token_the_phone_counts_is_accepted_by_the_fac() {
    let (suite, serial, fac) = fac_with_tokens().await;
    let (status, _) = fac
        .patch(
            "fortitokenmobileprovisioning/",
            json!({"token_algo": "hotp"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = local_user(&fac, "hana").await;
    let (status, user) = fac
        .patch(&format!("localusers/{id}/"), json!({"token_auth": true}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    let token = user["token_serial"].as_str().unwrap().to_owned();
    let code = outbox(&suite, &serial).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = suite.new_phone(json!({})).await.id;
    assert_eq!(suite.activate(&phone, &code).await.0, StatusCode::CREATED);
    // The phone shows its first code, then the next at the user's request: each works once, in order.
    let mut used = vec![suite.phone_otp(&phone, &token).await.otp];
    assert_eq!(auth(&fac, "hana", &used[0]).await, StatusCode::OK);
    for _ in 0..2 {
        let (status, next) = suite
            .admin_post(
                "phone",
                &paths::fill(paths::PHONE_TOKEN_NEXT, &[&phone, &token]),
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{next}");
        let otp = next["otp"].as_str().unwrap().to_owned();
        assert_eq!(auth(&fac, "hana", &otp).await, StatusCode::OK, "{otp}");
        used.push(otp);
    }
    assert_eq!(auth(&fac, "hana", &used[0]).await, StatusCode::UNAUTHORIZED);
    suite.stop().await;
}
