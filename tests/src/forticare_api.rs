//! The harness's calls to forticare's Customer Service and asset-management faces: transfer tickets, the
//! redemption certificate, API users, and the v3 API (token endpoint and calls), one method per endpoint.

use protocol::forticare_v3::{PASSWORD_GRANT, TokenAnswer};
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::TestSuite;

/// The default lab's API user and password (`fixtures/lab.json`).
pub const API_USER: &str = "fortimock-api";
pub const API_PASSWORD: &str = "fortimock-lab-api-password";

/// A file forticare served: status, content type, content disposition and bytes.
pub struct Served {
    pub status: StatusCode,
    pub content_type: String,
    pub disposition: String,
    pub bytes: Vec<u8>,
}

impl TestSuite {
    /// `POST /__admin/transfers`: the status and the ticket (or the refusal).
    pub async fn transfer(&self, body: Value) -> (StatusCode, Value) {
        self.admin_post("forticare", paths::ADMIN_TRANSFERS, &body)
            .await
    }

    /// `GET /__admin/transfers`.
    pub async fn transfers(&self) -> Value {
        self.admin_get("forticare", paths::ADMIN_TRANSFERS).await
    }

    /// `GET /__admin/licenses`, as JSON (to compare before and after).
    pub async fn licenses(&self) -> Value {
        self.admin_get("forticare", paths::ADMIN_LICENSES).await
    }

    /// `GET /__admin/licenses/{id}/certificate.pdf`.
    pub async fn certificate(&self, license: &str) -> Served {
        let response = self
            .client
            .get(format!(
                "{}{}",
                self.url("forticare"),
                paths::fill(paths::ADMIN_LICENSE_CERTIFICATE, &[license])
            ))
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (content_type, disposition) = (header("content-type"), header("content-disposition"));
        Served {
            status: response.status(),
            content_type,
            disposition,
            bytes: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// `POST /api/v1/oauth/token/` with `body`: the status and the answer.
    pub async fn v3_token_request(&self, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!(
                "{}{}",
                self.url("forticare"),
                paths::V3_OAUTH_TOKEN
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// A bearer token for `user` by the documented password grant.
    pub async fn v3_login(&self, user: &str, password: &str) -> String {
        let (status, answer) = self
            .v3_token_request(json!({
                "username": user, "password": password,
                "client_id": "assetmanagement", "grant_type": PASSWORD_GRANT,
            }))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        serde_json::from_value::<TokenAnswer>(answer)
            .unwrap()
            .access_token
    }

    /// `POST` a v3 endpoint (`paths::V3_*`) with `token` (none when empty): the status and the answer.
    pub async fn v3(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.url("forticare")))
            .json(&body);
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// `POST /__admin/api-users`.
    pub async fn create_api_user(&self, body: Value) -> (StatusCode, Value) {
        self.admin_post("forticare", paths::ADMIN_API_USERS, &body)
            .await
    }
}
