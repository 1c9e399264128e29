//! Indian shipping addresses: what a courier needs to deliver, normalised once at checkout
//! so every later reader (mail, labels, the owner) sees one canonical form.

use platform::error::FieldError;
use platform::text::{self, Rule};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: String,
    pub phone: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub pincode: String,
    pub country: String,
}

/// An address as the storefront sends it; `validate` turns it into a stored `Address`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    // Optional only so a missing field is reported by name with the other problems,
    // instead of serde stopping at the first one.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub line1: Option<String>,
    #[serde(default)]
    pub line2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub pincode: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

/// The 28 states and 8 union territories, spelled as India Post spells them.
pub const STATES_AND_UNION_TERRITORIES: [&str; 36] = [
    "Andhra Pradesh",
    "Arunachal Pradesh",
    "Assam",
    "Bihar",
    "Chhattisgarh",
    "Goa",
    "Gujarat",
    "Haryana",
    "Himachal Pradesh",
    "Jharkhand",
    "Karnataka",
    "Kerala",
    "Madhya Pradesh",
    "Maharashtra",
    "Manipur",
    "Meghalaya",
    "Mizoram",
    "Nagaland",
    "Odisha",
    "Punjab",
    "Rajasthan",
    "Sikkim",
    "Tamil Nadu",
    "Telangana",
    "Tripura",
    "Uttar Pradesh",
    "Uttarakhand",
    "West Bengal",
    "Andaman and Nicobar Islands",
    "Chandigarh",
    "Dadra and Nagar Haveli and Daman and Diu",
    "Delhi",
    "Jammu and Kashmir",
    "Ladakh",
    "Lakshadweep",
    "Puducherry",
];

/// Old or informal names shoppers still type, mapped to the canonical one.
const STATE_ALIASES: [(&str, &str); 6] = [
    ("orissa", "Odisha"),
    ("pondicherry", "Puducherry"),
    ("nct of delhi", "Delhi"),
    ("new delhi", "Delhi"),
    ("uttaranchal", "Uttarakhand"),
    ("andaman and nicobar", "Andaman and Nicobar Islands"),
];

/// Lower case, `&` as `and`, runs of whitespace as one space: the form names are compared in.
fn fold(s: &str) -> String {
    s.replace('&', " and ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The canonical name of an Indian state or union territory, matched case-insensitively.
pub fn canonical_state(raw: &str) -> Option<&'static str> {
    let folded = fold(raw);
    STATES_AND_UNION_TERRITORIES
        .iter()
        .copied()
        .find(|s| fold(s) == folded)
        .or_else(|| {
            STATE_ALIASES
                .iter()
                .find(|(alias, _)| *alias == folded)
                .map(|(_, s)| *s)
        })
}

/// An Indian mobile number as `+91` and ten digits starting 6–9. Spaces and dashes are
/// tolerated, as is a `+91` or `91` prefix.
pub fn normalize_mobile(raw: &str) -> Option<String> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // A leading "+" must be followed by the country code; ten digits are the mobile itself
    // even when they happen to start with 91.
    let national = match digits.len() {
        12 => digits.strip_prefix("91")?,
        10 if !compact.starts_with('+') => digits,
        _ => return None,
    };
    matches!(national.as_bytes()[0], b'6'..=b'9').then(|| format!("+91{national}"))
}

/// Six digits, the first not 0.
pub fn is_valid_pincode(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0')
}

