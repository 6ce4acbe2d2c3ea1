//! The phone's side of the push relay: registering the app's push token (its registration id) so pushes
//! for it reach this phone, as the real app does with APNs or FCM, and unregistering it when the app is
//! uninstalled. The relay delivers each push to the phone's webhook.

use anyhow::Context;
use lab::flow::InFlow;
use protocol::paths;
use protocol::phone::Platform;
use protocol::push::DeviceRegistration;

/// A client for the push relay; without a relay URL (a suite without one) it does nothing.
#[derive(Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    base_url: Option<String>,
}

fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Android => "android",
        Platform::Ios => "ios",
    }
}

impl RelayClient {
    pub fn new(http: reqwest::Client, base_url: Option<&str>) -> RelayClient {
        RelayClient {
            http,
            base_url: base_url.map(|url| url.trim_end_matches('/').to_owned()),
        }
    }

    /// Registers `registration_id` for `platform`, asking the relay to post pushes to `webhook`.
    pub async fn register(
        &self,
        registration_id: &str,
        platform: Platform,
        webhook: &str,
    ) -> anyhow::Result<()> {
        let Some(base) = &self.base_url else {
            return Ok(());
        };
        let url = format!(
            "{base}{}",
            paths::fill(paths::RELAY_DEVICE, &[registration_id])
        );
        let body = DeviceRegistration {
            platform: platform_name(platform).to_owned(),
            webhook: Some(webhook.to_owned()),
        };
        let response = self
            .http
            .put(&url)
            .in_flow()
            .json(&body)
            .send()
            .await
            .with_context(|| format!("PUT {url}"))?;
        if !response.status().is_success() {
            let status = response.status();
            anyhow::bail!(
                "PUT {url} answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Unregisters `registration_id`: pushes to it are Unregistered from now on.
    pub async fn unregister(&self, registration_id: &str) -> anyhow::Result<()> {
        let Some(base) = &self.base_url else {
            return Ok(());
        };
        let url = format!(
            "{base}{}",
            paths::fill(paths::RELAY_DEVICE, &[registration_id])
        );
        let response = self
            .http
            .delete(&url)
            .in_flow()
            .send()
            .await
            .with_context(|| format!("DELETE {url}"))?;
        if !(response.status().is_success() || response.status() == reqwest::StatusCode::NOT_FOUND)
        {
            anyhow::bail!("DELETE {url} answered {}", response.status());
        }
        Ok(())
    }
}
