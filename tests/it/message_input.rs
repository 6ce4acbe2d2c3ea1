//! Bad input on the activation-message routes, each refused with a clear error in the route's own shape and
//! nothing changed (the listing or state compared before and after): an appliance's messaging settings,
//! removing one captured message and clearing them all, message ids that are unknown or malformed (show,
//! `.eml`, QR), the listing's query parameters, the phone's camera, FortiAuthenticator users, the SMS sink,
//! and the SMTP listener at the protocol level (a raw SMTP conversation over TCP: an oversized message, bad
//! recipients, a line too long).

use std::time::Duration;

use base64::Engine as _;
use e2e::TestSuite;
use protocol::messages::MessageView;
use protocol::paths;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Sends `body` (raw text, as a script might get it wrong) with `method` to `service`; the status and the
/// answer as JSON (`Null` when it is not JSON).
async fn send(
    suite: &TestSuite,
    method: Method,
    service: &str,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = suite
        .client
        .request(method, format!("{}{path}", suite.url(service)));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts `answer` is fortimock's `ErrorBody` with `error_id` and a sentence.
fn refused_with(answer: &Value, error_id: &str) {
    assert_eq!(answer["error_id"], error_id, "{answer}");
    assert!(
        answer["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

/// A FortiGate with the 5-seat license, and one activation email captured for alice.
async fn fortigate_with_an_email(suite: &TestSuite) -> (String, MessageView) {
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    suite
        .appliance_import(&serial, "1111-2222-3333-4444-5555")
        .await;
    let (status, answer) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_PROVISION, &[&serial]),
            &json!({"token": "any", "user": "alice", "email": "alice@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let email = suite.messages("").await.pop().unwrap();
    (serial, email)
}

#[tokio::test]
async fn messaging_settings_refuse_bad_input_and_change_nothing() {
    let suite = TestSuite::start().await;
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    let path = paths::fill(paths::APPLIANCE_MESSAGING, &[&serial]);
    let before: Value = suite.admin_get("appliance", &path).await;
    let appliance_before = suite.appliance(&serial).await;
    for (body, error_id, names) in [
        ("{\"smtp_port\": ", "admin.body.invalid", "EOF"),
        ("[]", "admin.body.invalid", "not an array"),
        (
            "[\"mail.example.com\", 25]",
            "admin.body.invalid",
            "not an array",
        ),
        ("{\"smtp_port\": \"25\"}", "admin.body.invalid", "u16"),
        ("{\"smtp_port\": 70000}", "admin.body.invalid", "u16"),
        ("{\"smtp_port\": 0}", "appliance.bad-request", "smtp_port"),
        ("{\"surprise\": true}", "admin.body.invalid", "surprise"),
        (
            "{\"smtp_server\": \"mail server!\"}",
            "appliance.bad-request",
            "smtp_server",
        ),
        (
            "{\"smtp_server\": \"\"}",
            "appliance.bad-request",
            "smtp_server",
        ),
        (
            "{\"smtp_security\": \"ssl\"}",
            "appliance.bad-request",
            "smtp_security",
        ),
        (
            "{\"sender\": \"not an address\"}",
            "appliance.bad-request",
            "sender",
        ),
        ("{\"sender\": \"a@b@c\"}", "appliance.bad-request", "sender"),
        (
            "{\"sms_gateway\": \"ftp://sms.example.com\"}",
            "appliance.bad-request",
            "sms_gateway",
        ),
        // All or none: a good port next to a bad sender changes neither.
        (
            "{\"smtp_port\": 2525, \"sender\": \"nobody\"}",
            "appliance.bad-request",
            "sender",
        ),
    ] {
        let (status, answer) = send(&suite, Method::PATCH, "appliance", &path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        refused_with(&answer, error_id);
        assert!(
            answer["message"].as_str().unwrap().contains(names),
            "{body}: {answer}"
        );
    }
    assert_eq!(suite.admin_get::<Value>("appliance", &path).await, before);
    assert_eq!(suite.appliance(&serial).await, appliance_before);

    // An appliance that is not there, and a serial that is not one: on GET and PATCH alike.
    for (serial, status, error_id) in [
        (
            "FGVM01TM99999999",
            StatusCode::NOT_FOUND,
            "appliance.not-found",
        ),
        (
            "not-a-serial!",
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
        ),
    ] {
        let path = paths::fill(paths::APPLIANCE_MESSAGING, &[serial]);
        let (got, answer) = send(&suite, Method::GET, "appliance", &path, None).await;
        assert_eq!(got, status, "{answer}");
        refused_with(&answer, error_id);
        let (got, answer) = send(
            &suite,
            Method::PATCH,
            "appliance",
            &path,
            Some("{\"smtp_port\": 2525}"),
        )
        .await;
        assert_eq!(got, status, "{answer}");
        refused_with(&answer, error_id);
    }
    // And a good change still goes through afterwards.
    let (status, changed) = send(
        &suite,
        Method::PATCH,
        "appliance",
        &path,
        Some("{\"sender\": \"noreply@example.com\"}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["sender"], "noreply@example.com");
    assert_eq!(changed["smtp_port"], before["smtp_port"]);
    suite.stop().await;
}

#[tokio::test]
async fn removing_messages_refuses_bad_ids_and_filters_and_changes_nothing() {
    let suite = TestSuite::start().await;
    let (_, email) = fortigate_with_an_email(&suite).await;
    let (status, sms) = suite
        .admin_post(
            "appliance",
            paths::SMS_GATEWAY,
            &json!({"from": "FGVM01TM00000001", "to": "+15551234567", "text": "code ABCDEFGHIJKLMNOP"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sms}");
    let before = suite.messages("").await;
    assert_eq!(before.len(), 2);

    // One message: malformed ids (400), ids not captured (404); the same on show, .eml and qr.png.
    for (id, status, error_id) in [
        ("m999", StatusCode::NOT_FOUND, "appliance.message.not-found"),
        ("m0", StatusCode::BAD_REQUEST, "appliance.message.bad-id"),
        ("m01", StatusCode::BAD_REQUEST, "appliance.message.bad-id"),
        ("1", StatusCode::BAD_REQUEST, "appliance.message.bad-id"),
        ("M1", StatusCode::BAD_REQUEST, "appliance.message.bad-id"),
        ("m-1", StatusCode::BAD_REQUEST, "appliance.message.bad-id"),
        ("m1%20", StatusCode::BAD_REQUEST, "appliance.message.bad-id"),
        (
            "m99999999999999999999999",
            StatusCode::BAD_REQUEST,
            "appliance.message.bad-id",
        ),
    ] {
        for (method, template) in [
            (Method::DELETE, paths::ADMIN_MESSAGE),
            (Method::GET, paths::ADMIN_MESSAGE),
            (Method::GET, paths::ADMIN_MESSAGE_EML),
            (Method::GET, paths::ADMIN_MESSAGE_QR),
        ] {
            let path = template.replace("{id}", id);
            let (got, answer) = send(&suite, method.clone(), "appliance", &path, None).await;
            assert_eq!(got, status, "{method} {path}: {answer}");
            refused_with(&answer, error_id);
        }
    }
    // An SMS has no .eml and no QR code.
    let sms_id = sms["id"].as_str().unwrap();
    for (template, error_id) in [
        (paths::ADMIN_MESSAGE_EML, "appliance.message.not-email"),
        (paths::ADMIN_MESSAGE_QR, "appliance.message.no-qr"),
    ] {
        let (status, answer) = send(
            &suite,
            Method::GET,
            "appliance",
            &paths::fill(template, &[sms_id]),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        refused_with(&answer, error_id);
    }
    // Clearing takes no filter: one is refused rather than ignored (which would remove every message).
    for query in ["recipient=alice@example.com", "kind=sms", "all=true"] {
        let (status, answer) = send(
            &suite,
            Method::DELETE,
            "appliance",
            &format!("{}?{query}", paths::ADMIN_MESSAGES),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
        refused_with(&answer, "admin.query.invalid");
    }
    assert_eq!(suite.messages("").await, before);

    // The good requests work: one removed (the other keeps its id), then the rest cleared.
    let (status, removed) = send(
        &suite,
        Method::DELETE,
        "appliance",
        &paths::fill(paths::ADMIN_MESSAGE, &[&email.id]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["id"], email.id.as_str());
    let left = suite.messages("").await;
    assert_eq!(left, before[1..].to_vec());
    let (status, _) = send(
        &suite,
        Method::DELETE,
        "appliance",
        &paths::fill(paths::ADMIN_MESSAGE, &[&email.id]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "removed twice");
    let (status, cleared) = send(
        &suite,
        Method::DELETE,
        "appliance",
        paths::ADMIN_MESSAGES,
        None,
    )
    .await;
    assert_eq!(
        (status, cleared["removed"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    assert!(suite.messages("").await.is_empty());
    suite.stop().await;
}

#[tokio::test]
async fn the_message_listing_refuses_bad_parameters() {
    let suite = TestSuite::start().await;
    fortigate_with_an_email(&suite).await;
    let before = suite.messages("").await;
    let overlong = format!("recipient={}", "a".repeat(300));
    for (query, names) in [
        ("kind=pigeon", "kind `pigeon` is neither email nor sms"),
        ("kind=", "kind"),
        ("kind=sms&kind=email", "`kind` is given twice"),
        ("recipient=", "recipient"),
        ("recipient=%20%20", "recipient"),
        (overlong.as_str(), "recipient"),
        ("recipient=alice%0A@example.com", "recipient"),
        ("appliance=", "appliance"),
        ("limit=abc", "limit `abc` is not a number"),
        ("limit=-1", "limit `-1`"),
        ("limit=0", "limit must be 1 to 10000"),
        ("limit=10001", "limit must be 1 to 10000"),
        ("limit=99999999999999999999999", "limit `9999"),
        ("surprise=1", "unknown parameter `surprise`"),
    ] {
        let (status, answer) = send(
            &suite,
            Method::GET,
            "appliance",
            &format!("{}?{query}", paths::ADMIN_MESSAGES),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
        refused_with(&answer, "admin.query.invalid");
        assert!(
            answer["message"].as_str().unwrap().contains(names),
            "{query}: {answer}"
        );
    }
    assert_eq!(suite.messages("").await, before);
    // The edges that are fine: the largest limit, any letter case.
    assert_eq!(suite.messages("limit=10000&kind=email").await, before);
    assert_eq!(suite.messages("recipient=ALICE@EXAMPLE.COM").await, before);
    suite.stop().await;
}

/// A grayscale PNG of one colour: an image with no QR code in it.
fn blank_png() -> Vec<u8> {
    let mut image = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut image, 64, 64);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[255u8; 64 * 64]).unwrap();
    }
    image
}

#[tokio::test]
async fn the_phone_camera_refuses_what_it_cannot_read_and_changes_nothing() {
    let suite = TestSuite::start().await;
    let (serial, email) = fortigate_with_an_email(&suite).await;
    let phone = suite.new_phone(json!({})).await.id;
    let phone_path = paths::fill(paths::PHONE, &[&phone]);
    let phone_before: Value = suite.admin_get("phone", &phone_path).await;
    let escrow: Value = suite.admin_get("ftm", paths::ADMIN_ESCROW).await;
    let scan = paths::fill(paths::PHONE_SCAN, &[&phone]);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let not_a_code = appliance::qr_image::png("hello, this is not an activation code").unwrap();
    for (body, error_id) in [
        ("{\"png\": ".to_owned(), "phone.bad-request"),
        ("{\"image\": \"\"}".to_owned(), "phone.bad-request"),
        ("{\"png\": \"not base64!\"}".to_owned(), "phone.bad-image"),
        (
            json!({"png": b64(b"not a png")}).to_string(),
            "phone.no-qr-code",
        ),
        (
            json!({"png": b64(&blank_png())}).to_string(),
            "phone.no-qr-code",
        ),
        (
            json!({"png": b64(&not_a_code)}).to_string(),
            "phone.bad-code",
        ),
    ] {
        let (status, answer) = send(&suite, Method::POST, "phone", &scan, Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.80}: {answer}");
        refused_with(&answer, error_id);
    }
    // The email's real QR code, shown to a phone that is not there.
    let (status, png) = suite
        .admin_bytes(
            "appliance",
            &paths::fill(paths::ADMIN_MESSAGE_QR, &[&email.id]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = send(
        &suite,
        Method::POST,
        "phone",
        &paths::fill(paths::PHONE_SCAN, &["no-such-phone"]),
        Some(&json!({"png": b64(&png)}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    refused_with(&answer, "phone.not-found");
    // Nothing changed: the phone has no token, ftm still holds the code, the token is still Pending.
    assert_eq!(
        suite.admin_get::<Value>("phone", &phone_path).await,
        phone_before
    );
    assert_eq!(
        suite.admin_get::<Value>("ftm", paths::ADMIN_ESCROW).await,
        escrow
    );
    let token = suite
        .appliance(&serial)
        .await
        .tokens
        .into_iter()
        .find(|t| t.user.as_deref() == Some("alice"))
        .unwrap();
    assert_eq!(format!("{:?}", token.status), "Pending");
    // And the same phone then scans the email and activates.
    let (status, token) = suite.scan_message(&phone, &email.id).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    suite.stop().await;
}

#[tokio::test]
async fn fortiauthenticator_users_refuse_bad_input_and_change_nothing() {
    let suite = TestSuite::start().await;
    let fac = suite
        .new_appliance(json!({"mode": "fortiauthenticator"}))
        .await
        .serial
        .to_string();
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
    let before = suite.appliance(&fac).await;
    let messages = suite.messages("").await;
    let escrow: Value = suite.admin_get("ftm", paths::ADMIN_ESCROW).await;
    for (body, status, error_id, names) in [
        (
            "{\"name\": ",
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "EOF",
        ),
        (
            "\"erin\"",
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "struct",
        ),
        (
            "{\"name\": 7, \"token_auth\": true}",
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "string",
        ),
        (
            "{\"token_auth\": true}",
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "name",
        ),
        (
            "{\"name\": \"\", \"token_auth\": true}",
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "user name",
        ),
        (
            "{\"name\": \"has space\", \"token_auth\": true}",
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "user name",
        ),
        (
            "{\"name\": \"erin\"}",
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "token_auth",
        ),
        // The users endpoint picks the token itself: naming one is an unknown field.
        (
            "{\"name\": \"erin\", \"token_auth\": true, \"token\": \"FTKMOB0000000000\"}",
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
            "token",
        ),
        (
            "{\"name\": \"erin\", \"token_auth\": true, \"email\": \"not an address\"}",
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "email",
        ),
        (
            "{\"name\": \"erin\", \"token_auth\": true, \"email\": \"erin@\"}",
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "email",
        ),
        (
            "{\"name\": \"erin\", \"token_auth\": true, \"sms_phone\": \"5551234567\"}",
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "sms_phone",
        ),
        (
            "{\"name\": \"erin\", \"token_auth\": true, \"sms_phone\": \"+1 555 123\"}",
            StatusCode::BAD_REQUEST,
            "appliance.bad-request",
            "sms_phone",
        ),
        // dave has a token already.
        (
            "{\"name\": \"dave\", \"token_auth\": true}",
            StatusCode::CONFLICT,
            "appliance.conflict",
            "dave already has token",
        ),
    ] {
        let (got, answer) = send(&suite, Method::POST, "appliance", &users, Some(body)).await;
        assert_eq!(got, status, "{body}: {answer}");
        refused_with(&answer, error_id);
        assert!(
            answer["message"].as_str().unwrap().contains(names),
            "{body}: {answer}"
        );
    }
    // An appliance that is not there.
    let (status, answer) = send(
        &suite,
        Method::POST,
        "appliance",
        &paths::fill(paths::APPLIANCE_USERS, &["FAC-VMTM99999999"]),
        Some("{\"name\": \"erin\", \"token_auth\": true}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    refused_with(&answer, "appliance.not-found");
    assert_eq!(suite.appliance(&fac).await, before);
    assert_eq!(suite.messages("").await, messages);
    assert_eq!(
        suite.admin_get::<Value>("ftm", paths::ADMIN_ESCROW).await,
        escrow
    );
    suite.stop().await;
}

#[tokio::test]
async fn the_sms_sink_refuses_bad_input_in_its_own_shape_and_stores_nothing() {
    let suite = TestSuite::start().await;
    fortigate_with_an_email(&suite).await;
    let before = suite.messages("").await;
    let long = "x".repeat(1601);
    for (body, names) in [
        ("{\"from\": ".to_owned(), "not an SMS"),
        ("[]".to_owned(), "not an SMS"),
        (
            "{\"from\": \"x\", \"to\": 15551234567, \"text\": \"hi\"}".to_owned(),
            "not an SMS",
        ),
        (
            "{\"from\": \"x\", \"to\": \"+15551234567\"}".to_owned(),
            "text",
        ),
        (
            "{\"from\": \"x\", \"to\": \"+15551234567\", \"text\": \"hi\", \"priority\": 1}"
                .to_owned(),
            "priority",
        ),
        (
            "{\"from\": \"x\", \"to\": \"5551234567\", \"text\": \"hi\"}".to_owned(),
            "E.164",
        ),
        (
            "{\"from\": \"x\", \"to\": \"+1555\", \"text\": \"hi\"}".to_owned(),
            "E.164",
        ),
        (
            "{\"from\": \"x\", \"to\": \"+15551234567\", \"text\": \"\"}".to_owned(),
            "text",
        ),
        (
            json!({"from": "x", "to": "+15551234567", "text": long}).to_string(),
            "1600",
        ),
        (
            json!({"from": "y".repeat(65), "to": "+15551234567", "text": "hi"}).to_string(),
            "from",
        ),
    ] {
        let (status, answer) = send(
            &suite,
            Method::POST,
            "appliance",
            paths::SMS_GATEWAY,
            Some(&body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.80}: {answer}");
        assert_eq!(answer["status"], "error", "{answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(names), "{body:.80}: {answer}");
    }
    assert_eq!(suite.messages("").await, before);
    suite.stop().await;
}

/// The SMTP listener's address, as an appliance's messaging settings name it.
async fn smtp_address(suite: &TestSuite) -> String {
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    let messaging: Value = suite
        .admin_get(
            "appliance",
            &paths::fill(paths::APPLIANCE_MESSAGING, &[&serial]),
        )
        .await;
    format!(
        "{}:{}",
        messaging["smtp_server"].as_str().unwrap(),
        messaging["smtp_port"]
    )
}

/// One side of a plain SMTP conversation (no STARTTLS: the listener offers it, the client need not take it).
struct Smtp {
    reader: BufReader<TcpStream>,
}

impl Smtp {
    async fn connect(address: &str) -> Smtp {
        let stream = TcpStream::connect(address).await.unwrap();
        let mut smtp = Smtp {
            reader: BufReader::new(stream),
        };
        let greeting = smtp.reply().await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        smtp
    }

    /// The server's whole reply (every line of a multi-line one), bounded so a listener that never answers
    /// fails the test instead of hanging it.
    async fn reply(&mut self) -> String {
        let mut reply = String::new();
        let read = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let mut line = String::new();
                if self.reader.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                reply.push_str(&line);
                // `250-…` continues; `250 …` ends the reply.
                if line.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
        })
        .await;
        assert!(read.is_ok(), "the SMTP listener did not answer: {reply:?}");
        reply
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).await.unwrap();
    }

    /// Sends one command line and returns the reply.
    async fn command(&mut self, line: &str) -> String {
        self.write(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Everything the server says until it closes the connection.
    async fn until_closed(&mut self) -> String {
        let mut rest = String::new();
        let read = tokio::time::timeout(
            Duration::from_secs(60),
            self.reader.read_to_string(&mut rest),
        )
        .await;
        assert!(read.is_ok(), "the SMTP listener kept the connection open");
        rest
    }
}

fn code_of(reply: &str) -> &str {
    reply.get(..3).unwrap_or(reply)
}

#[tokio::test]
async fn the_smtp_listener_refuses_bad_recipients_oversized_messages_and_long_lines() {
    let suite = TestSuite::start().await;
    let address = smtp_address(&suite).await;
    let mut smtp = Smtp::connect(&address).await;
    let hello = smtp.command("EHLO tests.example.com").await;
    assert!(hello.starts_with("250"), "{hello}");
    assert_eq!(
        code_of(&smtp.command("MAIL FROM:<fgt@example.com>").await),
        "250"
    );

    let overlong = format!("<{}@example.com>", "a".repeat(250));
    // Recipients that are not mailboxes: our handler's 553 for what parses but is no address, mailin's 500
    // for what does not parse at all.
    for (recipient, code, says) in [
        ("<nobody>", "553", "5.1.3"),
        ("<@example.com>", "553", "5.1.3"),
        ("<alice@nodot>", "553", "5.1.3"),
        (overlong.as_str(), "553", "5.1.3"),
        ("<has space@example.com>", "500", "Syntax error"),
        ("alice@example.com", "500", "Syntax error"),
    ] {
        let reply = smtp.command(&format!("RCPT TO:{recipient}")).await;
        assert_eq!(code_of(&reply), code, "{recipient}: {reply}");
        assert!(reply.contains(says), "{recipient}: {reply}");
    }
    // No recipient was taken, so there is nothing to send data to.
    assert_eq!(code_of(&smtp.command("DATA").await), "503");

    // A message over the 4 MiB limit: 552 after its end, nothing stored, and the session takes commands
    // again (a message that fits then goes through).
    assert_eq!(
        code_of(&smtp.command("RCPT TO:<alice@example.com>").await),
        "250"
    );
    assert_eq!(code_of(&smtp.command("DATA").await), "354");
    smtp.write(b"Subject: too big\r\n\r\n").await;
    let line = format!("{}\r\n", "x".repeat(998));
    let lines = appliance::mail::MAX_MESSAGE / line.len() + 10;
    let mut body = Vec::with_capacity(lines * line.len());
    for _ in 0..lines {
        body.extend_from_slice(line.as_bytes());
    }
    smtp.write(&body).await;
    smtp.write(b".\r\n").await;
    let too_big = smtp.reply().await;
    assert!(too_big.starts_with("552 5.3.4"), "{too_big}");
    assert!(suite.messages("").await.is_empty());
    assert_eq!(
        code_of(&smtp.command("MAIL FROM:<fgt@example.com>").await),
        "250"
    );
    assert_eq!(
        code_of(&smtp.command("RCPT TO:<alice@example.com>").await),
        "250"
    );
    assert_eq!(code_of(&smtp.command("DATA").await), "354");
    let queued = smtp.command("Subject: fits\r\n\r\nhello\r\n.").await;
    assert!(queued.starts_with("250 2.0.0 OK queued as m1"), "{queued}");
    assert_eq!(code_of(&smtp.command("QUIT").await), "221");
    let stored = suite.messages("").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].subject.as_deref(), Some("fits"));

    // A line longer than the listener reads: 500 5.5.2 and the connection closed; nothing stored.
    let mut smtp = Smtp::connect(&address).await;
    let limit = usize::try_from(appliance::mail::MAX_LINE).unwrap();
    // Exactly the limit and no line end, so the listener has read everything sent when it closes.
    let mut long = b"MAIL FROM:<".to_vec();
    long.resize(limit, b'a');
    smtp.write(&long).await;
    let reply = smtp.until_closed().await;
    assert!(reply.starts_with("500 5.5.2 Line too long"), "{reply}");
    assert_eq!(suite.messages("").await, stored);
    suite.stop().await;
}
