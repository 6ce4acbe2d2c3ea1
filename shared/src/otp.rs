//! One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA1, as FortiToken Mobile computes
//! them, and their verification with a step window and a replay guard.
//!
//! The caller supplies the time and remembers the last accepted step (or the next HOTP counter), so
//! this module stays pure. Candidate codes are compared in constant time.

use hmac::Mac;
use subtle::ConstantTimeEq;

use crate::crypto::new_hmac_sha1;

/// The OTP algorithm of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpKind {
    /// Time-based (RFC 6238): FortiToken Mobile's default.
    Totp,
    /// Counter-based (RFC 4226).
    Hotp,
}

impl OtpKind {
    /// `"totp"` or `"hotp"`, in any letter case.
    pub fn parse(text: &str) -> Option<OtpKind> {
        [OtpKind::Totp, OtpKind::Hotp]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtpKind::Totp => "totp",
            OtpKind::Hotp => "hotp",
        }
    }
}

/// How a token's codes are computed (always with HMAC-SHA1): the algorithm, the TOTP time step in seconds
/// and the code length. The appliance sends them in its ProvisionRequest; how they reach the phone is
/// `modeled::otp_to_wire` and `modeled::otp_from_wire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpParams {
    pub kind: OtpKind,
    pub period: u32,
    pub digits: u32,
}

/// The most digits a code can have: dynamic truncation yields a 31-bit number, which has at most 10.
const MAX_DIGITS: u32 = 10;

/// `digits` limited to 1..=10, the lengths a truncated HOTP value can fill.
fn clamp_digits(digits: u32) -> u32 {
    digits.clamp(1, MAX_DIGITS)
}

/// The HOTP code for `counter`: HMAC-SHA1 of the big-endian counter, dynamic truncation, the last
/// `digits` decimal digits (zero-padded). `digits` is clamped to 1..=10.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let digits = clamp_digits(digits);
    let mut mac = new_hmac_sha1(secret);
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    // RFC 4226 section 5.3: the low nibble of the last byte picks 4 bytes; the top bit is dropped.
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let word = [
        hash[offset],
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ];
    let value = u64::from(u32::from_be_bytes(word) & 0x7fff_ffff);
    let value = value % 10u64.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// The time step containing `unix_secs`: floor division by `period` (a period of 0 counts as 1).
pub fn time_step(unix_secs: i64, period: u32) -> i64 {
    unix_secs.div_euclid(i64::from(period.max(1)))
}

/// The TOTP code at `unix_secs`: the HOTP code of its time step. Times before 1970 use step 0.
pub fn totp(secret: &[u8], unix_secs: i64, period: u32, digits: u32) -> String {
    hotp(secret, step_counter(time_step(unix_secs, period)), digits)
}

fn step_counter(step: i64) -> u64 {
    u64::try_from(step).unwrap_or(0)
}

/// How a server checks TOTP codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpPolicy {
    /// Seconds per step: 60 for FortiToken Mobile tokens issued by FortiGate, 30 in RFC 6238.
    pub period: u32,
    /// Code length: 6 for FortiToken Mobile.
    pub digits: u32,
    /// Codes of steps `now - window_steps ..= now + window_steps` are accepted, to allow for clock drift.
    pub window_steps: u32,
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpRejection {
    /// The code is not exactly the expected number of ASCII digits.
    Malformed,
    /// The code matches no acceptable step or counter.
    Mismatch,
    /// The code matches a step or counter already used. `wait_secs` is how long until a new code can be
    /// accepted (FortiOS: "Please wait x seconds to login again"); 0 for HOTP, where pressing the button
    /// again gives a new code.
    Replayed { wait_secs: i64 },
}

/// Whether `code` is exactly `digits` ASCII digits.
fn well_formed(code: &str, digits: u32) -> bool {
    code.len() == digits as usize && code.bytes().all(|b| b.is_ascii_digit())
}

