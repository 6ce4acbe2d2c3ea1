//! The asset-management API's documented limits (a public client's docstrings): per API user, 100 calls a
//! minute, 1,000 calls an hour and 10 errors an hour, counted on the lab clock, enforced when forticare
//! runs with `--forticare-rate-limits` (off by default, so test suites are not throttled). The same answers
//! can be armed as scenarios without the flag.
//!
//! The counts live in memory: a restart or a reset starts them over (they are the real service's
//! protection, not part of a lab's state). A refused call counts neither as a call nor as an error.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use protocol::catalogue::CatalogueEntry;
use protocol::forticare_v3::{CALLS_PER_HOUR, CALLS_PER_MINUTE, ERRORS_PER_HOUR};
use protocol::modeled::{V3_ERROR_LIMIT, V3_RATE_LIMIT_HOUR, V3_RATE_LIMIT_MINUTE};
use protocol::time::UnixTime;

/// The calls and errors of every API user in the last hour.
pub struct RateLimits {
    enabled: bool,
    users: Mutex<HashMap<String, Window>>,
}

#[derive(Default)]
struct Window {
    calls: VecDeque<UnixTime>,
    errors: VecDeque<UnixTime>,
}

impl Window {
    fn forget_before(&mut self, now: UnixTime) {
        let hour_ago = now.plus_secs(-3600);
        while self.calls.front().is_some_and(|t| *t <= hour_ago) {
            self.calls.pop_front();
        }
        while self.errors.front().is_some_and(|t| *t <= hour_ago) {
            self.errors.pop_front();
        }
    }
}

impl RateLimits {
    pub fn new(enabled: bool) -> RateLimits {
        RateLimits {
            enabled,
            users: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a call by `user` at `now` and counts it, or names the limit it is over.
    pub fn admit(&self, user: &str, now: UnixTime) -> Result<(), &'static CatalogueEntry> {
        if !self.enabled {
            return Ok(());
        }
        let mut users = self.users();
        let window = users.entry(user.to_owned()).or_default();
        window.forget_before(now);
        if window.errors.len() >= ERRORS_PER_HOUR {
            return Err(&V3_ERROR_LIMIT);
        }
        let minute_ago = now.plus_secs(-60);
        let last_minute = window
            .calls
            .iter()
            .rev()
            .take_while(|t| **t > minute_ago)
            .count();
        if last_minute >= CALLS_PER_MINUTE {
            return Err(&V3_RATE_LIMIT_MINUTE);
        }
        if window.calls.len() >= CALLS_PER_HOUR {
            return Err(&V3_RATE_LIMIT_HOUR);
        }
        window.calls.push_back(now);
        Ok(())
    }

    /// Counts an error answered to `user` at `now`.
    pub fn count_error(&self, user: &str, now: UnixTime) {
        if !self.enabled {
            return;
        }
        let mut users = self.users();
        let window = users.entry(user.to_owned()).or_default();
        window.forget_before(now);
        window.errors.push_back(now);
    }

    /// Forgets every count (a reset).
    pub fn clear(&self) {
        self.users().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = UnixTime::from_secs(1_700_000_000);

    #[test]
    fn a_minute_an_hour_and_errors_each_have_their_limit() {
        let limits = RateLimits::new(true);
        for _ in 0..CALLS_PER_MINUTE {
            limits.admit("u", T0).unwrap();
        }
        assert_eq!(
            limits.admit("u", T0).unwrap_err().id,
            "forticare.v3.rate-limit-minute"
        );
        assert!(limits.admit("other", T0).is_ok(), "per user");
        // A minute later the minute's budget is back; the hour's runs out after 1,000.
        let mut at = T0;
        let mut admitted = CALLS_PER_MINUTE;
        while admitted < CALLS_PER_HOUR {
            at = at.plus_secs(61);
            for _ in 0..CALLS_PER_MINUTE.min(CALLS_PER_HOUR - admitted) {
                limits.admit("u", at).unwrap();
                admitted += 1;
            }
        }
        at = at.plus_secs(61);
        assert_eq!(
            limits.admit("u", at).unwrap_err().id,
            "forticare.v3.rate-limit-hour"
        );
        assert!(
            limits.admit("u", T0.plus_secs(3600)).is_ok(),
            "the first calls aged out"
        );

        let errors = RateLimits::new(true);
        for _ in 0..ERRORS_PER_HOUR {
            errors.count_error("u", T0);
        }
        assert_eq!(
            errors.admit("u", T0).unwrap_err().id,
            "forticare.v3.error-limit"
        );
        assert!(errors.admit("u", T0.plus_secs(3600)).is_ok());
        errors.clear();

        let off = RateLimits::new(false);
        for _ in 0..2 * CALLS_PER_MINUTE {
            off.admit("u", T0).unwrap();
        }
    }
}
