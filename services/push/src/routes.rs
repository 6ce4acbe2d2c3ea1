//! The relay's HTTP surface: appliances' pushes (`POST /api/v1/push`, and `POST /`), the device API phones
//! use (`PUT`, `GET`, `DELETE /api/v1/devices/{registration_id}` and the long-poll
//! `GET /api/v1/devices/{registration_id}/pushes`), and the admin views (`/__admin/pushes`, the journal,
//! and `/__admin/devices`). Every error is a [`PushError`]. `lab` serves the rest of the control plane
//! from [`Service`].

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use lab::api::Api;
use lab::clock::Clock;
use lab::http::{ApiError, BodyError, Query, read_body};
use lab::scenario::{self, Fired};
use lab::server::with_outcome;
use lab::service::Service;
use lab::store::{Store, Table};
use protocol::modeled;
use protocol::paths;
use protocol::push::{
    DeviceList, DeviceRegistration, DeviceView, PushAccepted, PushBatch, PushJournal, PushRefused,
    PushRequest,
};
use protocol::scenario::{PUSH_MESSAGE, ScenarioAction, Trigger};
use protocol::time::UnixTime;
use serde::Deserialize;
use tokio::sync::watch;

use crate::error::{PushError, refused};
use crate::relay::{self, MAX_BODY, Push, Reason, Refusal, RefusedPush, platform_name, quoted};
use crate::store::{Delivery, JournalFilter, Relays};
use crate::webhook;

/// What every relay handler shares.
pub(crate) struct Relay {
    relays: Relays,
    clock: Clock,
    /// The client webhooks are posted with.
    http: reqwest::Client,
    /// Bumped after each delivered push is durable, and after each unregistration, to wake long-polls
    /// (handlers run on several worker threads; a `watch` sender is shared between them).
    arrivals: watch::Sender<u64>,
}

impl Service for Relay {
    const NAME: &'static str = crate::NAME;

    fn store(&self) -> &Store {
        self.relays.store()
    }

    const DESCRIPTION: &'static str = "The FortiGuard push relay (push.fortinet.com, with APNs and FCM \
        behind it): appliances' pushes delivered in arrival order to the device registered under their \
        registration id, picked up by long-poll or at a webhook. The relay never reads a push's payload.";

    fn routes(api: &mut Api<'_>) {
        api.route(__path_push, push)
            .route(__path_push_at_root, push)
            .route(__path_register, register)
            .route(__path_device, device)
            .route(__path_unregister, unregister)
            .route(__path_pushes, pushes);
    }

    fn admin_routes(api: &mut Api<'_>) {
        api.route(__path_journal, journal)
            .route(__path_clear_journal, clear_journal)
            .route(__path_devices, devices);
    }

    fn check_record(&self, table: Table, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        crate::store::check_record(table, key, value)
    }

    fn check_state(&self, incoming: &lab::state::Incoming) -> anyhow::Result<()> {
        crate::store::check_state(incoming)
    }

    /// After a reset (devices, queues and the journal emptied) or an import: long-polls read again, so
    /// waiting ones find their device gone, or pushes for it.
    async fn records_replaced(&self) -> Result<(), ApiError> {
        self.arrivals.send_modify(|_| {});
        Ok(())
    }
}

impl Relay {
    pub(crate) fn new(relays: Relays, clock: Clock, http: reqwest::Client) -> Relay {
        Relay {
            relays,
            clock,
            http,
            arrivals: watch::Sender::new(0),
        }
    }

    /// Delivers a well-formed push under a fresh random message id (32 lowercase hex digits): stored
    /// durably, then long-polls are woken and the device's webhook, if any, is posted to.
    async fn deliver(&self, push: &Push, now: UnixTime) -> Result<Delivery, PushError> {
        let message_id = hex::encode(rand::random::<[u8; 16]>());
        let delivery = self.relays.deliver(push, &message_id, now).await?;
        if let Delivery::Delivered {
            push: delivered,
            webhook,
        } = &delivery
        {
            let seq = delivered.seq;
            self.arrivals.send_modify(|last| *last = (*last).max(seq));
            if let Some(url) = webhook {
                webhook::post_later(self.http.clone(), url.clone(), delivered.clone());
            }
        }
        Ok(delivery)
    }

