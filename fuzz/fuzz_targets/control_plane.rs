//! Fuzz target: the control plane's request decoders every service shares (`lab`), and the journal's
//! redaction of every body it keeps. The first byte picks one, the rest is its input: `POST /__admin/clock`
//! (`ClockChange` applied to a lab clock: refused whole or kept within 1970..9999), `POST /__admin/scenarios`
//! (`ScenarioSpec` checked against every service), `GET /__admin/timeline`'s query string (`TimelineQuery`
//! and its selection), and `journal::kept_body` (after which no secret field of a JSON body, however its
//! key is spelled, holds anything but the redaction mark). Never a panic.
#![no_main]

use lab::clock::Clock;
use lab::timeline::TimelineQuery;
use libfuzzer_sys::fuzz_target;
use protocol::admin::ClockChange;
use protocol::journal::{REDACTED, is_secret_field, kept_body, shown_body};
use protocol::scenario::ScenarioSpec;
use protocol::time::UnixTime;
use serde_json::Value;

/// 9999-12-31T23:59:59Z, the lab clock's last second.
const LAST: i64 = 253_402_300_799;

fn clock(body: &[u8]) {
    let Ok(change) = serde_json::from_slice::<ClockChange>(body) else {
        return;
    };
    let clock = Clock::frozen_at(UnixTime::from_secs(1_780_000_000));
    let before = clock.now();
    match clock.apply(&change) {
        Ok(_) => assert!((0..=LAST).contains(&clock.now().secs())),
        Err(why) => {
            assert!(!why.is_empty());
            assert_eq!(clock.now(), before, "a refused change changed the clock");
        }
    }
}

fn scenario(body: &[u8]) {
    let Ok(spec) = serde_json::from_slice::<ScenarioSpec>(body) else {
        return;
    };
    for service in ["forticare", "ftm", "push", "phone", "appliance"] {
        let _ = spec.validate(service);
    }
}

fn timeline(query: &[u8]) {
    let Ok(query) = serde_urlencoded::from_bytes::<TimelineQuery>(query) else {
        return;
    };
    let _ = query.selection();
}

/// Every secret field in `value`, at any depth, holds the redaction mark or nothing.
fn all_redacted(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().all(|(key, inner)| {
            if is_secret_field(key) {
                inner.is_null()
                    || inner
                        .as_str()
                        .is_some_and(|s| s.is_empty() || s == REDACTED)
            } else {
                all_redacted(inner)
            }
        }),
        Value::Array(items) => items.iter().all(all_redacted),
        _ => true,
    }
}

fn journal(body: &[u8]) {
    let kept = kept_body(body);
    let shown = shown_body(&kept);
    assert!(
        all_redacted(&shown),
        "a secret field kept in clear: {shown}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => clock(rest),
        1 => scenario(rest),
        2 => timeline(rest),
        _ => journal(rest),
    }
});
