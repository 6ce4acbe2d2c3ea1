//! The process clock: real time by default, frozen, set, advanced or put back on real time through
//! `/__admin/clock`.
//!
//! One `Clock` is shared by every service of a process (and cloned cheaply), so moving it moves
//! activation expiry, OTP windows and license validity everywhere at once. Nothing else in fortimock
//! reads the system clock.
//!
//! The clock stays between [`EARLIEST`] (1970-01-01T00:00:00Z) and [`LATEST`] (9999-12-31T23:59:59Z), the
//! times RFC 3339 writes with a four-digit year: `/__admin/clock` refuses a change that would leave that
//! range (changing nothing), [`Clock::advance`] and [`Clock::frozen_at`] stop at its ends, and a running
//! clock that reaches [`LATEST`] stays there.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::admin::{ClockChange, ClockView};
use protocol::time::UnixTime;

/// The earliest time the lab clock shows: 1970-01-01T00:00:00Z.
pub const EARLIEST: UnixTime = UnixTime::from_secs(0);

/// The latest time the lab clock shows: 9999-12-31T23:59:59Z.
pub const LATEST: UnixTime = UnixTime::from_secs(253_402_300_799);

const EARLIEST_MS: i64 = EARLIEST.secs() * 1000;
const LATEST_MS: i64 = LATEST.secs() * 1000 + 999;

/// A shared, adjustable clock.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    state: Arc<Mutex<ClockState>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ClockState {
    /// Milliseconds added to real time.
    offset_ms: i64,
    /// While frozen, the time in milliseconds the clock stands at.
    frozen_at_ms: Option<i64>,
}

impl ClockState {
    /// The time this state shows when real time is `real_ms`, within the clock's range.
    fn now_ms(&self, real_ms: i64) -> i64 {
        self.frozen_at_ms
            .unwrap_or_else(|| real_ms.saturating_add(self.offset_ms))
            .clamp(EARLIEST_MS, LATEST_MS)
    }

    /// The state that shows `now_ms` at real time `real_ms`, frozen or running.
    fn showing(now_ms: i64, frozen: bool, real_ms: i64) -> ClockState {
        let now_ms = now_ms.clamp(EARLIEST_MS, LATEST_MS);
        if frozen {
            ClockState {
                offset_ms: 0,
                frozen_at_ms: Some(now_ms),
            }
        } else {
            ClockState {
                offset_ms: now_ms.saturating_sub(real_ms),
                frozen_at_ms: None,
            }
        }
    }
}

impl Clock {
    /// A clock frozen at `at` (at the nearer end of the range when `at` is outside it), for tests.
    pub fn frozen_at(at: UnixTime) -> Clock {
        let clock = Clock::default();
        *clock.state() = ClockState::showing(at.secs().saturating_mul(1000), true, 0);
        clock
    }