fn matches(secret: &[u8], counter: u64, code: &str, digits: u32) -> bool {
    hotp(secret, counter, digits)
        .as_bytes()
        .ct_eq(code.as_bytes())
        .into()
}

/// Checks a TOTP `code` at `unix_secs` and returns the step it matched, which the caller stores as the new
/// `last_accepted_step`.
///
/// Every step of the window is computed and compared in constant time. When several steps match, the
/// newest step after `last_accepted_step` wins. A code that only matches steps at or before
/// `last_accepted_step` is a replay (RFC 6238 section 5.2).
pub fn verify_totp(
    secret: &[u8],
    code: &str,
    unix_secs: i64,
    policy: &TotpPolicy,
    last_accepted_step: Option<i64>,
) -> Result<i64, OtpRejection> {
    let digits = clamp_digits(policy.digits);
    if !well_formed(code, digits) {
        return Err(OtpRejection::Malformed);
    }
    let now = time_step(unix_secs, policy.period);
    let window = i64::from(policy.window_steps);
    let first = now.saturating_sub(window).max(0);
    let last = now.saturating_add(window);
    let mut accepted = None;
    let mut replayed = false;
    for step in first..=last {
        let matched = matches(secret, step_counter(step), code, digits);
        let used = last_accepted_step.is_some_and(|used| step <= used);
        if matched && used {
            replayed = true;
        } else if matched {
            accepted = Some(step);
        }
    }
    match (accepted, last_accepted_step) {
        (Some(step), _) => Ok(step),
        (None, Some(used)) if replayed => {
            let period = i64::from(policy.period.max(1));
            let next_start = used.saturating_add(1).saturating_mul(period);
            Err(OtpRejection::Replayed {
                wait_secs: next_start.saturating_sub(unix_secs).max(1),
            })
        }
        _ => Err(OtpRejection::Mismatch),
    }
}

