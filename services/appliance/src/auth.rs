//! How the appliance checks a user's OTP, as pure functions: a TOTP window around the appliance's clock
//! (shifted by the drift learned from earlier resynchronizations), the replay guard of RFC 6238 §5.2 (a code
//! for a time step already used is refused, and the user told how long to wait, as FortiOS does), the sync
//! window of FortiAuthenticator (a code far off starts a resync that the next code completes), and lockout
//! after too many failures.

use protocol::appliance::ApplianceSettings;
use protocol::otp::{OtpRejection, TotpPolicy, time_step, verify_totp};
use protocol::time::UnixTime;

/// What the appliance remembers about a token between logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OtpMemory {
    /// The last time step a code was accepted for.
    pub last_step: Option<i64>,
    /// The phone's clock offset in steps, learned by resynchronization.
    pub drift_steps: i64,
    /// A resync in progress: the step of the far-off code; the next code must follow it.
    pub sync_step: Option<i64>,
}

/// The outcome of one OTP check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The code is good; remember `memory` from now on.
    Accepted { memory: OtpMemory },
    /// Wrong, malformed, or outside every window.
    Denied,
    /// A good code for a step already used.
    Replayed { wait_secs: i64 },
    /// Far off but inside the sync window: remember `memory` and ask for the next code.
    Resync { memory: OtpMemory },
}

/// The token parameters the check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTiming {
    pub period: u32,
    pub digits: u32,
}

/// Checks `code` against `seed` at `now`.
pub fn check(
    seed: &[u8],
    code: &str,
    now: UnixTime,
    timing: TokenTiming,
    settings: &ApplianceSettings,
    memory: OtpMemory,
) -> Verdict {
    let period = i64::from(timing.period.max(1));
    let now_step = time_step(now.secs(), timing.period);
    let steps_for = |secs: u32| {
        u32::try_from(i64::from(secs).div_euclid(period))
            .unwrap_or(u32::MAX)
            .max(if secs > 0 { 1 } else { 0 })
    };
    let policy = |window_steps: u32| TotpPolicy {
        period: timing.period,
        digits: timing.digits,
        window_steps,
    };

    // A resync in progress: the code after the far-off one completes it and sets the drift.
    if let Some(sync_step) = memory.sync_step {
        let next = (sync_step + 1) * period;
        if let Ok(step) = verify_totp(seed, code, next, &policy(1), Some(sync_step)) {
            return Verdict::Accepted {
                memory: OtpMemory {
                    last_step: Some(step),
                    drift_steps: step - now_step,
                    sync_step: None,
                },
            };
        }
    }

    let shifted = now.secs() + memory.drift_steps * period;
    match verify_totp(
        seed,
        code,
        shifted,
        &policy(steps_for(settings.totp_window_secs)),
        memory.last_step,
    ) {
        Ok(step) => Verdict::Accepted {
            memory: OtpMemory {
                last_step: Some(step),
                drift_steps: memory.drift_steps,
                sync_step: None,
            },
        },
        Err(OtpRejection::Replayed { wait_secs }) => Verdict::Replayed { wait_secs },
        Err(OtpRejection::Malformed) => Verdict::Denied,
        Err(OtpRejection::Mismatch) if settings.totp_sync_window_secs > 0 => {
            match verify_totp(
                seed,
                code,
                shifted,
                &policy(steps_for(settings.totp_sync_window_secs)),
                memory.last_step,
            ) {
                Ok(step) => Verdict::Resync {
                    memory: OtpMemory {
                        sync_step: Some(step),
                        ..memory
                    },
                },
                Err(_) => Verdict::Denied,
            }
        }
        Err(OtpRejection::Mismatch) => Verdict::Denied,
    }
}

/// A user's lockout state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lockout {
    pub failures: u32,
    /// Locked until this time; `Some(i64::MAX)` means until an admin unlocks.
    pub locked_until: Option<i64>,
}

impl Lockout {
    pub fn is_locked(&self, now: UnixTime) -> bool {
        self.locked_until.is_some_and(|until| now.secs() < until)
    }

    /// After a failed login: count it and lock when the threshold is reached.
    pub fn fail(self, now: UnixTime, settings: &ApplianceSettings) -> Lockout {
        let failures = self.failures.saturating_add(1);
        let locked_until =
            if settings.lockout_threshold > 0 && failures >= settings.lockout_threshold {
                Some(if settings.lockout_secs == 0 {
                    i64::MAX
                } else {
                    now.secs() + i64::from(settings.lockout_secs)
                })
            } else {
                self.locked_until
            };
        Lockout {
            failures,
            locked_until,
        }
    }

