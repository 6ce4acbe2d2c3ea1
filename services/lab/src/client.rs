//! How fortimock's parts call each other and how its CLI and tests call fortimock: an HTTP client that
//! trusts the lab CA (and may present a client certificate), with timeouts so a dead peer is an error,
//! not a hang.

use std::time::Duration;

use anyhow::Context;

use crate::tls::{ClientIdentity, client_config_trusting};

/// A client trusting the CA certificates in `ca_pem` (none: plain HTTP only), presenting `identity` if given.
pub fn http_client(
    ca_pem: Option<&str>,
    identity: Option<&ClientIdentity>,
) -> anyhow::Result<reqwest::Client> {
    // Without a CA, reqwest builds its own TLS config from the process default provider (and trusts nothing).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("fortimock/", env!("CARGO_PKG_VERSION")));
    let builder = match ca_pem {
        Some(pem) => builder.use_preconfigured_tls(client_config_trusting(pem, identity)?),
        None => builder,
    };
    builder.build().context("building the HTTP client")
}
