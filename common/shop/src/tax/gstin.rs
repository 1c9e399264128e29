//! GSTINs, checked the way the GST portal checks them, so a typo in the seller's settings
//! fails the cold start instead of printing an invalid number on every invoice.

use super::state::GstStateCode;
use serde::{Deserialize, Serialize};
use std::fmt;

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// What is wrong with a GSTIN, worded for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GstinError {
    #[error("a GSTIN has 15 characters, this one has {0}")]
    Length(usize),
    #[error("a GSTIN has only digits and letters A-Z; {0:?} is not one")]
    Character(char),
    #[error("a GSTIN starts with a two-digit GST state code; {0:?} is not one")]
    StateCode(String),
    #[error(
        "characters 3 to 12 of a GSTIN are the PAN (5 letters, 4 digits, 1 letter); {0:?} is not"
    )]
    Pan(String),
    #[error("character 13 of a GSTIN is the entity number (1-9 or A-Z); {0:?} is not")]
    Entity(char),
    #[error("character 14 of a GSTIN is always Z; this one has {0:?}")]
    NotZ(char),
    #[error("the check character of this GSTIN should be {expected:?}, not {found:?}: a typo?")]
    CheckChar { expected: char, found: char },
}

/// A GSTIN known to be well formed: state code, PAN, entity, `Z` and a correct check char.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gstin(String);

/// The check character over the first 14 characters (the portal's mod-36 scheme): each
/// character's value times 1 or 2 alternately, the product's base-36 digits summed.
/// `None` if a character is outside 0-9A-Z.
pub fn gstin_check_char(first14: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, b) in first14.bytes().enumerate() {
        let value = ALPHABET.iter().position(|a| *a == b)? as u32;
        let product = value * if i % 2 == 0 { 1 } else { 2 };
        sum += product / 36 + product % 36;
    }
    Some(ALPHABET[((36 - sum % 36) % 36) as usize] as char)
}

