//! The process clock: real time by default, frozen, set, advanced or put back on real time through
//! `/__admin/clock`.
//!
//! One `Clock` is shared by every service of a process (and cloned cheaply), so moving it moves
//! activation expiry, OTP windows and license validity everywhere at once. Nothing else in fortimock
//! reads the system clock.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::admin::{ClockChange, ClockView};
use protocol::time::UnixTime;

/// A shared, adjustable clock.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    state: Arc<Mutex<ClockState>>,
}

#[derive(Debug, Default)]
struct ClockState {
    /// Milliseconds added to real time.
    offset_ms: i64,
    /// While frozen, the time in milliseconds the clock stands at.
    frozen_at_ms: Option<i64>,
}

impl Clock {
    /// A clock frozen at `at`, for tests.
    pub fn frozen_at(at: UnixTime) -> Clock {
        let clock = Clock::default();
        clock.state().frozen_at_ms = Some(at.secs() * 1000);
        clock
    }

    /// The current time in whole seconds.
    pub fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.now_ms().div_euclid(1000))
    }

    /// The current time in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        let state = self.state();
        state
            .frozen_at_ms
            .unwrap_or_else(|| real_ms() + state.offset_ms)
    }

    /// Moves the clock forward (or back) by `secs`.
    pub fn advance(&self, secs: i64) {
        let mut state = self.state();
        let delta = secs.saturating_mul(1000);
        match &mut state.frozen_at_ms {
            Some(at) => *at = at.saturating_add(delta),
            None => state.offset_ms = state.offset_ms.saturating_add(delta),
        }
    }

    /// Applies an admin change: freeze or resume, then set, then advance.
    pub fn apply(&self, change: &ClockChange) -> Result<ClockView, String> {
        let set_to = match &change.set {
            Some(text) => Some(UnixTime::parse(text).map_err(|e| format!("clock `set`: {e}"))?),
            None => None,
        };
        {
            let mut state = self.state();
            if change.real == Some(true) {
                *state = ClockState::default();
            }
            let now = state
                .frozen_at_ms
                .unwrap_or_else(|| real_ms() + state.offset_ms);
            match change.freeze {
                Some(true) if state.frozen_at_ms.is_none() => state.frozen_at_ms = Some(now),
                Some(false) => {
                    if let Some(at) = state.frozen_at_ms.take() {
                        state.offset_ms = at - real_ms();
                    }
                }
                _ => {}
            }
            if let Some(at) = set_to {
                let at_ms = at.secs().saturating_mul(1000);
                match &mut state.frozen_at_ms {
                    Some(frozen) => *frozen = at_ms,
                    None => state.offset_ms = at_ms - real_ms(),
                }
            }
        }
        if let Some(secs) = change.advance_secs {
            self.advance(secs);
        }
        Ok(self.view())
    }

    /// What `GET /__admin/clock` shows.
    pub fn view(&self) -> ClockView {
        let now_ms = self.now_ms();
        let now = UnixTime::from_secs(now_ms.div_euclid(1000));
        let state = self.state();
        ClockView {
            now,
            now_rfc3339: now.rfc3339(),
            frozen: state.frozen_at_ms.is_some(),
            offset_secs: (now_ms - real_ms()) / 1000,
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
}
