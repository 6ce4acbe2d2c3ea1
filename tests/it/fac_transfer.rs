//! Token transfer between phones beyond the happy path in `fac.rs`: bad input on ftm's token-transfer
//! endpoints and on the phones' transfer endpoints (each answered in its service's shape, nothing changed),
//! what a completed transfer leaves behind (no sealed seed, no HMAC) and where the FAC's pushes go after it
//! (the new phone), a transfer code sent by SMS, and state export, import and reset with a transfer in
//! flight, a Windows agent's offline cache and emergency codes. Through `fortimock-testing`'s typed
//! transfer client (`typed_token_transfer`) where a phone acts.

use e2e::TestSuite;
use e2e::fac_client::{FacClient, outbox};
use protocol::id::TokenSerial;
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

const FIFTY_SEATS: &str = "5050-5050-5050-5050-5050";

/// A FAC answering to `localhost` (where the virtual phones reach it) with transfer on, the 50-seat license,
/// and the creation body's other settings (`extra`); answers its serial and client.
async fn fac(suite: &TestSuite, extra: Value) -> (String, FacClient) {
    let (serial, fac) = suite.new_fac_with("localhost", extra).await;
    let (status, _) = fac
        .post("fortitokenmobilelicenses/", json!({"license": FIFTY_SEATS}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = fac
        .patch(
            "userfortitokenpolicy/",
            json!({"ftm_transfer_enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    (serial, fac)
}

/// User `name` (created with `fields`) gets a FortiToken Mobile token, activated on a new phone; answers the
/// token and the phone.
async fn user_on_phone(
    suite: &TestSuite,
    serial: &str,
    fac: &FacClient,
    name: &str,
    fields: Value,
) -> (String, String) {
    let mut body = json!({"username": name, "password": "Secret-123", "email": format!("{name}@example.test")});
    for (key, value) in fields.as_object().unwrap() {
        body[key] = value.clone();
    }
    let (status, created) = fac.post("localusers/", body).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{created}");
    let id = created[0]["id"].as_u64().unwrap();
    let (status, user) = fac
        .patch(
            &format!("localusers/{id}/"),
            json!({"token_auth": true, "token_type": "ftm"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{user}");
    let token = user["token_serial"].as_str().unwrap().to_owned();
    let code = outbox(suite, serial)
        .await
        .iter()
        .rev()
        .find(|m| m["kind"] == "activation" && m["user"] == name)
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = suite.new_phone(json!({})).await.id;
    let (status, answer) = suite.activate(&phone, &code).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    (token, phone)
}

/// A service's records (its state export without the export's time).
async fn records(suite: &TestSuite, service: &str) -> Value {
    let state: Value = suite.admin_get(service, paths::ADMIN_STATE).await;
    state["trees"].clone()
}

/// POSTs `body` (as is) to ftm's `path`.
async fn ftm_raw(suite: &TestSuite, path: &str, body: &str) -> (StatusCode, Value) {
    let response = suite
        .client
        .post(format!("{}{path}", suite.url("ftm")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// POSTs `body` (as is) to the phone service's `path`.
async fn phone_raw(suite: &TestSuite, path: &str, body: &str) -> (StatusCode, Value) {
    let response = suite
        .client
        .post(format!("{}{path}", suite.url("phone")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn token_serial(token: &str) -> TokenSerial {
    token.parse().unwrap()
}

#[tokio::test]
async fn ftm_transfer_endpoints_refuse_bad_input_in_their_shape_and_change_nothing() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = fac(&suite, json!({})).await;
    let (token, phone) = user_on_phone(&suite, &serial, &fac, "ava", json!({})).await;
    // A transfer in flight, so there is something to leave unchanged.
    let address = suite
        .api()
        .token_transfers()
        .fac_address(&serial)
        .await
        .unwrap();
    let started = suite
        .api()
        .token_transfers()
        .start(&phone, &address, &[])
        .await
        .unwrap()
        .unwrap();
    let before = records(&suite, "ftm").await;

    let seed = "0123456789ABCDEF0123456789ABCDEF01234567";
    let entry = protocol::modeled::TRANSFER_BAD_REQUEST;
    // start, code and status: not JSON, not an object, fields missing, of the wrong type, or blank, and
    // values the service cannot read. Each answer keeps its endpoint's shape.
    let bad_start = [
        "not json".to_owned(),
        "[1, 2]".to_owned(),
        "{}".to_owned(),
        json!({"sn": serial, "reg_id": "r", "hmac": "00"}).to_string(),
        json!({"sn": serial, "tokens": [], "reg_id": "r", "hmac": "00"}).to_string(),
        json!({"sn": serial, "tokens": [{"token": token, "seed": seed, "type": "totp", "period": 30, "digits": 6, "counter": 1}], "reg_id": " ", "hmac": "00"}).to_string(),
        json!({"sn": serial, "tokens": [{"token": token, "seed": "not-a-seed", "type": "totp", "period": 30, "digits": 6, "counter": 1}], "reg_id": "r", "hmac": "00"}).to_string(),
        json!({"sn": serial, "tokens": [{"token": "FTKMOB-NOPE", "seed": seed, "type": "totp", "period": 30, "digits": 6, "counter": 1}], "reg_id": "r", "hmac": "00"}).to_string(),
        json!({"sn": serial, "tokens": [{"token": token, "seed": seed, "type": "totp", "period": "thirty", "digits": 6, "counter": 1}], "reg_id": "r", "hmac": "00"}).to_string(),
        // A token given as an array of its fields, which serde alone would read in order.
        json!({"sn": serial, "tokens": [[token, seed, "totp", 30, 6, 1]], "reg_id": "r", "hmac": "00"}).to_string(),
    ];
    for body in &bad_start {
        let (status, answer) = ftm_raw(&suite, paths::TOKEN_TRANSFER_START, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["result"], entry.code.unwrap(), "{body}: {answer}");
        assert_eq!(
            answer["error"],
            json!({"error_code": entry.code.unwrap(), "error_message": entry.text})
        );
        assert_eq!(answer["transfer_id"], Value::Null);
        assert!(answer["message"].is_string(), "{answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(!detail.is_empty());
        assert!(
            !detail.contains(seed),
            "the detail quotes the seed: {detail}"
        );
        assert!(
            !detail.contains("thirty"),
            "the detail quotes a value: {detail}"
        );
    }
    let (_, answer) = ftm_raw(&suite, paths::TOKEN_TRANSFER_START, "{}").await;
    assert!(
        answer["detail"].as_str().unwrap().contains("missing field"),
        "{answer}"
    );
    for body in [
        "nope",
        "{}",
        r#"{"sn": 7, "transfer_id": "x"}"#,
        r#"{"sn": "FAC-VMTM00000001", "transfer_id": " "}"#,
    ] {
        let (status, answer) = ftm_raw(&suite, paths::TOKEN_TRANSFER_CODE, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["result"], entry.code.unwrap());
        assert_eq!(answer["transfer_code"], Value::Null);
        assert!(answer["detail"].is_string());
    }
    for body in [
        "",
        r#"{"transfer_id": "x"}"#,
        r#"{"transfer_id": "x", "reg_id": ""}"#,
    ] {
        let (status, answer) = ftm_raw(&suite, paths::TOKEN_TRANSFER_STATUS, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["result"], entry.code.unwrap());
        assert_eq!(answer["status"], "");
    }

    // Well-formed but refused: a token the request's HMAC does not sign (unknown to the service), a transfer
    // the service does not know, asked for by another appliance, or by another phone (wrong registration).
    let forged = json!({"sn": serial, "tokens": [{"token": token, "seed": seed, "type": "totp", "period": 30, "digits": 6, "counter": 1}],
                        "reg_id": "r", "hmac": "00", "msg_sn": "FortiToken Mobile"});
    let (status, answer) = ftm_raw(&suite, paths::TOKEN_TRANSFER_START, &forged.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["error"]["error_code"], 51, "{answer}");
    let id = &started.transfer_id;
    for (body, what) in [
        (
            json!({"sn": serial, "transfer_id": "feedfeedfeedfeed"}),
            "unknown transfer",
        ),
        (
            json!({"sn": "FAC-VMTM99999999", "transfer_id": id}),
            "another FAC",
        ),
    ] {
        let (status, answer) = ftm_raw(&suite, paths::TOKEN_TRANSFER_CODE, &body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        assert_eq!(answer["error"]["error_code"], 55, "{what}: {answer}");
        assert_eq!(answer["transfer_code"], Value::Null);
    }
    let (status, answer) = ftm_raw(
        &suite,
        paths::TOKEN_TRANSFER_STATUS,
        &json!({"transfer_id": id, "reg_id": "another-phone"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["error"]["error_code"], 55, "{answer}");
    // The Mobile endpoint: a transfer code nobody issued, and a mobile id the service cannot take.
    let redeem = |mobile_id: &str, code: &str| {
        protocol::envelope::Envelope::to_vec(&protocol::token_transfer::MobileTransferRequest {
            version: "1".to_owned(),
            device_version: "android 14".to_owned(),
            device_build: "1".to_owned(),
            mobile_id: mobile_id.to_owned(),
            registration_id: "reg".to_owned(),
            transfer_code: code.to_owned(),
        })
    };
    let (status, answer) = suite
        .post_mobile(redeem("0123456789abcdef", "AAAAAAAAAAAAAAAA"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["d"]["error"]["error_code"], 52, "{answer}");
    let code = outbox(&suite, &serial).await.last().unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, answer) = suite.post_mobile(redeem("", &code)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    assert_eq!(records(&suite, "ftm").await, before);
    // The code the bad requests did not burn still moves the token.
    let new_phone = suite.new_phone(json!({})).await.id;
    let installed = suite
        .api()
        .token_transfers()
        .complete(&new_phone, &code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installed.tokens[0].serial.as_str(), token);
    suite.stop().await;
}

#[tokio::test]
async fn phone_transfer_endpoints_refuse_bad_input_and_change_nothing() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = fac(&suite, json!({})).await;
    let (_, phone) = user_on_phone(&suite, &serial, &fac, "bea", json!({})).await;
    let host = fac.origin.trim_start_matches("https://").to_owned();
    let before = (
        records(&suite, "phone").await,
        records(&suite, "ftm").await,
        outbox(&suite, &serial).await.len(),
    );
    let start = paths::fill(paths::PHONE_TRANSFER, &[&phone]);
    let check = paths::fill(paths::PHONE_TRANSFER_CHECK, &[&phone]);
    let complete = paths::fill(paths::PHONE_TRANSFER_COMPLETE, &[&phone]);
    for (path, body, status, id) in [
        (
            &start,
            "not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            &start,
            "{}".to_owned(),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            &start,
            json!({"fac": host, "tokens": ["FTKMOB0000000000"]}).to_string(),
            StatusCode::NOT_FOUND,
            "phone.token-not-found",
        ),
        (
            &start,
            json!({"fac": host, "tokens": ["not a serial"]}).to_string(),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        // A FortiAuthenticator address the phone could not call: refused before ftm hears of it.
        (
            &start,
            json!({"fac": " "}).to_string(),
            StatusCode::BAD_REQUEST,
            "phone.bad-fac",
        ),
        (
            &start,
            json!({"fac": format!("{host}/api/v1")}).to_string(),
            StatusCode::BAD_REQUEST,
            "phone.bad-fac",
        ),
        (
            &start,
            json!({"fac": format!("admin@{host}")}).to_string(),
            StatusCode::BAD_REQUEST,
            "phone.bad-fac",
        ),
        (
            &start,
            json!({"fac": "fac.lab:https"}).to_string(),
            StatusCode::BAD_REQUEST,
            "phone.bad-fac",
        ),
        (
            &paths::fill(paths::PHONE_TRANSFER, &["no-such-phone"]),
            json!({"fac": host}).to_string(),
            StatusCode::NOT_FOUND,
            "phone.not-found",
        ),
        (
            &check,
            r#"{"transfer_id": "x"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            &check,
            json!({"transfer_id": "x", "tokens": [], "extra": 1}).to_string(),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            &check,
            json!({"transfer_id": "feedfeedfeedfeed", "tokens": []}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ftm.transfer.unknown",
        ),
        (
            &complete,
            "[]".to_owned(),
            StatusCode::BAD_REQUEST,
            "admin.body.invalid",
        ),
        (
            &complete,
            json!({"code": "AAAAAAAAAAAAAAAA"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ftm.transfer.code-invalid",
        ),
        (
            &paths::fill(paths::PHONE_TRANSFER_COMPLETE, &["no-such-phone"]),
            json!({"code": "AAAAAAAAAAAAAAAA"}).to_string(),
            StatusCode::NOT_FOUND,
            "phone.not-found",
        ),
    ] {
        let (got, answer) = phone_raw(&suite, path, &body).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert_eq!(answer["error_id"], id, "{path} {body}: {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    let after = (
        records(&suite, "phone").await,
        records(&suite, "ftm").await,
        outbox(&suite, &serial).await.len(),
    );
    assert_eq!(after, before);
    suite.stop().await;
}

#[tokio::test]
async fn a_completed_transfer_keeps_no_key_material_and_pushes_go_to_the_new_phone() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = fac(
        &suite,
        json!({"ftm_push": {"status": true, "server_port": 0}}),
    )
    .await;
    let (token, old_phone) = user_on_phone(&suite, &serial, &fac, "cleo", json!({})).await;
    let transfers = suite.api().token_transfers();
    let address = transfers.fac_address(&serial).await.unwrap();
    let started = transfers
        .start(&old_phone, &address, &[token_serial(&token)])
        .await
        .unwrap()
        .unwrap();
    // In flight, ftm holds the tokens' seeds, sealed, and the HMAC.
    let in_flight = records(&suite, "ftm").await;
    let held = transfer_records(&in_flight);
    assert_eq!(held.len(), 1, "{in_flight}");
    let sealed: Vec<String> = held[0]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["sealed_seed"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sealed.len(), 1);
    let hmac = held[0]["hmac"].as_str().unwrap().to_owned();
    assert!(!hmac.is_empty());

    let code = transfers.latest_code(&serial).await.unwrap().unwrap().code;
    let new_phone = suite.new_phone(json!({})).await.id;
    let installed = transfers
        .complete(&new_phone, &code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installed.tokens[0].serial.as_str(), token);

    // Completed: the transfer record names what moved, and nothing of its key material is left anywhere in
    // ftm's state.
    let done = records(&suite, "ftm").await;
    let kept = transfer_records(&done);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["status"], "completed");
    assert_eq!(kept[0]["tokens"], json!([]));
    assert_eq!(kept[0]["moved"], json!([token]));
    assert_eq!(kept[0]["hmac"], "");
    let text = done.to_string();
    for secret in sealed.iter().chain([&hmac]) {
        assert!(
            !text.contains(secret.as_str()),
            "left in ftm's state: {secret}"
        );
    }

    // The FAC learns the new phone on its next poll: a push login reaches the new phone, not the old one,
    // which still holds its copy of the token (it has not checked the transfer yet) and would approve.
    let _: protocol::appliance::PollOutcome = suite
        .appliance_op(&serial, "poll", json!({}))
        .await
        .unwrap();
    for phone in [&old_phone, &new_phone] {
        suite
            .change_phone(phone, json!({"push_policy": "approve"}))
            .await;
    }
    let old: Value = suite
        .admin_get("phone", &paths::fill(paths::PHONE, &[&old_phone]))
        .await;
    assert_eq!(old["tokens"].as_array().unwrap().len(), 1, "{old}");
    let (status, answer) = fac
        .post(
            "pushauth/",
            json!({"username": "cleo", "user_ip": "198.51.100.9"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "authenticated");
    assert_eq!(suite.inbox(&new_phone).await.pushes.len(), 1);
    assert!(suite.inbox(&old_phone).await.pushes.is_empty());
    // The old phone's check removes its copy.
    let checked = transfers
        .check(&old_phone, &started.transfer_id, &started.tokens)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(checked.status, "completed");
    suite.stop().await;
}

/// The records of ftm's `transfers` table, decoded.
fn transfer_records(trees: &Value) -> Vec<Value> {
    trees["transfers"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .map(|r| {
                    r.get("value").cloned().unwrap_or_else(|| {
                        serde_json::from_str(r["value_text"].as_str().unwrap()).unwrap()
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_transfer_code_goes_by_sms_to_a_user_who_activates_by_sms() {
    let suite = TestSuite::with_fac_host().await;
    let (serial, fac) = fac(&suite, json!({})).await;
    let (token, old_phone) = user_on_phone(
        &suite,
        &serial,
        &fac,
        "dina",
        json!({"mobile_number": "+46-701234567", "ftm_act_method": "sms"}),
    )
    .await;
    let transfers = suite.api().token_transfers();
    let address = transfers.fac_address(&serial).await.unwrap();
    let started = transfers
        .start(&old_phone, &address, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started.method.as_deref(), Some("sms"));
    let sms = transfers.latest_code(&serial).await.unwrap().unwrap();
    assert_eq!(sms.channel, protocol::fac_admin::Channel::Sms);
    assert_eq!(sms.to, "+46-701234567");
    assert_eq!(sms.user, "dina");
    assert!(sms.attachments.is_empty(), "an SMS has no QR code");
    assert!(sms.body.contains(&sms.code), "{}", sms.body);
    // No email went out for the transfer.
    let emails = outbox(&suite, &serial)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "transfer-code" && m["channel"] == "email")
        .count();
    assert_eq!(emails, 0);
    let new_phone = suite.new_phone(json!({})).await.id;
    let installed = transfers
        .complete(&new_phone, &sms.code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installed.tokens[0].serial.as_str(), token);
    let refused = transfers
        .complete(&new_phone, &sms.code)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.error_id, "ftm.transfer.code-used");
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
            &paths::fill(paths::APPLIANCE_AGENT_LOGIN, &[serial, "pc7"]),
            &json!({"user": user, "code": code}),
        )
        .await
}

async fn put_state(suite: &TestSuite, service: &str, state: &Value) {
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
        response.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn state_and_reset_cover_transfers_in_flight_agent_caches_and_emergency_codes() {
    let suite = TestSuite::with_fac_host().await;
    suite.freeze_clock().await;
    let (serial, fac) = fac(&suite, json!({})).await;
    let (token, old_phone) = user_on_phone(&suite, &serial, &fac, "elif", json!({})).await;
    let (status, _) = fac
        .patch(
            "userfortitokenpolicy/",
            json!({"offline_shared_secret": "agent-secret", "offline_enabled": true,
                   "emergency_codes_enabled": true, "emergency_code_valid_days": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, emergency) = fac
        .post("emergencytoken/", json!({"username": "elif"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{emergency}");
    let codes: Vec<String> = emergency["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let (status, cache) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_AGENT_SYNC, &[&serial, "pc7"]),
            &json!({"user": "elif"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cache}");
    // One emergency code used before the export: it stays used after the import.
    assert_eq!(
        agent_login(&suite, &serial, "elif", &codes[0]).await.0,
        StatusCode::OK
    );
    let transfers = suite.api().token_transfers();
    let address = transfers.fac_address(&serial).await.unwrap();
    let started = transfers
        .start(&old_phone, &address, &[])
        .await
        .unwrap()
        .unwrap();
    let code = transfers.latest_code(&serial).await.unwrap().unwrap().code;

    let services = ["appliance", "phone", "ftm"];
    let mut exported = Vec::new();
    for service in services {
        let state: Value = suite.admin_get(service, paths::ADMIN_STATE).await;
        exported.push(state);
    }
    let appliance_trees = exported[0]["trees"].to_string();
    assert!(
        exported[0]["trees"]["agent_caches"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(
        exported[0]["trees"]["fac_emergency"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(transfer_records(&exported[2]["trees"]).len(), 1);
    // Emergency codes and the shared secret never travel as themselves.
    for secret in codes.iter().map(String::as_str).chain(["agent-secret"]) {
        assert!(!appliance_trees.contains(secret), "{secret} in the export");
    }

    // Reset: the FAC, its agent caches and emergency codes, the phones and the transfer are gone.
    for service in services {
        let (status, body) = suite
            .admin_post(service, paths::ADMIN_RESET, &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{service}: {body}");
    }
    assert_eq!(records(&suite, "ftm").await["transfers"], json!([]));
    let (status, _) = agent_login(&suite, &serial, "elif", &codes[1]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stranger = suite.new_phone(json!({})).await.id;
    let refused = transfers
        .complete(&stranger, &code)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.error_id, "ftm.transfer.code-invalid");

    // Import: everything back as it stood. The used emergency code stays used, the next one works once,
    // the transfer in flight completes with its code, and the old phone then gives its copy up.
    for (service, state) in services.iter().zip(&exported) {
        put_state(&suite, service, state).await;
    }
    let (_, outcome) = agent_login(&suite, &serial, "elif", &codes[0]).await;
    assert_eq!(outcome["result"], "replayed", "{outcome}");
    let (status, outcome) = agent_login(&suite, &serial, "elif", &codes[1]).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["via"], "emergency");
    let new_phone = suite.new_phone(json!({})).await.id;
    let installed = transfers
        .complete(&new_phone, &code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installed.tokens[0].serial.as_str(), token);
    let checked = transfers
        .check(&old_phone, &started.transfer_id, &started.tokens)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(checked.status, "completed");
    let old: Value = suite
        .admin_get("phone", &paths::fill(paths::PHONE, &[&old_phone]))
        .await;
    assert_eq!(old["tokens"], json!([]));
    suite.stop().await;
}