    /// The pushes for a device after `after`, at most [`BATCH_MAX`]; when there are none, waits up to `wait`
    /// for some to arrive, then answers with what there is (perhaps nothing). `None` for an unknown device.
    async fn next_batch(
        &self,
        registration_id: &str,
        after: u64,
        wait: Duration,
    ) -> Result<Option<PushBatch>, PushError> {
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribed before the first read, so a push that lands between the read and the wait still wakes
        // it.
        let mut arrivals = self.arrivals.subscribe();
        loop {
            let Some(batch) = self
                .relays
                .pushes_after(registration_id, after, BATCH_MAX)?
            else {
                return Ok(None);
            };
            if !batch.pushes.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(Some(batch));
            }
            match tokio::time::timeout_at(deadline, arrivals.changed()).await {
                // A push arrived (perhaps for another device), or a device went: read again.
                Ok(Ok(())) => {}
                // The relay is going away: answer with what there is.
                Ok(Err(_)) => return Ok(Some(batch)),
                // Time is up: the next pass reads once more and answers.
                Err(_) => {}
            }
        }
    }
}

/// The most pushes one long-poll answer carries.
const BATCH_MAX: usize = 100;

/// The longest a long-poll waits, in seconds; longer `wait`s are cut to this.
const MAX_WAIT_SECS: u64 = 60;

/// The `message_type` of the relay's log lines for pushes.
const PUSH_LOG: &str = "push";

/// Reads a request body with the one body reader, under the relay's [`MAX_BODY`], and keeps it for the
/// journal.
async fn read_relay_body(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<web::Bytes, Refusal> {
    let body = read_body(request, payload.into_inner(), MAX_BODY)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { .. } => Refusal::too_large(),
            BodyError::TimedOut => Refusal::new(Reason::BadRequest, e.to_string()),
            BodyError::Broken(_) => Refusal::new(Reason::BadRequest, e.to_string()),
        })?;
    lab::journal::keep_request_body(request, &body);
    Ok(body)
}

/// The push's log line: who sent it, for which platform, what became of it and its message id (never
/// the message).
fn logged(
    response: HttpResponse,
    sender: &str,
    platform: &str,
    outcome: &str,
    message_id: Option<&str>,
) -> HttpResponse {
    let sender = if sender.is_empty() { "-" } else { sender };
    let platform = if platform.is_empty() { "-" } else { platform };
    with_outcome(
        response,
        PUSH_LOG,
        format!(
            "{outcome} sender={} platform={} message_id={}",
            quoted(sender),
            quoted(platform),
            message_id.unwrap_or("-")
        ),
    )
}

/// `POST /api/v1/push` (and `POST /`): an appliance's push for a phone.
#[utoipa::path(post, path = paths::RELAY_PUSH, tag = "relay",
    request_body(content = PushRequest, description = "An appliance's push, as FortiOS sends it."),
    responses(
        (status = 200, description = "Delivered: queued for the device, on disk, posted to its webhook.", body = PushAccepted),
        (status = 400, description = "`BadRequest` (a sentence names the problem) or `BadDeviceToken`.", body = PushRefused),
        (status = 410, description = "`Unregistered`: no device under this registration id.", body = PushRefused),
        (status = 413, description = "`PayloadTooLarge`: a body over 64 KiB.", body = PushRefused)))]
