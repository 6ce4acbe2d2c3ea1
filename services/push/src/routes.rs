//! The relay's HTTP surface: appliances' pushes (`POST /api/v1/push`, and `POST /`), the device API phones
//! use (`PUT`, `GET`, `DELETE /api/v1/devices/{registration_id}` and the long-poll
//! `GET /api/v1/devices/{registration_id}/pushes`), and the admin views (`/__admin/pushes`, the journal,
//! and `/__admin/devices`). Every error is a `PushRefused`, except the admin API's own.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use lab::clock::Clock;
use lab::scenario::{self, Fired};
use lab::server::with_outcome;
use protocol::modeled;
use protocol::push::{DeviceList, PUSH_PATH, PushAccepted, PushBatch, PushJournal, PushRefused};
use protocol::scenario::{PUSH_MESSAGE, ScenarioAction, Trigger};
use protocol::time::UnixTime;
use serde::Deserialize;
use tokio::sync::watch;

use crate::relay::{self, MAX_BODY, Push, Reason, Refusal, RefusedPush, platform_name, quoted};
use crate::store::{Delivery, JournalFilter, Store};
use crate::webhook;

/// What every relay handler shares.
pub(crate) struct Relay {
    store: Store,
    clock: Clock,
    /// The client webhooks are posted with.
    http: reqwest::Client,
    /// Bumped after each delivered push is flushed, and after each unregistration, to wake long-polls
    /// (handlers run on several worker threads; a `watch` sender is shared between them).
    arrivals: watch::Sender<u64>,
}

impl Relay {
    pub(crate) fn new(store: Store, clock: Clock, http: reqwest::Client) -> Relay {
        Relay {
            store,
            clock,
            http,
            arrivals: watch::Sender::new(0),
        }
    }

