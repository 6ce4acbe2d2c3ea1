//! Restarting the suite on the same data dir keeps every license and registration, and the same lab CA.

use e2e::{TestSuite, default_fixtures, test_options};
use protocol::ledger::LicenseView;

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
            "/__admin/licenses",
            &serde_json::json!({"seats": 3}),
        )
        .await;
    let ca = suite.lab().ca_pem().unwrap().to_owned();
    let before: LicenseView = suite
        .admin_get(FORTICARE, "/__admin/licenses/EFTM000000000005")
        .await;
    suite.stop().await;

    let suite = TestSuite::start_with(test_options(Some(dir.path())), default_fixtures()).await;
    assert_eq!(suite.lab().ca_pem().unwrap(), ca);
    let after: LicenseView = suite
        .admin_get(FORTICARE, "/__admin/licenses/EFTM000000000005")
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
        .admin_get(FORTICARE, &format!("/__admin/licenses/{created_id}"))
        .await;
    suite.stop().await;
}
