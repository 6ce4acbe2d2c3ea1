//! The timeline (`/__admin/timeline`): one flow per operation across forticare, ftm, the relay, the phones
//! and the appliances, in the order things happened; the flow id given at the front door and echoed; the
//! Mermaid diagram of a known flow pinned; bad queries refused clearly with nothing changed; and never a seed
//! or an activation code on it.

use e2e::{TestSuite, token};
use protocol::appliance::LoginResult;
use protocol::envelope::Envelope;
use protocol::license::ActivationLicenseRequest;
use protocol::modeled::{FLOW_HEADER, FROM_HEADER};
use protocol::paths;
use protocol::timeline::{FlowSummary, StepKind, TimelineEntry, TimelinePage, steps};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The flow started by `method path` (the newest such).
fn flow_started_by<'a>(page: &'a TimelinePage, method: &str, path: &str) -> &'a FlowSummary {
    page.flows
        .as_ref()
        .unwrap()
        .iter()
        .find(|f| f.method == method && f.path == path)
        .unwrap_or_else(|| panic!("no flow starts with {method} {path}: {page:#?}"))
}

/// The exchanges of `flow` as `(from, to, path, depth)` in the order the requests were made.
fn calls(entries: &[TimelineEntry]) -> Vec<(String, String, String, usize)> {
    steps(entries)
        .into_iter()
        .filter(|s| s.kind == StepKind::Request)
        .map(|s| {
            (
                s.entry.from.clone(),
                s.entry.to.clone(),
                s.entry.path.clone(),
                s.depth,
            )
        })
        .collect()
}

#[tokio::test]
async fn each_operation_is_one_flow_across_the_services() {
    let suite = TestSuite::start().await;
    let ready = suite
        .push_ready(json!({"status": true, "server_port": 0, "timeout_secs": 10}))
        .await;
    let (serial, phone) = (ready.serial.clone(), ready.phone.clone());
    suite
        .change_phone(&phone, json!({"push_policy": "approve"}))
        .await;
    let (status, outcome) = suite.push_login(&serial, "alice").await;
    assert_eq!(
        (status, outcome.result),
        (StatusCode::OK, LoginResult::Success)
    );
    let phone_actor = format!("phone {phone}");
    // The phone's answer reaches the appliance's listener, which lets the login finish before the
    // listener records the exchange: wait until it is on the timeline.
    let mut page = suite.timeline("flows=true").await;
    for _ in 0..5000 {
        if page
            .entries
            .iter()
            .any(|e| e.from == phone_actor && e.path == paths::PUSH_CALLBACK)
        {
            break;
        }
        tokio::task::yield_now().await;
        page = suite.timeline("flows=true").await;
    }
    let flow_of = |path: &str| {
        let flow = flow_started_by(&page, "POST", path);
        let entries: Vec<TimelineEntry> = page
            .entries
            .iter()
            .filter(|e| e.flow == flow.flow)
            .cloned()
            .collect();
        calls(&entries)
    };
    let front = |to: &str, path: &str| ("127.0.0.1".to_owned(), to.to_owned(), path.to_owned(), 0);
    let call = |from: &str, to: &str, path: &str, depth: usize| {
        (from.to_owned(), to.to_owned(), path.to_owned(), depth)
    };

    // Import: the appliance asks ftm, which forwards to forticare.
    let import = paths::fill(paths::APPLIANCE_IMPORT, &[&serial]);
    assert_eq!(
        flow_of(&import),
        [
            front(&serial, &import),
            call(&serial, "ftm", paths::PROCESS, 1),
            call("ftm", "forticare", paths::PROCESS, 2),
        ]
    );
    // Provision and poll: the appliance and ftm (which asks forticare's ledger in-process).
    let provision = paths::fill(paths::APPLIANCE_PROVISION, &[&serial]);
    assert_eq!(
        flow_of(&provision),
        [
            front(&serial, &provision),
            call(&serial, "ftm", paths::PROCESS, 1)
        ]
    );
    let poll = paths::fill(paths::APPLIANCE_POLL, &[&serial]);
    assert_eq!(
        flow_of(&poll),
        [
            front(&serial, &poll),
            call(&serial, "ftm", paths::PROCESS, 1)
        ]
    );
    // Activation: the phone redeems the code at ftm and registers with the relay.
    let activate = paths::fill(paths::PHONE_ACTIVATE, &[&phone]);
    let activation = flow_of(&activate);
    assert_eq!(activation[0], front(&phone_actor, &activate));
    assert_eq!(activation[1], call(&phone_actor, "ftm", paths::MOBILE, 1));
    assert!(
        activation[2..]
            .iter()
            .all(|c| c.0 == phone_actor && c.1 == "push"),
        "{activation:?}"
    );
    // Push login: the appliance to the relay, the relay's webhook to the phone, the phone's answer to the
    // appliance's ftm-push listener: one flow, spawned work included.
    let login = paths::fill(paths::APPLIANCE_LOGIN, &[&serial]);
    let push_login = flow_of(&login);
    assert_eq!(push_login[0], front(&serial, &login));
    assert_eq!(push_login[1], call(&serial, "push", paths::RELAY_PUSH, 1));
    let webhook = paths::fill(paths::PHONE_PUSH_WEBHOOK, &[&phone]);
    assert!(
        push_login
            .iter()
            .any(|c| c.0 == "push" && c.1 == phone_actor && c.2 == webhook),
        "{push_login:?}"
    );
    assert!(
        push_login
            .iter()
            .any(|c| c.0 == phone_actor && c.1 == serial && c.2 == paths::PUSH_CALLBACK),
        "{push_login:?}"
    );
    // Every service's control plane answers the same timeline.
    for service in ["forticare", "push", "phone", "appliance"] {
        let (status, text) = suite.timeline_text(service, "").await;
        assert_eq!(status, StatusCode::OK);
        let other: TimelinePage = serde_json::from_str(&text).unwrap();
        assert!(other.entries.len() >= page.entries.len());
    }
    suite.stop().await;
}

