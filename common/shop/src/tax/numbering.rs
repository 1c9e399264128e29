//! Invoice and credit-note numbers: `{prefix}/{FY}/{seq}`, the financial year counted in
//! India time, because a parcel shipped at 00:30 IST on 1 April belongs to the new year
//! even though it is still 31 March in UTC.

use chrono::{DateTime, Datelike, FixedOffset, Utc};

const IST_OFFSET_SECS: i32 = 5 * 3600 + 30 * 60;

/// The financial year (1 April to 31 March, India time) as its two two-digit years: `2627`.
pub fn financial_year(at: DateTime<Utc>) -> String {
    let ist = FixedOffset::east_opt(IST_OFFSET_SECS).expect("IST is a valid offset");
    let local = at.with_timezone(&ist);
    let start = if local.month() >= 4 {
        local.year()
    } else {
        local.year() - 1
    };
    format!("{:02}{:02}", start % 100, (start + 1) % 100)
}

/// A document prefix: 1–4 of `A-Z0-9`, so a number stays within GST's 16 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPrefix(String);

impl DocumentPrefix {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = (1..=4).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(DocumentPrefix(s.to_owned()))
        } else {
            Err(format!("{s:?} must be 1 to 4 characters of A-Z and 0-9"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `PIT/2627/000001`; `None` past the six-digit sequence (a million documents in a year),
/// which a number must never silently outgrow.
pub fn document_number(prefix: &DocumentPrefix, fy: &str, seq: u32) -> Option<String> {
    (1..=999_999)
        .contains(&seq)
        .then(|| format!("{}/{fy}/{seq:06}", prefix.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_financial_year_turns_at_midnight_india_time_on_1_april() {
        let utc = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
        assert_eq!(financial_year(utc(2027, 3, 31, 18, 29, 59)), "2627");
        assert_eq!(financial_year(utc(2027, 3, 31, 18, 30, 0)), "2728");
        assert_eq!(financial_year(utc(2026, 4, 1, 0, 0, 0)), "2627");
        assert_eq!(financial_year(utc(2026, 12, 3, 5, 0, 0)), "2627");
        assert_eq!(financial_year(utc(2099, 6, 1, 0, 0, 0)), "9900");
    }

    #[test]
    fn numbers_are_prefix_year_and_six_digits_within_16_characters() {
        let pit = DocumentPrefix::parse("PIT").unwrap();
        assert_eq!(document_number(&pit, "2627", 1).unwrap(), "PIT/2627/000001");
        let longest = DocumentPrefix::parse("PCN9").unwrap();
        let n = document_number(&longest, "2627", 999_999).unwrap();
        assert_eq!(n, "PCN9/2627/999999");
        assert!(n.len() <= 16);
        assert_eq!(document_number(&pit, "2627", 0), None);
        assert_eq!(document_number(&pit, "2627", 1_000_000), None);
        for bad in ["", "pit", "PITAL", "P-T", "P T"] {
            assert!(DocumentPrefix::parse(bad).is_err(), "{bad:?}");
        }
    }
}
