//! Restarting the suite on the same data dir keeps every license and registration, and the same lab CA, and
//! the virtual appliances follow the suite to its new addresses; a data dir an earlier fortimock wrote is
//! refused before anything is created in it, and a deleted key file refuses the start rather than being
//! replaced.

use e2e::{TestSuite, default_fixtures, test_options};
use protocol::appliance::{ApplianceChange, ApplianceView, ImportOutcome, SuiteSetting};
use protocol::ledger::LicenseView;
use protocol::paths;
use serde_json::{Value, json};

const FORTICARE: &str = "forticare";

#[tokio::test]
async fn restart_keeps_licenses_registrations_and_ca() {
    let dir = tempfile::tempdir().unwrap();
    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    let granted = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &["FGVM01TM00000002"],
            "1111-2222-3333-4444-5555",
        )
        .await;
    let trial = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &[],
            "0000-0000-0000-0000-0000",
        )
        .await;
    let (_, created) = suite
        .admin_post(
            FORTICARE,
            paths::ADMIN_LICENSES,
            &serde_json::json!({"seats": 3}),
        )
        .await;
    let ca = suite.lab().ca_pem().unwrap().to_owned();
    let before: LicenseView = suite
        .admin_get(
            FORTICARE,
            &paths::fill(paths::ADMIN_LICENSE, &["EFTM000000000005"]),
        )
        .await;
    suite.stop().await;

    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    assert_eq!(suite.lab().ca_pem().unwrap(), ca);
    let after: LicenseView = suite
        .admin_get(
            FORTICARE,
            &paths::fill(paths::ADMIN_LICENSE, &["EFTM000000000005"]),
        )
        .await;
    assert_eq!(before, after);
    assert!(after.summary.owner.is_some());
    // The registration holds: the peer may import, a stranger may not, and the trial is the same one.
    let peer = suite
        .import(
            FORTICARE,
            "FGVM01TM00000002",
            &[],
            "1111-2222-3333-4444-5555",
        )
        .await;
    assert_eq!(peer.tokens, granted.tokens);
    let stranger = suite
        .import(
            FORTICARE,
            "FGVM01TM00000003",
            &[],
            "1111-2222-3333-4444-5555",
        )
        .await;
    assert!(stranger.error.is_some());
    let trial_again = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &[],
            "0000-0000-0000-0000-0000",
        )
        .await;
    assert_eq!(trial_again.license, trial.license);
    let created_id = created["id"].as_str().unwrap();
    let _: LicenseView = suite
        .admin_get(FORTICARE, &paths::fill(paths::ADMIN_LICENSE, &[created_id]))
        .await;
    suite.stop().await;
}