#[tokio::test]
async fn a_request_without_a_flow_gets_one_at_the_front_door() {
    let suite = TestSuite::start().await;
    let body = Envelope::to_vec(&ActivationLicenseRequest {
        header: e2e::header("FGVM01TM00000042", &[]),
        license_activation_code: "1111-2222-3333-4444-5555".into(),
    });
    let url = format!("{}{}", suite.url("ftm"), paths::PROCESS);
    let plain = suite
        .client
        .post(&url)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let fresh = plain.headers()[FLOW_HEADER].to_str().unwrap().to_owned();
    assert_eq!(fresh.len(), 16, "{fresh}");
    let page = suite.timeline(&format!("flow={fresh}")).await;
    let from_address: Vec<(&str, &str)> = page
        .entries
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert!(
        from_address.contains(&("127.0.0.1", "ftm")),
        "{from_address:?}"
    );
    assert!(
        from_address.contains(&("ftm", "forticare")),
        "{from_address:?}"
    );

    // A flow given is kept and echoed; one that cannot be a flow id is replaced.
    let given = suite
        .client
        .post(&url)
        .header(FLOW_HEADER, "my-flow-1")
        .header(FROM_HEADER, "FGVM01TM00000042")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()[FLOW_HEADER], "my-flow-1");
    let page = suite.timeline("flow=my-flow-1").await;
    assert!(
        page.entries
            .iter()
            .any(|e| e.from == "FGVM01TM00000042" && e.to == "ftm")
    );
    let odd = suite
        .client
        .post(&url)
        .header(FLOW_HEADER, "two words")
        .body(body)
        .send()
        .await
        .unwrap();
    let replaced = odd.headers()[FLOW_HEADER].to_str().unwrap();
    assert_ne!(replaced, "two words");
    assert_eq!(replaced.len(), 16);
    suite.stop().await;
}

