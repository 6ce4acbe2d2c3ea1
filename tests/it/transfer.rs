//! License transfer end to end, through the public HTTP APIs only: a Customer Service ticket moves a license
//! from appliance A to appliance B; A keeps working through the grace period (driven by the lab clock) and
//! then gets 31/17 on provisioning, its poll marks the tokens Error, its escrowed codes get 40; B imports
//! the new code and a user logs in on it. The 2025-08-04 rule with and without RMA, every refusal (and
//! that it changed nothing, down to forticare's whole exported state), the redemption certificate read back
//! with a PDF text extractor and its QR code with a QR decoder, the new owner's HA peer, the void code
//! through the v3 API, ticket numbers, and tickets kept across a restart and a state export.

use e2e::{TestSuite, header, test_options, token};
use protocol::admin::ClockView;
use protocol::appliance::{FortiTokenStatus, LoginResult, OperationFailure, PollOutcome};
use protocol::catalogue::{LICENSE_CODE_INVALID, NO_VALID_TOKEN, TOKEN_NOT_OWNED};
use protocol::envelope::Envelope;
use protocol::ledger::TransferTicket;
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

const LICENSE: &str = "EFTM000000000005";
const OLD_CODE: &str = "1111-2222-3333-4444-5555";
const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";

async fn now(suite: &TestSuite) -> i64 {
    suite
        .admin_get::<ClockView>("ftm", paths::ADMIN_CLOCK)
        .await
        .now
        .secs()
}

async fn import_error(suite: &TestSuite, serial: &str, code: &str) -> OperationFailure {
    suite
        .appliance_op::<Value>(serial, "import", json!({"code": code}))
        .await
        .unwrap_err()
}

async fn delete_token(suite: &TestSuite, serial: &str, token: &str) -> StatusCode {
    suite
        .client
        .delete(format!(
            "{}{}",
            suite.url("appliance"),
            paths::fill(paths::APPLIANCE_TOKEN, &[serial, token])
        ))
        .send()
        .await
        .unwrap()
        .status()
}

fn status_of(suite_view: &protocol::appliance::ApplianceView, token: &str) -> FortiTokenStatus {
    suite_view
        .tokens
        .iter()
        .find(|t| t.serial.as_str() == token)
        .unwrap()
        .status
}

