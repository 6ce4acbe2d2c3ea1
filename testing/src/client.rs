//! How the CLI, the test harness and other projects' tests talk to a running suite: [`SuiteClient`] finds it
//! through the URLs `fortimock up` wrote to `<data-dir>/suite.json` (or the default ports, or explicit URLs),
//! trusts the lab CA and sends the admin token; the typed clients in `typed` are built on it.

use std::path::PathBuf;

use anyhow::Context;
use protocol::admin::ErrorBody;
use protocol::appliance::OperationFailure;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::services::SuiteUrls;

/// How to find and reach a running suite (the CLI's `--data-dir`, `--<service>-url`, `--cacert`,
/// `--client-cert`/`--client-key` and `--admin-token`).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// The data dir of the running suite (for `suite.json`, the lab CA and the admin token).
    pub data_dir: PathBuf,
    /// Base URLs that override `suite.json`, by service name.
    pub urls: Vec<(String, String)>,
    /// The CA certificate to trust (default: the lab CA in the data dir).
    pub cacert: Option<PathBuf>,
    /// A client certificate and its key (PEM files), for a suite started with `--require-client-cert`.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// The control plane's bearer token (default: `<data-dir>/admin-token`, if there is one).
    pub admin_token: Option<String>,
    /// The DNS server host names in the URLs resolve through (the lab's responder, so the real Fortinet
    /// names reach the lab); `None`: the system's configuration.
    pub resolver: Option<std::net::SocketAddr>,
}

impl From<&Connect> for Connect {
    fn from(connect: &Connect) -> Connect {
        connect.clone()
    }
}

/// A client for the running suite's HTTP APIs.
#[derive(Clone)]
pub struct SuiteClient {
    http: reqwest::Client,
    urls: SuiteUrls,
    admin_token: Option<String>,
}

/// The file `fortimock up` writes into its data dir.
pub const SUITE_FILE: &str = "suite.json";

impl SuiteClient {
    /// Finds a running suite through `<data-dir>/suite.json` (else the default ports), trusting the lab CA
    /// in the data dir and sending the data dir's admin token, unless `target` says otherwise.
    pub fn connect(target: impl Into<Connect>) -> anyhow::Result<SuiteClient> {
        let target: Connect = target.into();
        let mut urls: SuiteUrls = match std::fs::read_to_string(target.data_dir.join(SUITE_FILE)) {
            Ok(text) => serde_json::from_str(&text).context("reading suite.json")?,
            Err(_) => [
                (forticare::NAME, forticare::DEFAULT_PORT),
                (ftm::NAME, ftm::DEFAULT_PORT),
                (push::NAME, push::DEFAULT_PORT),
                (phone::NAME, phone::DEFAULT_PORT),
                (appliance::NAME, appliance::DEFAULT_PORT),
            ]
            .into_iter()
            .map(|(name, port)| (name.to_owned(), format!("https://127.0.0.1:{port}")))
            .collect(),
        };
        for (name, url) in &target.urls {
            urls.insert(name.clone(), url.trim_end_matches('/').to_owned());
        }
        let ca_path = target
            .cacert
            .clone()
            .unwrap_or_else(|| target.data_dir.join("tls/ca.pem"));
        let ca_pem = std::fs::read_to_string(&ca_path).ok();
        let identity = match &target.client_identity {
            Some((cert, key)) => Some(lab::tls::ClientIdentity {
                cert_pem: std::fs::read_to_string(cert)
                    .with_context(|| format!("reading {}", cert.display()))?,
                key_pem: std::fs::read_to_string(key)
                    .with_context(|| format!("reading {}", key.display()))?,
            }),
            None => None,
        };
        let http = lab::client::http_client_resolving(
            ca_pem.as_deref(),
            identity.as_ref(),
            target.resolver,
        )?;
        let admin_token = match &target.admin_token {
            Some(token) => Some(token.trim().to_owned()),
            None => std::fs::read_to_string(target.data_dir.join(lab::options::ADMIN_TOKEN_FILE))
                .ok()
                .map(|token| token.trim().to_owned())
                .filter(|token| !token.is_empty()),
        };
        Ok(SuiteClient {
            http,
            urls,
            admin_token,
        })
    }

