//! The real `fortimock` binary: `up` on port 0 with a ready file, the `license` and `certs` subcommands
//! against it, a restart after `kill -9` on the same data dir (acknowledged means flushed; the lab CA
//! is reused), and `bench` in a short run measuring every phase.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use fortimock::suite::FREE_PORT_ARGS;
use protocol::envelope::Envelope;
use protocol::header::RequestHeader;
use protocol::license::{ActivationLicenseRequest, ActivationLicenseResponse};
use protocol::paths::PROCESS;
use serde_json::Value;

mod common;

use common::{BIN, banner_of, cli, cli_fails, up_command};

/// Starts `fortimock up` and returns once it has printed its banner (it writes the ready file first).
fn up(data_dir: &Path, ready_file: &Path) -> (Child, Vec<String>) {
    up_with(data_dir, ready_file, &[])
}

/// [`up`] with more flags.
fn up_with(data_dir: &Path, ready_file: &Path, extra: &[&str]) -> (Child, Vec<String>) {
    let mut flags = vec!["--ready-file", ready_file.to_str().unwrap()];
    flags.extend_from_slice(extra);
    common::up(data_dir, &flags)
}

async fn import(
    client: &reqwest::Client,
    url: &str,
    serial: &str,
    code: &str,
) -> ActivationLicenseResponse {
    let serial = serial.parse().unwrap();
    let request = ActivationLicenseRequest {
        header: RequestHeader::new(&serial, &[], "7.0", "0523"),
        license_activation_code: code.into(),
    };
    let response = client
        .post(format!("{url}{PROCESS}"))
        .body(Envelope::to_vec(&request))
        .send()
        .await
        .unwrap();
    response
        .json::<Envelope<ActivationLicenseResponse>>()
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn up_serves_the_default_lab_and_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let (mut child, banner) = up(&data_dir, &ready_file);
    assert!(
        banner[0].starts_with("fortimock ") && banner[0].contains(" is up (ready in "),
        "{banner:?}"
    );

    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let url = ready["forticare"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("https://127.0.0.1:") && !url.ends_with(":8440"),
        "{url}"
    );
    assert!(banner.iter().any(|l| l.contains(&url)), "{banner:?}");

    let ca = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    // The dashboard is in the banner (on a free port here: `--ui-port 0`) and serves its page.
    let dashboard = banner
        .iter()
        .find_map(|l| l.trim_start().strip_prefix("dashboard "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no dashboard in {banner:?}"))
        .to_owned();
    assert!(dashboard.starts_with("https://127.0.0.1:"), "{dashboard}");
    let page = client.get(&dashboard).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    assert!(page.text().await.unwrap().contains("EFTM000000000005"));
    let granted = import(
        &client,
        &url,
        "FGVM01TM00000001",
        "1111-2222-3333-4444-5555",
    )
    .await;
    assert_eq!(granted.license, "EFTM000000000005");

    let created: Value = serde_json::from_str(&cli(
        &data_dir,
        &[
            "license", "create", "--seats", "3", "--note", "cli", "--json",
        ],
    ))
    .unwrap();
    let created_id = created["id"].as_str().unwrap().to_owned();
    let listed = cli(&data_dir, &["license", "list"]);
    assert!(
        listed.contains(&created_id) && listed.contains("FGVM01TM00000001"),
        "{listed}"
    );
    assert!(
        cli(&data_dir, &["certs"]).contains(&data_dir.join("tls/ca.pem").display().to_string())
    );

    // kill -9: no shutdown, no flush on exit. Everything acknowledged must still be there.
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(&ready_file).unwrap();

    let (mut child, _) = up(&data_dir, &ready_file);
    assert_eq!(
        std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap(),
        ca
    );
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let url = ready["forticare"].as_str().unwrap();
    let stranger = import(&client, url, "FGVM01TM00000002", "1111-2222-3333-4444-5555").await;
    assert!(
        stranger.error.is_some(),
        "the registration was lost: {stranger:?}"
    );
    let again = import(&client, url, "FGVM01TM00000001", "1111-2222-3333-4444-5555").await;
    assert_eq!(again.tokens, granted.tokens);
    let shown = cli(&data_dir, &["license", "show", &created_id]);
    assert!(shown.contains("seats        3"), "{shown}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn client_commands_explain_when_no_suite_runs() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args([
            "license",
            "list",
            "--forticare-url",
            "https://127.0.0.1:1",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is `fortimock up` running"));
}

#[tokio::test]
async fn up_keeps_serving_when_nobody_reads_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let mut child = Command::new(BIN)
        .arg("up")
        .args(FREE_PORT_ARGS)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--ready-file")
        .arg(&ready_file)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end of stdout before the banner is written: printing it must fail quietly.
    drop(child.stdout.take());
    let ready = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("suite ready"));
    assert!(ready, "fortimock up exited: {:?}", child.try_wait());
    let urls: Value = serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let ca = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    let url = urls["appliance"].as_str().unwrap();
    let status = client
        .get(format!("{url}/__admin/health"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(child.try_wait().unwrap().is_none(), "the suite died");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn scenarios_journal_and_reset_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let (mut child, _) = up(&data_dir, &ready_file);
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let url = ready["forticare"].as_str().unwrap().to_owned();
    let ca = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();

    let errors = Command::new(BIN)
        .args(["scenario", "errors"])
        .output()
        .unwrap();
    let errors = String::from_utf8(errors.stdout).unwrap();
    assert!(
        errors.contains("ftm.mobile.code-invalid") && errors.contains("push.relay.unregistered"),
        "{errors}"
    );
    let armed = cli(
        &data_dir,
        &[
            "scenario",
            "arm",
            "forticare.import.code-invalid",
            "--serial",
            "FGVM01TM00000001",
            "--times",
            "1",
        ],
    );
    assert_eq!(
        armed.trim(),
        "armed s1 on forticare: forticare.import.code-invalid (error 16 `forticare license activation code invalid`) \
         for serial FGVM01TM00000001, once"
    );
    let refused = import(
        &client,
        &url,
        "FGVM01TM00000001",
        "1111-2222-3333-4444-5555",
    )
    .await;
    assert_eq!(refused.error.unwrap().error_code, 16);
    let listed = cli(&data_dir, &["scenario", "list"]);
    assert!(listed.contains("forticare s1   spent     1"), "{listed}");

    let output = Command::new(BIN)
        .args(["scenario", "arm", "--status", "503", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("need --service"));
    let output = Command::new(BIN)
        .args([
            "scenario",
            "arm",
            "--service",
            "ftm",
            "--status",
            "200",
            "--data-dir",
        ])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not an error status"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The journal shows what the scenario answered.
    let journal = cli(
        &data_dir,
        &["journal", "--service", "forticare", "--bodies"],
    );
    assert!(
        journal.contains("POST /SoftToken/Provisioning.asmx/Process 200")
            && journal.contains(
                "SoftToken.ActivationLicenseRequest: scenario s1: forticare.import.code-invalid"
            )
            && journal.contains(r#""error_message":"forticare license activation code invalid""#),
        "{journal}"
    );

    cli(&data_dir, &["scenario", "clear"]);
    assert_eq!(
        cli(&data_dir, &["scenario", "list"]).trim(),
        "no scenarios armed"
    );
    let granted = import(
        &client,
        &url,
        "FGVM01TM00000001",
        "1111-2222-3333-4444-5555",
    )
    .await;
    assert_eq!(granted.error, None);

    // A reset forgets the registration: another appliance may import the license now.
    cli(
        &data_dir,
        &["scenario", "arm", "--service", "push", "--status", "500"],
    );
    let reset = cli(&data_dir, &["reset"]);
    for line in [
        "appliance  0 records removed",
        "push       ",
        "removed, 1 scenario cleared",
        "forticare  ",
        "5 fixtures back (licenses and API users)",
        "clock      back on real time",
    ] {
        assert!(reset.contains(line), "{line:?} not in {reset}");
    }
    let other = import(
        &client,
        &url,
        "FGVM01TM00000002",
        "1111-2222-3333-4444-5555",
    )
    .await;
    assert_eq!(other.error, None, "{other:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_state_bundle_moves_a_lab_to_another_suite() {
    let dir = tempfile::tempdir().unwrap();
    let (data_a, ready_a) = (dir.path().join("a"), dir.path().join("a.json"));
    let (mut first, _) = up(&data_a, &ready_a);
    let ready: Value = serde_json::from_str(&std::fs::read_to_string(&ready_a).unwrap()).unwrap();
    let url = ready["forticare"].as_str().unwrap().to_owned();
    let ca = std::fs::read_to_string(data_a.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    let granted = import(
        &client,
        &url,
        "FGVM01TM00000001",
        "1111-2222-3333-4444-5555",
    )
    .await;
    assert_eq!(granted.error, None);
    let clock = client
        .post(format!("{url}/__admin/clock"))
        .json(&serde_json::json!({"freeze": true, "set": "2030-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert!(clock.status().is_success());
    let bundle = dir.path().join("lab.bundle.json");
    let exported = cli(
        &data_a,
        &["state", "export", "--output", bundle.to_str().unwrap()],
    );
    assert!(
        exported.contains("clock 2030-01-01T00:00:00Z"),
        "{exported}"
    );
    first.kill().unwrap();
    first.wait().unwrap();

    let (data_b, ready_b) = (dir.path().join("b"), dir.path().join("b.json"));
    let (mut second, _) = up(&data_b, &ready_b);
    let imported = cli(&data_b, &["state", "import", bundle.to_str().unwrap()]);
    assert!(
        imported.contains("forticare") && imported.contains("2030-01-01T00:00:00Z (frozen)"),
        "{imported}"
    );
    let listed = cli(&data_b, &["license", "list"]);
    assert!(
        listed.contains("EFTM000000000005") && listed.contains("FGVM01TM00000001"),
        "{listed}"
    );

    // A broken bundle is refused before any service changes.
    let mut broken: Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    broken["services"][4]["trees"]["colours"] = serde_json::json!([]);
    std::fs::write(&bundle, broken.to_string()).unwrap();
    let output = Command::new(BIN)
        .args(["state", "import", bundle.to_str().unwrap(), "--data-dir"])
        .arg(&data_b)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no tree `colours`"), "{stderr}");
    second.kill().unwrap();
    second.wait().unwrap();
}

#[test]
fn health_waits_for_the_suite_and_fails_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let health = |wait: &str| {
        Command::new(BIN)
            .args(["health", "--wait", wait, "--data-dir"])
            .arg(&data_dir)
            .args(["--forticare-url", "https://127.0.0.1:1"])
            .output()
            .unwrap()
    };
    let refused = health("0.2");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is `fortimock up` running"));

    // Started and asked at once: `health --wait` answers once every service is ready.
    let mut child = up_command(&data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let output = Command::new(BIN)
        .args(["health", "--wait", "60", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for service in ["forticare", "ftm", "push", "phone", "appliance"] {
        assert!(stdout.contains(&format!("{service:<10} ready")), "{stdout}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn transfer_demo_tickets_and_certificates_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let (mut child, banner) = up(&data_dir, &ready_file);
    assert!(
        banner
            .iter()
            .any(|l| l
                .starts_with("v3 API   user fortimock-api password fortimock-lab-api-password")),
        "{banner:?}"
    );
    let story = cli(&data_dir, &["demo", "--transfer"]);
    for wanted in [
        "A fails; Customer Service moves the license",
        "token does not belong to product",
        "is Error",
        "alice on",
        "Done.",
    ] {
        assert!(story.contains(wanted), "{wanted:?} missing from:\n{story}");
    }
    let listed = cli(&data_dir, &["transfer", "--list"]);
    assert!(
        listed.contains("7000001") && listed.contains("yes"),
        "{listed}"
    );
    // The demo's ticket is closed (its grace period is over): told in the past tense.
    let shown = cli(&data_dir, &["transfer", "--show", "7000001"]);
    assert!(
        shown.starts_with("Ticket 7000001 (License Transfer, RMA): closed"),
        "{shown}"
    );
    assert!(shown.contains("was transferred from"), "{shown}");
    assert!(shown.contains("stopped working at"), "{shown}");
    assert!(!shown.contains("keep working"), "{shown}");

    // A ticket by hand: A imports, then the license moves to B.
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let url = ready["forticare"].as_str().unwrap().to_owned();
    let ca = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    import(
        &client,
        &url,
        "FGVM01TM00000001",
        "1111-2222-3333-4444-5555",
    )
    .await;
    let ticket = cli(
        &data_dir,
        &[
            "transfer",
            "EFTM000000000005",
            "--from",
            "FGVM01TM00000001",
            "--to",
            "FGVM01TM00000002",
            "--grace",
            "2h",
        ],
    );
    assert!(
        ticket.contains("License EFTM000000000005 has been transferred from FGVM01TM00000001 to FGVM01TM00000002"),
        "{ticket}"
    );
    assert!(
        ticket.contains("The previous activation code is no longer valid."),
        "{ticket}"
    );
    // Its certificate is named by its absolute URL on forticare.
    assert!(
        ticket.contains(&format!(
            "{url}{}",
            protocol::paths::fill(
                protocol::paths::ADMIN_LICENSE_CERTIFICATE,
                &["EFTM000000000005"]
            )
        )),
        "{ticket}"
    );
    // The list's columns line up: every cell starts where its header does.
    let listed = cli(&data_dir, &["transfer", "--list"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    for column in ["LICENSE", "FROM", "RMA", "STATUS", "GRACE UNTIL"] {
        let at = lines[0].find(column).unwrap();
        for line in &lines[1..] {
            assert!(
                line.as_bytes()[at] != b' ' && line.as_bytes()[at - 1] == b' ',
                "{column} not aligned:\n{listed}"
            );
        }
    }
    let refused = Command::new(BIN)
        .args([
            "transfer",
            "EFTM000000000005",
            "--from",
            "FGVM01TM00000001",
            "--to",
            "FGVM01TM00000003",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("forticare.transfer.not-owner"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let pdf = dir.path().join("cert.pdf");
    let saved = cli(
        &data_dir,
        &[
            "license",
            "certificate",
            "EFTM000000000005",
            "-o",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(
        saved.contains("redemption certificate of EFTM000000000005 saved"),
        "{saved}"
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let errors = Command::new(BIN)
        .args(["scenario", "errors"])
        .output()
        .unwrap();
    let errors = String::from_utf8(errors.stdout).unwrap();
    assert!(
        errors.contains("forticare.v3.rate-limit-minute"),
        "{errors}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_fortiauthenticator_from_the_command_line_and_its_rest_api() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let (mut child, _) = up(&data_dir, &ready_file);
    let created = cli(
        &data_dir,
        &[
            "fgt",
            "new",
            "--fac",
            "--serial",
            "FAC-VMTM00000001",
            "--json",
        ],
    );
    assert!(created.contains("FAC-VMTM00000001"), "{created}");
    let set = cli(
        &data_dir,
        &[
            "fac",
            "set",
            "FAC-VMTM00000001",
            "--host-name",
            "localhost",
            "--hotp-window",
            "7",
            "--token-algo",
            "hotp",
            "--transfer",
            "true",
        ],
    );
    assert!(set.contains("HOTP window 7"), "{set}");
    assert!(set.contains("transfer on"), "{set}");
    let refused = Command::new(BIN)
        .args(["fac", "set", "FAC-VMTM00000001", "--totp-window", "61"])
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("totp_window"),
        "{refused:?}"
    );
    let key = cli(&data_dir, &["fac", "api-key", "FAC-VMTM00000001"]);
    let api_key = key
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .unwrap()
        .trim()
        .to_owned();
    let base = key
        .lines()
        .find_map(|l| l.strip_prefix("REST API:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(base.starts_with("https://localhost:"), "{key}");
    // A script's first call with the key: the token policy as set.
    let ca = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    let policy: Value = client
        .get(format!("{base}userfortitokenpolicy/"))
        .basic_auth("admin", Some(&api_key))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(policy["hotp_window"], 7);
    // Lock a token as the FAC's token list does: the REST API shows it locked; --unlock undoes it.
    let imported = client
        .post(format!("{base}fortitokenmobilelicenses/"))
        .basic_auth("admin", Some(&api_key))
        .body(r#"{"license": "5050-5050-5050-5050-5050"}"#)
        .send()
        .await
        .unwrap();
    assert!(imported.status().is_success(), "{imported:?}");
    let tokens: Value = client
        .get(format!("{base}fortitokens/"))
        .basic_auth("admin", Some(&api_key))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["objects"][0]["serial"].as_str().unwrap().to_owned();
    let locked = cli(
        &data_dir,
        &["fac", "lock-token", "FAC-VMTM00000001", &token],
    );
    assert!(locked.contains("is locked"), "{locked}");
    let listed: Value = client
        .get(format!("{base}fortitokens/?serial={token}"))
        .basic_auth("admin", Some(&api_key))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["objects"][0]["locked"], true);
    let unlocked = cli(
        &data_dir,
        &["fac", "lock-token", "FAC-VMTM00000001", &token, "--unlock"],
    );
    assert!(unlocked.contains("is unlocked"), "{unlocked}");
    let ldap = cli(
        &data_dir,
        &[
            "fac",
            "ldap-user",
            "FAC-VMTM00000001",
            "gina",
            "--dn",
            "CN=gina,DC=lab,DC=test",
        ],
    );
    assert!(ldap.contains("/api/v1/ldapusers/1/"), "{ldap}");
    let shown = cli(&data_dir, &["fac", "show", "FAC-VMTM00000001", "--json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["provisioning"]["token_algo"], "hotp");
    assert_eq!(shown["admins"], serde_json::json!(["admin"]));
    let outbox = cli(&data_dir, &["fac", "outbox", "FAC-VMTM00000001"]);
    assert!(outbox.is_empty(), "{outbox}");
    // The demo's FAC chapter, through the REST API and a token transfer.
    let story = cli(&data_dir, &["demo", "--fac"]);
    for wanted in [
        "POST localusers/ → 207 with statue 201",
        "POST auth/ → 200",
        "FTM token Transfer Code has already been used",
        "the old phone sees the transfer completed and now holds 0 tokens",
        "POST auth/ → 200",
        "Done.",
    ] {
        assert!(story.contains(wanted), "{wanted:?} missing from:\n{story}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn demo_hardware_tokens_and_messages_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let (mut child, _) = up(&data_dir, &ready_file);
    let story = cli(&data_dir, &["demo"]);
    for wanted in [
        "the mail server answered 250",
        "QR code inline",
        "the camera read the code",
        "bob logs in with OTP",
        "carol, assigned the token with no activation step",
        "token already activated, and seed won't be returned",
        "Done.",
    ] {
        assert!(story.contains(wanted), "{wanted:?} missing from:\n{story}");
    }
    let messages = cli(&data_dir, &["messages", "--recipient", "bob@example.com"]);
    assert!(
        messages.contains("bob@example.com") && messages.contains("QR code"),
        "{messages}"
    );
    // `messages show|eml|clear` take --data-dir after the subcommand (`cli` puts it last).
    let listed: Value = serde_json::from_str(&cli(
        &data_dir,
        &["messages", "--recipient", "bob@example.com", "--json"],
    ))
    .unwrap();
    let id = listed["messages"][0]["id"].as_str().unwrap().to_owned();
    let shown = cli(&data_dir, &["messages", "show", &id]);
    assert!(shown.contains("Subject: "), "{shown}");
    let eml = dir.path().join("bob.eml");
    cli(
        &data_dir,
        &["messages", "eml", &id, "-o", eml.to_str().unwrap()],
    );
    let eml = std::fs::read_to_string(&eml).unwrap();
    assert!(
        eml.contains("bob@example.com") && eml.contains("image/png"),
        "{eml}"
    );
    let batches = cli(&data_dir, &["hardware", "list"]);
    assert!(
        batches.contains("HW000001 FTK200") && batches.contains("locked"),
        "{batches}"
    );

    // TAC refuses the demo's token while carol has it, and a DEMO-less 200CD token always; nothing changes.
    let shown = cli(&data_dir, &["hardware", "show", "HW000001"]);
    assert!(shown.contains("FTK200BAA0000000"), "{shown}");
    let refused = cli_fails(&data_dir, &["hardware", "reset-lock", "FTK200BAA0000000"]);
    assert!(
        refused.contains("is assigned to user carol on "),
        "{refused}"
    );
    assert_eq!(cli(&data_dir, &["hardware", "show", "HW000001"]), shown);

    // A 200CD batch: only its seed file brings it to an appliance, offline, even to a FortiProxy.
    let created = cli(
        &data_dir,
        &[
            "hardware", "create", "--model", "FTK211", "--count", "2", "--note", "order 42",
            "--json",
        ],
    );
    let created: Value = serde_json::from_str(&created).unwrap();
    assert_eq!(created["note"], "order 42");
    assert_eq!(created["batch"], "HW000002");
    let refused = cli_fails(&data_dir, &["hardware", "reset-lock", "FTK211BAB0000000"]);
    assert!(refused.contains("200CD"), "{refused}");
    let refused = cli_fails(
        &data_dir,
        &[
            "hardware",
            "seed-file",
            "HW000002",
            "--format",
            "okta",
            "-o",
            dir.path().join("okta.zip").to_str().unwrap(),
        ],
    );
    assert!(refused.contains("FTK200CD format only"), "{refused}");
    let zip = dir.path().join("HW000002.zip");
    let saved = cli(
        &data_dir,
        &[
            "hardware",
            "seed-file",
            "HW000002",
            "--format",
            "ftk200cd",
            "-o",
            zip.to_str().unwrap(),
        ],
    );
    let password = saved
        .lines()
        .find_map(|l| l.strip_prefix("zip password (shown once): "))
        .unwrap()
        .to_owned();
    let proxy = cli(
        &data_dir,
        &[
            "fgt",
            "new",
            "--kind",
            "fortiproxy",
            "--serial",
            "FPXVM0TM00000001",
        ],
    );
    assert!(proxy.contains("FPXVM0TM00000001"), "{proxy}");
    let imported = cli(
        &data_dir,
        &[
            "fgt",
            "hardware",
            "import-seed-file",
            "FPXVM0TM00000001",
            zip.to_str().unwrap(),
            "--password",
            &password,
        ],
    );
    assert_eq!(
        imported.matches(" new (Available)").count(),
        2,
        "{imported}"
    );
    let info = cli(&data_dir, &["fgt", "hardware", "info", "FPXVM0TM00000001"]);
    assert!(info.contains("FTK211BAB0000000"), "{info}");

    // Assigned to dora, the hardware token and its user show in `show user fortitoken` as FortiOS prints
    // them: the serial under `config user fortitoken` (no license; the seed hidden), dora under
    // `config user local`.
    let assigned = cli(
        &data_dir,
        &[
            "fgt",
            "hardware",
            "assign",
            "FPXVM0TM00000001",
            "FTK211BAB0000000",
            "--user",
            "dora",
        ],
    );
    assert!(assigned.contains("Assigned"), "{assigned}");
    let show = cli(&data_dir, &["fgt", "show", "FPXVM0TM00000001"]);
    for wanted in [
        "# FortiProxy FPXVM0TM00000001",
        "# FTK211BAB0000000  Assigned  user dora  (hardware FTK211; diagnose fortitoken info: active)",
        "# FTK211BAB0000001  Available  (hardware FTK211; diagnose fortitoken info: new)",
        "config user fortitoken\n    edit \"FTK211BAB0000000\"\n    next\n",
        "config user local\n    edit \"dora\"\n        set type password\n        set two-factor fortitoken\n        set fortitoken \"FTK211BAB0000000\"\n",
    ] {
        assert!(show.contains(wanted), "{wanted:?} missing from:\n{show}");
    }
    let cleared = cli(&data_dir, &["messages", "clear"]);
    assert!(cleared.ends_with("messages removed\n"), "{cleared}");
    assert_eq!(cli(&data_dir, &["messages"]), "no messages captured\n");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Kills `child` and returns everything it wrote to stderr.
fn stderr_after_kill(mut child: Child) -> String {
    let _ = child.kill();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let _ = child.wait();
    stderr
}

#[tokio::test]
async fn up_prints_its_banner_and_nothing_else_at_the_default_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = up_command(&dir.path().join("data"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let banner = banner_of(&mut child);
    assert!(banner[0].contains(" is up "), "{banner:?}");
    let url = banner[1].split_whitespace().nth(1).unwrap().to_owned();
    let ca = std::fs::read_to_string(dir.path().join("data/tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    let granted = import(
        &client,
        &url,
        "FGVM01TM00000001",
        "1111-2222-3333-4444-5555",
    )
    .await;
    assert_eq!(granted.license, "EFTM000000000005");
    let stderr = stderr_after_kill(child);
    assert!(stderr.is_empty(), "stderr at the default level: {stderr}");
    assert!(!banner.iter().any(|l| l.contains('\u{1b}')), "{banner:?}");
}

#[tokio::test]
async fn log_format_json_writes_one_json_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = up_command(&dir.path().join("data"))
        .args(["--log-format", "json"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let banner = banner_of(&mut child);
    let url = banner[1].split_whitespace().nth(1).unwrap().to_owned();
    let ca = std::fs::read_to_string(dir.path().join("data/tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    import(
        &client,
        &url,
        "FGVM01TM00000001",
        "1111-2222-3333-4444-5555",
    )
    .await;
    let stderr = stderr_after_kill(child);
    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "request"
            && l["fields"]["message_type"] == "SoftToken.ActivationLicenseRequest"),
        "{stderr}"
    );
}

#[test]
fn fortimock_toml_in_the_working_directory_configures_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fortimock.toml"),
        "data-dir = \"lab-data\"\nready-file = \"ready.json\"\nforticare-port = 0\nftm-port = 0\n\
         push-port = 0\nphone-port = 0\nappliance-port = 0\nno-fixtures = true\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg("up")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let banner = banner_of(&mut child);
    assert!(banner.iter().any(|l| l.contains("lab-data")), "{banner:?}");
    assert!(dir.path().join("ready.json").is_file());
    // `data-dir` applies to the driving subcommands too: `license list` finds this suite, whose file
    // said no fixtures.
    let output = Command::new(BIN)
        .args(["license", "list", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list["licenses"], serde_json::json!([]));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn unknown_keys_and_variables_stop_fortimock_naming_the_closest() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lab.toml");
    std::fs::write(&config, "forticare-prot = 0\n").unwrap();
    let output = Command::new(BIN)
        .args(["up", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown key `forticare-prot`") && stderr.contains("`forticare-port`"),
        "{stderr}"
    );
    let output = Command::new(BIN)
        .args(["certs"])
        .current_dir(dir.path())
        .env("FORTIMOCK_DATADIR", "x")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown variable FORTIMOCK_DATADIR: did you mean FORTIMOCK_DATA_DIR?"),
        "{stderr}"
    );
}

/// `fortimock replay` on the seed logs: against an ephemeral lab when no suite runs, against the running
/// suite otherwise; bad logs exit 1 with a clear message, never a panic, and arm nothing.
#[test]
fn replay_reads_the_seed_logs_and_refuses_bad_ones() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/debug-logs");
    let license_log = fixtures.join("license-import-error16.txt");
    let push_log = fixtures.join("ftm-push-send.txt");
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));

    // No suite runs in this data dir: an ephemeral lab, said so.
    let output = Command::new(BIN)
        .arg("replay")
        .arg(&license_log)
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("against an ephemeral lab"), "{text}");
    assert!(
        text.contains("fortimock: error 16 `forticare license activation code invalid`"),
        "{text}"
    );
    assert!(
        text.contains("d.__clustered_sns[1].sn: \"FGXXXXXX\" → \" FGXXXXXXX \"  (sanitized)"),
        "{text}"
    );

    let (mut child, _) = up(&data_dir, &ready_file);
    let bad = dir.path().join("bad.txt");
    for (content, expected) in [
        (&b""[..], "is empty"),
        (
            b"diag debug enable\nnothing else\n",
            "no FortiToken cloud request or response",
        ),
        (
            b"{\"d\": {\"__type\": \"SoftToken.ActivationLicenseRequest\",",
            "never closes",
        ),
        (
            b"\x00\xff\xfe{{{\x01",
            "no FortiToken cloud request or response",
        ),
    ] {
        std::fs::write(&bad, content).unwrap();
        let output = Command::new(BIN)
            .arg("replay")
            .arg(&bad)
            .arg("--arm")
            .arg("--data-dir")
            .arg(&data_dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(
        cli(&data_dir, &["scenario", "list"]).trim(),
        "no scenarios armed"
    );

    // The running suite: the push is sent to its relay; the import is armed, and replays to error 16.
    let text = cli(&data_dir, &["replay", push_log.to_str().unwrap()]);
    assert!(text.contains("against the running suite"), "{text}");
    assert!(
        text.contains("sent to push POST /api/v1/push: HTTP 410"),
        "{text}"
    );
    let text = cli(
        &data_dir,
        &["replay", license_log.to_str().unwrap(), "--arm"],
    );
    assert!(
        text.contains("armed s1 on forticare for exchange 1"),
        "{text}"
    );
    assert!(text.contains("fired 1 time so far"), "{text}");
    let listed = cli(&data_dir, &["scenario", "list"]);
    assert!(listed.contains("serial FGXXXXXXX"), "{listed}");
    // stdin, and JSON.
    let output = Command::new(BIN)
        .args(["replay", "-", "--json", "--data-dir"])
        .arg(&data_dir)
        .stdin(std::fs::File::open(&license_log).unwrap())
        .output()
        .unwrap();
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["exchanges"][0]["verdict"], "matches");
    assert_eq!(report["exchanges"][0]["answer_error"]["error_code"], 16);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `fortimock … | head`: a reader that goes away stops the command quietly, as SIGPIPE would, never with a
/// panic.
#[test]
fn a_reader_that_goes_away_stops_output_quietly() {
    let mut quiet_stops = 0;
    for _ in 0..3 {
        let mut child = Command::new(BIN)
            .args(["scenario", "errors"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command has written anything.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        if output.status.code() == Some(141) {
            quiet_stops += 1;
        }
    }
    assert!(quiet_stops > 0, "the reader never went away first");
}

#[tokio::test]
async fn timeline_coverage_and_the_report_written_at_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let report_file = dir.path().join("coverage.json");
    let (mut child, _) = up_with(
        &data_dir,
        &ready_file,
        &["--coverage-report", report_file.to_str().unwrap()],
    );
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let url = ready["ftm"].as_str().unwrap().to_owned();
    let ca = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    cli(
        &data_dir,
        &[
            "scenario",
            "arm",
            "forticare.import.code-invalid",
            "--times",
            "1",
        ],
    );
    let refused = import(
        &client,
        &url,
        "FGVM01TM00000001",
        "1111-2222-3333-4444-5555",
    )
    .await;
    assert_eq!(refused.error.unwrap().error_code, 16);

    let flows = cli(&data_dir, &["timeline"]);
    assert!(flows.starts_with("1 flow, newest first"), "{flows}");
    let flow = flows
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let calls = cli(&data_dir, &["timeline", "--flow", flow]);
    assert!(
        calls.contains("ftm -> forticare  POST /SoftToken/Provisioning.asmx/Process"),
        "{calls}"
    );
    assert!(
        calls.contains("error forticare.import.code-invalid"),
        "{calls}"
    );
    let diagram = cli(&data_dir, &["timeline", "--flow", flow, "--mermaid"]);
    assert!(diagram.starts_with("sequenceDiagram\n"), "{diagram}");
    let table = cli(&data_dir, &["coverage"]);
    assert!(table.contains("catalogue errors answered: 1 of"), "{table}");
    assert!(
        table.contains("forticare  forticare.import.code-invalid"),
        "{table}"
    );
    assert!(table.contains("never reached:"), "{table}");
    let json: Value = serde_json::from_str(&cli(&data_dir, &["coverage", "--json"])).unwrap();
    assert_eq!(json["scenarios"]["reached"], 1);

    // SIGTERM (what `docker stop` sends): the report is written, then the suite stops.
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(child.wait().unwrap().success());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert!(
        report["catalogue"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "forticare.import.code-invalid" && i["count"].as_u64() >= Some(1)),
        "{report}"
    );
}

/// The address after `scheme://` in the ready file's entry `key`.
fn ready_address(ready: &Value, key: &str, scheme: &str) -> std::net::SocketAddr {
    ready[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {ready}"))
        .strip_prefix(scheme)
        .unwrap_or_else(|| panic!("{key} is not {scheme}…: {ready}"))
        .parse()
        .unwrap()
}

/// `fortimock dns --dns-port PORT health`: its exit status and what it printed.
fn dns_health(port: u16) -> std::process::Output {
    Command::new(BIN)
        .args(["dns", "--dns-port", &port.to_string(), "health"])
        .output()
        .unwrap()
}

#[tokio::test]
async fn up_tells_where_the_dns_responder_and_the_smtp_listener_are() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    // FREE_PORT_ARGS has `--smtp-port 0` too.
    let (mut child, banner) = up_with(&data_dir, &ready_file, &["--dns-port", "0"]);
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let dns = ready_address(&ready, "dns", "dns://");
    let smtp = ready_address(&ready, "smtp", "smtp://");
    assert!(dns.port() != 0 && smtp.port() != 0, "{ready}");
    assert_ne!(smtp.port(), 8025, "--smtp-port 0 picks a free port");
    // suite.json, which the CLI reads, says the same.
    let suite: Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir.join("suite.json")).unwrap())
            .unwrap();
    assert_eq!(
        (&suite["dns"], &suite["smtp"]),
        (&ready["dns"], &ready["smtp"])
    );
    // So does the banner.
    assert!(
        banner
            .iter()
            .any(|l| l.starts_with("smtp ") && l.contains(&smtp.to_string())),
        "{banner:?}"
    );
    assert!(
        banner
            .iter()
            .any(|l| l.starts_with("dns ") && l.contains(&dns.to_string())),
        "{banner:?}"
    );

    // The responder answers there, the mail server's name with the suite's address.
    let answer = fortimock::dns::query(dns, "notification.fortinet.net")
        .await
        .unwrap();
    assert_eq!(answer, [smtp.ip()]);
    // The SMTP listener greets as that name and answers EHLO, offering STARTTLS.
    let stream = std::net::TcpStream::connect(smtp).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("220 ") && line.contains("notification.fortinet.net"),
        "{line}"
    );
    std::io::Write::write_all(&mut &stream, b"EHLO cli.test\r\n").unwrap();
    let mut extensions = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("250"), "{line}");
        extensions.push(line.trim().to_owned());
        if line.starts_with("250 ") {
            break;
        }
    }
    assert!(
        extensions.iter().any(|l| l.contains("STARTTLS")),
        "{extensions:?}"
    );
    std::io::Write::write_all(&mut &stream, b"QUIT\r\n").unwrap();

    // The CLI resolves a real name through the responder (`--resolver`), and reaches the suite by it.
    let forticare_port = ready["forticare"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let by_name = format!("https://support.fortinet.com:{forticare_port}");
    let listed = cli(
        &data_dir,
        &[
            "license",
            "list",
            "--forticare-url",
            &by_name,
            "--resolver",
            &dns.to_string(),
        ],
    );
    assert!(listed.contains("EFTM000000000005"), "{listed}");
    // A resolver that is no address is refused before anything is sent.
    let output = Command::new(BIN)
        .args(["license", "list", "--resolver", "the-lab", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("`the-lab` is not a DNS server address"),
        "{error}"
    );

    // `fortimock health` checks the HTTPS services only: the new entries are not services.
    let health = cli(&data_dir, &["health"]);
    assert!(
        health.contains("forticare") && !health.contains("smtp") && !health.contains("dns"),
        "{health}"
    );
    // `fortimock dns health` finds the responder on that port.
    let output = dns_health(dns.port());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.starts_with("dns")
            && said.contains("ready")
            && said.contains("fortitokenmobile.fortinet.com"),
        "{said}"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    // With the suite gone nothing answers there: a failure, and a sentence saying what is missing.
    let output = dns_health(dns.port());
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains(&format!(
            "no DNS responder answers on 127.0.0.1:{}",
            dns.port()
        )),
        "{error}"
    );
}

#[tokio::test]
async fn dns_runs_the_responder_on_its_own() {
    let mut child = Command::new(BIN)
        .args(["dns", "--dns-port", "0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let address: std::net::SocketAddr = first
        .strip_prefix("fortimock dns answers on udp+tcp ")
        .unwrap_or_else(|| panic!("{first}"))
        .parse()
        .unwrap();
    let banner: Vec<String> = lines.by_ref().take(9).map(Result::unwrap).collect();
    assert!(
        banner
            .iter()
            .any(|l| l
                .contains("notification.fortinet.net → 127.0.0.1 (appliance: the SMTP listener)")),
        "{banner:?}"
    );
    assert_eq!(
        fortimock::dns::query(address, "push.fortinet.com")
            .await
            .unwrap(),
        [std::net::IpAddr::from([127, 0, 0, 1])]
    );
    let output = dns_health(address.port());
    assert!(output.status.success(), "{output:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn dns_refuses_a_service_address_for_a_service_that_answers_no_name() {
    let output = Command::new(BIN)
        .args([
            "dns",
            "--dns-port",
            "0",
            "--dns-service-address",
            "phone=192.0.2.1",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains(
            "`phone` stands in for no host name: give one of ftm, push, forticare, appliance"
        ),
        "{error}"
    );
}

#[test]
fn dns_health_help_says_what_it_checks() {
    let output = Command::new(BIN)
        .args(["dns", "health", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("answers an emulated name") && !help.contains("/__admin/ready"),
        "{help}"
    );
}

/// Every form a seed could leak in: hex in both cases, and base32 (what an `otpauth://` URI carries).
fn seed_forms(seed: &protocol::seed::Seed) -> [String; 3] {
    [
        seed.to_hex_upper(),
        seed.to_hex_lower(),
        data_encoding::BASE32_NOPAD.encode(seed.as_bytes()),
    ]
}

#[tokio::test]
async fn seeds_never_appear_in_debug_logs_captured_messages_or_journals() {
    use protocol::device_storage;
    use protocol::paths;

    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let log_path = dir.path().join("stderr.log");
    let mut child = up_command(&data_dir)
        .arg("--ready-file")
        .arg(&ready_file)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    banner_of(&mut child);
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let url = |service: &str| ready[service].as_str().unwrap().to_owned();
    let ca = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    let get = |address: String| {
        let client = client.clone();
        async move {
            let response = client.get(&address).send().await.unwrap();
            assert!(response.status().is_success(), "{address}");
            response.text().await.unwrap()
        }
    };

    // The demo provisions mobile tokens with an activation email a phone scans, and hardware tokens.
    cli(&data_dir, &["demo"]);
    // A mobile token's code by SMS, activated by a phone from the captured SMS.
    let appliance = url("appliance");
    let created: Value = client
        .post(format!("{appliance}{}", paths::APPLIANCES))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let serial = created["serial"].as_str().unwrap().to_owned();
    let imported = client
        .post(format!(
            "{appliance}{}",
            paths::fill(paths::APPLIANCE_IMPORT, &[&serial])
        ))
        .json(&serde_json::json!({"code": "0000-0000-0000-0000-0000"}))
        .send()
        .await
        .unwrap();
    assert!(imported.status().is_success());
    let provisioned = client
        .post(format!(
            "{appliance}{}",
            paths::fill(paths::APPLIANCE_PROVISION, &[&serial])
        ))
        .json(&serde_json::json!({"token": "any", "user": "sam", "sms_phone": "+15555550123"}))
        .send()
        .await
        .unwrap();
    assert!(provisioned.status().is_success());
    let sms: Value =
        serde_json::from_str(&get(format!("{appliance}{}?kind=sms", paths::ADMIN_MESSAGES)).await)
            .unwrap();
    let code = sms["messages"][0]["activation_code"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(&data_dir, &["phone", "new", "--name", "sms-phone"]);
    cli(&data_dir, &["phone", "activate", "sms-phone", &code]);

    // Every seed: the hardware batches' from their seed files, the mobile ones decrypted from the phones'
    // app data as the app does.
    let mut seeds = Vec::new();
    let batches: Value = serde_json::from_str(
        &get(format!(
            "{}{}",
            url("forticare"),
            paths::ADMIN_HARDWARE_TOKENS
        ))
        .await,
    )
    .unwrap();
    for batch in batches["batches"].as_array().unwrap() {
        let batch = batch["batch"].as_str().unwrap();
        let zip = dir.path().join(format!("{batch}.zip"));
        let saved = cli(
            &data_dir,
            &["hardware", "seed-file", batch, "-o", zip.to_str().unwrap()],
        );
        let password = saved
            .lines()
            .find_map(|l| l.strip_prefix("zip password (shown once): "))
            .unwrap();
        let file = std::fs::read(&zip).unwrap();
        seeds.extend(
            appliance::seed_file::open(&file, password)
                .unwrap()
                .into_iter()
                .map(|(_, s)| s),
        );
    }
    let hardware = seeds.len();
    let phones: Value =
        serde_json::from_str(&get(format!("{}{}", url("phone"), paths::PHONES)).await).unwrap();
    for phone in phones["phones"].as_array().unwrap() {
        let id = phone["id"].as_str().unwrap();
        let mobile_id = phone["mobile_id"].as_str().unwrap();
        let export: Value = serde_json::from_str(
            &get(format!(
                "{}{}",
                url("phone"),
                paths::fill(paths::PHONE_EXPORT, &[id])
            ))
            .await,
        )
        .unwrap();
        let Some(uuid) = export["shared_prefs"]["UUID"].as_str() else {
            continue;
        };
        let key = device_storage::uuid_key(mobile_id, device_storage::SERIAL_PRE_ANDROID9);
        let uuid = device_storage::decrypt_uuid(&key, uuid).unwrap();
        for account in export["accounts"].as_array().unwrap() {
            let seed = account["seed"].as_str().unwrap();
            seeds.push(device_storage::decrypt_seed(&key, &uuid, seed).unwrap());
        }
    }
    assert!(
        hardware > 0 && seeds.len() > hardware + 1,
        "{} seeds, {hardware} hardware",
        seeds.len()
    );

    // Where they must not be: the debug log, the captured messages and each one's .eml, every journal.
    let mut places = vec![(
        "stderr".to_owned(),
        std::fs::read_to_string(&log_path).unwrap(),
    )];
    assert!(
        places[0].1.contains("DEBUG"),
        "the log is not at debug level"
    );
    let messages: Value =
        serde_json::from_str(&get(format!("{appliance}{}", paths::ADMIN_MESSAGES)).await).unwrap();
    places.push(("/__admin/messages".to_owned(), messages.to_string()));
    let list = messages["messages"].as_array().unwrap();
    assert!(list.iter().any(|m| m["kind"] == "email") && list.iter().any(|m| m["kind"] == "sms"));
    for message in list.iter().filter(|m| m["kind"] == "email") {
        let id = message["id"].as_str().unwrap();
        let eml = get(format!(
            "{appliance}{}",
            paths::fill(paths::ADMIN_MESSAGE_EML, &[id])
        ))
        .await;
        places.push((format!("{id}.eml"), eml));
    }
    for service in ["forticare", "ftm", "push"] {
        let journal = get(format!("{}{}", url(service), paths::ADMIN_JOURNAL)).await;
        places.push((format!("{service} journal"), journal));
    }
    for seed in &seeds {
        for form in seed_forms(seed) {
            for (place, text) in &places {
                assert!(!text.contains(&form), "a seed in {place}");
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The last line of `text` that starts with `prefix`, without it.
fn line_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
        .trim()
}

#[tokio::test]
async fn token_transfer_offline_activation_and_the_windows_agent_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, ready_file) = (dir.path().join("data"), dir.path().join("ready.json"));
    let (mut child, _) = up(&data_dir, &ready_file);
    // The lab clock stands still, so a code read from the phone is the code of the agent's moment.
    let suite = fortimock::client::SuiteClient::connect(fortimock::client::Connect {
        data_dir: data_dir.clone(),
        urls: Vec::new(),
        cacert: None,
        client_identity: None,
        admin_token: None,
        resolver: None,
    })
    .unwrap();
    suite.control("ftm").freeze_clock().await.unwrap();
    let fac = "FAC-VMTM00000002";
    cli(&data_dir, &["fgt", "new", "--fac", "--serial", fac]);
    let set = cli(
        &data_dir,
        &[
            "fac",
            "set",
            fac,
            "--host-name",
            "localhost",
            "--transfer",
            "true",
            "--offline-secret",
            "agent-secret",
            "--offline",
            "true",
            "--offline-totp-days",
            "1",
            "--emergency-codes",
            "true",
        ],
    );
    assert!(set.contains("transfer on"), "{set}");
    let key = cli(&data_dir, &["fac", "api-key", fac]);
    let api_key = line_after(&key, "api key:").to_owned();
    let base = line_after(&key, "REST API:")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let ca = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
    let client = lab::client::http_client(Some(&ca), None).unwrap();
    let rest = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .basic_auth("admin", Some(&api_key))
            .body(body.to_string())
    };
    // A local user with a FortiToken Mobile assigned: the token's serial.
    let token_user = |name: &str| {
        let user = rest(
            reqwest::Method::POST,
            "localusers/",
            serde_json::json!({"username": name, "email": format!("{name}@example.test"), "token_auth": true, "token_type": "ftm"}),
        );
        async move {
            let created: Value = user.send().await.unwrap().json().await.unwrap();
            created[0]["token_serial"].as_str().unwrap().to_owned()
        }
    };
    let imported = rest(
        reqwest::Method::POST,
        "fortitokenmobilelicenses/",
        serde_json::json!({"license": "5050-5050-5050-5050-5050"}),
    )
    .send()
    .await
    .unwrap();
    assert!(imported.status().is_success(), "{imported:?}");
    let token = token_user("alice").await;
    let outbox: Value =
        serde_json::from_str(&cli(&data_dir, &["fac", "outbox", fac, "--json"])).unwrap();
    let activation = outbox["messages"][0]["code"].as_str().unwrap().to_owned();
    cli(&data_dir, &["phone", "new", "--name", "old-phone"]);
    cli(&data_dir, &["phone", "activate", "old-phone", &activation]);

    // Token transfer: start on the old phone (the FAC mails the code), read the code, complete on the new
    // phone (once), and the old phone's check removes its copy.
    let started: Value = serde_json::from_str(&cli(
        &data_dir,
        &[
            "phone",
            "transfer",
            "start",
            "old-phone",
            "--fac",
            fac,
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(started["tokens"], serde_json::json!([token]));
    assert_eq!(started["method"], "email");
    let transfer_id = started["transfer_id"].as_str().unwrap().to_owned();
    let shown = cli(&data_dir, &["phone", "transfer", "code", fac]);
    assert!(shown.contains("alice@example.test"), "{shown}");
    let code = shown.split_whitespace().next().unwrap().to_owned();
    let not_yet = cli(
        &data_dir,
        &[
            "phone",
            "transfer",
            "check",
            "old-phone",
            &transfer_id,
            "--token",
            &token,
        ],
    );
    assert!(not_yet.contains("is code-issued"), "{not_yet}");
    cli(&data_dir, &["phone", "new", "--name", "new-phone"]);
    let installed = cli(
        &data_dir,
        &[
            "phone",
            "transfer",
            "complete",
            "new-phone",
            "--latest-from",
            fac,
        ],
    );
    assert!(
        installed.contains(&format!("new-phone installed {token} from {fac}")),
        "{installed}"
    );
    cli(&data_dir, &["phone", "new", "--name", "third-phone"]);
    let refused = cli_fails(
        &data_dir,
        &["phone", "transfer", "complete", "third-phone", &code],
    );
    assert!(refused.contains("ftm.transfer.code-used"), "{refused}");
    let checked = cli(
        &data_dir,
        &[
            "phone",
            "transfer",
            "check",
            "old-phone",
            &transfer_id,
            "--token",
            &token,
        ],
    );
    assert!(
        checked.contains("is completed: old-phone removed its copies"),
        "{checked}"
    );
    let phones: Value =
        serde_json::from_str(&cli(&data_dir, &["phone", "list", "--json"])).unwrap();
    let old = phones["phones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "old-phone")
        .unwrap();
    assert_eq!(old["tokens"], serde_json::json!([]));
    let refused = cli_fails(
        &data_dir,
        &["phone", "transfer", "start", "no-such-phone", "--fac", fac],
    );
    assert!(refused.contains("phone.not-found"), "{refused}");

    // The Windows agent: sync alice's cache, log in offline with the new phone's code once.
    let synced = cli(&data_dir, &["fac", "agent-sync", fac, "pc1", "alice"]);
    assert!(
        synced.contains(&format!(
            "agent pc1 cached 1440 totp codes of {token} for alice"
        )),
        "{synced}"
    );
    let otp = cli(&data_dir, &["phone", "otp", "new-phone"])
        .trim()
        .to_owned();
    let login = cli(
        &data_dir,
        &["fac", "agent-login", fac, "pc1", "alice", &otp],
    );
    assert!(login.contains("Success"), "{login}");
    let replayed = cli_fails(
        &data_dir,
        &["fac", "agent-login", fac, "pc1", "alice", &otp],
    );
    assert!(replayed.contains("Replayed"), "{replayed}");
    let denied = cli_fails(
        &data_dir,
        &["fac", "agent-login", fac, "pc1", "alice", "000000"],
    );
    assert!(denied.contains("Denied"), "{denied}");

    // Offline activation: the activation page's payload, and its QR code as a PNG file.
    cli(
        &data_dir,
        &["fac", "set", fac, "--provision-mode", "offline"],
    );
    let offline = token_user("bob").await;
    let page = cli(&data_dir, &["fac", "activation", fac, &offline]);
    assert!(
        page.starts_with(&format!("{offline} for bob (until ")),
        "{page}"
    );
    let payload = page.rsplit(": ").next().unwrap().trim().to_owned();
    let png = dir.path().join("activation.png");
    let written = cli(
        &data_dir,
        &[
            "fac",
            "activation",
            fac,
            &offline,
            "--png",
            png.to_str().unwrap(),
        ],
    );
    assert!(written.contains("QR code written"), "{written}");
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    cli(&data_dir, &["phone", "new", "--name", "bob-phone"]);
    cli(&data_dir, &["phone", "activate", "bob-phone", &payload]);
    let bob_otp = cli(&data_dir, &["phone", "otp", "bob-phone"])
        .trim()
        .to_owned();
    assert_eq!(bob_otp.len(), 6, "{bob_otp}");
    let missing = cli_fails(&data_dir, &["fac", "activation", fac, "FTKMOB0000000000"]);
    assert!(!missing.is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `fortimock scenario errors` lists the whole catalogue, transfer refusals, v3 errors and rate limits
/// included, each under its stable id with its provenance and symptom; `--json` has every entry once.
#[test]
fn scenario_errors_lists_the_whole_catalogue_with_provenance_and_symptom() {
    let run = |args: &[&str]| {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let listed: Vec<Value> = serde_json::from_str(&run(&["scenario", "errors", "--json"])).unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let catalogue: Vec<&str> = protocol::catalogue::CATALOGUE
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids, catalogue,
        "the whole catalogue, in its order, once each"
    );
    for entry in &listed {
        for field in ["text", "symptom", "source", "provenance"] {
            assert!(
                entry[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field} of {entry}"
            );
        }
        assert!(entry.get("armable").is_some(), "{entry}");
    }
    let entry = |id: &str| listed.iter().find(|e| e["id"] == id).unwrap().clone();
    for id in [
        "forticare.transfer.not-owner",
        "forticare.transfer.shipped-since-2025-08-04",
        "forticare.v3.batch-stopped",
    ] {
        assert_eq!(entry(id)["armable"], Value::Null, "{id}");
    }
    let hour = entry("forticare.v3.rate-limit-hour");
    assert_eq!(
        (hour["code"].as_i64(), hour["provenance"].as_str()),
        (Some(602), Some("modeled"))
    );
    assert_eq!(hour["armable"]["service"], "forticare");
    assert_eq!(entry("ftm.provision.not-owner")["provenance"], "wire");

    // For people: each entry's line names its provenance; its wire text and symptom follow.
    let table = run(&["scenario", "errors"]);
    for expected in protocol::catalogue::CATALOGUE {
        let provenance = serde_json::to_value(expected.provenance).unwrap();
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(expected.id))
            .unwrap_or_else(|| panic!("{} missing:\n{table}", expected.id));
        assert!(line.contains(provenance.as_str().unwrap()), "{line}");
        assert!(
            table.contains(&format!("    symptom:  {}", expected.symptom)),
            "{}",
            expected.id
        );
    }
}

/// `fortimock bench`, as short as it goes, measures every phase and judges every target. Only whether each
/// figure was measured is checked, never what it is: the bench is for measuring, not for tests' timing.
#[test]
fn the_bench_measures_every_phase_and_judges_every_target() {
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("bench.json");
    // The separate binaries are measured where cargo built them beside `fortimock` (a whole-workspace build).
    let siblings = ["ftm-mock", "forticare-mock"]
        .iter()
        .all(|name| Path::new(BIN).with_file_name(name).is_file());
    let output = Command::new(BIN)
        .arg("bench")
        .args((!siblings).then_some("--skip-standalone"))
        .args([
            "--seconds",
            "0.2",
            "--warmup",
            "0",
            "--rounds",
            "1",
            "--starts",
            "1",
            "--clients",
            "4",
            "--memory-tokens",
            "2000",
            "--skip-peers",
            "--json",
        ])
        .arg(&report)
        .arg("--work-dir")
        .arg(work.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["failures"], serde_json::json!([]), "{printed}");
    let mut phases = vec![
        "start",
        "fsync",
        "reference",
        "polling",
        "https",
        "writes",
        "endpoints",
        "memory",
    ];
    if siblings {
        phases.push("standalone");
    }
    for phase in phases {
        assert!(
            report[phase].is_object(),
            "{phase} has no figures:\n{printed}"
        );
    }
    let targets = report["targets"].as_array().unwrap();
    assert!(targets.len() >= 10, "{targets:?}");
    for target in targets {
        assert_ne!(target["verdict"], "NOT MEASURED", "{target}\n{printed}");
    }
    assert!(printed.contains(" targets met; run took "), "{printed}");
}
