//! The push relay end to end, started on its own on port 0 over HTTPS (so each test picks its journal cap and restarts it):
//! the captured FortiOS push accepted and journaled, long-polls in arrival order and woken by a push,
//! `Unregistered` for unknown and uninstalled devices, `BadDeviceToken`, every `BadRequest` with its
//! sentence, 413, webhooks, the journal's cap, and a restart that keeps devices and queued pushes.
//! The relay is never given a seed: it passes pushes on unread.

use protocol::paths;
use std::path::Path;

use actix_web::{App, HttpResponse, HttpServer, web};
use e2e::{capture, test_options};
use lab::options::Lab;
use lab::server::RunningService;
use protocol::paths::RELAY_PUSH;
use protocol::push::{
    DeliveredPush, DeviceList, DeviceView, PushAccepted, PushBatch, PushJournal, PushMessage,
    PushRequest,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const IOS_ID: &str = "fa0678e8f9e35f6a251cea691e4d56ed6fe9169ad03d2d26fe6dede6c8985a90";

/// A relay started for one test, and a client trusting the lab CA.
struct Relay {
    service: RunningService,
    client: reqwest::Client,
}

impl Relay {
    async fn start(lab: &Lab, service_dir: Option<&Path>, journal_cap: usize) -> Relay {
        lab::telemetry::init_for_tests();
        let service = push::start(push::Config {
            listen: lab.listen("push", 0).unwrap(),
            service_dir: service_dir.map(Path::to_path_buf),
            http: lab.http_client().unwrap(),
            journal_cap,
        })
        .await
        .unwrap();
        assert!(service.url().starts_with("https://127.0.0.1:"));
        Relay {
            service,
            client: lab.http_client().unwrap(),
        }
    }

    /// Sends a request; returns the status and the JSON body (`null` when empty).
    async fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> (StatusCode, Value) {
        let request = self
            .client
            .request(method, format!("{}{path}", self.service.url()));
        let request = match body {
            Some(body) => request
                .header("Content-Type", "application/json")
                .body(body),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, body)
    }

    async fn put_device(&self, id: &str, registration: Value) -> (StatusCode, Value) {
        let body = serde_json::to_vec(&registration).unwrap();
        self.call(
            Method::PUT,
            &paths::fill(paths::RELAY_DEVICE, &[id]),
            Some(body),
        )
        .await
    }

    async fn register(&self, id: &str, platform: &str) -> DeviceView {
        let (status, body) = self.put_device(id, json!({"platform": platform})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        serde_json::from_value(body).unwrap()
    }

    async fn send(&self, body: impl Into<Vec<u8>>) -> (StatusCode, Value) {
        self.call(Method::POST, RELAY_PUSH, Some(body.into())).await
    }

    async fn accepted(&self, body: impl Into<Vec<u8>>) -> PushAccepted {
        let (status, answer) = self.send(body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        serde_json::from_value(answer).unwrap()
    }

    async fn poll(&self, id: &str, after: u64, wait: u64) -> PushBatch {
        let path = format!(
            "{}?after={after}&wait={wait}",
            paths::fill(paths::RELAY_DEVICE_PUSHES, &[id])
        );
        let (status, body) = self.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    async fn journal(&self, query: &str) -> PushJournal {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("{}{query}", paths::ADMIN_PUSHES),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    async fn stop(self) {
        self.service.stop().await;
    }
}

fn lab() -> Lab {
    test_options(None).prepare().unwrap()
}

/// The push FortiOS sent in the capture.
fn captured() -> PushRequest {
    serde_json::from_str(&capture("push-send.request.json")).unwrap()
}

/// The captured push, its message naming token `sn` instead.
fn push_for(sn: &str) -> Vec<u8> {
    let mut request = captured();
    let mut message = PushMessage::from_wire(&request.message).unwrap();
    message.sn = sn.to_owned();
    request.message = message.to_wire();
    serde_json::to_vec(&request).unwrap()
}

fn is_message_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Asserts a refusal's status, reason and the start of its sentence.
fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, reason: &str, says: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(says),
        "`{message}` should start with `{says}`"
    );
}

#[tokio::test]
async fn the_captured_push_is_delivered_and_journaled() {
    let lab = lab();
    let relay = Relay::start(&lab, None, push::DEFAULT_JOURNAL_CAP).await;
    let request = captured();
    let id = request.registration_id.as_str();
    let device = relay.register(id, "android").await;
    assert_eq!((device.platform.as_str(), device.queued), ("android", 0));
    // Registering again changes nothing but the answer's status.
    let (status, _) = relay.put_device(id, json!({"platform": "android"})).await;
    assert_eq!(status, StatusCode::OK);

    // The body exactly as FortiOS sent it, to the API path and to `/`.
    let body = capture("push-send.request.json");
    let first = relay.accepted(body.clone()).await;
    assert_eq!(first.status, "ok");
    assert!(is_message_id(&first.message_id), "{}", first.message_id);
    let (status, answer) = relay.call(Method::POST, "/", Some(body.into())).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let second: PushAccepted = serde_json::from_value(answer).unwrap();
    assert!(is_message_id(&second.message_id));
    assert_ne!(first.message_id, second.message_id);

    // The phone gets both, in order, the message passed on unread.
    let batch = relay.poll(id, 0, 0).await;
    let ids: Vec<_> = batch.pushes.iter().map(|p| p.message_id.as_str()).collect();
    assert_eq!(ids, [first.message_id.as_str(), second.message_id.as_str()]);
    let delivered = &batch.pushes[0];
    assert_eq!(delivered.message, request.message);
    assert_eq!(delivered.sender, "FGT-FGVM32TM20000015-root");
    assert_eq!(delivered.platform, "android");
    assert_eq!(delivered.registration_id, id);
    assert!(batch.pushes[1].seq > delivered.seq);
    assert_eq!(batch.last_seq, batch.pushes[1].seq);

    let journal = relay.journal("").await;
    assert_eq!(journal.pushes.len(), 2, "{journal:?}");
    let entry = &journal.pushes[0];
    assert_eq!(entry.sn.as_deref(), Some("FTKMOB028CA23F11"));
    assert_eq!(entry.sender, "FGT-FGVM32TM20000015-root");
    assert_eq!(entry.outcome, "delivered");
    assert_eq!(entry.message_id.as_deref(), Some(first.message_id.as_str()));
    assert_eq!(entry.seq, delivered.seq);

    let (status, body) = relay
        .call(Method::GET, &paths::fill(paths::RELAY_DEVICE, &[id]), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["queued"], 2);
    let (_, body) = relay.call(Method::GET, paths::ADMIN_DEVICES, None).await;
    let devices: DeviceList = serde_json::from_value(body).unwrap();
    assert_eq!(devices.devices.len(), 1);
    assert_eq!(devices.devices[0].registration_id, id);
    relay.stop().await;
}

#[tokio::test]
async fn long_polls_return_pushes_in_arrival_order() {
    let lab = lab();
    let relay = Relay::start(&lab, None, push::DEFAULT_JOURNAL_CAP).await;
    let id = captured().registration_id;
    relay.register(&id, "android").await;
    let serials = [
        "FTKMOB0000000001",
        "FTKMOB0000000002",
        "FTKMOB0000000003",
        "FTKMOB0000000004",
        "FTKMOB0000000005",
    ];
    let mut sent = Vec::new();
    for sn in serials {
        sent.push(relay.accepted(push_for(sn)).await.message_id);
    }
    let batch = relay.poll(&id, 0, 0).await;
    let got: Vec<_> = batch.pushes.iter().map(|p| p.message_id.clone()).collect();
    assert_eq!(got, sent);
    let sns: Vec<_> = batch
        .pushes
        .iter()
        .map(|p| PushMessage::from_wire(&p.message).unwrap().sn)
        .collect();
    assert_eq!(sns, serials);
    // After the second one, the rest; after the last one, nothing.
    let rest = relay.poll(&id, batch.pushes[1].seq, 0).await;
    assert_eq!(rest.pushes, batch.pushes[2..]);
    let none = relay.poll(&id, batch.last_seq, 0).await;
    assert!(none.pushes.is_empty());
    assert_eq!(none.last_seq, batch.last_seq);
    // A wait with nothing arriving answers empty when it is over.
    let waited = relay.poll(&id, batch.last_seq, 1).await;
    assert!(waited.pushes.is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn a_waiting_long_poll_wakes_up_with_the_push() {
    let lab = lab();
    let relay = Relay::start(&lab, None, push::DEFAULT_JOURNAL_CAP).await;
    let id = captured().registration_id;
    relay.register(&id, "android").await;
    let poll = relay.poll(&id, 0, 20);
    let send = relay.accepted(capture("push-send.request.json"));
    let (batch, accepted) = tokio::join!(poll, send);
    assert_eq!(batch.pushes.len(), 1, "{batch:?}");
    assert_eq!(batch.pushes[0].message_id, accepted.message_id);
    relay.stop().await;
}

#[tokio::test]
async fn unknown_and_uninstalled_devices_are_unregistered() {
    let lab = lab();
    let relay = Relay::start(&lab, None, push::DEFAULT_JOURNAL_CAP).await;
    let id = captured().registration_id;
    let body = capture("push-send.request.json");
    let never = relay.send(body.clone()).await;
    assert_refused(
        &never,
        StatusCode::GONE,
        "Unregistered",
        "no device is registered under",
    );
    relay.register(&id, "android").await;
    relay.accepted(body.clone()).await;
    let device = paths::fill(paths::RELAY_DEVICE, &[&id]);
    let (status, _) = relay.call(Method::DELETE, &device, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_refused(
        &relay.send(body.clone()).await,
        StatusCode::GONE,
        "Unregistered",
        "no device is registered under",
    );
    for method in [Method::GET, Method::DELETE] {
        let answer = relay.call(method, &device, None).await;
        assert_refused(&answer, StatusCode::NOT_FOUND, "NotFound", "no device");
    }
    let answer = relay
        .call(Method::GET, &format!("{device}/pushes"), None)
        .await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "NotFound", "no device");
    // Installed again, the device starts with an empty queue.
    relay.register(&id, "android").await;
    assert!(relay.poll(&id, 0, 0).await.pushes.is_empty());
    let outcomes: Vec<_> = relay
        .journal(&format!("?registration_id={id}"))
        .await
        .pushes
        .into_iter()
        .map(|e| e.outcome)
        .collect();
    assert_eq!(outcomes, ["Unregistered", "delivered", "Unregistered"]);
    relay.stop().await;
}

#[tokio::test]
async fn ids_that_are_no_push_token_or_of_the_other_platform_are_bad_device_tokens() {
    let lab = lab();
    let relay = Relay::start(&lab, None, push::DEFAULT_JOURNAL_CAP).await;
    let mut request = captured();
    let android_id = request.registration_id.clone();
    request.registration_id = "not-a-push-token".into();
    let answer = relay.send(serde_json::to_vec(&request).unwrap()).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "BadDeviceToken",
        "`not-a-push-token` is not a push token",
    );
    // The captured Android id registered as an iOS device.
    relay.register(&android_id, "ios").await;
    let answer = relay.send(capture("push-send.request.json")).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "BadDeviceToken",
        &format!("`{android_id}` is registered as an ios device, not android"),
    );
    assert_eq!(relay.poll(&android_id, 0, 0).await.pushes, []);

    // Registrations are checked too.
    let answer = relay
        .put_device("not-a-push-token", json!({"platform": "ios"}))
        .await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "BadDeviceToken",
        "`not-a-push-token` is not a push token",
    );
    let answer = relay
        .put_device(IOS_ID, json!({"platform": "blackberry"}))
        .await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "`platform` is `blackberry`; it must be `android` or `ios`",
    );
    let answer = relay
        .put_device(
            IOS_ID,
            json!({"platform": "ios", "webhook": "ftp://127.0.0.1/x"}),
        )
        .await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "`webhook` `ftp://127.0.0.1/x` is not an http or https URL",
    );
    let (status, _) = relay
        .call(
            Method::GET,
            &paths::fill(paths::RELAY_DEVICE, &[IOS_ID]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let outcomes: Vec<_> = relay
        .journal("")
        .await
        .pushes
        .into_iter()
        .map(|e| (e.registration_id, e.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("not-a-push-token".to_owned(), "BadDeviceToken".to_owned()),
            (android_id, "BadDeviceToken".to_owned()),
        ]
    );
    relay.stop().await;
}

#[tokio::test]
async fn bad_requests_say_what_is_wrong() {
    let lab = lab();
    let relay = Relay::start(&lab, None, push::DEFAULT_JOURNAL_CAP).await;
    let request = captured();
    relay.register(&request.registration_id, "android").await;
    let with = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut value = serde_json::to_value(captured()).unwrap();
        change(value.as_object_mut().unwrap());
        serde_json::to_vec(&value).unwrap()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"sender=FGT".to_vec(), "the body is not JSON"),
        (b"[]".to_vec(), "the body is an array, not an object"),
        (
            with(&|o| {
                o.remove("sender");
            }),
            "`sender` is missing",
        ),
        (
            with(&|o| {
                o.insert("platform".into(), json!(1));
            }),
            "`platform` must be a string, not a number",
        ),
        (
            with(&|o| {
                let message = PushMessage::from_wire(o["message"].as_str().unwrap()).unwrap();
                o.insert("message".into(), serde_json::to_value(message).unwrap());
            }),
            "`message` must be a JSON string holding {ciphertext, sn, hmac, iv}, not an object",
        ),
        (
            with(&|o| {
                o.insert("message".into(), json!("{ \"sn\": \"FTKMOB028CA23F11\" }"));
            }),
            "`message` is not a JSON string holding {ciphertext, sn, hmac, iv}: missing field",
        ),
        (
            with(&|o| {
                o.insert("app".into(), json!("FAC"));
            }),
            "`app` is `FAC`; the relay carries FortiToken Mobile pushes only (`FTM`)",
        ),
        (
            with(&|o| {
                o.insert("platform".into(), json!("Android"));
            }),
            "`platform` is `Android`; it must be `android` or `ios`",
        ),
        (
            with(&|o| {
                o.insert("sender".into(), json!("FGVM32TM20000015-root"));
            }),
            "`sender` `FGVM32TM20000015-root` is not of the form FGT-<serial>-<vdom>",
        ),
    ];
    for (body, says) in &cases {
        let answer = relay.send(body.clone()).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "BadRequest", says);
    }
    let huge = vec![b' '; 70 * 1024];
    assert_refused(
        &relay.send(huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLarge",
        "the body is larger than the relay reads",
    );
    // Nothing was delivered; the refusals that named a registration id are journaled.
    assert!(
        relay
            .poll(&request.registration_id, 0, 0)
            .await
            .pushes
            .is_empty()
    );
    let journal = relay.journal("").await;
    assert_eq!(journal.pushes.len(), cases.len() - 2, "{journal:?}");
    assert!(journal.pushes.iter().all(|e| e.outcome == "BadRequest"));
    assert!(journal.pushes.iter().all(|e| e.message_id.is_none()));
    relay.stop().await;
}

