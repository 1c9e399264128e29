//! Text a person reads: the one rule for every free-text field that ends up in front of
//! someone — a buyer's name and address on the parcel label and the invoice, a product's name
//! and description in the shop, an owner's reason for a refund or a stock move in the ledger.
//!
//! Three things are refused, wherever the text comes from:
//! - control characters (NUL, BEL, escape sequences…), except line breaks and tabs in the
//!   fields that are paragraphs ([`Lines::Many`]);
//! - bidirectional controls (U+202A–202E, U+2066–2069, U+200E/200F, U+061C): they make text
//!   display in another order than it is stored, so `Asha \u{202e}remmah` reads as
//!   "Asha hammer" on every screen and page that shows it;
//! - text with nothing visible in it: only spaces and characters that draw nothing
//!   (zero-width spaces and joiners, word joiners, variation selectors, …).
//!
//! Zero-width joiners and non-joiners (U+200D, U+200C) are part of how Indic scripts are
//! written (क्‍ष, ज़्‌ञ), so they are accepted inside text that has visible characters.

use crate::error::FieldError;

/// Whether a field is one line (names, cities, reasons) or may hold paragraphs (a product's
/// description, a shopper's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// The rule for one field: at most `max` characters (not bytes), required or not, one line or
/// many.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub max: usize,
    pub required: bool,
    pub lines: Lines,
}

impl Rule {
    /// A required one-line field of at most `max` characters.
    pub const fn line(max: usize) -> Rule {
        Rule {
            max,
            required: true,
            lines: Lines::One,
        }
    }

    /// An optional field of at most `max` characters that may hold several lines.
    pub const fn paragraphs(max: usize) -> Rule {
        Rule {
            max,
            required: false,
            lines: Lines::Many,
        }
    }

    pub const fn optional(self) -> Rule {
        Rule {
            required: false,
            ..self
        }
    }
}

/// True for the bidirectional formatting characters: embeddings, overrides and isolates, the
/// left-to-right and right-to-left marks and the Arabic letter mark.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// True for characters that draw nothing: Unicode's default-ignorable code points (zero-width
/// space, joiners, word joiner, soft hyphen, variation selectors, tags, Hangul fillers, …)
/// and whitespace.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

fn is_refused_control(c: char, lines: Lines) -> bool {
    let breaks_allowed = lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    // U+2028/2029 break a line as surely as '\n' does, without being a control character.
    (c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) && !breaks_allowed
}

/// What is wrong with `value` under `lines`, if anything: the message a field error carries.
/// `value` is taken as given (the caller trims).
pub fn problem(value: &str, lines: Lines) -> Option<&'static str> {
    if value.chars().any(|c| is_refused_control(c, lines)) {
        return Some(match lines {
            Lines::One => "must be one line without control characters",
            Lines::Many => "must not contain control characters",
        });
    }
    if value.chars().any(is_bidi_control) {
        return Some(
            "must not contain bidirectional control characters (U+202A–202E, U+2066–2069, U+200E, U+200F, U+061C)",
        );
    }
    if !value.is_empty() && value.chars().all(is_invisible) {
        return Some("must contain visible characters");
    }
    None
}

/// Checks one field under `rule` and returns it trimmed, or records why not in `errors`.
/// Blank (empty or only whitespace) counts as absent: `is required` when it is.
pub fn field(
    errors: &mut Vec<FieldError>,
    field: impl Into<String>,
    value: Option<&str>,
    rule: Rule,
) -> Option<String> {
    let field = field.into();
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => {
            if rule.required {
                errors.push(FieldError::new(field, "is required"));
            }
            None
        }
        Some(v) if v.chars().count() > rule.max => {
            errors.push(FieldError::new(
                field,
                format!("must be at most {} characters", rule.max),
            ));
            None
        }
        Some(v) => match problem(v, rule.lines) {
            Some(message) => {
                errors.push(FieldError::new(field, message));
                None
            }
            None => Some(v.to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, rule: Rule) -> Result<Option<String>, String> {
        let mut errors = Vec::new();
        let out = field(&mut errors, "f", Some(value), rule);
        match errors.pop() {
            Some(e) => Err(e.message),
            None => Ok(out),
        }
    }

    #[test]
    fn names_in_every_indian_script_pass_with_their_joiners() {
        for ok in [
            "Asha Iyer",
            "आशा अय्यर",
            "ஆஷா ஐயர்",
            "আশা আইয়ার",
            // A zero-width joiner and non-joiner inside Devanagari are how the word is spelled.
            "क्\u{200D}ष",
            "ज़्\u{200C}ञ",
            "آشا",
            "O'Brien-Smith Jr.",
        ] {
            assert_eq!(check(ok, Rule::line(100)), Ok(Some(ok.to_owned())), "{ok}");
        }
    }

    #[test]
    fn bidi_controls_are_refused_anywhere() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            let v = format!("Asha {c}remmah");
            assert!(check(&v, Rule::line(100)).is_err(), "{:?}", c);
            assert!(check(&v, Rule::paragraphs(100)).is_err(), "{:?}", c);
        }
    }

    #[test]
    fn text_with_nothing_visible_is_refused() {
        for bad in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            "\u{2060}\u{FEFF}",
            "\u{3164}",
            " \u{00AD} ",
            "\u{FE0F}",
        ] {
            assert_eq!(
                check(bad, Rule::line(100)),
                Err("must contain visible characters".to_owned()),
                "{bad:?}"
            );
        }
        // Blank is absent, not invisible: only "required" when it must be there.
        assert_eq!(check("   ", Rule::line(10)), Err("is required".to_owned()));
        assert_eq!(check("   ", Rule::line(10).optional()), Ok(None));
    }

    #[test]
    fn control_characters_are_refused_but_paragraphs_keep_their_breaks() {
        for bad in [
            "Brass\u{0}Diya",
            "Brass\u{7}Diya",
            "a\u{1b}[31m",
            "a\nb",
            "a\u{2028}b",
        ] {
            assert!(check(bad, Rule::line(100)).is_err(), "{bad:?}");
        }
        assert_eq!(
            check(
                "Hand-made.\n\nPolish\twith tamarind.",
                Rule::paragraphs(100)
            ),
            Ok(Some("Hand-made.\n\nPolish\twith tamarind.".to_owned()))
        );
        assert!(check("a\u{0}b", Rule::paragraphs(100)).is_err());
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(check(&"आ".repeat(100), Rule::line(100)).is_ok());
        assert_eq!(
            check(&"आ".repeat(101), Rule::line(100)),
            Err("must be at most 100 characters".to_owned())
        );
    }
}