/// An appliance created without addresses reaches the suite it runs in, whatever that suite's addresses:
/// started again on the same data dir (on other free ports, and on plain HTTP instead of HTTPS), it talks to
/// the new FortiToken server, push relay and FortiGuard and sends its messages to the new SMTP listener and
/// SMS sink. Addresses set for an appliance, and messaging settings changed for it, stay as they were.
#[tokio::test]
async fn appliances_follow_the_suite_to_its_new_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    let follower = suite
        .new_appliance(json!({"serial": "FGVM01TM00000011"}))
        .await;
    assert_eq!(follower.ftm_url, suite.url("ftm"));
    let every_address = SuiteSetting::ALL;
    assert_eq!(follower.follows_suite, every_address);
    let pinned_urls = json!({
        "serial": "FGVM01TM00000012",
        "ftm_url": "https://127.0.0.1:1",
        "fortiguard_url": "https://127.0.0.1:2",
        "ftm_push": {"relay_url": "https://127.0.0.1:3/"},
    });
    suite.new_appliance(pinned_urls).await;
    let pinned_messaging = suite
        .new_appliance(json!({"serial": "FGVM01TM00000013"}))
        .await;
    let changed = suite
        .api()
        .http()
        .patch(format!(
            "{}{}",
            suite.url("appliance"),
            paths::fill(
                paths::APPLIANCE_MESSAGING,
                &[pinned_messaging.serial.as_str()]
            )
        ))
        .json(&json!({"sender": "noreply@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success());
    let messaging_before: Value = messaging(&suite, "FGVM01TM00000013").await;
    let old_ftm = suite.url("ftm");
    suite.stop().await;

    let mut options = test_options(Some(dir.path()));
    options.plain_http = true;
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    assert_ne!(suite.url("ftm"), old_ftm, "plain HTTP now");
    let view = |serial: &'static str| {
        let suite = &suite;
        async move {
            suite
                .admin_get::<ApplianceView>("appliance", &paths::fill(paths::APPLIANCE, &[serial]))
                .await
        }
    };
    let follower = view("FGVM01TM00000011").await;
    assert_eq!(follower.follows_suite, every_address);
    assert_eq!(follower.ftm_url, suite.url("ftm"));
    assert_eq!(follower.ftm_push.relay_url, suite.url("push"));
    assert_eq!(
        follower.fortiguard_url.as_deref(),
        Some(suite.url("forticare").as_str())
    );
    // Its messaging settings are the suite's, the same a new appliance gets.
    let fresh = suite
        .new_appliance(json!({"serial": "FGVM01TM00000014"}))
        .await;
    assert_eq!(follower.messaging, fresh.messaging);
    assert_eq!(
        messaging(&suite, "FGVM01TM00000011").await,
        messaging(&suite, "FGVM01TM00000014").await
    );
    // And it works there: its import goes to the new FortiToken server.
    let imported = suite
        .appliance_op::<ImportOutcome>(
            "FGVM01TM00000011",
            "import",
            json!({"code": "1111-2222-3333-4444-5555"}),
        )
        .await
        .unwrap();
    assert!(!imported.tokens.is_empty());

    let pinned = view("FGVM01TM00000012").await;
    assert_eq!(
        pinned.follows_suite,
        [SuiteSetting::Messaging],
        "its addresses are its own"
    );
    assert_eq!(
        view("FGVM01TM00000013").await.follows_suite,
        [
            SuiteSetting::FtmUrl,
            SuiteSetting::FortiguardUrl,
            SuiteSetting::RelayUrl
        ],
        "its messaging settings were changed for it"
    );
    assert_eq!(pinned.ftm_url, "https://127.0.0.1:1");
    assert_eq!(
        pinned.fortiguard_url.as_deref(),
        Some("https://127.0.0.1:2")
    );
    assert_eq!(pinned.ftm_push.relay_url, "https://127.0.0.1:3");
    assert_eq!(
        messaging(&suite, "FGVM01TM00000013").await,
        messaging_before
    );

    // Put back on the suite's, the pinned unit reaches this suite: its import, which the unreachable
    // address it had refused, goes through.
    let unreachable = suite
        .appliance_op::<Value>(
            "FGVM01TM00000012",
            "import",
            json!({"code": "1111-2222-3333-4444-5555"}),
        )
        .await;
    assert!(unreachable.is_err(), "{unreachable:?}");
    let appliances = suite.api().appliances();
    let unpinned = appliances
        .change(
            "FGVM01TM00000012",
            &ApplianceChange {
                follow_suite: vec![
                    SuiteSetting::FtmUrl,
                    SuiteSetting::FortiguardUrl,
                    SuiteSetting::RelayUrl,
                ],
                ..ApplianceChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(unpinned.follows_suite, every_address);
    assert_eq!(
        (
            unpinned.ftm_url.as_str(),
            unpinned.fortiguard_url.as_deref(),
            unpinned.ftm_push.relay_url.as_str()
        ),
        (
            suite.url("ftm").as_str(),
            Some(suite.url("forticare").as_str()),
            suite.url("push").as_str()
        )
    );
    // (The trial: the license above is the follower's now.)
    let imported = suite
        .appliance_op::<ImportOutcome>(
            "FGVM01TM00000012",
            "import",
            json!({"code": "0000-0000-0000-0000-0000"}),
        )
        .await
        .unwrap();
    assert!(!imported.tokens.is_empty());
    // The unit whose messaging was changed gets the suite's again, and a follower's FortiToken server
    // becomes its own: one setting moves, the others stay as they were.
    let back = appliances
        .change(
            "FGVM01TM00000013",
            &ApplianceChange {
                follow_suite: vec![SuiteSetting::Messaging],
                ..ApplianceChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(back.follows_suite, every_address);
    assert_eq!(back.messaging, fresh.messaging);
    let own = appliances
        .change(
            "FGVM01TM00000011",
            &ApplianceChange {
                ftm_url: Some("http://127.0.0.1:4/".to_owned()),
                ..ApplianceChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(own.ftm_url, "http://127.0.0.1:4");
    assert_eq!(&own.follows_suite, &every_address[1..]);
    suite.stop().await;

    // Every change was durable: the next start shows the same.
    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    for (serial, follows) in [
        ("FGVM01TM00000011", &every_address[1..]),
        ("FGVM01TM00000012", &every_address[..]),
        ("FGVM01TM00000013", &every_address[..]),
    ] {
        let view: ApplianceView = suite
            .admin_get("appliance", &paths::fill(paths::APPLIANCE, &[serial]))
            .await;
        assert_eq!(view.follows_suite, follows, "{serial}");
    }
    suite.stop().await;
}

/// An appliance's messaging settings, as `GET /appliances/{serial}/messaging` answers.
async fn messaging(suite: &TestSuite, serial: &str) -> Value {
    suite
        .admin_get(
            "appliance",
            &paths::fill(paths::APPLIANCE_MESSAGING, &[serial]),
        )
        .await
}

/// Every file under `dir`, with its size, sorted.
fn listing(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            let size = std::fs::metadata(&path).unwrap().len();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            files.push((name, if path.is_dir() { 0 } else { size }));
        }
    }
    files.sort();
    files
}

/// Starts a suite on `dir`; it must refuse. Returns the refusal.
async fn refused_start(dir: &std::path::Path) -> String {
    let started = fortimock_testing::Suite::builder()
        .options(test_options(Some(dir)))
        .start()
        .await;
    match started {
        Ok(suite) => {
            suite.stop().await;
            panic!("the suite started");
        }
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn an_earlier_fortimocks_data_dir_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    // sled's files, as an earlier fortimock left them in the ftm service's dir.
    std::fs::create_dir_all(dir.path().join("ftm/db")).unwrap();
    std::fs::write(dir.path().join("ftm/db/conf"), b"segment_size: 524288").unwrap();
    std::fs::write(dir.path().join("ftm/db/db"), [0u8; 4096]).unwrap();
    let before = listing(dir.path());
    let refusal = refused_start(dir.path()).await;
    assert!(refusal.contains("earlier fortimock"), "{refusal}");
    assert!(refusal.contains("state export"), "{refusal}");
    assert_eq!(listing(dir.path()), before, "the refusal created files");
}

#[tokio::test]
async fn a_deleted_escrow_key_refuses_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    suite.stop().await;
    let key = dir.path().join("ftm/escrow.key");
    std::fs::remove_file(&key).unwrap();
    let refusal = refused_start(dir.path()).await;
    assert!(refusal.contains(&key.display().to_string()), "{refusal}");
    assert!(refusal.contains("is missing"), "{refusal}");
    assert!(!key.exists(), "a new key was made");
}
