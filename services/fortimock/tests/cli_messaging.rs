//! The real `fortimock` binary against `fortimock up` on port 0, for hardware tokens and activation
//! messages: `fgt hardware activate` (the one-time lock, FortiOS's silence on what is not a serial),
//! `phone activate --from-message` and `--latest-for` (the phone's camera on a captured email), `fgt
//! send-activation`, `fgt messaging show|set`, `fgt servers`, and `scenario list` naming a scenario's
//! recipient.

use std::path::Path;
use std::process::Child;

use serde_json::Value;

mod common;

use common::{cli, cli_fails};

/// `fortimock up` on free ports, stopped (killed) when dropped.
struct Up {
    child: Child,
}

impl Up {
    /// Starts it and returns once it has printed its banner.
    fn start(data_dir: &Path) -> Up {
        Up {
            child: common::up(data_dir, &[]).0,
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const ALREADY: &str = "token already activated, and seed won't be returned";

#[test]
fn fgt_hardware_activate_locks_a_token_to_the_first_appliance() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let _up = Up::start(&data_dir);
    let batch = json(&cli(
        &data_dir,
        &[
            "hardware", "create", "--model", "FTK200", "--count", "1", "--json",
        ],
    ));
    let serial = batch["tokens"][0]["serial"].as_str().unwrap().to_owned();
    cli(&data_dir, &["fgt", "new", "--serial", "FGVM01TM00000011"]);
    cli(&data_dir, &["fgt", "new", "--serial", "FGVM01TM00000012"]);

    // The first activation gets the seed; what is not a hardware serial is dropped without a word.
    let first = cli(
        &data_dir,
        &[
            "fgt",
            "hardware",
            "activate",
            "FGVM01TM00000011",
            &serial,
            "not-a-serial",
        ],
    );
    assert_eq!(first, format!("{serial} new (Available)\n"));
    // --debug prints FortiOS's debug lines first; the seed is never among them.
    let again = cli(
        &data_dir,
        &[
            "fgt",
            "hardware",
            "activate",
            "FGVM01TM00000012",
            &serial,
            "--debug",
        ],
    );
    assert!(
        again.ends_with(&format!("{serial} {ALREADY} (Error)\n")),
        "{again}"
    );
    assert!(again.lines().count() > 1, "no debug lines: {again}");
    let shown = cli(
        &data_dir,
        &["hardware", "show", batch["batch"].as_str().unwrap()],
    );
    assert!(shown.contains("FGVM01TM00000011"), "{shown}");
    // A serial FortiGuard does not know, and an appliance that is not there.
    let unknown = cli(
        &data_dir,
        &[
            "fgt",
            "hardware",
            "activate",
            "FGVM01TM00000012",
            "FTK200ZZZ9999999",
        ],
    );
    assert_eq!(
        unknown,
        "FTK200ZZZ9999999 activation error (token not exist in FortiGuard) (Error)\n"
    );
    let refused = cli_fails(
        &data_dir,
        &["fgt", "hardware", "activate", "FGVM01TM00000099", &serial],
    );
    assert!(
        refused.contains("no appliance FGVM01TM00000099"),
        "{refused}"
    );
}

#[test]
fn a_phone_activates_from_a_captured_email_and_the_appliance_resends_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let _up = Up::start(&data_dir);
    let fgt = "FGVM01TM00000021";
    cli(&data_dir, &["fgt", "new", "--serial", fgt]);
    cli(
        &data_dir,
        &["fgt", "import", fgt, "1111-2222-3333-4444-5555"],
    );

    // alice's code by email; the phone scans the email named by its id.
    cli(
        &data_dir,
        &[
            "fgt",
            "provision",
            fgt,
            "any",
            "--user",
            "alice",
            "--email",
            "alice@example.com",
        ],
    );
    let listed = json(&cli(
        &data_dir,
        &["messages", "--recipient", "alice@example.com", "--json"],
    ));
    let alice_email = listed["messages"][0]["id"].as_str().unwrap().to_owned();
    cli(&data_dir, &["phone", "new", "--name", "phone-a"]);
    let activated = cli(
        &data_dir,
        &[
            "phone",
            "activate",
            "phone-a",
            "--from-message",
            &alice_email,
        ],
    );
    assert!(
        activated.contains(" activated: TOTP, a new code every 60 s, 6 digits"),
        "{activated}"
    );

    // bob's code: provisioned without a message, then sent with `fgt send-activation`; the phone scans the
    // newest email for his address.
    let provisioned = json(&cli(&data_dir, &["fgt", "show", fgt, "--json"]));
    let before = provisioned["tokens"].as_array().unwrap().len();
    cli(
        &data_dir,
        &["fgt", "provision", fgt, "any", "--user", "bob"],
    );
    let view = json(&cli(&data_dir, &["fgt", "show", fgt, "--json"]));
    assert_eq!(view["tokens"].as_array().unwrap().len(), before);
    let bob_token = view["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user"] == "bob")
        .unwrap()["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    // A number that is not one: FortiOS's refusal, the token still Pending, nothing captured.
    let failed = cli_fails(
        &data_dir,
        &[
            "fgt",
            "send-activation",
            fgt,
            &bob_token,
            "--sms-phone",
            "call me",
        ],
    );
    assert!(
        failed.contains("Failed to send activation code"),
        "{failed}"
    );
    let sent = cli(
        &data_dir,
        &[
            "fgt",
            "send-activation",
            fgt,
            &bob_token,
            "--email",
            "bob@example.com",
        ],
    );
    assert!(
        sent.starts_with(&format!(
            "activation code of {bob_token} sent by email to bob@example.com: 250 2.0.0 OK queued as m"
        )),
        "{sent}"
    );
    let by_sms = json(&cli(
        &data_dir,
        &[
            "fgt",
            "send-activation",
            fgt,
            &bob_token,
            "--sms-phone",
            "+15551234567",
            "--json",
        ],
    ));
    assert_eq!(by_sms["method"], "sms");
    assert_eq!(by_sms["recipient"], "+15551234567");
    cli(&data_dir, &["phone", "new", "--name", "phone-b"]);
    let activated = cli(
        &data_dir,
        &[
            "phone",
            "activate",
            "phone-b",
            "--latest-for",
            "bob@example.com",
        ],
    );
    assert!(activated.contains(&format!("({bob_token})")), "{activated}");

    // What the phone cannot scan: an id that is not captured, an SMS (no QR code), an address nobody
    // mailed; a token the appliance does not have.
    let sms_id =
        json(&cli(&data_dir, &["messages", "--kind", "sms", "--json"]))["messages"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    for (args, says) in [
        (
            vec!["phone", "activate", "phone-b", "--from-message", "m999"],
            "no message m999",
        ),
        (
            vec!["phone", "activate", "phone-b", "--from-message", "m01"],
            "is not a message id",
        ),
        (
            vec!["phone", "activate", "phone-b", "--from-message", &sms_id],
            "carries no QR code image",
        ),
        (
            vec![
                "phone",
                "activate",
                "phone-b",
                "--latest-for",
                "nobody@example.com",
            ],
            "no activation email to nobody@example.com",
        ),
        (
            vec![
                "fgt",
                "send-activation",
                fgt,
                "FTKMOB0000000000",
                "--email",
                "bob@example.com",
            ],
            "no token `FTKMOB0000000000`",
        ),
        (vec!["fgt", "send-activation", fgt, &bob_token], "--email"),
    ] {
        let refused = cli_fails(&data_dir, &args);
        assert!(refused.contains(says), "{args:?}: {refused}");
    }
    let phone = cli(&data_dir, &["phone", "list"]);
    assert_eq!(phone.matches(&bob_token).count(), 1, "{phone}");
}

#[test]
fn fgt_messaging_shows_and_sets_where_activation_messages_go() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let _up = Up::start(&data_dir);
    let fgt = "FGVM01TM00000031";
    cli(&data_dir, &["fgt", "new", "--serial", fgt]);
    let shown = cli(&data_dir, &["fgt", "messaging", "show", fgt]);
    assert!(
        shown.starts_with(&format!("# {fgt}\nconfig system email-server\n"))
            && shown.contains("    set security starttls\n")
            && shown.contains("# SMS gateway: https://"),
        "{shown}"
    );
    let before = json(&cli(
        &data_dir,
        &["fgt", "messaging", "show", fgt, "--json"],
    ));

    let set = cli(
        &data_dir,
        &[
            "fgt",
            "messaging",
            "set",
            fgt,
            "--sender",
            "noreply@example.com",
            "--smtp-security",
            "none",
        ],
    );
    assert!(
        set.contains("    set reply-to \"noreply@example.com\"\n")
            && set.contains("    set security none\n"),
        "{set}"
    );
    let after = json(&cli(
        &data_dir,
        &["fgt", "messaging", "show", fgt, "--json"],
    ));
    assert_eq!(after["smtp_port"], before["smtp_port"]);
    assert_eq!(after["smtp_server"], before["smtp_server"]);

    // Bad values are refused, naming the value, and change nothing (all or none).
    for (args, says) in [
        (
            vec!["--sender", "not an address"],
            "sender `not an address` is not an email address",
        ),
        (
            vec!["--smtp-port", "0", "--sender", "ok@example.com"],
            "smtp_port must not be 0",
        ),
        (vec!["--sms-gateway", "ftp://x"], "is not an http(s) URL"),
        (
            vec!["--smtp-server", "mail server!"],
            "must be an IP address or a host name",
        ),
        (vec!["--smtp-security", "ssl"], "invalid value 'ssl'"),
        (vec![], "nothing to set"),
    ] {
        let mut full = vec!["fgt", "messaging", "set", fgt];
        full.extend(args.iter().copied());
        let refused = cli_fails(&data_dir, &full);
        assert!(refused.contains(says), "{args:?}: {refused}");
    }
    assert_eq!(
        json(&cli(
            &data_dir,
            &["fgt", "messaging", "show", fgt, "--json"]
        )),
        after
    );
    let refused = cli_fails(&data_dir, &["fgt", "messaging", "show", "FGVM01TM00000099"]);
    assert!(
        refused.contains("no appliance FGVM01TM00000099"),
        "{refused}"
    );

    // `fgt servers` says whose each setting is, and puts the messaging back on the suite's.
    let servers = cli(&data_dir, &["fgt", "servers", fgt]);
    assert!(
        servers.contains("    messaging           smtp ")
            && servers.contains("(none), sms https://")
            && servers.contains("  (its own)\n")
            && servers.contains("    ftm_url             https://"),
        "{servers}"
    );
    let refused = cli_fails(
        &data_dir,
        &[
            "fgt",
            "servers",
            fgt,
            "--follow-suite",
            "messaging",
            "--server",
            "ftp://x",
        ],
    );
    assert!(
        refused.contains("ftm_url `ftp://x` is not an http(s) URL"),
        "{refused}"
    );
    let refused = cli_fails(
        &data_dir,
        &["fgt", "servers", fgt, "--follow-suite", "smtp"],
    );
    assert!(refused.contains("invalid value 'smtp'"), "{refused}");
    let followed = cli(
        &data_dir,
        &["fgt", "servers", fgt, "--follow-suite", "messaging"],
    );
    assert!(
        !followed.contains("(its own)") && followed.matches("(the suite's)").count() == 4,
        "{followed}"
    );
    assert_eq!(
        json(&cli(
            &data_dir,
            &["fgt", "messaging", "show", fgt, "--json"]
        )),
        before
    );
}

#[test]
fn scenario_list_names_the_recipient_a_scenario_matches() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let _up = Up::start(&data_dir);
    let armed = cli(
        &data_dir,
        &[
            "scenario",
            "arm",
            "appliance.mail.mailbox-full",
            "--recipient",
            "carol@example.com",
            "--times",
            "1",
        ],
    );
    assert!(
        armed.contains("for recipient carol@example.com, once"),
        "{armed}"
    );
    let listed = cli(&data_dir, &["scenario", "list"]);
    assert!(
        listed.contains("appliance")
            && listed.contains("appliance.mail.mailbox-full")
            && listed.contains("for recipient carol@example.com, once"),
        "{listed}"
    );
    let help = cli(&data_dir, &["scenario", "list", "--help"]);
    assert!(
        help.contains("forticare, ftm, push and appliance"),
        "{help}"
    );
}
