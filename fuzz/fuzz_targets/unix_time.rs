//! Fuzz target: the times fortimock reads from users (`protocol::time::UnixTime::parse`: RFC 3339 in UTC, a
//! bare date, epoch seconds; `CivilDate` from `YYYY-MM-DD`) and what is made of them (RFC 3339, ctime, the
//! civil date, the day's start); never a panic, and an in-range time's RFC 3339 form parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::time::{CivilDate, UnixTime};

/// 9999-12-31T23:59:59Z, the lab clock's upper bound.
const LAST: i64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(at) = UnixTime::parse(&text) {
        let rfc3339 = at.rfc3339();
        let _ = (at.ctime(), at.to_string());
        let date = at.date();
        let _ = UnixTime::at_start_of(date);
        if (0..=LAST).contains(&at.secs()) {
            assert_eq!(UnixTime::parse(&rfc3339).ok(), Some(at));
        }
    }
    if let Ok(date) = text.parse::<CivilDate>() {
        if (0..=9999).contains(&date.year) {
            let again: CivilDate = date.to_string().parse().expect("a date's text parses");
            assert_eq!(again, date);
        }
        let _ = UnixTime::at_start_of(date).rfc3339();
        let _ = serde_json::to_string(&date);
    }
    let _ = serde_json::from_slice::<CivilDate>(data);
});
