//! Posting a delivered push to its device's webhook: best effort, in a task of its own, after the push is
//! flushed, so a slow or dead webhook never holds up or fails the push. Failures are logged (never the
//! message itself).

use lab::flow::InFlow;
use protocol::push::DeliveredPush;

/// Posts `push` as JSON to `url` in a spawned task and logs how it went.
pub fn post_later(http: reqwest::Client, url: String, push: DeliveredPush) {
    // The delivery belongs to the push's flow.
    lab::flow::spawn(async move {
        let answer = http.post(&url).in_flow().json(&push).send().await;
        match answer {
            Ok(response) if response.status().is_success() => tracing::debug!(
                message_id = push.message_id,
                status = response.status().as_u16(),
                "push posted to its webhook"
            ),
            Ok(response) => tracing::warn!(
                message_id = push.message_id,
                webhook = url,
                status = response.status().as_u16(),
                "the webhook refused a push"
            ),
            Err(e) => tracing::warn!(
                message_id = push.message_id,
                webhook = url,
                error = format!("{:#}", anyhow::Error::new(e.without_url())),
                "the webhook could not be reached"
            ),
        }
    });
}
