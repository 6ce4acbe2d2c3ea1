//! Push login end to end, through the public APIs: a virtual appliance sends the push through the relay, the
//! virtual phone decrypts it and answers straight to the appliance's ftm-push listener. Approved, denied and
//! timed-out logins; a tampered push rejected by the phone; a replayed answer refused by the appliance;
//! Unregistered for an uninstalled app; and the failures users hit: a certificate the phone cannot validate
//! and a callback port nobody can reach.

use e2e::TestSuite;
use protocol::appliance::LoginResult;
use protocol::catalogue::INVALID_SERVER_CERTIFICATE;
use protocol::paths;
use protocol::phone::{InboxEntry, PushStatus};
use protocol::push::{self, PushBatch, PushMessage, PushRequest};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A FortiGate with push on (`timeout_secs` to wait, and `push`'s other settings) whose user alice has a
/// token activated on an Android phone; returns the appliance serial and the phone id.
async fn ready(suite: &TestSuite, timeout_secs: u32, push: Value) -> (String, String) {
    let mut settings = push;
    settings["timeout_secs"] = json!(timeout_secs);
    let ready = suite.push_ready(settings).await;
    (ready.serial, ready.phone)
}

/// Waits, by asking the phone, until its newest push is in `status` (the relay's delivery and the phone's
/// answer run in the background).
async fn newest(suite: &TestSuite, phone: &str, status: PushStatus) -> InboxEntry {
    for _ in 0..5000 {
        if let Some(entry) = suite.inbox(phone).await.pushes.last()
            && entry.status == status
        {
            return entry.clone();
        }
        tokio::task::yield_now().await;
    }
    panic!("no push reached {status:?}: {:?}", suite.inbox(phone).await);
}

#[tokio::test]
async fn an_approved_push_logs_the_user_in() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 10, json!({})).await;
    suite
        .change_phone(&phone, json!({"push_policy": "approve"}))
        .await;
    let (status, outcome) = suite.push_login(&serial, "alice").await;
    assert_eq!(
        (status, outcome.result),
        (StatusCode::OK, LoginResult::Success),
        "{outcome:?}"
    );
    let entry = newest(&suite, &phone, PushStatus::Approved).await;
    assert_eq!(entry.user.as_deref(), Some("alice"));
    assert_eq!(entry.appliance.as_deref(), Some(serial.as_str()));
    assert_eq!(entry.session_id, outcome.session_id);
    assert_eq!(entry.client_application.as_deref(), Some("SSL VPN"));
    let view = suite.appliance(&serial).await;
    assert_eq!(view.users[0].failures, 0);
    suite.stop().await;
}

#[tokio::test]
async fn a_push_approved_by_hand_after_it_arrives() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 10, json!({})).await;
    let login = suite.push_login(&serial, "alice");
    let approve = async {
        let entry = newest(&suite, &phone, PushStatus::Pending).await;
        let (status, answer) = suite.answer_push(&phone, "latest", true).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (StatusCode::OK, Some("approved")),
            "{answer}"
        );
        entry
    };
    let ((status, outcome), entry) = tokio::join!(login, approve);
    assert_eq!(
        (status, outcome.result),
        (StatusCode::OK, LoginResult::Success)
    );
    assert_eq!(entry.session_id, outcome.session_id);
    // The push is answered: the phone will not answer it again.
    let (status, again) = suite.answer_push(&phone, &entry.id.to_string(), true).await;
    assert_eq!(
        (status, again["error_id"].as_str()),
        (StatusCode::CONFLICT, Some("phone.push-answered"))
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_denied_push_refuses_the_login() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 10, json!({})).await;
    suite
        .change_phone(&phone, json!({"push_policy": "deny"}))
        .await;
    let (status, outcome) = suite.push_login(&serial, "alice").await;
    assert_eq!(
        (status, outcome.result),
        (StatusCode::UNAUTHORIZED, LoginResult::Denied)
    );
    assert_eq!(outcome.message, "authentication failed: denied by user");
    newest(&suite, &phone, PushStatus::Denied).await;
    suite.stop().await;
}

