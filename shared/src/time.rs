//! Points in time on the wire and in the ledger: Unix seconds, plus the civil-date arithmetic the admin API needs.
//!
//! The protocol crate never reads the system clock. Callers pass `now` in; the services read it from the
//! lab clock, which tests can freeze and advance.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC. The FortiOS wire and config use this unit (`activation-expire`, `code_expire`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(i64);

impl UnixTime {
    pub const fn from_secs(secs: i64) -> UnixTime {
        UnixTime(secs)
    }

    pub const fn secs(self) -> i64 {
        self.0
    }

    pub const fn plus_secs(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }

    /// Midnight UTC at the start of `date`.
    pub fn at_start_of(date: CivilDate) -> UnixTime {
        UnixTime(days_from_civil(date.year, date.month, date.day) * 86_400)
    }

    /// The UTC calendar date this instant falls on.
    pub fn date(self) -> CivilDate {
        let (year, month, day) = civil_from_days(self.0.div_euclid(86_400));
        CivilDate { year, month, day }
    }

    /// RFC 3339 in UTC with second precision, e.g. `2024-07-15T20:10:19Z`.
    pub fn rfc3339(self) -> String {
        let date = self.date();
        let rem = self.0.rem_euclid(86_400);
        format!(
            "{date}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }

    /// Parses `2024-07-15T20:10:19Z`, `2024-07-15T20:10:19+00:00`, a bare date (midnight UTC) or plain epoch seconds.
    pub fn parse(text: &str) -> Result<UnixTime, TimeParseError> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<i64>() {
            return Ok(UnixTime(secs));
        }
        let (date_part, time_part) = match text.split_once(['T', ' ']) {
            Some((d, t)) => (d, Some(t)),
            None => (text, None),
        };
        let date: CivilDate = date_part.parse()?;
        let mut secs = UnixTime::at_start_of(date).0;
        if let Some(time) = time_part {
            let time = time
                .strip_suffix('Z')
                .or_else(|| time.strip_suffix("+00:00"))
                .ok_or_else(|| {
                    TimeParseError(format!(
                        "`{text}`: only UTC times (`Z` or `+00:00`) are accepted"
                    ))
                })?;
            let mut fields = time.split(':');
            let mut next = |name: &str, max: i64| -> Result<i64, TimeParseError> {
                let field = fields.next().unwrap_or("0");
                let value: i64 = field
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| TimeParseError(format!("`{text}`: bad {name} `{field}`")))?;
                if !(0..=max).contains(&value) {
                    return Err(TimeParseError(format!("`{text}`: {name} out of range")));
                }
                Ok(value)
            };
            secs += next("hour", 23)? * 3600 + next("minute", 59)? * 60 + next("second", 60)?;
        }
        Ok(UnixTime(secs))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// A calendar date in UTC, written `YYYY-MM-DD` (a redemption certificate's "Certificate Valid Until").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CivilDate {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for CivilDate {
    type Err = TimeParseError;

    fn from_str(text: &str) -> Result<CivilDate, TimeParseError> {
        let bad = || TimeParseError(format!("`{text}` is not a date of the form YYYY-MM-DD"));
        let mut parts = text.trim().splitn(3, '-');
        let year: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let month: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let day: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(bad());
        }
        Ok(CivilDate { year, month, day })
    }
}

impl Serialize for CivilDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CivilDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CivilDate, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeParseError(String);

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, secs: i64, rendered: &str) {
        let t = UnixTime::parse(text).unwrap();
        assert_eq!(t.secs(), secs);
        assert_eq!(t.rfc3339(), rendered);
    }

    #[test]
    fn parses_and_renders_utc() {
        // activation-expire 1665950284 from KB 241195 is 2022-10-16 19:58:04 UTC.
        check("1665950284", 1_665_950_284, "2022-10-16T19:58:04Z");
        check(
            "2022-10-16T19:58:04Z",
            1_665_950_284,
            "2022-10-16T19:58:04Z",
        );
        check(
            "2022-10-16T19:58:04+00:00",
            1_665_950_284,
            "2022-10-16T19:58:04Z",
        );
        check("2022-02-04", 1_643_932_800, "2022-02-04T00:00:00Z");
        check("1970-01-01", 0, "1970-01-01T00:00:00Z");
        check("2000-02-29T23:59:59Z", 951_868_799, "2000-02-29T23:59:59Z");
        check("1969-12-31T23:59:59Z", -1, "1969-12-31T23:59:59Z");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "2022-13-01",
            "2021-02-29",
            "2022-10-16T25:00:00Z",
            "2022-10-16T10:00:00+02:00",
            "soon",
        ] {
            assert!(UnixTime::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn day_arithmetic_round_trips() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