/// Validates and normalises an address. Every problem is reported, each under
/// `{prefix}.{field}` (e.g. `shippingAddress.pincode`).
pub fn validate(prefix: &str, input: &AddressInput) -> Result<Address, Vec<FieldError>> {
    let f = |name: &str| format!("{prefix}.{name}");
    let mut errors = Vec::new();
    // The label, the invoice and the owner's screen print these: the rule for every text a
    // person reads.
    let name = text::field(
        &mut errors,
        f("name"),
        input.name.as_deref(),
        Rule::line(100),
    );
    let line1 = text::field(
        &mut errors,
        f("line1"),
        input.line1.as_deref(),
        Rule::line(200),
    );
    let line2 = text::field(
        &mut errors,
        f("line2"),
        input.line2.as_deref(),
        Rule::line(200).optional(),
    );
    let city = text::field(
        &mut errors,
        f("city"),
        input.city.as_deref(),
        Rule::line(100),
    );

    let phone = match input.phone.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(f("phone"), "is required"));
            None
        }
        Some(raw) => {
            let phone = normalize_mobile(raw);
            if phone.is_none() {
                errors.push(FieldError::new(
                    f("phone"),
                    "must be an Indian mobile number: 10 digits starting 6–9, optionally after +91",
                ));
            }
            phone
        }
    };

    let pincode = match input.pincode.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(f("pincode"), "is required"));
            None
        }
        Some(p) if is_valid_pincode(p) => Some(p.to_owned()),
        Some(_) => {
            errors.push(FieldError::new(
                f("pincode"),
                "must be 6 digits, not starting with 0",
            ));
            None
        }
    };

    let state = match input.state.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(f("state"), "is required"));
            None
        }
        Some(s) => {
            let state = canonical_state(s);
            if state.is_none() {
                errors.push(FieldError::new(
                    f("state"),
                    "must be an Indian state or union territory",
                ));
            }
            state
        }
    };

    let country = match input.country.as_deref().map(str::trim) {
        None | Some("") => Some("IN"),
        Some(c) if c.eq_ignore_ascii_case("IN") => Some("IN"),
        Some(_) => {
            errors.push(FieldError::new(
                f("country"),
                "we only ship within India (IN)",
            ));
            None
        }
    };

    match (name, phone, line1, city, state, pincode, country) {
        (Some(name), Some(phone), Some(line1), Some(city), Some(state), Some(pincode), Some(c))
            if errors.is_empty() =>
        {
            Ok(Address {
                name,
                phone,
                line1,
                line2,
                city,
                state: state.to_owned(),
                pincode,
                country: c.to_owned(),
            })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> AddressInput {
        AddressInput {
            name: Some("Asha Iyer".into()),
            phone: Some("+91 98765-43210".into()),
            line1: Some("12 Temple Street".into()),
            line2: Some("Mylapore".into()),
            city: Some("Chennai".into()),
            state: Some("tamil nadu".into()),
            pincode: Some("600004".into()),
            country: None,
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_good_address_is_normalised() {
        let a = validate("shippingAddress", &good()).unwrap();
        assert_eq!(a.phone, "+919876543210");
        assert_eq!(a.state, "Tamil Nadu");
        assert_eq!(a.country, "IN");
        assert_eq!(a.line2.as_deref(), Some("Mylapore"));
    }

    #[test]
    fn mobile_numbers() {
        for (raw, want) in [
            ("9876543210", "+919876543210"),
            ("+919876543210", "+919876543210"),
            ("919876543210", "+919876543210"),
            ("+91 98765 43210", "+919876543210"),
            ("98765-43210", "+919876543210"),
            ("6000000000", "+916000000000"),
            // Ten digits that happen to start with 91 are a mobile number, not a prefix.
            ("9198765432", "+919198765432"),
        ] {
            assert_eq!(normalize_mobile(raw).as_deref(), Some(want), "{raw}");
        }
        for bad in [
            "",
            "5876543210",
            "+915876543210",
            "987654321",
            "98765432101",
            "+9876543210",
            "+449876543210",
            "0919876543210",
            "98765.43210",
            "９８７６５４３２１０",
            "+91+9876543210",
            "98765o4321",
        ] {
            assert_eq!(normalize_mobile(bad), None, "{bad}");
        }
    }

    #[test]
    fn pincodes() {
        for ok in ["600004", "110001", "999999"] {
            assert!(is_valid_pincode(ok), "{ok}");
        }
        for bad in [
            "060004",
            "60004",
            "6000041",
            "60000a",
            "",
            "６００００４",
            " 600004",
        ] {
            assert!(!is_valid_pincode(bad), "{bad}");
        }
    }

    #[test]
    fn states_match_case_insensitively_and_are_stored_canonically() {
        assert_eq!(STATES_AND_UNION_TERRITORIES.len(), 36);
        for s in STATES_AND_UNION_TERRITORIES {
            assert_eq!(canonical_state(&s.to_uppercase()), Some(s));
        }
        assert_eq!(canonical_state("  west   bengal "), Some("West Bengal"));
        assert_eq!(
            canonical_state("Jammu & Kashmir"),
            Some("Jammu and Kashmir")
        );
        assert_eq!(canonical_state("Orissa"), Some("Odisha"));
        assert_eq!(canonical_state("Pondicherry"), Some("Puducherry"));
        for bad in ["", "Bengal", "California", "Tamil", "Delhi NCR"] {
            assert_eq!(canonical_state(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_problem_is_named_under_the_prefix() {
        let bad = AddressInput {
            name: Some("   ".into()),
            phone: Some("12345".into()),
            line1: None,
            line2: Some("x".repeat(201)),
            city: Some("Chen\u{0}nai".into()),
            state: Some("Narnia".into()),
            pincode: Some("012345".into()),
            country: Some("US".into()),
        };
        let errors = validate("shippingAddress", &bad).unwrap_err();
        let mut got = fields(&errors);
        got.sort();
        assert_eq!(
            got,
            [
                "shippingAddress.city",
                "shippingAddress.country",
                "shippingAddress.line1",
                "shippingAddress.line2",
                "shippingAddress.name",
                "shippingAddress.phone",
                "shippingAddress.pincode",
                "shippingAddress.state",
            ]
        );
        let errors = validate("shippingAddress", &AddressInput::default()).unwrap_err();
        let mut got = fields(&errors);
        got.sort();
        assert_eq!(
            got,
            [
                "shippingAddress.city",
                "shippingAddress.line1",
                "shippingAddress.name",
                "shippingAddress.phone",
                "shippingAddress.pincode",
                "shippingAddress.state",
            ],
            "country defaults to IN"
        );
    }

    #[test]
    fn lengths_are_bounded_in_characters_not_bytes() {
        let mut a = good();
        a.name = Some("आ".repeat(100));
        assert!(validate("a", &a).is_ok());
        a.name = Some("आ".repeat(101));
        assert_eq!(fields(&validate("a", &a).unwrap_err()), ["a.name"]);
        let mut a = good();
        a.country = Some("in".into());
        assert_eq!(validate("a", &a).unwrap().country, "IN");
    }
}
