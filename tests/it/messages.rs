//! Activation messages end to end: an activation email received over SMTP (STARTTLS with the lab
//! certificate) by the suite's listener, its QR code decoded by the virtual phone, the token activated and a
//! login made; the same by SMS; delivery failures (a bad address, a full mailbox, a refusing SMS gateway)
//! answering `Failed to send activation code` with the token left Pending for a resend; the appliance kinds'
//! rules; captured messages through state export, import and reset.

use e2e::TestSuite;
use protocol::appliance::{LoginResult, PollOutcome, ProvisionOutcome};
use protocol::catalogue::OFFLINE_ACTIVATION_FAC_ONLY;
use protocol::messages::DeliveryMethod;
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

const FAILED: &str = "Failed to send activation code";

/// A FortiGate with the 5-seat license imported.
async fn fortigate(suite: &TestSuite) -> String {
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    suite
        .appliance_import(&serial, "1111-2222-3333-4444-5555")
        .await;
    serial
}

async fn provision(suite: &TestSuite, serial: &str, body: Value) -> (StatusCode, Value) {
    suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_PROVISION, &[serial]),
            &body,
        )
        .await
}

async fn arm(suite: &TestSuite, spec: Value) {
    let (status, answer) = suite
        .admin_post("appliance", paths::ADMIN_SCENARIOS, &spec)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// Polls the appliance and logs `user` in with the phone's code.
async fn poll_and_login(suite: &TestSuite, serial: &str, phone: &str, token: &str, user: &str) {
    let _: PollOutcome = suite.appliance_op(serial, "poll", json!({})).await.unwrap();
    let otp = suite.phone_otp(phone, token).await.otp;
    let (status, login) = suite.login(serial, user, &otp).await;
    assert_eq!(
        (status, login.result),
        (StatusCode::OK, LoginResult::Success)
    );
}

#[tokio::test]
async fn an_activation_email_over_smtp_is_scanned_by_the_phone_and_the_user_logs_in() {
    let suite = TestSuite::start().await;
    let serial = fortigate(&suite).await;
    let (status, answer) = provision(
        &suite,
        &serial,
        json!({"token": "any", "user": "alice", "email": "alice@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let outcome: ProvisionOutcome = serde_json::from_value(answer).unwrap();
    let delivered = outcome.delivered.unwrap();
    assert_eq!(delivered.method, DeliveryMethod::Email);
    assert!(delivered.server_reply.starts_with("250"), "{delivered:?}");
    let code = outcome.token.activation_code.clone().unwrap();

    let messages = suite.messages("recipient=ALICE@example.com").await;
    assert_eq!(messages.len(), 1);
    let email = &messages[0];
    assert_eq!(email.kind, DeliveryMethod::Email);
    assert!(email.tls, "the appliance must have used STARTTLS");
    assert_eq!(email.activation_code.as_deref(), Some(code.as_str()));
    assert_eq!(email.appliance.as_deref(), Some(serial.as_str()));
    assert_eq!(
        email.subject.as_deref(),
        Some("FortiGate FortiToken Mobile activation")
    );
    assert!(email.expires.is_some() && email.has_qr);
    assert!(
        email.links.iter().any(|l| l.contains(&code)),
        "{:?}",
        email.links
    );
    // Filters: by kind and appliance; nothing for another recipient.
    assert_eq!(
        suite
            .messages(&format!("kind=email&appliance={serial}"))
            .await
            .len(),
        1
    );
    assert!(suite.messages("recipient=bob@example.com").await.is_empty());
    assert!(suite.messages("kind=sms").await.is_empty());
    // The raw .eml is a MIME message with the inline PNG.
    let (status, eml) = suite
        .admin_bytes(
            "appliance",
            &paths::fill(paths::ADMIN_MESSAGE_EML, &[&email.id]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let eml = String::from_utf8_lossy(&eml);
    assert!(
        eml.contains("multipart/related") && eml.contains("image/png"),
        "{eml}"
    );

    // The phone's camera reads the QR code and activates; the user logs in.
    let phone = suite.new_phone(json!({})).await.id;
    let (status, token) = suite.scan_message(&phone, &email.id).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    assert_eq!(token["serial"], outcome.token.serial.to_string());
    poll_and_login(
        &suite,
        &serial,
        &phone,
        &outcome.token.serial.to_string(),
        "alice",
    )
    .await;
    suite.stop().await;
}

#[tokio::test]
async fn an_activation_sms_reaches_the_sink_and_the_user_activates_with_its_code() {
    let suite = TestSuite::start().await;
    let serial = fortigate(&suite).await;
    let (status, answer) = provision(
        &suite,
        &serial,
        json!({"token": "any", "user": "bob", "sms_phone": "+15551234567"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let outcome: ProvisionOutcome = serde_json::from_value(answer).unwrap();
    assert_eq!(outcome.delivered.unwrap().method, DeliveryMethod::Sms);
    let sms = suite.messages("kind=sms&recipient=%2B15551234567").await;
    assert_eq!(sms.len(), 1);
    let code = sms[0].activation_code.clone().unwrap();
    assert_eq!(Some(&code), outcome.token.activation_code.as_ref());
    assert_eq!(sms[0].appliance.as_deref(), Some(serial.as_str()));
    let phone = suite.new_phone(json!({})).await.id;
    let (status, _) = suite.activate(&phone, &code).await;
    assert_eq!(status, StatusCode::CREATED);
    poll_and_login(
        &suite,
        &serial,
        &phone,
        &outcome.token.serial.to_string(),
        "bob",
    )
    .await;

    // The sink refuses what a gateway would, and changes nothing.
    let before = suite.messages("").await.len();
    for body in [
        json!({"from": "x", "to": "5551234567", "text": "hi"}),
        json!({"from": "x", "to": "+15551234567", "text": ""}),
        json!({"from": "x", "to": "+15551234567"}),
    ] {
        let (status, answer) = suite
            .admin_post("appliance", paths::SMS_GATEWAY, &body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    assert_eq!(suite.messages("").await.len(), before);
    suite.stop().await;
}

#[tokio::test]
async fn failed_deliveries_answer_failed_to_send_and_keep_the_token_pending_for_a_resend() {
    let suite = TestSuite::start().await;
    let serial = fortigate(&suite).await;
    // A bad address.
    let (status, failure) = provision(
        &suite,
        &serial,
        json!({"token": "any", "user": "carol", "email": "not an address"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{failure}");
    assert_eq!(failure["message"], FAILED);
    assert_eq!(failure["error_id"], "appliance.delivery.failed");
    let view = suite.appliance(&serial).await;
    let token = view
        .tokens
        .iter()
        .find(|t| t.user.as_deref() == Some("carol"))
        .unwrap();
    assert_eq!(format!("{:?}", token.status), "Pending");
    let token = token.serial.to_string();
    assert!(suite.messages("").await.is_empty());

    // A full mailbox (a scenario on the SMTP listener), once.
    arm(
        &suite,
        json!({"error": "appliance.mail.mailbox-full", "match": {"recipient": "carol@example.com"}, "times": 1}),
    )
    .await;
    let resend = |method: &str, to: Value| {
        let mut body = json!({"token": token, "method": method});
        for (k, v) in to.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let path = paths::fill(paths::APPLIANCE_SEND_ACTIVATION, &[&serial]);
    let (status, failure) = suite
        .admin_post(
            "appliance",
            &path,
            &resend("email", json!({"email": "carol@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{failure}");
    assert_eq!(failure["message"], FAILED);
    assert!(suite.messages("").await.is_empty());
    // The SMS gateway refusing (a scenario on the sink), once.
    arm(
        &suite,
        json!({"error": "appliance.sms.gateway-refused", "times": 1}),
    )
    .await;
    let (status, failure) = suite
        .admin_post(
            "appliance",
            &path,
            &resend("sms", json!({"sms_phone": "+15557654321"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{failure}");
    assert_eq!(failure["message"], FAILED);
    // A number that is not one.
    let (status, failure) = suite
        .admin_post(
            "appliance",
            &path,
            &resend("sms", json!({"sms_phone": "call me"})),
        )
        .await;
    assert_eq!(
        (status, failure["message"].as_str()),
        (StatusCode::BAD_GATEWAY, Some(FAILED))
    );
    assert!(suite.messages("").await.is_empty());

    // The token is still Pending: the resend goes through, and the phone activates from the email.
    let (status, delivered) = suite
        .admin_post(
            "appliance",
            &path,
            &resend("email", json!({"email": "carol@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    let email = suite
        .messages("recipient=carol@example.com")
        .await
        .pop()
        .unwrap();
    let phone = suite.new_phone(json!({})).await.id;
    let (status, _) = suite.scan_message(&phone, &email.id).await;
    assert_eq!(status, StatusCode::CREATED);
    poll_and_login(&suite, &serial, &phone, &token, "carol").await;

    // Bad requests: no recipient for the method, an unknown token, a token that is not Pending.
    for (body, expected) in [
        (
            json!({"token": token, "method": "email"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"token": "FTKMOB0000000000", "method": "email", "email": "a@b.c"}),
            StatusCode::NOT_FOUND,
        ),
        (
            resend("email", json!({"email": "carol@example.com"})),
            StatusCode::CONFLICT,
        ),
        (
            json!({"token": token, "method": "pigeon"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = suite.admin_post("appliance", &path, &body).await;
        assert_eq!(status, expected, "{body}: {answer}");
    }
    assert_eq!(suite.messages("").await.len(), 1);
    suite.stop().await;
}

#[tokio::test]
async fn each_appliance_kind_keeps_its_own_rules() {
    let suite = TestSuite::start().await;
    let pam = suite.new_appliance(json!({"mode": "fortipam"})).await;
    assert!(pam.serial.to_string().starts_with("FPAVM0TM"));
    assert_eq!(pam.settings.period, 60);
    let fac = suite
        .new_appliance(json!({"mode": "fortiauthenticator"}))
        .await;
    // FAC's documented default time step (dossier §6 [DOC]), not DESIGN's 30 s: `modeled::FAC_DEFAULT_TIME_STEP`.
    assert_eq!(fac.settings.period, 60);
    let proxy = suite.new_appliance(json!({"mode": "fortiproxy"})).await;
    let proxy = proxy.serial.to_string();
    assert!(proxy.starts_with("FPXVM0TM"));

    // FortiProxy: no FortiToken Mobile license import, its trial works.
    let import = paths::fill(paths::APPLIANCE_IMPORT, &[&proxy]);
    let (status, refused) = suite
        .admin_post(
            "appliance",
            &import,
            &json!({"code": "1111-2222-3333-4444-5555"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(
        refused["message"],
        "FortiProxy does not support FortiToken Mobile license import"
    );
    assert!(suite.appliance(&proxy).await.tokens.is_empty());
    assert_eq!(
        suite
            .appliance_import(&proxy, "0000-0000-0000-0000-0000")
            .await
            .len(),
        2
    );

    // FortiAuthenticator provisions a user created with token authentication itself, and sends the code.
    let fac = fac.serial.to_string();
    suite
        .appliance_import(&fac, "0000-0000-0000-0000-0000")
        .await;
    let users = paths::fill(paths::APPLIANCE_USERS, &[&fac]);
    let (status, created) = suite
        .admin_post(
            "appliance",
            &users,
            &json!({"name": "dave", "token_auth": true, "email": "dave@example.com"}),
        )
        .await;
    assert!(status.is_success(), "{created}");
    let dave = suite.messages("recipient=dave@example.com").await;
    assert_eq!(dave.len(), 1);
    assert_eq!(
        dave[0].subject.as_deref(),
        Some("FortiAuthenticator FortiToken Mobile activation")
    );
    // The other kinds provision manually.
    let pam = pam.serial.to_string();
    let (status, refused) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_USERS, &[&pam]),
            &json!({"name": "erin", "token_auth": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("FortiPAM provisions FortiTokens manually")
    );

    // Offline (QR) activation is FortiAuthenticator's alone: FortiProxy, FortiPAM and FortiGate refuse
    // turning it on and showing an activation page, each named as what it is; nothing changes.
    let fgt = fortigate(&suite).await;
    for (serial, product) in [
        (&proxy, "FortiProxy"),
        (&pam, "FortiPAM"),
        (&fgt, "FortiGate"),
    ] {
        let before = suite.appliance(serial).await;
        let (status, refused) = suite
            .admin_patch(
                "appliance",
                &paths::fill(paths::APPLIANCE_FAC, &[serial]),
                &json!({"provisioning": {"provision_mode": "offline"}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(
            refused["error_id"], OFFLINE_ACTIVATION_FAC_ONLY.id,
            "{refused}"
        );
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.starts_with(OFFLINE_ACTIVATION_FAC_ONLY.text)
                && message.contains(&format!("{serial} is a {product}")),
            "{message}"
        );
        let page = paths::fill(paths::APPLIANCE_ACTIVATION, &[serial, "FTKMOB0000000001"]);
        let response = suite
            .client
            .get(format!("{}{page}", suite.url("appliance")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let refused: Value = response.json().await.unwrap();
        assert_eq!(
            refused["error_id"], OFFLINE_ACTIVATION_FAC_ONLY.id,
            "{refused}"
        );
        // Other FortiAuthenticator-only pages name the kind too.
        let (status, refused) = suite
            .admin_patch(
                "appliance",
                &paths::fill(paths::APPLIANCE_FAC, &[serial]),
                &json!({"host_name": "fac.example.com"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains(&format!("is a {product}: only a FortiAuthenticator")),
            "{refused}"
        );
        assert_eq!(suite.appliance(serial).await, before);
    }
    suite.stop().await;
}

#[tokio::test]
async fn captured_messages_and_hardware_locks_travel_with_state_and_go_with_reset() {
    let suite = TestSuite::start().await;
    let serial = fortigate(&suite).await;
    let (status, _) = provision(
        &suite,
        &serial,
        json!({"token": "any", "user": "alice", "email": "alice@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let batch = suite.hardware_batch("FTK200", 1, false).await;
    let hardware = batch.tokens[0].serial.to_string();
    let (status, _) = suite.hardware_activate(&serial, &[&hardware]).await;
    assert_eq!(status, StatusCode::OK);
    let seeds = suite.batch_seeds(&batch.batch).await;

    let state: Value = suite.admin_get("appliance", paths::ADMIN_STATE).await;
    let forticare_state: Value = suite.admin_get("forticare", paths::ADMIN_STATE).await;
    let text = format!("{state}{forticare_state}").to_uppercase();
    assert!(
        !text.contains(&seeds[0].1.to_hex_upper()),
        "a seed in a state export"
    );
    let messages = suite.messages("").await;
    assert_eq!(messages.len(), 1);

    for service in ["appliance", "forticare"] {
        let (status, answer) = suite
            .admin_post(service, paths::ADMIN_RESET, &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    assert!(suite.messages("").await.is_empty());

    for (service, state) in [("forticare", &forticare_state), ("appliance", &state)] {
        let response = suite
            .client
            .put(format!("{}{}", suite.url(service), paths::ADMIN_STATE))
            .json(state)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{service}: {}",
            response.status()
        );
    }
    assert_eq!(suite.messages("").await, messages);
    let view = suite.appliance(&serial).await;
    assert_eq!(view.hardware_tokens.len(), 1);
    // The lock came back too: another appliance is refused.
    let other = suite.new_appliance(json!({})).await.serial.to_string();
    let (_, answer) = suite.hardware_activate(&other, &[&hardware]).await;
    assert_eq!(
        answer["tokens"][0]["status"],
        "token already activated, and seed won't be returned"
    );
    suite.stop().await;
}