/// A webhook receiver: a small HTTP server that forwards every body it gets into a channel.
async fn webhook_receiver() -> (
    String,
    actix_web::dev::ServerHandle,
    mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let (sender, receiver) = mpsc::unbounded_channel::<Vec<u8>>();
    let sender = web::Data::new(sender);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new().app_data(sender.clone()).route(
            "/hook",
            web::post().to(
                |body: web::Bytes, sender: web::Data<mpsc::UnboundedSender<Vec<u8>>>| async move {
                    let _ = sender.send(body.to_vec());
                    HttpResponse::NoContent().finish()
                },
            ),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, handle, receiver)
}

#[tokio::test]
async fn webhooks_get_each_push_and_a_dead_one_fails_nothing() {
    let lab = lab();
    let relay = Relay::start(&lab, None, push::DEFAULT_JOURNAL_CAP).await;
    let (url, handle, mut received) = webhook_receiver().await;
    let id = captured().registration_id;
    let (status, body) = relay
        .put_device(&id, json!({"platform": "android", "webhook": url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["webhook"], url.as_str());
    let accepted = relay.accepted(capture("push-send.request.json")).await;
    let posted = tokio::time::timeout(std::time::Duration::from_secs(20), received.recv())
        .await
        .expect("the webhook was not called")
        .unwrap();
    let posted: DeliveredPush = serde_json::from_slice(&posted).unwrap();
    assert_eq!(posted.message_id, accepted.message_id);
    assert_eq!(posted.message, captured().message);
    assert_eq!(posted, relay.poll(&id, 0, 0).await.pushes[0]);

    // A webhook nobody answers at: the push is still accepted and waits for the long-poll.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (status, _) = relay
        .put_device(
            &id,
            json!({"platform": "android", "webhook": format!("http://{closed}/hook")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let again = relay.accepted(capture("push-send.request.json")).await;
    let batch = relay.poll(&id, posted.seq, 0).await;
    assert_eq!(batch.pushes[0].message_id, again.message_id);
    handle.stop(true).await;
    relay.stop().await;
}

#[tokio::test]
async fn the_journal_keeps_the_newest_entries_up_to_its_cap() {
    let lab = lab();
    let relay = Relay::start(&lab, None, 3).await;
    let id = captured().registration_id;
    relay.register(&id, "android").await;
    let mut sent = Vec::new();
    for n in 1..=5 {
        let sn = format!("FTKMOB000000000{n}");
        sent.push(relay.accepted(push_for(&sn)).await.message_id);
    }
    let journal = relay.journal("").await;
    let ids: Vec<_> = journal
        .pushes
        .iter()
        .map(|e| e.message_id.clone().unwrap())
        .collect();
    assert_eq!(ids, sent[2..]);
    let sns: Vec<_> = journal
        .pushes
        .iter()
        .map(|e| e.sn.clone().unwrap())
        .collect();
    assert_eq!(
        sns,
        ["FTKMOB0000000003", "FTKMOB0000000004", "FTKMOB0000000005"]
    );
    let newest = relay.journal("?limit=1").await;
    assert_eq!(
        newest.pushes[0].message_id.as_deref(),
        Some(sent[4].as_str())
    );
    let by_sender = relay.journal("?sender=FGT-FGVM32TM20000015-root").await;
    assert_eq!(by_sender.pushes.len(), 3);
    assert!(
        relay
            .journal("?sender=FGT-FGVM32TM20000099-root")
            .await
            .pushes
            .is_empty()
    );
    // Every push is still in the device's queue: the cap is the journal's.
    assert_eq!(relay.poll(&id, 0, 0).await.pushes.len(), 5);
    let (status, _) = relay.call(Method::DELETE, paths::ADMIN_PUSHES, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(relay.journal("").await.pushes.is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn a_restart_keeps_devices_and_queued_pushes() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let service_dir = dir.path().join("push");
    let relay = Relay::start(&lab, Some(&service_dir), push::DEFAULT_JOURNAL_CAP).await;
    let id = captured().registration_id;
    relay.register(&id, "android").await;
    relay.register(IOS_ID, "ios").await;
    let first = relay.accepted(push_for("FTKMOB0000000001")).await;
    let second = relay.accepted(push_for("FTKMOB0000000002")).await;
    let before = relay.poll(&id, 0, 0).await;
    relay.stop().await;

    let relay = Relay::start(&lab, Some(&service_dir), push::DEFAULT_JOURNAL_CAP).await;
    let after = relay.poll(&id, 0, 0).await;
    assert_eq!(after, before);
    let ids: Vec<_> = after.pushes.iter().map(|p| p.message_id.clone()).collect();
    assert_eq!(ids, [first.message_id, second.message_id]);
    let (_, body) = relay.call(Method::GET, paths::ADMIN_DEVICES, None).await;
    let devices: DeviceList = serde_json::from_value(body).unwrap();
    assert_eq!(devices.devices.len(), 2);
    // Sequence numbers go on from where they were.
    relay.accepted(push_for("FTKMOB0000000003")).await;
    let third = relay.poll(&id, after.last_seq, 0).await;
    assert_eq!(third.pushes[0].seq, after.last_seq + 1);
    assert_eq!(relay.journal("").await.pushes.len(), 3);
    relay.stop().await;
}