    /// After a successful login.
    pub fn succeed() -> Lockout {
        Lockout::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::appliance::ApplianceMode;
    use protocol::otp::totp;

    const SEED: [u8; 20] = *b"12345678901234567890";
    const FGT: TokenTiming = TokenTiming {
        period: 60,
        digits: 6,
    };

    fn settings() -> ApplianceSettings {
        ApplianceSettings::defaults(ApplianceMode::Fortigate)
    }

    fn code_at(secs: i64, timing: TokenTiming) -> String {
        totp(&SEED, secs, timing.period, timing.digits)
    }

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn accepts_within_the_window_once() {
        let now = UnixTime::from_secs(NOW);
        let Verdict::Accepted { memory } = check(
            &SEED,
            &code_at(NOW, FGT),
            now,
            FGT,
            &settings(),
            OtpMemory::default(),
        ) else {
            panic!("not accepted");
        };
        assert_eq!(memory.last_step, Some(NOW / 60));
        match check(&SEED, &code_at(NOW, FGT), now, FGT, &settings(), memory) {
            Verdict::Replayed { wait_secs } => assert_eq!(wait_secs, 60 - NOW % 60),
            other => panic!("{other:?}"),
        }
        // The previous step's code is inside the window but older than the accepted one: a replay too.
        assert!(matches!(
            check(
                &SEED,
                &code_at(NOW - 60, FGT),
                now,
                FGT,
                &settings(),
                memory
            ),
            Verdict::Replayed { .. }
        ));
        assert!(matches!(
            check(
                &SEED,
                &code_at(NOW + 60, FGT),
                now,
                FGT,
                &settings(),
                memory
            ),
            Verdict::Accepted { .. }
        ));
        assert_eq!(
            check(&SEED, "000000", now, FGT, &settings(), memory),
            Verdict::Denied
        );
        assert_eq!(
            check(&SEED, "12345", now, FGT, &settings(), memory),
            Verdict::Denied
        );
    }

    #[test]
    fn far_off_codes_resync_and_the_next_code_sets_the_drift() {
        let now = UnixTime::from_secs(NOW);
        let skew = 10 * 60;
        let first = check(
            &SEED,
            &code_at(NOW + skew, FGT),
            now,
            FGT,
            &settings(),
            OtpMemory::default(),
        );
        let Verdict::Resync { memory } = first else {
            panic!("{first:?}")
        };
        let next = check(
            &SEED,
            &code_at(NOW + skew + 60, FGT),
            now.plus_secs(30),
            FGT,
            &settings(),
            memory,
        );
        let Verdict::Accepted { memory } = next else {
            panic!("{next:?}")
        };
        assert_eq!(
            memory.drift_steps,
            (NOW + skew + 60).div_euclid(60) - (NOW + 30).div_euclid(60)
        );
        // With the drift learned, the phone's codes are accepted normally.
        let later = NOW + 600;
        assert!(matches!(
            check(
                &SEED,
                &code_at(later + skew, FGT),
                UnixTime::from_secs(later),
                FGT,
                &settings(),
                memory
            ),
            Verdict::Accepted { .. }
        ));
        // Beyond the sync window: denied.
        assert_eq!(
            check(
                &SEED,
                &code_at(NOW + 7200, FGT),
                now,
                FGT,
                &settings(),
                OtpMemory::default()
            ),
            Verdict::Denied
        );
        let mut strict = settings();
        strict.totp_sync_window_secs = 0;
        assert_eq!(
            check(
                &SEED,
                &code_at(NOW + skew, FGT),
                now,
                FGT,
                &strict,
                OtpMemory::default()
            ),
            Verdict::Denied
        );
    }

    #[test]
    fn fortiauthenticator_window_is_one_minute_of_30_second_steps() {
        let fac = ApplianceSettings::defaults(ApplianceMode::Fortiauthenticator);
        let timing = TokenTiming {
            period: 30,
            digits: 6,
        };
        let now = UnixTime::from_secs(NOW);
        for offset in [-60, -30, 0, 30, 60] {
            assert!(
                matches!(
                    check(
                        &SEED,
                        &code_at(NOW + offset, timing),
                        now,
                        timing,
                        &fac,
                        OtpMemory::default()
                    ),
                    Verdict::Accepted { .. }
                ),
                "{offset}"
            );
        }
        assert!(matches!(
            check(
                &SEED,
                &code_at(NOW + 120, timing),
                now,
                timing,
                &fac,
                OtpMemory::default()
            ),
            Verdict::Resync { .. }
        ));
    }

    #[test]
    fn lockout_after_the_threshold() {
        let now = UnixTime::from_secs(NOW);
        let mut settings = settings();
        let mut lockout = Lockout::default();
        for _ in 0..2 {
            lockout = lockout.fail(now, &settings);
            assert!(!lockout.is_locked(now));
        }
        lockout = lockout.fail(now, &settings);
        assert!(lockout.is_locked(now.plus_secs(1_000_000)));
        settings.lockout_secs = 300;
        let timed = Lockout {
            failures: 2,
            locked_until: None,
        }
        .fail(now, &settings);
        assert!(timed.is_locked(now.plus_secs(299)) && !timed.is_locked(now.plus_secs(300)));
        assert_eq!(Lockout::succeed(), Lockout::default());
    }
}
