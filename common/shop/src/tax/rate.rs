//! The two things a product needs before it can be taxed: its GST rate and its HSN code.
//! Both are validated where they enter (product creation, patches, stored rows) so checkout
//! never meets a rate the law does not have.

use platform::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A GST rate in basis points (500 = 5 %). Basis points keep the tax formula in integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct GstRate(u16);

impl GstRate {
    /// The slabs a product may carry, as the shop's API contract lists them.
    pub const ALLOWED: [u16; 6] = [0, 500, 1200, 1800, 2800, 4000];
    pub const ZERO: GstRate = GstRate(0);

    /// `None` for anything that is not a slab in [`GstRate::ALLOWED`].
    pub fn from_basis_points(bps: i64) -> Option<GstRate> {
        Self::ALLOWED
            .iter()
            .find(|r| i64::from(**r) == bps)
            .map(|r| GstRate(*r))
    }

    /// A field error naming the allowed slabs, for request bodies.
    pub fn parse(field: &str, bps: i64) -> Result<GstRate, FieldError> {
        Self::from_basis_points(bps).ok_or_else(|| FieldError::new(field, Self::rule()))
    }

    pub fn basis_points(self) -> u16 {
        self.0
    }

    fn rule() -> String {
        let list: Vec<String> = Self::ALLOWED.iter().map(u16::to_string).collect();
        format!(
            "must be a GST rate in basis points, one of {}",
            list.join(", ")
        )
    }
}

impl TryFrom<i64> for GstRate {
    type Error = String;
    fn try_from(bps: i64) -> Result<Self, Self::Error> {
        Self::from_basis_points(bps).ok_or_else(|| format!("{bps} {}", Self::rule()))
    }
}

impl From<GstRate> for i64 {
    fn from(r: GstRate) -> i64 {
        i64::from(r.0)
    }
}

/// `5%`, `12%`, and `0.25%` should the list ever carry a fractional slab.
impl fmt::Display for GstRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "{whole}%"),
            f2 if f2 % 10 == 0 => write!(f, "{whole}.{}%", f2 / 10),
            f2 => write!(f, "{whole}.{f2:02}%"),
        }
    }
}

/// An HSN code: 4, 6 or 8 digits, kept as text because leading zeros are significant
/// (chapter 09 is coffee and tea).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hsn(String);

impl Hsn {
    const RULE: &'static str = "must be an HSN code of 4, 6 or 8 digits";

    /// Surrounding whitespace is forgiven; anything else that is not 4, 6 or 8 ASCII digits
    /// is a field error.
    pub fn parse(field: &str, raw: &str) -> Result<Hsn, FieldError> {
        Self::new(raw).ok_or_else(|| FieldError::new(field, Self::RULE))
    }

    pub fn new(raw: &str) -> Option<Hsn> {
        let s = raw.trim();
        (matches!(s.len(), 4 | 6 | 8) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Hsn(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Hsn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Hsn::new(&s).ok_or_else(|| format!("{s:?} {}", Self::RULE))
    }
}

impl From<Hsn> for String {
    fn from(h: Hsn) -> String {
        h.0
    }
}

impl fmt::Display for Hsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_slabs_are_rates() {
        for ok in GstRate::ALLOWED {
            let r = GstRate::parse("gstRate", i64::from(ok)).unwrap();
            assert_eq!(r.basis_points(), ok);
        }
        for bad in [-500, 1, 5, 50, 300, 1000, 2500, 10_000, i64::MAX, i64::MIN] {
            let e = GstRate::parse("gstRate", bad).unwrap_err();
            assert_eq!(e.field, "gstRate");
            assert!(e.message.contains("one of 0, 500, 1200"), "{}", e.message);
        }
    }

    #[test]
    fn rates_serialise_as_basis_points_and_print_as_percent() {
        let r: GstRate = serde_json::from_str("500").unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), "500");
        assert!(serde_json::from_str::<GstRate>("501").is_err());
        assert_eq!(r.to_string(), "5%");
        assert_eq!(GstRate(25).to_string(), "0.25%");
        assert_eq!(GstRate(150).to_string(), "1.5%");
        assert_eq!(GstRate(1800).to_string(), "18%");
        assert_eq!(GstRate::ZERO.to_string(), "0%");
    }

    #[test]
    fn hsn_codes_are_4_6_or_8_digits() {
        for ok in ["7418", "741810", "74181022", "0901", " 8306 "] {
            assert_eq!(Hsn::parse("hsn", ok).unwrap().as_str(), ok.trim());
        }
        for bad in [
            "",
            "741",
            "74181",
            "7418102",
            "741810221",
            "74a8",
            "74 18",
            "७४१८",
            "-418",
        ] {
            let e = Hsn::parse("hsn", bad).unwrap_err();
            assert_eq!((e.field.as_str(), e.message.as_str()), ("hsn", Hsn::RULE));
        }
        let h: Hsn = serde_json::from_str("\"0901\"").unwrap();
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"0901\"");
        assert!(serde_json::from_str::<Hsn>("\"090\"").is_err());
    }
}
