//! The dashboard (`fortimock up --ui-port`): the page shows the lab as the services' APIs tell it (licenses
//! and owners, tokens per appliance, escrow codes, phones with live codes, scenarios, the clock, the
//! journal), never a seed; its actions reach the same guarded admin APIs with the same token; the journal
//! streams live; state goes out and comes back; the timeline view draws a flow; and with an admin token
//! nothing is shown or done without it.

use e2e::{TestSuite, default_fixtures, test_options, token};
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PAID: &str = "1111-2222-3333-4444-5555";
const SEED: &str = "A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A";
const TOKEN: &str = "s3cret";
const ACTION_HEADER: &str = "x-fortimock-dashboard";

async fn page(suite: &TestSuite, url: &str) -> (StatusCode, String) {
    let response = suite.client.get(url).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_page_shows_the_lab_and_never_a_seed() {
    let suite = TestSuite::start().await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();

    // A virtual appliance imports a license and assigns a token; a phone activates it.
    let fgt = suite.new_appliance(json!({})).await;
    let serial = fgt.serial.to_string();
    let tokens = suite.appliance_import(&serial, PAID).await;
    let (assigned, code) = suite.appliance_provision(&serial, "any", "alice").await;
    let (status, page_before) = page(&suite, &ui).await;
    assert_eq!(status, StatusCode::OK);
    // Before the phone redeems it, the code waits in ftm's escrow.
    assert!(page_before.contains(&code), "the escrowed code is shown");
    let phone = suite.new_phone(json!({"platform": "ios"})).await;
    let (status, activated) = suite.activate(&phone.id, &code).await;
    assert_eq!(status, StatusCode::CREATED, "{activated}");
    let _ = suite
        .appliance_op::<Value>(&serial, "poll", json!({}))
        .await
        .unwrap();

    // A second appliance provisions through ftm directly with a seed the test knows, and a phone redeems it.
    let other = "FGVM01TM00000002";
    let licensed = suite
        .import("ftm", other, &[], "5050-5050-5050-5050-5050")
        .await;
    let other_tokens = licensed.tokens.unwrap_or_default();
    let provisioned = suite
        .provision(other, &[], vec![token(&other_tokens[0].token, SEED)])
        .await;
    let other_code = provisioned.tokens[0].token_activation_code.clone().unwrap();
    let downloaded = suite.download("e248e1e9527f20ff", "", &other_code).await;

    let (status, html) = page(&suite, &ui).await;
    assert_eq!(status, StatusCode::OK);
    // Licenses and their owners.
    let licenses: Value = suite.admin_get("forticare", paths::ADMIN_LICENSES).await;
    let owned = licenses["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["owner"]["appliance"] == serial.as_str())
        .unwrap();
    assert!(html.contains(owned["id"].as_str().unwrap()));
    assert!(html.contains(&serial));
    // The appliance's tokens with their states, the assigned one Assigned.
    for token in &tokens {
        assert!(html.contains(token.as_str()), "{token}");
    }
    let appliance = suite.appliance(&serial).await;
    let state = appliance
        .tokens
        .iter()
        .find(|t| t.serial.as_str() == assigned)
        .unwrap();
    let status_text = serde_json::to_value(state.status).unwrap();
    assert!(html.contains(&format!(
        "data-key=\"{assigned}\"><td class=\"col-serial\">{assigned}</td><td class=\"col-status\">{}</td>",
        status_text.as_str().unwrap()
    )), "{html}");
    // The phone with a live code for its token.
    let otp = suite.phone_otp(&phone.id, &assigned).await;
    assert!(html.contains(&phone.id));
    assert!(
        html.contains(&format!("<td class=\"otp\">{}</td>", otp.otp)),
        "{html}"
    );
    // The scenarios' arm form offers every armable error; the journal shows the exchanges.
    assert!(html.contains("value=\"forticare|forticare.import.code-invalid\""));
    assert!(html.contains(paths::PROCESS));
    // No seed, in any spelling, nor its encryption for the phone.
    for text in [&html, &page_before] {
        assert!(!text.contains(SEED));
        assert!(!text.contains(&SEED.to_lowercase()));
        assert!(!text.contains(&downloaded.seed));
    }
    dashboard.stop().await;
    suite.stop().await;
}

#[tokio::test]
async fn the_page_loads_only_its_own_script_and_style() {
    let suite = TestSuite::start().await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();
    let response = suite.client.get(&ui).send().await.unwrap();
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
    for (path, kind) in [
        (paths::UI_SCRIPT, "text/javascript"),
        (paths::UI_STYLE, "text/css"),
    ] {
        assert!(html.contains(path));
        let asset = suite
            .client
            .get(format!("{ui}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), StatusCode::OK);
        assert!(
            asset.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        let text = asset.text().await.unwrap();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path}"
        );
    }
    dashboard.stop().await;
    suite.stop().await;
}

#[tokio::test]
async fn actions_reach_the_admin_api_and_arming_makes_the_next_import_fail() {
    let suite = TestSuite::start().await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();
    let fgt = suite.new_appliance(json!({})).await;
    let serial = fgt.serial.to_string();

    // Without the page's header an action is refused and nothing is armed.
    let scenarios_url = format!("{ui}/api/forticare{}", paths::ADMIN_SCENARIOS);
    let spec = json!({"error": "forticare.import.code-invalid", "match": {"serial": serial}});
    let refused = suite
        .client
        .post(&scenarios_url)
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let armed: Value = suite.admin_get("forticare", paths::ADMIN_SCENARIOS).await;
    assert_eq!(armed["scenarios"], json!([]));

    // What the page's script sends.
    let answer = suite
        .client
        .post(&scenarios_url)
        .header(ACTION_HEADER, "1")
        .json(&spec)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let armed: Value = answer.json().await.unwrap();
    assert!(status.is_success(), "{armed}");
    let id = armed["id"].as_str().unwrap().to_owned();
    let (_, html) = page(&suite, &ui).await;
    assert!(html.contains(&format!("data-scenario=\"{id}\"")));

    // The next import on that appliance fails with error 16.
    let failure = suite
        .appliance_op::<Value>(&serial, "import", json!({"code": PAID}))
        .await
        .unwrap_err();
    assert_eq!(failure.error_code, Some(16), "{failure:?}");

    // Disarmed from the page, the import goes through.
    let disarmed = suite
        .client
        .delete(format!(
            "{ui}/api/forticare{}",
            paths::fill(paths::ADMIN_SCENARIO, &[&id])
        ))
        .header(ACTION_HEADER, "1")
        .send()
        .await
        .unwrap();
    assert!(disarmed.status().is_success());
    assert_eq!(suite.appliance_import(&serial, PAID).await.len(), 5);

    // The clock, frozen and advanced from the page.
    let clock_url = format!("{ui}/api/ftm{}", paths::ADMIN_CLOCK);
    let frozen: Value = suite
        .client
        .post(&clock_url)
        .header(ACTION_HEADER, "1")
        .json(&json!({"freeze": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(frozen["frozen"], true);
    let advanced: Value = suite
        .client
        .post(&clock_url)
        .header(ACTION_HEADER, "1")
        .json(&json!({"advance_secs": 3600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        advanced["now"].as_i64().unwrap(),
        frozen["now"].as_i64().unwrap() + 3600
    );
    let (_, html) = page(&suite, &ui).await;
    assert!(html.contains(advanced["now_rfc3339"].as_str().unwrap()));
    assert!(html.contains("frozen"));

    // Only the guarded APIs pass: a SoftToken endpoint or an unknown service does not.
    for path in [
        format!("{ui}/api/ftm{}", paths::PROCESS),
        format!("{ui}/api/nowhere{}", paths::ADMIN_CLOCK),
    ] {
        let answer = suite.client.get(&path).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
    dashboard.stop().await;
    suite.stop().await;
}

#[tokio::test]
async fn the_journal_streams_live() {
    let suite = TestSuite::start().await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();
    let mut events = suite
        .client
        .get(format!("{ui}{}", paths::UI_EVENTS))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let fgt = suite.new_appliance(json!({})).await;
    suite.appliance_import(&fgt.serial.to_string(), PAID).await;
    let mut seen = String::new();
    while !seen.contains("SoftToken.ActivationLicenseRequest") {
        let chunk = events
            .chunk()
            .await
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let line = seen
        .lines()
        .find(|l| l.starts_with("data: ") && l.contains("ActivationLicenseRequest"))
        .unwrap();
    let entry: Value = serde_json::from_str(line.trim_start_matches("data: ")).unwrap();
    assert!(["ftm", "forticare"].contains(&entry["service"].as_str().unwrap()));
    assert_eq!(entry["path"], paths::PROCESS);
    drop(events);
    dashboard.stop().await;
    suite.stop().await;
}

#[tokio::test]
async fn state_exported_from_the_page_imports_back() {
    let suite = TestSuite::start().await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();
    let fgt = suite.new_appliance(json!({})).await;
    let serial = fgt.serial.to_string();
    suite.appliance_import(&serial, PAID).await;
    let exported = suite
        .client
        .get(format!("{ui}{}", paths::UI_STATE_EXPORT))
        .send()
        .await
        .unwrap();
    assert_eq!(exported.status(), StatusCode::OK);
    assert!(
        exported.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let bundle = exported.bytes().await.unwrap();

    let (status, _) = suite
        .admin_post("appliance", paths::ADMIN_RESET, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let import_url = format!("{ui}{}", paths::UI_STATE_IMPORT);
    // Not from the page: refused, nothing imported.
    let refused = suite
        .client
        .post(&import_url)
        .body(bundle.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let none: Value = suite.admin_get("appliance", paths::APPLIANCES).await;
    assert_eq!(none["appliances"], json!([]));
    // Not a bundle: refused, nothing imported.
    let garbage = suite
        .client
        .post(&import_url)
        .header(ACTION_HEADER, "1")
        .body("{\"format\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    let none: Value = suite.admin_get("appliance", paths::APPLIANCES).await;
    assert_eq!(none["appliances"], json!([]));

    let imported = suite
        .client
        .post(&import_url)
        .header(ACTION_HEADER, "1")
        .body(bundle)
        .send()
        .await
        .unwrap();
    assert_eq!(
        imported.status(),
        StatusCode::OK,
        "{}",
        imported.text().await.unwrap()
    );
    assert_eq!(suite.appliance(&serial).await.tokens.len(), 5);
    dashboard.stop().await;
    suite.stop().await;
}

#[tokio::test]
async fn with_an_admin_token_the_dashboard_shows_and_does_nothing_without_it() {
    let mut options = test_options(None);
    options.admin_token = Some(TOKEN.to_owned());
    let suite = TestSuite::start_with(options, default_fixtures()).await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();
    let licenses: Value = suite
        .client
        .get(format!(
            "{}{}",
            suite.url("forticare"),
            paths::ADMIN_LICENSES
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let license = licenses["licenses"][0]["id"].as_str().unwrap().to_owned();

    // No token, a wrong bearer token, a wrong cookie: the login form, and nothing of the lab.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(
            reqwest::Certificate::from_pem(suite.lab().ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    for request in [
        no_redirects.get(&ui),
        no_redirects.get(&ui).bearer_auth("wrong"),
        no_redirects.get(&ui).header(
            "cookie",
            format!("fortimock_admin={}", hex::encode("wrong")),
        ),
        no_redirects.get(format!("{ui}{}", paths::UI_STATE_EXPORT)),
        no_redirects.get(format!("{ui}{}", paths::UI_EVENTS)),
        no_redirects.get(format!("{ui}{}", paths::UI_TIMELINE)),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let html = response.text().await.unwrap();
        assert!(html.contains("name=\"token\""), "{html}");
        assert!(!html.contains(&license));
    }
    // An action without the token is refused by the service's own guard, and changes nothing.
    let refused = no_redirects
        .post(format!("{ui}/api/forticare{}", paths::ADMIN_RESET))
        .header(ACTION_HEADER, "1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error_id"], "admin.unauthorized", "{body}");
    let still: Value = suite
        .client
        .get(format!(
            "{}{}",
            suite.url("forticare"),
            paths::ADMIN_LICENSES
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still, licenses);

    // A wrong token at the login form sets no cookie.
    let login_url = format!("{ui}{}", paths::UI_LOGIN);
    let wrong = no_redirects
        .post(&login_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    // The right one sets an HTTP-only cookie that opens the page.
    let right = no_redirects
        .post(&login_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Secure")
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie holds the token hex-encoded"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let opened = no_redirects
        .get(&ui)
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    assert!(opened.text().await.unwrap().contains(&license));
    // And with it, actions pass.
    let frozen = no_redirects
        .post(format!("{ui}/api/ftm{}", paths::ADMIN_CLOCK))
        .header(ACTION_HEADER, "1")
        .header("cookie", &pair)
        .json(&json!({"freeze": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(frozen.status(), StatusCode::OK);
    dashboard.stop().await;
    suite.stop().await;
}

#[tokio::test]
async fn the_timeline_view_draws_a_flow_and_never_a_seed() {
    let suite = TestSuite::start().await;
    let dashboard = suite.start_dashboard();
    let ui = dashboard.url().to_owned();
    let (status, empty) = page(&suite, &format!("{ui}{}", paths::UI_TIMELINE)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(empty.contains("Nothing on the timeline yet"), "{empty}");

    let licensed = suite
        .import("ftm", "FGVM01TM00000002", &[], "5050-5050-5050-5050-5050")
        .await;
    let serial = licensed.tokens.unwrap_or_default()[0].token.clone();
    suite
        .provision("FGVM01TM00000002", &[], vec![token(&serial, SEED)])
        .await;
    // The newest flow (the provisioning) is drawn: the client, ftm, and one arrow each way.
    let (status, html) = page(&suite, &format!("{ui}{}", paths::UI_TIMELINE)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<svg class=\"sequence\""), "{html}");
    assert_eq!(html.matches("class=\"step request\"").count(), 1, "{html}");
    assert!(html.contains("SoftToken.ProvisionRequest"), "{html}");
    assert!(html.contains("sequenceDiagram"), "{html}");
    assert!(!html.contains(SEED) && !html.contains(&SEED.to_lowercase()));
    // The import's flow, chosen: it reached forticare through ftm.
    let timeline = suite.timeline("flows=true").await;
    let import = timeline.flows.unwrap().last().unwrap().flow.clone();
    let (status, html) = page(&suite, &format!("{ui}{}?flow={import}", paths::UI_TIMELINE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("class=\"step request\"").count(), 2, "{html}");
    assert!(html.contains(">forticare</text>"), "{html}");
    // A flow nobody knows is said so; a query the view does not take is refused.
    let (_, unknown) = page(&suite, &format!("{ui}{}?flow=nobody", paths::UI_TIMELINE)).await;
    assert!(unknown.contains("No exchange of flow nobody"), "{unknown}");
    let (status, _) = page(&suite, &format!("{ui}{}?colour=red", paths::UI_TIMELINE)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    dashboard.stop().await;
    suite.stop().await;
}
