//! The request journal (`/__admin/journal`) end to end: what an appliance and a phone sent to ftm and
//! forticare, with the answers, in order, with seeds redacted; filters, the cap, clearing, the virtual
//! phone's client certificate, a scenario's result; and the simulators, which keep none.

use e2e::{TestSuite, default_fixtures, test_options, token};
use protocol::envelope::Message;
use protocol::journal::{JournalPage, REDACTED};
use protocol::mobile::MobileProvisionRequest;
use protocol::paths;
use protocol::provision::ProvisionRequest;
use reqwest::StatusCode;
use serde_json::json;

const FGT: &str = "FGVM01TM00000001";
const PAID: &str = "1111-2222-3333-4444-5555";
const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";

async fn page(suite: &TestSuite, service: &str, query: &str) -> JournalPage {
    suite
        .admin_get(service, &format!("{}{query}", paths::ADMIN_JOURNAL))
        .await
}

#[tokio::test]
async fn the_journal_shows_each_exchange_with_seeds_redacted() {
    let suite = TestSuite::start().await;
    let tokens = suite.import("ftm", FGT, &[], PAID).await.tokens.unwrap();
    let provisioned = suite
        .provision(FGT, &[], vec![token(&tokens[0].token, SEED)])
        .await;
    let code = provisioned.tokens[0].token_activation_code.clone().unwrap();
    let downloaded = suite.download("e248e1e9527f20ff", "", &code).await;
    assert!(!downloaded.seed.is_empty());

    let ftm = page(&suite, "ftm", "").await;
    let types: Vec<&str> = ftm
        .entries
        .iter()
        .map(|e| e.message_type.as_deref().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "SoftToken.ActivationLicenseRequest",
            ProvisionRequest::TYPE,
            MobileProvisionRequest::TYPE
        ]
    );
    let provision = &ftm.entries[1];
    assert_eq!((provision.method.as_str(), provision.status), ("POST", 200));
    assert_eq!(provision.path, paths::PROCESS);
    assert_eq!(provision.request["d"]["tokens"][0]["seed"], REDACTED);
    assert_eq!(
        provision.request["d"]["tokens"][0]["token"],
        tokens[0].token
    );
    assert_eq!(
        provision.response["d"]["tokens"][0]["token_activation_code"],
        code
    );
    assert_eq!(
        provision.result.as_deref(),
        Some(format!("1 of 1 provisioned for {FGT}").as_str())
    );
    assert_eq!(ftm.entries[2].response["d"]["seed"], REDACTED);
    assert!(ftm.entries.windows(2).all(|w| w[0].seq < w[1].seq));
    // Neither the seed nor its encryption for the phone is anywhere in any journal.
    for service in ["ftm", "forticare", "push"] {
        let text = serde_json::to_string(&page(&suite, service, "").await).unwrap();
        assert!(
            !text.contains(SEED) && !text.contains(&downloaded.seed),
            "{service}: {text}"
        );
    }

    // The forwarded import reached forticare's journal too; ftm's ownership questions and the admin API
    // did not.
    let forticare = page(&suite, "forticare", "").await;
    assert_eq!(forticare.entries.len(), 1, "{forticare:?}");
    assert_eq!(
        forticare.entries[0].response["d"]["license"],
        "EFTM000000000005"
    );

    let only = page(
        &suite,
        "ftm",
        "?message_type=SoftToken.MobileProvisionRequest",
    )
    .await;
    assert_eq!((only.matched, only.entries.len()), (1, 1));
    let newest = page(&suite, "ftm", "?limit=1").await;
    assert_eq!(
        (newest.matched, newest.entries[0].seq),
        (3, ftm.entries[2].seq)
    );
    let after = page(&suite, "ftm", &format!("?after={}", ftm.entries[0].seq)).await;
    assert_eq!(after.entries.len(), 2);
    let bad = suite
        .client
        .get(format!(
            "{}{}?colour=red",
            suite.url("ftm"),
            paths::ADMIN_JOURNAL
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let cleared = suite
        .client
        .delete(format!("{}{}", suite.url("ftm"), paths::ADMIN_JOURNAL))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert!(page(&suite, "ftm", "").await.entries.is_empty());
    suite.stop().await;
}

#[tokio::test]
async fn a_seed_under_an_escaped_key_is_provisioned_and_still_redacted() {
    let suite = TestSuite::start().await;
    let tokens = suite.import("ftm", FGT, &[], PAID).await.tokens.unwrap();
    // `se\u0065d` is `seed` once the JSON is decoded: ftm takes the seed, and the journal must not keep it.
    let body = format!(
        r#"{{"d": {{"__type": "SoftToken.ProvisionRequest", "__version": "4", "serial_number": "{FGT}",
            "__device_version": "7.4", "__device_build": "2829", "__clustered_sns": [{{"sn": "{FGT}"}}],
            "tokens": [{{"token": "{}", "se\u0065d": "{SEED}", "code_expire": 4320, "type": "totp",
                        "period": 60, "digits": 6}}]}}}}"#,
        tokens[0].token
    );
    let (status, answer) = suite.post_process("ftm", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["d"]["tokens"][0]["token_activation_code"].is_string(),
        "{answer}"
    );
    let ftm = page(&suite, "ftm", "?message_type=SoftToken.ProvisionRequest").await;
    assert_eq!(ftm.entries.len(), 1);
    assert_eq!(ftm.entries[0].request["d"]["tokens"][0]["seed"], REDACTED);
    let text = serde_json::to_string(&ftm).unwrap();
    assert!(!text.contains(SEED), "{text}");
    suite.stop().await;
}