    /// A client for a suite whose URLs and CA are known (tests, the demo).
    pub fn new(urls: SuiteUrls, ca_pem: Option<&str>) -> anyhow::Result<SuiteClient> {
        Ok(SuiteClient {
            http: lab::client::http_client(ca_pem, None)?,
            urls,
            admin_token: None,
        })
    }

    /// The HTTP client underneath (it trusts the suite's CA), also for APIs with their own credentials (a
    /// FortiAuthenticator's REST API).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The admin token this client sends, if any.
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token.as_deref()
    }

    /// A client for a suite whose URLs are known, over `http` (the dashboard's, built by the lab).
    pub fn with_http(http: reqwest::Client, urls: SuiteUrls) -> SuiteClient {
        SuiteClient {
            http,
            urls,
            admin_token: None,
        }
    }

    /// This client with `token` as its admin token.
    pub fn with_admin_token(mut self, token: Option<&str>) -> SuiteClient {
        self.admin_token = token.map(str::to_owned);
        self
    }

    /// The HTTP services this client knows, by name (not the SMTP listener or the DNS responder that
    /// `suite.json` also names).
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.urls
            .iter()
            .filter(|(_, url)| crate::services::is_http(url))
            .map(|(name, _)| name.as_str())
    }

    /// The base URL of service `name`.
    pub fn url(&self, service: &str) -> anyhow::Result<&str> {
        self.urls
            .get(service)
            .map(String::as_str)
            .with_context(|| format!("no {service} service in this suite"))
    }

    pub async fn get<T: DeserializeOwned>(&self, service: &str, path: &str) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.url(service)?);
        self.send(self.http.get(&url), &url).await
    }

    /// GETs a file (a redemption certificate, a state export): its bytes, or the admin API's refusal.
    pub async fn get_bytes(&self, service: &str, path: &str) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}{path}", self.url(service)?);
        let request = self.http.get(&url);
        let request = match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let mut response = request.send().await.with_context(|| {
            format!("cannot reach {url}: is `fortimock up` running (with the same --data-dir, or pass --cacert)?")
        })?;
        let status = response.status();
        // Read chunk by chunk into one buffer: a state export of a large lab is hundreds of MiB, streamed,
        // and collecting it first and copying it after would hold it twice.
        let mut bytes = Vec::with_capacity(
            response
                .content_length()
                .map_or(0, |n| n.min(1 << 26) as usize),
        );
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("reading the answer from {url}"))?
        {
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(refused(&url, status, &bytes));
        }
        Ok(bytes)
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        service: &str,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.url(service)?);
        self.send(self.http.post(&url).json(body), &url).await
    }

    /// POSTs JSON and returns the status and body whatever they are (for answers where a 4xx is an outcome).
    pub async fn post_raw<B: Serialize>(
        &self,
        service: &str,
        path: &str,
        body: &B,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let url = format!("{}{path}", self.url(service)?);
        let request = self.http.post(&url).json(body);
        let request = match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.with_context(|| {
            format!("cannot reach {url}: is `fortimock up` running (with the same --data-dir, or pass --cacert)?")
        })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer from {url}"))?;
        Ok((status, bytes.to_vec()))
    }

    /// POSTs a virtual-appliance operation: its outcome, or the failure the FortiToken server caused (with
    /// FortiOS's message and debug lines).
    pub async fn post_outcome<B: Serialize, T: DeserializeOwned>(
        &self,
        service: &str,
        path: &str,
        body: &B,
    ) -> anyhow::Result<Result<T, OperationFailure>> {
        let (status, bytes) = self.post_raw(service, path, body).await?;
        if (200..300).contains(&status) {
            return Ok(Ok(serde_json::from_slice(&bytes)
                .with_context(|| format!("decoding the answer to {path}"))?));
        }
        if let Ok(failure) = serde_json::from_slice::<OperationFailure>(&bytes) {
            return Ok(Err(failure));
        }
        let url = format!("{}{path}", self.url(service)?);
        Err(refused(
            &url,
            reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_GATEWAY),
            &bytes,
        ))
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        service: &str,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.url(service)?);
        self.send(self.http.put(&url).json(body), &url).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        service: &str,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.url(service)?);
        self.send(self.http.patch(&url).json(body), &url).await
    }

    /// GETs a file and one response header (a seed file and its zip password).
    pub async fn get_bytes_with_header(
        &self,
        service: &str,
        path: &str,
        header: &str,
    ) -> anyhow::Result<(Vec<u8>, Option<String>)> {
        let url = format!("{}{path}", self.url(service)?);
        let request = self.http.get(&url);
        let request = match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.with_context(|| {
            format!("cannot reach {url}: is `fortimock up` running (with the same --data-dir, or pass --cacert)?")
        })?;
        let status = response.status();
        let value = response
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer from {url}"))?;
        if !status.is_success() {
            return Err(refused(&url, status, &bytes));
        }
        Ok((bytes.to_vec(), value))
    }

    /// DELETEs an admin resource that answers with a JSON body.
    pub async fn delete_json<T: DeserializeOwned>(
        &self,
        service: &str,
        path: &str,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.url(service)?);
        self.send(self.http.delete(&url), &url).await
    }

    /// DELETEs an admin resource (answered with 204 No Content).
    pub async fn delete(&self, service: &str, path: &str) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.url(service)?);
        let request = self.http.delete(&url);
        let request = match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.with_context(|| {
            format!("cannot reach {url}: is `fortimock up` running (with the same --data-dir, or pass --cacert)?")
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = response.bytes().await.unwrap_or_default();
        Err(refused(url.as_str(), status, &bytes))
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> anyhow::Result<T> {
        let request = match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.with_context(|| {
            format!("cannot reach {url}: is `fortimock up` running (with the same --data-dir, or pass --cacert)?")
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer from {url}"))?;
        if !status.is_success() {
            return Err(refused(url, status, &bytes));
        }
        serde_json::from_slice(&bytes).with_context(|| format!("decoding the answer from {url}"))
    }
}

/// fortimock's own API refusing a request: the HTTP status and its `{"error_id", "message"}` body. Every
/// method of [`SuiteClient`] and of the typed clients fails with one (inside the `anyhow::Error`) when the
/// service answered a refusal in that shape; [`Refusable::refusal`] takes it out, for a caller that shows it
/// or tests it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The URL that was asked.
    pub url: String,
    /// The HTTP status (4xx or 5xx).
    pub status: u16,
    /// The refusal's stable id and sentence.
    pub body: ErrorBody,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.url, self.body.message, self.body.error_id
        )
    }
}

impl std::error::Error for Refusal {}

/// Splits a call's result into the answer, the service's [`Refusal`], or another failure (the suite not
/// reached, an answer that does not decode).
pub trait Refusable<T> {
    /// `Ok(Ok(answer))`, `Ok(Err(refusal))`, or the other failure as `Err`.
    fn refusal(self) -> anyhow::Result<Result<T, Refusal>>;
}

impl<T> Refusable<T> for anyhow::Result<T> {
    fn refusal(self) -> anyhow::Result<Result<T, Refusal>> {
        match self {
            Ok(answer) => Ok(Ok(answer)),
            Err(error) => match error.downcast::<Refusal>() {
                Ok(refusal) => Ok(Err(refusal)),
                Err(other) => Err(other),
            },
        }
    }
}

/// The error for an admin API refusal: a [`Refusal`] (its sentence and id), or the raw answer.
fn refused(url: &str, status: reqwest::StatusCode, bytes: &[u8]) -> anyhow::Error {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => anyhow::Error::new(Refusal {
            url: url.to_owned(),
            status: status.as_u16(),
            body,
        }),
        Err(_) => anyhow::anyhow!("{url}: HTTP {status}: {}", String::from_utf8_lossy(bytes)),
    }
}