#[tokio::test]
async fn a_push_nobody_answers_times_out() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 1, json!({})).await;
    suite
        .change_phone(&phone, json!({"push_policy": "ignore"}))
        .await;
    let (status, outcome) = suite.push_login(&serial, "alice").await;
    assert_eq!(
        (status, outcome.result),
        (StatusCode::UNAUTHORIZED, LoginResult::Timeout),
        "{outcome:?}"
    );
    assert_eq!(outcome.message, "no answer from the phone within 1 s");
    newest(&suite, &phone, PushStatus::Ignored).await;
    suite.stop().await;
}

#[tokio::test]
async fn the_appliance_refuses_a_replayed_or_unknown_answer() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 10, json!({})).await;
    suite
        .change_phone(&phone, json!({"push_policy": "approve"}))
        .await;
    let (_, outcome) = suite.push_login(&serial, "alice").await;
    assert_eq!(outcome.result, LoginResult::Success);
    let port = suite
        .appliance(&serial)
        .await
        .ftm_push
        .listening_port
        .unwrap();
    let listener = format!("https://127.0.0.1:{port}{}", paths::PUSH_CALLBACK);
    let replay = json!({"session_id": outcome.session_id.unwrap(), "action": "validate", "token_code": "123456", "hmac": "00"});
    let response = suite
        .client
        .post(&listener)
        .json(&replay)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "the push session was already answered");
    let unknown = json!({"session_id": "0123456789abcdef0123456789abcdef", "action": "alert", "message": "x", "hmac": "00"});
    let response = suite
        .client
        .post(&listener)
        .json(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = suite
        .client
        .post(&listener)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    suite.stop().await;
}

#[tokio::test]
async fn the_phone_rejects_a_tampered_push() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 1, json!({})).await;
    suite
        .change_phone(&phone, json!({"push_policy": "ignore"}))
        .await;
    suite.push_login(&serial, "alice").await;
    // Take the push as the relay delivered it, flip one ciphertext bit, and send it again.
    let registration = suite
        .appliance(&serial)
        .await
        .tokens
        .iter()
        .find_map(|t| t.reg_id.clone())
        .unwrap();
    let batch: PushBatch = suite
        .admin_get(
            "push",
            &paths::fill(paths::RELAY_DEVICE_PUSHES, &[&registration]),
        )
        .await;
    let original = &batch.pushes[0];
    let mut message = PushMessage::from_wire(&original.message).unwrap();
    let mut ciphertext = base64_decode(&message.ciphertext);
    ciphertext[5] ^= 0x01;
    message.ciphertext = base64_encode(&ciphertext);
    let tampered = PushRequest {
        sender: original.sender.clone(),
        registration_id: registration.clone(),
        app: "FTM".into(),
        platform: original.platform.clone(),
        message: message.to_wire(),
    };
    let (status, _) = suite.admin_post("push", paths::RELAY_PUSH, &tampered).await;
    assert_eq!(status, StatusCode::OK);
    let rejected = newest(&suite, &phone, PushStatus::Rejected).await;
    assert!(
        rejected.detail.as_deref().unwrap().contains("HMAC"),
        "{rejected:?}"
    );
    assert_eq!(rejected.session_id, None, "a rejected push is never shown");
    suite.stop().await;
}

#[tokio::test]
async fn an_uninstalled_app_gets_unregistered() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 5, json!({})).await;
    let response = suite
        .client
        .delete(format!(
            "{}{}",
            suite.url("phone"),
            paths::fill(paths::PHONE, &[&phone])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, outcome) = suite.push_login(&serial, "alice").await;
    assert_eq!(
        (status, outcome.result),
        (StatusCode::UNAUTHORIZED, LoginResult::PushFailed)
    );
    assert_eq!(outcome.message, "push notification failed: Unregistered");
    let journal: push::PushJournal = suite.admin_get("push", paths::ADMIN_PUSHES).await;
    assert_eq!(journal.pushes.last().unwrap().outcome, "Unregistered");
    suite.stop().await;
}

