//! What the CLI test binaries (`cli.rs`, `cli_messaging.rs`) share: starting the real `fortimock up`, and
//! running the real `fortimock` binary against a data dir, expecting success or failure.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use fortimock::suite::FREE_PORT_ARGS;

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_fortimock");

/// Runs a command that must succeed; its stdout.
pub(crate) fn cli(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs a command that must fail; what it wrote to stderr.
pub(crate) fn cli_fails(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "{args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

/// `fortimock up` on free ports with its data in `data_dir`; the caller adds flags, environment and pipes.
pub(crate) fn up_command(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["up", "--data-dir"])
        .arg(data_dir)
        .args(FREE_PORT_ARGS);
    command
}

/// Starts `fortimock up` on free ports with its data in `data_dir` and more `flags`, and returns once it
/// has printed its banner (it writes any ready file first): the process and the banner's lines.
pub(crate) fn up(data_dir: &Path, flags: &[&str]) -> (Child, Vec<String>) {
    let mut child = up_command(data_dir)
        .args(flags)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let banner = banner_of(&mut child);
    if banner
        .last()
        .is_some_and(|line| line.starts_with(BANNER_END))
    {
        return (child, banner);
    }
    let _ = child.kill();
    let status = child.wait();
    panic!("fortimock up exited early ({status:?}): {banner:?}");
}

/// How the banner of `fortimock up` ends.
const BANNER_END: &str = "Ctrl-C stops";

/// Reads `fortimock up`'s stdout up to the banner's last line (or to its end, if it exits first).
pub(crate) fn banner_of(child: &mut Child) -> Vec<String> {
    let mut banner = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.starts_with(BANNER_END);
        banner.push(line);
        if done {
            break;
        }
    }
    banner
}
