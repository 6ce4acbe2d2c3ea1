//! Points in time on the wire and in the ledger: Unix seconds, plus the civil dates and RFC 3339 the admin API
//! needs, with the calendar done by the `time` crate.
//!
//! The protocol crate never reads the system clock. Callers pass `now` in; the services read it from the
//! lab clock, which tests can freeze and advance.
//!
//! Dates run from year -9999 to 9999 (what `time` represents); an instant outside that range, which nothing
//! in fortimock produces, reads as the nearest end of it.

use std::fmt;

use ::time::format_description::well_known::Rfc3339;
use ::time::macros::format_description;
use ::time::{Date, Month, OffsetDateTime, UtcDateTime, UtcOffset};
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC. The FortiOS wire and config use this unit (`activation-expire`, `code_expire`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = i64, description = "Seconds since the Unix epoch, UTC.")]
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

    /// Midnight UTC at the start of `date`. A day past the end of its month counts on into the next months
    /// (`2021-02-31` is `2021-03-03`).
    pub fn at_start_of(date: CivilDate) -> UnixTime {
        let year = i32::try_from(date.year.clamp(-9999, 9999)).unwrap_or_default();
        let month = Month::try_from(u8::try_from(date.month.clamp(1, 12)).unwrap_or(1))
            .unwrap_or(Month::January);
        let first = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN);
        let first = UtcDateTime::new(first, ::time::Time::MIDNIGHT).unix_timestamp();
        UnixTime(first.saturating_add((i64::from(date.day) - 1).saturating_mul(86_400)))
    }

    /// The UTC calendar date this instant falls on.
    pub fn date(self) -> CivilDate {
        civil(self.utc().date())
    }

    /// RFC 3339 in UTC with second precision, e.g. `2024-07-15T20:10:19Z`.
    pub fn rfc3339(self) -> String {
        let at = self.utc();
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            civil(at.date()),
            at.hour(),
            at.minute(),
            at.second()
        )
    }

    /// As the FortiOS CLI prints a time (`activation-expire`, KB 276480), in UTC: `Mon Jul 15 20:10:19 2024`.
    pub fn ctime(self) -> String {
        let at = self.utc();
        let weekday = &at.weekday().to_string()[..3];
        let month = &at.month().to_string()[..3];
        format!(
            "{weekday} {month} {:02} {:02}:{:02}:{:02} {}",
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.year()
        )
    }

    /// Parses RFC 3339 in UTC (`2024-07-15T20:10:19Z`, `2024-07-15T20:10:19+00:00`, fractions of a second
    /// dropped), a bare date (midnight UTC) or plain epoch seconds.
    pub fn parse(text: &str) -> Result<UnixTime, TimeParseError> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<i64>() {
            return Ok(UnixTime(secs));
        }
        if text.len() <= 10 {
            let date: CivilDate = text.parse()?;
            return Ok(UnixTime::at_start_of(date));
        }
        let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
            TimeParseError(format!(
                "`{text}` is not an RFC 3339 time such as 2024-07-15T20:10:19Z, a date or epoch seconds ({e})"
            ))
        })?;
        if at.offset() != UtcOffset::UTC {
            return Err(TimeParseError(format!(
                "`{text}`: only UTC times (`Z` or `+00:00`) are accepted"
            )));
        }
        Ok(UnixTime(at.unix_timestamp()))
    }

    /// This instant as `time` represents it, at the nearest end of its range when outside.
    fn utc(self) -> UtcDateTime {
        UtcDateTime::from_unix_timestamp(self.0).unwrap_or(if self.0 < 0 {
            UtcDateTime::MIN
        } else {
            UtcDateTime::MAX
        })
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
        Date::parse(text.trim(), format_description!("[year]-[month]-[day]"))
            .map(civil)
            .map_err(|_| TimeParseError(format!("`{text}` is not a date of the form YYYY-MM-DD")))
    }
}

crate::schema::text_schema!(
    CivilDate,
    "A calendar day, `YYYY-MM-DD` (UTC).",
    "2027-12-31"
);

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

fn civil(date: Date) -> CivilDate {
    CivilDate {
        year: i64::from(date.year()),
        month: u32::from(u8::from(date.month())),
        day: u32::from(date.day()),
    }
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
            let midnight = UnixTime::from_secs(days * 86_400);
            let date = midnight.date();
            assert_eq!(UnixTime::at_start_of(date), midnight);
            if date.year >= 0 {
                assert_eq!(date.to_string().parse::<CivilDate>(), Ok(date), "{date}");
            }
        }
    }

    #[test]
    fn far_instants_read_as_the_ends_of_the_range() {
        check(
            "9999-12-31T23:59:59Z",
            253_402_300_799,
            "9999-12-31T23:59:59Z",
        );
        assert_eq!(
            UnixTime::from_secs(i64::MAX).rfc3339(),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(
            UnixTime::from_secs(i64::MIN).date(),
            CivilDate {
                year: -9999,
                month: 1,
                day: 1
            }
        );
        // A day past the end of its month counts on into the next.
        let overflowing = CivilDate {
            year: 2021,
            month: 2,
            day: 31,
        };
        assert_eq!(
            UnixTime::at_start_of(overflowing),
            UnixTime::parse("2021-03-03").unwrap()
        );
        assert_eq!(
            UnixTime::parse("2022-10-16 19:58:04.75z").unwrap().secs(),
            1_665_950_284
        );
    }

    #[test]
    fn ctime_is_what_fortios_prints() {
        // KB 276480 shows `Mon Jul 15 20:10:19 2024` (the FortiGate's local time; UTC here).
        assert_eq!(
            UnixTime::from_secs(1_721_074_219).ctime(),
            "Mon Jul 15 20:10:19 2024"
        );
    }
}
