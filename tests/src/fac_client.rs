//! A FortiAuthenticator REST API client written from shared/reference/fortiauthenticator-rest.md alone, as
//! an automation script uses the API: `https://<host name>/api/v1/`, HTTP Basic with an administrator and
//! API key, JSON bodies sent as text with no content type (as `requests.post(url, data=json.dumps(…))` does),
//! lists followed through `meta.next` by prepending the host. It reads answers as plain JSON, not through
//! fortimock's types, so the tests see what a script sees.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A script's view of one FortiAuthenticator.
#[derive(Clone)]
pub struct FacClient {
    http: reqwest::Client,
    /// `https://<host name>:<port>`.
    pub origin: String,
    admin: String,
    api_key: String,
}

impl FacClient {
    /// A client for `https://<host>:<port of addr>/api/v1/` that resolves `host` to `addr` (as the lab's DNS
    /// would) and trusts only the lab CA.
    pub fn new(
        ca_pem: &str,
        host: &str,
        addr: SocketAddr,
        admin: &str,
        api_key: &str,
    ) -> FacClient {
        let tls = lab::tls::client_config_trusting(ca_pem, None).unwrap();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .resolve(host, addr)
            .build()
            .unwrap();
        FacClient {
            http,
            origin: format!("https://{host}:{}", addr.port()),
            admin: admin.to_owned(),
            api_key: api_key.to_owned(),
        }
    }

    /// The same FAC with other credentials.
    pub fn with_credentials(&self, admin: &str, api_key: &str) -> FacClient {
        FacClient {
            admin: admin.to_owned(),
            api_key: api_key.to_owned(),
            ..self.clone()
        }
    }

    /// Any request; `path` is below `/api/v1/` (`fortitokens/?limit=5`) or absolute (`/api/v1/…`). The body
    /// goes as JSON text with no content type. Answers the status and the JSON body (`Null` when empty).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.send_raw(method, path, body.map(Value::to_string), true)
            .await
    }

    /// [`FacClient::send`] with a raw body, with or without the Basic credentials.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        authenticate: bool,
    ) -> (StatusCode, Value) {
        let url = if path.starts_with('/') {
            format!("{}{path}", self.origin)
        } else {
            format!("{}/api/v1/{path}", self.origin)
        };
        let mut request = self
            .http
            .request(method, url)
            .header("Accept", "application/json");
        if authenticate {
            let credentials = BASE64.encode(format!("{}:{}", self.admin, self.api_key));
            request = request.header("Authorization", format!("Basic {credentials}"));
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// `POST` with `Content-Type: application/json` (what `requests.post(url, json=…)` sends).
    pub async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let credentials = BASE64.encode(format!("{}:{}", self.admin, self.api_key));
        let response = self
            .http
            .post(format!("{}/api/v1/{path}", self.origin))
            .header("Authorization", format!("Basic {credentials}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// Every object of a list, following `meta.next` until it is null (what FAC scripts do).
    pub async fn all(&self, resource: &str) -> Vec<Value> {
        let mut objects = Vec::new();
        let mut next = Some(format!("/api/v1/{resource}"));
        while let Some(path) = next {
            let (status, page) = self.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {page}");
            objects.extend(page["objects"].as_array().unwrap().iter().cloned());
            next = page["meta"]["next"].as_str().map(str::to_owned);
        }
        objects
    }
}

/// The host name the tests' FortiAuthenticator answers to (the lab certificate covers it: `--tls-name`).
pub const FAC_HOST: &str = "fac.lab.test";

impl crate::TestSuite {
    /// A suite whose lab certificate covers [`FAC_HOST`].
    pub async fn with_fac_host() -> crate::TestSuite {
        let mut options = crate::test_options(None);
        options.tls_names = vec![FAC_HOST.to_owned()];
        crate::TestSuite::start_with(options, crate::default_fixtures()).await
    }

    /// A virtual FortiAuthenticator named `host`, with an API key for `admin`, and a script's client for it.
    pub async fn new_fac(&self, host: &str) -> (String, FacClient) {
        self.new_fac_with(host, serde_json::json!({})).await
    }

    /// [`crate::TestSuite::new_fac`] with more of the appliance's creation body (`ftm_push`, `settings`).
    pub async fn new_fac_with(&self, host: &str, mut body: Value) -> (String, FacClient) {
        body["mode"] = serde_json::json!("fortiauthenticator");
        let appliance = self.new_appliance(body).await;
        let serial = appliance.serial.to_string();
        let (status, answer) = self
            .admin_patch(
                "appliance",
                &protocol::paths::fill(protocol::paths::APPLIANCE_FAC, &[&serial]),
                &serde_json::json!({"host_name": host}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let (status, issued) = self
            .admin_post(
                "appliance",
                &protocol::paths::fill(protocol::paths::APPLIANCE_API_KEYS, &[&serial]),
                &serde_json::json!({"admin": "admin"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        assert_eq!(issued["host_name"], host);
        let client = FacClient::new(
            self.lab().ca_pem().unwrap(),
            host,
            self.appliance_addr(),
            "admin",
            issued["api_key"].as_str().unwrap(),
        );
        (serial, client)
    }

    /// Where the appliance service listens.
    pub fn appliance_addr(&self) -> SocketAddr {
        let url = reqwest::Url::parse(&self.url("appliance")).unwrap();
        SocketAddr::new(
            url.host_str()
                .unwrap()
                .trim_matches(['[', ']'])
                .parse()
                .unwrap(),
            url.port().unwrap(),
        )
    }

    /// PATCH JSON to an admin endpoint; returns the status and the JSON body.
    pub async fn admin_patch(
        &self,
        service: &str,
        path: &str,
        body: &impl serde::Serialize,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .patch(format!("{}{path}", self.url(service)))
            .json(body)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

/// The messages FortiAuthenticator `serial` sent (its outbox, `/appliances/{serial}/fac/outbox`), oldest first.
pub async fn outbox(suite: &crate::TestSuite, serial: &str) -> Vec<Value> {
    let outbox: Value = suite
        .admin_get(
            "appliance",
            &protocol::paths::fill(protocol::paths::APPLIANCE_OUTBOX, &[serial]),
        )
        .await;
    outbox["messages"].as_array().unwrap().clone()
}

/// Creates local user `name` with an email address through the REST API; answers its id.
pub async fn local_user(fac: &FacClient, name: &str) -> u64 {
    let (status, created) = fac
        .post(
            "localusers/",
            serde_json::json!({"username": name, "email": format!("{name}@example.test"), "password": "Secret-123"}),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{created}");
    created[0]["id"].as_u64().unwrap()
}

/// FAC's refusal of a token it cannot use: 400 with `This serial number is not available for use.`
#[track_caller]
pub fn assert_not_available(status: StatusCode, answer: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer["error"],
        protocol::catalogue::FAC_SERIAL_NOT_AVAILABLE.text,
        "{answer}"
    );
}
