//! HTTPS as the real services speak it: clients that trust only the generated lab CA get through, others
//! do not; client certificates are recorded when presented, required only when configured, and checked
//! against the configured client CAs plus the lab CA that issues fortimock's own.

use e2e::{TestSuite, default_fixtures, test_options, token};
use lab::tls::ClientIdentity;
use protocol::admin::ClientCertList;
use protocol::paths;
use reqwest::StatusCode;
use serde_json::json;

const FORTICARE: &str = "forticare";

#[tokio::test]
async fn only_clients_trusting_the_lab_ca_get_through() {
    let suite = TestSuite::start().await;
    let url = format!("{}{}", suite.url(FORTICARE), paths::ADMIN_HEALTH);
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
        .get(format!("{}{}", suite.url(FORTICARE), paths::ADMIN_HEALTH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let list: ClientCertList = suite.admin_get(FORTICARE, paths::ADMIN_CLIENT_CERTS).await;
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
    let url = format!("{}{}", suite.url(FORTICARE), paths::ADMIN_LICENSES);
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

/// A CA of the test's own, unrelated to any lab's, that issues client certificates.
struct TestCa {
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa { key, cert }
    }

    fn issue(&self, name: &str) -> ClientIdentity {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        ClientIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

#[tokio::test]
async fn a_client_ca_without_the_lab_ca_still_lets_fortimock_and_its_phones_through() {
    // The --client-ca file holds only an unrelated CA; ftm requires client certificates.
    let theirs = TestCa::new("appliance fleet CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("client-ca.pem");
    std::fs::write(&ca_file, theirs.cert.pem()).unwrap();
    let mut options = test_options(None);
    options.client_ca = Some(ca_file);
    options.require_client_cert = vec!["ftm".to_owned()];
    let suite = TestSuite::start_with(options, default_fixtures()).await;

    // An import through ftm: the harness presents the lab's internal certificate to ftm, and ftm presents it
    // to forticare.
    let serial = "FGVM01TM00000001";
    let granted = suite
        .import("ftm", serial, &[], "1111-2222-3333-4444-5555")
        .await;
    assert_eq!(granted.error, None);
    let tokens = granted.tokens.unwrap();
    let provisioned = suite
        .provision(
            serial,
            &[],
            vec![token(
                &tokens[0].token,
                "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A",
            )],
        )
        .await;
    let code = provisioned.tokens[0].token_activation_code.clone().unwrap();
    // A virtual phone activates it, presenting its lab-issued certificate to ftm.
    let phone = suite.new_phone(json!({})).await.id;
    let (status, answer) = suite.activate(&phone, &code).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    let url = format!("{}{}", suite.url("ftm"), paths::ADMIN_HEALTH);
    let client = |identity: &ClientIdentity| {
        lab::client::http_client(suite.lab().ca_pem(), Some(identity)).unwrap()
    };
    // A certificate from the configured CA gets through.
    let fleet = client(&theirs.issue("FGVM01TM00000002"));
    assert_eq!(
        fleet.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    // One from neither CA is refused at the handshake.
    let stranger = client(&TestCa::new("stranger CA").issue("stranger"));
    assert!(stranger.get(&url).send().await.is_err());
    suite.stop().await;
}

#[tokio::test]
async fn a_brought_in_certificate_is_served_and_trusted() {
    // Another lab's CA and leaf, written to files, stand in for a certificate the user brings.
    let dir = tempfile::tempdir().unwrap();
    let theirs = lab::tls::LabTls::load_or_generate(Some(dir.path()), &[]).unwrap();
    let mut options = test_options(None);
    options.tls_cert = Some(dir.path().join("tls/server.pem"));
    options.tls_key = Some(dir.path().join("tls/server-key.pem"));
    options.tls_ca = Some(dir.path().join("tls/ca.pem"));
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    // The suite's own clients (ftm → forticare, the harness) trust the brought-in CA: a full import works.
    let granted = suite
        .import("ftm", "FGVM01TM00000001", &[], "1111-2222-3333-4444-5555")
        .await;
    assert_eq!(granted.error, None);
    let client = lab::client::http_client(Some(theirs.ca_pem()), None).unwrap();
    let response = client
        .get(format!("{}{}", suite.url(FORTICARE), paths::ADMIN_HEALTH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    suite.stop().await;
}

#[tokio::test]
async fn plain_http_serves_the_same_api() {
    let mut options = test_options(None);
    options.plain_http = true;
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    assert!(suite.url("ftm").starts_with("http://127.0.0.1:"));
    let granted = suite
        .import("ftm", "FGVM01TM00000001", &[], "1111-2222-3333-4444-5555")
        .await;
    assert_eq!(granted.license, "EFTM000000000005");
    let response = suite
        .client
        .get(format!("{}{}", suite.url(FORTICARE), paths::ADMIN_CA_PEM))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    suite.stop().await;
}

#[tokio::test]
async fn an_admin_token_guards_the_control_plane_only() {
    let mut options = test_options(None);
    options.admin_token = Some("s3cret".to_owned());
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    let url = |path: &str| format!("{}{path}", suite.url(FORTICARE));
    let status = |response: reqwest::Response| response.status();
    assert_eq!(
        status(
            suite
                .client
                .get(url(paths::ADMIN_LICENSES))
                .send()
                .await
                .unwrap()
        ),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(
            suite
                .client
                .get(url(paths::ADMIN_LICENSES))
                .bearer_auth("wrong")
                .send()
                .await
                .unwrap()
        ),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(
            suite
                .client
                .get(url(paths::ADMIN_LICENSES))
                .bearer_auth("s3cret")
                .send()
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    // Health, readiness and the CA stay open, and devices never need the token.
    assert_eq!(
        status(
            suite
                .client
                .get(url(paths::ADMIN_HEALTH))
                .send()
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    assert_eq!(
        status(
            suite
                .client
                .get(url(paths::ADMIN_READY))
                .send()
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    let granted = suite
        .import(
            FORTICARE,
            "FGVM01TM00000001",
            &[],
            "1111-2222-3333-4444-5555",
        )
        .await;
    assert_eq!(granted.error, None);
    suite.stop().await;
}
