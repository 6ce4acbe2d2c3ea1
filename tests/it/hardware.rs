//! Hardware FortiTokens end to end: FortiGuard's batches on forticare, activation by serial on virtual
//! appliances (the one-time lock, TAC's reset, DEMO tokens, 200CD tokens served only by seed file, the
//! `cmdb save error` versions, FortiOS's silence on bad serials), assignment and logins with the token's
//! code, and bad input that changes nothing.

use e2e::TestSuite;
use protocol::appliance::LoginResult;
use protocol::hardware::{FortitokenInfo, HardwareBatchList, HardwareBatchView, HardwareOutcome};
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ALREADY: &str = "token already activated, and seed won't be returned";
const NOT_IN_FORTIGUARD: &str = "activation error (token not exist in FortiGuard)";

async fn appliance(suite: &TestSuite, body: Value) -> String {
    suite.new_appliance(body).await.serial.to_string()
}

fn outcome(status: StatusCode, answer: Value) -> HardwareOutcome {
    assert_eq!(status, StatusCode::OK, "{answer}");
    serde_json::from_value(answer).unwrap()
}

async fn batch(suite: &TestSuite, id: &str) -> HardwareBatchView {
    suite
        .admin_get(
            "forticare",
            &paths::fill(paths::ADMIN_HARDWARE_BATCH, &[id]),
        )
        .await
}

#[tokio::test]
async fn a_hardware_token_activates_once_is_assigned_and_logs_in() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK200", 2, false).await;
    assert_eq!(created.tokens.len(), 2);
    let serial = created.tokens[0].serial.to_string();
    assert!(
        serial.starts_with("FTK200") && serial.len() == 16,
        "{serial}"
    );
    let seeds = suite.batch_seeds(&created.batch).await;
    let seed = &seeds.iter().find(|(s, _)| s.as_str() == serial).unwrap().1;
    let a = appliance(&suite, json!({})).await;
    let b = appliance(&suite, json!({})).await;

    // The first activation gets the seed: the token is `new`, Available.
    let (status, answer) = suite.hardware_activate(&a, &[&serial]).await;
    let first = outcome(status, answer);
    assert_eq!(first.tokens[0].status, "new");
    assert_eq!(first.tokens[0].gui_status, "Available");
    assert_eq!(first.tokens[0].source.as_deref(), Some("fortiguard"));
    let locked = batch(&suite, &created.batch).await;
    assert_eq!(locked.tokens[0].state, "locked");
    assert_eq!(locked.tokens[0].locked_to.as_ref().unwrap().as_str(), a);
    // The seed never shows in the debug lines or in forticare's journal.
    let hex = seed.to_hex_upper();
    assert!(!first.debug.join("\n").contains(&hex), "{:?}", first.debug);
    let journal: Value = suite.admin_get("forticare", paths::ADMIN_JOURNAL).await;
    assert!(!journal.to_string().to_uppercase().contains(&hex));

    // Assigned to alice without any user activation step; she logs in with the token's code.
    let (status, row) = suite.hardware_assign(&a, &serial, "alice").await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["gui_status"], "Assigned");
    assert_eq!(row["status"], "active");
    let code = suite.hardware_code(seed).await;
    let (status, login) = suite.login(&a, "alice", &code).await;
    assert_eq!(
        (status, login.result),
        (StatusCode::OK, LoginResult::Success)
    );
    let (status, wrong) = suite.login(&a, "alice", "000000").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}");

    // Any later activation is refused with FortiOS's status: on another appliance the token arrives in
    // error; on A, which holds the seed, the refusal does not replace alice's working token.
    let (status, answer) = suite.hardware_activate(&b, &[&serial]).await;
    let again = outcome(status, answer);
    assert_eq!(again.tokens[0].status, ALREADY);
    assert_eq!(again.tokens[0].gui_status, "Error");
    let (status, answer) = suite.hardware_activate(&a, &[&serial]).await;
    let kept = outcome(status, answer);
    assert_eq!(kept.tokens[0].status, "active");
    assert!(kept.debug.join("\n").contains(ALREADY), "{:?}", kept.debug);
    let info: FortitokenInfo = suite
        .admin_get(
            "appliance",
            &paths::fill(paths::APPLIANCE_FORTITOKEN_INFO, &[&a]),
        )
        .await;
    assert!(info.text.contains(&serial), "{}", info.text);
    let code = suite.hardware_code(seed).await;
    suite.advance_clock(60).await;
    let code_later = suite.hardware_code(seed).await;
    assert_ne!(code, code_later);
    let (status, _) = suite.login(&a, "alice", &code_later).await;
    assert_eq!(status, StatusCode::OK);
    suite.stop().await;
}