    /// Delivers a well-formed push under a fresh random message id (32 lowercase hex digits): stored and
    /// flushed, then long-polls are woken and the device's webhook, if any, is posted to.
    async fn deliver(&self, push: &Push, now: UnixTime) -> anyhow::Result<Delivery> {
        let message_id = hex::encode(rand::random::<[u8; 16]>());
        let delivery = self.store.deliver(push, &message_id, now).await?;
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
    ) -> anyhow::Result<Option<PushBatch>> {
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribed before the first read, so a push that lands between the read and the wait still wakes
        // it.
        let mut arrivals = self.arrivals.subscribe();
        loop {
            let Some(batch) = self.store.pushes_after(registration_id, after, BATCH_MAX)? else {
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

const DEVICE_PATH: &str = "/api/v1/devices/{registration_id}";
const PUSHES_PATH: &str = "/api/v1/devices/{registration_id}/pushes";

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: web::Data<Relay>) {
    cfg.app_data(state)
        .route(PUSH_PATH, web::post().to(push))
        .route("/", web::post().to(push))
        .route(DEVICE_PATH, web::put().to(register))
        .route(DEVICE_PATH, web::get().to(device))
        .route(DEVICE_PATH, web::delete().to(unregister))
        .route(PUSHES_PATH, web::get().to(pushes))
        .route("/__admin/reset", web::post().to(reset))
        .service(lab::state::resource(export_state, import_state))
        .route("/__admin/pushes", web::get().to(journal))
        .route("/__admin/pushes", web::delete().to(clear_journal))
        .route("/__admin/devices", web::get().to(devices));
}

/// A refusal in the relay's JSON.
fn refused(refusal: &Refusal) -> HttpResponse {
    let status =
        StatusCode::from_u16(refusal.reason.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(PushRefused {
        status: "error".to_owned(),
        reason: refusal.reason.as_str().to_owned(),
        message: refusal.message.clone(),
    })
}

/// A failure inside the relay: logged in full, answered with an opaque 500 in the relay's JSON.
fn internal(error: &anyhow::Error) -> HttpResponse {
    tracing::error!(error = format!("{error:#}"), "internal error");
    refused(&Refusal::new(
        Reason::InternalServerError,
        "internal error; see the fortimock log",
    ))
}

/// Reads a request body, refusing it past [`MAX_BODY`] (checked against `Content-Length` first).
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
) -> Result<web::Bytes, Refusal> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY) {
        return Err(Refusal::too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(MAX_BODY));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Refusal::new(
                Reason::BadRequest,
                format!("the body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Refusal::too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
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
async fn push(
    state: web::Data<Relay>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match read_body(&request, payload).await {
        Ok(body) => body,
        Err(refusal) => {
            return logged(refused(&refusal), "", "", refusal.reason.as_str(), None);
        }
    };
    let now = state.clock.now();
    let push = match relay::decode_push(&body) {
        Ok(push) => push,
        Err(rejected) => {
            let reason = rejected.refusal.reason;
            let (sender, platform) = match &rejected.journal {
                Some(journal) => {
                    if let Err(e) = state
                        .store
                        .journal_refusal(journal, reason.as_str(), now)
                        .await
                    {
                        return internal(&e);
                    }
                    (journal.sender.as_str(), journal.platform.as_str())
                }
                None => ("", ""),
            };
            return logged(
                refused(&rejected.refusal),
                sender,
                platform,
                reason.as_str(),
                None,
            );
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
) -> HttpResponse {
    let refused_push = RefusedPush {
        registration_id: push.registration_id.clone(),
        sender: push.sender.clone(),
        platform: platform_name(push.platform).to_owned(),
        sn: Some(push.sn.clone()),
    };
    if let Err(e) = state
        .store
        .journal_refusal(&refused_push, &reason, now)
        .await
    {
        return internal(&e);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let response = HttpResponse::build(status).json(PushRefused {
        status: "error".to_owned(),
        reason,
        message: format!("{message} (scenario {})", fired.id),
    });
    logged(
        response,
        &push.sender,
        platform_name(push.platform),
        &fired.outcome(),
        None,
    )
}

async fn deliver(state: &Relay, push: &Push, now: UnixTime) -> HttpResponse {
    let platform = platform_name(push.platform);
    let delivery = match state.deliver(push, now).await {
        Ok(delivery) => delivery,
        Err(e) => return internal(&e),
    };
    let refusal = match delivery {
        Delivery::Delivered {
            push: delivered, ..
        } => {
            let accepted = PushAccepted {
                status: "ok".to_owned(),
                message_id: delivered.message_id.clone(),
            };
            return logged(
                HttpResponse::Ok().json(accepted),
                &push.sender,
                platform,
                relay::DELIVERED,
                Some(&delivered.message_id),
            );
        }
        Delivery::Unregistered => Refusal::unregistered(&push.registration_id),
        Delivery::WrongPlatform(registered) => {
            Refusal::wrong_platform(&push.registration_id, push.platform, registered)
        }
    };
    logged(
        refused(&refusal),
        &push.sender,
        platform,
        refusal.reason.as_str(),
        None,
    )
}

/// `PUT /api/v1/devices/{registration_id}`: the app installed (201) or its registration changed (200).
async fn register(
    state: web::Data<Relay>,
    registration_id: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match read_body(&request, payload).await {
        Ok(body) => body,
        Err(refusal) => return refused(&refusal),
    };
    let registration = match relay::decode_registration(&registration_id, &body) {
        Ok(registration) => registration,
        Err(refusal) => return refused(&refusal),
    };
    let now = state.clock.now();
    match state
        .store
        .register(&registration_id, &registration, now)
        .await
    {
        Ok((true, view)) => HttpResponse::Created().json(view),
        Ok((false, view)) => HttpResponse::Ok().json(view),
        Err(e) => internal(&e),
    }
}

/// `GET /api/v1/devices/{registration_id}`.
async fn device(state: web::Data<Relay>, registration_id: web::Path<String>) -> HttpResponse {
    match state.store.device(&registration_id) {
        Ok(Some(view)) => HttpResponse::Ok().json(view),
        Ok(None) => refused(&Refusal::not_found(&registration_id)),
        Err(e) => internal(&e),
    }
}

/// `DELETE /api/v1/devices/{registration_id}`: the app uninstalled; later pushes are `Unregistered`.
async fn unregister(state: web::Data<Relay>, registration_id: web::Path<String>) -> HttpResponse {
    match state.store.unregister(&registration_id).await {
        Ok(true) => {
            // Long-polls on the device wake up and find it gone.
            state.arrivals.send_modify(|_| {});
            HttpResponse::NoContent().finish()
        }
        Ok(false) => refused(&Refusal::not_found(&registration_id)),
        Err(e) => internal(&e),
    }
}

#[derive(Deserialize)]
struct PollQuery {
    after: Option<u64>,
    wait: Option<u64>,
}

/// `GET /api/v1/devices/{registration_id}/pushes?after=<seq>&wait=<secs>`: the pushes after `after`, or,
/// when there are none, the first ones to arrive within `wait` seconds (the answer may be empty).
async fn pushes(
    state: web::Data<Relay>,
    registration_id: web::Path<String>,
    request: HttpRequest,
) -> HttpResponse {
    let query = match web::Query::<PollQuery>::from_query(request.query_string()) {
        Ok(query) => query.into_inner(),
        Err(e) => {
            return refused(&Refusal::new(
                Reason::BadRequest,
                format!("the query string is not after=<seq>&wait=<seconds> (whole numbers): {e}"),
            ));
        }
    };
    let after = query.after.unwrap_or(0);
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    match state.next_batch(&registration_id, after, wait).await {
        Ok(Some(batch)) => HttpResponse::Ok().json(batch),
        Ok(None) => refused(&Refusal::not_found(&registration_id)),
        Err(e) => internal(&e),
    }
}

#[derive(Deserialize)]
struct JournalQuery {
    registration_id: Option<String>,
    sender: Option<String>,
    limit: Option<usize>,
}

/// `GET /__admin/pushes?registration_id=&sender=&limit=`: the journal, oldest first.
async fn journal(state: web::Data<Relay>, query: web::Query<JournalQuery>) -> HttpResponse {
    let query = query.into_inner();
    let filter = JournalFilter {
        registration_id: query.registration_id.filter(|id| !id.is_empty()),
        sender: query.sender.filter(|sender| !sender.is_empty()),
        limit: query.limit,
    };
    match state.store.journal(&filter) {
        Ok(pushes) => HttpResponse::Ok().json(PushJournal { pushes }),
        Err(e) => lab::admin::internal(&e),
    }
}

/// `DELETE /__admin/pushes`: empties the journal.
async fn clear_journal(state: web::Data<Relay>) -> HttpResponse {
    match state.store.clear_journal().await {
        Ok(cleared) => {
            tracing::info!(cleared, "push journal cleared");
            HttpResponse::NoContent().finish()
        }
        Err(e) => lab::admin::internal(&e),
    }
}

/// `GET /__admin/state`.
async fn export_state(state: web::Data<Relay>, request: HttpRequest) -> HttpResponse {
    lab::state::export(&request, &state.store)
}

/// `PUT /__admin/state`.
async fn import_state(
    state: web::Data<Relay>,
    request: HttpRequest,
    body: web::Json<protocol::state::ServiceState>,
) -> HttpResponse {
    match lab::state::import(&request, &state.store, body.into_inner()).await {
        Ok(imported) => {
            // Long-polls read again: their device may be gone, or have pushes now.
            state.arrivals.send_modify(|_| {});
            HttpResponse::Ok().json(imported)
        }
        Err(refusal) => refusal.response(),
    }
}

/// `POST /__admin/reset`: devices, queues and the journal emptied; waiting long-polls find their device
/// gone.
async fn reset(state: web::Data<Relay>, request: HttpRequest) -> HttpResponse {
    match state.store.reset().await {
        Ok(removed) => {
            state.arrivals.send_modify(|_| {});
            lab::admin::reset_done(&request, removed, 0)
        }
        Err(e) => lab::admin::internal(&e),
    }
}

/// `GET /__admin/devices`: every registered device.
async fn devices(state: web::Data<Relay>) -> HttpResponse {
    match state.store.devices() {
        Ok(devices) => HttpResponse::Ok().json(DeviceList { devices }),
        Err(e) => lab::admin::internal(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Registration;
    use crate::store::Caps;
    use protocol::phone::Platform;

    const ANDROID: &str = "f6t6cMVZI5c:APA91bFzxAbCdEfGhIjKlMnOpQrStUv";
    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

    async fn relay() -> Relay {
        let caps = Caps {
            journal: 100,
            queue: 1000,
        };
        let store = Store::open(None, caps).await.unwrap();
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
            relay.store.unregister(ANDROID).await.unwrap();
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
