//! GST state codes: the first two digits of every GSTIN, and how the law tells an intra-state
//! supply (CGST + SGST) from an inter-state one (IGST).

use crate::vocabulary::address::canonical_state;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The codes of the GST state code list, keyed by the spellings the address validator stores,
/// so a validated address always finds its code. Codes 25 (the old Daman and Diu) and 28 (the
/// undivided Andhra Pradesh) were retired when those registrations moved to 26 and 37, so no
/// current seller or address carries them.
const STATE_CODES: [(&str, u8); 36] = [
    ("Jammu and Kashmir", 1),
    ("Himachal Pradesh", 2),
    ("Punjab", 3),
    ("Chandigarh", 4),
    ("Uttarakhand", 5),
    ("Haryana", 6),
    ("Delhi", 7),
    ("Rajasthan", 8),
    ("Uttar Pradesh", 9),
    ("Bihar", 10),
    ("Sikkim", 11),
    ("Arunachal Pradesh", 12),
    ("Nagaland", 13),
    ("Manipur", 14),
    ("Mizoram", 15),
    ("Tripura", 16),
    ("Meghalaya", 17),
    ("Assam", 18),
    ("West Bengal", 19),
    ("Jharkhand", 20),
    ("Odisha", 21),
    ("Chhattisgarh", 22),
    ("Madhya Pradesh", 23),
    ("Gujarat", 24),
    ("Dadra and Nagar Haveli and Daman and Diu", 26),
    ("Maharashtra", 27),
    ("Karnataka", 29),
    ("Goa", 30),
    ("Lakshadweep", 31),
    ("Kerala", 32),
    ("Tamil Nadu", 33),
    ("Puducherry", 34),
    ("Andaman and Nicobar Islands", 35),
    ("Telangana", 36),
    ("Andhra Pradesh", 37),
    ("Ladakh", 38),
];

/// A two-digit GST state code. Only codes of a current state or union territory exist as
/// values, so every code can be printed with its name on an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GstStateCode(u8);

impl GstStateCode {
    /// From the two digits at the head of a GSTIN (or any `"07"`-style text).
    pub fn from_digits(digits: &str) -> Option<GstStateCode> {
        if digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u8 = digits.parse().ok()?;
        STATE_CODES
            .iter()
            .any(|(_, c)| *c == n)
            .then_some(GstStateCode(n))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The canonical state or union territory name, as the address validator spells it.
    pub fn state_name(self) -> &'static str {
        STATE_CODES
            .iter()
            .find(|(_, c)| *c == self.0)
            .map(|(name, _)| *name)
            .expect("a GstStateCode is only ever built from STATE_CODES")
    }
}

impl fmt::Display for GstStateCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// The GST state code of a state or union territory. Matching goes through the address
/// validator's folding, so anything it accepts (aliases, any case) finds its code.
pub fn gst_state_code(state: &str) -> Option<GstStateCode> {
    let canonical = canonical_state(state)?;
    STATE_CODES
        .iter()
        .find(|(name, _)| *name == canonical)
        .map(|(_, code)| GstStateCode(*code))
}

/// A state as invoices print it ("33-Tamil Nadu") and as the stored tax object keeps it: the
/// code decides intra- versus inter-state, the name is what a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GstState {
    pub code: String,
    pub name: String,
}

impl From<GstStateCode> for GstState {
    fn from(code: GstStateCode) -> Self {
        GstState {
            code: code.to_string(),
            name: code.state_name().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::address::STATES_AND_UNION_TERRITORIES;

    #[test]
    fn every_state_the_address_validator_accepts_has_a_gst_code() {
        for state in STATES_AND_UNION_TERRITORIES {
            let code = gst_state_code(state).unwrap_or_else(|| panic!("{state} has no code"));
            assert_eq!(code.state_name(), state);
            assert_eq!(GstStateCode::from_digits(&code.to_string()), Some(code));
        }
        let mut codes: Vec<u8> = STATE_CODES.iter().map(|(_, c)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes.len(),
            STATES_AND_UNION_TERRITORIES.len(),
            "codes are unique"
        );
    }

    #[test]
    fn well_known_codes() {
        for (state, code) in [
            ("Tamil Nadu", "33"),
            ("Karnataka", "29"),
            ("Ladakh", "38"),
            ("Dadra and Nagar Haveli and Daman and Diu", "26"),
            ("Delhi", "07"),
            ("Jammu and Kashmir", "01"),
            ("Andhra Pradesh", "37"),
            ("Telangana", "36"),
            ("Maharashtra", "27"),
        ] {
            assert_eq!(gst_state_code(state).unwrap().to_string(), code, "{state}");
        }
    }

    #[test]
    fn aliases_and_case_find_the_same_code() {
        assert_eq!(gst_state_code("tamil nadu").unwrap().get(), 33);
        assert_eq!(gst_state_code("Orissa").unwrap().get(), 21);
        assert_eq!(gst_state_code("NCT of Delhi").unwrap().get(), 7);
        assert_eq!(gst_state_code("Jammu & Kashmir").unwrap().get(), 1);
        assert_eq!(gst_state_code("Narnia"), None);
    }

    #[test]
    fn retired_and_malformed_codes_are_not_codes() {
        for bad in ["25", "28", "00", "39", "97", "99", "7", "007", "3a", ""] {
            assert_eq!(GstStateCode::from_digits(bad), None, "{bad}");
        }
        let s = GstState::from(GstStateCode::from_digits("07").unwrap());
        assert_eq!(s.code, "07");
        assert_eq!(s.name, "Delhi");
    }
}