/// Checks an HOTP `code` against counters `next_counter ..= next_counter + look_ahead` and returns the
/// counter to expect next (the matched counter plus one). The lowest matching counter wins.
///
/// A code matching one of the `look_ahead` counters before `next_counter` (at least the last one) is a
/// replay.
pub fn verify_hotp(
    secret: &[u8],
    code: &str,
    next_counter: u64,
    look_ahead: u32,
    digits: u32,
) -> Result<u64, OtpRejection> {
    let digits = clamp_digits(digits);
    if !well_formed(code, digits) {
        return Err(OtpRejection::Malformed);
    }
    let mut accepted = None;
    let last = next_counter.saturating_add(u64::from(look_ahead));
    for counter in next_counter..=last {
        if matches(secret, counter, code, digits) && accepted.is_none() {
            accepted = Some(counter);
        }
    }
    if let Some(counter) = accepted {
        return Ok(counter.saturating_add(1));
    }
    let first_used = next_counter.saturating_sub(u64::from(look_ahead.max(1)));
    let mut replayed = false;
    for counter in first_used..next_counter {
        replayed |= matches(secret, counter, code, digits);
    }
    if replayed {
        Err(OtpRejection::Replayed { wait_secs: 0 })
    } else {
        Err(OtpRejection::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn fortigate_seed() -> Vec<u8> {
        hex::decode("A84E2CAAD3BCEA970E05DC1A9B7BD2D562622F4A").unwrap()
    }

    const FORTI: TotpPolicy = TotpPolicy {
        period: 60,
        digits: 6,
        window_steps: 1,
    };

    #[test]
    fn rfc_4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(
                hotp(RFC_SECRET, counter as u64, 6),
                *code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc_6238_appendix_b_sha1() {
        for (time, code) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(totp(RFC_SECRET, time, 30, 8), code, "T = {time}");
        }
    }

    #[test]
    fn fortigate_vector() {
        let seed = fortigate_seed();
        assert_eq!(totp(&seed, 1_700_000_000, 60, 6), "947943");
        assert_eq!(totp(&seed, 1_700_000_000, 30, 6), "920717");
    }

    #[test]
    fn time_steps_floor_and_tolerate_period_zero() {
        assert_eq!(time_step(59, 30), 1);
        assert_eq!(time_step(60, 30), 2);
        assert_eq!(time_step(-1, 30), -1);
        assert_eq!(time_step(-30, 30), -1);
        assert_eq!(time_step(-31, 30), -2);
        assert_eq!(time_step(17, 0), 17);
        assert_eq!(totp(RFC_SECRET, 17, 0, 6), hotp(RFC_SECRET, 17, 6));
        assert_eq!(totp(RFC_SECRET, -100, 30, 6), hotp(RFC_SECRET, 0, 6));
    }

    #[test]
    fn digits_are_clamped_and_zero_padded() {
        assert_eq!(hotp(RFC_SECRET, 0, 0).len(), 1);
        assert_eq!(hotp(RFC_SECRET, 0, 10).len(), 10);
        assert_eq!(hotp(RFC_SECRET, 0, 30).len(), 10);
        // RFC 6238's vector at T = 1111111109 starts with a zero.
        assert_eq!(totp(RFC_SECRET, 1111111109, 30, 8), "07081804");
    }

    #[test]
    fn kinds_parse() {
        assert_eq!(OtpKind::parse("TOTP"), Some(OtpKind::Totp));
        assert_eq!(OtpKind::parse("hotp"), Some(OtpKind::Hotp));
        assert_eq!(OtpKind::parse("otp"), None);
        assert_eq!(OtpKind::Totp.as_str(), "totp");
    }

    #[test]
    fn totp_window() {
        let seed = fortigate_seed();
        let t = 1_700_000_000;
        let now = time_step(t, 60);
        assert_eq!(verify_totp(&seed, "947943", t, &FORTI, None), Ok(now));
        let previous = totp(&seed, t - 60, 60, 6);
        let next = totp(&seed, t + 60, 60, 6);
        assert_eq!(verify_totp(&seed, &previous, t, &FORTI, None), Ok(now - 1));
        assert_eq!(verify_totp(&seed, &next, t, &FORTI, None), Ok(now + 1));
        let too_old = totp(&seed, t - 120, 60, 6);
        let too_new = totp(&seed, t + 120, 60, 6);
        assert_eq!(
            verify_totp(&seed, &too_old, t, &FORTI, None),
            Err(OtpRejection::Mismatch)
        );
        assert_eq!(
            verify_totp(&seed, &too_new, t, &FORTI, None),
            Err(OtpRejection::Mismatch)
        );
        let strict = TotpPolicy {
            window_steps: 0,
            ..FORTI
        };
        assert_eq!(
            verify_totp(&seed, &previous, t, &strict, None),
            Err(OtpRejection::Mismatch)
        );
        assert_eq!(
            verify_totp(&seed, "000000", t, &FORTI, None),
            Err(OtpRejection::Mismatch)
        );
    }

    #[test]
    fn totp_replay_reports_the_wait() {
        let seed = fortigate_seed();
        // 1_700_000_000 is 20 seconds into its 60-second step.
        let t = 1_700_000_000;
        let step = verify_totp(&seed, "947943", t, &FORTI, None).unwrap();
        assert_eq!(
            verify_totp(&seed, "947943", t, &FORTI, Some(step)),
            Err(OtpRejection::Replayed { wait_secs: 40 })
        );
        assert_eq!(
            verify_totp(&seed, "947943", t + 39, &FORTI, Some(step)),
            Err(OtpRejection::Replayed { wait_secs: 1 })
        );
        // After the step ends the code is still in the window, but still used.
        assert_eq!(
            verify_totp(&seed, "947943", t + 50, &FORTI, Some(step)),
            Err(OtpRejection::Replayed { wait_secs: 1 })
        );
        // An older code after a newer one was accepted is a replay too.
        let previous = totp(&seed, t - 60, 60, 6);
        assert_eq!(
            verify_totp(&seed, &previous, t, &FORTI, Some(step)),
            Err(OtpRejection::Replayed { wait_secs: 40 })
        );
        // The next step's code is fresh.
        let next = totp(&seed, t + 60, 60, 6);
        assert_eq!(
            verify_totp(&seed, &next, t + 40, &FORTI, Some(step)),
            Ok(step + 1)
        );
        // Having accepted a future step, the wait runs to the end of that step.
        assert_eq!(
            verify_totp(&seed, &next, t, &FORTI, Some(step + 1)),
            Err(OtpRejection::Replayed { wait_secs: 100 })
        );
    }

    #[test]
    fn totp_prefers_the_newest_acceptable_step() {
        // With a 1-digit code, many steps share a code; find one that matches two steps of the window.
        let policy = TotpPolicy {
            period: 30,
            digits: 1,
            window_steps: 2,
        };
        let t = 1_000_000_020;
        let now = time_step(t, 30);
        let codes: Vec<String> = (now - 2..=now + 2)
            .map(|s| hotp(RFC_SECRET, s as u64, 1))
            .collect();
        let (i, j) = (0..5)
            .flat_map(|i| (i + 1..5).map(move |j| (i, j)))
            .find(|&(i, j)| codes[i] == codes[j])
            .expect("some 1-digit codes in the window repeat");
        let (older, newer) = (now - 2 + i as i64, now - 2 + j as i64);
        let code = &codes[i];
        let newest = (now - 2..=now + 2)
            .rev()
            .find(|&s| hotp(RFC_SECRET, s as u64, 1) == *code)
            .unwrap();
        assert_eq!(verify_totp(RFC_SECRET, code, t, &policy, None), Ok(newest));
        assert!(newest >= newer);
        assert_eq!(
            verify_totp(RFC_SECRET, code, t, &policy, Some(older)),
            Ok(newest)
        );
    }

    #[test]
    fn malformed_codes() {
        let seed = fortigate_seed();
        for bad in [
            "",
            "94794",
            "9479430",
            "94794a",
            " 947943",
            "947 943",
            "９４７９４３",
        ] {
            assert_eq!(
                verify_totp(&seed, bad, 1_700_000_000, &FORTI, None),
                Err(OtpRejection::Malformed),
                "{bad:?}"
            );
            assert_eq!(
                verify_hotp(&seed, bad, 0, 5, 6),
                Err(OtpRejection::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hotp_look_ahead_and_replay() {
        // 755224 is counter 0, 969429 counter 3, 399871 counter 8.
        assert_eq!(verify_hotp(RFC_SECRET, "755224", 0, 0, 6), Ok(1));
        assert_eq!(verify_hotp(RFC_SECRET, "969429", 0, 5, 6), Ok(4));
        assert_eq!(
            verify_hotp(RFC_SECRET, "399871", 0, 5, 6),
            Err(OtpRejection::Mismatch)
        );
        assert_eq!(
            verify_hotp(RFC_SECRET, "969429", 4, 5, 6),
            Err(OtpRejection::Replayed { wait_secs: 0 })
        );
        assert_eq!(
            verify_hotp(RFC_SECRET, "755224", 4, 5, 6),
            Err(OtpRejection::Replayed { wait_secs: 0 })
        );
        // With no look-ahead, the code just used is still recognised as a replay.
        assert_eq!(
            verify_hotp(RFC_SECRET, "969429", 4, 0, 6),
            Err(OtpRejection::Replayed { wait_secs: 0 })
        );
        // Counter 0 is more than 2 counters back.
        assert_eq!(
            verify_hotp(RFC_SECRET, "755224", 4, 2, 6),
            Err(OtpRejection::Mismatch)
        );
        assert_eq!(
            verify_hotp(RFC_SECRET, "755224", u64::MAX, 3, 6),
            Err(OtpRejection::Mismatch)
        );
    }
}