    /// The current time in whole seconds.
    pub fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.now_ms().div_euclid(1000))
    }

    /// The current time in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.state().now_ms(real_ms())
    }

    /// Moves the clock forward (or back) by `secs`, stopping at the ends of its range.
    pub fn advance(&self, secs: i64) {
        let mut state = self.state();
        let real = real_ms();
        let now = state.now_ms(real);
        let frozen = state.frozen_at_ms.is_some();
        *state = ClockState::showing(now.saturating_add(secs.saturating_mul(1000)), frozen, real);
    }

    /// Applies an admin change: freeze or resume, then set, then advance. A change that would take the clock
    /// outside its range ([`EARLIEST`] to [`LATEST`]) is refused whole, with the reason.
    pub fn apply(&self, change: &ClockChange) -> Result<ClockView, String> {
        let set_to = match &change.set {
            Some(text) => {
                let at = UnixTime::parse(text).map_err(|e| format!("clock `set`: {e}"))?;
                if !(EARLIEST..=LATEST).contains(&at) {
                    return Err(format!(
                        "clock `set`: `{}` is outside the lab clock's range, {EARLIEST} to {LATEST}",
                        text.trim()
                    ));
                }
                Some(at)
            }
            None => None,
        };
        {
            let mut state = self.state();
            let real = real_ms();
            let current = if change.real == Some(true) {
                ClockState::default()
            } else {
                *state
            };
            let frozen = change.freeze.unwrap_or(current.frozen_at_ms.is_some());
            let mut now = match set_to {
                Some(at) => at.secs() * 1000,
                None => current.now_ms(real),
            };
            if let Some(secs) = change.advance_secs {
                now = secs
                    .checked_mul(1000)
                    .and_then(|delta| now.checked_add(delta))
                    .filter(|moved| (EARLIEST_MS..=LATEST_MS).contains(moved))
                    .ok_or_else(|| {
                        format!(
                            "clock `advance_secs`: moving {secs} seconds from {} would leave the lab \
                             clock's range, {EARLIEST} to {LATEST}",
                            UnixTime::from_secs(now.div_euclid(1000))
                        )
                    })?;
            }
            *state = ClockState::showing(now, frozen, real);
        }
        Ok(self.view())
    }

    /// What `GET /__admin/clock` shows.
    pub fn view(&self) -> ClockView {
        let state = self.state();
        let real = real_ms();
        let now_ms = state.now_ms(real);
        let now = UnixTime::from_secs(now_ms.div_euclid(1000));
        ClockView {
            now,
            now_rfc3339: now.rfc3339(),
            frozen: state.frozen_at_ms.is_some(),
            offset_secs: (now_ms - real) / 1000,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // The state is two integers: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The one place fortimock reads the system clock.
#[allow(clippy::disallowed_methods)]
fn real_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let clock = Clock::frozen_at(UnixTime::from_secs(1_700_000_000));
        assert_eq!(clock.now().secs(), 1_700_000_000);
        clock.advance(90);
        assert_eq!(clock.now().secs(), 1_700_000_090);
        let view = clock
            .apply(&ClockChange {
                set: Some("2030-01-01".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(view.now_rfc3339, "2030-01-01T00:00:00Z");
        assert!(view.frozen);
    }

    #[test]
    fn resuming_keeps_the_virtual_time() {
        let clock = Clock::frozen_at(UnixTime::from_secs(2_000_000_000));
        let view = clock
            .apply(&ClockChange {
                freeze: Some(false),
                ..Default::default()
            })
            .unwrap();
        assert!(!view.frozen);
        assert!((view.now.secs() - 2_000_000_000).abs() <= 1);
        assert!(
            clock
                .apply(&ClockChange {
                    set: Some("tomorrow".into()),
                    ..Default::default()
                })
                .is_err()
        );
    }

    #[test]
    fn real_puts_the_clock_back_on_real_time() {
        let clock = Clock::frozen_at(UnixTime::from_secs(100));
        let view = clock
            .apply(&ClockChange {
                real: Some(true),
                ..Default::default()
            })
            .unwrap();
        assert!(!view.frozen);
        assert_eq!(view.offset_secs, 0);
        assert!(view.now.secs() > 1_700_000_000);
    }

    #[test]
    fn clones_share_one_time() {
        let clock = Clock::frozen_at(UnixTime::from_secs(100));
        let other = clock.clone();
        other.advance(5);
        assert_eq!(clock.now().secs(), 105);
    }

    fn change(set: Option<&str>, advance_secs: Option<i64>) -> ClockChange {
        ClockChange {
            set: set.map(str::to_owned),
            advance_secs,
            ..Default::default()
        }
    }

    #[test]
    fn advancing_past_the_range_is_refused_and_changes_nothing() {
        // The finding: {"advance_secs": 9223372036854775807} saturated, then wrapped the year negative.
        let clock = Clock::frozen_at(UnixTime::from_secs(1_700_000_000));
        let error = clock.apply(&change(None, Some(i64::MAX))).unwrap_err();
        assert!(error.contains("advance_secs"), "{error}");
        assert!(error.contains("9999-12-31T23:59:59Z"), "{error}");
        assert_eq!(clock.now().secs(), 1_700_000_000);
        for secs in [i64::MIN, -1_700_000_001, LATEST.secs()] {
            assert!(clock.apply(&change(None, Some(secs))).is_err(), "{secs}");
            assert_eq!(clock.now().secs(), 1_700_000_000, "{secs}");
        }
        // Running on real time, the same change is refused the same way.
        let running = Clock::default();
        assert!(running.apply(&change(None, Some(i64::MAX))).is_err());
        let view = running.view();
        assert_eq!((view.frozen, view.offset_secs), (false, 0));
        // To the very ends is fine.
        let view = clock
            .apply(&change(None, Some(LATEST.secs() - 1_700_000_000)))
            .unwrap();
        assert_eq!(view.now_rfc3339, "9999-12-31T23:59:59Z");
        assert!(clock.apply(&change(None, Some(1))).is_err());
        let view = clock.apply(&change(None, Some(-LATEST.secs()))).unwrap();
        assert_eq!(view.now_rfc3339, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn setting_outside_the_range_is_refused_and_changes_nothing() {
        let clock = Clock::frozen_at(UnixTime::from_secs(1_700_000_000));
        for bad in [
            "253402300800",
            "-1",
            "1969-12-31T23:59:59Z",
            "9223372036854775807",
        ] {
            let error = clock.apply(&change(Some(bad), None)).unwrap_err();
            assert!(
                error.contains("outside the lab clock's range"),
                "{bad}: {error}"
            );
            assert_eq!(clock.now().secs(), 1_700_000_000, "{bad}");
        }
        // A year past 9999 is no date RFC 3339 writes: refused as such.
        let error = clock.apply(&change(Some("10000-01-01"), None)).unwrap_err();
        assert!(error.starts_with("clock `set`: `10000-01-01`"), "{error}");
        assert_eq!(clock.now().secs(), 1_700_000_000);
        // A set that is fine followed by an advance that is not: neither applies.
        assert!(
            clock
                .apply(&change(Some("9999-12-31"), Some(86_400)))
                .is_err()
        );
        assert_eq!(clock.now().secs(), 1_700_000_000);
        let view = clock
            .apply(&change(Some("9999-12-31"), Some(86_399)))
            .unwrap();
        assert_eq!(view.now, LATEST);
    }

    #[test]
    fn every_other_way_of_moving_the_clock_stops_at_the_ends() {
        let clock = Clock::frozen_at(UnixTime::from_secs(1_700_000_000));
        clock.advance(i64::MAX);
        assert_eq!(clock.now(), LATEST);
        clock.advance(i64::MIN);
        assert_eq!(clock.now(), EARLIEST);
        assert_eq!(
            Clock::frozen_at(UnixTime::from_secs(i64::MAX)).now(),
            LATEST
        );
        assert_eq!(
            Clock::frozen_at(UnixTime::from_secs(i64::MIN)).now(),
            EARLIEST
        );

        // Resumed at the end of the range, the clock runs no further, and can be moved back.
        let clock = Clock::frozen_at(LATEST);
        let resume = ClockChange {
            freeze: Some(false),
            ..Default::default()
        };
        let view = clock.apply(&resume).unwrap();
        assert!(!view.frozen);
        assert_eq!(view.now, LATEST);
        assert_eq!(view.now_rfc3339, "9999-12-31T23:59:59Z");
        clock.advance(i64::MAX);
        assert_eq!(clock.now(), LATEST);
        let view = clock.apply(&change(None, Some(-86_400))).unwrap();
        assert!(view.now < LATEST && view.now.secs() >= LATEST.secs() - 86_400);
        let freeze = ClockChange {
            freeze: Some(true),
            ..Default::default()
        };
        assert!(clock.apply(&freeze).unwrap().frozen);
    }
}
