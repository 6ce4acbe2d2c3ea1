//! The guarded control plane: with an admin token, every `/__admin` route but the public probes, and the
//! simulators' APIs, answer 401 without it, whatever spelling of a path a client tries, on every service;
//! an appliance's ftm-push listener serves nothing but the phone's callback; and a suite reachable from
//! the network guards itself with a token of its own when none is given.

use std::net::{IpAddr, Ipv4Addr};

use e2e::{TestSuite, default_fixtures, test_options};
use protocol::paths;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "s3cret";
const SERVICES: [&str; 5] = ["forticare", "ftm", "push", "phone", "appliance"];

/// Ways of writing `/__admin/reset` that the router may read as the same path.
const RESET_SPELLINGS: [&str; 10] = [
    paths::ADMIN_RESET,
    "/%5F%5Fadmin/reset",
    "/%5f%5fadmin/reset",
    "/__%61dmin/reset",
    "/_%5Fadmin/reset",
    "/__admin/%72eset",
    "/__admin/reset/",
    "/__admin/reset?confirm=1",
    "//__admin/reset",
    "/__admin//reset",
];

async fn call(
    suite: &TestSuite,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> StatusCode {
    let mut request = suite.client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status()
}

fn guarded(options: &mut lab::options::LabOptions) {
    options.admin_token = Some(TOKEN.to_owned());
}

/// Every service's state, exported with the token (without the export's own time): a reset, which brings
/// fixtures back with new times and seeds, or any other change shows as a difference.
async fn states(suite: &TestSuite) -> Vec<Value> {
    let mut states = Vec::new();
    for service in SERVICES {
        let response = suite
            .client
            .get(format!("{}{}", suite.url(service), paths::ADMIN_STATE))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{service}");
        let mut state: Value = response.json().await.unwrap();
        state.as_object_mut().unwrap().remove("exported");
        states.push(state);
    }
    states
}

#[tokio::test]
async fn no_spelling_of_an_admin_path_gets_past_the_token_on_any_service() {
    let mut options = test_options(None);
    guarded(&mut options);
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    // A marker a reset would remove, besides the fixtures it would make again.
    let marker = suite
        .client
        .post(format!(
            "{}{}",
            suite.url("forticare"),
            paths::ADMIN_LICENSES
        ))
        .bearer_auth(TOKEN)
        .json(&json!({"seats": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(marker.status(), StatusCode::CREATED);
    let before = states(&suite).await;
    for service in SERVICES {
        let base = suite.url(service);
        for spelling in RESET_SPELLINGS {
            let status = call(
                &suite,
                Method::POST,
                &format!("{base}{spelling}"),
                None,
                None,
            )
            .await;
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND,
                "{service} POST {spelling} without the token answered {status}"
            );
        }
        for (method, spelling, body) in [
            (Method::GET, "/%5F%5Fadmin/state", None),
            (
                Method::POST,
                "/__%61dmin/clock",
                Some(json!({"advance_secs": 86400})),
            ),
            (Method::GET, "/_%5Fadmin/journal", None),
            (Method::GET, "/%5F%5Fadmin/scenarios", None),
        ] {
            let status = call(
                &suite,
                method.clone(),
                &format!("{base}{spelling}"),
                None,
                body,
            )
            .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{service} {method} {spelling}"
            );
        }
        // The public probes need no token.
        for probe in [paths::ADMIN_HEALTH, paths::ADMIN_READY, paths::ADMIN_CA_PEM] {
            let status = call(&suite, Method::GET, &format!("{base}{probe}"), None, None).await;
            assert_eq!(status, StatusCode::OK, "{service} {probe}");
        }
    }
    // Nothing changed: every service's state is as it was, the clock did not move a day.
    assert!(
        states(&suite).await == before,
        "a request without the token changed a service's state"
    );
    let clock: Value = suite
        .client
        .get(format!("{}{}", suite.url("ftm"), paths::ADMIN_CLOCK))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        clock["offset_secs"].as_i64().unwrap().abs() < 3600,
        "{clock}"
    );
    // With the token, the same route works.
    let reset = format!("{}{}", suite.url("forticare"), paths::ADMIN_RESET);
    assert_eq!(
        call(&suite, Method::POST, &reset, Some(TOKEN), None).await,
        StatusCode::OK
    );
    suite.stop().await;
}

#[tokio::test]
async fn the_simulators_act_for_users_only_with_the_token() {
    let mut options = test_options(None);
    guarded(&mut options);
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    let phones = suite.url("phone");
    let appliances = suite.url("appliance");
    let created = call(
        &suite,
        Method::POST,
        &format!("{phones}{}", paths::PHONES),
        Some(TOKEN),
        Some(json!({"name": "victim"})),
    )
    .await;
    assert_eq!(created, StatusCode::CREATED);
    for (method, url) in [
        (Method::GET, format!("{phones}{}", paths::PHONES)),
        (Method::POST, format!("{phones}{}", paths::PHONES)),
        (
            Method::GET,
            format!("{phones}{}", paths::fill(paths::PHONE_EXPORT, &["victim"])),
        ),
        (
            Method::GET,
            format!("{phones}{}", paths::fill(paths::PHONE_OTP, &["victim"])),
        ),
        (Method::GET, format!("{phones}/%70hones/victim/export")),
        (Method::GET, format!("{phones}/phones/victim/%65xport")),
        (
            Method::DELETE,
            format!("{phones}{}", paths::fill(paths::PHONE, &["victim"])),
        ),
        (
            Method::POST,
            format!(
                "{phones}{}",
                paths::fill(paths::PHONE_APPROVE, &["victim", "latest"])
            ),
        ),
        (Method::GET, format!("{appliances}{}", paths::APPLIANCES)),
        (Method::POST, format!("{appliances}{}", paths::APPLIANCES)),
        (Method::GET, format!("{appliances}/%61ppliances")),
    ] {
        let status = call(&suite, method.clone(), &url, None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {url}");
    }
    // The relay still reaches a phone's webhook: it carries only pushes the phone's seeds authenticate.
    let webhook = format!(
        "{phones}{}",
        paths::fill(paths::PHONE_PUSH_WEBHOOK, &["victim"])
    );
    let status = call(
        &suite,
        Method::POST,
        &webhook,
        None,
        Some(json!({"not": "a push"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The phone is still there, untouched.
    let export = format!("{phones}{}", paths::fill(paths::PHONE_EXPORT, &["victim"]));
    assert_eq!(
        call(&suite, Method::GET, &export, Some(TOKEN), None).await,
        StatusCode::OK
    );
    suite.stop().await;
}

#[tokio::test]
async fn an_ftm_push_listener_serves_only_the_phones_callback() {
    let suite = TestSuite::start().await;
    let (status, appliance) = suite
        .admin_post(
            "appliance",
            paths::APPLIANCES,
            &json!({"serial": "FGVM01TM00000077", "ftm_push": {"status": true, "server_port": 0}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appliance}");
    let port = appliance["ftm_push"]["listening_port"].as_u64().unwrap();
    let listener = format!("https://127.0.0.1:{port}");
    let clock = format!("{}{}", suite.url("ftm"), paths::ADMIN_CLOCK);
    let before: Value = suite
        .client
        .get(&clock)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (method, path) in [
        (Method::POST, paths::ADMIN_CLOCK),
        (Method::POST, "/%5F%5Fadmin/clock"),
        (Method::GET, paths::ADMIN_HEALTH),
        (Method::GET, paths::ADMIN_STATE),
        (Method::POST, paths::ADMIN_RESET),
        (Method::GET, paths::APPLIANCES),
    ] {
        let status = call(
            &suite,
            method.clone(),
            &format!("{listener}{path}"),
            None,
            Some(json!({"advance_secs": 86400})),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {path} on the listener"
        );
    }
    let after: Value = suite
        .client
        .get(&clock)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let moved = after["now"].as_i64().unwrap() - before["now"].as_i64().unwrap();
    assert!(
        moved < 3600,
        "the listener moved the lab clock by {moved} s"
    );
    // The callback is there, and refuses what is not a push answer.
    let callback = format!("{listener}{}", paths::PUSH_CALLBACK);
    let status = call(&suite, Method::POST, &callback, None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    suite.stop().await;
}

#[tokio::test]
async fn a_suite_reachable_from_the_network_generates_its_own_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = test_options(Some(dir.path()));
    options.bind = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    let file = dir.path().join(lab::options::ADMIN_TOKEN_FILE);
    let token = std::fs::read_to_string(&file).unwrap();
    assert_eq!(token.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    assert_eq!(
        suite.lab().admin_token().map(|t| t.value.as_str()),
        Some(token.trim())
    );
    let phones = suite.url("phone");
    let created = call(
        &suite,
        Method::POST,
        &format!("{phones}{}", paths::PHONES),
        Some(token.trim()),
        Some(json!({"name": "alice-phone"})),
    )
    .await;
    assert_eq!(created, StatusCode::CREATED);
    // What let anyone on the network take a user's seed: the escrow's codes, a phone's export and OTP, state.
    let guarded = [
        format!("{}{}", suite.url("ftm"), paths::ADMIN_ESCROW),
        format!("{}{}", suite.url("ftm"), paths::ADMIN_STATE),
        format!(
            "{phones}{}",
            paths::fill(paths::PHONE_EXPORT, &["alice-phone"])
        ),
        format!(
            "{phones}{}",
            paths::fill(paths::PHONE_OTP, &["alice-phone"])
        ),
    ];
    for url in &guarded {
        assert_eq!(
            call(&suite, Method::GET, url, None, None).await,
            StatusCode::UNAUTHORIZED,
            "{url}"
        );
    }
    for url in &guarded[..3] {
        assert_eq!(
            call(&suite, Method::GET, url, Some(token.trim()), None).await,
            StatusCode::OK,
            "{url}"
        );
    }
    suite.stop().await;
    // The next start on the same data dir keeps the token.
    let mut options = test_options(Some(dir.path()));
    options.bind = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let again = TestSuite::start_with(options, default_fixtures()).await;
    assert_eq!(
        again.lab().admin_token().map(|t| t.value.as_str()),
        Some(token.trim())
    );
    again.stop().await;
}