#[tokio::test]
async fn the_journal_names_phones_certificates_and_scenarios_and_skips_simulators() {
    let suite = TestSuite::start().await;
    let serial = suite.new_appliance(json!({})).await.serial.to_string();
    suite.appliance_import(&serial, PAID).await;
    let (_, code) = suite.appliance_provision(&serial, "any", "alice").await;
    let (status, body) = suite
        .admin_post(
            "ftm",
            paths::ADMIN_SCENARIOS,
            &json!({"error": "ftm.mobile.code-invalid", "times": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let phone = suite.new_phone(json!({})).await.id;
    assert_eq!(
        suite.activate(&phone, &code).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(suite.activate(&phone, &code).await.0, StatusCode::CREATED);

    let phones = page(
        &suite,
        "ftm",
        "?message_type=SoftToken.MobileProvisionRequest",
    )
    .await;
    assert_eq!(phones.entries.len(), 2);
    assert_eq!(
        phones.entries[0].result.as_deref(),
        Some("scenario s1: ftm.mobile.code-invalid")
    );
    assert_eq!(phones.entries[0].response["d"]["error"]["error_code"], 40);
    // Virtual phones present a client certificate, as the real app does.
    let cert = phones.entries[1].client_cert.as_deref().unwrap();
    assert_eq!(cert.len(), 64);

    for simulator in ["phone", "appliance"] {
        let response = suite
            .client
            .get(format!("{}{}", suite.url(simulator), paths::ADMIN_JOURNAL))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error_id"], "admin.journal.none");
    }
    suite.stop().await;
}

#[tokio::test]
async fn the_journal_keeps_the_newest_within_its_size() {
    let mut options = test_options(None);
    options.journal_size = 2;
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    for _ in 0..3 {
        suite.import("forticare", FGT, &[], PAID).await;
    }
    let kept = page(&suite, "forticare", "").await;
    assert_eq!((kept.entries.len(), kept.capacity, kept.dropped), (2, 2, 1));
    assert_eq!(kept.entries[0].seq, 2);
    suite.stop().await;

    let mut options = test_options(None);
    options.journal_size = 0;
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    suite.import("forticare", FGT, &[], PAID).await;
    assert!(page(&suite, "forticare", "").await.entries.is_empty());
    suite.stop().await;
}