async fn push(
    state: web::Data<Relay>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PushError> {
    let body = match read_relay_body(&request, payload).await {
        Ok(body) => body,
        Err(refusal) => {
            return Ok(logged(
                refused(&refusal),
                "",
                "",
                refusal.reason.as_str(),
                None,
            ));
        }
    };
    let now = state.clock.now();
    let push = match relay::decode_push(&body) {
        Ok(push) => push,
        Err(rejected) => {
            let reason = rejected.refusal.reason;
            let (sender, platform) = match &rejected.journal {
                Some(journal) => {
                    state
                        .relays
                        .journal_refusal(journal, reason.as_str(), now)
                        .await?;
                    (journal.sender.as_str(), journal.platform.as_str())
                }
                None => ("", ""),
            };
            return Ok(logged(
                refused(&rejected.refusal),
                sender,
                platform,
                reason.as_str(),
                None,
            ));
        }
    };
    let serial = protocol::push::parse_sender(&push.sender)
        .ok()
        .map(|(serial, _)| serial);
    let trigger = Trigger {
        serial: serial.as_ref().map(|s| s.as_str()),
        registration_id: Some(&push.registration_id),
        ..Trigger::new(PUSH_MESSAGE)
    };
    let fired = scenario::fire(&request, &trigger).await;
    match fired
        .as_ref()
        .and_then(|f| Some((f, scenario_answer(f, &push)?)))
    {
        Some((fired, answer)) => scenario_refusal(&state, &push, fired, answer, now).await,
        None => deliver(&state, &push, now).await,
    }
}

/// The status, reason and message a scenario answers a push with; `None` for a delay, after which the
/// push is delivered.
fn scenario_answer(fired: &Fired, push: &Push) -> Option<(u16, String, String)> {
    Some(match fired.action {
        ScenarioAction::Error(armed) if armed.error == &modeled::PUSH_BAD_DEVICE_TOKEN => (
            Reason::BadDeviceToken.status(),
            Reason::BadDeviceToken.as_str().to_owned(),
            format!(
                "`{}` is not a valid device token",
                quoted(&push.registration_id)
            ),
        ),
        ScenarioAction::Error(_) => {
            let refusal = Refusal::unregistered(&push.registration_id);
            (
                refusal.reason.status(),
                refusal.reason.as_str().to_owned(),
                refusal.message,
            )
        }
        ScenarioAction::Status(status) => (
            status,
            relay::reason_for_status(status),
            format!("the relay answered HTTP {status}"),
        ),
        ScenarioAction::Delay => return None,
    })
}

/// A push a scenario refuses: answered, journaled and logged like a real refusal, never delivered.
async fn scenario_refusal(
    state: &Relay,
    push: &Push,
    fired: &Fired,
    (status, reason, message): (u16, String, String),
    now: UnixTime,
) -> Result<HttpResponse, PushError> {
    let refused_push = RefusedPush {
        registration_id: push.registration_id.clone(),
        sender: push.sender.clone(),
        platform: platform_name(push.platform).to_owned(),
        sn: Some(push.sn.clone()),
    };
    state
        .relays
        .journal_refusal(&refused_push, &reason, now)
        .await?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let response = HttpResponse::build(status).json(PushRefused {
        status: "error".to_owned(),
        reason,
        message: format!("{message} (scenario {})", fired.id),
    });
    Ok(logged(
        response,
        &push.sender,
        platform_name(push.platform),
        &fired.outcome(),
        None,
    ))
}

async fn deliver(state: &Relay, push: &Push, now: UnixTime) -> Result<HttpResponse, PushError> {
    let platform = platform_name(push.platform);
    let delivery = state.deliver(push, now).await?;
    let refusal = match delivery {
        Delivery::Delivered {
            push: delivered, ..
        } => {
            let accepted = PushAccepted {
                status: "ok".to_owned(),
                message_id: delivered.message_id.clone(),
            };
            return Ok(logged(
                HttpResponse::Ok().json(accepted),
                &push.sender,
                platform,
                relay::DELIVERED,
                Some(&delivered.message_id),
            ));
        }
        Delivery::Unregistered => Refusal::unregistered(&push.registration_id),
        Delivery::WrongPlatform(registered) => {
            Refusal::wrong_platform(&push.registration_id, push.platform, registered)
        }
    };
    Ok(logged(
        refused(&refusal),
        &push.sender,
        platform,
        refusal.reason.as_str(),
        None,
    ))
}

/// `PUT /api/v1/devices/{registration_id}`: the app installed (201) or its registration changed (200).
#[utoipa::path(put, path = paths::RELAY_DEVICE, tag = "relay devices",
    params(("registration_id" = String, Path, description = "The push token: FCM `<instance id>:APA91b…` or APNs 64 hex digits.")),
    request_body = DeviceRegistration,
    responses(
        (status = 201, description = "Registered.", body = DeviceView),
        (status = 200, description = "Registered again (the queue stays).", body = DeviceView),
        (status = 400, description = "`BadRequest` or `BadDeviceToken`.", body = PushRefused)))]
