//! `<service binary> health` (`lab::health::run`, what `forticare-mock health`, `ftm-mock health`, … and
//! the compose lab's health checks call): ready once the service answers `/__admin/ready` over HTTPS
//! trusting the lab CA, and an error that says what failed when nothing listens or the CA is missing.

use e2e::{TestSuite, test_options};
use lab::health::HealthArgs;

const ONCE: HealthArgs = HealthArgs {
    wait: 0.0,
    quiet: true,
};

#[tokio::test]
async fn health_is_ready_against_a_live_service_and_fails_against_nothing() {
    let suite = TestSuite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, suite.lab().ca_pem().unwrap()).unwrap();
    let mut options = test_options(None);
    options.tls_ca = Some(ca.clone());
    for service in ["forticare", "ftm", "push", "phone", "appliance"] {
        let port = reqwest::Url::parse(&suite.url(service))
            .unwrap()
            .port()
            .unwrap();
        lab::health::run(&options, service, port, &ONCE)
            .await
            .unwrap_or_else(|e| panic!("{service}: {e:#}"));
    }
    let ftm_port = reqwest::Url::parse(&suite.url("ftm"))
        .unwrap()
        .port()
        .unwrap();
    suite.stop().await;

    // Nothing listens there any more.
    let error = lab::health::run(&options, "ftm", ftm_port, &ONCE)
        .await
        .unwrap_err();
    let said = format!("{error:#}");
    assert!(said.contains(&format!("127.0.0.1:{ftm_port}")), "{said}");
    // A port the system picks cannot be asked.
    let error = lab::health::run(&options, "ftm", 0, &ONCE)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("give health the port it bound"),
        "{error}"
    );
    // No lab CA to trust the service with.
    options.tls_ca = Some(dir.path().join("missing.pem"));
    let error = lab::health::run(&options, "ftm", ftm_port, &ONCE)
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("reading the lab CA"),
        "{error:#}"
    );
}