impl Gstin {
    /// Surrounding whitespace and lower case are forgiven (people copy GSTINs from PDFs and
    /// type them on phones); the stored form is upper case.
    pub fn parse(raw: &str) -> Result<Gstin, GstinError> {
        let s = raw.trim().to_ascii_uppercase();
        let n = s.chars().count();
        if n != 15 {
            return Err(GstinError::Length(n));
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(GstinError::Character(c));
        }
        let b = s.as_bytes();
        if GstStateCode::from_digits(&s[..2]).is_none() {
            return Err(GstinError::StateCode(s[..2].to_owned()));
        }
        let pan = &b[2..12];
        let pan_ok = pan[..5].iter().all(u8::is_ascii_uppercase)
            && pan[5..9].iter().all(u8::is_ascii_digit)
            && pan[9].is_ascii_uppercase();
        if !pan_ok {
            return Err(GstinError::Pan(s[2..12].to_owned()));
        }
        if !(matches!(b[12], b'1'..=b'9') || b[12].is_ascii_uppercase()) {
            return Err(GstinError::Entity(b[12] as char));
        }
        if b[13] != b'Z' {
            return Err(GstinError::NotZ(b[13] as char));
        }
        let expected = gstin_check_char(&s[..14]).expect("the first 14 are 0-9A-Z by now");
        if b[14] as char != expected {
            return Err(GstinError::CheckChar {
                expected,
                found: b[14] as char,
            });
        }
        Ok(Gstin(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The registration's state: a supply to any other state is inter-state.
    pub fn state_code(&self) -> GstStateCode {
        GstStateCode::from_digits(&self.0[..2]).expect("checked by parse")
    }

    /// The holder's PAN, which rule 46 does not need but the accountant's reports do.
    pub fn pan(&self) -> &str {
        &self.0[2..12]
    }
}

impl TryFrom<String> for Gstin {
    type Error = GstinError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Gstin::parse(&s)
    }
}

impl From<Gstin> for String {
    fn from(g: Gstin) -> String {
        g.0
    }
}

impl fmt::Display for Gstin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_seller_is_valid_and_in_tamil_nadu() {
        let g = Gstin::parse("33AABCP1234Q1ZE").unwrap();
        assert_eq!(g.state_code().get(), 33);
        assert_eq!(g.state_code().state_name(), "Tamil Nadu");
        assert_eq!(g.pan(), "AABCP1234Q");
    }

    #[test]
    fn valid_gstins_in_the_real_format() {
        // Check characters computed independently of this code.
        for ok in [
            "27AAPFU0939F1ZV",
            "29AAGCB7383J1Z4",
            "24AAACC1206D1ZM",
            "29ABCDE1234F1ZW",
            "38ABCDE1234F1ZX",
            "26ABCDE1234F1Z2",
            "07AAACI1681G1ZR",
        ] {
            assert_eq!(Gstin::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn lower_case_and_whitespace_are_normalised() {
        let g = Gstin::parse("  33aabcp1234q1ze\n").unwrap();
        assert_eq!(g.as_str(), "33AABCP1234Q1ZE");
    }

    #[test]
    fn every_wrong_check_char_is_refused_naming_the_right_one() {
        for c in ALPHABET.iter().map(|b| *b as char).filter(|c| *c != 'E') {
            let bad = format!("33AABCP1234Q1Z{c}");
            assert_eq!(
                Gstin::parse(&bad),
                Err(GstinError::CheckChar {
                    expected: 'E',
                    found: c
                }),
                "{bad}"
            );
        }
        let msg = Gstin::parse("33AABCP1234Q1ZF").unwrap_err().to_string();
        assert!(msg.contains("should be 'E'"), "{msg}");
    }

    #[test]
    fn a_single_changed_character_is_caught() {
        // Transpositions and substitutions are what the check char exists for.
        assert!(matches!(
            Gstin::parse("33AABCP1243Q1ZE"),
            Err(GstinError::CheckChar { .. })
        ));
        assert!(matches!(
            Gstin::parse("33AABCP1234Q2ZE"),
            Err(GstinError::CheckChar { .. })
        ));
    }

    #[test]
    fn each_malformation_says_what_is_wrong() {
        for (bad, want) in [
            ("", GstinError::Length(0)),
            ("33AABCP1234Q1Z", GstinError::Length(14)),
            ("33AABCP1234Q1ZEE", GstinError::Length(16)),
            ("33AABCP1234Q1ZÉ", GstinError::Character('É')),
            ("33AABCP1234Q1Z!", GstinError::Character('!')),
            ("33AABCP 234Q1ZE", GstinError::Character(' ')),
            ("99AABCP1234Q1ZE", GstinError::StateCode("99".into())),
            ("25AABCP1234Q1ZE", GstinError::StateCode("25".into())),
            ("3XAABCP1234Q1ZE", GstinError::StateCode("3X".into())),
            ("33AAB1P1234Q1ZE", GstinError::Pan("AAB1P1234Q".into())),
            ("33AABCP12X4Q1ZE", GstinError::Pan("AABCP12X4Q".into())),
            ("33AABCP123411ZE", GstinError::Pan("AABCP12341".into())),
            ("33AABCP1234Q0ZE", GstinError::Entity('0')),
            ("33AABCP1234Q1YE", GstinError::NotZ('Y')),
        ] {
            assert_eq!(Gstin::parse(bad), Err(want), "{bad}");
        }
        assert!(GstinError::Length(14).to_string().contains("15 characters"));
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let g: Gstin = serde_json::from_str("\"33aabcp1234q1ze\"").unwrap();
        assert_eq!(serde_json::to_string(&g).unwrap(), "\"33AABCP1234Q1ZE\"");
        assert!(serde_json::from_str::<Gstin>("\"33AABCP1234Q1ZF\"").is_err());
    }
}
