//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver, Debian's
//! `chromium-driver`) walks the story on the page: a license imported shows up with its owner, a phone
//! activation turns the token Assigned, a scenario armed from the page makes the next import fail with
//! error 16, and the journal shows it live; and a push approval appears in the timeline view, drawn from the
//! appliance through the relay to the phone and back. Screenshots go to `<target>/browser/`; README's come
//! from there (`docs/screenshots/`).
//!
//! Skipped when `chromedriver` is not installed, unless `FORTIMOCK_REQUIRE_BROWSER` is set (`.ci/run` sets
//! it after installing Chromium and its driver).

use protocol::paths;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::TestSuite;
use fantoccini::{Client, ClientBuilder, Locator};
use protocol::appliance::PollOutcome;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PAID: &str = "1111-2222-3333-4444-5555";

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on `PATH`; without it the browser tests skip, unless `FORTIMOCK_REQUIRE_BROWSER` is set.
fn chromedriver() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("chromedriver"))
            .find(|candidate| candidate.is_file())
    });
    assert!(
        found.is_some() || std::env::var_os("FORTIMOCK_REQUIRE_BROWSER").is_none(),
        "FORTIMOCK_REQUIRE_BROWSER is set but chromedriver is not installed"
    );
    found
}

async fn start_driver(binary: PathBuf) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Ready when it answers its status endpoint (a readiness wait, as the suite's own `wait_ready`).
    let http = reqwest::Client::new();
    for _ in 0..500 {
        if let Ok(answer) = http.get(format!("{}/status", driver.url)).send().await
            && answer.status() == StatusCode::OK
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("acceptInsecureCerts".to_owned(), json!(true));
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,2400"]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap()
}

/// Where screenshots are kept: `<target dir>/browser/`.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(page: &Client, name: &str) {
    let png = page.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// Waits until the element at `css` reads `wanted` (the page refreshes itself on each journal event).
async fn wait_for_text(page: &Client, css: &str, wanted: &str) {
    let mut last = String::new();
    for _ in 0..300 {
        if let Ok(element) = page.find(Locator::Css(css)).await {
            last = element.text().await.unwrap_or_default();
            if last.contains(wanted) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} never read {wanted:?} (last: {last:?})");
}

#[tokio::test]
async fn the_story_on_the_page_in_chromium() {
    let Some(binary) = chromedriver() else {
        return;
    };
    let suite = TestSuite::start().await;
    let dashboard = suite.start_dashboard();
    let driver = start_driver(binary).await;
    let page = browser(&driver).await;
    page.goto(dashboard.url()).await.unwrap();
    page.find(Locator::Css("#journal-rows")).await.unwrap();
    wait_for_text(&page, "#live", "live").await;

    // A license imported by an appliance shows up with its owner, live.
    let fgt = suite.new_appliance(json!({})).await;
    let serial = fgt.serial.to_string();
    suite.appliance_import(&serial, PAID).await;
    wait_for_text(&page, "#licenses", &serial).await;
    screenshot(&page, "1-license-imported").await;

    // A phone activation turns the token Assigned.
    let (token, code) = suite.appliance_provision(&serial, "any", "alice").await;
    let phone = suite.new_phone(json!({})).await;
    assert_eq!(
        suite.activate(&phone.id, &code).await.0,
        StatusCode::CREATED
    );
    let _: PollOutcome = suite
        .appliance_op(&serial, "poll", json!({}))
        .await
        .unwrap();
    let assigned = serde_json::to_value(protocol::appliance::FortiTokenStatus::Assigned).unwrap();
    wait_for_text(
        &page,
        &format!("tr[data-key=\"{token}\"] td.col-status"),
        assigned.as_str().unwrap(),
    )
    .await;
    wait_for_text(
        &page,
        &format!("article[data-phone=\"{}\"]", phone.id),
        &token,
    )
    .await;
    screenshot(&page, "2-token-assigned").await;

    // A scenario armed from the page makes the next import on that appliance fail with error 16.
    let option = page
        .find(Locator::Css(
            "select[name=armable] option[value=\"forticare|forticare.import.code-invalid\"]",
        ))
        .await
        .unwrap();
    option.click().await.unwrap();
    page.find(Locator::Css("#arm input[name=serial]"))
        .await
        .unwrap()
        .send_keys(&serial)
        .await
        .unwrap();
    page.find(Locator::Css("#arm button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&page, "#scenarios", "forticare.import.code-invalid").await;
    let armed: Value = suite.admin_get("forticare", paths::ADMIN_SCENARIOS).await;
    assert_eq!(armed["scenarios"][0]["match"]["serial"], serial.as_str());
    let failure = suite
        .appliance_op::<Value>(&serial, "import", json!({"code": PAID}))
        .await
        .unwrap_err();
    assert_eq!(failure.error_code, Some(16), "{failure:?}");
    // The refusal is in the live journal.
    wait_for_text(&page, "#journal-rows", "scenario").await;
    screenshot(&page, "3-scenario-fired").await;

    // The replay page: the license seed's debug log pasted, replayed, then its error armed and replayed again.
    page.goto(&format!(
        "{}{}",
        dashboard.url().trim_end_matches('/'),
        paths::UI_REPLAY
    ))
    .await
    .unwrap();
    page.execute(
        "document.getElementById('log').value = arguments[0];",
        vec![json!(include_str!(
            "../../fixtures/debug-logs/license-import-error16.txt"
        ))],
    )
    .await
    .unwrap();
    page.find(Locator::Css("button[data-replay=replay]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&page, "#replay-result", "matches the captured answer").await;
    screenshot(&page, "4-replay-compared").await;
    page.find(Locator::Css("button[data-replay=arm]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&page, "#armed", "fired 1 time(s)").await;
    screenshot(&page, "5-replay-armed").await;

    page.close().await.unwrap();
    drop(driver);
    dashboard.stop().await;
    suite.stop().await;
}

#[tokio::test]
async fn a_push_approval_in_the_timeline_view() {
    let Some(binary) = chromedriver() else {
        return;
    };
    let suite = TestSuite::start().await;
    let dashboard = suite.start_dashboard();
    let ready = suite
        .push_ready(json!({"status": true, "server_port": 0, "timeout_secs": 10}))
        .await;
    suite
        .change_phone(&ready.phone, json!({"push_policy": "approve"}))
        .await;
    let (status, outcome) = suite.push_login(&ready.serial, "alice").await;
    assert_eq!(
        (status, outcome.result),
        (StatusCode::OK, protocol::appliance::LoginResult::Success)
    );
    let driver = start_driver(binary).await;
    let page = browser(&driver).await;
    page.goto(dashboard.url()).await.unwrap();
    wait_for_text(&page, "#appliances", &ready.serial).await;
    screenshot(&page, "timeline-1-dashboard").await;

    // The timeline view lists the login's flow; open it from the list.
    page.find(Locator::LinkText("Timeline"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let login = paths::fill(paths::APPLIANCE_LOGIN, &[&ready.serial]);
    wait_for_text(&page, "#flows", &login).await;
    let flow = suite
        .timeline("flows=true")
        .await
        .flows
        .unwrap()
        .into_iter()
        .find(|f| f.path == login)
        .unwrap()
        .flow;
    page.find(Locator::Css(&format!("#flows tr[data-flow=\"{flow}\"] a")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The phone's approval reaches the appliance's ftm-push listener: its arrow is in the drawn flow (the
    // page is rendered on the server; reload until the listener has recorded it).
    let approval = format!(
        "#flow[data-flow=\"{flow}\"] g.step.request[data-path=\"{}\"]",
        paths::PUSH_CALLBACK
    );
    let mut drawn = false;
    for _ in 0..100 {
        if page.find(Locator::Css(&approval)).await.is_ok() {
            drawn = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        page.refresh().await.unwrap();
    }
    assert!(drawn, "the approval never appeared in the drawn flow");
    let svg = page
        .find(Locator::Css("#flow svg.sequence"))
        .await
        .unwrap()
        .html(true)
        .await
        .unwrap();
    for shown in [
        ready.serial.as_str(),
        "push",
        &format!("phone {}", ready.phone),
        paths::RELAY_PUSH,
    ] {
        assert!(svg.contains(shown), "{shown} not in {svg}");
    }
    screenshot(&page, "timeline-2-push-approval").await;

    page.close().await.unwrap();
    drop(driver);
    dashboard.stop().await;
    suite.stop().await;
}
