//! HTTPS as the real services speak it: clients that trust only the generated lab CA get through, others
//! do not; client certificates are recorded when presented and required only when configured.

use e2e::{TestSuite, default_fixtures, test_options};
use protocol::admin::ClientCertList;
use reqwest::StatusCode;

const FORTICARE: &str = "forticare";

#[tokio::test]
async fn only_clients_trusting_the_lab_ca_get_through() {
    let suite = TestSuite::start().await;
    let url = format!("{}/__admin/health", suite.url(FORTICARE));
    assert!(url.starts_with("https://127.0.0.1:"));
    // `suite.client` trusts the lab CA and nothing else.
    assert_eq!(
        suite.client.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    // A client trusting another CA (a second lab's) is refused at the handshake.
    let stranger = lab::tls::LabTls::load_or_generate(None, &[]).unwrap();
    let client = lab::client::http_client(Some(stranger.ca_pem()), None).unwrap();
    let error = client.get(&url).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    suite.stop().await;
}

#[tokio::test]
async fn presented_client_certificates_are_recorded() {
    let suite = TestSuite::start().await;
    let identity = suite
        .lab()
        .tls()
        .unwrap()
        .issue_client_identity("FortiToken Mobile test phone")
        .unwrap();
    let client = lab::client::http_client(suite.lab().ca_pem(), Some(&identity)).unwrap();
    let response = client
        .get(format!("{}/__admin/health", suite.url(FORTICARE)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let list: ClientCertList = suite.admin_get(FORTICARE, "/__admin/client-certs").await;
    assert_eq!(list.client_certs.len(), 1, "{list:?}");
    let seen = &list.client_certs[0];
    assert_eq!(
        seen.subject_cn.as_deref(),
        Some("FortiToken Mobile test phone")
    );
    let der = rustls_der(&identity.cert_pem);
    assert_eq!(seen.sha256, lab::tls::fingerprint(&der));
    assert_eq!(seen.requests, 1);
    suite.stop().await;
}

#[tokio::test]
async fn client_certificate_is_required_only_when_configured() {
    let mut options = test_options(None);
    options.require_client_cert = vec![FORTICARE.to_owned()];
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    let url = format!("{}/__admin/licenses", suite.url(FORTICARE));
    // Without a certificate the handshake fails (TLS 1.3 reports it on the first read).
    let anonymous = lab::client::http_client(suite.lab().ca_pem(), None).unwrap();
    assert!(anonymous.get(&url).send().await.is_err());
    let identity = suite
        .lab()
        .tls()
        .unwrap()
        .issue_client_identity("appliance")
        .unwrap();
    let client = lab::client::http_client(suite.lab().ca_pem(), Some(&identity)).unwrap();
    assert_eq!(
        client.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    suite.stop().await;
}

fn rustls_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}
