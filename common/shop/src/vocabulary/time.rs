//! Times as the API reads and writes them: one parser, one format, one clock reading.

use chrono::{DateTime as ChronoDateTime, SecondsFormat, Utc};
use mongodb::bson::DateTime;
use platform::error::FieldError;

/// RFC 3339 UTC with milliseconds, the one timestamp format of the API.
pub fn rfc3339(t: DateTime) -> String {
    ChronoDateTime::<Utc>::from_timestamp_millis(t.timestamp_millis())
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// India time as people write it (`2026-12-03 14:05:09`), for exports read by accountants.
pub fn india_time(t: DateTime) -> String {
    let ist = chrono::FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("IST is a valid offset");
    ChronoDateTime::<Utc>::from_timestamp_millis(t.timestamp_millis())
        .unwrap_or_default()
        .with_timezone(&ist)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The first and last instants the API accepts (`EARLIEST`, `LATEST`). Every store and
/// reader of a time copes with them: BSON, chrono, JavaScript's `Date` in the console and
/// SecantusDB (Python's `datetime`, years 1–9999), and `rfc3339` writes them back in four-digit
/// years. A shop's orders and coupons are all after 2000, so an earlier date is a typo (`0202`
/// for `2020`) that would otherwise quietly mean "everything".
pub const EARLIEST: &str = "2000-01-01T00:00:00Z";
pub const LATEST: &str = "9999-12-31T23:59:59.999Z";
const EARLIEST_MS: i64 = 946_684_800_000;
const LATEST_MS: i64 = 253_402_300_799_999;

/// The one parser of every time the API accepts (query parameters, body fields): RFC 3339
/// with any offset, between `EARLIEST` and `LATEST`. Anything else is a field error naming
/// `field`.
pub fn parse_time(field: &str, raw: &str) -> Result<DateTime, FieldError> {
    let parsed = ChronoDateTime::parse_from_rfc3339(raw.trim()).map_err(|_| {
        FieldError::new(
            field,
            "must be an RFC 3339 time such as 2026-11-01T00:00:00+05:30",
        )
    })?;
    let ms = parsed.timestamp_millis();
    if !(EARLIEST_MS..=LATEST_MS).contains(&ms) {
        return Err(FieldError::new(
            field,
            format!("must be between {EARLIEST} and {LATEST}"),
        ));
    }
    Ok(DateTime::from_millis(ms))
}

pub fn now() -> DateTime {
    DateTime::now()
}

#[cfg(test)]
mod parse_time_tests {
    use super::*;

    #[test]
    fn the_bounds_are_the_instants_their_names_say_and_are_accepted() {
        for (raw, ms) in [(EARLIEST, EARLIEST_MS), (LATEST, LATEST_MS)] {
            assert_eq!(parse_time("t", raw).unwrap().timestamp_millis(), ms);
            let written = rfc3339(DateTime::from_millis(ms));
            assert_eq!(parse_time("t", &written).unwrap().timestamp_millis(), ms);
        }
    }

    #[test]
    fn times_outside_the_bounds_or_not_rfc3339_name_the_field() {
        for raw in [
            "0000-01-01T00:00:00Z",
            "1999-12-31T23:59:59.999Z",
            "2000-01-01T05:29:59+05:30",
            "9999-12-31T23:59:59-00:01",
            "10000-01-01T00:00:00Z",
            "+10000-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "",
        ] {
            let e = parse_time("from", raw).unwrap_err();
            assert_eq!(e.field, "from", "{raw}");
        }
        assert_eq!(
            parse_time("to", " 2026-11-01T00:00:00+05:30 ")
                .unwrap()
                .timestamp_millis(),
            1_793_471_400_000
        );
    }
}