async fn register(
    state: web::Data<Relay>,
    registration_id: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PushError> {
    let body = read_relay_body(&request, payload).await?;
    let registration = relay::decode_registration(&registration_id, &body)?;
    let now = state.clock.now();
    Ok(
        match state
            .relays
            .register(&registration_id, &registration, now)
            .await?
        {
            (true, view) => HttpResponse::Created().json(view),
            (false, view) => HttpResponse::Ok().json(view),
        },
    )
}

/// `GET /api/v1/devices/{registration_id}`.
#[utoipa::path(get, path = paths::RELAY_DEVICE, tag = "relay devices",
    params(("registration_id" = String, Path, description = "The push token.")),
    responses(
        (status = 200, description = "The device.", body = DeviceView),
        (status = 400, description = "`BadRequest` or `BadDeviceToken`.", body = PushRefused),
        (status = 404, description = "`NotFound`.", body = PushRefused)))]
async fn device(
    state: web::Data<Relay>,
    registration_id: web::Path<String>,
) -> Result<HttpResponse, PushError> {
    match state.relays.device(&registration_id)? {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(Refusal::not_found(&registration_id).into()),
    }
}

/// `DELETE /api/v1/devices/{registration_id}`: the app uninstalled; later pushes are `Unregistered`.
#[utoipa::path(delete, path = paths::RELAY_DEVICE, tag = "relay devices",
    params(("registration_id" = String, Path, description = "The push token.")),
    responses(
        (status = 204, description = "The device and its queue are gone."),
        (status = 400, description = "`BadRequest` or `BadDeviceToken`.", body = PushRefused),
        (status = 404, description = "`NotFound`.", body = PushRefused)))]
async fn unregister(
    state: web::Data<Relay>,
    registration_id: web::Path<String>,
) -> Result<HttpResponse, PushError> {
    if !state.relays.unregister(&registration_id).await? {
        return Err(Refusal::not_found(&registration_id).into());
    }
    // Long-polls on the device wake up and find it gone.
    state.arrivals.send_modify(|_| {});
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PollQuery {
    /// Only pushes with a `seq` above this (default 0).
    after: Option<u64>,
    /// Seconds to wait for the first push when there is none (default 0, at most 60).
    wait: Option<u64>,
}

/// `POST /`: the same push, at the relay's root (the capture does not show the request line).
#[utoipa::path(post, path = paths::RELAY_ROOT, tag = "relay",
    request_body(content = PushRequest, description = "An appliance's push, as FortiOS sends it."),
    responses(
        (status = 200, description = "Delivered.", body = PushAccepted),
        (status = 400, description = "`BadRequest` or `BadDeviceToken`.", body = PushRefused),
        (status = 410, description = "`Unregistered`.", body = PushRefused),
        (status = 413, description = "`PayloadTooLarge`.", body = PushRefused)))]
#[allow(dead_code)]
fn push_at_root() {}

/// `GET /api/v1/devices/{registration_id}/pushes?after=<seq>&wait=<secs>`: the pushes after `after`, or,
/// when there are none, the first ones to arrive within `wait` seconds (the answer may be empty).
#[utoipa::path(get, path = paths::RELAY_DEVICE_PUSHES, tag = "relay devices",
    params(
        ("registration_id" = String, Path, description = "The push token."),
        PollQuery),
    responses(
        (status = 200, description = "The pushes after `after`, in arrival order, at most 100.", body = PushBatch),
        (status = 400, description = "`BadRequest` or `BadDeviceToken`.", body = PushRefused),
        (status = 404, description = "`NotFound`.", body = PushRefused)))]
async fn pushes(
    state: web::Data<Relay>,
    registration_id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, PushError> {
    let query: PollQuery = serde_urlencoded::from_str(request.query_string()).map_err(|e| {
        Refusal::new(
            Reason::BadRequest,
            format!("the query string is not after=<seq>&wait=<seconds> (whole numbers): {e}"),
        )
    })?;
    let after = query.after.unwrap_or(0);
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    match state.next_batch(&registration_id, after, wait).await? {
        Some(batch) => Ok(HttpResponse::Ok().json(batch)),
        None => Err(Refusal::not_found(&registration_id).into()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct JournalQuery {
    /// Only pushes to this registration id.
    registration_id: Option<String>,
    /// Only pushes from this sender (`FGT-<serial>-<vdom>`).
    sender: Option<String>,
    /// The newest N.
    limit: Option<usize>,
}

/// `GET /__admin/pushes?registration_id=&sender=&limit=`: the journal, oldest first.
#[utoipa::path(get, path = paths::ADMIN_PUSHES, tag = "relay journal", operation_id = "push_journal", params(JournalQuery),
    responses((status = 200, description = "Every push request answered, oldest first, never the message.", body = PushJournal)))]
async fn journal(
    state: web::Data<Relay>,
    query: Query<JournalQuery>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query;
    let filter = JournalFilter {
        registration_id: query.registration_id.filter(|id| !id.is_empty()),
        sender: query.sender.filter(|sender| !sender.is_empty()),
        limit: query.limit,
    };
    let pushes = state.relays.journal(&filter)?;
    Ok(HttpResponse::Ok().json(PushJournal { pushes }))
}

/// `DELETE /__admin/pushes`: empties the journal.
#[utoipa::path(delete, path = paths::ADMIN_PUSHES, tag = "relay journal", operation_id = "clear_push_journal",
    responses((status = 204, description = "Emptied.")))]
