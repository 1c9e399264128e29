//! E-mail addresses: the one rule for what counts as one, wherever an address comes from (a
//! checkout body, a Clerk session claim, `SES_FROM`) or goes to (SES).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An address that passed [`Email::parse`]. Stored orders hold one; they are read back as
/// stored, so a document written by hand is re-checked with `parse` before mail goes to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// A deliberately modest check: one `@`, something before it, a dotted domain after it
    /// and nothing a mail header could choke on (no whitespace, no control characters, none
    /// of `<>()[]\,;:"`). The mailbox itself is proven by the mail arriving. Surrounding
    /// whitespace is trimmed.
    pub fn parse(s: &str) -> Option<Email> {
        let s = s.trim();
        let (local, domain) = s.split_once('@')?;
        // A bidirectional control would show the address in another order than it is sent to.
        let plausible = s.len() <= 254
            && !s.chars().any(crate::text::is_bidi_control)
            && (1..=64).contains(&local.len())
            && !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80)
            })
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"".contains(c));
        plausible.then(|| Email(s.to_owned()))
    }

    /// The address of a mailbox as a `From:` header names it: `orders@pitalya.in` or
    /// `Pitalya <orders@pitalya.in>`.
    pub fn parse_mailbox(s: &str) -> Option<Email> {
        let s = s.trim();
        match s.strip_suffix('>').and_then(|rest| rest.rsplit_once('<')) {
            Some((_name, address)) => Email::parse(address),
            None => Email::parse(s),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Re-checks an address read from storage, where nothing but the writer vouches for it.
    pub fn is_valid(&self) -> bool {
        Email::parse(&self.0).is_some_and(|e| e.0 == self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_a_shopper_types_are_accepted_and_header_breakers_refused() {
        for ok in ["asha@example.com", "a.b+tag@mail.example.co.in", "x@ब.भारत"] {
            assert!(Email::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "asha",
            "@example.com",
            "asha@",
            "asha@example",
            "asha@localhost",
            "asha@@example.com",
            "asha@exa mple.com",
            "as ha@example.com",
            "asha@example..com",
            "<asha>@example.com",
            "asha@example.com\r\nBcc: x@y.z",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Email::parse("  asha@example.com ").unwrap().as_str(),
            "asha@example.com"
        );
    }

    #[test]
    fn a_from_header_may_name_the_mailbox() {
        for (from, address) in [
            ("orders@pitalya.in", "orders@pitalya.in"),
            ("Pitalya <orders@pitalya.in>", "orders@pitalya.in"),
            (
                "\"Pitalya, Chennai\" <orders@pitalya.in>",
                "orders@pitalya.in",
            ),
        ] {
            assert_eq!(
                Email::parse_mailbox(from).unwrap().as_str(),
                address,
                "{from}"
            );
        }
        for bad in ["Pitalya", "Pitalya <orders>", "Pitalya orders@pitalya.in>"] {
            assert!(Email::parse_mailbox(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_stored_address_is_rechecked_before_mail_goes_to_it() {
        let stored: Email = serde_json::from_str("\"asha@example.com\\r\\nBcc: x@y.z\"").unwrap();
        assert!(!stored.is_valid());
        assert!(Email::parse("asha@example.com").unwrap().is_valid());
    }
}