#[tokio::test]
async fn the_mermaid_diagram_of_a_known_flow_is_pinned() {
    let suite = TestSuite::start().await;
    // error 16 on the next import, so the diagram shows a catalogue error.
    let (status, _) = suite
        .admin_post(
            "forticare",
            paths::ADMIN_SCENARIOS,
            &json!({"error": "forticare.import.code-invalid", "times": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let body = Envelope::to_vec(&ActivationLicenseRequest {
        header: e2e::header("FGVM01TM00000042", &[]),
        license_activation_code: "1111-2222-3333-4444-5555".into(),
    });
    let answer = suite
        .client
        .post(format!("{}{}", suite.url("ftm"), paths::PROCESS))
        .header(FLOW_HEADER, "pinned")
        .header(FROM_HEADER, "FGVM01TM00000042")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let (status, diagram) = suite
        .timeline_text("appliance", "flow=pinned&format=mermaid")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        diagram,
        "sequenceDiagram\n\
         \x20   participant p0 as FGVM01TM00000042\n\
         \x20   participant p1 as ftm\n\
         \x20   participant p2 as forticare\n\
         \x20   p0->>+p1: POST /SoftToken/Provisioning.asmx/Process\n\
         \x20   p1->>+p2: POST /SoftToken/Provisioning.asmx/Process\n\
         \x20   p2-->>-p1: 200 SoftToken.ActivationLicenseRequest error forticare.import.code-invalid\n\
         \x20   p1-->>-p0: 200 SoftToken.ActivationLicenseRequest error forticare.import.code-invalid\n"
    );
    suite.stop().await;
}

#[tokio::test]
async fn bad_timeline_queries_are_refused_and_change_nothing() {
    let suite = TestSuite::start().await;
    suite
        .poll("FGVM01TM00000042", &[], &["FTKMOB0000000001"])
        .await;
    let before = suite.timeline("").await;
    for (query, status, id) in [
        (
            "since=yesterday",
            StatusCode::BAD_REQUEST,
            "admin.timeline.query",
        ),
        (
            "since=2000&until=1000",
            StatusCode::BAD_REQUEST,
            "admin.timeline.query",
        ),
        (
            "flow=two%20words",
            StatusCode::BAD_REQUEST,
            "admin.timeline.query",
        ),
        (
            "format=svg",
            StatusCode::BAD_REQUEST,
            "admin.timeline.query",
        ),
        (
            "flow=nobody-knows",
            StatusCode::NOT_FOUND,
            "admin.timeline.unknown-flow",
        ),
    ] {
        let (answered, text) = suite.timeline_text("ftm", query).await;
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (answered, body["error_id"].as_str()),
            (status, Some(id)),
            "{query}: {text}"
        );
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    let (answered, _) = suite.timeline_text("ftm", "colour=red").await;
    assert_eq!(answered, StatusCode::BAD_REQUEST);
    assert_eq!(suite.timeline("").await, before);
    // A time range selects by the lab clock.
    let last = before.entries.last().unwrap().time_ms;
    let page = suite
        .timeline(&format!("since={}&until={}", last + 1, last + 2))
        .await;
    assert!(page.entries.is_empty());
    suite.stop().await;
}

#[tokio::test]
async fn the_timeline_never_holds_a_seed_or_an_activation_code() {
    let suite = TestSuite::start().await;
    let seed = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";
    suite
        .import("ftm", "FGVM01TM00000042", &[], "1111-2222-3333-4444-5555")
        .await;
    let provisioned = suite
        .provision(
            "FGVM01TM00000042",
            &[],
            vec![token("FTKMOB00C82980A7", seed)],
        )
        .await;
    let code = provisioned.tokens[0].token_activation_code.clone().unwrap();
    let downloaded = suite
        .download("e248e1e9527f20ff", &"ab".repeat(32), &code)
        .await;
    assert_eq!(downloaded.token, "FTKMOB00C82980A7");
    for query in ["", "format=mermaid", "flows=true"] {
        for service in ["ftm", "appliance"] {
            let (_, text) = suite.timeline_text(service, query).await;
            for secret in [seed, &seed.to_lowercase(), &code, &downloaded.seed] {
                assert!(!text.contains(secret), "{query} shows {secret}");
            }
        }
    }
    suite.stop().await;
}