async fn clear_journal(state: web::Data<Relay>) -> Result<HttpResponse, ApiError> {
    let cleared = state.relays.clear_journal().await?;
    tracing::info!(cleared, "push journal cleared");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /__admin/devices`: every registered device.
#[utoipa::path(get, path = paths::ADMIN_DEVICES, tag = "relay devices",
    responses((status = 200, description = "Every registered device with its queue length.", body = DeviceList)))]
async fn devices(state: web::Data<Relay>) -> Result<HttpResponse, ApiError> {
    let devices = state.relays.devices()?;
    Ok(HttpResponse::Ok().json(DeviceList { devices }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Registration;
    use crate::store::{Caps, Relays};
    use protocol::phone::Platform;

    const ANDROID: &str = "f6t6cMVZI5c:APA91bFzxAbCdEfGhIjKlMnOpQrStUv";
    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

    async fn relay() -> Relay {
        let caps = Caps {
            journal: 100,
            queue: 1000,
        };
        let store = Relays::open(None, caps).await.unwrap();
        let registration = Registration {
            platform: Platform::Android,
            webhook: None,
        };
        store.register(ANDROID, &registration, NOW).await.unwrap();
        let http = lab::client::http_client(None, None).unwrap();
        Relay::new(store, Clock::frozen_at(NOW), http)
    }

    fn push() -> Push {
        Push {
            sender: "FGT-FGVM32TM20000015-root".into(),
            registration_id: ANDROID.into(),
            platform: Platform::Android,
            message: "{ \"sn\": \"FTKMOB028CA23F11\" }".into(),
            sn: "FTKMOB028CA23F11".into(),
        }
    }

    #[tokio::test]
    async fn a_waiting_long_poll_is_woken_by_the_push() {
        let relay = relay().await;
        let push = push();
        // `join!` polls the long-poll first: it reads an empty queue and waits before the push is sent.
        let (batch, delivery) = tokio::join!(
            relay.next_batch(ANDROID, 0, Duration::from_secs(30)),
            relay.deliver(&push, NOW)
        );
        let batch = batch.unwrap().unwrap();
        let Delivery::Delivered {
            push: delivered, ..
        } = delivery.unwrap()
        else {
            panic!("not delivered");
        };
        assert_eq!(batch.pushes, std::slice::from_ref(&delivered));
        assert_eq!(batch.last_seq, delivered.seq);
        assert_eq!(delivered.message_id.len(), 32);
        assert!(
            delivered
                .message_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[tokio::test]
    async fn a_long_poll_on_a_device_that_goes_away_ends() {
        let relay = relay().await;
        let unregister = async {
            relay.relays.unregister(ANDROID).await.unwrap();
            relay.arrivals.send_modify(|_| {});
        };
        let (batch, ()) = tokio::join!(
            relay.next_batch(ANDROID, 0, Duration::from_secs(30)),
            unregister
        );
        assert_eq!(batch.unwrap(), None);
        assert_eq!(
            relay
                .next_batch("unknown", 0, Duration::ZERO)
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_long_poll_without_wait_answers_at_once() {
        let relay = relay().await;
        let batch = relay
            .next_batch(ANDROID, 7, Duration::ZERO)
            .await
            .unwrap()
            .unwrap();
        assert!(batch.pushes.is_empty());
        assert_eq!(batch.last_seq, 7);
    }
}
