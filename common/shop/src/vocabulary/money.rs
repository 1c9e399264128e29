//! Money as integer paise. There are no floats anywhere near a price.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Paise(pub i64);

impl Paise {
    pub const ZERO: Paise = Paise(0);

    pub fn get(self) -> i64 {
        self.0
    }

    /// `None` on overflow: a cart can never be worth more than i64 paise, and if a hostile
    /// catalog row says otherwise we refuse rather than wrap.
    pub fn checked_mul(self, n: i64) -> Option<Paise> {
        self.0.checked_mul(n).map(Paise)
    }

    pub fn checked_add(self, other: Paise) -> Option<Paise> {
        self.0.checked_add(other.0).map(Paise)
    }

    /// Rupees with Indian digit grouping (lakh, crore): `₹1,29,900.00`.
    pub fn format_inr(self) -> String {
        let negative = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let (rupees, paise) = (abs / 100, abs % 100);
        let digits = rupees.to_string();
        let grouped = if digits.len() <= 3 {
            digits
        } else {
            let (head, last3) = digits.split_at(digits.len() - 3);
            let mut parts: Vec<&str> = Vec::new();
            let mut rest = head;
            while rest.len() > 2 {
                let (h, t) = rest.split_at(rest.len() - 2);
                parts.push(t);
                rest = h;
            }
            if !rest.is_empty() {
                parts.push(rest);
            }
            parts.reverse();
            format!("{},{last3}", parts.join(","))
        };
        format!("{}₹{grouped}.{paise:02}", if negative { "-" } else { "" })
    }
}

impl Add for Paise {
    type Output = Paise;
    fn add(self, rhs: Paise) -> Paise {
        Paise(self.0 + rhs.0)
    }
}

impl Sub for Paise {
    type Output = Paise;
    fn sub(self, rhs: Paise) -> Paise {
        Paise(self.0 - rhs.0)
    }
}

impl fmt::Display for Paise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_inr())
    }
}

#[cfg(test)]
mod tests {
    use super::Paise;

    #[test]
    fn formats_the_indian_way() {
        let cases = [
            (0, "₹0.00"),
            (5, "₹0.05"),
            (99_900, "₹999.00"),
            (129_900, "₹1,299.00"),
            (12_990_000, "₹1,29,900.00"),
            (1_234_567_800, "₹1,23,45,678.00"),
            (-150, "-₹1.50"),
        ];
        for (paise, text) in cases {
            assert_eq!(Paise(paise).format_inr(), text);
        }
    }
}
