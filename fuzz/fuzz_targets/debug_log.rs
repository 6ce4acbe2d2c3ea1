//! Fuzz target: a pasted FortiOS debug log as `fortimock replay` reads it (`protocol::debug_log::parse`):
//! every exchange, its messages decoded by type, their bodies shown redacted, and the field-by-field
//! comparison of two answers; never a panic, and the counts stay within the listed limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::debug_log::{self, MAX_LISTED};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let log = debug_log::parse(&text);
    assert!(log.problems.len() <= MAX_LISTED);
    assert!(log.problems.len() <= log.problem_count);
    let _ = serde_json::to_string(&log).expect("a parsed log serializes");
    let mut bodies = Vec::new();
    for exchange in &log.exchanges {
        let _ = exchange.kind.describe();
        for captured in [&exchange.request, &exchange.response]
            .into_iter()
            .flatten()
        {
            assert!(captured.line <= captured.end_line);
            let _ = format!("{captured:?}");
            let _ = captured.decoded();
            bodies.push(captured.shown_body());
        }
    }
    if let [first, second, ..] = bodies.as_slice() {
        for difference in debug_log::differences(first, second) {
            let _ = difference.path.len();
        }
    }
});
