//! The `fortimock-testing` crate as another project uses it: `Suite::start()` with nothing configured
//! serves every service, dropping the suite closes every port it listened on, and a refusal comes back from
//! the typed clients as a `Refusal` (status and body).

use std::net::SocketAddr;
use std::time::Duration;

use fortimock_testing::{FIVE_SEAT_CODE, Refusable, Suite};

/// The socket address a base URL (`https://127.0.0.1:40123`) points at.
fn address(url: &str) -> SocketAddr {
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    authority.parse().unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Whether `address` still accepts connections, asked until it refuses one (at most about five seconds: the
/// suite's listeners close while `drop` runs, so the first answer is the one expected).
async fn still_listening(address: SocketAddr) -> bool {
    for _ in 0..200 {
        match tokio::net::TcpStream::connect(address).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return false,
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    true
}

#[tokio::test]
async fn suite_start_serves_the_default_lab_and_drop_closes_every_port() {
    let suite = Suite::start().await.unwrap();
    let addresses: Vec<(String, SocketAddr)> = suite
        .urls()
        .iter()
        .map(|(name, url)| (name.clone(), address(url)))
        .collect();
    assert_eq!(addresses.len(), 5, "{addresses:?}");
    // Every service answers through the typed clients, over HTTPS trusting only the suite's lab CA.
    for (name, _) in &addresses {
        suite.control(name).health().await.unwrap();
    }
    let five_seats = suite
        .client()
        .licenses()
        .get("EFTM000000000005")
        .await
        .unwrap();
    assert_eq!(
        five_seats.summary.code.map(|c| c.to_string()).as_deref(),
        Some(FIVE_SEAT_CODE)
    );
    for (name, address) in &addresses {
        assert!(
            tokio::net::TcpStream::connect(address).await.is_ok(),
            "{name} on {address} accepts connections while the suite runs"
        );
    }

    drop(suite);

    for (name, address) in &addresses {
        assert!(
            !still_listening(*address).await,
            "{name} still accepts connections on {address} after the suite was dropped"
        );
    }
}

#[tokio::test]
async fn a_refusal_comes_back_from_the_typed_clients_with_its_status_and_body() {
    let suite = Suite::start().await.unwrap();
    let refused = suite
        .client()
        .licenses()
        .get("EFTM000000009999")
        .await
        .refusal()
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.status, 404, "{refused}");
    assert_eq!(refused.body.error_id, "forticare.license.not-found");
    assert!(refused.to_string().contains("no license"), "{refused}");
    // An answer is an answer, and a suite that cannot be reached is not a refusal.
    let found = suite
        .client()
        .licenses()
        .get("EFTM000000000005")
        .await
        .refusal()
        .unwrap();
    assert!(found.is_ok());
    let gone = fortimock_testing::SuiteClient::new(
        [("forticare".to_owned(), "https://127.0.0.1:9".to_owned())]
            .into_iter()
            .collect(),
        None,
    )
    .unwrap();
    assert!(gone.licenses().list().await.refusal().is_err());
    suite.stop().await;
}