#[tokio::test]
async fn a_certificate_the_phone_cannot_validate_fails_the_answer() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 2, json!({"server_cert": "untrusted"})).await;
    suite
        .change_phone(&phone, json!({"push_policy": "approve"}))
        .await;
    let (_, outcome) = suite.push_login(&serial, "alice").await;
    assert_eq!(outcome.result, LoginResult::Timeout);
    let failed = newest(&suite, &phone, PushStatus::Failed).await;
    assert_eq!(
        failed.detail.as_deref(),
        Some(INVALID_SERVER_CERTIFICATE.text)
    );
    assert_eq!(
        INVALID_SERVER_CERTIFICATE.text,
        "invalid server certificate: FortiToken Mobile cannot validate the server certificate"
    );
    suite.stop().await;
}

#[tokio::test]
async fn a_closed_callback_port_fails_the_answer() {
    let suite = TestSuite::start().await;
    // A port that was free a moment ago and that nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (serial, phone) = ready(
        &suite,
        2,
        json!({"reachable": false, "server_port": closed}),
    )
    .await;
    assert_eq!(suite.appliance(&serial).await.ftm_push.listening_port, None);
    suite
        .change_phone(&phone, json!({"push_policy": "approve"}))
        .await;
    let (_, outcome) = suite.push_login(&serial, "alice").await;
    assert_eq!(outcome.result, LoginResult::Timeout);
    let failed = newest(&suite, &phone, PushStatus::Failed).await;
    let detail = failed.detail.unwrap();
    assert!(
        detail.starts_with(&format!("cannot connect to 127.0.0.1:{closed}")),
        "{detail}"
    );
    suite.stop().await;
}

#[tokio::test]
async fn the_appliance_writes_the_push_as_fortios_does() {
    let suite = TestSuite::start().await;
    let (serial, phone) = ready(&suite, 1, json!({})).await;
    suite
        .change_phone(&phone, json!({"push_policy": "ignore"}))
        .await;
    let (_, outcome) = suite.push_login(&serial, "alice").await;
    // The debug output shows the request FortiOS's ftm-push daemon sends; it parses with the code that
    // parses the captured body.
    assert_eq!(
        &outcome.debug[..4],
        [
            "Connection: keep-alive",
            "Accept: */*",
            "User-Agent: fortinet/c",
            "Content-Type: application/json"
        ]
    );
    let body = outcome
        .debug
        .iter()
        .find(|l| l.starts_with("{\"sender\""))
        .unwrap();
    let request: PushRequest = serde_json::from_str(body).unwrap();
    let (sender_serial, vdom) = push::parse_sender(&request.sender).unwrap();
    assert_eq!(
        (
            sender_serial.as_str(),
            vdom.as_str(),
            request.app.as_str(),
            request.platform.as_str()
        ),
        (serial.as_str(), "root", "FTM", "android")
    );
    assert!(
        request.message.starts_with("{ \"ciphertext\": \""),
        "{}",
        request.message
    );
    let message = PushMessage::from_wire(&request.message).unwrap();
    assert_eq!(message.to_wire(), request.message);
    assert_eq!(
        (
            base64_decode(&message.iv).len(),
            base64_decode(&message.hmac).len()
        ),
        (16, 32)
    );
    // The relay's journal saw the same push.
    let journal: push::PushJournal = suite
        .admin_get(
            "push",
            &format!("{}?sender={}", paths::ADMIN_PUSHES, request.sender),
        )
        .await;
    assert_eq!(
        journal.pushes.last().unwrap().sn.as_deref(),
        Some(message.sn.as_str())
    );
    suite.stop().await;
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn a_push_session_expires_on_the_lab_clock() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    // A long timeout in real time: the login ends because the lab clock passes it, not because it waited.
    let (serial, phone) = ready(&suite, 300, json!({})).await;
    let login = suite.push_login(&serial, "alice");
    let expire = async {
        newest(&suite, &phone, PushStatus::Pending).await;
        suite.advance_clock(301).await;
        suite.answer_push(&phone, "latest", true).await
    };
    let ((status, outcome), (answered, entry)) = tokio::join!(login, expire);
    assert_eq!(answered, StatusCode::OK, "{entry}");
    assert_eq!(entry["status"], "failed", "{entry}");
    assert!(
        entry["detail"].as_str().unwrap().contains("expired"),
        "{entry}"
    );
    assert_eq!(
        (status, outcome.result),
        (StatusCode::UNAUTHORIZED, LoginResult::Timeout),
        "{outcome:?}"
    );
    suite.stop().await;
}