fn is_certificate_code(code: &str) -> bool {
    let groups: Vec<&str> = code.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn a_license_moves_and_the_old_unit_stops_after_the_grace_period() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let a = suite.new_appliance(json!({})).await.serial.to_string();
    let b = suite.new_appliance(json!({})).await.serial.to_string();
    let c = suite.new_appliance(json!({})).await.serial.to_string();
    let tokens = suite.appliance_import(&a, OLD_CODE).await;
    let (alice_token, alice_code) = suite.appliance_provision(&a, "any", "alice").await;
    let phone = suite.new_phone(json!({})).await;
    let (status, answer) = suite.activate(&phone.id, &alice_code).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let _: PollOutcome = suite.appliance_op(&a, "poll", json!({})).await.unwrap();
    let otp = suite.phone_otp(&phone.id, &alice_token).await.otp;
    assert_eq!(
        suite.login(&a, "alice", &otp).await.1.result,
        LoginResult::Success
    );
    // bob's code waits in escrow when the license moves.
    let (_, bob_code) = suite.appliance_provision(&a, "any", "bob").await;

    let started = now(&suite).await;
    let (status, ticket) = suite
        .transfer(json!({"license": LICENSE, "from": a, "to": b, "grace_secs": 3600, "note": "RMA of the old unit"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    let ticket: TransferTicket = serde_json::from_value(ticket).unwrap();
    let new_code = ticket.activation_code.to_string();
    assert!(is_certificate_code(&new_code), "{new_code}");
    assert_ne!(new_code, OLD_CODE);
    assert_eq!(ticket.grace_until.secs(), started + 3600);
    // The certificate is named by its absolute URL on forticare, and that URL serves the PDF.
    assert_eq!(
        ticket.certificate,
        format!(
            "{}{}",
            suite.url("forticare"),
            paths::fill(paths::ADMIN_LICENSE_CERTIFICATE, &[LICENSE])
        )
    );
    let fetched = suite.client.get(&ticket.certificate).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(
        fetched.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    let text = pdf_text(&fetched.bytes().await.unwrap());
    assert!(
        text.contains(&format!("Activation Code {}", ticket.activation_code)),
        "{text}"
    );
    assert_eq!((ticket.status.as_str(), ticket.rma), ("grace", false));
    let shown: TransferTicket = suite
        .admin_get(
            "forticare",
            &paths::fill(paths::ADMIN_TRANSFER, &[&ticket.ticket]),
        )
        .await;
    assert_eq!(shown, ticket);

    // The old code is void at once, for everyone.
    for serial in [&a, &c] {
        let failure = import_error(&suite, serial, OLD_CODE).await;
        assert_eq!(failure.error_code, LICENSE_CODE_INVALID.code, "{failure:?}");
    }

    // During the grace period A works as before.
    suite.advance_clock(60).await;
    let otp = suite.phone_otp(&phone.id, &alice_token).await.otp;
    assert_eq!(
        suite.login(&a, "alice", &otp).await.1.result,
        LoginResult::Success
    );
    let polled: PollOutcome = suite.appliance_op(&a, "poll", json!({})).await.unwrap();
    assert!(
        polled
            .tokens
            .iter()
            .all(|t| t.status != FortiTokenStatus::Error)
    );
    let provisioned = suite
        .provision(&a, &[], vec![token(&tokens[2], SEED)])
        .await;
    assert_eq!(provisioned.error, None, "{provisioned:?}");

    // After it: 31/17 on provisioning, not its own on polling, Error on the appliance, 40 to phones.
    suite.advance_clock(3600).await;
    let refused = suite
        .provision(&a, &[], vec![token(&tokens[3], SEED)])
        .await;
    assert!(TOKEN_NOT_OWNED.matches(refused.tokens[0].error.as_ref().unwrap()));
    assert!(NO_VALID_TOKEN.matches(refused.error.as_ref().unwrap()));
    let polled = suite.poll(&a, &[], &[&alice_token]).await;
    assert!(TOKEN_NOT_OWNED.matches(polled.tokens[0].error.as_ref().unwrap()));
    assert_eq!(polled.tokens[0].license, None);

    let polled: PollOutcome = suite.appliance_op(&a, "poll", json!({})).await.unwrap();
    assert!(
        polled.debug.iter().any(|l| l.contains(&format!(
            "token {alice_token} error 31: token does not belong to product"
        ))),
        "{:?}",
        polled.debug
    );
    let view = suite.appliance(&a).await;
    assert_eq!(status_of(&view, &alice_token), FortiTokenStatus::Error);
    let otp = suite.phone_otp(&phone.id, &alice_token).await.otp;
    let (status, denied) = suite.login(&a, "alice", &otp).await;
    assert_eq!(
        (status, denied.result),
        (StatusCode::UNAUTHORIZED, LoginResult::Denied)
    );
    assert!(
        denied.message.contains("Error status"),
        "{}",
        denied.message
    );

    let (status, answer) = suite.activate(&phone.id, &bob_code).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error_id"], "ftm.mobile.code-invalid");
    let escrow: Value = suite.admin_get("ftm", paths::ADMIN_ESCROW).await;
    assert!(
        escrow["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["activation_code"] == bob_code.as_str()),
        "a refusal leaves the code in escrow"
    );
    let tickets = suite.transfers().await;
    assert_eq!(tickets["transfers"][0]["status"], "closed");

    // B imports the new code: the license's seats, all Available, with the serials the model gives the
    // second owner (the same serials while `modeled::TRANSFER_KEEPS_TOKEN_SERIALS` says so).
    let imported = suite.appliance_import(&b, &new_code).await;
    let second_owners: Vec<String> = protocol::modeled::token_serials_after(
        &LICENSE.parse().unwrap(),
        5,
        1,
        protocol::modeled::TRANSFER_KEEPS_TOKEN_SERIALS,
    )
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(imported, second_owners);
    assert_eq!(
        imported == tokens,
        protocol::modeled::TRANSFER_KEEPS_TOKEN_SERIALS
    );
    let tokens = imported;
    let view = suite.appliance(&b).await;
    assert!(
        view.tokens
            .iter()
            .all(|t| t.status == FortiTokenStatus::Available)
    );
    let (b_token, b_code) = suite.appliance_provision(&b, "any", "alice").await;
    let (status, answer) = suite.activate(&phone.id, &b_code).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let polled: PollOutcome = suite.appliance_op(&b, "poll", json!({})).await.unwrap();
    assert!(
        polled
            .tokens
            .iter()
            .any(|t| t.serial.as_str() == b_token && t.status == FortiTokenStatus::Assigned)
    );
    let otp = suite.phone_otp(&phone.id, &b_token).await.otp;
    assert_eq!(
        suite.login(&b, "alice", &otp).await.1.result,
        LoginResult::Success
    );

    // Nobody else may redeem the new code; B re-entering it restores deleted tokens only.
    let failure = import_error(&suite, &c, &new_code).await;
    assert_eq!(failure.error_id, "forticare.import.registered-elsewhere");
    let spare = tokens.iter().find(|t| **t != b_token).unwrap();
    assert_eq!(
        delete_token(&suite, &b, spare).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete_token(&suite, &b, &b_token).await,
        StatusCode::CONFLICT
    );
    assert_eq!(suite.appliance(&b).await.tokens.len(), 4);
    suite.appliance_import(&b, &new_code).await;
    let view = suite.appliance(&b).await;
    assert_eq!(view.tokens.len(), 5);
    assert_eq!(status_of(&view, spare), FortiTokenStatus::Available);
    assert_eq!(status_of(&view, &b_token), FortiTokenStatus::Assigned);
}

#[tokio::test]
async fn licenses_shipped_since_2025_08_04_move_only_on_an_rma_and_nothing_carries_over() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    for (id, shipped, code) in [
        ("EFTM000000000801", "2025-08-04", "8010-0000-0000-0000-0801"),
        ("EFTM000000000802", "2025-08-03", "8020-0000-0000-0000-0802"),
    ] {
        let (status, created) = suite
            .admin_post(
                "forticare",
                paths::ADMIN_LICENSES,
                &json!({"id": id, "code": code, "seats": 2, "shipped": shipped, "owner": "FGVM01TM00000801"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["shipped"], shipped);
    }
    let tokens = protocol::modeled::token_serials(&"EFTM000000000801".parse().unwrap(), 2);
    let serial = tokens[0].to_string();
    let provisioned = suite
        .provision("FGVM01TM00000801", &[], vec![token(&serial, SEED)])
        .await;
    let code = provisioned.tokens[0].token_activation_code.clone().unwrap();
    let downloaded = suite.download("e248e1e9527f20ff", "reg-1", &code).await;
    assert_eq!(downloaded.error, None);

    let before = forticare_state(&suite).await;
    let (status, refusal) = suite
        .transfer(json!({"license": "EFTM000000000801", "from": "FGVM01TM00000801", "to": "FGVM01TM00000802"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refusal}");
    assert_eq!(
        refusal["error_id"],
        "forticare.transfer.shipped-since-2025-08-04"
    );
    assert_eq!(forticare_state(&suite).await, before);

    // Shipped the day before the policy: no RMA needed.
    let (status, ticket) = suite
        .transfer(json!({"license": "EFTM000000000802", "from": "FGVM01TM00000801", "to": "FGVM01TM00000803", "grace_secs": 0}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");

    let (status, ticket) = suite
        .transfer(json!({"license": "EFTM000000000801", "from": "FGVM01TM00000801", "to": "FGVM01TM00000802", "rma": true, "grace_secs": 0}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(ticket["rma"], true);
    // The activation on the old unit is not carried over: the new one must provision again (its serials
    // are the old ones while `modeled::TRANSFER_KEEPS_TOKEN_SERIALS` says so).
    let old_serial = serial;
    let serial = protocol::modeled::token_serials_after(
        &"EFTM000000000801".parse().unwrap(),
        2,
        1,
        protocol::modeled::TRANSFER_KEEPS_TOKEN_SERIALS,
    )[0]
    .to_string();
    let polled = suite.poll("FGVM01TM00000802", &[], &[&serial]).await;
    assert_eq!(polled.tokens[0].error, None);
    assert_eq!(
        (
            polled.tokens[0].status.as_ref(),
            polled.tokens[0].reg_id.as_deref()
        ),
        ("unknown", None)
    );
    let again = suite
        .provision("FGVM01TM00000802", &[], vec![token(&serial, SEED)])
        .await;
    assert_eq!(again.error, None);
    let polled = suite.poll("FGVM01TM00000802", &[], &[&serial]).await;
    assert_eq!(polled.tokens[0].status, "pending");
    // The old unit lost it at once (no grace).
    let polled = suite.poll("FGVM01TM00000801", &[], &[&old_serial]).await;
    assert!(TOKEN_NOT_OWNED.matches(polled.tokens[0].error.as_ref().unwrap()));
}

#[tokio::test]
async fn every_refusal_is_a_clear_error_and_changes_nothing() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    suite
        .import(
            "forticare",
            "FGVM01TM00000001",
            &["FGVM01TM00000002"],
            OLD_CODE,
        )
        .await;
    suite
        .import(
            "forticare",
            "FGVM01TM00000001",
            &[],
            "0000-0000-0000-0000-0000",
        )
        .await;
    let trial = suite.licenses().await["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "trial")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        (
            json!({"license": "EFTM000000009999", "from": "FGVM01TM00000001", "to": "FGVM01TM00000009"}),
            StatusCode::NOT_FOUND,
            "forticare.transfer.unknown-license",
        ),
        (
            json!({"license": LICENSE, "from": "FGVM01TM00000007", "to": "FGVM01TM00000009"}),
            StatusCode::CONFLICT,
            "forticare.transfer.not-owner",
        ),
        (
            json!({"license": "EFTM000000000050", "from": "FGVM01TM00000001", "to": "FGVM01TM00000009"}),
            StatusCode::CONFLICT,
            "forticare.transfer.not-owner",
        ),
        (
            json!({"license": LICENSE, "from": "FGVM01TM00000001", "to": "FGVM01TM00000001"}),
            StatusCode::BAD_REQUEST,
            "forticare.transfer.same-appliance",
        ),
        (
            json!({"license": LICENSE, "from": "FGVM01TM00000001", "to": "FGVM01TM00000002"}),
            StatusCode::BAD_REQUEST,
            "forticare.transfer.same-appliance",
        ),
        (
            json!({"license": trial, "from": "FGVM01TM00000001", "to": "FGVM01TM00000009"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "forticare.transfer.trial",
        ),
        (
            json!({"license": LICENSE, "from": "FGVM01TM00000001", "to": "FGVM01TM00000009", "grace_secs": -1}),
            StatusCode::BAD_REQUEST,
            "forticare.transfer.invalid",
        ),
        (
            json!({"license": LICENSE, "from": "FGVM01TM00000001", "to": "FGVM01TM00000009", "grace_secs": 100_000_000}),
            StatusCode::BAD_REQUEST,
            "forticare.transfer.invalid",
        ),
        (
            json!({"license": LICENSE, "from": "FGVM01TM00000001", "to": "FGVM01TM00000009", "note": "x".repeat(2000)}),
            StatusCode::BAD_REQUEST,
            "forticare.transfer.invalid",
        ),
        (
            json!({"license": "EFTM1", "from": "FGVM01TM00000001", "to": "FGVM01TM00000009"}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            json!({"license": LICENSE, "from": "no serial!", "to": "FGVM01TM00000009"}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            json!({"license": LICENSE, "from": "FGVM01TM00000001"}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            json!({"license": LICENSE, "from": "FGVM01TM00000001", "to": "FGVM01TM00000009", "grace": 5}),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (json!([1, 2]), StatusCode::BAD_REQUEST, "admin.body.invalid"),
    ];
    // Each refusal leaves forticare's whole state (every table, as exported) exactly as it was.
    let before = (
        suite.licenses().await,
        suite.transfers().await,
        forticare_state(&suite).await,
    );
    for (body, status, id) in cases {
        let (got, refusal) = suite.transfer(body.clone()).await;
        assert_eq!(
            (got, refusal["error_id"].as_str()),
            (status, Some(id)),
            "{body}: {refusal}"
        );
        assert!(!refusal["message"].as_str().unwrap().is_empty());
        assert_eq!(
            (
                suite.licenses().await,
                suite.transfers().await,
                forticare_state(&suite).await
            ),
            before,
            "{body}"
        );
    }
    let (status, body) = suite
        .admin_post("forticare", paths::ADMIN_TRANSFERS, &"not json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(forticare_state(&suite).await, before.2);

    // A license whose last ticket is still in its grace period cannot move again.
    let (status, _) = suite
        .transfer(json!({"license": LICENSE, "from": "FGVM01TM00000002", "to": "FGVM01TM00000009", "grace_secs": 600}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let before = forticare_state(&suite).await;
    let (status, refusal) = suite
        .transfer(json!({"license": LICENSE, "from": "FGVM01TM00000009", "to": "FGVM01TM00000010"}))
        .await;
    assert_eq!(
        (status, refusal["error_id"].as_str()),
        (StatusCode::CONFLICT, Some("forticare.transfer.open-ticket"))
    );
    assert_eq!(forticare_state(&suite).await, before);
    suite.advance_clock(600).await;
    let (status, _) = suite
        .transfer(json!({"license": LICENSE, "from": "FGVM01TM00000009", "to": "FGVM01TM00000010"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for ticket in ["9999999", "x/y", "0"] {
        let response = suite
            .client
            .get(format!(
                "{}{}",
                suite.url("forticare"),
                paths::fill(paths::ADMIN_TRANSFER, &[ticket])
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{ticket}");
    }
}

#[tokio::test]
async fn the_redemption_certificate_carries_its_fields_as_text() {
    let suite = TestSuite::start().await;
    let served = suite.certificate(LICENSE).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.content_type, "application/pdf");
    assert!(
        served
            .disposition
            .contains(&format!("filename=\"{LICENSE}.pdf\"")),
        "{}",
        served.disposition
    );
    let text = pdf_text(&served.bytes);
    for wanted in [
        "FortiToken Mobile Redemption Certificate",
        "FTM-ELIC-5",
        "Quantity 5 FortiToken Mobile tokens",
        &format!("Serial Number {LICENSE}"),
        &format!("Activation Code {OLD_CODE}"),
        "Certificate Valid Until ",
    ] {
        assert!(text.contains(wanted), "{wanted:?} not in {text:?}");
    }
    let valid_until = text
        .split("Certificate Valid Until ")
        .nth(1)
        .unwrap()
        .chars()
        .take(12)
        .collect::<String>();
    assert!(
        valid_until.len() == 12 && valid_until.as_bytes()[6] == b',',
        "{valid_until}"
    );

    // A transfer puts the new code on the certificate.
    suite
        .import("forticare", "FGVM01TM00000001", &[], OLD_CODE)
        .await;
    let (status, ticket) = suite
        .transfer(json!({"license": LICENSE, "from": "FGVM01TM00000001", "to": "FGVM01TM00000002"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let text = pdf_text(&suite.certificate(LICENSE).await.bytes);
    let new_code = ticket["activation_code"].as_str().unwrap();
    assert!(
        text.contains(&format!("Activation Code {new_code}")),
        "{text}"
    );
    assert!(!text.contains(OLD_CODE));

    // A trial has no certificate; an unknown or malformed id gets a clear error.
    suite
        .import(
            "forticare",
            "FGVM01TM00000001",
            &[],
            "0000-0000-0000-0000-0000",
        )
        .await;
    let trial = protocol::modeled::trial_license(&"FGVM01TM00000001".parse().unwrap(), 0);
    assert_eq!(
        suite.certificate(trial.as_str()).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        suite.certificate("EFTM000000009999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        suite.certificate("nonsense").await.status,
        StatusCode::BAD_REQUEST
    );
}

/// The QR code on the redemption certificate, read the way a phone's scanner reads a printed one: the image
/// embedded in the PDF's page, extracted with a PDF reader and decoded with a QR decoder.
#[tokio::test]
async fn the_certificate_qr_code_reads_back_as_the_activation_code() {
    let suite = TestSuite::start().await;
    assert_eq!(pdf_qr(&suite.certificate(LICENSE).await.bytes), OLD_CODE);

    // After a transfer (through the typed client), the certificate the ticket names carries the new code.
    suite
        .import("forticare", "FGVM01TM00000001", &[], OLD_CODE)
        .await;
    let tickets = suite.api().transfers();
    let ticket = tickets
        .open(&protocol::ledger::TransferRequest {
            license: LICENSE.parse().unwrap(),
            from: "FGVM01TM00000001".parse().unwrap(),
            to: "FGVM01TM00000002".parse().unwrap(),
            rma: false,
            grace_secs: None,
            note: None,
        })
        .await
        .unwrap();
    let new_code = ticket.activation_code.to_string();
    assert_ne!(new_code, OLD_CODE);
    assert_eq!(
        pdf_qr(&tickets.certificate(&ticket).await.unwrap()),
        new_code
    );
    assert_eq!(tickets.get(&ticket.ticket).await.unwrap(), ticket);
    assert_eq!(
        tickets.list().await.unwrap().transfers,
        std::slice::from_ref(&ticket)
    );
    let refused = tickets
        .open(&protocol::ledger::TransferRequest {
            license: LICENSE.parse().unwrap(),
            from: "FGVM01TM00000001".parse().unwrap(),
            to: "FGVM01TM00000003".parse().unwrap(),
            rma: false,
            grace_secs: None,
            note: None,
        })
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("forticare.transfer.not-owner"),
        "{refused:#}"
    );
}

/// The text of the QR code in the image on a PDF's first page: the image XObject found through the page's
/// resources by `lopdf`, its 8-bit gray samples scaled up (8 pixels a sample, as a page is scanned) and
/// read by `rqrr`.
fn pdf_qr(pdf: &[u8]) -> String {
    let document = lopdf::Document::load_mem(pdf).unwrap();
    let page = *document.get_pages().get(&1).unwrap();
    let images = document.get_page_images(page).unwrap();
    assert_eq!(images.len(), 1, "one image on the certificate");
    let image = &images[0];
    assert_eq!(
        (image.color_space.as_deref(), image.bits_per_component),
        (Some("DeviceGray"), Some(8))
    );
    assert!(
        image.filters.as_ref().is_none_or(Vec::is_empty),
        "samples stored as they are: {:?}",
        image.filters
    );
    let (width, height) = (
        usize::try_from(image.width).unwrap(),
        usize::try_from(image.height).unwrap(),
    );
    assert_eq!(image.content.len(), width * height);
    const SCALE: usize = 8;
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width * SCALE, height * SCALE, |x, y| {
            image.content[(y / SCALE) * width + x / SCALE]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

/// The text of a PDF's first page, as a PDF text extractor reads it.
fn pdf_text(pdf: &[u8]) -> String {
    let document = lopdf::Document::load_mem(pdf).unwrap();
    document.extract_text(&[1]).unwrap()
}

#[tokio::test]
async fn tickets_void_codes_and_api_users_survive_a_restart_and_travel_in_state() {
    let dir = tempfile::tempdir().unwrap();
    let suite =
        TestSuite::start_with(test_options(Some(dir.path())), e2e::default_fixtures()).await;
    suite
        .import("forticare", "FGVM01TM00000001", &[], OLD_CODE)
        .await;
    let (status, ticket) = suite
        .transfer(json!({"license": LICENSE, "from": "FGVM01TM00000001", "to": "FGVM01TM00000002", "grace_secs": 0}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = suite
        .create_api_user(
            json!({"username": "ops-script", "password": "hunter22", "account_id": 42}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let api_token = suite.v3_login("ops-script", "hunter22").await;
    let state: Value = suite.admin_get("forticare", paths::ADMIN_STATE).await;
    let exported = state.to_string();
    assert!(
        !exported.contains("hunter22"),
        "passwords never leave as themselves"
    );
    assert!(
        !exported.contains(&api_token),
        "tokens never leave as themselves"
    );
    suite.stop().await;

    let suite =
        TestSuite::start_with(test_options(Some(dir.path())), e2e::default_fixtures()).await;
    assert_eq!(
        suite.transfers().await["transfers"][0]["ticket"],
        ticket["ticket"]
    );
    let refused = suite
        .import("forticare", "FGVM01TM00000003", &[], OLD_CODE)
        .await;
    assert!(LICENSE_CODE_INVALID.matches(refused.error.as_ref().unwrap()));
    let (status, _) = suite
        .v3(paths::V3_LICENSES_LIST, &api_token, json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the bearer token survives the restart"
    );

    // Reset brings the fixtures back and forgets tickets; importing the state brings them back.
    let (status, _) = suite
        .admin_post("forticare", paths::ADMIN_RESET, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(suite.transfers().await["transfers"], json!([]));
    let granted = suite
        .import("forticare", "FGVM01TM00000003", &[], OLD_CODE)
        .await;
    assert_eq!(granted.error, None, "the fixture license is back, unmoved");
    let response = suite
        .client
        .put(format!("{}{}", suite.url("forticare"), paths::ADMIN_STATE))
        .json(&state)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        suite.transfers().await["transfers"][0]["ticket"],
        ticket["ticket"]
    );
    assert_eq!(suite.v3_login("ops-script", "hunter22").await.len(), 30);
    let request = ActivationLicenseRequest {
        header: header("FGVM01TM00000003", &[]),
        license_activation_code: OLD_CODE.into(),
    };
    let (_, body) = suite
        .post_process("forticare", Envelope::to_vec(&request))
        .await;
    let answer: Envelope<ActivationLicenseResponse> = serde_json::from_value(body).unwrap();
    assert!(LICENSE_CODE_INVALID.matches(answer.0.error.as_ref().unwrap()));

    // A state whose void code names a ticket it does not have is refused whole.
    let mut broken = state.clone();
    let trees = broken["trees"].as_object_mut().unwrap();
    trees.insert("transfers".into(), json!([]));
    let response = suite
        .client
        .put(format!("{}{}", suite.url("forticare"), paths::ADMIN_STATE))
        .json(&broken)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        suite.transfers().await["transfers"][0]["ticket"],
        ticket["ticket"]
    );
}

/// Customer Service tickets are numbered like FortiCare's: decimal numbers that only grow, counted from the
/// highest ticket there is, compared as numbers (so `10000000` follows `9999999`), across a state import
/// and a restart. A state whose ticket number is not such a number is refused whole.
#[tokio::test]
async fn ticket_numbers_grow_numerically_across_state_import_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let suite =
        TestSuite::start_with(test_options(Some(dir.path())), e2e::default_fixtures()).await;
    suite.freeze_clock().await;
    suite
        .import("forticare", "FGVM01TM00000001", &[], OLD_CODE)
        .await;
    let serial = |n: u32| format!("FGVM01TM{n:08}");
    let move_to = |from: u32, to: u32| json!({"license": LICENSE, "from": serial(from), "to": serial(to), "grace_secs": 0});
    let (status, first) = suite.transfer(move_to(1, 2)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        first["ticket"].as_str(),
        Some(
            protocol::modeled::FIRST_TRANSFER_TICKET
                .to_string()
                .as_str()
        )
    );

    // The same lab, its ticket renumbered 9999999 (as a lab exported after many tickets would be).
    let state: Value = suite.admin_get("forticare", paths::ADMIN_STATE).await;
    let first_number = first["ticket"].as_str().unwrap();
    let renumbered: Value = serde_json::from_str(
        &state
            .to_string()
            .replace(&format!("\"{first_number}\""), "\"9999999\""),
    )
    .unwrap();
    let put = |body: Value| {
        let request = suite
            .client
            .put(format!("{}{}", suite.url("forticare"), paths::ADMIN_STATE))
            .json(&body);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(put(renumbered.clone()).await, StatusCode::OK);
    let numbers = |list: Value| -> Vec<String> {
        list["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["ticket"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(numbers(suite.transfers().await), ["9999999"]);
    for (from, to, want) in [(2, 3, "10000000"), (3, 4, "10000001")] {
        let (status, ticket) = suite.transfer(move_to(from, to)).await;
        assert_eq!(status, StatusCode::CREATED, "{ticket}");
        assert_eq!(ticket["ticket"], want);
    }
    assert_eq!(
        numbers(suite.transfers().await),
        ["9999999", "10000000", "10000001"],
        "listed oldest first, by number"
    );

    // A ticket number with a leading zero, or none at all, is refused whole and changes nothing.
    for bad in ["0009999999", "0", "ticket-1"] {
        let broken: Value = serde_json::from_str(
            &renumbered
                .to_string()
                .replace("\"9999999\"", &format!("\"{bad}\"")),
        )
        .unwrap();
        assert_eq!(put(broken).await, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            numbers(suite.transfers().await),
            ["9999999", "10000000", "10000001"]
        );
    }
    suite.stop().await;

    // After a restart the count goes on.
    let suite =
        TestSuite::start_with(test_options(Some(dir.path())), e2e::default_fixtures()).await;
    let (status, ticket) = suite.transfer(move_to(4, 5)).await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(ticket["ticket"], "10000002");
}

/// forticare's whole state as exported (every table, record by record, and the armed scenarios), without
/// the moment of the export: what a refusal must leave exactly as it was.
async fn forticare_state(suite: &TestSuite) -> Value {
    let state: Value = suite.admin_get("forticare", paths::ADMIN_STATE).await;
    json!({"trees": state["trees"], "scenarios": state["scenarios"]})
}

/// After a transfer, the new owner's HA peer redeems the new code (joining the cluster, as a first import's
/// peers do) and gets the license's tokens; the old owner's peer does not. The old code is void through
/// every door: a SoftToken import by anyone, and the v3 API's `licenses/register` (errorCode 201, naming the
/// ticket), and neither refusal changes forticare's state.
#[tokio::test]
async fn the_new_owners_ha_peer_redeems_the_new_code_and_the_old_code_is_void_everywhere() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let (a, a_peer) = ("FGVM01TM00000001", "FGVM01TM00000011");
    let (b, b_peer) = ("FGVM01TM00000002", "FGVM01TM00000022");
    let granted = suite.import("forticare", a, &[a_peer], OLD_CODE).await;
    assert_eq!(granted.error, None);
    let (status, ticket) = suite
        .transfer(json!({"license": LICENSE, "from": a_peer, "to": b, "grace_secs": 0}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(ticket["from_cluster"], json!([a, a_peer]));
    let new_code = ticket["activation_code"].as_str().unwrap().to_owned();

    // The new owner's peer, naming the new owner in its cluster, redeems the new code.
    let peer = suite.import("forticare", b_peer, &[b], &new_code).await;
    assert_eq!(peer.error, None, "{peer:?}");
    assert_eq!(peer.license, LICENSE);
    assert_eq!(peer.tokens.as_ref().map(Vec::len), Some(5));
    // Now a member of the cluster, it may import alone, and poll the tokens as its own.
    let alone = suite.import("forticare", b_peer, &[], &new_code).await;
    assert_eq!(alone.error, None, "{alone:?}");
    let token = peer.tokens.unwrap()[0].token.clone();
    let polled = suite.poll(b_peer, &[], &[&token]).await;
    assert_eq!(polled.tokens[0].error, None, "{polled:?}");
    let shown: Value = suite
        .admin_get("forticare", &paths::fill(paths::ADMIN_LICENSE, &[LICENSE]))
        .await;
    assert_eq!(shown["owner"]["cluster"], json!([b, b_peer]), "{shown}");

    // The old owner's cluster, even listing itself as peers, may not redeem the new code.
    let refused = suite.import("forticare", a_peer, &[a], &new_code).await;
    assert_eq!(
        refused.error.as_ref().map(|e| e.error_code),
        protocol::modeled::LICENSE_REGISTERED_ELSEWHERE.code
    );

    // The old code, through every door, changes nothing.
    let before = forticare_state(&suite).await;
    for (serial, peers) in [
        (a, &[][..]),
        (b, &[b_peer][..]),
        ("FGVM01TM00000099", &[][..]),
    ] {
        let refused = suite.import("forticare", serial, peers, OLD_CODE).await;
        assert!(
            LICENSE_CODE_INVALID.matches(refused.error.as_ref().unwrap()),
            "{serial}: {refused:?}"
        );
    }
    let api_token = suite
        .v3_login(
            e2e::forticare_api::API_USER,
            e2e::forticare_api::API_PASSWORD,
        )
        .await;
    let state_with_token = forticare_state(&suite).await;
    for body in [
        json!({"licenseRegistrationCode": OLD_CODE, "serialNumber": "FGVM01TM00000099"}),
        json!({"licenseRegistrationCode": OLD_CODE, "serialNumber": b}),
        json!({"licenseRegistrationCode": OLD_CODE}),
    ] {
        let (status, answer) = suite
            .v3(paths::V3_LICENSES_REGISTER, &api_token, body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(
            answer["error"]["errorCode"].as_i64(),
            protocol::modeled::V3_LICENSE_CODE_INVALID
                .code
                .map(i64::from),
            "{answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "voided by transfer ticket {}",
                ticket["ticket"].as_str().unwrap()
            )),
            "{message}"
        );
        assert_eq!(forticare_state(&suite).await, state_with_token, "{body}");
    }
    // Only the token the login issued differs from the state before.
    let without_tokens = |mut state: Value| {
        state["trees"].as_object_mut().unwrap().remove("api_tokens");
        state
    };
    assert_eq!(without_tokens(state_with_token), without_tokens(before));
}

/// A license created with a `shipped` that is not a `YYYY-MM-DD` day is refused with a clear error, and
/// forticare's state is exactly as it was.
#[tokio::test]
async fn a_bad_shipped_day_is_refused_and_creates_nothing() {
    let suite = TestSuite::start().await;
    let before = forticare_state(&suite).await;
    for shipped in [
        json!("2025-02-30"),
        json!("2025-13-01"),
        json!("04/08/2025"),
        json!("yesterday"),
        json!(""),
        json!(20_250_804),
        json!({"year": 2025}),
    ] {
        let mut body =
            json!({"id": "EFTM000000000777", "code": "7770-0000-0000-0000-0777", "seats": 2});
        body["shipped"] = shipped.clone();
        let (status, refusal) = suite
            .admin_post("forticare", paths::ADMIN_LICENSES, &body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shipped}: {refusal}");
        assert_eq!(refusal["error_id"], "admin.body.invalid", "{refusal}");
        let message = refusal["message"].as_str().unwrap();
        if shipped.is_string() {
            assert!(
                message.contains("is not a date of the form YYYY-MM-DD"),
                "{shipped}: {message}"
            );
        } else {
            assert!(message.contains("invalid type"), "{shipped}: {message}");
        }
        assert_eq!(forticare_state(&suite).await, before, "{shipped}");
    }
}