#[tokio::test]
async fn unknown_serials_are_refused_and_invalid_ones_dropped_silently() {
    let suite = TestSuite::start().await;
    let a = appliance(&suite, json!({})).await;
    let (status, answer) = suite
        .hardware_activate(&a, &["FTK200ZZZ9999999", "hello", "FTM-1234"])
        .await;
    let result = outcome(status, answer);
    assert_eq!(result.tokens.len(), 1);
    assert_eq!(result.tokens[0].status, NOT_IN_FORTIGUARD);
    assert_eq!(
        result.dropped,
        vec!["hello".to_owned(), "FTM-1234".to_owned()]
    );
    // Only invalid serials: nothing asked, nothing added, no error.
    let (status, answer) = suite.hardware_activate(&a, &["nope"]).await;
    let nothing = outcome(status, answer);
    assert!(nothing.tokens.is_empty() && nothing.debug.is_empty());
    assert_eq!(suite.appliance(&a).await.hardware_tokens.len(), 1);
    suite.stop().await;
}

#[tokio::test]
async fn tac_reset_gives_exactly_one_more_chance() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK210", 1, false).await;
    let serial = created.tokens[0].serial.to_string();
    let a = appliance(&suite, json!({})).await;
    let b = appliance(&suite, json!({})).await;
    let c = appliance(&suite, json!({})).await;
    let (status, answer) = suite.hardware_activate(&a, &[&serial]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, "new");
    let (status, answer) = suite.hardware_activate(&b, &[&serial]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, ALREADY);

    let (status, reset) = suite
        .admin_post(
            "forticare",
            paths::ADMIN_HARDWARE_RESET_LOCK,
            &json!({"serials": [serial]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_eq!(reset["reset"][0]["state"], "available");
    assert_eq!(reset["reset"][0]["resets"], 1);

    // B now gets the seed (its errored row is replaced); C is refused again.
    let (status, answer) = suite.hardware_activate(&b, &[&serial]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, "new");
    let (status, answer) = suite.hardware_activate(&c, &[&serial]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, ALREADY);
    assert_eq!(batch(&suite, &created.batch).await.tokens[0].activations, 2);

    // TAC resets FTK200/210/220 only, and only serials FortiGuard knows; a refusal changes nothing.
    let cd = suite.hardware_batch("FTK211", 1, false).await;
    let before: HardwareBatchList = suite
        .admin_get("forticare", paths::ADMIN_HARDWARE_TOKENS)
        .await;
    for (serials, expected) in [
        (
            json!([cd.tokens[0].serial.to_string()]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!(["FTK200ZZZ9999999"]), StatusCode::NOT_FOUND),
        (json!([serial, "FTK200ZZZ9999999"]), StatusCode::NOT_FOUND),
        (json!(["not a serial"]), StatusCode::BAD_REQUEST),
        (json!([]), StatusCode::BAD_REQUEST),
    ] {
        let (status, answer) = suite
            .admin_post(
                "forticare",
                paths::ADMIN_HARDWARE_RESET_LOCK,
                &json!({ "serials": serials }),
            )
            .await;
        assert_eq!(status, expected, "{serials}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    let after: HardwareBatchList = suite
        .admin_get("forticare", paths::ADMIN_HARDWARE_TOKENS)
        .await;
    assert_eq!(before, after);
    suite.stop().await;
}

#[tokio::test]
async fn tac_refuses_to_reset_the_lock_of_an_assigned_token() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK200", 2, false).await;
    let (held, free) = (
        created.tokens[0].serial.to_string(),
        created.tokens[1].serial.to_string(),
    );
    let a = appliance(&suite, json!({})).await;
    let b = appliance(&suite, json!({})).await;
    let (status, answer) = suite.hardware_activate(&a, &[&held, &free]).await;
    assert_eq!(outcome(status, answer).tokens.len(), 2);
    let (status, row) = suite.hardware_assign(&a, &held, "alice").await;
    assert_eq!(status, StatusCode::OK, "{row}");

    // A reset naming the assigned token is refused whole, naming the user and the appliance.
    let before: HardwareBatchList = suite
        .admin_get("forticare", paths::ADMIN_HARDWARE_TOKENS)
        .await;
    for serials in [json!([held]), json!([free, held])] {
        let (status, answer) = suite
            .admin_post(
                "forticare",
                paths::ADMIN_HARDWARE_RESET_LOCK,
                &json!({ "serials": serials }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(
            answer["error_id"], "forticare.hardware.reset-assigned",
            "{answer}"
        );
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains(&held) && message.contains("alice") && message.contains(&a),
            "{message}"
        );
    }
    let after: HardwareBatchList = suite
        .admin_get("forticare", paths::ADMIN_HARDWARE_TOKENS)
        .await;
    assert_eq!(before, after);
    // The lock holds: B still does not get the seed.
    let (status, answer) = suite.hardware_activate(&b, &[&held]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, ALREADY);

    // The token nobody has is reset, and B gets it.
    let (status, reset) = suite
        .admin_post(
            "forticare",
            paths::ADMIN_HARDWARE_RESET_LOCK,
            &json!({"serials": [free]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    let (status, answer) = suite.hardware_activate(&b, &[&free]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, "new");
    suite.stop().await;
}

#[tokio::test]
async fn demo_tokens_never_lock() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK220", 1, true).await;
    let serial = created.tokens[0].serial.to_string();
    assert_eq!(created.tokens[0].state, "demo");
    for _ in 0..3 {
        let fresh = appliance(&suite, json!({})).await;
        let (status, answer) = suite.hardware_activate(&fresh, &[&serial]).await;
        assert_eq!(outcome(status, answer).tokens[0].status, "new");
    }
    let locks = batch(&suite, &created.batch).await;
    assert_eq!(locks.tokens[0].state, "demo");
    // TAC has nothing to reset on a DEMO token: refused, nothing changed.
    let (status, answer) = suite
        .admin_post(
            "forticare",
            paths::ADMIN_HARDWARE_RESET_LOCK,
            &json!({"serials": [serial]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("DEMO"),
        "{answer}"
    );
    assert_eq!(batch(&suite, &created.batch).await, locks);
    suite.stop().await;
}

#[tokio::test]
async fn ftk211_tokens_come_only_from_the_seed_file() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK211", 2, false).await;
    let serial = created.tokens[0].serial.to_string();
    assert_eq!(created.tokens[0].state, "seed-file-only");
    let a = appliance(&suite, json!({})).await;
    let (status, answer) = suite.hardware_activate(&a, &[&serial]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, NOT_IN_FORTIGUARD);

    let (zip, password) = suite.seed_file(&created.batch).await;
    // A wrong password, a file that is not a zip: clear errors, nothing imported.
    let before = suite.appliance(&a).await.hardware_tokens;
    for (file, password) in [
        (zip.as_slice(), "wrong"),
        (b"not a zip".as_slice(), password.as_str()),
    ] {
        let (status, answer) = suite.import_seed_file(&a, file, password).await;
        assert!(status.is_client_error(), "{status} {answer}");
        assert!(!answer["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(suite.appliance(&a).await.hardware_tokens, before);

    let (status, answer) = suite.import_seed_file(&a, &zip, &password).await;
    let imported = outcome(status, answer);
    assert_eq!(imported.tokens.len(), 2);
    assert!(
        imported
            .tokens
            .iter()
            .all(|t| t.status == "new" && t.source.as_deref() == Some("seed-file"))
    );
    let seeds = suite.batch_seeds(&created.batch).await;
    let seed = &seeds.iter().find(|(s, _)| s.as_str() == serial).unwrap().1;
    let (status, _) = suite.hardware_assign(&a, &serial, "bob").await;
    assert_eq!(status, StatusCode::OK);
    let code = suite.hardware_code(seed).await;
    let (status, login) = suite.login(&a, "bob", &code).await;
    assert_eq!(
        (status, login.result),
        (StatusCode::OK, LoginResult::Success)
    );
    suite.stop().await;
}

#[tokio::test]
async fn fortios_versions_with_bug_1218458_answer_cmdb_save_error() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK200", 8, false).await;
    let serials: Vec<String> = created
        .tokens
        .iter()
        .map(|t| t.serial.to_string())
        .collect();
    for (i, (firmware, broken)) in [
        ("7.4.9", false),
        ("7.4.10", true),
        ("7.4.11", true),
        ("7.4.12", false),
        ("7.6.3", true),
        ("7.6.6", true),
        ("7.6.7", false),
        ("8.0.0", false),
    ]
    .into_iter()
    .enumerate()
    {
        let version = &firmware[..3];
        let fgt = appliance(&suite, json!({"version": version, "firmware": firmware})).await;
        let (status, answer) = suite.hardware_activate(&fgt, &[&serials[i]]).await;
        if broken {
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{firmware}: {answer}"
            );
            assert_eq!(answer["message"], "cmdb save error");
            assert_eq!(answer["error_id"], "appliance.hardware.cmdb-save-error");
            assert!(suite.appliance(&fgt).await.hardware_tokens.is_empty());
            // The seed file is the working path on these versions.
            let (zip, password) = suite.seed_file(&created.batch).await;
            let (status, answer) = suite.import_seed_file(&fgt, &zip, &password).await;
            assert_eq!(status, StatusCode::OK, "{firmware}: {answer}");
        } else {
            assert_eq!(
                outcome(status, answer).tokens[0].status,
                "new",
                "{firmware}"
            );
        }
    }
    suite.stop().await;
}

#[tokio::test]
async fn bad_batches_and_seed_file_requests_are_refused_and_change_nothing() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK200", 1, false).await;
    let before: HardwareBatchList = suite
        .admin_get("forticare", paths::ADMIN_HARDWARE_TOKENS)
        .await;
    for body in [
        json!({"model": "FTK999", "count": 1}),
        json!({"model": "FTK200", "count": 0}),
        json!({"model": "FTK200", "count": 100_000}),
        json!({"model": "FTK200", "count": 1, "surprise": true}),
        json!({"model": "FTK200", "count": 1, "note": "x".repeat(2000)}),
        json!("FTK200"),
    ] {
        let (status, answer) = suite
            .admin_post("forticare", paths::ADMIN_HARDWARE_TOKENS, &body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    for (path, expected) in [
        (
            format!(
                "{}?format=okta",
                paths::fill(paths::ADMIN_HARDWARE_SEED_FILE, &[&created.batch])
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(
                "{}?format=gif",
                paths::fill(paths::ADMIN_HARDWARE_SEED_FILE, &[&created.batch])
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            paths::fill(paths::ADMIN_HARDWARE_SEED_FILE, &["HW999999"]),
            StatusCode::NOT_FOUND,
        ),
        (
            paths::fill(paths::ADMIN_HARDWARE_BATCH, &["nope"]),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, _) = suite.admin_bytes("forticare", &path).await;
        assert_eq!(status, expected, "{path}");
    }
    let after: HardwareBatchList = suite
        .admin_get("forticare", paths::ADMIN_HARDWARE_TOKENS)
        .await;
    assert_eq!(before, after);

    // The appliance side: bad requests, an unknown token or user, nothing changed.
    let a = appliance(&suite, json!({})).await;
    let (status, _) = suite.hardware_assign(&a, "FTK200BAA0000000", "alice").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = suite.hardware_assign(&a, "any", "has space").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_HARDWARE_ACTIVATE, &[&a]),
            &json!({"serial": "FTK200BAA0000000"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(suite.appliance(&a).await.hardware_tokens.is_empty());
    suite.stop().await;
}

#[tokio::test]
async fn fixtures_declare_batches_that_come_back_on_reset() {
    let mut fixtures = e2e::default_lab();
    fixtures.hardware_tokens = serde_json::from_value(json!([
        {"model": "FTK200", "count": 3},
        {"model": "FTK220", "count": 1, "demo": true, "note": "the lab's DEMO token"},
    ]))
    .unwrap();
    let suite = TestSuite::start_lab(
        e2e::test_options(None),
        fixtures,
        fortimock::suite::ForticareOptions::default(),
    )
    .await;
    let listed: HardwareBatchList = suite
        .admin_get("forticare", paths::ADMIN_HARDWARE_TOKENS)
        .await;
    assert_eq!(listed.batches.len(), 2);
    assert_eq!(listed.batches[0].tokens.len(), 3);
    assert!(listed.batches[1].demo);
    let serial = listed.batches[0].tokens[0].serial.to_string();
    let a = appliance(&suite, json!({})).await;
    let (status, answer) = suite.hardware_activate(&a, &[&serial]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, "new");

    let (status, reset) = suite
        .admin_post("forticare", paths::ADMIN_RESET, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    let again: HardwareBatchList = suite
        .admin_get("forticare", paths::ADMIN_HARDWARE_TOKENS)
        .await;
    assert_eq!(again.batches.len(), 2);
    assert_eq!(again.batches[0].tokens[0].serial.to_string(), serial);
    assert_eq!(again.batches[0].tokens[0].state, "available");
    suite.stop().await;
}

#[tokio::test]
async fn a_user_holds_one_token_and_refused_assignments_change_nothing() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK200", 3, false).await;
    let [t0, t1, t2] = [0, 1, 2].map(|i| created.tokens[i].serial.to_string());
    let a = appliance(&suite, json!({})).await;
    let b = appliance(&suite, json!({})).await;
    suite.appliance_import(&a, "1111-2222-3333-4444-5555").await;
    // t2 is locked to B first, so on A it arrives as an Error row.
    let (status, answer) = suite.hardware_activate(&b, &[&t2]).await;
    assert_eq!(outcome(status, answer).tokens[0].status, "new");
    let (status, answer) = suite.hardware_activate(&a, &[&t0, &t1, &t2]).await;
    let rows = outcome(status, answer).tokens;
    assert_eq!(rows[2].gui_status, "Error");
    let (status, row) = suite.hardware_assign(&a, &t0, "alice").await;
    assert_eq!(status, StatusCode::OK, "{row}");
    let (bob_token, _) = suite.appliance_provision(&a, "any", "bob").await;

    // A user holding a hardware token gets no mobile token: refused before FortiToken is asked, nothing
    // changes on the appliance or in ftm's escrow.
    let before = suite.appliance(&a).await;
    let escrow: Value = suite.admin_get("ftm", paths::ADMIN_ESCROW).await;
    let (status, refused) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_PROVISION, &[&a]),
            &json!({"token": "any", "user": "alice"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("alice") && message.contains(&t0),
        "{message}"
    );

    // Every refused assignment changes nothing either: a token assigned to someone else, an Error row, a
    // user with a mobile token, a user with another hardware token, a serial the appliance does not have.
    for (token, user, expected, says) in [
        (
            t0.as_str(),
            "carol",
            StatusCode::CONFLICT,
            "assigned to alice",
        ),
        (t2.as_str(), "carol", StatusCode::CONFLICT, "has no seed"),
        (
            t1.as_str(),
            "bob",
            StatusCode::CONFLICT,
            "FortiToken Mobile",
        ),
        (t1.as_str(), "alice", StatusCode::CONFLICT, t0.as_str()),
        (
            "FTK200ZZZ9999999",
            "carol",
            StatusCode::NOT_FOUND,
            "no hardware token",
        ),
    ] {
        let (status, refused) = suite.hardware_assign(&a, token, user).await;
        assert_eq!(status, expected, "{token} → {user}: {refused}");
        assert!(
            refused["message"].as_str().unwrap().contains(says),
            "{token} → {user}: {refused}"
        );
    }
    assert_eq!(suite.appliance(&a).await, before);
    assert_eq!(
        suite.admin_get::<Value>("ftm", paths::ADMIN_ESCROW).await,
        escrow
    );
    assert!(
        before
            .tokens
            .iter()
            .any(|t| t.serial.as_str() == bob_token && t.user.as_deref() == Some("bob"))
    );
    suite.stop().await;
}

#[tokio::test]
async fn without_fortiguard_activation_errs_and_the_seed_file_still_works_on_a_fortiauthenticator()
{
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK200", 1, false).await;
    let serial = created.tokens[0].serial.to_string();
    // A FortiAuthenticator whose FortiGuard does not answer (nothing listens on port 1).
    let fac = appliance(
        &suite,
        json!({"mode": "fortiauthenticator", "fortiguard_url": "https://127.0.0.1:1"}),
    )
    .await;
    let (status, answer) = suite.hardware_activate(&fac, &[&serial]).await;
    let failed = outcome(status, answer);
    assert_eq!(failed.tokens[0].status, NOT_IN_FORTIGUARD);
    assert_eq!(failed.tokens[0].gui_status, "Error");
    assert!(
        failed.debug.join("\n").contains("FortiGuard not reached"),
        "{:?}",
        failed.debug
    );
    assert_eq!(batch(&suite, &created.batch).await.tokens[0].activations, 0);

    // The seed file's import needs no FortiGuard: it works on the same appliance, and FortiGuard's lock
    // stays untouched.
    let (zip, password) = suite.seed_file(&created.batch).await;
    let (status, answer) = suite.import_seed_file(&fac, &zip, &password).await;
    let imported = outcome(status, answer);
    assert_eq!(imported.tokens[0].status, "new");
    assert_eq!(imported.tokens[0].source.as_deref(), Some("seed-file"));
    let fortiguard = batch(&suite, &created.batch).await;
    assert_eq!(fortiguard.tokens[0].state, "available");
    assert_eq!(fortiguard.tokens[0].activations, 0);

    // A FortiAuthenticator's hardware user logs in with the token's 60-second code.
    let seeds = suite.batch_seeds(&created.batch).await;
    let (status, row) = suite.hardware_assign(&fac, &serial, "erin").await;
    assert_eq!(status, StatusCode::OK, "{row}");
    let code = suite.hardware_code(&seeds[0].1).await;
    let (status, login) = suite.login(&fac, "erin", &code).await;
    assert_eq!(
        (status, login.result),
        (StatusCode::OK, LoginResult::Success)
    );
    suite.stop().await;
}

#[tokio::test]
async fn oversized_and_malformed_hardware_requests_change_nothing() {
    let suite = TestSuite::start().await;
    let created = suite.hardware_batch("FTK200", 1, false).await;
    let serial = created.tokens[0].serial.to_string();
    let a = appliance(&suite, json!({})).await;
    let fortiguard = batch(&suite, &created.batch).await;
    let before = suite.appliance(&a).await;

    // More than 1000 serials at once, and a seed file that is not Base64.
    let many: Vec<String> = (0..1001).map(|i| format!("FTK200BAA{i:07}")).collect();
    let (status, answer) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_HARDWARE_ACTIVATE, &[&a]),
            &json!({ "serials": many }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("1000"),
        "{answer}"
    );
    let (status, answer) = suite
        .admin_post(
            "appliance",
            &paths::fill(paths::APPLIANCE_HARDWARE_IMPORT, &[&a]),
            &json!({"file": "not base64!", "password": "x"}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {answer}");
    assert!(!answer["message"].as_str().unwrap().is_empty(), "{answer}");

    // Malformed HardwareActivationRequests at forticare's /Process: a fault, no seed, no lock.
    let header = json!({
        "serial_number": a, "__version": "1", "__device_version": "7.4", "__device_build": "2829",
    });
    for body in [
        json!({"d": {"__type": "SoftToken.HardwareActivationRequest", "tokens": [{"token": serial}]}}),
        json!({"d": {"__type": "SoftToken.HardwareActivationRequest", "serial_number": a, "tokens": "FTK200"}}),
        json!({"d": {"__type": "SoftToken.HardwareActivationRequest", "serial_number": "", "tokens": [{"token": serial}]}}),
        json!({"d": merge(&header, json!({"__type": "SoftToken.HardwareActivationRequest", "tokens": []}))}),
    ] {
        let response = suite
            .client
            .post(format!("{}{}", suite.url("forticare"), paths::PROCESS))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(!status.is_success(), "{body}: {status} {text}");
        assert!(!text.contains("\"seed\""), "{body}: {text}");
    }
    assert_eq!(batch(&suite, &created.batch).await, fortiguard);
    assert_eq!(suite.appliance(&a).await, before);
    suite.stop().await;
}

fn merge(base: &Value, more: Value) -> Value {
    let mut merged = base.clone();
    for (key, value) in more.as_object().unwrap() {
        merged[key] = value.clone();
    }
    merged
}
